// Lease: one item of a Java-KCL-compatible DynamoDB lease table, and its
// conversion to and from DynamoDB attribute values.
//
// The attribute names and types are the Java KCL's (v2 and v3), so that a
// table written by sluice can be read by a Java worker and the other way
// round:
//
//   leaseKey                         S   shard id, or "account:stream:epoch:shardId"
//                                        in multi-stream applications
//   leaseOwner                       S   worker id (absent: unassigned)
//   leaseCounter                     N   bumped by every renewal, take and checkpoint
//   ownerSwitchesSinceCheckpoint     N
//   checkpoint                       S   sequence number, TRIM_HORIZON, LATEST,
//                                        AT_TIMESTAMP or SHARD_END
//   checkpointSubSequenceNumber      N   always written (0 for plain records)
//   pendingCheckpoint                S   two-phase checkpoint (prepare_checkpoint)
//   pendingCheckpointSubSequenceNumber N
//   pendingCheckpointState           B
//   parentShardId                    SS  (singular name, string set)
//   childShardIds                    SS  written on a parent at its end
//   startingHashKey, endingHashKey   S   decimal
//   throughputKBps                   N   (v3; read and kept, not written)
//   checkpointOwner                  S   v3 graceful handoff: the old owner
//   streamName, shardId              S   multi-stream leases only
//   entityType                       S   v3.5: items whose entityType is present
//                                        and not "LEASE" are not leases (skipped)
#ifndef SLUICE_KINESIS_KCL_LEASE_H_
#define SLUICE_KINESIS_KCL_LEASE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/aws/dynamodb_client.h"
#include "sluice/core/checkpoint_store.h"
#include "sluice/core/result.h"

namespace sluice::kinesis::kcl {

// The attribute names, exactly as the Java KCL writes them.
namespace attr {
inline constexpr char kLeaseKey[] = "leaseKey";
inline constexpr char kLeaseOwner[] = "leaseOwner";
inline constexpr char kLeaseCounter[] = "leaseCounter";
inline constexpr char kOwnerSwitches[] = "ownerSwitchesSinceCheckpoint";
inline constexpr char kCheckpoint[] = "checkpoint";
inline constexpr char kCheckpointSubSequence[] = "checkpointSubSequenceNumber";
inline constexpr char kPendingCheckpoint[] = "pendingCheckpoint";
inline constexpr char kPendingCheckpointSubSequence[] = "pendingCheckpointSubSequenceNumber";
inline constexpr char kPendingCheckpointState[] = "pendingCheckpointState";
inline constexpr char kParentShardId[] = "parentShardId";
inline constexpr char kChildShardIds[] = "childShardIds";
inline constexpr char kStartingHashKey[] = "startingHashKey";
inline constexpr char kEndingHashKey[] = "endingHashKey";
inline constexpr char kThroughputKBps[] = "throughputKBps";
inline constexpr char kCheckpointOwner[] = "checkpointOwner";
inline constexpr char kEntityType[] = "entityType";
inline constexpr char kStreamName[] = "streamName";
inline constexpr char kShardId[] = "shardId";
}  // namespace attr

// The checkpoint sentinels of the lease table.
inline constexpr char kTrimHorizon[] = "TRIM_HORIZON";
inline constexpr char kLatest[] = "LATEST";
inline constexpr char kAtTimestamp[] = "AT_TIMESTAMP";
inline constexpr char kShardEnd[] = "SHARD_END";

// The GSI the Java KCL v3 adds (hash leaseOwner, range leaseKey, keys only).
inline constexpr char kLeaseOwnerIndex[] = "LeaseOwnerToLeaseKeyIndex";

// A lease key: a shard id, or in multi-stream applications
// "<account>:<stream>:<creation epoch>:<shard id>".
struct LeaseKey {
  std::string stream_identifier;  // "account:stream:epoch", empty for single-stream keys
  std::string shard_id;

  // Splits a key; InvalidArgument for an empty key or a multi-stream key
  // with a part missing.
  static Result<LeaseKey> parse(std::string_view key);
  std::string to_string() const;
  // The stream name of a multi-stream identifier (its second part), or "".
  std::string stream_name() const;
};

struct Lease {
  std::string lease_key;
  std::string lease_owner;  // empty: unassigned
  std::int64_t lease_counter = 0;
  std::int64_t owner_switches_since_checkpoint = 0;
  std::string checkpoint;  // sequence number or sentinel
  std::int64_t checkpoint_sub_sequence_number = 0;
  std::string pending_checkpoint;  // empty: none
  std::int64_t pending_checkpoint_sub_sequence_number = 0;
  std::optional<std::string> pending_checkpoint_state;  // bytes
  std::vector<std::string> parent_shard_ids;
  std::vector<std::string> child_shard_ids;
  std::string starting_hash_key;
  std::string ending_hash_key;
  std::optional<double> throughput_kbps;
  std::string checkpoint_owner;  // non-empty while a graceful handoff is in progress

  // From the key.
  std::string stream_identifier;
  std::string shard_id;

  bool at_shard_end() const { return checkpoint == kShardEnd; }
  bool in_handoff() const { return !checkpoint_owner.empty(); }
  // The worker that is working on the shard now: the checkpoint owner
  // during a handoff, else the lease owner.
  const std::string& actual_owner() const {
    return checkpoint_owner.empty() ? lease_owner : checkpoint_owner;
  }

  friend bool operator==(const Lease&, const Lease&) = default;
};

// The item a new lease is written as (every attribute that is set, with the
// KCL's names and types; checkpointSubSequenceNumber always).
aws::Item lease_to_item(const Lease& lease);

// Reads an item. nullopt (not an error) for items that are not leases: an
// entityType other than LEASE. Corruption naming the attribute when a lease
// attribute has the wrong type or the key is malformed.
Result<std::optional<Lease>> lease_from_item(const aws::Item& item);

// The engine's view of a lease's checkpoint: sentinels become
// Checkpoint::sentinel, SHARD_END shard_end, a sequence number (with its
// sub-sequence number, which is always kept: resuming re-reads that record
// and skips the user records up to and including it). nullopt when the
// checkpoint attribute is empty; Corruption when it is not a known form.
Result<std::optional<Checkpoint>> checkpoint_of(const Lease& lease);

// The lease table text of a checkpoint: "SHARD_END", a sentinel, or the
// sequence number (the sub-sequence number is a separate attribute).
std::string checkpoint_text(const Checkpoint& checkpoint);

}  // namespace sluice::kinesis::kcl

#endif  // SLUICE_KINESIS_KCL_LEASE_H_
