#include "sluice/kafka/registry.h"

#include <pthread.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "kafka/consumer_session.h"
#include "kafka/job_supervisor.h"

namespace sluice::kafka {

std::string_view job_state_name(JobState state) {
  switch (state) {
    case JobState::kOff:
      return "off";
    case JobState::kRunning:
      return "running";
    case JobState::kBackoff:
      return "backoff";
    case JobState::kDisabled:
      return "disabled";
    case JobState::kStopped:
      return "stopped";
  }
  return "unknown";
}

namespace {

struct Job {
  internal::JobContext ctx;
  std::unique_ptr<internal::JobSupervisor> supervisor;
  std::thread thread;
};

}  // namespace

struct Registry::Impl {
  RegistryOptions options;
  MetricsRegistry& metrics;
  std::shared_ptr<Logger> log;
  const Clock& clock;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::unique_ptr<Job>, std::less<>> jobs;
  std::vector<std::shared_ptr<Producer>> producers;
  std::stop_source stop;
  bool started = false;
  bool stopped = false;  // wait_stop() finished: nothing can be added any more
  std::mutex wait_mu;    // one wait_stop() at a time
  Status wait_status;

  struct ForwardStop {
    Impl* impl;
    void operator()() const { impl->request_stop(); }
  };
  std::optional<std::stop_callback<ForwardStop>> external_stop;

  explicit Impl(RegistryOptions o)
      : options(std::move(o)),
        metrics(registry_or_global(options.metrics)),
        log(options.logger ? options.logger : make_noop_logger()),
        clock(options.clock ? *options.clock : Clock::real()) {}

  void request_stop() {
    stop.request_stop();
    std::lock_guard lock(mu);
    cv.notify_all();
  }

  void start_job(Job& job) {  // mu held
    job.thread = std::thread([sup = job.supervisor.get(), token = stop.get_token()] {
      // The job's poll thread (its handler runs here without handler threads).
      pthread_setname_np(pthread_self(), "sluice-kjob");
      sup->run(token);
    });
  }
};

Registry::Registry(RegistryOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Registry::~Registry() {
  impl_->request_stop();
  (void)wait_stop();
  impl_->external_stop.reset();
}

Status Registry::register_consumer(std::shared_ptr<Consumer> consumer) {
  if (!consumer) return Status::invalid_argument("kafka registry: consumer is null");
  ConsumerConfig config = consumer->config();
  SLUICE_RETURN_IF_ERROR(validate(config));
  const std::string name = config.job_name;

  auto job = std::make_unique<Job>();
  auto& ctx = job->ctx;
  ctx.consumer = std::move(consumer);
  ctx.config = std::move(config);
  ctx.clock = &impl_->clock;
  ctx.log = with_fields(impl_->log, {{"component", "kafka"}, {"job", name}});
  ctx.metrics_registry = &impl_->metrics;
  ctx.metrics = std::make_unique<internal::JobMetrics>(impl_->metrics, name);
  ctx.scrubber.add_from(ctx.config.properties);
  internal::SupervisorOptions sup{.restart_backoff = ctx.config.restart_backoff,
                                  .max_consecutive_failures = ctx.config.max_consecutive_failures,
                                  .clock = &impl_->clock,
                                  .logger = ctx.log,
                                  .restarts = &ctx.metrics->restarts,
                                  .disabled = &ctx.metrics->disabled};
  internal::JobContext* ctx_ptr = &ctx;
  job->supervisor = std::make_unique<internal::JobSupervisor>(
      name, std::move(sup), [ctx_ptr](std::stop_token stop) {
        internal::ConsumerSession session(*ctx_ptr);
        return session.run(std::move(stop));
      });
  ctx.supervisor = job->supervisor.get();
  ctx.metrics->disabled.set(0);

  std::lock_guard lock(impl_->mu);
  if (impl_->stopped || impl_->stop.stop_requested()) {
    return Status::failed_precondition("kafka registry: stopped; cannot register job \"" + name +
                                       "\"");
  }
  if (impl_->jobs.count(name)) {
    return Status::already_exists("kafka registry: a job named \"" + name +
                                  "\" is already registered");
  }
  Job& ref = *job;
  impl_->jobs.emplace(name, std::move(job));
  if (impl_->started) impl_->start_job(ref);
  return Status();
}

Status Registry::set_consumer_switch(std::string_view job_name, bool on) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->jobs.find(job_name);
  if (it == impl_->jobs.end()) {
    return Status::not_found("kafka registry: no job named \"" + std::string(job_name) + "\"");
  }
  it->second->supervisor->set_switch(on);
  impl_->log->info("kafka job switched", {{"job", job_name}, {"on", on}});
  return Status();
}

Status Registry::start_all(std::stop_token stop) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->started)
      return Status::failed_precondition("kafka registry: start_all() called twice");
    if (impl_->stopped || impl_->stop.stop_requested()) {
      return Status::failed_precondition("kafka registry: stopped; cannot start");
    }
    impl_->started = true;
    for (auto& [name, job] : impl_->jobs) impl_->start_job(*job);
  }
  // Outside the lock: the callback runs at once if `stop` is already requested.
  impl_->external_stop.emplace(std::move(stop), Impl::ForwardStop{impl_.get()});
  return Status();
}

Result<std::shared_ptr<Producer>> Registry::register_producer(ProducerConfig config) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) {
      return Status::failed_precondition("kafka registry: stopped; cannot register a producer");
    }
  }
  SLUICE_ASSIGN_OR_RETURN(
      auto producer,
      Producer::create(std::move(config), {.metrics = &impl_->metrics, .logger = impl_->log}));
  std::lock_guard lock(impl_->mu);
  impl_->producers.push_back(producer);
  return producer;
}

void Registry::stop() {
  impl_->request_stop();
}

bool Registry::stop_requested() const {
  return impl_->stop.stop_requested();
}

Status Registry::wait_stop() {
  std::lock_guard wait_lock(impl_->wait_mu);
  {
    std::unique_lock lock(impl_->mu);
    if (impl_->stopped) return impl_->wait_status;
    impl_->cv.wait(lock, [&] { return impl_->stop.stop_requested(); });
  }
  // Jobs first: a handler finishing its message may still produce.
  std::vector<Job*> jobs;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [name, job] : impl_->jobs) jobs.push_back(job.get());
  }
  for (Job* job : jobs) {
    if (job->thread.joinable()) job->thread.join();
  }
  Status first;
  for (Job* job : jobs) {
    Status s = job->ctx.close_dead_letter(impl_->options.producer_close_timeout);
    if (first.ok() && !s.ok()) first = s;
  }
  std::vector<std::shared_ptr<Producer>> producers;
  {
    std::lock_guard lock(impl_->mu);
    producers = impl_->producers;
  }
  for (auto& p : producers) {
    Status s = p->close(impl_->options.producer_close_timeout);
    if (first.ok() && !s.ok()) first = s;
  }
  std::lock_guard lock(impl_->mu);
  impl_->stopped = true;
  impl_->wait_status = first;
  impl_->log->info("kafka registry stopped");
  return first;
}

Result<JobStatus> Registry::job_status(std::string_view job_name) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->jobs.find(job_name);
  if (it == impl_->jobs.end()) {
    return Status::not_found("kafka registry: no job named \"" + std::string(job_name) + "\"");
  }
  return it->second->supervisor->status();
}

std::vector<std::string> Registry::job_names() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> out;
  for (const auto& [name, job] : impl_->jobs) out.push_back(name);
  return out;
}

}  // namespace sluice::kafka
