#include "sluice/core/clock.h"

#include <atomic>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

namespace sluice {
namespace {

class RealClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  WallTime wall_now() const override { return std::chrono::system_clock::now(); }

  bool sleep_until(TimePoint deadline, std::stop_token stop) const override {
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock lock(mu);
    // Returns early only when stop is requested; the predicate is never true.
    cv.wait_until(lock, stop, deadline, [] { return false; });
    return !stop.stop_requested();
  }

  void async_wait_until(asio::any_io_executor ex, TimePoint deadline, std::stop_token stop,
                        std::function<void(bool)> done) const override {
    if (stop.stop_requested()) {
      asio::post(ex, [done = std::move(done)] { done(false); });
      return;
    }
    // Everything that touches the timer runs on one strand: the wait is set
    // up there, and a stop request (from any thread) cancels it there, so a
    // cancel can neither race the set-up nor the completion.
    struct Wait {
      explicit Wait(asio::any_io_executor e) : strand(asio::make_strand(std::move(e))), timer(strand) {}
      asio::strand<asio::any_io_executor> strand;
      asio::steady_timer timer;
      std::atomic<bool> stopped{false};
      std::optional<std::stop_callback<std::function<void()>>> on_stop;
    };
    auto wait = std::make_shared<Wait>(ex);
    std::weak_ptr<Wait> weak = wait;
    // Registered before the set-up is posted; it only flags and posts, so it
    // is safe to run at once (stop already requested) or from any thread.
    wait->on_stop.emplace(std::move(stop), std::function<void()>([weak] {
                            if (auto w = weak.lock()) {
                              w->stopped = true;
                              asio::post(w->strand, [w] { w->timer.cancel(); });
                            }
                          }));
    asio::post(wait->strand, [wait, ex, deadline, done = std::move(done)]() mutable {
      auto finish = [wait, ex, done = std::move(done)](bool fired) mutable {
        asio::post(ex, [done = std::move(done), fired] { done(fired); });
        // Dropped on the strand after the wait ended; if the stop callback is
        // running right now on another thread, this waits for it to return.
        wait->on_stop.reset();
      };
      if (wait->stopped) {
        finish(false);
        return;
      }
      wait->timer.expires_at(deadline);
      wait->timer.async_wait([finish = std::move(finish)](std::error_code ec) mutable {
        finish(!ec);
      });
    });
  }
};

}  // namespace

const Clock& Clock::real() {
  static const RealClock clock;
  return clock;
}

// --- ManualClock ------------------------------------------------------------

ManualClock::ManualClock()
    : ManualClock(TimePoint(std::chrono::hours(1000)),
                  WallTime(std::chrono::seconds(1767225600))) {}  // 2026-01-01T00:00:00Z

ManualClock::ManualClock(TimePoint start, WallTime wall_start) : now_(start), wall_(wall_start) {}

ManualClock::~ManualClock() = default;

Clock::TimePoint ManualClock::now() const {
  std::lock_guard lock(mu_);
  return now_;
}

Clock::WallTime ManualClock::wall_now() const {
  std::lock_guard lock(mu_);
  return wall_;
}

bool ManualClock::sleep_until(TimePoint deadline, std::stop_token stop) const {
  std::unique_lock lock(mu_);
  ++blocking_sleepers_;
  cv_.notify_all();  // await_sleepers() watches the count
  bool reached = cv_.wait(lock, stop, [&] { return now_ >= deadline; });
  --blocking_sleepers_;
  return reached;
}

void ManualClock::async_wait_until(asio::any_io_executor ex, TimePoint deadline,
                                   std::stop_token stop, std::function<void(bool)> done) const {
  std::uint64_t id;
  {
    std::unique_lock lock(mu_);
    if (now_ >= deadline) {
      asio::post(ex, [done = std::move(done)] { done(true); });
      return;
    }
    id = next_id_++;
    async_waiters_.emplace(id, AsyncWaiter{deadline, std::move(ex), std::move(done)});
    cv_.notify_all();
  }
  if (!stop.stop_possible()) return;
  // Registered outside the lock: if stop was already requested the callback
  // runs right here and takes the lock itself.
  auto on_stop = std::make_shared<std::stop_callback<std::function<void()>>>(
      std::move(stop), std::function<void()>([this, id] { cancel_async(id); }));
  // The waiter's `done` now owns the stop callback, so the callback object is
  // destroyed on `ex` after the wait ends, never from inside its own run.
  std::unique_lock lock(mu_);
  auto it = async_waiters_.find(id);
  if (it != async_waiters_.end()) {
    auto user_done = std::move(it->second.done);
    it->second.done = [on_stop, user_done = std::move(user_done)](bool fired) mutable {
      user_done(fired);
    };
  }
}

void ManualClock::cancel_async(std::uint64_t id) const {
  std::unique_lock lock(mu_);
  auto it = async_waiters_.find(id);
  if (it == async_waiters_.end()) return;
  AsyncWaiter w = std::move(it->second);
  async_waiters_.erase(it);
  lock.unlock();
  // We may be running inside the stop callback: its object (held by `done`)
  // is destroyed on `ex`, after this returns.
  asio::post(w.ex, [done = std::move(w.done)] { done(false); });
}

void ManualClock::fire_due_locked(std::unique_lock<std::mutex>& lock) const {
  std::vector<AsyncWaiter> due;
  for (auto it = async_waiters_.begin(); it != async_waiters_.end();) {
    if (it->second.deadline <= now_) {
      due.push_back(std::move(it->second));
      it = async_waiters_.erase(it);
    } else {
      ++it;
    }
  }
  cv_.notify_all();
  lock.unlock();
  for (auto& w : due) asio::post(w.ex, [done = std::move(w.done)] { done(true); });
  lock.lock();
}

void ManualClock::advance(Duration d) {
  std::unique_lock lock(mu_);
  if (d.count() <= 0) return;
  now_ += d;
  wall_ += std::chrono::duration_cast<WallTime::duration>(d);
  fire_due_locked(lock);
}

void ManualClock::advance_to(TimePoint t) {
  std::unique_lock lock(mu_);
  if (t <= now_) return;
  wall_ += std::chrono::duration_cast<WallTime::duration>(t - now_);
  now_ = t;
  fire_due_locked(lock);
}

std::size_t ManualClock::sleepers() const {
  std::lock_guard lock(mu_);
  return blocking_sleepers_ + async_waiters_.size();
}

bool ManualClock::await_sleepers(std::size_t n, std::chrono::milliseconds real_timeout) const {
  std::unique_lock lock(mu_);
  // A real deadline: this is a test helper that must never hang a test run.
  auto deadline = std::chrono::steady_clock::now() + real_timeout;
  while (blocking_sleepers_ + async_waiters_.size() < n) {
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      return blocking_sleepers_ + async_waiters_.size() >= n;
    }
  }
  return true;
}

Clock::TimePoint ManualClock::next_deadline() const {
  std::lock_guard lock(mu_);
  TimePoint best = TimePoint::max();
  for (const auto& [id, w] : async_waiters_) best = std::min(best, w.deadline);
  return best;
}

}  // namespace sluice
