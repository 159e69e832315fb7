// Seed 001's simple_producer: generate text or JSON records into a stream,
// at an interval, and print where each landed.
//
//   AWS_ENDPOINT_URL=http://127.0.0.1:4567 build/examples/kinesis_simple_producer
//     --stream-name my-test-stream --count 100 [--json-format] [--interval-ms 500]
//
// (`sluice kinesis produce` is the same thing with more options.)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "sluice/core/json_writer.h"
#include "sluice/kinesis/producer.h"

int main(int argc, char** argv) {
  using namespace sluice;
  std::string stream;
  int count = 10;
  bool json = false;
  int interval_ms = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--stream-name" && has_value) {
      stream = argv[++i];
    } else if (arg == "--count" && has_value) {
      count = std::atoi(argv[++i]);
    } else if (arg == "--interval-ms" && has_value) {
      interval_ms = std::atoi(argv[++i]);
    } else if (arg == "--json-format") {
      json = true;
    } else {
      std::fprintf(stderr,
                   "usage: %s --stream-name S [--count N] [--json-format] [--interval-ms MS]\n",
                   argv[0]);
      return 2;
    }
  }
  if (stream.empty()) {
    std::fprintf(stderr, "--stream-name is required\n");
    return 2;
  }
  auto producer = kinesis::Producer::create({
      .stream = {.name = stream},
      .linger = std::chrono::milliseconds(interval_ms > 0 ? 0 : 50),
      .partition_keys = kinesis::random_partition_keys(),
  });
  if (!producer.ok()) {
    std::fprintf(stderr, "producer: %s\n", producer.status().to_string().c_str());
    return 1;
  }
  static const char* kTypes[] = {"user_action", "system_event", "error"};
  for (int i = 0; i < count; ++i) {
    std::string data;
    if (json) {
      JsonWriter w(data);
      w.begin_object()
          .field("id", i)
          .field("type", kTypes[i % 3])
          .field("message", "event " + std::to_string(i))
          .end_object();
    } else {
      data = "Record " + std::to_string(i) + " from the sluice simple producer";
    }
    auto done = (*producer)->put({.data = std::move(data)});
    if (interval_ms > 0) {
      // One at a time, as the seed does: wait for the result, then pause.
      auto r = done.get();
      if (r.ok()) {
        std::printf("record %d -> %s %s\n", i, r->shard_id.c_str(), r->sequence_number.c_str());
      } else {
        std::printf("record %d failed: %s\n", i, r.status().to_string().c_str());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
    }
  }
  Status closed = (*producer)->close();
  auto stats = (*producer)->stats();
  std::printf("sent %llu records (%llu failed) in %llu requests\n",
              static_cast<unsigned long long>(stats.records_written),
              static_cast<unsigned long long>(stats.records_failed),
              static_cast<unsigned long long>(stats.requests));
  return closed.ok() && stats.records_failed == 0 ? 0 : 1;
}
