// Helpers for the Kafka integration tests: a mock cluster per test, configs
// with the mock's timing in mind, raw librdkafka reads of committed offsets,
// and a thread-safe record of what handlers saw.
#ifndef SLUICE_TESTS_INTEGRATION_KAFKA_KAFKA_TEST_UTIL_H_
#define SLUICE_TESTS_INTEGRATION_KAFKA_KAFKA_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>
#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "sluice/kafka/consumer.h"
#include "sluice/kafka/mock_cluster.h"
#include "sluice/kafka/producer.h"
#include "support/test_util.h"

namespace sluice::kafka::testing {

// The calling thread's name (sluice names its threads: sluice-kjob, ...).
inline std::string this_thread_name() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return name;
}

// The mock cluster rebalances in about session.timeout.ms - 1 s
// (TESTING.md): 6 s is its lower bound.
inline ConsumerConfig test_consumer_config(const std::string& bootstrap, const std::string& job,
                                           const std::string& topic, const std::string& group) {
  ConsumerConfig c;
  c.job_name = job;
  c.topics = {topic};
  c.bootstrap_servers = bootstrap;
  c.group = group;
  c.initial_offset = InitialOffset::kOldest;
  c.session_timeout = std::chrono::milliseconds(6000);
  c.heartbeat_interval = std::chrono::milliseconds(1000);
  c.commit_interval = std::chrono::milliseconds(200);
  c.restart_backoff.initial = std::chrono::milliseconds(100);
  c.restart_backoff.max = std::chrono::milliseconds(400);
  c.max_processing_time = std::chrono::seconds(5);
  return c;
}

struct Seen {
  std::string topic;
  int partition = 0;
  std::int64_t offset = 0;
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};

// What handlers saw, for assertions; thread-safe.
class Recorder {
 public:
  void add(const Message& m) {
    Seen s{std::string(m.topic()), m.partition(),          m.offset(),
           std::string(m.key()),   std::string(m.value()), {}};
    for (const auto& h : m.headers()) s.headers.emplace_back(h.key, h.value);
    std::lock_guard lock(mu_);
    seen_.push_back(std::move(s));
  }
  // A handler that records every message and succeeds.
  HandlerFunction handler() {
    return [this](HandlerContext&, const Message& m) {
      add(m);
      return Status();
    };
  }
  std::vector<Seen> all() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return seen_.size();
  }
  // Distinct values seen.
  std::set<std::string> values() const {
    std::lock_guard lock(mu_);
    std::set<std::string> out;
    for (const auto& s : seen_) out.insert(s.value);
    return out;
  }
  std::size_t count_value(const std::string& v) const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& s : seen_) n += s.value == v;
    return n;
  }
  bool wait_for_values(std::size_t distinct,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30)) const {
    return sluice::testing::wait_until([&] { return values().size() >= distinct; }, timeout);
  }

 private:
  mutable std::mutex mu_;
  std::vector<Seen> seen_;
};

// The group's committed offset of each partition of `topic` (-1001 when none),
// read with a raw librdkafka client that does not join the group.
inline std::map<int, std::int64_t> committed_offsets(const std::string& bootstrap,
                                                     const std::string& group,
                                                     const std::string& topic, int partitions) {
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, err);
  conf->set("group.id", group, err);
  conf->set("log_level", "0", err);
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  std::vector<RdKafka::TopicPartition*> parts;
  for (int p = 0; p < partitions; ++p) parts.push_back(RdKafka::TopicPartition::create(topic, p));
  std::map<int, std::int64_t> out;
  if (c->committed(parts, 10000) == RdKafka::ERR_NO_ERROR) {
    for (auto* tp : parts) out[tp->partition()] = tp->offset();
  }
  RdKafka::TopicPartition::destroy(parts);
  c->close();
  return out;
}

inline std::int64_t committed_total(const std::map<int, std::int64_t>& offsets) {
  std::int64_t n = 0;
  for (const auto& [p, o] : offsets) n += o > 0 ? o : 0;
  return n;
}

// Produces `n` messages value = prefix + i (key = "k" + i) with a sync producer.
inline void produce_values(const std::string& bootstrap, const std::string& topic,
                           const std::string& prefix, int n) {
  ProducerConfig pc;
  pc.bootstrap_servers = bootstrap;
  pc.enable_sync_producer = false;
  pc.enable_async_producer = true;
  auto p = Producer::create(pc);
  ASSERT_TRUE(p.ok()) << p.status();
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE((*p)->send_async(topic, "k" + std::to_string(i), prefix + std::to_string(i)).ok());
  }
  ASSERT_TRUE((*p)->flush(std::chrono::seconds(10)).ok());
}

}  // namespace sluice::kafka::testing

#endif  // SLUICE_TESTS_INTEGRATION_KAFKA_KAFKA_TEST_UTIL_H_
