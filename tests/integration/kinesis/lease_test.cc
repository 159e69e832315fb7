// `sluice kinesis consume` processes: several sharing one stream through
// Redis leases (shards are shared out, never read twice at once, and a
// process killed with SIGKILL has its shards picked up by the others), and
// the check before consuming that names an unreachable endpoint or a
// missing stream instead of retrying forever.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

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

// A port nothing listens on: bound, read, closed.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST_F(LeaseTest, ConsumeStopsAtOnceNamingTheCauseWhenTheStreamCannotBeReached) {
  const std::string env =
      "timeout 60 env AWS_ACCESS_KEY_ID=AKID AWS_SECRET_ACCESS_KEY=secret AWS_REGION=us-east-1 ";
  const std::string bin = sluice::testing::sluice_binary();
  for (const char* mode : {"", " --app sluice-check-app"}) {
    SCOPED_TRACE(mode);
    const std::string nowhere = "http://127.0.0.1:" + std::to_string(closed_port());
    auto unreachable = sluice::testing::run_command(env + bin + " --endpoint-url " + nowhere +
                                                    " kinesis consume --stream orders" + mode +
                                                    " --max-records 1 2>&1");
    EXPECT_NE(unreachable.exit_code, 0) << unreachable.output;
    EXPECT_NE(unreachable.exit_code, 124) << "retried instead of failing: " << unreachable.output;
    EXPECT_NE(unreachable.output.find("checking stream orders"), std::string::npos)
        << unreachable.output;

    const std::string missing = sluice::testing::unique_name("no-such-stream");
    auto absent = sluice::testing::run_command(
        env + bin + " --endpoint-url " + sluice::testing::Backends::get().kinesis_endpoint +
        " kinesis consume --stream " + missing + mode + " --max-records 1 2>&1");
    EXPECT_NE(absent.exit_code, 0) << absent.output;
    EXPECT_NE(absent.exit_code, 124) << "retried instead of failing: " << absent.output;
    EXPECT_NE(absent.output.find("checking stream " + missing), std::string::npos) << absent.output;
  }
}

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
