// LeaseCoordinator: shard leases and checkpoints in a Java-KCL-compatible
// lease table, for sluice's consumer engine. It is both the engine's
// LeaseManager (which shards this worker works on) and its CheckpointStore
// (checkpoints live in the lease items), so that sluice workers and Java KCL
// workers can share one table.
//
// What it does, and how it differs from the KCL v2:
//   - Renews every held lease every renew_interval (failover / 3), skipping
//     a renewal when a checkpoint moved the counter since (a checkpoint is
//     a renewal), and drops a lease it could not renew for the failover time.
//   - Notices expiry the KCL's way: a lease whose counter has not moved for
//     the failover time, on this worker's clock, is expired (no clock sync).
//   - Every take_interval: one Scan (which also serves the engine's
//     checkpoint listing), then a plan every worker computes alike
//     (lease_planner): fair shares of floor/ceil(N/W), adopting leases handed
//     to this worker, taking unowned and expired ones (very old first), and,
//     when none are free, stealing from workers above their share by v3
//     graceful handoff (leaseOwner := taker, checkpointOwner := old owner;
//     the old owner checkpoints, then gives the lease up). A balanced table
//     moves nothing; a joining worker gets its whole share within a few
//     take intervals instead of one lease per ~20 s.
//   - Shard sync creates leases for new shards (parentShardId, hash range),
//     TRIM_HORIZON under a leased parent, else the start strategy's sentinel;
//     a parent's childShardIds are written at its end. A closed shard left
//     without a lease by that policy (or whose lease the KCL deleted after it
//     finished) does not block its children.
//   - stop() evicts every held lease, so that other workers take them at
//     their next scan instead of after the failover time.
//
// Checkpoints are written conditionally on the lease counter (the KCL's
// rule): a write after the lease moved fails with LeaseLost.
#ifndef SLUICE_KINESIS_KCL_LEASE_COORDINATOR_H_
#define SLUICE_KINESIS_KCL_LEASE_COORDINATOR_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sluice/core/checkpoint_store.h"
#include "sluice/core/clock.h"
#include "sluice/core/lease_manager.h"
#include "sluice/core/logger.h"
#include "sluice/core/metrics.h"
#include "sluice/kinesis/kcl/config.h"
#include "sluice/kinesis/kcl/lease.h"
#include "sluice/kinesis/kcl/lease_table.h"
#include "sluice/kinesis/sequence_number.h"

namespace sluice::kinesis::kcl {

struct LeaseCoordinatorOptions {
  // The id leases are held under. Empty = generate_worker_id().
  std::string worker_id{};
  // Multi-stream applications: "account:stream:creationEpoch"; lease keys
  // are then "<identifier>:<shard id>". Empty = single-stream keys (shard ids).
  std::string stream_identifier{};
  // Counts, strategy and timings; see ManagementConfig.
  ManagementConfig management{};
  // After a worker that held nothing takes its first lease (which makes it
  // visible to the others), it waits this long, scans again and takes the
  // rest of its share in the same cycle. -1 = take_interval / 4 (at most
  // 1 s); 0 = no second round (the rest comes next cycle).
  std::chrono::milliseconds first_take_settle{-1};
  std::shared_ptr<Logger> logger{};    // null: no logging
  MetricsRegistry* metrics = nullptr;  // null: MetricsRegistry::global()
  const Clock* clock = nullptr;        // null: Clock::real()
};

// A lease's state as this worker sees it, for status displays and tests.
struct CoordinatorSnapshot {
  std::vector<Lease> leases;              // the last scan (plus this worker's writes)
  std::vector<std::string> held;          // held by this worker
  std::vector<std::string> handing_over;  // held, being handed to another worker
  std::vector<std::string> workers;       // live workers in the last plan
  int target = 0;                         // this worker's share in the last plan
  bool balanced = false;                  // the last plan found every worker at its share
};

class LeaseCoordinator final : public LeaseManager, public CheckpointStore {
 public:
  // InvalidArgument naming the field when the options cannot work.
  static Result<std::shared_ptr<LeaseCoordinator>> create(std::shared_ptr<LeaseTable> table,
                                                          LeaseCoordinatorOptions options);
  ~LeaseCoordinator() override;
  LeaseCoordinator(const LeaseCoordinator&) = delete;
  LeaseCoordinator& operator=(const LeaseCoordinator&) = delete;

  // --- LeaseManager ---
  const std::string& owner_id() const override { return worker_id_; }
  Status start(std::string_view stream,
               std::function<void(const std::string& shard_id)> on_lost) override;
  Result<LeaseBalance> balance(const std::vector<std::string>& workable_shards) override;
  bool holds(std::string_view shard_id) const override;
  Status release(std::string_view shard_id) override;
  Status stop() override;
  Status shards_listed(const std::vector<ShardLineage>& shards) override;

  // --- CheckpointStore (the stream argument is ignored: one coordinator, one stream) ---
  Result<std::optional<Checkpoint>> get(std::string_view stream,
                                        std::string_view shard_id) override;
  Status save(std::string_view stream, std::string_view shard_id,
              const Checkpoint& checkpoint) override;
  Result<std::map<std::string, Checkpoint>> list(std::string_view stream) override;
  Status remove(std::string_view stream, std::string_view shard_id) override;

  // --- for the KCL face ---
  // The exact position the next save() of `shard_id` for this sequence
  // number stands for (the engine's checkpoint of a whole aggregate does
  // not carry its last sub-sequence number; the lease table wants it).
  void note_checkpoint_position(std::string_view shard_id, const ExtendedSequenceNumber& position);
  // Writes pendingCheckpoint (two-phase checkpoint) of a held lease.
  Status prepare_checkpoint(std::string_view shard_id, const ExtendedSequenceNumber& position,
                            const std::optional<std::string>& state);
  // The lease of `shard_id` in the last scan (nullopt if none).
  std::optional<Lease> lease(std::string_view shard_id) const;

  // Runs one renewal pass now, as the background renewer does.
  void renew_now();
  CoordinatorSnapshot snapshot() const;
  const ManagementConfig& management() const { return options_.management; }
  const std::string& table_name() const { return table_->name(); }
  LeaseTable& table() { return *table_; }
  // "<identifier>:<shard>" or "<shard>".
  std::string lease_key(std::string_view shard_id) const;

 private:
  struct Held {
    std::int64_t counter = 0;
    Clock::TimePoint last_write{};  // last successful renewal, take or checkpoint
    bool handing_over = false;      // checkpointOwner = us, leaseOwner = handoff_to
    std::string handoff_to;
    bool shed_requested = false;  // over max_leases: give it up when the engine is done
  };
  struct Observed {
    std::int64_t counter = 0;
    std::string owner;
    std::string checkpoint_owner;
    Clock::TimePoint changed_at{};  // when this worker saw the counter (or owner) change
  };
  struct Metrics;

  LeaseCoordinator(std::shared_ptr<LeaseTable> table, LeaseCoordinatorOptions options);
  Status refresh(bool force);
  void observe_locked(const std::vector<Lease>& leases, Clock::TimePoint now);
  std::vector<std::string> reconcile_locked();
  Result<LeaseBalance> balance_round(const std::set<std::string>& workable, LeaseBalance& out,
                                     bool* took_first);
  bool mine(const Lease& lease) const;
  std::shared_ptr<std::mutex> write_lock(const std::string& shard);
  void renew_one(const std::string& shard);
  void lose_locked(const std::string& shard, std::string_view why);
  void notify_lost(const std::vector<std::string>& shards);
  void renew_loop(std::stop_token stop);
  void give_back_assigned();
  Result<bool> confirm_write(const std::string& shard, std::int64_t expected_counter,
                             const std::optional<std::string>& checkpoint);

  std::shared_ptr<LeaseTable> table_;
  LeaseCoordinatorOptions options_;
  std::string worker_id_;
  std::shared_ptr<Logger> log_;
  const Clock* clock_;
  std::unique_ptr<Metrics> metrics_;

  mutable std::mutex mu_;
  bool started_ = false;
  std::string stream_;
  std::function<void(const std::string&)> on_lost_;
  std::map<std::string, Held, std::less<>> held_;
  std::set<std::string, std::less<>> lost_since_balance_;
  std::map<std::string, Observed, std::less<>> observed_;  // by shard id
  std::vector<Lease> leases_;                              // last scan, this stream, by shard id
  std::optional<Clock::TimePoint> scanned_at_;
  // When the next balance() should come (LeaseBalance::next_step_at): the
  // earliest moment a watched lease of another worker expires unless the
  // table shows it renewed, or soon when free leases were left over. A
  // balance() from then on scans afresh.
  std::optional<Clock::TimePoint> next_step_at_;
  int quick_steps_ = 0;  // consecutive "soon" steps for leftover leases
  // When this worker started a handoff to itself (or first saw one), by shard.
  std::map<std::string, Clock::TimePoint, std::less<>> incoming_;
  // Shard sync: lineage, and closed shards that get no lease by policy.
  std::map<std::string, ShardLineage, std::less<>> lineage_;
  std::set<std::string, std::less<>> absent_by_policy_;
  std::map<std::string, ExtendedSequenceNumber, std::less<>> notes_;
  std::map<std::string, std::shared_ptr<std::mutex>, std::less<>> write_locks_;
  std::vector<std::string> last_workers_;
  int last_target_ = 0;
  bool last_balanced_ = false;
  std::size_t spread_ = 0;

  std::mutex renew_mu_;  // one renewal pass at a time
  std::jthread renewer_;
};

}  // namespace sluice::kinesis::kcl

#endif  // SLUICE_KINESIS_KCL_LEASE_COORDINATOR_H_
