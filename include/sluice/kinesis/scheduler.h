// Scheduler: sluice's Kinesis consumer engine. For one stream it
//   1. keeps the shard graph (ListShards every shard_sync_interval and at
//      every shard end, plus ChildShards where Kinesis sends them);
//   2. decides which shards this process works on: all of them, or those a
//      LeaseManager grants (Redis leases, the KCL lease table);
//   3. per owned shard, once its parents are complete: resolves the start
//      position from the checkpoint, reads with GetRecords (bounded
//      read-ahead), deaggregates KPL records, filters by hash range, and
//      hands batches to the shard's ShardProcessor on the handler pool;
//   4. recovers from expired iterators, throttling and transient errors
//      without losing or repeating records, and shuts down gracefully.
//
// A shard never owns a thread: readers are coroutines on a few engine
// threads; handlers run on a bounded handler pool.
//
// Both consumer APIs build on it: Consumer (consumer.h, record and batch
// handlers) and the KCL-style worker. Use it directly only to plug in a
// ShardProcessor of your own.
#ifndef SLUICE_KINESIS_SCHEDULER_H_
#define SLUICE_KINESIS_SCHEDULER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "sluice/aws/kinesis_client.h"
#include "sluice/core/backoff.h"
#include "sluice/core/checkpoint_store.h"
#include "sluice/core/clock.h"
#include "sluice/core/lease_manager.h"
#include "sluice/core/logger.h"
#include "sluice/core/metrics.h"
#include "sluice/kinesis/shard_processor.h"

namespace sluice::kinesis {

// Where a shard without a checkpoint starts.
enum class InitialPosition {
  kLatest,       // new records only (default)
  kTrimHorizon,  // the oldest record kept
  kAtTimestamp,  // the first record at or after a time
};

struct SchedulerOptions {
  aws::StreamRef stream{};
  InitialPosition initial_position = InitialPosition::kLatest;
  std::chrono::system_clock::time_point initial_timestamp{};  // with kAtTimestamp

  // GetRecords limit, 1..10000.
  int batch_size = 100;
  // Wait after a GetRecords that returned nothing.
  std::chrono::milliseconds poll_interval = std::chrono::seconds(1);
  // How often the shard list is refreshed (also at every shard end).
  std::chrono::milliseconds shard_sync_interval = std::chrono::minutes(1);
  // With a LeaseManager: how often leases are balanced (taken, shed), and
  // how often a worker waiting for a lease tries again.
  std::chrono::milliseconds lease_acquire_interval = std::chrono::seconds(5);

  // Split KPL aggregates into their user records (filtered by the shard's
  // hash range after a reshard, as the KCL does). Off: aggregates are
  // delivered as the raw Kinesis records they are.
  bool deaggregate = true;
  // Optional transformation of each record's data (the producer's payload
  // envelope: decompression, claim-check fetch). Returns nullopt to keep the
  // data as it is. Errors: retryable ones are retried by the reader;
  // others are reported to the processor as that record's failure.
  std::function<Result<std::optional<std::string>>(std::string_view)> payload_decoder{};

  // GetRecords replies read ahead per shard while the previous batch is
  // processed (0: none).
  int prefetch_batches = 1;
  // Bytes of record data buffered (read ahead, not yet processed) across all
  // shards; readers wait when it is reached. Bounds memory under backlog.
  std::size_t max_buffered_bytes = std::size_t{256} << 20;

  // Threads for the readers and coordination (coroutines; few are needed).
  std::size_t engine_threads = 2;
  // Threads running processors (user handlers, which may block).
  // 0 = max(4, hardware threads).
  std::size_t handler_threads = 0;
  // Graceful shutdown: in-flight batches finish, final checkpoints are
  // written and leases released within this time.
  std::chrono::milliseconds shutdown_timeout = std::chrono::seconds(30);
  // Backoff of GetRecords / GetShardIterator after throttling or transient
  // errors (retried while running).
  RetryPolicy read_retry =
      RetryPolicy::exponential(std::chrono::milliseconds(200), std::chrono::seconds(10),
                               RetryPolicy::kUnlimited, Jitter::kFull);
  // A processor whose shard_ended does not checkpoint SHARD_END: false (the
  // record-handler API) lets the engine write it; true (the KCL API) makes it
  // an error, and the shard's children do not start.
  bool require_shard_end_checkpoint = false;

  // Names this process in logs and status (default: host-pid).
  std::string worker_id{};
  std::shared_ptr<Logger> logger{};
  MetricsRegistry* metrics = nullptr;
  const Clock* clock = nullptr;
};

// What a shard is doing, for status displays.
struct ShardStatus {
  std::string shard_id;
  // starting (initializing, finding its start position), running, ended,
  // stopped, failed, lease-lost
  std::string state;
  std::int64_t records = 0;
  std::optional<std::int64_t> millis_behind_latest;
  std::string last_sequence_number;
};

class Scheduler {
 public:
  // `leases` may be null: this process then works on every shard.
  static Result<std::unique_ptr<Scheduler>> create(SchedulerOptions options,
                                                   std::shared_ptr<aws::KinesisClient> kinesis,
                                                   std::shared_ptr<CheckpointStore> checkpoints,
                                                   std::shared_ptr<LeaseManager> leases,
                                                   ShardProcessorFactory factory);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Runs until `stop` is requested (returns OK after a graceful shutdown) or
  // a fatal error (returned, after the same shutdown). Call once.
  Status run(std::stop_token stop);

  // A snapshot of the shards this process knows, by id.
  std::vector<ShardStatus> status() const;

  const SchedulerOptions& options() const;

  struct Impl;

 private:
  explicit Scheduler(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "host-<pid>".
std::string default_worker_id();

}  // namespace sluice::kinesis

#endif  // SLUICE_KINESIS_SCHEDULER_H_
