// Seed 004's consumer quick start in C++: a managed consumer job that reads
// a topic as a member of a consumer group, commits only what it handled, and
// shuts down gracefully on SIGINT/SIGTERM (finishes the message in hand,
// commits, leaves the group).
//
//   sluice kafka mock-cluster --topic my-topic:4     # prints bootstrap=...
//   KAFKA_BROKERS=127.0.0.1:PORT ./kafka_managed_consumer
//   # in another shell:
//   printf 'hello\nworld\n' | sluice kafka produce --raw --brokers 127.0.0.1:PORT --topic my-topic
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stop_token>
#include <string>

#include "sluice/core/logger.h"
#include "sluice/core/shutdown_signals.h"
#include "sluice/kafka/consumer.h"
#include "sluice/kafka/registry.h"

namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

// Implement the Consumer interface.
class MyConsumer final : public sluice::kafka::Consumer {
 public:
  explicit MyConsumer(sluice::kafka::ConsumerConfig config) : config_(std::move(config)) {}

  const sluice::kafka::ConsumerConfig& config() const override { return config_; }

  sluice::Status handle(sluice::kafka::HandlerContext& ctx,
                        const sluice::kafka::Message& message) override {
    // Process the message. Return an error only when processing failed: the
    // message is then retried and its offset not committed.
    std::printf("[%.*s] received %.*s[%d]@%lld: %.*s\n", static_cast<int>(ctx.job_name().size()),
                ctx.job_name().data(), static_cast<int>(message.topic().size()),
                message.topic().data(), message.partition(),
                static_cast<long long>(message.offset()), static_cast<int>(message.value().size()),
                message.value().data());
    std::fflush(stdout);
    return sluice::Status();
  }

 private:
  sluice::kafka::ConsumerConfig config_;
};

}  // namespace

int main() {
  auto log = sluice::make_stderr_logger(sluice::LogLevel::kInfo);

  // A stop source for shutdown control; SIGINT/SIGTERM request the stop.
  std::stop_source stop;
  sluice::ShutdownSignals signals(stop);

  sluice::kafka::Registry registry({.metrics = nullptr, .logger = log});

  // Create and register the consumer (this does not start consuming yet).
  sluice::kafka::ConsumerConfig config;
  config.job_name = "my-consumer";
  config.topics = {env_or("TOPIC", "my-topic")};
  config.bootstrap_servers = env_or("KAFKA_BROKERS", "localhost:9092");
  config.group = env_or("GROUP", "my-group");
  config.auto_commit = false;  // at-least-once: the default, and the recommendation
  config.initial_offset = sluice::kafka::InitialOffset::kOldest;
  if (auto s = registry.register_consumer(std::make_shared<MyConsumer>(config)); !s.ok()) {
    std::fprintf(stderr, "register_consumer: %s\n", s.to_string().c_str());
    return 2;
  }

  // Enable the consumer.
  (void)registry.set_consumer_switch("my-consumer", true);

  // Start all registered consumers.
  if (auto s = registry.start_all(stop.get_token()); !s.ok()) {
    std::fprintf(stderr, "start_all: %s\n", s.to_string().c_str());
    return 1;
  }

  // Block until the stop is requested (by the signal handler) and every job
  // has shut down gracefully; producers are flushed and closed too.
  const sluice::Status stopped = registry.wait_stop();
  std::fprintf(stderr, "all consumers and producers stopped (signal %d), exiting\n",
               signals.received());
  return stopped.ok() ? 0 : 1;
}
