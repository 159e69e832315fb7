// `sluice kinesis leases` and `sluice kinesis consume --app`: the Java-KCL-
// compatible lease table, inspected and used.
#include "kinesis_kcl_commands.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "sluice/aws/dynamodb_client.h"
#include "sluice/core/executor.h"
#include "sluice/core/shutdown_signals.h"
#include "sluice/core/time_format.h"
#include "sluice/kinesis/kcl/config.h"
#include "sluice/kinesis/kcl/lease_table.h"
#include "sluice/kinesis/kcl/worker.h"
#include "sluice/kinesis/sequence_number.h"

namespace sluice::cli {
namespace {

namespace kcl = kinesis::kcl;

Result<std::shared_ptr<aws::DynamoDbClient>> dynamodb_client(const GlobalOptions& global,
                                                             const std::string& endpoint) {
  aws::ClientOptions o = aws_client_options(global);
  // --endpoint-url is Kinesis's; DynamoDB has its own flag (or
  // AWS_ENDPOINT_URL_DYNAMODB, which the client reads when this is empty).
  o.endpoint = endpoint;
  SLUICE_ASSIGN_OR_RETURN(auto client, aws::DynamoDbClient::create(o));
  return std::shared_ptr<aws::DynamoDbClient>(std::move(client));
}

// Prints each record, checkpoints after each batch (so a restart or a
// takeover repeats nothing that was printed), and at shard end and shutdown.
class PrintingProcessor final : public kcl::ShardRecordProcessor {
 public:
  struct Shared {
    std::function<void(const kinesis::Record&)> print;
    long long max_records = 0;
    std::atomic<long long> printed{0};
    std::atomic<long long> last_record_ms{0};
    std::stop_source stop;
    std::shared_ptr<Logger> log;
  };
  explicit PrintingProcessor(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

  void initialize(const kcl::InitializationInput& in) override { shard_ = in.shard_id; }
  void process_records(std::span<const kinesis::Record> records, std::int64_t,
                       kcl::Checkpointer& checkpointer) override {
    const kinesis::Record* last = nullptr;
    for (const auto& r : records) {
      if (shared_->max_records > 0 && shared_->printed.load() >= shared_->max_records) {
        shared_->stop.request_stop();
        break;  // not printed, not checkpointed: the next run sees it
      }
      shared_->print(r);
      ++shared_->printed;
      last = &r;
    }
    shared_->last_record_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now().time_since_epoch())
                                  .count();
    if (last) report(checkpointer.checkpoint(*last));
    if (shared_->max_records > 0 && shared_->printed.load() >= shared_->max_records) {
      shared_->stop.request_stop();
    }
  }
  void lease_lost() override {}
  void shard_ended(kcl::Checkpointer& checkpointer) override { report(checkpointer.checkpoint()); }
  void shutdown_requested(kcl::Checkpointer& checkpointer) override {
    report(checkpointer.checkpoint());
  }

 private:
  void report(const Status& s) {
    if (!s.ok()) shared_->log->warn("checkpoint failed", {{"shard", shard_}, {"error", s}});
  }
  std::shared_ptr<Shared> shared_;
  std::string shard_;
};

Result<kcl::StartStrategy> strategy_of(const std::string& from) {
  if (from == "latest") return kcl::StartStrategy::latest();
  if (from == "trim-horizon") return kcl::StartStrategy::oldest();
  SLUICE_ASSIGN_OR_RETURN(auto t, parse_rfc3339(from));
  return kcl::StartStrategy::timestamp(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

std::chrono::milliseconds seconds(double s) {
  return std::chrono::milliseconds(static_cast<long long>(s * 1000));
}

// --- leases ------------------------------------------------------------------------

struct LeasesOptions {
  std::string table;
  std::string stream;
  std::string dynamodb_endpoint_url;
  bool watch = false;
  double interval = 2;
};

std::string joined(const std::vector<std::string>& v) {
  if (v.empty()) return "-";
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

// How far the lease's checkpoint is behind the shard's newest record: the
// age of the oldest record not yet processed ("0" when there is none).
std::string behind_of(aws::KinesisClient& kinesis, ThreadPool& pool, const std::string& stream,
                      const kcl::Lease& lease) {
  if (lease.at_shard_end()) return "done";
  aws::IteratorPosition pos;
  if (lease.checkpoint == kcl::kTrimHorizon) {
    pos.type = aws::ShardIteratorType::kTrimHorizon;
  } else if (kinesis::is_sequence_number(lease.checkpoint)) {
    pos.type = aws::ShardIteratorType::kAfterSequenceNumber;
    pos.sequence_number = lease.checkpoint;
  } else {
    return "-";  // LATEST / AT_TIMESTAMP: starts wherever the worker says
  }
  auto iterator = run_blocking(pool.executor(),
                               kinesis.get_shard_iterator({.name = stream}, lease.shard_id, pos));
  if (!iterator.ok()) return "?";
  auto reply = run_blocking(pool.executor(), kinesis.get_records(*iterator, 1, {.name = stream}));
  if (!reply.ok()) return "?";
  if (reply->records.empty()) return "0";
  const auto age = std::chrono::system_clock::now() - reply->records.front().approximate_arrival;
  const double s = std::max(0.0, std::chrono::duration<double>(age).count());
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

Status print_leases(const LeasesOptions& o, kcl::LeaseTable& table, aws::KinesisClient* kinesis,
                    ThreadPool& pool) {
  std::size_t skipped = 0;
  SLUICE_ASSIGN_OR_RETURN(auto leases, table.list(&skipped));
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"SHARD",      "OWNER",   "COUNTER",
                                     "CHECKPOINT", "PARENTS", "CHILDREN"};
  if (kinesis) header.push_back("BEHIND");
  rows.push_back(header);
  for (const auto& l : leases) {
    std::string owner = l.lease_owner.empty() ? "-" : l.lease_owner;
    if (l.in_handoff()) owner += " (from " + l.checkpoint_owner + ")";
    std::string checkpoint = l.checkpoint.empty() ? "-" : l.checkpoint;
    if (l.checkpoint_sub_sequence_number != 0) {
      checkpoint += "/" + std::to_string(l.checkpoint_sub_sequence_number);
    }
    std::vector<std::string> row = {l.lease_key,
                                    owner,
                                    std::to_string(l.lease_counter),
                                    checkpoint,
                                    joined(l.parent_shard_ids),
                                    joined(l.child_shard_ids)};
    if (kinesis) row.push_back(behind_of(*kinesis, pool, o.stream, l));
    rows.push_back(std::move(row));
  }
  std::vector<std::size_t> width(header.size(), 0);
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size()) out += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out += '\n';
  }
  if (skipped) out += std::to_string(skipped) + " malformed item(s) skipped\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return Status();
}

Status run_leases(const LeasesOptions& o, Context& ctx) {
  SLUICE_ASSIGN_OR_RETURN(auto db, dynamodb_client(ctx.global, o.dynamodb_endpoint_url));
  SLUICE_ASSIGN_OR_RETURN(auto table, kcl::DynamoDbLeaseTable::create(db, {.table_name = o.table}));
  std::shared_ptr<aws::KinesisClient> kinesis;
  if (!o.stream.empty()) {
    SLUICE_ASSIGN_OR_RETURN(kinesis, kinesis_client(ctx.global));
  }
  ThreadPool pool(1, "sluice-leases-cli");
  if (!o.watch) return print_leases(o, *table, kinesis.get(), pool);
  std::stop_source stop;
  ShutdownSignals signals(stop);
  while (!stop.stop_requested()) {
    std::printf("--- %s\n", format_rfc3339(std::chrono::system_clock::now()).c_str());
    Status s = print_leases(o, *table, kinesis.get(), pool);
    if (!s.ok()) std::fprintf(stderr, "sluice kinesis leases: %s\n", s.to_string().c_str());
    if (!Clock::real().sleep_for(seconds(o.interval), stop.get_token())) break;
  }
  return Status();
}

}  // namespace

Status run_kcl_consume(const KclConsumeOptions& o, Context& ctx,
                       const std::function<void(const kinesis::Record&)>& print) {
  kcl::WorkerConfig config;
  config.application_name = o.app;
  config.table_name = o.table;
  config.stream_name = o.stream;
  config.worker_id = o.worker_id;
  config.logger = ctx.global.logger();
  SLUICE_ASSIGN_OR_RETURN(config.management.start_strategy, strategy_of(o.from));
  config.management.failover_time = seconds(o.failover_time);
  config.management.take_interval = seconds(o.take_interval);
  config.management.max_leases = o.max_leases;
  config.management.leases_to_acquire = o.leases_to_acquire;
  config.management.shard_sync_interval = std::chrono::seconds(10);
  config.polling.limit = o.batch_size;
  config.polling.idle_time_between_reads = std::chrono::milliseconds(200);
  // KINESIS_LEASES_TO_ACQUIRE, KINESIS_MAX_LEASES, KINESIS_START_STRATEGY,
  // KINESIS_BATCH_LIMIT override the flags, as in seed 001's examples.
  SLUICE_RETURN_IF_ERROR(kcl::apply_environment(config.management, config.polling));

  auto shared = std::make_shared<PrintingProcessor::Shared>();
  shared->print = print;
  shared->max_records = o.max_records;
  shared->log = config.logger;
  SLUICE_ASSIGN_OR_RETURN(auto kinesis, kinesis_client(ctx.global));
  SLUICE_RETURN_IF_ERROR(check_stream_reachable(*kinesis, o.stream));
  SLUICE_ASSIGN_OR_RETURN(auto db, dynamodb_client(ctx.global, o.dynamodb_endpoint_url));
  SLUICE_ASSIGN_OR_RETURN(auto worker,
                          kcl::Worker::create(std::move(config), kinesis, db, [shared] {
                            return std::make_unique<PrintingProcessor>(shared);
                          }));
  ShutdownSignals signals(shared->stop);
  std::jthread idle_watch;
  if (o.idle_exit > 0) {
    shared->last_record_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
    idle_watch = std::jthread([shared, limit = seconds(o.idle_exit)](std::stop_token self) {
      while (!self.stop_requested() && !shared->stop.stop_requested()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now().time_since_epoch());
        if (now - std::chrono::milliseconds(shared->last_record_ms.load()) >= limit) {
          shared->stop.request_stop();
        }
      }
    });
  }
  Status s = worker->run(shared->stop.get_token());
  if (idle_watch.joinable()) {
    idle_watch.request_stop();
    idle_watch.join();
  }
  return s;
}

void add_kinesis_lease_commands(CLI::App& kinesis, Context& ctx) {
  auto o = std::make_shared<LeasesOptions>();
  auto* leases = kinesis.add_subcommand(
      "leases",
      "Show a Java-KCL-compatible lease table (sluice kinesis consume --app, or Java KCL "
      "workers): one row per lease with its owner, counter, checkpoint, parents and children, "
      "and with --stream how far its checkpoint is behind (the age of the oldest record not "
      "processed yet).");
  leases->add_option("--table", o->table, "Lease table (the KCL application name)")->required();
  leases->add_option("--stream", o->stream, "Stream: add a BEHIND column");
  leases->add_flag("--watch", o->watch,
                   "Print the table again every --interval seconds until Ctrl-C");
  leases->add_option("--interval", o->interval, "Seconds between prints with --watch")
      ->check(CLI::Range(0.1, 3600.0));
  leases->add_option("--dynamodb-endpoint-url", o->dynamodb_endpoint_url,
                     "DynamoDB endpoint (default: AWS_ENDPOINT_URL_DYNAMODB, then AWS's)");
  ctx.on_run(leases, "kinesis leases", [o, &ctx] { return run_leases(*o, ctx); });
}

}  // namespace sluice::cli
