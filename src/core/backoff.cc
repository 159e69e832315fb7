#include "sluice/core/backoff.h"

#include <cmath>
#include <limits>
#include <string>

namespace sluice {

using std::chrono::nanoseconds;

nanoseconds BackoffPolicy::base_delay(int retry) const {
  if (retry < 1) retry = 1;
  const double cap = static_cast<double>(max.count());
  double d;
  if (kind == Kind::kLinear) {
    d = static_cast<double>(initial.count()) * retry;
  } else {
    // initial * multiplier^(retry-1), computed in floating point so that a
    // large retry count saturates at the cap instead of overflowing.
    d = static_cast<double>(initial.count()) * std::pow(multiplier, retry - 1);
  }
  if (!(d < cap)) d = cap;  // also catches inf/nan
  return nanoseconds(static_cast<nanoseconds::rep>(d));
}

nanoseconds BackoffPolicy::delay(int retry, std::mt19937_64& rng) const {
  const nanoseconds base = base_delay(retry);
  switch (jitter) {
    case Jitter::kNone:
      return base;
    case Jitter::kFull: {
      std::uniform_int_distribution<nanoseconds::rep> dist(0, base.count());
      return nanoseconds(dist(rng));
    }
    case Jitter::kEqual: {
      const auto half = base.count() / 2;
      std::uniform_int_distribution<nanoseconds::rep> dist(0, base.count() - half);
      return nanoseconds(half + dist(rng));
    }
  }
  return base;
}

Status BackoffPolicy::validate() const {
  if (initial.count() < 0) return Status::invalid_argument("backoff.initial must not be negative");
  if (max < initial) {
    return Status::invalid_argument("backoff.max must be >= backoff.initial");
  }
  if (kind == Kind::kExponential && !(multiplier >= 1.0 && std::isfinite(multiplier))) {
    return Status::invalid_argument("backoff.multiplier must be a finite number >= 1");
  }
  return Status();
}

Status RetryPolicy::validate() const {
  if (max_retries < kUnlimited) {
    return Status::invalid_argument("retry.max_retries must be -1 (unlimited), 0 (no retry) or > 0, got " +
                                    std::to_string(max_retries));
  }
  return backoff.validate().with_context("retry");
}

RetryPolicy RetryPolicy::linear(nanoseconds step, int max_retries, nanoseconds max_delay) {
  RetryPolicy p;
  p.max_retries = max_retries;
  p.backoff.kind = BackoffPolicy::Kind::kLinear;
  p.backoff.initial = step;
  p.backoff.max = max_delay;
  p.backoff.jitter = Jitter::kNone;
  return p;
}

RetryPolicy RetryPolicy::exponential(nanoseconds initial, nanoseconds max, int max_retries,
                                     Jitter jitter) {
  RetryPolicy p;
  p.max_retries = max_retries;
  p.backoff.kind = BackoffPolicy::Kind::kExponential;
  p.backoff.initial = initial;
  p.backoff.max = max;
  p.backoff.multiplier = 2.0;
  p.backoff.jitter = jitter;
  return p;
}

Backoff::Backoff(RetryPolicy policy, std::optional<std::uint64_t> seed)
    : policy_(std::move(policy)), rng_(seed ? *seed : std::random_device{}()) {}

std::optional<nanoseconds> Backoff::next() {
  if (!policy_.allows(retries_ + 1)) return std::nullopt;
  if (retries_ < std::numeric_limits<int>::max()) ++retries_;
  return policy_.backoff.delay(retries_, rng_);
}

}  // namespace sluice
