// JobSupervisor: the life of one managed consumer job, apart from Kafka.
//
// It runs sessions (one consumer-group membership each, see
// ConsumerSession) while the job's switch is on; when a session fails it
// waits (exponential backoff on the injected Clock), then starts a new one,
// which resumes from the last committed offsets; after N failures in a row
// it disables the job until the switch is turned on again. The failure
// count resets as soon as a session handles a message successfully (not
// when that session ends), so status() shows 0 while a restarted job works.
//
// The session is a function, so that these rules are tested with a
// ManualClock and scripted sessions, without a broker.
#ifndef SLUICE_SRC_KAFKA_JOB_SUPERVISOR_H_
#define SLUICE_SRC_KAFKA_JOB_SUPERVISOR_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>

#include "sluice/core/backoff.h"
#include "sluice/core/clock.h"
#include "sluice/core/logger.h"
#include "sluice/core/metrics.h"
#include "sluice/core/status.h"
#include "sluice/kafka/registry.h"

namespace sluice::kafka::internal {

// How a session ended.
struct SessionResult {
  // OK: it stopped because it was asked to (stop or switch-off). An error:
  // it failed (handler failure after retries, fatal client error).
  Status error;
  // Whether at least one message was handled successfully.
  bool progressed = false;
};

struct SupervisorOptions {
  BackoffPolicy restart_backoff;
  int max_consecutive_failures = 10;  // 0: never disable
  const Clock* clock = nullptr;
  std::shared_ptr<Logger> logger;
  Counter* restarts = nullptr;  // sluice_kafka_job_restarts_total{job}
  Gauge* disabled = nullptr;    // sluice_kafka_job_disabled{job}: 1 while disabled
};

class JobSupervisor {
 public:
  // Runs one session until `stop` fires (then returns promptly after a
  // graceful shutdown) or it fails.
  using Session = std::function<SessionResult(std::stop_token stop)>;

  JobSupervisor(std::string job_name, SupervisorOptions options, Session session);

  // The job's thread body: returns once `stop` is requested and the current
  // session (if any) has returned.
  void run(std::stop_token stop);

  void set_switch(bool on);
  JobStatus status() const;
  // Called by sessions for messages handled successfully
  // (status().messages_handled). The first success after a failure resets
  // the failure count and the backoff; afterwards this is one relaxed load
  // more, as the poll loop calls it per message.
  void add_handled(std::uint64_t n) {
    handled_.fetch_add(n, std::memory_order_relaxed);
    if (n > 0 && has_failures_.load(std::memory_order_relaxed)) reset_failures();
  }

 private:
  void reset_failures();

  const std::string job_;
  SupervisorOptions options_;
  const Clock& clock_;
  std::shared_ptr<Logger> log_;
  Session session_;

  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  bool switched_on_ = false;
  bool disabled_ = false;
  bool stopping_ = false;
  JobState state_ = JobState::kOff;
  int failures_ = 0;
  std::uint64_t restarts_ = 0;
  Status last_error_;
  Clock::TimePoint restart_at_{};
  Backoff backoff_;
  // Fires to end the current session or backoff wait: stop, or switch-off.
  std::stop_source phase_;
  std::atomic<std::uint64_t> handled_{0};
  // failures_ > 0, readable without mu_ (set and cleared under it).
  std::atomic<bool> has_failures_{false};
};

}  // namespace sluice::kafka::internal

#endif  // SLUICE_SRC_KAFKA_JOB_SUPERVISOR_H_
