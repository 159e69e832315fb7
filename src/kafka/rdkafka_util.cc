#include "kafka/rdkafka_util.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace sluice::kafka::internal {
namespace {

bool icontains(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

std::string ms(std::chrono::milliseconds d) {
  return std::to_string(d.count());
}

// Properties sluice sets itself or that would break its guarantees.
Status check_reserved(std::string_view who, const std::string& key, bool consumer) {
  static const std::set<std::string, std::less<>> kCallbacks = {"opaque", "default_topic_conf",
                                                                "interceptors"};
  if (key.size() > 3 && key.compare(key.size() - 3, 3, "_cb") == 0) {
    return Status::invalid_argument(std::string(who) + ": property \"" + key +
                                    "\" is a callback; sluice installs its own");
  }
  if (kCallbacks.count(key)) {
    return Status::invalid_argument(std::string(who) + ": property \"" + key +
                                    "\" cannot be set as a string");
  }
  if (key == "bootstrap.servers" || key == "metadata.broker.list") {
    return Status::invalid_argument(std::string(who) + ": property \"" + key +
                                    "\" is set from bootstrap_servers; use that field");
  }
  if (consumer) {
    if (key == "group.id") {
      return Status::invalid_argument(std::string(who) +
                                      ": property \"group.id\" is set from group; use that field");
    }
    if (key == "enable.auto.commit") {
      return Status::invalid_argument(
          std::string(who) +
          ": property \"enable.auto.commit\" is set from auto_commit; use that field");
    }
    if (key == "enable.auto.offset.store") {
      return Status::invalid_argument(
          std::string(who) +
          ": property \"enable.auto.offset.store\" is managed by sluice (offsets are stored "
          "only after the handler succeeds)");
    }
  }
  return Status();
}

std::string strategy_name(BalanceStrategy s) {
  switch (s) {
    case BalanceStrategy::kRoundRobin:
      return "roundrobin";
    case BalanceStrategy::kRange:
      return "range";
    case BalanceStrategy::kCooperativeSticky:
      return "cooperative-sticky";
  }
  return "roundrobin";
}

std::string compression_name(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kSnappy:
      return "snappy";
    case Compression::kLz4:
      return "lz4";
    case Compression::kZstd:
      return "zstd";
  }
  return "none";
}

LogLevel level_for_syslog(int severity) {
  // librdkafka uses syslog levels: 0-3 errors, 4 warning, 5 notice, 6 info, 7 debug.
  if (severity <= 3) return LogLevel::kError;
  if (severity == 4) return LogLevel::kWarn;
  if (severity == 5) return LogLevel::kInfo;
  if (severity == 6) return LogLevel::kDebug;
  return LogLevel::kTrace;
}

}  // namespace

bool is_secret_property(std::string_view key) {
  if (is_secret_key(key)) return true;
  for (std::string_view s : {"password", "secret", "ssl.key.pem", "ssl_key", "key.pem", "keystore",
                             "sasl.oauthbearer.config", "sasl.jaas", "credential"}) {
    if (icontains(key, s)) return true;
  }
  return false;
}

void SecretScrubber::add_from(const std::map<std::string, std::string>& properties) {
  for (const auto& [k, v] : properties) {
    if (is_secret_property(k)) add(v);
  }
}

void SecretScrubber::add(std::string value) {
  // One- and two-character values would garble every line they appear in;
  // no real secret is that short.
  if (value.size() < 3) return;
  if (std::find(secrets_.begin(), secrets_.end(), value) == secrets_.end()) {
    secrets_.push_back(std::move(value));
  }
  // Longest first, so a secret that contains another is replaced whole.
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string SecretScrubber::scrub(std::string_view text) const {
  std::string out(text);
  for (const auto& s : secrets_) {
    for (std::size_t pos = out.find(s); pos != std::string::npos; pos = out.find(s, pos)) {
      out.replace(pos, s.size(), "[redacted]");
      pos += 10;
    }
  }
  return out;
}

std::string describe_error(RdKafka::ErrorCode code) {
  return RdKafka::err2str(code) + " (" + rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code)) +
         ")";
}

Status status_from(RdKafka::ErrorCode code, std::string_view context) {
  std::string msg = std::string(context) + ": " + describe_error(code);
  switch (code) {
    case RdKafka::ERR_NO_ERROR:
      return Status();
    case RdKafka::ERR__MSG_TIMED_OUT:
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__TIMED_OUT_QUEUE:
    case RdKafka::ERR_REQUEST_TIMED_OUT:
      return Status::timeout(std::move(msg));
    case RdKafka::ERR__TRANSPORT:
    case RdKafka::ERR__ALL_BROKERS_DOWN:
    case RdKafka::ERR__RESOLVE:
    case RdKafka::ERR_LEADER_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_LEADER_FOR_PARTITION:
    case RdKafka::ERR_NETWORK_EXCEPTION:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RdKafka::ERR_COORDINATOR_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_COORDINATOR:
    case RdKafka::ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RdKafka::ERR_REBALANCE_IN_PROGRESS:
    case RdKafka::ERR__WAIT_COORD:
      return Status::unavailable(std::move(msg));
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
    case RdKafka::ERR__INVALID_ARG:
    case RdKafka::ERR_INVALID_MSG:
    case RdKafka::ERR_INVALID_REQUIRED_ACKS:
    case RdKafka::ERR__INVALID_TYPE:
    case RdKafka::ERR_RECORD_LIST_TOO_LARGE:
      return Status::invalid_argument(std::move(msg));
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
    case RdKafka::ERR__UNKNOWN_PARTITION:
      return Status::not_found(std::move(msg));
    case RdKafka::ERR__QUEUE_FULL:
      return Status::resource_exhausted(std::move(msg));
    case RdKafka::ERR__PURGE_QUEUE:
    case RdKafka::ERR__PURGE_INFLIGHT:
    case RdKafka::ERR__DESTROY:
      return Status::cancelled(std::move(msg));
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR_GROUP_AUTHORIZATION_FAILED:
    case RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RdKafka::ERR_SASL_AUTHENTICATION_FAILED:
    case RdKafka::ERR__AUTHENTICATION:
    case RdKafka::ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
      return Status::permission_denied(std::move(msg));
    case RdKafka::ERR_THROTTLING_QUOTA_EXCEEDED:
      return Status::throttled(std::move(msg));
    default:
      // Broker errors (positive codes) are mostly about the cluster's state;
      // local ones (negative) about the client's.
      return code > 0 ? Status(StatusCode::kUnavailable, std::move(msg), false)
                      : Status::internal(std::move(msg));
  }
}

Status set_property(RdKafka::Conf& conf, std::string_view who, const std::string& key,
                    const std::string& value) {
  std::string err;
  const RdKafka::Conf::ConfResult r = conf.set(key, value, err);
  if (r == RdKafka::Conf::CONF_OK) return Status();
  std::string msg = std::string(who) + ": property \"" + key + "\": ";
  if (r == RdKafka::Conf::CONF_UNKNOWN) {
    msg += "no such librdkafka property";
  } else if (is_secret_property(key)) {
    msg += "invalid value (not shown: secret)";
  } else {
    msg += "invalid value \"" + value + "\"";
    if (err.size() > 1) msg += " (" + err + ")";
  }
  return Status::invalid_argument(std::move(msg));
}

namespace {

Status apply(RdKafka::Conf& conf, std::string_view who,
             const std::vector<std::pair<std::string, std::string>>& ours,
             const std::map<std::string, std::string>& theirs, bool consumer) {
  for (const auto& [k, v] : ours) SLUICE_RETURN_IF_ERROR(set_property(conf, who, k, v));
  for (const auto& [k, v] : theirs) {
    SLUICE_RETURN_IF_ERROR(check_reserved(who, k, consumer));
    SLUICE_RETURN_IF_ERROR(set_property(conf, who, k, v));
  }
  return Status();
}

}  // namespace

Result<std::unique_ptr<RdKafka::Conf>> make_consumer_conf(const ConsumerConfig& c) {
  const std::string who = "kafka consumer \"" + c.job_name + "\"";
  std::string strategies;
  for (auto s : c.balance_strategies) {
    if (!strategies.empty()) strategies += ",";
    strategies += strategy_name(s);
  }
  std::vector<std::pair<std::string, std::string>> ours = {
      {"bootstrap.servers", c.bootstrap_servers},
      {"group.id", c.group},
      {"client.id", "sluice-" + c.job_name},
      {"enable.auto.commit", c.auto_commit ? "true" : "false"},
      // With manual commits sluice commits explicit offsets; nothing is stored.
      {"enable.auto.offset.store", c.auto_commit ? "true" : "false"},
      {"auto.offset.reset", c.initial_offset == InitialOffset::kOldest ? "earliest" : "latest"},
      {"isolation.level",
       c.isolation_level == IsolationLevel::kReadCommitted ? "read_committed" : "read_uncommitted"},
      {"partition.assignment.strategy", strategies},
      {"session.timeout.ms", ms(c.session_timeout)},
      {"heartbeat.interval.ms", ms(c.heartbeat_interval)},
      {"fetch.message.max.bytes", std::to_string(c.max_message_bytes)},
  };
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  SLUICE_RETURN_IF_ERROR(apply(*conf, who, ours, c.properties, /*consumer=*/true));
  return conf;
}

Result<std::unique_ptr<RdKafka::Conf>> make_producer_conf(const ProducerConfig& c, bool async) {
  const std::string who = "kafka producer \"" + c.name + "\"";
  const bool idempotent = c.enable_idempotent.value_or(false);
  std::vector<std::pair<std::string, std::string>> ours = {
      {"bootstrap.servers", c.bootstrap_servers},
      {"client.id", "sluice-" + c.name + (async ? "-async" : "-sync")},
      {"acks", std::to_string(static_cast<int>(c.required_acks))},
      {"compression.codec", compression_name(c.compression)},
      {"message.send.max.retries", std::to_string(c.max_retries)},
      {"retry.backoff.ms", ms(c.retry_backoff)},
      {"enable.idempotence", idempotent ? "true" : "false"},
      {"message.max.bytes", std::to_string(c.max_message_bytes)},
      {"message.timeout.ms", ms(c.delivery_timeout)},
      {"linger.ms", async ? ms(c.linger) : "0"},
      // Sarama's default partitioner: keys keep the partitions the Go package gave them.
      {"partitioner", "fnv1a_random"},
  };
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  SLUICE_RETURN_IF_ERROR(apply(*conf, who, ours, c.properties, /*consumer=*/false));
  return conf;
}

EventBridge::EventBridge(std::shared_ptr<Logger> log, const SecretScrubber* scrubber)
    : log_(std::move(log)), scrubber_(scrubber) {}

void EventBridge::event_cb(RdKafka::Event& event) {
  switch (event.type()) {
    case RdKafka::Event::EVENT_LOG: {
      const LogLevel level = level_for_syslog(static_cast<int>(event.severity()));
      if (!log_->enabled(level)) return;
      log_->log(level, "librdkafka",
                {{"facility", event.fac()}, {"detail", scrubber_->scrub(event.str())}});
      return;
    }
    case RdKafka::Event::EVENT_ERROR: {
      const std::string detail = scrubber_->scrub(event.str());
      if (event.fatal()) {
        log_->error("kafka client fatal error",
                    {{"error", describe_error(event.err())}, {"detail", detail}});
        if (on_fatal_) {
          on_fatal_(Status::internal("fatal librdkafka error: " + describe_error(event.err()) +
                                     ": " + detail));
        }
        return;
      }
      log_->warn("kafka client error",
                 {{"error", describe_error(event.err())}, {"detail", detail}});
      return;
    }
    case RdKafka::Event::EVENT_THROTTLE:
      log_->debug("kafka broker throttled us",
                  {{"broker", event.broker_name()}, {"ms", event.throttle_time()}});
      return;
    default:
      return;
  }
}

}  // namespace sluice::kafka::internal
