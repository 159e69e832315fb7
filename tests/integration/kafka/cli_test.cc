// `sluice kafka produce | consume | mock-cluster`, run as a user would.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "integration/kafka/kafka_test_util.h"
#include "sluice/kafka/json_lines.h"

extern char** environ;

namespace sluice::kafka {
namespace {

using namespace std::chrono_literals;
using sluice::testing::run_command;

std::string sluice_binary() {
  // build/tests/integration/<this test> -> build/tools/sluice/sluice
  return (std::filesystem::read_symlink("/proc/self/exe")
              .parent_path()
              .parent_path()
              .parent_path() /
          "tools" / "sluice" / "sluice")
      .string();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] == '{') out.push_back(line);
  }
  return out;
}

class KafkaCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(sluice_binary()))
        << sluice_binary() << " is missing: build the sluice target";
    auto c = MockCluster::start();
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(*c);
    bootstrap_ = cluster_->bootstrap_servers();
  }
  std::unique_ptr<MockCluster> cluster_;
  std::string bootstrap_;
  sluice::testing::TempDir tmp_;
};

TEST_F(KafkaCli, ProducedJsonAndRawLinesComeBackFromConsume) {
  ASSERT_TRUE(cluster_->create_topic("cli", 2).ok());
  // key "k1", value "hello", header trace=abc; no key, value "bin\0"; tombstone for "k3".
  sluice::testing::write_file(tmp_ / "in.jsonl",
                              "{\"key\":\"azE=\",\"value\":\"aGVsbG8=\",\"headers\":[{\"key\":"
                              "\"trace\",\"value\":\"YWJj\"}]}\n"
                              "\n"
                              "{\"value\":\"YmluAA==\"}\n"
                              "{\"key\":\"azM=\",\"value\":null}\n");
  auto produced = run_command(sluice_binary() + " kafka produce --brokers " + bootstrap_ +
                              " --topic cli --input " + (tmp_ / "in.jsonl").string());
  ASSERT_EQ(produced.exit_code, 0) << produced.output;
  EXPECT_NE(produced.output.find("3 message(s) delivered to cli, 0 failed"), std::string::npos)
      << produced.output;

  auto consumed =
      run_command("timeout 60 " + sluice_binary() + " kafka consume --brokers " + bootstrap_ +
                  " --topic cli --group g1 --from earliest --max-messages 3");
  ASSERT_EQ(consumed.exit_code, 0) << consumed.output;
  auto lines = lines_of(consumed.output);
  ASSERT_EQ(lines.size(), 3u) << consumed.output;
  int seen = 0;
  for (const auto& line : lines) {
    EXPECT_NE(line.find("\"topic\":\"cli\""), std::string::npos) << line;
    EXPECT_NE(line.find("\"timestamp\":1"), std::string::npos) << line;
    auto m = parse_message_json(line);
    ASSERT_TRUE(m.ok()) << m.status() << ": " << line;
    if (m->key == "k1") {
      EXPECT_EQ(m->value, "hello");
      ASSERT_EQ(m->headers.size(), 1u);
      EXPECT_EQ(m->headers[0].key, "trace");
      EXPECT_EQ(m->headers[0].value, "abc");
      ++seen;
    } else if (m->key == "k3") {
      EXPECT_FALSE(m->value.has_value());  // the tombstone stays a tombstone
      ++seen;
    } else {
      EXPECT_FALSE(m->key.has_value());
      EXPECT_EQ(m->value, std::string("bin\0", 4));
      ++seen;
    }
  }
  EXPECT_EQ(seen, 3);

  // Raw lines from stdin with --key; g1 resumes after its commits: only the
  // new line comes back, whichever partition it went to. (The keyless
  // message above lands on either partition; when the other one had nothing
  // to read, it used to have no commit, so this consume, starting at
  // "latest", skipped the new line and waited for ever.) Rejoining after the
  // first member left takes the mock's rebalance time, ~9 s.
  auto raw = run_command("printf 'plain text\\n' | " + sluice_binary() +
                         " kafka produce --raw --key rk --brokers " + bootstrap_ + " --topic cli");
  ASSERT_EQ(raw.exit_code, 0) << raw.output;
  auto again = run_command("timeout 60 " + sluice_binary() + " kafka consume --brokers " +
                           bootstrap_ + " --topic cli --group g1 --max-messages 1");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  auto more = lines_of(again.output);
  ASSERT_EQ(more.size(), 1u) << again.output;
  auto m = parse_message_json(more[0]);
  ASSERT_TRUE(m.ok()) << more[0];
  EXPECT_EQ(m->key, "rk");
  EXPECT_EQ(m->value, "plain text");
}

TEST_F(KafkaCli, BadInputAndFlagsAreUsageErrorsThatSayWhy) {
  sluice::testing::write_file(tmp_ / "bad.jsonl", "{\"value\":\"aGk=\"}\n{\"value\":\"%%%\"}\n");
  auto r = run_command(sluice_binary() + " kafka produce --brokers " + bootstrap_ +
                       " --topic t --input " + (tmp_ / "bad.jsonl").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("input line 2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("base64"), std::string::npos) << r.output;

  r = run_command(sluice_binary() + " kafka consume --brokers " + bootstrap_ +
                  " --topic t --group g --from yesterday");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_command(sluice_binary() + " kafka produce --brokers " + bootstrap_ +
                  " --topic t --input /nonexistent/file");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/file"), std::string::npos) << r.output;
  r = run_command(sluice_binary() + " kafka mock-cluster --topic t:lots");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("TOPIC:PARTITIONS"), std::string::npos) << r.output;

  r = run_command(sluice_binary() + " kafka consume --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("base64"), std::string::npos) << r.output;
}

TEST_F(KafkaCli, MockClusterPrintsItsBootstrapAndStopsOnSigterm) {
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  const std::string bin = sluice_binary();
  std::vector<std::string> args = {bin, "kafka",   "mock-cluster", "--brokers",
                                   "2", "--topic", "demo:3"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, bin.c_str(), &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  FILE* f = fdopen(out[0], "r");
  char buf[512] = {0};
  ASSERT_NE(std::fgets(buf, sizeof buf, f), nullptr);  // blocks until the line is printed
  std::string line(buf);
  ASSERT_EQ(line.rfind("bootstrap=", 0), 0u) << line;
  std::string bootstrap = line.substr(10);
  while (!bootstrap.empty() && (bootstrap.back() == '\n' || bootstrap.back() == '\r')) {
    bootstrap.pop_back();
  }

  ProducerConfig pc;
  pc.bootstrap_servers = bootstrap;
  {
    auto p = Producer::create(pc);
    ASSERT_TRUE(p.ok());
    for (int i = 0; i < 6; ++i) {
      auto d = (*p)->send("demo", "k" + std::to_string(i), "v");
      ASSERT_TRUE(d.ok()) << d.status();
      EXPECT_LT(d->partition, 3);  // the topic it was asked to create
    }
  }

  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  const bool exited =
      sluice::testing::wait_until([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 10s);
  if (!exited) kill(pid, SIGKILL);
  ASSERT_TRUE(exited);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::fclose(f);
}

}  // namespace
}  // namespace sluice::kafka
