#include "sluice/kinesis/producer.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <random>
#include <stop_token>
#include <unordered_map>
#include <vector>

#include "kinesis/producer_batcher.h"
#include "kinesis/producer_random.h"
#include "sluice/core/executor.h"
#include "sluice/kinesis/hash_key.h"

namespace sluice::kinesis {

using internal::Batcher;
using internal::BatcherConfig;
using internal::PendingRecord;
using internal::RecordPtr;
using internal::Request;
using Outcome = internal::PendingRecord::Outcome;

namespace {

constexpr std::size_t kMaxRequestRecords = 500;
constexpr std::size_t kMaxRequestBytes = 5u << 20;
constexpr std::size_t kMaxRecordBytesLimit = 10u << 20;

// Set on a thread while it runs put() callbacks: put() must not block there.
thread_local bool t_in_callback = false;

struct Delivery {
  std::uint64_t seq = 0;
  PutCallback callback;
  Result<PutResult> result;
};

Delivery make_delivery(PendingRecord& r, Result<PutResult> result) {
  return Delivery{r.seq, std::move(r.callback), std::move(result)};
}

// Runs callbacks and fulfils promises. Not a coroutine and never inlined
// into one: it touches thread_local state (see DEVELOPING.md).
[[gnu::noinline]] void deliver(std::vector<Delivery>& deliveries, Logger& logger) {
  const bool was = t_in_callback;
  t_in_callback = true;
  for (auto& d : deliveries) {
    if (!d.callback) continue;  // keeps its seq for the flush waiters
    try {
      d.callback(d.result);
    } catch (const std::exception& e) {
      logger.error("put callback threw; ignored", {{"error", e.what()}});
    } catch (...) {
      logger.error("put callback threw a non-standard exception; ignored");
    }
  }
  t_in_callback = was;
}

[[gnu::noinline]] bool in_callback() {
  return t_in_callback;
}

std::string attempts_text(int n) {
  return std::to_string(n) + (n == 1 ? " attempt" : " attempts");
}

// A PutRecords entry's ErrorCode as a Status.
Status entry_error(const aws::PutRecordsResultEntry& e) {
  std::string msg = "PutRecords: " + e.error_code;
  if (!e.error_message.empty()) msg += ": " + e.error_message;
  const std::string& c = e.error_code;
  if (c == "ProvisionedThroughputExceededException" || c == "KMSThrottlingException" ||
      c == "ThrottlingException" || c == "LimitExceededException") {
    return Status::throttled(std::move(msg));
  }
  if (c == "InternalFailure" || c == "InternalFailureException" || c == "ServiceUnavailable" ||
      c == "ServiceUnavailableException" || c == "InternalServerError") {
    return Status::unavailable(std::move(msg));
  }
  if (c.rfind("KMS", 0) == 0 || c == "AccessDeniedException") {
    return Status::permission_denied(std::move(msg));
  }
  if (c == "InvalidArgumentException" || c == "ValidationException") {
    return Status::invalid_argument(std::move(msg));
  }
  if (c == "ResourceNotFoundException") return Status::not_found(std::move(msg));
  // Unknown codes: assume transient, bounded by max_retries.
  return Status::unavailable(std::move(msg));
}

struct ProducerMetrics {
  Counter* attempts = nullptr;
  Counter* success = nullptr;
  Counter* failed_records = nullptr;
  Counter* large_payloads = nullptr;
  Counter* batch_failures = nullptr;
  Histogram* latency = nullptr;
  Gauge* buffered_records = nullptr;
  Gauge* buffered_bytes = nullptr;
  Histogram* records_per_request = nullptr;
  Histogram* user_records_per_request = nullptr;
  Counter* written = nullptr;
  Counter* failed = nullptr;
  Counter* retried = nullptr;
  Counter* misrouted = nullptr;
  Counter* refreshes = nullptr;

  void init(MetricsRegistry& reg, const std::string& stream) {
    const std::vector<std::string> label{"stream_name"};
    auto with = [&](auto& family) -> auto& {
      return family.with({stream});
    };
    attempts = &with(reg.counter("kinesis_write_attempts_total",
                                 "PutRecords requests sent (every retry counts)", label));
    success = &with(reg.counter("kinesis_write_success_total",
                                "PutRecords requests that wrote every record they carried", label));
    failed_records = &with(reg.counter(
        "kinesis_failed_records_total",
        "Kinesis records rejected in PutRecords replies or lost with a failed request", label));
    large_payloads = &with(reg.counter("kinesis_large_payloads_total",
                                       "Payloads stored in the PayloadStore (claim-check)", label));
    batch_failures = &with(reg.counter("kinesis_batch_write_failures_total",
                                       "PutRecords requests that failed as a whole", label));
    latency = &with(
        reg.histogram("kinesis_write_latency_seconds", "Time of one PutRecords request", label));
    buffered_records = &with(reg.gauge("sluice_kinesis_producer_buffered_records",
                                       "Records accepted by put() and not yet reported", label));
    buffered_bytes = &with(reg.gauge("sluice_kinesis_producer_buffered_bytes",
                                     "Bytes of the records accepted and not yet reported", label));
    records_per_request =
        &with(reg.histogram("sluice_kinesis_producer_records_per_request",
                            "Kinesis records (plain or aggregates) per PutRecords request", label,
                            {1, 2, 5, 10, 25, 50, 100, 250, 500}));
    user_records_per_request = &with(
        reg.histogram("sluice_kinesis_producer_user_records_per_request",
                      "User records per PutRecords request", label, exponential_buckets(1, 4, 10)));
    auto& records = reg.counter("sluice_kinesis_producer_records_total",
                                "User records reported, by result", {"stream_name", "result"});
    written = &records.with({stream, "written"});
    failed = &records.with({stream, "failed"});
    retried = &with(reg.counter("sluice_kinesis_producer_retried_records_total",
                                "User records sent again after a failure", label));
    misrouted = &with(reg.counter(
        "sluice_kinesis_producer_misrouted_records_total",
        "Aggregated records that landed on a shard not owning their hash key (resent)", label));
    refreshes = &with(reg.counter("sluice_kinesis_producer_shard_map_refreshes_total",
                                  "Shard map refreshes (ListShards)", label));
  }
};

}  // namespace

Status validate(const ProducerOptions& o) {
  if (o.stream.name.empty() && o.stream.arn.empty()) {
    return Status::invalid_argument("ProducerOptions.stream: name the stream (or give its ARN)");
  }
  if (o.batch_max_records < 1 || o.batch_max_records > kMaxRequestRecords) {
    return Status::invalid_argument("ProducerOptions.batch_max_records: must be 1..500, got " +
                                    std::to_string(o.batch_max_records));
  }
  if (o.batch_max_bytes < 1 || o.batch_max_bytes > kMaxRequestBytes) {
    return Status::invalid_argument("ProducerOptions.batch_max_bytes: must be 1..5242880, got " +
                                    std::to_string(o.batch_max_bytes));
  }
  if (o.max_record_bytes < 1 || o.max_record_bytes > kMaxRecordBytesLimit) {
    return Status::invalid_argument("ProducerOptions.max_record_bytes: must be 1..10485760, got " +
                                    std::to_string(o.max_record_bytes));
  }
  if (o.max_in_flight < 1) {
    return Status::invalid_argument("ProducerOptions.max_in_flight: must be at least 1");
  }
  if (o.linger.count() < 0) {
    return Status::invalid_argument("ProducerOptions.linger: must not be negative");
  }
  if (o.aggregation_max_bytes < 1 || o.aggregation_max_bytes > o.max_record_bytes) {
    return Status::invalid_argument(
        "ProducerOptions.aggregation_max_bytes: must be 1..max_record_bytes (" +
        std::to_string(o.max_record_bytes) + "), got " + std::to_string(o.aggregation_max_bytes));
  }
  if (o.shard_map_refresh_interval.count() <= 0) {
    return Status::invalid_argument("ProducerOptions.shard_map_refresh_interval: must be positive");
  }
  if (o.max_concurrent_uploads < 1) {
    return Status::invalid_argument("ProducerOptions.max_concurrent_uploads: must be at least 1");
  }
  if (o.max_buffered_records < 1 || o.max_buffered_bytes < 1) {
    return Status::invalid_argument(
        "ProducerOptions.max_buffered_records/max_buffered_bytes: must be at least 1");
  }
  if (Status s = o.retry.validate(); !s.ok()) return s.with_context("ProducerOptions.retry");
  if (Status s = o.payload.validate(); !s.ok()) return s.with_context("ProducerOptions.payload");
  if (o.payload.large_payload_threshold > o.max_record_bytes) {
    return Status::invalid_argument(
        "ProducerOptions.payload.large_payload_threshold: must not exceed max_record_bytes (" +
        std::to_string(o.max_record_bytes) + ")");
  }
  if (o.close_timeout.count() < 0) {
    return Status::invalid_argument("ProducerOptions.close_timeout: must not be negative");
  }
  if (!o.executor && o.threads < 1) {
    return Status::invalid_argument("ProducerOptions.threads: must be at least 1");
  }
  return Status();
}

struct Producer::Impl : std::enable_shared_from_this<Producer::Impl> {
  struct FlushWaiter {
    std::uint64_t target = 0;
    std::size_t remaining = 0;
  };

  Impl(ProducerOptions o, std::shared_ptr<aws::KinesisClient> k, PayloadEncoder enc,
       asio::any_io_executor e)
      : options(std::move(o)),
        clock(options.clock ? options.clock : &Clock::real()),
        logger(options.logger ? options.logger : make_noop_logger()),
        kinesis(std::move(k)),
        encoder(std::move(enc)),
        ex(std::move(e)),
        tasks(ex),
        batcher(BatcherConfig{
            .aggregate = options.aggregate,
            .strict_order = options.strict_order,
            .max_records_per_request = options.batch_max_records,
            .max_request_bytes = options.batch_max_bytes,
            .aggregation_max_bytes = options.aggregation_max_bytes,
            .linger = options.linger,
        }),
        rng(internal::random_u64()) {
    metrics.init(registry_or_global(options.metrics), options.stream.display());
  }

  ProducerOptions options;
  const Clock* clock;
  std::shared_ptr<Logger> logger;
  std::shared_ptr<aws::KinesisClient> kinesis;
  PayloadEncoder encoder;
  asio::any_io_executor ex;
  TaskGroup tasks;
  ProducerMetrics metrics;

  mutable std::mutex mu;
  std::condition_variable space_cv;  // put() waiting for room
  std::condition_variable done_cv;   // flush() and close() waiting
  Batcher batcher;
  std::mt19937_64 rng;
  std::uint64_t next_seq = 0;
  std::size_t buffered_records = 0;
  std::size_t buffered_bytes = 0;
  // Accepted records whose callbacks have not run yet (flush() waits for them).
  std::size_t undelivered = 0;
  std::size_t in_flight_requests = 0;
  std::size_t active_uploads = 0;
  std::deque<PendingRecord*> upload_queue;
  std::list<FlushWaiter*> flush_waiters;
  // Shutdown.
  bool closing = false;
  bool abandoned = false;  // the close deadline passed
  Clock::TimePoint close_deadline{};
  bool sender_done = false;
  std::size_t cancelled_at_close = 0;
  Status close_status;
  // Shard map (aggregation only).
  bool map_refreshing = false;
  bool map_stale = false;
  bool first_map_pending = false;
  Clock::TimePoint next_map_refresh{};
  // Waking the sender.
  std::stop_source wake;
  bool wake_pending = false;
  ProducerStats stats;

  // --- with `mu` held ---------------------------------------------------------

  void wake_sender() {
    wake_pending = true;
    wake.request_stop();
  }

  void update_gauges() {
    metrics.buffered_records->set(static_cast<double>(buffered_records));
    metrics.buffered_bytes->set(static_cast<double>(buffered_bytes));
  }

  // A record's result is decided: update the books; the caller delivers.
  void on_reported(const PendingRecord& r, bool written) {
    --buffered_records;
    buffered_bytes -= r.buffered_bytes;
    if (written) {
      ++stats.records_written;
      stats.bytes_written += r.data.size();
      metrics.written->inc();
    } else {
      ++stats.records_failed;
      metrics.failed->inc();
    }
  }

  void after_reports() {
    update_gauges();
    space_cv.notify_all();
    if (closing) done_cv.notify_all();
  }

  std::chrono::nanoseconds retry_delay(int retry) {
    return options.retry.backoff.delay(std::max(retry, 1), rng);
  }

  void start_uploads(const std::shared_ptr<Impl>& self);

  // Runs the callbacks, then counts the records as reported for flush().
  // Without `mu` held.
  void finish(std::vector<Delivery>& deliveries);
};

void Producer::Impl::finish(std::vector<Delivery>& deliveries) {
  if (deliveries.empty()) return;
  deliver(deliveries, *logger);
  std::lock_guard lock(mu);
  undelivered -= deliveries.size();
  for (FlushWaiter* w : flush_waiters) {
    for (const auto& d : deliveries) {
      if (d.seq < w->target && w->remaining > 0 && --w->remaining == 0) done_cv.notify_all();
    }
  }
  deliveries.clear();
}

namespace {

asio::awaitable<void> upload_payload(std::shared_ptr<Producer::Impl> self, PendingRecord* r,
                                     std::string key, std::string object);

}  // namespace

void Producer::Impl::start_uploads(const std::shared_ptr<Impl>& self) {
  while (active_uploads < options.max_concurrent_uploads && !upload_queue.empty()) {
    PendingRecord* r = upload_queue.front();
    upload_queue.pop_front();
    r->uploading = true;
    ++active_uploads;
    tasks.spawn(ex, upload_payload(self, r, r->payload_key, std::move(r->object)));
  }
}

namespace {

using Impl = Producer::Impl;

asio::awaitable<void> upload_payload(std::shared_ptr<Impl> self, PendingRecord* r, std::string key,
                                     std::string object) {
  Impl& s = *self;
  const std::size_t object_size = object.size();
  // Awaitables are built in their own statements: GCC 12 may destroy a
  // temporary of a co_await expression twice (DEVELOPING.md).
  auto put_op = s.options.payload.store->async_put(key, std::move(object));
  Status stored = co_await std::move(put_op);
  std::vector<Delivery> deliveries;
  {
    std::lock_guard lock(s.mu);
    const auto now = s.clock->now();
    r->uploading = false;
    --s.active_uploads;
    s.buffered_bytes -= object_size;
    r->buffered_bytes -= object_size;
    if (stored.ok() && !s.abandoned) {
      ++s.stats.large_payloads;
      s.metrics.large_payloads->inc();
      s.batcher.mark_ready(r, now);
    } else {
      RecordPtr rec = s.batcher.remove(r, now);
      Status why = stored.ok()
                       ? Status::cancelled("producer closed before the record could be sent")
                       : stored;
      if (!stored.ok()) {
        s.logger->warn("claim-check upload failed", {{"key", key}, {"error", stored}});
      } else {
        ++s.cancelled_at_close;
      }
      if (rec) {
        s.on_reported(*rec, false);
        deliveries.push_back(make_delivery(*rec, std::move(why)));
      }
      s.after_reports();
    }
    s.start_uploads(self);
    s.wake_sender();  // a lane may have become ready, or the producer may be done
  }
  s.finish(deliveries);
}

asio::awaitable<void> refresh_shard_map(std::shared_ptr<Impl> self) {
  Impl& s = *self;
  s.logger->debug("refreshing the shard map", {{"stream", s.options.stream.display()}});
  auto list_op = s.kinesis->list_shards(s.options.stream);
  Result<std::vector<aws::Shard>> shards = co_await std::move(list_op);
  s.logger->debug("shard map listed",
                  {{"stream", s.options.stream.display()}, {"ok", shards.ok()}});
  std::lock_guard lock(s.mu);
  const auto now = s.clock->now();
  s.map_refreshing = false;
  s.first_map_pending = false;
  Result<ShardMap> map =
      shards.ok() ? ShardMap::from_shards(*shards) : Result<ShardMap>(shards.status());
  if (map.ok()) {
    s.batcher.set_shard_map(std::make_shared<const ShardMap>(std::move(*map)));
    s.map_stale = false;
    ++s.stats.shard_map_refreshes;
    s.metrics.refreshes->inc();
    s.next_map_refresh = now + s.options.shard_map_refresh_interval;
  } else {
    s.logger->warn("cannot refresh the shard map; aggregating only records with equal hash keys",
                   {{"stream", s.options.stream.display()}, {"error", map.status()}});
    s.next_map_refresh = now + std::min<Clock::Duration>(s.options.shard_map_refresh_interval,
                                                         std::chrono::seconds(5));
  }
  s.wake_sender();
}

// The outcome of one request, decided per user record.
void judge(Impl& s, Request& req, const Result<aws::PutRecordsResult>& result) {
  if (!result.ok()) {
    for (auto& r : req.records) {
      r->last_error = result.status();
      r->outcome = result.status().retryable() ? Outcome::kRetry : Outcome::kFailed;
    }
    return;
  }
  for (std::size_t i = 0; i < req.entries.size(); ++i) {
    const auto& reply = result->records[i];
    const auto& entry = req.entries[i];
    if (reply.ok()) {
      for (std::size_t k = 0; k < entry.records.size(); ++k) {
        PendingRecord* r = entry.records[k];
        r->outcome = Outcome::kWritten;
        r->result.shard_id = reply.shard_id;
        r->result.sequence_number = reply.sequence_number;
        if (entry.aggregated) r->result.sub_sequence_number = k;
      }
    } else {
      Status err = entry_error(reply);
      for (PendingRecord* r : entry.records) {
        r->last_error = err;
        r->outcome = err.retryable() ? Outcome::kRetry : Outcome::kFailed;
      }
    }
  }
  (void)s;
}

// Aggregates that landed on a shard other than predicted: the map is stale
// (a reshard). Refreshes it and marks the user records that the shard does
// not own for resending (the KCL would drop them).
asio::awaitable<void> check_routing(std::shared_ptr<Impl> self, Request* req,
                                    const aws::PutRecordsResult* result) {
  Impl& s = *self;
  bool misrouted = false;
  bool unexpected = false;
  for (std::size_t i = 0; i < req->entries.size(); ++i) {
    const auto& reply = result->records[i];
    const auto& entry = req->entries[i];
    if (!reply.ok()) continue;
    if (entry.predicted_shard >= 0 && req->map &&
        req->map->shard(entry.predicted_shard).shard_id != reply.shard_id) {
      unexpected = true;
      if (entry.aggregated) misrouted = true;
    }
  }
  if (!unexpected) co_return;
  if (!misrouted) {
    std::lock_guard lock(s.mu);
    s.map_stale = true;
    s.wake_sender();
    co_return;
  }
  auto list_op = s.kinesis->list_shards(s.options.stream);
  Result<std::vector<aws::Shard>> shards = co_await std::move(list_op);
  Result<ShardMap> fresh =
      shards.ok() ? ShardMap::from_shards(*shards) : Result<ShardMap>(shards.status());
  std::lock_guard lock(s.mu);
  if (!fresh.ok()) {
    s.map_stale = true;
    s.logger->warn("aggregates landed on unexpected shards and the shard map cannot be refreshed",
                   {{"error", fresh.status()}});
    co_return;
  }
  auto map = std::make_shared<const ShardMap>(std::move(*fresh));
  s.batcher.set_shard_map(map);
  ++s.stats.shard_map_refreshes;
  s.metrics.refreshes->inc();
  s.next_map_refresh = s.clock->now() + s.options.shard_map_refresh_interval;
  std::size_t resent = 0;
  for (std::size_t i = 0; i < req->entries.size(); ++i) {
    const auto& reply = result->records[i];
    const auto& entry = req->entries[i];
    if (!reply.ok() || !entry.aggregated) continue;
    const int actual = map->index_of(reply.shard_id);
    for (PendingRecord* r : entry.records) {
      const bool owned = actual >= 0 && map->shard(actual).range.contains(r->hash_key);
      // A shard that is closed by now is not in the map: its range is the
      // union of its children's; trust the record's hash key only if the
      // open owner is the shard that accepted it.
      if (!owned) {
        r->outcome = Outcome::kRetry;
        r->last_error = Status::unavailable("aggregate landed on " + reply.shard_id +
                                            ", which does not own the record's hash key");
        r->result = PutResult{};
        ++resent;
      }
    }
  }
  s.stats.misrouted_records += resent;
  s.metrics.misrouted->inc(static_cast<double>(resent));
  if (resent > 0) {
    s.logger->warn("aggregated records landed on a shard that does not own them; resending",
                   {{"records", resent}});
  }
}

asio::awaitable<void> send_request(std::shared_ptr<Impl> self, std::unique_ptr<Request> req) {
  Impl& s = *self;
  internal::finish_entries(*req);
  std::vector<aws::PutRecordsEntry> entries;
  entries.reserve(req->entries.size());
  std::size_t user_records = 0;
  for (const auto& e : req->entries) {
    entries.push_back({e.data(), e.partition_key(), e.explicit_hash_key});
    user_records += e.records.size();
  }
  for (auto& r : req->records) ++r->attempts;
  s.metrics.attempts->inc();
  if (s.logger->enabled(LogLevel::kDebug)) {
    s.logger->debug("PutRecords", {{"stream", s.options.stream.display()},
                                   {"records", entries.size()},
                                   {"user_records", user_records},
                                   {"bytes", req->bytes}});
  }
  s.metrics.records_per_request->observe(static_cast<double>(entries.size()));
  s.metrics.user_records_per_request->observe(static_cast<double>(user_records));

  aws::CallOptions call;
  call.max_attempts = 1;  // the producer retries, entry by entry
  const auto start = s.clock->now();
  auto put_op = s.kinesis->put_records(s.options.stream, entries, call);
  Result<aws::PutRecordsResult> result = co_await std::move(put_op);
  s.metrics.latency->observe(std::chrono::duration<double>(s.clock->now() - start).count());

  if (s.logger->enabled(LogLevel::kDebug)) {
    s.logger->debug("PutRecords done", {{"stream", s.options.stream.display()},
                                        {"ok", result.ok()},
                                        {"failed", result.ok() ? result->failed_record_count
                                                               : static_cast<int>(entries.size())},
                                        {"latency", s.clock->now() - start}});
  }
  judge(s, *req, result);
  if (result.ok() && s.options.aggregate) {
    auto check_op = check_routing(self, req.get(), &*result);
    co_await std::move(check_op);
  }

  std::vector<Delivery> deliveries;
  {
    std::lock_guard lock(s.mu);
    const auto now = s.clock->now();
    ++s.stats.requests;
    if (!result.ok()) {
      ++s.stats.requests_failed;
      s.metrics.batch_failures->inc();
      s.metrics.failed_records->inc(static_cast<double>(entries.size()));
      s.logger->warn("PutRecords failed", {{"stream", s.options.stream.display()},
                                           {"records", entries.size()},
                                           {"error", result.status()}});
    } else {
      if (result->failed_record_count == 0) s.metrics.success->inc();
      s.metrics.failed_records->inc(static_cast<double>(result->failed_record_count));
      for (std::size_t i = 0; i < req->entries.size(); ++i) {
        if (result->records[i].ok()) {
          ++s.stats.kinesis_records_written;
          if (req->entries[i].aggregated) ++s.stats.aggregates_written;
        }
      }
    }
    std::vector<RecordPtr> retry;
    int max_retry = 0;
    for (auto& r : req->records) {
      if (r->outcome == Outcome::kRetry) {
        const bool allowed =
            !s.abandoned && (r->max_retries < 0 || r->attempts - 1 < r->max_retries);
        if (allowed) {
          max_retry = std::max(max_retry, r->attempts);
          ++s.stats.retries;
          s.metrics.retried->inc();
          r->outcome = Outcome::kPending;
          retry.push_back(std::move(r));
          continue;
        }
        r->outcome = Outcome::kFailed;
        std::string why = s.abandoned ? "; not retried: the producer's close deadline passed"
                                      : "; gave up after " + attempts_text(r->attempts);
        r->last_error = Status(r->last_error.code(), std::string(r->last_error.message()) + why,
                               r->last_error.retryable());
      } else if (r->outcome == Outcome::kFailed) {
        r->last_error = Status(r->last_error.code(),
                               std::string(r->last_error.message()) + " (not retryable; after " +
                                   attempts_text(r->attempts) + ")",
                               false);
      }
      if (r->outcome == Outcome::kWritten) {
        r->result.attempts = r->attempts;
        r->result.payload_key = r->payload_key;
        s.on_reported(*r, true);
        deliveries.push_back(make_delivery(*r, std::move(r->result)));
      } else {
        s.on_reported(*r, false);
        deliveries.push_back(make_delivery(*r, r->last_error));
      }
    }
    const auto retry_at = now + s.retry_delay(max_retry);
    s.batcher.complete(*req, std::move(retry), retry_at, now);
    --s.in_flight_requests;
    s.after_reports();
    s.wake_sender();
  }
  s.finish(deliveries);
}

asio::awaitable<void> sender_loop(std::shared_ptr<Impl> self) {
  Impl& s = *self;
  while (true) {
    std::vector<Delivery> cancelled;
    std::stop_token token;
    Clock::TimePoint deadline;
    bool done = false;
    {
      std::lock_guard lock(s.mu);
      const auto now = s.clock->now();
      s.wake_pending = false;
      if (s.closing && !s.abandoned && now >= s.close_deadline) {
        // Out of time: report what was never sent; in-flight requests and
        // uploads report themselves when they end.
        s.abandoned = true;
        s.upload_queue.clear();
        std::vector<RecordPtr> unsent = s.batcher.drain();
        s.cancelled_at_close += unsent.size();
        for (auto& r : unsent) {
          s.on_reported(*r, false);
          Status why = r->attempts == 0
                           ? Status::cancelled("producer closed before the record could be sent")
                           : Status::cancelled(
                                 "producer closed before the record could be sent again (last "
                                 "error: " +
                                 r->last_error.to_string() + ")");
          cancelled.push_back(make_delivery(*r, std::move(why)));
        }
        s.after_reports();
      }
      // Scheduled refreshes stop at close (a stale map still refreshes).
      if (s.options.aggregate && !s.abandoned && !s.map_refreshing &&
          (s.map_stale || s.first_map_pending || (now >= s.next_map_refresh && !s.closing))) {
        s.map_refreshing = true;
        s.tasks.spawn(s.ex, refresh_shard_map(self));
      }
      if (!s.abandoned) {
        s.batcher.release_due(now);
        // Flushing sends what is ready without waiting for linger; while a
        // request is in flight, partial batches wait for it instead (records
        // readied one by one, after their uploads, then share requests).
        const bool flush = s.closing || !s.flush_waiters.empty();
        while (!s.first_map_pending && s.in_flight_requests < s.options.max_in_flight &&
               s.batcher.should_send(now, flush && s.in_flight_requests == 0)) {
          std::unique_ptr<Request> req = s.batcher.build(now);
          if (!req) break;
          ++s.in_flight_requests;
          s.tasks.spawn(s.ex, send_request(self, std::move(req)));
        }
      }
      if (s.closing && s.buffered_records == 0 && s.in_flight_requests == 0 &&
          s.active_uploads == 0 && !s.map_refreshing) {
        s.sender_done = true;
        done = true;
        s.done_cv.notify_all();
      } else {
        // While no request can start, a completion or the map wakes us: do
        // not spin on lingers that are already due.
        const bool can_send =
            !s.abandoned && !s.first_map_pending && s.in_flight_requests < s.options.max_in_flight;
        deadline = can_send ? s.batcher.next_deadline() : Clock::TimePoint::max();
        if (s.options.aggregate && !s.map_refreshing && !s.abandoned && !s.closing) {
          deadline = std::min(deadline, s.next_map_refresh);
        }
        if (s.closing && !s.abandoned) deadline = std::min(deadline, s.close_deadline);
        s.wake = std::stop_source();
        token = s.wake.get_token();
      }
    }
    s.finish(cancelled);
    if (done) co_return;
    if (s.logger->enabled(LogLevel::kTrace)) {
      std::lock_guard lock(s.mu);
      s.logger->trace("producer sleeps",
                      {{"ready", s.batcher.ready_records()},
                       {"queued", s.batcher.queued_records()},
                       {"in_flight", s.in_flight_requests},
                       {"first_map_pending", s.first_map_pending},
                       {"map_refreshing", s.map_refreshing},
                       {"until", deadline == Clock::TimePoint::max() ? std::chrono::nanoseconds(-1)
                                                                     : deadline - s.clock->now()}});
    }
    auto sleep_op = async_sleep_until(*s.clock, deadline, std::move(token));
    co_await std::move(sleep_op);
  }
}

}  // namespace

Result<std::unique_ptr<Producer>> Producer::create(ProducerOptions options) {
  SLUICE_RETURN_IF_ERROR(validate(options));
  SLUICE_ASSIGN_OR_RETURN(PayloadEncoder encoder, PayloadEncoder::create(options.payload));
  std::shared_ptr<aws::KinesisClient> kinesis = options.kinesis;
  if (!kinesis) {
    SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<aws::KinesisClient> made,
                            aws::KinesisClient::create(options.client));
    kinesis = std::move(made);
  }
  std::unique_ptr<ThreadPool> pool;
  asio::any_io_executor ex = options.executor;
  if (!ex) {
    pool = std::make_unique<ThreadPool>(options.threads, "sluice-kprod");
    ex = pool->executor();
  }
  auto impl =
      std::make_shared<Impl>(std::move(options), std::move(kinesis), std::move(encoder), ex);
  {
    std::lock_guard lock(impl->mu);
    impl->first_map_pending = impl->options.aggregate;
    impl->next_map_refresh = impl->clock->now();
  }
  impl->tasks.spawn(impl->ex, sender_loop(impl));
  return std::unique_ptr<Producer>(new Producer(std::move(impl), std::move(pool)));
}

Producer::Producer(std::shared_ptr<Impl> impl, std::unique_ptr<ThreadPool> pool)
    : impl_(std::move(impl)), pool_(std::move(pool)) {}

Producer::~Producer() {
  (void)close(impl_->options.close_timeout);
  if (pool_ && !impl_->options.kinesis) {
    // The client we made posts its completions to our pool from its I/O
    // thread; join that thread before the pool goes, so that no post() is
    // still running when the io_context is destroyed.
    std::shared_ptr<aws::KinesisClient> client;
    {
      std::lock_guard lock(impl_->mu);
      client = std::move(impl_->kinesis);
    }
    client.reset();
  }
  pool_.reset();
}

const ProducerOptions& Producer::options() const {
  return impl_->options;
}

std::shared_ptr<const ShardMap> Producer::shard_map() const {
  std::lock_guard lock(impl_->mu);
  return impl_->batcher.shard_map();
}

ProducerStats Producer::stats() const {
  std::lock_guard lock(impl_->mu);
  ProducerStats out = impl_->stats;
  out.buffered_records = impl_->buffered_records;
  out.buffered_bytes = impl_->buffered_bytes;
  return out;
}

namespace {

struct Admission {
  std::string partition_key;
  std::string explicit_hash_key;
  HashKey hash_key = 0;
  PreparedPayload payload;
};

Result<Admission> admit(const Impl& s, UserRecord record) {
  Admission a;
  a.partition_key = std::move(record.partition_key);
  if (a.partition_key.empty()) {
    if (!s.options.partition_keys) {
      return Status::invalid_argument(
          "record has an empty partition key (give one, or set ProducerOptions.partition_keys)");
    }
    try {
      a.partition_key = s.options.partition_keys(record.data);
    } catch (const std::exception& e) {
      return Status::invalid_argument(std::string("partition key function threw: ") + e.what());
    } catch (...) {
      return Status::invalid_argument("partition key function threw a non-standard exception");
    }
  }
  SLUICE_RETURN_IF_ERROR(validate_partition_key(a.partition_key));
  a.explicit_hash_key = std::move(record.explicit_hash_key);
  if (!a.explicit_hash_key.empty()) {
    auto h = parse_hash_key(a.explicit_hash_key);
    if (!h.ok()) {
      return Status::invalid_argument("explicit hash key \"" + a.explicit_hash_key +
                                      "\" is not a decimal integer in 0..2^128-1");
    }
    a.hash_key = *h;
  } else {
    a.hash_key = partition_key_hash(a.partition_key);
  }
  const std::size_t payload_size = record.data.size();
  auto prepared = s.encoder.prepare(std::move(record.data));
  if (!prepared.ok()) return prepared.status().with_context("payload pipeline");
  a.payload = std::move(*prepared);
  const std::size_t size = a.payload.data.size() + a.partition_key.size();
  if (size > s.options.max_record_bytes) {
    std::string msg = "record of " + std::to_string(size) +
                      " bytes (data after the payload pipeline + partition key) exceeds "
                      "max_record_bytes (" +
                      std::to_string(s.options.max_record_bytes) + ")";
    if (s.options.payload.large_payload_threshold == 0) {
      msg +=
          "; enable claim-check (ProducerOptions.payload.large_payload_threshold and store) "
          "to send larger payloads";
    }
    (void)payload_size;
    return Status::invalid_argument(std::move(msg));
  }
  return a;
}

}  // namespace

Status Producer::put(UserRecord record, PutCallback callback) {
  return put(std::move(record), std::move(callback), PutOptions{});
}

std::future<Result<PutResult>> Producer::put(UserRecord record) {
  std::promise<Result<PutResult>> promise;
  std::future<Result<PutResult>> future = promise.get_future();
  auto holder = std::make_shared<std::promise<Result<PutResult>>>(std::move(promise));
  Status s = put(std::move(record), [holder](const Result<PutResult>& r) { holder->set_value(r); });
  if (!s.ok()) holder->set_value(s);
  return future;
}

Status Producer::put(UserRecord record, PutCallback callback, const PutOptions& options) {
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.mu);
    if (s.closing) return Status::failed_precondition("producer is closed");
  }
  const std::size_t payload_size = record.data.size();
  SLUICE_ASSIGN_OR_RETURN(Admission a, admit(s, std::move(record)));

  auto r = std::make_unique<PendingRecord>();
  r->partition_key = std::move(a.partition_key);
  r->explicit_hash_key = std::move(a.explicit_hash_key);
  r->hash_key = a.hash_key;
  r->data = std::move(a.payload.data);
  r->size = r->data.size() + r->partition_key.size();
  r->object = std::move(a.payload.object);
  r->payload_key = std::move(a.payload.claim_key);
  r->ready = r->payload_key.empty();
  r->buffered_bytes = r->size + r->object.size();
  r->max_retries = options.max_retries.value_or(s.options.retry.max_retries);
  r->callback = std::move(callback);

  std::unique_lock lock(s.mu);
  while (!s.closing && s.buffered_records > 0 &&
         (s.buffered_records + 1 > s.options.max_buffered_records ||
          s.buffered_bytes + r->buffered_bytes > s.options.max_buffered_bytes)) {
    if (s.options.backpressure == Backpressure::kFailFast || in_callback()) {
      return Status::resource_exhausted(
          "producer buffer is full (" + std::to_string(s.buffered_records) + " records, " +
          std::to_string(s.buffered_bytes) + " bytes buffered; limits max_buffered_records " +
          std::to_string(s.options.max_buffered_records) + ", max_buffered_bytes " +
          std::to_string(s.options.max_buffered_bytes) + ")");
    }
    s.space_cv.wait(lock);
  }
  if (s.closing) return Status::failed_precondition("producer is closed");
  const auto now = s.clock->now();
  r->seq = s.next_seq++;
  r->enqueued = now;
  ++s.buffered_records;
  ++s.undelivered;
  s.buffered_bytes += r->buffered_bytes;
  ++s.stats.records_put;
  s.stats.payload_bytes_put += payload_size;
  s.update_gauges();
  const bool claim = !r->ready;
  bool wake = false;
  PendingRecord* queued = s.batcher.add(std::move(r), now, wake);
  if (claim) {
    s.upload_queue.push_back(queued);
    s.start_uploads(impl_);
  }
  if (wake) s.wake_sender();
  return Status();
}

void Producer::flush() {
  Impl& s = *impl_;
  std::unique_lock lock(s.mu);
  if (s.undelivered == 0) return;
  Impl::FlushWaiter w{s.next_seq, s.undelivered};
  auto it = s.flush_waiters.insert(s.flush_waiters.end(), &w);
  s.wake_sender();
  s.done_cv.wait(lock, [&] { return w.remaining == 0; });
  s.flush_waiters.erase(it);
}

Status Producer::close(std::chrono::nanoseconds timeout) {
  Impl& s = *impl_;
  {
    std::unique_lock lock(s.mu);
    if (!s.closing) {
      s.closing = true;
      s.close_deadline = s.clock->now() + std::chrono::duration_cast<Clock::Duration>(timeout);
      s.wake_sender();
      s.space_cv.notify_all();
    }
    s.done_cv.wait(lock, [&] { return s.sender_done; });
  }
  s.tasks.wait();
  std::lock_guard lock(s.mu);
  if (s.cancelled_at_close > 0 && s.close_status.ok()) {
    s.close_status = Status::timeout(std::to_string(s.cancelled_at_close) +
                                     " records were not sent before the close deadline (reported "
                                     "Cancelled to their callbacks)");
  }
  return s.close_status;
}

}  // namespace sluice::kinesis
