#include "kafka/consumer_session.h"

#include <pthread.h>

#include <algorithm>
#include <ctime>
#include <exception>
#include <functional>
#include <random>
#include <utility>

#include "kafka/message_access.h"

namespace sluice::kafka::internal {
namespace {

using std::chrono::milliseconds;

constexpr int kPollTimeoutMs = 100;
// Messages taken from librdkafka's queue at once: one queue lock and no
// C++ wrapper per message (consume() took ~40 % of the poll loop's
// instructions with 100-byte messages).
constexpr std::size_t kBatch = 256;
// Committed-offset and list-offsets queries made while partitions are assigned.
constexpr int kOffsetQueryTimeoutMs = 10000;

std::string describe(const std::vector<RdKafka::TopicPartition*>& parts) {
  std::string out;
  for (const auto* tp : parts) {
    if (!out.empty()) out += ",";
    out += tp->topic() + "[" + std::to_string(tp->partition()) + "]";
  }
  return out;
}

std::string where(const Message& m) {
  return m.topic().empty() ? std::string("?")
                           : std::string(m.topic()) + "[" + std::to_string(m.partition()) + "]@" +
                                 std::to_string(m.offset());
}

}  // namespace

JobMetrics::JobMetrics(MetricsRegistry& r, const std::string& job)
    : handled(r.counter("sluice_kafka_messages_handled_total",
                        "Messages a managed consumer job handled successfully (dead-lettered "
                        "ones included)",
                        {"job"})
                  .with({job})),
      handler_errors(r.counter("sluice_kafka_handler_errors_total",
                               "Handler calls that failed (every attempt counts)", {"job"})
                         .with({job})),
      slow(r.counter("sluice_kafka_slow_messages_total",
                     "Handler calls that took longer than max_processing_time", {"job"})
               .with({job})),
      dead_letters(r.counter("sluice_kafka_dead_letters_total",
                             "Messages produced to the dead-letter topic", {"job"})
                       .with({job})),
      commits(r.counter("sluice_kafka_commits_total", "Offset commits acknowledged by the broker",
                        {"job"})
                  .with({job})),
      commit_failures(r.counter("sluice_kafka_commit_failures_total",
                                "Offset commits that failed (retried with the next commit)",
                                {"job"})
                          .with({job})),
      commit_latency(r.histogram("sluice_kafka_commit_latency_seconds",
                                 "Time from sending an offset commit to the broker's answer",
                                 {"job"})
                         .with({job})),
      in_flight(r.gauge("sluice_kafka_consumer_in_flight_messages",
                        "Messages read and waiting for or in a handler thread", {"job"})
                    .with({job})),
      restarts(r.counter("sluice_kafka_job_restarts_total",
                         "Restarts of a managed consumer job after a failure", {"job"})
                   .with({job})),
      disabled(r.gauge("sluice_kafka_job_disabled",
                       "1 while a job is disabled after too many consecutive failures", {"job"})
                   .with({job})),
      lag(r.gauge("sluice_kafka_consumer_lag_messages",
                  "Messages in a partition after the last one read (high watermark - position)",
                  {"job", "topic", "partition"})) {}

Result<std::shared_ptr<Producer>> JobContext::dead_letter_producer() {
  std::lock_guard lock(dlq_mu_);
  if (dlq_) return dlq_;
  ProducerConfig pc;
  pc.bootstrap_servers = config.bootstrap_servers;
  pc.name = config.job_name + "-dead-letter";
  pc.enable_sync_producer = true;
  pc.enable_async_producer = false;
  pc.properties = config.properties;  // security settings and the like apply here too
  auto p = Producer::create(std::move(pc), {.metrics = metrics_registry, .logger = log});
  if (!p.ok()) return p.status().with_context("dead-letter producer");
  dlq_ = *p;
  return dlq_;
}

Status JobContext::close_dead_letter(std::chrono::milliseconds timeout) {
  std::shared_ptr<Producer> p;
  {
    std::lock_guard lock(dlq_mu_);
    p = std::move(dlq_);
  }
  return p ? p->close(timeout) : Status();
}

ConsumerSession::ConsumerSession(JobContext& job)
    : job_(job),
      config_(job.config),
      clock_(*job.clock),
      log_(*job.log),
      metrics_(*job.metrics),
      pool_(job.config.handler_threads > 0),
      manual_commit_(!job.config.auto_commit),
      commit_every_(static_cast<std::uint64_t>(job.config.commit_every_messages)),
      coarse_timing_(job.clock == &Clock::real()),
      events_(job.log, &job.scrubber) {
  events_.on_fatal([this](Status s) { fail(std::move(s)); });
}

Clock::TimePoint ConsumerSession::timing_now() const {
  if (!coarse_timing_) return clock_.now();
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return Clock::TimePoint(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

ConsumerSession::~ConsumerSession() {
  finish();
}

SessionResult ConsumerSession::run(std::stop_token stop) {
  stop_ = std::move(stop);
  Status s = start();
  if (s.ok()) poll_loop();
  finish();
  if (!s.ok()) return {s, progressed_};
  std::lock_guard lock(failure_mu_);
  return {failure_, progressed_};
}

Status ConsumerSession::start() {
  const std::string who = "kafka consumer \"" + config_.job_name + "\"";
  SLUICE_ASSIGN_OR_RETURN(auto conf, make_consumer_conf(config_));
  std::string err;
  if (conf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(this), err) !=
          RdKafka::Conf::CONF_OK ||
      conf->set("event_cb", static_cast<RdKafka::EventCb*>(&events_), err) !=
          RdKafka::Conf::CONF_OK) {
    return Status::internal(who + ": cannot install callbacks: " + err);
  }
  consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer_) {
    return Status::invalid_argument(who +
                                    ": cannot create the client: " + job_.scrubber.scrub(err));
  }
  rk_ = consumer_->c_ptr();
  commit_queue_ = rd_kafka_queue_new(rk_);
  consumer_queue_ = rd_kafka_queue_get_consumer(rk_);
  if (pool_) start_workers();
  const RdKafka::ErrorCode ec = consumer_->subscribe(config_.topics);
  if (ec != RdKafka::ERR_NO_ERROR) return status_from(ec, who + ": subscribe");
  next_commit_ = timing_now() + config_.commit_interval;
  std::string topics;
  for (const auto& t : config_.topics) topics += (topics.empty() ? "" : ",") + t;
  log_.info("kafka job subscribed", {{"group", config_.group}, {"topics", topics}});
  return Status();
}

void ConsumerSession::poll_loop() {
  const std::size_t max_in_flight = static_cast<std::size_t>(config_.max_in_flight);
  rd_kafka_message_t* batch[kBatch];
  ssize_t n = 0;
  // A batch's messages are freed together when it is done (or on the way
  // out), so that the topic handles PollThread caches stay alive meanwhile.
  const auto free_batch = [&] {
    for (ssize_t i = 0; i < n; ++i) {
      if (batch[i]) rd_kafka_message_destroy(batch[i]);
    }
    n = 0;
  };
  struct FreeOnExit {
    decltype(free_batch)& f;
    ~FreeOnExit() { f(); }
  } free_on_exit{free_batch};
  PollThread poll{HandlerContext(config_.job_name, stop_, 1, {}), timing_now()};
  while (!stop_.stop_requested() && !failed()) {
    // Commit results only come back for commits sent from here; without one
    // outstanding, polling their queue would cost a lock per turn.
    if (!commit_requests_.empty()) rd_kafka_queue_poll_callback(commit_queue_, 0);
    // Without handler threads, poll.now is the last handler's end (or the
    // last read's), "now" to within a few instructions: reading the clock
    // again per message costs ~10 % of the loop's throughput for small
    // messages. With them, this thread may have waited for room meanwhile.
    if (pool_) poll.now = timing_now();
    maybe_commit(poll.now);
    std::size_t room = kBatch;
    if (pool_) {
      std::unique_lock lock(mu_);
      metrics_.in_flight.set(static_cast<double>(tracker_.pending_total()));
      if (tracker_.pending_total() >= max_in_flight) {
        poll_cv_.wait_for(lock, milliseconds(50), [&] {
          return tracker_.pending_total() < max_in_flight || failed() || stop_.stop_requested();
        });
        continue;
      }
      room = std::min(room, max_in_flight - tracker_.pending_total());
    }
    // What is there now, up to `room`; else wait for one message. (With a
    // timeout, a batch read waits until it is full.) Rebalance callbacks
    // run inside these calls, on this thread.
    n = rd_kafka_consume_batch_queue(consumer_queue_, 0, batch, room);
    if (n == 0) n = rd_kafka_consume_batch_queue(consumer_queue_, kPollTimeoutMs, batch, 1);
    poll.now = timing_now();
    if (n < 0) {
      n = 0;
      log_.warn(
          "kafka consume failed",
          {{"error", describe_error(static_cast<RdKafka::ErrorCode>(rd_kafka_last_error()))}});
      continue;
    }
    poll.topic_handle = nullptr;
    for (ssize_t i = 0; i < n; ++i) {
      if (stop_.stop_requested() || failed()) break;  // the rest: unhandled and uncommitted
      if (i > 0) {
        // Commit checks stay per message: a commit is due after exactly
        // commit_every_messages (unless the last one is unanswered).
        if (pool_) poll.now = timing_now();
        maybe_commit(poll.now);
      }
      on_message(&batch[i], poll);
    }
    free_batch();
  }
}

void ConsumerSession::finish() {
  if (!workers_.empty()) stop_workers();
  report_handled();  // no handler thread is left
  if (consumer_) {
    if (manual_commit_) {
      std::vector<OffsetCommit> commits;
      {
        auto lock = lock_if_pool();
        commits = tracker_.take_commits();
      }
      if (!commits.empty()) commit(std::move(commits), /*sync=*/true);
    }
    // Revokes the assignment (our callback commits anything left) and leaves
    // the group, so its partitions move to other members at once.
    const RdKafka::ErrorCode ec = consumer_->close();
    if (ec != RdKafka::ERR_NO_ERROR) {
      log_.warn("kafka consumer close failed", {{"error", describe_error(ec)}});
    }
    rd_kafka_queue_poll_callback(commit_queue_, 0);
  }
  if (consumer_queue_) {
    rd_kafka_queue_destroy(consumer_queue_);
    consumer_queue_ = nullptr;
  }
  if (commit_queue_) {
    rd_kafka_queue_destroy(commit_queue_);
    commit_queue_ = nullptr;
  }
  consumer_.reset();
  rk_ = nullptr;
  commit_requests_.clear();
  for (auto& [id, gauge] : lag_gauges_) gauge->set(0);
  lag_gauges_.clear();
  metrics_.in_flight.set(0);
}

void ConsumerSession::on_message(rd_kafka_message_t** slot, PollThread& poll) {
  const rd_kafka_message_t* r = *slot;
  switch (r->err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      break;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__PARTITION_EOF:
      return;
    default:
      on_consume_error(*r);
      return;
  }
  if (!pool_) {
    handle_here(r, poll);
    return;
  }
  const PartitionRef p{rd_kafka_topic_name(r->rkt), r->partition};
  {
    std::lock_guard lock(mu_);
    if (!tracker_.dispatched(p, r->offset)) {
      // Not (or no longer) ours, or behind what was already handed out: it
      // will be read again by whoever owns the partition.
      log_.debug("kafka message dropped (partition not assigned)",
                 {{"topic", p.topic}, {"partition", p.partition}, {"offset", r->offset}});
      return;
    }
  }
  std::lock_guard lock(mu_);
  const std::size_t q = queue_for(r);
  queues_[q].push_back(Work{MessagePtr(*slot)});
  *slot = nullptr;
  queue_cvs_[q]->notify_one();
}

void ConsumerSession::handle_here(const rd_kafka_message_t* r, PollThread& poll) {
  if (r->rkt != poll.topic_handle) {
    poll.topic_handle = r->rkt;
    poll.topic = rd_kafka_topic_name(r->rkt);
    poll.partition = -1;
  }
  if (r->partition != poll.partition) {
    poll.partition = r->partition;
    poll.tracked = tracker_.find_partition({poll.topic, r->partition});
  }
  // Handled here and now: no lookup by name, no window entry in order.
  const auto in_order = tracker_.dispatch_in_order(poll.tracked, r->offset);
  if (!in_order) {
    log_.debug("kafka message dropped (partition not assigned)",
               {{"topic", poll.topic}, {"partition", r->partition}, {"offset", r->offset}});
    return;
  }
  const MessageOutcome outcome =
      process(MessageAccess::view(r, poll.topic), poll.context, &poll.now);
  tracker_.complete_in_order(in_order, outcome);
  count(outcome);
}

void ConsumerSession::on_consume_error(const rd_kafka_message_t& m) {
  const std::string who = "kafka consumer \"" + config_.job_name + "\"";
  const auto err = static_cast<RdKafka::ErrorCode>(m.err);
  switch (err) {
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
    case RdKafka::ERR__UNKNOWN_TOPIC: {
      const std::string topic = m.rkt ? rd_kafka_topic_name(m.rkt) : "";
      if (warned_topics_.insert(topic).second) {
        log_.warn("kafka topic does not exist (yet); the job waits for it",
                  {{"topic", topic}, {"error", describe_error(err)}});
      }
      return;
    }
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR_GROUP_AUTHORIZATION_FAILED:
      fail(status_from(err, who + ": consume"));
      return;
    case RdKafka::ERR__FATAL: {
      std::string detail;
      consumer_->fatal_error(detail);
      fail(Status::internal(who + ": fatal client error: " + job_.scrubber.scrub(detail)));
      return;
    }
    default:
      log_.warn("kafka consume error",
                {{"error", describe_error(err)},
                 {"detail", job_.scrubber.scrub(rd_kafka_message_errstr(&m))}});
      return;
  }
}

MessageOutcome ConsumerSession::process(const Message& m, HandlerContext& ctx,
                                        Clock::TimePoint* now) {
  const bool timed = config_.max_processing_time.count() > 0;
  for (int attempt = 1;; ++attempt) {
    // On the coarse clock the caller's "now" (the previous call's end, a few
    // hundred instructions ago) is as good as a new reading.
    const Clock::TimePoint started = attempt == 1 && coarse_timing_ ? *now : timing_now();
    HandlerContextAccess::begin_call(ctx, attempt, started + config_.max_processing_time);
    Status s;
    try {
      s = job_.consumer->handle(ctx, m);
    } catch (const std::exception& e) {
      s = Status::internal(std::string("handler threw: ") + e.what());
    } catch (...) {
      s = Status::internal("handler threw a non-standard exception");
    }
    const Clock::TimePoint finished = timing_now();
    *now = finished;
    if (timed) {
      const auto took = finished - started;
      if (took > config_.max_processing_time) {
        metrics_.slow.inc();
        log_.warn("kafka handler slower than max_processing_time",
                  {{"message", where(m)},
                   {"took", std::chrono::duration_cast<std::chrono::nanoseconds>(took)},
                   {"max_processing_time", std::chrono::nanoseconds(config_.max_processing_time)}});
      }
    }
    if (s.ok()) return MessageOutcome::kHandled;  // counted by record()
    if (stop_.stop_requested()) {
      // Stopping: the message stays uncommitted and comes back later.
      log_.debug("kafka handler gave up while stopping", {{"message", where(m)}, {"error", s}});
      return MessageOutcome::kAbandoned;
    }
    metrics_.handler_errors.inc();
    log_.warn("kafka handler failed", {{"message", where(m)}, {"attempt", attempt}, {"error", s}});
    if (config_.message_retry.allows(attempt)) {
      thread_local std::mt19937_64 rng{std::random_device{}()};
      const auto delay = config_.message_retry.backoff.delay(attempt, rng);
      if (!clock_.sleep_for(delay, stop_) || failed()) return MessageOutcome::kAbandoned;
      continue;
    }
    if (!config_.dead_letter_topic.empty()) {
      const Status d = send_dead_letter(m, s);
      if (d.ok()) {
        metrics_.dead_letters.inc();
        log_.warn("kafka message sent to the dead-letter topic",
                  {{"message", where(m)},
                   {"dead_letter_topic", config_.dead_letter_topic},
                   {"error", s}});
        return MessageOutcome::kHandled;
      }
      s = Status(s.code(), std::string(s.message()) +
                               "; and the dead-letter topic refused the message: " +
                               std::string(d.message()));
    }
    fail(s.with_context("kafka consumer \"" + config_.job_name + "\": message " + where(m)));
    return MessageOutcome::kFailed;
  }
}

Status ConsumerSession::send_dead_letter(const Message& m, const Status& error) {
  SLUICE_ASSIGN_OR_RETURN(auto producer, job_.dead_letter_producer());
  std::vector<Header> headers;
  for (const auto& h : m.headers()) {
    headers.push_back({std::string(h.key), h.is_null
                                               ? std::nullopt
                                               : std::optional<std::string>(std::string(h.value))});
  }
  headers.push_back({"x-sluice-dlq-topic", std::string(m.topic())});
  headers.push_back({"x-sluice-dlq-partition", std::to_string(m.partition())});
  headers.push_back({"x-sluice-dlq-offset", std::to_string(m.offset())});
  headers.push_back({"x-sluice-dlq-job", config_.job_name});
  headers.push_back({"x-sluice-dlq-error", error.to_string()});
  auto r = producer->send(config_.dead_letter_topic,
                          m.has_key() ? std::optional<std::string_view>(m.key()) : std::nullopt,
                          m.has_value() ? std::optional<std::string_view>(m.value()) : std::nullopt,
                          headers);
  return r.status();
}

void ConsumerSession::record(const PartitionRef& p, std::int64_t offset, MessageOutcome outcome,
                             std::unique_lock<std::mutex>&) {
  tracker_.completed(p, offset, outcome);
  count(outcome);
}

void ConsumerSession::count(MessageOutcome outcome) {
  if (outcome != MessageOutcome::kHandled) return;
  ++handled_since_commit_;
  ++handled_unreported_;
  if (!progressed_) {
    // The first success: reported at once, it resets the job's failure count.
    progressed_ = true;
    report_handled();
  }
}

void ConsumerSession::report_handled() {
  if (handled_unreported_ == 0) return;
  metrics_.handled.inc(static_cast<double>(handled_unreported_));
  job_.supervisor->add_handled(handled_unreported_);
  handled_unreported_ = 0;
}

void ConsumerSession::fail(Status error) {
  {
    std::lock_guard lock(failure_mu_);
    if (failed_.load(std::memory_order_relaxed)) return;
    failure_ = std::move(error);
    failed_.store(true, std::memory_order_release);
  }
  poll_cv_.notify_all();
}

// ---- Handler threads ---------------------------------------------------------

void ConsumerSession::start_workers() {
  const auto n = static_cast<std::size_t>(config_.handler_threads);
  const std::size_t queues = config_.ordering == HandlerOrdering::kNone ? 1 : n;
  queues_.resize(queues);
  for (std::size_t i = 0; i < queues; ++i) {
    queue_cvs_.push_back(std::make_unique<std::condition_variable>());
  }
  workers_stop_ = false;
  for (std::size_t i = 0; i < n; ++i) {
    workers_.emplace_back([this, i] {
      pthread_setname_np(pthread_self(), "sluice-khandler");
      worker_loop(i);
    });
  }
}

void ConsumerSession::stop_workers() {
  {
    std::lock_guard lock(mu_);
    workers_stop_ = true;
    for (auto& cv : queue_cvs_) cv->notify_all();
  }
  for (auto& t : workers_) t.join();
  workers_.clear();
}

std::size_t ConsumerSession::queue_for(const rd_kafka_message_t* r) {
  const std::size_t n = queues_.size();
  if (n == 1) return 0;
  const std::string_view topic = rd_kafka_topic_name(r->rkt);
  const std::size_t by_partition =
      std::hash<std::string_view>{}(topic)*31 + static_cast<std::size_t>(r->partition);
  if (config_.ordering == HandlerOrdering::kKey && r->key) {
    const std::string_view key(static_cast<const char*>(r->key), r->key_len);
    return std::hash<std::string_view>{}(key) % n;
  }
  return by_partition % n;
}

void ConsumerSession::worker_loop(std::size_t index) {
  const std::size_t qi = queues_.size() == 1 ? 0 : index;
  auto& queue = queues_[qi];
  auto& cv = *queue_cvs_[qi];
  HandlerContext context(config_.job_name, stop_, 1, {});
  std::unique_lock lock(mu_);
  while (true) {
    cv.wait(lock, [&] { return workers_stop_ || !queue.empty(); });
    if (queue.empty()) return;  // stopping and nothing left
    Work work = std::move(queue.front());
    queue.pop_front();
    const rd_kafka_message_t* r = work.message.get();
    const PartitionRef p{rd_kafka_topic_name(r->rkt), r->partition};
    if (workers_stop_ || failed() || stop_.stop_requested() || revoking_.count(p) > 0) {
      // Not started: leave it uncommitted; it is read again later.
      tracker_.completed(p, r->offset, MessageOutcome::kAbandoned);
      poll_cv_.notify_all();
      continue;
    }
    lock.unlock();
    Clock::TimePoint now = timing_now();
    const MessageOutcome outcome = process(MessageAccess::view(r), context, &now);
    lock.lock();
    record(p, r->offset, outcome, lock);
    poll_cv_.notify_all();
  }
}

// ---- Offsets -------------------------------------------------------------------

void ConsumerSession::commit_if_due(Clock::TimePoint now) {
  {
    auto lock = lock_if_pool();
    if (handled_since_commit_ < commit_every_ && now < next_commit_) return;
  }
  if (manual_commit_ && !commit_requests_.empty()) {
    // One batched commit at a time: at a high message rate, commits every
    // commit_every_messages would otherwise pile up behind a slow group
    // coordinator (and cost the broker a write each). The due commit goes
    // out once the last one is answered, covering everything handled by
    // then. Its answer is looked for here at most once per clock reading
    // (the coarse clock ticks every few ms), else at the poll loop's turn.
    if (now == commit_answer_polled_at_) return;
    commit_answer_polled_at_ = now;
    rd_kafka_queue_poll_callback(commit_queue_, 0);
    if (!commit_requests_.empty()) return;
  }
  {
    auto lock = lock_if_pool();
    handled_since_commit_ = 0;
    report_handled();
  }
  next_commit_ = now + config_.commit_interval;
  update_lag();
  if (!manual_commit_) return;  // librdkafka commits on its own timer
  std::vector<OffsetCommit> commits;
  {
    auto lock = lock_if_pool();
    commits = tracker_.take_commits();
  }
  if (!commits.empty()) commit(std::move(commits), /*sync=*/false);
}

void ConsumerSession::commit(std::vector<OffsetCommit> commits, bool sync) {
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(commits.size()));
  for (const auto& c : commits) {
    rd_kafka_topic_partition_list_add(list, c.partition.topic.c_str(), c.partition.partition)
        ->offset = c.offset;
  }
  commit_requests_.push_back(std::make_unique<CommitRequest>(CommitRequest{this, clock_.now()}));
  CommitRequest* req = commit_requests_.back().get();
  const rd_kafka_resp_err_t err = rd_kafka_commit_queue(rk_, list, sync ? nullptr : commit_queue_,
                                                        &ConsumerSession::on_commit, req);
  rd_kafka_topic_partition_list_destroy(list);
  auto it = std::find_if(commit_requests_.begin(), commit_requests_.end(),
                         [&](const auto& r) { return r.get() == req; });
  if (it != commit_requests_.end() && (sync || err != RD_KAFKA_RESP_ERR_NO_ERROR)) {
    // The callback did not run: the commit never went out.
    commit_requests_.erase(it);
    {
      auto lock = lock_if_pool();
      for (const auto& c : commits) tracker_.commit_result(c.partition.ref(), c.offset, false);
    }
    metrics_.commit_failures.inc();
    log_.warn("kafka offset commit failed",
              {{"error", describe_error(static_cast<RdKafka::ErrorCode>(err))}});
  }
}

void ConsumerSession::on_commit(rd_kafka_t*, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  auto* req = static_cast<CommitRequest*>(opaque);
  ConsumerSession* self = req->session;
  const auto took = self->clock_.now() - req->started;
  self->metrics_.commit_latency.observe(std::chrono::duration<double>(took).count());
  rd_kafka_resp_err_t first =
      err == RD_KAFKA_RESP_ERR__NO_OFFSET ? RD_KAFKA_RESP_ERR_NO_ERROR : err;
  if (offsets) {
    auto lock = self->lock_if_pool();
    for (int i = 0; i < offsets->cnt; ++i) {
      const auto& e = offsets->elems[i];
      rd_kafka_resp_err_t perr = err != RD_KAFKA_RESP_ERR_NO_ERROR ? err : e.err;
      if (perr == RD_KAFKA_RESP_ERR__NO_OFFSET) perr = RD_KAFKA_RESP_ERR_NO_ERROR;
      if (perr != RD_KAFKA_RESP_ERR_NO_ERROR && first == RD_KAFKA_RESP_ERR_NO_ERROR) first = perr;
      self->tracker_.commit_result({e.topic, e.partition}, e.offset,
                                   perr == RD_KAFKA_RESP_ERR_NO_ERROR);
    }
  }
  if (first == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->metrics_.commits.inc();
  } else {
    self->metrics_.commit_failures.inc();
    // While the group rebalances, commits are refused: expected, not alarming.
    const bool rebalancing = first == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS ||
                             first == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
                             first == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID;
    self->log_.log(rebalancing ? LogLevel::kInfo : LogLevel::kWarn,
                   "kafka offset commit failed; retried with the next commit",
                   {{"error", describe_error(static_cast<RdKafka::ErrorCode>(first))}});
  }
  self->commit_answer_polled_at_ = Clock::TimePoint::min();
  auto& reqs = self->commit_requests_;
  reqs.erase(
      std::remove_if(reqs.begin(), reqs.end(), [&](const auto& r) { return r.get() == req; }),
      reqs.end());
}

void ConsumerSession::revoke(const std::vector<RdKafka::TopicPartition*>& partitions, bool lost) {
  std::vector<PartitionId> ids;
  ids.reserve(partitions.size());
  for (const auto* tp : partitions) ids.push_back({tp->topic(), tp->partition()});
  if (pool_) {
    // Let the handler threads finish the messages in hand; the queued ones
    // of these partitions are dropped (uncommitted, read again by the next owner).
    std::unique_lock lock(mu_);
    for (const auto& id : ids) revoking_.insert(id);
    for (auto& cv : queue_cvs_) cv->notify_all();
    poll_cv_.wait(lock, [&] {
      return std::all_of(ids.begin(), ids.end(),
                         [&](const PartitionId& id) { return tracker_.pending(id.ref()) == 0; });
    });
  }
  if (manual_commit_ && !lost) {
    std::vector<OffsetCommit> commits;
    {
      auto lock = lock_if_pool();
      commits = tracker_.take_commits(ids);
    }
    if (!commits.empty()) commit(std::move(commits), /*sync=*/true);
  }
  auto lock = lock_if_pool();
  for (const auto& id : ids) {
    const auto handled = tracker_.committable(id.ref());
    const auto acked = tracker_.acknowledged(id.ref());
    if (manual_commit_ && handled && (!acked || *acked < *handled)) resume_at_[id] = *handled;
    tracker_.revoke(id.ref());
    revoking_.erase(id);
    if (auto it = lag_gauges_.find(id); it != lag_gauges_.end()) it->second->set(0);
  }
}

void ConsumerSession::rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                                   std::vector<RdKafka::TopicPartition*>& partitions) {
  const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
    // Without a committed offset a partition starts where initial_offset
    // says, and nothing is committed there until a message is handled; a
    // later member (a restart with initial offset newest) would then skip
    // whatever arrived meanwhile. So the start is resolved here, assigned
    // explicitly and committed like a handled position: the group keeps it.
    auto starts = manual_commit_ ? uncommitted_starts(consumer, partitions)
                                 : std::map<PartitionId, std::int64_t, PartitionLess>{};
    {
      auto lock = lock_if_pool();
      for (auto* tp : partitions) {
        auto it = resume_at_.find(PartitionRef{tp->topic(), tp->partition()});
        auto start = starts.find(PartitionRef{tp->topic(), tp->partition()});
        if (it == resume_at_.end() && start != starts.end()) {
          tracker_.assign({tp->topic(), tp->partition()}, start->second);
          tp->set_offset(start->second);
          log_.info(
              "kafka partition has no committed offset; starting (and committing) at the "
              "initial offset",
              {{"topic", tp->topic()}, {"partition", tp->partition()}, {"offset", start->second}});
        } else if (it == resume_at_.end()) {
          tracker_.assign({tp->topic(), tp->partition()});
        } else {
          // Handled here, not yet committed: resume after it, and commit it.
          tracker_.assign({tp->topic(), tp->partition()}, it->second);
          tp->set_offset(it->second);
          log_.info(
              "kafka partition resumes after its uncommitted handled messages",
              {{"topic", tp->topic()}, {"partition", tp->partition()}, {"offset", it->second}});
          resume_at_.erase(it);
        }
      }
    }
    log_.info("kafka partitions assigned", {{"partitions", describe(partitions)}});
    if (cooperative) {
      std::unique_ptr<RdKafka::Error> e(consumer->incremental_assign(partitions));
      if (e) log_.error("kafka incremental assign failed", {{"error", e->str()}});
    } else {
      const RdKafka::ErrorCode ec = consumer->assign(partitions);
      if (ec != RdKafka::ERR_NO_ERROR) {
        log_.error("kafka assign failed", {{"error", describe_error(ec)}});
      }
    }
    return;
  }
  if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
    const bool lost = consumer->assignment_lost();
    revoke(partitions, lost);
    log_.info(lost ? "kafka partitions lost" : "kafka partitions revoked",
              {{"partitions", describe(partitions)}});
    if (cooperative) {
      std::unique_ptr<RdKafka::Error> e(consumer->incremental_unassign(partitions));
      if (e) log_.error("kafka incremental unassign failed", {{"error", e->str()}});
    } else {
      consumer->unassign();
    }
    return;
  }
  log_.error("kafka rebalance error", {{"error", describe_error(err)}});
  revoke(partitions, /*lost=*/true);
  consumer->unassign();
}

std::map<PartitionId, std::int64_t, PartitionLess> ConsumerSession::uncommitted_starts(
    RdKafka::KafkaConsumer* consumer, const std::vector<RdKafka::TopicPartition*>& partitions) {
  std::map<PartitionId, std::int64_t, PartitionLess> out;
  std::vector<RdKafka::TopicPartition*> query;
  for (const auto* tp : partitions) {
    if (resume_at_.count(PartitionRef{tp->topic(), tp->partition()}) == 0) {
      query.push_back(RdKafka::TopicPartition::create(tp->topic(), tp->partition()));
    }
  }
  std::vector<RdKafka::TopicPartition*> uncommitted;
  const auto cleanup = [&] {
    RdKafka::TopicPartition::destroy(query);
    RdKafka::TopicPartition::destroy(uncommitted);
  };
  if (query.empty()) return out;
  RdKafka::ErrorCode ec = consumer->committed(query, kOffsetQueryTimeoutMs);
  if (ec != RdKafka::ERR_NO_ERROR) {
    log_.warn(
        "kafka committed offsets unavailable; partitions without one start at librdkafka's "
        "reset position, committed once a message is handled",
        {{"error", describe_error(ec)}});
    cleanup();
    return out;
  }
  // ListOffsets takes the special timestamps -2 (log start) and -1 (end).
  const std::int64_t which = config_.initial_offset == InitialOffset::kOldest
                                 ? RdKafka::Topic::OFFSET_BEGINNING
                                 : RdKafka::Topic::OFFSET_END;
  for (const auto* q : query) {
    if (q->err() == RdKafka::ERR_NO_ERROR && q->offset() < 0) {
      uncommitted.push_back(RdKafka::TopicPartition::create(q->topic(), q->partition(), which));
    }
  }
  if (uncommitted.empty()) {
    cleanup();
    return out;
  }
  ec = consumer->offsetsForTimes(uncommitted, kOffsetQueryTimeoutMs);
  if (ec != RdKafka::ERR_NO_ERROR) {
    log_.warn(
        "kafka initial offsets unavailable; partitions without a committed offset start at "
        "librdkafka's reset position, committed once a message is handled",
        {{"error", describe_error(ec)}});
  } else {
    for (const auto* u : uncommitted) {
      if (u->err() == RdKafka::ERR_NO_ERROR && u->offset() >= 0) {
        out.emplace(PartitionId{u->topic(), u->partition()}, u->offset());
      }
    }
  }
  cleanup();
  return out;
}

void ConsumerSession::update_lag() {
  std::vector<std::pair<PartitionId, std::int64_t>> positions;
  {
    auto lock = lock_if_pool();
    for (auto& id : tracker_.partitions()) {
      if (auto next = tracker_.next_offset(id.ref())) positions.emplace_back(std::move(id), *next);
    }
  }
  for (const auto& [id, next] : positions) {
    std::int64_t low = 0, high = 0;
    if (rd_kafka_get_watermark_offsets(rk_, id.topic.c_str(), id.partition, &low, &high) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        high >= 0) {
      lag_gauge(id).set(static_cast<double>(std::max<std::int64_t>(0, high - next)));
    }
  }
}

Gauge& ConsumerSession::lag_gauge(const PartitionId& p) {
  auto it = lag_gauges_.find(p);
  if (it != lag_gauges_.end()) return *it->second;
  Gauge& g = metrics_.lag.with({config_.job_name, p.topic, std::to_string(p.partition)});
  lag_gauges_.emplace(p, &g);
  return g;
}

}  // namespace sluice::kafka::internal
