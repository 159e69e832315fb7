// MockCluster: a Kafka cluster inside the process, made of librdkafka's mock
// brokers. They speak the real Kafka protocol on loopback ports, so any
// client (sluice, librdkafka, kafkajs) can produce and consume while the
// MockCluster lives. For tests, local development and the demo; there is no
// persistence and no admin API (topics are created with create_topic(), or
// automatically with 4 partitions on first produce).
//
//   auto cluster = sluice::kafka::MockCluster::start({.brokers = 3});
//   (*cluster)->create_topic("orders", 6);
//   std::string bootstrap = (*cluster)->bootstrap_servers();  // "127.0.0.1:41233,..."
#ifndef SLUICE_KAFKA_MOCK_CLUSTER_H_
#define SLUICE_KAFKA_MOCK_CLUSTER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "sluice/core/result.h"
#include "sluice/core/status.h"

namespace sluice::kafka {

struct MockClusterOptions {
  // Number of brokers, >= 1.
  int brokers = 1;
};

class MockCluster {
 public:
  static Result<std::unique_ptr<MockCluster>> start(MockClusterOptions options = {});
  ~MockCluster();
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  // Comma-separated host:port list for `bootstrap.servers`.
  const std::string& bootstrap_servers() const { return bootstrap_; }
  // Creates `topic` with `partitions` partitions (replication factor 1).
  Status create_topic(const std::string& topic, int partitions);
  // Takes a broker down (its connections drop) or brings it back: for
  // failure tests. Brokers are numbered 1..brokers.
  Status set_broker_up(int broker_id, bool up);
  // Makes broker `broker_id` answer its next `count` requests of Kafka API
  // `api_key` (the protocol's number: Fetch 1, OffsetCommit 8, ...) `delay`
  // late, without an error: for slow-broker tests.
  Status delay_responses(int broker_id, std::int16_t api_key, int count,
                         std::chrono::milliseconds delay);

 private:
  MockCluster() = default;
  struct Handles;
  std::unique_ptr<Handles> handles_;
  std::string bootstrap_;
};

}  // namespace sluice::kafka

#endif  // SLUICE_KAFKA_MOCK_CLUSTER_H_
