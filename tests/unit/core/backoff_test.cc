#include "sluice/core/backoff.h"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "sluice/core/clock.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

std::vector<milliseconds> drain(Backoff& b, int max) {
  std::vector<milliseconds> out;
  for (int i = 0; i < max; ++i) {
    auto d = b.next();
    if (!d) break;
    out.push_back(std::chrono::duration_cast<milliseconds>(*d));
  }
  return out;
}

TEST(Backoff, LinearIsAttemptTimesStep) {
  // Seed 000: handler retries wait attempt * Retry.Backoff.
  Backoff b(RetryPolicy::linear(1s, /*max_retries=*/3));
  EXPECT_EQ(drain(b, 10), (std::vector<milliseconds>{1000ms, 2000ms, 3000ms}));
  EXPECT_EQ(b.retries(), 3);
}

TEST(Backoff, ExponentialDoublesUpToTheCap) {
  // Seed 002: 100ms -> 200ms -> 400ms -> ... capped at 30 s.
  Backoff b(RetryPolicy::exponential(100ms, 30s, RetryPolicy::kUnlimited));
  auto seq = drain(b, 12);
  EXPECT_EQ(seq, (std::vector<milliseconds>{100ms, 200ms, 400ms, 800ms, 1600ms, 3200ms, 6400ms,
                                             12800ms, 25600ms, 30000ms, 30000ms, 30000ms}));
}

TEST(Backoff, KafkaRestartSequence) {
  // Seed 004: 1 s doubling to a 60 s cap.
  Backoff b(RetryPolicy::exponential(1s, 60s, 10));
  auto seq = drain(b, 20);
  ASSERT_EQ(seq.size(), 10u);
  EXPECT_EQ(seq[0], 1s);
  EXPECT_EQ(seq[5], 32s);
  EXPECT_EQ(seq[6], 60s);
  EXPECT_EQ(seq[9], 60s);
}

TEST(Backoff, MinusOneIsUnlimited) {
  Backoff b(RetryPolicy::exponential(1ms, 10ms, -1));
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(b.next().has_value()) << i;
  EXPECT_EQ(*b.next(), 10ms);  // saturated at the cap, no overflow
}

TEST(Backoff, ZeroFailsAtOnce) {
  Backoff b(RetryPolicy::exponential(100ms, 30s, 0));
  EXPECT_FALSE(b.next().has_value());
  EXPECT_EQ(b.retries(), 0);
}

TEST(Backoff, ResetStartsOver) {
  // Seed 002: the error counter resets after a successful read.
  Backoff b(RetryPolicy::exponential(100ms, 30s, 2));
  EXPECT_EQ(*b.next(), 100ms);
  EXPECT_EQ(*b.next(), 200ms);
  EXPECT_FALSE(b.next().has_value());
  b.reset();
  EXPECT_EQ(*b.next(), 100ms);
}

TEST(Backoff, FullJitterStaysWithinBoundsAndVaries) {
  RetryPolicy p = RetryPolicy::exponential(100ms, 1s, -1, Jitter::kFull);
  std::mt19937_64 rng(42);
  for (int retry = 1; retry <= 8; ++retry) {
    const nanoseconds base = p.backoff.base_delay(retry);
    nanoseconds lo = base, hi = 0ns;
    for (int i = 0; i < 2000; ++i) {
      nanoseconds d = p.backoff.delay(retry, rng);
      ASSERT_GE(d, 0ns);
      ASSERT_LE(d, base);
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    // 2000 uniform draws cover most of [0, base].
    EXPECT_LT(lo, base / 10) << retry;
    EXPECT_GT(hi, base * 9 / 10) << retry;
  }
}

TEST(Backoff, EqualJitterKeepsAtLeastHalf) {
  RetryPolicy p = RetryPolicy::exponential(100ms, 1s, -1, Jitter::kEqual);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    nanoseconds d = p.backoff.delay(3, rng);
    ASSERT_GE(d, 200ms);
    ASSERT_LE(d, 400ms);
  }
}

TEST(Backoff, SeededJitterIsRepeatable) {
  RetryPolicy p = RetryPolicy::exponential(100ms, 10s, -1, Jitter::kFull);
  Backoff a(p, 99), b(p, 99);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(a.next(), b.next());
}

TEST(Backoff, DrivesAManualClockRetryLoop) {
  // A retry loop as components write it, timed by a manual clock: the total
  // simulated wait is exactly the sum of the linear sequence.
  ManualClock clock;
  const auto start = clock.now();
  Backoff b(RetryPolicy::linear(250ms, 4));
  int attempts = 0;
  while (true) {
    ++attempts;  // every attempt fails
    auto d = b.next();
    if (!d) break;
    clock.advance(*d);
  }
  EXPECT_EQ(attempts, 5);  // first try + 4 retries
  EXPECT_EQ(clock.now() - start, 250ms + 500ms + 750ms + 1000ms);
}

TEST(RetryPolicy, Validation) {
  EXPECT_TRUE(RetryPolicy{}.validate().ok());
  RetryPolicy p;
  p.max_retries = -2;
  EXPECT_EQ(p.validate().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(p.validate().message().find("max_retries"), std::string_view::npos);
  p = RetryPolicy::exponential(10s, 1s, 3);
  EXPECT_NE(p.validate().message().find("backoff.max"), std::string_view::npos);
  p = RetryPolicy::exponential(1s, 10s, 3);
  p.backoff.multiplier = 0.5;
  EXPECT_NE(p.validate().message().find("multiplier"), std::string_view::npos);
}

}  // namespace
}  // namespace sluice
