#include "sluice/kafka/message.h"

#include <gtest/gtest.h>

namespace sluice::kafka {
namespace {

TEST(Message, BuiltByHandKeepsNullAndEmptyApart) {
  Message m({.topic = "orders",
             .partition = 3,
             .offset = 42,
             .key = std::nullopt,
             .value = std::string_view(""),
             .timestamp = Message::TimePoint(std::chrono::milliseconds(1'700'000'000'000)),
             .headers = {{"trace", "a", false}, {"empty", "", true}, {"trace", "b", false}}});
  EXPECT_EQ(m.topic(), "orders");
  EXPECT_EQ(m.partition(), 3);
  EXPECT_EQ(m.offset(), 42);
  EXPECT_FALSE(m.has_key());
  EXPECT_TRUE(m.has_value());
  EXPECT_EQ(m.value(), "");
  EXPECT_EQ(m.timestamp_type(), TimestampType::kCreateTime);
  EXPECT_EQ(m.timestamp().time_since_epoch(), std::chrono::milliseconds(1'700'000'000'000));
  ASSERT_EQ(m.headers().size(), 3u);
  EXPECT_TRUE(m.headers()[1].is_null);
  EXPECT_EQ(m.header("trace"), "b");  // the last one wins
  EXPECT_EQ(m.header("empty"), "");
  EXPECT_FALSE(m.header("missing"));
}

}  // namespace
}  // namespace sluice::kafka
