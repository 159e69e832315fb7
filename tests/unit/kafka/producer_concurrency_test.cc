// The async producer's threads: senders that also serve delivery reports,
// the delivery thread that runs the callbacks, flush(), queue_depth() and
// close() racing them. Against librdkafka's in-process mock cluster, so the
// suite runs under TSan (label `concurrency`) with no back end to start.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sluice/kafka/mock_cluster.h"
#include "sluice/kafka/producer.h"

namespace sluice::kafka {
namespace {

using namespace std::chrono_literals;

// What the callbacks saw, under one lock.
struct Outcomes {
  std::mutex mu;
  std::map<int, std::vector<std::int64_t>> offsets;  // per partition, in callback order
  std::set<std::thread::id> threads;
  std::map<StatusCode, int> failures;
  int calls = 0;

  DeliveryCallback callback() {
    return [this](const Result<Delivery>& r) {
      std::lock_guard lock(mu);
      ++calls;
      threads.insert(std::this_thread::get_id());
      if (r.ok()) {
        offsets[r->partition].push_back(r->offset);
      } else {
        ++failures[r.status().code()];
      }
    };
  }
};

class ProducerConcurrencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = MockCluster::start();
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(*c);
    ASSERT_TRUE(cluster_->create_topic("t", 4).ok());
    ProducerConfig pc;
    pc.bootstrap_servers = cluster_->bootstrap_servers();
    pc.name = "racing";
    pc.enable_sync_producer = false;
    pc.enable_async_producer = true;
    auto p = Producer::create(pc, {.metrics = &metrics_});
    ASSERT_TRUE(p.ok()) << p.status();
    producer_ = std::move(*p);
  }

  MetricsRegistry metrics_;
  std::unique_ptr<MockCluster> cluster_;
  std::shared_ptr<Producer> producer_;
};

TEST_F(ProducerConcurrencyTest, SendersFlushAndStatsRaceAndEveryCallbackRunsOnceInOrder) {
  Outcomes out;
  constexpr int kSenders = 3;
  constexpr int kEach = 3000;  // each sender serves reports every 1024 sends
  std::set<std::thread::id> sender_ids;
  std::mutex ids_mu;
  std::atomic<bool> sending{true};
  std::thread observer([&] {
    // flush() and queue_depth() while the senders run: they serve reports
    // too, and must not run callbacks or lose any.
    for (int i = 0; i < 200 && sending.load(); ++i) {
      (void)producer_->queue_depth();
      if (i % 20 == 0) (void)producer_->flush(50ms);
      std::this_thread::sleep_for(1ms);
    }
  });
  std::vector<std::thread> senders;
  std::atomic<int> refused{0};
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&, s] {
      {
        std::lock_guard lock(ids_mu);
        sender_ids.insert(std::this_thread::get_id());
      }
      for (int i = 0; i < kEach; ++i) {
        const std::string value = std::to_string(s) + ":" + std::to_string(i);
        if (!producer_->send_async("t", std::nullopt, value, out.callback()).ok()) ++refused;
      }
    });
  }
  for (auto& t : senders) t.join();
  sending = false;
  observer.join();
  ASSERT_TRUE(producer_->flush(30s).ok());

  EXPECT_EQ(refused.load(), 0);
  std::lock_guard lock(out.mu);
  EXPECT_EQ(out.calls, kSenders * kEach);
  EXPECT_TRUE(out.failures.empty());
  ASSERT_EQ(out.threads.size(), 1u) << "callbacks ran on more than the delivery thread";
  EXPECT_EQ(sender_ids.count(*out.threads.begin()), 0u);
  std::size_t total = 0;
  for (const auto& [partition, offsets] : out.offsets) {
    for (std::size_t i = 0; i < offsets.size(); ++i) {
      ASSERT_EQ(offsets[i], static_cast<std::int64_t>(i)) << "partition " << partition;
    }
    total += offsets.size();
  }
  EXPECT_EQ(total, static_cast<std::size_t>(kSenders * kEach));
  EXPECT_EQ(producer_->queue_depth(), 0u);
}

TEST_F(ProducerConcurrencyTest, CloseWhileSendersSendGivesEveryQueuedMessageOneCallback) {
  Outcomes out;
  std::atomic<int> queued{0};
  std::atomic<int> refused_closed{0};
  std::vector<std::thread> senders;
  for (int s = 0; s < 2; ++s) {
    senders.emplace_back([&] {
      // Bounded: stops at the first refusal after close, or after 200,000.
      for (int i = 0; i < 200'000; ++i) {
        const Status st = producer_->send_async("t", "k", "v", out.callback());
        if (st.ok()) {
          ++queued;
        } else {
          EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st;
          ++refused_closed;
          return;
        }
      }
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (queued.load() < 5000 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_GE(queued.load(), 5000);
  const Status closed = producer_->close(10s);
  EXPECT_TRUE(closed.ok()) << closed;
  for (auto& t : senders) t.join();
  EXPECT_EQ(refused_closed.load(), 2);
  std::lock_guard lock(out.mu);
  // Every message queued got exactly one outcome, by the time close returned.
  EXPECT_EQ(out.calls, queued.load());
  EXPECT_EQ(out.threads.size(), 1u);
}

}  // namespace
}  // namespace sluice::kafka
