// The lease coordinator over an in-memory lease table with a manual clock:
// expiry seen through counter changes (no clock sync), renewal, loss after
// failed renewals, graceful handoff, conditional checkpoints, and the
// leases shard sync creates.
#include <gtest/gtest.h>

#include <mutex>

#include "sluice/core/clock.h"
#include "sluice/kinesis/kcl/lease_coordinator.h"
#include "support/test_util.h"

namespace sluice::kinesis::kcl {
namespace {

using namespace std::chrono_literals;

class KclCoordinatorTest : public ::testing::Test {
 protected:
  std::shared_ptr<LeaseCoordinator> coordinator(const std::string& id,
                                                StartStrategy strategy = StartStrategy::oldest()) {
    LeaseCoordinatorOptions o;
    o.worker_id = id;
    o.management.failover_time = 2000ms;
    o.management.take_interval = 500ms;
    o.management.start_strategy = strategy;
    o.first_take_settle = 0ms;  // a settle would sleep on the manual clock
    o.clock = &clock_;
    o.metrics = &metrics_;
    if (std::getenv("SLUICE_TEST_DEBUG")) o.logger = make_stderr_logger(LogLevel::kDebug);
    auto c = LeaseCoordinator::create(table_, o);
    EXPECT_TRUE(c.ok()) << c.status();
    return *c;
  }
  void start(LeaseCoordinator& c) {
    ASSERT_TRUE(c.start("stream", [this, id = c.owner_id()](const std::string& shard) {
                   std::lock_guard lock(mu_);
                   lost_.push_back(id + ":" + shard);
                 }).ok());
  }
  void add_lease(const std::string& shard, const std::string& owner, std::int64_t counter,
                 const std::string& checkpoint = "TRIM_HORIZON") {
    Lease l;
    l.lease_key = shard;
    l.shard_id = shard;
    l.lease_owner = owner;
    l.lease_counter = counter;
    l.checkpoint = checkpoint;
    ASSERT_TRUE(table_->create(l).ok());
  }
  Lease get(const std::string& shard) {
    auto l = table_->get(shard);
    EXPECT_TRUE(l.ok() && *l) << shard;
    return l.ok() && *l ? **l : Lease{};
  }
  std::vector<std::string> lost() {
    std::lock_guard lock(mu_);
    return lost_;
  }

  ManualClock clock_;
  MetricsRegistry metrics_;
  std::shared_ptr<MemoryLeaseTable> table_ = std::make_shared<MemoryLeaseTable>("t", &metrics_);
  std::mutex mu_;
  std::vector<std::string> lost_;
};

TEST_F(KclCoordinatorTest, ALeaseExpiresOnlyWhenItsCounterStopsMovingOnThisWorkersClock) {
  add_lease("shardId-0", "other", 5);
  auto me = coordinator("me");
  start(*me);
  auto step = me->balance({"shardId-0"});
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_TRUE(step->acquired.empty()) << "a live worker's only lease is its share";
  // The owner renews: the counter moves, the lease is alive however old.
  for (int i = 0; i < 4; ++i) {
    clock_.advance(1500ms);
    ASSERT_TRUE(table_->renew("shardId-0", 5 + i, false).ok());
    auto s = me->balance({"shardId-0"});
    ASSERT_TRUE(s.ok());
    EXPECT_TRUE(s->acquired.empty()) << "renewed leases are never taken (round " << i << ")";
  }
  // The owner stops: after the failover time without a change, it is taken.
  clock_.advance(1500ms);
  ASSERT_TRUE(me->balance({"shardId-0"}).ok());
  EXPECT_FALSE(me->holds("shardId-0"));
  clock_.advance(1000ms);
  auto taken = me->balance({"shardId-0"});
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(taken->acquired, std::vector<std::string>{"shardId-0"});
  const Lease l = get("shardId-0");
  EXPECT_EQ(l.lease_owner, "me");
  EXPECT_EQ(l.lease_counter, 10);
  EXPECT_EQ(l.owner_switches_since_checkpoint, 1);
  ASSERT_TRUE(me->stop().ok());
  EXPECT_EQ(get("shardId-0").lease_owner, "") << "stop() gives leases up";
}

// The engine balances again at next_step_at: a dead worker's lease is taken
// the failover time after the scan that last saw it change, not at the
// first periodic take after that.
TEST_F(KclCoordinatorTest, EachStepNamesWhenAWatchedLeaseExpiresAndThatStepScansAfresh) {
  add_lease("shardId-0", "other", 5);
  auto me = coordinator("me");  // failover 2 s, take interval 500 ms
  start(*me);
  const auto t0 = clock_.now();
  auto first = me->balance({"shardId-0"});
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->next_step_at.has_value());
  EXPECT_EQ(*first->next_step_at, t0 + 2001ms) << "strictly after the failover time";

  // Renewed, then seen renewed: the expiry moves with the sighting.
  clock_.advance(300ms);
  ASSERT_TRUE(table_->renew("shardId-0", 5, false).ok());
  auto seen = me->balance({"shardId-0"});
  ASSERT_TRUE(seen.ok());
  ASSERT_TRUE(seen->next_step_at.has_value());
  EXPECT_EQ(*seen->next_step_at, t0 + 2301ms);

  // Renewed again just before the due step, 1 ms after a scan: the due
  // step scans although the last scan is fresh, so it sees the renewal and
  // neither tries a take nor loses track of the owner.
  clock_.advance(1900ms);  // t0 + 2200 ms: scanned, still alive
  ASSERT_TRUE(me->balance({"shardId-0"}).ok());
  ASSERT_TRUE(table_->renew("shardId-0", 6, false).ok());
  clock_.advance(101ms);  // t0 + 2301 ms: due
  auto due = me->balance({"shardId-0"});
  ASSERT_TRUE(due.ok());
  EXPECT_TRUE(due->acquired.empty());
  ASSERT_TRUE(due->next_step_at.has_value());
  EXPECT_EQ(*due->next_step_at, t0 + 2301ms + 2001ms) << "the renewal was seen at the due step";

  // The owner is gone: the step at next_step_at takes the lease.
  clock_.advance(2001ms);
  auto taken = me->balance({"shardId-0"});
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(taken->acquired, std::vector<std::string>{"shardId-0"});
  EXPECT_FALSE(taken->next_step_at.has_value()) << "no other worker's lease is left to watch";
  ASSERT_TRUE(me->stop().ok());
}

// While leases move, workers can compute shares from views a few writes
// apart and leave a free lease that nobody counts as theirs: a worker below
// the ceiling share looks again soon (take interval / 8), twice at most.
TEST_F(KclCoordinatorTest, LeftoverFreeLeasesBringTheNextStepForwardTwiceAtMost) {
  std::vector<std::string> all;
  for (int i = 0; i < 4; ++i) {
    add_lease("a-" + std::to_string(i), "a", 1);
    add_lease("b-" + std::to_string(i), "b", 1);
    all.push_back("a-" + std::to_string(i));
    all.push_back("b-" + std::to_string(i));
  }
  for (int i = 0; i < 3; ++i) {
    add_lease("me-" + std::to_string(i), "me", 1);  // assigned to this worker id
    all.push_back("me-" + std::to_string(i));
  }
  add_lease("free-0", "", 0);
  add_lease("free-1", "", 0);
  all.push_back("free-0");
  all.push_back("free-1");
  auto me = coordinator("me");  // failover 2 s, take interval 500 ms
  start(*me);
  const auto t0 = clock_.now();
  // 13 leases, 3 workers: shares 5, 4, 4 (the extra to a, by id). This worker
  // adopts its 3 and takes 1 free lease; one is left and 4 < ceil(13/3).
  auto first = me->balance(all);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->acquired.size(), 4u);
  ASSERT_TRUE(first->next_step_at.has_value());
  EXPECT_EQ(*first->next_step_at, t0 + 62500us);
  // Nobody took it: once more soon, then back to the watched expiries.
  clock_.advance(62500us);
  auto second = me->balance(all);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->acquired.empty()) << "the leftover is a's share";
  ASSERT_TRUE(second->next_step_at.has_value());
  EXPECT_EQ(*second->next_step_at, t0 + 125ms);
  clock_.advance(62500us);
  auto third = me->balance(all);
  ASSERT_TRUE(third.ok());
  ASSERT_TRUE(third->next_step_at.has_value());
  EXPECT_EQ(*third->next_step_at, t0 + 2001ms) << "a's and b's leases, seen at t0, expire then";
  ASSERT_TRUE(me->stop().ok());
}

TEST_F(KclCoordinatorTest, HeldLeasesAreRenewedAndLostAfterFailingForTheFailoverTime) {
  add_lease("shardId-0", "", 0);
  auto me = coordinator("me");
  start(*me);
  ASSERT_TRUE(me->balance({"shardId-0"}).ok());
  ASSERT_TRUE(me->holds("shardId-0"));
  const std::int64_t taken_at = get("shardId-0").lease_counter;
  clock_.advance(700ms);  // renew interval = failover / 3
  me->renew_now();
  EXPECT_EQ(get("shardId-0").lease_counter, taken_at + 1);
  table_->set_unavailable(true);
  for (int i = 0; i < 4; ++i) {
    clock_.advance(700ms);
    me->renew_now();
  }
  EXPECT_FALSE(me->holds("shardId-0"));
  EXPECT_EQ(lost(), std::vector<std::string>{"me:shardId-0"});
  table_->set_unavailable(false);
  auto save = me->save("stream", "shardId-0", Checkpoint{"100", std::nullopt, false});
  EXPECT_EQ(save.code(), StatusCode::kLeaseLost) << save;
  ASSERT_TRUE(me->stop().ok());
}

TEST_F(KclCoordinatorTest, CheckpointsAreConditionalOnTheCounterAndKeepSubSequenceNumbers) {
  add_lease("shardId-0", "", 0);
  auto me = coordinator("me");
  start(*me);
  ASSERT_TRUE(me->balance({"shardId-0"}).ok());
  me->note_checkpoint_position("shardId-0", {"100", 4});
  ASSERT_TRUE(me->save("stream", "shardId-0", Checkpoint{"100", std::nullopt, false}).ok());
  Lease l = get("shardId-0");
  EXPECT_EQ(l.checkpoint, "100");
  EXPECT_EQ(l.checkpoint_sub_sequence_number, 4) << "the last user record of the aggregate";
  auto back = me->get("stream", "shardId-0");
  ASSERT_TRUE(back.ok() && *back);
  EXPECT_EQ((*back)->sub_sequence_number, 4u);
  // Someone else takes the lease: the next checkpoint is refused, nothing written.
  ASSERT_TRUE(table_->take(get("shardId-0"), "thief").ok());
  auto refused = me->save("stream", "shardId-0", Checkpoint{"200", 0, false});
  EXPECT_EQ(refused.code(), StatusCode::kLeaseLost) << refused;
  EXPECT_EQ(get("shardId-0").checkpoint, "100");
  EXPECT_EQ(lost(), std::vector<std::string>{"me:shardId-0"});
  ASSERT_TRUE(me->stop().ok());
  EXPECT_EQ(get("shardId-0").lease_owner, "thief") << "stop() never releases another's lease";
}

TEST_F(KclCoordinatorTest, AJoiningWorkerGetsLeasesByGracefulHandoff) {
  for (int i = 0; i < 4; ++i) add_lease("shardId-" + std::to_string(i), "", 0);
  const std::vector<std::string> all = {"shardId-0", "shardId-1", "shardId-2", "shardId-3"};
  auto a = coordinator("a");
  auto b = coordinator("b");
  start(*a);
  start(*b);
  // Time passes for both; each renews what it holds (as its renewer
  // thread would, but before the next step, so the test is deterministic).
  auto tick = [&] {
    clock_.advance(300ms);
    a->renew_now();
    b->renew_now();
  };
  ASSERT_TRUE(a->balance(all).ok());  // takes one first, to be seen
  tick();
  ASSERT_TRUE(a->balance(all).ok());
  ASSERT_EQ(a->snapshot().held.size(), 4u);
  // b holds nothing: it starts a handoff of one lease (it takes one first).
  tick();
  ASSERT_TRUE(b->balance(all).ok());
  int handing = 0;
  std::string moving;
  for (const auto& s : all) {
    const Lease l = get(s);
    if (l.lease_owner == "b") {
      EXPECT_EQ(l.checkpoint_owner, "a") << "a still works on it while it checkpoints";
      moving = s;
      ++handing;
    }
  }
  ASSERT_EQ(handing, 1);
  // a sees the handoff: it sheds that shard (the engine checkpoints, then releases).
  tick();
  auto step = a->balance(all);
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->to_shed, std::vector<std::string>{moving});
  ASSERT_TRUE(a->save("stream", moving, Checkpoint{"42", std::nullopt, false}).ok())
      << "the old owner may still checkpoint during the handoff";
  ASSERT_TRUE(a->release(moving).ok());
  EXPECT_TRUE(get(moving).checkpoint_owner.empty());
  EXPECT_EQ(get(moving).lease_owner, "b");
  // b adopts it, then takes the rest of its share the same way.
  for (int round = 0; round < 10; ++round) {
    tick();
    ASSERT_TRUE(b->balance(all).ok());
    tick();
    auto s = a->balance(all);
    ASSERT_TRUE(s.ok());
    for (const auto& shed : s->to_shed) ASSERT_TRUE(a->release(shed).ok());
  }
  EXPECT_TRUE(b->holds(moving));
  EXPECT_EQ(a->snapshot().held.size(), 2u);
  EXPECT_EQ(b->snapshot().held.size(), 2u);
  EXPECT_EQ(get(moving).checkpoint, "42") << "the new owner starts where the old one stopped";
  EXPECT_TRUE(lost().empty()) << "a handoff is not a loss";
  ASSERT_TRUE(a->stop().ok());
  ASSERT_TRUE(b->stop().ok());
}

TEST_F(KclCoordinatorTest, ShardSyncCreatesLeasesWithLineageAndHashRanges) {
  std::vector<ShardLineage> shards = {
      {"shardId-0", {}, "0", "99", false},
      {"shardId-1", {}, "100", "199", true},
      {"shardId-2", {"shardId-0"}, "0", "49", true},
      {"shardId-3", {"shardId-0"}, "50", "99", true},
  };
  auto oldest = coordinator("me");
  start(*oldest);
  ASSERT_TRUE(oldest->shards_listed(shards).ok());
  auto items = table_->items();
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(get("shardId-0").checkpoint, "TRIM_HORIZON");
  const Lease child = get("shardId-2");
  EXPECT_EQ(child.parent_shard_ids, std::vector<std::string>{"shardId-0"});
  EXPECT_EQ(child.checkpoint, "TRIM_HORIZON");
  EXPECT_EQ(child.starting_hash_key, "0");
  EXPECT_EQ(child.ending_hash_key, "49");
  EXPECT_EQ(items["shardId-3"].at("parentShardId").type(), aws::AttributeValue::Type::kSS);
  ASSERT_TRUE(oldest->stop().ok());
}

TEST_F(KclCoordinatorTest, AtLatestAClosedParentGetsNoLeaseAndDoesNotBlockItsChildren) {
  std::vector<ShardLineage> shards = {
      {"shardId-0", {}, "0", "99", false},
      {"shardId-2", {"shardId-0"}, "0", "49", true},
  };
  auto me = coordinator("me", StartStrategy::latest());
  start(*me);
  ASSERT_TRUE(me->shards_listed(shards).ok());
  auto items = table_->items();
  EXPECT_FALSE(items.count("shardId-0"));
  EXPECT_EQ(get("shardId-2").checkpoint, "LATEST");
  auto checkpoints = me->list("stream");
  ASSERT_TRUE(checkpoints.ok());
  ASSERT_TRUE(checkpoints->count("shardId-0"));
  EXPECT_TRUE(checkpoints->at("shardId-0").shard_end) << "a parent with no lease does not block";
  ASSERT_TRUE(me->stop().ok());
}

TEST_F(KclCoordinatorTest, AFinishedParentGetsItsChildShardIds) {
  add_lease("shardId-0", "", 0);
  auto me = coordinator("me");
  start(*me);
  std::vector<ShardLineage> shards = {
      {"shardId-0", {}, "0", "99", false},
      {"shardId-2", {"shardId-0"}, "0", "49", true},
      {"shardId-3", {"shardId-0"}, "50", "99", true},
  };
  ASSERT_TRUE(me->shards_listed(shards).ok());
  ASSERT_TRUE(me->balance({"shardId-0"}).ok());
  ASSERT_TRUE(me->holds("shardId-0"));
  Checkpoint end;
  end.shard_end = true;
  ASSERT_TRUE(me->save("stream", "shardId-0", end).ok());
  const Lease l = get("shardId-0");
  EXPECT_EQ(l.checkpoint, "SHARD_END");
  EXPECT_EQ(l.child_shard_ids, (std::vector<std::string>{"shardId-2", "shardId-3"}));
  ASSERT_TRUE(me->stop().ok());
}

}  // namespace
}  // namespace sluice::kinesis::kcl
