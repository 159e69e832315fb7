// The CLI's JSON-lines format: what consume prints, produce reads back.
#include "sluice/kafka/json_lines.h"

#include <gtest/gtest.h>

namespace sluice::kafka {
namespace {

TEST(JsonLines, AMessageBecomesOneLineWithBase64Bytes) {
  Message m({.topic = "orders",
             .partition = 2,
             .offset = 42,
             .key = std::string_view("key"),
             .value = std::string_view("v\0\xff", 3),
             .timestamp = Message::TimePoint(std::chrono::milliseconds(1767225600000)),
             .headers = {{"trace", "abc", false}, {"none", "", true}}});
  EXPECT_EQ(message_json(m),
            R"({"topic":"orders","partition":2,"offset":42,"timestamp":1767225600000,)"
            R"("key":"a2V5","value":"dgD/","headers":[{"key":"trace","value":"YWJj"},)"
            R"({"key":"none","value":null}]})");
}

TEST(JsonLines, NullsForMissingKeyTombstoneAndNoTimestamp) {
  Message m({.topic = "t",
             .key = std::nullopt,
             .value = std::nullopt,
             .timestamp_type = TimestampType::kNone});
  EXPECT_EQ(message_json(m),
            R"({"topic":"t","partition":0,"offset":0,"timestamp":null,"key":null,"value":null,)"
            R"("headers":[]})");
}

TEST(JsonLines, ConsumeOutputParsesBackForProduce) {
  Message m({.topic = "orders",
             .key = std::string_view("k"),
             .value = std::string_view("hello"),
             .headers = {{"a", "1", false}, {"a", "2", false}, {"n", "", true}}});
  auto parsed = parse_message_json(message_json(m));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->key, "k");
  EXPECT_EQ(parsed->value, "hello");
  ASSERT_EQ(parsed->headers.size(), 3u);
  EXPECT_EQ(parsed->headers[1].key, "a");
  EXPECT_EQ(parsed->headers[1].value, "2");
  EXPECT_FALSE(parsed->headers[2].value.has_value());
}

TEST(JsonLines, HeadersMayBeAnObjectAndKeyMayBeAbsent) {
  auto parsed = parse_message_json(R"({"value":"dg==","headers":{"x":"eQ==","z":null}})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_FALSE(parsed->key.has_value());
  EXPECT_EQ(parsed->value, "v");
  ASSERT_EQ(parsed->headers.size(), 2u);
  EXPECT_EQ(parsed->headers[0].key, "x");
  EXPECT_EQ(parsed->headers[0].value, "y");
  EXPECT_FALSE(parsed->headers[1].value.has_value());
  auto tombstone = parse_message_json(R"({"key":"aw==","value":null})");
  ASSERT_TRUE(tombstone.ok());
  EXPECT_FALSE(tombstone->value.has_value());
}

TEST(JsonLines, BadLinesAreRefusedWithTheReason) {
  auto expect_error = [](std::string_view line, std::string_view mentions) {
    auto r = parse_message_json(line);
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(mentions), std::string_view::npos) << r.status();
  };
  expect_error("not json", "JSON");
  expect_error("[1,2]", "not a JSON object");
  expect_error(R"({"key":"aw=="})", "\"value\" is missing");
  expect_error(R"({"value":"***"})", "\"value\" is not valid base64");
  expect_error(R"({"value":12})", "\"value\" must be a base64 string");
  expect_error(R"({"value":"dg==","key":true})", "\"key\"");
  expect_error(R"({"value":"dg==","headers":[{"value":"dg=="}]})", "headers[0]");
  expect_error(R"({"value":"dg==","headers":"x"})", "\"headers\"");
}

}  // namespace
}  // namespace sluice::kafka
