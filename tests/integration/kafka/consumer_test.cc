// Managed consumers against librdkafka's mock cluster: delivery, at-least-once
// commits, restarts, switches, groups and metrics.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "integration/kafka/kafka_test_util.h"
#include "sluice/kafka/registry.h"

namespace sluice::kafka {
namespace {

using namespace std::chrono_literals;
using sluice::testing::wait_until;
using testing::committed_offsets;
using testing::committed_total;
using testing::produce_values;
using testing::Recorder;
using testing::test_consumer_config;
using testing::this_thread_name;

class KafkaConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = MockCluster::start();
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(*c);
    bootstrap_ = cluster_->bootstrap_servers();
  }

  RegistryOptions options() { return {.metrics = &metrics_, .logger = log_}; }
  double counter(const std::string& name, const std::string& job) {
    return metrics_.counter(name, "", {"job"}).with({job}).value();
  }
  JobStatus status(const Registry& r, const std::string& job) {
    auto s = r.job_status(job);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : JobStatus{};
  }

  std::unique_ptr<MockCluster> cluster_;
  std::string bootstrap_;
  MetricsRegistry metrics_;
  std::shared_ptr<sluice::testing::RecordingLogger> log_ =
      std::make_shared<sluice::testing::RecordingLogger>(LogLevel::kDebug);
};

TEST_F(KafkaConsumerTest, SyncAndAsyncProducedMessagesAreAllConsumedAndCommitsSurviveARestart) {
  ASSERT_TRUE(cluster_->create_topic("orders", 3).ok());
  Recorder rec;
  std::atomic<int> async_ok{0};
  {
    Registry registry(options());
    ProducerConfig pc;
    pc.bootstrap_servers = bootstrap_;
    pc.name = "both";
    pc.enable_async_producer = true;
    auto producer = registry.register_producer(pc);
    ASSERT_TRUE(producer.ok()) << producer.status();
    for (int i = 0; i < 50; ++i) {
      std::vector<Header> headers = {{"trace", "t-" + std::to_string(i)}, {"null", std::nullopt}};
      auto d = (*producer)->send("orders", "key-" + std::to_string(i), "sync-" + std::to_string(i),
                                 headers);
      ASSERT_TRUE(d.ok()) << d.status();
      EXPECT_GE(d->partition, 0);
      EXPECT_GE(d->offset, 0);
    }
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE((*producer)
                      ->send_async("orders", "key-" + std::to_string(i),
                                   "async-" + std::to_string(i),
                                   [&](const Result<Delivery>& r) {
                                     if (r.ok()) async_ok.fetch_add(1);
                                   })
                      .ok());
    }
    ASSERT_TRUE((*producer)->flush(10s).ok());
    EXPECT_EQ(async_ok.load(), 50);

    auto cfg = test_consumer_config(bootstrap_, "orders-job", "orders", "orders-group");
    cfg.properties = {{"sasl.password", "never-log-this-pw"}};
    ASSERT_TRUE(registry
                    .register_consumer(make_consumer(cfg,
                                                     [&](HandlerContext& ctx, const Message& m) {
                                                       EXPECT_EQ(ctx.job_name(), "orders-job");
                                                       EXPECT_EQ(ctx.attempt(), 1);
                                                       rec.add(m);
                                                       return Status();
                                                     }))
                    .ok());
    ASSERT_TRUE(registry.set_consumer_switch("orders-job", true).ok());
    std::stop_source stop;
    ASSERT_TRUE(registry.start_all(stop.get_token()).ok());
    ASSERT_TRUE(rec.wait_for_values(100)) << rec.size();
    EXPECT_EQ(status(registry, "orders-job").state, JobState::kRunning);
    stop.request_stop();
    ASSERT_TRUE(registry.wait_stop().ok());
    EXPECT_EQ(status(registry, "orders-job").state, JobState::kStopped);
    EXPECT_EQ(status(registry, "orders-job").messages_handled, 100u);
    // wait_stop() closed the producer.
    EXPECT_EQ((*producer)->send("orders", "k", "v").status().code(),
              StatusCode::kFailedPrecondition);
  }
  // What the handler saw is what was produced, headers included.
  bool checked_headers = false;
  for (const auto& s : rec.all()) {
    if (s.value == "sync-7") {
      EXPECT_EQ(s.key, "key-7");
      ASSERT_EQ(s.headers.size(), 2u);
      EXPECT_EQ(s.headers[0], (std::pair<std::string, std::string>("trace", "t-7")));
      EXPECT_EQ(s.headers[1].first, "null");
      checked_headers = true;
    }
  }
  EXPECT_TRUE(checked_headers);
  EXPECT_EQ(rec.size(), 100u);  // each once
  // Everything handled is committed.
  EXPECT_EQ(committed_total(committed_offsets(bootstrap_, "orders-group", "orders", 3)), 100);

  // Metrics.
  EXPECT_EQ(counter("sluice_kafka_messages_handled_total", "orders-job"), 100);
  EXPECT_EQ(counter("sluice_kafka_handler_errors_total", "orders-job"), 0);
  EXPECT_GT(counter("sluice_kafka_commits_total", "orders-job"), 0);
  EXPECT_GT(metrics_.histogram("sluice_kafka_commit_latency_seconds", "", {"job"})
                .with({"orders-job"})
                .snapshot()
                .count,
            0u);
  EXPECT_EQ(metrics_.counter("sluice_kafka_producer_deliveries_total", "", {"producer", "mode"})
                .with({"both", "sync"})
                .value(),
            50);
  EXPECT_EQ(metrics_.counter("sluice_kafka_producer_deliveries_total", "", {"producer", "mode"})
                .with({"both", "async"})
                .value(),
            50);
  EXPECT_FALSE(log_->contains("never-log-this-pw"));

  // A new consumer of the same group resumes from the commits: only new messages.
  produce_values(bootstrap_, "orders", "late-", 20);
  Recorder rec2;
  {
    Registry registry(options());
    auto cfg = test_consumer_config(bootstrap_, "orders-job", "orders", "orders-group");
    ASSERT_TRUE(registry
                    .register_consumer(make_consumer(cfg,
                                                     [&](HandlerContext&, const Message& m) {
                                                       rec2.add(m);
                                                       return Status();
                                                     }))
                    .ok());
    ASSERT_TRUE(registry.set_consumer_switch("orders-job", true).ok());
    ASSERT_TRUE(registry.start_all().ok());
    ASSERT_TRUE(rec2.wait_for_values(20)) << rec2.size();
    registry.stop();
    ASSERT_TRUE(registry.wait_stop().ok());
  }
  EXPECT_EQ(rec2.size(), 20u);
  for (const auto& v : rec2.values()) EXPECT_EQ(v.rfind("late-", 0), 0u) << v;
  EXPECT_EQ(committed_total(committed_offsets(bootstrap_, "orders-group", "orders", 3)), 120);
}

TEST_F(KafkaConsumerTest, AFailedMessageIsRedeliveredNeverSkippedAndTheJobDisablesAfterNFailures) {
  ASSERT_TRUE(cluster_->create_topic("pay", 1).ok());
  produce_values(bootstrap_, "pay", "v", 10);
  Recorder rec;
  std::atomic<int> failures_left{2};
  Registry registry(options());
  auto cfg = test_consumer_config(bootstrap_, "pay-job", "pay", "pay-group");
  cfg.max_consecutive_failures = 2;
  ASSERT_TRUE(registry
                  .register_consumer(make_consumer(cfg,
                                                   [&](HandlerContext&, const Message& m) {
                                                     if (m.value() == "v3" &&
                                                         failures_left.fetch_sub(1) > 0) {
                                                       return Status::unavailable("v3 not yet");
                                                     }
                                                     rec.add(m);
                                                     return Status();
                                                   }))
                  .ok());
  ASSERT_TRUE(registry.set_consumer_switch("pay-job", true).ok());
  ASSERT_TRUE(registry.start_all().ok());

  // Fails on v3, restarts from the commit (v3 again), fails again: disabled.
  ASSERT_TRUE(
      wait_until([&] { return status(registry, "pay-job").state == JobState::kDisabled; }, 40s));
  const JobStatus disabled = status(registry, "pay-job");
  EXPECT_EQ(disabled.consecutive_failures, 2);
  EXPECT_EQ(disabled.restarts, 1u);
  EXPECT_FALSE(disabled.switched_on);
  EXPECT_NE(disabled.last_error.message().find("pay[0]@3"), std::string_view::npos)
      << disabled.last_error;
  EXPECT_NE(disabled.last_error.message().find("v3 not yet"), std::string_view::npos);
  EXPECT_EQ(rec.values(), (std::set<std::string>{"v0", "v1", "v2"}));
  // The commit stops right before the failed message.
  EXPECT_EQ(committed_offsets(bootstrap_, "pay-group", "pay", 1)[0], 3);
  EXPECT_EQ(counter("sluice_kafka_handler_errors_total", "pay-job"), 2);
  EXPECT_EQ(counter("sluice_kafka_job_restarts_total", "pay-job"), 1);
  EXPECT_EQ(metrics_.gauge("sluice_kafka_job_disabled", "", {"job"}).with({"pay-job"}).value(), 1);

  // Switched on again: v3 comes back first, then the rest.
  ASSERT_TRUE(registry.set_consumer_switch("pay-job", true).ok());
  ASSERT_TRUE(rec.wait_for_values(10)) << rec.size();
  const auto seen = rec.all();
  std::vector<std::string> after;
  for (std::size_t i = 3; i < seen.size(); ++i) after.push_back(seen[i].value);
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(after.front(), "v3");
  EXPECT_EQ(rec.count_value("v3"), 1u);
  EXPECT_EQ(status(registry, "pay-job").consecutive_failures, 0);
  EXPECT_EQ(metrics_.gauge("sluice_kafka_job_disabled", "", {"job"}).with({"pay-job"}).value(), 0);
  registry.stop();
  ASSERT_TRUE(registry.wait_stop().ok());
  EXPECT_EQ(committed_offsets(bootstrap_, "pay-group", "pay", 1)[0], 10);
}

TEST_F(KafkaConsumerTest, HandlerThreadsNeverCommitPastAFailedMessageThatLaterOnesOvertook) {
  ASSERT_TRUE(cluster_->create_topic("par", 1).ok());
  produce_values(bootstrap_, "par", "v", 40);
  Recorder rec;
  std::atomic<bool> fail_v5{true};
  Registry registry(options());
  auto cfg = test_consumer_config(bootstrap_, "par-job", "par", "par-group");
  cfg.handler_threads = 4;
  cfg.ordering = HandlerOrdering::kNone;
  cfg.max_consecutive_failures = 1;  // disabled at once: the commit can be inspected
  ASSERT_TRUE(registry
                  .register_consumer(make_consumer(cfg,
                                                   [&](HandlerContext&, const Message& m) {
                                                     if (m.value() == "v5" && fail_v5.load()) {
                                                       // Let later messages of the partition
                                                       // succeed first.
                                                       EXPECT_TRUE(wait_until(
                                                           [&] { return rec.size() >= 20; }, 10s));
                                                       return Status::unavailable("v5 failed");
                                                     }
                                                     rec.add(m);
                                                     return Status();
                                                   }))
                  .ok());
  ASSERT_TRUE(registry.set_consumer_switch("par-job", true).ok());
  ASSERT_TRUE(registry.start_all().ok());
  ASSERT_TRUE(
      wait_until([&] { return status(registry, "par-job").state == JobState::kDisabled; }, 30s));
  std::size_t later = 0;
  for (const auto& s : rec.all()) later += s.offset > 5;
  EXPECT_GE(later, 14u);  // later messages succeeded...
  // ...and still the commit stops at v5.
  EXPECT_EQ(committed_offsets(bootstrap_, "par-group", "par", 1)[0], 5);

  fail_v5 = false;
  ASSERT_TRUE(registry.set_consumer_switch("par-job", true).ok());
  ASSERT_TRUE(rec.wait_for_values(40)) << rec.size();
  EXPECT_EQ(rec.count_value("v5"), 1u);
  registry.stop();
  ASSERT_TRUE(registry.wait_stop().ok());
  EXPECT_EQ(committed_offsets(bootstrap_, "par-group", "par", 1)[0], 40);
}

TEST_F(KafkaConsumerTest, PerMessageRetriesThenTheDeadLetterTopic) {
  ASSERT_TRUE(cluster_->create_topic("in", 1).ok());
  ASSERT_TRUE(cluster_->create_topic("in-dlq", 1).ok());
  {
    ProducerConfig pc;
    pc.bootstrap_servers = bootstrap_;
    auto p = Producer::create(pc);
    ASSERT_TRUE(p.ok());
    for (int i = 0; i < 10; ++i) {
      std::vector<Header> h = {{"origin", "test"}};
      ASSERT_TRUE((*p)->send("in", "k" + std::to_string(i), "v" + std::to_string(i), h).ok());
    }
  }
  Recorder rec;
  std::atomic<int> v2_attempts{0};
  Registry registry(options());
  auto cfg = test_consumer_config(bootstrap_, "dlq-job", "in", "dlq-group");
  cfg.message_retry.max_retries = 2;
  cfg.message_retry.backoff.initial = 10ms;
  cfg.dead_letter_topic = "in-dlq";
  ASSERT_TRUE(registry
                  .register_consumer(
                      make_consumer(cfg,
                                    [&](HandlerContext& ctx, const Message& m) -> Status {
                                      if (m.value() == "v2") {
                                        EXPECT_EQ(ctx.attempt(), v2_attempts.fetch_add(1) + 1);
                                        if (ctx.attempt() < 3)
                                          return Status::unavailable("v2 flaky");
                                      }
                                      if (m.value() == "v4") throw std::runtime_error("poison v4");
                                      rec.add(m);
                                      return Status();
                                    }))
                  .ok());
  ASSERT_TRUE(registry.set_consumer_switch("dlq-job", true).ok());
  ASSERT_TRUE(registry.start_all().ok());
  ASSERT_TRUE(wait_until([&] { return status(registry, "dlq-job").messages_handled >= 10; }, 30s));
  EXPECT_EQ(rec.size(), 9u);
  EXPECT_EQ(rec.count_value("v4"), 0u);
  EXPECT_EQ(v2_attempts.load(), 3);
  const JobStatus s = status(registry, "dlq-job");
  EXPECT_EQ(s.state, JobState::kRunning);
  EXPECT_EQ(s.restarts, 0u);
  EXPECT_EQ(counter("sluice_kafka_handler_errors_total", "dlq-job"), 2 + 3);
  EXPECT_EQ(counter("sluice_kafka_dead_letters_total", "dlq-job"), 1);
  registry.stop();
  ASSERT_TRUE(registry.wait_stop().ok());
  EXPECT_EQ(committed_offsets(bootstrap_, "dlq-group", "in", 1)[0], 10);

  // The dead letter keeps key, value and headers, and says where it came from.
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap_, err);
  conf->set("group.id", "dlq-reader", err);
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  std::vector<RdKafka::TopicPartition*> parts = {
      RdKafka::TopicPartition::create("in-dlq", 0, RdKafka::Topic::OFFSET_BEGINNING)};
  ASSERT_EQ(c->assign(parts), RdKafka::ERR_NO_ERROR);
  RdKafka::TopicPartition::destroy(parts);
  std::unique_ptr<RdKafka::Message> dead;
  ASSERT_TRUE(wait_until(
      [&] {
        dead.reset(c->consume(100));
        return dead->err() == RdKafka::ERR_NO_ERROR;
      },
      10s));
  EXPECT_EQ(std::string(static_cast<const char*>(dead->payload()), dead->len()), "v4");
  EXPECT_EQ(*dead->key(), "k4");
  std::map<std::string, std::string> headers;
  for (const auto& h : dead->headers()->get_all()) {
    headers[h.key()] = std::string(static_cast<const char*>(h.value()), h.value_size());
  }
  EXPECT_EQ(headers["origin"], "test");
  EXPECT_EQ(headers["x-sluice-dlq-topic"], "in");
  EXPECT_EQ(headers["x-sluice-dlq-partition"], "0");
  EXPECT_EQ(headers["x-sluice-dlq-offset"], "4");
  EXPECT_EQ(headers["x-sluice-dlq-job"], "dlq-job");
  EXPECT_NE(headers["x-sluice-dlq-error"].find("poison v4"), std::string::npos);
  c->close();
}

TEST_F(KafkaConsumerTest, SwitchingOffCommitsAndStopsAndSwitchingOnResumesFromTheCommit) {
  ASSERT_TRUE(cluster_->create_topic("sw", 2).ok());
  produce_values(bootstrap_, "sw", "early-", 10);
  Recorder rec;
  Registry registry(options());
  auto cfg = test_consumer_config(bootstrap_, "sw-job", "sw", "sw-group");
  cfg.balance_strategies = {BalanceStrategy::kCooperativeSticky};
  cfg.commit_interval = 60s;  // only the switch-off commits
  cfg.commit_every_messages = 1000;
  ASSERT_TRUE(registry.register_consumer(make_consumer(cfg, rec.handler())).ok());
  ASSERT_TRUE(registry.set_consumer_switch("sw-job", true).ok());
  std::stop_source stop;
  ASSERT_TRUE(registry.start_all(stop.get_token()).ok());
  ASSERT_TRUE(rec.wait_for_values(10)) << rec.size();

  ASSERT_TRUE(registry.set_consumer_switch("sw-job", false).ok());
  ASSERT_TRUE(wait_until([&] { return status(registry, "sw-job").state == JobState::kOff; }));
  EXPECT_EQ(committed_total(committed_offsets(bootstrap_, "sw-group", "sw", 2)), 10);

  produce_values(bootstrap_, "sw", "late-", 10);
  // Off means off (a bounded look: nothing arrives within 1.5 s).
  EXPECT_FALSE(wait_until([&] { return rec.size() > 10; }, 1500ms));

  ASSERT_TRUE(registry.set_consumer_switch("sw-job", true).ok());
  ASSERT_TRUE(rec.wait_for_values(20)) << rec.size();
  EXPECT_EQ(rec.size(), 20u);  // nothing from before the commit again
  stop.request_stop();
  ASSERT_TRUE(registry.wait_stop().ok());
  EXPECT_EQ(committed_total(committed_offsets(bootstrap_, "sw-group", "sw", 2)), 20);
  EXPECT_TRUE(log_->contains("kafka partitions assigned"));
}

TEST_F(KafkaConsumerTest, StopLetsTheHandlerFinishTheMessageInHandThenCommitsIt) {
  ASSERT_TRUE(cluster_->create_topic("fin", 1).ok());
  produce_values(bootstrap_, "fin", "v", 10);
  Recorder rec;
  std::atomic<bool> in_hand{false};
  Registry registry(options());
  auto cfg = test_consumer_config(bootstrap_, "fin-job", "fin", "fin-group");
  cfg.commit_interval = 60s;  // only the shutdown commits
  ASSERT_TRUE(registry
                  .register_consumer(make_consumer(
                      cfg,
                      [&](HandlerContext& ctx, const Message& m) {
                        if (m.value() == "v3") {
                          // Still working when the stop comes; finishes anyway.
                          in_hand = true;
                          EXPECT_TRUE(wait_until([&] { return ctx.stop_requested(); }, 20s));
                        }
                        rec.add(m);
                        return Status();
                      }))
                  .ok());
  ASSERT_TRUE(registry.set_consumer_switch("fin-job", true).ok());
  std::stop_source stop;
  ASSERT_TRUE(registry.start_all(stop.get_token()).ok());
  ASSERT_TRUE(wait_until([&] { return in_hand.load(); }, 30s));
  stop.request_stop();
  ASSERT_TRUE(registry.wait_stop().ok());
  // v3 finished and was committed with everything before it; nothing after
  // it was started.
  EXPECT_EQ(rec.values(), (std::set<std::string>{"v0", "v1", "v2", "v3"}));
  EXPECT_EQ(committed_offsets(bootstrap_, "fin-group", "fin", 1)[0], 4);
  EXPECT_EQ(status(registry, "fin-job").state, JobState::kStopped);
  EXPECT_TRUE(log_->contains("kafka partitions revoked")) << log_->joined();  // left the group
}

TEST_F(KafkaConsumerTest, APartitionWithoutACommitKeepsItsStartSoTheNextMemberMissesNothing) {
  // The first member starts at the end (newest) of empty partitions and
  // handles nothing; messages arrive after it left; the next member, also
  // "newest", must still get them: the start was committed for the group.
  ASSERT_TRUE(cluster_->create_topic("late", 2).ok());
  auto cfg = test_consumer_config(bootstrap_, "late-job", "late", "late-group");
  cfg.initial_offset = InitialOffset::kNewest;
  Recorder rec;
  auto run_until = [&](const std::function<bool()>& done) {
    Registry registry(options());
    ASSERT_TRUE(registry.register_consumer(make_consumer(cfg, rec.handler())).ok());
    ASSERT_TRUE(registry.set_consumer_switch("late-job", true).ok());
    std::stop_source stop;
    ASSERT_TRUE(registry.start_all(stop.get_token()).ok());
    // First join ~3 s, a rejoin after a leave ~session timeout - 1 s (5 s).
    EXPECT_TRUE(wait_until(done, 30s));
    stop.request_stop();
    ASSERT_TRUE(registry.wait_stop().ok());
  };
  run_until([&] {
    auto c = committed_offsets(bootstrap_, "late-group", "late", 2);
    return c[0] == 0 && c[1] == 0;
  });
  EXPECT_EQ(rec.size(), 0u);
  EXPECT_TRUE(log_->contains("kafka partition has no committed offset")) << log_->joined();
  produce_values(bootstrap_, "late", "late-", 6);
  run_until([&] { return rec.values().size() >= 6; });
  EXPECT_EQ(rec.size(), 6u);
  EXPECT_EQ(committed_total(committed_offsets(bootstrap_, "late-group", "late", 2)), 6);
}

TEST_F(KafkaConsumerTest, CommitsAreBatchedByCountAndByInterval) {
  ASSERT_TRUE(cluster_->create_topic("batch", 1).ok());
  produce_values(bootstrap_, "batch", "v", 12);
  Registry registry(options());
  // By count: every 5 handled messages, never by time. Its handler takes
  // 30 ms, so each commit is answered before the next is due (a due commit
  // waits for the answer to the one before: CommitsDoNotPileUpBehindASlowCoordinator).
  auto by_count = test_consumer_config(bootstrap_, "count-job", "batch", "count-group");
  by_count.commit_every_messages = 5;
  by_count.commit_interval = 3600s;
  // By time: every 300 ms, never by count.
  auto by_time = test_consumer_config(bootstrap_, "time-job", "batch", "time-group");
  by_time.commit_every_messages = 1'000'000;
  by_time.commit_interval = 300ms;
  Recorder count_rec, time_rec;
  for (auto [cfg, rec] : {std::pair{&by_count, &count_rec}, std::pair{&by_time, &time_rec}}) {
    Recorder* r = rec;
    const bool slow = cfg == &by_count;
    ASSERT_TRUE(registry
                    .register_consumer(make_consumer(*cfg,
                                                     [r, slow](HandlerContext&, const Message& m) {
                                                       if (slow) std::this_thread::sleep_for(30ms);
                                                       r->add(m);
                                                       return Status();
                                                     }))
                    .ok());
    ASSERT_TRUE(registry.set_consumer_switch(cfg->job_name, true).ok());
  }
  ASSERT_TRUE(registry.start_all().ok());
  ASSERT_TRUE(count_rec.wait_for_values(12));
  ASSERT_TRUE(time_rec.wait_for_values(12));
  // While running: the count job committed after the 5th and 10th messages
  // only (the last two wait for three more, or for shutdown)...
  EXPECT_TRUE(wait_until(
      [&] { return committed_offsets(bootstrap_, "count-group", "batch", 1)[0] == 10; }, 10s));
  // ...and the time job committed all twelve on its timer.
  EXPECT_TRUE(wait_until(
      [&] { return committed_offsets(bootstrap_, "time-group", "batch", 1)[0] == 12; }, 10s));
  EXPECT_EQ(committed_offsets(bootstrap_, "count-group", "batch", 1)[0], 10);
  registry.stop();
  ASSERT_TRUE(registry.wait_stop().ok());
  EXPECT_EQ(committed_offsets(bootstrap_, "count-group", "batch", 1)[0], 12);  // on shutdown
}

TEST_F(KafkaConsumerTest, CommitsDoNotPileUpBehindASlowCoordinator) {
  ASSERT_TRUE(cluster_->create_topic("slow-commits", 1).ok());
  produce_values(bootstrap_, "slow-commits", "v", 40);
  // Every commit is due after one message, and the coordinator answers
  // each of the next 60 commits 400 ms late.
  ASSERT_TRUE(cluster_->delay_responses(1, /*OffsetCommit*/ 8, 60, 400ms).ok());
  Registry registry(options());
  auto cfg = test_consumer_config(bootstrap_, "slow-job", "slow-commits", "slow-group");
  cfg.commit_every_messages = 1;
  cfg.commit_interval = 3600s;
  Recorder rec;
  std::atomic<bool> on_job_thread{true};
  ASSERT_TRUE(registry
                  .register_consumer(make_consumer(cfg,
                                                   [&](HandlerContext&, const Message& m) {
                                                     // Without handler threads: the job's
                                                     // poll thread, named for top and perf.
                                                     if (this_thread_name() != "sluice-kjob") {
                                                       on_job_thread = false;
                                                     }
                                                     rec.add(m);
                                                     return Status();
                                                   }))
                  .ok());
  ASSERT_TRUE(registry.set_consumer_switch("slow-job", true).ok());
  ASSERT_TRUE(registry.start_all().ok());
  ASSERT_TRUE(rec.wait_for_values(40));
  // The 40 messages are handled within milliseconds: one commit goes out
  // after the first, the next waits for its answer and then covers the
  // other 39. (Without that rule 40 commits would be in flight at once, all
  // answered 400 ms later.)
  const auto answered = [&] {
    return counter("sluice_kafka_commits_total", "slow-job") +
           counter("sluice_kafka_commit_failures_total", "slow-job");
  };
  EXPECT_TRUE(wait_until(
      [&] { return committed_offsets(bootstrap_, "slow-group", "slow-commits", 1)[0] == 40; },
      10s));
  EXPECT_TRUE(wait_until([&] { return answered() >= 2; }, 5s));
  std::this_thread::sleep_for(1s);  // what else was sent would be answered by now
  EXPECT_LE(answered(), 3);
  registry.stop();
  ASSERT_TRUE(registry.wait_stop().ok());
  EXPECT_EQ(committed_offsets(bootstrap_, "slow-group", "slow-commits", 1)[0], 40);
  EXPECT_TRUE(on_job_thread);
}

TEST_F(KafkaConsumerTest, TwoMembersSplitThePartitionsAndOneTakesOverWhenTheOtherLeaves) {
  ASSERT_TRUE(cluster_->create_topic("grp", 4).ok());
  produce_values(bootstrap_, "grp", "a-", 40);
  Recorder rec_a, rec_b;
  Registry registry(options());
  for (auto [job, rec] : {std::pair{"member-a", &rec_a}, std::pair{"member-b", &rec_b}}) {
    auto cfg = test_consumer_config(bootstrap_, job, "grp", "grp-group");
    Recorder* r = rec;
    ASSERT_TRUE(registry
                    .register_consumer(make_consumer(cfg,
                                                     [r](HandlerContext&, const Message& m) {
                                                       r->add(m);
                                                       return Status();
                                                     }))
                    .ok());
    ASSERT_TRUE(registry.set_consumer_switch(job, true).ok());
  }
  ASSERT_TRUE(registry.start_all().ok());
  auto union_values = [&] {
    auto v = rec_a.values();
    auto b = rec_b.values();
    v.insert(b.begin(), b.end());
    return v;
  };
  ASSERT_TRUE(wait_until([&] { return union_values().size() >= 40; }, 30s));
  auto partitions_of = [](const Recorder& r, const std::string& prefix) {
    std::set<int> out;
    for (const auto& s : r.all()) {
      if (s.value.rfind(prefix, 0) == 0) out.insert(s.partition);
    }
    return out;
  };
  const auto pa = partitions_of(rec_a, "a-");
  const auto pb = partitions_of(rec_b, "a-");
  EXPECT_FALSE(pa.empty());
  EXPECT_FALSE(pb.empty());
  for (int p : pa) EXPECT_EQ(pb.count(p), 0u) << "partition " << p << " read by both";

  // b leaves (commits first); a takes every partition over.
  ASSERT_TRUE(registry.set_consumer_switch("member-b", false).ok());
  ASSERT_TRUE(wait_until([&] { return status(registry, "member-b").state == JobState::kOff; }));
  produce_values(bootstrap_, "grp", "b-", 40);
  ASSERT_TRUE(wait_until([&] { return union_values().size() >= 80; }, 40s))
      << union_values().size();
  EXPECT_EQ(partitions_of(rec_a, "b-"), (std::set<int>{0, 1, 2, 3}));
  EXPECT_TRUE(partitions_of(rec_b, "b-").empty());
  // No loss, and a clean hand-over repeats nothing.
  std::map<std::string, std::vector<std::string>> seen_by;
  for (auto [who, rec] : {std::pair{"a", &rec_a}, std::pair{"b", &rec_b}}) {
    for (const auto& s : rec->all()) {
      seen_by[s.value].push_back(std::string(who) + ":" + std::to_string(s.partition) + "@" +
                                 std::to_string(s.offset));
    }
  }
  std::string dups;
  for (const auto& [v, where] : seen_by) {
    if (where.size() > 1) {
      dups += v + "=";
      for (const auto& w : where) dups += w + " ";
      dups += "\n";
    }
  }
  EXPECT_EQ(rec_a.size() + rec_b.size(), 80u) << dups << log_->joined();
  // Commits land once the group settles (the mock refuses them while it rebalances).
  EXPECT_TRUE(wait_until(
      [&] { return committed_total(committed_offsets(bootstrap_, "grp-group", "grp", 4)) == 80; },
      20s, 200ms))
      << log_->joined();
  registry.stop();
  ASSERT_TRUE(registry.wait_stop().ok());
}

TEST_F(KafkaConsumerTest, AutoCommitModeLetsLibrdkafkaCommit) {
  ASSERT_TRUE(cluster_->create_topic("auto", 1).ok());
  produce_values(bootstrap_, "auto", "v", 10);
  Recorder rec;
  Registry registry(options());
  auto cfg = test_consumer_config(bootstrap_, "auto-job", "auto", "auto-group");
  cfg.auto_commit = true;
  cfg.properties = {{"auto.commit.interval.ms", "100"}};
  ASSERT_TRUE(registry.register_consumer(make_consumer(cfg, rec.handler())).ok());
  ASSERT_TRUE(registry.set_consumer_switch("auto-job", true).ok());
  ASSERT_TRUE(registry.start_all().ok());
  ASSERT_TRUE(rec.wait_for_values(10));
  // Committed by librdkafka's timer while the job runs.
  EXPECT_TRUE(wait_until(
      [&] { return committed_offsets(bootstrap_, "auto-group", "auto", 1)[0] == 10; }, 10s));
  EXPECT_EQ(counter("sluice_kafka_commits_total", "auto-job"), 0);  // not by sluice
  registry.stop();
  ASSERT_TRUE(registry.wait_stop().ok());
}

TEST_F(KafkaConsumerTest, ConsumerLagIsReportedPerPartition) {
  ASSERT_TRUE(cluster_->create_topic("lag", 1).ok());
  produce_values(bootstrap_, "lag", "v", 20);
  std::atomic<bool> gate{false};
  std::atomic<bool> on_handler_thread{true};
  Registry registry(options());
  auto cfg = test_consumer_config(bootstrap_, "lag-job", "lag", "lag-group");
  cfg.handler_threads = 1;
  cfg.max_in_flight = 1;
  ASSERT_TRUE(registry
                  .register_consumer(make_consumer(
                      cfg,
                      [&](HandlerContext& ctx, const Message&) {
                        if (this_thread_name() != "sluice-khandler") on_handler_thread = false;
                        wait_until([&] { return gate.load() || ctx.stop_requested(); }, 30s);
                        return Status();
                      }))
                  .ok());
  ASSERT_TRUE(registry.set_consumer_switch("lag-job", true).ok());
  ASSERT_TRUE(registry.start_all().ok());
  Gauge& lag =
      metrics_.gauge("sluice_kafka_consumer_lag_messages", "", {"job", "topic", "partition"})
          .with({"lag-job", "lag", "0"});
  Gauge& in_flight =
      metrics_.gauge("sluice_kafka_consumer_in_flight_messages", "", {"job"}).with({"lag-job"});
  // One message read (and stuck in the handler), 19 behind it.
  EXPECT_TRUE(wait_until([&] { return lag.value() == 19; }, 20s)) << lag.value();
  EXPECT_EQ(in_flight.value(), 1);
  gate = true;
  EXPECT_TRUE(wait_until([&] { return lag.value() == 0; }, 10s)) << lag.value();
  EXPECT_TRUE(wait_until([&] { return status(registry, "lag-job").messages_handled == 20; }));
  registry.stop();
  ASSERT_TRUE(registry.wait_stop().ok());
  EXPECT_TRUE(on_handler_thread);
}

TEST_F(KafkaConsumerTest, RegistryRejectsBadRegistrations) {
  Registry registry(options());
  auto cfg = test_consumer_config(bootstrap_, "dup", "t", "g");
  auto handler = [](HandlerContext&, const Message&) { return Status(); };
  ASSERT_TRUE(registry.register_consumer(make_consumer(cfg, handler)).ok());
  EXPECT_EQ(registry.register_consumer(make_consumer(cfg, handler)).code(),
            StatusCode::kAlreadyExists);
  cfg.job_name = "bad";
  cfg.group.clear();
  EXPECT_EQ(registry.register_consumer(make_consumer(cfg, handler)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.register_consumer(nullptr).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.set_consumer_switch("nope", true).code(), StatusCode::kNotFound);
  EXPECT_EQ(registry.job_status("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(registry.job_names(), (std::vector<std::string>{"dup"}));
  ASSERT_TRUE(registry.start_all().ok());
  EXPECT_EQ(registry.start_all().code(), StatusCode::kFailedPrecondition);
  registry.stop();
  EXPECT_TRUE(registry.wait_stop().ok());
  EXPECT_TRUE(registry.wait_stop().ok());  // twice is fine
  cfg.job_name = "late";
  cfg.group = "g";
  EXPECT_EQ(registry.register_consumer(make_consumer(cfg, handler)).code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace sluice::kafka
