// Scale: one consumer process reading 1,000 shards. A shard must not own a
// thread: this program serves a fake Kinesis (ListShards with 1,000 shards,
// GetRecords replies of a few records each) on 127.0.0.1, runs the consumer
// for a while, and reports the peak thread count and resident memory.
//
//   build/bench/bench_consumer_scale [shards] [seconds]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "sluice/aws/kinesis_client.h"
#include "sluice/core/base64.h"
#include "sluice/kinesis/consumer.h"
#include "support/local_http_server.h"

namespace {

using namespace std::chrono_literals;

long status_field(const char* name) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) == 0) return std::atol(line.c_str() + std::strlen(name));
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  const int shards = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int seconds = argc > 2 ? std::atoi(argv[2]) : 15;
  std::atomic<long> get_records{0};
  const std::string data = sluice::base64_encode(std::string(200, 'x'));
  long before_threads = status_field("Threads:");
  long before_rss = status_field("VmRSS:");

  // The fake Kinesis: every shard always has 3 records to give.
  sluice::testing::LocalHttpServer server([&](const sluice::testing::RecordedRequest& r) {
    const std::string target = r.header("X-Amz-Target");
    sluice::testing::LocalHttpResponse resp;
    resp.headers = {{"Content-Type", "application/x-amz-json-1.1"}};
    if (target.ends_with("ListShards")) {
      std::string body = "{\"Shards\":[";
      for (int i = 0; i < shards; ++i) {
        char id[32];
        std::snprintf(id, sizeof id, "shardId-%012d", i);
        body += std::string(i ? "," : "") + "{\"ShardId\":\"" + id +
                "\",\"HashKeyRange\":{\"StartingHashKey\":\"" + std::to_string(i) +
                "\",\"EndingHashKey\":\"" + std::to_string(i) +
                "\"},\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"1\"}}";
      }
      resp.body = body + "]}";
    } else if (target.ends_with("GetShardIterator")) {
      resp.body = "{\"ShardIterator\":\"it\"}";
    } else if (target.ends_with("GetRecords")) {
      const long n = ++get_records;
      std::string body = "{\"Records\":[";
      for (int k = 0; k < 3; ++k) {
        body += std::string(k ? "," : "") + "{\"SequenceNumber\":\"" + std::to_string(n * 10 + k) +
                "\",\"Data\":\"" + data +
                "\",\"PartitionKey\":\"k\",\"ApproximateArrivalTimestamp\":1.7e9}";
      }
      resp.body = body + "],\"NextShardIterator\":\"it\",\"MillisBehindLatest\":0}";
    } else {
      resp.status = 400;
      resp.body = "{\"__type\":\"UnknownOperationException\"}";
    }
    return resp;
  });

  server.set_recording(false);
  sluice::aws::ClientOptions o;
  o.region = "us-east-1";
  o.endpoint = server.url();
  o.credentials = sluice::aws::make_static_credentials("AKID", "secret");
  auto kinesis = std::shared_ptr<sluice::aws::KinesisClient>(
      std::move(*sluice::aws::KinesisClient::create(o)));
  std::atomic<long> records{0};
  sluice::kinesis::ConsumerOptions c;
  c.stream_name = "scale";
  c.start_position = sluice::kinesis::StartPosition::kTrimHorizon;
  c.poll_interval = 1s;
  c.record_handler = [&](const sluice::kinesis::Record&) {
    ++records;
    return sluice::Status();
  };
  auto consumer = sluice::kinesis::Consumer::create(
      c, kinesis, std::make_shared<sluice::MemoryCheckpointStore>());
  std::stop_source stop;
  std::thread run([&] { (void)(*consumer)->start(stop.get_token()); });
  long peak_threads = 0, peak_rss = 0;
  const auto start = std::chrono::steady_clock::now();
  std::size_t running = 0;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(seconds)) {
    std::this_thread::sleep_for(250ms);
    peak_threads = std::max(peak_threads, status_field("Threads:"));
    peak_rss = std::max(peak_rss, status_field("VmRSS:"));
    running = 0;
    for (const auto& s : (*consumer)->status()) running += s.state == "running";
  }
  stop.request_stop();
  run.join();
  std::printf("shards=%d running=%zu seconds=%d records=%ld GetRecords=%ld\n", shards, running,
              seconds, records.load(), get_records.load());
  std::printf("threads: %ld before, %ld peak (fake server: 1, HTTP client: 1)\n", before_threads,
              peak_threads);
  std::printf("RSS: %ld kB before, %ld kB peak (%.1f kB per shard)\n", before_rss, peak_rss,
              static_cast<double>(peak_rss - before_rss) / shards);
  return 0;
}
