#include "sluice/kinesis/scheduler.h"

#include <unistd.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/channel.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <variant>

#include "kinesis/batch_builder.h"
#include "sluice/core/executor.h"
#include "sluice/kinesis/shard_graph.h"

namespace sluice::kinesis {

using namespace std::chrono_literals;

std::string default_worker_id() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "host");
  return std::string(host) + "-" + std::to_string(getpid());
}

namespace {

enum class StopReason : int { kNone = 0, kShutdown, kLeaseLost, kShed };

// What a shard's reader hands its delivery loop.
struct EndOfShard {
  std::vector<aws::ChildShard> children;
};
using FetchItem = std::variant<RecordBatch, EndOfShard, Status>;
using FetchChannel = asio::experimental::channel<void(asio::error_code, FetchItem)>;

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

// Metric families, created once per scheduler.
struct Metrics {
  explicit Metrics(MetricsRegistry& r)
      : records(r.counter("sluice_kinesis_records_delivered_total",
                          "User records handed to processors.", {"stream", "shard"})),
        bytes(r.counter("sluice_kinesis_bytes_delivered_total",
                        "Bytes of user record data handed to processors.", {"stream", "shard"})),
        get_records(r.counter("sluice_kinesis_getrecords_total", "GetRecords calls by outcome.",
                              {"stream", "outcome"})),
        get_records_latency(r.histogram("sluice_kinesis_getrecords_duration_seconds",
                                        "GetRecords call latency.", {"stream"})),
        behind(r.gauge("sluice_kinesis_millis_behind_latest",
                       "How far each shard's reader is behind the tip of the stream.",
                       {"stream", "shard"})),
        checkpoints(r.counter("sluice_kinesis_checkpoints_total", "Checkpoint writes by outcome.",
                              {"stream", "outcome"})),
        leases_held(
            r.gauge("sluice_kinesis_leases_held", "Shard leases this worker holds.", {"stream"})),
        shards_running(r.gauge("sluice_kinesis_shards_running",
                               "Shards this worker is reading now.", {"stream"})),
        dropped(r.counter("sluice_kinesis_user_records_dropped_total",
                          "Aggregated user records outside the shard's hash range (after a "
                          "reshard), dropped as the KCL does.",
                          {"stream", "shard"})),
        corrupt(r.counter("sluice_kinesis_corrupt_aggregates_total",
                          "Records with the KPL magic that failed to decode, passed through as "
                          "plain records.",
                          {"stream", "shard"})),
        iterator_expired(r.counter("sluice_kinesis_iterator_expired_total",
                                   "Shard iterators that expired and were renewed.", {"stream"})),
        buffered(r.gauge("sluice_kinesis_buffered_bytes",
                         "Record bytes read ahead and not yet processed.", {"stream"})) {}
  CounterFamily& records;
  CounterFamily& bytes;
  CounterFamily& get_records;
  HistogramFamily& get_records_latency;
  GaugeFamily& behind;
  CounterFamily& checkpoints;
  GaugeFamily& leases_held;
  GaugeFamily& shards_running;
  CounterFamily& dropped;
  CounterFamily& corrupt;
  CounterFamily& iterator_expired;
  GaugeFamily& buffered;
};

}  // namespace

// One shard this process works on.
struct Worker {
  std::string shard_id;
  std::stop_source stop;
  std::atomic<int> reason{0};  // StopReason
  std::atomic<bool> done{false};
  // Filled in by the worker, read by status().
  std::atomic<std::int64_t> records{0};
  std::atomic<std::int64_t> millis_behind{-1};
  // Bytes read ahead for this shard and not yet processed.
  std::atomic<std::size_t> buffered{0};
  // Stopped by its processor's failure policy (not to be restarted).
  std::atomic<bool> policy_stopped{false};
  std::mutex mu;
  std::string state = "starting";
  std::string last_sequence;
  bool ended = false;  // read the shard to its end and checkpointed it

  void set_state(std::string s) {
    std::lock_guard lock(mu);
    state = std::move(s);
  }
  void request_stop(StopReason r) {
    int expected = 0;
    reason.compare_exchange_strong(expected, static_cast<int>(r));
    stop.request_stop();
  }
  StopReason stop_reason() const { return static_cast<StopReason>(reason.load()); }
};

struct Scheduler::Impl {
  SchedulerOptions options;
  std::shared_ptr<aws::KinesisClient> kinesis;
  std::shared_ptr<CheckpointStore> store;
  std::shared_ptr<LeaseManager> leases;
  ShardProcessorFactory factory;
  std::shared_ptr<Logger> log;
  const Clock* clock = nullptr;
  std::string stream_label;
  std::unique_ptr<Metrics> metrics;

  std::unique_ptr<ThreadPool> engine_pool;
  std::unique_ptr<ThreadPool> handler_pool;
  std::unique_ptr<ThreadPool> io_pool;  // blocking calls to the checkpoint store and leases
  std::atomic<std::size_t> buffered_bytes{0};

  // Coordination state: touched only by the coordination coroutine.
  ShardGraph graph;
  std::set<std::string> initial_shards;
  std::set<std::string> complete;
  std::map<std::string, Checkpoint> checkpoints;
  std::set<std::string> stopped;  // shards stopped by their processor's policy

  mutable std::mutex mu;  // guards workers, fatal, wake
  std::map<std::string, std::shared_ptr<Worker>> workers;
  // The last status of shards whose workers finished (ended, stopped, ...).
  std::map<std::string, ShardStatus> finished_status;
  Status fatal;
  // Children announced by GetRecords at shard ends, for the next cycle.
  std::vector<std::pair<std::string, std::vector<aws::ChildShard>>> announced_children;
  std::stop_source engine_stop;  // fatal error or run() stop
  std::stop_source wake;         // ends the coordination sleep early

  // --- helpers ---------------------------------------------------------------

  void fail(Status s) {
    {
      std::lock_guard lock(mu);
      if (fatal.ok()) fatal = s;
    }
    log->error("consumer stopping on a fatal error", {{"stream", stream_label}, {"error", s}});
    engine_stop.request_stop();
    request_wake();
  }

  void request_wake() {
    std::lock_guard lock(mu);
    wake.request_stop();
  }

  std::stop_token take_wake_token() {
    std::lock_guard lock(mu);
    if (wake.stop_requested()) wake = std::stop_source();
    return wake.get_token();
  }

  aws::IteratorPosition initial_iterator(const std::string& shard_id) const {
    switch (options.initial_position) {
      case InitialPosition::kTrimHorizon:
        return {.type = aws::ShardIteratorType::kTrimHorizon};
      case InitialPosition::kAtTimestamp:
        return {.type = aws::ShardIteratorType::kAtTimestamp,
                .timestamp = options.initial_timestamp};
      case InitialPosition::kLatest:
        break;
    }
    // LATEST applies to the shards of the stream as it was at start. A shard
    // born later, or one whose parent we (or another worker) read, starts
    // at its beginning: its records are all newer than our start.
    bool lineage_read = !initial_shards.count(shard_id);
    for (const auto& p : graph.parents(shard_id)) lineage_read |= checkpoints.count(p) > 0;
    if (lineage_read) return {.type = aws::ShardIteratorType::kTrimHorizon};
    return {.type = aws::ShardIteratorType::kLatest};
  }

  // With LATEST, a shard already closed at start and never read has nothing
  // for us: it counts as complete without being read (nothing is written).
  bool skip_at_latest(const std::string& shard_id) const {
    if (options.initial_position != InitialPosition::kLatest) return false;
    const aws::Shard* s = graph.find(shard_id);
    if (!s || s->is_open() || !initial_shards.count(shard_id) || checkpoints.count(shard_id)) {
      return false;
    }
    for (const auto& p : graph.parents(shard_id)) {
      if (checkpoints.count(p)) return false;
    }
    return true;
  }

  bool is_complete(const std::string& shard_id) const {
    if (complete.count(shard_id)) return true;
    auto it = checkpoints.find(shard_id);
    return it != checkpoints.end() && it->second.shard_end;
  }
};

namespace {

using Impl = Scheduler::Impl;

// The engine's checkpointer for one shard.
class EngineCheckpointer final : public ShardCheckpointer {
 public:
  EngineCheckpointer(Impl* impl, std::string shard_id, std::optional<Checkpoint> start)
      : impl_(impl), shard_id_(std::move(shard_id)) {
    if (start && !start->shard_end && !start->sequence_number.empty()) {
      last_checkpoint_ =
          ExtendedSequenceNumber{start->sequence_number, start->sub_sequence_number.value_or(0)};
    }
  }

  // Called by the delivery loop before a batch is handed over.
  void delivering(const RecordBatch& batch) {
    std::lock_guard lock(mu_);
    if (!batch.records.empty()) last_delivered_ = batch.records.back().position();
    for (const auto& [seq, n] : batch.aggregate_sizes) aggregate_sizes_[seq] = n;
    // Keep the map small: only the newest aggregates matter.
    while (aggregate_sizes_.size() > 20000) aggregate_sizes_.erase(aggregate_sizes_.begin());
  }
  void at_shard_end() {
    std::lock_guard lock(mu_);
    at_end_ = true;
  }

  Status checkpoint(const ExtendedSequenceNumber& position) override {
    std::lock_guard lock(mu_);
    if (!is_sequence_number(position.sequence_number)) {
      return Status::invalid_argument("checkpoint: \"" + position.sequence_number +
                                      "\" is not a sequence number");
    }
    if (!last_delivered_ || position > *last_delivered_) {
      return Status::failed_precondition(
          "checkpoint " + position.to_string() + " of shard " + shard_id_ +
          " is after the last record delivered (" +
          (last_delivered_ ? last_delivered_->to_string() : std::string("none yet")) + ")");
    }
    if (last_checkpoint_ && position < *last_checkpoint_) {
      return Status::failed_precondition("checkpoint " + position.to_string() + " of shard " +
                                         shard_id_ + " is before the last checkpoint " +
                                         last_checkpoint_->to_string());
    }
    Checkpoint c;
    c.sequence_number = position.sequence_number;
    auto agg = aggregate_sizes_.find(position.sequence_number);
    if (agg != aggregate_sizes_.end() && position.sub_sequence_number + 1 < agg->second) {
      c.sub_sequence_number = position.sub_sequence_number;  // part of an aggregate
    }
    SLUICE_RETURN_IF_ERROR(write(c));
    last_checkpoint_ = position;
    return Status();
  }

  std::optional<ExtendedSequenceNumber> last_delivered() const override {
    std::lock_guard lock(mu_);
    return last_delivered_;
  }
  std::optional<ExtendedSequenceNumber> last_checkpoint() const override {
    std::lock_guard lock(mu_);
    return last_checkpoint_;
  }

  Status checkpoint_shard_end() override {
    std::lock_guard lock(mu_);
    if (!at_end_) {
      return Status::failed_precondition("checkpoint_shard_end: shard " + shard_id_ +
                                         " has not reached its end");
    }
    Checkpoint c;
    c.shard_end = true;
    if (last_delivered_) c.sequence_number = last_delivered_->sequence_number;
    SLUICE_RETURN_IF_ERROR(write(c));
    shard_end_done_ = true;
    return Status();
  }
  bool shard_end_checkpointed() const override {
    std::lock_guard lock(mu_);
    return shard_end_done_;
  }

  void lost() {
    std::lock_guard lock(mu_);
    lost_ = true;
  }

 private:
  Status write(const Checkpoint& c) {
    auto& outcome = impl_->metrics->checkpoints;
    if (lost_ || (impl_->leases && !impl_->leases->holds(shard_id_))) {
      outcome.with({impl_->stream_label, "lease_lost"}).inc();
      return Status::lease_lost("shard " + shard_id_ + " is no longer leased by this worker");
    }
    Status s = impl_->store->save(impl_->stream_label, shard_id_, c);
    outcome.with({impl_->stream_label, s.ok() ? "ok" : "error"}).inc();
    if (!s.ok()) return s.with_context("checkpoint of shard " + shard_id_);
    return s;
  }

  Impl* impl_;
  std::string shard_id_;
  mutable std::mutex mu_;
  std::optional<ExtendedSequenceNumber> last_delivered_;
  std::optional<ExtendedSequenceNumber> last_checkpoint_;
  std::map<std::string, std::uint64_t, std::less<>> aggregate_sizes_;
  bool at_end_ = false;
  bool shard_end_done_ = false;
  bool lost_ = false;
};

// A stop token that fires when either input fires.
class JointStop {
 public:
  JointStop(std::stop_token a, std::stop_token b)
      : on_a_(std::move(a), Fire{&source_}), on_b_(std::move(b), Fire{&source_}) {}
  std::stop_token token() const { return source_.get_token(); }

 private:
  struct Fire {
    std::stop_source* s;
    void operator()() const { s->request_stop(); }
  };
  std::stop_source source_;
  std::stop_callback<Fire> on_a_;
  std::stop_callback<Fire> on_b_;
};

// Waits out a transient read failure; false when stopped meanwhile.
asio::awaitable<bool> pause_after(Impl* impl, Backoff& backoff, Status why, std::string shard,
                                  std::stop_token stop) {
  auto delay = backoff.next();
  if (!delay) delay = backoff.policy().backoff.max;
  impl->log->warn("shard read failed; retrying",
                  {{"shard", shard}, {"delay", *delay}, {"error", why}});
  auto sleep = async_sleep_for(*impl->clock, *delay, stop);
  const bool slept = co_await std::move(sleep);
  co_return slept;
}

// Sends one item to the delivery loop; false when the loop is gone (the
// channel was cancelled). The item is a named parameter, never a temporary of
// the co_await expression (see docs/DEVELOPING.md).
asio::awaitable<bool> send_item(FetchChannel* channel, FetchItem item) {
  auto op = channel->async_send(asio::error_code(), std::move(item), kTuple);
  std::tuple<asio::error_code> sent = co_await std::move(op);
  co_return !std::get<0>(sent);
}

// Reads the shard and feeds `channel` until the shard ends, the worker
// stops, or a fatal error. Every awaited operation is first bound to a named
// local: GCC 12 can destroy non-trivial temporaries of a co_await expression
// twice.
asio::awaitable<void> read_shard(Impl* impl, std::shared_ptr<Worker> worker, ShardStart start,
                                 FetchChannel* channel) {
  const std::string shard = worker->shard_id;
  JointStop joint(worker->stop.get_token(), impl->engine_stop.get_token());
  const std::stop_token stop = joint.token();
  const aws::CallOptions call{.max_attempts = 1, .stop = stop};
  Backoff backoff(impl->options.read_retry);
  std::string iterator;
  std::string last_read;  // sequence number of the last Kinesis record passed on
  bool skip_pending = start.skip_through_sub_sequence.has_value();

  BatchBuildOptions build;
  build.deaggregate = impl->options.deaggregate;
  if (!start.shard.hash_key_range.starting_hash_key.empty()) {
    auto range = parse_hash_key_interval(start.shard.hash_key_range.starting_hash_key,
                                         start.shard.hash_key_range.ending_hash_key);
    if (range.ok()) build.hash_range = *range;
  }
  Counter& ok_calls = impl->metrics->get_records.with({impl->stream_label, "ok"});
  Counter& throttled_calls = impl->metrics->get_records.with({impl->stream_label, "throttled"});
  Counter& failed_calls = impl->metrics->get_records.with({impl->stream_label, "error"});
  Histogram& latency = impl->metrics->get_records_latency.with({impl->stream_label});
  Gauge& behind = impl->metrics->behind.with({impl->stream_label, shard});
  Counter& dropped = impl->metrics->dropped.with({impl->stream_label, shard});
  Counter& corrupt = impl->metrics->corrupt.with({impl->stream_label, shard});
  Gauge& buffered = impl->metrics->buffered.with({impl->stream_label});

  while (!stop.stop_requested()) {
    if (iterator.empty()) {
      aws::IteratorPosition pos = start.position;
      if (!last_read.empty()) {
        pos = {.type = aws::ShardIteratorType::kAfterSequenceNumber, .sequence_number = last_read};
      }
      auto request = impl->kinesis->get_shard_iterator(impl->options.stream, shard, pos, call);
      Result<std::string> it = co_await std::move(request);
      if (!it.ok()) {
        const Status failure = it.status();
        if (failure.code() == StatusCode::kCancelled || stop.stop_requested()) break;
        if (failure.code() == StatusCode::kNotFound) {
          // The shard aged out of retention between listing and reading.
          impl->log->warn("shard not found; treating it as ended",
                          {{"shard", shard}, {"error", failure}});
          auto end = send_item(channel, FetchItem(EndOfShard{}));
          co_await std::move(end);
          co_return;
        }
        if (failure.retryable()) {
          auto wait = pause_after(impl, backoff, failure, shard, stop);
          const bool go_on = co_await std::move(wait);
          if (!go_on) break;
          continue;
        }
        auto fatal =
            send_item(channel, FetchItem(failure.with_context("GetShardIterator for " + shard)));
        co_await std::move(fatal);
        co_return;
      }
      iterator = std::move(*it);
      impl->log->debug("got a shard iterator", {{"shard", shard}});
    }

    // Bounded read-ahead across every shard of the process.
    while (impl->buffered_bytes.load() >= impl->options.max_buffered_bytes &&
           !stop.stop_requested()) {
      auto wait = async_sleep_for(*impl->clock, 10ms, stop);
      const bool slept = co_await std::move(wait);
      (void)slept;
    }
    if (stop.stop_requested()) break;

    const auto started = impl->clock->now();
    auto request =
        impl->kinesis->get_records(iterator, impl->options.batch_size, impl->options.stream, call);
    Result<aws::GetRecordsResult> reply = co_await std::move(request);
    latency.observe(std::chrono::duration<double>(impl->clock->now() - started).count());
    if (!reply.ok()) {
      const Status failure = reply.status();
      if (failure.code() == StatusCode::kCancelled || stop.stop_requested()) break;
      if (failure.code() == StatusCode::kExpiredIterator) {
        // Ask again from the last record passed on: nothing lost, nothing repeated.
        impl->metrics->iterator_expired.with({impl->stream_label}).inc();
        impl->log->info("shard iterator expired; renewing it",
                        {{"shard", shard}, {"after", last_read.empty() ? "start" : last_read}});
        iterator.clear();
        continue;
      }
      (failure.code() == StatusCode::kThrottled ? throttled_calls : failed_calls).inc();
      if (failure.retryable()) {
        auto wait = pause_after(impl, backoff, failure, shard, stop);
        const bool go_on = co_await std::move(wait);
        if (!go_on) break;
        continue;
      }
      auto fatal = send_item(channel, FetchItem(failure.with_context("GetRecords on " + shard)));
      co_await std::move(fatal);
      co_return;
    }
    ok_calls.inc();
    backoff.reset();
    if (impl->log->enabled(LogLevel::kTrace)) {
      impl->log->trace("GetRecords", {{"shard", shard}, {"records", reply->records.size()}});
    }
    if (reply->millis_behind_latest) {
      behind.set(static_cast<double>(*reply->millis_behind_latest));
      worker->millis_behind = *reply->millis_behind_latest;
    }
    std::optional<std::string> next = std::move(reply->next_shard_iterator);
    std::vector<aws::ChildShard> children = std::move(reply->child_shards);
    const bool had_records = !reply->records.empty();
    RecordBatch batch;
    batch.shard_id = shard;
    batch.millis_behind_latest = reply->millis_behind_latest;
    batch.source = std::move(*reply);
    if (had_records) {
      if (skip_pending) {
        build.skip_sequence = start.checkpoint ? start.checkpoint->sequence_number : "";
        build.skip_through = start.skip_through_sub_sequence;
      }
      // Payload decoding can fail transiently (claim-check store down): retry.
      Result<BatchStats> stats = build_batch(batch, build, impl->options.payload_decoder);
      while (!stats.ok() && !stop.stop_requested()) {
        auto wait = pause_after(impl, backoff, stats.status(), shard, stop);
        const bool go_on = co_await std::move(wait);
        if (!go_on) break;
        stats = build_batch(batch, build, impl->options.payload_decoder);
      }
      if (!stats.ok()) break;
      skip_pending = false;
      build.skip_through.reset();
      dropped.inc(static_cast<double>(stats->dropped_out_of_range));
      corrupt.inc(static_cast<double>(stats->corrupt_aggregates));
      if (stats->dropped_out_of_range && impl->log->enabled(LogLevel::kInfo)) {
        impl->log->info("dropped aggregated user records outside the shard's hash range",
                        {{"shard", shard}, {"count", stats->dropped_out_of_range}});
      }
      if (stats->corrupt_aggregates) {
        impl->log->warn("records with the KPL magic failed to decode; delivered as plain records",
                        {{"shard", shard}, {"count", stats->corrupt_aggregates}});
      }
      last_read = std::string(batch.source.records.back().sequence_number);
      if (!batch.records.empty()) {
        worker->buffered += batch.bytes;
        impl->buffered_bytes += batch.bytes;
        buffered.set(static_cast<double>(impl->buffered_bytes.load()));
        auto handover = send_item(channel, FetchItem(std::move(batch)));
        const bool sent = co_await std::move(handover);
        if (!sent) co_return;  // the delivery loop is gone
      }
    }
    // Real Kinesis returns ChildShards (and no iterator) at a closed shard's
    // end; kinesalite only leaves the iterator out.
    if (!next || (!children.empty() && !had_records)) {
      auto end = send_item(channel, FetchItem(EndOfShard{std::move(children)}));
      co_await std::move(end);
      co_return;
    }
    iterator = std::move(*next);
    if (!had_records) {
      auto wait = async_sleep_for(*impl->clock, impl->options.poll_interval, stop);
      const bool slept = co_await std::move(wait);
      if (!slept) break;
    }
  }
  // Stopped: tell the delivery loop, which may be waiting for a batch. (It
  // cancels the channel when it stops first, ending this send.)
  auto stopped = send_item(channel, FetchItem(Status::cancelled("shard reader stopped")));
  co_await std::move(stopped);
}

// Hands batches to the processor; ends the shard's life cycle.
asio::awaitable<void> deliver_shard(Impl* impl, std::shared_ptr<Worker> worker,
                                    ShardProcessor* processor, EngineCheckpointer* checkpointer,
                                    FetchChannel* channel) {
  const std::string& shard = worker->shard_id;
  Counter& records = impl->metrics->records.with({impl->stream_label, shard});
  Counter& bytes = impl->metrics->bytes.with({impl->stream_label, shard});
  Gauge& buffered = impl->metrics->buffered.with({impl->stream_label});
  auto handlers = impl->handler_pool->executor();
  bool ended = false;
  // shard_ended ran but the end was not checkpointed: the processor's life
  // cycle is over (no shutdown_requested after it); the shard is retried.
  bool end_failed = false;
  while (!worker->stop.stop_requested()) {
    std::tuple<asio::error_code, FetchItem> received = co_await channel->async_receive(kTuple);
    if (std::get<0>(received)) break;  // closed: the worker is stopping
    FetchItem& item = std::get<1>(received);
    if (worker->stop.stop_requested() && std::holds_alternative<RecordBatch>(item)) break;
    if (auto* batch = std::get_if<RecordBatch>(&item)) {
      const std::size_t n = batch->bytes;
      if (worker->stop_reason() == StopReason::kLeaseLost) break;
      checkpointer->delivering(*batch);
      ProcessResult result = co_await run_on(handlers, [processor, checkpointer, batch] {
        return processor->process_records(*batch, *checkpointer);
      });
      worker->buffered -= n;
      impl->buffered_bytes -= n;
      buffered.set(static_cast<double>(impl->buffered_bytes.load()));
      records.inc(static_cast<double>(batch->records.size()));
      bytes.inc(static_cast<double>(n));
      worker->records += static_cast<std::int64_t>(batch->records.size());
      {
        std::lock_guard lock(worker->mu);
        worker->last_sequence = std::string(batch->records.back().sequence_number);
      }
      if (result.disposition == Disposition::kStopConsumer) {
        impl->fail(result.error);
        worker->set_state("failed");
        break;
      }
      if (result.disposition == Disposition::kStopShard) {
        if (result.error.code() == StatusCode::kLeaseLost) {
          worker->request_stop(StopReason::kLeaseLost);
          break;
        }
        impl->log->error(
            "shard stopped by its processor; nothing after the failed record is "
            "checkpointed",
            {{"shard", shard}, {"error", result.error}});
        worker->set_state("stopped");
        worker->policy_stopped = true;
        worker->stop.request_stop();  // ends the reader; no shutdown call: it is stopped
        break;
      }
    } else if (auto* end = std::get_if<EndOfShard>(&item)) {
      checkpointer->at_shard_end();
      Status s = co_await run_on(
          handlers, [processor, checkpointer] { return processor->shard_ended(*checkpointer); });
      if (!checkpointer->shard_end_checkpointed()) {
        if (impl->options.require_shard_end_checkpoint) {
          impl->log->error(
              "shard ended but its processor did not checkpoint SHARD_END; its children "
              "will not start until it does",
              {{"shard", shard}, {"error", s}});
          worker->set_state("failed");
          end_failed = true;
          break;
        }
        if (Status w = checkpointer->checkpoint_shard_end(); !w.ok()) s = w;
      }
      if (!s.ok() && !checkpointer->shard_end_checkpointed()) {
        impl->log->error("could not checkpoint the end of the shard",
                         {{"shard", shard}, {"error", s}});
        worker->set_state("failed");
        end_failed = true;
        break;
      }
      {
        std::lock_guard lock(worker->mu);
        worker->ended = true;
        worker->state = "ended";
      }
      if (!end->children.empty()) {
        // Children from GetRecords: the coordination loop folds them in.
        std::lock_guard lock(impl->mu);
        impl->announced_children.emplace_back(shard, std::move(end->children));
      }
      ended = true;
      break;
    } else {
      const Status& failure = std::get<Status>(item);
      if (failure.code() != StatusCode::kCancelled) {
        impl->fail(failure);
        worker->set_state("failed");
      }
      break;
    }
  }
  // Whatever still sits in the channel is never processed; a reader blocked
  // sending is released (close() alone would leave it waiting).
  channel->cancel();
  channel->close();
  if (!ended && !end_failed) {
    const StopReason reason = worker->stop_reason();
    if (reason == StopReason::kLeaseLost) {
      checkpointer->lost();
      co_await run_on(handlers, [processor] {
        processor->lease_lost();
        return 0;
      });
      worker->set_state("lease-lost");
    } else if (!worker->policy_stopped) {
      // Shut down, shed, or the whole engine is stopping (possibly before
      // this worker was told): the processor checkpoints what it finished.
      Status s = co_await run_on(handlers, [processor, checkpointer] {
        return processor->shutdown_requested(*checkpointer);
      });
      if (!s.ok()) impl->log->warn("shutdown of shard failed", {{"shard", shard}, {"error", s}});
      std::lock_guard lock(worker->mu);
      if (worker->state != "failed") worker->state = "stopped";
    }
  }
}

asio::awaitable<void> run_worker(Impl* impl, std::shared_ptr<Worker> worker, ShardStart start) {
  const std::string shard = worker->shard_id;
  start.stop = worker->stop.get_token();
  start.handler_executor = impl->handler_pool->executor();
  std::unique_ptr<ShardProcessor> processor = impl->factory(start);
  auto handlers = impl->handler_pool->executor();
  Status init =
      co_await run_on(handlers, [p = processor.get(), &start] { return p->initialize(start); });
  if (!init.ok()) {
    impl->fail(init.with_context("initializing the processor of " + shard));
    worker->set_state("failed");
    worker->done = true;
    impl->request_wake();
    co_return;
  }
  worker->set_state("running");
  impl->log->debug("shard processor initialized", {{"shard", shard}});
  auto checkpointer = std::make_unique<EngineCheckpointer>(impl, shard, start.checkpoint);
  auto ex = co_await asio::this_coro::executor;
  FetchChannel channel(ex, static_cast<std::size_t>(std::max(0, impl->options.prefetch_batches)));
  // The reader runs beside the delivery loop on the same strand. When it
  // returns it cancels `reader_done`, which the worker waits on last.
  struct ReaderDone {
    explicit ReaderDone(asio::any_io_executor e)
        : timer(e, asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer;
    bool finished = false;  // touched on the strand only
  };
  auto reader_done = std::make_shared<ReaderDone>(ex);
  asio::co_spawn(ex, read_shard(impl, worker, start, &channel),
                 [reader_done](std::exception_ptr e) {
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& failure) {
                       std::fprintf(stderr, "sluice: shard reader failed: %s\n", failure.what());
                     }
                   }
                   reader_done->finished = true;
                   reader_done->timer.cancel();
                 });
  auto delivery = deliver_shard(impl, worker, processor.get(), checkpointer.get(), &channel);
  co_await std::move(delivery);
  // deliver_shard closed the channel; make sure the reader sees a stop too.
  worker->stop.request_stop();
  if (!reader_done->finished) {
    std::tuple<asio::error_code> waited = co_await reader_done->timer.async_wait(kTuple);
    (void)waited;
  }
  // Batches read ahead and never processed no longer count.
  impl->buffered_bytes -= worker->buffered.exchange(0);
  worker->done = true;
  impl->request_wake();
}

}  // namespace

// --- Scheduler -------------------------------------------------------------------

Scheduler::Scheduler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Scheduler::~Scheduler() = default;

const SchedulerOptions& Scheduler::options() const {
  return impl_->options;
}

Result<std::unique_ptr<Scheduler>> Scheduler::create(SchedulerOptions options,
                                                     std::shared_ptr<aws::KinesisClient> kinesis,
                                                     std::shared_ptr<CheckpointStore> checkpoints,
                                                     std::shared_ptr<LeaseManager> leases,
                                                     ShardProcessorFactory factory) {
  if (options.stream.name.empty() && options.stream.arn.empty()) {
    return Status::invalid_argument("stream_name or stream_arn is required");
  }
  if (options.batch_size < 1 || options.batch_size > 10000) {
    return Status::invalid_argument("batch_size must be 1..10000, got " +
                                    std::to_string(options.batch_size));
  }
  if (options.poll_interval.count() < 0)
    return Status::invalid_argument("poll_interval must not be negative");
  if (options.shard_sync_interval.count() <= 0) {
    return Status::invalid_argument("shard_sync_interval must be positive");
  }
  if (options.lease_acquire_interval.count() <= 0) {
    return Status::invalid_argument("lease_acquire_interval must be positive");
  }
  if (options.prefetch_batches < 0)
    return Status::invalid_argument("prefetch_batches must be >= 0");
  if (options.max_buffered_bytes == 0)
    return Status::invalid_argument("max_buffered_bytes must be > 0");
  if (options.engine_threads == 0) return Status::invalid_argument("engine_threads must be >= 1");
  SLUICE_RETURN_IF_ERROR(options.read_retry.validate().with_context("read_retry"));
  if (!kinesis) return Status::invalid_argument("a Kinesis client is required");
  if (!checkpoints) return Status::invalid_argument("a checkpoint store is required");
  if (!factory) return Status::invalid_argument("a shard processor factory is required");

  auto impl = std::make_unique<Impl>();
  if (options.worker_id.empty()) options.worker_id = default_worker_id();
  if (options.handler_threads == 0) {
    options.handler_threads = std::max<std::size_t>(4, std::thread::hardware_concurrency());
  }
  impl->log = with_fields(options.logger ? options.logger : make_noop_logger(),
                          {{"component", "kinesis.consumer"}, {"worker", options.worker_id}});
  impl->clock = options.clock ? options.clock : &Clock::real();
  impl->stream_label = options.stream.display();
  impl->metrics = std::make_unique<Metrics>(registry_or_global(options.metrics));
  impl->options = std::move(options);
  impl->kinesis = std::move(kinesis);
  impl->store = std::move(checkpoints);
  impl->leases = std::move(leases);
  impl->factory = std::move(factory);
  return std::unique_ptr<Scheduler>(new Scheduler(std::move(impl)));
}

namespace {

// --- coordination ----------------------------------------------------------------
//
// The coordination coroutine only awaits; every decision is made by the
// plain functions below (GCC 12 mishandles some locals of long coroutines,
// and these are easier to read anyway).

std::vector<ShardLineage> lineage_of(const std::vector<aws::Shard>& shards) {
  std::vector<ShardLineage> out;
  out.reserve(shards.size());
  for (const auto& s : shards) {
    ShardLineage l;
    l.shard_id = s.shard_id;
    if (!s.parent_shard_id.empty()) l.parent_ids.push_back(s.parent_shard_id);
    if (!s.adjacent_parent_shard_id.empty()) l.parent_ids.push_back(s.adjacent_parent_shard_id);
    l.starting_hash_key = s.hash_key_range.starting_hash_key;
    l.ending_hash_key = s.hash_key_range.ending_hash_key;
    l.open = s.is_open();
    out.push_back(std::move(l));
  }
  return out;
}

// Folds a ListShards result (and children announced since) into the graph.
void apply_shard_list(Impl* impl, std::vector<aws::Shard> shards, bool first) {
  if (first) {
    for (const auto& s : shards) impl->initial_shards.insert(s.shard_id);
    impl->log->info("consumer started",
                    {{"stream", impl->stream_label}, {"shards", shards.size()}});
  }
  impl->graph.update(std::move(shards));
  std::vector<std::pair<std::string, std::vector<aws::ChildShard>>> announced;
  {
    std::lock_guard lock(impl->mu);
    announced.swap(impl->announced_children);
  }
  for (const auto& entry : announced) impl->graph.add_children(entry.first, entry.second);
}

// Forgets finished workers. Returns the leases to release and whether a
// shard ended (its children may start: list again now).
std::vector<std::string> collect_finished(Impl* impl, bool* shard_ended) {
  std::vector<std::string> release;
  std::lock_guard lock(impl->mu);
  for (auto it = impl->workers.begin(); it != impl->workers.end();) {
    Worker& w = *it->second;
    if (!w.done) {
      ++it;
      continue;
    }
    bool ended;
    {
      std::lock_guard wl(w.mu);
      ended = w.ended;
    }
    if (ended) {
      impl->complete.insert(it->first);
      *shard_ended = true;
    } else if (w.policy_stopped) {
      impl->stopped.insert(it->first);
    }
    if (ended || w.stop_reason() == StopReason::kShed) release.push_back(it->first);
    ShardStatus last;
    last.shard_id = it->first;
    last.records = w.records.load();
    {
      std::lock_guard wl(w.mu);
      last.state = w.state;
      last.last_sequence_number = w.last_sequence;
    }
    impl->finished_status[it->first] = std::move(last);
    it = impl->workers.erase(it);
  }
  return release;
}

// The shards that can be worked on now.
std::vector<std::string> workable_shards(Impl* impl) {
  for (const auto& id : impl->graph.shard_ids()) {
    if (!impl->is_complete(id) && impl->skip_at_latest(id)) impl->complete.insert(id);
  }
  std::vector<std::string> workable =
      impl->graph.workable([impl](const std::string& id) { return impl->is_complete(id); });
  std::erase_if(workable, [impl](const std::string& id) { return impl->stopped.count(id) > 0; });
  return workable;
}

// Applies a lease balancing step: stops lost and shed shards. Returns the
// shards to start; adds to `release` the shed leases of shards not running.
std::vector<std::string> apply_balance(Impl* impl, const LeaseBalance& step,
                                       std::vector<std::string>* release) {
  impl->metrics->leases_held.with({impl->stream_label}).set(static_cast<double>(step.held.size()));
  std::vector<std::string> to_start;
  std::set<std::string> shed(step.to_shed.begin(), step.to_shed.end());
  std::lock_guard lock(impl->mu);
  for (const auto& id : step.lost) {
    if (auto it = impl->workers.find(id); it != impl->workers.end()) {
      it->second->request_stop(StopReason::kLeaseLost);
    }
  }
  for (const auto& id : step.to_shed) {
    if (auto it = impl->workers.find(id); it != impl->workers.end()) {
      it->second->request_stop(StopReason::kShed);
    } else {
      release->push_back(id);
    }
  }
  for (const auto& id : step.held) {
    if (!shed.count(id) && !impl->workers.count(id) && !impl->is_complete(id) &&
        !impl->stopped.count(id)) {
      to_start.push_back(id);
    }
  }
  return to_start;
}

std::vector<std::string> not_running(Impl* impl, const std::vector<std::string>& shards) {
  std::vector<std::string> out;
  std::lock_guard lock(impl->mu);
  for (const auto& id : shards) {
    if (!impl->workers.count(id)) out.push_back(id);
  }
  return out;
}

ShardStart start_of(Impl* impl, const std::string& id, const aws::Shard& shard) {
  ShardStart start;
  start.stream = impl->stream_label;
  start.shard_id = id;
  start.shard = shard;
  auto cp = impl->checkpoints.find(id);
  if (cp != impl->checkpoints.end()) start.checkpoint = cp->second;
  if (start.checkpoint && start.checkpoint->sentinel != StartSentinel::kNone) {
    // A lease created with a start position (the KCL's sentinels).
    switch (start.checkpoint->sentinel) {
      case StartSentinel::kTrimHorizon:
        start.position = {.type = aws::ShardIteratorType::kTrimHorizon};
        break;
      case StartSentinel::kLatest:
        start.position = {.type = aws::ShardIteratorType::kLatest};
        break;
      default:
        start.position = {.type = aws::ShardIteratorType::kAtTimestamp,
                          .timestamp = impl->options.initial_timestamp};
        break;
    }
  } else if (start.checkpoint && !start.checkpoint->sequence_number.empty()) {
    if (start.checkpoint->sub_sequence_number) {
      // Inside an aggregate: read that record again, skipping what was done.
      start.position = {.type = aws::ShardIteratorType::kAtSequenceNumber,
                        .sequence_number = start.checkpoint->sequence_number};
      start.skip_through_sub_sequence = start.checkpoint->sub_sequence_number;
    } else {
      start.position = {.type = aws::ShardIteratorType::kAfterSequenceNumber,
                        .sequence_number = start.checkpoint->sequence_number};
    }
  } else {
    start.position = impl->initial_iterator(id);
  }
  return start;
}

void start_workers(Impl* impl, const std::vector<std::string>& ids, TaskGroup* group) {
  for (const auto& id : ids) {
    const aws::Shard* shard = impl->graph.find(id);
    if (!shard) continue;
    ShardStart start = start_of(impl, id, *shard);
    auto w = std::make_shared<Worker>();
    w->shard_id = id;
    {
      std::lock_guard lock(impl->mu);
      impl->workers[id] = w;
    }
    impl->log->info("starting shard",
                    {{"shard", id},
                     {"from", std::string(aws::shard_iterator_type_name(start.position.type))},
                     {"sequence", start.position.sequence_number}});
    group->spawn(asio::make_strand(impl->engine_pool->executor()),
                 run_worker(impl, w, std::move(start)));
  }
  std::lock_guard lock(impl->mu);
  impl->metrics->shards_running.with({impl->stream_label})
      .set(static_cast<double>(impl->workers.size()));
}

// The checkpoint of each shard about to start, read now: the list read at
// the top of the coordination round can predate the lease step that handed
// a shard to this process, and miss the previous owner's final checkpoint
// (its records would be processed twice). A shard whose checkpoint cannot be
// read is left out; it starts in a later round.
using FreshCheckpoints = std::vector<std::pair<std::string, std::optional<Checkpoint>>>;
FreshCheckpoints read_checkpoints(Impl* impl, const std::vector<std::string>& shards) {
  FreshCheckpoints out;
  for (const auto& id : shards) {
    Result<std::optional<Checkpoint>> c = impl->store->get(impl->stream_label, id);
    if (!c.ok()) {
      impl->log->warn("reading a checkpoint failed; the shard starts later",
                      {{"shard", id}, {"error", c.status()}});
      continue;
    }
    out.emplace_back(id, std::move(*c));
  }
  return out;
}

Status release_all(Impl* impl, const std::vector<std::string>& shards) {
  for (const auto& id : shards) {
    Status r = impl->leases->release(id);
    if (!r.ok()) impl->log->warn("releasing a lease failed", {{"shard", id}, {"error", r}});
  }
  return Status();
}

asio::awaitable<Status> coordinate(Impl* impl, std::stop_token stop, TaskGroup* workers_group) {
  const aws::CallOptions call{.stop = impl->engine_stop.get_token()};
  Backoff list_backoff(
      RetryPolicy::exponential(500ms, 30s, RetryPolicy::kUnlimited, Jitter::kFull));
  Clock::TimePoint next_sync = impl->clock->now();
  bool first_sync = true;
  std::optional<Clock::TimePoint> lease_step_at;  // the lease manager's next_step_at
  auto io = impl->io_pool->executor();

  while (!stop.stop_requested() && !impl->engine_stop.stop_requested()) {
    const std::stop_token wake = impl->take_wake_token();
    // 1. The shard graph.
    if (impl->clock->now() >= next_sync) {
      auto listing = impl->kinesis->list_shards(impl->options.stream, "", call);
      Result<std::vector<aws::Shard>> shards = co_await std::move(listing);
      if (shards.ok()) {
        list_backoff.reset();
        if (impl->leases) {
          std::vector<ShardLineage> lineage = lineage_of(*shards);
          auto telling =
              run_on(io, [impl, lineage] { return impl->leases->shards_listed(lineage); });
          Status told = co_await std::move(telling);
          if (!told.ok())
            impl->log->warn("lease manager rejected the shard list", {{"error", told}});
        }
        apply_shard_list(impl, std::move(*shards), first_sync);
        first_sync = false;
        next_sync = impl->clock->now() + impl->options.shard_sync_interval;
      } else {
        Status failure = shards.status();
        if (failure.code() == StatusCode::kCancelled) break;
        if (!failure.retryable())
          co_return failure.with_context("listing the shards of " + impl->stream_label);
        const auto delay = list_backoff.next().value_or(std::chrono::nanoseconds(30s));
        impl->log->warn("ListShards failed; retrying",
                        {{"stream", impl->stream_label}, {"delay", delay}, {"error", failure}});
        next_sync = impl->clock->now() + delay;
      }
    }
    if (!first_sync) {
      // 2. Checkpoints: which shards are complete, which were read.
      Result<std::map<std::string, Checkpoint>> checkpoints =
          co_await run_on(io, [impl] { return impl->store->list(impl->stream_label); });
      if (checkpoints.ok()) {
        impl->checkpoints = std::move(*checkpoints);
      } else {
        impl->log->warn("reading checkpoints failed",
                        {{"stream", impl->stream_label}, {"error", checkpoints.status()}});
      }
      // 3. Workers that finished; leases of ended (and shed) shards go back.
      bool shard_ended = false;
      std::vector<std::string> release = collect_finished(impl, &shard_ended);
      if (shard_ended) next_sync = impl->clock->now();
      // 4. What to work on, and (with leases) what this worker owns.
      std::vector<std::string> workable = workable_shards(impl);
      std::vector<std::string> to_start;
      if (impl->leases) {
        auto balancing = run_on(io, [impl, workable] { return impl->leases->balance(workable); });
        Result<LeaseBalance> step = co_await std::move(balancing);
        lease_step_at.reset();
        if (step.ok()) {
          lease_step_at = step->next_step_at;
          to_start = apply_balance(impl, *step, &release);
        } else {
          impl->log->warn("lease balancing failed",
                          {{"stream", impl->stream_label}, {"error", step.status()}});
        }
        if (!release.empty()) {
          auto releasing = run_on(io, [impl, release] { return release_all(impl, release); });
          Status released = co_await std::move(releasing);
          (void)released;
        }
        if (!to_start.empty()) {
          auto reading = run_on(io, [impl, to_start] { return read_checkpoints(impl, to_start); });
          FreshCheckpoints fresh = co_await std::move(reading);
          to_start.clear();
          for (auto& [id, checkpoint] : fresh) {
            if (checkpoint) {
              impl->checkpoints[id] = std::move(*checkpoint);
            } else {
              impl->checkpoints.erase(id);
            }
            to_start.push_back(id);
          }
        }
      } else {
        to_start = not_running(impl, workable);
      }
      // 5. Start workers.
      start_workers(impl, to_start, workers_group);
    }
    // 6. Sleep until the next sync, the next balancing, or a wake-up.
    Clock::TimePoint until = next_sync;
    if (impl->leases && !first_sync) {
      const auto now = impl->clock->now();
      until = std::min(until, now + impl->options.lease_acquire_interval);
      // A watched lease expiring sooner: balance then (never in a busy loop).
      if (lease_step_at) until = std::min(until, std::max(*lease_step_at, now + 10ms));
    }
    JointStop either(stop, wake);
    auto wait = async_sleep_until(*impl->clock, until, either.token());
    const bool slept = co_await std::move(wait);
    (void)slept;
  }
  co_return Status();
}

}  // namespace

Status Scheduler::run(std::stop_token stop) {
  Impl* impl = impl_.get();
  impl->engine_pool = std::make_unique<ThreadPool>(impl->options.engine_threads, "sluice-engine");
  impl->handler_pool =
      std::make_unique<ThreadPool>(impl->options.handler_threads, "sluice-handler");
  impl->io_pool = std::make_unique<ThreadPool>(2, "sluice-coord");
  if (impl->leases) {
    Status s = impl->leases->start(impl->stream_label, [impl](const std::string& shard) {
      std::lock_guard lock(impl->mu);
      if (auto it = impl->workers.find(shard); it != impl->workers.end()) {
        impl->log->warn("lease lost; stopping the shard", {{"shard", shard}});
        it->second->request_stop(StopReason::kLeaseLost);
      }
    });
    if (!s.ok()) return s.with_context("starting the lease manager");
  }
  // Stop from the caller also stops the engine.
  std::stop_callback forward(stop, [impl] {
    impl->engine_stop.request_stop();
    impl->request_wake();
  });
  TaskGroup workers(impl->engine_pool->executor());
  Status result;
  try {
    result = run_blocking(impl->engine_pool->executor(),
                          coordinate(impl, impl->engine_stop.get_token(), &workers));
  } catch (const std::exception& e) {
    result = Status::internal(std::string("consumer coordination failed: ") + e.what());
  }
  // Graceful shutdown: every worker finishes its batch, checkpoints, stops.
  {
    std::lock_guard lock(impl->mu);
    for (auto& [id, w] : impl->workers) w->request_stop(StopReason::kShutdown);
  }
  impl->engine_stop.request_stop();
  if (!workers.wait_for(impl->options.shutdown_timeout)) {
    impl->log->error("shards did not stop within the shutdown timeout",
                     {{"timeout", std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      impl->options.shutdown_timeout)},
                      {"still_running", workers.active()}});
    result = result.ok() ? Status::timeout("shutdown timed out with shards still running") : result;
  }
  if (impl->leases) {
    if (Status s = impl->leases->stop(); !s.ok()) {
      impl->log->warn("releasing leases at shutdown failed", {{"error", s}});
    }
  }
  if (Status e = workers.first_error(); !e.ok() && result.ok()) result = e;
  {
    std::lock_guard lock(impl->mu);
    if (!impl->fatal.ok()) result = impl->fatal;
  }
  impl->handler_pool->join();
  impl->engine_pool->stop();
  impl->io_pool->stop();
  impl->log->info("consumer stopped", {{"stream", impl->stream_label}, {"status", result}});
  return result;
}

std::vector<ShardStatus> Scheduler::status() const {
  std::vector<ShardStatus> out;
  std::lock_guard lock(impl_->mu);
  for (const auto& [id, last] : impl_->finished_status) {
    if (!impl_->workers.count(id)) out.push_back(last);
  }
  for (const auto& [id, w] : impl_->workers) {
    ShardStatus s;
    s.shard_id = id;
    s.records = w->records.load();
    const auto behind = w->millis_behind.load();
    if (behind >= 0) s.millis_behind_latest = behind;
    std::lock_guard wl(w->mu);
    s.state = w->state;
    s.last_sequence_number = w->last_sequence;
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(),
            [](const ShardStatus& a, const ShardStatus& b) { return a.shard_id < b.shard_id; });
  return out;
}

}  // namespace sluice::kinesis
