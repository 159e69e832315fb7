// Producer: an asynchronous, batching Kinesis writer. Records are buffered
// and sent with PutRecords within every Kinesis limit, optionally packed
// into KPL aggregates, compressed and claim-checked (payload_codec.h); failed
// entries are retried with backoff; each record's future or callback reports
// where it landed or why it could not be written.
//
//   auto producer = Producer::create({.stream = {.name = "orders"},
//                                     .client = {.region = "us-east-1"}});
//   if (!producer.ok()) return producer.status();
//   auto done = (*producer)->put({.partition_key = "customer-42", .data = payload});
//   ...
//   Result<PutResult> r = done.get();          // shard id + sequence number, or the error
//   (*producer)->close();                      // sends (or reports) everything buffered
//
// Ordering: records of one partition key are sent in put() order, and a
// retried record is resent before any later record of its key goes out. The
// one case Kinesis itself can reorder is a PutRecords reply that rejects an
// earlier record of a key and accepts a later one in the same request; with
// aggregation each key's records travel in one aggregate per request, so it
// cannot happen, and without aggregation `strict_order` prevents it at the
// cost of one record per key per request.
//
// Threading: put() is thread-safe and cheap (the payload pipeline's
// compression runs on the caller's thread; claim-check uploads and sends run
// on the producer's executor). Callbacks run on the executor's threads: keep
// them short. A callback may call put(); if the buffer is full such a put()
// fails with ResourceExhausted instead of blocking (blocking there could
// deadlock the producer). Do not call flush() or close() from a callback or
// from a thread of the producer's executor.
#ifndef SLUICE_KINESIS_PRODUCER_H_
#define SLUICE_KINESIS_PRODUCER_H_

#include <asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "sluice/aws/kinesis_client.h"
#include "sluice/core/backoff.h"
#include "sluice/core/clock.h"
#include "sluice/core/logger.h"
#include "sluice/core/metrics.h"
#include "sluice/core/result.h"
#include "sluice/core/status.h"
#include "sluice/kinesis/partition_keys.h"
#include "sluice/kinesis/payload_codec.h"
#include "sluice/kinesis/shard_map.h"

namespace sluice {
class ThreadPool;
}  // namespace sluice

namespace sluice::kinesis {

// One record to write.
struct UserRecord {
  // 1..256 Unicode characters. Empty: ProducerOptions::partition_keys picks
  // one (InvalidArgument when that is not set).
  std::string partition_key{};
  // Decimal 0..2^128-1 to choose the shard directly; empty: MD5 of the
  // partition key decides.
  std::string explicit_hash_key{};
  // The payload (before the payload pipeline).
  std::string data{};
};

// Where a record landed.
struct PutResult {
  std::string shard_id;
  std::string sequence_number;
  // Set when the record travelled inside a KPL aggregate: its index there
  // (the KCL's sub-sequence number).
  std::optional<std::uint64_t> sub_sequence_number;
  // PutRecords requests that carried the record (1 + retries).
  int attempts = 0;
  // The claim-check key when the payload went to the PayloadStore.
  std::string payload_key;
};

// Called exactly once per accepted record with its PutResult or the error:
// Throttled/Unavailable/Timeout after the last retry, InvalidArgument or
// PermissionDenied when Kinesis refused it for good, Cancelled when the
// producer was closed before it could be sent.
using PutCallback = std::function<void(const Result<PutResult>&)>;

// What put() does when the buffer is full.
enum class Backpressure {
  kBlock,     // wait for room (default)
  kFailFast,  // return ResourceExhausted at once
};

// Per-record overrides.
struct PutOptions {
  // Retries for this record; nullopt: ProducerOptions::retry.max_retries.
  // 0 sends once (what KinesisWriterRetryer uses); -1 retries forever.
  std::optional<int> max_retries{};
};

struct ProducerOptions {
  // ---- Where -------------------------------------------------------------

  // The stream. Required (by name; an ARN works against real Kinesis).
  aws::StreamRef stream{};
  // A client to share; null: one is made from `client`.
  std::shared_ptr<aws::KinesisClient> kinesis{};
  aws::ClientOptions client{};

  // ---- Batching ------------------------------------------------------------

  // How long a record may wait for a fuller request. 0 sends at once
  // (still batching whatever is waiting). Default 100 ms (the KPL's).
  std::chrono::milliseconds linger{100};
  // Kinesis records per PutRecords request, 1..500. Default 500.
  std::size_t batch_max_records = 500;
  // Bytes (data + partition keys) per request, up to 5 MiB (the default).
  std::size_t batch_max_bytes = 5u << 20;
  // Largest record (data after the payload pipeline + partition key); larger
  // ones are refused by put(). Default 1 MiB, Kinesis' default limit; raise
  // it (up to 10 MiB) only for a stream configured for larger records.
  std::size_t max_record_bytes = 1u << 20;
  // PutRecords requests in flight at once. Default 4.
  std::size_t max_in_flight = 4;
  // Without aggregation: at most one record per partition key per request,
  // so a partial failure can never reorder a key's records. Default false.
  bool strict_order = false;

  // ---- KPL aggregation ------------------------------------------------------

  // Pack user records bound for the same shard into KPL aggregates. Needs
  // ListShards permission (the shard map); without it, only records with
  // the same hash key are packed together. Default false.
  bool aggregate = false;
  // Largest aggregate (bytes with its partition key), <= max_record_bytes.
  // Default 1 MiB.
  std::size_t aggregation_max_bytes = 1u << 20;
  // How often the shard map is refreshed (it is also refreshed when a
  // record lands on an unexpected shard). Default 60 s.
  std::chrono::milliseconds shard_map_refresh_interval{60'000};

  // ---- Payload pipeline -------------------------------------------------------

  // Compression and claim-check (payload_codec.h). Default: off, records
  // are sent as given.
  PayloadOptions payload{};
  // Claim-check uploads running at once. Default 8.
  std::size_t max_concurrent_uploads = 8;

  // ---- Partition keys ------------------------------------------------------------

  // Picks the key of records put without one (partition_keys.h). Default
  // null: such records are refused.
  PartitionKeyFn partition_keys{};

  // ---- Buffer -------------------------------------------------------------------

  // Records accepted and not yet reported (buffered or in flight), at most.
  // Default 100,000.
  std::size_t max_buffered_records = 100'000;
  // Their bytes (data + partition keys + claim-check objects not yet
  // stored), at most. A record larger than this is still accepted when the
  // buffer is empty. Default 64 MiB.
  std::size_t max_buffered_bytes = 64u << 20;
  Backpressure backpressure = Backpressure::kBlock;

  // ---- Retries ---------------------------------------------------------------------

  // Failed entries (throttling, internal failures, transport errors) are
  // retried with this policy; validation and permission errors are not.
  // Default: 3 retries, exponential from 100 ms to 5 s with equal jitter.
  RetryPolicy retry = RetryPolicy::exponential(std::chrono::milliseconds(100),
                                               std::chrono::seconds(5), 3, Jitter::kEqual);

  // ---- Shutdown ---------------------------------------------------------------------

  // How long the destructor's close() may take to send what is buffered.
  // Default 30 s.
  std::chrono::milliseconds close_timeout{30'000};

  // ---- Runtime ----------------------------------------------------------------------

  // Where the producer's coroutines run. Default: a pool of `threads` of
  // its own. A given executor must keep running until close() returns.
  // HTTP clients post their completions to this executor from their I/O
  // threads: the producer's own pool outlives the client it made from
  // `client`, but not a shared `kinesis` client or a network PayloadStore
  // (S3), which may still be returning from such a post when the producer's
  // destructor ends; with those, give an executor that outlives them.
  asio::any_io_executor executor{};
  // Threads of the producer's own pool. Default 2.
  std::size_t threads = 2;
  // Null: MetricsRegistry::global().
  MetricsRegistry* metrics = nullptr;
  // Null: no logging.
  std::shared_ptr<Logger> logger{};
  // Null: Clock::real(). Linger, backoff and the close deadline use it.
  const Clock* clock = nullptr;
};

// OK, or InvalidArgument naming the first bad field.
Status validate(const ProducerOptions& options);

// Counters since the producer started (stats()).
struct ProducerStats {
  std::uint64_t records_put = 0;              // accepted by put()
  std::uint64_t records_written = 0;          // reported written
  std::uint64_t records_failed = 0;           // reported failed (any reason)
  std::uint64_t bytes_written = 0;            // record data bytes (after the pipeline) written
  std::uint64_t payload_bytes_put = 0;        // payload bytes accepted (before the pipeline)
  std::uint64_t requests = 0;                 // PutRecords requests sent
  std::uint64_t requests_failed = 0;          // requests that failed as a whole
  std::uint64_t kinesis_records_written = 0;  // entries written (an aggregate counts once)
  std::uint64_t aggregates_written = 0;
  std::uint64_t retries = 0;         // user records sent again
  std::uint64_t large_payloads = 0;  // claim-checked records
  std::uint64_t shard_map_refreshes = 0;
  std::uint64_t misrouted_records = 0;  // aggregated records resent after a reshard
  std::uint64_t buffered_records = 0;   // now
  std::uint64_t buffered_bytes = 0;     // now
};

class Producer {
 public:
  // Validates the options and starts the producer (with aggregation, it
  // fetches the shard map before its first request).
  static Result<std::unique_ptr<Producer>> create(ProducerOptions options);
  // close(options.close_timeout) unless closed already.
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Queues a record. Returns an error, and never calls `callback`, when the
  // record is refused up front: InvalidArgument (empty or malformed
  // partition key, malformed explicit hash key, a record over
  // max_record_bytes, a failing pipeline step), ResourceExhausted (buffer
  // full with Backpressure::kFailFast), FailedPrecondition (closed).
  // Otherwise `callback` is called exactly once, later, on an executor thread.
  Status put(UserRecord record, PutCallback callback);
  Status put(UserRecord record, PutCallback callback, const PutOptions& options);
  // The same with a future; refusals come back as a ready future.
  std::future<Result<PutResult>> put(UserRecord record);

  // Sends everything buffered now, ignoring linger, and blocks until every
  // record put before the call is reported (written or failed).
  void flush();

  // Stops accepting records, sends what is buffered (with retries), and
  // returns once every record is reported. Records still unsent when
  // `timeout` (on the producer's clock) passes are reported Cancelled, and
  // close() returns Timeout saying how many; requests already in flight
  // are waited for (bounded by the HTTP request timeout) and reported as
  // they complete. Idempotent: later calls return the first result.
  Status close(std::chrono::nanoseconds timeout);
  Status close() { return close(options().close_timeout); }

  ProducerStats stats() const;
  const ProducerOptions& options() const;
  // The shard map aggregation predicts with (null until fetched, and
  // without aggregation).
  std::shared_ptr<const ShardMap> shard_map() const;

  struct Impl;

 private:
  Producer(std::shared_ptr<Impl> impl, std::unique_ptr<ThreadPool> pool);
  std::shared_ptr<Impl> impl_;
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace sluice::kinesis

#endif  // SLUICE_KINESIS_PRODUCER_H_
