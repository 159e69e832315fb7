// LeaseTable: the operations a KCL-compatible lease coordinator performs on
// its lease table, each one the conditional write the Java KCL performs, so
// that sluice workers and Java workers can share a table.
//
//   DynamoDbLeaseTable   the real table, over sluice's DynamoDB client
//   MemoryLeaseTable     the same semantics in the process (tests, examples,
//                        development without DynamoDB)
//
// Every write is conditional: renewals, takes and checkpoints on the
// leaseCounter last seen (and the counter goes up by one), evictions and
// handoffs on the owner. A lost condition is StatusCode::kConditionFailed;
// anything else is the store's error. Calls block; implementations are
// thread-safe.
#ifndef SLUICE_KINESIS_KCL_LEASE_TABLE_H_
#define SLUICE_KINESIS_KCL_LEASE_TABLE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/aws/dynamodb_client.h"
#include "sluice/core/metrics.h"
#include "sluice/core/result.h"
#include "sluice/core/status.h"
#include "sluice/kinesis/kcl/lease.h"

namespace sluice {
class ThreadPool;
}

namespace sluice::kinesis::kcl {

// What a checkpoint write sets.
struct CheckpointUpdate {
  std::string checkpoint;  // sequence number, sentinel or SHARD_END
  std::int64_t sub_sequence_number = 0;
  // Written with the checkpoint when not empty (a parent's children at its end).
  std::vector<std::string> child_shard_ids{};
};

class LeaseTable {
 public:
  virtual ~LeaseTable() = default;

  // The table's name (for messages and metrics).
  virtual const std::string& name() const = 0;

  // Creates the table if it does not exist (hash key leaseKey, PAY_PER_REQUEST,
  // with the LeaseOwnerToLeaseKeyIndex GSI when `owner_index`), and waits
  // until it is ACTIVE.
  virtual Status create_if_missing(bool owner_index, std::chrono::milliseconds timeout) = 0;

  // Every lease (items that are not leases are skipped; malformed leases are
  // skipped and counted in `skipped`, if given).
  virtual Result<std::vector<Lease>> list(std::size_t* skipped = nullptr) = 0;
  // One lease by key (consistent read); nullopt when there is none.
  virtual Result<std::optional<Lease>> get(std::string_view lease_key) = 0;

  // Writes a new lease unless one with its key exists (then kAlreadyExists).
  virtual Status create(const Lease& lease) = 0;

  // leaseCounter := counter + 1, if leaseCounter = counter and (unless
  // `handing_over`) no checkpointOwner is set.
  virtual Status renew(std::string_view lease_key, std::int64_t counter, bool handing_over) = 0;

  // Takes `seen` for `owner`: leaseOwner := owner, leaseCounter + 1,
  // checkpointOwner removed, ownerSwitchesSinceCheckpoint + 1 when the owner
  // changes; if leaseCounter = seen.lease_counter.
  virtual Status take(const Lease& seen, std::string_view owner) = 0;

  // v3 graceful handoff, started by `new_owner`: leaseOwner := new_owner,
  // checkpointOwner := the current owner, if leaseOwner = `from` and no
  // checkpointOwner is set. The counter is not bumped (the current owner
  // keeps renewing); ownerSwitchesSinceCheckpoint + 1.
  virtual Status start_handoff(std::string_view lease_key, std::string_view from,
                               std::string_view new_owner) = 0;

  // Gives a lease up, if leaseOwner = owner and checkpointOwner =
  // checkpoint_owner (absent when empty): removes checkpointOwner when one
  // is set (the handoff completes: leaseOwner, the new owner, takes over),
  // else leaseOwner; leaseCounter + 1.
  virtual Status evict(std::string_view lease_key, std::string_view owner,
                       std::string_view checkpoint_owner) = 0;

  // Records a checkpoint, if leaseCounter = counter: checkpoint,
  // checkpointSubSequenceNumber, ownerSwitchesSinceCheckpoint := 0, pending
  // checkpoint removed, leaseCounter + 1 (childShardIds when given).
  virtual Status update_checkpoint(std::string_view lease_key, std::int64_t counter,
                                   const CheckpointUpdate& update) = 0;

  // Records a prepared (pending) checkpoint, if leaseCounter = counter:
  // pendingCheckpoint, pendingCheckpointSubSequenceNumber,
  // pendingCheckpointState (when given), leaseCounter + 1.
  virtual Status prepare_checkpoint(std::string_view lease_key, std::int64_t counter,
                                    std::string_view sequence_number,
                                    std::int64_t sub_sequence_number,
                                    const std::optional<std::string>& state) = 0;

  // Sets childShardIds of an existing lease (no counter condition, as the
  // KCL's meta-information update).
  virtual Status update_children(std::string_view lease_key,
                                 const std::vector<std::string>& child_shard_ids) = 0;

  // Deletes a lease (no error if there is none).
  virtual Status remove(std::string_view lease_key) = 0;
};

// The lease-table request counter every implementation shares:
// sluice_kcl_lease_table_requests_total{table, operation} (one per request
// sent: the user's DynamoDB bill).
struct LeaseTableMetrics {
  explicit LeaseTableMetrics(MetricsRegistry& registry, const std::string& table);
  Counter& scan;
  Counter& get;
  Counter& create;
  Counter& renew;
  Counter& take;
  Counter& handoff;
  Counter& evict;
  Counter& checkpoint;
  Counter& update;
  Counter& remove;
  Counter& table;  // CreateTable / DescribeTable
  // Sum of all of the above.
  double total() const;
};

struct DynamoDbLeaseTableOptions {
  std::string table_name{};
  // Scan page size (0 = DynamoDB's 1 MB pages).
  int scan_page_limit = 0;
  // Use strongly consistent scans (twice the read cost).
  bool consistent_scans = false;
  MetricsRegistry* metrics = nullptr;  // null: MetricsRegistry::global()
};

class DynamoDbLeaseTable final : public LeaseTable {
 public:
  static Result<std::unique_ptr<DynamoDbLeaseTable>> create(
      std::shared_ptr<aws::DynamoDbClient> dynamodb, DynamoDbLeaseTableOptions options);
  ~DynamoDbLeaseTable() override;

  const std::string& name() const override { return options_.table_name; }
  Status create_if_missing(bool owner_index, std::chrono::milliseconds timeout) override;
  Result<std::vector<Lease>> list(std::size_t* skipped = nullptr) override;
  Result<std::optional<Lease>> get(std::string_view lease_key) override;
  Status create(const Lease& lease) override;
  Status renew(std::string_view lease_key, std::int64_t counter, bool handing_over) override;
  Status take(const Lease& seen, std::string_view owner) override;
  Status start_handoff(std::string_view lease_key, std::string_view from,
                       std::string_view new_owner) override;
  Status evict(std::string_view lease_key, std::string_view owner,
               std::string_view checkpoint_owner) override;
  Status update_checkpoint(std::string_view lease_key, std::int64_t counter,
                           const CheckpointUpdate& update) override;
  Status prepare_checkpoint(std::string_view lease_key, std::int64_t counter,
                            std::string_view sequence_number, std::int64_t sub_sequence_number,
                            const std::optional<std::string>& state) override;
  Status update_children(std::string_view lease_key,
                         const std::vector<std::string>& child_shard_ids) override;
  Status remove(std::string_view lease_key) override;

  const LeaseTableMetrics& metrics() const { return *metrics_; }

 private:
  DynamoDbLeaseTable(std::shared_ptr<aws::DynamoDbClient> dynamodb,
                     DynamoDbLeaseTableOptions options);
  Status update(aws::UpdateItemRequest request, Counter& counter);

  std::shared_ptr<aws::DynamoDbClient> dynamodb_;
  DynamoDbLeaseTableOptions options_;
  std::unique_ptr<LeaseTableMetrics> metrics_;
  // The DynamoDB client's coroutines run here; callers block on them.
  std::unique_ptr<ThreadPool> pool_;
};

// The lease table in memory, with DynamoDB's conditional semantics. Items
// that are not leases can be stored too (put_item), to test that they are
// skipped.
class MemoryLeaseTable final : public LeaseTable {
 public:
  explicit MemoryLeaseTable(std::string name = "memory-leases", MetricsRegistry* metrics = nullptr);
  ~MemoryLeaseTable() override;

  const std::string& name() const override { return name_; }
  Status create_if_missing(bool owner_index, std::chrono::milliseconds timeout) override;
  Result<std::vector<Lease>> list(std::size_t* skipped = nullptr) override;
  Result<std::optional<Lease>> get(std::string_view lease_key) override;
  Status create(const Lease& lease) override;
  Status renew(std::string_view lease_key, std::int64_t counter, bool handing_over) override;
  Status take(const Lease& seen, std::string_view owner) override;
  Status start_handoff(std::string_view lease_key, std::string_view from,
                       std::string_view new_owner) override;
  Status evict(std::string_view lease_key, std::string_view owner,
               std::string_view checkpoint_owner) override;
  Status update_checkpoint(std::string_view lease_key, std::int64_t counter,
                           const CheckpointUpdate& update) override;
  Status prepare_checkpoint(std::string_view lease_key, std::int64_t counter,
                            std::string_view sequence_number, std::int64_t sub_sequence_number,
                            const std::optional<std::string>& state) override;
  Status update_children(std::string_view lease_key,
                         const std::vector<std::string>& child_shard_ids) override;
  Status remove(std::string_view lease_key) override;

  // Stores a raw item (a lease in any form, or a foreign entity).
  void put_item(aws::Item item);
  // Every raw item, by key.
  std::map<std::string, aws::Item> items() const;
  // Makes every call fail with Unavailable while set (outage tests).
  void set_unavailable(bool unavailable) { unavailable_ = unavailable; }
  const LeaseTableMetrics& metrics() const { return *metrics_; }

 private:
  Status check_available() const;
  Status change_item(Counter& call, std::string_view lease_key,
                     const std::function<Status(aws::Item&)>& change);
  std::string name_;
  std::unique_ptr<LeaseTableMetrics> metrics_;
  std::atomic<bool> unavailable_{false};
  mutable std::mutex mu_;
  std::map<std::string, aws::Item, std::less<>> items_;
};

}  // namespace sluice::kinesis::kcl

#endif  // SLUICE_KINESIS_KCL_LEASE_TABLE_H_
