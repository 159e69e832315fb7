// A managed consumer's threads under TSan: the poll thread, four handler
// threads, commits, the job switch flipped while messages flow, status and
// metrics read meanwhile, and stop. Against librdkafka's in-process mock
// cluster (label `concurrency`, so scripts/test also runs it under TSan).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "integration/kafka/kafka_test_util.h"
#include "sluice/kafka/registry.h"

namespace sluice::kafka {
namespace {

using namespace std::chrono_literals;
using sluice::kafka::testing::committed_offsets;
using sluice::kafka::testing::committed_total;
using sluice::kafka::testing::produce_values;
using sluice::kafka::testing::Recorder;
using sluice::kafka::testing::test_consumer_config;
using sluice::testing::wait_until;

TEST(KafkaConsumerConcurrency,
     HandlerThreadsSwitchAndStopRaceAndEveryMessageIsHandledAndCommitted) {
  auto c = MockCluster::start();
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string bootstrap = (*c)->bootstrap_servers();
  ASSERT_TRUE((*c)->create_topic("busy", 4).ok());
  constexpr int kMessages = 4000;
  produce_values(bootstrap, "busy", "v", kMessages);

  MetricsRegistry metrics;
  Registry registry({.metrics = &metrics});
  Recorder rec;
  auto cfg = test_consumer_config(bootstrap, "busy-job", "busy", "busy-group");
  cfg.handler_threads = 4;
  cfg.commit_every_messages = 100;
  std::atomic<int> calls{0};
  ASSERT_TRUE(registry
                  .register_consumer(make_consumer(cfg,
                                                   [&](HandlerContext&, const Message& m) {
                                                     rec.add(m);
                                                     ++calls;
                                                     return Status();
                                                   }))
                  .ok());
  ASSERT_TRUE(registry.set_consumer_switch("busy-job", true).ok());
  ASSERT_TRUE(registry.start_all().ok());

  // Readers of status and metrics while the job runs.
  std::atomic<bool> done{false};
  std::thread reader([&] {
    for (int i = 0; i < 5000 && !done.load(); ++i) {
      (void)registry.job_status("busy-job");
      (void)metrics.expose();
      std::this_thread::sleep_for(2ms);
    }
  });
  // Off while messages are being handled, then on again: off commits what
  // was handled; on resumes from the commit.
  ASSERT_TRUE(wait_until([&] { return calls.load() >= 500; }, 30s)) << calls.load();
  ASSERT_TRUE(registry.set_consumer_switch("busy-job", false).ok());
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = registry.job_status("busy-job");
        return s.ok() && s->state == JobState::kOff;
      },
      30s));
  ASSERT_TRUE(registry.set_consumer_switch("busy-job", true).ok());
  const bool all = rec.wait_for_values(kMessages, 60s);
  registry.stop();
  const Status stopped = registry.wait_stop();
  done = true;
  reader.join();

  ASSERT_TRUE(all) << rec.values().size();
  EXPECT_TRUE(stopped.ok()) << stopped;
  // At least once: every message handled, and the commit reaches the end of
  // every partition.
  EXPECT_EQ(rec.values().size(), static_cast<std::size_t>(kMessages));
  EXPECT_EQ(committed_total(committed_offsets(bootstrap, "busy-group", "busy", 4)), kMessages);
}

}  // namespace
}  // namespace sluice::kafka
