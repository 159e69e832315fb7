// Interoperability: messages produced by kafkajs (npm), a client that shares
// no code with librdkafka, are consumed correctly by the managed consumer.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "integration/kafka/kafka_test_util.h"
#include "sluice/kafka/registry.h"
#include "support/backends.h"

namespace sluice::kafka {
namespace {

using namespace std::chrono_literals;

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

TEST(KafkaInterop, MessagesProducedByKafkajsAreConsumedWithKeysValuesAndHeaders) {
  const auto& env = sluice::testing::Backends::get();
  // Next to this file.
  const std::string here = std::filesystem::path(__FILE__).parent_path().string();
  auto cluster = MockCluster::start();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  const std::string bootstrap = (*cluster)->bootstrap_servers();
  ASSERT_TRUE((*cluster)->create_topic("from-kafkajs", 3).ok());

  const int n = 60;
  const std::string script = here + "/kafkajs_produce.js";
  const std::string cmd = "cd " + shell_quote(env.testenv_dir) +
                          " && NODE_PATH=" + shell_quote(env.testenv_dir + "/node_modules") +
                          " timeout 60 " + shell_quote(env.node) + " " + shell_quote(script) + " " +
                          shell_quote(bootstrap) + " from-kafkajs " + std::to_string(n);
  auto r = sluice::testing::run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("produced 60"), std::string::npos) << r.output;

  testing::Recorder rec;
  Registry registry;
  auto cfg = testing::test_consumer_config(bootstrap, "interop", "from-kafkajs", "interop-group");
  ASSERT_TRUE(registry
                  .register_consumer(make_consumer(cfg,
                                                   [&](HandlerContext&, const Message& m) {
                                                     EXPECT_TRUE(m.has_key());
                                                     EXPECT_EQ(m.timestamp_type(),
                                                               TimestampType::kCreateTime);
                                                     rec.add(m);
                                                     return Status();
                                                   }))
                  .ok());
  ASSERT_TRUE(registry.set_consumer_switch("interop", true).ok());
  ASSERT_TRUE(registry.start_all().ok());
  ASSERT_TRUE(rec.wait_for_values(n - n / 10 + 1)) << rec.size();  // the binary values are equal
  ASSERT_TRUE(
      sluice::testing::wait_until([&] { return rec.size() >= static_cast<std::size_t>(n); }));
  registry.stop();
  ASSERT_TRUE(registry.wait_stop().ok());

  std::string binary;
  for (int b = 0; b < 256; ++b) binary.push_back(static_cast<char>(b));
  std::map<std::string, testing::Seen> by_key;
  for (const auto& s : rec.all()) by_key[s.key] = s;
  ASSERT_EQ(by_key.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(rec.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const auto it = by_key.find("kjs-" + std::to_string(i));
    ASSERT_NE(it, by_key.end()) << i;
    const auto& s = it->second;
    EXPECT_EQ(s.value, i % 10 == 9 ? binary : "value-" + std::to_string(i)) << i;
    ASSERT_EQ(s.headers.size(), 2u) << i;
    EXPECT_EQ(s.headers[0], (std::pair<std::string, std::string>("source", "kafkajs")));
    EXPECT_EQ(s.headers[1], (std::pair<std::string, std::string>("idx", std::to_string(i))));
    EXPECT_EQ(s.topic, "from-kafkajs");
  }
  EXPECT_EQ(testing::committed_total(
                testing::committed_offsets(bootstrap, "interop-group", "from-kafkajs", 3)),
            n);
}

}  // namespace
}  // namespace sluice::kafka
