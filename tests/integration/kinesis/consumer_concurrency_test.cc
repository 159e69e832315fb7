// The engine's threads under load, against kinesalite: many shards read at
// once, handlers in parallel within a shard, read-ahead bounded, and a
// graceful stop in the middle. Labelled "concurrency": these also run under
// ThreadSanitizer.
#include <gtest/gtest.h>

#include "consumer_harness.h"

namespace sluice::kinesis::testing {
namespace {

class ConsumerConcurrencyTest : public KinesisStreamTest {};

TEST_F(ConsumerConcurrencyTest, ManyShardsParallelHandlersAndAStopMidway) {
  create_stream(6);
  auto puts = put(600, "c");
  Collector got;
  auto store = std::make_shared<MemoryCheckpointStore>();
  auto o = options(got);
  o.shard_concurrency = 3;
  o.handler_threads = 4;
  o.batch_size = 20;
  o.prefetch_batches = 2;
  o.max_buffered_bytes = 2000;  // tiny: readers wait on each other
  auto c = start(o, store);
  ASSERT_TRUE(wait_for([&] { return got.size() >= 300; }));
  EXPECT_TRUE(c->stop().ok());  // graceful, with batches in flight
  // A second consumer finishes from the checkpoints: nothing lost.
  auto c2 = start(o, store);
  ASSERT_TRUE(wait_for([&] {
    std::set<std::string> data;
    for (const auto& s : got.seen()) data.insert(s.data);
    return data.size() >= 600;
  }));
  EXPECT_TRUE(c2->stop().ok());
  std::set<std::string> data;
  for (const auto& s : got.seen()) data.insert(s.data);
  for (const auto& p : puts) EXPECT_TRUE(data.count(p.data)) << "lost " << p.data;
}

TEST_F(ConsumerConcurrencyTest, StatusIsReadWhileShardsRun) {
  create_stream(4);
  put(400, "s");
  Collector got;
  auto c = start(options(got), std::make_shared<MemoryCheckpointStore>());
  std::size_t polls = 0;
  ASSERT_TRUE(wait_for([&] {
    ++polls;
    for (const auto& s : c->consumer().status()) EXPECT_FALSE(s.shard_id.empty());
    return got.size() >= 400;
  }));
  EXPECT_GT(polls, 0u);
  EXPECT_TRUE(c->stop().ok());
}

}  // namespace
}  // namespace sluice::kinesis::testing
