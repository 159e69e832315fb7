// Concurrency: several RedisStreamClients in one process (the executor
// thread, their users' threads, a callback dispatcher) against a
// redis-server of the test's own. Runs under TSan.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "sluice/redis/client.h"
#include "sluice/redis/lbs.h"
#include "sluice/redis/script.h"
#include "sluice/redis/stream_client.h"
#include "sluice/redis/subscriber.h"
#include "support/redis_server_process.h"
#include "support/test_util.h"

namespace sluice::redis {
namespace {

using namespace std::chrono_literals;

TEST(RedisStreamClientConcurrency, ClientsShareStreamsClaimAndShutDownCleanly) {
  sluice::testing::RedisServerProcess server;
  auto redis = *RedisClient::connect(server.url());
  MetricsRegistry metrics;
  constexpr int kClients = 3;
  constexpr int kStreams = 30;
  std::vector<std::unique_ptr<RedisStreamClient>> clients;
  std::vector<std::shared_ptr<NotificationQueue>> queues;
  std::atomic<int> callback_added{0};
  for (int i = 0; i < kClients; ++i) {
    StreamClientOptions o;
    o.consumer_id = "c" + std::to_string(i);
    o.heartbeat_interval = 300ms;
    o.lbs_idle_time = 4s;
    o.lbs_block_time = 200ms;
    o.metrics = &metrics;
    if (i == 0) {
      o.on_notification = [&](const Notification& n) {
        if (n.type == NotificationType::kStreamAdded) ++callback_added;
      };
    }
    auto c = RedisStreamClient::create(redis, "svc", o);
    ASSERT_TRUE(c.ok()) << c.status();
    auto q = (*c)->init();
    ASSERT_TRUE(q.ok()) << q.status();
    clients.push_back(std::move(*c));
    queues.push_back(*q);
  }
  // Producers on two threads.
  std::vector<std::thread> producers;
  for (int p = 0; p < 2; ++p) {
    producers.emplace_back([&, p] {
      for (int i = p; i < kStreams; i += 2)
        ASSERT_TRUE(lbs_add(*redis, "svc", "s-" + std::to_string(i)).ok());
    });
  }
  for (auto& t : producers) t.join();
  auto owners_of = [&](const std::string& s) {
    int n = 0;
    for (auto& c : clients) n += c->owns(s);
    return n;
  };
  ASSERT_TRUE(sluice::testing::wait_until([&] {
    for (int i = 0; i < kStreams; ++i) {
      if (owners_of("s-" + std::to_string(i)) != 1) return false;
    }
    return true;
  }));

  // An orphan, claimed by all at once from their own threads.
  const Script ghost(R"lua(
local id = redis.call('XADD', KEYS[1], '*', 'lbs-input', ARGV[1])
redis.call('XGROUP', 'SETID', KEYS[1], 'svc-group', id)
redis.call('XCLAIM', KEYS[1], 'svc-group', 'ghost', 0, id, 'IDLE', 60000, 'FORCE', 'JUSTID')
redis.call('SET', 'orphan<MUTEX_KEY_SEP>' .. id, 'ghost', 'PX', 100)
return id)lua");
  ASSERT_TRUE(redis->eval(ghost, {"svc-input"}, {R"({"DataStreamName":"orphan"})"}).ok());
  std::atomic<int> won{0};
  std::atomic<int> lost{0};
  std::vector<std::thread> claimers;
  for (int i = 1; i < kClients; ++i) {  // client 0 is in callback mode
    claimers.emplace_back([&, i] {
      while (auto n = queues[i]->pop_for(5s)) {
        if (n->type != NotificationType::kStreamExpired || n->info.data_stream_name != "orphan")
          continue;
        Status s = clients[i]->claim(n->info);
        (s.ok() ? won : lost)++;
        return;
      }
    });
  }
  for (auto& t : claimers) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(lost.load(), kClients - 2);
  EXPECT_EQ(owners_of("orphan"), 1);

  // Shut down from several threads at once.
  std::vector<std::thread> stoppers;
  for (auto& c : clients) {
    stoppers.emplace_back([&c] { EXPECT_TRUE(c->done().ok()); });
  }
  for (auto& t : stoppers) t.join();
  EXPECT_GT(callback_added.load(), 0);
  auto pending = redis->command({"XPENDING", "svc-input", "svc-group"});
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ((*pending)[0].integer(), 0);
  auto locks = redis->command({"KEYS", "*<MUTEX_KEY_SEP>*"});
  EXPECT_EQ(locks->size(), 0u);
}

TEST(RedisSubscriberConcurrency, MessagesFromManyPublishersArriveOnce) {
  sluice::testing::RedisServerProcess server;
  auto redis = *RedisClient::connect(server.url());
  std::mutex mu;
  std::map<std::string, int> got;
  Subscriber sub(redis, {"t:*"}, [&](const PubSubMessage& m) {
    std::lock_guard lock(mu);
    ++got[m.payload];
  });
  ASSERT_TRUE(sub.start().ok());
  std::vector<std::thread> publishers;
  for (int p = 0; p < 4; ++p) {
    publishers.emplace_back([&, p] {
      for (int i = 0; i < 50; ++i) {
        ASSERT_TRUE(
            redis->command({"PUBLISH", "t:" + std::to_string(p), std::to_string(p * 1000 + i)})
                .ok());
      }
    });
  }
  for (auto& t : publishers) t.join();
  ASSERT_TRUE(sluice::testing::wait_until([&] {
    std::lock_guard lock(mu);
    return got.size() == 200;
  }));
  sub.stop();
  std::lock_guard lock(mu);
  for (const auto& [payload, n] : got) EXPECT_EQ(n, 1) << payload;
}

}  // namespace
}  // namespace sluice::redis
