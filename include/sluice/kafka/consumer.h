// Managed consumers: the Consumer interface a job implements, and its
// ConsumerConfig (seed 004's ConsumerConfig, on librdkafka).
//
// A consumer is a named job: it belongs to a consumer group, reads one or more
// topics and hands every message to handle(). The kafka::Registry
// (registry.h) runs it: switches it on and off, restarts it with backoff when
// the handler fails, commits offsets at least once, and stops it gracefully.
//
//   class Orders final : public sluice::kafka::Consumer {
//    public:
//     explicit Orders(sluice::kafka::ConsumerConfig c) : config_(std::move(c)) {}
//     const sluice::kafka::ConsumerConfig& config() const override { return config_; }
//     sluice::Status handle(sluice::kafka::HandlerContext& ctx,
//                           const sluice::kafka::Message& m) override {
//       return store(m.key(), m.value());   // not OK: retried, never skipped
//     }
//    private:
//     sluice::kafka::ConsumerConfig config_;
//   };
#ifndef SLUICE_KAFKA_CONSUMER_H_
#define SLUICE_KAFKA_CONSUMER_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/backoff.h"
#include "sluice/core/clock.h"
#include "sluice/core/status.h"
#include "sluice/kafka/message.h"

namespace sluice::kafka {

// Where a group starts reading a partition that has no committed offset
// (librdkafka's auto.offset.reset).
enum class InitialOffset {
  kNewest,  // only messages produced from now on (Sarama's OffsetNewest, "latest")
  kOldest,  // from the oldest retained message (OffsetOldest, "earliest")
};

// Whether messages of open or aborted transactions are delivered.
enum class IsolationLevel { kReadCommitted, kReadUncommitted };

// How the group spreads partitions over its members
// (partition.assignment.strategy). Cooperative-sticky cannot be combined with
// the other two: it uses the incremental rebalance protocol.
enum class BalanceStrategy { kRoundRobin, kRange, kCooperativeSticky };

// With handler_threads > 0: which messages may be handled at the same time.
enum class HandlerOrdering {
  kPartition,  // one partition's messages one after another (Kafka's usual promise)
  kKey,        // one key's messages one after another; a partition's keys in parallel
  kNone,       // any message on any thread
};

struct ConsumerConfig {
  // ---- The seed's table ------------------------------------------------------

  // Unique name of the job in its registry; also the metrics' `job` label. Required.
  std::string job_name{};
  // Topics to consume (the seed's Topic; several are allowed). Required.
  std::vector<std::string> topics{};
  // Comma-separated host:port list of brokers. Required.
  std::string bootstrap_servers{};
  // Consumer group id (the seed's ConsumerGroup). Required.
  std::string group{};
  // false (the default, and the seed's recommendation): sluice commits an
  // offset only once every earlier message of that partition was handled
  // successfully: at-least-once.
  // true: librdkafka marks each message consumed as soon as it is read and
  // commits on a timer (auto.commit.interval.ms, 5 s), whatever the handler
  // returns. A crash or a failing handler can then lose messages: at most
  // once. The seed defaults to true; sluice defaults to the safe choice.
  bool auto_commit = false;
  // Where to start when the group has no committed offset. Default: newest.
  InitialOffset initial_offset = InitialOffset::kNewest;
  // Default: read committed (messages of aborted transactions are skipped).
  IsolationLevel isolation_level = IsolationLevel::kReadCommitted;
  // Assignors, in order of preference. Default: round robin.
  std::vector<BalanceStrategy> balance_strategies = {BalanceStrategy::kRoundRobin};
  // A member that sends no heartbeat for this long leaves the group. Default 10 s.
  std::chrono::milliseconds session_timeout{10'000};
  // How often heartbeats go out; must be below session_timeout. Default 3 s.
  std::chrono::milliseconds heartbeat_interval{3'000};
  // The time a message is expected to take to handle. Sarama pauses a slow
  // partition's fetching after this long; librdkafka bounds its prefetch
  // queue by size instead, so here it is the deadline offered to the handler
  // (HandlerContext::deadline()) and the threshold above which a handler call
  // counts as slow (warning log, sluice_kafka_slow_messages_total). Default 100 ms.
  std::chrono::milliseconds max_processing_time{100};
  // Bytes asked for per partition and fetch (fetch.message.max.bytes);
  // librdkafka grows the request when a single message is bigger. Default 1 MiB.
  int max_message_bytes = 1 << 20;

  // ---- Offsets ---------------------------------------------------------------

  // Manual commits (auto_commit = false) are batched: they go out when this
  // many messages were handled since the last commit, or every
  // commit_interval, whichever comes first, and always on partition
  // revocation, switch-off and shutdown. One batched commit is in flight at
  // a time: one that falls due before the broker answered the last waits
  // for that answer, then covers everything handled by then (so a slow
  // group coordinator sees one commit per round trip, not a pile of them).
  // Defaults: 1000 messages, 1 s.
  int commit_every_messages = 1000;
  std::chrono::milliseconds commit_interval{1'000};

  // ---- Failures --------------------------------------------------------------

  // Retries of one message inside the job before the handler's failure counts
  // as a job failure. Default: none (max_retries = 0), 100 ms doubling to 5 s
  // when enabled. While retries go on, later messages of the partition wait.
  RetryPolicy message_retry{.max_retries = 0,
                            .backoff = {.kind = BackoffPolicy::Kind::kExponential,
                                        .initial = std::chrono::milliseconds(100),
                                        .max = std::chrono::seconds(5)}};
  // When set, a message whose retries are exhausted is produced to this topic
  // (same key, value and headers, plus x-sluice-dlq-* headers naming its
  // origin and the error) and counts as handled. If producing there fails too,
  // the job fails. Default: empty (no dead-letter topic).
  std::string dead_letter_topic{};
  // A failed job (its handler failed for good, or the client hit a fatal
  // error) is restarted from its last committed offset after a delay that
  // starts at 1 s and doubles up to 60 s (the seed's schedule).
  BackoffPolicy restart_backoff{.kind = BackoffPolicy::Kind::kExponential,
                                .initial = std::chrono::seconds(1),
                                .max = std::chrono::seconds(60),
                                .multiplier = 2.0};
  // After this many failures in a row the job is disabled until switched on
  // again; a successfully handled message resets the count. 0 never disables.
  // Default 10.
  int max_consecutive_failures = 10;

  // ---- Handler threads -------------------------------------------------------

  // 0 (default): handle() runs on the job's poll thread, one message at a
  // time, in order. n > 0: n handler threads take messages as `ordering`
  // allows; commits still never pass a message that is not handled.
  int handler_threads = 0;
  HandlerOrdering ordering = HandlerOrdering::kPartition;
  // With handler threads: messages read but not yet handled, at most. Default 1000.
  int max_in_flight = 1000;

  // ---- librdkafka -------------------------------------------------------------

  // Any librdkafka consumer property (security.protocol, sasl.*, ssl.*,
  // fetch.*, statistics...), applied after the fields above, so it wins over
  // them. Rejected, because sluice must own them: group.id and
  // bootstrap.servers (use the fields), enable.auto.commit (use auto_commit),
  // enable.auto.offset.store, and callbacks. Values of secret properties
  // (passwords, keys) never appear in logs or errors.
  std::map<std::string, std::string> properties{};
};

// OK, or InvalidArgument naming the job and the first bad field.
Status validate(const ConsumerConfig& config);

// What a handler call knows about its circumstances.
class HandlerContext {
 public:
  HandlerContext(std::string_view job_name, std::stop_token stop, int attempt,
                 Clock::TimePoint deadline)
      : job_name_(job_name), stop_(std::move(stop)), attempt_(attempt), deadline_(deadline) {}

  std::string_view job_name() const { return job_name_; }
  // Fires when the job is asked to stop (shutdown or switch-off). A handler
  // may finish the message or give up (return an error): an unfinished
  // message is not committed and comes back later.
  const std::stop_token& stop_token() const { return stop_; }
  bool stop_requested() const { return stop_.stop_requested(); }
  // 1 on a message's first delivery in this run of the job; n on its (n-1)-th
  // retry (ConsumerConfig::message_retry).
  int attempt() const { return attempt_; }
  // When the handler call is expected to be done (max_processing_time after
  // it began, on the job's clock). Advisory.
  Clock::TimePoint deadline() const { return deadline_; }

 private:
  friend struct HandlerContextAccess;  // one context serves a thread's handler calls

  std::string_view job_name_{};
  std::stop_token stop_{};
  int attempt_;
  Clock::TimePoint deadline_{};
};

// A managed consumer job.
class Consumer {
 public:
  virtual ~Consumer() = default;

  // The job's configuration; read once, when the job is registered.
  virtual const ConsumerConfig& config() const = 0;

  // Handles one message. OK: done, its offset may be committed. An error (or
  // an exception, caught and turned into one): the message is retried as
  // message_retry allows, then dead-lettered or the job restarts from its
  // last commit. Runs on the job's poll thread, or with handler_threads > 0
  // on several threads at once (then it must be thread-safe).
  virtual Status handle(HandlerContext& ctx, const Message& message) = 0;
};

using HandlerFunction = std::function<Status(HandlerContext&, const Message&)>;

// A Consumer from a config and a function, for jobs that need no class.
std::shared_ptr<Consumer> make_consumer(ConsumerConfig config, HandlerFunction handler);

}  // namespace sluice::kafka

#endif  // SLUICE_KAFKA_CONSUMER_H_
