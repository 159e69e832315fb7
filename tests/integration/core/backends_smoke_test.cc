// Reaches every back end the launcher started with a raw request: proves the
// test environment works before any sluice client is involved.
#include <gtest/gtest.h>

#include "support/backends.h"
#include "support/raw_http.h"

namespace sluice::testing {
namespace {

// Kinesalite and dynalite check that a SigV4-shaped Authorization header is
// present (not the signature itself).
std::string aws_json_request(const HostPort& hp, const std::string& target,
                             const std::string& content_type, const std::string& service,
                             const std::string& body) {
  return "POST / HTTP/1.1\r\nHost: " + hp.host + ":" + std::to_string(hp.port) +
         "\r\nX-Amz-Target: " + target + "\r\nContent-Type: " + content_type +
         "\r\nX-Amz-Date: 20150830T123600Z\r\nAuthorization: AWS4-HMAC-SHA256 "
         "Credential=AKIDEXAMPLE/20150830/us-east-1/" + service +
         "/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + std::string(64, '0') +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

TEST(BackendsSmoke, Kinesalite) {
  HostPort hp = parse_host_port(Backends::get().kinesis_endpoint);
  EXPECT_EQ(hp.host, "127.0.0.1");
  auto r = raw_http(hp.host, hp.port,
                    aws_json_request(hp, "Kinesis_20131202.ListStreams", "application/x-amz-json-1.1",
                                     "kinesis", "{}"));
  EXPECT_EQ(r.status, 200) << r.head << r.body;
  EXPECT_NE(r.body.find("\"StreamNames\""), std::string::npos) << r.body;
}

TEST(BackendsSmoke, Dynalite) {
  HostPort hp = parse_host_port(Backends::get().dynamodb_endpoint);
  EXPECT_EQ(hp.host, "127.0.0.1");
  auto r = raw_http(hp.host, hp.port,
                    aws_json_request(hp, "DynamoDB_20120810.ListTables", "application/x-amz-json-1.0",
                                     "dynamodb", "{}"));
  EXPECT_EQ(r.status, 200) << r.head << r.body;
  EXPECT_NE(r.body.find("\"TableNames\""), std::string::npos) << r.body;
}

TEST(BackendsSmoke, S3rverHasTheTestBucket) {
  HostPort hp = parse_host_port(Backends::get().s3_endpoint);
  EXPECT_EQ(hp.host, "127.0.0.1");
  const std::string req = "GET / HTTP/1.1\r\nHost: " + hp.host + ":" + std::to_string(hp.port) +
                          "\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\nConnection: close\r\n\r\n";
  auto r = raw_http(hp.host, hp.port, req);
  EXPECT_EQ(r.status, 200) << r.head << r.body;
  EXPECT_NE(r.body.find("<Name>" + Backends::get().s3_bucket + "</Name>"), std::string::npos)
      << r.body;
}

TEST(BackendsSmoke, RedisAnswersPingAndHasKeyspaceNotifications) {
  const auto& b = Backends::get();
  HostPort hp = parse_host_port(b.redis_url);
  EXPECT_EQ(hp.host, "127.0.0.1");
  EXPECT_EQ(hp.port, b.redis_port);
  EXPECT_EQ(raw_line_exchange(hp.host, hp.port, "PING\r\n"), "+PONG\r\n");
  // notify-keyspace-events is set by the launcher for lock-expiry tests.
  const std::string cfg = "*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$22\r\nnotify-keyspace-events\r\n";
  EXPECT_EQ(raw_line_exchange(hp.host, hp.port, cfg), "*2\r\n");
}

}  // namespace
}  // namespace sluice::testing
