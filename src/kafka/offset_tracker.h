// OffsetTracker: which offset of each partition may be committed, given the
// messages handed to handlers and how each of them ended.
//
// The rule that makes delivery at-least-once: the committed position of a
// partition never passes a message that was not handled successfully. With
// handlers finishing out of order (handler threads), a later message that
// succeeded does not move the commit past an earlier one that failed or is
// still running; that is the bug of seed 004's Go package (marking a later
// message commits every offset before it).
//
// Pure logic, no librdkafka and no locks: the consumer session serializes
// access. Offsets of one partition must be dispatched in increasing order
// (they may have gaps: compaction, transaction markers).
#ifndef SLUICE_SRC_KAFKA_OFFSET_TRACKER_H_
#define SLUICE_SRC_KAFKA_OFFSET_TRACKER_H_

#include <compare>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::kafka::internal {

// A partition named by reference (no allocation), for lookups.
struct PartitionRef {
  std::string_view topic;
  std::int32_t partition = 0;
};

// A partition that owns its topic name.
struct PartitionId {
  std::string topic;
  std::int32_t partition = 0;

  PartitionRef ref() const { return {topic, partition}; }
  friend bool operator==(const PartitionId&, const PartitionId&) = default;
};

struct PartitionLess {
  using is_transparent = void;
  static std::strong_ordering cmp(std::string_view at, std::int32_t ap, std::string_view bt,
                                  std::int32_t bp) {
    if (auto c = at.compare(bt); c != 0)
      return c < 0 ? std::strong_ordering::less : std::strong_ordering::greater;
    return ap <=> bp;
  }
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    return cmp(a.topic, a.partition, b.topic, b.partition) < 0;
  }
};

// The offset to commit for a partition: the next message to read.
struct OffsetCommit {
  PartitionId partition;
  std::int64_t offset = 0;
};

enum class MessageOutcome {
  kHandled,    // the handler (or the dead-letter topic) took it: may be committed
  kFailed,     // the handler failed for good: blocks the partition's commits
  kAbandoned,  // never finished (stop, revocation): blocks commits, is redelivered
};

class OffsetTracker {
 public:
  // Starts tracking a partition (assignment). Idempotent. With
  // `handled_upto`, every offset below it counts as handled already (a
  // position resumed from this process's own handled messages): it is
  // committable at once and dispatches must start there.
  void assign(const PartitionRef& p, std::optional<std::int64_t> handled_upto = std::nullopt);
  // Forgets a partition (revocation); its pending messages no longer count.
  void revoke(const PartitionRef& p);
  void clear();
  bool is_assigned(const PartitionRef& p) const;
  std::vector<PartitionId> partitions() const;

  // Records that `offset` was handed to a handler. False (and nothing
  // recorded) if the partition is not assigned or `offset` is not above the
  // last one dispatched: the caller must then drop the message.
  bool dispatched(const PartitionRef& p, std::int64_t offset);
  // Records how the message at `offset` ended. Unknown partitions or offsets
  // (revoked meanwhile) are ignored.
  void completed(const PartitionRef& p, std::int64_t offset, MessageOutcome outcome);

  // dispatched() and completed() for a message handled where it is read (no
  // handler threads): one lookup, and no window entry while the partition's
  // messages succeed in order. Same rules and results as the pair. The
  // partition must not be revoked between the two calls.
  class InOrder {
   public:
    explicit operator bool() const { return state_ != nullptr; }

   private:
    friend class OffsetTracker;
    void* state_ = nullptr;
    std::int64_t offset_ = -1;
  };
  InOrder dispatch_in_order(const PartitionRef& p, std::int64_t offset);
  void complete_in_order(InOrder m, MessageOutcome outcome);

  // A partition looked up once for a run of its messages (one batch read):
  // dispatch_in_order() through it needs no lookup by name. Valid until the
  // next assign(), revoke() or clear(); false if `p` is not assigned.
  class Partition {
   public:
    Partition() = default;
    explicit operator bool() const { return state_ != nullptr; }

   private:
    friend class OffsetTracker;
    explicit Partition(void* state) : state_(state) {}
    void* state_ = nullptr;
  };
  Partition find_partition(const PartitionRef& p) { return Partition(find(p)); }
  InOrder dispatch_in_order(Partition p, std::int64_t offset);

  // Where consumption would resume if committed now: one past the highest
  // offset below which every dispatched message was handled. nullopt until a
  // message of the partition was handled.
  std::optional<std::int64_t> committable(const PartitionRef& p) const;
  // One past the last offset dispatched; nullopt if none was.
  std::optional<std::int64_t> next_offset(const PartitionRef& p) const;
  // Messages dispatched and not yet completed.
  std::size_t pending(const PartitionRef& p) const;
  std::size_t pending_total() const { return pending_total_; }
  // Whether a failed or abandoned message holds the partition's commits back.
  bool blocked(const PartitionRef& p) const;

  // The partitions whose committable position moved past what was last
  // handed out, with that position; marks them handed out. With `only`,
  // looks at those partitions alone.
  std::vector<OffsetCommit> take_commits();
  std::vector<OffsetCommit> take_commits(std::span<const PartitionId> only);
  // The broker's answer to a commit taken above. A failure makes the
  // partition due again from its last acknowledged position.
  void commit_result(const PartitionRef& p, std::int64_t offset, bool ok);
  // The last position the broker acknowledged; nullopt if none.
  std::optional<std::int64_t> acknowledged(const PartitionRef& p) const;

 private:
  enum class EntryState : std::uint8_t { kPending, kHandled, kFailed, kAbandoned };
  struct Entry {
    std::int64_t offset;
    EntryState state;
  };
  struct State {
    std::deque<Entry> window;  // dispatched, not yet popped, ascending offsets
    std::int64_t next = -1;    // last dispatched + 1
    std::int64_t handled_upto = -1;
    std::int64_t sent = -1;
    std::int64_t acked = -1;
    std::size_t pending = 0;
  };
  State* find(const PartitionRef& p);
  const State* find(const PartitionRef& p) const;
  void maybe_take(const PartitionId& id, State& s, std::vector<OffsetCommit>& out);
  void completed_in(State& s, std::int64_t offset, MessageOutcome outcome);

  std::map<PartitionId, State, PartitionLess> parts_;
  // The partition looked up last: consecutive messages usually share one.
  const PartitionId* last_id_ = nullptr;
  State* last_state_ = nullptr;
  std::size_t pending_total_ = 0;
};

}  // namespace sluice::kafka::internal

#endif  // SLUICE_SRC_KAFKA_OFFSET_TRACKER_H_
