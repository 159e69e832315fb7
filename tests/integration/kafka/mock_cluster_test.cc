// The mock-cluster helper the Kafka tests build on: a real librdkafka client
// produces to it and reads the messages back.
#include "sluice/kafka/mock_cluster.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace sluice::kafka {
namespace {

std::unique_ptr<RdKafka::Conf> conf(const std::string& bootstrap) {
  std::unique_ptr<RdKafka::Conf> c(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  c->set("bootstrap.servers", bootstrap, err);
  return c;
}

TEST(MockCluster, ProduceAndConsumeThroughARealClient) {
  auto cluster = MockCluster::start({.brokers = 3});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  const std::string bootstrap = (*cluster)->bootstrap_servers();
  EXPECT_NE(bootstrap.find("127.0.0.1:"), std::string::npos) << bootstrap;
  ASSERT_TRUE((*cluster)->create_topic("orders", 3).ok());

  std::string err;
  std::unique_ptr<RdKafka::Producer> producer(
      RdKafka::Producer::create(conf(bootstrap).get(), err));
  ASSERT_TRUE(producer) << err;
  for (int i = 0; i < 30; ++i) {
    std::string v = "message-" + std::to_string(i);
    ASSERT_EQ(producer->produce("orders", i % 3, RdKafka::Producer::RK_MSG_COPY, v.data(), v.size(),
                                nullptr, 0, 0, nullptr),
              RdKafka::ERR_NO_ERROR);
  }
  ASSERT_EQ(producer->flush(10000), RdKafka::ERR_NO_ERROR);

  // Read partition 1 back by assignment (no group: no slow rebalance here).
  auto c = conf(bootstrap);
  c->set("group.id", "mock-cluster-test", err);
  c->set("enable.auto.commit", "false", err);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(c.get(), err));
  ASSERT_TRUE(consumer) << err;
  std::vector<RdKafka::TopicPartition*> parts = {
      RdKafka::TopicPartition::create("orders", 1, RdKafka::Topic::OFFSET_BEGINNING)};
  ASSERT_EQ(consumer->assign(parts), RdKafka::ERR_NO_ERROR);
  RdKafka::TopicPartition::destroy(parts);
  std::vector<std::string> got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (got.size() < 10 && std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
    if (m->err() == RdKafka::ERR_NO_ERROR) {
      got.emplace_back(static_cast<const char*>(m->payload()), m->len());
    }
  }
  consumer->close();
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(got.front(), "message-1");
  EXPECT_EQ(got.back(), "message-28");
}

TEST(MockCluster, RejectsBadArguments) {
  EXPECT_EQ(MockCluster::start({.brokers = 0}).status().code(), StatusCode::kInvalidArgument);
  auto cluster = MockCluster::start();
  ASSERT_TRUE(cluster.ok());
  EXPECT_EQ((*cluster)->create_topic("", 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*cluster)->create_topic("t", 0).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE((*cluster)->set_broker_up(1, false).ok());
  EXPECT_TRUE((*cluster)->set_broker_up(1, true).ok());
  EXPECT_FALSE((*cluster)->set_broker_up(99, false).ok());
}

}  // namespace
}  // namespace sluice::kafka
