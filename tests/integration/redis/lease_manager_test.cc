#include "sluice/redis/lease_manager.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <set>

#include "integration/redis/redis_test_util.h"
#include "sluice/redis/client.h"
#include "support/test_util.h"

namespace sluice::redis {
namespace {

using namespace std::chrono_literals;
using sluice::testing::unique_name;
using sluice::testing::wait_until;
using testing::shared_redis;

std::vector<std::string> shards(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "shardId-%012d", i);
    out.push_back(buf);
  }
  return out;
}

class RedisLeaseManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = shared_redis(&metrics_);
    ASSERT_TRUE(redis_);
    prefix_ = unique_name("kinesis:lease");
  }
  std::unique_ptr<RedisLeaseManager> make(std::string owner, std::chrono::milliseconds ttl = 10s,
                                          const Clock* clock = nullptr) {
    RedisLeaseManagerOptions o;
    o.prefix = prefix_;
    o.ttl = ttl;
    o.owner_id = std::move(owner);
    o.clock = clock;
    o.metrics = &metrics_;
    auto m = RedisLeaseManager::create(redis_, o);
    EXPECT_TRUE(m.ok()) << m.status();
    return std::move(*m);
  }
  // Runs balancing rounds the way the engine does (releasing what it is told
  // to shed) until nothing changes.
  void converge(const std::vector<RedisLeaseManager*>& managers,
                const std::vector<std::string>& workable) {
    for (int round = 0; round < 20; ++round) {
      bool changed = false;
      for (auto* m : managers) {
        auto step = m->balance(workable);
        ASSERT_TRUE(step.ok()) << step.status();
        changed |= !step->acquired.empty() || !step->to_shed.empty() || !step->lost.empty();
        for (const auto& s : step->to_shed) ASSERT_TRUE(m->release(s).ok());
      }
      if (!changed) return;
    }
    FAIL() << "balancing did not converge in 20 rounds";
  }
  std::size_t held(RedisLeaseManager* m, const std::vector<std::string>& all) {
    return static_cast<std::size_t>(
        std::count_if(all.begin(), all.end(), [&](const auto& s) { return m->holds(s); }));
  }

  MetricsRegistry metrics_;
  std::shared_ptr<RedisClient> redis_;
  std::string prefix_;
};

TEST_F(RedisLeaseManagerTest, AloneItTakesEveryShardWithSeed000Keys) {
  auto a = make("worker-a");
  ASSERT_TRUE(a->start("orders", nullptr).ok());
  auto step = a->balance(shards(4));
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_EQ(step->acquired, shards(4));
  EXPECT_EQ(step->held, shards(4));
  EXPECT_TRUE(step->to_shed.empty());
  const std::string key = prefix_ + ":orders:" + shards(4)[0];
  EXPECT_EQ(a->lease_key(shards(4)[0]), key);
  EXPECT_EQ(redis_->command({"GET", key})->str(), "worker-a");
  const long long pttl = redis_->command({"PTTL", key})->integer();
  EXPECT_GT(pttl, 9000);
  EXPECT_LE(pttl, 10000);
  // A second balance keeps them and takes nothing new.
  auto again = a->balance(shards(4));
  EXPECT_TRUE(again->acquired.empty());
  EXPECT_EQ(again->held.size(), 4u);
}

TEST_F(RedisLeaseManagerTest, FairShareWhenWorkersJoinAndLeave) {
  const auto all = shards(9);
  auto a = make("worker-a");
  auto b = make("worker-b");
  auto c = make("worker-c");
  ASSERT_TRUE(a->start("s", nullptr).ok());
  converge({a.get()}, all);
  EXPECT_EQ(held(a.get(), all), 9u);

  ASSERT_TRUE(b->start("s", nullptr).ok());
  converge({a.get(), b.get()}, all);
  EXPECT_EQ(held(a.get(), all) + held(b.get(), all), 9u);
  EXPECT_LE(held(a.get(), all), 5u);
  EXPECT_LE(held(b.get(), all), 5u);

  ASSERT_TRUE(c->start("s", nullptr).ok());
  converge({a.get(), b.get(), c.get()}, all);
  EXPECT_EQ(held(a.get(), all), 3u);
  EXPECT_EQ(held(b.get(), all), 3u);
  EXPECT_EQ(held(c.get(), all), 3u);

  // c leaves: it releases its leases and deregisters; the others share them.
  ASSERT_TRUE(c->stop().ok());
  EXPECT_EQ(*a->live_workers(), 2);
  converge({a.get(), b.get()}, all);
  EXPECT_EQ(held(a.get(), all) + held(b.get(), all), 9u);
  EXPECT_EQ(std::max(held(a.get(), all), held(b.get(), all)), 5u);
}

TEST_F(RedisLeaseManagerTest, LeasesExpireWhenTheRenewerStops) {
  const auto all = shards(3);
  ManualClock frozen;  // never advanced: this worker never renews (a stuck or SIGSTOPped process)
  auto a = make("worker-a", 400ms, &frozen);
  auto b = make("worker-b", 400ms);
  ASSERT_TRUE(a->start("s", nullptr).ok());
  ASSERT_TRUE(a->balance(all).ok());
  ASSERT_EQ(held(a.get(), all), 3u);
  ASSERT_TRUE(b->start("s", nullptr).ok());
  EXPECT_TRUE(b->balance(all)->acquired.empty());  // all taken for now
  // After the TTL a's leases and registration are gone: b takes everything.
  ASSERT_TRUE(wait_until(
      [&] {
        auto step = b->balance(all);
        return step.ok() && step->held.size() == 3;
      },
      5s, 50ms));
  for (const auto& s : all) EXPECT_EQ(redis_->command({"GET", b->lease_key(s)})->str(), "worker-b");
}

TEST_F(RedisLeaseManagerTest, AStaleOwnerCannotRenewOrReleaseAnothersLease) {
  std::atomic<int> lost_calls{0};
  std::string lost_shard;
  auto a = make("worker-a");
  auto b = make("worker-b");
  ASSERT_TRUE(a->start("s", [&](const std::string& s) {
                 lost_shard = s;
                 ++lost_calls;
               }).ok());
  ASSERT_TRUE(b->start("s", nullptr).ok());
  const auto one = shards(1);
  ASSERT_EQ(a->balance(one)->acquired, one);
  // a's lease lapses (it was paused past the TTL) and b takes the shard.
  ASSERT_TRUE(redis_->command({"DEL", a->lease_key(one[0])}).ok());
  ASSERT_EQ(b->balance(one)->acquired, one);

  a->renew_now();  // the stale owner wakes up and renews
  EXPECT_EQ(lost_calls.load(), 1);
  EXPECT_EQ(lost_shard, one[0]);
  EXPECT_FALSE(a->holds(one[0]));
  ASSERT_TRUE(a->release(one[0]).ok());  // and releases: a no-op for someone else's lease
  EXPECT_EQ(redis_->command({"GET", b->lease_key(one[0])})->str(), "worker-b");
  EXPECT_GT(redis_->command({"PTTL", b->lease_key(one[0])})->integer(), 5000);
  EXPECT_TRUE(b->holds(one[0]));
  // The loss is also reported by the next balance step.
  auto step = a->balance(one);
  EXPECT_EQ(step->lost, one);
}

TEST_F(RedisLeaseManagerTest, RenewerUsesTheInjectedClockAndReportsLosses) {
  ManualClock clock;
  std::mutex mu;
  std::vector<std::string> lost;
  auto a = make("worker-a", 10s, &clock);
  ASSERT_TRUE(a->start("s", [&](const std::string& s) {
                 std::lock_guard lock(mu);
                 lost.push_back(s);
               }).ok());
  const auto two = shards(2);
  ASSERT_EQ(a->balance(two)->acquired.size(), 2u);
  ASSERT_TRUE(redis_->command({"PEXPIRE", a->lease_key(two[0]), "3000"}).ok());
  ASSERT_TRUE(redis_->command({"SET", a->lease_key(two[1]), "intruder"}).ok());

  ASSERT_TRUE(clock.await_sleepers(1));
  EXPECT_GT(redis_->command({"PTTL", a->lease_key(two[0])})->integer(), 0);
  EXPECT_LE(redis_->command({"PTTL", a->lease_key(two[0])})->integer(),
            3000);  // no renewal before the interval
  clock.advance(a->options().effective_renew_interval());
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard lock(mu);
    return lost.size() == 1;
  }));
  EXPECT_GT(redis_->command({"PTTL", a->lease_key(two[0])})->integer(),
            5000);  // renewed to the full TTL
  EXPECT_EQ(lost[0], two[1]);
  EXPECT_TRUE(a->holds(two[0]));
  EXPECT_FALSE(a->holds(two[1]));
  EXPECT_EQ(redis_->command({"GET", a->lease_key(two[1])})->str(), "intruder");  // untouched
}

TEST_F(RedisLeaseManagerTest, StopReleasesEverythingAndDeregisters) {
  auto a = make("worker-a");
  ASSERT_TRUE(a->start("s", nullptr).ok());
  ASSERT_EQ(a->balance(shards(3))->held.size(), 3u);
  const std::string workers = a->workers_key();
  EXPECT_EQ(redis_->command({"ZSCORE", workers, "worker-a"})->is_nil(), false);
  ASSERT_TRUE(a->stop().ok());
  for (const auto& s : shards(3)) EXPECT_TRUE(redis_->command({"GET", a->lease_key(s)})->is_nil());
  EXPECT_TRUE(redis_->command({"ZSCORE", workers, "worker-a"})->is_nil());
  EXPECT_FALSE(a->holds(shards(3)[0]));
}

TEST_F(RedisLeaseManagerTest, ARestartedWorkerWithTheSameIdKeepsItsLeases) {
  auto a = make("worker-a");
  ASSERT_TRUE(a->start("s", nullptr).ok());
  ASSERT_EQ(a->balance(shards(2))->held.size(), 2u);
  auto again = make("worker-a");  // same owner id, e.g. after a crash within the TTL
  ASSERT_TRUE(again->start("s", nullptr).ok());
  EXPECT_EQ(again->balance(shards(2))->acquired.size(), 2u);
}

TEST(RedisLeaseManagerOptions, ValidateAndDefaults) {
  RedisLeaseManagerOptions o;
  EXPECT_TRUE(o.validate().ok());
  EXPECT_EQ(o.effective_renew_interval(), std::chrono::milliseconds(15000));
  o.renew_interval = std::chrono::milliseconds(30000);
  Status s = o.validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("renew_interval"), std::string_view::npos);
  o = {};
  o.ttl = std::chrono::milliseconds(0);
  EXPECT_NE(o.validate().message().find("ttl"), std::string_view::npos);

  auto redis = shared_redis();
  auto m = RedisLeaseManager::create(redis, {});
  ASSERT_TRUE(m.ok());
  // <hostname>-<pid>-<8 hex digits>
  const std::string& id = (*m)->owner_id();
  EXPECT_NE(id.find("-" + std::to_string(::getpid()) + "-"), std::string::npos) << id;
  EXPECT_EQ(id.size() - id.rfind('-') - 1, 8u) << id;
  EXPECT_EQ((*m)->balance(shards(1)).status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace sluice::redis
