// A lease table that can "die": once kill() is called every call fails, as
// the calls of a process killed with SIGKILL never arrive. Lets a benchmark
// kill one of several in-process workers without it releasing its leases.
#ifndef SLUICE_BENCH_KINESIS_KCL_KILLABLE_TABLE_H_
#define SLUICE_BENCH_KINESIS_KCL_KILLABLE_TABLE_H_

#include <atomic>
#include <memory>
#include <string>

#include "sluice/kinesis/kcl/lease_table.h"

class KillableLeaseTable final : public sluice::kinesis::kcl::LeaseTable {
 public:
  using Lease = sluice::kinesis::kcl::Lease;
  using Status = sluice::Status;
  explicit KillableLeaseTable(std::shared_ptr<sluice::kinesis::kcl::LeaseTable> inner)
      : inner_(std::move(inner)) {}
  void kill() { dead_ = true; }

  const std::string& name() const override { return inner_->name(); }
  Status create_if_missing(bool owner_index, std::chrono::milliseconds timeout) override {
    return dead_ ? gone() : inner_->create_if_missing(owner_index, timeout);
  }
  sluice::Result<std::vector<Lease>> list(std::size_t* skipped) override {
    if (dead_) return gone();
    return inner_->list(skipped);
  }
  sluice::Result<std::optional<Lease>> get(std::string_view key) override {
    if (dead_) return gone();
    return inner_->get(key);
  }
  Status create(const Lease& lease) override { return dead_ ? gone() : inner_->create(lease); }
  Status renew(std::string_view key, std::int64_t counter, bool handing_over) override {
    return dead_ ? gone() : inner_->renew(key, counter, handing_over);
  }
  Status take(const Lease& seen, std::string_view owner) override {
    return dead_ ? gone() : inner_->take(seen, owner);
  }
  Status start_handoff(std::string_view key, std::string_view from, std::string_view to) override {
    return dead_ ? gone() : inner_->start_handoff(key, from, to);
  }
  Status evict(std::string_view key, std::string_view owner, std::string_view cp_owner) override {
    return dead_ ? gone() : inner_->evict(key, owner, cp_owner);
  }
  Status update_checkpoint(std::string_view key, std::int64_t counter,
                           const sluice::kinesis::kcl::CheckpointUpdate& u) override {
    return dead_ ? gone() : inner_->update_checkpoint(key, counter, u);
  }
  Status prepare_checkpoint(std::string_view key, std::int64_t counter, std::string_view seq,
                            std::int64_t sub, const std::optional<std::string>& state) override {
    return dead_ ? gone() : inner_->prepare_checkpoint(key, counter, seq, sub, state);
  }
  Status update_children(std::string_view key, const std::vector<std::string>& children) override {
    return dead_ ? gone() : inner_->update_children(key, children);
  }
  Status remove(std::string_view key) override { return dead_ ? gone() : inner_->remove(key); }

 private:
  static Status gone() { return Status::unavailable("worker killed (benchmark)"); }
  std::shared_ptr<sluice::kinesis::kcl::LeaseTable> inner_;
  std::atomic<bool> dead_{false};
};

#endif  // SLUICE_BENCH_KINESIS_KCL_KILLABLE_TABLE_H_
