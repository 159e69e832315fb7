// The Producer under concurrent put(), flush() and close() from several
// threads, with injected partial failures: every accepted record is reported
// exactly once, written exactly once, and each key's records keep their
// order. Runs under TSan (label concurrency).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "producer_fake_kinesis.h"
#include "sluice/kinesis/aggregation.h"
#include "sluice/kinesis/producer.h"
#include "support/test_util.h"

namespace sluice::kinesis {
namespace {

using namespace std::chrono_literals;
using producer_test::FakeKinesis;

ProducerOptions options_for(FakeKinesis& fake, MetricsRegistry& metrics) {
  ProducerOptions o;
  o.stream.name = "s";
  o.client = fake.client_options();
  o.linger = 2ms;
  o.metrics = &metrics;
  o.max_in_flight = 4;
  o.retry = RetryPolicy::exponential(1ms, 4ms, RetryPolicy::kUnlimited, Jitter::kFull);
  return o;
}

TEST(ProducerConcurrency, ManyThreadsExactlyOnceInKeyOrder) {
  for (bool aggregate : {false, true}) {
    FakeKinesis fake(3);
    std::atomic<int> n{0};
    fake.set_entry_fault([&n](int, int, const FakeKinesis::Stored&) -> std::optional<std::string> {
      if (++n % 7 == 0) return "ProvisionedThroughputExceededException";
      return std::nullopt;
    });
    MetricsRegistry metrics;
    auto o = options_for(fake, metrics);
    o.aggregate = aggregate;
    o.strict_order = !aggregate;
    o.max_buffered_records = 500;  // some backpressure too
    auto producer = *Producer::create(o);
    constexpr int kThreads = 4;
    constexpr int kPerThread = 600;
    std::atomic<int> reported{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          const std::string key = "t" + std::to_string(t) + "-k" + std::to_string(i % 5);
          Status s = producer->put({.partition_key = key, .data = std::to_string(i)},
                                   [&](const Result<PutResult>& r) {
                                     if (!r.ok()) ++failed;
                                     ++reported;
                                   });
          ASSERT_TRUE(s.ok()) << s;
          if (i % 200 == 199) producer->flush();
        }
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_TRUE(producer->close(30s).ok());
    EXPECT_EQ(reported.load(), kThreads * kPerThread);
    EXPECT_EQ(failed.load(), 0);
    std::map<std::string, std::vector<int>> per_key;
    std::size_t total = 0;
    for (const auto& [shard, records] : fake.stored()) {
      for (const auto& r : records) {
        std::vector<UserRecordView> users;
        if (deaggregate(r.data, users) == AggregateCheck::kAggregated) {
          for (const auto& u : users)
            per_key[std::string(u.partition_key)].push_back(std::stoi(std::string(u.data)));
        } else {
          per_key[r.partition_key].push_back(std::stoi(r.data));
        }
      }
    }
    for (const auto& [key, values] : per_key) {
      total += values.size();
      for (std::size_t i = 1; i < values.size(); ++i) {
        ASSERT_LT(values[i - 1], values[i]) << key << " aggregate=" << aggregate;
      }
    }
    EXPECT_EQ(total, static_cast<std::size_t>(kThreads * kPerThread)) << "aggregate=" << aggregate;
  }
}

TEST(ProducerConcurrency, CloseRacingPutsReportsEveryAcceptedRecord) {
  FakeKinesis fake(2);
  fake.set_reply_delay(2ms);
  MetricsRegistry metrics;
  auto producer = *Producer::create(options_for(fake, metrics));
  std::atomic<int> accepted{0};
  std::atomic<int> reported{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        Status s = producer->put({.partition_key = "k" + std::to_string(t), .data = "x"},
                                 [&](const Result<PutResult>&) { ++reported; });
        if (s.ok()) {
          ++accepted;
        } else {
          EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
          return;
        }
      }
    });
  }
  ASSERT_TRUE(sluice::testing::wait_until([&] { return accepted > 300; }));
  Status closed = producer->close(30s);
  stop = true;
  for (auto& th : threads) th.join();
  EXPECT_TRUE(closed.ok()) << closed;
  EXPECT_EQ(reported.load(), accepted.load());
  EXPECT_EQ(fake.stored_count(), static_cast<std::size_t>(accepted.load()));
}

}  // namespace
}  // namespace sluice::kinesis
