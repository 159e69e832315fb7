// The lease planner's rules: fair shares within one lease, a balanced table
// moves nothing, invisible workers take one lease first, expired leases are
// free (very old first) and mark their owner gone, steals by handoff never collide between takers,
// leases_to_acquire and max_leases.
#include <gtest/gtest.h>

#include <algorithm>

#include "kinesis/kcl/lease_planner.h"

namespace sluice::kinesis::kcl {
namespace {

std::string shard(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "shardId-%012d", i);
  return buf;
}

// `owners[i]` owns shard i ("" = unowned); every lease is workable.
PlanInput input(const std::string& me, const std::vector<std::string>& owners) {
  PlanInput in;
  in.me = me;
  for (std::size_t i = 0; i < owners.size(); ++i) {
    LeaseView v;
    v.shard_id = shard(static_cast<int>(i));
    v.owner = owners[i];
    v.workable = true;
    in.leases.push_back(v);
    if (owners[i] == me) in.held.insert(v.shard_id);
  }
  return in;
}

TEST(KclPlannerTest, ABalancedTableMovesNothing) {
  const std::vector<std::string> owners = {"a", "a", "a", "b", "b", "b", "c", "c"};
  for (const char* me : {"a", "b", "c"}) {
    LeasePlan p = plan_leases(input(me, owners));
    EXPECT_TRUE(p.balanced) << me;
    EXPECT_TRUE(p.take.empty()) << me;
    EXPECT_TRUE(p.steal.empty()) << me;
    EXPECT_TRUE(p.shed.empty()) << me;
    EXPECT_TRUE(p.adopt.empty()) << me;
    EXPECT_EQ(p.need, 0) << me;
    EXPECT_EQ(p.workers, (std::vector<std::string>{"a", "b", "c"}));
  }
}

TEST(KclPlannerTest, SharesDifferByAtMostOneAndHeaviestKeepTheExtra) {
  // 8 leases, 3 workers: 3, 3, 2. a holds 4 now: it keeps one of the extras.
  LeasePlan p = plan_leases(input("c", {"a", "a", "a", "a", "b", "b", "b", "c"}));
  EXPECT_EQ(p.quota["a"], 3);
  EXPECT_EQ(p.quota["b"], 3);
  EXPECT_EQ(p.quota["c"], 2);
  EXPECT_EQ(p.need, 1);
  ASSERT_EQ(p.steal.size(), 1u);
  EXPECT_EQ(p.steal[0].second, "a") << "taken from the worker above its share";
  EXPECT_FALSE(p.balanced);
}

TEST(KclPlannerTest, AWorkerWithNothingTakesOneLeaseFirst) {
  // Invisible to the others until it owns something: one lease, not a share
  // computed as if it were alone.
  LeasePlan p = plan_leases(input("new", {"", "", "", "", "", "", "", ""}));
  EXPECT_EQ(p.target, 8);
  EXPECT_EQ(p.limit, 1);
  EXPECT_EQ(p.take.size(), 8u) << "candidates, best first";
  // Once it holds one, it takes the rest of its share.
  LeasePlan q = plan_leases(input("new", {"new", "", "", "", "", "", "", ""}));
  EXPECT_EQ(q.limit, 7);
}

TEST(KclPlannerTest, LeasesToAcquireCapsNewLeasesPerCycle) {
  PlanInput in = input("me", {"me", "", "", "", "", "", "", ""});
  in.leases_to_acquire = 2;
  EXPECT_EQ(plan_leases(in).limit, 2);
}

TEST(KclPlannerTest, MaxLeasesCapsTheShareAndShedsTheExcess) {
  PlanInput in = input("me", {"me", "me", "me", "me"});
  in.max_leases = 2;
  LeasePlan p = plan_leases(in);
  EXPECT_EQ(p.target, 2);
  EXPECT_EQ(p.shed.size(), 2u);
  PlanInput free = input("me", {"me", "", "", ""});
  free.max_leases = 2;
  EXPECT_EQ(plan_leases(free).limit, 1);
}

TEST(KclPlannerTest, ExpiredLeasesAreFreeAndVeryOldOnesComeFirst) {
  PlanInput in = input("me", {"me", "dead", "dead", "dead"});
  in.leases[1].expired = true;
  in.leases[2].expired = true;
  in.leases[2].very_old = true;
  in.leases[3].expired = true;
  LeasePlan p = plan_leases(in);
  EXPECT_EQ(p.workers, std::vector<std::string>{"me"}) << "an expired owner is not a live worker";
  ASSERT_EQ(p.take.size(), 3u);
  EXPECT_EQ(p.take[0], shard(2));
  EXPECT_EQ(p.limit, 3);
}

TEST(KclPlannerTest, OneExpiredLeaseMarksItsOwnerGoneSoItsLeasesAreTakenAsEachExpires) {
  // "dead" renewed its leases at different moments: one has expired, two
  // have not yet. The survivors' shares are computed without it (9 leases,
  // 2 workers: 5 and 4), so the expired lease is taken now, not when the
  // last of dead's leases expires; dead's live leases are never stolen.
  PlanInput in = input("b", {"a", "a", "a", "b", "b", "b", "dead", "dead", "dead"});
  in.leases[6].expired = true;
  LeasePlan p = plan_leases(in);
  EXPECT_EQ(p.workers, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(p.active, 9);
  EXPECT_EQ(p.quota["a"] + p.quota["b"], 9);
  EXPECT_GE(p.need, 1);
  EXPECT_EQ(p.take, std::vector<std::string>{shard(6)});
  EXPECT_TRUE(p.steal.empty()) << "a gone worker's unexpired leases wait for their own expiry";
  EXPECT_FALSE(p.balanced);
}

TEST(KclPlannerTest, WhileLeasesAreFreeTheExtrasGoByIdSoViewsAFewTakesApartAgree) {
  // A dead worker's 8 leases are free; the survivors hold 8 each. Before any
  // take, and after f1 took 3 and f3 took 2, the shares are the same (the
  // extras by id, not by the loads the takes change), so f2 takes the last 3.
  auto owners = [](int f1, int f2, int f3, int free) {
    std::vector<std::string> o;
    o.insert(o.end(), f1, "f1");
    o.insert(o.end(), f2, "f2");
    o.insert(o.end(), f3, "f3");
    o.insert(o.end(), free, "");
    return o;
  };
  LeasePlan before = plan_leases(input("f2", owners(8, 8, 8, 8)));
  LeasePlan after = plan_leases(input("f2", owners(11, 8, 10, 3)));
  for (const LeasePlan* p : {&before, &after}) {
    EXPECT_EQ(p->quota.at("f1"), 11);
    EXPECT_EQ(p->quota.at("f2"), 11);
    EXPECT_EQ(p->quota.at("f3"), 10);
  }
  EXPECT_EQ(after.limit, 3);
  EXPECT_EQ(after.take.size(), 3u);
  // Once nothing is free, the heaviest keep the extras: no lease moves.
  LeasePlan settled = plan_leases(input("f2", owners(10, 11, 11, 0)));
  EXPECT_TRUE(settled.balanced);
  EXPECT_TRUE(settled.steal.empty());
}

TEST(KclPlannerTest, TwoTakersNeverStealTheSameLease) {
  // a holds 6 of 8; b and c one each. Shares 3 (a), 3 (b), 2 (c).
  const std::vector<std::string> owners = {"a", "a", "a", "a", "a", "a", "b", "c"};
  LeasePlan b = plan_leases(input("b", owners));
  LeasePlan c = plan_leases(input("c", owners));
  EXPECT_EQ(b.steal.size(), 2u);
  EXPECT_EQ(c.steal.size(), 1u);
  for (const auto& [s, from] : b.steal) {
    EXPECT_EQ(from, "a");
    for (const auto& [t, from2] : c.steal) EXPECT_NE(s, t) << "both would steal " << s;
  }
  // a gives nothing up on its own: it only answers handoffs.
  LeasePlan a = plan_leases(input("a", owners));
  EXPECT_TRUE(a.steal.empty());
  EXPECT_TRUE(a.shed.empty());
}

TEST(KclPlannerTest, HandoffsToThisWorkerAreAdoptedOnceReleasedOrTimedOut) {
  PlanInput in = input("me", {"me", "a", "a"});
  // shard 2 is being handed from a to me: a still works on it.
  in.leases[2].owner = "me";
  in.leases[2].checkpoint_owner = "a";
  LeasePlan waiting = plan_leases(in);
  EXPECT_TRUE(waiting.adopt.empty()) << "the old owner finishes first";
  EXPECT_EQ(waiting.load["me"], 2) << "counted as mine: no second steal for it";
  in.leases[2].handoff_timed_out = true;
  EXPECT_EQ(plan_leases(in).adopt, std::vector<std::string>{shard(2)});
  in.leases[2].handoff_timed_out = false;
  in.leases[2].checkpoint_owner.clear();  // released by a
  EXPECT_EQ(plan_leases(in).adopt, std::vector<std::string>{shard(2)});
}

TEST(KclPlannerTest, FinishedAndUnworkableLeasesAreNotShared) {
  PlanInput in = input("me", {"me", "", "", ""});
  in.leases[1].finished = true;   // SHARD_END
  in.leases[2].workable = false;  // parent not done
  LeasePlan p = plan_leases(in);
  EXPECT_EQ(p.active, 2);
  EXPECT_EQ(p.take, std::vector<std::string>{shard(3)});
}

}  // namespace
}  // namespace sluice::kinesis::kcl
