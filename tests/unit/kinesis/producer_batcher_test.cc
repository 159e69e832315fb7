// The producer's batching logic on its own: lanes per partition key, request
// limits, in-flight exclusion, retry order, strict order, linger and
// aggregation by predicted shard.
#include "kinesis/producer_batcher.h"

#include <gtest/gtest.h>

#include <map>

#include "sluice/kinesis/aggregation.h"

namespace sluice::kinesis::internal {
namespace {

using namespace std::chrono_literals;

class BatcherTest : public ::testing::Test {
 protected:
  RecordPtr make(const std::string& pk, std::string data, const std::string& ehk = "") {
    auto r = std::make_unique<PendingRecord>();
    r->seq = seq_++;
    r->partition_key = pk;
    r->explicit_hash_key = ehk;
    r->hash_key = *record_hash_key(pk, ehk);
    r->data = std::move(data);
    r->size = r->data.size() + pk.size();
    r->enqueued = now_;
    return r;
  }
  PendingRecord* add(Batcher& b, const std::string& pk, std::string data = "d",
                     const std::string& ehk = "") {
    bool wake = false;
    return b.add(make(pk, std::move(data), ehk), now_, wake);
  }
  static std::vector<std::string> keys_of(const Request& req) {
    std::vector<std::string> out;
    for (const auto& e : req.entries) {
      for (const auto* r : e.records) out.push_back(r->partition_key + ":" + r->data);
    }
    return out;
  }

  Clock::TimePoint now_ = Clock::TimePoint(1000h);
  std::uint64_t seq_ = 0;
};

TEST_F(BatcherTest, TakesLanesOldestFirstKeepingKeyOrder) {
  Batcher b({});
  add(b, "a", "1");
  add(b, "b", "1");
  add(b, "a", "2");
  add(b, "c", "1");
  EXPECT_EQ(b.lanes(), 3u);
  EXPECT_EQ(b.ready_records(), 4u);
  auto req = b.build(now_);
  ASSERT_TRUE(req);
  EXPECT_EQ(keys_of(*req), (std::vector<std::string>{"a:1", "a:2", "b:1", "c:1"}));
  EXPECT_EQ(req->entries.size(), 4u);
  EXPECT_EQ(b.ready_records(), 0u);
  EXPECT_FALSE(b.build(now_));
  b.complete(*req, {}, now_, now_);
  EXPECT_EQ(b.lanes(), 0u) << "empty lanes are dropped";
}

TEST_F(BatcherTest, RespectsRecordAndByteLimits) {
  Batcher b({.max_records_per_request = 500, .max_request_bytes = 5u << 20});
  for (int i = 0; i < 1200; ++i) add(b, "k" + std::to_string(i));
  auto r1 = b.build(now_);
  auto r2 = b.build(now_);
  auto r3 = b.build(now_);
  EXPECT_EQ(r1->entries.size(), 500u);
  EXPECT_EQ(r2->entries.size(), 500u);
  EXPECT_EQ(r3->entries.size(), 200u);
  EXPECT_FALSE(b.build(now_));

  Batcher big({.max_records_per_request = 500, .max_request_bytes = 1000});
  for (int i = 0; i < 5; ++i)
    add(big, "k" + std::to_string(i), std::string(298, 'x'));  // 300 bytes
  auto q1 = big.build(now_);
  EXPECT_EQ(q1->entries.size(), 3u);
  EXPECT_EQ(q1->bytes, 900u);
  // A record larger than the request limit still goes, alone.
  Batcher tiny({.max_request_bytes = 10});
  add(tiny, "k", std::string(100, 'x'));
  add(tiny, "j", "y");
  auto t1 = tiny.build(now_);
  EXPECT_EQ(t1->entries.size(), 1u);
}

TEST_F(BatcherTest, InFlightLanesWaitAndRetriesGoFirst) {
  Batcher b({});
  add(b, "a", "1");
  add(b, "a", "2");
  add(b, "a", "3");
  auto req = b.build(now_);
  ASSERT_EQ(req->records.size(), 3u);
  add(b, "a", "4");
  add(b, "b", "1");
  auto other = b.build(now_);
  ASSERT_TRUE(other);
  EXPECT_EQ(keys_of(*other), (std::vector<std::string>{"b:1"})) << "lane a is in flight";
  // a:1 and a:3 failed, a:2 succeeded: retries go first, in order, after the backoff.
  std::vector<RecordPtr> retry;
  retry.push_back(std::move(req->records[0]));
  retry.push_back(std::move(req->records[2]));
  b.complete(*req, std::move(retry), now_ + 1s, now_);
  EXPECT_FALSE(b.build(now_)) << "backing off";
  EXPECT_EQ(b.next_deadline(), now_ + 1s);
  b.release_due(now_ + 999ms);
  EXPECT_FALSE(b.build(now_ + 999ms));
  b.release_due(now_ + 1s);
  auto again = b.build(now_ + 1s);
  ASSERT_TRUE(again);
  EXPECT_EQ(keys_of(*again), (std::vector<std::string>{"a:1", "a:3", "a:4"}));
}

TEST_F(BatcherTest, StrictOrderSendsOneRecordPerKeyPerRequest) {
  Batcher b({.strict_order = true});
  add(b, "a", "1");
  add(b, "a", "2");
  add(b, "b", "1");
  auto r1 = b.build(now_);
  EXPECT_EQ(keys_of(*r1), (std::vector<std::string>{"a:1", "b:1"}));
  EXPECT_FALSE(b.build(now_));
  b.complete(*r1, {}, now_, now_);
  auto r2 = b.build(now_);
  EXPECT_EQ(keys_of(*r2), (std::vector<std::string>{"a:2"}));
}

TEST_F(BatcherTest, LingerAndFullBatchesDecideWhenToSend) {
  Batcher b({.max_records_per_request = 3, .linger = 100ms});
  EXPECT_FALSE(b.should_send(now_, false));
  EXPECT_EQ(b.next_deadline(), Clock::TimePoint::max());
  bool wake = false;
  b.add(make("a", "1"), now_, wake);
  EXPECT_TRUE(wake) << "first ready record: a new deadline";
  EXPECT_EQ(b.next_deadline(), now_ + 100ms);
  EXPECT_FALSE(b.should_send(now_ + 99ms, false));
  EXPECT_TRUE(b.should_send(now_ + 99ms, true)) << "flush";
  EXPECT_TRUE(b.should_send(now_ + 100ms, false));
  b.add(make("b", "1"), now_, wake);
  EXPECT_FALSE(wake);
  b.add(make("c", "1"), now_, wake);
  EXPECT_TRUE(wake) << "a full batch";
  EXPECT_TRUE(b.should_send(now_, false));
}

TEST_F(BatcherTest, UnreadyRecordsHoldTheirLane) {
  Batcher b({});
  PendingRecord* big = nullptr;
  {
    auto r = make("a", "claim");
    r->ready = false;
    bool wake;
    big = b.add(std::move(r), now_, wake);
  }
  add(b, "a", "2");
  add(b, "b", "1");
  auto r1 = b.build(now_);
  EXPECT_EQ(keys_of(*r1), (std::vector<std::string>{"b:1"}));
  EXPECT_TRUE(b.mark_ready(big, now_));
  auto r2 = b.build(now_);
  EXPECT_EQ(keys_of(*r2), (std::vector<std::string>{"a:claim", "a:2"}));

  // An unready record in the middle: the lane sends up to it.
  add(b, "c", "1");
  PendingRecord* mid;
  {
    auto r = make("c", "claim");
    r->ready = false;
    r->uploading = true;
    bool wake;
    mid = b.add(std::move(r), now_, wake);
  }
  add(b, "c", "3");
  auto r3 = b.build(now_);
  EXPECT_EQ(keys_of(*r3), (std::vector<std::string>{"c:1"}));
  b.complete(*r3, {}, now_, now_);
  EXPECT_FALSE(b.build(now_));
  // The upload failed: the record leaves, the lane goes on.
  RecordPtr removed = b.remove(mid, now_);
  ASSERT_TRUE(removed);
  auto r4 = b.build(now_);
  EXPECT_EQ(keys_of(*r4), (std::vector<std::string>{"c:3"}));
}

TEST_F(BatcherTest, LingerOfAClaimCheckedRecordStartsWhenItIsStored) {
  Batcher b({.linger = 100ms});
  auto r = make("a", "claim");
  r->ready = false;
  bool wake;
  PendingRecord* p = b.add(std::move(r), now_, wake);
  EXPECT_FALSE(b.should_send(now_ + 1s, false));
  b.mark_ready(p, now_ + 1s);  // the upload took a second
  EXPECT_FALSE(b.should_send(now_ + 1s, false)) << "waits for company";
  EXPECT_EQ(b.next_deadline(), now_ + 1s + 100ms);
  EXPECT_TRUE(b.should_send(now_ + 1s + 100ms, false));
}

TEST_F(BatcherTest, AggregatesByPredictedShardOneEntryPerShard) {
  Batcher b({.aggregate = true});
  auto map = std::make_shared<const ShardMap>(ShardMap::uniform(4));
  b.set_shard_map(map);
  std::map<std::string, std::vector<std::string>> expected_by_key;
  for (int i = 0; i < 400; ++i) {
    const std::string key = "key-" + std::to_string(i % 37);
    const std::string data = "v" + std::to_string(i);
    add(b, key, data);
    expected_by_key[key].push_back(data);
  }
  auto req = b.build(now_);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->records.size(), 400u);
  EXPECT_EQ(req->entries.size(), 4u) << "one aggregate per shard";
  finish_entries(*req);
  std::map<std::string, std::vector<std::string>> got_by_key;
  for (const auto& e : req->entries) {
    ASSERT_TRUE(e.aggregated);
    ASSERT_LE(e.blob.size() + e.partition_key().size(), e.bytes);
    EXPECT_EQ(e.blob.size() + e.records[0]->partition_key.size(), e.bytes) << "exact prediction";
    EXPECT_EQ(e.explicit_hash_key, format_hash_key(e.records[0]->hash_key));
    std::vector<UserRecordView> users;
    ASSERT_EQ(deaggregate(e.blob, users), AggregateCheck::kAggregated);
    ASSERT_EQ(users.size(), e.records.size());
    for (std::size_t i = 0; i < users.size(); ++i) {
      EXPECT_EQ(users[i].partition_key, e.records[i]->partition_key);
      EXPECT_EQ(map->find(partition_key_hash(users[i].partition_key)), e.predicted_shard);
      got_by_key[std::string(users[i].partition_key)].push_back(std::string(users[i].data));
    }
  }
  EXPECT_EQ(got_by_key, expected_by_key);
}

TEST_F(BatcherTest, AggregateSizeLimitAndOneAggregatePerKeyPerRequest) {
  Batcher b({.aggregate = true, .aggregation_max_bytes = 10'000});
  b.set_shard_map(std::make_shared<const ShardMap>(ShardMap::uniform(1)));
  for (int i = 0; i < 30; ++i) add(b, "hot", std::string(1000, static_cast<char>('a' + i % 26)));
  for (int i = 0; i < 5; ++i) add(b, "cold-" + std::to_string(i), "small");
  auto req = b.build(now_);
  ASSERT_TRUE(req);
  finish_entries(*req);
  // The hot key fills one aggregate; the cold keys start the next one.
  ASSERT_EQ(req->entries.size(), 2u);
  EXPECT_LE(req->entries[0].bytes, 10'000u);
  EXPECT_EQ(req->entries[0].records.size(), 9u);
  EXPECT_EQ(req->entries[1].records.size(), 5u);
  for (const auto& e : req->entries) EXPECT_LE(e.blob.size() + 3, 10'000u);
  EXPECT_EQ(b.queued_records(), 21u);
  EXPECT_FALSE(b.build(now_)) << "the hot lane waits for its request";
  b.complete(*req, {}, now_, now_);
  auto next = b.build(now_);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->entries.size(), 1u);
  EXPECT_EQ(next->records.size(), 9u);
}

TEST_F(BatcherTest, AggregationWithoutMapGroupsEqualHashKeysOnly) {
  Batcher b({.aggregate = true});
  add(b, "a", "1");
  add(b, "b", "1");
  add(b, "a", "2");
  add(b, "x", "e1", "12345");
  add(b, "y", "e2", "12345");
  auto req = b.build(now_);
  finish_entries(*req);
  ASSERT_EQ(req->entries.size(), 3u);
  EXPECT_TRUE(req->entries[0].aggregated);   // a:1, a:2
  EXPECT_FALSE(req->entries[1].aggregated);  // b alone, plain
  EXPECT_EQ(req->entries[1].data(), "1");
  EXPECT_EQ(req->entries[1].explicit_hash_key, "");
  EXPECT_TRUE(req->entries[2].aggregated);  // same explicit hash key
  EXPECT_EQ(req->entries[2].explicit_hash_key, "12345");
}

TEST_F(BatcherTest, DrainTakesAllButUploadingRecords) {
  Batcher b({});
  add(b, "a", "1");
  auto in_flight = b.build(now_);
  add(b, "a", "2");
  add(b, "b", "1");
  auto r = make("c", "up");
  r->ready = false;
  r->uploading = true;
  bool wake;
  PendingRecord* up = b.add(std::move(r), now_, wake);
  std::vector<RecordPtr> retry;
  b.complete(*in_flight, std::move(retry), now_, now_);
  auto drained = b.drain();
  ASSERT_EQ(drained.size(), 2u);
  EXPECT_EQ(drained[0]->data, "2");
  EXPECT_EQ(drained[1]->partition_key, "b");
  EXPECT_EQ(b.queued_records(), 1u);
  EXPECT_TRUE(b.remove(up, now_));
  EXPECT_EQ(b.lanes(), 0u);
}

}  // namespace
}  // namespace sluice::kinesis::internal
