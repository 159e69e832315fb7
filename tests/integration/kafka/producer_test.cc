// Managed producers against librdkafka's mock cluster.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "integration/kafka/kafka_test_util.h"
#include "sluice/kafka/registry.h"

namespace sluice::kafka {
namespace {

using namespace std::chrono_literals;
using sluice::testing::wait_until;

class KafkaProducerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = MockCluster::start();
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(*c);
    bootstrap_ = cluster_->bootstrap_servers();
  }
  ProducerConfig config(const std::string& name = "test") {
    ProducerConfig pc;
    pc.bootstrap_servers = bootstrap_;
    pc.name = name;
    return pc;
  }
  // An async-only producer on the fixture's metrics.
  std::shared_ptr<Producer> async_producer(const std::string& name) {
    auto pc = config(name);
    pc.enable_sync_producer = false;
    pc.enable_async_producer = true;
    auto p = Producer::create(pc, {.metrics = &metrics_});
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *p : nullptr;
  }
  // One message delivered (metadata known, connection up), then the broker
  // taken down: what is sent next waits in the client.
  void deliver_one_then_stop_broker(Producer& p, const std::string& topic,
                                    std::atomic<int>& delivered) {
    ASSERT_TRUE(
        p.send_async(topic, "k", "warm-up", [&](const Result<Delivery>&) { ++delivered; }).ok());
    ASSERT_TRUE(p.flush(10s).ok());
    ASSERT_TRUE(cluster_->set_broker_up(1, false).ok());
  }
  struct Read {
    std::string key;
    std::string value;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  // Reads topic[partition] from the start, by assignment (copies: a librdkafka
  // client cannot be destroyed while its messages live).
  std::vector<Read> read(const std::string& topic, int partition, std::size_t n) {
    std::string err;
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    conf->set("bootstrap.servers", bootstrap_, err);
    conf->set("group.id", "reader", err);
    std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
    std::vector<RdKafka::TopicPartition*> parts = {
        RdKafka::TopicPartition::create(topic, partition, RdKafka::Topic::OFFSET_BEGINNING)};
    c->assign(parts);
    RdKafka::TopicPartition::destroy(parts);
    std::vector<Read> out;
    wait_until(
        [&] {
          std::unique_ptr<RdKafka::Message> m(c->consume(100));
          if (m->err() != RdKafka::ERR_NO_ERROR) return out.size() >= n;
          Read r;
          if (m->key()) r.key = *m->key();
          r.value.assign(static_cast<const char*>(m->payload()), m->len());
          if (m->headers()) {
            for (const auto& h : m->headers()->get_all()) {
              r.headers.emplace_back(
                  h.key(), std::string(static_cast<const char*>(h.value()), h.value_size()));
            }
          }
          out.push_back(std::move(r));
          return out.size() >= n;
        },
        15s, 0ms);
    c->close();
    return out;
  }

  std::unique_ptr<MockCluster> cluster_;
  std::string bootstrap_;
  MetricsRegistry metrics_;
};

TEST_F(KafkaProducerTest, SyncSendReturnsWhereTheMessageLanded) {
  ASSERT_TRUE(cluster_->create_topic("t", 3).ok());
  auto p = Producer::create(config(), {.metrics = &metrics_});
  ASSERT_TRUE(p.ok()) << p.status();
  std::map<int, std::int64_t> next;
  for (int i = 0; i < 30; ++i) {
    std::vector<Header> headers = {{"n", std::to_string(i)}};
    auto d = (*p)->send("t", "key-" + std::to_string(i % 5), "value-" + std::to_string(i), headers);
    ASSERT_TRUE(d.ok()) << d.status();
    ASSERT_GE(d->partition, 0);
    ASSERT_LT(d->partition, 3);
    EXPECT_EQ(d->offset, next[d->partition]++);  // offsets follow each other per partition
  }
  // A key always lands on the same partition.
  auto a = (*p)->send("t", "key-1", "again");
  auto b = (*p)->send("t", "key-1", "and again");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->partition, b->partition);
  // What landed at partition/offset is what was sent.
  auto msgs = read("t", a->partition, static_cast<std::size_t>(b->offset + 1));
  ASSERT_EQ(msgs.size(), static_cast<std::size_t>(b->offset + 1));
  EXPECT_EQ(msgs.back().value, "and again");
  EXPECT_EQ(msgs.back().key, "key-1");
  EXPECT_EQ(msgs.front().key.rfind("key-", 0), 0u);
  ASSERT_EQ(msgs.front().headers.size(), 1u);
  EXPECT_EQ(msgs.front().headers[0].first, "n");
  EXPECT_EQ(msgs.front().value, "value-" + msgs.front().headers[0].second);
  EXPECT_EQ(metrics_.counter("sluice_kafka_producer_deliveries_total", "", {"producer", "mode"})
                .with({"test", "sync"})
                .value(),
            32);
}

TEST_F(KafkaProducerTest, KeysLandWhereSaramasHashPartitionerPutsThem) {
  ASSERT_TRUE(cluster_->create_topic("keys", 7).ok());
  auto p = Producer::create(config());
  ASSERT_TRUE(p.ok());
  for (int i = 0; i < 40; ++i) {
    const std::string key = "customer-" + std::to_string(i * 7919);
    // Sarama's HashPartitioner: FNV-1a 32, as int32, modulo, absolute value.
    std::uint32_t h = 0x811C9DC5u;
    for (unsigned char c : key) {
      h ^= c;
      h *= 0x01000193u;
    }
    std::int32_t expected = static_cast<std::int32_t>(h) % 7;
    if (expected < 0) expected = -expected;
    auto d = (*p)->send("keys", key, "v");
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->partition, expected) << key;
  }
}

TEST_F(KafkaProducerTest, AsyncCallbacksReportEveryMessage) {
  ASSERT_TRUE(cluster_->create_topic("a", 2).ok());
  auto p = async_producer("async");
  ASSERT_TRUE(p);
  std::mutex mu;
  std::map<int, std::vector<std::int64_t>> offsets;
  std::atomic<int> errors{0};
  std::atomic<int> called{0};
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(
        p->send_async("a", std::nullopt, "v" + std::to_string(i), [&](const Result<Delivery>& r) {
           if (!r.ok()) {
             errors.fetch_add(1);
           } else {
             std::lock_guard lock(mu);
             offsets[r->partition].push_back(r->offset);
           }
           called.fetch_add(1);
         }).ok());
  }
  // Without a flush: the sender served reports once (at 1024 sends) and went
  // idle; the delivery thread must take over serving the rest.
  ASSERT_TRUE(wait_until([&] { return called.load() == n; }, 20s)) << called.load();
  ASSERT_TRUE(p->flush(20s).ok());
  EXPECT_EQ(errors.load(), 0);
  std::size_t total = 0;
  for (auto& [part, offs] : offsets) {
    std::sort(offs.begin(), offs.end());
    for (std::size_t i = 0; i < offs.size(); ++i) EXPECT_EQ(offs[i], static_cast<std::int64_t>(i));
    total += offs.size();
  }
  EXPECT_EQ(total, static_cast<std::size_t>(n));
  EXPECT_EQ(p->queue_depth(), 0u);
  EXPECT_EQ(metrics_.counter("sluice_kafka_producer_deliveries_total", "", {"producer", "mode"})
                .with({"async", "async"})
                .value(),
            n);
}

// The sending thread serves delivery reports every 1024 sends (as a raw
// librdkafka loop does), and flush() serves them too; neither may run a
// callback: those run on the delivery thread alone, in report order, so a
// sender holding a lock its callback takes cannot deadlock itself.
TEST_F(KafkaProducerTest, CallbacksRunOnTheDeliveryThreadAloneInReportOrder) {
  ASSERT_TRUE(cluster_->create_topic("order", 3).ok());
  auto p = async_producer("ordered");
  ASSERT_TRUE(p);
  const auto sender = std::this_thread::get_id();
  std::mutex mu;
  std::map<int, std::vector<std::int64_t>> offsets;  // in callback order
  std::set<std::thread::id> threads;
  std::set<std::string> thread_names;
  int errors = 0;
  int on_sender = 0;
  Status flush_inside = Status::internal("not called");
  const int n = 5000;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(p->send_async("order", std::nullopt, "v" + std::to_string(i),
                              [&, i](const Result<Delivery>& r) {
                                Status inside;
                                if (i == 0) inside = p->flush(1s);
                                std::lock_guard lock(mu);
                                if (i == 0) flush_inside = inside;
                                threads.insert(std::this_thread::get_id());
                                thread_names.insert(testing::this_thread_name());
                                if (std::this_thread::get_id() == sender) ++on_sender;
                                if (!r.ok()) {
                                  ++errors;
                                  return;
                                }
                                offsets[r->partition].push_back(r->offset);
                              })
                    .ok());
  }
  ASSERT_TRUE(p->flush(20s).ok());
  // flush() returns once every callback has run.
  std::lock_guard lock(mu);
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(on_sender, 0);
  EXPECT_EQ(threads.size(), 1u);
  // Named, so that it can be told apart in top, perf and a debugger.
  EXPECT_EQ(thread_names, std::set<std::string>{"sluice-kdeliver"});
  EXPECT_EQ(flush_inside.code(), StatusCode::kFailedPrecondition) << flush_inside;
  std::size_t total = 0;
  for (const auto& [part, offs] : offsets) {
    for (std::size_t i = 0; i < offs.size(); ++i) {
      ASSERT_EQ(offs[i], static_cast<std::int64_t>(i)) << "partition " << part;
    }
    total += offs.size();
  }
  EXPECT_EQ(total, static_cast<std::size_t>(n));
}

// close() with the broker away: what cannot be delivered in time is purged
// and every callback still runs once, with Cancelled, before close returns.
TEST_F(KafkaProducerTest, CloseFailsWhatItCannotDeliverAndRunsEveryCallback) {
  ASSERT_TRUE(cluster_->create_topic("gone", 1).ok());
  auto p = async_producer("closing");
  ASSERT_TRUE(p);
  std::atomic<int> delivered{0};
  ASSERT_NO_FATAL_FAILURE(deliver_one_then_stop_broker(*p, "gone", delivered));
  std::mutex mu;
  std::vector<StatusCode> outcomes;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(p->send_async("gone", "k", "v" + std::to_string(i), [&](const Result<Delivery>& r) {
                   std::lock_guard lock(mu);
                   outcomes.push_back(r.status().code());
                 }).ok());
  }
  const Status closed = p->close(300ms);
  EXPECT_EQ(closed.code(), StatusCode::kTimeout) << closed;
  EXPECT_NE(closed.message().find("10 message(s) not delivered"), std::string_view::npos) << closed;
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(outcomes.size(), 10u);
    for (StatusCode c : outcomes) EXPECT_EQ(c, StatusCode::kCancelled);
  }
  EXPECT_EQ(delivered.load(), 1);
  EXPECT_EQ(p->send_async("gone", "k", "late", {}).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(cluster_->set_broker_up(1, true).ok());
}

TEST_F(KafkaProducerTest, DeliveryFailuresReachTheCallerAndTheMetrics) {
  ASSERT_TRUE(cluster_->create_topic("down", 1).ok());
  auto pc = config("failing");
  pc.enable_async_producer = true;
  pc.delivery_timeout = 1500ms;
  auto p = Producer::create(pc, {.metrics = &metrics_});
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE((*p)->send("down", "k", "warm-up").ok());  // metadata known
  ASSERT_TRUE(cluster_->set_broker_up(1, false).ok());
  std::atomic<int> failed{0};
  Status async_error;
  std::mutex mu;
  ASSERT_TRUE((*p)->send_async("down", "k", "lost",
                               [&](const Result<Delivery>& r) {
                                 std::lock_guard lock(mu);
                                 if (!r.ok()) {
                                   async_error = r.status();
                                   failed.fetch_add(1);
                                 }
                               })
                  .ok());
  auto sync = (*p)->send("down", "k", "lost too");
  EXPECT_EQ(sync.status().code(), StatusCode::kTimeout) << sync.status();
  EXPECT_NE(sync.status().message().find("\"down\""), std::string_view::npos) << sync.status();
  ASSERT_TRUE(wait_until([&] { return failed.load() == 1; }, 10s));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(async_error.code(), StatusCode::kTimeout) << async_error;
  }
  auto failures = [&](const char* mode) {
    return metrics_.counter("sluice_kafka_producer_failures_total", "", {"producer", "mode"})
        .with({"failing", mode})
        .value();
  };
  EXPECT_EQ(failures("sync"), 1);
  EXPECT_EQ(failures("async"), 1);
  ASSERT_TRUE(cluster_->set_broker_up(1, true).ok());
}

TEST_F(KafkaProducerTest, QueueDepthIsReportedWhileMessagesWaitAndDrainsToZero) {
  ASSERT_TRUE(cluster_->create_topic("depth", 1).ok());
  auto p = async_producer("deep");
  ASSERT_TRUE(p);
  std::atomic<int> delivered{0};
  ASSERT_NO_FATAL_FAILURE(deliver_one_then_stop_broker(*p, "depth", delivered));
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(
        p->send_async("depth", "k", "v" + std::to_string(i), [&](const Result<Delivery>& r) {
           if (r.ok()) ++delivered;
         }).ok());
  }
  Gauge& depth = metrics_.gauge("sluice_kafka_producer_queued_messages", "", {"producer", "mode"})
                     .with({"deep", "async"});
  // librdkafka's queue length also counts protocol requests waiting to go
  // out (metadata refreshes while the broker is away): at least the 25.
  EXPECT_GE(p->queue_depth(), 25u);
  EXPECT_TRUE(wait_until([&] { return depth.value() >= 25; }, 10s)) << depth.value();
  // Back up: everything is delivered and the gauge falls to zero.
  ASSERT_TRUE(cluster_->set_broker_up(1, true).ok());
  ASSERT_TRUE(p->flush(20s).ok());
  EXPECT_EQ(delivered.load(), 26);
  EXPECT_EQ(p->queue_depth(), 0u);
  EXPECT_TRUE(wait_until([&] { return depth.value() == 0; }, 10s)) << depth.value();
}

TEST_F(KafkaProducerTest, TooLargeMessagesAreRefusedWithAClearError) {
  auto pc = config();
  pc.enable_async_producer = true;
  pc.max_message_bytes = 2000;
  auto p = Producer::create(pc);
  ASSERT_TRUE(p.ok());
  const std::string big(5000, 'x');
  auto r = (*p)->send("t", "k", big);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("max_message_bytes (2000)"), std::string_view::npos)
      << r.status();
  bool called = false;
  Status s = (*p)->send_async("t", "k", big, [&](const Result<Delivery>&) { called = true; });
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE((*p)->flush(5s).ok());
  EXPECT_FALSE(called);  // not queued: no callback
}

TEST_F(KafkaProducerTest, CompressionAndIdempotenceRoundTrip) {
  ASSERT_TRUE(cluster_->create_topic("c", 1).ok());
  for (auto codec :
       {Compression::kGzip, Compression::kSnappy, Compression::kLz4, Compression::kZstd}) {
    auto pc = config("c" + std::to_string(static_cast<int>(codec)));
    pc.compression = codec;
    pc.enable_idempotent = true;
    auto p = Producer::create(pc);
    ASSERT_TRUE(p.ok()) << p.status();
    auto d = (*p)->send("c", "k", std::string(500, 'a') + std::to_string(static_cast<int>(codec)));
    ASSERT_TRUE(d.ok()) << d.status();
  }
  auto msgs = read("c", 0, 4);
  ASSERT_EQ(msgs.size(), 4u);
  EXPECT_EQ(msgs[3].value,
            std::string(500, 'a') + std::to_string(static_cast<int>(Compression::kZstd)));
}

TEST_F(KafkaProducerTest, WaitStopFlushesAndClosesRegisteredProducers) {
  ASSERT_TRUE(cluster_->create_topic("w", 1).ok());
  std::atomic<int> delivered{0};
  std::shared_ptr<Producer> kept;
  {
    Registry registry({.metrics = &metrics_});
    auto pc = config("reg");
    pc.enable_sync_producer = false;
    pc.enable_async_producer = true;
    pc.linger = 200ms;  // still queued when wait_stop() begins
    auto p = registry.register_producer(pc);
    ASSERT_TRUE(p.ok()) << p.status();
    kept = *p;
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE((*p)->send_async("w", std::nullopt, "v",
                                   [&](const Result<Delivery>& r) {
                                     if (r.ok()) delivered.fetch_add(1);
                                   })
                      .ok());
    }
    registry.stop();
    EXPECT_TRUE(registry.wait_stop().ok());
    EXPECT_EQ(delivered.load(), 100);  // flushed before closing
    EXPECT_EQ(kept->send_async("w", std::nullopt, "late").code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(registry.register_producer(pc).status().code(), StatusCode::kFailedPrecondition);
  }
}

// librdkafka reports client errors (a broker going away) through the
// producer's Logger, on whichever thread serves delivery reports, a sending
// thread included. A Logger that uses the same producer (a log appender to
// Kafka) must not deadlock it: its sends never block, and its flush() is
// refused while the thread serves.
class ReentrantLogger final : public Logger {
 public:
  bool enabled(LogLevel level) const override { return level >= LogLevel::kWarn; }
  void write(LogLevel, std::string_view message, std::span<const LogField>) override {
    Producer* p = producer.load();
    if (!p) return;
    const Status sent = p->send_async("logs", std::nullopt, std::string(message));
    const Status flushed = p->flush(0ms);
    std::lock_guard lock(mu);
    ++lines;
    sends_ok += sent.ok();
    flush_codes.push_back(flushed.code());
  }
  std::atomic<Producer*> producer{nullptr};
  std::mutex mu;
  int lines = 0;
  int sends_ok = 0;
  std::vector<StatusCode> flush_codes;
};

TEST_F(KafkaProducerTest, ALoggerThatUsesTheProducerCannotDeadlockIt) {
  ASSERT_TRUE(cluster_->create_topic("work", 1).ok());
  ASSERT_TRUE(cluster_->create_topic("logs", 1).ok());
  auto log = std::make_shared<ReentrantLogger>();
  auto pc = config("appender");
  pc.enable_sync_producer = false;
  pc.enable_async_producer = true;
  pc.delivery_timeout = 2s;
  auto created = Producer::create(pc, {.metrics = &metrics_, .logger = log});
  ASSERT_TRUE(created.ok()) << created.status();
  std::shared_ptr<Producer> p = *created;
  std::atomic<int> outcomes{0};
  ASSERT_NO_FATAL_FAILURE(deliver_one_then_stop_broker(*p, "work", outcomes));
  log->producer = p.get();
  // Every 1024th send serves reports on this thread; the broker being away
  // makes librdkafka report errors, logged by whoever serves.
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(p->send_async("work", "k", "v", [&](const Result<Delivery>&) { ++outcomes; }).ok());
  }
  ASSERT_TRUE(wait_until(
      [&] {
        std::lock_guard lock(log->mu);
        return log->lines > 0;
      },
      15s));
  // Every message fails after delivery_timeout; nothing is stuck.
  ASSERT_TRUE(wait_until([&] { return outcomes.load() == 5001; }, 30s)) << outcomes.load();
  log->producer = nullptr;
  const Status closed = p->close(5s);
  EXPECT_TRUE(closed.ok() || closed.code() == StatusCode::kTimeout) << closed;
  std::lock_guard lock(log->mu);
  // Error events are logged by the thread serving reports: there flush()
  // is refused. (librdkafka's own log lines come from its threads: there it
  // may run, and times out at once.)
  int refused = 0;
  for (StatusCode c : log->flush_codes) {
    refused += c == StatusCode::kFailedPrecondition;
    EXPECT_TRUE(c == StatusCode::kFailedPrecondition || c == StatusCode::kTimeout ||
                c == StatusCode::kOk)
        << status_code_name(c);
  }
  EXPECT_GE(refused, 1);
  EXPECT_EQ(log->sends_ok, log->lines);  // never blocked, never refused
  ASSERT_TRUE(cluster_->set_broker_up(1, true).ok());
}

TEST_F(KafkaProducerTest, SecretsNeverReachTheLog) {
  auto log = std::make_shared<sluice::testing::RecordingLogger>(LogLevel::kTrace);
  auto pc = config("secretive");
  // librdkafka's debug output lists the configuration; the password must not show.
  pc.properties = {{"sasl.password", "pa55-w0rd-xyz"},
                   {"ssl.key.password", "k3y-pa55-xyz"},
                   {"debug", "conf,generic,broker"}};
  auto p = Producer::create(pc, {.logger = log});
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE((*p)->send("s", "k", "v").ok());
  ASSERT_TRUE((*p)->close().ok());
  EXPECT_FALSE(log->lines().empty());  // it did log
  EXPECT_FALSE(log->contains("pa55-w0rd-xyz")) << log->joined();
  EXPECT_FALSE(log->contains("k3y-pa55-xyz"));
}

}  // namespace
}  // namespace sluice::kafka
