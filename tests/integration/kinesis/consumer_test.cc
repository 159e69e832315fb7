// The consumer engine against kinesalite: start positions, ordering,
// checkpoints and restarts, resharding, faults, aggregation and the handler
// failure policies.
#include <gtest/gtest.h>

#include "consumer_harness.h"
#include "sluice/kinesis/aggregation.h"
#include "sluice/kinesis/hash_key.h"
#include "sluice/kinesis/sqlite_checkpoint_store.h"
#include "support/fault_proxy.h"

namespace sluice::kinesis::testing {
namespace {

class ConsumerTest : public KinesisStreamTest {};

TEST_F(ConsumerTest, TrimHorizonDeliversEverythingInOrderPerShard) {
  create_stream(4);
  auto puts = put(400, "a");
  Collector got;
  auto store = std::make_shared<MemoryCheckpointStore>();
  auto c = start(options(got), store);
  ASSERT_TRUE(wait_for([&] { return got.size() >= 400; })) << got.size();
  EXPECT_TRUE(c->stop().ok());
  auto seen = got.seen();
  EXPECT_EQ(seen.size(), 400u) << "no duplicates on a clean run";
  expect_all_in_order(puts, seen);
  std::set<std::string> shards;
  for (const auto& s : seen) shards.insert(s.shard);
  EXPECT_EQ(shards.size(), 4u);
  // Graceful shutdown checkpointed every shard at its last record.
  auto cps = store->list(stream_);
  ASSERT_TRUE(cps.ok());
  std::map<std::string, std::string> last;
  for (const auto& p : puts) {
    if (last[p.shard].empty() || compare_sequence_numbers(last[p.shard], p.sequence) < 0) {
      last[p.shard] = p.sequence;
    }
  }
  for (const auto& [shard, seq] : last) {
    ASSERT_TRUE(cps->count(shard)) << shard;
    EXPECT_EQ(cps->at(shard).sequence_number, seq) << shard;
  }
  EXPECT_EQ(counter("sluice_kinesis_records_delivered_total", {"stream", "shard"},
                    {stream_, "shardId-000000000000"}) +
                counter("sluice_kinesis_records_delivered_total", {"stream", "shard"},
                        {stream_, "shardId-000000000001"}) +
                counter("sluice_kinesis_records_delivered_total", {"stream", "shard"},
                        {stream_, "shardId-000000000002"}) +
                counter("sluice_kinesis_records_delivered_total", {"stream", "shard"},
                        {stream_, "shardId-000000000003"}),
            400);
}

TEST_F(ConsumerTest, LatestSkipsWhatCameBefore) {
  create_stream(2);
  put(50, "old");
  Collector got;
  auto o = options(got);
  o.start_position = StartPosition::kLatest;
  auto c = start(o, std::make_shared<MemoryCheckpointStore>());
  ASSERT_TRUE(wait_for([&] { return c->running(2); }));
  // LATEST iterators are taken when the shard starts: give the readers a
  // first (empty) poll before writing.
  std::this_thread::sleep_for(200ms);
  auto puts = put(100, "new");
  ASSERT_TRUE(wait_for([&] { return got.size() >= 100; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(c->stop().ok());
  auto seen = got.seen();
  EXPECT_EQ(seen.size(), 100u);
  for (const auto& s : seen) EXPECT_TRUE(s.data.starts_with("new-")) << s.data;
  expect_all_in_order(puts, seen);
}

TEST_F(ConsumerTest, AtTimestampStartsAtTheTime) {
  create_stream(2);
  put(40, "before");
  std::this_thread::sleep_for(1100ms);
  const auto t = std::chrono::system_clock::now();
  std::this_thread::sleep_for(50ms);
  auto puts = put(60, "after");
  Collector got;
  auto o = options(got);
  o.start_position = StartPosition::kAtTimestamp;
  o.start_timestamp = t;
  auto c = start(o, std::make_shared<MemoryCheckpointStore>());
  ASSERT_TRUE(wait_for([&] { return got.size() >= 60; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(c->stop().ok());
  auto seen = got.seen();
  EXPECT_EQ(seen.size(), 60u);
  for (const auto& s : seen) EXPECT_TRUE(s.data.starts_with("after-")) << s.data;
}

TEST_F(ConsumerTest, RestartResumesFromTheSqliteCheckpoint) {
  create_stream(3);
  sluice::testing::TempDir dir;
  const std::string db = (dir / "checkpoints.db").string();
  auto first_batch = put(150, "one");
  {
    auto store = SqliteCheckpointStore::open(db);
    ASSERT_TRUE(store.ok()) << store.status();
    Collector got;
    auto c = start(options(got), *store);
    ASSERT_TRUE(wait_for([&] { return got.size() >= 150; }));
    EXPECT_TRUE(c->stop().ok());
    EXPECT_EQ(got.size(), 150u);
  }
  auto second_batch = put(150, "two");
  auto store = SqliteCheckpointStore::open(db);  // a new process, as far as state goes
  ASSERT_TRUE(store.ok());
  Collector got;
  auto c = start(options(got), *store);
  ASSERT_TRUE(wait_for([&] { return got.size() >= 150; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(c->stop().ok());
  auto seen = got.seen();
  EXPECT_EQ(seen.size(), 150u) << "graceful stop: no record delivered twice";
  for (const auto& s : seen) EXPECT_TRUE(s.data.starts_with("two-")) << s.data;
  expect_all_in_order(second_batch, seen);
}

TEST_F(ConsumerTest, SplitAndMergeWhileConsumingKeepParentsBeforeChildren) {
  create_stream(2);
  auto puts = put(200, "p1");
  Collector got;
  auto o = options(got);
  auto c = start(o, std::make_shared<MemoryCheckpointStore>());
  ASSERT_TRUE(wait_for([&] { return got.size() >= 200; }));
  ASSERT_TRUE(run(kinesis_->split_shard({.name = stream_}, "shardId-000000000000",
                                        "85070591730234615865843651857942052864"))
                  .ok());
  ASSERT_TRUE(run(kinesis_->wait_until_active({.name = stream_}, 10s)).ok());
  auto more = put(200, "p2");
  ASSERT_TRUE(
      run(kinesis_->merge_shards({.name = stream_}, "shardId-000000000002", "shardId-000000000003"))
          .ok());
  ASSERT_TRUE(run(kinesis_->wait_until_active({.name = stream_}, 10s)).ok());
  auto last = put(200, "p3");
  ASSERT_TRUE(wait_for([&] { return got.size() >= 600; }, 90s)) << got.size();
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(c->stop().ok());
  auto seen = got.seen();
  puts.insert(puts.end(), more.begin(), more.end());
  puts.insert(puts.end(), last.begin(), last.end());
  EXPECT_EQ(seen.size(), 600u);
  expect_all_in_order(puts, seen);
  // Every record of a parent came before any record of its children.
  auto first_of = [&](const std::string& shard) {
    std::uint64_t v = UINT64_MAX;
    for (const auto& s : seen)
      if (s.shard == shard) v = std::min(v, s.order);
    return v;
  };
  auto last_of = [&](const std::string& shard) {
    std::uint64_t v = 0;
    for (const auto& s : seen)
      if (s.shard == shard) v = std::max(v, s.order);
    return v;
  };
  EXPECT_LT(last_of("shardId-000000000000"), first_of("shardId-000000000002"));
  EXPECT_LT(last_of("shardId-000000000000"), first_of("shardId-000000000003"));
  EXPECT_LT(last_of("shardId-000000000002"), first_of("shardId-000000000004"));
  EXPECT_LT(last_of("shardId-000000000003"), first_of("shardId-000000000004"));
  EXPECT_NE(first_of("shardId-000000000004"), UINT64_MAX) << "the merged shard was read";
}

TEST_F(ConsumerTest, SurvivesExpiredIteratorsThrottlingAndServerErrors) {
  create_stream(2);
  auto puts = put(300, "f");
  sluice::testing::FaultProxy proxy(sluice::testing::Backends::get().kinesis_endpoint);
  auto expired = sluice::testing::FaultProxy::aws_error(
      "GetRecords", 3, 400, "ExpiredIteratorException", "Iterator expired");
  expired.skip = 2;  // after some records were read
  proxy.add_rule(expired);
  proxy.add_rule(sluice::testing::FaultProxy::throttle("GetRecords", 4));
  proxy.add_rule(sluice::testing::FaultProxy::server_error("GetRecords", 3, 500));
  proxy.add_rule(sluice::testing::FaultProxy::server_error("GetShardIterator", 2, 503));
  aws::ClientOptions co;
  co.region = "us-east-1";
  co.endpoint = proxy.url();
  co.credentials = aws::make_static_credentials("AKIDEXAMPLE", "secret");
  co.retry.max_attempts = 1;  // the engine's own retries are what is tested
  auto client = aws::KinesisClient::create(co);
  ASSERT_TRUE(client.ok());
  Collector got;
  auto o = options(got);
  o.batch_size = 25;
  auto consumer = Consumer::create(o, std::shared_ptr<aws::KinesisClient>(std::move(*client)),
                                   std::make_shared<MemoryCheckpointStore>());
  ASSERT_TRUE(consumer.ok());
  RunningConsumer c(std::move(*consumer));
  ASSERT_TRUE(wait_for([&] { return got.size() >= 300; }, 90s)) << got.size();
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(c.stop().ok());
  auto seen = got.seen();
  EXPECT_EQ(seen.size(), 300u)
      << "an expired iterator is renewed after the last record: no duplicates";
  expect_all_in_order(puts, seen);
  EXPECT_GE(proxy.faults(), 12);
  EXPECT_EQ(counter("sluice_kinesis_iterator_expired_total", {"stream"}, {stream_}), 3);
}

TEST_F(ConsumerTest, DeaggregatesAndFiltersByHashRange) {
  create_stream(2);                // shard 0: [0, 2^127), shard 1: [2^127, 2^128)
  const std::string low = "1000";  // shard 0
  const std::string high = "200000000000000000000000000000000000000";  // shard 1
  AggregateBuilder agg;
  for (int i = 0; i < 30; ++i)
    agg.add("user-" + std::to_string(i % 3), low, "u-" + std::to_string(i));
  // Two user records that belong to the other shard: a reshard left them
  // here. The KCL drops them; so do we, counting them.
  agg.add("stray", high, "stray-1");
  agg.add("stray", high, "stray-2");
  auto in_agg = put_raw(agg.finish(), "user-0", low);
  ASSERT_EQ(in_agg.shard, "shardId-000000000000");
  put_raw("plain-record", "plain", high);
  // A blob with the KPL magic but a broken digest is delivered as is.
  std::string bogus(kAggregationMagic);
  bogus += std::string(40, 'x');
  put_raw(bogus, "bogus", low);

  Collector got;
  auto c = start(options(got), std::make_shared<MemoryCheckpointStore>());
  ASSERT_TRUE(wait_for([&] { return got.size() >= 32; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(c->stop().ok());
  auto seen = got.seen();
  ASSERT_EQ(seen.size(), 32u);
  int aggregated = 0;
  for (const auto& s : seen) {
    if (s.aggregated) {
      EXPECT_EQ(s.sequence, in_agg.sequence);
      EXPECT_EQ(s.data, "u-" + std::to_string(s.sub));
      ++aggregated;
    }
  }
  EXPECT_EQ(aggregated, 30);
  EXPECT_EQ(counter("sluice_kinesis_user_records_dropped_total", {"stream", "shard"},
                    {stream_, "shardId-000000000000"}),
            2);
  EXPECT_EQ(counter("sluice_kinesis_corrupt_aggregates_total", {"stream", "shard"},
                    {stream_, "shardId-000000000000"}),
            1);
}

TEST_F(ConsumerTest, ResumesInsideAnAggregateWithoutRepeats) {
  create_stream(1);
  AggregateBuilder agg;
  for (int i = 0; i < 20; ++i) agg.add("k", "", "sub-" + std::to_string(i));
  put_raw(agg.finish(), "k");
  auto store = std::make_shared<MemoryCheckpointStore>();
  {
    // Handle 7 user records, then fail forever: the shard stops after
    // checkpointing through sub-sequence 6.
    Collector got;
    auto o = options(got);
    o.checkpoint_every = 1;
    o.retry.max_attempts = 1;
    o.record_handler = [&got](const Record& r) {
      if (r.sub_sequence_number >= 7) return Status::unavailable("downstream down");
      return got.record(r);
    };
    auto c = start(o, store);
    ASSERT_TRUE(wait_for([&] { return got.size() >= 7; }));
    ASSERT_TRUE(wait_for([&] {
      auto s = c->consumer().status();
      return !s.empty() && s[0].state == "stopped";
    }));
    EXPECT_TRUE(c->stop().ok());
    auto cp = store->get(stream_, "shardId-000000000000");
    ASSERT_TRUE(cp.ok() && cp->has_value());
    EXPECT_EQ((*cp)->sub_sequence_number, 6u) << "checkpoint inside the aggregate";
  }
  Collector got;
  auto c = start(options(got), store);
  ASSERT_TRUE(wait_for([&] { return got.size() >= 13; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(c->stop().ok());
  auto seen = got.seen();
  ASSERT_EQ(seen.size(), 13u);
  EXPECT_EQ(seen.front().data, "sub-7");
  EXPECT_EQ(seen.back().data, "sub-19");
}

TEST_F(ConsumerTest, RetriesThenSucceeds) {
  create_stream(1);
  put(5, "r");
  Collector got;
  std::atomic<int> calls{0};
  auto o = options(got);
  o.record_handler = [&](const Record& r) -> Status {
    if (r.data == "r-2" && calls.fetch_add(1) < 2) throw std::runtime_error("flaky");
    return got.record(r);
  };
  auto c = start(o, std::make_shared<MemoryCheckpointStore>());
  ASSERT_TRUE(wait_for([&] { return got.size() >= 5; }));
  EXPECT_TRUE(c->stop().ok());
  EXPECT_EQ(got.size(), 5u);
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(counter("sluice_kinesis_handler_retries_total", {"stream"}, {stream_}), 2);
  EXPECT_EQ(counter("sluice_kinesis_handler_errors_total", {"stream"}, {stream_}), 2);
}

TEST_F(ConsumerTest, StopShardPolicyKeepsTheFailedRecordUnCheckpointed) {
  create_stream(1);
  put(20, "s");
  Collector got;
  auto store = std::make_shared<MemoryCheckpointStore>();
  auto o = options(got);
  o.checkpoint_every = 1;
  o.record_handler = [&](const Record& r) -> Status {
    if (r.data == "s-10") return Status::unavailable("cannot handle s-10");
    return got.record(r);
  };
  auto c = start(o, store);
  ASSERT_TRUE(wait_for([&] {
    auto s = c->consumer().status();
    return !s.empty() && s[0].state == "stopped";
  }));
  EXPECT_TRUE(c->stop().ok()) << "the consumer itself keeps running";
  auto seen = got.seen();
  ASSERT_EQ(seen.size(), 10u);
  EXPECT_EQ(seen.back().data, "s-9");
  auto cp = store->get(stream_, "shardId-000000000000");
  ASSERT_TRUE(cp.ok() && cp->has_value());
  EXPECT_EQ((*cp)->sequence_number, seen.back().sequence) << "nothing past the failed record";
}

TEST_F(ConsumerTest, DeadLetterPolicyGoesOn) {
  create_stream(1);
  put(20, "d");
  Collector got;
  std::mutex mu;
  std::vector<std::string> dead;
  auto o = options(got);
  o.failure_policy = FailurePolicy::kDeadLetter;
  o.dead_letter = [&](const Record& r, const Status& e) {
    std::lock_guard lock(mu);
    dead.push_back(std::string(r.data) + ": " + std::string(e.message()));
  };
  o.record_handler = [&](const Record& r) -> Status {
    if (r.data == "d-3" || r.data == "d-15") return Status::invalid_argument("poison");
    return got.record(r);
  };
  auto c = start(o, std::make_shared<MemoryCheckpointStore>());
  ASSERT_TRUE(wait_for([&] { return got.size() >= 18; }));
  EXPECT_TRUE(c->stop().ok());
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0], "d-3: poison");
  EXPECT_EQ(counter("sluice_kinesis_dead_letters_total", {"stream"}, {stream_}), 2);
}

TEST_F(ConsumerTest, StopConsumerPolicyEndsStartWithTheError) {
  create_stream(2);
  put(20, "x");
  Collector got;
  auto o = options(got);
  o.failure_policy = FailurePolicy::kStopConsumer;
  o.record_handler = [&](const Record& r) -> Status {
    if (r.data == "x-7") return Status::unavailable("the database is gone");
    return got.record(r);
  };
  auto c = start(o, std::make_shared<MemoryCheckpointStore>());
  ASSERT_TRUE(wait_for([&] { return c->finished(); }, 30s));
  Status s = c->stop();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("the database is gone"), std::string_view::npos) << s;
  EXPECT_NE(s.message().find("handler failed 3 times"), std::string_view::npos) << s;
}

TEST_F(ConsumerTest, BatchHandlerGetsWholeBatchesAndWins) {
  create_stream(1);
  put(120, "b");
  Collector got;
  std::atomic<int> batches{0};
  auto o = options(got);
  o.batch_size = 50;
  o.record_handler = [](const Record&) -> Status {
    ADD_FAILURE() << "the batch handler wins";
    return Status();
  };
  o.batch_handler = [&](std::span<const Record> records) -> Status {
    ++batches;
    EXPECT_LE(records.size(), 50u);
    for (const auto& r : records) EXPECT_TRUE(got.record(r).ok());
    return Status();
  };
  auto c = start(o, std::make_shared<MemoryCheckpointStore>());
  ASSERT_TRUE(wait_for([&] { return got.size() >= 120; }));
  EXPECT_TRUE(c->stop().ok());
  EXPECT_GE(batches.load(), 3);
  EXPECT_EQ(got.size(), 120u);
}

TEST_F(ConsumerTest, ShardConcurrencyProcessesInParallelAndCheckpointsSafely) {
  create_stream(1);
  auto puts = put(200, "c");
  Collector got;
  std::atomic<int> inside{0}, peak{0};
  auto store = std::make_shared<MemoryCheckpointStore>();
  auto o = options(got);
  o.shard_concurrency = 4;
  o.handler_threads = 6;
  o.record_handler = [&](const Record& r) -> Status {
    int now = ++inside;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    std::this_thread::sleep_for(1ms);
    --inside;
    return got.record(r);
  };
  auto c = start(o, store);
  ASSERT_TRUE(wait_for([&] { return got.size() >= 200; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(c->stop().ok());
  EXPECT_EQ(got.size(), 200u);
  EXPECT_GT(peak.load(), 1) << "records of one shard ran in parallel";
  EXPECT_LE(peak.load(), 4);
  auto cp = store->get(stream_, "shardId-000000000000");
  ASSERT_TRUE(cp.ok() && cp->has_value());
  EXPECT_EQ((*cp)->sequence_number, puts.back().sequence);
}

TEST_F(ConsumerTest, ConfigErrorsNameTheField) {
  Collector got;
  auto o = options(got);
  o.batch_size = 0;
  EXPECT_NE(validate(o).message().find("batch_size"), std::string_view::npos);
  o = options(got);
  o.stream_name.clear();
  EXPECT_NE(validate(o).message().find("stream_name"), std::string_view::npos);
  o = options(got);
  o.record_handler = nullptr;
  EXPECT_NE(validate(o).message().find("handler"), std::string_view::npos);
  o = options(got);
  o.failure_policy = FailurePolicy::kDeadLetter;
  EXPECT_NE(validate(o).message().find("dead_letter"), std::string_view::npos);
  o = options(got);
  o.checkpoint_every = 0;
  EXPECT_NE(validate(o).message().find("checkpoint_every"), std::string_view::npos);
  o = options(got);
  o.start_position = StartPosition::kAtTimestamp;
  EXPECT_NE(validate(o).message().find("start_timestamp"), std::string_view::npos);
}

TEST_F(ConsumerTest, MissingStreamIsAClearError) {
  Collector got;
  auto c = start(options(got), std::make_shared<MemoryCheckpointStore>());
  ASSERT_TRUE(wait_for([&] { return c->finished(); }, 30s));
  Status s = c->stop();
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s;
  EXPECT_NE(s.message().find(stream_), std::string_view::npos) << s;
}

}  // namespace
}  // namespace sluice::kinesis::testing
