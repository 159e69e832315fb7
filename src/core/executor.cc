#include "sluice/core/executor.h"

#include <pthread.h>

#include <asio/associated_executor.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>

namespace sluice {

ThreadPool::ThreadPool(std::size_t threads, std::string name)
    : work_(std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
          io_.get_executor())) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this, label = name + "-" + std::to_string(i)] {
      // Linux limits thread names to 15 characters.
      pthread_setname_np(pthread_self(), label.substr(0, 15).c_str());
      io_.run();
    });
  }
}

ThreadPool::~ThreadPool() { stop(); }

void ThreadPool::join() {
  work_.reset();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void ThreadPool::stop() {
  work_.reset();
  io_.stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

// --- TaskGroup -------------------------------------------------------------

TaskGroup::TaskGroup(asio::any_io_executor ex) : ex_(std::move(ex)) {}

TaskGroup::~TaskGroup() {
  request_stop();
  wait_for(std::chrono::seconds(60));
}

void TaskGroup::spawn(asio::awaitable<void> task) { spawn(ex_, std::move(task)); }

void TaskGroup::spawn(asio::any_io_executor ex, asio::awaitable<void> task) {
  {
    std::lock_guard lock(mu_);
    ++active_;
  }
  asio::co_spawn(std::move(ex), std::move(task), [this](std::exception_ptr e) { on_done(e); });
}

void TaskGroup::on_done(std::exception_ptr e) {
  std::lock_guard lock(mu_);
  if (e && first_error_.ok()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      first_error_ = Status::internal(std::string("task failed with an exception: ") + ex.what());
    } catch (...) {
      first_error_ = Status::internal("task failed with a non-standard exception");
    }
  }
  if (--active_ == 0) cv_.notify_all();
}

bool TaskGroup::wait_for(std::chrono::nanoseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return active_ == 0; });
}

void TaskGroup::wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return active_ == 0; });
}

std::size_t TaskGroup::active() const {
  std::lock_guard lock(mu_);
  return active_;
}

Status TaskGroup::first_error() const {
  std::lock_guard lock(mu_);
  return first_error_;
}

// --- coroutine sleep -------------------------------------------------------

asio::awaitable<bool> async_sleep_until(const Clock& clock, Clock::TimePoint deadline,
                                        std::stop_token stop) {
  // Not a coroutine itself: the initiation runs when the caller awaits, and
  // the wake-up is posted to the caller's executor (its strand, if any).
  return asio::async_initiate<decltype(asio::use_awaitable), void(bool)>(
      [&clock, deadline](auto handler, std::stop_token st) {
        auto ex = asio::get_associated_executor(handler);
        // The completion handler of an awaitable is move-only; std::function
        // needs a copyable callable, so it is held by a shared pointer.
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        clock.async_wait_until(std::move(ex), deadline, std::move(st),
                               [h](bool fired) mutable { std::move(*h)(fired); });
      },
      asio::use_awaitable, std::move(stop));
}

}  // namespace sluice
