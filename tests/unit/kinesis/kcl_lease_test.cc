// Lease items in the Java KCL's form, lease keys, checkpoint sentinels, and
// the KCL configuration (validation, start strategies, KINESIS_* variables).
#include <gtest/gtest.h>

#include <map>

#include "sluice/kinesis/kcl/config.h"
#include "sluice/kinesis/kcl/lease.h"

namespace sluice::kinesis::kcl {
namespace {

using aws::AttributeValue;

TEST(KclLeaseTest, ItemsRoundTripWithTheKclNamesAndTypes) {
  Lease l;
  l.lease_key = "shardId-000000000003";
  l.shard_id = l.lease_key;
  l.lease_owner = "worker-1";
  l.lease_counter = 12;
  l.owner_switches_since_checkpoint = 2;
  l.checkpoint = "49590338271490256608559692538361571095921575989136588898";
  l.checkpoint_sub_sequence_number = 7;
  l.pending_checkpoint = "49590338271490256608559692538361571095921575989136588999";
  l.pending_checkpoint_sub_sequence_number = 1;
  l.pending_checkpoint_state = std::string("\x00\x01state", 7);
  l.parent_shard_ids = {"shardId-000000000000", "shardId-000000000001"};
  l.starting_hash_key = "0";
  l.ending_hash_key = "85070591730234615865843651857942052863";
  l.throughput_kbps = 12.5;
  l.checkpoint_owner = "worker-0";
  const aws::Item item = lease_to_item(l);
  EXPECT_EQ(item.at("leaseKey").type(), AttributeValue::Type::kS);
  EXPECT_EQ(item.at("leaseCounter").type(), AttributeValue::Type::kN);
  EXPECT_EQ(item.at("ownerSwitchesSinceCheckpoint").type(), AttributeValue::Type::kN);
  EXPECT_EQ(item.at("checkpoint").type(), AttributeValue::Type::kS);
  EXPECT_EQ(item.at("checkpointSubSequenceNumber").type(), AttributeValue::Type::kN);
  EXPECT_EQ(item.at("pendingCheckpointState").type(), AttributeValue::Type::kB);
  EXPECT_EQ(item.at("parentShardId").type(), AttributeValue::Type::kSS);
  EXPECT_EQ(item.at("startingHashKey").type(), AttributeValue::Type::kS);
  EXPECT_EQ(item.at("throughputKBps").type(), AttributeValue::Type::kN);
  EXPECT_FALSE(item.count("childShardIds")) << "only written when there are children";
  auto back = lease_from_item(item);
  ASSERT_TRUE(back.ok() && *back) << back.status();
  EXPECT_EQ(**back, l);
}

TEST(KclLeaseTest, SubSequenceNumberIsAlwaysWritten) {
  Lease l;
  l.lease_key = l.shard_id = "shardId-000000000000";
  l.checkpoint = "TRIM_HORIZON";
  const aws::Item item = lease_to_item(l);
  ASSERT_TRUE(item.count("checkpointSubSequenceNumber"));
  EXPECT_EQ(item.at("checkpointSubSequenceNumber").scalar(), "0");
  EXPECT_FALSE(item.count("leaseOwner")) << "absent when unassigned";
}

TEST(KclLeaseTest, ItemsThatAreNotLeasesAreSkippedAndBadTypesNamed) {
  aws::Item foreign = {{"leaseKey", AttributeValue::S("metrics")},
                       {"entityType", AttributeValue::S("WORKER_METRICS")},
                       {"leaseCounter", AttributeValue::S("oops")}};
  auto r = lease_from_item(foreign);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(*r);
  aws::Item explicit_lease = {{"leaseKey", AttributeValue::S("shardId-1")},
                              {"entityType", AttributeValue::S("LEASE")},
                              {"leaseCounter", AttributeValue::N(3)}};
  auto e = lease_from_item(explicit_lease);
  ASSERT_TRUE(e.ok() && *e);
  EXPECT_EQ((*e)->lease_counter, 3);
  aws::Item bad = {{"leaseKey", AttributeValue::S("shardId-1")},
                   {"leaseCounter", AttributeValue::S("3")}};
  auto b = lease_from_item(bad);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kCorruption);
  EXPECT_NE(std::string(b.status().message()).find("leaseCounter"), std::string::npos);
}

TEST(KclLeaseTest, MultiStreamLeaseKeysAreParsed) {
  auto k = LeaseKey::parse("123456789012:orders:1700000000:shardId-000000000007");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->stream_identifier, "123456789012:orders:1700000000");
  EXPECT_EQ(k->shard_id, "shardId-000000000007");
  EXPECT_EQ(k->stream_name(), "orders");
  EXPECT_EQ(k->to_string(), "123456789012:orders:1700000000:shardId-000000000007");
  auto single = LeaseKey::parse("shardId-000000000001");
  ASSERT_TRUE(single.ok());
  EXPECT_TRUE(single->stream_identifier.empty());
  EXPECT_FALSE(LeaseKey::parse("a:b:shardId-1").ok());
  EXPECT_FALSE(LeaseKey::parse("").ok());
}

TEST(KclLeaseTest, CheckpointSentinelsAndPositions) {
  Lease l;
  l.lease_key = "shardId-1";
  for (const auto& [text, sentinel] :
       std::map<std::string, StartSentinel>{{"TRIM_HORIZON", StartSentinel::kTrimHorizon},
                                            {"LATEST", StartSentinel::kLatest},
                                            {"AT_TIMESTAMP", StartSentinel::kAtTimestamp}}) {
    l.checkpoint = text;
    auto c = checkpoint_of(l);
    ASSERT_TRUE(c.ok() && *c) << text;
    EXPECT_EQ((*c)->sentinel, sentinel) << text;
    EXPECT_EQ(checkpoint_text(**c), text);
  }
  l.checkpoint = "SHARD_END";
  auto end = checkpoint_of(l);
  ASSERT_TRUE(end.ok() && *end);
  EXPECT_TRUE((*end)->shard_end);
  l.checkpoint = "12345";
  l.checkpoint_sub_sequence_number = 0;
  auto seq = checkpoint_of(l);
  ASSERT_TRUE(seq.ok() && *seq);
  EXPECT_EQ((*seq)->sequence_number, "12345");
  EXPECT_EQ((*seq)->sub_sequence_number, 0u) << "kept: resuming skips that record";
  l.checkpoint = "garbage";
  EXPECT_EQ(checkpoint_of(l).status().code(), StatusCode::kCorruption);
}

// --- configuration ----------------------------------------------------------------

TEST(KclConfigTest, StartStrategiesParse) {
  EXPECT_EQ(*StartStrategy::parse("LATEST"), StartStrategy::latest());
  EXPECT_EQ(*StartStrategy::parse("oldest"), StartStrategy::oldest());
  EXPECT_EQ(*StartStrategy::parse("TRIM_HORIZON"), StartStrategy::oldest());
  EXPECT_EQ(*StartStrategy::parse("TIMESTAMP:1640995200000"),
            StartStrategy::timestamp(1640995200000));
  EXPECT_EQ(StartStrategy::timestamp(5).to_string(), "TIMESTAMP:5");
  for (const char* bad : {"", "NEWEST", "TIMESTAMP:", "TIMESTAMP:abc", "TIMESTAMP:-5"}) {
    auto s = StartStrategy::parse(bad);
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(KclConfigTest, ValidationNamesTheField) {
  ManagementConfig m;
  EXPECT_TRUE(m.validate().ok());
  EXPECT_EQ(m.effective_renew_interval(), std::chrono::milliseconds(3333));
  m.max_leases = -1;
  EXPECT_NE(std::string(m.validate().message()).find("max_leases"), std::string::npos);
  m = {};
  m.renew_interval = std::chrono::milliseconds(6000);
  EXPECT_NE(std::string(m.validate().message()).find("renew_interval"), std::string::npos);
  m = {};
  m.failover_time = std::chrono::milliseconds(0);
  EXPECT_NE(std::string(m.validate().message()).find("failover_time"), std::string::npos);
  PollingConfig p;
  EXPECT_TRUE(p.validate().ok());
  for (int bad : {0, 10001}) {
    p.limit = bad;
    EXPECT_NE(std::string(p.validate().message()).find("PollingConfig.limit"), std::string::npos);
  }
}

using Env = std::map<std::string, std::string>;

Status apply(const Env& env, ManagementConfig& m, PollingConfig& p) {
  return apply_environment(m, p, [&env](const char* name) -> std::optional<std::string> {
    auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
}

TEST(KclConfigTest, EnvironmentOverridesTheSeedsVariables) {
  ManagementConfig m;
  PollingConfig p;
  ASSERT_TRUE(apply({{"KINESIS_LEASES_TO_ACQUIRE", "2"},
                     {"KINESIS_MAX_LEASES", "20"},
                     {"KINESIS_START_STRATEGY", "TIMESTAMP:1640995200000"},
                     {"KINESIS_BATCH_LIMIT", "1000"}},
                    m, p)
                  .ok());
  EXPECT_EQ(m.leases_to_acquire, 2);
  EXPECT_EQ(m.max_leases, 20);
  EXPECT_EQ(m.start_strategy, StartStrategy::timestamp(1640995200000));
  EXPECT_EQ(p.limit, 1000);
  ASSERT_TRUE(apply({{"KINESIS_START_STRATEGY", "oldest"}, {"KINESIS_MAX_LEASES", ""}}, m, p).ok());
  EXPECT_EQ(m.start_strategy, StartStrategy::oldest());
  EXPECT_EQ(m.max_leases, 20) << "empty changes nothing";
}

TEST(KclConfigTest, ABadVariableIsNamedAndChangesNothing) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"KINESIS_BATCH_LIMIT", "0"},
      {"KINESIS_BATCH_LIMIT", "10001"},
      {"KINESIS_MAX_LEASES", "-1"},
      {"KINESIS_MAX_LEASES", "two"},
      {"KINESIS_START_STRATEGY", "SOMETIME"}};
  for (const auto& [name, value] : cases) {
    ManagementConfig m;
    PollingConfig p;
    Env env = {{"KINESIS_LEASES_TO_ACQUIRE", "3"}};
    env[name] = value;
    Status s = apply(env, m, p);
    ASSERT_EQ(s.code(), StatusCode::kInvalidArgument) << name << "=" << value;
    EXPECT_NE(std::string(s.message()).find(name), std::string::npos) << s;
    EXPECT_EQ(m.leases_to_acquire, 0) << "nothing applied when one variable is bad";
    EXPECT_EQ(p.limit, 10000);
  }
}

TEST(KclConfigTest, WorkerIdsAreHostPlusRandomSuffix) {
  const std::string a = generate_worker_id(), b = generate_worker_id();
  EXPECT_NE(a, b);
  ASSERT_GT(a.size(), 9u);
  EXPECT_EQ(a[a.size() - 9], '-');
}

}  // namespace
}  // namespace sluice::kinesis::kcl
