// `sluice kinesis produce` and `sluice kinesis aggregate`.
//
// produce writes records read as JSON lines, or generated load (seed 000's
// cmd/producer: shards, workers, payload size; seed 001's simple_producer:
// text or JSON records at a rate), through the Producer, printing progress
// to stderr and a summary to stdout. aggregate packs JSON-line records into
// KPL aggregates and prints them as JSON lines.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cli.h"
#include "sluice/aws/kinesis_client.h"
#include "sluice/aws/s3_client.h"
#include "sluice/core/executor.h"
#include "sluice/core/json_writer.h"
#include "sluice/kinesis/aggregation.h"
#include "sluice/kinesis/hash_key.h"
#include "sluice/kinesis/partition_keys.h"
#include "sluice/kinesis/payload_store.h"
#include "sluice/kinesis/producer.h"
#include "sluice/kinesis/producer_json.h"
#include "sluice/kinesis/shard_map.h"

namespace sluice::cli {
namespace {

using namespace std::chrono_literals;
using kinesis::Producer;
using kinesis::ProducerOptions;
using kinesis::UserRecord;

struct ProduceOptions {
  std::string stream;
  long long count = -1;  // -1: 1000 generated, or every input line
  double rate = 0;
  std::size_t payload_bytes = 100;
  long long partition_keys = 0;
  bool aggregate = false;
  std::string compress = "none";
  int compression_level = 0;
  std::string input;
  int shards = 0;
  int workers = 1;
  std::size_t batch_size = 500;
  long long linger_ms = 100;
  std::size_t max_in_flight = 4;
  int max_retries = 3;
  bool json_format = false;
  std::string claim_check_bucket;
  std::size_t claim_check_threshold = 0;
  std::string claim_check_prefix;
  std::string s3_endpoint_url;
  double progress_interval = 1.0;
  bool summary_json = false;
  bool strict_order = false;
};

constexpr const char* kProduceFooter = R"(
Input: --input FILE (or - for stdin) reads one JSON object per line,
  {"partition_key":"k","explicit_hash_key":"","data":"<base64>"}
(explicit_hash_key optional; an empty partition key gets a random one).
Without --input, records are generated: --count of them (default 1000),
--payload-bytes each, text (or JSON objects with --json-format), with
partition keys "key-0".."key-<K-1>" round robin (--partition-keys K) or random
ones (K = 0, the default), at --rate records/s (0: as fast as possible) from
--workers threads.

Seed 000's cmd/producer environment works too: STREAM_NAME, SHARD_COUNT,
BATCH_SIZE, WORKERS, PAYLOAD_BYTES (AWS_ENDPOINT_URL for the endpoint).
With --shards N the stream is created with N shards if it does not exist.

Progress goes to stderr every --progress-interval seconds; the summary
(records, bytes, requests, retries, failures, records/s) to stdout. The exit
status is 1 when any record failed.)";

std::string human_bytes(double b) {
  char buf[32];
  if (b >= 1e9) {
    std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
  } else if (b >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2f MB", b / 1e6);
  } else if (b >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.1f kB", b / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f B", b);
  }
  return buf;
}

// The generated payload of record `n` from `worker`.
std::string generated_payload(const ProduceOptions& o, int worker, long long n,
                              std::mt19937_64& rng) {
  std::string s;
  if (o.json_format) {
    static const char* kTypes[] = {"user_action", "system_event", "error"};
    JsonWriter w(s);
    w.begin_object()
        .field("id", static_cast<std::int64_t>(n))
        .field("worker", worker)
        .field("type", kTypes[n % 3])
        .field("ts",
               static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count()));
    std::string pad;
    const std::size_t used = s.size() + 10;
    if (o.payload_bytes > used) {
      pad.resize(o.payload_bytes - used);
      for (auto& c : pad) c = static_cast<char>('a' + rng() % 26);
    }
    w.field("pad", pad).end_object();
    return s;
  }
  s = "sluice record " + std::to_string(worker) + "-" + std::to_string(n) + " ";
  static constexpr char kWords[] = "stream shard record batch lease checkpoint ";
  while (s.size() < o.payload_bytes) s.push_back(kWords[rng() % (sizeof kWords - 1)]);
  s.resize(o.payload_bytes);
  return s;
}

class Progress {
 public:
  Progress(Producer& p, double interval) : producer_(p), interval_(interval) {
    start_ = std::chrono::steady_clock::now();
    if (interval_ > 0) thread_ = std::thread([this] { run(); });
  }
  ~Progress() { stop(); }
  void stop() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    while (
        !cv_.wait_for(lock, std::chrono::duration<double>(interval_), [this] { return done_; })) {
      auto s = producer_.stats();
      const double t = elapsed();
      std::fprintf(stderr,
                   "sluice kinesis produce: %llu written, %llu failed, %llu buffered, %llu "
                   "requests, %llu retries, %.0f records/s\n",
                   static_cast<unsigned long long>(s.records_written),
                   static_cast<unsigned long long>(s.records_failed),
                   static_cast<unsigned long long>(s.buffered_records),
                   static_cast<unsigned long long>(s.requests),
                   static_cast<unsigned long long>(s.retries),
                   t > 0 ? static_cast<double>(s.records_written) / t : 0.0);
    }
  }
  Producer& producer_;
  double interval_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

aws::ClientOptions client_options(const GlobalOptions& g, const std::string& endpoint) {
  aws::ClientOptions c;
  c.region = g.region;
  c.endpoint = endpoint;
  c.logger = g.logger();
  return c;
}

// Creates the stream with `shards` shards unless it exists.
Status ensure_stream(aws::KinesisClient& kinesis, const std::string& stream, int shards) {
  ThreadPool pool(1, "sluice-cli");
  aws::StreamRef ref{.name = stream};
  auto summary = run_blocking(pool.executor(), kinesis.describe_stream_summary(ref));
  if (summary.ok()) return Status();
  if (summary.status().code() != StatusCode::kNotFound) return summary.status();
  Status created = run_blocking(pool.executor(), kinesis.create_stream(stream, shards));
  if (!created.ok() && created.code() != StatusCode::kAlreadyExists) return created;
  std::fprintf(stderr, "sluice kinesis produce: created stream %s with %d shards\n", stream.c_str(),
               shards);
  return run_blocking(pool.executor(), kinesis.wait_until_active(ref, 60s));
}

Status run_produce(const ProduceOptions& o, const GlobalOptions& g) {
  if (o.stream.empty()) return Status::invalid_argument("--stream is required");
  if (o.workers < 1) return Status::invalid_argument("--workers must be at least 1");
  SLUICE_ASSIGN_OR_RETURN(kinesis::Compression codec, kinesis::parse_compression(o.compress));
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<aws::KinesisClient> made,
                          aws::KinesisClient::create(client_options(g, g.endpoint_url)));
  std::shared_ptr<aws::KinesisClient> kinesis = std::move(made);
  if (o.shards > 0) SLUICE_RETURN_IF_ERROR(ensure_stream(*kinesis, o.stream, o.shards));

  ProducerOptions po;
  po.stream.name = o.stream;
  po.kinesis = kinesis;
  po.linger = std::chrono::milliseconds(o.linger_ms);
  po.batch_max_records = o.batch_size;
  po.max_in_flight = o.max_in_flight;
  po.aggregate = o.aggregate;
  po.strict_order = o.strict_order;
  po.retry.max_retries = o.max_retries;
  po.payload.compression = codec;
  po.payload.compression_level = o.compression_level;
  po.partition_keys = kinesis::random_partition_keys();
  po.logger = g.logger();
  po.threads = 2;
  if (!o.claim_check_bucket.empty()) {
    aws::ClientOptions s3o = client_options(g, o.s3_endpoint_url);
    SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<aws::S3Client> s3, aws::S3Client::create(s3o));
    SLUICE_ASSIGN_OR_RETURN(auto store, kinesis::S3PayloadStore::create(
                                            std::move(s3), {.bucket = o.claim_check_bucket}));
    po.payload.store = store;
    po.payload.large_payload_threshold =
        o.claim_check_threshold > 0 ? o.claim_check_threshold : 256u << 10;
    po.payload.key_prefix = o.claim_check_prefix;
  }
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<Producer> producer, Producer::create(std::move(po)));

  std::atomic<long long> refused{0};
  Status first_refusal;
  std::mutex refusal_mu;
  auto note_refusal = [&](const Status& s) {
    ++refused;
    std::lock_guard lock(refusal_mu);
    if (first_refusal.ok()) first_refusal = s;
  };
  std::mutex fail_mu;
  Status first_failure;
  auto on_result = [&](const Result<kinesis::PutResult>& r) {
    if (!r.ok()) {
      std::lock_guard lock(fail_mu);
      if (first_failure.ok()) first_failure = r.status();
    }
  };

  Progress progress(*producer, o.progress_interval);
  if (!o.input.empty()) {
    std::ifstream file;
    std::istream* in = &std::cin;
    if (o.input != "-") {
      file.open(o.input);
      if (!file) return Status::io_error("cannot open " + o.input);
      in = &file;
    }
    std::string line;
    long long n = 0;
    long long line_no = 0;
    const auto start = std::chrono::steady_clock::now();
    while ((o.count < 0 || n < o.count) && std::getline(*in, line)) {
      ++line_no;
      if (line.empty()) continue;
      auto record = kinesis::parse_record_json(line);
      if (!record.ok()) {
        return record.status().with_context(o.input + " line " + std::to_string(line_no));
      }
      if (o.rate > 0) {
        std::this_thread::sleep_until(start + std::chrono::duration<double>(n / o.rate));
      }
      Status s = producer->put(std::move(*record), on_result);
      if (!s.ok()) {
        if (s.code() == StatusCode::kInvalidArgument) {
          return s.with_context(o.input + " line " + std::to_string(line_no));
        }
        note_refusal(s);
      }
      ++n;
    }
  } else {
    const long long total = o.count < 0 ? 1000 : o.count;
    kinesis::PartitionKeyFn keys = kinesis::random_partition_keys();
    if (o.partition_keys > 0) {
      auto spread = kinesis::spread_partition_keys("key", static_cast<int>(o.partition_keys));
      if (!spread.ok()) return spread.status().with_context("--partition-keys");
      keys = std::move(*spread);
    }
    std::vector<std::thread> threads;
    const auto start = std::chrono::steady_clock::now();
    for (int w = 0; w < o.workers; ++w) {
      threads.emplace_back([&, w] {
        std::mt19937_64 rng(static_cast<std::uint64_t>(w) * 7919 + 17);
        const double worker_rate = o.rate / o.workers;
        long long i = 0;
        for (long long n = w; n < total; n += o.workers, ++i) {
          if (worker_rate > 0) {
            std::this_thread::sleep_until(start + std::chrono::duration<double>(i / worker_rate));
          }
          std::string data = generated_payload(o, w, n, rng);
          UserRecord record{.partition_key = keys(data), .data = std::move(data)};
          Status s = producer->put(std::move(record), on_result);
          if (!s.ok()) note_refusal(s);
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  Status closed = producer->close(60s);
  progress.stop();
  const double seconds = progress.elapsed();
  const auto s = producer->stats();
  const double rps = seconds > 0 ? static_cast<double>(s.records_written) / seconds : 0;
  const double bps = seconds > 0 ? static_cast<double>(s.payload_bytes_put) / seconds : 0;
  if (o.summary_json) {
    std::string out;
    JsonWriter w(out);
    w.begin_object()
        .field("stream", o.stream)
        .field("records", static_cast<std::int64_t>(s.records_put))
        .field("written", static_cast<std::int64_t>(s.records_written))
        .field("failed", static_cast<std::int64_t>(s.records_failed + refused.load()))
        .field("payload_bytes", static_cast<std::int64_t>(s.payload_bytes_put))
        .field("record_bytes", static_cast<std::int64_t>(s.bytes_written))
        .field("requests", static_cast<std::int64_t>(s.requests))
        .field("kinesis_records", static_cast<std::int64_t>(s.kinesis_records_written))
        .field("aggregates", static_cast<std::int64_t>(s.aggregates_written))
        .field("retries", static_cast<std::int64_t>(s.retries))
        .field("large_payloads", static_cast<std::int64_t>(s.large_payloads))
        .key("seconds")
        .number(seconds)
        .key("records_per_second")
        .number(rps)
        .key("bytes_per_second")
        .number(bps)
        .end_object();
    std::printf("%s\n", out.c_str());
  } else {
    std::printf(
        "records: %llu written, %llu failed\nbytes: %s payload, %s sent\nrequests: %llu (%llu "
        "Kinesis records, %llu aggregates)\nretries: %llu\nlarge payloads: %llu\ntime: %.2f s\n"
        "throughput: %.0f records/s, %s/s\n",
        static_cast<unsigned long long>(s.records_written),
        static_cast<unsigned long long>(s.records_failed + refused.load()),
        human_bytes(static_cast<double>(s.payload_bytes_put)).c_str(),
        human_bytes(static_cast<double>(s.bytes_written)).c_str(),
        static_cast<unsigned long long>(s.requests),
        static_cast<unsigned long long>(s.kinesis_records_written),
        static_cast<unsigned long long>(s.aggregates_written),
        static_cast<unsigned long long>(s.retries),
        static_cast<unsigned long long>(s.large_payloads), seconds, rps, human_bytes(bps).c_str());
  }
  std::fflush(stdout);
  if (refused > 0) {
    return Status(first_refusal.code(),
                  std::to_string(refused.load()) +
                      " records refused: " + std::string(first_refusal.message()),
                  false);
  }
  if (s.records_failed > 0) {
    std::lock_guard lock(fail_mu);
    return Status(first_failure.code(),
                  std::to_string(s.records_failed) +
                      " records failed; first: " + std::string(first_failure.message()),
                  false);
  }
  return closed;
}

void add_produce_command(CLI::App& group, Context& ctx) {
  auto o = std::make_shared<ProduceOptions>();
  auto* cmd = group.add_subcommand(
      "produce",
      "Write records to a Kinesis stream (JSON lines or generated load) and report throughput");
  cmd->footer(kProduceFooter);
  cmd->add_option("--stream", o->stream, "Stream name")->envname("STREAM_NAME");
  cmd->add_option("--count", o->count,
                  "Records to write (-1, the default: 1000 generated, or every input line)");
  cmd->add_option("--rate", o->rate, "Records per second, in total (0: as fast as possible)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--payload-bytes", o->payload_bytes, "Size of each generated payload")
      ->envname("PAYLOAD_BYTES");
  cmd->add_option("--partition-keys", o->partition_keys,
                  "Distinct partition keys of generated records (0: a random key each)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--aggregate", o->aggregate, "Pack records into KPL aggregates per shard");
  cmd->add_option("--compress", o->compress, "Compress payloads: none, gzip or zstd")
      ->check(CLI::IsMember({"none", "gzip", "zstd"}));
  cmd->add_option("--compression-level", o->compression_level,
                  "Codec level (0: default; gzip 1-9, zstd 1-19)");
  cmd->add_option("--input", o->input, "Read JSON-line records from FILE, or - for stdin");
  cmd->add_option("--shards", o->shards, "Create the stream with this many shards if missing")
      ->envname("SHARD_COUNT");
  cmd->add_option("--workers", o->workers, "Threads generating records")->envname("WORKERS");
  cmd->add_option("--batch-size", o->batch_size, "Kinesis records per PutRecords (1-500)")
      ->envname("BATCH_SIZE")
      ->check(CLI::Range(1, 500));
  cmd->add_option("--linger-ms", o->linger_ms, "How long records wait for a fuller request");
  cmd->add_option("--max-in-flight", o->max_in_flight, "PutRecords requests in flight at once");
  cmd->add_option("--max-retries", o->max_retries, "Retries of failed records (-1: forever)");
  cmd->add_flag("--strict-order", o->strict_order,
                "Without --aggregate: one record per key per request (order even under partial "
                "failures)");
  cmd->add_flag("--json-format", o->json_format, "Generate JSON objects instead of text");
  cmd->add_option("--claim-check-bucket", o->claim_check_bucket,
                  "Store payloads over the threshold in this S3 bucket and send a reference");
  cmd->add_option("--claim-check-threshold", o->claim_check_threshold,
                  "Bytes above which a payload is claim-checked, with --claim-check-bucket "
                  "(0: 262144)");
  cmd->add_option("--claim-check-prefix", o->claim_check_prefix,
                  "Key prefix of claim-checked objects ({prefix}/{uuid})");
  cmd->add_option("--s3-endpoint-url", o->s3_endpoint_url,
                  "S3 endpoint for claim-checks (default: AWS_ENDPOINT_URL_S3, then AWS)");
  cmd->add_option("--progress-interval", o->progress_interval,
                  "Seconds between progress lines on stderr (0: none)");
  cmd->add_flag("--summary-json", o->summary_json, "Print the summary as one JSON object");
  ctx.on_run(cmd, "kinesis produce", [o, &ctx]() { return run_produce(*o, ctx.global); });
}

// --- aggregate --------------------------------------------------------------------

struct AggregateOptions {
  std::string input = "-";
  std::size_t max_bytes = 1u << 20;
  int shards = 0;
  std::string stream;
};

constexpr const char* kAggregateFooter = R"(
Reads JSON-line records ({"partition_key","explicit_hash_key","data"} with
base64 data) and prints one JSON line per Kinesis record: KPL aggregates
(partition key and explicit hash key of their first user record), and lone
records as they came. Records are only aggregated with records bound for the
same shard, predicted from --stream's shards (ListShards), or from --shards N
evenly split shards (as CreateStream makes them); with neither, only records
with the same hash key are packed together, which is always safe.)";

struct OpenAggregate {
  kinesis::AggregateBuilder builder;
  UserRecord first;
  std::size_t count = 0;
  std::size_t order = 0;
};

void emit(OpenAggregate& a) {
  std::string line;
  if (a.count == 1) {
    line =
        kinesis::format_record_json(a.first.partition_key, a.first.explicit_hash_key, a.first.data);
  } else {
    const kinesis::HashKey h =
        *kinesis::record_hash_key(a.first.partition_key, a.first.explicit_hash_key);
    line = kinesis::format_record_json(a.first.partition_key, kinesis::format_hash_key(h),
                                       a.builder.finish());
  }
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  a.count = 0;
}

Status run_aggregate(const AggregateOptions& o, const GlobalOptions& g) {
  std::optional<kinesis::ShardMap> map;
  if (!o.stream.empty()) {
    SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<aws::KinesisClient> k,
                            aws::KinesisClient::create(client_options(g, g.endpoint_url)));
    ThreadPool pool(1, "sluice-cli");
    SLUICE_ASSIGN_OR_RETURN(std::vector<aws::Shard> shards,
                            run_blocking(pool.executor(), k->list_shards({.name = o.stream})));
    SLUICE_ASSIGN_OR_RETURN(kinesis::ShardMap m, kinesis::ShardMap::from_shards(shards));
    map = std::move(m);
  } else if (o.shards > 0) {
    map = kinesis::ShardMap::uniform(o.shards);
  }
  std::ifstream file;
  std::istream* in = &std::cin;
  if (o.input != "-") {
    file.open(o.input);
    if (!file) return Status::io_error("cannot open " + o.input);
    in = &file;
  }
  // Open aggregates by predicted shard (or by hash key without a map).
  std::map<std::pair<int, kinesis::HashKey>, OpenAggregate> open;
  std::size_t next_order = 0;
  std::string line;
  long long line_no = 0;
  while (std::getline(*in, line)) {
    ++line_no;
    if (line.empty()) continue;
    auto parsed = kinesis::parse_record_json(line);
    if (!parsed.ok())
      return parsed.status().with_context(o.input + " line " + std::to_string(line_no));
    UserRecord r = std::move(*parsed);
    Status valid = kinesis::validate_partition_key(r.partition_key);
    if (!valid.ok()) return valid.with_context(o.input + " line " + std::to_string(line_no));
    auto h = kinesis::record_hash_key(r.partition_key, r.explicit_hash_key);
    if (!h.ok()) return h.status().with_context(o.input + " line " + std::to_string(line_no));
    std::pair<int, kinesis::HashKey> group{-1, *h};
    if (map) {
      const int shard = map->find(*h);
      if (shard >= 0) group = {shard, 0};
    }
    OpenAggregate& a = open[group];
    if (a.count > 0) {
      if (a.count == 1) {
        a.builder.add(a.first.partition_key, a.first.explicit_hash_key, a.first.data);
      }
      const std::size_t size = a.builder.size_with(r.partition_key, r.explicit_hash_key, r.data) +
                               a.first.partition_key.size();
      if (size <= o.max_bytes) {
        a.builder.add(r.partition_key, r.explicit_hash_key, r.data);
        ++a.count;
        continue;
      }
      if (a.count == 1) a.builder.clear();
      emit(a);
    }
    a.first = std::move(r);
    a.count = 1;
    a.order = next_order++;
  }
  // The rest, oldest first.
  std::vector<OpenAggregate*> rest;
  for (auto& [group, a] : open) {
    if (a.count > 0) rest.push_back(&a);
  }
  std::sort(rest.begin(), rest.end(),
            [](const OpenAggregate* x, const OpenAggregate* y) { return x->order < y->order; });
  for (OpenAggregate* a : rest) {
    if (a->count == 1) a->builder.clear();
    emit(*a);
  }
  std::fflush(stdout);
  return Status();
}

void add_aggregate_command(CLI::App& group, Context& ctx) {
  auto o = std::make_shared<AggregateOptions>();
  auto* cmd = group.add_subcommand(
      "aggregate", "Pack JSON-line records into KPL aggregated records, printed as JSON lines");
  cmd->footer(kAggregateFooter);
  cmd->add_option("--input", o->input, "FILE, or - for stdin (the default)");
  cmd->add_option("--max-bytes", o->max_bytes,
                  "Largest aggregate, with its partition key (default 1048576)")
      ->check(CLI::Range(std::size_t{64}, std::size_t{10} << 20));
  cmd->add_option("--shards", o->shards, "Predict shards as N evenly split shards");
  cmd->add_option("--stream", o->stream, "Predict shards from this stream's ListShards");
  ctx.on_run(cmd, "kinesis aggregate", [o, &ctx]() { return run_aggregate(*o, ctx.global); });
}

}  // namespace

void add_kinesis_producer_commands(CLI::App& kinesis, Context& ctx) {
  add_produce_command(kinesis, ctx);
  add_aggregate_command(kinesis, ctx);
}

}  // namespace sluice::cli
