#include "sluice/kafka/producer.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <stop_token>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "kafka/rdkafka_util.h"

namespace sluice::kafka {
namespace {

using internal::describe_error;
using internal::status_from;

// Set while a delivery callback runs on this thread: a blocking produce
// there would wait for the very thread that must make room.
thread_local bool tl_in_delivery_callback = false;

struct ClientBase;

// What a message's opaque points to: the client that sent it is found from
// there, so the delivery report goes straight to a C callback (librdkafka's
// C++ wrapper builds a Message object and makes several virtual calls per
// report).
struct DeliveryTarget {
  ClientBase* client = nullptr;
};

// A sync send() waits on one of these (on its stack) for its delivery report.
struct SyncWaiter : DeliveryTarget {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<Delivery>> result;
};

// Guards the few instructions of CallbackPool::acquire(): an uncontended
// std::mutex costs two library calls per message there, this one exchange.
// A waiter yields, so a holder that lost its CPU gets it back.
class SpinLock {
 public:
  void lock() {
    while (held_.exchange(true, std::memory_order_acquire)) {
      while (held_.load(std::memory_order_relaxed)) std::this_thread::yield();
    }
  }
  void unlock() { held_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> held_{false};
};

// The delivery callbacks of in-flight send_async() messages, in reused
// slots. One heap allocation per message, made on the sending thread and
// freed on the delivery thread, cost the async producer about a tenth of its
// throughput with 100-byte messages: malloc rarely found a free chunk in its
// thread cache, and the cross-thread free contended for the arena lock.
// Slots are never returned to the heap: the pool keeps as many as were in
// flight at once (bounded by librdkafka's queue.buffering.max.messages,
// ~80 bytes each).
class CallbackPool {
 public:
  struct Slot : DeliveryTarget {
    DeliveryCallback fn;
    // The outcome, from the report until the callback runs.
    Delivery delivery;
    Status error;
    // In the free list, or in a list of served reports.
    Slot* next = nullptr;
  };

  explicit CallbackPool(ClientBase* owner) : owner_(owner) {}

  // Any sending thread.
  Slot* acquire(DeliveryCallback&& fn) {
    Slot* slot;
    {
      std::lock_guard lock(mu_);
      if (!cache_) cache_ = freed_.exchange(nullptr, std::memory_order_acquire);
      if (!cache_) grow();
      slot = cache_;
      cache_ = slot->next;
      // Written under mu_ only: no read-modify-write needed.
      acquired_.store(acquired_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    slot->fn.swap(fn);  // an idle slot's is empty: cheaper than a move
    return slot;
  }

  // Returns the list first..last (linked by `next`) whose callbacks ran or
  // will never run; any thread. Lock-free: a push onto a stack that
  // acquire() only ever takes whole, so no ABA.
  void release(Slot* first, Slot* last, std::uint64_t count) {
    Slot* head = freed_.load(std::memory_order_relaxed);
    do {
      last->next = head;
    } while (!freed_.compare_exchange_weak(head, first, std::memory_order_release,
                                           std::memory_order_relaxed));
    released_.fetch_add(count, std::memory_order_release);
  }

  // Slots acquired and not yet released: callbacks still to run.
  std::uint64_t outstanding() const {
    const std::uint64_t released = released_.load(std::memory_order_acquire);
    return acquired_.load(std::memory_order_relaxed) - released;
  }

 private:
  static constexpr std::size_t kChunk = 1024;

  void grow() {  // mu_ held
    chunks_.push_back(std::make_unique<Slot[]>(kChunk));
    Slot* chunk = chunks_.back().get();
    for (std::size_t i = 0; i < kChunk; ++i) {
      chunk[i].client = owner_;
      chunk[i].next = i + 1 < kChunk ? &chunk[i + 1] : cache_;
    }
    cache_ = chunk;
  }

  ClientBase* const owner_;
  SpinLock mu_;
  Slot* cache_ = nullptr;                        // guarded by mu_
  std::vector<std::unique_ptr<Slot[]>> chunks_;  // guarded by mu_
  std::atomic<Slot*> freed_{nullptr};
  std::atomic<std::uint64_t> acquired_{0};
  std::atomic<std::uint64_t> released_{0};
};

using Slot = CallbackPool::Slot;

// Reports served by one rd_kafka_poll() call, in the order served, and
// their outcomes counted (the metrics are updated once per batch: an atomic
// add per report was a tenth of sluice's own cost per message).
struct ReportBatch {
  ClientBase* client = nullptr;
  Slot* head = nullptr;
  Slot** tail = &head;
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;
};

// Set while this thread serves reports for a client (ClientBase::serve).
// librdkafka may call the producer's Logger meanwhile; a flush(), close() or
// blocking send from there would wait for this very serve to end.
thread_local ReportBatch* tl_batch = nullptr;

// In a delivery callback, or serving reports: nothing here may wait for
// reports to be served or callbacks to run.
bool must_not_wait() {
  return tl_in_delivery_callback || tl_batch != nullptr;
}

// What flush() and close() answer where must_not_wait().
Status refused_while_serving(const std::string& producer, const char* call) {
  return Status::failed_precondition("kafka producer \"" + producer + "\": " + call +
                                     " called from a delivery callback, or from the Logger "
                                     "while serving delivery reports");
}

// A librdkafka producer client as its delivery reports see it, and the
// serving of those reports.
//
// The async client splits a report's work in two. Serving it (librdkafka's
// bookkeeping and freeing the message) is done by a sending thread every
// 1024 sends, as a raw librdkafka loop does, and by the delivery thread
// when no sender served since its last nap (a sender that stopped or waits
// for room); freeing on the thread that allocated and counting the queue
// on one thread was worth about a tenth of the throughput with 100-byte
// messages. flush() serves too. Running the callback is done by the
// delivery thread alone, in report order: send_async() never runs user code.
struct ClientBase {
  ClientBase(bool is_async, const std::string& producer, Logger& logger)
      : async(is_async), name(producer), log(logger), callbacks(this) {}

  const bool async;
  const std::string& name;
  Logger& log;
  rd_kafka_t* rk = nullptr;
  Counter* deliveries = nullptr;
  Counter* failures = nullptr;
  // The opaque of a send_async() message without a callback.
  DeliveryTarget no_callback{this};
  // send_async() callbacks (the async client only).
  CallbackPool callbacks;
  // Serves by sending threads (the async client only).
  std::atomic<std::uint64_t> sender_serves{0};

  // Serves the reports librdkafka has (waiting up to `timeout_ms` for one)
  // unless another thread is serving; -1 then, else how many were served.
  // One server at a time, and each publishes what it served before the next
  // begins, so callbacks run in report order.
  int serve(int timeout_ms) {
    // Re-entered from a callback librdkafka runs while this thread serves
    // (the Logger): that serve goes on; this one has nothing to add.
    if (tl_batch) return -1;
    std::unique_lock lock(serve_mu_, std::try_to_lock);
    if (!lock) return -1;
    if (timeout_ms > 0 && has_ready()) timeout_ms = 0;
    return collecting([&] { return rd_kafka_poll(rk, timeout_ms); });
  }

  // The report of one send_async() message with a callback.
  void served(Slot* slot) {
    slot->next = nullptr;
    if (tl_batch && tl_batch->client == this) {
      *tl_batch->tail = slot;
      tl_batch->tail = &slot->next;
      return;
    }
    ReportBatch one{this, slot, &slot->next};  // served outside serve()
    publish(one);
  }

  // Runs the callbacks of the served reports, in order. The delivery thread.
  void run_ready() {
    Slot* head;
    {
      std::lock_guard lock(ready_mu_);
      head = ready_head_;
      ready_head_ = nullptr;
      ready_tail_ = &ready_head_;
    }
    if (!head) return;
    Slot* last = head;
    std::uint64_t count = 0;
    tl_in_delivery_callback = true;
    for (Slot* slot = head; slot; slot = slot->next) {
      run(*slot);
      last = slot;
      ++count;
    }
    tl_in_delivery_callback = false;
    callbacks.release(head, last, count);
  }

  bool has_ready() {
    std::lock_guard lock(ready_mu_);
    return ready_head_ != nullptr;
  }

  // librdkafka's flush (linger ignored, every report served) as one serve:
  // the reports are published when it returns.
  rd_kafka_resp_err_t flush_reports(int timeout_ms) {
    std::lock_guard lock(serve_mu_);
    return collecting([&] { return rd_kafka_flush(rk, timeout_ms); });
  }

  // Delivered or failed, and (async) every callback run, by `deadline`.
  bool flush(std::chrono::steady_clock::time_point deadline) {
    const auto left = [&] {
      return static_cast<int>(std::max<std::int64_t>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                   std::chrono::steady_clock::now())
                 .count()));
    };
    if (!async) return rd_kafka_flush(rk, left()) == RD_KAFKA_RESP_ERR_NO_ERROR;
    // Nothing queued and no callback pending (a report served but not yet
    // published keeps its slot outstanding): done, without waiting for an
    // idle delivery thread to let go of serve_mu_.
    if (rd_kafka_outq_len(rk) == 0 && callbacks.outstanding() == 0) return true;
    if (flush_reports(left()) != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
    while (callbacks.outstanding() > 0) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
  }

 private:
  // Runs `serve_reports` (a librdkafka call that serves reports; serve_mu_
  // held) collecting what it serves into one batch, published at its end.
  template <typename F>
  std::invoke_result_t<F&> collecting(F&& serve_reports) {
    ReportBatch batch{this};
    ReportBatch* outer = std::exchange(tl_batch, &batch);
    auto result = serve_reports();
    tl_batch = outer;
    if (batch.delivered > 0) deliveries->inc(static_cast<double>(batch.delivered));
    if (batch.failed > 0) failures->inc(static_cast<double>(batch.failed));
    publish(batch);
    return result;
  }

  void publish(ReportBatch& batch) {
    if (!batch.head) return;
    std::lock_guard lock(ready_mu_);
    *ready_tail_ = batch.head;
    ready_tail_ = batch.tail;
  }

  void run(Slot& slot) {
    const Result<Delivery> result =
        slot.error.ok() ? Result<Delivery>(slot.delivery) : Result<Delivery>(std::move(slot.error));
    try {
      slot.fn(result);
    } catch (const std::exception& e) {
      log.error("kafka delivery callback threw",
                {{"producer", name}, {"error", std::string(e.what())}});
    } catch (...) {
      log.error("kafka delivery callback threw", {{"producer", name}});
    }
    slot.fn = nullptr;  // the callable's captures go now, as with a delete
    slot.error = Status();
  }

  std::mutex serve_mu_;
  std::mutex ready_mu_;
  Slot* ready_head_ = nullptr;        // guarded by ready_mu_
  Slot** ready_tail_ = &ready_head_;  // guarded by ready_mu_
};

// librdkafka's dr_msg_cb, on the thread serving reports.
void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  auto* target = static_cast<DeliveryTarget*>(m->_private);
  if (!target) return;  // not sent by sluice (none are)
  ClientBase& client = *target->client;
  const bool ok = m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (tl_batch && tl_batch->client == &client) {
    ++(ok ? tl_batch->delivered : tl_batch->failed);
  } else {
    (ok ? client.deliveries : client.failures)->inc();
  }
  if (target == &client.no_callback) return;
  auto failure = [&] {
    return status_from(
        static_cast<RdKafka::ErrorCode>(m->err),
        std::string("deliver to \"") + (m->rkt ? rd_kafka_topic_name(m->rkt) : "?") + "\"");
  };
  if (!client.async) {
    auto* waiter = static_cast<SyncWaiter*>(target);
    std::lock_guard lock(waiter->mu);
    if (ok) {
      waiter->result.emplace(Delivery{m->partition, m->offset});
    } else {
      waiter->result.emplace(failure());
    }
    waiter->cv.notify_one();
    return;
  }
  auto* slot = static_cast<Slot*>(target);
  slot->delivery = Delivery{m->partition, m->offset};
  if (!ok) slot->error = failure();
  client.served(slot);
}

}  // namespace

Status validate(const ProducerConfig& c) {
  const std::string who = "kafka producer \"" + c.name + "\"";
  auto bad = [&](const std::string& msg) { return Status::invalid_argument(who + ": " + msg); };
  if (c.name.empty()) return Status::invalid_argument("kafka producer: name must not be empty");
  if (c.bootstrap_servers.empty()) return bad("bootstrap_servers is required");
  if (!c.enable_sync_producer.value_or(true) && !c.enable_async_producer.value_or(false)) {
    return bad(
        "enable_sync_producer and enable_async_producer are both false: nothing could be sent");
  }
  if (c.max_retries < 0) return bad("max_retries must be >= 0");
  if (c.retry_backoff < std::chrono::milliseconds(1) ||
      c.retry_backoff > std::chrono::milliseconds(300'000)) {
    return bad("retry_backoff must be between 1 ms and 300 s");
  }
  if (c.max_message_bytes < 1000 || c.max_message_bytes > 1'000'000'000) {
    return bad("max_message_bytes must be between 1000 and 1000000000");
  }
  if (c.delivery_timeout < std::chrono::milliseconds(1)) {
    return bad("delivery_timeout must be >= 1 ms");
  }
  if (c.linger < std::chrono::milliseconds(0) || c.linger > std::chrono::milliseconds(900'000)) {
    return bad("linger must be between 0 and 900 s");
  }
  if (c.enable_idempotent.value_or(false)) {
    if (c.required_acks != RequiredAcks::kAll) {
      return bad("enable_idempotent needs required_acks = kAll (all in-sync replicas)");
    }
    if (c.max_retries < 1) return bad("enable_idempotent needs max_retries >= 1");
  }
  auto conf = internal::make_producer_conf(c, /*async=*/false);
  return conf.status();
}

struct Producer::Impl {
  // One librdkafka producer: the sync or the async one.
  struct Client final : ClientBase {
    using ClientBase::ClientBase;
    std::unique_ptr<internal::EventBridge> events;
    std::unique_ptr<RdKafka::Producer> handle;
    std::jthread poller;
    Gauge* queued = nullptr;
  };

  ProducerConfig config;
  std::shared_ptr<Logger> log;
  internal::SecretScrubber scrubber;
  std::unique_ptr<Client> sync_client;
  // close() (always run before the Impl goes) serves or purges every
  // delivery report, then destroys the clients.
  std::unique_ptr<Client> async_client;
  // flush() and queue_depth() hold it shared; close() takes it exclusively
  // to switch `closed` on.
  mutable std::shared_mutex close_mu;
  bool closed = false;
  // Sends count themselves in `senders` while they call into librdkafka and
  // check `closing`; close() sets `closing`, then waits for `senders` to
  // drain. (A shared lock per send, ~130 instructions, was the largest cost
  // of send_async() besides librdkafka's.) Sequentially consistent: a send
  // either sees `closing` or is seen by close().
  std::atomic<int> senders{0};
  std::atomic<bool> closing{false};
  std::mutex close_once_mu;
  Status close_status;
  bool close_done = false;

  Status make_client(std::unique_ptr<Client>& out, bool async, MetricsRegistry& metrics);
  Status produce(Client& client, const std::string& topic, std::optional<std::string_view> key,
                 std::optional<std::string_view> value, std::span<const Header> headers,
                 void* opaque, bool block);
  Status send_async(const std::string& topic, std::optional<std::string_view> key,
                    std::optional<std::string_view> value, std::span<const Header> headers,
                    DeliveryCallback& callback);
  Status close(std::chrono::milliseconds timeout);
};

Status Producer::Impl::make_client(std::unique_ptr<Client>& out, bool async,
                                   MetricsRegistry& metrics) {
  const std::string who = "kafka producer \"" + config.name + "\"";
  auto client = std::make_unique<Client>(async, config.name, *log);
  const std::string mode = async ? "async" : "sync";
  client->deliveries = &metrics
                            .counter("sluice_kafka_producer_deliveries_total",
                                     "Messages the broker acknowledged", {"producer", "mode"})
                            .with({config.name, mode});
  client->failures = &metrics
                          .counter("sluice_kafka_producer_failures_total",
                                   "Messages that could not be delivered", {"producer", "mode"})
                          .with({config.name, mode});
  client->queued =
      &metrics
           .gauge("sluice_kafka_producer_queued_messages",
                  "Messages waiting in the client for delivery (queue depth)", {"producer", "mode"})
           .with({config.name, mode});
  client->events = std::make_unique<internal::EventBridge>(
      with_fields(log, {{"producer", config.name}, {"mode", mode}}), &scrubber);
  SLUICE_ASSIGN_OR_RETURN(auto conf, internal::make_producer_conf(config, async));
  rd_kafka_conf_set_dr_msg_cb(conf->c_ptr_global(), &on_delivery);
  std::string err;
  if (conf->set("event_cb", static_cast<RdKafka::EventCb*>(client->events.get()), err) !=
      RdKafka::Conf::CONF_OK) {
    return Status::internal(who + ": cannot install callbacks: " + err);
  }
  client->handle.reset(RdKafka::Producer::create(conf.get(), err));
  if (!client->handle) {
    return Status::invalid_argument(who + ": cannot create the client: " + scrubber.scrub(err));
  }
  client->rk = client->handle->c_ptr();
  Client* c = client.get();
  if (!async) {
    // Serves the sync client's reports at once: a send() waits for its own.
    client->poller = std::jthread([c](std::stop_token stop) {
      pthread_setname_np(pthread_self(), "sluice-ksync");
      while (!stop.stop_requested()) {
        c->queued->set(static_cast<double>(rd_kafka_outq_len(c->rk)));
        rd_kafka_poll(c->rk, 100);
      }
    });
    out = std::move(client);
    return Status();
  }
  // The async client's delivery thread: runs the callbacks of served
  // reports and serves reports itself. It batches anyway (linger): while
  // messages are in flight it sleeps between non-blocking serves, because a
  // thread blocked in poll() makes librdkafka's broker thread wake it (a
  // futex call) for every batch of reports, which cost the async producer
  // about a third of its throughput with small messages. Idle, it blocks.
  const bool batch_reports = config.linger > std::chrono::milliseconds(0);
  const auto nap = std::min<std::chrono::milliseconds>(config.linger, std::chrono::milliseconds(1));
  client->poller = std::jthread([c, batch_reports, nap](std::stop_token stop) {
    pthread_setname_np(pthread_self(), "sluice-kdeliver");
    std::uint64_t sender_serves_seen = 0;
    while (!stop.stop_requested()) {
      c->run_ready();
      const int in_flight = rd_kafka_outq_len(c->rk);
      c->queued->set(static_cast<double>(in_flight));
      if (!batch_reports || in_flight == 0) {
        if (c->serve(100) < 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      } else {
        // While a sending thread serves, this one leaves serving to it (the
        // messages are freed on the thread that allocated them) and only
        // runs callbacks.
        const std::uint64_t serves = c->sender_serves.load(std::memory_order_relaxed);
        const bool sender_served = std::exchange(sender_serves_seen, serves) != serves;
        if (sender_served || (c->serve(0) <= 0 && !c->has_ready())) {
          std::this_thread::sleep_for(nap);
        }
      }
    }
    c->run_ready();
  });
  out = std::move(client);
  return Status();
}

namespace {

class SendGuard {
 public:
  SendGuard(std::atomic<int>& senders, const std::atomic<bool>& closing) : senders_(senders) {
    senders_.fetch_add(1);
    open_ = !closing.load();
  }
  ~SendGuard() { senders_.fetch_sub(1, std::memory_order_release); }
  SendGuard(const SendGuard&) = delete;
  SendGuard& operator=(const SendGuard&) = delete;
  bool open() const { return open_; }

 private:
  std::atomic<int>& senders_;
  bool open_ = false;
};

}  // namespace

Status Producer::Impl::produce(Client& client, const std::string& topic,
                               std::optional<std::string_view> key,
                               std::optional<std::string_view> value,
                               std::span<const Header> headers, void* opaque, bool block) {
  // The C call: the C++ wrapper copies the topic name and goes through the
  // headers variant for every message.
  rd_kafka_headers_t* hdrs = nullptr;
  if (!headers.empty()) {
    hdrs = rd_kafka_headers_new(headers.size());
    for (const auto& h : headers) {
      rd_kafka_header_add(hdrs, h.key.data(), static_cast<ssize_t>(h.key.size()),
                          h.value ? h.value->data() : nullptr,
                          h.value ? static_cast<ssize_t>(h.value->size()) : 0);
    }
  }
  const int flags = RD_KAFKA_MSG_F_COPY | (block ? RD_KAFKA_MSG_F_BLOCK : 0);
  void* payload = value ? const_cast<char*>(value->data()) : nullptr;
  const std::size_t len = value ? value->size() : 0;
  const void* key_data = key ? key->data() : nullptr;
  const std::size_t key_len = key ? key->size() : 0;
  rd_kafka_t* rk = client.rk;
  const rd_kafka_resp_err_t err =
      hdrs ? rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(flags),
                               RD_KAFKA_V_VALUE(payload, len), RD_KAFKA_V_KEY(key_data, key_len),
                               RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END)
           : rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(flags),
                               RD_KAFKA_V_VALUE(payload, len), RD_KAFKA_V_KEY(key_data, key_len),
                               RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status();
  if (hdrs) rd_kafka_headers_destroy(hdrs);  // not taken over on failure
  const auto ec = static_cast<RdKafka::ErrorCode>(err);
  client.failures->inc();
  const std::string context = "kafka producer \"" + config.name + "\": send to \"" + topic + "\"";
  switch (ec) {
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
      return Status::invalid_argument(
          context + ": message of " +
          std::to_string((value ? value->size() : 0) + (key ? key->size() : 0)) +
          " bytes is larger than max_message_bytes (" + std::to_string(config.max_message_bytes) +
          ")");
    case RdKafka::ERR__FATAL: {
      std::string detail;
      client.handle->fatal_error(detail);
      return Status::internal(context + ": fatal client error: " + scrubber.scrub(detail));
    }
    default:
      return status_from(ec, context);
  }
}

Status Producer::Impl::close(std::chrono::milliseconds timeout) {
  if (must_not_wait()) return refused_while_serving(config.name, "close()");
  std::lock_guard once(close_once_mu);
  if (close_done) return close_status;
  {
    std::unique_lock lock(close_mu);
    closed = true;
  }
  closing.store(true);
  // A send in progress finishes (one blocked on a full queue gets room as
  // the delivery threads serve reports).
  while (senders.load(std::memory_order_acquire) > 0) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  Status result;
  for (auto* client : {sync_client.get(), async_client.get()}) {
    if (!client) continue;
    if (!client->flush(std::chrono::steady_clock::now() + timeout)) {
      const int left = rd_kafka_outq_len(client->rk);
      if (result.ok()) {
        result = Status::timeout("kafka producer \"" + config.name + "\": " + std::to_string(left) +
                                 " message(s) not delivered within " +
                                 std::to_string(timeout.count()) + " ms of close; they fail");
      }
      log->warn("kafka producer closing with undelivered messages",
                {{"producer", config.name}, {"messages", left}});
      rd_kafka_purge(client->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      // Serves the purged messages' reports; their callbacks run.
      (void)client->flush(std::chrono::steady_clock::now() + std::chrono::seconds(1));
    }
    client->poller.request_stop();
    client->poller.join();
    client->queued->set(0);
  }
  for (auto* client : {sync_client.get(), async_client.get()}) {
    if (client) client->handle.reset();
  }
  close_status = result;
  close_done = true;
  return result;
}

Result<std::shared_ptr<Producer>> Producer::create(ProducerConfig config, ProducerOptions options) {
  SLUICE_RETURN_IF_ERROR(validate(config));
  auto impl = std::make_unique<Impl>();
  impl->config = std::move(config);
  impl->log = options.logger ? options.logger : make_noop_logger();
  impl->scrubber.add_from(impl->config.properties);
  MetricsRegistry& metrics = registry_or_global(options.metrics);
  if (impl->config.enable_sync_producer.value_or(true)) {
    SLUICE_RETURN_IF_ERROR(impl->make_client(impl->sync_client, /*async=*/false, metrics));
  }
  if (impl->config.enable_async_producer.value_or(false)) {
    SLUICE_RETURN_IF_ERROR(impl->make_client(impl->async_client, /*async=*/true, metrics));
  }
  return std::shared_ptr<Producer>(new Producer(std::move(impl)));
}

Producer::Producer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Producer::~Producer() {
  if (impl_) (void)impl_->close(std::chrono::seconds(30));
}

Result<Delivery> Producer::send(const std::string& topic, std::optional<std::string_view> key,
                                std::optional<std::string_view> value,
                                std::span<const Header> headers) {
  const std::string who = "kafka producer \"" + impl_->config.name + "\"";
  if (!impl_->sync_client) {
    return Status::failed_precondition(
        who + ": send() needs the sync producer (set enable_sync_producer = true)");
  }
  SyncWaiter waiter;
  waiter.client = impl_->sync_client.get();
  {
    SendGuard guard(impl_->senders, impl_->closing);
    if (!guard.open()) return Status::failed_precondition(who + ": closed");
    SLUICE_RETURN_IF_ERROR(impl_->produce(*impl_->sync_client, topic, key, value, headers,
                                          static_cast<DeliveryTarget*>(&waiter),
                                          /*block=*/false));
  }
  // Every produced message gets exactly one delivery report (success,
  // failure, timeout or purge on close), so this wait ends.
  std::unique_lock lock(waiter.mu);
  waiter.cv.wait(lock, [&] { return waiter.result.has_value(); });
  return std::move(*waiter.result);
}

// Both overloads hand their callback over by reference: a by-value call
// from one to the other moved the std::function once more per message.
Status Producer::Impl::send_async(const std::string& topic, std::optional<std::string_view> key,
                                  std::optional<std::string_view> value,
                                  std::span<const Header> headers, DeliveryCallback& callback) {
  if (!async_client) {
    return Status::failed_precondition(
        "kafka producer \"" + config.name +
        "\": send_async() needs the async producer (set enable_async_producer = true)");
  }
  SendGuard guard(senders, closing);
  if (!guard.open()) {
    return Status::failed_precondition("kafka producer \"" + config.name + "\": closed");
  }
  Client& client = *async_client;
  CallbackPool::Slot* slot = callback ? client.callbacks.acquire(std::move(callback)) : nullptr;
  DeliveryTarget* target = slot ? static_cast<DeliveryTarget*>(slot) : &client.no_callback;
  const bool block = config.block_when_queue_full && !must_not_wait();
  Status s = produce(client, topic, key, value, headers, target, block);
  if (!s.ok()) {
    // No report will come: the slot goes back now, its callback not run.
    if (slot) {
      slot->fn = nullptr;
      client.callbacks.release(slot, slot, 1);
    }
    return s;
  }
  // Serve reports here now and then, as a raw loop does (see ClientBase).
  thread_local std::uint32_t sends = 0;
  if ((++sends & 1023) == 0) {
    client.sender_serves.fetch_add(1, std::memory_order_relaxed);
    (void)client.serve(0);
  }
  return s;
}

Status Producer::send_async(const std::string& topic, std::optional<std::string_view> key,
                            std::optional<std::string_view> value, DeliveryCallback callback) {
  return impl_->send_async(topic, key, value, {}, callback);
}

Status Producer::send_async(const std::string& topic, std::optional<std::string_view> key,
                            std::optional<std::string_view> value, std::span<const Header> headers,
                            DeliveryCallback callback) {
  return impl_->send_async(topic, key, value, headers, callback);
}

Status Producer::flush(std::chrono::milliseconds timeout) {
  // It would wait for this very thread's callbacks or serve.
  if (must_not_wait()) return refused_while_serving(impl_->config.name, "flush()");
  std::shared_lock lock(impl_->close_mu);
  if (impl_->closed) return Status();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto* client : {impl_->sync_client.get(), impl_->async_client.get()}) {
    if (!client) continue;
    if (!client->flush(deadline)) {
      return Status::timeout(
          "kafka producer \"" + impl_->config.name +
          "\": " + std::to_string(rd_kafka_outq_len(client->rk) + client->callbacks.outstanding()) +
          " message(s) still queued or awaiting their callback after " +
          std::to_string(timeout.count()) + " ms");
    }
  }
  return Status();
}

Status Producer::close(std::chrono::milliseconds timeout) {
  return impl_->close(timeout);
}

const ProducerConfig& Producer::config() const {
  return impl_->config;
}
bool Producer::sync_enabled() const {
  return impl_->sync_client != nullptr;
}
bool Producer::async_enabled() const {
  return impl_->async_client != nullptr;
}

std::size_t Producer::queue_depth() const {
  std::shared_lock lock(impl_->close_mu);
  if (impl_->closed) return 0;
  std::size_t n = 0;
  for (auto* client : {impl_->sync_client.get(), impl_->async_client.get()}) {
    if (client) n += static_cast<std::size_t>(client->handle->outq_len());
  }
  return n;
}

}  // namespace sluice::kafka
