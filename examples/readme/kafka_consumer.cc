// examples/readme/kafka_consumer.cc
// A managed Kafka consumer job: offsets are committed only after the handler
// returned OK; a failing handler restarts the job from its last commit.
#include <cstdio>
#include <memory>
#include <stop_token>

#include "sluice/core/shutdown_signals.h"
#include "sluice/kafka/consumer.h"
#include "sluice/kafka/registry.h"

int main() {
  sluice::kafka::ConsumerConfig config;
  config.job_name = "orders";
  config.topics = {"orders"};
  config.bootstrap_servers = "127.0.0.1:9092";
  config.group = "orders-service";
  config.initial_offset = sluice::kafka::InitialOffset::kOldest;
  config.message_retry.max_retries = 3;  // then the job restarts (1 s, 2 s, ... 60 s)

  auto job = sluice::kafka::make_consumer(
      config, [](sluice::kafka::HandlerContext&, const sluice::kafka::Message& m) {
        std::printf("%d@%lld %.*s\n", m.partition(), static_cast<long long>(m.offset()),
                    static_cast<int>(m.value().size()), m.value().data());
        return sluice::Status();  // an error: retried, never skipped
      });

  sluice::kafka::Registry registry;
  if (sluice::Status s = registry.register_consumer(job); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.to_string().c_str());  // names the bad field
    return 2;
  }
  (void)registry.set_consumer_switch("orders", true);  // jobs start switched off
  std::stop_source stop;
  sluice::ShutdownSignals signals(stop);
  if (sluice::Status s = registry.start_all(stop.get_token()); !s.ok()) return 1;
  // After Ctrl-C: the message in hand finishes, offsets are committed, the
  // job leaves its group.
  return registry.wait_stop().ok() ? 0 : 1;
}
