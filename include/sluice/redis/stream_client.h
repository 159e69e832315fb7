// RedisStreamClient: a load-balanced consumer of Redis data streams, the C++
// shape of seed 002 (redis-stream-client-go), wire-compatible with it so Go
// and C++ consumers can serve one service together (layout in lbs.h).
//
// Producers add the names of data streams to the service's load-balancer
// stream (LBS). Each consumer of the service reads the LBS through one
// consumer group, so every data stream is assigned to exactly one consumer,
// which takes a distributed lock on it and keeps the lock alive with a
// heartbeat. When a consumer dies, its locks expire; every consumer hears of
// it (keyspace notification) and may claim() the stream; one wins.
//
//   auto redis = sluice::redis::RedisClient::connect("redis://127.0.0.1:6379");
//   auto client = sluice::redis::RedisStreamClient::create(*redis, "my-service");
//   auto queue = (*client)->init();                       // recovers our pending streams
//   while (auto n = (*queue)->pop(stop_token)) {
//     switch (n->type) {
//       case NotificationType::kStreamAdded:   start(n->info.data_stream_name); break;
//       case NotificationType::kStreamExpired:
//         if ((*client)->claim(n->info).ok()) start(n->info.data_stream_name); break;
//       case NotificationType::kStreamDisowned: stop(n->info.data_stream_name); break;
//       case NotificationType::kStreamTerminated: break;  // the last one
//     }
//   }
//   ... when a data stream is finished: (*client)->done_stream(name);
//   ... on shutdown: (*client)->done();
//
// Threads: none of its own. Reading the LBS, the heartbeat of every lock
// (batched: one script call per `extend_batch_size` locks), expiry
// notifications and the orphan sweep are coroutines on the RedisClient's
// executor; a thousand owned streams cost no thread. In callback mode one
// dispatcher thread calls `on_notification`.
#ifndef SLUICE_REDIS_STREAM_CLIENT_H_
#define SLUICE_REDIS_STREAM_CLIENT_H_

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/backoff.h"
#include "sluice/core/clock.h"
#include "sluice/core/logger.h"
#include "sluice/core/metrics.h"
#include "sluice/core/result.h"
#include "sluice/core/status.h"
#include "sluice/redis/lbs.h"

namespace sluice::redis {

class RedisClient;

enum class NotificationType {
  kStreamAdded,       // a data stream was assigned to this consumer: start processing it
  kStreamExpired,     // another consumer's lock expired: claim() it to take over
  kStreamDisowned,    // this consumer lost a stream (lock not extendable): stop processing it
  kStreamTerminated,  // the last notification: the client stopped (done() or a fatal error)
};

// "StreamAdded", "StreamExpired", "StreamDisowned", "StreamTerminated".
std::string_view notification_type_name(NotificationType type);

struct Notification {
  NotificationType type = NotificationType::kStreamTerminated;
  // Which stream and LBS entry; empty for StreamTerminated.
  LbsInfo info;
  // The LBS message's Info members (strings as their text, other values as
  // JSON); for StreamTerminated {"info": <why>}. May be empty for
  // StreamExpired/StreamDisowned of entries this consumer cannot read.
  std::map<std::string, std::string> additional_info;
  // The Info object as compact JSON ("{}" when none).
  std::string additional_info_json = "{}";
};

// The client's notifications, in the order they happened, for one reader
// (or several: each notification goes to exactly one pop()). Thread-safe.
// Unbounded: nothing is dropped; StreamTerminated is always the last one and
// nothing is delivered after it.
class NotificationQueue {
 public:
  // Blocks until a notification arrives (returns it), the queue is closed
  // and drained (nullopt), or `stop` is requested (nullopt).
  std::optional<Notification> pop(std::stop_token stop = {});
  // The same, giving up after `timeout` (nullopt).
  std::optional<Notification> pop_for(std::chrono::nanoseconds timeout, std::stop_token stop = {});
  std::optional<Notification> try_pop();
  // Whether StreamTerminated has been queued (no more will come).
  bool closed() const;
  std::size_t size() const;

  // Producer side (used by the client). push() after close is refused.
  bool push(Notification n);
  // Pushes `last` and closes, atomically; false if already closed.
  bool push_last(Notification last);

 private:
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<Notification> items_;
  bool closed_ = false;
};

struct StreamClientOptions {
  // The consumer id (the LBS group's consumer name and the value of the
  // locks), used as given. Empty = "redis-consumer-<POD_NAME>", else
  // "redis-consumer-<POD_IP>", from the environment, as the Go client does;
  // creating the client fails if neither is set.
  std::string consumer_id{};
  // Lock TTL. Locks are extended every heartbeat_interval / 2, and claim()
  // requires an LBS entry to have been idle for one heartbeat interval.
  // Default 2 s (the Go client's); at least 100 ms.
  std::chrono::milliseconds heartbeat_interval{2000};
  // How long an LBS entry must have been idle (and unlocked) before the
  // orphan sweep reports it as StreamExpired. Default 40 s; must be
  // > 2 x heartbeat_interval and >= 4 s.
  std::chrono::milliseconds lbs_idle_time{40000};
  // At most this many of this consumer's pending LBS entries are recovered
  // by init(), and inspected per orphan sweep. Default 1000.
  int lbs_recovery_count = 1000;
  // Reading the LBS: how often a failed read is retried before the client
  // terminates (StreamTerminated). max_retries -1 = forever, 0 = fail at
  // once; exponential backoff 100 ms -> 30 s. The count resets after a
  // successful read. Default 5 retries.
  RetryPolicy retry =
      RetryPolicy::exponential(std::chrono::milliseconds(100), std::chrono::seconds(30), 5);
  // XREADGROUP BLOCK time of each LBS read. Default 1 s.
  std::chrono::milliseconds lbs_block_time{1000};
  // How often the orphan sweep runs (also after every resubscription, since
  // expiry events published while disconnected are lost). Zero = lbs_idle_time.
  std::chrono::milliseconds orphan_scan_interval{0};
  // init() checks that Redis publishes expired-key keyspace events
  // (notify-keyspace-events must contain K and x, or K and A). With
  // `configure_keyspace_events` it adds what is missing (CONFIG SET);
  // otherwise init() fails naming the command to run. Turn the check off
  // where CONFIG is not allowed (managed Redis) and configure it there.
  bool check_keyspace_events = true;
  bool configure_keyspace_events = false;
  // Where the LBS consumer group starts when init() creates it: "$" (only
  // entries added from now on, the Go client's choice) or "0" (everything
  // in the stream). lbs_add() and `sluice redis lbs add` create the group
  // before adding, so their entries are never skipped.
  std::string group_start_id = "$";
  // Malformed LBS entries (no lbs-input field, bad JSON, no DataStreamName)
  // are logged and counted, never delivered. true: acknowledged (XACK) and
  // left in the stream for inspection; false: left pending for this consumer.
  bool ack_malformed = true;
  // Locks extended per script call in the heartbeat. Default 500.
  int extend_batch_size = 500;
  // Callback mode: when set, notifications are delivered by calling this on
  // one dispatcher thread, in order, instead of being popped from the queue.
  // It may call claim()/done_stream(), and must not call done().
  std::function<void(const Notification&)> on_notification;
  // Null = no-op logger / MetricsRegistry::global() / Clock::real().
  std::shared_ptr<Logger> logger{};
  MetricsRegistry* metrics = nullptr;
  const Clock* clock = nullptr;

  // InvalidArgument naming the field (consumer id resolution not included).
  Status validate() const;
};

// The consumer id `options` yields: consumer_id, or "redis-consumer-" +
// POD_NAME / POD_IP; InvalidArgument naming both variables when neither is set.
Result<std::string> resolve_consumer_id(const StreamClientOptions& options);

// Whether `status` is claim()'s "already claimed" outcome (another consumer
// won the race; normal, not an error).
bool is_already_claimed(const Status& status);

class RedisStreamClient {
 public:
  // Validates the options and resolves the consumer id.
  static Result<std::unique_ptr<RedisStreamClient>> create(std::shared_ptr<RedisClient> redis,
                                                           std::string service_name,
                                                           StreamClientOptions options = {});
  // The seed's constructor shape; a configuration error is returned by init().
  RedisStreamClient(std::shared_ptr<RedisClient> redis, std::string service_name,
                    StreamClientOptions options = {});
  // done() if still running.
  ~RedisStreamClient();
  RedisStreamClient(const RedisStreamClient&) = delete;
  RedisStreamClient& operator=(const RedisStreamClient&) = delete;

  // "redis-consumer-<pod>".
  const std::string& id() const;
  const std::string& service_name() const;

  // Checks the keyspace-event configuration, creates the LBS group if
  // missing, subscribes to lock expiry, recovers this consumer's pending
  // LBS entries (up to lbs_recovery_count; each one becomes StreamAdded),
  // then starts reading the LBS. Returns the queue notifications arrive on
  // (in callback mode it is drained by the dispatcher). Call once.
  Result<std::shared_ptr<NotificationQueue>> init();

  // Takes over the stream of a StreamExpired notification: XCLAIMs its LBS
  // entry (min idle: one heartbeat interval) and takes the lock, atomically.
  // ConditionFailed "already claimed" (is_already_claimed()) when another
  // consumer got there first; NotFound when the entry is gone (finished).
  Status claim(const LbsInfo& info);

  // This consumer finished `data_stream_name`: stops extending its lock,
  // deletes the lock (only if still ours), acknowledges and deletes its LBS
  // entry. NotFound if not owned; LeaseLost (nothing acknowledged) if another
  // consumer holds the lock by now.
  Status done_stream(std::string_view data_stream_name);

  // Shuts down: done_stream() for every owned stream, stops reading, the
  // heartbeat and the subscription, queues StreamTerminated (the last
  // notification) and returns once no task of the client runs. Idempotent.
  Status done();

  // The data streams this consumer owns now, sorted.
  std::vector<std::string> streams_owned() const;
  bool owns(std::string_view data_stream_name) const;
  const StreamClientOptions& options() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::redis

#endif  // SLUICE_REDIS_STREAM_CLIENT_H_
