#include "sluice/redis/lbs.h"

#include <gtest/gtest.h>

#include "sluice/redis/stream_client.h"

namespace sluice::redis {
namespace {

TEST(LbsWireFormat, NamesFollowTheGoClient) {
  EXPECT_EQ(lbs_stream_name("my-service"), "my-service-input");
  EXPECT_EQ(lbs_group_name("my-service"), "my-service-group");
  EXPECT_EQ(kMutexKeySep, "<MUTEX_KEY_SEP>");
  EXPECT_EQ(lock_keyspace_pattern(0), "__keyspace@0__:*<MUTEX_KEY_SEP>*");
  EXPECT_EQ(lock_keyspace_pattern(3), "__keyspace@3__:*<MUTEX_KEY_SEP>*");
  LbsInfo info{"user-session-123", "1700000000000-0"};
  EXPECT_EQ(info.mutex_key(), "user-session-123<MUTEX_KEY_SEP>1700000000000-0");
}

TEST(LbsWireFormat, ParsesLockKeysAndKeyspaceChannels) {
  auto k = parse_mutex_key("orders:eu<MUTEX_KEY_SEP>1-2");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->data_stream_name, "orders:eu");  // ':' in names is fine
  EXPECT_EQ(k->id_in_lbs, "1-2");
  auto ch = parse_mutex_key("__keyspace@12__:a:b<MUTEX_KEY_SEP>3-4");
  ASSERT_TRUE(ch.ok()) << ch.status();
  EXPECT_EQ(ch->data_stream_name, "a:b");
  EXPECT_EQ(ch->id_in_lbs, "3-4");
  for (const char* bad :
       {"no-separator", "<MUTEX_KEY_SEP>1-1", "name<MUTEX_KEY_SEP>",
        "a<MUTEX_KEY_SEP>b<MUTEX_KEY_SEP>c", "__keyspace@x__:a<MUTEX_KEY_SEP>1"}) {
    EXPECT_FALSE(parse_mutex_key(bad).ok()) << bad;
  }
}

TEST(LbsWireFormat, ParsesTheGoProducersMessage) {
  auto m = parse_lbs_message(
      R"({"DataStreamName":"user-session-123","Info":{"user_id":"user-456","priority":"high","n":1.5,"tags":["a"],"ok":true}})");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->data_stream_name, "user-session-123");
  EXPECT_EQ(m->info.at("user_id"), "user-456");
  EXPECT_EQ(m->info.at("n"), "1.5");
  EXPECT_EQ(m->info.at("tags"), "[\"a\"]");
  EXPECT_EQ(m->info.at("ok"), "true");
  EXPECT_EQ(m->info_json,
            R"({"user_id":"user-456","priority":"high","n":1.5,"tags":["a"],"ok":true})");
  auto no_info = parse_lbs_message(R"({"DataStreamName":"s","Info":null})");
  ASSERT_TRUE(no_info.ok());
  EXPECT_EQ(no_info->info_json, "{}");
  EXPECT_TRUE(no_info->info.empty());
  EXPECT_TRUE(parse_lbs_message(R"({"DataStreamName":"s"})").ok());
}

TEST(LbsWireFormat, RejectsMalformedMessagesWithTheReason) {
  struct Case {
    const char* json;
    const char* reason;
  };
  for (const Case& c :
       {Case{"{nope", "not valid JSON"}, Case{"[1]", "not a JSON object"},
        Case{R"({"Info":{}})", "no DataStreamName"},
        Case{R"({"DataStreamName":7})", "not a string"}, Case{R"({"DataStreamName":""})", "empty"},
        Case{R"({"DataStreamName":"a","Info":"x"})", "Info"},
        Case{R"({"DataStreamName":"a<MUTEX_KEY_SEP>b"})", "MUTEX_KEY_SEP"}}) {
    auto m = parse_lbs_message(c.json);
    ASSERT_FALSE(m.ok()) << c.json;
    EXPECT_EQ(m.status().code(), StatusCode::kCorruption);
    EXPECT_NE(m.status().message().find(c.reason), std::string_view::npos)
        << c.json << ": " << m.status();
  }
}

TEST(LbsWireFormat, EncodesLikeGosEncodingJson) {
  // json.Marshal(notifs.LBSInputMessage{...}): field order as declared.
  EXPECT_EQ(*encode_lbs_message("s-1"), R"({"DataStreamName":"s-1","Info":null})");
  EXPECT_EQ(*encode_lbs_message("s\"1", R"({ "a" : 1 })"),
            R"({"DataStreamName":"s\"1","Info":{"a":1}})");
  EXPECT_FALSE(encode_lbs_message("", "").ok());
  auto bad = encode_lbs_message("s", "[1,2]");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("info"), std::string_view::npos);
  // Round trip.
  auto back = parse_lbs_message(*encode_lbs_message("line\nbreak", R"({"k":"v"})"));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->data_stream_name, "line\nbreak");
  EXPECT_EQ(back->info.at("k"), "v");
}

TEST(Notifications, TypeNamesMatchTheSeed) {
  EXPECT_EQ(notification_type_name(NotificationType::kStreamAdded), "StreamAdded");
  EXPECT_EQ(notification_type_name(NotificationType::kStreamExpired), "StreamExpired");
  EXPECT_EQ(notification_type_name(NotificationType::kStreamDisowned), "StreamDisowned");
  EXPECT_EQ(notification_type_name(NotificationType::kStreamTerminated), "StreamTerminated");
}

TEST(NotificationQueue, KeepsOrderAndNothingComesAfterTheLast) {
  NotificationQueue q;
  for (int i = 0; i < 3; ++i) {
    Notification n;
    n.type = NotificationType::kStreamAdded;
    n.info.data_stream_name = std::to_string(i);
    ASSERT_TRUE(q.push(n));
  }
  Notification last;
  last.type = NotificationType::kStreamTerminated;
  ASSERT_TRUE(q.push_last(last));
  EXPECT_FALSE(q.push(Notification{}));
  EXPECT_FALSE(q.push_last(last));
  EXPECT_TRUE(q.closed());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(q.pop()->info.data_stream_name, std::to_string(i));
  EXPECT_EQ(q.pop()->type, NotificationType::kStreamTerminated);
  EXPECT_FALSE(q.pop().has_value());  // closed and drained: no blocking
  EXPECT_FALSE(q.try_pop().has_value());
}

TEST(NotificationQueue, PopHonoursTimeoutsAndStopTokens) {
  NotificationQueue q;
  EXPECT_FALSE(q.pop_for(std::chrono::milliseconds(10)).has_value());
  std::stop_source stop;
  stop.request_stop();
  EXPECT_FALSE(q.pop(stop.get_token()).has_value());
}

}  // namespace
}  // namespace sluice::redis
