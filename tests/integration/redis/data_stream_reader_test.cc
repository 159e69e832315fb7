#include "sluice/redis/data_stream_reader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>

#include "integration/redis/redis_test_util.h"
#include "sluice/redis/client.h"
#include "support/test_util.h"

namespace sluice::redis {
namespace {

using namespace std::chrono_literals;
using sluice::testing::unique_name;
using sluice::testing::wait_until;

class DataStreamReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = testing::shared_redis(&metrics_);
    ASSERT_TRUE(redis_);
  }
  DataStreamReaderOptions options() {
    DataStreamReaderOptions o;
    o.checkpoint_prefix = unique_name("ckpt");
    o.block_time = 100ms;
    o.batch_size = 2;
    o.handler_retry = RetryPolicy::exponential(10ms, 20ms, 2);
    o.metrics = &metrics_;
    return o;
  }
  std::string xadd(const std::string& stream, const std::string& value) {
    return redis_->command({"XADD", stream, "*", "v", value})->str();
  }
  // The handler: records values per stream; `fail_next` makes calls fail.
  DataStreamReader::BatchHandler recorder() {
    return [this](std::string_view stream, const std::vector<StreamEntry>& batch) {
      std::lock_guard lock(mu_);
      ++calls_;
      if (fail_next_ > 0) {
        --fail_next_;
        return Status::unavailable("downstream is down");
      }
      for (const auto& e : batch) got_[std::string(stream)].push_back(e.fields.at(0).second);
      return Status();
    };
  }
  std::vector<std::string> got(const std::string& stream) {
    std::lock_guard lock(mu_);
    return got_[stream];
  }

  MetricsRegistry metrics_;
  std::shared_ptr<RedisClient> redis_;
  std::string service_ = unique_name("svc");
  std::mutex mu_;
  std::map<std::string, std::vector<std::string>> got_;
  int fail_next_ = 0;
  int calls_ = 0;
};

TEST_F(DataStreamReaderTest, CheckpointModeIsAtLeastOnceAndResumesAtTheCheckpoint) {
  const std::string stream = unique_name("data");
  for (int i = 0; i < 5; ++i) xadd(stream, std::to_string(i));
  auto o = options();
  {
    fail_next_ = 1;  // the first batch fails once and is delivered again
    auto reader = *DataStreamReader::create(redis_, service_, o, recorder());
    ASSERT_TRUE(reader->add(stream).ok());
    ASSERT_TRUE(wait_until([&] { return got(stream).size() == 5; }));
    EXPECT_EQ(got(stream), (std::vector<std::string>{"0", "1", "2", "3", "4"}));
    const std::string last =
        redis_->command({"XREVRANGE", stream, "+", "-", "COUNT", "1"})->elements()[0][0].str();
    ASSERT_TRUE(wait_until([&] { return *reader->checkpoint(stream) == last; }));
    EXPECT_EQ(redis_->command({"GET", o.checkpoint_prefix + ":" + service_ + ":" + stream})->str(),
              last);
  }
  // A new owner resumes after the checkpoint.
  xadd(stream, "5");
  xadd(stream, "6");
  auto reader = *DataStreamReader::create(redis_, service_, o, recorder());
  ASSERT_TRUE(reader->add(stream).ok());
  ASSERT_TRUE(wait_until([&] { return got(stream).size() == 7; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(got(stream).size(), 7u);  // nothing delivered twice after a successful checkpoint
  ASSERT_TRUE(reader->forget(stream).ok());
  EXPECT_EQ(*reader->checkpoint(stream), "");
  redis_->command({"DEL", stream}).status().ok();
}

TEST_F(DataStreamReaderTest, AHandlerThatKeepsFailingGivesTheStreamUpAtItsCheckpoint) {
  const std::string stream = unique_name("data");
  xadd(stream, "a");
  fail_next_ = 100;
  std::mutex mu;
  std::vector<std::string> errors;
  auto reader = *DataStreamReader::create(redis_, service_, options(), recorder(),
                                          [&](std::string_view s, const Status& e) {
                                            std::lock_guard lock(mu);
                                            errors.push_back(std::string(s) + ": " + e.to_string());
                                          });
  ASSERT_TRUE(reader->add(stream).ok());
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard lock(mu);
    return errors.size() == 1;
  }));
  EXPECT_NE(errors[0].find("downstream is down"), std::string::npos);
  EXPECT_TRUE(reader->streams().empty());
  EXPECT_EQ(*reader->checkpoint(stream), "");  // nothing acknowledged
  EXPECT_EQ(calls_, 3);                        // the first try and 2 retries
  redis_->command({"DEL", stream}).status().ok();
}

TEST_F(DataStreamReaderTest, ConsumerGroupModeReplaysPendingEntriesFirst) {
  const std::string stream = unique_name("data");
  auto o = options();
  o.mode = DataStreamReaderOptions::Mode::kConsumerGroup;
  o.consumer = "redis-consumer-a";
  o.batch_size = 10;
  ASSERT_TRUE(
      redis_->command({"XGROUP", "CREATE", stream, service_ + "-data", "0", "MKSTREAM"}).ok());
  xadd(stream, "p1");
  xadd(stream, "p2");
  // A previous incarnation of this consumer read them and died before acknowledging.
  ASSERT_TRUE(redis_
                  ->command({"XREADGROUP", "GROUP", service_ + "-data", "redis-consumer-a",
                             "STREAMS", stream, ">"})
                  .ok());
  xadd(stream, "n1");
  auto reader = *DataStreamReader::create(redis_, service_, o, recorder());
  ASSERT_TRUE(reader->add(stream).ok());
  ASSERT_TRUE(wait_until([&] { return got(stream).size() == 3; }));
  EXPECT_EQ(got(stream), (std::vector<std::string>{"p1", "p2", "n1"}));
  xadd(stream, "n2");
  ASSERT_TRUE(wait_until([&] { return got(stream).size() == 4; }));
  ASSERT_TRUE(wait_until([&] {
    auto p = redis_->command({"XPENDING", stream, service_ + "-data"});
    return p.ok() && (*p)[0].integer() == 0;
  }));
  ASSERT_TRUE(reader->forget(stream).ok());
  redis_->command({"DEL", stream}).status().ok();
}

TEST_F(DataStreamReaderTest, RemoveStopsDeliveryAndOneThreadReadsManyStreams) {
  auto o = options();
  o.batch_size = 100;
  auto reader = *DataStreamReader::create(redis_, service_, o, recorder());
  std::vector<std::string> streams;
  for (int i = 0; i < 50; ++i) {
    streams.push_back(unique_name("many"));
    xadd(streams.back(), "x");
    ASSERT_TRUE(reader->add(streams.back()).ok());
  }
  ASSERT_TRUE(wait_until([&] {
    for (const auto& s : streams) {
      if (got(s).size() != 1) return false;
    }
    return true;
  }));
  // One reader thread for 50 streams.
  int readers = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    readers += name == "sluice-reader";
  }
  EXPECT_EQ(readers, 1);
  reader->remove(streams[0]);
  xadd(streams[0], "after-remove");
  xadd(streams[1], "y");
  ASSERT_TRUE(wait_until([&] { return got(streams[1]).size() == 2; }));
  EXPECT_EQ(got(streams[0]).size(), 1u);
  EXPECT_EQ(reader->streams().size(), 49u);
  for (const auto& s : streams) redis_->command({"DEL", s}).status().ok();
}

TEST(DataStreamReaderOptions, ValidateNamesTheField) {
  DataStreamReaderOptions o;
  o.start_id = "5";
  EXPECT_NE(o.validate().message().find("start_id"), std::string_view::npos);
  o = {};
  o.batch_size = 0;
  EXPECT_NE(o.validate().message().find("batch_size"), std::string_view::npos);
}

}  // namespace
}  // namespace sluice::redis
