// The AWS standard retry mode, through the fault-injecting proxy in front of
// kinesalite: which errors are retried, how long the client waits (read off
// a manual clock), the retry quota, and the messages of terminal errors.
#include <gtest/gtest.h>

#include <future>

#include "sluice/aws/kinesis_client.h"
#include "sluice/core/executor.h"
#include "support/backends.h"
#include "support/fault_proxy.h"
#include "support/test_util.h"

namespace sluice::aws {
namespace {

using namespace std::chrono_literals;
using testing::Backends;
using testing::FaultProxy;

class RetryTest : public ::testing::Test {
 protected:
  std::unique_ptr<KinesisClient> client(RetryOptions retry = {}, const Clock* clock = nullptr,
                                        std::chrono::milliseconds request_timeout = 5s) {
    ClientOptions o;
    o.region = "us-east-1";
    o.endpoint = proxy_.url();
    o.credentials =
        make_static_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    o.retry = retry;
    o.clock = clock;
    o.metrics = &metrics_;
    o.http_options.request_timeout = request_timeout;
    o.logger = log_;
    auto c = KinesisClient::create(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return std::move(*c);
  }

  // Runs `task`, advancing `clock` over every backoff sleep and recording
  // each sleep's length. Bounded: at most 50 sleeps and 30 s of real time.
  template <class T>
  T run_with_clock(ManualClock& clock, asio::awaitable<T> task,
                   std::vector<Clock::Duration>* sleeps) {
    auto fut = asio::co_spawn(pool_.executor(), std::move(task), asio::use_future);
    const auto real_deadline = std::chrono::steady_clock::now() + 30s;
    for (int i = 0; i < 50 && fut.wait_for(1ms) != std::future_status::ready &&
                    std::chrono::steady_clock::now() < real_deadline;) {
      if (clock.sleepers() > 0) {
        const auto next = clock.next_deadline();
        if (next != Clock::TimePoint::max()) {
          sleeps->push_back(next - clock.now());
          clock.advance_to(next);
          ++i;
        }
      }
    }
    return fut.get();
  }

  double metric(const std::string& name, std::vector<std::string> labels) {
    return metrics_
        .counter(name, "",
                 name == "sluice_aws_retries_total"
                     ? std::vector<std::string>{"service", "operation"}
                     : std::vector<std::string>{"service", "operation", "outcome"})
        .with(std::move(labels))
        .value();
  }

  FaultProxy proxy_{Backends::get().kinesis_endpoint};
  ThreadPool pool_{2};
  MetricsRegistry metrics_;
  std::shared_ptr<testing::RecordingLogger> log_ = std::make_shared<testing::RecordingLogger>();
  StreamRef missing_{.name = "no-such-stream-for-retry-tests"};
};

TEST_F(RetryTest, ThrottlingIsRetriedWithCappedJitteredBackoff) {
  ManualClock clock;
  proxy_.add_rule(FaultProxy::throttle("DescribeStreamSummary", 2));
  auto c = client({.max_attempts = 3}, &clock);
  std::vector<Clock::Duration> sleeps;
  auto r = run_with_clock(clock, c->describe_stream_summary(missing_), &sleeps);
  // Two throttles, then kinesalite's real answer: not found.
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status();
  EXPECT_EQ(proxy_.requests_for("DescribeStreamSummary"), 3);
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_LE(sleeps[0], 500ms);   // throttling base delay
  EXPECT_LE(sleeps[1], 1000ms);  // doubled
  EXPECT_EQ(metric("sluice_aws_requests_total", {"Kinesis", "DescribeStreamSummary", "throttled"}),
            2);
  EXPECT_EQ(metric("sluice_aws_retries_total", {"Kinesis", "DescribeStreamSummary"}), 2);
}

TEST_F(RetryTest, ServerErrorsAreRetried) {
  // (Resets are retried too, but libcurl already resends a request whose
  // reused connection was reset before any reply, so they do not always
  // reach this loop; HttpClient's tests cover them.)
  ManualClock clock;
  proxy_.add_rule(FaultProxy::server_error("ListShards", 1, 503));
  proxy_.add_rule(FaultProxy::server_error("ListShards", 1, 500));
  auto c = client({.max_attempts = 4}, &clock);
  std::vector<Clock::Duration> sleeps;
  auto r = run_with_clock(clock, c->list_shards(missing_), &sleeps);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status();
  EXPECT_EQ(proxy_.requests_for("ListShards"), 3);
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_LE(sleeps[0], 100ms);  // base delay for non-throttling errors
  EXPECT_LE(sleeps[1], 200ms);
}

TEST_F(RetryTest, GivesUpAfterMaxAttemptsWithAClearMessage) {
  ManualClock clock;
  proxy_.add_rule(FaultProxy::throttle("ListShards", -1));
  auto c = client({.max_attempts = 3}, &clock);
  std::vector<Clock::Duration> sleeps;
  auto r = run_with_clock(clock, c->list_shards(missing_), &sleeps);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kThrottled);
  EXPECT_TRUE(r.status().retryable());
  const std::string msg(r.status().message());
  EXPECT_NE(msg.find("after 3 attempts"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Kinesis ListShards: ProvisionedThroughputExceededException"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("request id injected-0000-0000"), std::string::npos) << msg;
  EXPECT_EQ(proxy_.requests_for("ListShards"), 3);
}

TEST_F(RetryTest, TerminalErrorsAreNotRetried) {
  proxy_.add_rule(FaultProxy::aws_error("ListShards", 1, 400, "ValidationException",
                                        "1 validation error detected"));
  proxy_.add_rule(
      FaultProxy::aws_error("GetRecords", 1, 400, "ExpiredIteratorException", "Iterator expired"));
  proxy_.add_rule(FaultProxy::aws_error("DescribeStreamSummary", 1, 400,
                                        "com.amazon.coral.service#UnrecognizedClientException",
                                        "The security token included in the request is invalid."));
  auto c = client({.max_attempts = 5});
  auto v = run_blocking(pool_.executor(), c->list_shards(missing_));
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find("ValidationException: 1 validation error detected"),
            std::string_view::npos);
  auto e = run_blocking(pool_.executor(), c->get_records("AAAA", 10));
  EXPECT_EQ(e.status().code(), StatusCode::kExpiredIterator);
  EXPECT_FALSE(e.status().retryable());
  auto a = run_blocking(pool_.executor(), c->describe_stream_summary(missing_));
  EXPECT_EQ(a.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(a.status().message().find("UnrecognizedClientException"), std::string_view::npos)
      << a.status();
  EXPECT_EQ(proxy_.requests(), 3) << "none of them retried";
}

TEST_F(RetryTest, TimeoutsAreRetried) {
  proxy_.add_rule(FaultProxy::stall("ListShards", 1));
  auto c = client({.max_attempts = 2, .base_delay = 1ms}, nullptr, 300ms);
  auto r = run_blocking(pool_.executor(), c->list_shards(missing_));
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status();
  EXPECT_EQ(proxy_.requests_for("ListShards"), 2);
}

TEST_F(RetryTest, QuotaStopsHammeringASickEndpoint) {
  ManualClock clock;
  proxy_.add_rule(FaultProxy::server_error("ListShards", -1));
  auto c = client({.max_attempts = 10, .retry_quota = 10, .retry_cost = 5}, &clock);
  std::vector<Clock::Duration> sleeps;
  auto first = run_with_clock(clock, c->list_shards(missing_), &sleeps);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(sleeps.size(), 2u) << "10 tokens pay for two retries";
  EXPECT_EQ(c->call().retry_tokens(), 0);
  EXPECT_NE(first.status().message().find("retry quota is exhausted"), std::string_view::npos)
      << first.status();
  const int before = proxy_.requests();
  auto second = run_with_clock(clock, c->list_shards(missing_), &sleeps);
  EXPECT_FALSE(second.ok());
  EXPECT_EQ(proxy_.requests() - before, 1) << "no retry without tokens";

  // First-time successes earn a token each (errors earn nothing).
  proxy_.clear_rules();
  (void)run_blocking(pool_.executor(), c->describe_stream_summary(missing_));  // NotFound
  EXPECT_EQ(c->call().retry_tokens(), 0);
  testing::FaultRule ok;
  ok.target_contains = "DescribeStreamSummary";
  ok.times = -1;
  ok.status = 200;
  ok.body = "{\"StreamDescriptionSummary\":{\"StreamName\":\"s\",\"StreamStatus\":\"ACTIVE\"}}";
  proxy_.add_rule(ok);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(run_blocking(pool_.executor(), c->describe_stream_summary(missing_)).ok());
  }
  EXPECT_EQ(c->call().retry_tokens(), 3);
}

TEST_F(RetryTest, StopTokenEndsABackoffWait) {
  ManualClock clock;  // never advanced: the sleep can only end by stop
  proxy_.add_rule(FaultProxy::throttle("ListShards", -1));
  auto c = client({.max_attempts = 5}, &clock);
  std::stop_source stop;
  auto fut = asio::co_spawn(
      pool_.executor(), c->list_shards(missing_, "", {.stop = stop.get_token()}), asio::use_future);
  ASSERT_TRUE(clock.await_sleepers(1));
  stop.request_stop();
  ASSERT_EQ(fut.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(fut.get().status().code(), StatusCode::kCancelled);
}

}  // namespace
}  // namespace sluice::aws
