// The demo's Kinesis act: a 4-shard stream and a KCL-compatible lease table;
// the producer writes aggregated records (some compressed, a few large ones
// claim-checked to S3) while three worker processes share the shards; one
// shard is split, one worker is killed with SIGKILL and a replacement joins.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "demo.h"
#include "sluice/aws/credentials.h"
#include "sluice/aws/dynamodb_client.h"
#include "sluice/aws/kinesis_client.h"
#include "sluice/aws/s3_client.h"
#include "sluice/core/executor.h"
#include "sluice/core/logger.h"
#include "sluice/core/shutdown_signals.h"
#include "sluice/kinesis/kcl/lease_table.h"
#include "sluice/kinesis/kcl/worker.h"
#include "sluice/kinesis/payload_codec.h"
#include "sluice/kinesis/payload_store.h"
#include "sluice/kinesis/producer.h"

namespace sluice::cli::demo {

using namespace std::chrono_literals;
namespace kcl = kinesis::kcl;

namespace {

// Local back ends take any signature made with these.
aws::ClientOptions local_client(const std::string& endpoint, bool s3 = false) {
  aws::ClientOptions c;
  c.region = "us-east-1";
  c.endpoint = endpoint;
  c.credentials = s3 ? aws::make_static_credentials("S3RVER", "S3RVER")
                     : aws::make_static_credentials("sluice-demo", "sluice-demo");
  return c;
}

Result<std::shared_ptr<kinesis::S3PayloadStore>> payload_store(const std::string& endpoint,
                                                               const std::string& bucket) {
  SLUICE_ASSIGN_OR_RETURN(
      auto s3, aws::S3Client::create(local_client(endpoint, true), {.force_path_style = true}));
  return kinesis::S3PayloadStore::create(std::shared_ptr<aws::S3Client>(std::move(s3)),
                                         {.bucket = bucket});
}

// "0", "4" for "shardId-000000000004".
std::string short_shard(std::string_view shard_id) {
  const auto dash = shard_id.rfind('-');
  std::string digits(dash == std::string_view::npos ? shard_id : shard_id.substr(dash + 1));
  const auto nz = digits.find_first_not_of('0');
  return nz == std::string::npos ? "0" : digits.substr(nz);
}

// Serialized lines to stdout: the orchestrator tails them.
class Out {
 public:
  void line(const std::string& s) {
    std::lock_guard lock(mu_);
    std::fputs((s + "\n").c_str(), stdout);
    std::fflush(stdout);
  }

 private:
  std::mutex mu_;
};

// Prints every user record it is given and checkpoints after each batch,
// which is what makes delivery at-least-once: a crash replays at most the
// batch in hand.
class DemoProcessor final : public kcl::ShardRecordProcessor {
 public:
  explicit DemoProcessor(Out& out) : out_(out) {}

  void initialize(const kcl::InitializationInput& in) override {
    shard_ = in.shard_id;
    out_.line("L " + shard_ + " " + in.extended_sequence_number.sequence_number);
  }

  void process_records(std::span<const kinesis::Record> records, std::int64_t millis_behind,
                       kcl::Checkpointer& cp) override {
    std::string batch;
    for (const auto& r : records) {
      // Compressed and claim-checked payloads arrive decoded: the worker's
      // payload_decoder (run_kinesis_worker) opened their envelopes.
      const std::string_view payload = r.data;
      const auto end = payload.find(';');
      batch += "D " + std::string(payload.substr(0, end)) + " " + std::to_string(now_us()) + "\n";
    }
    if (!batch.empty()) {
      batch.pop_back();
      out_.line(batch);
    }
    out_.line("B " + shard_ + " " + std::to_string(millis_behind));
    if (Status s = cp.checkpoint(); !s.ok() && s.code() != StatusCode::kLeaseLost) {
      std::fprintf(stderr, "demo worker: checkpoint of %s: %s\n", shard_.c_str(),
                   s.to_string().c_str());
    }
  }

  void lease_lost() override { out_.line("X " + shard_); }

  void shard_ended(kcl::Checkpointer& cp) override {
    if (Status s = cp.checkpoint(); !s.ok()) {
      std::fprintf(stderr, "demo worker: shard-end checkpoint of %s: %s\n", shard_.c_str(),
                   s.to_string().c_str());
    }
    out_.line("E " + shard_);
  }

  void shutdown_requested(kcl::Checkpointer& cp) override {
    (void)cp.checkpoint();
    out_.line("X " + shard_);
  }

 private:
  Out& out_;
  std::string shard_;
};

}  // namespace

// One worker process: "L <shard> <from>" when it starts a shard, "D <id>
// <us>" per record, "B <shard> <millis behind>" per batch, "E <shard>" at a
// shard's end, "X <shard>" when it gives a shard up.
Status run_kinesis_worker(const KinesisWorkerOptions& o) {
  std::stop_source stop;
  ShutdownSignals signals(stop, {SIGINT, SIGTERM}, false);
  SLUICE_ASSIGN_OR_RETURN(auto kinesis_client,
                          aws::KinesisClient::create(local_client(o.kinesis_endpoint)));
  SLUICE_ASSIGN_OR_RETURN(auto dynamodb,
                          aws::DynamoDbClient::create(local_client(o.dynamodb_endpoint)));
  std::shared_ptr<kinesis::PayloadStore> store;
  if (!o.s3_endpoint.empty()) {
    SLUICE_ASSIGN_OR_RETURN(store, payload_store(o.s3_endpoint, o.s3_bucket));
  }
  Out out;
  kcl::WorkerConfig config;
  config.application_name = o.table;
  config.stream_name = o.stream;
  config.worker_id = o.id;
  config.management.start_strategy = kcl::StartStrategy::oldest();
  // Short timings so that the act shows a failover in seconds.
  config.management.failover_time = 3s;
  config.management.take_interval = 1s;
  config.management.shard_sync_interval = 2s;
  config.management.handoff_timeout = 5s;
  config.polling.idle_time_between_reads = 200ms;
  config.shutdown_timeout = 10s;
  config.handler_threads = 4;
  config.logger = make_stderr_logger(LogLevel::kWarn);
  config.on_processor_error = [](const std::string& shard, const Status& error) {
    std::fprintf(stderr, "demo worker: processor of %s: %s\n", shard.c_str(),
                 error.to_string().c_str());
  };
  // Plain records pass through as they are; envelopes are decoded, claim
  // checks fetched from S3 (a failed fetch is retried by the shard's reader).
  config.payload_decoder = kinesis::make_payload_decoder(store);
  SLUICE_ASSIGN_OR_RETURN(
      auto worker,
      kcl::Worker::create(config, std::shared_ptr<aws::KinesisClient>(std::move(kinesis_client)),
                          std::shared_ptr<aws::DynamoDbClient>(std::move(dynamodb)),
                          [&out] { return std::make_unique<DemoProcessor>(out); }));
  return worker->run(stop.get_token());
}

// The orchestrator.
Result<Ledger::Summary> run_kinesis_act(const DemoOptions& o, View& view) {
  if (o.kinesis_endpoint.empty() || o.dynamodb_endpoint.empty()) {
    return Status::invalid_argument(
        "the Kinesis act needs Kinesis and DynamoDB endpoints (SLUICE_TEST_KINESIS_ENDPOINT, "
        "SLUICE_TEST_DYNAMODB_ENDPOINT; scripts/demo starts kinesalite and dynalite and sets "
        "them)");
  }
  const std::string suffix = std::to_string(std::random_device{}() % 1000000);
  const std::string stream = "sluice-demo-" + suffix;
  const std::string table = "sluice-demo-app-" + suffix;
  ThreadPool pool(2, "sluice-demo");
  SLUICE_ASSIGN_OR_RETURN(auto kinesis_unique,
                          aws::KinesisClient::create(local_client(o.kinesis_endpoint)));
  std::shared_ptr<aws::KinesisClient> kinesis_client(std::move(kinesis_unique));
  SLUICE_ASSIGN_OR_RETURN(auto dynamodb,
                          aws::DynamoDbClient::create(local_client(o.dynamodb_endpoint)));
  SLUICE_ASSIGN_OR_RETURN(
      auto leases,
      kcl::DynamoDbLeaseTable::create(std::shared_ptr<aws::DynamoDbClient>(std::move(dynamodb)),
                                      {.table_name = table}));
  const aws::StreamRef ref{.name = stream};
  SLUICE_RETURN_IF_ERROR(run_blocking(pool.executor(), kinesis_client->create_stream(stream, 4)));
  SLUICE_RETURN_IF_ERROR(
      run_blocking(pool.executor(), kinesis_client->wait_until_active(ref, 60s)));
  SLUICE_RETURN_IF_ERROR(leases->create_if_missing(false, 60s));
  view.event("kinesis: stream " + stream + " (4 shards), lease table " + table +
             " (the Java KCL's schema)");

  // The payload pipeline: claim-checks need the S3 path.
  std::shared_ptr<kinesis::S3PayloadStore> store;
  if (!o.s3_endpoint.empty()) {
    SLUICE_ASSIGN_OR_RETURN(auto s3, aws::S3Client::create(local_client(o.s3_endpoint, true),
                                                           {.force_path_style = true}));
    Status bucket = run_blocking(pool.executor(), s3->create_bucket(o.s3_bucket));
    if (!bucket.ok() && bucket.code() != StatusCode::kAlreadyExists)
      return bucket.with_context("create bucket");
    SLUICE_ASSIGN_OR_RETURN(store, payload_store(o.s3_endpoint, o.s3_bucket));
  } else {
    view.event(
        "kinesis: no S3 endpoint (SLUICE_TEST_S3_ENDPOINT): large records are not claim-checked");
  }

  // Two producers with their own keys (order holds per key within one
  // producer): most records plain and aggregated, every fifth compressed
  // (zstd) and aggregated, and with S3 a few large ones claim-checked.
  kinesis::ProducerOptions plain_options;
  plain_options.stream = ref;
  plain_options.kinesis = kinesis_client;
  plain_options.aggregate = true;
  plain_options.linger = 50ms;
  plain_options.shard_map_refresh_interval = 2s;
  kinesis::ProducerOptions packed_options = plain_options;
  packed_options.payload.compression = kinesis::Compression::kZstd;
  if (store) {
    packed_options.payload.store = store;
    packed_options.payload.large_payload_threshold = 100 * 1024;
    packed_options.payload.key_prefix = "sluice-demo";
  }
  SLUICE_ASSIGN_OR_RETURN(auto plain, kinesis::Producer::create(plain_options));
  SLUICE_ASSIGN_OR_RETURN(auto packed, kinesis::Producer::create(packed_options));

  Ledger ledger;
  std::mutex ledger_mu;
  std::atomic<std::size_t> acked{0}, put_failed{0};
  std::mutex error_mu;
  std::string first_put_error;
  auto on_put = [&](const Result<kinesis::PutResult>& r) {
    if (r.ok()) {
      acked.fetch_add(1);
      return;
    }
    put_failed.fetch_add(1);
    std::lock_guard lock(error_mu);
    if (first_put_error.empty()) first_put_error = r.status().to_string();
  };
  std::mt19937_64 rng(42);
  std::map<std::string, std::int64_t> next_order;
  std::size_t large = 0;
  auto put_one = [&](int i) -> Status {
    const bool compressed = i % 5 == 4;
    const bool big = store && i % 2500 == 1249;
    const std::string key =
        compressed ? "doc-" + std::to_string(i % 16) : "user-" + std::to_string(i % 64);
    const std::string id = "r" + std::to_string(i);
    std::string data = id + ";{\"user\":\"" + key + "\",\"n\":" + std::to_string(i) +
                       ",\"note\":\"sluice demo record, compressible text compressible text\"}";
    if (big) {
      // ~300 KiB of noise: too big to stay inline even compressed.
      std::string noise(300 * 1024, ' ');
      for (auto& c : noise) c = static_cast<char>('a' + rng() % 26);
      data += noise;
      ++large;
    }
    {
      std::lock_guard lock(ledger_mu);
      ledger.produced(id, key, next_order[key]++);
    }
    return (compressed ? packed : plain)
        ->put({.partition_key = key, .data = std::move(data)}, on_put);
  };

  // Workers.
  std::vector<std::unique_ptr<Child>> workers;
  std::vector<std::unique_ptr<Tail>> tails;
  auto start_worker = [&](int i) {
    const std::string name = "worker-" + std::to_string(i);
    const std::string out = o.work_dir + "/kinesis-" + name + ".out";
    std::vector<std::string> args{"demo",       "kinesis-worker",
                                  "--kinesis",  o.kinesis_endpoint,
                                  "--dynamodb", o.dynamodb_endpoint,
                                  "--stream",   stream,
                                  "--table",    table,
                                  "--id",       name};
    if (store) {
      args.insert(args.end(), {"--s3", o.s3_endpoint, "--bucket", o.s3_bucket});
    }
    workers.push_back(
        std::make_unique<Child>(name, args, out, o.work_dir + "/kinesis-" + name + ".err"));
    tails.push_back(std::make_unique<Tail>(out));
  };
  for (int i = 0; i < 3; ++i) start_worker(i);
  view.event(
      "kinesis: started worker-0, worker-1, worker-2 (separate processes sharing the lease table)");

  const int total = o.kinesis_records;
  const auto produce_for = std::chrono::milliseconds(std::max(5000, std::min(20000, total / 2)));
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + o.act_timeout;
  int put = 0;
  bool producers_closed = false, split = false, killed = false, replaced = false;
  std::chrono::steady_clock::time_point killed_at{};
  std::map<std::string, std::string> state;                           // worker -> state
  std::map<std::string, std::size_t> handled;                         // worker -> records
  std::map<std::string, std::map<std::string, std::int64_t>> behind;  // worker -> shard -> ms
  std::int64_t seq = 0;
  std::chrono::steady_clock::time_point last_scan{};
  std::vector<kcl::Lease> lease_rows;
  Status failure;
  while (std::chrono::steady_clock::now() < deadline && !o.stop.stop_requested()) {
    const auto now = std::chrono::steady_clock::now();
    // Produce at a steady pace so that the split and the kill land mid-run.
    const double frac = std::min(1.0, std::chrono::duration<double>(now - start) / produce_for);
    const int target = static_cast<int>(frac * total);
    for (; put < target; ++put) {
      if (Status s = put_one(put); !s.ok()) return s.with_context("producer put");
    }
    if (put >= total && !producers_closed) {
      SLUICE_RETURN_IF_ERROR(plain->close());
      SLUICE_RETURN_IF_ERROR(packed->close());
      producers_closed = true;
      const auto ps = plain->stats(), cs = packed->stats();
      view.event("kinesis: produced " + std::to_string(total) + " records in " +
                 std::to_string(ps.requests + cs.requests) + " PutRecords calls, " +
                 std::to_string(ps.aggregates_written + cs.aggregates_written) +
                 " KPL aggregates; " + std::to_string(total / 5) + " zstd-compressed, " +
                 std::to_string(cs.large_payloads) + " claim-checked to S3");
      if (put_failed.load() > 0) {
        std::lock_guard lock(error_mu);
        view.event("kinesis: " + std::to_string(put_failed.load()) +
                   " puts failed: " + first_put_error);
      }
    }
    // A split mid-run: shard 0 of a uniform 4-shard stream covers
    // [0, 2^126); its children get [0, 2^125) and [2^125, 2^126).
    if (!split && put >= total * 3 / 10) {
      split = true;
      Status s = run_blocking(
          pool.executor(), kinesis_client->split_shard(ref, "shardId-000000000000",
                                                       "42535295865117307932921825928971026432"));
      view.event(
          s.ok() ? "kinesis: split shardId-000000000000 into two children (parents finish first)"
                 : "kinesis: split failed: " + s.to_string());
    }
    // Read what the workers printed.
    for (std::size_t i = 0; i < workers.size(); ++i) {
      const std::string& name = workers[i]->name();
      for (const auto& line : tails[i]->new_lines()) {
        if (line.size() < 3) continue;
        const std::string rest = line.substr(2);
        const auto sp = rest.find(' ');
        switch (line[0]) {
          case 'D':
            if (sp != std::string::npos) {
              std::lock_guard lock(ledger_mu);
              ledger.delivered(rest.substr(0, sp), std::stoll(rest.substr(sp + 1)), seq++);
              ++handled[name];
            }
            break;
          case 'B':
            if (sp != std::string::npos)
              behind[name][rest.substr(0, sp)] = std::stoll(rest.substr(sp + 1));
            break;
          case 'E':
            view.event("  " + name + " finished " + rest +
                       " (SHARD_END checkpointed; its children may start)");
            behind[name].erase(rest);
            break;
          case 'X':
            behind[name].erase(rest);
            break;
          default:
            break;
        }
      }
      state[name] =
          workers[i]->running() ? "running" : (killed && i == 1 ? "killed (SIGKILL)" : "stopped");
    }
    std::size_t unique;
    {
      std::lock_guard lock(ledger_mu);
      unique = ledger.unique_delivered();
    }
    if (!killed && unique >= static_cast<std::size_t>(total) * 55 / 100) {
      killed = true;
      killed_at = now;
      workers[1]->signal(SIGKILL);
      view.event(
          "kinesis: killed worker-1 with SIGKILL; its leases expire after the failover time (3 s)");
    }
    if (killed && !replaced && now - killed_at >= 2s) {
      replaced = true;
      start_worker(3);
      view.event("kinesis: started worker-3 as a replacement; it takes its share of the leases");
    }
    if (now - last_scan >= 1s) {
      last_scan = now;
      if (auto l = leases->list(); l.ok()) lease_rows = std::move(*l);
    }
    // The view: progress, then one row per worker with the leases it holds.
    std::vector<std::vector<std::string>> rows;
    for (const auto& w : workers) {
      std::string held;
      for (const auto& l : lease_rows) {
        if (l.lease_owner == w->name() && !l.at_shard_end())
          held += (held.empty() ? "" : ",") + short_shard(l.shard_id);
      }
      std::int64_t lag = -1;
      for (const auto& [shard, ms] : behind[w->name()]) lag = std::max(lag, ms);
      rows.push_back({w->name(), std::to_string(w->pid()), state[w->name()],
                      held.empty() ? "-" : held, std::to_string(handled[w->name()]),
                      lag < 0 ? "-" : std::to_string(lag) + " ms"});
    }
    std::vector<std::string> block{
        View::bar("produced", acked.load(), total),
        View::bar("delivered", static_cast<double>(unique), total),
    };
    for (auto& l : View::table({"worker", "pid", "state", "shards", "records", "behind"}, rows)) {
      block.push_back("  " + l);
    }
    view.status(block);
    if (producers_closed && unique + put_failed.load() >= static_cast<std::size_t>(total)) break;
    if (Status s = all_exited(workers); !s.ok()) {
      failure = s;
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  if (!producers_closed) {
    (void)plain->close(5s);
    (void)packed->close(5s);
  }
  // A graceful shutdown: each worker checkpoints and hands its leases back.
  for (auto& w : workers) w->signal(SIGTERM);
  for (auto& w : workers) w->wait(15s);
  view.finish();
  if (!failure.ok()) return failure;
  if (o.stop.stop_requested()) return Status::cancelled("interrupted");
  std::lock_guard lock(ledger_mu);
  Ledger::Summary s = ledger.summarize();
  if (large > 0)
    view.event("kinesis: " + std::to_string(large) + " large records went through S3 and back");
  return s;
}

}  // namespace sluice::cli::demo
