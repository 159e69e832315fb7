// End to end against kinesalite: records/s and CPU-seconds per million
// records for sluice's consumer next to a plain libcurl + simdjson
// GetRecords loop, in the same run over the same stream.
//
//   testenv/with-backends --only kinesis -- build/bench/bench_consumer_e2e [records] [shards]
#include <curl/curl.h>
#include <simdjson.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include "sluice/aws/kinesis_client.h"
#include "sluice/core/base64.h"
#include "sluice/core/executor.h"
#include "sluice/kinesis/consumer.h"

namespace {

using namespace std::chrono_literals;

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

size_t collect(char* p, size_t s, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, s * n);
  return s * n;
}

// A bare JSON-protocol POST with libcurl (kinesalite checks only the shape
// of the Authorization header, so nothing is signed: this is the floor).
std::string post(CURL* curl, const std::string& endpoint, const std::string& op,
                 const std::string& body) {
  std::string reply;
  curl_slist* h = nullptr;
  h = curl_slist_append(h, "Content-Type: application/x-amz-json-1.1");
  h = curl_slist_append(h, ("X-Amz-Target: Kinesis_20131202." + op).c_str());
  h = curl_slist_append(h, "X-Amz-Date: 20150830T123600Z");
  h = curl_slist_append(
      h,
      "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/kinesis/"
      "aws4_request, SignedHeaders=host;x-amz-date, Signature="
      "0000000000000000000000000000000000000000000000000000000000000000");
  curl_easy_setopt(curl, CURLOPT_URL, endpoint.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
  curl_easy_perform(curl);
  curl_slist_free_all(h);
  return reply;
}

long plain_loop(const std::string& endpoint, const std::string& stream, int shards) {
  CURL* curl = curl_easy_init();
  simdjson::dom::parser parser;
  std::string buf(1 << 20, '\0');
  long records = 0;
  for (int s = 0; s < shards; ++s) {
    char shard[32];
    std::snprintf(shard, sizeof shard, "shardId-%012d", s);
    auto it_reply = post(curl, endpoint, "GetShardIterator",
                         "{\"StreamName\":\"" + stream + "\",\"ShardId\":\"" + shard +
                             "\",\"ShardIteratorType\":\"TRIM_HORIZON\"}");
    std::string iterator =
        std::string(parser.parse(it_reply)["ShardIterator"].get_string().value());
    while (true) {
      auto reply = post(curl, endpoint, "GetRecords",
                        "{\"ShardIterator\":\"" + iterator + "\",\"Limit\":10000}");
      simdjson::dom::element doc = parser.parse(reply);
      simdjson::dom::array recs = doc["Records"].get_array();
      size_t n = 0;
      for (auto r : recs) {
        std::string_view data = r["Data"].get_string();
        auto len = sluice::base64_decode_into(data, buf.data());
        if (len.ok()) ++n;
      }
      records += static_cast<long>(n);
      std::string_view next;
      if (n == 0 || doc["NextShardIterator"].get(next)) break;
      iterator = std::string(next);
    }
  }
  curl_easy_cleanup(curl);
  return records;
}

}  // namespace

int main(int argc, char** argv) {
  const long total = argc > 1 ? std::atol(argv[1]) : 50000;
  const int shards = argc > 2 ? std::atoi(argv[2]) : 4;
  const char* endpoint_env = std::getenv("SLUICE_TEST_KINESIS_ENDPOINT");
  if (!endpoint_env) {
    std::fprintf(stderr, "run under testenv/with-backends (needs SLUICE_TEST_KINESIS_ENDPOINT)\n");
    return 2;
  }
  const std::string endpoint = endpoint_env;
  sluice::aws::ClientOptions o;
  o.region = "us-east-1";
  o.endpoint = endpoint;
  o.credentials = sluice::aws::make_static_credentials("AKID", "secret");
  auto kinesis = std::shared_ptr<sluice::aws::KinesisClient>(
      std::move(*sluice::aws::KinesisClient::create(o)));
  sluice::ThreadPool pool(1);
  const std::string stream = "bench-e2e-" + std::to_string(std::random_device{}());
  if (!sluice::run_blocking(pool.executor(), kinesis->create_stream(stream, shards)).ok()) return 1;
  (void)sluice::run_blocking(pool.executor(), kinesis->wait_until_active({.name = stream}, 30s));
  // Load: 100-byte records over many keys.
  std::string payload(100, 'x');
  std::vector<std::string> keys;
  for (int i = 0; i < 500; ++i) keys.push_back("key-" + std::to_string(i));
  for (long done = 0; done < total;) {
    std::vector<sluice::aws::PutRecordsEntry> batch;
    for (int i = 0; i < 500 && done < total; ++i, ++done)
      batch.push_back({payload, keys[static_cast<size_t>(i)]});
    auto r = sluice::run_blocking(pool.executor(), kinesis->put_records({.name = stream}, batch));
    if (!r.ok() || r->failed_record_count) {
      std::fprintf(stderr, "put failed: %s\n", r.status().to_string().c_str());
      return 1;
    }
  }
  std::printf("stream %s: %ld records of 100 bytes over %d shards\n", stream.c_str(), total,
              shards);

  // 1. The plain loop.
  double cpu0 = cpu_seconds();
  auto t0 = std::chrono::steady_clock::now();
  long plain = plain_loop(endpoint, stream, shards);
  double plain_wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double plain_cpu = cpu_seconds() - cpu0;

  // 2. sluice's consumer.
  std::atomic<long> seen{0};
  std::stop_source stop;
  sluice::kinesis::ConsumerOptions c;
  c.stream_name = stream;
  c.start_position = sluice::kinesis::StartPosition::kTrimHorizon;
  c.batch_size = 10000;
  c.checkpoint_every = 10000;
  c.poll_interval = 100ms;
  c.record_handler = [&](const sluice::kinesis::Record&) {
    if (++seen >= total) stop.request_stop();
    return sluice::Status();
  };
  auto consumer = sluice::kinesis::Consumer::create(
      c, kinesis, std::make_shared<sluice::MemoryCheckpointStore>());
  cpu0 = cpu_seconds();
  t0 = std::chrono::steady_clock::now();
  sluice::Status s = (*consumer)->start(stop.get_token());
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu = cpu_seconds() - cpu0;
  (void)sluice::run_blocking(pool.executor(), kinesis->delete_stream({.name = stream}));

  std::printf("%-22s %10s %12s %14s %18s\n", "reader", "records", "seconds", "records/s",
              "CPU-s per million");
  std::printf("%-22s %10ld %12.2f %14.0f %18.2f\n", "plain libcurl+simdjson", plain, plain_wall,
              plain / plain_wall, plain_cpu / plain * 1e6);
  std::printf("%-22s %10ld %12.2f %14.0f %18.2f\n", "sluice consumer", seen.load(), wall,
              seen / wall, cpu / static_cast<double>(seen) * 1e6);
  if (!s.ok()) std::printf("consumer: %s\n", s.to_string().c_str());
  return plain == total && seen >= total ? 0 : 1;
}
