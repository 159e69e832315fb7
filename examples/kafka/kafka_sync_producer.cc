// Seed 004's synchronous producer quick start in C++: send() waits for the
// broker's ack and says where the message landed. The registry closes the
// producer in wait_stop(), after SIGINT/SIGTERM.
//
//   sluice kafka mock-cluster --topic my-topic:4     # prints bootstrap=...
//   KAFKA_BROKERS=127.0.0.1:PORT ./kafka_sync_producer
#include <cstdio>
#include <cstdlib>
#include <stop_token>
#include <string>

#include "sluice/core/logger.h"
#include "sluice/core/shutdown_signals.h"
#include "sluice/kafka/producer.h"
#include "sluice/kafka/registry.h"

namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

}  // namespace

int main() {
  auto log = sluice::make_stderr_logger(sluice::LogLevel::kInfo);
  std::stop_source stop;
  sluice::ShutdownSignals signals(stop);
  sluice::kafka::Registry registry({.metrics = nullptr, .logger = log});
  (void)registry.start_all(stop.get_token());

  // Create and register a producer.
  sluice::kafka::ProducerConfig config;
  config.bootstrap_servers = env_or("KAFKA_BROKERS", "localhost:9092");
  config.required_acks = sluice::kafka::RequiredAcks::kAll;
  config.max_retries = 3;
  config.retry_backoff = std::chrono::milliseconds(200);
  // The sync producer is on by default; being explicit:
  config.enable_sync_producer = true;
  auto producer = registry.register_producer(config);
  if (!producer.ok()) {
    std::fprintf(stderr, "failed to create producer: %s\n", producer.status().to_string().c_str());
    return 1;
  }

  // Send a message synchronously.
  const std::string topic = env_or("TOPIC", "my-topic");
  auto delivered = (*producer)->send(topic, "key", "message value");
  if (!delivered.ok()) {
    std::fprintf(stderr, "failed to send message: %s\n", delivered.status().to_string().c_str());
  } else {
    std::printf("message delivered to topic %s, partition %d, offset %lld\n", topic.c_str(),
                delivered->partition, static_cast<long long>(delivered->offset));
    std::fflush(stdout);
  }

  // Wait for the stop (Ctrl-C); wait_stop() closes every producer.
  std::fprintf(stderr, "Ctrl-C to exit\n");
  const sluice::Status stopped = registry.wait_stop();
  std::fprintf(stderr, "all producers stopped, exiting\n");
  return delivered.ok() && stopped.ok() ? 0 : 1;
}
