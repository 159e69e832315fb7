#include <gtest/gtest.h>

#include "kinesis/batch_builder.h"
#include "sluice/core/base64.h"
#include "sluice/kinesis/aggregation.h"
#include "sluice/kinesis/sequence_number.h"
#include "sluice/kinesis/shard_graph.h"
#include "sluice/kinesis/sqlite_checkpoint_store.h"
#include "support/test_util.h"

namespace sluice::kinesis {
namespace {

TEST(SequenceNumbers, CompareAsBigIntegers) {
  EXPECT_TRUE(compare_sequence_numbers("9", "10") < 0);
  EXPECT_TRUE(compare_sequence_numbers("49590338271490256608559692538361571095921575989136588899",
                                       "49590338271490256608559692538361571095921575989136588898") >
              0);
  EXPECT_TRUE(compare_sequence_numbers("007", "7") == 0);
  ExtendedSequenceNumber a{"100", 0}, b{"100", 3}, c{"101", 0};
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(b.to_string(), "100/3");
  EXPECT_TRUE(is_sequence_number("123"));
  EXPECT_FALSE(is_sequence_number("12a"));
  EXPECT_FALSE(is_sequence_number(""));
}

aws::Shard shard(std::string id, std::string parent = "", std::string adjacent = "",
                 bool open = true) {
  aws::Shard s;
  s.shard_id = std::move(id);
  s.parent_shard_id = std::move(parent);
  s.adjacent_parent_shard_id = std::move(adjacent);
  s.starting_sequence_number = "1";
  if (!open) s.ending_sequence_number = "2";
  return s;
}

TEST(ShardGraph, ParentsGateChildrenAndAgedOutParentsDoNot) {
  ShardGraph g;
  // 0 split into 2 and 3; 2 and 3 merged into 4; 1 is a parent aged out of
  // retention (not listed) of 5.
  g.update({shard("s0", "", "", false), shard("s2", "s0", "", false), shard("s3", "s0", "", false),
            shard("s4", "s2", "s3"), shard("s5", "s1")});
  std::set<std::string> done;
  auto complete = [&](const std::string& id) { return done.count(id) > 0; };
  EXPECT_EQ(g.workable(complete), (std::vector<std::string>{"s0", "s5"}));
  done.insert("s0");
  EXPECT_EQ(g.workable(complete), (std::vector<std::string>{"s2", "s3", "s5"}));
  done.insert("s2");
  EXPECT_EQ(g.workable(complete), (std::vector<std::string>{"s3", "s5"}))
      << "a merge waits for both parents";
  done.insert("s3");
  EXPECT_EQ(g.workable(complete), (std::vector<std::string>{"s4", "s5"}));
  EXPECT_EQ(g.children("s0"), (std::vector<std::string>{"s2", "s3"}));
  EXPECT_EQ(g.parents("s4"), (std::vector<std::string>{"s2", "s3"}));
}

TEST(ShardGraph, ChildShardsFromGetRecordsAreKeptUntilListed) {
  ShardGraph g;
  g.update({shard("s0", "", "", false)});
  g.add_children("s0", {{"s7", {"s0"}, {"0", "5"}}, {"s8", {"s0"}, {"6", "9"}}});
  EXPECT_EQ(g.size(), 3u);
  EXPECT_EQ(g.parents("s7"), std::vector<std::string>{"s0"});
  g.update({shard("s0", "", "", false)});  // a listing that does not have them yet
  EXPECT_EQ(g.size(), 3u);
  g.update({shard("s7", "s0"), shard("s8", "s0")});  // s0 aged out
  EXPECT_EQ(g.size(), 2u);
  EXPECT_EQ(g.workable([](const std::string&) { return false; }),
            (std::vector<std::string>{"s7", "s8"}));
}

TEST(SqliteCheckpointStore, PersistsAcrossReopen) {
  sluice::testing::TempDir dir;
  const std::string path = (dir / "cp.db").string();
  {
    auto s = SqliteCheckpointStore::open(path);
    ASSERT_TRUE(s.ok()) << s.status();
    ASSERT_TRUE((*s)->save("orders", "shardId-000000000001", {"100", std::nullopt, false}).ok());
    ASSERT_TRUE((*s)->save("orders", "shardId-000000000001", {"200", 4, false}).ok());
    ASSERT_TRUE((*s)->mark_shard_end("orders", "shardId-000000000002", "300").ok());
    ASSERT_TRUE((*s)->save("other", "shardId-000000000001", {"9", std::nullopt, false}).ok());
  }
  auto s = SqliteCheckpointStore::open(path);
  ASSERT_TRUE(s.ok());
  auto one = (*s)->get("orders", "shardId-000000000001");
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ(**one, (Checkpoint{"200", 4, false}));
  auto all = (*s)->list("orders");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
  EXPECT_TRUE(all->at("shardId-000000000002").shard_end);
  ASSERT_TRUE((*s)->remove("orders", "shardId-000000000002").ok());
  EXPECT_FALSE((*s)->get("orders", "shardId-000000000002")->has_value());
  EXPECT_EQ((*s)->list("other")->size(), 1u);
}

TEST(SqliteCheckpointStore, ReportsUnopenablePaths) {
  auto s = SqliteCheckpointStore::open("/nonexistent-dir/x/cp.db");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kIOError);
  EXPECT_NE(s.status().message().find("/nonexistent-dir/x/cp.db"), std::string_view::npos);
}

// A GetRecords reply with one aggregate and one plain record, as JSON.
std::string reply_with(const std::string& aggregate, const std::string& plain) {
  std::string body = "{\"Records\":[";
  body += "{\"SequenceNumber\":\"100\",\"Data\":\"" + base64_encode(aggregate) +
          "\",\"PartitionKey\":\"a\"},";
  body += "{\"SequenceNumber\":\"101\",\"Data\":\"" + base64_encode(plain) +
          "\",\"PartitionKey\":\"p\"}";
  body += "],\"NextShardIterator\":\"x\"}";
  return body;
}

TEST(BatchBuilder, DeaggregatesSkipsFiltersAndDecodes) {
  AggregateBuilder agg;
  agg.add("k", "10", "a0");
  agg.add("k", "10", "a1");
  agg.add("k", "999", "a2-out-of-range");
  agg.add("k", "10", "a3");
  RecordBatch batch;
  batch.shard_id = "shardId-000000000000";
  auto parsed = aws::GetRecordsResult::parse(reply_with(agg.finish(), "plain"));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  batch.source = std::move(*parsed);
  BatchBuildOptions o;
  o.hash_range = HashKeyInterval{0, 500};
  o.skip_sequence = "100";
  o.skip_through = 0;  // a checkpoint through sub-sequence 0
  auto decoder = [](std::string_view d) -> Result<std::optional<std::string>> {
    if (d == "plain") return std::optional<std::string>("PLAIN");
    if (d == "a3") return Status::corruption("bad envelope");
    return std::optional<std::string>();
  };
  auto stats = build_batch(batch, o, decoder);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->aggregates, 1u);
  EXPECT_EQ(stats->skipped_by_checkpoint, 1u);
  EXPECT_EQ(stats->dropped_out_of_range, 1u);
  ASSERT_EQ(batch.records.size(), 3u);
  EXPECT_EQ(batch.records[0].data, "a1");
  EXPECT_EQ(batch.records[0].sub_sequence_number, 1u);
  EXPECT_TRUE(batch.records[0].aggregated);
  EXPECT_EQ(batch.records[1].data, "a3");
  EXPECT_EQ(batch.records[2].data, "PLAIN");
  EXPECT_FALSE(batch.records[2].aggregated);
  EXPECT_EQ(batch.aggregate_sizes.at("100"), 4u);
  ASSERT_EQ(batch.payload_errors.size(), 1u);
  EXPECT_EQ(batch.payload_errors.at(1).code(), StatusCode::kCorruption);

  // A retryable decode error fails the whole build (the reader retries).
  auto down = [](std::string_view) -> Result<std::optional<std::string>> {
    return Status::unavailable("claim-check store down");
  };
  EXPECT_EQ(build_batch(batch, o, down).status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace sluice::kinesis
