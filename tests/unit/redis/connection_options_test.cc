#include "sluice/redis/connection_options.h"

#include <gtest/gtest.h>

#include "sluice/redis/reply.h"
#include "sluice/redis/script.h"

namespace sluice::redis {
namespace {

TEST(RedisUrl, ParsesHostPortAndDatabase) {
  auto o = parse_redis_url("redis://10.0.0.5:6390/3");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "10.0.0.5");
  EXPECT_EQ(o->port, 6390);
  EXPECT_EQ(o->db, 3);
  EXPECT_TRUE(o->username.empty());
  EXPECT_TRUE(o->password.empty());
}

TEST(RedisUrl, DefaultsPortAndDatabase) {
  auto o = parse_redis_url("redis://cache.internal");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "cache.internal");
  EXPECT_EQ(o->port, 6379);
  EXPECT_EQ(o->db, 0);
}

TEST(RedisUrl, ParsesPasswordOnlyAndAclUser) {
  auto p = parse_redis_url("redis://:s3cr%40t@h:1");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->username, "");
  EXPECT_EQ(p->password, "s3cr@t");
  auto u = parse_redis_url("redis://app:pw@h:1/0");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->username, "app");
  EXPECT_EQ(u->password, "pw");
}

TEST(RedisUrl, ParsesIpv6AndUnixSockets) {
  auto v6 = parse_redis_url("redis://[::1]:7000/1");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 7000);
  auto ux = parse_redis_url("unix://:pw@/run/redis/redis.sock?db=2");
  ASSERT_TRUE(ux.ok()) << ux.status();
  EXPECT_EQ(ux->unix_socket, "/run/redis/redis.sock");
  EXPECT_EQ(ux->db, 2);
  EXPECT_EQ(ux->password, "pw");
}

TEST(RedisUrl, ParsesQueryParameters) {
  auto o = parse_redis_url(
      "redis://h/0?connect_timeout_ms=250&command_timeout_ms=1500&client_name=svc-a");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->connect_timeout.count(), 250);
  EXPECT_EQ(o->command_timeout.count(), 1500);
  EXPECT_EQ(o->client_name, "svc-a");
}

TEST(RedisUrl, RejectsTlsWithAClearReason) {
  auto o = parse_redis_url("rediss://:pw@h:6380");
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(o.status().message().find("TLS"), std::string_view::npos);
  EXPECT_NE(o.status().message().find("hiredis"), std::string_view::npos);
}

TEST(RedisUrl, ErrorsNameTheBadPartAndNeverThePassword) {
  struct Case {
    const char* url;
    const char* mentions;
  };
  for (const Case& c : {Case{"http://h", "scheme"}, Case{"127.0.0.1:6379", "redis://"},
                        Case{"redis://h:99999", "port"}, Case{"redis://h:x", "port"},
                        Case{"redis://h/abc", "database"}, Case{"redis://:hunter2@/0", "host"},
                        Case{"redis://h?bogus=1", "unknown parameter"},
                        Case{"redis://:pw%zz@h", "password"}, Case{"redis://h?db=-1", "db"}}) {
    auto o = parse_redis_url(c.url);
    ASSERT_FALSE(o.ok()) << c.url;
    EXPECT_NE(o.status().message().find(c.mentions), std::string_view::npos)
        << c.url << ": " << o.status();
    EXPECT_EQ(o.status().message().find("hunter2"), std::string_view::npos);
    EXPECT_EQ(o.status().message().find("pw%zz"), std::string_view::npos);
  }
}

TEST(RedisUrl, DescribeHidesThePassword) {
  auto o = parse_redis_url("redis://app:topsecret@10.1.2.3:6379/4");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->describe(), "redis://app:***@10.1.2.3:6379/4");
  auto p = parse_redis_url("redis://:topsecret@h");
  EXPECT_EQ(p->describe(), "redis://:***@h:6379/0");
}

TEST(ConnectionOptions, ValidateNamesTheField) {
  ConnectionOptions o;
  o.command_timeout = std::chrono::milliseconds(0);
  EXPECT_NE(o.validate().message().find("command_timeout"), std::string_view::npos);
  ConnectionOptions u;
  u.username = "app";
  EXPECT_NE(u.validate().message().find("password"), std::string_view::npos);
}

TEST(Sha1, MatchesKnownVectors) {
  EXPECT_EQ(sha1_hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(sha1_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(sha1_hex(std::string(1000000, 'a')), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  // The SHA Redis reports for `return 1` (SCRIPT LOAD "return 1").
  EXPECT_EQ(Script("return 1").sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

TEST(Reply, ErrorCodesMapToStatusCodes) {
  EXPECT_EQ(reply_error_status(Reply::error("NOSCRIPT No matching script")).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(reply_error_status(Reply::error("BUSYGROUP Consumer Group name already exists")).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(reply_error_status(Reply::error("WRONGPASS invalid username-password pair")).code(),
            StatusCode::kPermissionDenied);
  Status loading =
      reply_error_status(Reply::error("LOADING Redis is loading the dataset in memory"));
  EXPECT_EQ(loading.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(loading.retryable());
  EXPECT_EQ(reply_error_status(Reply::error("WRONGTYPE Operation against a key")).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(reply_error_status(Reply::string("x")).ok());
  EXPECT_EQ(Reply::error("ERR syntax error").error_code(), "ERR");
}

TEST(Reply, ConversionsAndDebugString) {
  Reply r = Reply::array({Reply::string("a"), Reply::integer(3), Reply::nil()});
  EXPECT_EQ(r.debug_string(), "[\"a\", (integer) 3, nil]");
  EXPECT_EQ(Reply::string("42").as_integer().value(), 42);
  EXPECT_FALSE(Reply::string("4x").as_integer().has_value());
  EXPECT_EQ(Reply::integer(7).as_text().value(), "7");
  EXPECT_TRUE(Reply::status("OK").is_ok());
}

}  // namespace
}  // namespace sluice::redis
