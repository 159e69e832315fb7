// ShardRecordProcessor and Checkpointer: the KCL's processor interface, in
// seed 001's shape. Implement ShardRecordProcessor; the worker makes one
// per shard it owns (through your factory) and calls it, one call at a
// time, on a thread of its handler pool:
//
//   initialize(input)                           once, before any records
//   process_records(records, millis_behind, checkpointer)   per batch
//   then exactly one of
//     shard_ended(checkpointer)        the shard is closed and read to its end:
//                                      you MUST call checkpointer.checkpoint()
//                                      (or end()), or its children never start
//     lease_lost()                     another worker owns the shard now: do
//                                      not checkpoint (it is refused)
//     shutdown_requested(checkpointer) the worker stops or hands the shard
//                                      over: checkpoint what you finished
//
//   class Printer : public sluice::kinesis::kcl::ShardRecordProcessor {
//     void initialize(const InitializationInput& in) override { shard_ = in.shard_id; }
//     void process_records(std::span<const sluice::kinesis::Record> records,
//                          std::int64_t millis_behind_latest, Checkpointer& cp) override {
//       for (const auto& r : records) handle(r.data);
//       if (auto s = cp.checkpoint(); !s.ok()) log(s);   // everything delivered so far
//     }
//     void lease_lost() override {}
//     void shard_ended(Checkpointer& cp) override { (void)cp.checkpoint(); }  // SHARD_END
//     void shutdown_requested(Checkpointer& cp) override { (void)cp.checkpoint(); }
//   };
//
// Exceptions thrown by process_records are caught and logged and the
// worker goes on with the next batch, as the KCL does: handle your errors,
// and checkpoint only what you finished.
#ifndef SLUICE_KINESIS_KCL_SHARD_RECORD_PROCESSOR_H_
#define SLUICE_KINESIS_KCL_SHARD_RECORD_PROCESSOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "sluice/core/result.h"
#include "sluice/core/status.h"
#include "sluice/kinesis/record.h"
#include "sluice/kinesis/sequence_number.h"

namespace sluice::kinesis::kcl {

class Checkpointer;

// A two-phase checkpoint: prepare_checkpoint() recorded `pending()` in the
// lease (pendingCheckpoint); checkpoint() makes it the checkpoint.
class PreparedCheckpointer {
 public:
  PreparedCheckpointer(Checkpointer* checkpointer, ExtendedSequenceNumber pending)
      : checkpointer_(checkpointer), pending_(std::move(pending)) {}
  const ExtendedSequenceNumber& pending() const { return pending_; }
  Status checkpoint();

 private:
  Checkpointer* checkpointer_;
  ExtendedSequenceNumber pending_;
};

// Records progress in the shard's lease. Valid only during the call it was
// passed to. Every checkpoint must lie between the last checkpoint and the
// last record delivered (the KCL's rule); each failure names the rule:
//   InvalidArgument     not a sequence number
//   FailedPrecondition  after the last record delivered, before the last
//                       checkpoint, or SHARD_END before the shard's end
//   LeaseLost           the shard belongs to another worker now
// Every call blocks while it writes (one conditional UpdateItem).
class Checkpointer {
 public:
  virtual ~Checkpointer() = default;

  // Everything delivered so far; in shard_ended, the end of the shard
  // (SHARD_END), which lets its children start.
  virtual Status checkpoint() = 0;
  // Up to and including user record (sequence_number, sub_sequence_number).
  // The sub-sequence number is written to the lease as the KCL does (0 for
  // plain records).
  virtual Status checkpoint(std::string_view sequence_number,
                            std::uint64_t sub_sequence_number = 0) = 0;
  Status checkpoint(const Record& record) {
    return checkpoint(record.sequence_number, record.sub_sequence_number);
  }
  // The end of the shard: only in shard_ended (seed 001's `end()`).
  virtual Status end() = 0;

  // Records a pending checkpoint (pendingCheckpoint in the lease, with
  // optional application state as pendingCheckpointState) without moving
  // the checkpoint; the same validity rules apply.
  virtual Result<PreparedCheckpointer> prepare_checkpoint(
      std::string_view sequence_number, std::uint64_t sub_sequence_number = 0,
      std::optional<std::string> application_state = std::nullopt) = 0;

  virtual const std::string& shard_id() const = 0;
  // The last record delivered, and the last checkpoint (unset before any).
  virtual std::optional<ExtendedSequenceNumber> largest_delivered() const = 0;
  virtual std::optional<ExtendedSequenceNumber> last_checkpoint() const = 0;
};

struct InitializationInput {
  std::string shard_id;
  // Where reading starts: the lease's checkpoint ("TRIM_HORIZON", "LATEST",
  // "AT_TIMESTAMP" or a sequence number with its sub-sequence number).
  ExtendedSequenceNumber extended_sequence_number;
  // A pendingCheckpoint found in the lease (a prepare_checkpoint that was
  // not committed), if any.
  std::optional<ExtendedSequenceNumber> pending_checkpoint;
  std::optional<std::string> pending_checkpoint_state;
};

class ShardRecordProcessor {
 public:
  virtual ~ShardRecordProcessor() = default;
  virtual void initialize(const InitializationInput& input) = 0;
  // `records` (and the views in them) are valid during the call.
  // `millis_behind_latest` is -1 when Kinesis did not say.
  virtual void process_records(std::span<const Record> records, std::int64_t millis_behind_latest,
                               Checkpointer& checkpointer) = 0;
  virtual void lease_lost() = 0;
  virtual void shard_ended(Checkpointer& checkpointer) = 0;
  virtual void shutdown_requested(Checkpointer& checkpointer) = 0;
};

// Makes the processor of one shard (called once per shard a worker starts).
using ShardRecordProcessorFactory = std::function<std::unique_ptr<ShardRecordProcessor>()>;

}  // namespace sluice::kinesis::kcl

#endif  // SLUICE_KINESIS_KCL_SHARD_RECORD_PROCESSOR_H_
