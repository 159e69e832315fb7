// ConsumerSession: one membership of a managed consumer job in its group,
// from joining to leaving. It reads with a librdkafka KafkaConsumer, hands
// messages to the job's handler (on the poll thread or on handler threads),
// tracks what may be committed (OffsetTracker), commits in batches and on
// revocation, and on stop finishes the messages in hand, commits and leaves
// the group. A failure ends the session; the JobSupervisor decides what next.
#ifndef SLUICE_SRC_KAFKA_CONSUMER_SESSION_H_
#define SLUICE_SRC_KAFKA_CONSUMER_SESSION_H_

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "kafka/job_supervisor.h"
#include "kafka/offset_tracker.h"
#include "kafka/rdkafka_util.h"
#include "sluice/core/clock.h"
#include "sluice/core/logger.h"
#include "sluice/core/metrics.h"
#include "sluice/kafka/consumer.h"
#include "sluice/kafka/producer.h"

namespace sluice::kafka::internal {

// The metric series of one job (label job=<name>).
struct JobMetrics {
  JobMetrics(MetricsRegistry& registry, const std::string& job);

  Counter& handled;
  Counter& handler_errors;
  Counter& slow;
  Counter& dead_letters;
  Counter& commits;
  Counter& commit_failures;
  Histogram& commit_latency;
  Gauge& in_flight;
  Counter& restarts;
  Gauge& disabled;
  GaugeFamily& lag;  // {job, topic, partition}
};

// What a job's sessions share: its handler, config, clock, logging and
// metrics, and the dead-letter producer (made on first use).
struct JobContext {
  std::shared_ptr<Consumer> consumer;
  ConsumerConfig config;
  const Clock* clock = nullptr;
  std::shared_ptr<Logger> log;  // carries job=<name>
  MetricsRegistry* metrics_registry = nullptr;
  std::unique_ptr<JobMetrics> metrics;
  SecretScrubber scrubber;
  JobSupervisor* supervisor = nullptr;

  // The dead-letter producer, created on first use; closed by close_dead_letter().
  Result<std::shared_ptr<Producer>> dead_letter_producer();
  Status close_dead_letter(std::chrono::milliseconds timeout);

 private:
  std::mutex dlq_mu_;
  std::shared_ptr<Producer> dlq_;
};

class ConsumerSession final : public RdKafka::RebalanceCb {
 public:
  explicit ConsumerSession(JobContext& job);
  ~ConsumerSession() override;

  SessionResult run(std::stop_token stop);

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override;

 private:
  struct MessageDeleter {
    void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
  };
  using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;
  struct Work {
    MessagePtr message;
  };
  struct CommitRequest {
    ConsumerSession* session;
    Clock::TimePoint started;
  };
  // What the poll thread carries from one message of a batch to the next
  // (without handler threads).
  struct PollThread {
    HandlerContext context;  // reused for every handler call on this thread
    Clock::TimePoint now;    // when the last handler call returned (or the batch was read)
    // The partition of the last message of this batch: its topic name and
    // tracker entry, looked up once per run of its messages. Only valid
    // while the messages of the batch live (a freed topic handle's address
    // may be reused), so reset before each batch.
    const rd_kafka_topic_t* topic_handle = nullptr;
    std::string_view topic{};
    std::int32_t partition = -1;
    OffsetTracker::Partition tracked{};
  };

  Status start();
  void poll_loop();
  void finish();
  // Handles the message in *slot on this thread, or queues it for a handler
  // thread (then takes it: *slot becomes null).
  void on_message(rd_kafka_message_t** slot, PollThread& poll);
  void handle_here(const rd_kafka_message_t* record, PollThread& poll);
  void on_consume_error(const rd_kafka_message_t& msg);
  // Runs the handler with retries and the dead-letter topic, in `ctx`.
  // `*now`: on entry, about when the first call starts (read again unless on
  // the coarse clock); on return, when the last call returned.
  MessageOutcome process(const Message& m, HandlerContext& ctx, Clock::TimePoint* now);
  Status send_dead_letter(const Message& m, const Status& error);
  void record(const PartitionRef& p, std::int64_t offset, MessageOutcome outcome,
              std::unique_lock<std::mutex>& lock);
  // Counts a handled message (mu_ held with handler threads). The counts
  // reach the metrics and the job status in batches (report_handled(), at
  // each commit check that commits and at the end), except the session's
  // first success, reported at once.
  void count(MessageOutcome outcome);
  void report_handled();
  void fail(Status error);
  bool failed() const { return failed_.load(std::memory_order_acquire); }

  // Handler threads.
  void start_workers();
  void stop_workers();
  void worker_loop(std::size_t index);
  std::size_t queue_for(const rd_kafka_message_t* record);

  // Offsets.
  // Commits when commit_every_messages were handled or commit_interval has
  // passed by `now`; while the last batched commit is unanswered, the next
  // waits for its answer. Checked per message, so the test is inline.
  void maybe_commit(Clock::TimePoint now) {
    if (pool_ || ((handled_since_commit_ >= commit_every_ || now >= next_commit_) &&
                  now != commit_answer_polled_at_)) {
      commit_if_due(now);
    }
  }
  void commit_if_due(Clock::TimePoint now);
  // Now, for handler timing and commit intervals (see coarse_timing_).
  Clock::TimePoint timing_now() const;
  void commit(std::vector<OffsetCommit> commits, bool sync);
  static void on_commit(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t* offsets, void* opaque);
  void revoke(const std::vector<RdKafka::TopicPartition*>& partitions, bool lost);
  // Of `partitions`, those the group has no committed offset for, with the
  // offset initial_offset resolves to now (log start or end). Empty when the
  // broker could not tell (then librdkafka's own reset applies).
  std::map<PartitionId, std::int64_t, PartitionLess> uncommitted_starts(
      RdKafka::KafkaConsumer* consumer, const std::vector<RdKafka::TopicPartition*>& partitions);
  void update_lag();
  Gauge& lag_gauge(const PartitionId& p);

  std::unique_lock<std::mutex> lock_if_pool() {
    return pool_ ? std::unique_lock<std::mutex>(mu_) : std::unique_lock<std::mutex>();
  }

  JobContext& job_;
  const ConsumerConfig& config_;
  const Clock& clock_;
  Logger& log_;
  JobMetrics& metrics_;
  const bool pool_;
  const bool manual_commit_;
  const std::uint64_t commit_every_;
  // On the real clock, handler calls and commit intervals are timed with
  // the kernel's coarse monotonic clock (the base of steady_clock, read at
  // tick resolution, 1-4 ms): far finer than max_processing_time and
  // commit_interval need, and a sixth of the cost of a precise read, which
  // the poll loop did twice per message (~10 % of its throughput with
  // 100-byte messages). Any other Clock (tests) is read as it is.
  const bool coarse_timing_;
  std::stop_token stop_;

  EventBridge events_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_queue_t* commit_queue_ = nullptr;
  // The consumer queue (messages, rebalances), read in batches.
  rd_kafka_queue_t* consumer_queue_ = nullptr;

  // Guards the tracker, the queues and the failure with handler threads.
  std::mutex mu_;
  std::condition_variable poll_cv_;  // handler threads -> poll thread: room, drained
  OffsetTracker tracker_;
  std::set<PartitionId, PartitionLess> revoking_;
  std::vector<std::deque<Work>> queues_;
  std::vector<std::unique_ptr<std::condition_variable>> queue_cvs_;
  std::vector<std::thread> workers_;
  bool workers_stop_ = false;
  std::size_t next_queue_ = 0;

  std::atomic<bool> failed_{false};
  std::mutex failure_mu_;
  Status failure_;  // guarded by failure_mu_
  bool progressed_ = false;
  std::uint64_t handled_since_commit_ = 0;
  std::uint64_t handled_unreported_ = 0;
  Clock::TimePoint next_commit_{};
  // When a due commit last looked for the answer to the one in flight
  // (min() once it is answered): it looks again at the next clock reading.
  Clock::TimePoint commit_answer_polled_at_ = Clock::TimePoint::min();
  std::set<std::string> warned_topics_;
  std::map<PartitionId, Gauge*, PartitionLess> lag_gauges_;
  // Partitions revoked while their last commit had not gone through (commits
  // fail while the group rebalances): if one comes back to this session, it
  // resumes from what was handled here rather than re-reading from the older
  // commit. Never skips anything: every message below was handled.
  std::map<PartitionId, std::int64_t, PartitionLess> resume_at_;
  // Commits whose result has not come back; on_commit() removes them.
  std::vector<std::unique_ptr<CommitRequest>> commit_requests_;
};

}  // namespace sluice::kafka::internal

#endif  // SLUICE_SRC_KAFKA_CONSUMER_SESSION_H_
