// Subscriber: a pattern subscription (PSUBSCRIBE) on a dedicated connection
// that survives Redis restarts: when the connection drops it reconnects with
// backoff and subscribes again, and tells the owner (pub/sub messages
// published while it was away are lost, so owners re-check state then).
//
//   Subscriber sub(redis, {"__keyspace@0__:*"}, [](const PubSubMessage& m) { ... },
//                  [](bool resubscribed) { if (resubscribed) resync(); });
//   SLUICE_RETURN_IF_ERROR(sub.start());
//
// Handlers run one at a time on the subscriber's strand (an executor thread
// of the RedisClient); they must not block for long and must not call stop().
#ifndef SLUICE_REDIS_SUBSCRIBER_H_
#define SLUICE_REDIS_SUBSCRIBER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sluice/core/backoff.h"
#include "sluice/core/status.h"
#include "sluice/redis/async_connection.h"

namespace sluice::redis {

class RedisClient;

struct SubscriberOptions {
  // Reconnection after the connection is lost. Default: forever, 100 ms
  // doubling to 5 s.
  RetryPolicy reconnect = RetryPolicy::exponential(
      std::chrono::milliseconds(100), std::chrono::seconds(5), RetryPolicy::kUnlimited);
  // A PING is sent this often on the subscribed connection; no PONG within
  // the command timeout counts as a lost connection (half-open TCP).
  std::chrono::milliseconds ping_interval{1000};
};

class Subscriber {
 public:
  using MessageHandler = std::function<void(const PubSubMessage&)>;
  // Called each time every pattern is confirmed: false the first time, true
  // after a reconnect.
  using SubscribedHandler = std::function<void(bool resubscribed)>;

  Subscriber(std::shared_ptr<RedisClient> client, std::vector<std::string> patterns,
             MessageHandler on_message, SubscribedHandler on_subscribed = {},
             SubscriberOptions options = {});
  // stop()
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  // Connects and subscribes; returns once the subscription is confirmed, or
  // the first attempt's error (no background retry then).
  Status start();
  // Closes the connection and cancels reconnection; returns once no handler
  // runs any more. Idempotent; never call it from a handler.
  void stop();

  bool subscribed() const;
  // How many times the subscription was re-established after a loss.
  std::uint64_t resubscriptions() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace sluice::redis

#endif  // SLUICE_REDIS_SUBSCRIBER_H_
