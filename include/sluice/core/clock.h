// Clock: the one source of time for everything sluice times (lease expiry,
// backoff, polling, checkpoint intervals, linger).
//
// Production code uses Clock::real(). Tests hand a ManualClock to the component
// under test and move time forward by hand, so that lease and retry logic is
// checked deterministically without sleeping.
#ifndef SLUICE_CORE_CLOCK_H_
#define SLUICE_CORE_CLOCK_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <stop_token>

#include <asio/any_io_executor.hpp>

namespace sluice {

class Clock {
 public:
  using Duration = std::chrono::nanoseconds;
  using TimePoint = std::chrono::steady_clock::time_point;  // monotonic
  using WallTime = std::chrono::system_clock::time_point;    // calendar time

  virtual ~Clock() = default;

  // Monotonic time, for intervals and deadlines.
  virtual TimePoint now() const = 0;
  // Calendar time, for timestamps that leave the process (AT_TIMESTAMP, logs, SigV4).
  virtual WallTime wall_now() const = 0;

  // Blocks the calling thread until `deadline` has passed (returns true) or
  // `stop` is requested (returns false, at once).
  virtual bool sleep_until(TimePoint deadline, std::stop_token stop = {}) const = 0;
  bool sleep_for(Duration d, std::stop_token stop = {}) const {
    return sleep_until(now() + d, std::move(stop));
  }

  // Asynchronous wait: calls `done(true)` on `ex` once `deadline` has passed,
  // or `done(false)` if `stop` is requested first. `done` is called exactly once.
  // Coroutines use sluice::async_sleep_until() (executor.h) instead.
  virtual void async_wait_until(asio::any_io_executor ex, TimePoint deadline, std::stop_token stop,
                                std::function<void(bool)> done) const = 0;

  // The process-wide real clock.
  static const Clock& real();
};

// A clock that only moves when told to. Thread-safe. Sleepers (blocking and
// asynchronous) wake when advance() or set() reaches their deadline.
class ManualClock final : public Clock {
 public:
  // Starts at an arbitrary monotonic point and at 2026-01-01T00:00:00Z on the calendar.
  ManualClock();
  ManualClock(TimePoint start, WallTime wall_start);
  ~ManualClock() override;

  TimePoint now() const override;
  WallTime wall_now() const override;
  bool sleep_until(TimePoint deadline, std::stop_token stop = {}) const override;
  void async_wait_until(asio::any_io_executor ex, TimePoint deadline, std::stop_token stop,
                        std::function<void(bool)> done) const override;

  // Moves time forward by `d` (and the calendar with it), waking due sleepers.
  void advance(Duration d);
  // Moves time forward to `t`; earlier than now() is ignored.
  void advance_to(TimePoint t);

  // How many sleeps (blocking and asynchronous) are waiting right now.
  std::size_t sleepers() const;
  // Blocks, in real time up to `real_timeout`, until at least `n` sleeps are
  // waiting; lets a test know a worker has reached its wait before advancing.
  bool await_sleepers(std::size_t n,
                      std::chrono::milliseconds real_timeout = std::chrono::seconds(10)) const;
  // The earliest deadline anyone waits for, or TimePoint::max() if none.
  TimePoint next_deadline() const;

 private:
  struct AsyncWaiter {
    TimePoint deadline;
    asio::any_io_executor ex;
    std::function<void(bool)> done;
  };
  void fire_due_locked(std::unique_lock<std::mutex>& lock) const;
  void cancel_async(std::uint64_t id) const;

  mutable std::mutex mu_;
  mutable std::condition_variable_any cv_;
  TimePoint now_;
  WallTime wall_;
  mutable std::size_t blocking_sleepers_ = 0;
  mutable std::uint64_t next_id_ = 1;
  mutable std::map<std::uint64_t, AsyncWaiter> async_waiters_;
};

}  // namespace sluice

#endif  // SLUICE_CORE_CLOCK_H_
