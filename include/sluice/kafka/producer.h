// Managed producers: synchronous send() and asynchronous send_async() over
// librdkafka (seed 004's producer, with its ProducerConfig table).
//
//   auto producer = registry.register_producer({.bootstrap_servers = "localhost:9092"});
//   if (!producer.ok()) return producer.status();
//   auto delivered = (*producer)->send("orders", "key", "value");   // waits for the ack
//   if (delivered.ok()) use(delivered->partition, delivered->offset);
//
//   // enable_async_producer = true:
//   (*producer)->send_async("orders", "key", "value", [](const Result<Delivery>& r) {
//     if (!r.ok()) log(r.status());
//   });
//
// Sync and async sends go through separate librdkafka clients, created only
// when enabled (enable_sync_producer defaults to true, enable_async_producer
// to false, as in the seed): the sync one sends each message at once
// (linger 0), the async one batches (linger, default 5 ms). Both are
// thread-safe. Registry::wait_stop() flushes and closes every producer the
// registry made; a producer made with Producer::create() is closed by close()
// or its destructor.
#ifndef SLUICE_KAFKA_PRODUCER_H_
#define SLUICE_KAFKA_PRODUCER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "sluice/core/logger.h"
#include "sluice/core/metrics.h"
#include "sluice/core/result.h"
#include "sluice/core/status.h"
#include "sluice/kafka/message.h"

namespace sluice::kafka {

// How many replicas must have a message before the broker acks it (acks).
enum class RequiredAcks {
  kNone = 0,    // no ack at all (Sarama's NoResponse): fastest, may lose messages
  kLeader = 1,  // the partition leader has it (WaitForLocal)
  kAll = -1,    // every in-sync replica has it (WaitForAll): the default
};

enum class Compression { kNone, kGzip, kSnappy, kLz4, kZstd };

struct ProducerConfig {
  // ---- The seed's table ------------------------------------------------------

  // Comma-separated host:port list of brokers. Required.
  std::string bootstrap_servers{};
  // Default: all in-sync replicas.
  RequiredAcks required_acks = RequiredAcks::kAll;
  // Default: none.
  Compression compression = Compression::kNone;
  // Retries of a failed produce request (message.send.max.retries). Default 3.
  int max_retries = 3;
  // Wait between those retries (retry.backoff.ms). Default 100 ms.
  std::chrono::milliseconds retry_backoff{100};
  // Idempotent producer: no duplicates or reordering from retries
  // (enable.idempotence; needs required_acks = kAll). nullopt = false.
  std::optional<bool> enable_idempotent{};
  // The largest message accepted (message.max.bytes); a bigger one is
  // refused at once with InvalidArgument. Default 1,000,000 (Sarama's).
  int max_message_bytes = 1'000'000;
  // Which senders exist: send() needs the sync one, send_async() the async
  // one, and at least one must be enabled. nullopt = default: sync true,
  // async false (the seed's pointer fields).
  std::optional<bool> enable_sync_producer{};
  std::optional<bool> enable_async_producer{};

  // ---- Beyond the seed ---------------------------------------------------------

  // Name for logs and the metrics' `producer` label. Default "producer".
  std::string name = "producer";
  // A message not acked within this time fails (message.timeout.ms; covers
  // every retry). Default 30 s.
  std::chrono::milliseconds delivery_timeout{30'000};
  // How long the async producer waits to fill a batch (linger.ms). Default 5 ms.
  std::chrono::milliseconds linger{5};
  // When librdkafka's queue is full (queue.buffering.max.messages/kbytes):
  // true (default) makes send_async() wait for room, false makes it fail at
  // once with ResourceExhausted. Never waits when called from a delivery
  // callback (that would deadlock): it fails instead.
  bool block_when_queue_full = true;
  // Any librdkafka producer property (security.*, sasl.*, partitioner,
  // batch.size...), applied after the fields above. bootstrap.servers and
  // callbacks are rejected. Unless set here, the partitioner is
  // fnv1a_random: Sarama's key hashing, so a key stays on the partition the
  // Go package sent it to. Secret values never appear in logs or errors.
  std::map<std::string, std::string> properties{};
};

// OK, or InvalidArgument naming the first bad field.
Status validate(const ProducerConfig& config);

// Where a message landed.
struct Delivery {
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};

// Called once per send_async() message with the Delivery or the reason it
// failed: always on the producer's delivery thread, in the order the reports
// came (so in offset order within a partition), never inside send_async() or
// flush() — a sender may hold a lock its callback takes. Keep it short; it
// must not call send(), flush() or close() of the same producer
// (send_async() is fine).
using DeliveryCallback = std::function<void(const Result<Delivery>&)>;

struct ProducerOptions {
  // Null: MetricsRegistry::global().
  MetricsRegistry* metrics = nullptr;
  // Null: no logging.
  std::shared_ptr<Logger> logger = nullptr;
};

class Producer {
 public:
  // Validates `config` and creates the enabled clients (they connect lazily).
  static Result<std::shared_ptr<Producer>> create(ProducerConfig config,
                                                  ProducerOptions options = {});
  // Closes (see close()) with the default timeout.
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Sends one message and waits for the broker's ack (or the failure, at most
  // delivery_timeout). A null key (nullopt) lets the partitioner spread
  // messages; a key always goes to the same partition. A null value
  // (nullopt) is a tombstone, for compacted topics. The bytes are copied.
  // FailedPrecondition if the sync producer is not enabled or the producer
  // is closed.
  Result<Delivery> send(const std::string& topic, std::optional<std::string_view> key,
                        std::optional<std::string_view> value,
                        std::span<const Header> headers = {});

  // Queues one message and returns; `callback` (may be empty) gets the
  // outcome later. The error returned here means the message was not queued
  // (and the callback will not run): async producer not enabled, closed,
  // message too large, queue full. Every 1024th call on a thread also serves
  // the delivery reports librdkafka has ready (it frees delivered messages,
  // as a raw librdkafka loop's poll() does) and hands them to the delivery
  // thread; that may log librdkafka's errors through the producer's Logger,
  // but never runs a callback. (A Logger that sends with this producer is
  // fine: sends from it never block, and flush() or close() from it, while
  // its thread serves reports, return FailedPrecondition.)
  Status send_async(const std::string& topic, std::optional<std::string_view> key,
                    std::optional<std::string_view> value, DeliveryCallback callback = {});
  Status send_async(const std::string& topic, std::optional<std::string_view> key,
                    std::optional<std::string_view> value, std::span<const Header> headers,
                    DeliveryCallback callback);

  // Waits until every queued message is delivered or failed and its callback
  // has run. Timeout if some are still queued after `timeout`;
  // FailedPrecondition from a delivery callback (it would wait for itself).
  Status flush(std::chrono::milliseconds timeout);

  // Flushes (up to `timeout`), fails what is still queued (their callbacks
  // run with Cancelled), stops the delivery threads and releases the
  // clients. Later sends fail with FailedPrecondition. Idempotent.
  Status close(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  const ProducerConfig& config() const;
  bool sync_enabled() const;
  bool async_enabled() const;
  // Messages queued in librdkafka and not yet delivered (both clients).
  std::size_t queue_depth() const;

 private:
  struct Impl;
  explicit Producer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_{};
};

}  // namespace sluice::kafka

#endif  // SLUICE_KAFKA_PRODUCER_H_
