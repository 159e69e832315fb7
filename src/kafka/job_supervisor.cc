#include "kafka/job_supervisor.h"

#include <optional>
#include <utility>

namespace sluice::kafka::internal {

JobSupervisor::JobSupervisor(std::string job_name, SupervisorOptions options, Session session)
    : job_(std::move(job_name)),
      options_(std::move(options)),
      clock_(options_.clock ? *options_.clock : Clock::real()),
      log_(options_.logger ? options_.logger : make_noop_logger()),
      session_(std::move(session)),
      backoff_(RetryPolicy{.max_retries = RetryPolicy::kUnlimited,
                           .backoff = options_.restart_backoff}) {}

void JobSupervisor::run(std::stop_token stop) {
  std::stop_callback on_stop(stop, [this] {
    std::lock_guard lock(mu_);
    stopping_ = true;
    phase_.request_stop();
    cv_.notify_all();
  });
  while (true) {
    std::stop_token phase_token;
    {
      std::unique_lock lock(mu_);
      if (!switched_on_ || disabled_) state_ = disabled_ ? JobState::kDisabled : JobState::kOff;
      cv_.wait(lock, [&] { return stopping_ || (switched_on_ && !disabled_); });
      if (stopping_) break;
      phase_ = std::stop_source();
      phase_token = phase_.get_token();
      state_ = JobState::kRunning;
    }
    log_->info("kafka job running");
    SessionResult result = session_(phase_token);

    std::optional<Clock::Duration> delay;
    int failures = 0;
    {
      std::lock_guard lock(mu_);
      // Normally reset by add_handled() already; a session reporting
      // progress some other way resets here.
      if (result.progressed) {
        failures_ = 0;
        has_failures_.store(false, std::memory_order_relaxed);
        backoff_.reset();
      }
      if (result.error.ok()) {
        log_->info("kafka job stopped");
        continue;
      }
      failures = ++failures_;
      has_failures_.store(true, std::memory_order_relaxed);
      last_error_ = result.error;
      if (options_.max_consecutive_failures > 0 && failures_ >= options_.max_consecutive_failures) {
        disabled_ = true;
        switched_on_ = false;
        state_ = JobState::kDisabled;
        if (options_.disabled) options_.disabled->set(1);
        log_->error("kafka job disabled after consecutive failures; switch it on to retry",
                    {{"failures", failures}, {"error", result.error}});
        continue;
      }
      if (stopping_ || !switched_on_) {
        log_->warn("kafka job failed while stopping", {{"error", result.error}});
        continue;
      }
      delay = backoff_.next();  // unlimited policy: always a delay
      restart_at_ = clock_.now() + *delay;
      state_ = JobState::kBackoff;
    }
    log_->warn("kafka job failed; restarting from the last commit after a delay",
               {{"failures", failures}, {"delay", *delay}, {"error", result.error}});
    Clock::TimePoint restart_at;
    {
      std::lock_guard lock(mu_);
      restart_at = restart_at_;
    }
    if (!clock_.sleep_until(restart_at, phase_token))
      continue;  // stopped or switched off meanwhile
    {
      std::lock_guard lock(mu_);
      ++restarts_;
    }
    if (options_.restarts) options_.restarts->inc();
  }
  std::lock_guard lock(mu_);
  state_ = JobState::kStopped;
}

void JobSupervisor::set_switch(bool on) {
  std::lock_guard lock(mu_);
  if (on) {
    if (disabled_) {
      disabled_ = false;
      failures_ = 0;
      has_failures_.store(false, std::memory_order_relaxed);
      backoff_.reset();
      if (options_.disabled) options_.disabled->set(0);
      log_->info("kafka job enabled again");
    }
    switched_on_ = true;
  } else {
    switched_on_ = false;
    phase_.request_stop();
  }
  cv_.notify_all();
}

void JobSupervisor::reset_failures() {
  std::lock_guard lock(mu_);
  // A disabled job runs no session; its count stays until switched on.
  if (disabled_) return;
  failures_ = 0;
  has_failures_.store(false, std::memory_order_relaxed);
  backoff_.reset();
}

JobStatus JobSupervisor::status() const {
  std::lock_guard lock(mu_);
  JobStatus s;
  s.state = state_;
  s.switched_on = switched_on_;
  s.consecutive_failures = failures_;
  s.restarts = restarts_;
  s.messages_handled = handled_.load(std::memory_order_relaxed);
  s.last_error = last_error_;
  s.restart_at = restart_at_;
  return s;
}

}  // namespace sluice::kafka::internal
