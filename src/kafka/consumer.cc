#include "sluice/kafka/consumer.h"

#include <algorithm>
#include <set>
#include <utility>

#include "kafka/rdkafka_util.h"

namespace sluice::kafka {
namespace {

class FunctionConsumer final : public Consumer {
 public:
  FunctionConsumer(ConsumerConfig config, HandlerFunction fn)
      : config_(std::move(config)), fn_(std::move(fn)) {}
  const ConsumerConfig& config() const override { return config_; }
  Status handle(HandlerContext& ctx, const Message& message) override { return fn_(ctx, message); }

 private:
  ConsumerConfig config_;
  HandlerFunction fn_;
};

}  // namespace

Status validate(const ConsumerConfig& c) {
  const std::string who = "kafka consumer \"" + c.job_name + "\"";
  auto bad = [&](const std::string& msg) { return Status::invalid_argument(who + ": " + msg); };
  if (c.job_name.empty()) return Status::invalid_argument("kafka consumer: job_name is required");
  if (c.topics.empty()) return bad("topics is required (at least one topic)");
  for (const auto& t : c.topics) {
    if (t.empty()) return bad("topics contains an empty topic name");
  }
  if (c.bootstrap_servers.empty()) return bad("bootstrap_servers is required");
  if (c.group.empty()) return bad("group is required");
  if (c.balance_strategies.empty()) return bad("balance_strategies is empty");
  const bool cooperative =
      std::find(c.balance_strategies.begin(), c.balance_strategies.end(),
                BalanceStrategy::kCooperativeSticky) != c.balance_strategies.end();
  if (cooperative && c.balance_strategies.size() > 1) {
    return bad(
        "balance_strategies: cooperative-sticky cannot be combined with round robin or range "
        "(different rebalance protocols)");
  }
  if (c.session_timeout <= std::chrono::milliseconds(0)) return bad("session_timeout must be > 0");
  if (c.heartbeat_interval <= std::chrono::milliseconds(0)) {
    return bad("heartbeat_interval must be > 0");
  }
  if (c.heartbeat_interval >= c.session_timeout) {
    return bad("heartbeat_interval (" + std::to_string(c.heartbeat_interval.count()) +
               " ms) must be below session_timeout (" + std::to_string(c.session_timeout.count()) +
               " ms)");
  }
  if (c.max_processing_time < std::chrono::milliseconds(0)) {
    return bad("max_processing_time must be >= 0");
  }
  if (c.max_message_bytes < 1) return bad("max_message_bytes must be >= 1");
  if (c.commit_every_messages < 1) return bad("commit_every_messages must be >= 1");
  if (c.commit_interval <= std::chrono::milliseconds(0)) return bad("commit_interval must be > 0");
  if (Status s = c.message_retry.validate(); !s.ok()) {
    return bad("message_retry: " + std::string(s.message()));
  }
  if (Status s = c.restart_backoff.validate(); !s.ok()) {
    return bad("restart_backoff: " + std::string(s.message()));
  }
  if (c.max_consecutive_failures < 0) return bad("max_consecutive_failures must be >= 0");
  if (c.handler_threads < 0 || c.handler_threads > 1024) {
    return bad("handler_threads must be between 0 and 1024");
  }
  if (c.max_in_flight < 1) return bad("max_in_flight must be >= 1");
  if (!c.dead_letter_topic.empty() &&
      std::find(c.topics.begin(), c.topics.end(), c.dead_letter_topic) != c.topics.end()) {
    return bad("dead_letter_topic \"" + c.dead_letter_topic +
               "\" is one of the consumed topics (failed messages would come back forever)");
  }
  // Every property must be one librdkafka knows, with a valid value.
  auto conf = internal::make_consumer_conf(c);
  return conf.status();
}

std::shared_ptr<Consumer> make_consumer(ConsumerConfig config, HandlerFunction handler) {
  return std::make_shared<FunctionConsumer>(std::move(config), std::move(handler));
}

}  // namespace sluice::kafka
