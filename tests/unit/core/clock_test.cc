#include "sluice/core/clock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "sluice/core/executor.h"
#include "support/test_util.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

TEST(RealClock, MovesForward) {
  const Clock& c = Clock::real();
  auto a = c.now();
  std::this_thread::sleep_for(1ms);
  EXPECT_GT(c.now(), a);
  EXPECT_GT(c.wall_now().time_since_epoch(), std::chrono::hours(24 * 365 * 50));
}

TEST(RealClock, SleepReturnsEarlyOnStop) {
  std::stop_source stop;
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    stop.request_stop();
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(Clock::real().sleep_for(30s, stop.get_token()));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  t.join();
}

TEST(RealClock, ShortSleepCompletes) {
  EXPECT_TRUE(Clock::real().sleep_for(1ms));
}

TEST(ManualClock, OnlyMovesWhenAdvanced) {
  ManualClock c;
  auto t0 = c.now();
  auto w0 = c.wall_now();
  std::this_thread::sleep_for(2ms);
  EXPECT_EQ(c.now(), t0);
  c.advance(1500ms);
  EXPECT_EQ(c.now() - t0, 1500ms);
  EXPECT_EQ(c.wall_now() - w0, 1500ms);
  c.advance_to(t0);  // backwards is ignored
  EXPECT_EQ(c.now() - t0, 1500ms);
}

TEST(ManualClock, BlockingSleeperWakesWhenTimeReachesDeadline) {
  ManualClock c;
  std::atomic<int> woke{0};
  std::thread t([&] {
    EXPECT_TRUE(c.sleep_for(10s));
    woke = 1;
  });
  ASSERT_TRUE(c.await_sleepers(1));
  c.advance(9s);
  std::this_thread::sleep_for(5ms);
  EXPECT_EQ(woke.load(), 0);
  c.advance(1s);
  t.join();
  EXPECT_EQ(woke.load(), 1);
  EXPECT_EQ(c.sleepers(), 0u);
}

TEST(ManualClock, BlockingSleeperStops) {
  ManualClock c;
  std::stop_source stop;
  std::thread t([&] { EXPECT_FALSE(c.sleep_for(1h, stop.get_token())); });
  ASSERT_TRUE(c.await_sleepers(1));
  stop.request_stop();
  t.join();
}

TEST(ManualClock, AsyncWaitsFireInDeadlineOrder) {
  ManualClock c;
  ThreadPool pool(1);
  std::mutex mu;
  std::vector<int> fired;
  auto record = [&](int id) {
    return [&, id](bool ok) {
      std::lock_guard lock(mu);
      fired.push_back(ok ? id : -id);
    };
  };
  c.async_wait_until(pool.executor(), c.now() + 3s, {}, record(3));
  c.async_wait_until(pool.executor(), c.now() + 1s, {}, record(1));
  c.async_wait_until(pool.executor(), c.now() + 2s, {}, record(2));
  EXPECT_EQ(c.sleepers(), 3u);
  EXPECT_EQ(c.next_deadline(), c.now() + 1s);
  c.advance(1s);
  c.advance(1s);
  c.advance(1s);
  ASSERT_TRUE(testing::wait_until([&] {
    std::lock_guard lock(mu);
    return fired.size() == 3;
  }));
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3}));
}

TEST(ManualClock, AsyncWaitCancelledByStop) {
  ManualClock c;
  ThreadPool pool(1);
  std::stop_source stop;
  std::atomic<int> result{0};
  c.async_wait_until(pool.executor(), c.now() + 1h, stop.get_token(),
                     [&](bool ok) { result = ok ? 1 : 2; });
  stop.request_stop();
  ASSERT_TRUE(testing::wait_until([&] { return result.load() != 0; }));
  EXPECT_EQ(result.load(), 2);
  EXPECT_EQ(c.sleepers(), 0u);
  c.advance(2h);  // firing later must not call it again
  std::this_thread::sleep_for(5ms);
  EXPECT_EQ(result.load(), 2);
}

TEST(ManualClock, AsyncWaitWithStopAlreadyRequested) {
  ManualClock c;
  ThreadPool pool(1);
  std::stop_source stop;
  stop.request_stop();
  std::atomic<int> result{0};
  c.async_wait_until(pool.executor(), c.now() + 1h, stop.get_token(),
                     [&](bool ok) { result = ok ? 1 : 2; });
  ASSERT_TRUE(testing::wait_until([&] { return result.load() != 0; }));
  EXPECT_EQ(result.load(), 2);
}

TEST(ManualClock, PastDeadlineFiresAtOnce) {
  ManualClock c;
  ThreadPool pool(1);
  std::atomic<int> result{0};
  c.async_wait_until(pool.executor(), c.now(), {}, [&](bool ok) { result = ok ? 1 : 2; });
  ASSERT_TRUE(testing::wait_until([&] { return result.load() != 0; }));
  EXPECT_EQ(result.load(), 1);
}

TEST(ManualClock, CoroutineSleepUsesTheClock) {
  ManualClock c;
  ThreadPool pool(2);
  std::atomic<int> step{0};
  auto fut = asio::co_spawn(
      pool.executor(),
      [&]() -> asio::awaitable<bool> {
        step = 1;
        bool a = co_await async_sleep_for(c, 5s);
        step = 2;
        co_return a;
      },
      asio::use_future);
  ASSERT_TRUE(c.await_sleepers(1));
  EXPECT_EQ(step.load(), 1);
  c.advance(5s);
  EXPECT_TRUE(fut.get());
  EXPECT_EQ(step.load(), 2);
}

TEST(RealClock, CoroutineSleepStopsPromptly) {
  ThreadPool pool(1);
  std::stop_source stop;
  auto fut = asio::co_spawn(
      pool.executor(),
      [&]() -> asio::awaitable<bool> {
        co_return co_await async_sleep_for(Clock::real(), 1h, stop.get_token());
      },
      asio::use_future);
  std::this_thread::sleep_for(10ms);
  stop.request_stop();
  ASSERT_EQ(fut.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(fut.get());
}

TEST(RealClock, CoroutineSleepCompletes) {
  ThreadPool pool(1);
  bool fired = run_blocking(pool.executor(), []() -> asio::awaitable<bool> {
    co_return co_await async_sleep_for(Clock::real(), 2ms);
  }());
  EXPECT_TRUE(fired);
}

}  // namespace
}  // namespace sluice
