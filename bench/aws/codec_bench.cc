// The AWS JSON hot paths: base64 of record data, parsing a GetRecords reply
// into records, and writing a PutRecords body.
//
//   build/bench/bench_aws_codec --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <random>
#include <span>
#include <string>
#include <vector>

#include "sluice/aws/kinesis_client.h"
#include "sluice/core/base64.h"
#include "sluice/core/json_writer.h"

namespace {

std::string random_bytes(std::size_t n, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

void BM_Base64Encode(benchmark::State& state) {
  const std::string data = random_bytes(static_cast<std::size_t>(state.range(0)));
  std::string out;
  for (auto _ : state) {
    out.clear();
    sluice::base64_encode_append(data, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(data.size()));
}
BENCHMARK(BM_Base64Encode)->Arg(100)->Arg(1024)->Arg(1 << 20);

void BM_Base64Decode(benchmark::State& state) {
  const std::string text =
      sluice::base64_encode(random_bytes(static_cast<std::size_t>(state.range(0))));
  std::string out(sluice::base64_max_decoded_size(text.size()), '\0');
  for (auto _ : state) {
    auto n = sluice::base64_decode_into(text, out.data());
    benchmark::DoNotOptimize(n);
  }
  // Bytes of decoded output per second.
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Base64Decode)->Arg(100)->Arg(1024)->Arg(1 << 20);

// A GetRecords reply like Kinesis sends: `count` records of `size` bytes.
std::string get_records_reply(int count, std::size_t size) {
  std::string body;
  sluice::JsonWriter w(body);
  w.begin_object().key("Records").begin_array();
  const std::string data = random_bytes(size, 7);
  for (int i = 0; i < count; ++i) {
    w.begin_object()
        .field("SequenceNumber",
               "4959033827149025660855969253836157109592157598913658" + std::to_string(1000 + i))
        .key("ApproximateArrivalTimestamp")
        .number(1.7e9 + i)
        .key("Data")
        .base64(data)
        .field("PartitionKey", "partition-key-" + std::to_string(i % 100))
        .end_object();
  }
  w.end_array()
      .field("NextShardIterator", std::string(200, 'A'))
      .field("MillisBehindLatest", 0)
      .end_object();
  body.reserve(body.size() + 64);
  return body;
}

void BM_GetRecordsParse(benchmark::State& state) {
  const int count = static_cast<int>(state.range(0));
  const std::size_t size = static_cast<std::size_t>(state.range(1));
  const std::string body = get_records_reply(count, size);
  for (auto _ : state) {
    auto r = sluice::aws::GetRecordsResult::parse(body);
    if (!r.ok() || r->records.size() != static_cast<std::size_t>(count))
      state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(count * size));
  state.SetItemsProcessed(state.iterations() * count);
  state.counters["reply_bytes"] = static_cast<double>(body.size());
}
BENCHMARK(BM_GetRecordsParse)
    ->Args({10000, 1024})
    ->Args({10000, 100})
    ->Unit(benchmark::kMillisecond);

void BM_PutRecordsBody(benchmark::State& state) {
  const std::size_t size = static_cast<std::size_t>(state.range(0));
  const std::string data = random_bytes(size, 3);
  std::vector<std::string> keys;
  for (int i = 0; i < 500; ++i) keys.push_back("pk-" + std::to_string(i));
  std::string body;
  for (auto _ : state) {
    body.clear();
    sluice::JsonWriter w(body);
    w.begin_object().field("StreamName", "bench").key("Records").begin_array();
    for (int i = 0; i < 500; ++i) {
      w.begin_object().key("Data").base64(data).field("PartitionKey", keys[i]).end_object();
    }
    w.end_array().end_object();
    benchmark::DoNotOptimize(body.data());
  }
  state.SetBytesProcessed(state.iterations() * 500 * static_cast<int64_t>(size));
  state.SetItemsProcessed(state.iterations() * 500);
}
BENCHMARK(BM_PutRecordsBody)->Arg(100)->Arg(1024);

}  // namespace

BENCHMARK_MAIN();
