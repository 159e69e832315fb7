#include <gtest/gtest.h>

#include "sluice/aws/http_client.h"

namespace sluice::aws {
namespace {

TEST(ParseUrl, SplitsEveryPart) {
  auto p = parse_url("https://kinesis.us-east-1.amazonaws.com/");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->scheme, "https");
  EXPECT_EQ(p->host, "kinesis.us-east-1.amazonaws.com");
  EXPECT_EQ(p->port, 0);
  EXPECT_EQ(p->path, "/");
  EXPECT_EQ(p->query, "");
  EXPECT_EQ(p->host_header(), "kinesis.us-east-1.amazonaws.com");

  p = parse_url("http://127.0.0.1:4567");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->port, 4567);
  EXPECT_EQ(p->path, "/");
  EXPECT_EQ(p->host_header(), "127.0.0.1:4567");

  p = parse_url("HTTP://user:pw@[::1]:9000/bucket/key%20x?versionId=3&x#frag");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->scheme, "http");
  EXPECT_EQ(p->host, "::1");
  EXPECT_EQ(p->port, 9000);
  EXPECT_EQ(p->path, "/bucket/key%20x");
  EXPECT_EQ(p->query, "versionId=3&x");
  EXPECT_EQ(p->host_header(), "[::1]:9000");

  p = parse_url("https://h:443/?a=1");
  EXPECT_EQ(p->host_header(), "h");  // default port is not repeated
  EXPECT_EQ(p->query, "a=1");
}

TEST(ParseUrl, RejectsWithTheReason) {
  for (const char* bad : {"kinesis.amazonaws.com", "ftp://x/", "http://", "http://:80/",
                          "http://h:0/", "http://h:99999/", "http://h:12ab/", "http://[::1/"}) {
    auto p = parse_url(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find("bad URL"), std::string_view::npos);
  }
  // Queries (which can hold presigned credentials) stay out of messages.
  auto p = parse_url("ftp://h/?X-Amz-Security-Token=SECRET");
  EXPECT_EQ(p.status().message().find("SECRET"), std::string_view::npos);
}

TEST(HttpRequest, HeadersAreCaseInsensitive) {
  HttpRequest r;
  r.headers = {{"Content-Type", "a"}, {"X-Amz-Date", "b"}};
  EXPECT_EQ(r.header("content-type"), "a");
  r.set_header("content-TYPE", "c");
  EXPECT_EQ(r.header("Content-Type"), "c");
  EXPECT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.header("missing"), "");
}

}  // namespace
}  // namespace sluice::aws
