#include "sluice/kinesis/kcl/worker.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "sluice/kinesis/sequence_number.h"

namespace sluice::kinesis::kcl {

namespace {

// What the processors of one worker share: counters, lag, error reporting.
struct ProcessorShared {
  ProcessorShared(MetricsRegistry& r, const std::string& table, LeaseCoordinator* c,
                  std::shared_ptr<Logger> l,
                  std::function<void(const std::string&, const Status&)> on_error_fn)
      : coordinator(c),
        log(std::move(l)),
        on_error(std::move(on_error_fn)),
        records(r.counter("sluice_kcl_records_processed_total",
                          "User records handed to ShardRecordProcessors.", {"table"})
                    .with({table})),
        errors(r.counter("sluice_kcl_processor_errors_total",
                         "ShardRecordProcessor failures: exceptions, shard_ended without a "
                         "SHARD_END checkpoint, and payloads that could not be decoded.",
                         {"table", "kind"})),
        lag(r.gauge("sluice_kcl_millis_behind_latest",
                    "How far each shard's processing is behind the tip of the stream.",
                    {"table", "shard"})),
        table_(table) {}

  void error(const std::string& shard, const char* kind, const Status& s) {
    errors.with({table_, kind}).inc();
    ++error_count;
    log->error("shard record processor failed", {{"shard", shard}, {"kind", kind}, {"error", s}});
    if (on_error) {
      try {
        on_error(shard, s);
      } catch (...) {
        log->error("on_processor_error threw", {{"shard", shard}});
      }
    }
  }
  void behind(const std::string& shard, std::int64_t ms) {
    lag.with({table_, shard}).set(static_cast<double>(ms));
    std::lock_guard lock(mu);
    lags[shard] = ms;
  }
  void forget(const std::string& shard) {
    std::lock_guard lock(mu);
    lags.erase(shard);
  }
  std::int64_t max_behind() const {
    std::lock_guard lock(mu);
    std::int64_t m = -1;
    for (const auto& [s, v] : lags) m = std::max(m, v);
    return m;
  }

  LeaseCoordinator* coordinator;
  std::shared_ptr<Logger> log;
  std::function<void(const std::string&, const Status&)> on_error;
  Counter& records;
  CounterFamily& errors;
  GaugeFamily& lag;
  std::atomic<std::int64_t> record_count{0};
  std::atomic<std::int64_t> error_count{0};
  mutable std::mutex mu;
  std::map<std::string, std::int64_t> lags;
  std::string table_;
};

std::string what_of(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
  }
  return "a non-standard exception";
}

enum class Phase { kProcessing, kShardEnd, kShutdown };

// The user's Checkpointer, over the engine's ShardCheckpointer of the shard.
class KclCheckpointer final : public Checkpointer {
 public:
  KclCheckpointer(LeaseCoordinator* coordinator, std::string shard)
      : coordinator_(coordinator), shard_(std::move(shard)) {}

  void bind(ShardCheckpointer* cp, Phase phase) {
    std::lock_guard lock(mu_);
    cp_ = cp;
    phase_ = phase;
  }
  void mark_lost() {
    std::lock_guard lock(mu_);
    lost_ = true;
  }
  bool lost() const {
    std::lock_guard lock(mu_);
    return lost_;
  }

  Status checkpoint() override {
    ShardCheckpointer* cp;
    {
      std::lock_guard lock(mu_);
      SLUICE_RETURN_IF_ERROR(usable_locked());
      if (phase_ == Phase::kShardEnd) return end_locked();
      cp = cp_;
    }
    auto last = cp->last_delivered();
    if (!last) return Status();  // nothing delivered: nothing to record
    auto done = cp->last_checkpoint();
    if (done && *done == *last) return Status();
    return write(*last);
  }

  Status checkpoint(std::string_view sequence_number, std::uint64_t sub_sequence_number) override {
    {
      std::lock_guard lock(mu_);
      SLUICE_RETURN_IF_ERROR(usable_locked());
    }
    if (!is_sequence_number(sequence_number)) {
      return Status::invalid_argument(
          "checkpoint: \"" + std::string(sequence_number) +
          "\" is not a sequence number (decimal digits); use checkpoint() for everything "
          "delivered, or end() in shard_ended");
    }
    return write({std::string(sequence_number), sub_sequence_number});
  }

  Status end() override {
    std::lock_guard lock(mu_);
    SLUICE_RETURN_IF_ERROR(usable_locked());
    return end_locked();
  }

  Result<PreparedCheckpointer> prepare_checkpoint(
      std::string_view sequence_number, std::uint64_t sub_sequence_number,
      std::optional<std::string> application_state) override {
    ShardCheckpointer* cp;
    {
      std::lock_guard lock(mu_);
      SLUICE_RETURN_IF_ERROR(usable_locked());
      cp = cp_;
    }
    if (!is_sequence_number(sequence_number)) {
      return Status::invalid_argument("prepare_checkpoint: \"" + std::string(sequence_number) +
                                      "\" is not a sequence number (decimal digits)");
    }
    ExtendedSequenceNumber pos{std::string(sequence_number), sub_sequence_number};
    auto last = cp->last_delivered();
    if (!last || pos > *last) {
      return Status::failed_precondition("prepare_checkpoint " + pos.to_string() + " of shard " +
                                         shard_ + " is after the last record delivered (" +
                                         (last ? last->to_string() : std::string("none yet")) +
                                         ")");
    }
    if (auto done = cp->last_checkpoint(); done && pos < *done) {
      return Status::failed_precondition("prepare_checkpoint " + pos.to_string() + " of shard " +
                                         shard_ + " is before the last checkpoint " +
                                         done->to_string());
    }
    Status s = coordinator_->prepare_checkpoint(shard_, pos, application_state);
    if (s.code() == StatusCode::kLeaseLost) mark_lost();
    if (!s.ok()) return s;
    return PreparedCheckpointer(this, pos);
  }

  const std::string& shard_id() const override { return shard_; }
  std::optional<ExtendedSequenceNumber> largest_delivered() const override {
    std::lock_guard lock(mu_);
    return cp_ ? cp_->last_delivered() : std::nullopt;
  }
  std::optional<ExtendedSequenceNumber> last_checkpoint() const override {
    std::lock_guard lock(mu_);
    return cp_ ? cp_->last_checkpoint() : std::nullopt;
  }

 private:
  Status usable_locked() const {
    if (lost_) {
      return Status::lease_lost("checkpoint refused: the lease on shard " + shard_ +
                                " was lost (another worker owns it)");
    }
    if (!cp_) return Status::failed_precondition("checkpointer of shard " + shard_ + " not ready");
    return Status();
  }
  Status end_locked() {
    if (phase_ != Phase::kShardEnd) {
      return Status::failed_precondition(
          "checkpoint SHARD_END of shard " + shard_ +
          ": the shard has not reached its end (only valid in shard_ended)");
    }
    Status s = cp_->checkpoint_shard_end();
    if (s.code() == StatusCode::kLeaseLost) lost_ = true;
    return s;
  }
  Status write(const ExtendedSequenceNumber& pos) {
    coordinator_->note_checkpoint_position(shard_, pos);
    ShardCheckpointer* cp;
    {
      std::lock_guard lock(mu_);
      cp = cp_;
    }
    Status s = cp->checkpoint(pos);
    if (s.code() == StatusCode::kLeaseLost) mark_lost();
    return s;
  }

  LeaseCoordinator* coordinator_;
  std::string shard_;
  mutable std::mutex mu_;
  ShardCheckpointer* cp_ = nullptr;
  Phase phase_ = Phase::kProcessing;
  bool lost_ = false;
};

// The engine's ShardProcessor around the user's ShardRecordProcessor.
class ProcessorAdapter final : public ShardProcessor {
 public:
  ProcessorAdapter(std::shared_ptr<ProcessorShared> shared,
                   std::unique_ptr<ShardRecordProcessor> user)
      : shared_(std::move(shared)), user_(std::move(user)) {}
  ~ProcessorAdapter() override {
    if (!shard_.empty()) shared_->forget(shard_);
  }

  Status initialize(const ShardStart& start) override {
    shard_ = start.shard_id;
    checkpointer_ = std::make_unique<KclCheckpointer>(shared_->coordinator, shard_);
    if (!user_) return Status::internal("the ShardRecordProcessorFactory returned null");
    InitializationInput in;
    in.shard_id = shard_;
    if (start.checkpoint) {
      const Checkpoint& c = *start.checkpoint;
      if (c.shard_end) {
        in.extended_sequence_number = {kShardEnd, 0};
      } else if (c.sentinel != StartSentinel::kNone) {
        in.extended_sequence_number = {checkpoint_text(c), 0};
      } else {
        in.extended_sequence_number = {c.sequence_number, c.sub_sequence_number.value_or(0)};
      }
    } else {
      in.extended_sequence_number = {
          std::string(aws::shard_iterator_type_name(start.position.type)), 0};
    }
    if (auto lease = shared_->coordinator->lease(shard_);
        lease && !lease->pending_checkpoint.empty()) {
      in.pending_checkpoint = ExtendedSequenceNumber{
          lease->pending_checkpoint, static_cast<std::uint64_t>(std::max<std::int64_t>(
                                         0, lease->pending_checkpoint_sub_sequence_number))};
      in.pending_checkpoint_state = lease->pending_checkpoint_state;
    }
    try {
      user_->initialize(in);
    } catch (...) {
      return Status::internal("initialize of shard " + shard_ +
                              " threw: " + what_of(std::current_exception()));
    }
    return Status();
  }

  ProcessResult process_records(const RecordBatch& batch, ShardCheckpointer& cp) override {
    checkpointer_->bind(&cp, Phase::kProcessing);
    const std::int64_t behind = batch.millis_behind_latest.value_or(-1);
    // Records whose envelope could not be decoded are delivered as stored
    // (a poison record neither stops the shard nor disappears) and reported.
    for (const auto& [index, why] : batch.payload_errors) {
      shared_->error(shard_, "payload",
                     why.with_context("decoding the payload of record " +
                                      std::string(batch.records[index].sequence_number) + "/" +
                                      std::to_string(batch.records[index].sub_sequence_number) +
                                      " (delivered undecoded)"));
    }
    try {
      user_->process_records(std::span<const Record>(batch.records), behind, *checkpointer_);
    } catch (...) {
      shared_->error(
          shard_, "exception",
          Status::internal("process_records threw: " + what_of(std::current_exception())));
    }
    shared_->records.inc(static_cast<double>(batch.records.size()));
    shared_->record_count += static_cast<std::int64_t>(batch.records.size());
    if (behind >= 0) shared_->behind(shard_, behind);
    if (checkpointer_->lost()) {
      return {Disposition::kStopShard, Status::lease_lost("lease on " + shard_ + " lost")};
    }
    return {};
  }

  Status shard_ended(ShardCheckpointer& cp) override {
    checkpointer_->bind(&cp, Phase::kShardEnd);
    try {
      user_->shard_ended(*checkpointer_);
    } catch (...) {
      shared_->error(shard_, "exception",
                     Status::internal("shard_ended threw: " + what_of(std::current_exception())));
    }
    if (!cp.shard_end_checkpointed()) {
      Status s = Status::failed_precondition(
          "shard_ended of shard " + shard_ +
          " returned without checkpointing SHARD_END: call checkpointer.checkpoint() (or end()) "
          "in shard_ended; until then the shard's children do not start");
      shared_->error(shard_, "missing_shard_end_checkpoint", s);
      return s;
    }
    return Status();
  }

  void lease_lost() override {
    if (checkpointer_) checkpointer_->mark_lost();
    try {
      user_->lease_lost();
    } catch (...) {
      shared_->error(shard_, "exception",
                     Status::internal("lease_lost threw: " + what_of(std::current_exception())));
    }
  }

  Status shutdown_requested(ShardCheckpointer& cp) override {
    checkpointer_->bind(&cp, Phase::kShutdown);
    try {
      user_->shutdown_requested(*checkpointer_);
    } catch (...) {
      shared_->error(
          shard_, "exception",
          Status::internal("shutdown_requested threw: " + what_of(std::current_exception())));
    }
    return Status();
  }

 private:
  std::shared_ptr<ProcessorShared> shared_;
  std::unique_ptr<ShardRecordProcessor> user_;
  std::string shard_;
  std::unique_ptr<KclCheckpointer> checkpointer_;
};

}  // namespace

Status PreparedCheckpointer::checkpoint() {
  if (!checkpointer_) return Status::failed_precondition("empty PreparedCheckpointer");
  return checkpointer_->checkpoint(pending_.sequence_number, pending_.sub_sequence_number);
}

Status WorkerConfig::validate() const {
  if (application_name.empty() && table_name.empty()) {
    return Status::invalid_argument("WorkerConfig.application_name (or table_name) is required");
  }
  if (stream_name.empty() && stream_arn.empty()) {
    return Status::invalid_argument("WorkerConfig.stream_name or stream_arn is required");
  }
  SLUICE_RETURN_IF_ERROR(management.validate());
  SLUICE_RETURN_IF_ERROR(polling.validate());
  if (shutdown_timeout.count() <= 0) {
    return Status::invalid_argument("WorkerConfig.shutdown_timeout must be positive");
  }
  if (metrics_publisher && metrics_interval.count() <= 0) {
    return Status::invalid_argument("WorkerConfig.metrics_interval must be positive");
  }
  if (table_create_timeout.count() <= 0) {
    return Status::invalid_argument("WorkerConfig.table_create_timeout must be positive");
  }
  return Status();
}

struct Worker::Impl {
  WorkerConfig config;
  std::shared_ptr<LeaseTable> table;
  std::shared_ptr<LeaseCoordinator> coordinator;
  std::shared_ptr<ProcessorShared> shared;
  std::unique_ptr<Scheduler> scheduler;
  std::unique_ptr<LeaseTableMetrics> table_metrics;
  std::shared_ptr<Logger> log;
  const Clock* clock = nullptr;

  std::vector<MetricDatum> gather(double* last_records, double* last_errors, double* last_calls) {
    const std::vector<std::pair<std::string, std::string>> dims = {
        {"WorkerIdentifier", coordinator->owner_id()}};
    std::vector<MetricDatum> out;
    const double records = static_cast<double>(shared->record_count.load());
    const double errors = static_cast<double>(shared->error_count.load());
    const double calls = table_metrics->total();
    out.push_back({"RecordsProcessed", records - *last_records, "Count", dims, {}});
    out.push_back({"ProcessorErrors", errors - *last_errors, "Count", dims, {}});
    out.push_back({"LeaseTableRequests", calls - *last_calls, "Count", dims, {}});
    out.push_back({"LeasesHeld",
                   static_cast<double>(coordinator->snapshot().held.size()),
                   "Count",
                   dims,
                   {}});
    if (auto behind = shared->max_behind(); behind >= 0) {
      out.push_back({"MillisBehindLatest", static_cast<double>(behind), "Milliseconds", dims, {}});
    }
    *last_records = records;
    *last_errors = errors;
    *last_calls = calls;
    return out;
  }
};

Worker::Worker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Worker::~Worker() = default;

Result<std::unique_ptr<Worker>> Worker::create(WorkerConfig config,
                                               std::shared_ptr<aws::KinesisClient> kinesis,
                                               std::shared_ptr<aws::DynamoDbClient> dynamodb,
                                               ShardRecordProcessorFactory factory) {
  SLUICE_RETURN_IF_ERROR(config.validate());
  if (!dynamodb) return Status::invalid_argument("Worker: a DynamoDB client is required");
  SLUICE_ASSIGN_OR_RETURN(
      auto table,
      DynamoDbLeaseTable::create(std::move(dynamodb), {.table_name = config.effective_table_name(),
                                                       .metrics = config.metrics}));
  return create(std::move(config), std::move(kinesis),
                std::shared_ptr<LeaseTable>(std::move(table)), std::move(factory));
}

Result<std::unique_ptr<Worker>> Worker::create(WorkerConfig config,
                                               std::shared_ptr<aws::KinesisClient> kinesis,
                                               std::shared_ptr<LeaseTable> table,
                                               ShardRecordProcessorFactory factory) {
  SLUICE_RETURN_IF_ERROR(config.validate());
  if (!kinesis) return Status::invalid_argument("Worker: a Kinesis client is required");
  if (!table) return Status::invalid_argument("Worker: a lease table is required");
  if (!factory)
    return Status::invalid_argument("Worker: a ShardRecordProcessorFactory is required");
  auto impl = std::make_unique<Impl>();
  if (config.worker_id.empty()) config.worker_id = generate_worker_id();
  impl->clock = config.clock ? config.clock : &Clock::real();
  impl->log = with_fields(config.logger ? config.logger : make_noop_logger(),
                          {{"component", "kinesis.kcl"}, {"worker", config.worker_id}});
  LeaseCoordinatorOptions co;
  co.worker_id = config.worker_id;
  co.stream_identifier = config.stream_identifier;
  co.management = config.management;
  co.logger = config.logger;
  co.metrics = config.metrics;
  co.clock = config.clock;
  SLUICE_ASSIGN_OR_RETURN(impl->coordinator, LeaseCoordinator::create(table, co));
  impl->table = std::move(table);
  MetricsRegistry& registry = registry_or_global(config.metrics);
  impl->table_metrics = std::make_unique<LeaseTableMetrics>(registry, impl->table->name());
  impl->shared = std::make_shared<ProcessorShared>(
      registry, impl->table->name(), impl->coordinator.get(), impl->log, config.on_processor_error);

  SchedulerOptions s;
  s.stream = {.name = config.stream_name, .arn = config.stream_arn};
  switch (config.management.start_strategy.kind) {
    case StartStrategy::Kind::kLatest:
      s.initial_position = InitialPosition::kLatest;
      break;
    case StartStrategy::Kind::kOldest:
      s.initial_position = InitialPosition::kTrimHorizon;
      break;
    case StartStrategy::Kind::kTimestamp:
      s.initial_position = InitialPosition::kAtTimestamp;
      s.initial_timestamp = std::chrono::system_clock::time_point(
          std::chrono::milliseconds(config.management.start_strategy.timestamp_ms));
      break;
  }
  s.batch_size = config.polling.limit;
  s.poll_interval = config.polling.idle_time_between_reads;
  s.shard_sync_interval = config.management.shard_sync_interval;
  s.lease_acquire_interval = config.management.take_interval;
  s.deaggregate = config.deaggregate;
  s.payload_decoder = config.payload_decoder;
  s.handler_threads = config.handler_threads;
  s.shutdown_timeout = config.shutdown_timeout;
  s.require_shard_end_checkpoint = true;
  s.worker_id = config.worker_id;
  s.logger = config.logger;
  s.metrics = config.metrics;
  s.clock = config.clock;
  auto shared = impl->shared;
  ShardProcessorFactory engine_factory =
      [shared, factory](const ShardStart&) -> std::unique_ptr<ShardProcessor> {
    std::unique_ptr<ShardRecordProcessor> user;
    try {
      user = factory();
    } catch (...) {
      shared->log->error("ShardRecordProcessorFactory threw",
                         {{"error", what_of(std::current_exception())}});
    }
    return std::make_unique<ProcessorAdapter>(shared, std::move(user));
  };
  SLUICE_ASSIGN_OR_RETURN(impl->scheduler,
                          Scheduler::create(std::move(s), std::move(kinesis), impl->coordinator,
                                            impl->coordinator, std::move(engine_factory)));
  impl->config = std::move(config);
  return std::unique_ptr<Worker>(new Worker(std::move(impl)));
}

Status Worker::run(std::stop_token stop) {
  Impl* impl = impl_.get();
  if (impl->config.create_table) {
    Status s = impl->table->create_if_missing(impl->config.create_owner_index,
                                              impl->config.table_create_timeout);
    if (!s.ok()) return s.with_context("lease table " + impl->table->name());
  }
  std::jthread publisher;
  if (impl->config.metrics_publisher) {
    publisher = std::jthread([impl](std::stop_token self) {
      double records = 0, errors = 0, calls = impl->table_metrics->total();
      while (impl->clock->sleep_for(impl->config.metrics_interval, self)) {
        Status s = impl->config.metrics_publisher->publish(impl->gather(&records, &errors, &calls));
        if (!s.ok()) impl->log->warn("publishing metrics failed", {{"error", s}});
      }
    });
  }
  impl->log->info("KCL worker starting", {{"table", impl->table->name()},
                                          {"stream", impl->scheduler->options().stream.display()}});
  Status result = impl->scheduler->run(std::move(stop));
  if (publisher.joinable()) {
    publisher.request_stop();
    publisher.join();
  }
  return result;
}

const std::string& Worker::worker_id() const {
  return impl_->config.worker_id;
}

const WorkerConfig& Worker::config() const {
  return impl_->config;
}

std::vector<ShardStatus> Worker::status() const {
  return impl_->scheduler->status();
}

WorkerStats Worker::stats() const {
  WorkerStats s;
  s.records_processed = impl_->shared->record_count.load();
  s.processor_errors = impl_->shared->error_count.load();
  s.max_millis_behind_latest = impl_->shared->max_behind();
  return s;
}

LeaseCoordinator& Worker::coordinator() {
  return *impl_->coordinator;
}

}  // namespace sluice::kinesis::kcl
