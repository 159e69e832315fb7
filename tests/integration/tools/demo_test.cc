// `sluice demo` against the real back ends: every act ends with its summary
// line, nothing lost and order held; Ctrl-C stops it and every process it
// started.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/test_util.h"

extern char** environ;

namespace sluice {
namespace {

using namespace std::chrono_literals;

TEST(DemoTest, EveryActDeliversEverythingInOrderWithSmallCounts) {
  const std::string cmd = sluice::testing::sluice_binary() +
                          " demo --kinesis-records 3000 --redis-streams 6 --redis-messages 40"
                          " --kafka-messages 600 2>&1";
  const auto r = sluice::testing::run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (
      const char* line :
      {R"(\ndemo: produced 3000, delivered 3000 unique, \d+ duplicates, lost 0, order violations 0\n)",
       R"(\nredis: produced 240, delivered 240 unique, \d+ duplicates, lost 0, order violations 0\n)",
       R"(\nkafka: produced 600, delivered 600 unique, \d+ duplicates, lost 0, order violations 0\n)"}) {
    EXPECT_TRUE(std::regex_search("\n" + r.output, std::regex(line))) << line << "\n" << r.output;
  }
  // The acts did what they say: a split, a kill and a replacement; a stream
  // claimed from the killed Redis client; a Kafka handler failure redelivered.
  for (const char* event :
       {"split shardId-000000000000", "killed worker-1 with SIGKILL", "started worker-3",
        "killed client-1 with SIGKILL", "claimed", "switched 'orders' off",
        "switched 'orders' on again", "the handler failed on k300"}) {
    EXPECT_NE(r.output.find(event), std::string::npos) << event << "\n" << r.output;
  }
}

// The children of `parent` whose command line contains `needle`.
std::vector<pid_t> children_matching(pid_t parent, const std::string& needle) {
  const auto r =
      sluice::testing::run_command("pgrep -P " + std::to_string(parent) + " -f '" + needle + "'");
  std::vector<pid_t> pids;
  std::istringstream in(r.output);
  for (pid_t p; in >> p;) pids.push_back(p);
  return pids;
}

TEST(DemoTest, InterruptStopsTheActAndItsWorkers) {
  const std::string bin = sluice::testing::sluice_binary();
  const std::string out = ::testing::TempDir() + "/demo-interrupt.out";
  std::vector<std::string> args{bin, "demo", "--only", "kinesis", "--kinesis-records", "20000"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  // Interrupt once its workers are up.
  std::vector<pid_t> workers;
  ASSERT_TRUE(sluice::testing::wait_until(
      [&] {
        workers = children_matching(pid, "kinesis-worker");
        return workers.size() == 3;
      },
      30s, 100ms))
      << sluice::testing::read_file(out);
  ::kill(pid, SIGINT);
  int status = 0;
  pid_t done = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while ((done = waitpid(pid, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  if (done == 0) {
    ::kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "the demo did not stop within 30 s of SIGINT\n" << sluice::testing::read_file(out);
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0) << "an interrupted demo does not claim success";
  EXPECT_NE(sluice::testing::read_file(out).find("interrupted"), std::string::npos)
      << sluice::testing::read_file(out);
  // Its workers were stopped and reaped: a worker left running would have
  // been re-parented and still answer signal 0.
  for (pid_t w : workers) {
    EXPECT_TRUE(sluice::testing::wait_until([&] { return ::kill(w, 0) != 0; }, 5s))
        << "worker " << w << " left running";
  }
}

}  // namespace
}  // namespace sluice
