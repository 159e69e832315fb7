// Consumer: reads a Kinesis stream and calls your handler for every record,
// with checkpoints, retries, optional shard leases across processes, and
// graceful shutdown. The shape of kinesis-consumer-go (seed 000), on
// sluice's engine (scheduler.h).
//
//   auto kinesis = sluice::aws::KinesisClient::create({});
//   auto store = std::make_shared<sluice::kinesis::SqliteCheckpointStore>(...);
//   sluice::kinesis::ConsumerOptions options;
//   options.stream_name = "orders";
//   options.record_handler = [](const sluice::kinesis::Record& r) -> sluice::Status {
//     handle(r.data);
//     return sluice::Status();   // an error (or an exception) is retried
//   };
//   auto consumer = sluice::kinesis::Consumer::create(options, std::move(*kinesis), store);
//   std::stop_source stop;
//   sluice::ShutdownSignals signals(stop);
//   sluice::Status s = (*consumer)->start(stop.get_token());  // until Ctrl-C
//
// Delivery is at least once: a record is checkpointed only after it was
// handled, so a crash replays at most `checkpoint_every` records per shard.
#ifndef SLUICE_KINESIS_CONSUMER_H_
#define SLUICE_KINESIS_CONSUMER_H_

#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <stop_token>
#include <string>
#include <vector>

#include "sluice/aws/kinesis_client.h"
#include "sluice/core/checkpoint_store.h"
#include "sluice/core/lease_manager.h"
#include "sluice/core/logger.h"
#include "sluice/core/metrics.h"
#include "sluice/kinesis/record.h"
#include "sluice/kinesis/scheduler.h"

namespace sluice::kinesis {

// Called once per record, in order within a shard (unless shard_concurrency
// > 1). Return an error, or throw, to have the record retried.
using RecordHandler = std::function<Status(const Record& record)>;
// Called with every user record of one GetRecords reply.
using BatchHandler = std::function<Status(std::span<const Record> records)>;
// Gets a record whose handling failed after every retry, with the last error
// (FailurePolicy::kDeadLetter). Whatever it returns, the consumer goes on.
using DeadLetterHandler = std::function<void(const Record& record, const Status& error)>;

enum class StartPosition { kLatest, kTrimHorizon, kAtTimestamp };

// What happens to a record whose handler failed `retry.max_attempts` times.
enum class FailurePolicy {
  // Stop reading the shard and checkpoint nothing after the record: nothing
  // is lost, the shard waits for an operator (or a restart). The default.
  kStopShard,
  // Give the record to `dead_letter` and go on.
  kDeadLetter,
  // Stop the whole consumer: start() returns the handler's error.
  kStopConsumer,
};

struct HandlerRetry {
  // Attempts per record (or batch), the first included.
  int max_attempts = 3;
  // Linear backoff: attempt n waits n * backoff before the next try.
  std::chrono::milliseconds backoff = std::chrono::seconds(1);
};

struct ConsumerOptions {
  // The stream (one of the two is required).
  std::string stream_name{};
  std::string stream_arn{};

  StartPosition start_position = StartPosition::kLatest;
  std::chrono::system_clock::time_point start_timestamp{};  // with kAtTimestamp

  // Records per GetRecords, 1..10000.
  int batch_size = 100;
  // Records of one shard handled at once by the record handler; > 1 gives
  // up ordering within the shard (checkpoints still never pass a record that
  // is not done).
  int shard_concurrency = 1;
  // Wait after an empty GetRecords.
  std::chrono::milliseconds poll_interval = std::chrono::seconds(1);
  // How often shards are listed (also at every shard end).
  std::chrono::milliseconds shard_sync_interval = std::chrono::minutes(1);
  HandlerRetry retry{};
  // Checkpoint after this many handled records (and at shard end and on
  // graceful shutdown).
  int checkpoint_every = 100;
  std::shared_ptr<Logger> logger{};

  // The handlers: `batch_handler` wins when both are set (as in seed 000).
  RecordHandler record_handler{};
  BatchHandler batch_handler{};
  FailurePolicy failure_policy = FailurePolicy::kStopShard;
  DeadLetterHandler dead_letter{};

  // Optional shard leases across processes (seed 000's WithLeaseManager):
  // each shard is worked on by one process at a time, shared out fairly.
  std::shared_ptr<LeaseManager> lease_manager{};
  // How often leases are balanced and taken.
  std::chrono::milliseconds lease_acquire_interval = std::chrono::seconds(5);

  // Deaggregate KPL records (default) or hand them over as they are.
  bool deaggregate = true;
  // Decode the producer's payload envelope (see payload_codec.h): set by
  // Consumer users through this hook.
  std::function<Result<std::optional<std::string>>(std::string_view)> payload_decoder{};

  // Engine sizing and shutdown; see SchedulerOptions.
  int prefetch_batches = 1;
  std::size_t max_buffered_bytes = std::size_t{256} << 20;
  std::size_t handler_threads = 0;
  std::chrono::milliseconds shutdown_timeout = std::chrono::seconds(30);

  std::string worker_id{};
  MetricsRegistry* metrics = nullptr;
  const Clock* clock = nullptr;
};

// InvalidArgument naming the field when the options cannot work.
Status validate(const ConsumerOptions& options);

class Consumer {
 public:
  static Result<std::unique_ptr<Consumer>> create(ConsumerOptions options,
                                                  std::shared_ptr<aws::KinesisClient> kinesis,
                                                  std::shared_ptr<CheckpointStore> checkpoints);
  ~Consumer();

  // Runs until `stop` is requested (OK, after a graceful shutdown) or a fatal
  // error (returned). Call once.
  Status start(std::stop_token stop);

  std::vector<ShardStatus> status() const;
  const ConsumerOptions& options() const { return options_; }

 private:
  Consumer(ConsumerOptions options, std::unique_ptr<Scheduler> scheduler);
  ConsumerOptions options_;
  std::unique_ptr<Scheduler> scheduler_;
};

}  // namespace sluice::kinesis

#endif  // SLUICE_KINESIS_CONSUMER_H_
