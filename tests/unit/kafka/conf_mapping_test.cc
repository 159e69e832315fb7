// Every field of ConsumerConfig and ProducerConfig reaches librdkafka as the
// property it stands for: a field whose mapping broke would be accepted,
// documented, and silently ignored.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <string>

#include "kafka/rdkafka_util.h"
#include "sluice/kafka/consumer.h"
#include "sluice/kafka/producer.h"

namespace sluice::kafka {
namespace {

using std::chrono::milliseconds;

std::string get(const RdKafka::Conf& conf, const std::string& key) {
  std::string value;
  EXPECT_EQ(conf.get(key, value), RdKafka::Conf::CONF_OK) << key;
  return value;
}

ConsumerConfig consumer() {
  ConsumerConfig c;
  c.job_name = "orders";
  c.topics = {"orders"};
  c.bootstrap_servers = "127.0.0.1:9092";
  c.group = "billing";
  return c;
}

TEST(ConsumerConf, DefaultsBecomeTheSeedsLibrdkafkaSettings) {
  auto conf = internal::make_consumer_conf(consumer());
  ASSERT_TRUE(conf.ok()) << conf.status();
  const RdKafka::Conf& c = **conf;
  EXPECT_EQ(get(c, "bootstrap.servers"), "127.0.0.1:9092");
  EXPECT_EQ(get(c, "group.id"), "billing");
  EXPECT_EQ(get(c, "client.id"), "sluice-orders");
  // At-least-once: sluice commits explicit offsets, nothing is auto-stored.
  EXPECT_EQ(get(c, "enable.auto.commit"), "false");
  EXPECT_EQ(get(c, "enable.auto.offset.store"), "false");
  // librdkafka reads the value back under its own aliases (latest = largest).
  EXPECT_EQ(get(c, "auto.offset.reset"), "largest");
  EXPECT_EQ(get(c, "isolation.level"), "read_committed");
  EXPECT_EQ(get(c, "partition.assignment.strategy"), "roundrobin");
  EXPECT_EQ(get(c, "session.timeout.ms"), "10000");
  EXPECT_EQ(get(c, "heartbeat.interval.ms"), "3000");
  EXPECT_EQ(get(c, "fetch.message.max.bytes"), "1048576");
}

TEST(ConsumerConf, EveryFieldIsApplied) {
  auto cfg = consumer();
  cfg.auto_commit = true;
  cfg.initial_offset = InitialOffset::kOldest;
  cfg.isolation_level = IsolationLevel::kReadUncommitted;
  cfg.balance_strategies = {BalanceStrategy::kRange, BalanceStrategy::kRoundRobin};
  cfg.session_timeout = milliseconds(6000);
  cfg.heartbeat_interval = milliseconds(1500);
  cfg.max_message_bytes = 2 << 20;
  auto conf = internal::make_consumer_conf(cfg);
  ASSERT_TRUE(conf.ok()) << conf.status();
  const RdKafka::Conf& c = **conf;
  EXPECT_EQ(get(c, "enable.auto.commit"), "true");
  EXPECT_EQ(get(c, "enable.auto.offset.store"), "true");
  EXPECT_EQ(get(c, "auto.offset.reset"), "smallest");
  EXPECT_EQ(get(c, "isolation.level"), "read_uncommitted");
  EXPECT_EQ(get(c, "partition.assignment.strategy"), "range,roundrobin");
  EXPECT_EQ(get(c, "session.timeout.ms"), "6000");
  EXPECT_EQ(get(c, "heartbeat.interval.ms"), "1500");
  EXPECT_EQ(get(c, "fetch.message.max.bytes"), std::to_string(2 << 20));

  cfg.balance_strategies = {BalanceStrategy::kCooperativeSticky};
  conf = internal::make_consumer_conf(cfg);
  ASSERT_TRUE(conf.ok()) << conf.status();
  EXPECT_EQ(get(**conf, "partition.assignment.strategy"), "cooperative-sticky");
}

TEST(ConsumerConf, PassThroughPropertiesWinOverTheFields) {
  auto cfg = consumer();
  cfg.properties = {{"session.timeout.ms", "45000"}, {"fetch.wait.max.ms", "50"}};
  auto conf = internal::make_consumer_conf(cfg);
  ASSERT_TRUE(conf.ok()) << conf.status();
  EXPECT_EQ(get(**conf, "session.timeout.ms"), "45000");
  EXPECT_EQ(get(**conf, "fetch.wait.max.ms"), "50");
}

ProducerConfig producer() {
  ProducerConfig p;
  p.bootstrap_servers = "127.0.0.1:9092";
  return p;
}

TEST(ProducerConf, DefaultsBecomeTheSeedsLibrdkafkaSettings) {
  auto sync_conf = internal::make_producer_conf(producer(), /*async=*/false);
  ASSERT_TRUE(sync_conf.ok()) << sync_conf.status();
  const RdKafka::Conf& c = **sync_conf;
  EXPECT_EQ(get(c, "acks"), "-1");  // all in-sync replicas
  EXPECT_EQ(get(c, "compression.codec"), "none");
  EXPECT_EQ(get(c, "message.send.max.retries"), "3");
  EXPECT_EQ(get(c, "retry.backoff.ms"), "100");
  EXPECT_EQ(get(c, "enable.idempotence"), "false");
  EXPECT_EQ(get(c, "message.max.bytes"), "1000000");
  EXPECT_EQ(get(c, "message.timeout.ms"), "30000");
  EXPECT_EQ(get(c, "partitioner"), "fnv1a_random");  // Sarama's key hashing
  EXPECT_EQ(get(c, "client.id"), "sluice-producer-sync");
  // The sync client sends each message at once; the async one batches.
  EXPECT_EQ(get(c, "linger.ms"), "0");
  auto async_conf = internal::make_producer_conf(producer(), /*async=*/true);
  ASSERT_TRUE(async_conf.ok()) << async_conf.status();
  EXPECT_EQ(get(**async_conf, "linger.ms"), "5");
  EXPECT_EQ(get(**async_conf, "client.id"), "sluice-producer-async");
}

TEST(ProducerConf, EveryFieldIsApplied) {
  auto cfg = producer();
  cfg.name = "billing";
  cfg.required_acks = RequiredAcks::kLeader;
  cfg.compression = Compression::kZstd;
  cfg.max_retries = 7;
  cfg.retry_backoff = milliseconds(250);
  cfg.max_message_bytes = 2'000'000;
  cfg.delivery_timeout = milliseconds(9000);
  cfg.linger = milliseconds(20);
  auto conf = internal::make_producer_conf(cfg, /*async=*/true);
  ASSERT_TRUE(conf.ok()) << conf.status();
  const RdKafka::Conf& c = **conf;
  EXPECT_EQ(get(c, "acks"), "1");
  EXPECT_EQ(get(c, "compression.codec"), "zstd");
  EXPECT_EQ(get(c, "message.send.max.retries"), "7");
  EXPECT_EQ(get(c, "retry.backoff.ms"), "250");
  EXPECT_EQ(get(c, "message.max.bytes"), "2000000");
  EXPECT_EQ(get(c, "message.timeout.ms"), "9000");
  EXPECT_EQ(get(c, "linger.ms"), "20");
  EXPECT_EQ(get(c, "client.id"), "sluice-billing-async");

  cfg.required_acks = RequiredAcks::kAll;
  cfg.enable_idempotent = true;
  cfg.compression = Compression::kGzip;
  cfg.properties = {{"partitioner", "murmur2_random"}};
  conf = internal::make_producer_conf(cfg, /*async=*/false);
  ASSERT_TRUE(conf.ok()) << conf.status();
  EXPECT_EQ(get(**conf, "enable.idempotence"), "true");
  EXPECT_EQ(get(**conf, "compression.codec"), "gzip");
  EXPECT_EQ(get(**conf, "partitioner"), "murmur2_random");  // properties win
}

}  // namespace
}  // namespace sluice::kafka
