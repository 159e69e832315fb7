#include "sluice/redis/checkpoint_store.h"

#include <gtest/gtest.h>

#include "integration/redis/redis_test_util.h"
#include "sluice/redis/client.h"
#include "support/redis_server_process.h"
#include "support/test_util.h"

namespace sluice::redis {
namespace {

using sluice::testing::unique_name;
using testing::shared_redis;

class RedisCheckpointStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = shared_redis();
    ASSERT_TRUE(redis_);
    RedisCheckpointStoreOptions o;
    o.prefix = unique_name("kinesis:checkpoint");
    auto s = RedisCheckpointStore::create(redis_, o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  std::shared_ptr<RedisClient> redis_;
  std::unique_ptr<RedisCheckpointStore> store_;
};

TEST_F(RedisCheckpointStoreTest, SavesGetsListsAndRemoves) {
  EXPECT_FALSE(store_->get("orders", "shardId-000000000001")->has_value());
  Checkpoint a{"49590338271490256608559692538361571095921575989136588898", std::nullopt, false};
  Checkpoint b{"4959", 3, false};
  ASSERT_TRUE(store_->save("orders", "shardId-000000000001", a).ok());
  ASSERT_TRUE(store_->save("orders", "shardId-000000000002", b).ok());
  ASSERT_TRUE(store_->mark_shard_end("orders", "shardId-000000000003", "77").ok());
  ASSERT_TRUE(store_->save("orders-eu", "shardId-000000000009", a).ok());  // another stream

  auto got = store_->get("orders", "shardId-000000000002");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, b);

  auto all = store_->list("orders");
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ(all->at("shardId-000000000001"), a);
  EXPECT_TRUE(all->at("shardId-000000000003").shard_end);
  EXPECT_EQ(all->at("shardId-000000000003").sequence_number, "77");

  ASSERT_TRUE(store_->remove("orders", "shardId-000000000001").ok());
  ASSERT_TRUE(store_->remove("orders", "no-such-shard").ok());
  EXPECT_EQ(store_->list("orders")->size(), 2u);
}

TEST_F(RedisCheckpointStoreTest, UsesSeed000KeysAndPlainValues) {
  ASSERT_TRUE(
      store_->save("orders", "shardId-000000000001", Checkpoint{"12345", std::nullopt, false})
          .ok());
  const std::string key = store_->options().prefix + ":orders:shardId-000000000001";
  EXPECT_EQ(store_->key("orders", "shardId-000000000001"), key);
  // What the Go library writes and reads: the plain sequence number.
  EXPECT_EQ(redis_->command({"GET", key})->str(), "12345");
  ASSERT_TRUE(store_->mark_shard_end("orders", "shardId-000000000001", "999").ok());
  EXPECT_EQ(redis_->command({"GET", key})->str(), "SHARD_END:999");
  // A value written by the Go library is read back.
  ASSERT_TRUE(
      redis_->command({"SET", store_->key("orders", "shardId-000000000002"), "SHARD_END"}).ok());
  auto got = store_->get("orders", "shardId-000000000002");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_TRUE((*got)->shard_end);
}

TEST_F(RedisCheckpointStoreTest, TtlIsSetAndRefreshedOnEverySave) {
  RedisCheckpointStoreOptions o = store_->options();
  o.ttl = std::chrono::hours(24 * 30);
  auto store = *RedisCheckpointStore::create(redis_, o);
  ASSERT_TRUE(store->save("s", "shard-1", Checkpoint{"1", std::nullopt, false}).ok());
  const std::string key = store->key("s", "shard-1");
  auto ttl = redis_->command({"PTTL", key});
  EXPECT_GT(ttl->integer(), 29LL * 24 * 3600 * 1000);
  ASSERT_TRUE(redis_->command({"PEXPIRE", key, "5000"}).ok());
  ASSERT_TRUE(store->save("s", "shard-1", Checkpoint{"2", std::nullopt, false}).ok());
  EXPECT_GT(redis_->command({"PTTL", key})->integer(), 29LL * 24 * 3600 * 1000);

  o.ttl = std::chrono::milliseconds(0);  // keep forever
  auto forever = *RedisCheckpointStore::create(redis_, o);
  ASSERT_TRUE(forever->save("s", "shard-2", Checkpoint{"1", std::nullopt, false}).ok());
  EXPECT_EQ(redis_->command({"PTTL", forever->key("s", "shard-2")})->integer(), -1);
}

TEST_F(RedisCheckpointStoreTest, ListScansManyKeysAndEscapesGlobCharacters) {
  RedisCheckpointStoreOptions o = store_->options();
  o.scan_count = 10;  // many SCAN rounds
  auto store = *RedisCheckpointStore::create(redis_, o);
  std::vector<Command> sets;
  for (int i = 0; i < 250; ++i) {
    sets.push_back({"SET", store->key("st*r[1]", "shard-" + std::to_string(i)), std::to_string(i)});
  }
  ASSERT_TRUE(redis_->pipeline(sets).ok());
  ASSERT_TRUE(store->save("stXr1", "shard-x", Checkpoint{"1", std::nullopt, false})
                  .ok());  // would match unescaped
  auto all = store->list("st*r[1]");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 250u);
  EXPECT_EQ(all->at("shard-42").sequence_number, "42");
}

TEST(RedisCheckpointStoreScan, ListNeverUsesKeys) {
  sluice::testing::RedisServerProcess server;
  auto redis = testing::connect_or_die(server.url());
  auto store = *RedisCheckpointStore::create(redis, {});
  ASSERT_TRUE(store->save("s", "shardId-1", Checkpoint{"1", std::nullopt, false}).ok());
  ASSERT_EQ(store->list("s")->size(), 1u);
  const std::string stats = redis->command({"INFO", "commandstats"})->str();
  EXPECT_NE(stats.find("cmdstat_scan:"), std::string::npos) << stats;
  EXPECT_EQ(stats.find("cmdstat_keys:"), std::string::npos) << stats;
}

TEST_F(RedisCheckpointStoreTest, CorruptValuesAreReportedNotGuessed) {
  ASSERT_TRUE(redis_->command({"SET", store_->key("s", "bad"), "not a checkpoint!"}).ok());
  auto got = store_->get("s", "bad");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kCorruption);
  EXPECT_NE(got.status().message().find(store_->key("s", "bad")), std::string_view::npos);
}

TEST(RedisCheckpointStoreOptions, ValidateNamesTheField) {
  RedisCheckpointStoreOptions o;
  o.prefix = "";
  EXPECT_NE(o.validate().message().find("prefix"), std::string_view::npos);
  o = {};
  o.ttl = std::chrono::milliseconds(-1);
  EXPECT_NE(o.validate().message().find("ttl"), std::string_view::npos);
}

}  // namespace
}  // namespace sluice::redis
