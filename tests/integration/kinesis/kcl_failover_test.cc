// `sluice kinesis consume --app` (a KCL worker in its own process) beside
// in-process workers: a process killed with SIGKILL has its shards resumed
// by the others after the failover time with nothing lost; restarts resume
// from the lease table; `sluice kinesis leases` shows the table.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "kcl_harness.h"
#include "sluice/core/base64.h"
#include "support/redis_server_process.h"

namespace sluice::kinesis::testing {
namespace {

class KclProcessTest : public KclTest {
 protected:
  std::vector<std::string> base_args() {
    const auto& b = sluice::testing::Backends::get();
    return {sluice::testing::sluice_binary(), "--endpoint-url", b.kinesis_endpoint, "--log-level",
            "warn"};
  }
  std::vector<std::string> consume_args(const std::string& worker_id) {
    auto a = base_args();
    const auto& b = sluice::testing::Backends::get();
    for (const std::string& s :
         {std::string("kinesis"), std::string("consume"), std::string("--app"), table_,
          std::string("--stream"), stream_, std::string("--from"), std::string("trim-horizon"),
          std::string("--worker-id"), worker_id, std::string("--failover-time"), std::string("2"),
          std::string("--take-interval"), std::string("0.3"), std::string("--batch-size"),
          std::string("50"), std::string("--dynamodb-endpoint-url"), b.dynamodb_endpoint}) {
      a.push_back(s);
    }
    return a;
  }
  static std::vector<std::pair<std::string, std::string>> env() {
    return {{"AWS_ACCESS_KEY_ID", "AKID"},
            {"AWS_SECRET_ACCESS_KEY", "secret"},
            {"AWS_REGION", "us-east-1"}};
  }
  std::string shell_command(const std::vector<std::string>& args) {
    std::string cmd =
        "env AWS_ACCESS_KEY_ID=AKID AWS_SECRET_ACCESS_KEY=secret AWS_REGION=us-east-1";
    for (const auto& a : args) cmd += " '" + a + "'";
    return cmd;
  }
  // (shard, data) of every record line a process printed.
  static std::vector<std::pair<std::string, std::string>> records_of(
      const std::vector<std::string>& lines) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& line : lines) {
      if (!line.starts_with("{\"shard_id\"")) continue;
      const auto shard_at = line.find("\"shard_id\":\"") + 12;
      const std::string shard = line.substr(shard_at, line.find('"', shard_at) - shard_at);
      const auto data_at = line.find("\"data\":\"") + 8;
      auto data = base64_decode(line.substr(data_at, line.find('"', data_at) - data_at));
      if (data.ok()) out.emplace_back(shard, *data);
    }
    return out;
  }
  static std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
      auto end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      out.push_back(text.substr(start, end - start));
      start = end + 1;
    }
    return out;
  }
};

TEST_F(KclProcessTest, AKilledWorkersShardsAreResumedByTheOthersWithNothingLost) {
  create_stream(6);
  auto puts = put(300, "before-kill", 64);
  sluice::testing::ChildProcess child(consume_args("doomed"), env());
  start_worker("survivor-a");
  start_worker("survivor-b");
  const std::vector<std::string> ids = {"doomed", "survivor-a", "survivor-b"};
  ASSERT_TRUE(wait_for([&] { return balanced(ids, 6); }, 60s)) << describe_owners();
  auto everything = [&] {
    std::set<std::string> all = ledger_.distinct_data();
    for (const auto& [shard, data] : records_of(child.lines())) all.insert(data);
    return all;
  };
  ASSERT_TRUE(wait_for([&] { return everything().size() >= 300; }, 60s)) << everything().size();
  // Balanced: the child works on its shards too.
  auto during = put(150, "balanced", 64);
  ASSERT_TRUE(wait_for([&] { return everything().size() >= 450; }, 60s)) << everything().size();
  ASSERT_FALSE(records_of(child.lines()).empty()) << "the child process consumed its share";
  std::set<std::string> doomed_shards;
  for (const auto& l : scan()) {
    if (l.lease_owner == "doomed") doomed_shards.insert(l.shard_id);
  }
  ASSERT_EQ(doomed_shards.size(), 2u);

  child.signal(SIGKILL);
  EXPECT_EQ(child.wait(10s), 128 + SIGKILL);
  auto after = put(300, "after-kill", 64);
  // The survivors take the dead worker's leases once they expire, and read
  // its shards from its last checkpoint.
  ASSERT_TRUE(wait_for(
      [&] {
        return balanced({"survivor-a", "survivor-b"}, 6);
      },
      60s))
      << describe_owners();
  ASSERT_TRUE(wait_for(
      [&] {
        auto seen = ledger_.distinct_data();
        for (const auto& p : after) {
          if (!seen.count(p.data)) return false;
        }
        return true;
      },
      60s))
      << "the survivors deliver everything written after the kill";
  auto all = everything();
  expect_none_lost(puts, all);
  expect_none_lost(during, all);
  expect_none_lost(after, all);
  std::set<std::string> resumed;
  for (const auto& d : ledger_.deliveries()) {
    if (doomed_shards.count(d.shard) && d.data.starts_with("after-kill")) resumed.insert(d.shard);
  }
  EXPECT_EQ(resumed, doomed_shards) << "every shard of the killed worker was processed again";
  for (auto& w : workers_) EXPECT_TRUE(w->stop().ok());
}

TEST_F(KclProcessTest, ConsumeAppResumesFromTheLeaseTableAfterARestart) {
  create_stream(2);
  auto puts = put(60, "restart");
  auto args = consume_args("restarting");
  args.push_back("--idle-exit");
  args.push_back("3");
  auto first = sluice::testing::run_command(shell_command(args) + " 2>&1");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  auto printed = records_of(split_lines(first.output));
  std::set<std::string> seen;
  for (const auto& [shard, data] : printed) seen.insert(data);
  EXPECT_EQ(printed.size(), 60u) << first.output;
  expect_none_lost(puts, seen);
  // Everything was checkpointed: a second run prints nothing old.
  auto more = put(10, "restart-more");
  auto second = sluice::testing::run_command(shell_command(args) + " 2>&1");
  ASSERT_EQ(second.exit_code, 0) << second.output;
  auto again = records_of(split_lines(second.output));
  EXPECT_EQ(again.size(), 10u) << second.output;
  for (const auto& [shard, data] : again) {
    EXPECT_TRUE(data.starts_with("restart-more")) << "repeated after a restart: " << data;
  }
}

TEST_F(KclProcessTest, LeasesCommandShowsOneRowPerLease) {
  create_stream(2);
  put(40, "show");
  auto* w = start_worker("shown-worker");
  ASSERT_TRUE(wait_for([&] {
    auto o = owners();
    return ledger_.size() >= 40 && o["shown-worker"] == 2;
  }));
  const auto& b = sluice::testing::Backends::get();
  auto args = base_args();
  for (const std::string& s : {std::string("kinesis"), std::string("leases"),
                               std::string("--table"), table_, std::string("--stream"), stream_,
                               std::string("--dynamodb-endpoint-url"), b.dynamodb_endpoint}) {
    args.push_back(s);
  }
  auto r = sluice::testing::run_command(shell_command(args) + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto lines = split_lines(r.output);
  ASSERT_EQ(lines.size(), 3u) << r.output;
  for (const char* column :
       {"SHARD", "OWNER", "COUNTER", "CHECKPOINT", "PARENTS", "CHILDREN", "BEHIND"}) {
    EXPECT_NE(lines[0].find(column), std::string::npos) << column << "\n" << r.output;
  }
  for (int i = 1; i <= 2; ++i) {
    const std::string shard = "shardId-00000000000" + std::to_string(i - 1);
    EXPECT_TRUE(lines[i].starts_with(shard)) << r.output;
    EXPECT_NE(lines[i].find("shown-worker"), std::string::npos) << r.output;
    auto l = lease(shard);
    ASSERT_TRUE(l);
    EXPECT_NE(lines[i].find(l->checkpoint), std::string::npos) << r.output;
    EXPECT_TRUE(lines[i].ends_with(" 0")) << "caught up: " << lines[i];
  }
  // --watch prints again until stopped.
  args.push_back("--watch");
  args.push_back("--interval");
  args.push_back("0.2");
  sluice::testing::ChildProcess watch(args, env());
  ASSERT_TRUE(wait_for([&] {
    int headers = 0;
    for (const auto& l : watch.lines()) headers += l.starts_with("--- ");
    return headers >= 2;
  }));
  watch.signal(SIGTERM);
  EXPECT_EQ(watch.wait(10s), 0);
  EXPECT_TRUE(w->stop().ok());
}

#ifdef SLUICE_TEST_EXAMPLES
// Seed 001's multi_worker example: two workers in one process share the
// stream, report who holds what, and stop together after the run duration.
TEST_F(KclProcessTest, MultiWorkerExampleSharesTheStreamAndStopsOnTime) {
  const std::string example = sluice::testing::binary_dir() + "/examples/kinesis_kcl_multi_worker";
  ASSERT_TRUE(std::filesystem::exists(example)) << example << " is missing";
  create_stream(4);
  put(80, "example");
  const auto& b = sluice::testing::Backends::get();
  auto r = sluice::testing::run_command(
      "env AWS_ACCESS_KEY_ID=AKID AWS_SECRET_ACCESS_KEY=secret AWS_REGION=us-east-1 "
      "AWS_ENDPOINT_URL_KINESIS=" +
      b.kinesis_endpoint + " AWS_ENDPOINT_URL_DYNAMODB=" + b.dynamodb_endpoint +
      " KINESIS_START_STRATEGY=OLDEST " + example + " --stream-name " + stream_ + " --table-name " +
      table_ + " --workers 2 --run-duration-seconds 6 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("total records processed: 80"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("worker-0 holds 2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("worker-1 holds 2"), std::string::npos) << r.output;
  for (const auto& l : scan()) EXPECT_TRUE(l.lease_owner.empty()) << "handed back at shutdown";
}
#endif  // SLUICE_TEST_EXAMPLES

}  // namespace
}  // namespace sluice::kinesis::testing
