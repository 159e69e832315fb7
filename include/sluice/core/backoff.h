// Backoff and retry policies, shared by every component that retries.
//
// Two shapes cover the seeds:
//   * linear: the n-th retry waits n * step (seed 000's handler retries,
//     `attempt * Retry.Backoff`);
//   * exponential: the n-th retry waits initial * multiplier^(n-1), capped,
//     optionally with jitter (seeds 002-004, and the AWS standard retry mode).
//
// The retry count follows seed 002's convention: max_retries = -1 retries
// forever, 0 fails at once (no retry), n > 0 allows n retries after the first try.
//
//   Backoff backoff(RetryPolicy::exponential(100ms, 30s, /*max_retries=*/5));
//   while (true) {
//     Status s = attempt();
//     if (s.ok()) { backoff.reset(); break; }
//     auto delay = backoff.next();
//     if (!delay) return s;                 // retries exhausted
//     clock.sleep_for(*delay, stop);
//   }
#ifndef SLUICE_CORE_BACKOFF_H_
#define SLUICE_CORE_BACKOFF_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

#include "sluice/core/status.h"

namespace sluice {

enum class Jitter {
  kNone,   // exactly the computed delay
  kFull,   // uniform in [0, delay] (AWS "full jitter")
  kEqual,  // delay/2 + uniform in [0, delay/2]
};

struct BackoffPolicy {
  enum class Kind { kLinear, kExponential };
  using Duration = std::chrono::nanoseconds;

  Kind kind = Kind::kExponential;
  // Linear: the step (retry n waits n * initial). Exponential: the first delay.
  Duration initial = std::chrono::milliseconds(100);
  // No delay exceeds this (before jitter). Must be >= initial.
  Duration max = std::chrono::seconds(30);
  // Exponential growth factor, >= 1.
  double multiplier = 2.0;
  Jitter jitter = Jitter::kNone;

  // The delay before retry number `retry` (1 for the first retry), before jitter.
  Duration base_delay(int retry) const;
  // The same, with this policy's jitter drawn from `rng`.
  Duration delay(int retry, std::mt19937_64& rng) const;

  // InvalidArgument naming the field when the policy is unusable.
  Status validate() const;
};

struct RetryPolicy {
  static constexpr int kUnlimited = -1;

  // -1: retry forever; 0: never retry; n > 0: at most n retries.
  int max_retries = 3;
  BackoffPolicy backoff;

  bool unlimited() const { return max_retries < 0; }
  // Whether retry number `retry` (1-based) is allowed.
  bool allows(int retry) const { return unlimited() || retry <= max_retries; }
  Status validate() const;

  static RetryPolicy linear(std::chrono::nanoseconds step, int max_retries,
                            std::chrono::nanoseconds max_delay = std::chrono::minutes(5));
  static RetryPolicy exponential(std::chrono::nanoseconds initial, std::chrono::nanoseconds max,
                                 int max_retries, Jitter jitter = Jitter::kNone);
};

// A retry loop's state: how many retries happened since the last success.
// Not thread-safe; one per loop.
class Backoff {
 public:
  // `seed` makes jitter repeatable in tests; by default it is random.
  explicit Backoff(RetryPolicy policy, std::optional<std::uint64_t> seed = std::nullopt);

  // Records a failure and returns how long to wait before the next try, or
  // nullopt if the policy allows no more retries.
  std::optional<std::chrono::nanoseconds> next();
  // Records a success: the next failure starts again at the first delay.
  void reset() { retries_ = 0; }
  // Retries used since the last reset.
  int retries() const { return retries_; }
  const RetryPolicy& policy() const { return policy_; }

 private:
  RetryPolicy policy_;
  std::mt19937_64 rng_;
  int retries_ = 0;
};

}  // namespace sluice

#endif  // SLUICE_CORE_BACKOFF_H_
