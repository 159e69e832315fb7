// Concurrency: several lease managers (one thread each) balance the same
// shards at once against a redis-server of the test's own. Runs under TSan.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "sluice/redis/client.h"
#include "sluice/redis/lease_manager.h"
#include "support/redis_server_process.h"

namespace sluice::redis {
namespace {

TEST(RedisLeaseContention, NoShardIsEverHeldByTwoManagers) {
  sluice::testing::RedisServerProcess server;
  auto redis = RedisClient::connect(server.url());
  ASSERT_TRUE(redis.ok()) << redis.status();
  std::vector<std::string> all;
  for (int i = 0; i < 12; ++i) all.push_back("shard-" + std::to_string(i));

  constexpr int kManagers = 4;
  constexpr int kRounds = 15;
  MetricsRegistry metrics;
  std::vector<std::unique_ptr<RedisLeaseManager>> managers;
  for (int i = 0; i < kManagers; ++i) {
    RedisLeaseManagerOptions o;
    o.prefix = "contention";
    o.owner_id = "m" + std::to_string(i);
    o.ttl = std::chrono::seconds(20);
    o.metrics = &metrics;
    auto m = RedisLeaseManager::create(*redis, o);
    ASSERT_TRUE(m.ok());
    ASSERT_TRUE((*m)->start("s", nullptr).ok());
    managers.push_back(std::move(*m));
  }
  std::atomic<int> errors{0};
  std::atomic<int> overlaps{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kManagers; ++i) {
    threads.emplace_back([&, i] {
      for (int r = 0; r < kRounds; ++r) {
        auto step = managers[i]->balance(all);
        if (!step.ok()) {
          ++errors;
          continue;
        }
        for (const auto& s : step->to_shed) {
          if (!managers[i]->release(s).ok()) ++errors;
        }
        // Whatever this manager believes it holds, Redis says it owns.
        for (const auto& s : step->held) {
          auto v = (*redis)->command({"GET", managers[i]->lease_key(s)});
          if (v.ok() && v->str() != managers[i]->owner_id() && managers[i]->holds(s)) ++overlaps;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(overlaps.load(), 0);

  // Settle, then every shard has exactly one holder and the share is fair (3 each).
  for (int round = 0; round < 10; ++round) {
    for (auto& m : managers) {
      auto step = m->balance(all);
      ASSERT_TRUE(step.ok());
      for (const auto& s : step->to_shed) ASSERT_TRUE(m->release(s).ok());
    }
  }
  std::map<std::string, int> holders;
  for (auto& m : managers) {
    int mine = 0;
    for (const auto& s : all) {
      if (m->holds(s)) {
        ++holders[s];
        ++mine;
      }
    }
    EXPECT_EQ(mine, 3) << m->owner_id();
  }
  for (const auto& s : all) EXPECT_EQ(holders[s], 1) << s;
  for (auto& m : managers) ASSERT_TRUE(m->stop().ok());
}

}  // namespace
}  // namespace sluice::redis
