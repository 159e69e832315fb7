// The restart rules of a managed consumer job, on a ManualClock with scripted
// sessions (no broker): 1 s doubling to 60 s, disabled after N failures in a
// row, reset by a success, and the switch.
#include "kafka/job_supervisor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "support/test_util.h"

namespace sluice::kafka::internal {
namespace {

using sluice::testing::wait_until;
using std::chrono::seconds;

SessionResult block_until_stopped(std::stop_token stop) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  cv.wait(lock, stop, [] { return false; });
  return {};
}

class SupervisorTest : public ::testing::Test {
 protected:
  // `script(n)` is the n-th session (0-based).
  void start(std::function<SessionResult(int, std::stop_token)> script, int max_failures = 10) {
    script_ = std::move(script);
    SupervisorOptions o;
    o.restart_backoff = {.kind = BackoffPolicy::Kind::kExponential,
                         .initial = seconds(1),
                         .max = seconds(60),
                         .multiplier = 2.0};
    o.max_consecutive_failures = max_failures;
    o.clock = &clock_;
    o.restarts = &restarts_;
    o.disabled = &disabled_;
    sup_ = std::make_unique<JobSupervisor>("job", o, [this](std::stop_token stop) {
      const int n = sessions_.fetch_add(1);
      return script_(n, std::move(stop));
    });
    thread_ = std::jthread([this](std::stop_token stop) { sup_->run(stop); });
  }

  void TearDown() override {
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
    }
  }

  // Waits until the job sits in backoff after `failures` failures, with its sleep begun.
  bool in_backoff(int failures) {
    return wait_until([&] {
      auto s = sup_->status();
      return s.state == JobState::kBackoff && s.consecutive_failures == failures &&
             clock_.sleepers() == 1;
    });
  }
  Clock::Duration backoff_left() { return sup_->status().restart_at - clock_.now(); }

  ManualClock clock_;
  Counter restarts_;
  Gauge disabled_;
  std::atomic<int> sessions_{0};
  std::function<SessionResult(int, std::stop_token)> script_;
  std::unique_ptr<JobSupervisor> sup_;
  std::jthread thread_;
};

TEST_F(SupervisorTest, OffUntilSwitchedOn) {
  start([](int, std::stop_token stop) { return block_until_stopped(stop); });
  EXPECT_TRUE(wait_until([&] { return sup_->status().state == JobState::kOff; }));
  EXPECT_EQ(sessions_.load(), 0);
  sup_->set_switch(true);
  EXPECT_TRUE(wait_until([&] { return sessions_.load() == 1; }));
  EXPECT_EQ(sup_->status().state, JobState::kRunning);
  EXPECT_TRUE(sup_->status().switched_on);
}

TEST_F(SupervisorTest, BackoffDoublesFromOneSecondToSixtyThenTheJobIsDisabled) {
  start([](int, std::stop_token) {
    return SessionResult{Status::unavailable("handler failed"), false};
  });
  sup_->set_switch(true);
  const std::vector<int> expected = {1, 2, 4, 8, 16, 32, 60, 60, 60};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    ASSERT_TRUE(in_backoff(static_cast<int>(i) + 1)) << "failure " << i + 1;
    EXPECT_EQ(backoff_left(), seconds(expected[i])) << "after failure " << i + 1;
    EXPECT_EQ(sessions_.load(), static_cast<int>(i) + 1);
    clock_.advance(seconds(expected[i]));
  }
  // The 10th failure in a row disables the job: no more restarts.
  ASSERT_TRUE(wait_until([&] { return sup_->status().state == JobState::kDisabled; }));
  auto s = sup_->status();
  EXPECT_EQ(s.consecutive_failures, 10);
  EXPECT_FALSE(s.switched_on);
  EXPECT_EQ(s.restarts, 9u);
  EXPECT_EQ(restarts_.value(), 9);
  EXPECT_EQ(disabled_.value(), 1);
  EXPECT_EQ(s.last_error.code(), StatusCode::kUnavailable);
  EXPECT_EQ(sessions_.load(), 10);
  EXPECT_EQ(clock_.sleepers(), 0u);

  // Switching it on again enables it at once, with the count reset.
  sup_->set_switch(true);
  ASSERT_TRUE(in_backoff(1));
  EXPECT_EQ(sessions_.load(), 11);
  EXPECT_EQ(backoff_left(), seconds(1));
  EXPECT_EQ(disabled_.value(), 0);
}

TEST_F(SupervisorTest, ASuccessResetsTheFailureCount) {
  // Fail, fail, then handle messages before failing again, then fail.
  start([](int n, std::stop_token) {
    return SessionResult{Status::unavailable("boom"), /*progressed=*/n == 2};
  });
  sup_->set_switch(true);
  ASSERT_TRUE(in_backoff(1));
  EXPECT_EQ(backoff_left(), seconds(1));
  clock_.advance(seconds(1));
  ASSERT_TRUE(in_backoff(2));
  EXPECT_EQ(backoff_left(), seconds(2));
  clock_.advance(seconds(2));
  // The third session made progress: its failure is the first of a new run.
  ASSERT_TRUE(wait_until([&] { return sessions_.load() == 3; }));
  ASSERT_TRUE(in_backoff(1));
  EXPECT_EQ(backoff_left(), seconds(1));
  clock_.advance(seconds(1));
  ASSERT_TRUE(in_backoff(2));
  EXPECT_EQ(backoff_left(), seconds(2));
}

TEST_F(SupervisorTest, TheFirstHandledMessageOfARestartedSessionResetsTheCountWhileItRuns) {
  // Session 0 fails; session 1 handles a message, then keeps running until
  // told to fail (without reporting progress at its end, so only the
  // per-message path can have reset the count).
  std::atomic<bool> handled{false};
  std::atomic<bool> fail_now{false};
  start([&](int n, std::stop_token stop) {
    if (n == 0) return SessionResult{Status::unavailable("boom"), false};
    if (n == 1) {
      sup_->add_handled(1);
      handled = true;
      if (!wait_until([&] { return fail_now.load() || stop.stop_requested(); }))
        return SessionResult{};
      return SessionResult{Status::unavailable("boom again"), false};
    }
    return block_until_stopped(stop);
  });
  sup_->set_switch(true);
  ASSERT_TRUE(in_backoff(1));
  clock_.advance(seconds(1));
  ASSERT_TRUE(wait_until([&] { return handled.load(); }));
  auto s = sup_->status();
  EXPECT_EQ(s.state, JobState::kRunning);
  EXPECT_EQ(s.consecutive_failures, 0);
  EXPECT_EQ(s.messages_handled, 1u);
  EXPECT_EQ(s.restarts, 1u);
  // Its failure is the first of a new run: 1 s again, not 2 s.
  fail_now = true;
  ASSERT_TRUE(in_backoff(1));
  EXPECT_EQ(backoff_left(), seconds(1));
}

TEST_F(SupervisorTest, SwitchingOffDuringBackoffCancelsTheRestartAndOnStartsAtOnce) {
  start([](int n, std::stop_token stop) {
    if (n == 0) return SessionResult{Status::unavailable("boom"), false};
    return block_until_stopped(stop);
  });
  sup_->set_switch(true);
  ASSERT_TRUE(in_backoff(1));
  sup_->set_switch(false);
  ASSERT_TRUE(wait_until([&] { return sup_->status().state == JobState::kOff; }));
  EXPECT_EQ(clock_.sleepers(), 0u);
  EXPECT_EQ(sessions_.load(), 1);
  // On again: no waiting for the rest of the backoff.
  sup_->set_switch(true);
  ASSERT_TRUE(wait_until([&] { return sessions_.load() == 2; }));
  EXPECT_TRUE(wait_until([&] { return sup_->status().state == JobState::kRunning; }));
  EXPECT_EQ(sup_->status().restarts, 0u);
}

TEST_F(SupervisorTest, SwitchingOffARunningJobEndsItsSessionWithoutAFailure) {
  start([](int, std::stop_token stop) { return block_until_stopped(stop); });
  sup_->set_switch(true);
  ASSERT_TRUE(wait_until([&] { return sup_->status().state == JobState::kRunning; }));
  sup_->set_switch(false);
  ASSERT_TRUE(wait_until([&] { return sup_->status().state == JobState::kOff; }));
  EXPECT_EQ(sup_->status().consecutive_failures, 0);
  sup_->set_switch(true);
  ASSERT_TRUE(wait_until([&] { return sessions_.load() == 2; }));
}

TEST_F(SupervisorTest, StopEndsARunningSessionAndTheThread) {
  start([](int, std::stop_token stop) { return block_until_stopped(stop); });
  sup_->set_switch(true);
  ASSERT_TRUE(wait_until([&] { return sup_->status().state == JobState::kRunning; }));
  thread_.request_stop();
  thread_.join();
  EXPECT_EQ(sup_->status().state, JobState::kStopped);
}

TEST_F(SupervisorTest, StopDuringBackoffReturnsPromptly) {
  start([](int, std::stop_token) { return SessionResult{Status::unavailable("boom"), false}; });
  sup_->set_switch(true);
  ASSERT_TRUE(in_backoff(1));
  thread_.request_stop();
  thread_.join();  // no clock advance needed
  EXPECT_EQ(sup_->status().state, JobState::kStopped);
  EXPECT_EQ(sessions_.load(), 1);
}

TEST_F(SupervisorTest, ZeroMaxFailuresNeverDisables) {
  start(
      [](int, std::stop_token) {
        return SessionResult{Status::unavailable("boom"), false};
      },
      /*max_failures=*/0);
  sup_->set_switch(true);
  for (int i = 1; i <= 14; ++i) {
    ASSERT_TRUE(in_backoff(i));
    clock_.advance(backoff_left());
  }
  ASSERT_TRUE(in_backoff(15));
  EXPECT_EQ(backoff_left(), seconds(60));
  EXPECT_NE(sup_->status().state, JobState::kDisabled);
}

}  // namespace
}  // namespace sluice::kafka::internal
