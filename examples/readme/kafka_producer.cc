// examples/readme/kafka_producer.cc
// Kafka producers: send() waits for the broker's ack; send_async() queues
// and reports through a callback.
#include <chrono>
#include <cstdio>

#include "sluice/kafka/producer.h"

int main() {
  auto producer = sluice::kafka::Producer::create({
      .bootstrap_servers = "127.0.0.1:9092",
      .enable_async_producer = true,  // the sync one is on by default
  });
  if (!producer.ok()) {
    std::fprintf(stderr, "%s\n", producer.status().to_string().c_str());
    return 1;
  }

  auto delivered = (*producer)->send("orders", "customer-42", "order 1");
  if (delivered.ok()) {
    std::printf("partition %d offset %lld\n", delivered->partition,
                static_cast<long long>(delivered->offset));
  }

  sluice::Status queued = (*producer)->send_async(
      "orders", "customer-42", "order 2", [](const sluice::Result<sluice::kafka::Delivery>& r) {
        if (!r.ok()) std::fprintf(stderr, "%s\n", r.status().to_string().c_str());
      });
  sluice::Status flushed = (*producer)->flush(std::chrono::seconds(10));
  sluice::Status closed = (*producer)->close();
  return delivered.ok() && queued.ok() && flushed.ok() && closed.ok() ? 0 : 1;
}
