// The HTTP client against a real server (kinesalite), directly and through
// the fault-injecting proxy.
#include "sluice/aws/http_client.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <atomic>
#include <ctime>
#include <future>

#include "sluice/core/executor.h"
#include "support/backends.h"
#include "support/fault_proxy.h"
#include "support/test_util.h"

namespace sluice::aws {
namespace {

using namespace std::chrono_literals;
using testing::Backends;
using testing::FaultProxy;

// kinesalite wants a SigV4-shaped Authorization header, not a valid one.
HttpRequest list_streams(const std::string& endpoint) {
  HttpRequest r;
  r.method = "POST";
  r.url = endpoint;
  r.headers = {{"Content-Type", "application/x-amz-json-1.1"},
               {"X-Amz-Target", "Kinesis_20131202.ListStreams"},
               {"X-Amz-Date", "20150830T123600Z"},
               {"Authorization",
                "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/kinesis/aws4_request, "
                "SignedHeaders=host;x-amz-date, Signature=" +
                    std::string(64, '0')}};
  r.body = "{}";
  return r;
}

int thread_count() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

TEST(HttpClient, BlockingRoundTrip) {
  HttpClient http;
  auto r = http.send_blocking(list_streams(Backends::get().kinesis_endpoint));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("StreamNames"), std::string::npos);
  EXPECT_FALSE(r->header("Content-Type").empty());
  EXPECT_EQ(r->header("content-type"), r->header("CONTENT-TYPE"));
}

TEST(HttpClient, ErrorStatusesAreResponsesNotFailures) {
  HttpClient http;
  HttpRequest bad = list_streams(Backends::get().kinesis_endpoint);
  bad.set_header("X-Amz-Target", "Kinesis_20131202.NoSuchOperation");
  auto r = http.send_blocking(bad);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("UnknownOperationException"), std::string::npos) << r->body;
}

TEST(HttpClient, ReusesConnections) {
  FaultProxy proxy(Backends::get().kinesis_endpoint);
  HttpClient http;
  for (int i = 0; i < 30; ++i) {
    auto r = http.send_blocking(list_streams(proxy.url()));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 200);
  }
  EXPECT_EQ(proxy.requests(), 30);
  EXPECT_LE(proxy.connections(), 2) << "keep-alive should carry sequential requests";
}

asio::awaitable<void> send_many(HttpClient& http, std::string url, int n, std::atomic<int>& ok) {
  for (int i = 0; i < n; ++i) {
    auto r = co_await http.send(list_streams(url));
    if (r.ok() && r->status == 200) ++ok;
  }
}

TEST(HttpClient, ManyConcurrentCoroutinesShareOneIoThread) {
  HttpClient http;
  ThreadPool pool(2);
  const int before = thread_count();
  TaskGroup tasks(pool.executor());
  std::atomic<int> ok{0};
  for (int i = 0; i < 50; ++i)
    tasks.spawn(send_many(http, Backends::get().kinesis_endpoint, 4, ok));
  int peak = before;
  ASSERT_TRUE(testing::wait_until(
      [&] {
        peak = std::max(peak, thread_count());
        return tasks.active() == 0;
      },
      60s));
  EXPECT_EQ(ok.load(), 200);
  EXPECT_LE(peak, before + 2) << "no thread per request";  // curl may add a resolver thread
  EXPECT_TRUE(tasks.first_error().ok());
}

TEST(HttpClient, TimeoutIsRetryableAndSaysSo) {
  FaultProxy proxy(Backends::get().kinesis_endpoint);
  proxy.add_rule(FaultProxy::stall("ListStreams", 1));
  HttpClient http({.request_timeout = 300ms});
  auto r = http.send_blocking(list_streams(proxy.url()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTimeout);
  EXPECT_TRUE(r.status().retryable());
  EXPECT_NE(r.status().message().find("request timeout 300 ms"), std::string_view::npos)
      << r.status();
  // The next request is not affected.
  auto again = http.send_blocking(list_streams(proxy.url()));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->status, 200);
}

TEST(HttpClient, ResetIsUnavailableAndRetryable) {
  FaultProxy proxy(Backends::get().kinesis_endpoint);
  proxy.add_rule(FaultProxy::reset("ListStreams", 1));
  HttpClient http;
  auto r = http.send_blocking(list_streams(proxy.url()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status();
  EXPECT_TRUE(r.status().retryable());
}

TEST(HttpClient, TruncatedBodyIsDetected) {
  FaultProxy proxy(Backends::get().kinesis_endpoint);
  proxy.add_rule(FaultProxy::truncate("ListStreams", 1, 5));
  HttpClient http;
  auto r = http.send_blocking(list_streams(proxy.url()));
  ASSERT_FALSE(r.ok()) << "a short body must not pass as a response";
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status();
  EXPECT_TRUE(r.status().retryable());
}

TEST(HttpClient, ConnectionRefused) {
  HttpClient http({.connect_timeout = 2s});
  // A port that was free a moment ago: nothing listens there.
  std::uint16_t port;
  {
    FaultProxy gone(Backends::get().kinesis_endpoint);
    port = gone.port();
  }
  auto r = http.send_blocking(list_streams("http://127.0.0.1:" + std::to_string(port)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("127.0.0.1"), std::string_view::npos) << r.status();
}

TEST(HttpClient, BadUrlAndBadHeadersAreRejected) {
  HttpClient http;
  HttpRequest r = list_streams(Backends::get().kinesis_endpoint);
  r.headers.emplace_back("X-Injected", "a\r\nEvil: yes");
  auto res = http.send_blocking(r);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), StatusCode::kInvalidArgument);
  HttpRequest u = list_streams("notaurl://x");
  EXPECT_EQ(http.send_blocking(u).status().code(), StatusCode::kInvalidArgument);
}

TEST(HttpClient, DestroyingTheClientCancelsInFlightRequests) {
  FaultProxy proxy(Backends::get().kinesis_endpoint);
  proxy.add_rule(FaultProxy::stall("ListStreams", 1));
  ThreadPool pool(1);
  std::promise<Status> got;
  {
    HttpClient http;
    http.async_send(list_streams(proxy.url()), pool.executor(),
                    [&](Result<HttpResponse> r) { got.set_value(r.status()); });
    ASSERT_TRUE(testing::wait_until([&] { return proxy.requests() == 1; }));
  }
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get().code(), StatusCode::kCancelled);
}

TEST(HttpClient, HeadGetPutDeleteAgainstS3rver) {
  // Plain methods and bodies (s3rver does not check signatures; it wants
  // the S3RVER key and a content hash header).
  HttpClient http;
  const std::string base = Backends::get().s3_endpoint + "/" + Backends::get().s3_bucket + "/" +
                           testing::unique_name("http-client");
  // s3rver checks the clock skew of x-amz-date (not the signature).
  char now[32];
  std::time_t t = std::time(nullptr);
  std::strftime(now, sizeof now, "%Y%m%dT%H%M%SZ", std::gmtime(&t));
  const std::string date = now;
  auto req = [&](std::string method, std::string body = "") {
    HttpRequest r;
    r.method = std::move(method);
    r.url = base;
    r.body = std::move(body);
    r.headers = {{"x-amz-content-sha256", "UNSIGNED-PAYLOAD"},
                 {"x-amz-date", date},
                 {"Authorization", "AWS4-HMAC-SHA256 Credential=S3RVER/" + date.substr(0, 8) +
                                       "/us-east-1/s3/aws4_request, "
                                       "SignedHeaders=host;x-amz-date, Signature=" +
                                       std::string(64, '0')}};
    return r;
  };
  std::string payload(100000, 'x');
  payload[500] = '\0';  // binary-safe
  auto put = http.send_blocking(req("PUT", payload));
  ASSERT_TRUE(put.ok()) << put.status();
  ASSERT_EQ(put->status, 200) << put->body;
  auto head = http.send_blocking(req("HEAD"));
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-length"), "100000");
  EXPECT_TRUE(head->body.empty());
  auto get = http.send_blocking(req("GET"));
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->body, payload);
  auto del = http.send_blocking(req("DELETE"));
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->status, 204);
  EXPECT_EQ(http.send_blocking(req("GET"))->status, 404);
}

}  // namespace
}  // namespace sluice::aws
