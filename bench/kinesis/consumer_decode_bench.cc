// The consumer's decode path: a GetRecords reply of 10,000 records parsed and
// turned into the user records a handler sees (base64, KPL deaggregation with
// its MD5 check, hash-range filtering), next to the floor: base64-decoding
// plus MD5 of the same bytes.
//
//   build/bench/bench_consumer_decode --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "kinesis/batch_builder.h"
#include "kinesis/md5.h"
#include "sluice/core/base64.h"
#include "sluice/core/json_writer.h"
#include "sluice/kinesis/aggregation.h"

namespace {

using sluice::kinesis::AggregateBuilder;

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>('a' + rng() % 26);
  return s;
}

// A reply of `count` Kinesis records holding `blobs` round-robin.
std::string reply(int count, const std::vector<std::string>& blobs) {
  std::string body;
  sluice::JsonWriter w(body);
  w.begin_object().key("Records").begin_array();
  for (int i = 0; i < count; ++i) {
    w.begin_object()
        .field("SequenceNumber",
               "4959033827149025660855969253836157109592157598913658" + std::to_string(1000 + i))
        .key("ApproximateArrivalTimestamp")
        .number(1.7e9 + i)
        .key("Data")
        .base64(blobs[static_cast<std::size_t>(i) % blobs.size()])
        .field("PartitionKey", "partition-" + std::to_string(i % 64))
        .end_object();
  }
  w.end_array()
      .field("NextShardIterator", std::string(200, 'A'))
      .field("MillisBehindLatest", 0)
      .end_object();
  body.reserve(body.size() + 64);
  return body;
}

struct Case {
  std::string body;
  std::vector<std::string> blobs;
  std::size_t user_records = 0;
  std::size_t user_bytes = 0;
};

Case plain_1k() {
  Case c;
  for (int i = 0; i < 16; ++i) c.blobs.push_back(random_bytes(1024, i));
  c.body = reply(10000, c.blobs);
  c.user_records = 10000;
  c.user_bytes = 10000 * 1024;
  return c;
}

// KPL aggregates of 100-byte user records (~ 250 per aggregate, 25 KB), so
// 10,000 Kinesis records carry 2.5 M user records: too big for one reply in
// practice (10 MB cap), so the reply holds 40 aggregates = 10,000 user records.
Case aggregated_100b() {
  Case c;
  for (int a = 0; a < 4; ++a) {
    AggregateBuilder b;
    for (int i = 0; i < 250; ++i)
      b.add("user-" + std::to_string(i % 50), "", random_bytes(100, a * 1000 + i));
    c.blobs.push_back(b.finish());
  }
  c.body = reply(40, c.blobs);
  c.user_records = 40 * 250;
  c.user_bytes = 40 * 250 * 100;
  return c;
}

void run_decode(benchmark::State& state, const Case& c) {
  sluice::kinesis::BatchBuildOptions o;
  o.hash_range = sluice::kinesis::HashKeyInterval{};  // the whole range: every key is hashed
  for (auto _ : state) {
    auto parsed = sluice::aws::GetRecordsResult::parse(c.body);
    sluice::kinesis::RecordBatch batch;
    batch.source = std::move(*parsed);
    auto stats = sluice::kinesis::build_batch(batch, o, nullptr);
    if (!stats.ok() || batch.records.size() != c.user_records) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(batch.records.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(c.user_records));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(c.user_bytes));
}

// The floor: base64-decode every record's data and MD5 the decoded bytes.
void run_floor(benchmark::State& state, const Case& c) {
  std::vector<std::string> encoded;
  for (int i = 0; i < (c.blobs.size() == 16 ? 10000 : 40); ++i) {
    encoded.push_back(sluice::base64_encode(c.blobs[static_cast<std::size_t>(i) % c.blobs.size()]));
  }
  std::string out(1 << 20, '\0');
  for (auto _ : state) {
    for (const auto& e : encoded) {
      auto n = sluice::base64_decode_into(e, out.data());
      auto d = sluice::kinesis::md5(std::string_view(out.data(), *n));
      benchmark::DoNotOptimize(d);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(c.user_records));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(c.user_bytes));
}

const Case& plain_case() {
  static const Case c = plain_1k();
  return c;
}
const Case& aggregated_case() {
  static const Case c = aggregated_100b();
  return c;
}

void BM_Decode_Plain1KiB(benchmark::State& s) {
  run_decode(s, plain_case());
}
void BM_Floor_Plain1KiB(benchmark::State& s) {
  run_floor(s, plain_case());
}
void BM_Decode_Kpl100B(benchmark::State& s) {
  run_decode(s, aggregated_case());
}
void BM_Floor_Kpl100B(benchmark::State& s) {
  run_floor(s, aggregated_case());
}
BENCHMARK(BM_Decode_Plain1KiB)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Floor_Plain1KiB)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Decode_Kpl100B)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Floor_Kpl100B)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
