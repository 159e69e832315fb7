#include "sluice/core/logger.h"

#include <gtest/gtest.h>

#include "support/test_util.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using testing::RecordingLogger;

TEST(Logger, ParseLevels) {
  EXPECT_EQ(*parse_log_level("DEBUG"), LogLevel::kDebug);
  EXPECT_EQ(*parse_log_level("warning"), LogLevel::kWarn);
  EXPECT_EQ(*parse_log_level("off"), LogLevel::kOff);
  auto bad = parse_log_level("loud");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("\"loud\""), std::string_view::npos);
}

TEST(Logger, FormatsLogfmt) {
  std::vector<LogField> fields = {{"shard", "shardId-000000000001"},
                                  {"count", 42},
                                  {"ok", true},
                                  {"reason", "two words"},
                                  {"delay", 1500ms},
                                  {"err", Status::throttled("slow down")}};
  std::string line = format_logfmt(std::chrono::system_clock::time_point(std::chrono::seconds(1767225600)) +
                                       123ms,
                                   LogLevel::kWarn, "lease taken", fields);
  EXPECT_EQ(line,
            "ts=2026-01-01T00:00:00.123Z level=warn msg=\"lease taken\" shard=shardId-000000000001 "
            "count=42 ok=true reason=\"two words\" delay=1.5s err=\"Throttled: slow down (retryable)\"");
}

TEST(Logger, EscapesQuotesAndNewlines) {
  std::vector<LogField> fields = {{"v", "a\"b\nc\\"}};
  std::string line = format_logfmt({}, LogLevel::kInfo, "m", fields);
  EXPECT_NE(line.find("v=\"a\\\"b\\nc\\\\\""), std::string::npos) << line;
}

TEST(Logger, RedactsSecrets) {
  std::vector<LogField> fields = {{"aws_secret_access_key", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
                                  {"password", "hunter2"},
                                  {"session_token", "FQoGZXIvYXdzE"},
                                  {"Authorization", "AWS4-HMAC-SHA256 Credential=..."},
                                  {"endpoint", Redacted{"http://user:pw@host"}},
                                  {"region", "us-east-1"}};
  std::string line = format_logfmt({}, LogLevel::kInfo, "config", fields);
  EXPECT_EQ(line.find("wJalrX"), std::string::npos);
  EXPECT_EQ(line.find("hunter2"), std::string::npos);
  EXPECT_EQ(line.find("FQoGZ"), std::string::npos);
  EXPECT_EQ(line.find("HMAC"), std::string::npos);
  EXPECT_EQ(line.find("user:pw"), std::string::npos);
  EXPECT_NE(line.find("region=us-east-1"), std::string::npos);
  EXPECT_TRUE(is_secret_key("AWS_SECRET_ACCESS_KEY"));
  EXPECT_FALSE(is_secret_key("session_timeout_ms"));
  EXPECT_FALSE(is_secret_key("shard"));
}

TEST(Logger, LevelsFilter) {
  RecordingLogger log(LogLevel::kInfo);
  log.debug("hidden");
  log.info("shown", {{"k", 1}});
  log.error("bad");
  auto lines = log.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("msg=shown k=1"), std::string::npos);
  EXPECT_NE(lines[1].find("level=error"), std::string::npos);
}

TEST(Logger, NoopIsDisabled) {
  auto log = make_noop_logger();
  EXPECT_FALSE(log->enabled(LogLevel::kError));
  log->error("goes nowhere");
}

TEST(Logger, WithFieldsPrefixesEveryLine) {
  auto rec = std::make_shared<RecordingLogger>();
  auto log = with_fields(rec, {{"component", "kinesis.consumer"}, {"stream", "orders"}});
  log->info("started", {{"shards", 4}});
  EXPECT_TRUE(rec->contains("component=kinesis.consumer stream=orders shards=4"));
}

TEST(Logger, StderrSinkWritesWholeLines) {
  auto log = make_stderr_logger(LogLevel::kWarn);
  EXPECT_FALSE(log->enabled(LogLevel::kInfo));
  EXPECT_TRUE(log->enabled(LogLevel::kError));
  ::testing::internal::CaptureStderr();
  log->warn("disk almost full", {{"free_bytes", 1024}, {"token", "abc"}});
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("level=warn msg=\"disk almost full\" free_bytes=1024 token=[redacted]\n"),
            std::string::npos)
      << err;
}

}  // namespace
}  // namespace sluice
