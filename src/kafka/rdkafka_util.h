// librdkafka glue shared by the consumer and the producer: turning sluice's
// configs into RdKafka::Conf, librdkafka errors into Status, and librdkafka's
// logs into sluice's Logger, with secrets kept out of both.
#ifndef SLUICE_SRC_KAFKA_RDKAFKA_UTIL_H_
#define SLUICE_SRC_KAFKA_RDKAFKA_UTIL_H_

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/logger.h"
#include "sluice/core/result.h"
#include "sluice/core/status.h"
#include "sluice/kafka/consumer.h"
#include "sluice/kafka/producer.h"

namespace sluice::kafka::internal {

// Whether a librdkafka property holds a secret (sasl.password,
// ssl.key.password, ssl.key.pem, sasl.oauthbearer.client.secret, ...).
bool is_secret_property(std::string_view key);

// Replaces every occurrence of the secret values it was given with
// "[redacted]": the last line of defence for text that leaves sluice
// (librdkafka's log lines and error strings).
class SecretScrubber {
 public:
  // Collects the values of the secret properties in `properties`.
  void add_from(const std::map<std::string, std::string>& properties);
  void add(std::string value);
  std::string scrub(std::string_view text) const;

 private:
  std::vector<std::string> secrets_;
};

// "Broker: Message size too large (MSG_SIZE_TOO_LARGE)".
std::string describe_error(RdKafka::ErrorCode code);
// A Status for a librdkafka error code, with `context` first.
Status status_from(RdKafka::ErrorCode code, std::string_view context);

// Sets one property; an error names `who` and the property and shows the
// value unless it is a secret.
Status set_property(RdKafka::Conf& conf, std::string_view who, const std::string& key,
                    const std::string& value);

// A librdkafka configuration for a consumer job (without callbacks).
Result<std::unique_ptr<RdKafka::Conf>> make_consumer_conf(const ConsumerConfig& config);
// For a producer's sync (linger 0) or async client (without callbacks).
Result<std::unique_ptr<RdKafka::Conf>> make_producer_conf(const ProducerConfig& config, bool async);

// Forwards librdkafka's log lines and error events to a Logger (secrets
// scrubbed) and reports fatal errors. librdkafka calls it from its own
// threads too: thread-safe.
class EventBridge final : public RdKafka::EventCb {
 public:
  // `log` should carry the client's identity (with_fields: job or producer).
  EventBridge(std::shared_ptr<Logger> log, const SecretScrubber* scrubber);
  void event_cb(RdKafka::Event& event) override;

  // Called (once per fatal error) with the fatal error's Status.
  void on_fatal(std::function<void(Status)> fn) { on_fatal_ = std::move(fn); }

 private:
  std::shared_ptr<Logger> log_;
  const SecretScrubber* scrubber_;
  std::function<void(Status)> on_fatal_;
};

}  // namespace sluice::kafka::internal

#endif  // SLUICE_SRC_KAFKA_RDKAFKA_UTIL_H_
