#include "sluice/core/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <sstream>

#include "sluice/core/result.h"

namespace sluice {
namespace {

TEST(Status, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_FALSE(s.retryable());
  EXPECT_EQ(s.to_string(), "OK");
}

TEST(Status, ErrorCarriesCodeMessageAndRetryability) {
  Status s = Status::throttled("ProvisionedThroughputExceededException: rate exceeded for shard");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kThrottled);
  EXPECT_TRUE(s.retryable());
  EXPECT_EQ(s.to_string(),
            "Throttled: ProvisionedThroughputExceededException: rate exceeded for shard (retryable)");
}

TEST(Status, DefaultRetryabilityFollowsTheCode) {
  EXPECT_TRUE(Status::unavailable("x").retryable());
  EXPECT_TRUE(Status::timeout("x").retryable());
  EXPECT_TRUE(Status::expired_iterator("x").retryable());
  EXPECT_FALSE(Status::invalid_argument("x").retryable());
  EXPECT_FALSE(Status::condition_failed("x").retryable());
  EXPECT_FALSE(Status::lease_lost("x").retryable());
  EXPECT_FALSE(Status::corruption("x").retryable());
  EXPECT_FALSE(Status::internal("x").retryable());
}

TEST(Status, ExplicitRetryableOverridesTheDefault) {
  Status s(StatusCode::kInternal, "transient bug", true);
  EXPECT_TRUE(s.retryable());
  EXPECT_FALSE(Status::unavailable("x").with_retryable(false).retryable());
}

TEST(Status, OkCodeIgnoresMessage) {
  Status s(StatusCode::kOk, "ignored", true);
  EXPECT_TRUE(s.ok());
  EXPECT_FALSE(s.retryable());
  EXPECT_EQ(s.message(), "");
}

TEST(Status, WithContextPrefixesAndKeepsCode) {
  Status s = Status::not_found("stream x").with_context("ListShards");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "ListShards: stream x");
  EXPECT_TRUE(Status().with_context("ignored").ok());
}

TEST(Status, CopiesShareAndCompare) {
  Status a = Status::io_error("disk");
  Status b = a;
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a == Status::io_error("other"));
  std::ostringstream os;
  os << a;
  EXPECT_EQ(os.str(), "IOError: disk");
}

TEST(Status, EveryCodeHasAName) {
  for (int c = 0; c <= static_cast<int>(StatusCode::kInternal); ++c) {
    EXPECT_NE(status_code_name(static_cast<StatusCode>(c)), "Unknown") << c;
  }
}

Result<int> parse_positive(int v) {
  if (v <= 0) return Status::invalid_argument("must be positive");
  return v;
}

Status use_macros(int v, int* out) {
  SLUICE_ASSIGN_OR_RETURN(int x, parse_positive(v));
  SLUICE_RETURN_IF_ERROR(x > 100 ? Status::invalid_argument("too big") : Status());
  *out = x;
  return Status();
}

TEST(Result, HoldsValueOrStatus) {
  Result<int> good = parse_positive(3);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 3);
  EXPECT_TRUE(good.status().ok());
  Result<int> bad = parse_positive(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.value_or(7), 7);
}

TEST(Result, OkStatusBecomesInternalError) {
  Result<int> r{Status()};
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(Result, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 5);
}

TEST(Result, MacrosPropagate) {
  int out = 0;
  EXPECT_TRUE(use_macros(5, &out).ok());
  EXPECT_EQ(out, 5);
  EXPECT_EQ(use_macros(-5, &out).message(), "must be positive");
  EXPECT_EQ(use_macros(500, &out).message(), "too big");
}

TEST(ResultDeathTest, ValueOfErrorAborts) {
  Result<int> bad = Status::not_found("nothing here");
  EXPECT_DEATH((void)bad.value(), "nothing here");
}

}  // namespace
}  // namespace sluice
