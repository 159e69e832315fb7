// examples/readme/producer.cc
// The Kinesis producer: batched PutRecords with KPL aggregation and zstd
// compression; each record reports where it landed, or why it failed.
#include "sluice/kinesis/producer.h"

#include <cstdio>
#include <string>

int main() {
  sluice::kinesis::ProducerOptions options;
  options.stream.name = "orders";
  options.aggregate = true;  // KPL aggregates, read back by sluice and the KCL
  options.payload.compression = sluice::kinesis::Compression::kZstd;
  auto producer = sluice::kinesis::Producer::create(options);
  if (!producer.ok()) {
    std::fprintf(stderr, "%s\n", producer.status().to_string().c_str());
    return 1;
  }

  // A future per record...
  auto first = (*producer)->put({.partition_key = "customer-42", .data = "order 1"});
  // ...or a callback, called once on a producer thread.
  for (int i = 2; i <= 1000; ++i) {
    sluice::Status queued =
        (*producer)->put({.partition_key = "customer-" + std::to_string(i % 10),
                          .data = "order " + std::to_string(i)},
                         [](const sluice::Result<sluice::kinesis::PutResult>& r) {
                           if (!r.ok())
                             std::fprintf(stderr, "%s\n", r.status().to_string().c_str());
                         });
    if (!queued.ok()) std::fprintf(stderr, "refused: %s\n", queued.to_string().c_str());
  }

  sluice::Result<sluice::kinesis::PutResult> r = first.get();
  if (r.ok()) std::printf("order 1 -> %s %s\n", r->shard_id.c_str(), r->sequence_number.c_str());
  sluice::Status closed = (*producer)->close();  // sends what is buffered, reports every record
  std::printf("written %llu, failed %llu\n",
              static_cast<unsigned long long>((*producer)->stats().records_written),
              static_cast<unsigned long long>((*producer)->stats().records_failed));
  return closed.ok() ? 0 : 1;
}
