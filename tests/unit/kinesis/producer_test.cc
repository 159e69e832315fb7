// The Producer against FakeKinesis (a scripted PutRecords/ListShards server
// on 127.0.0.1): batching, linger on a ManualClock, partial failures and
// retries, ordering, aggregation and resharding, the payload pipeline,
// backpressure, shutdown and validation.
#include "sluice/kinesis/producer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "producer_fake_kinesis.h"
#include "sluice/kinesis/aggregation.h"
#include "sluice/kinesis/payload_codec.h"
#include "support/test_util.h"

namespace sluice::kinesis {
namespace {

using namespace std::chrono_literals;
using producer_test::FakeKinesis;

// User records as the shard holds them (deaggregated), with the shard id.
struct Landed {
  std::string shard_id;
  std::string partition_key;
  std::string data;
};

std::vector<Landed> landed(const FakeKinesis& fake) {
  std::vector<Landed> out;
  for (const auto& [shard, records] : fake.stored()) {
    for (const auto& r : records) {
      std::vector<UserRecordView> users;
      if (deaggregate(r.data, users) == AggregateCheck::kAggregated) {
        for (const auto& u : users) {
          out.push_back({shard, std::string(u.partition_key), std::string(u.data)});
        }
      } else {
        out.push_back({shard, r.partition_key, r.data});
      }
    }
  }
  return out;
}

// Per partition key, the data in shard order must be the put order.
void expect_key_order(const std::vector<Landed>& records,
                      const std::map<std::string, std::vector<std::string>>& put_order) {
  std::map<std::string, std::vector<std::string>> got;
  for (const auto& r : records) got[r.partition_key].push_back(r.data);
  for (const auto& [key, want] : put_order) {
    EXPECT_EQ(got[key], want) << "key " << key;
  }
}

class ProducerTest : public ::testing::Test {
 protected:
  ProducerOptions options(FakeKinesis& fake) {
    ProducerOptions o;
    o.stream.name = "s";
    o.client = fake.client_options();
    o.linger = 0ms;
    o.metrics = &metrics_;
    o.retry = RetryPolicy::exponential(1ms, 5ms, 3, Jitter::kNone);
    return o;
  }
  std::unique_ptr<Producer> make(ProducerOptions o) {
    auto p = Producer::create(std::move(o));
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? std::move(*p) : nullptr;
  }
  MetricsRegistry metrics_;
};

TEST_F(ProducerTest, WritesAndReportsShardAndSequence) {
  FakeKinesis fake(2);
  auto producer = make(options(fake));
  std::vector<std::future<Result<PutResult>>> futures;
  for (int i = 0; i < 20; ++i) {
    futures.push_back(
        producer->put({.partition_key = "k" + std::to_string(i), .data = "v" + std::to_string(i)}));
  }
  producer->flush();
  std::set<std::string> shards;
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(0s), std::future_status::ready) << "flush() waits for every record";
    Result<PutResult> r = f.get();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_FALSE(r->sequence_number.empty());
    EXPECT_EQ(r->attempts, 1);
    EXPECT_FALSE(r->sub_sequence_number.has_value());
    shards.insert(r->shard_id);
  }
  EXPECT_EQ(shards.size(), 2u);
  EXPECT_EQ(fake.stored_count(), 20u);
  auto stats = producer->stats();
  EXPECT_EQ(stats.records_written, 20u);
  EXPECT_EQ(stats.buffered_records, 0u);
  ASSERT_TRUE(producer->close().ok());
  const std::string text = metrics_.expose();
  EXPECT_NE(text.find("kinesis_write_attempts_total{stream_name=\"s\"}"), std::string::npos);
  EXPECT_NE(text.find("kinesis_write_latency_seconds_count{stream_name=\"s\"}"), std::string::npos);
  EXPECT_NE(
      text.find("sluice_kinesis_producer_records_total{stream_name=\"s\",result=\"written\"} 20"),
      std::string::npos);
}

TEST_F(ProducerTest, LingerWaitsOnTheInjectedClock) {
  FakeKinesis fake(1);
  ManualClock clock;
  auto o = options(fake);
  o.clock = &clock;
  o.linger = 1s;
  auto producer = make(o);
  auto f1 = producer->put({.partition_key = "a", .data = "1"});
  auto f2 = producer->put({.partition_key = "b", .data = "2"});
  ASSERT_TRUE(clock.await_sleepers(1));
  EXPECT_EQ(fake.put_requests(), 0);
  clock.advance(999ms);
  ASSERT_TRUE(clock.await_sleepers(1));
  EXPECT_EQ(fake.put_requests(), 0);
  clock.advance(1ms);
  ASSERT_TRUE(sluice::testing::wait_until([&] { return fake.put_requests() == 1; }));
  EXPECT_TRUE(f1.get().ok());
  EXPECT_TRUE(f2.get().ok());
  EXPECT_EQ(fake.request_sizes(), (std::vector<std::size_t>{2}));
}

TEST_F(ProducerTest, FullBatchesGoBeforeLingerWithinTheLimits) {
  FakeKinesis fake(4);
  ManualClock clock;
  auto o = options(fake);
  o.clock = &clock;
  o.linger = 1h;
  auto producer = make(o);
  for (int i = 0; i < 1100; ++i) {
    ASSERT_TRUE(
        producer->put({.partition_key = "k" + std::to_string(i), .data = "x"}, nullptr).ok());
  }
  ASSERT_TRUE(sluice::testing::wait_until([&] { return fake.put_requests() == 2; }));
  EXPECT_EQ(fake.request_sizes(), (std::vector<std::size_t>{500, 500}));
  producer->flush();  // the rest, without waiting for linger
  EXPECT_EQ(fake.request_sizes(), (std::vector<std::size_t>{500, 500, 100}));

  // 5 MiB per request: 100 KiB records go 51 at a time at most.
  for (int i = 0; i < 120; ++i) {
    ASSERT_TRUE(
        producer
            ->put({.partition_key = "b" + std::to_string(i), .data = std::string(100 << 10, 'y')},
                  nullptr)
            .ok());
  }
  producer->flush();
  auto sizes = fake.request_sizes();
  std::size_t total = 0;
  for (std::size_t i = 3; i < sizes.size(); ++i) {
    EXPECT_LE(sizes[i], 51u);
    total += sizes[i];
  }
  EXPECT_EQ(total, 120u);
  for (const auto& req : fake.requests()) {
    std::size_t bytes = 0;
    for (const auto& e : req) bytes += e.data.size() + e.partition_key.size();
    EXPECT_LE(bytes, 5u << 20);
  }
}

TEST_F(ProducerTest, PartialFailuresRetryOnlyTheFailedEntries) {
  FakeKinesis fake(2);
  // Request 0: every odd entry is throttled; later requests pass.
  fake.set_entry_fault(
      [](int request, int entry, const FakeKinesis::Stored&) -> std::optional<std::string> {
        if (request == 0 && entry % 2 == 1) return "ProvisionedThroughputExceededException";
        return std::nullopt;
      });
  auto o = options(fake);
  o.strict_order = true;
  o.linger = 1h;  // the flush sends all ten in one request
  auto producer = make(o);
  std::vector<std::future<Result<PutResult>>> futures;
  for (int i = 0; i < 10; ++i) {
    futures.push_back(
        producer->put({.partition_key = "k" + std::to_string(i), .data = std::to_string(i)}));
  }
  producer->flush();
  int retried = 0;
  for (auto& f : futures) {
    auto r = f.get();
    ASSERT_TRUE(r.ok()) << r.status();
    retried += r->attempts == 2 ? 1 : 0;
  }
  EXPECT_EQ(retried, 5);
  ASSERT_EQ(fake.request_sizes().size(), 2u);
  EXPECT_EQ(fake.request_sizes()[1], 5u) << "only the failed entries are resent";
  EXPECT_EQ(fake.stored_count(), 10u) << "each record written exactly once";
  EXPECT_EQ(producer->stats().retries, 5u);
  // Seed 003's counters: two requests, the second one wholly written; the
  // five throttled entries counted as failed records.
  auto counter = [&](const char* name) {
    return metrics_.counter(name, "", {"stream_name"}).with({"s"}).value();
  };
  EXPECT_EQ(counter("kinesis_write_attempts_total"), 2);
  EXPECT_EQ(counter("kinesis_write_success_total"), 1);
  EXPECT_EQ(counter("kinesis_failed_records_total"), 5);
  EXPECT_EQ(counter("kinesis_batch_write_failures_total"), 0);
  EXPECT_EQ(metrics_.histogram("kinesis_write_latency_seconds", "", {"stream_name"})
                .with({"s"})
                .snapshot()
                .count,
            2u);
  // Records per request: 10, then the 5 retried.
  for (const char* name : {"sluice_kinesis_producer_records_per_request",
                           "sluice_kinesis_producer_user_records_per_request"}) {
    const auto per_request = metrics_.histogram(name, "", {"stream_name"}).with({"s"}).snapshot();
    EXPECT_EQ(per_request.count, 2u) << name;
    EXPECT_EQ(per_request.sum, 15) << name;
  }
}

TEST_F(ProducerTest, ValidationErrorsAreNotRetriedAndRetriesAreBounded) {
  FakeKinesis fake(1);
  fake.set_entry_fault([](int, int, const FakeKinesis::Stored& s) -> std::optional<std::string> {
    if (s.data == "invalid") return "InvalidArgumentException";
    if (s.data == "throttled") return "ProvisionedThroughputExceededException";
    if (s.data == "kms") return "KMSAccessDeniedException";
    return std::nullopt;
  });
  auto producer = make(options(fake));
  auto invalid = producer->put({.partition_key = "a", .data = "invalid"});
  auto throttled = producer->put({.partition_key = "b", .data = "throttled"});
  auto kms = producer->put({.partition_key = "c", .data = "kms"});
  auto fine = producer->put({.partition_key = "d", .data = "fine"});
  producer->flush();
  auto r1 = invalid.get();
  EXPECT_EQ(r1.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r1.status().message().find("after 1 attempt"), std::string_view::npos) << r1.status();
  auto r2 = throttled.get();
  EXPECT_EQ(r2.status().code(), StatusCode::kThrottled);
  EXPECT_NE(r2.status().message().find("after 4 attempts"), std::string_view::npos) << r2.status();
  EXPECT_EQ(kms.get().status().code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(fine.get().ok());
  EXPECT_EQ(fake.stored_count(), 1u);
  // The per-put override: 0 retries.
  auto once = producer->put({.partition_key = "e", .data = "throttled"}, nullptr,
                            PutOptions{.max_retries = 0});
  EXPECT_TRUE(once.ok());
  producer->flush();
  EXPECT_EQ(producer->stats().records_failed, 4u);
}

TEST_F(ProducerTest, WholeRequestThrottlingAndServerErrorsAreRetried) {
  FakeKinesis fake(1);
  fake.set_request_fault([](int request) -> std::optional<sluice::testing::LocalHttpResponse> {
    if (request == 0) {
      return sluice::testing::LocalHttpResponse{
          .status = 400,
          .headers = {{"Content-Type", "application/x-amz-json-1.1"}},
          .body = R"({"__type":"ProvisionedThroughputExceededException","message":"slow down"})"};
    }
    if (request == 1) return sluice::testing::LocalHttpResponse{.status = 503, .body = "{}"};
    if (request == 2) {
      return sluice::testing::LocalHttpResponse{
          .status = 500,
          .headers = {{"Content-Type", "application/x-amz-json-1.1"}},
          .body = R"({"__type":"InternalFailure"})"};
    }
    return std::nullopt;
  });
  auto producer = make(options(fake));
  auto f = producer->put({.partition_key = "a", .data = "1"});
  producer->flush();
  auto r = f.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->attempts, 4);
  EXPECT_EQ(fake.put_requests(), 4) << "the producer retries; the client does not add its own";
  EXPECT_EQ(producer->stats().requests_failed, 3u);
  const std::string text = metrics_.expose();
  EXPECT_NE(text.find("kinesis_batch_write_failures_total{stream_name=\"s\"} 3"),
            std::string::npos);
}

TEST_F(ProducerTest, KeyOrderSurvivesRandomFailures) {
  for (bool aggregate : {false, true}) {
    FakeKinesis fake(3);
    std::atomic<int> n{0};
    fake.set_entry_fault([&n](int, int, const FakeKinesis::Stored&) -> std::optional<std::string> {
      if (++n % 3 == 0) return "ProvisionedThroughputExceededException";
      return std::nullopt;
    });
    auto o = options(fake);
    o.aggregate = aggregate;
    o.strict_order = !aggregate;
    o.retry.max_retries = RetryPolicy::kUnlimited;
    o.max_in_flight = 4;
    o.linger = 1ms;
    auto producer = make(o);
    std::map<std::string, std::vector<std::string>> order;
    for (int i = 0; i < 600; ++i) {
      const std::string key = "key-" + std::to_string(i % 13);
      const std::string data = std::to_string(i);
      order[key].push_back(data);
      ASSERT_TRUE(producer->put({.partition_key = key, .data = data}, nullptr).ok());
    }
    ASSERT_TRUE(producer->close(30s).ok());
    auto got = landed(fake);
    EXPECT_EQ(got.size(), 600u) << "aggregate=" << aggregate;
    expect_key_order(got, order);
    EXPECT_EQ(producer->stats().records_written, 600u);
  }
}

TEST_F(ProducerTest, AggregatesPerShardAndLoneRecordsGoPlain) {
  FakeKinesis fake(4);
  ManualClock clock;
  auto o = options(fake);
  o.aggregate = true;
  o.clock = &clock;
  o.linger = 1h;  // one request, at the flush
  auto producer = make(o);
  std::map<std::string, std::vector<std::string>> order;
  std::vector<std::future<Result<PutResult>>> futures;
  for (int i = 0; i < 2000; ++i) {
    const std::string key = "user-" + std::to_string(i % 97);
    const std::string data = "payload-" + std::to_string(i);
    order[key].push_back(data);
    futures.push_back(producer->put({.partition_key = key, .data = data}));
  }
  producer->flush();
  std::size_t with_sub = 0;
  for (auto& f : futures) {
    auto r = f.get();
    ASSERT_TRUE(r.ok()) << r.status();
    with_sub += r->sub_sequence_number.has_value();
  }
  EXPECT_EQ(with_sub, 2000u);
  auto map = producer->shard_map();
  ASSERT_TRUE(map);
  EXPECT_EQ(map->size(), 4u);
  // Every user record sits on the shard owning its hash key.
  auto got = landed(fake);
  ASSERT_EQ(got.size(), 2000u);
  for (const auto& r : got) {
    EXPECT_EQ(map->shard(map->find(partition_key_hash(r.partition_key))).shard_id, r.shard_id);
  }
  expect_key_order(got, order);
  // Aggregates carry the first user record's hash key.
  for (const auto& [shard, records] : fake.stored()) {
    for (const auto& rec : records) {
      std::vector<UserRecordView> users;
      ASSERT_EQ(deaggregate(rec.data, users), AggregateCheck::kAggregated);
      EXPECT_EQ(rec.explicit_hash_key, format_hash_key(partition_key_hash(users[0].partition_key)));
      EXPECT_EQ(rec.partition_key, users[0].partition_key);
    }
  }
  EXPECT_EQ(producer->stats().kinesis_records_written, 4u) << "one aggregate per shard";
  EXPECT_EQ(producer->stats().aggregates_written, 4u);

  // A lone record goes unaggregated.
  auto lone = producer->put({.partition_key = "alone", .data = "solo"});
  producer->flush();
  auto r = lone.get();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->sub_sequence_number.has_value());
  EXPECT_EQ(fake.requests().back().size(), 1u);
  EXPECT_EQ(fake.requests().back()[0].data, "solo");
  EXPECT_EQ(fake.requests().back()[0].explicit_hash_key, "");
}

TEST_F(ProducerTest, ReshardIsDetectedAndMisroutedRecordsAreResent) {
  FakeKinesis fake(1);
  auto o = options(fake);
  o.aggregate = true;
  o.linger = 10ms;
  auto producer = make(o);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(
        producer->put({.partition_key = "k" + std::to_string(i), .data = "before"}, nullptr).ok());
  }
  producer->flush();
  ASSERT_EQ(producer->shard_map()->size(), 1u);
  // Split the only shard in two: the producer's map is stale now.
  ShardMap two = ShardMap::uniform(2);
  fake.set_shards(
      {{"shardId-000000000001", two.shard(0).range}, {"shardId-000000000002", two.shard(1).range}});
  std::vector<std::future<Result<PutResult>>> futures;
  std::vector<std::string> keys;
  for (int i = 0; i < 200; ++i) {
    keys.push_back("k" + std::to_string(i % 40));
    futures.push_back(
        producer->put({.partition_key = keys.back(), .data = "after-" + std::to_string(i)}));
  }
  producer->flush();
  auto map = producer->shard_map();
  ASSERT_EQ(map->size(), 2u) << "refreshed after the misroute";
  EXPECT_GT(producer->stats().misrouted_records, 0u);
  for (std::size_t i = 0; i < futures.size(); ++i) {
    auto r = futures[i].get();
    ASSERT_TRUE(r.ok()) << r.status();
    // The reported shard owns the record.
    EXPECT_EQ(map->shard(map->find(partition_key_hash(keys[i]))).shard_id, r->shard_id) << i;
  }
  // A consumer that drops misplaced user records (the KCL) still sees every
  // record of the second batch.
  std::multiset<std::string> owned;
  for (const auto& rec : landed(fake)) {
    if (rec.data.starts_with("after-") &&
        map->shard(map->find(partition_key_hash(rec.partition_key))).shard_id == rec.shard_id) {
      owned.insert(rec.data);
    }
  }
  for (int i = 0; i < 200; ++i) EXPECT_EQ(owned.count("after-" + std::to_string(i)), 1u) << i;
}

TEST_F(ProducerTest, PayloadPipelineCompressesAndClaimChecks) {
  FakeKinesis fake(1);
  auto store = std::make_shared<InMemoryPayloadStore>();
  auto o = options(fake);
  o.payload = {.compression = Compression::kZstd,
               .store = store,
               .large_payload_threshold = 2000,
               .key_prefix = "lg-schema-s"};
  auto producer = make(o);
  std::mt19937 rng(7);
  std::string big(100'000, '\0');
  for (auto& c : big) c = static_cast<char>(rng());  // incompressible
  auto small = producer->put({.partition_key = "a", .data = std::string(500, 'z')});
  auto large = producer->put({.partition_key = "a", .data = big});
  auto after = producer->put({.partition_key = "a", .data = "after"});
  producer->flush();
  auto r_small = small.get();
  auto r_large = large.get();
  ASSERT_TRUE(r_small.ok() && r_large.ok() && after.get().ok());
  EXPECT_TRUE(r_small->payload_key.empty());
  EXPECT_TRUE(r_large->payload_key.starts_with("lg-schema-s/"));
  EXPECT_EQ(store->size(), 1u);
  auto shard = fake.stored().begin()->second;
  ASSERT_EQ(shard.size(), 3u);
  EXPECT_TRUE(has_envelope(shard[0].data));
  EXPECT_LT(shard[0].data.size(), 100u) << "compressed";
  EXPECT_LT(shard[1].data.size(), 200u) << "a reference";
  EXPECT_EQ(*decode_payload(shard[0].data, store.get()), std::string(500, 'z'));
  EXPECT_EQ(*decode_payload(shard[1].data, store.get()), big);
  EXPECT_EQ(*decode_payload(shard[2].data, store.get()), "after") << "order kept behind the upload";
  EXPECT_EQ(producer->stats().large_payloads, 1u);
  EXPECT_NE(metrics_.expose().find("kinesis_large_payloads_total{stream_name=\"s\"} 1"),
            std::string::npos);
}

// A store whose puts fail.
class FailingStore final : public PayloadStore {
 public:
  Status put(const std::string&, std::string) override { return Status::unavailable("store down"); }
  Result<std::string> get(const std::string& key) override { return Status::not_found(key); }
  std::string location(std::string_view key) const override {
    return "failing:" + std::string(key);
  }
};

TEST_F(ProducerTest, FailedUploadsAreReportedAndTheLaneGoesOn) {
  FakeKinesis fake(1);
  auto o = options(fake);
  o.payload = {.store = std::make_shared<FailingStore>(), .large_payload_threshold = 10};
  auto producer = make(o);
  auto large = producer->put({.partition_key = "a", .data = std::string(100, 'x')});
  auto small = producer->put({.partition_key = "a", .data = "ok"});
  producer->flush();
  auto r = large.get();
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("store down"), std::string_view::npos);
  EXPECT_TRUE(small.get().ok());
}

TEST_F(ProducerTest, BackpressureFailsFastOrBlocks) {
  FakeKinesis fake(1);
  ManualClock clock;
  auto o = options(fake);
  o.clock = &clock;
  o.linger = 1h;
  o.max_buffered_records = 5;
  o.backpressure = Backpressure::kFailFast;
  auto producer = make(o);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(producer->put({.partition_key = "k", .data = "x"}, nullptr).ok());
  // Buffer depth: the five records waiting for linger.
  auto gauge = [&](const char* name) {
    return metrics_.gauge(name, "", {"stream_name"}).with({"s"}).value();
  };
  EXPECT_EQ(gauge("sluice_kinesis_producer_buffered_records"), 5);
  EXPECT_GT(gauge("sluice_kinesis_producer_buffered_bytes"), 0);
  Status full = producer->put({.partition_key = "k", .data = "x"}, nullptr);
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(full.message().find("max_buffered_records 5"), std::string_view::npos);
  auto f = producer->put({.partition_key = "k", .data = "x"});
  EXPECT_EQ(f.get().status().code(), StatusCode::kResourceExhausted);
  producer->flush();
  EXPECT_EQ(gauge("sluice_kinesis_producer_buffered_records"), 0);
  EXPECT_EQ(gauge("sluice_kinesis_producer_buffered_bytes"), 0);
  EXPECT_TRUE(producer->put({.partition_key = "k", .data = "x"}, nullptr).ok());
  ASSERT_TRUE(producer->close(1s).ok());

  o.backpressure = Backpressure::kBlock;
  o.max_buffered_records = 1000;
  o.max_buffered_bytes = 100;
  auto blocking = make(o);
  ASSERT_TRUE(blocking->put({.partition_key = "k", .data = std::string(90, 'a')}, nullptr).ok());
  std::atomic<bool> returned{false};
  std::thread t([&] {
    EXPECT_TRUE(blocking->put({.partition_key = "k", .data = std::string(90, 'b')}, nullptr).ok());
    returned = true;
  });
  // The second put waits for room: nothing is sent until linger (1 h) or a flush.
  EXPECT_FALSE(sluice::testing::wait_until([&] { return returned.load(); }, 100ms));
  blocking->flush();
  ASSERT_TRUE(sluice::testing::wait_until([&] { return returned.load(); }));
  t.join();
  ASSERT_TRUE(blocking->close(1s).ok());
  EXPECT_EQ(fake.stored_count(), 8u);
}

TEST_F(ProducerTest, CloseSendsEveryBufferedRecord) {
  FakeKinesis fake(2);
  ManualClock clock;
  auto o = options(fake);
  o.clock = &clock;
  o.linger = 1h;  // nothing would go without the close
  auto producer = make(o);
  std::vector<std::future<Result<PutResult>>> futures;
  for (int i = 0; i < 1234; ++i) {
    futures.push_back(
        producer->put({.partition_key = "k" + std::to_string(i % 50), .data = std::to_string(i)}));
  }
  ASSERT_TRUE(producer->close(10s).ok());
  for (auto& f : futures) ASSERT_TRUE(f.get().ok());
  EXPECT_EQ(fake.stored_count(), 1234u);
  EXPECT_EQ(producer->put({.partition_key = "k", .data = "late"}, nullptr).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(producer->close(1s).ok()) << "idempotent";
}

TEST_F(ProducerTest, CloseDeadlineReportsUnsentRecordsCancelled) {
  FakeKinesis fake(1);
  fake.set_entry_fault([](int, int, const FakeKinesis::Stored&) -> std::optional<std::string> {
    return "ProvisionedThroughputExceededException";
  });
  ManualClock clock;
  auto o = options(fake);
  o.clock = &clock;
  o.retry = RetryPolicy::exponential(10s, 10s, RetryPolicy::kUnlimited);
  o.linger = 1s;
  auto producer = make(o);
  std::vector<std::future<Result<PutResult>>> futures;
  for (int i = 0; i < 10; ++i)
    futures.push_back(producer->put({.partition_key = "k", .data = std::to_string(i)}));
  ASSERT_TRUE(clock.await_sleepers(1));
  clock.advance(1s);  // linger: one request with all ten
  ASSERT_TRUE(sluice::testing::wait_until([&] { return fake.put_requests() == 1; }));
  ASSERT_TRUE(sluice::testing::wait_until([&] { return producer->stats().retries == 10; }));
  Status closed;
  std::thread closer([&] { closed = producer->close(5s); });
  // Closing has begun once put() says so (an invalid record adds nothing).
  ASSERT_TRUE(sluice::testing::wait_until([&] {
    return producer->put({.partition_key = "", .data = "x"}, nullptr).code() ==
           StatusCode::kFailedPrecondition;
  }));
  // The sender sleeps until the retry (10 s) or the close deadline (5 s).
  ASSERT_TRUE(clock.await_sleepers(1));
  clock.advance(5s);
  closer.join();
  EXPECT_EQ(closed.code(), StatusCode::kTimeout);
  EXPECT_NE(closed.message().find("10 records"), std::string_view::npos) << closed;
  for (auto& f : futures) {
    auto r = f.get();
    EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
    EXPECT_NE(r.status().message().find("ProvisionedThroughputExceeded"), std::string_view::npos);
  }
  EXPECT_EQ(producer->stats().records_failed, 10u);
}

TEST_F(ProducerTest, InvalidInputIsRejectedUpFront) {
  FakeKinesis fake(1);
  auto producer = make(options(fake));
  auto code = [&](UserRecord r) { return producer->put(std::move(r), nullptr).code(); };
  EXPECT_EQ(code({.partition_key = "", .data = "x"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.partition_key = std::string(257, 'k'), .data = "x"}),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.partition_key = "bad\xFF", .data = "x"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.partition_key = "k", .explicit_hash_key = "abc", .data = "x"}),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.partition_key = "k",
                  .explicit_hash_key = "340282366920938463463374607431768211456",
                  .data = "x"}),
            StatusCode::kInvalidArgument);
  Status big = producer->put({.partition_key = "k", .data = std::string(1 << 20, 'x')}, nullptr);
  EXPECT_EQ(big.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(big.message().find("max_record_bytes"), std::string_view::npos);
  // Exactly at the limit (data + partition key = 1 MiB) is fine.
  EXPECT_TRUE(
      producer->put({.partition_key = "k", .data = std::string((1 << 20) - 1, 'x')}, nullptr).ok());
  EXPECT_TRUE(
      producer->put({.partition_key = "k", .explicit_hash_key = "0", .data = ""}, nullptr).ok());
  producer->flush();
  EXPECT_EQ(fake.stored_count(), 2u);

  // A partition key strategy fills empty keys.
  auto o = options(fake);
  o.partition_keys = *fixed_partition_key("fixed");
  auto with_keys = make(o);
  auto f = with_keys->put({.data = "x"});
  with_keys->flush();
  EXPECT_TRUE(f.get().ok());
  EXPECT_EQ(fake.requests().back()[0].partition_key, "fixed");
}

TEST_F(ProducerTest, OptionsAreValidated) {
  FakeKinesis fake(1);
  auto bad = [&](auto mutate) {
    auto o = options(fake);
    mutate(o);
    auto p = Producer::create(o);
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    return std::string(p.status().message());
  };
  EXPECT_NE(bad([](ProducerOptions& o) { o.stream = {}; }).find("stream"), std::string::npos);
  EXPECT_NE(bad([](ProducerOptions& o) { o.batch_max_records = 501; }).find("batch_max_records"),
            std::string::npos);
  EXPECT_NE(bad([](ProducerOptions& o) { o.batch_max_bytes = 6u << 20; }).find("batch_max_bytes"),
            std::string::npos);
  EXPECT_NE(
      bad([](ProducerOptions& o) { o.max_record_bytes = 11u << 20; }).find("max_record_bytes"),
      std::string::npos);
  EXPECT_NE(bad([](ProducerOptions& o) { o.max_in_flight = 0; }).find("max_in_flight"),
            std::string::npos);
  EXPECT_NE(bad([](ProducerOptions& o) {
              o.aggregation_max_bytes = 2u << 20;
            }).find("aggregation_max_bytes"),
            std::string::npos);
  EXPECT_NE(bad([](ProducerOptions& o) { o.payload.large_payload_threshold = 5; }).find("store"),
            std::string::npos);
  EXPECT_NE(bad([](ProducerOptions& o) { o.retry.backoff.multiplier = 0.5; }).find("retry"),
            std::string::npos);
}

TEST_F(ProducerTest, CallbacksMayPutAndNeverBlock) {
  FakeKinesis fake(1);
  auto o = options(fake);
  o.max_buffered_records = 2;
  auto producer = make(o);
  std::atomic<int> chained{0};
  std::atomic<int> refused{0};
  Producer* p = producer.get();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(producer
                    ->put({.partition_key = "a", .data = "x"},
                          [&, p](const Result<PutResult>&) {
                            Status s = p->put({.partition_key = "b", .data = "chained"},
                                              [&](const Result<PutResult>& r) {
                                                if (r.ok()) ++chained;
                                              });
                            if (s.code() == StatusCode::kResourceExhausted) ++refused;
                          })
                    .ok());
  }
  ASSERT_TRUE(sluice::testing::wait_until([&] { return chained + refused == 2; }));
  ASSERT_TRUE(producer->close(5s).ok());
  EXPECT_EQ(chained + refused, 2);
}

}  // namespace
}  // namespace sluice::kinesis
