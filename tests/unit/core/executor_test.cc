// Concurrency tests for the executor: these also run under ThreadSanitizer.
#include "sluice/core/executor.h"

#include <gtest/gtest.h>

#include <asio/post.hpp>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "support/test_util.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

TEST(ThreadPool, RunsPostedWorkOnItsThreads) {
  ThreadPool pool(3, "t");
  EXPECT_EQ(pool.size(), 3u);
  std::mutex mu;
  std::set<std::thread::id> ids;
  std::atomic<int> done{0};
  for (int i = 0; i < 300; ++i) {
    asio::post(pool.executor(), [&] {
      {
        std::lock_guard lock(mu);
        ids.insert(std::this_thread::get_id());
      }
      ++done;
    });
  }
  pool.join();  // waits for all queued work
  EXPECT_EQ(done.load(), 300);
  EXPECT_FALSE(ids.count(std::this_thread::get_id()));
}

TEST(Strand, DeliversInOrderAndNeverConcurrently) {
  // Many producers post numbered items to several strands at once; each
  // strand must see its items one at a time and, per producer, in order.
  ThreadPool pool(4);
  constexpr int kStrands = 8, kProducers = 4, kPerProducer = 2000;
  struct Lane {
    explicit Lane(asio::strand<asio::any_io_executor> s) : strand(std::move(s)) {}
    asio::strand<asio::any_io_executor> strand;
    std::map<int, int> last_seen;  // producer -> last sequence (strand-confined)
    std::atomic<int> inside{0};
    std::atomic<int> violations{0};
    std::atomic<int> count{0};
  };
  std::vector<std::unique_ptr<Lane>> lanes;
  for (int i = 0; i < kStrands; ++i) {
    lanes.push_back(std::make_unique<Lane>(pool.make_strand()));
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int seq = 0; seq < kPerProducer; ++seq) {
        Lane& lane = *lanes[seq % kStrands];
        asio::post(lane.strand, [&lane, p, seq] {
          if (lane.inside.fetch_add(1) != 0) ++lane.violations;  // concurrent run
          auto it = lane.last_seen.find(p);
          if (it != lane.last_seen.end() && it->second >= seq) ++lane.violations;  // reordered
          lane.last_seen[p] = seq;
          lane.inside.fetch_sub(1);
          ++lane.count;
        });
      }
    });
  }
  for (auto& t : producers) t.join();
  ASSERT_TRUE(testing::wait_until(
      [&] {
        int total = 0;
        for (auto& l : lanes) total += l->count.load();
        return total == kProducers * kPerProducer;
      },
      30s));
  for (auto& l : lanes) EXPECT_EQ(l->violations.load(), 0);
}

asio::awaitable<void> busy_loop(const Clock& clock, std::stop_token stop, std::atomic<long>& work) {
  // A shard-like loop: do a little work, sleep, repeat until stopped.
  while (!stop.stop_requested()) {
    work.fetch_add(1, std::memory_order_relaxed);
    const bool fired = co_await async_sleep_for(clock, 1ms, stop);
    if (!fired) break;
  }
}

TEST(TaskGroup, CleanShutdownUnderLoad) {
  ThreadPool pool(2);
  TaskGroup group(pool.executor());
  std::atomic<long> work{0};
  constexpr int kTasks = 1000;  // far more tasks than threads
  for (int i = 0; i < kTasks; ++i) {
    group.spawn(pool.make_strand(), busy_loop(Clock::real(), group.stop_token(), work));
  }
  ASSERT_TRUE(testing::wait_until([&] { return work.load() > 5 * kTasks; }, 30s));
  EXPECT_EQ(group.active(), static_cast<std::size_t>(kTasks));
  group.request_stop();
  ASSERT_TRUE(group.wait_for(30s)) << group.active() << " tasks still running";
  EXPECT_EQ(group.active(), 0u);
  EXPECT_TRUE(group.first_error().ok());
  const long after = work.load();
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(work.load(), after);  // nothing runs after shutdown
}

TEST(TaskGroup, KeepsTheFirstEscapedException) {
  ThreadPool pool(2);
  TaskGroup group(pool.executor());
  group.spawn([]() -> asio::awaitable<void> {
    throw std::runtime_error("handler exploded");
    co_return;
  }());
  group.spawn([]() -> asio::awaitable<void> { co_return; }());
  ASSERT_TRUE(group.wait_for(10s));
  EXPECT_EQ(group.first_error().code(), StatusCode::kInternal);
  EXPECT_NE(group.first_error().message().find("handler exploded"), std::string_view::npos);
}

// Coroutines take what they use as parameters: a capturing lambda would be
// gone before its coroutine runs.
asio::awaitable<void> sleep_once(const Clock& clock, std::stop_token stop, std::atomic<int>& woke_by_stop) {
  bool fired = co_await async_sleep_for(clock, std::chrono::hours(1), stop);
  if (!fired) ++woke_by_stop;
}

TEST(TaskGroup, StopTokenReachesTasksWaitingOnAManualClock) {
  ManualClock clock;
  ThreadPool pool(2);
  TaskGroup group(pool.executor());
  std::atomic<int> woke_by_stop{0};
  for (int i = 0; i < 50; ++i) group.spawn(sleep_once(clock, group.stop_token(), woke_by_stop));
  ASSERT_TRUE(clock.await_sleepers(50));
  group.request_stop();
  ASSERT_TRUE(group.wait_for(10s));
  EXPECT_EQ(woke_by_stop.load(), 50);
  EXPECT_EQ(clock.sleepers(), 0u);
}

asio::awaitable<void> sleep_rounds(const Clock& clock, std::stop_token stop, std::atomic<int>& rounds) {
  for (int r = 0; r < 3; ++r) {
    co_await async_sleep_for(clock, std::chrono::seconds(1), stop);
    ++rounds;
  }
}

TEST(TaskGroup, ManualClockDrivesManySleepers) {
  ManualClock clock;
  ThreadPool pool(2);
  TaskGroup group(pool.executor());
  std::atomic<int> rounds{0};
  for (int i = 0; i < 20; ++i) group.spawn(sleep_rounds(clock, group.stop_token(), rounds));
  for (int r = 0; r < 3; ++r) {
    ASSERT_TRUE(clock.await_sleepers(20)) << "round " << r;
    clock.advance(1s);
    ASSERT_TRUE(testing::wait_until([&] { return rounds.load() == 20 * (r + 1); }));
  }
  ASSERT_TRUE(group.wait_for(10s));
}

TEST(RunBlocking, ReturnsValuesAndRethrows) {
  ThreadPool pool(1);
  EXPECT_EQ(run_blocking(pool.executor(), []() -> asio::awaitable<int> { co_return 41 + 1; }()), 42);
  EXPECT_THROW(run_blocking(pool.executor(),
                            []() -> asio::awaitable<int> {
                              throw std::logic_error("boom");
                              co_return 0;
                            }()),
               std::logic_error);
}

}  // namespace
}  // namespace sluice
