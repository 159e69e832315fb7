#include "sluice/kinesis/consumer.h"

#include <asio/post.hpp>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>

namespace sluice::kinesis {
namespace {

struct HandlerMetrics {
  explicit HandlerMetrics(MetricsRegistry& r)
      : errors(r.counter("sluice_kinesis_handler_errors_total",
                         "Handler calls that failed (error or exception).", {"stream"})),
        retries(r.counter("sluice_kinesis_handler_retries_total",
                          "Handler calls that were retries.", {"stream"})),
        dead_letters(r.counter("sluice_kinesis_dead_letters_total",
                               "Records given to the dead-letter handler.", {"stream"})) {}
  CounterFamily& errors;
  CounterFamily& retries;
  CounterFamily& dead_letters;
};

// Runs `fn`, turning an exception into an error.
template <class F>
Status call_handler(F&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return Status::internal(std::string("handler threw: ") + e.what());
  } catch (...) {
    return Status::internal("handler threw a non-standard exception");
  }
}

// The record/batch handler face of the engine: retries, failure policy,
// checkpoint every N records, at shard end and at shutdown.
class HandlerProcessor final : public ShardProcessor {
 public:
  HandlerProcessor(const ConsumerOptions& o, std::shared_ptr<HandlerMetrics> m, std::string stream,
                   std::shared_ptr<Logger> log)
      : o_(o),
        metrics_(std::move(m)),
        stream_(std::move(stream)),
        log_(std::move(log)),
        clock_(o.clock ? o.clock : &Clock::real()),
        errors_(metrics_->errors.with({stream_})),
        retries_(metrics_->retries.with({stream_})),
        dead_letters_(metrics_->dead_letters.with({stream_})) {}

  Status initialize(const ShardStart& start) override {
    shard_ = start.shard_id;
    stop_ = start.stop;
    pool_ = start.handler_executor;
    return Status();
  }

  ProcessResult process_records(const RecordBatch& batch, ShardCheckpointer& cp) override {
    if (batch.records.empty()) return {};
    ProcessResult result;
    std::size_t done;  // records from the front that are fully handled
    if (o_.batch_handler) {
      result = handle_batch(batch, done);
    } else if (o_.shard_concurrency > 1) {
      result = handle_parallel(batch, done);
    } else {
      result = handle_sequential(batch, done);
    }
    since_checkpoint_ += static_cast<int>(done);
    if (done > 0 && (since_checkpoint_ >= o_.checkpoint_every ||
                     result.disposition != Disposition::kContinue)) {
      Status s = cp.checkpoint(batch.records[done - 1].position());
      if (!s.ok()) {
        if (s.code() == StatusCode::kLeaseLost) return {Disposition::kStopShard, s};
        // A failed write is not fatal: the next one covers it (at the cost
        // of more replay after a crash).
        log_->warn("checkpoint failed", {{"shard", shard_}, {"error", s}});
      } else {
        since_checkpoint_ = 0;
      }
      checkpointed_through_ = batch.records[done - 1].position();
    }
    if (done > 0) handled_through_ = batch.records[done - 1].position();
    return result;
  }

  Status shard_ended(ShardCheckpointer& cp) override { return cp.checkpoint_shard_end(); }

  void lease_lost() override {}

  Status shutdown_requested(ShardCheckpointer& cp) override {
    if (handled_through_ &&
        (!checkpointed_through_ || *checkpointed_through_ < *handled_through_)) {
      return cp.checkpoint(*handled_through_);
    }
    return Status();
  }

 private:
  // Calls `fn` until it succeeds or attempts run out; sleeps attempt *
  // backoff between tries (on the handler thread, interruptible by stop).
  template <class F>
  Status with_retries(F&& fn) {
    Status last;
    for (int attempt = 1; attempt <= o_.retry.max_attempts; ++attempt) {
      if (attempt > 1) retries_.inc();
      last = call_handler(fn);
      if (last.ok()) return last;
      errors_.inc();
      if (attempt == o_.retry.max_attempts) break;
      if (!clock_->sleep_for(o_.retry.backoff * attempt, stop_)) {
        return Status::cancelled("stopped while retrying the handler");
      }
    }
    return last;
  }

  // What to do with record `i` after its last failed attempt; true to go on.
  bool give_up_on(const Record& r, const Status& error, ProcessResult& result) {
    const std::string what = "handler failed " + std::to_string(o_.retry.max_attempts) +
                             " times on shard " + shard_ + " record " + r.position().to_string();
    switch (o_.failure_policy) {
      case FailurePolicy::kDeadLetter:
        dead_letters_.inc();
        try {
          o_.dead_letter(r, error);
        } catch (...) {
          log_->error("dead-letter handler threw; the record is skipped", {{"shard", shard_}});
        }
        log_->warn("record sent to the dead-letter handler",
                   {{"shard", shard_}, {"sequence", r.sequence_number}, {"error", error}});
        return true;
      case FailurePolicy::kStopConsumer:
        result = {Disposition::kStopConsumer, error.with_context(what)};
        return false;
      case FailurePolicy::kStopShard:
        result = {Disposition::kStopShard, error.with_context(what)};
        return false;
    }
    return false;
  }

  Status record_status(const RecordBatch& batch, std::size_t i) const {
    auto it = batch.payload_errors.find(i);
    return it == batch.payload_errors.end() ? Status() : it->second;
  }

  ProcessResult handle_sequential(const RecordBatch& batch, std::size_t& done) {
    ProcessResult result;
    done = 0;
    for (std::size_t i = 0; i < batch.records.size(); ++i) {
      const Record& r = batch.records[i];
      const Status payload = record_status(batch, i);
      Status s = payload.ok() ? with_retries([&] { return o_.record_handler(r); }) : payload;
      if (s.code() == StatusCode::kCancelled && stop_.stop_requested()) return result;
      if (!s.ok() && !give_up_on(r, s, result)) return result;
      done = i + 1;
    }
    return result;
  }

  ProcessResult handle_batch(const RecordBatch& batch, std::size_t& done) {
    ProcessResult result;
    done = 0;
    std::span<const Record> records(batch.records);
    std::size_t end = batch.records.size();
    ProcessResult payload_result;
    std::vector<Record> decodable;
    if (!batch.payload_errors.empty()) {
      // A record whose payload could not be decoded would reach the handler
      // as envelope bytes: it goes through the failure policy on its own
      // instead, and the handler gets the others (up to it, if the policy
      // stops there).
      decodable.reserve(batch.records.size());
      for (std::size_t i = 0; i < batch.records.size(); ++i) {
        const Status payload = record_status(batch, i);
        if (payload.ok()) {
          decodable.push_back(batch.records[i]);
        } else if (!give_up_on(batch.records[i], payload, payload_result)) {
          end = i;
          break;
        }
      }
      records = decodable;
    }
    if (!records.empty()) {
      Status s = with_retries([&] { return o_.batch_handler(records); });
      if (s.code() == StatusCode::kCancelled && stop_.stop_requested()) return result;
      if (!s.ok()) {
        // The policy applies to the batch as a whole: dead-letter all of it,
        // or stop before its first record.
        for (const Record& r : records) {
          if (!give_up_on(r, s, result)) return result;
        }
      }
    }
    done = end;
    return end == batch.records.size() ? result : payload_result;
  }

  // Up to shard_concurrency records at once. The calling (handler pool)
  // thread works too and helpers never wait on anything, so a busy pool
  // cannot deadlock; checkpoints stop at the first record not done.
  ProcessResult handle_parallel(const RecordBatch& batch, std::size_t& done) {
    struct Shared {
      std::atomic<std::size_t> next{0};
      std::atomic<bool> closed{false};
      std::atomic<bool> failed{false};
      std::mutex mu;
      std::condition_variable cv;
      int active = 0;
      std::vector<Status> outcomes;
    };
    auto shared = std::make_shared<Shared>();
    shared->outcomes.resize(batch.records.size());
    std::vector<char> finished(batch.records.size(), 0);
    auto work = [this, &batch, shared, &finished] {
      while (!shared->failed) {
        const std::size_t i = shared->next.fetch_add(1);
        if (i >= batch.records.size()) break;
        const Status payload = record_status(batch, i);
        Status s = payload.ok() ? with_retries([&] { return o_.record_handler(batch.records[i]); })
                                : payload;
        if (!s.ok() && o_.failure_policy != FailurePolicy::kDeadLetter) shared->failed = true;
        shared->outcomes[i] = std::move(s);
        finished[i] = 1;
      }
    };
    const int helpers =
        std::min<int>(o_.shard_concurrency - 1, static_cast<int>(batch.records.size()) - 1);
    for (int h = 0; h < helpers; ++h) {
      asio::post(pool_, [shared, work] {
        {
          std::lock_guard lock(shared->mu);
          if (shared->closed) return;  // started too late: nothing to wait for
          ++shared->active;
        }
        work();
        std::lock_guard lock(shared->mu);
        if (--shared->active == 0) shared->cv.notify_all();
      });
    }
    work();
    {
      std::unique_lock lock(shared->mu);
      shared->closed = true;
      shared->cv.wait(lock, [&] { return shared->active == 0; });
    }
    ProcessResult result;
    done = 0;
    for (std::size_t i = 0; i < batch.records.size(); ++i) {
      if (!finished[i]) break;  // not attempted (another record failed)
      const Status& s = shared->outcomes[i];
      if (s.code() == StatusCode::kCancelled && stop_.stop_requested()) break;
      if (!s.ok() && !give_up_on(batch.records[i], s, result)) break;
      done = i + 1;
    }
    return result;
  }

  const ConsumerOptions& o_;
  std::shared_ptr<HandlerMetrics> metrics_;
  std::string stream_;
  std::shared_ptr<Logger> log_;
  const Clock* clock_;
  Counter& errors_;
  Counter& retries_;
  Counter& dead_letters_;
  std::string shard_;
  std::stop_token stop_;
  asio::any_io_executor pool_;
  int since_checkpoint_ = 0;
  std::optional<ExtendedSequenceNumber> handled_through_;
  std::optional<ExtendedSequenceNumber> checkpointed_through_;
};

}  // namespace

Status validate(const ConsumerOptions& o) {
  if (o.stream_name.empty() && o.stream_arn.empty()) {
    return Status::invalid_argument("stream_name or stream_arn is required");
  }
  if (o.batch_size < 1 || o.batch_size > 10000) {
    return Status::invalid_argument("batch_size must be 1..10000, got " +
                                    std::to_string(o.batch_size));
  }
  if (o.shard_concurrency < 1) {
    return Status::invalid_argument("shard_concurrency must be >= 1, got " +
                                    std::to_string(o.shard_concurrency));
  }
  if (o.poll_interval.count() < 0)
    return Status::invalid_argument("poll_interval must not be negative");
  if (o.shard_sync_interval.count() <= 0) {
    return Status::invalid_argument("shard_sync_interval must be positive");
  }
  if (o.retry.max_attempts < 1) {
    return Status::invalid_argument("retry.max_attempts must be >= 1, got " +
                                    std::to_string(o.retry.max_attempts));
  }
  if (o.retry.backoff.count() < 0)
    return Status::invalid_argument("retry.backoff must not be negative");
  if (o.checkpoint_every < 1) {
    return Status::invalid_argument("checkpoint_every must be >= 1, got " +
                                    std::to_string(o.checkpoint_every));
  }
  if (!o.record_handler && !o.batch_handler) {
    return Status::invalid_argument("a handler is required: set record_handler or batch_handler");
  }
  if (o.failure_policy == FailurePolicy::kDeadLetter && !o.dead_letter) {
    return Status::invalid_argument("failure_policy kDeadLetter needs a dead_letter handler");
  }
  if (o.start_position == StartPosition::kAtTimestamp &&
      o.start_timestamp == std::chrono::system_clock::time_point{}) {
    return Status::invalid_argument("start_position kAtTimestamp needs start_timestamp");
  }
  return Status();
}

Consumer::Consumer(ConsumerOptions options, std::unique_ptr<Scheduler> scheduler)
    : options_(std::move(options)), scheduler_(std::move(scheduler)) {}

Consumer::~Consumer() = default;

Result<std::unique_ptr<Consumer>> Consumer::create(ConsumerOptions options,
                                                   std::shared_ptr<aws::KinesisClient> kinesis,
                                                   std::shared_ptr<CheckpointStore> checkpoints) {
  SLUICE_RETURN_IF_ERROR(validate(options));
  std::unique_ptr<Consumer> consumer(new Consumer(std::move(options), nullptr));
  const ConsumerOptions& o = consumer->options_;

  SchedulerOptions s;
  s.stream = {.name = o.stream_name, .arn = o.stream_arn};
  s.initial_position =
      o.start_position == StartPosition::kTrimHorizon   ? InitialPosition::kTrimHorizon
      : o.start_position == StartPosition::kAtTimestamp ? InitialPosition::kAtTimestamp
                                                        : InitialPosition::kLatest;
  s.initial_timestamp = o.start_timestamp;
  s.batch_size = o.batch_size;
  s.poll_interval = o.poll_interval;
  s.shard_sync_interval = o.shard_sync_interval;
  s.lease_acquire_interval = o.lease_acquire_interval;
  s.deaggregate = o.deaggregate;
  s.payload_decoder = o.payload_decoder;
  s.prefetch_batches = o.prefetch_batches;
  s.max_buffered_bytes = o.max_buffered_bytes;
  s.handler_threads = o.handler_threads;
  s.shutdown_timeout = o.shutdown_timeout;
  s.worker_id = o.worker_id;
  s.logger = o.logger;
  s.metrics = o.metrics;
  s.clock = o.clock;

  auto metrics = std::make_shared<HandlerMetrics>(registry_or_global(o.metrics));
  auto log =
      with_fields(o.logger ? o.logger : make_noop_logger(), {{"component", "kinesis.consumer"}});
  const std::string stream = o.stream_arn.empty() ? o.stream_name : o.stream_arn;
  const ConsumerOptions* opts = &consumer->options_;
  ShardProcessorFactory factory = [metrics, log, stream,
                                   opts](const ShardStart&) -> std::unique_ptr<ShardProcessor> {
    return std::make_unique<HandlerProcessor>(*opts, metrics, stream, log);
  };
  SLUICE_ASSIGN_OR_RETURN(
      consumer->scheduler_,
      Scheduler::create(std::move(s), std::move(kinesis), std::move(checkpoints), o.lease_manager,
                        std::move(factory)));
  return consumer;
}

Status Consumer::start(std::stop_token stop) {
  return scheduler_->run(std::move(stop));
}

std::vector<ShardStatus> Consumer::status() const {
  return scheduler_->status();
}

}  // namespace sluice::kinesis
