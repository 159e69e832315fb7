// Seed 004's three example programs (examples/kafka/), run as built against
// a mock cluster of the test's own: what the producers say they delivered is
// in the topic, and the managed consumer reads it, commits it and exits
// cleanly on SIGINT and on SIGTERM. Compiled only in build trees that build
// the examples (tests/integration/kafka/part.cmake).
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "integration/kafka/kafka_test_util.h"
#include "support/redis_server_process.h"  // ChildProcess

namespace sluice::kafka {
namespace {

using namespace std::chrono_literals;
using sluice::testing::ChildProcess;

std::string example(const std::string& name) {
  return sluice::testing::binary_dir() + "/examples/" + name;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

struct Record {
  std::string key;
  std::string value;
  std::int64_t offset = 0;
};

// Reads partition 0 of `topic` from its start until `n` messages or `timeout`,
// without a consumer group (assign, no commits).
std::vector<Record> read_partition0(const std::string& bootstrap, const std::string& topic,
                                    std::size_t n, std::chrono::milliseconds timeout) {
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, err);
  conf->set("group.id", "examples-test-reader", err);
  conf->set("enable.auto.commit", "false", err);
  conf->set("log_level", "0", err);
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  std::vector<Record> out;
  if (!c) return out;
  std::vector<RdKafka::TopicPartition*> parts = {
      RdKafka::TopicPartition::create(topic, 0, RdKafka::Topic::OFFSET_BEGINNING)};
  c->assign(parts);
  RdKafka::TopicPartition::destroy(parts);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(c->consume(100));
    if (!m || m->err() != RdKafka::ERR_NO_ERROR) continue;
    out.push_back({m->key() ? *m->key() : std::string(),
                   std::string(static_cast<const char*>(m->payload()), m->len()), m->offset()});
  }
  c->unassign();
  c->close();
  return out;
}

class KafkaExamples : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name :
         {"kafka_sync_producer", "kafka_async_producer", "kafka_managed_consumer"}) {
      ASSERT_TRUE(std::filesystem::exists(example(name))) << example(name) << " is missing";
    }
    auto c = MockCluster::start();
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(*c);
    // One partition: the examples' messages land at offsets 0 and 1.
    ASSERT_TRUE(cluster_->create_topic(kTopic, 1).ok());
  }

  std::vector<std::pair<std::string, std::string>> env(const std::string& group = "") const {
    std::vector<std::pair<std::string, std::string>> e = {
        {"KAFKA_BROKERS", cluster_->bootstrap_servers()}, {"TOPIC", kTopic}};
    if (!group.empty()) e.emplace_back("GROUP", group);
    return e;
  }

  // Runs a producer example until it reports the delivery, then stops it
  // with `sig`; expects a clean exit.
  void run_producer(const std::string& name, int sig, const std::string& delivered) {
    ChildProcess p({example(name)}, env());
    EXPECT_TRUE(p.wait_for_line_containing(delivered, 30s)) << name << ":\n" << joined(p.lines());
    p.signal(sig);
    EXPECT_EQ(p.wait(30s), 0) << name << ":\n" << joined(p.lines());
    EXPECT_TRUE(p.wait_for_line_containing("all producers stopped, exiting", 1s))
        << name << ":\n"
        << joined(p.lines());
  }

  // Runs the managed consumer in `group` until it printed both messages,
  // then stops it with `sig`; expects a clean exit and both offsets committed.
  void run_consumer(const std::string& group, int sig) {
    ChildProcess c({example("kafka_managed_consumer")}, env(group));
    // First join of a group on the mock: ~3 s.
    EXPECT_TRUE(c.wait_for_line_containing("received my-topic[0]@1: async message", 60s))
        << joined(c.lines());
    c.signal(sig);
    // Graceful: commits, leaves the group (one mock rebalance at most).
    EXPECT_EQ(c.wait(60s), 0) << joined(c.lines());
    const std::string out = joined(c.lines());
    EXPECT_NE(out.find("[my-consumer] received my-topic[0]@0: message value"), std::string::npos)
        << out;
    EXPECT_NE(out.find("stopped (signal " + std::to_string(sig) + "), exiting"), std::string::npos)
        << out;
    auto committed = testing::committed_offsets(cluster_->bootstrap_servers(), group, kTopic, 1);
    EXPECT_EQ(committed[0], 2) << "group " << group << ": both handled messages committed";
  }

  static constexpr const char* kTopic = "my-topic";
  std::unique_ptr<MockCluster> cluster_;
};

TEST_F(KafkaExamples, ProducersDeliverWhatTheyPrintAndTheConsumerReadsItUntilSignalled) {
  run_producer("kafka_sync_producer", SIGTERM,
               "message delivered to topic my-topic, partition 0, offset 0");
  run_producer("kafka_async_producer", SIGINT,
               "message delivered to topic my-topic, partition 0, offset 1");

  // Read back with a client of the test's own: both are really there.
  const auto records = read_partition0(cluster_->bootstrap_servers(), kTopic, 2, 20s);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].key, "key");
  EXPECT_EQ(records[0].value, "message value");
  EXPECT_EQ(records[0].offset, 0);
  EXPECT_EQ(records[1].key, "key");
  EXPECT_EQ(records[1].value, "async message");
  EXPECT_EQ(records[1].offset, 1);

  // The consumer, stopped once by each signal (a group each, so that the
  // second run reads everything again).
  run_consumer("examples-int", SIGINT);
  run_consumer("examples-term", SIGTERM);
}

}  // namespace
}  // namespace sluice::kafka
