// ShardProcessor: what the consumer engine (Scheduler) drives for each shard
// it owns, and ShardCheckpointer: how a processor records progress.
//
// Both consumer APIs are processors: the record/batch handler Consumer
// (consumer.h) and the KCL-style ShardRecordProcessor. Implement one yourself
// only for a third shape.
//
// Lifecycle, per shard the worker owns:
//   initialize -> process_records* -> exactly one of
//     shard_ended        (the shard is closed and read to its end: checkpoint
//                         SHARD_END so that its children can start)
//     lease_lost         (another worker owns it now: do not checkpoint)
//     shutdown_requested (the consumer is stopping or handing the shard over:
//                         checkpoint what is done)
// Calls for one shard come one at a time, in order, on a thread of the
// handler pool: they may block.
#ifndef SLUICE_KINESIS_SHARD_PROCESSOR_H_
#define SLUICE_KINESIS_SHARD_PROCESSOR_H_

#include <asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "sluice/aws/kinesis_client.h"
#include "sluice/core/checkpoint_store.h"
#include "sluice/core/status.h"
#include "sluice/kinesis/record.h"
#include "sluice/kinesis/sequence_number.h"

namespace sluice::kinesis {

// Where a shard's reading starts.
struct ShardStart {
  std::string stream;
  std::string shard_id;
  aws::Shard shard;  // hash range and parents
  // The checkpoint found in the store, if any.
  std::optional<Checkpoint> checkpoint;
  // The iterator the reader asks for (derived from the checkpoint, or from
  // the start position for a shard without one).
  aws::IteratorPosition position;
  // With a checkpoint inside an aggregate: user records of that Kinesis
  // record up to and including this sub-sequence number are skipped.
  std::optional<std::uint64_t> skip_through_sub_sequence;
  // Fires when the worker stops this shard (shutdown, lease lost, shed):
  // long waits in a processor (retry backoff) should end on it.
  std::stop_token stop;
  // The handler pool the processor runs on, for processors that fan a
  // batch out over several threads.
  asio::any_io_executor handler_executor;
};

// The user records of one GetRecords reply, deaggregated, filtered, and (when
// configured) with payload envelopes decoded. Owns the bytes its records
// point at.
struct RecordBatch {
  std::string shard_id;
  std::vector<Record> records;
  std::optional<std::int64_t> millis_behind_latest;
  std::size_t bytes = 0;  // sum of record data sizes
  // User records in each aggregated Kinesis record of the batch, by sequence
  // number: tells a checkpoint of "the whole aggregate" from "part of it".
  std::map<std::string, std::uint64_t, std::less<>> aggregate_sizes;
  // Records whose payload could not be decoded (index -> why): processors
  // treat them as failed records.
  std::map<std::size_t, Status> payload_errors;
  // Storage (records point into these).
  aws::GetRecordsResult source;
  std::deque<std::string> decoded;
};

class ShardCheckpointer {
 public:
  virtual ~ShardCheckpointer() = default;

  // Records that every user record up to and including `position` is
  // processed. Fails with FailedPrecondition when `position` is before the
  // last checkpoint or after the last record delivered, and with LeaseLost
  // once the shard belongs to another worker. Blocks while it writes.
  virtual Status checkpoint(const ExtendedSequenceNumber& position) = 0;
  // The last record delivered so far (what checkpoint() of "everything"
  // means). Unset before the first delivery.
  virtual std::optional<ExtendedSequenceNumber> last_delivered() const = 0;
  virtual std::optional<ExtendedSequenceNumber> last_checkpoint() const = 0;
  // At shard end only: records that the whole shard is processed.
  virtual Status checkpoint_shard_end() = 0;
  // Whether the shard-end checkpoint has been written.
  virtual bool shard_end_checkpointed() const = 0;
};

// What the engine does after process_records.
enum class Disposition {
  kContinue,      // go on reading
  kStopShard,     // stop this shard without further checkpoints (kept leased)
  kStopConsumer,  // stop the whole consumer, returning `error` from run()
};

struct ProcessResult {
  Disposition disposition = Disposition::kContinue;
  Status error;  // why, when not kContinue
};

class ShardProcessor {
 public:
  virtual ~ShardProcessor() = default;
  virtual Status initialize(const ShardStart& start) = 0;
  virtual ProcessResult process_records(const RecordBatch& batch,
                                        ShardCheckpointer& checkpointer) = 0;
  // Must checkpoint SHARD_END (checkpointer.checkpoint_shard_end()) for the
  // children to start; the engine writes it for processors that do not and
  // says so in the log, unless `require_shard_end_checkpoint` is set.
  virtual Status shard_ended(ShardCheckpointer& checkpointer) = 0;
  virtual void lease_lost() = 0;
  virtual Status shutdown_requested(ShardCheckpointer& checkpointer) = 0;
};

// Makes the processor of a shard; called once per shard a worker starts.
using ShardProcessorFactory = std::function<std::unique_ptr<ShardProcessor>(const ShardStart&)>;

}  // namespace sluice::kinesis

#endif  // SLUICE_KINESIS_SHARD_PROCESSOR_H_
