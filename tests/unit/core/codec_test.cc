#include <gtest/gtest.h>

#include <random>

#include "sluice/core/base64.h"
#include "sluice/core/json_writer.h"

namespace sluice {
namespace {

TEST(Base64, Rfc4648Vectors) {
  const std::pair<std::string, std::string> cases[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, enc] : cases) {
    EXPECT_EQ(base64_encode(plain), enc);
    auto dec = base64_decode(enc);
    ASSERT_TRUE(dec.ok()) << enc;
    EXPECT_EQ(*dec, plain);
  }
  EXPECT_EQ(*base64_decode("Zm8"), "fo");  // unpadded input is accepted
}

TEST(Base64, RoundTripsRandomBinary) {
  std::mt19937 rng(1);
  for (int len = 0; len < 300; ++len) {
    std::string data(len, '\0');
    for (auto& c : data) c = static_cast<char>(rng());
    std::string enc = base64_encode(data);
    EXPECT_EQ(enc.size(), base64_encoded_size(data.size()));
    auto dec = base64_decode(enc);
    ASSERT_TRUE(dec.ok());
    EXPECT_EQ(*dec, data) << len;
  }
}

TEST(Base64, RejectsBadInputNamingTheOffset) {
  auto r = base64_decode("Zm9v!mFy");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("'!' at offset 4"), std::string_view::npos) << r.status();
  EXPECT_FALSE(base64_decode("Zm9vY").ok());       // lone trailing character
  EXPECT_FALSE(base64_decode("Zm=v").ok());        // padding in the middle
  EXPECT_FALSE(base64_decode("Zm9v\nYmFy").ok());  // whitespace
  EXPECT_NE(base64_decode(std::string("Zm9\x01", 4)).status().message().find("0x01"),
            std::string_view::npos);
  std::string out = "keep";
  EXPECT_FALSE(base64_decode_append("@@@@", out).ok());
  EXPECT_EQ(out, "keep");  // nothing appended on error
}

TEST(JsonWriter, WritesNestedStructuresWithCommas) {
  std::string s;
  JsonWriter w(s);
  w.begin_object()
      .field("StreamName", "orders")
      .field("Limit", 100)
      .key("Records")
      .begin_array()
      .begin_object()
      .key("Data")
      .base64("hi")
      .field("PartitionKey", "pk")
      .end_object()
      .begin_object()
      .end_object()
      .end_array()
      .field("Ok", true)
      .key("Nothing")
      .null()
      .key("Ratio")
      .number(0.5)
      .key("Big")
      .number(static_cast<std::uint64_t>(18446744073709551615ull))
      .key("Raw")
      .raw("[1,2]")
      .end_object();
  EXPECT_EQ(
      s,
      "{\"StreamName\":\"orders\",\"Limit\":100,\"Records\":[{\"Data\":\"aGk=\",\"PartitionKey\":"
      "\"pk\"},{}],\"Ok\":true,\"Nothing\":null,\"Ratio\":0.5,\"Big\":18446744073709551615,"
      "\"Raw\":[1,2]}");
}

TEST(JsonWriter, EscapesStrings) {
  std::string s;
  append_json_string(s, std::string("a\"b\\c\nd\x01\xc3\xa9", 10));
  EXPECT_EQ(s, "\"a\\\"b\\\\c\\nd\\u0001\xc3\xa9\"");
  std::string n;
  JsonWriter(n).begin_array().number(std::numeric_limits<double>::infinity()).end_array();
  EXPECT_EQ(n, "[null]");
}

}  // namespace
}  // namespace sluice

#include "sluice/core/time_format.h"

namespace sluice {
namespace {

TEST(Rfc3339, ParsesZonesAndFractions) {
  using namespace std::chrono;
  auto a = parse_rfc3339("2026-01-01T00:00:00Z");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(duration_cast<seconds>(a->time_since_epoch()).count(), 1767225600);
  auto b = parse_rfc3339("2026-01-01T01:00:00.25+01:00");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(duration_cast<milliseconds>(b->time_since_epoch()).count(), 1767225600250);
  EXPECT_EQ(format_rfc3339(*b), "2026-01-01T00:00:00.250Z");
  for (const char* bad : {"2026-01-01", "2026-01-01T00:00:00", "2026-01-01T00:00:00Zjunk",
                          "yesterday", "2026-01-01T00:00:00+25:00"}) {
    auto r = parse_rfc3339(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find(bad), std::string_view::npos);
  }
}

}  // namespace
}  // namespace sluice
