// Concurrency: producers and consumers of one NotificationQueue. Runs under TSan.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "sluice/redis/stream_client.h"

namespace sluice::redis {
namespace {

TEST(NotificationQueueConcurrency, EveryNotificationReachesExactlyOneReaderAndTheLastIsLast) {
  NotificationQueue q;
  constexpr int kProducers = 4;
  constexpr int kEach = 500;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&q, p] {
      for (int i = 0; i < kEach; ++i) {
        Notification n;
        n.type = NotificationType::kStreamAdded;
        n.info.data_stream_name = std::to_string(p) + ":" + std::to_string(i);
        q.push(std::move(n));
      }
    });
  }
  std::mutex mu;
  std::set<std::string> got;
  std::atomic<int> terminated{0};
  std::atomic<bool> order_ok{true};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      std::map<int, int> last_seen;  // per producer: items from one producer arrive in order
      while (auto n = q.pop()) {
        if (n->type == NotificationType::kStreamTerminated) {
          ++terminated;
          continue;
        }
        const auto colon = n->info.data_stream_name.find(':');
        const int p = std::stoi(n->info.data_stream_name.substr(0, colon));
        const int i = std::stoi(n->info.data_stream_name.substr(colon + 1));
        if (last_seen.count(p) && last_seen[p] >= i) order_ok = false;
        last_seen[p] = i;
        std::lock_guard lock(mu);
        EXPECT_TRUE(got.insert(n->info.data_stream_name).second);
      }
    });
  }
  for (auto& t : producers) t.join();
  Notification last;
  last.type = NotificationType::kStreamTerminated;
  ASSERT_TRUE(q.push_last(last));
  for (auto& t : readers) t.join();
  EXPECT_EQ(got.size(), static_cast<std::size_t>(kProducers * kEach));
  EXPECT_EQ(terminated.load(), 1);
  EXPECT_TRUE(order_ok.load());
}

}  // namespace
}  // namespace sluice::redis
