// The at-least-once rule: a partition's commit never passes a message that
// was not handled, whatever order handlers finish in.
#include "kafka/offset_tracker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace sluice::kafka::internal {
namespace {

const PartitionRef kP0{"orders", 0};
const PartitionRef kP1{"orders", 1};

std::vector<std::pair<int, std::int64_t>> as_pairs(const std::vector<OffsetCommit>& commits) {
  std::vector<std::pair<int, std::int64_t>> out;
  for (const auto& c : commits) out.emplace_back(c.partition.partition, c.offset);
  return out;
}

TEST(OffsetTracker, InOrderHandlingCommitsOnePastTheLastMessage) {
  OffsetTracker t;
  t.assign(kP0);
  EXPECT_FALSE(t.committable(kP0));
  for (std::int64_t o = 0; o < 5; ++o) {
    ASSERT_TRUE(t.dispatched(kP0, o));
    t.completed(kP0, o, MessageOutcome::kHandled);
  }
  EXPECT_EQ(t.committable(kP0), 5);
  EXPECT_EQ(t.pending(kP0), 0u);
  EXPECT_EQ(as_pairs(t.take_commits()), (std::vector<std::pair<int, std::int64_t>>{{0, 5}}));
  // Nothing new: nothing to commit.
  EXPECT_TRUE(t.take_commits().empty());
}

TEST(OffsetTracker, AFailedMessageIsNeverSkippedByALaterSuccess) {
  // Seed 004's Go package marks each message it handled, and marking offset
  // n commits everything below n: a failed message 2 is lost once 3 succeeds.
  OffsetTracker t;
  t.assign(kP0);
  for (std::int64_t o = 0; o < 6; ++o) ASSERT_TRUE(t.dispatched(kP0, o));
  t.completed(kP0, 0, MessageOutcome::kHandled);
  t.completed(kP0, 1, MessageOutcome::kHandled);
  t.completed(kP0, 2, MessageOutcome::kFailed);
  t.completed(kP0, 3, MessageOutcome::kHandled);
  t.completed(kP0, 4, MessageOutcome::kHandled);
  t.completed(kP0, 5, MessageOutcome::kHandled);
  EXPECT_EQ(t.committable(kP0), 2);  // resume at the failed message
  EXPECT_TRUE(t.blocked(kP0));
  EXPECT_EQ(as_pairs(t.take_commits()), (std::vector<std::pair<int, std::int64_t>>{{0, 2}}));
  // More successes later still do not move it.
  ASSERT_TRUE(t.dispatched(kP0, 6));
  t.completed(kP0, 6, MessageOutcome::kHandled);
  EXPECT_EQ(t.committable(kP0), 2);
  EXPECT_TRUE(t.take_commits().empty());
}

TEST(OffsetTracker, AbandonedMessagesHoldTheCommitToo) {
  OffsetTracker t;
  t.assign(kP0);
  for (std::int64_t o = 10; o < 13; ++o) ASSERT_TRUE(t.dispatched(kP0, o));
  t.completed(kP0, 10, MessageOutcome::kHandled);
  t.completed(kP0, 11, MessageOutcome::kAbandoned);
  t.completed(kP0, 12, MessageOutcome::kHandled);
  EXPECT_EQ(t.committable(kP0), 11);
  EXPECT_EQ(t.pending(kP0), 0u);
}

TEST(OffsetTracker, OutOfOrderCompletionMovesOnlyOverTheHandledPrefix) {
  OffsetTracker t;
  t.assign(kP0);
  for (std::int64_t o = 0; o < 4; ++o) ASSERT_TRUE(t.dispatched(kP0, o));
  t.completed(kP0, 3, MessageOutcome::kHandled);
  t.completed(kP0, 1, MessageOutcome::kHandled);
  EXPECT_FALSE(t.committable(kP0));  // 0 still running
  EXPECT_EQ(t.pending(kP0), 2u);
  t.completed(kP0, 0, MessageOutcome::kHandled);
  EXPECT_EQ(t.committable(kP0), 2);  // 2 still running
  t.completed(kP0, 2, MessageOutcome::kHandled);
  EXPECT_EQ(t.committable(kP0), 4);
}

TEST(OffsetTracker, RandomCompletionOrderNeverCommitsPastAnUnhandledMessage) {
  std::mt19937 rng(42);
  for (int round = 0; round < 200; ++round) {
    OffsetTracker t;
    t.assign(kP0);
    const int n = 30;
    std::vector<std::int64_t> offsets;
    std::int64_t o = 100;
    for (int i = 0; i < n; ++i) {
      o += 1 + static_cast<std::int64_t>(rng() % 3);  // gaps, as after compaction
      offsets.push_back(o);
      ASSERT_TRUE(t.dispatched(kP0, o));
    }
    std::vector<std::int64_t> order = offsets;
    std::shuffle(order.begin(), order.end(), rng);
    const std::int64_t failing = offsets[rng() % n];
    std::vector<std::int64_t> done;
    for (std::int64_t x : order) {
      t.completed(kP0, x, x == failing ? MessageOutcome::kFailed : MessageOutcome::kHandled);
      if (x != failing) done.push_back(x);
      // The committable position is never beyond an offset that is not handled.
      if (auto c = t.committable(kP0)) {
        for (std::int64_t y : offsets) {
          if (y < *c) {
            ASSERT_NE(y, failing) << "round " << round;
            ASSERT_NE(std::find(done.begin(), done.end(), y), done.end()) << "round " << round;
          }
        }
      }
    }
    // At the end it stops right after the message before the failed one
    // (the next offset that exists is the failed message).
    auto pos = std::find(offsets.begin(), offsets.end(), failing);
    if (pos == offsets.begin()) {
      EXPECT_FALSE(t.committable(kP0));
    } else {
      EXPECT_EQ(t.committable(kP0), *(pos - 1) + 1);
    }
  }
}

TEST(OffsetTracker, PartitionsAreIndependent) {
  OffsetTracker t;
  t.assign(kP0);
  t.assign(kP1);
  ASSERT_TRUE(t.dispatched(kP0, 0));
  ASSERT_TRUE(t.dispatched(kP1, 0));
  ASSERT_TRUE(t.dispatched(kP1, 1));
  t.completed(kP0, 0, MessageOutcome::kFailed);
  t.completed(kP1, 0, MessageOutcome::kHandled);
  t.completed(kP1, 1, MessageOutcome::kHandled);
  EXPECT_FALSE(t.committable(kP0));
  EXPECT_EQ(t.committable(kP1), 2);
  EXPECT_EQ(as_pairs(t.take_commits()), (std::vector<std::pair<int, std::int64_t>>{{1, 2}}));
  EXPECT_EQ(t.pending_total(), 0u);
}

TEST(OffsetTracker, UnassignedOrReplayedOffsetsAreRefused) {
  OffsetTracker t;
  EXPECT_FALSE(t.dispatched(kP0, 0));  // not assigned
  t.assign(kP0);
  ASSERT_TRUE(t.dispatched(kP0, 5));
  EXPECT_FALSE(t.dispatched(kP0, 5));  // not increasing
  EXPECT_FALSE(t.dispatched(kP0, 3));
  EXPECT_EQ(t.pending(kP0), 1u);
  // Completing something unknown is ignored.
  t.completed(kP0, 4, MessageOutcome::kHandled);
  t.completed(kP1, 0, MessageOutcome::kHandled);
  EXPECT_EQ(t.pending(kP0), 1u);
  EXPECT_EQ(t.next_offset(kP0), 6);
}

TEST(OffsetTracker, RevokeForgetsThePartitionAndItsPendingMessages) {
  OffsetTracker t;
  t.assign(kP0);
  t.assign(kP1);
  ASSERT_TRUE(t.dispatched(kP0, 0));
  ASSERT_TRUE(t.dispatched(kP1, 0));
  EXPECT_EQ(t.pending_total(), 2u);
  t.revoke(kP0);
  EXPECT_FALSE(t.is_assigned(kP0));
  EXPECT_EQ(t.pending_total(), 1u);
  t.completed(kP0, 0, MessageOutcome::kHandled);  // late completion: ignored
  EXPECT_EQ(t.pending_total(), 1u);
  // Assigned again (a rebalance gave it back): starts afresh.
  t.assign(kP0);
  EXPECT_FALSE(t.committable(kP0));
  EXPECT_TRUE(t.dispatched(kP0, 0));
}

TEST(OffsetTracker, AResumedPositionIsCommittableAtOnce) {
  OffsetTracker t;
  t.assign(kP0, 10);
  EXPECT_EQ(t.committable(kP0), 10);
  EXPECT_FALSE(t.dispatched(kP0, 9));  // below the resumed position
  EXPECT_EQ(as_pairs(t.take_commits()), (std::vector<std::pair<int, std::int64_t>>{{0, 10}}));
  ASSERT_TRUE(t.dispatched(kP0, 10));
  t.completed(kP0, 10, MessageOutcome::kHandled);
  EXPECT_EQ(t.committable(kP0), 11);
}

TEST(OffsetTracker, TakeCommitsForChosenPartitions) {
  OffsetTracker t;
  t.assign(kP0);
  t.assign(kP1);
  for (auto p : {kP0, kP1}) {
    ASSERT_TRUE(t.dispatched(p, 0));
    t.completed(p, 0, MessageOutcome::kHandled);
  }
  std::vector<PartitionId> only = {{"orders", 1}};
  EXPECT_EQ(as_pairs(t.take_commits(only)), (std::vector<std::pair<int, std::int64_t>>{{1, 1}}));
  EXPECT_EQ(as_pairs(t.take_commits()), (std::vector<std::pair<int, std::int64_t>>{{0, 1}}));
}

TEST(OffsetTracker, AFailedCommitIsTakenAgain) {
  OffsetTracker t;
  t.assign(kP0);
  ASSERT_TRUE(t.dispatched(kP0, 0));
  t.completed(kP0, 0, MessageOutcome::kHandled);
  auto first = t.take_commits();
  ASSERT_EQ(first.size(), 1u);
  t.commit_result(kP0, 1, /*ok=*/false);
  EXPECT_FALSE(t.acknowledged(kP0));
  auto again = t.take_commits();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].offset, 1);
  t.commit_result(kP0, 1, /*ok=*/true);
  EXPECT_EQ(t.acknowledged(kP0), 1);
  EXPECT_TRUE(t.take_commits().empty());
}

}  // namespace
}  // namespace sluice::kafka::internal

namespace sluice::kafka::internal {
namespace {

// The poll thread's one-lookup path must give exactly what dispatched() +
// completed() give, whatever the outcomes and gaps.
TEST(OffsetTracker, InOrderPathMatchesDispatchedAndCompleted) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    OffsetTracker pair;
    OffsetTracker in_order;
    const PartitionRef p{"t", 0};
    pair.assign(p);
    in_order.assign(p);
    // Odd rounds look the partition up once, as the poll thread does per batch.
    const OffsetTracker::Partition found = in_order.find_partition(p);
    std::int64_t offset = static_cast<std::int64_t>(rng() % 3);
    for (int i = 0; i < 30; ++i) {
      const auto roll = rng() % 10;
      const MessageOutcome outcome = roll < 8   ? MessageOutcome::kHandled
                                     : roll < 9 ? MessageOutcome::kFailed
                                                : MessageOutcome::kAbandoned;
      const bool ok = pair.dispatched(p, offset);
      const auto m = round % 2 ? in_order.dispatch_in_order(found, offset)
                               : in_order.dispatch_in_order(p, offset);
      ASSERT_EQ(ok, static_cast<bool>(m));
      pair.completed(p, offset, outcome);
      in_order.complete_in_order(m, outcome);
      ASSERT_EQ(pair.committable(p), in_order.committable(p)) << "round " << round << " i " << i;
      ASSERT_EQ(pair.blocked(p), in_order.blocked(p));
      ASSERT_EQ(pair.pending_total(), in_order.pending_total());
      ASSERT_EQ(pair.next_offset(p), in_order.next_offset(p));
      offset += 1 + static_cast<std::int64_t>(rng() % 2);  // gaps: compaction, markers
      if (rng() % 20 == 0) offset -= 2;                    // a replayed offset is refused
    }
    const auto a = pair.take_commits();
    const auto b = in_order.take_commits();
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].offset, b[i].offset);
  }
}

TEST(OffsetTracker, APartitionFoundOnceDispatchesOnlyWhileAssigned) {
  OffsetTracker t;
  const PartitionRef p{"t", 3};
  EXPECT_FALSE(t.find_partition(p));
  EXPECT_FALSE(t.dispatch_in_order(t.find_partition(p), 0));  // not ours: dropped
  t.assign(p, 10);
  const OffsetTracker::Partition found = t.find_partition(p);
  ASSERT_TRUE(found);
  EXPECT_FALSE(t.find_partition({"t", 4}));
  EXPECT_FALSE(t.find_partition({"u", 3}));
  EXPECT_FALSE(t.dispatch_in_order(found, 9));  // below the resumed position
  const auto m = t.dispatch_in_order(found, 10);
  ASSERT_TRUE(m);
  EXPECT_EQ(t.pending_total(), 1u);
  t.complete_in_order(m, MessageOutcome::kHandled);
  EXPECT_EQ(t.committable(p), 11);
  EXPECT_EQ(t.next_offset(p), 11);
}

}  // namespace
}  // namespace sluice::kafka::internal
