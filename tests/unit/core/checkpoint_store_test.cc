#include "sluice/core/checkpoint_store.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(CheckpointEncoding, RoundTripsEveryForm) {
  const Checkpoint cases[] = {
      {"49590338271490256608559692538361571095921575989136588898", std::nullopt, false},
      {"49590338271490256608559692538361571095921575989136588898", 7, false},
      {"", std::nullopt, true},
      {"49590338271490256608559692538361571095921575989136588898", std::nullopt, true},
  };
  const char* texts[] = {
      "49590338271490256608559692538361571095921575989136588898",
      "49590338271490256608559692538361571095921575989136588898:7",
      "SHARD_END",
      "SHARD_END:49590338271490256608559692538361571095921575989136588898",
  };
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(encode_checkpoint(cases[i]), texts[i]);
    auto parsed = parse_checkpoint(texts[i]);
    ASSERT_TRUE(parsed.ok()) << texts[i];
    EXPECT_EQ(*parsed, cases[i]) << texts[i];
  }
}

TEST(CheckpointEncoding, StartSentinels) {
  for (auto [text, sentinel] : {std::pair{"TRIM_HORIZON", StartSentinel::kTrimHorizon},
                                std::pair{"LATEST", StartSentinel::kLatest},
                                std::pair{"AT_TIMESTAMP", StartSentinel::kAtTimestamp}}) {
    auto c = parse_checkpoint(text);
    ASSERT_TRUE(c.ok()) << text;
    EXPECT_EQ(c->sentinel, sentinel);
    EXPECT_TRUE(c->sequence_number.empty());
    EXPECT_FALSE(c->shard_end);
    EXPECT_EQ(encode_checkpoint(*c), text);
  }
}

TEST(CheckpointEncoding, RejectsGarbageWithTheText) {
  for (const char* bad :
       {"", "abc", "123:", "123:x", "SHARD_ENDX", "SHARD_END:", "SHARD_END:1a", "-5", "12:3:4"}) {
    auto r = parse_checkpoint(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
    EXPECT_NE(r.status().message().find(std::string("\"") + bad + "\""), std::string_view::npos);
  }
}

TEST(MemoryCheckpointStore, GetSaveListRemove) {
  MemoryCheckpointStore store;
  EXPECT_FALSE(store.get("s", "shard-1")->has_value());
  ASSERT_TRUE(store.save("s", "shard-1", {"100", std::nullopt, false}).ok());
  ASSERT_TRUE(store.save("s", "shard-2", {"200", 3, false}).ok());
  ASSERT_TRUE(store.save("other", "shard-1", {"999", std::nullopt, false}).ok());
  EXPECT_EQ(store.get("s", "shard-1")->value().sequence_number, "100");
  ASSERT_TRUE(store.mark_shard_end("s", "shard-1", "150").ok());
  auto c = store.get("s", "shard-1");
  EXPECT_TRUE((*c)->shard_end);
  EXPECT_EQ((*c)->sequence_number, "150");
  auto all = store.list("s");
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(all->at("shard-2").sub_sequence_number, 3u);
  ASSERT_TRUE(store.remove("s", "shard-2").ok());
  ASSERT_TRUE(store.remove("s", "never-there").ok());
  EXPECT_EQ(store.list("s")->size(), 1u);
  EXPECT_EQ(store.list("nothing")->size(), 0u);
}

}  // namespace
}  // namespace sluice
