// KinesisClient against kinesalite: every operation, reshard lineage, and
// the error model.
#include "sluice/aws/kinesis_client.h"

#include <gtest/gtest.h>

#include <set>

#include "sluice/core/executor.h"
#include "support/backends.h"
#include "support/fault_proxy.h"
#include "support/test_util.h"

namespace sluice::aws {
namespace {

using namespace std::chrono_literals;
using testing::Backends;

class KinesisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = KinesisClient::create(options(Backends::get().kinesis_endpoint));
    ASSERT_TRUE(c.ok()) << c.status();
    kinesis_ = std::move(*c);
    stream_.name = testing::unique_name("kc");
  }
  void TearDown() override {
    if (created_) (void)run(kinesis_->delete_stream(stream_));
  }
  static ClientOptions options(const std::string& endpoint) {
    ClientOptions o;
    o.region = "us-east-1";
    o.endpoint = endpoint;
    o.credentials =
        make_static_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    return o;
  }
  template <class T>
  T run(asio::awaitable<T> task) {
    return run_blocking(pool_.executor(), std::move(task));
  }
  void create(int shards) {
    ASSERT_TRUE(run(kinesis_->create_stream(stream_.name, shards)).ok());
    created_ = true;
    ASSERT_TRUE(run(kinesis_->wait_until_active(stream_, 10s)).ok());
  }

  ThreadPool pool_{2};
  std::unique_ptr<KinesisClient> kinesis_;
  StreamRef stream_;
  bool created_ = false;
};

TEST_F(KinesisClientTest, CreateDescribeListDelete) {
  create(3);
  auto summary = run(kinesis_->describe_stream_summary(stream_));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->name, stream_.name);
  EXPECT_EQ(summary->status, "ACTIVE");
  EXPECT_EQ(summary->open_shard_count, 3);
  EXPECT_FALSE(summary->arn.empty());

  auto shards = run(kinesis_->list_shards(stream_));
  ASSERT_TRUE(shards.ok()) << shards.status();
  ASSERT_EQ(shards->size(), 3u);
  EXPECT_EQ((*shards)[0].shard_id, "shardId-000000000000");
  EXPECT_EQ((*shards)[0].hash_key_range.starting_hash_key, "0");
  EXPECT_EQ((*shards)[2].hash_key_range.ending_hash_key, "340282366920938463463374607431768211455");
  EXPECT_TRUE((*shards)[0].is_open());
  EXPECT_FALSE((*shards)[0].starting_sequence_number.empty());

  auto after = run(kinesis_->list_shards(stream_, "shardId-000000000000"));
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[0].shard_id, "shardId-000000000001");

  ASSERT_TRUE(run(kinesis_->delete_stream(stream_)).ok());
  created_ = false;
  // Deletion is asynchronous: DELETING first, then gone.
  Result<StreamSummary> gone = StreamSummary{};
  ASSERT_TRUE(testing::wait_until([&] {
    gone = run(kinesis_->describe_stream_summary(stream_));
    return !gone.ok();
  }));
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  EXPECT_NE(gone.status().message().find("ResourceNotFoundException"), std::string_view::npos)
      << gone.status();
  EXPECT_NE(gone.status().message().find("Kinesis DescribeStreamSummary"), std::string_view::npos);
}

TEST_F(KinesisClientTest, PutAndGetRecordsWithEveryIteratorType) {
  create(1);
  const auto before = std::chrono::system_clock::now() - 2s;
  auto first = run(kinesis_->put_record(stream_, std::string("\x00\x01binary\xff", 9), "pk-0"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->shard_id, "shardId-000000000000");
  std::vector<std::string> payloads;
  std::vector<std::string> keys;
  for (int i = 1; i <= 20; ++i) {
    payloads.push_back("payload-" + std::to_string(i));
    keys.push_back("pk-" + std::to_string(i));
  }
  std::vector<PutRecordsEntry> entries;
  for (int i = 0; i < 20; ++i) entries.push_back({payloads[i], keys[i]});
  auto put = run(kinesis_->put_records(stream_, entries));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->failed_record_count, 0);
  ASSERT_EQ(put->records.size(), 20u);
  EXPECT_TRUE(put->records[19].ok());

  auto read_all = [&](IteratorPosition pos) {
    auto it = run(kinesis_->get_shard_iterator(stream_, "shardId-000000000000", pos));
    EXPECT_TRUE(it.ok()) << it.status();
    auto r = run(kinesis_->get_records(*it, 1000));
    EXPECT_TRUE(r.ok()) << r.status();
    return r;
  };
  auto all = read_all({.type = ShardIteratorType::kTrimHorizon});
  ASSERT_EQ(all->records.size(), 21u);
  EXPECT_EQ(all->records[0].data, std::string_view("\x00\x01binary\xff", 9));
  EXPECT_EQ(all->records[0].partition_key, "pk-0");
  EXPECT_EQ(all->records[0].sequence_number, first->sequence_number);
  EXPECT_EQ(all->records[20].data, "payload-20");
  EXPECT_GE(all->records[0].approximate_arrival, before);
  EXPECT_TRUE(all->next_shard_iterator.has_value());
  EXPECT_EQ(all->millis_behind_latest.value_or(-1), 0);
  EXPECT_EQ(all->data_bytes, 9u + 20 * 9 + 11 * 1 + 0);  // "payload-N" is 9 or 10 bytes

  auto at = read_all({.type = ShardIteratorType::kAtSequenceNumber,
                      .sequence_number = std::string(all->records[5].sequence_number)});
  ASSERT_FALSE(at->records.empty());
  EXPECT_EQ(at->records[0].data, "payload-5");
  auto after = read_all({.type = ShardIteratorType::kAfterSequenceNumber,
                         .sequence_number = std::string(all->records[5].sequence_number)});
  EXPECT_EQ(after->records[0].data, "payload-6");
  EXPECT_EQ(after->records.size(), 15u);
  auto latest = read_all({.type = ShardIteratorType::kLatest});
  EXPECT_TRUE(latest->records.empty());
  auto ts = read_all({.type = ShardIteratorType::kAtTimestamp, .timestamp = before});
  EXPECT_EQ(ts->records.size(), 21u);
  // A timestamp in the future is refused, with the service's explanation.
  auto future_it =
      run(kinesis_->get_shard_iterator(stream_, "shardId-000000000000",
                                       {.type = ShardIteratorType::kAtTimestamp,
                                        .timestamp = std::chrono::system_clock::now() + 1h}));
  EXPECT_EQ(future_it.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(future_it.status().message().find("timestamp"), std::string_view::npos);

  // Limit is honoured and the next iterator continues.
  auto it = run(kinesis_->get_shard_iterator(stream_, "shardId-000000000000",
                                             {.type = ShardIteratorType::kTrimHorizon}));
  auto page1 = run(kinesis_->get_records(*it, 7));
  ASSERT_EQ(page1->records.size(), 7u);
  auto page2 = run(kinesis_->get_records(*page1->next_shard_iterator, 7));
  ASSERT_EQ(page2->records.size(), 7u);
  EXPECT_EQ(page2->records[0].data, "payload-7");
}

TEST_F(KinesisClientTest, SplitAndMergeLineage) {
  create(2);
  // Split shard 0 in the middle of its range.
  auto shards = run(kinesis_->list_shards(stream_));
  ASSERT_TRUE(shards.ok());
  ASSERT_TRUE(run(kinesis_->split_shard(stream_, "shardId-000000000000",
                                        "85070591730234615865843651857942052864"))
                  .ok());
  ASSERT_TRUE(run(kinesis_->wait_until_active(stream_, 10s)).ok());
  shards = run(kinesis_->list_shards(stream_));
  ASSERT_EQ(shards->size(), 4u);
  const Shard& parent = (*shards)[0];
  EXPECT_FALSE(parent.is_open());
  std::set<std::string> children;
  for (const auto& s : *shards) {
    if (s.parent_shard_id == parent.shard_id) children.insert(s.shard_id);
  }
  EXPECT_EQ(children, (std::set<std::string>{"shardId-000000000002", "shardId-000000000003"}));

  // Reading the closed parent to its end: kinesalite leaves out NextShardIterator.
  auto it = run(kinesis_->get_shard_iterator(stream_, parent.shard_id,
                                             {.type = ShardIteratorType::kTrimHorizon}));
  ASSERT_TRUE(it.ok());
  std::optional<std::string> next = *it;
  for (int i = 0; i < 10 && next; ++i) {
    auto r = run(kinesis_->get_records(*next, 100));
    ASSERT_TRUE(r.ok()) << r.status();
    next = r->next_shard_iterator;
  }
  EXPECT_FALSE(next.has_value()) << "a closed shard's end has no next iterator";

  // Merge the two children back.
  ASSERT_TRUE(
      run(kinesis_->merge_shards(stream_, "shardId-000000000002", "shardId-000000000003")).ok());
  ASSERT_TRUE(run(kinesis_->wait_until_active(stream_, 10s)).ok());
  shards = run(kinesis_->list_shards(stream_));
  ASSERT_EQ(shards->size(), 5u);
  const Shard& merged = shards->back();
  EXPECT_EQ(merged.parent_shard_id, "shardId-000000000002");
  EXPECT_EQ(merged.adjacent_parent_shard_id, "shardId-000000000003");
  EXPECT_TRUE(merged.is_open());
}

TEST_F(KinesisClientTest, ArnIsSentAsStreamArn) {
  // kinesalite rejects StreamARN, so the proxy answers for it: the point is
  // what the client sends.
  testing::FaultProxy proxy(Backends::get().kinesis_endpoint);
  testing::FaultRule rule;
  rule.target_contains = "ListShards";
  rule.body_contains = "\"StreamARN\":\"arn:aws:kinesis:us-east-1:123456789012:stream/s\"";
  rule.times = -1;
  rule.status = 200;
  rule.body =
      "{\"Shards\":[{\"ShardId\":\"shardId-000000000000\",\"HashKeyRange\":{\"StartingHashKey\":"
      "\"0\","
      "\"EndingHashKey\":\"1\"},\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"1\"}}]}";
  proxy.add_rule(rule);
  auto c = KinesisClient::create(options(proxy.url()));
  auto shards = run((*c)->list_shards({.arn = "arn:aws:kinesis:us-east-1:123456789012:stream/s"}));
  ASSERT_TRUE(shards.ok()) << shards.status();
  EXPECT_EQ(proxy.faults(), 1);
  ASSERT_EQ(shards->size(), 1u);
}

TEST_F(KinesisClientTest, ValidatesArguments) {
  EXPECT_EQ(run(kinesis_->list_shards({})).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(run(kinesis_->get_records("x", 0)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(run(kinesis_->get_records("x", 10001)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(run(kinesis_->put_record({.name = "s"}, "d", "")).status().code(),
            StatusCode::kInvalidArgument);
  std::vector<PutRecordsEntry> none;
  EXPECT_EQ(run(kinesis_->put_records({.name = "s"}, none)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(run(kinesis_->get_shard_iterator({.name = "s"}, "shardId-000000000000",
                                             {.type = ShardIteratorType::kAfterSequenceNumber}))
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(run(kinesis_->create_stream("x", 0)).code(), StatusCode::kInvalidArgument);
}

TEST(GetRecordsParse, RejectsMalformedReplies) {
  for (const char* body :
       {"", "[]", "{\"Records\":{}}",
        "{\"Records\":[{\"Data\":\"!!!!\",\"SequenceNumber\":\"1\"}]}",
        "{\"Records\":[{\"SequenceNumber\":\"1\"}]}", "{\"Records\":[{\"Data\":5}]}"}) {
    auto r = GetRecordsResult::parse(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << body;
    EXPECT_NE(r.status().message().find("GetRecords"), std::string_view::npos);
  }
}

TEST(GetRecordsParse, ReadsChildShardsAndNullIterator) {
  std::string body =
      "{\"Records\":[],\"NextShardIterator\":null,\"MillisBehindLatest\":1234,\"ChildShards\":[{"
      "\"ShardId\":\"shardId-000000000002\",\"ParentShards\":[\"shardId-000000000000\"],"
      "\"HashKeyRange\":{\"StartingHashKey\":\"0\",\"EndingHashKey\":\"99\"}}]}";
  auto r = GetRecordsResult::parse(body);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->next_shard_iterator.has_value());
  EXPECT_EQ(r->millis_behind_latest, 1234);
  ASSERT_EQ(r->child_shards.size(), 1u);
  EXPECT_EQ(r->child_shards[0].shard_id, "shardId-000000000002");
  EXPECT_EQ(r->child_shards[0].parent_shards, std::vector<std::string>{"shardId-000000000000"});
  EXPECT_EQ(r->child_shards[0].hash_key_range.ending_hash_key, "99");
}

TEST(GetRecordsParse, RecordsOutliveTheBodyAndMoves) {
  std::string body =
      "{\"Records\":[{\"SequenceNumber\":"
      "\"49590338271490256608559692538361571095921575989136588898\","
      "\"ApproximateArrivalTimestamp\":1.7e9,\"Data\":\"aGVsbG8=\",\"PartitionKey\":\"k\\u00e9\"}],"
      "\"NextShardIterator\":\"AAAA\"}";
  auto r = GetRecordsResult::parse(body);
  ASSERT_TRUE(r.ok()) << r.status();
  body.assign(body.size(), 'x');  // the result owns what it points at
  GetRecordsResult moved = std::move(*r);
  ASSERT_EQ(moved.records.size(), 1u);
  EXPECT_EQ(moved.records[0].data, "hello");
  EXPECT_EQ(moved.records[0].partition_key, "k\xc3\xa9");
  EXPECT_EQ(moved.records[0].sequence_number,
            "49590338271490256608559692538361571095921575989136588898");
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(
                moved.records[0].approximate_arrival.time_since_epoch())
                .count(),
            1700000000);
}

}  // namespace
}  // namespace sluice::aws
