// LeaseManager: decides which shards this process works on when several
// processes consume one stream, so that no shard is processed by two of them
// at once and the shards are shared fairly.
//
// The consumer engine drives it from its coordination loop:
//
//   manager.start(stream, on_lost);            // begins renewing in the background
//   every acquire interval (or at step.next_step_at, if sooner):
//     auto step = manager.balance(workable);   // shards whose parents are done
//     start step.acquired; stop step.lost at once (no checkpoint);
//     for step.to_shed: stop gracefully, checkpoint, then manager.release(shard)
//   before each checkpoint: manager.holds(shard)
//   on shutdown: stop shards, checkpoint, manager.stop()   // releases the rest
//
// sluice provides a Redis implementation (sluice/redis/lease_manager.h, seed
// 000's lease layout); the KCL-compatible DynamoDB lease table has its own
// coordinator. Calls may block (they talk to the lease store) and come from
// the engine's coordination thread; `on_lost` comes from the renewer's
// thread. Implementations must be thread-safe.
#ifndef SLUICE_CORE_LEASE_MANAGER_H_
#define SLUICE_CORE_LEASE_MANAGER_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/result.h"
#include "sluice/core/status.h"

namespace sluice {

// The outcome of one balancing step. All lists are sorted.
struct LeaseBalance {
  // Every lease this worker holds after the step (including `acquired` and
  // `to_shed`).
  std::vector<std::string> held;
  // Taken in this step: start working on these.
  std::vector<std::string> acquired;
  // Held before this step and found gone (expired or taken by another
  // worker): stop at once, without checkpointing.
  std::vector<std::string> lost;
  // Held, but beyond this worker's fair share now that other workers are
  // live: finish in-flight work, checkpoint, then release() each.
  std::vector<std::string> to_shed;
  // When the next step may take more than this one did: the moment a lease
  // this manager watches would expire if its owner stays silent, or soon
  // when free leases were left over (on the Clock the manager was given: a
  // sluice::Clock::TimePoint). The engine balances again then instead of
  // waiting for its next acquire interval, so that a dead worker's shards
  // are picked up up to one interval sooner. Unset: nothing to wait for.
  std::optional<std::chrono::steady_clock::time_point> next_step_at;
};

// A shard and its lineage, as the engine's shard sync sees it.
struct ShardLineage {
  std::string shard_id;
  std::vector<std::string> parent_ids;  // parent and adjacent parent, if any
  std::string starting_hash_key;        // decimal
  std::string ending_hash_key;
  bool open = true;
};

class LeaseManager {
 public:
  virtual ~LeaseManager() = default;

  // The id leases are held under (unique per process).
  virtual const std::string& owner_id() const = 0;

  // Binds the manager to `stream` and starts renewing held leases in the
  // background. `on_lost(shard_id)` is called as soon as a renewal finds a
  // lease gone; the engine must stop that shard before its next checkpoint.
  virtual Status start(std::string_view stream,
                       std::function<void(const std::string& shard_id)> on_lost) = 0;

  // One balancing step over the shards that can be worked on now. Takes free
  // or expired leases up to this worker's fair share (ceil(shards / live
  // workers)), and names the leases to shed when above it.
  virtual Result<LeaseBalance> balance(const std::vector<std::string>& workable_shards) = 0;

  // Whether the lease on `shard_id` is held, as of the last renewal.
  virtual bool holds(std::string_view shard_id) const = 0;

  // Gives the lease on `shard_id` back at once, if still held by this owner
  // (never another owner's): the shard finished, or is being handed over.
  virtual Status release(std::string_view shard_id) = 0;

  // Stops renewing and releases every lease still held.
  virtual Status stop() = 0;

  // Every shard of the stream after each shard sync, for managers that keep
  // a lease per shard whether or not it can be worked on yet (the KCL lease
  // table creates leases for children with their parents). Default: nothing.
  virtual Status shards_listed(const std::vector<ShardLineage>& shards) {
    (void)shards;
    return Status();
  }
};

}  // namespace sluice

#endif  // SLUICE_CORE_LEASE_MANAGER_H_
