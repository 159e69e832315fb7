// CheckpointStore: where a stream consumer records how far it got in each
// shard, so that a restart resumes there instead of at the start position.
//
// sluice provides an in-memory store (below), a Redis store
// (sluice/redis/checkpoint_store.h) and an SQLite store
// (sluice/kinesis/sqlite_checkpoint_store.h); the DynamoDB lease table keeps
// checkpoints in the lease items. Implement this interface to keep them
// anywhere else. Calls come from the consumer's coordination threads, never
// from a shard's hot path, and may block; implementations must be
// thread-safe.
#ifndef SLUICE_CORE_CHECKPOINT_STORE_H_
#define SLUICE_CORE_CHECKPOINT_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/result.h"
#include "sluice/core/status.h"

namespace sluice {

// Where reading starts for a shard nothing of which has been processed yet:
// the Java KCL writes these sentinels in its lease table.
enum class StartSentinel {
  kNone,         // a real position (sequence_number) or shard_end
  kTrimHorizon,  // "TRIM_HORIZON": the oldest record
  kLatest,       // "LATEST": records written after reading starts
  kAtTimestamp,  // "AT_TIMESTAMP": the consumer's configured start time
};

// How far a shard has been processed.
struct Checkpoint {
  // Sequence number of the last Kinesis record processed (empty only for a
  // shard that ended without a record).
  std::string sequence_number;
  // Set when the last record is a KPL aggregate of which only the user
  // records up to and including this sub-sequence number were processed;
  // unset when the whole record was.
  std::optional<std::uint64_t> sub_sequence_number;
  // The shard is closed and every record in it was processed: its children
  // may start.
  bool shard_end = false;
  // Nothing processed yet; start here (sequence_number is then empty).
  StartSentinel sentinel = StartSentinel::kNone;

  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// The one-string form stores keep per shard, compatible with seed 000's
// kinesis-consumer-go (whose values are plain sequence numbers and
// SHARD_END markers):
//   "<seq>"            the whole record <seq> processed
//   "<seq>:<sub>"      aggregated record <seq> processed up to user record <sub>
//   "SHARD_END"        shard finished (no record in it)
//   "SHARD_END:<seq>"  shard finished, last record <seq>
//   "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"   nothing processed yet
std::string encode_checkpoint(const Checkpoint& checkpoint);
// Corruption naming the text when it is none of the forms above.
// (Sentinels are kept as they are by every store.)
Result<Checkpoint> parse_checkpoint(std::string_view text);

class CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;

  // The checkpoint of `shard_id` in `stream`, or nullopt if there is none.
  virtual Result<std::optional<Checkpoint>> get(std::string_view stream,
                                                std::string_view shard_id) = 0;
  // Records `checkpoint`, replacing the previous one.
  virtual Status save(std::string_view stream, std::string_view shard_id,
                      const Checkpoint& checkpoint) = 0;
  // Every checkpoint of `stream`, by shard id.
  virtual Result<std::map<std::string, Checkpoint>> list(std::string_view stream) = 0;
  // Forgets the checkpoint of `shard_id` (no error if there is none).
  virtual Status remove(std::string_view stream, std::string_view shard_id) = 0;

  // Marks the shard finished: its children may start.
  Status mark_shard_end(std::string_view stream, std::string_view shard_id,
                        std::string last_sequence_number) {
    return save(stream, shard_id, Checkpoint{std::move(last_sequence_number), std::nullopt, true});
  }
};

// Keeps checkpoints in the process: for tests and for consumers that do not
// need to survive a restart.
class MemoryCheckpointStore final : public CheckpointStore {
 public:
  Result<std::optional<Checkpoint>> get(std::string_view stream,
                                        std::string_view shard_id) override;
  Status save(std::string_view stream, std::string_view shard_id,
              const Checkpoint& checkpoint) override;
  Result<std::map<std::string, Checkpoint>> list(std::string_view stream) override;
  Status remove(std::string_view stream, std::string_view shard_id) override;

 private:
  std::mutex mu_;
  std::map<std::string, std::map<std::string, Checkpoint>, std::less<>> streams_;
};

}  // namespace sluice

#endif  // SLUICE_CORE_CHECKPOINT_STORE_H_
