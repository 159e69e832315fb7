// The producer's CPU path, per core: user records into PutRecords request
// bodies. Each iteration queues a batch of records (partition key hashing
// included, as put() does), builds requests (KPL aggregates by predicted
// shard, or plain entries), finishes them (aggregate bytes and MD5) and
// writes the JSON request body with base64 data, as KinesisClient does.
//
//   build/bench/bench_kinesis_producer_encode --benchmark_counters_tabular=true
//
// items_per_second = user records per second; bytes_per_second = request
// body bytes per second.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "kinesis/producer_batcher.h"
#include "sluice/core/json_writer.h"
#include "sluice/kinesis/compression.h"
#include "sluice/kinesis/hash_key.h"
#include "sluice/kinesis/payload_codec.h"

namespace {

using sluice::kinesis::internal::Batcher;
using sluice::kinesis::internal::PendingRecord;
using sluice::kinesis::internal::RecordPtr;
using sluice::kinesis::internal::Request;

std::string text(std::mt19937_64& rng, std::size_t n) {
  static const char* kWords[] = {"stream ",     "shard ",    "record ",    "lease ",
                                 "checkpoint ", "sequence ", "aggregate ", "batch "};
  std::string s;
  while (s.size() < n) s += kWords[rng() % 8];
  s.resize(n);
  return s;
}

// The body KinesisClient::put_records writes.
std::size_t encode_body(const Request& req, std::string& body) {
  body.clear();
  sluice::JsonWriter w(body);
  w.begin_object().field("StreamName", "bench").key("Records").begin_array();
  for (const auto& e : req.entries) {
    w.begin_object().key("Data").base64(e.data()).field("PartitionKey", e.partition_key());
    if (!e.explicit_hash_key.empty()) w.field("ExplicitHashKey", e.explicit_hash_key);
    w.end_object();
  }
  w.end_array().end_object();
  return body.size();
}

void run(benchmark::State& state, bool aggregate) {
  const auto record_bytes = static_cast<std::size_t>(state.range(0));
  constexpr int kBatch = 20000;
  constexpr int kKeys = 1000;
  std::mt19937_64 rng(1);
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) keys.push_back("user-" + std::to_string(rng() % 100000000));
  std::vector<std::string> payloads;
  for (int i = 0; i < 256; ++i) payloads.push_back(text(rng, record_bytes));
  auto map =
      std::make_shared<const sluice::kinesis::ShardMap>(sluice::kinesis::ShardMap::uniform(4));
  const auto now = sluice::Clock::TimePoint(std::chrono::hours(1));
  std::string body;
  std::int64_t records = 0;
  std::int64_t bytes = 0;
  std::int64_t requests = 0;
  for (auto _ : state) {
    Batcher b({.aggregate = aggregate});
    b.set_shard_map(map);
    for (int i = 0; i < kBatch; ++i) {
      auto r = std::make_unique<PendingRecord>();
      r->seq = static_cast<std::uint64_t>(i);
      r->partition_key = keys[static_cast<std::size_t>(i) % kKeys];
      r->hash_key = sluice::kinesis::partition_key_hash(r->partition_key);
      r->data = payloads[static_cast<std::size_t>(i) % payloads.size()];
      r->size = r->data.size() + r->partition_key.size();
      r->enqueued = now;
      bool wake;
      b.add(std::move(r), now, wake);
    }
    while (auto req = b.build(now)) {
      sluice::kinesis::internal::finish_entries(*req);
      bytes += static_cast<std::int64_t>(encode_body(*req, body));
      ++requests;
      b.complete(*req, {}, now, now);
    }
    records += kBatch;
  }
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(bytes);
  state.counters["requests"] =
      benchmark::Counter(static_cast<double>(requests), benchmark::Counter::kIsRate);
}

void BM_ProducerEncodeAggregated(benchmark::State& state) {
  run(state, true);
}
BENCHMARK(BM_ProducerEncodeAggregated)->Arg(100)->Unit(benchmark::kMillisecond);

void BM_ProducerEncodePlain(benchmark::State& state) {
  run(state, false);
}
BENCHMARK(BM_ProducerEncodePlain)->Arg(1024)->Arg(100)->Unit(benchmark::kMillisecond);

// The payload pipeline's compression (put() runs it on the caller's thread).
void BM_PayloadCompress(benchmark::State& state) {
  const auto codec = static_cast<sluice::kinesis::Compression>(state.range(0));
  std::mt19937_64 rng(2);
  const std::string payload = text(rng, static_cast<std::size_t>(state.range(1)));
  auto encoder = sluice::kinesis::PayloadEncoder::create({.compression = codec});
  std::size_t out = 0;
  for (auto _ : state) {
    auto prepared = encoder->prepare(payload);
    out = prepared->data.size();
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(payload.size()));
  state.counters["ratio"] = static_cast<double>(out) / static_cast<double>(payload.size());
}
BENCHMARK(BM_PayloadCompress)->Args({1, 1024})->Args({2, 1024})->Args({1, 65536})->Args({2, 65536});

}  // namespace

BENCHMARK_MAIN();
