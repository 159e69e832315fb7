// `sluice kinesis consume` and `sluice kinesis deaggregate`.
#include <simdjson.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli.h"
#include "kinesis_kcl_commands.h"
#include "sluice/aws/kinesis_client.h"
#include "sluice/core/base64.h"
#include "sluice/core/json_writer.h"
#include "sluice/core/shutdown_signals.h"
#include "sluice/core/time_format.h"
#include "sluice/kinesis/aggregation.h"
#include "sluice/kinesis/consumer.h"
#include "sluice/kinesis/sqlite_checkpoint_store.h"
#include "sluice/redis/checkpoint_store.h"
#include "sluice/redis/client.h"
#include "sluice/redis/lease_manager.h"

namespace sluice::cli {
namespace {

struct ConsumeOptions {
  std::string stream;
  std::string from = "latest";
  std::string checkpoint = "memory";
  std::string lease;
  long long max_records = 0;
  double lease_ttl = 30;
  double idle_exit = 0;
  int batch_size = 100;
  // --app: a Java-KCL-compatible lease table coordinates the processes.
  KclConsumeOptions kcl;
};

// One JSON line per user record, written whole.
void print_record_line(const kinesis::Record& r) {
  std::string line;
  line.reserve(r.data.size() * 4 / 3 + 256);
  JsonWriter w(line);
  w.begin_object()
      .field("shard_id", r.shard_id)
      .field("sequence_number", r.sequence_number)
      .key("sub_sequence_number")
      .number(static_cast<std::uint64_t>(r.sub_sequence_number))
      .field("partition_key", r.partition_key)
      .field("explicit_hash_key", r.explicit_hash_key)
      .field("approximate_arrival", format_rfc3339(r.approximate_arrival))
      .key("data")
      .base64(r.data)
      .end_object();
  line.push_back('\n');
  static std::mutex out_mu;
  std::lock_guard lock(out_mu);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

Status run_app_consume(const ConsumeOptions& o, Context& ctx) {
  if (o.checkpoint != "memory" || !o.lease.empty()) {
    return Status::invalid_argument(
        "--app keeps checkpoints and leases in the KCL lease table; drop --checkpoint and --lease");
  }
  KclConsumeOptions k = o.kcl;
  k.stream = o.stream;
  k.from = o.from;
  k.batch_size = o.batch_size;
  k.max_records = o.max_records;
  k.idle_exit = o.idle_exit;
  return run_kcl_consume(k, ctx, print_record_line);
}

Status run_consume(const ConsumeOptions& o, Context& ctx) {
  if (!o.kcl.app.empty()) return run_app_consume(o, ctx);
  kinesis::ConsumerOptions options;
  options.stream_name = o.stream;
  options.batch_size = o.batch_size;
  options.logger = ctx.global.logger();
  options.poll_interval = std::chrono::milliseconds(200);
  options.shard_sync_interval = std::chrono::seconds(10);
  if (o.from == "latest") {
    options.start_position = kinesis::StartPosition::kLatest;
  } else if (o.from == "trim-horizon") {
    options.start_position = kinesis::StartPosition::kTrimHorizon;
  } else {
    SLUICE_ASSIGN_OR_RETURN(options.start_timestamp, parse_rfc3339(o.from));
    options.start_position = kinesis::StartPosition::kAtTimestamp;
  }

  // Checkpoints and leases.
  std::shared_ptr<CheckpointStore> store;
  std::shared_ptr<redis::RedisClient> redis_client;
  auto redis_for = [&](const std::string& url) -> Result<std::shared_ptr<redis::RedisClient>> {
    if (redis_client) return redis_client;
    auto c = redis::RedisClient::connect(url);
    if (!c.ok()) return c.status().with_context("connecting to Redis");
    redis_client = *c;
    return redis_client;
  };
  if (o.checkpoint == "memory") {
    store = std::make_shared<MemoryCheckpointStore>();
  } else if (o.checkpoint.starts_with("sqlite:")) {
    SLUICE_ASSIGN_OR_RETURN(auto s, kinesis::SqliteCheckpointStore::open(o.checkpoint.substr(7)));
    store = std::move(s);
  } else if (o.checkpoint.starts_with("redis://") || o.checkpoint.starts_with("rediss://")) {
    SLUICE_ASSIGN_OR_RETURN(auto client, redis_for(o.checkpoint));
    SLUICE_ASSIGN_OR_RETURN(auto s, redis::RedisCheckpointStore::create(client));
    store = std::move(s);
  } else {
    return Status::invalid_argument(
        "--checkpoint must be memory, sqlite:PATH or redis://HOST:PORT, got \"" + o.checkpoint +
        "\"");
  }
  if (!o.lease.empty()) {
    SLUICE_ASSIGN_OR_RETURN(auto client, redis_for(o.lease));
    redis::RedisLeaseManagerOptions lease_options;
    lease_options.logger = options.logger;
    lease_options.ttl = std::chrono::milliseconds(static_cast<long long>(o.lease_ttl * 1000));
    // Take free and expired leases well within one lease lifetime.
    lease_options.acquire_retry_interval =
        std::min(lease_options.acquire_retry_interval, lease_options.ttl / 3);
    SLUICE_ASSIGN_OR_RETURN(auto leases, redis::RedisLeaseManager::create(client, lease_options));
    options.lease_acquire_interval = lease_options.acquire_retry_interval;
    options.lease_manager = std::move(leases);
  }

  // Output: one JSON line per user record, written whole under a lock.
  std::atomic<long long> printed{0};
  std::atomic<long long> last_record_ms{0};
  std::stop_source stop;
  options.record_handler = [&](const kinesis::Record& r) -> Status {
    if (o.max_records > 0 && printed.load() >= o.max_records) {
      stop.request_stop();
      // Not handled: not checkpointed either; the next run sees it again.
      return Status::cancelled("--max-records reached");
    }
    print_record_line(r);
    last_record_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count();
    if (o.max_records > 0 && ++printed >= o.max_records) stop.request_stop();
    return Status();
  };
  options.retry = {.max_attempts = 1, .backoff = std::chrono::milliseconds(0)};

  SLUICE_ASSIGN_OR_RETURN(auto client, kinesis_client(ctx.global));
  SLUICE_RETURN_IF_ERROR(check_stream_reachable(*client, o.stream));
  SLUICE_ASSIGN_OR_RETURN(auto consumer,
                          kinesis::Consumer::create(options, std::move(client), store));
  ShutdownSignals signals(stop);

  // --idle-exit: a watcher stops the consumer after a quiet spell.
  std::jthread idle_watch;
  if (o.idle_exit > 0) {
    last_record_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count();
    idle_watch = std::jthread([&](std::stop_token self) {
      const auto limit = std::chrono::milliseconds(static_cast<long long>(o.idle_exit * 1000));
      while (!self.stop_requested() && !stop.stop_requested()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now().time_since_epoch());
        if (now - std::chrono::milliseconds(last_record_ms.load()) >= limit) stop.request_stop();
      }
    });
  }
  Status s = consumer->start(stop.get_token());
  if (idle_watch.joinable()) {
    idle_watch.request_stop();
    idle_watch.join();
  }
  if (s.code() == StatusCode::kNotFound) {
    return Status::not_found(std::string(s.message()) +
                             " — check the stream name, --endpoint-url / " +
                             "AWS_ENDPOINT_URL_KINESIS and --region");
  }
  return s;
}

// One user record per line of JSON.
void print_user_record(std::size_t index, std::uint64_t sub, std::string_view pk,
                       std::string_view ehk, std::string_view data, bool aggregated) {
  std::string line;
  JsonWriter w(line);
  w.begin_object()
      .key("record")
      .number(static_cast<std::uint64_t>(index))
      .key("sub_sequence_number")
      .number(sub)
      .field("partition_key", pk)
      .field("explicit_hash_key", ehk)
      .key("data")
      .base64(data)
      .field("aggregated", aggregated)
      .end_object();
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stdout);
}

Status run_deaggregate(std::istream& in) {
  std::string line;
  std::size_t index = 0;
  simdjson::dom::parser parser;
  std::vector<kinesis::UserRecordView> users;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::string pk, ehk;
    std::string_view text = line;
    if (line.front() == '{') {  // {"data": base64, "partition_key": ..., "explicit_hash_key": ...}
      simdjson::dom::element doc;
      if (parser.parse(line).get(doc)) {
        return Status::invalid_argument("line " + std::to_string(index + 1) + " is not valid JSON");
      }
      std::string_view v;
      if (doc["data"].get(v)) {
        return Status::invalid_argument("line " + std::to_string(index + 1) + " has no \"data\"");
      }
      text = v;
      if (!doc["partition_key"].get(v)) pk = std::string(v);
      if (!doc["explicit_hash_key"].get(v)) ehk = std::string(v);
      line = std::string(text);  // the parser's buffer is reused below
      text = line;
    }
    auto blob = base64_decode(text);
    if (!blob.ok()) return blob.status().with_context("line " + std::to_string(index + 1));
    users.clear();
    const kinesis::AggregateCheck check = kinesis::deaggregate(*blob, users);
    if (check == kinesis::AggregateCheck::kAggregated) {
      for (const auto& u : users) {
        print_user_record(index, u.sub_sequence_number, u.partition_key, u.explicit_hash_key,
                          u.data, true);
      }
    } else {
      if (check != kinesis::AggregateCheck::kNotAggregated) {
        std::fprintf(
            stderr,
            "sluice kinesis deaggregate: line %zu has the KPL magic but %s; passed through\n",
            index + 1, std::string(kinesis::aggregate_check_name(check)).c_str());
      }
      print_user_record(index, 0, pk, ehk, *blob, false);
    }
    ++index;
  }
  std::fflush(stdout);
  return Status();
}

}  // namespace

void add_kinesis_consumer_commands(CLI::App& kinesis, Context& ctx) {
  auto consume_opts = std::make_shared<ConsumeOptions>();
  auto* consume = kinesis.add_subcommand(
      "consume",
      "Read a stream and print one JSON line per user record (KPL aggregates are split): "
      "{\"shard_id\",\"sequence_number\",\"sub_sequence_number\",\"partition_key\","
      "\"explicit_hash_key\",\"approximate_arrival\",\"data\"} with data in base64. Ctrl-C stops "
      "gracefully (checkpoints are written).");
  consume->add_option("--stream", consume_opts->stream, "Stream name")->required();
  consume->add_option(
      "--from", consume_opts->from,
      "Where shards without a checkpoint start: latest, trim-horizon, or an RFC 3339 "
      "time (2026-11-23T10:00:00Z)");
  consume->add_option("--checkpoint", consume_opts->checkpoint,
                      "Checkpoint store: memory, sqlite:PATH or redis://HOST:PORT");
  consume->add_option("--lease", consume_opts->lease,
                      "Share shards with other processes through Redis leases: redis://HOST:PORT");
  consume
      ->add_option("--lease-ttl", consume_opts->lease_ttl,
                   "Seconds a lease lasts without renewal: how soon a dead process's shards move")
      ->check(CLI::Range(1.0, 3600.0));
  consume
      ->add_option("--max-records", consume_opts->max_records,
                   "Stop after this many records (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  consume
      ->add_option("--idle-exit", consume_opts->idle_exit,
                   "Stop after this many seconds without a record (0: never)")
      ->check(CLI::NonNegativeNumber);
  consume->add_option("--batch-size", consume_opts->batch_size, "Records per GetRecords (1..10000)")
      ->check(CLI::Range(1, 10000));
  consume->add_option("--app", consume_opts->kcl.app,
                      "Share the stream with other processes (sluice or Java KCL workers) through "
                      "a KCL lease table in DynamoDB named after this application; checkpoints "
                      "go there too");
  consume->add_option("--table", consume_opts->kcl.table,
                      "With --app: the lease table's name (default: the application name)");
  consume->add_option("--worker-id", consume_opts->kcl.worker_id,
                      "With --app: this worker's id (default: host name + random suffix)");
  consume
      ->add_option("--failover-time", consume_opts->kcl.failover_time,
                   "With --app: seconds without renewal before a worker's leases are taken over")
      ->check(CLI::Range(0.5, 3600.0));
  consume
      ->add_option("--take-interval", consume_opts->kcl.take_interval,
                   "With --app: seconds between lease table scans (take, balance)")
      ->check(CLI::Range(0.05, 3600.0));
  consume
      ->add_option("--max-leases", consume_opts->kcl.max_leases,
                   "With --app: leases held at most (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  consume
      ->add_option("--leases-to-acquire", consume_opts->kcl.leases_to_acquire,
                   "With --app: new leases per take cycle (0: the whole fair share)")
      ->check(CLI::NonNegativeNumber);
  consume->add_option(
      "--dynamodb-endpoint-url", consume_opts->kcl.dynamodb_endpoint_url,
      "With --app: DynamoDB endpoint (default: AWS_ENDPOINT_URL_DYNAMODB, then AWS's)");
  ctx.on_run(consume, "kinesis consume",
             [consume_opts, &ctx] { return run_consume(*consume_opts, ctx); });

  auto* deagg = kinesis.add_subcommand(
      "deaggregate",
      "Read one Kinesis record per line on stdin (its data in base64, or a JSON object "
      "{\"data\",\"partition_key\",\"explicit_hash_key\"}) and print one JSON line per user "
      "record: "
      "{\"record\",\"sub_sequence_number\",\"partition_key\",\"explicit_hash_key\",\"data\","
      "\"aggregated\"}. "
      "Records that are not KPL aggregates are printed as they are.");
  ctx.on_run(deagg, "kinesis deaggregate", [] { return run_deaggregate(std::cin); });

  add_kinesis_lease_commands(kinesis, ctx);
}

}  // namespace sluice::cli
