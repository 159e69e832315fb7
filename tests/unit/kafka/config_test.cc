// Configuration is validated up front, with errors that name the field, and
// secret values never show up in errors or scrubbed text.
#include <gtest/gtest.h>

#include <string>

#include "kafka/rdkafka_util.h"
#include "sluice/kafka/consumer.h"
#include "sluice/kafka/producer.h"

namespace sluice::kafka {
namespace {

ConsumerConfig good_consumer() {
  ConsumerConfig c;
  c.job_name = "orders";
  c.topics = {"orders"};
  c.bootstrap_servers = "127.0.0.1:9092";
  c.group = "billing";
  return c;
}

void expect_invalid(const ConsumerConfig& c, const std::string& mentions) {
  Status s = validate(c);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find(mentions), std::string_view::npos) << s;
}

TEST(ConsumerConfig, DefaultsFollowTheSeed) {
  ConsumerConfig c;
  EXPECT_FALSE(c.auto_commit);  // the seed recommends false; we default to it
  EXPECT_EQ(c.initial_offset, InitialOffset::kNewest);
  EXPECT_EQ(c.isolation_level, IsolationLevel::kReadCommitted);
  ASSERT_EQ(c.balance_strategies.size(), 1u);
  EXPECT_EQ(c.balance_strategies[0], BalanceStrategy::kRoundRobin);
  EXPECT_EQ(c.session_timeout, std::chrono::seconds(10));
  EXPECT_EQ(c.heartbeat_interval, std::chrono::seconds(3));
  EXPECT_EQ(c.max_processing_time, std::chrono::milliseconds(100));
  EXPECT_EQ(c.max_message_bytes, 1 << 20);
  EXPECT_EQ(c.restart_backoff.initial, std::chrono::seconds(1));
  EXPECT_EQ(c.restart_backoff.max, std::chrono::seconds(60));
  EXPECT_EQ(c.restart_backoff.multiplier, 2.0);
  EXPECT_EQ(c.max_consecutive_failures, 10);
  EXPECT_EQ(c.message_retry.max_retries, 0);
  EXPECT_TRUE(validate(good_consumer()).ok()) << validate(good_consumer());
}

TEST(ConsumerConfig, RequiredFieldsAreNamed) {
  auto c = good_consumer();
  c.job_name.clear();
  expect_invalid(c, "job_name");
  c = good_consumer();
  c.topics.clear();
  expect_invalid(c, "topics");
  c = good_consumer();
  c.topics = {"a", ""};
  expect_invalid(c, "empty topic");
  c = good_consumer();
  c.bootstrap_servers.clear();
  expect_invalid(c, "bootstrap_servers");
  c = good_consumer();
  c.group.clear();
  expect_invalid(c, "group");
}

TEST(ConsumerConfig, BadValuesAreNamed) {
  auto c = good_consumer();
  c.heartbeat_interval = c.session_timeout;
  expect_invalid(c, "heartbeat_interval");
  c = good_consumer();
  c.balance_strategies = {BalanceStrategy::kCooperativeSticky, BalanceStrategy::kRange};
  expect_invalid(c, "cooperative-sticky");
  c = good_consumer();
  c.balance_strategies.clear();
  expect_invalid(c, "balance_strategies");
  c = good_consumer();
  c.commit_every_messages = 0;
  expect_invalid(c, "commit_every_messages");
  c = good_consumer();
  c.max_consecutive_failures = -1;
  expect_invalid(c, "max_consecutive_failures");
  c = good_consumer();
  c.restart_backoff.max = std::chrono::milliseconds(1);
  expect_invalid(c, "restart_backoff");
  c = good_consumer();
  c.message_retry.max_retries = -7;
  expect_invalid(c, "message_retry");
  c = good_consumer();
  c.dead_letter_topic = "orders";
  expect_invalid(c, "dead_letter_topic");
  c = good_consumer();
  c.handler_threads = -1;
  expect_invalid(c, "handler_threads");
  c = good_consumer();
  c.max_in_flight = 0;
  expect_invalid(c, "max_in_flight");
  // Every field is valid in this one: the job name is in the message.
  c = good_consumer();
  c.group.clear();
  expect_invalid(c, "\"orders\"");
}

TEST(ConsumerConfig, PropertiesAreCheckedAndReservedOnesRefused) {
  auto c = good_consumer();
  c.properties = {{"fetch.wait.max.ms", "50"}, {"statistics.interval.ms", "0"}};
  EXPECT_TRUE(validate(c).ok()) << validate(c);
  c.properties = {{"no.such.thing", "1"}};
  expect_invalid(c, "no.such.thing");
  c.properties = {{"session.timeout.ms", "banana"}};
  expect_invalid(c, "banana");
  for (const char* reserved : {"group.id", "bootstrap.servers", "metadata.broker.list",
                               "enable.auto.commit", "enable.auto.offset.store", "rebalance_cb"}) {
    c.properties = {{reserved, "x"}};
    expect_invalid(c, reserved);
  }
}

TEST(ConsumerConfig, SecretValuesNeverAppearInErrors) {
  auto c = good_consumer();
  // A misspelt secret property: the error names the key, not the value.
  c.properties = {{"sasl.passwrd", "hunter2-secret"}};
  Status s = validate(c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("sasl.passwrd"), std::string_view::npos) << s;
  EXPECT_EQ(s.message().find("hunter2"), std::string_view::npos) << s;
  // A valid secret property is accepted.
  c.properties = {{"sasl.password", "hunter2-secret"}};
  EXPECT_TRUE(validate(c).ok());
}

TEST(Secrets, SecretPropertiesAreRecognisedAndScrubbed) {
  using internal::is_secret_property;
  EXPECT_TRUE(is_secret_property("sasl.password"));
  EXPECT_TRUE(is_secret_property("ssl.key.password"));
  EXPECT_TRUE(is_secret_property("ssl.key.pem"));
  EXPECT_TRUE(is_secret_property("sasl.oauthbearer.client.secret"));
  EXPECT_TRUE(is_secret_property("ssl.keystore.password"));
  EXPECT_FALSE(is_secret_property("sasl.username"));
  EXPECT_FALSE(is_secret_property("fetch.wait.max.ms"));

  internal::SecretScrubber scrubber;
  scrubber.add_from({{"sasl.password", "hunter2"}, {"sasl.username", "alice"}});
  EXPECT_EQ(scrubber.scrub("auth hunter2 failed for alice (hunter2)"),
            "auth [redacted] failed for alice ([redacted])");
}

TEST(Secrets, InvalidSecretValueIsNotShown) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  // A secret-named key whose value librdkafka rejects: the value is hidden.
  Status s = internal::set_property(*conf, "test", "ssl.keystore.password", "x");
  EXPECT_TRUE(s.ok()) << s;
  s = internal::set_property(*conf, "test", "acks", "banana");
  EXPECT_NE(s.message().find("banana"), std::string_view::npos) << s;
}

ProducerConfig good_producer() {
  ProducerConfig p;
  p.bootstrap_servers = "127.0.0.1:9092";
  return p;
}

TEST(ProducerConfig, DefaultsFollowTheSeed) {
  ProducerConfig p;
  EXPECT_EQ(p.required_acks, RequiredAcks::kAll);
  EXPECT_EQ(p.compression, Compression::kNone);
  EXPECT_EQ(p.max_retries, 3);
  EXPECT_EQ(p.retry_backoff, std::chrono::milliseconds(100));
  EXPECT_FALSE(p.enable_idempotent.has_value());
  EXPECT_EQ(p.max_message_bytes, 1'000'000);
  EXPECT_FALSE(p.enable_sync_producer.has_value());   // nullopt = true
  EXPECT_FALSE(p.enable_async_producer.has_value());  // nullopt = false
  EXPECT_TRUE(validate(good_producer()).ok()) << validate(good_producer());
}

TEST(ProducerConfig, BadValuesAreNamed) {
  auto p = good_producer();
  p.bootstrap_servers.clear();
  EXPECT_NE(validate(p).message().find("bootstrap_servers"), std::string_view::npos);
  p = good_producer();
  p.enable_sync_producer = false;
  EXPECT_NE(validate(p).message().find("enable_sync_producer"), std::string_view::npos);
  p.enable_async_producer = true;
  EXPECT_TRUE(validate(p).ok());
  p = good_producer();
  p.enable_idempotent = true;
  p.required_acks = RequiredAcks::kLeader;
  EXPECT_NE(validate(p).message().find("required_acks"), std::string_view::npos);
  p = good_producer();
  p.max_message_bytes = 10;
  EXPECT_NE(validate(p).message().find("max_message_bytes"), std::string_view::npos);
  p = good_producer();
  p.max_retries = -1;
  EXPECT_NE(validate(p).message().find("max_retries"), std::string_view::npos);
  p = good_producer();
  p.properties = {{"bootstrap.servers", "elsewhere:9092"}};
  EXPECT_EQ(validate(p).code(), StatusCode::kInvalidArgument);
  p = good_producer();
  p.properties = {{"dr_msg_cb", "x"}};
  EXPECT_EQ(validate(p).code(), StatusCode::kInvalidArgument);
  p = good_producer();
  p.properties = {{"batch.num.messages", "500"}, {"partitioner", "murmur2_random"}};
  EXPECT_TRUE(validate(p).ok()) << validate(p);
}

TEST(ProducerConfig, TheProducerTypesFollowTheConfig) {
  auto p = good_producer();
  auto sync_only = Producer::create(p);
  ASSERT_TRUE(sync_only.ok()) << sync_only.status();
  EXPECT_TRUE((*sync_only)->sync_enabled());
  EXPECT_FALSE((*sync_only)->async_enabled());
  Status s = (*sync_only)->send_async("t", "k", "v");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("enable_async_producer"), std::string_view::npos) << s;

  p.enable_sync_producer = false;
  p.enable_async_producer = true;
  auto async_only = Producer::create(p);
  ASSERT_TRUE(async_only.ok()) << async_only.status();
  EXPECT_FALSE((*async_only)->sync_enabled());
  EXPECT_TRUE((*async_only)->async_enabled());
  auto r = (*async_only)->send("t", "k", "v");
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("enable_sync_producer"), std::string_view::npos);

  // After close, sends fail cleanly.
  EXPECT_TRUE((*sync_only)->close(std::chrono::milliseconds(100)).ok());
  EXPECT_EQ((*sync_only)->send("t", "k", "v").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE((*sync_only)->close().ok());  // idempotent
}

}  // namespace
}  // namespace sluice::kafka
