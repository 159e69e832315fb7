// Registry: runs managed consumer jobs and owns managed producers, with one
// stop token for the whole lifecycle (seed 004's RegisterConsumer,
// SetConsumerSwitch, StartAllConsumers, RegisterProducer and WaitStop).
//
//   sluice::kafka::Registry registry;
//   registry.register_consumer(std::make_shared<Orders>(config));
//   registry.set_consumer_switch("orders", true);  // jobs start switched off
//   std::stop_source stop;
//   sluice::ShutdownSignals signals(stop);         // SIGINT/SIGTERM -> stop
//   registry.start_all(stop.get_token());
//   registry.wait_stop();   // returns after the signal and a graceful shutdown
//
// Each job has a thread of its own that reads, hands messages to the
// handler, and commits. Stopping (the token, stop(), or the job's switch
// turned off) lets the handler finish the message in hand, commits what was
// handled, and leaves the group, so the partitions move to other members at
// once. Switching a job on again rejoins and resumes from the commit.
//
// A job whose handler fails (after ConsumerConfig::message_retry) is
// restarted from its last committed offset after 1 s, 2 s, 4 s ... up to
// 60 s; after max_consecutive_failures failures in a row it is disabled
// until switched on again.
#ifndef SLUICE_KAFKA_REGISTRY_H_
#define SLUICE_KAFKA_REGISTRY_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/clock.h"
#include "sluice/core/logger.h"
#include "sluice/core/metrics.h"
#include "sluice/core/result.h"
#include "sluice/core/status.h"
#include "sluice/kafka/consumer.h"
#include "sluice/kafka/producer.h"

namespace sluice::kafka {

struct RegistryOptions {
  // Null: MetricsRegistry::global().
  MetricsRegistry* metrics = nullptr;
  // Null: no logging.
  std::shared_ptr<Logger> logger = nullptr;
  // Null: Clock::real(). Times restart backoff, message retries and commit
  // intervals.
  const Clock* clock = nullptr;
  // How long wait_stop() lets each producer flush before failing what is
  // left. Default 30 s.
  std::chrono::milliseconds producer_close_timeout{30'000};
};

enum class JobState {
  kOff,       // switched off (or not started yet)
  kRunning,   // in the group, reading and handling
  kBackoff,   // failed; waiting to restart
  kDisabled,  // failed max_consecutive_failures times in a row; switch on to retry
  kStopped,   // the registry stopped
};
std::string_view job_state_name(JobState state);

struct JobStatus {
  JobState state = JobState::kOff;
  bool switched_on = false;
  // Failures since the last successfully handled message.
  int consecutive_failures = 0;
  // Restarts after a failure, in the registry's lifetime.
  std::uint64_t restarts = 0;
  // Messages handled successfully (dead-lettered ones included).
  std::uint64_t messages_handled = 0;
  // The error that ended the last failed run; OK if none failed.
  Status last_error{};
  // In kBackoff: when the job restarts (on the registry's clock).
  Clock::TimePoint restart_at{};
};

class Registry {
 public:
  explicit Registry(RegistryOptions options = {});
  // Stops every job and waits for them, then closes the producers.
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Adds a job, switched off. Its config is validated now (InvalidArgument
  // naming the field); AlreadyExists if the job name is taken. A job
  // registered after start_all() starts at once (it runs when switched on).
  Status register_consumer(std::shared_ptr<Consumer> consumer);

  // Turns a job on (it joins its group and consumes; a disabled job is
  // enabled again with its failure count reset) or off (it finishes the
  // message in hand, commits and leaves the group). NotFound for an unknown
  // job. May be called at any time, before or after start_all().
  Status set_consumer_switch(std::string_view job_name, bool on);

  // Starts every registered job's thread. `stop` (and stop()) end them all.
  // FailedPrecondition when called twice or after stop.
  Status start_all(std::stop_token stop = {});

  // Creates a Producer owned by this registry: wait_stop() flushes and
  // closes it. The registry's metrics and logger are used.
  Result<std::shared_ptr<Producer>> register_producer(ProducerConfig config);

  // Asks every job to stop, as the token given to start_all() does.
  void stop();
  bool stop_requested() const;

  // Blocks until stop is requested (token or stop()), then until every job
  // has shut down gracefully, then flushes and closes every producer. OK, or
  // the first producer's close error. Safe to call more than once.
  Status wait_stop();

  // A job's state, failure count and counters. NotFound for an unknown job.
  Result<JobStatus> job_status(std::string_view job_name) const;
  std::vector<std::string> job_names() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_{};
};

}  // namespace sluice::kafka

#endif  // SLUICE_KAFKA_REGISTRY_H_
