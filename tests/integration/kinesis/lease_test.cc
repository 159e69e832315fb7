// Several `sluice kinesis consume` processes sharing one stream through
// Redis leases: shards are shared out, never read twice at once, and a
// process killed with SIGKILL has its shards picked up by the others.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <set>

#include "consumer_harness.h"
#include "sluice/core/base64.h"
#include "support/redis_server_process.h"

namespace sluice::kinesis::testing {
namespace {

class LeaseTest : public KinesisStreamTest {
 protected:
  std::unique_ptr<sluice::testing::ChildProcess> consumer_process(
      const std::string& redis_prefix_db) {
    const std::string bin = sluice::testing::sluice_binary();
    const auto& b = sluice::testing::Backends::get();
    return std::make_unique<sluice::testing::ChildProcess>(
        std::vector<std::string>{bin, "--endpoint-url", b.kinesis_endpoint, "--log-level", "warn",
                                 "kinesis", "consume", "--stream", stream_, "--from",
                                 "trim-horizon", "--checkpoint", redis_prefix_db, "--lease",
                                 redis_prefix_db, "--lease-ttl", "3", "--batch-size", "50"},
        std::vector<std::pair<std::string, std::string>>{{"AWS_ACCESS_KEY_ID", "AKID"},
                                                         {"AWS_SECRET_ACCESS_KEY", "secret"},
                                                         {"AWS_REGION", "us-east-1"}});
  }

  // The "data" of every record line a process printed, decoded.
  static std::vector<std::pair<std::string, std::string>> records_of(
      const sluice::testing::ChildProcess& p) {
    std::vector<std::pair<std::string, std::string>> out;  // (shard, data)
    for (const auto& line : p.lines()) {
      if (!line.starts_with("{\"shard_id\"")) continue;
      const auto shard_at = line.find("\"shard_id\":\"") + 12;
      const std::string shard = line.substr(shard_at, line.find('"', shard_at) - shard_at);
      const auto data_at = line.find("\"data\":\"") + 8;
      auto data = base64_decode(line.substr(data_at, line.find('"', data_at) - data_at));
      if (data.ok()) out.emplace_back(shard, *data);
    }
    return out;
  }
};

TEST_F(LeaseTest, ProcessesShareShardsAndTakeOverFromAKilledOne) {
  create_stream(6);
  // Each test has its own Redis database-worth of keys: a fresh prefix is
  // not configurable from the CLI, so the stream name (unique) keeps keys apart.
  const std::string redis = sluice::testing::Backends::get().redis_url;
  auto puts = put(600, "r");
  std::vector<std::unique_ptr<sluice::testing::ChildProcess>> procs;
  for (int i = 0; i < 3; ++i) {
    procs.push_back(consumer_process(redis));
    std::this_thread::sleep_for(500ms);  // staggered: the first takes all, then sheds
  }
  auto union_of = [&] {
    std::multiset<std::string> all;
    for (const auto& p : procs) {
      for (const auto& [shard, data] : records_of(*p)) all.insert(data);
    }
    return all;
  };
  auto distinct = [&] {
    auto all = union_of();
    return std::set<std::string>(all.begin(), all.end()).size();
  };
  ASSERT_TRUE(wait_for([&] { return distinct() >= 600; }, 60s))
      << distinct() << "\n"
      << [&] {
           std::string out;
           for (const auto& p : procs)
             for (const auto& l : p->lines())
               if (!l.starts_with("{")) out += l + "\n";
           return out;
         }();
  // Leases settle: every process owns shards (6 shards over 3 processes).
  ASSERT_TRUE(wait_for(
      [&] {
        put(30, "probe-" + std::to_string(std::rand()));
        std::this_thread::sleep_for(300ms);
        int with_records = 0;
        for (const auto& p : procs) with_records += !records_of(*p).empty();
        return with_records == 3;
      },
      60s))
      << "every process received a share";
  {
    auto all = union_of();
    const std::set<std::string> unique(all.begin(), all.end());
    EXPECT_EQ(all.size(), unique.size())
        << "no record was delivered twice: no shard was read by two "
           "processes at once, handovers were graceful";
  }

  // SIGKILL one process: its leases expire (3 s) and the others take over.
  std::set<std::string> victim_shards;
  for (const auto& [shard, data] : records_of(*procs[0])) victim_shards.insert(shard);
  ASSERT_FALSE(victim_shards.empty());
  procs[0]->signal(SIGKILL);
  EXPECT_EQ(procs[0]->wait(10s), 128 + SIGKILL);
  auto after = put(300, "after-kill");
  std::set<std::string> expected;
  for (const auto& p : after) expected.insert(p.data);
  ASSERT_TRUE(wait_for(
      [&] {
        std::set<std::string> seen;
        for (std::size_t i = 1; i < procs.size(); ++i) {
          for (const auto& [shard, data] : records_of(*procs[i])) seen.insert(data);
        }
        return std::includes(seen.begin(), seen.end(), expected.begin(), expected.end());
      },
      60s))
      << "the survivors deliver everything written after the kill";
  // Nothing lost overall; repeats only from the killed process's shards,
  // bounded by checkpoint_every (100) per shard.
  auto all = union_of();
  for (const auto& p : puts) EXPECT_TRUE(all.count(p.data)) << "lost " << p.data;
  std::map<std::string, int> repeats;
  for (const auto& d : std::set<std::string>(all.begin(), all.end())) {
    if (all.count(d) > 1) repeats[d] = static_cast<int>(all.count(d));
  }
  EXPECT_LE(repeats.size(), 100u * victim_shards.size());
  for (auto& p : procs) p->signal(SIGTERM);
  for (std::size_t i = 1; i < procs.size(); ++i) EXPECT_EQ(procs[i]->wait(30s), 0);
}

}  // namespace
}  // namespace sluice::kinesis::testing
