// The executor sluice runs on: a small pool of threads running Asio handlers
// and C++20 coroutines, strands for per-shard ordering, and TaskGroup for
// structured shutdown with std::stop_token.
//
// A shard never owns a thread. Each shard's loop is a coroutine
// (asio::awaitable) on a strand of the pool; it suspends while waiting for
// HTTP replies, timers or the handler pool, so a thousand shards run on a few
// threads.
//
//   sluice::ThreadPool pool(4);
//   sluice::TaskGroup tasks(pool.executor());
//   tasks.spawn(read_shard(...));            // asio::awaitable<void>
//   ...
//   tasks.request_stop();                    // every task sees stop_token()
//   tasks.wait_for(std::chrono::seconds(30));
#ifndef SLUICE_CORE_EXECUTOR_H_
#define SLUICE_CORE_EXECUTOR_H_

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "sluice/core/clock.h"
#include "sluice/core/status.h"

namespace sluice {

// A fixed set of threads running one Asio io_context.
class ThreadPool {
 public:
  // `threads` = 0 uses the number of hardware threads. Threads are named
  // "<name>-<n>" for debuggers and top.
  explicit ThreadPool(std::size_t threads = 0, std::string name = "sluice");
  // Stops (handlers not yet run are dropped) and joins.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  asio::any_io_executor executor() { return io_.get_executor(); }
  // A strand: handlers posted to it run one at a time, in order.
  asio::strand<asio::any_io_executor> make_strand() { return asio::make_strand(executor()); }
  std::size_t size() const { return threads_.size(); }

  // Lets the threads finish every queued and future-queued handler, then
  // joins them: returns once no work is left.
  void join();
  // Stops the threads as soon as their current handler returns, then joins.
  void stop();

 private:
  asio::io_context io_;
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
};

// Coroutines started together and stopped together.
//
// Every task gets the group's stop token; request_stop() fires it and
// wait_for() blocks until every task has returned. An exception escaping a
// task is caught: the first one is kept as first_error().
class TaskGroup {
 public:
  explicit TaskGroup(asio::any_io_executor ex);
  // Requests stop and waits (up to 60 s) for the tasks; call wait_for()
  // yourself to choose the deadline.
  ~TaskGroup();
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  // Starts `task` on the group's executor, or on `ex` (a strand, say).
  void spawn(asio::awaitable<void> task);
  void spawn(asio::any_io_executor ex, asio::awaitable<void> task);

  std::stop_token stop_token() const { return stop_.get_token(); }
  void request_stop() { stop_.request_stop(); }
  bool stop_requested() const { return stop_.stop_requested(); }

  // Blocks until no task is running (true) or `timeout` passes (false).
  // Must not be called from a thread of the executor the tasks run on.
  bool wait_for(std::chrono::nanoseconds timeout);
  // Waits without a deadline.
  void wait();

  std::size_t active() const;
  // OK, or an Internal error carrying the first exception a task let escape.
  Status first_error() const;

 private:
  void on_done(std::exception_ptr e);

  asio::any_io_executor ex_;
  std::stop_source stop_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::size_t active_ = 0;
  Status first_error_;
};

// Suspends the calling coroutine until `deadline` on `clock` (returns true)
// or until `stop` is requested (returns false, promptly).
asio::awaitable<bool> async_sleep_until(const Clock& clock, Clock::TimePoint deadline,
                                        std::stop_token stop = {});
inline asio::awaitable<bool> async_sleep_for(const Clock& clock, Clock::Duration d,
                                             std::stop_token stop = {}) {
  return async_sleep_until(clock, clock.now() + d, std::move(stop));
}

// Runs `fn()` (which may block) on `target` and resumes the calling coroutine
// on its own executor with the result. This is how coroutines on the engine's
// threads hand blocking work (user handlers, checkpoint writes) to a pool
// sized for it. `fn` must not throw; `fn()`'s result must be movable.
template <class F>
auto run_on(asio::any_io_executor target, F fn) -> asio::awaitable<decltype(fn())> {
  using R = decltype(fn());
  // Not a coroutine itself (see docs/DEVELOPING.md on GCC 12).
  return asio::async_initiate<decltype(asio::use_awaitable), void(R)>(
      [target](auto handler, F f) mutable {
        auto back = asio::get_associated_executor(handler);
        asio::post(target,
                   [f = std::move(f), back = std::move(back), h = std::move(handler)]() mutable {
                     R result = f();
                     asio::post(back, [h = std::move(h), result = std::move(result)]() mutable {
                       std::move(h)(std::move(result));
                     });
                   });
      },
      asio::use_awaitable, std::move(fn));
}

// Runs `task` on `ex` and blocks the calling thread until it finishes,
// returning its result (or rethrowing its exception). For main(), tests and
// synchronous wrappers; never call it from a thread of `ex`.
template <class T>
T run_blocking(asio::any_io_executor ex, asio::awaitable<T> task) {
  return asio::co_spawn(std::move(ex), std::move(task), asio::use_future).get();
}

}  // namespace sluice

#endif  // SLUICE_CORE_EXECUTOR_H_
