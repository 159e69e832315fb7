// The lease coordinator's own threads against each other, with the real
// clock: four LeaseCoordinators over one shared MemoryLeaseTable, each
// driven as the engine drives it (balance() in a loop, a final checkpoint
// and release() of every lease to shed), while other threads checkpoint
// (save()), read (snapshot(), holds(), list(), lease()) and renew
// (renew_now()) at the same time as the renewer threads. One coordinator
// stops gracefully in the middle and a new one joins later.
//
// Why: the unit tests of the coordinator (kcl_coordinator_test.cc) step it
// from one thread on a manual clock, so ThreadSanitizer (which runs the
// tests labelled `concurrency`) never sees its background renewer, its
// per-shard write locks and its lease bookkeeping raced by callers. Beyond
// what TSan reports, the test checks the coordination's invariants:
//   - every table write is audited in the table's own order: a renewal or a
//     checkpoint succeeds only for the worker the table names as the lease's
//     owner (or as its checkpointOwner during a handoff), and no write ever
//     moves a checkpoint backwards;
//   - every save() either succeeds (and its write is in the audit, by the
//     same worker) or fails with LeaseLost, as the CheckpointStore face of
//     the coordinator documents; a stopped coordinator's saves all fail;
//   - a stopped coordinator's leases are taken by the others;
//   - at the end every lease is owned by exactly one live coordinator,
//     holds() and snapshot() agree with the table, the live coordinators
//     are within one lease of each other, and each shard's checkpoint is
//     the last (largest) one a save() reported written.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "sluice/core/clock.h"
#include "sluice/kinesis/kcl/lease_coordinator.h"
#include "sluice/kinesis/kcl/lease_table.h"
#include "support/test_util.h"

namespace sluice::kinesis::kcl {
namespace {

using namespace std::chrono_literals;

constexpr int kShards = 12;
constexpr std::int64_t kSequenceBase = 1000000;  // checkpoints are kSequenceBase + n

std::string shard_name(int i) {
  std::string n = std::to_string(i);
  return "shardId-" + std::string(12 - n.size(), '0') + n;
}

std::vector<std::string> all_shards() {
  std::vector<std::string> out;
  for (int i = 0; i < kShards; ++i) out.push_back(shard_name(i));
  return out;
}

// A checkpoint's place in a shard: the start sentinels before every
// sequence number, SHARD_END after.
std::int64_t rank(const std::string& checkpoint) {
  if (checkpoint == kShardEnd) return INT64_MAX;
  if (checkpoint.empty() || !is_sequence_number(checkpoint)) return -1;
  return std::stoll(checkpoint);
}

// Every write to the shared table, judged in the table's own order.
struct TableAudit {
  std::mutex mu;  // held around each audited write, so that the audit's order is the table's
  std::vector<std::string> violations;
  // Successful checkpoint writes: (lease key, checkpoint) -> writer.
  std::map<std::pair<std::string, std::string>, std::string> checkpoints;
  std::int64_t writes = 0;
};

// One coordinator's way into the one shared MemoryLeaseTable: forwards every
// call; around every write, reads the item before and after (under the
// audit lock, so nothing else writes in between) and records what the
// table's rules forbid.
class AuditedTable final : public LeaseTable {
 public:
  AuditedTable(std::shared_ptr<MemoryLeaseTable> inner, std::string writer, TableAudit* audit)
      : inner_(std::move(inner)), writer_(std::move(writer)), audit_(audit) {}

  const std::string& name() const override { return inner_->name(); }
  Status create_if_missing(bool owner_index, std::chrono::milliseconds timeout) override {
    return inner_->create_if_missing(owner_index, timeout);
  }
  Result<std::vector<Lease>> list(std::size_t* skipped) override { return inner_->list(skipped); }
  Result<std::optional<Lease>> get(std::string_view key) override { return inner_->get(key); }
  Status create(const Lease& lease) override {
    return audited("create", lease.lease_key, false, [&] { return inner_->create(lease); });
  }
  Status renew(std::string_view key, std::int64_t counter, bool handing_over) override {
    return audited("renew", key, true, [&] { return inner_->renew(key, counter, handing_over); });
  }
  Status take(const Lease& seen, std::string_view owner) override {
    return audited("take", seen.lease_key, false, [&] { return inner_->take(seen, owner); });
  }
  Status start_handoff(std::string_view key, std::string_view from,
                       std::string_view new_owner) override {
    return audited("start_handoff", key, false,
                   [&] { return inner_->start_handoff(key, from, new_owner); });
  }
  Status evict(std::string_view key, std::string_view owner,
               std::string_view checkpoint_owner) override {
    return audited("evict", key, false,
                   [&] { return inner_->evict(key, owner, checkpoint_owner); });
  }
  Status update_checkpoint(std::string_view key, std::int64_t counter,
                           const CheckpointUpdate& update) override {
    return audited(
        "update_checkpoint", key, true,
        [&] { return inner_->update_checkpoint(key, counter, update); }, &update.checkpoint);
  }
  Status prepare_checkpoint(std::string_view key, std::int64_t counter,
                            std::string_view sequence_number, std::int64_t sub_sequence_number,
                            const std::optional<std::string>& state) override {
    return audited("prepare_checkpoint", key, true, [&] {
      return inner_->prepare_checkpoint(key, counter, sequence_number, sub_sequence_number, state);
    });
  }
  Status update_children(std::string_view key, const std::vector<std::string>& children) override {
    return audited("update_children", key, false,
                   [&] { return inner_->update_children(key, children); });
  }
  Status remove(std::string_view key) override {
    return audited("remove", key, false, [&] { return inner_->remove(key); });
  }

 private:
  template <class Write>
  Status audited(const char* op, std::string_view key, bool owner_only, Write&& write,
                 const std::string* checkpoint = nullptr) {
    std::lock_guard lock(audit_->mu);
    auto before = inner_->get(key);
    Status s = write();
    if (!s.ok()) return s;
    ++audit_->writes;
    auto after = inner_->get(key);
    const std::string what = std::string(op) + " by " + writer_ + " on " + std::string(key);
    if (!before.ok() || !after.ok()) {
      audit_->violations.push_back(what + ": reading the item failed");
      return s;
    }
    if (*before && *after) {
      const Lease& b = **before;
      const Lease& a = **after;
      if (rank(a.checkpoint) < rank(b.checkpoint)) {
        audit_->violations.push_back(what + " moved the checkpoint back from " + b.checkpoint +
                                     " to " + a.checkpoint);
      }
      // The counter rule: only the lease's owner (or, during a handoff, its
      // old owner, the checkpointOwner) can write with the counter it holds.
      const bool owner =
          (b.lease_owner == writer_ && b.checkpoint_owner.empty()) || b.checkpoint_owner == writer_;
      if (owner_only && !owner) {
        audit_->violations.push_back(what + " succeeded while the table named leaseOwner=\"" +
                                     b.lease_owner + "\" checkpointOwner=\"" + b.checkpoint_owner +
                                     "\"");
      }
      if (checkpoint) {
        if (a.checkpoint != *checkpoint) {
          audit_->violations.push_back(what + " wrote " + *checkpoint + " but the table has " +
                                       a.checkpoint);
        }
        audit_->checkpoints[{std::string(key), *checkpoint}] = writer_;
      }
    } else if (owner_only) {
      audit_->violations.push_back(what + " succeeded on a missing lease");
    }
    return s;
  }

  std::shared_ptr<MemoryLeaseTable> inner_;
  std::string writer_;
  TableAudit* audit_;
};

// The checkpoints of one shard: numbers drawn and saved under one lock, so
// that the order of the saves is the order of the numbers.
struct ShardSaves {
  std::mutex mu;
  std::int64_t next = 0;
  std::vector<std::pair<std::int64_t, std::string>> succeeded;  // (n, saver)
  std::int64_t refused = 0;
};

// One coordinator and the threads around it.
struct Member {
  std::string id;
  std::shared_ptr<LeaseCoordinator> coordinator;
  std::jthread driver;               // balance(), final checkpoint and release() of to_shed
  std::jthread saver;                // save() of held (and sometimes not held) shards
  std::jthread prober;               // snapshot(), holds(), list(), lease(), renew_now()
  std::atomic<bool> stopped{false};  // set once stop() returned
  std::atomic<int> balances{0};
  std::atomic<int> acquired{0};
  std::atomic<int> released{0};
  std::mutex mu;
  std::vector<std::string> lost;  // on_lost
};

class KclCoordinatorConcurrencyTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& m : members_) {
      m->driver = {};
      m->saver = {};
      m->prober = {};
    }
    for (auto& m : members_) (void)m->coordinator->stop();
  }

  LeaseCoordinatorOptions options(const std::string& id) {
    LeaseCoordinatorOptions o;
    o.worker_id = id;
    o.management.failover_time = 400ms;
    o.management.take_interval = 50ms;
    o.management.handoff_timeout = 1000ms;
    o.management.start_strategy = StartStrategy::oldest();
    o.metrics = &metrics_;
    if (std::getenv("SLUICE_TEST_DEBUG")) o.logger = make_stderr_logger(LogLevel::kDebug);
    return o;
  }

  void violation(std::string text) {
    std::lock_guard lock(mu_);
    violations_.push_back(std::move(text));
  }

  // Draws the shard's next checkpoint and saves it through `m`; every
  // outcome but success and LeaseLost is a violation.
  Status save_next(Member& m, const std::string& shard) {
    ShardSaves& saves = saves_.at(shard);
    std::lock_guard lock(saves.mu);
    const std::int64_t n = ++saves.next;
    const bool was_stopped = m.stopped.load();
    Status s = m.coordinator->save(
        "stream", shard, Checkpoint{std::to_string(kSequenceBase + n), std::nullopt, false});
    if (s.ok()) {
      saves.succeeded.emplace_back(n, m.id);
      if (was_stopped) violation("save of " + shard + " by " + m.id + " succeeded after stop()");
    } else if (s.code() == StatusCode::kLeaseLost) {
      ++saves.refused;
    } else {
      violation("save of " + shard + " by " + m.id + " failed with " + s.to_string());
    }
    return s;
  }

  // The engine's coordination loop: balance every take interval (or at
  // next_step_at), shard sync now and then, checkpoint and release every
  // lease to shed.
  void drive(Member& m, std::stop_token stop) {
    const auto& clock = Clock::real();
    const auto shards = all_shards();
    std::vector<ShardLineage> lineage;
    for (int i = 0; i < kShards; ++i) {
      lineage.push_back({shard_name(i), {}, "0", "0", true});
    }
    for (int round = 0; !stop.stop_requested() && round < 2000; ++round) {
      if (round % 10 == 0) {
        Status s = m.coordinator->shards_listed(lineage);
        if (!s.ok()) violation("shards_listed by " + m.id + ": " + s.to_string());
      }
      auto step = m.coordinator->balance(shards);
      auto wake = clock.now() + take_interval_;
      if (!step.ok()) {
        violation("balance by " + m.id + ": " + step.status().to_string());
      } else {
        ++m.balances;
        m.acquired += static_cast<int>(step->acquired.size());
        for (const auto& shard : step->to_shed) {
          (void)save_next(m, shard);  // the final checkpoint (it may find the lease gone)
          Status s = m.coordinator->release(shard);
          if (!s.ok()) violation("release of " + shard + " by " + m.id + ": " + s.to_string());
          ++m.released;
        }
        if (step->next_step_at && *step->next_step_at < wake) wake = *step->next_step_at;
      }
      if (!clock.sleep_until(wake, stop)) break;
    }
  }

  void save_loop(Member& m, std::stop_token stop) {
    std::mt19937 rng(static_cast<std::uint32_t>(std::hash<std::string>{}(m.id)));
    for (int i = 0; !stop.stop_requested() && i < 20000; ++i) {
      std::string shard = shard_name(static_cast<int>(rng() % kShards));
      if (rng() % 4 != 0) {
        // Mostly a shard it holds, as a processor would; only the even
        // ones, so that the others are kept by the renewer alone.
        std::vector<std::string> even;
        for (const auto& h : m.coordinator->snapshot().held) {
          if ((h.back() - '0') % 2 == 0) even.push_back(h);
        }
        if (!even.empty()) shard = even[rng() % even.size()];
      }
      (void)save_next(m, shard);
      std::this_thread::sleep_for(4ms);
    }
  }

  void probe_loop(Member& m, std::stop_token stop) {
    std::mt19937 rng(static_cast<std::uint32_t>(std::hash<std::string>{}(m.id) + 1));
    for (int i = 0; !stop.stop_requested() && i < 20000; ++i) {
      const CoordinatorSnapshot s = m.coordinator->snapshot();
      const std::set<std::string> held(s.held.begin(), s.held.end());
      std::set<std::string> in_scan;
      for (const auto& l : s.leases) in_scan.insert(l.shard_id);
      if (held.size() != s.held.size()) violation("snapshot of " + m.id + ": held twice");
      for (const auto& h : s.handing_over) {
        if (!held.count(h)) violation("snapshot of " + m.id + ": hands over " + h + " not held");
      }
      for (const auto& h : s.held) {
        if (!in_scan.count(h)) violation("snapshot of " + m.id + ": holds " + h + " not scanned");
      }
      if (s.target < 0) violation("snapshot of " + m.id + ": negative target");
      const std::string shard = shard_name(static_cast<int>(rng() % kShards));
      // Leases are never deleted here: a held one is always in the last scan.
      if (m.coordinator->holds(shard) && !m.coordinator->lease(shard)) {
        violation(m.id + " holds " + shard + " but lease() does not know it");
      }
      switch (i % 3) {
        case 0:
          m.coordinator->renew_now();
          break;
        case 1: {
          auto listed = m.coordinator->list("stream");
          if (!listed.ok()) violation("list by " + m.id + ": " + listed.status().to_string());
          break;
        }
        default: {
          auto got = m.coordinator->get("stream", shard);
          if (!got.ok()) violation("get by " + m.id + ": " + got.status().to_string());
        }
      }
      std::this_thread::sleep_for(3ms);
    }
  }

  Member& join(const std::string& id) {
    auto m = std::make_unique<Member>();
    m->id = id;
    auto table = std::make_shared<AuditedTable>(table_, id, &audit_);
    auto c = LeaseCoordinator::create(table, options(id));
    EXPECT_TRUE(c.ok()) << c.status();
    m->coordinator = *c;
    Member* p = m.get();
    EXPECT_TRUE(m->coordinator
                    ->start("stream",
                            [p](const std::string& shard) {
                              std::lock_guard lock(p->mu);
                              p->lost.push_back(shard);
                            })
                    .ok());
    m->driver = std::jthread([this, p](std::stop_token st) { drive(*p, st); });
    m->saver = std::jthread([this, p](std::stop_token st) { save_loop(*p, st); });
    m->prober = std::jthread([this, p](std::stop_token st) { probe_loop(*p, st); });
    members_.push_back(std::move(m));
    return *members_.back();
  }

  std::vector<Lease> scan() {
    auto all = table_->list();
    EXPECT_TRUE(all.ok()) << all.status();
    return all.ok() ? *all : std::vector<Lease>{};
  }

  // Why the table is not settled over `live` (empty when it is): every lease
  // owned by one of them without a handoff, each held (holds() and
  // snapshot()) by its owner and by no one else, counts within one.
  std::string unsettled(const std::vector<Member*>& live) {
    std::map<std::string, int> count;
    std::string why;
    const auto leases = scan();
    if (leases.size() != kShards) why += "leases: " + std::to_string(leases.size()) + "; ";
    for (const auto& l : leases) {
      if (!l.checkpoint_owner.empty()) why += l.shard_id + " in handoff; ";
      int holders = 0;
      bool owner_live = false;
      for (Member* m : live) {
        if (m->coordinator->holds(l.shard_id)) {
          ++holders;
          if (m->id != l.lease_owner) why += l.shard_id + " held by non-owner " + m->id + "; ";
        }
        owner_live |= m->id == l.lease_owner;
      }
      if (!owner_live) why += l.shard_id + " owned by \"" + l.lease_owner + "\"; ";
      if (holders != 1) why += l.shard_id + " held by " + std::to_string(holders) + "; ";
      ++count[l.lease_owner];
    }
    int lo = kShards, hi = 0;
    for (Member* m : live) {
      const int n = count[m->id];
      lo = std::min(lo, n);
      hi = std::max(hi, n);
      std::set<std::string> owned;
      for (const auto& l : leases) {
        if (l.lease_owner == m->id) owned.insert(l.shard_id);
      }
      const auto held = m->coordinator->snapshot().held;
      if (std::set<std::string>(held.begin(), held.end()) != owned) {
        why += m->id + "'s snapshot disagrees with the table; ";
      }
      why += m->id + "=" + std::to_string(n) + " ";
    }
    if (hi - lo > 1) return why + "(not within one)";
    return why.find(';') == std::string::npos ? std::string() : why;
  }

  static void stop_threads(Member& m) {
    m.driver = {};  // jthread: request_stop and join
    m.saver = {};
    m.prober = {};
  }

  const std::chrono::milliseconds take_interval_ = 50ms;
  MetricsRegistry metrics_;
  std::shared_ptr<MemoryLeaseTable> table_ = std::make_shared<MemoryLeaseTable>("t", &metrics_);
  TableAudit audit_;
  std::map<std::string, ShardSaves> saves_ = [] {
    std::map<std::string, ShardSaves> m;
    for (const auto& s : all_shards()) m[s];
    return m;
  }();
  std::mutex mu_;
  std::vector<std::string> violations_;
  std::vector<std::unique_ptr<Member>> members_;
};

TEST_F(KclCoordinatorConcurrencyTest,
       CoordinatorsRacingOnOneTableKeepOneOwnerPerLeaseAndCheckpointsOnlyMoveForward) {
  const auto shards = all_shards();
  Member& a = join("worker-a");
  Member& b = join("worker-b");
  Member& c = join("worker-c");
  Member& d = join("worker-d");
  EXPECT_TRUE(sluice::testing::wait_until(
      [&] {
        return unsettled({&a, &b, &c, &d}).empty();
      },
      15s, 20ms))
      << "four coordinators never balanced: " << unsettled({&a, &b, &c, &d});
  std::this_thread::sleep_for(500ms);  // everything racing in steady state

  // worker-c stops gracefully, as the engine stops: no more balancing, a
  // final checkpoint of each held shard, then stop(), which gives its
  // leases up; its saver and prober go on racing with the stop.
  c.driver = {};
  for (const auto& shard : c.coordinator->snapshot().held) (void)save_next(c, shard);
  EXPECT_TRUE(c.coordinator->stop().ok());
  c.stopped = true;
  EXPECT_TRUE(c.coordinator->snapshot().held.empty());
  for (const auto& shard : shards) EXPECT_FALSE(c.coordinator->holds(shard)) << shard;
  EXPECT_TRUE(sluice::testing::wait_until(
      [&] {
        for (const auto& l : scan()) {
          if (l.lease_owner.empty() || l.lease_owner == c.id || l.checkpoint_owner == c.id) {
            return false;
          }
        }
        return true;
      },
      15s, 10ms))
      << "worker-c's leases were not all taken by the others";
  std::this_thread::sleep_for(300ms);
  stop_threads(c);

  // worker-e joins: it gets its share by handoffs from the others.
  Member& e = join("worker-e");
  std::this_thread::sleep_for(800ms);
  const std::vector<Member*> live = {&a, &b, &d, &e};
  for (Member* m : live) {
    m->saver = {};
    m->prober = {};
  }
  for (Member* m : live) m->driver = {};

  // Settle: drive the live coordinators one after another (no more races
  // between their plans) until the table is balanced, as the last rounds
  // of the engine would.
  std::string why;
  for (auto deadline = std::chrono::steady_clock::now() + 15s;
       std::chrono::steady_clock::now() < deadline;) {
    for (Member* m : live) {
      auto step = m->coordinator->balance(shards);
      ASSERT_TRUE(step.ok()) << step.status();
      for (const auto& shard : step->to_shed) {
        (void)save_next(*m, shard);
        ASSERT_TRUE(m->coordinator->release(shard).ok());
      }
    }
    why = unsettled(live);
    if (why.empty()) break;
    std::this_thread::sleep_for(take_interval_ + 10ms);
  }
  EXPECT_EQ(why, "") << "not settled";

  {
    std::lock_guard lock(mu_);
    for (const auto& v : violations_) ADD_FAILURE() << v;
  }
  {
    std::lock_guard lock(audit_.mu);
    for (const auto& v : audit_.violations) ADD_FAILURE() << v;
  }

  // Each shard's checkpoint is the largest one a save() reported written,
  // and every successful save() is a write of its own saver in the table.
  std::int64_t succeeded = 0, refused = 0;
  std::map<std::string, Lease> by_shard;
  for (const auto& l : scan()) by_shard[l.shard_id] = l;
  for (const auto& shard : shards) {
    ShardSaves& saves = saves_.at(shard);
    std::lock_guard lock(saves.mu);
    succeeded += static_cast<std::int64_t>(saves.succeeded.size());
    refused += saves.refused;
    std::int64_t largest = 0;
    for (const auto& [n, saver] : saves.succeeded) {
      largest = std::max(largest, n);
      const std::string text = std::to_string(kSequenceBase + n);
      std::lock_guard audit(audit_.mu);
      auto w = audit_.checkpoints.find({shard, text});
      if (w == audit_.checkpoints.end()) {
        ADD_FAILURE() << shard << ": save of " << text << " by " << saver
                      << " succeeded but the table never got it";
      } else {
        EXPECT_EQ(w->second, saver) << shard << " " << text;
      }
    }
    ASSERT_TRUE(by_shard.count(shard)) << shard;
    EXPECT_EQ(by_shard[shard].checkpoint,
              largest == 0 ? std::string(kTrimHorizon) : std::to_string(kSequenceBase + largest))
        << shard;
  }
  std::int64_t writes = 0;
  {
    std::lock_guard lock(audit_.mu);
    writes = audit_.writes;
  }
  std::cout << "[ stats    ] saves succeeded " << succeeded << ", refused " << refused
            << "; table writes " << writes << "\n";
  EXPECT_GT(succeeded, 100) << "too few checkpoints to say anything";
  EXPECT_GT(refused, 0) << "no save was ever refused: the LeaseLost path went untested";
  int balances = 0, released = 0;
  for (const auto& m : members_) {
    balances += m->balances;
    released += m->released;
  }
  std::cout << "[ stats    ] balance steps " << balances << ", leases shed " << released
            << ", taken by the joiner " << e.acquired.load() << "\n";
  EXPECT_GT(balances, 40);
  EXPECT_GT(released, 0) << "no lease was ever shed: no handoff happened";
  EXPECT_GT(e.acquired.load(), 0);

  // Finally all stop: every lease is given up.
  for (Member* m : live) EXPECT_TRUE(m->coordinator->stop().ok()) << m->id;
  for (const auto& l : scan()) {
    EXPECT_EQ(l.lease_owner, "") << l.shard_id;
    EXPECT_EQ(l.checkpoint_owner, "") << l.shard_id;
  }
}

}  // namespace
}  // namespace sluice::kinesis::kcl
