// `sluice redis lbs add|status`, run as a user would.
#include <gtest/gtest.h>

#include <filesystem>

#include "integration/redis/redis_test_util.h"
#include "sluice/redis/stream_client.h"
#include "support/redis_server_process.h"
#include "support/test_util.h"

namespace sluice::redis {
namespace {

using sluice::testing::RedisServerProcess;
using sluice::testing::run_command;

std::string sluice_binary() {
  // build/tests/integration/<this test> -> build/tools/sluice/sluice
  auto path =
      std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path().parent_path() /
      "tools" / "sluice" / "sluice";
  return path.string();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

TEST(SluiceRedisCli, AddsToTheLbsAndShowsItsStatus) {
  ASSERT_TRUE(std::filesystem::exists(sluice_binary()))
      << "build the sluice tool first: " << sluice_binary();
  RedisServerProcess server;
  const std::string base = sluice_binary() + " redis --url " + server.url() + " lbs ";
  auto added = run_command(
      base + "add --service shop --stream cart-42 --info '{\"user\":\"u1\",\"n\":2}' 2>&1");
  ASSERT_EQ(added.exit_code, 0) << added.output;
  const std::string id = trim(added.output);
  auto redis = testing::connect_or_die(server.url());
  auto entry = redis->command({"XRANGE", "shop-input", id, id});
  ASSERT_TRUE(entry.ok());
  ASSERT_EQ(entry->size(), 1u);
  EXPECT_EQ((*entry)[0][1][0].str(), "lbs-input");
  EXPECT_EQ((*entry)[0][1][1].str(), R"({"DataStreamName":"cart-42","Info":{"user":"u1","n":2}})");

  // A consumer takes it; status shows the owner and the lock.
  StreamClientOptions o;
  o.consumer_id = "redis-consumer-cli-test";
  auto client = *RedisStreamClient::create(redis, "shop", o);
  auto queue = *client->init();
  auto n = queue->pop_for(std::chrono::seconds(5));
  ASSERT_TRUE(n);
  ASSERT_EQ(n->type, NotificationType::kStreamAdded);

  auto table = run_command(base + "status --service shop 2>&1");
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("cart-42"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("redis-consumer-cli-test"), std::string::npos) << table.output;
  auto json = run_command(base + "status --service shop --json 2>&1");
  ASSERT_EQ(json.exit_code, 0) << json.output;
  EXPECT_NE(json.output.find("\"data_stream\":\"cart-42\""), std::string::npos) << json.output;
  EXPECT_NE(json.output.find("\"owner\":\"redis-consumer-cli-test\""), std::string::npos)
      << json.output;
  EXPECT_NE(json.output.find("\"lock_holder\":\"redis-consumer-cli-test\""), std::string::npos)
      << json.output;
  EXPECT_NE(json.output.find("\"info\":{\"user\":\"u1\",\"n\":2}"), std::string::npos)
      << json.output;
  ASSERT_TRUE(client->done().ok());
}

TEST(SluiceRedisCli, BadInputGetsAClearErrorAndNoPasswordIsPrinted) {
  RedisServerProcess server;
  const std::string url = "redis://:hunter2@127.0.0.1:" + std::to_string(server.port());
  auto bad_info = run_command(sluice_binary() + " redis --url " + server.url() +
                              " lbs add --service s --stream x --info '[1,2]' 2>&1");
  EXPECT_EQ(bad_info.exit_code, 2) << bad_info.output;
  EXPECT_NE(bad_info.output.find("info: not a JSON object"), std::string::npos) << bad_info.output;
  auto tls = run_command(sluice_binary() +
                         " redis --url rediss://127.0.0.1:1 lbs status --service s 2>&1");
  EXPECT_EQ(tls.exit_code, 2);
  EXPECT_NE(tls.output.find("TLS"), std::string::npos) << tls.output;
  auto auth = run_command(sluice_binary() + " redis --url " + url + " lbs status --service s 2>&1");
  EXPECT_EQ(auth.exit_code, 1);
  EXPECT_EQ(auth.output.find("hunter2"), std::string::npos) << auth.output;
  EXPECT_NE(auth.output.find("***"), std::string::npos) << auth.output;
}

}  // namespace
}  // namespace sluice::redis
