// The demo's Kafka act: a librdkafka mock cluster in this process, the sync
// and async managed producers, and a managed consumer job that is switched
// off and on mid-run and whose handler fails once (the job restarts from its
// last commit: the message is redelivered, never skipped).
#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "demo.h"
#include "sluice/core/logger.h"
#include "sluice/kafka/consumer.h"
#include "sluice/kafka/mock_cluster.h"
#include "sluice/kafka/producer.h"
#include "sluice/kafka/registry.h"

namespace sluice::cli::demo {

using namespace std::chrono_literals;

namespace {

const char kTopic[] = "demo-orders";

// Records every message it handles; fails once, on `fail_on`.
class OrdersJob final : public kafka::Consumer {
 public:
  OrdersJob(kafka::ConsumerConfig config, Ledger& ledger, std::mutex& ledger_mu,
            std::string fail_on)
      : config_(std::move(config)),
        ledger_(ledger),
        ledger_mu_(ledger_mu),
        fail_on_(std::move(fail_on)) {}

  const kafka::ConsumerConfig& config() const override { return config_; }

  Status handle(kafka::HandlerContext&, const kafka::Message& m) override {
    const std::string_view v = m.value();
    const std::string id(v.substr(0, v.find(';')));
    if (id == fail_on_ && !failed_.exchange(true)) {
      return Status::unavailable("demo: a simulated failure handling " + id);
    }
    std::lock_guard lock(ledger_mu_);
    ledger_.delivered(id, now_us(), seq_++);
    return Status();
  }

  bool failed() const { return failed_.load(); }

 private:
  kafka::ConsumerConfig config_;
  Ledger& ledger_;
  std::mutex& ledger_mu_;
  std::string fail_on_;
  std::atomic<bool> failed_{false};
  std::int64_t seq_ = 0;  // guarded by ledger_mu_
};

}  // namespace

Result<Ledger::Summary> run_kafka_act(const DemoOptions& o, View& view) {
  SLUICE_ASSIGN_OR_RETURN(auto cluster, kafka::MockCluster::start({.brokers = 3}));
  SLUICE_RETURN_IF_ERROR(cluster->create_topic(kTopic, 4));
  view.event("kafka: mock cluster of 3 brokers at " + cluster->bootstrap_servers() + ", topic " +
             kTopic + " with 4 partitions");

  const int total = o.kafka_messages;
  Ledger ledger;
  std::mutex ledger_mu;
  const std::string fail_on = "k" + std::to_string(total / 2);

  kafka::Registry registry({.logger = make_stderr_logger(LogLevel::kError)});
  kafka::ConsumerConfig config;
  config.job_name = "orders";
  config.topics = {kTopic};
  config.bootstrap_servers = cluster->bootstrap_servers();
  config.group = "demo-orders-group";
  config.initial_offset = kafka::InitialOffset::kOldest;
  config.session_timeout = 6s;
  config.heartbeat_interval = 2s;
  config.commit_interval = 200ms;
  auto job = std::make_shared<OrdersJob>(config, ledger, ledger_mu, fail_on);
  SLUICE_RETURN_IF_ERROR(registry.register_consumer(job));

  kafka::ProducerConfig producer_config;
  producer_config.bootstrap_servers = cluster->bootstrap_servers();
  producer_config.enable_sync_producer = true;
  producer_config.enable_async_producer = true;
  SLUICE_ASSIGN_OR_RETURN(auto producer, registry.register_producer(producer_config));

  SLUICE_RETURN_IF_ERROR(registry.set_consumer_switch("orders", true));
  SLUICE_RETURN_IF_ERROR(registry.start_all(o.stop));
  view.event("kafka: managed consumer job 'orders' switched on (at-least-once commits)");

  std::atomic<int> acked{0}, failed_sends{0};
  std::map<std::string, std::int64_t> next_order;
  auto send = [&](int i) -> Status {
    // The sync and the async producer are separate clients: each has keys
    // of its own, since order holds per key within one producer.
    const bool sync = i % 10 == 0;
    const std::string key = (sync ? "sync-customer-" : "customer-") + std::to_string(i % 32);
    const std::string id = "k" + std::to_string(i);
    const std::string value =
        id + ";{\"customer\":\"" + key + "\",\"n\":" + std::to_string(i) + "}";
    {
      std::lock_guard lock(ledger_mu);
      ledger.produced(id, key, next_order[key]++);
    }
    if (sync) {  // every tenth through the sync producer: it waits for the ack
      auto r = producer->send(kTopic, key, value);
      if (!r.ok()) return r.status().with_context("sync send");
      acked.fetch_add(1);
      return Status();
    }
    return producer->send_async(kTopic, key, value, [&](const Result<kafka::Delivery>& r) {
      if (r.ok()) {
        acked.fetch_add(1);
      } else {
        failed_sends.fetch_add(1);
      }
    });
  };

  const auto produce_for = std::chrono::milliseconds(std::clamp(total * 3, 3000, 8000));
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + o.act_timeout;
  int sent = 0;
  enum class Switch { kOn, kOff, kBackOn } sw = Switch::kOn;
  std::chrono::steady_clock::time_point switched_off_at{};
  bool failure_reported = false;
  while (std::chrono::steady_clock::now() < deadline && !o.stop.stop_requested()) {
    const auto now = std::chrono::steady_clock::now();
    const double frac = std::min(1.0, std::chrono::duration<double>(now - start) / produce_for);
    for (const int target = static_cast<int>(frac * total); sent < target; ++sent) {
      SLUICE_RETURN_IF_ERROR(send(sent));
    }
    std::size_t unique;
    {
      std::lock_guard lock(ledger_mu);
      unique = ledger.unique_delivered();
    }
    if (sw == Switch::kOn && unique >= static_cast<std::size_t>(total) / 4) {
      SLUICE_RETURN_IF_ERROR(registry.set_consumer_switch("orders", false));
      sw = Switch::kOff;
      switched_off_at = now;
      view.event(
          "kafka: switched 'orders' off: it finishes the message in hand, commits, leaves the "
          "group");
    }
    if (sw == Switch::kOff && now - switched_off_at >= 2s) {
      SLUICE_RETURN_IF_ERROR(registry.set_consumer_switch("orders", true));
      sw = Switch::kBackOn;
      view.event("kafka: switched 'orders' on again: it rejoins and resumes from its commit");
    }
    if (job->failed() && !failure_reported) {
      failure_reported = true;
      view.event("kafka: the handler failed on " + fail_on +
                 "; the job restarts from its last commit after 1 s (backoff), nothing skipped");
    }
    SLUICE_ASSIGN_OR_RETURN(kafka::JobStatus js, registry.job_status("orders"));
    std::vector<std::string> block{
        View::bar("produced", acked.load(), total),
        View::bar("delivered", static_cast<double>(unique), total),
    };
    for (auto& l : View::table({"job", "state", "switched", "handled", "restarts"},
                               {{"orders", std::string(kafka::job_state_name(js.state)),
                                 js.switched_on ? "on" : "off", std::to_string(js.messages_handled),
                                 std::to_string(js.restarts)}})) {
      block.push_back("  " + l);
    }
    view.status(block);
    // Done when everything sent was handled and the switch went off and on.
    if (sent >= total && sw == Switch::kBackOn &&
        unique + static_cast<std::size_t>(failed_sends.load()) >= static_cast<std::size_t>(total)) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  registry.stop();
  SLUICE_RETURN_IF_ERROR(registry.wait_stop());
  view.finish();
  if (o.stop.stop_requested()) return Status::cancelled("interrupted");
  if (failed_sends.load() > 0) {
    view.event("kafka: " + std::to_string(failed_sends.load()) + " sends failed");
  }
  std::lock_guard lock(ledger_mu);
  return ledger.summarize();
}

}  // namespace sluice::cli::demo
