// Seed 004's asynchronous producer quick start in C++: send_async() queues
// the message and returns; the callback reports where it landed (or why it
// did not). Only the async producer is created.
//
//   sluice kafka mock-cluster --topic my-topic:4     # prints bootstrap=...
//   KAFKA_BROKERS=127.0.0.1:PORT ./kafka_async_producer
#include <cstdio>
#include <cstdlib>
#include <stop_token>
#include <string>

#include "sluice/core/logger.h"
#include "sluice/core/shutdown_signals.h"
#include "sluice/kafka/producer.h"
#include "sluice/kafka/registry.h"

namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

}  // namespace

int main() {
  auto log = sluice::make_stderr_logger(sluice::LogLevel::kInfo);
  std::stop_source stop;
  sluice::ShutdownSignals signals(stop);
  sluice::kafka::Registry registry({.metrics = nullptr, .logger = log});
  (void)registry.start_all(stop.get_token());

  // Create an async producer.
  sluice::kafka::ProducerConfig config;
  config.bootstrap_servers = env_or("KAFKA_BROKERS", "localhost:9092");
  config.enable_sync_producer = false;  // not needed here
  config.enable_async_producer = true;
  auto producer = registry.register_producer(config);
  if (!producer.ok()) {
    std::fprintf(stderr, "failed to create async producer: %s\n",
                 producer.status().to_string().c_str());
    return 1;
  }

  // Send a message asynchronously with a callback.
  const std::string topic = env_or("TOPIC", "my-topic");
  sluice::Status queued = (*producer)->send_async(
      topic, "key", "async message", [topic](const sluice::Result<sluice::kafka::Delivery>& r) {
        if (!r.ok()) {
          std::fprintf(stderr, "failed to send message: %s\n", r.status().to_string().c_str());
          return;
        }
        std::printf("message delivered to topic %s, partition %d, offset %lld\n", topic.c_str(),
                    r->partition, static_cast<long long>(r->offset));
        std::fflush(stdout);
      });
  if (!queued.ok())
    std::fprintf(stderr, "failed to queue message: %s\n", queued.to_string().c_str());

  std::fprintf(stderr, "Ctrl-C to exit\n");
  // wait_stop() flushes the producer (the callback runs) and closes it.
  const sluice::Status stopped = registry.wait_stop();
  std::fprintf(stderr, "all producers stopped, exiting\n");
  return queued.ok() && stopped.ok() ? 0 : 1;
}
