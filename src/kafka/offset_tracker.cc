#include "kafka/offset_tracker.h"

#include <algorithm>

namespace sluice::kafka::internal {

OffsetTracker::State* OffsetTracker::find(const PartitionRef& p) {
  if (last_state_ && last_id_->partition == p.partition && last_id_->topic == p.topic) {
    return last_state_;
  }
  auto it = parts_.find(p);
  if (it == parts_.end()) return nullptr;
  last_id_ = &it->first;
  last_state_ = &it->second;
  return last_state_;
}

const OffsetTracker::State* OffsetTracker::find(const PartitionRef& p) const {
  auto it = parts_.find(p);
  return it == parts_.end() ? nullptr : &it->second;
}

void OffsetTracker::assign(const PartitionRef& p, std::optional<std::int64_t> handled_upto) {
  if (parts_.find(p) != parts_.end()) return;
  State s;
  if (handled_upto && *handled_upto >= 0) {
    s.handled_upto = *handled_upto;
    s.next = *handled_upto;
  }
  parts_.emplace(PartitionId{std::string(p.topic), p.partition}, std::move(s));
}

void OffsetTracker::revoke(const PartitionRef& p) {
  auto it = parts_.find(p);
  if (it == parts_.end()) return;
  pending_total_ -= it->second.pending;
  if (last_state_ == &it->second) {
    last_state_ = nullptr;
    last_id_ = nullptr;
  }
  parts_.erase(it);
}

void OffsetTracker::clear() {
  parts_.clear();
  last_state_ = nullptr;
  last_id_ = nullptr;
  pending_total_ = 0;
}

bool OffsetTracker::is_assigned(const PartitionRef& p) const {
  return find(p) != nullptr;
}

std::vector<PartitionId> OffsetTracker::partitions() const {
  std::vector<PartitionId> out;
  out.reserve(parts_.size());
  for (const auto& [id, state] : parts_) out.push_back(id);
  return out;
}

bool OffsetTracker::dispatched(const PartitionRef& p, std::int64_t offset) {
  State* s = find(p);
  if (!s || offset < 0 || offset < s->next) return false;
  s->window.push_back({offset, EntryState::kPending});
  s->next = offset + 1;
  ++s->pending;
  ++pending_total_;
  return true;
}

void OffsetTracker::completed(const PartitionRef& p, std::int64_t offset, MessageOutcome outcome) {
  State* s = find(p);
  if (s) completed_in(*s, offset, outcome);
}

void OffsetTracker::completed_in(State& st, std::int64_t offset, MessageOutcome outcome) {
  State* s = &st;
  auto& w = s->window;
  // Usually the front (in-order handling); otherwise a binary search.
  auto it = (!w.empty() && w.front().offset == offset)
                ? w.begin()
                : std::lower_bound(w.begin(), w.end(), offset,
                                   [](const Entry& e, std::int64_t o) { return e.offset < o; });
  if (it == w.end() || it->offset != offset || it->state != EntryState::kPending) return;
  switch (outcome) {
    case MessageOutcome::kHandled:
      it->state = EntryState::kHandled;
      break;
    case MessageOutcome::kFailed:
      it->state = EntryState::kFailed;
      break;
    case MessageOutcome::kAbandoned:
      it->state = EntryState::kAbandoned;
      break;
  }
  --s->pending;
  --pending_total_;
  // Move the committable position over the handled prefix, and no further.
  while (!w.empty() && w.front().state == EntryState::kHandled) {
    s->handled_upto = w.front().offset + 1;
    w.pop_front();
  }
}

OffsetTracker::InOrder OffsetTracker::dispatch_in_order(const PartitionRef& p,
                                                        std::int64_t offset) {
  return dispatch_in_order(find_partition(p), offset);
}

OffsetTracker::InOrder OffsetTracker::dispatch_in_order(Partition p, std::int64_t offset) {
  InOrder m;
  auto* s = static_cast<State*>(p.state_);
  if (!s || offset < 0 || offset < s->next) return m;
  // Behind an unfinished or failed message the entry must wait in the window.
  if (!s->window.empty()) s->window.push_back({offset, EntryState::kPending});
  s->next = offset + 1;
  ++s->pending;
  ++pending_total_;
  m.state_ = s;
  m.offset_ = offset;
  return m;
}

void OffsetTracker::complete_in_order(InOrder m, MessageOutcome outcome) {
  auto* s = static_cast<State*>(m.state_);
  if (!s) return;
  auto& w = s->window;
  if (w.empty()) {
    --s->pending;
    --pending_total_;
    if (outcome == MessageOutcome::kHandled) {
      // Everything dispatched before it is handled: the position moves here.
      s->handled_upto = m.offset_ + 1;
    } else {
      w.push_back({m.offset_, outcome == MessageOutcome::kFailed ? EntryState::kFailed
                                                                 : EntryState::kAbandoned});
    }
    return;
  }
  completed_in(*s, m.offset_, outcome);
}

std::optional<std::int64_t> OffsetTracker::committable(const PartitionRef& p) const {
  const State* s = find(p);
  if (!s || s->handled_upto < 0) return std::nullopt;
  return s->handled_upto;
}

std::optional<std::int64_t> OffsetTracker::next_offset(const PartitionRef& p) const {
  const State* s = find(p);
  if (!s || s->next < 0) return std::nullopt;
  return s->next;
}

std::size_t OffsetTracker::pending(const PartitionRef& p) const {
  const State* s = find(p);
  return s ? s->pending : 0;
}

bool OffsetTracker::blocked(const PartitionRef& p) const {
  const State* s = find(p);
  return s && !s->window.empty() && s->window.front().state != EntryState::kPending &&
         s->window.front().state != EntryState::kHandled;
}

void OffsetTracker::maybe_take(const PartitionId& id, State& s, std::vector<OffsetCommit>& out) {
  if (s.handled_upto > s.sent) {
    out.push_back({id, s.handled_upto});
    s.sent = s.handled_upto;
  }
}

std::vector<OffsetCommit> OffsetTracker::take_commits() {
  std::vector<OffsetCommit> out;
  for (auto& [id, s] : parts_) maybe_take(id, s, out);
  return out;
}

std::vector<OffsetCommit> OffsetTracker::take_commits(std::span<const PartitionId> only) {
  std::vector<OffsetCommit> out;
  for (const auto& p : only) {
    auto it = parts_.find(p);
    if (it != parts_.end()) maybe_take(it->first, it->second, out);
  }
  return out;
}

void OffsetTracker::commit_result(const PartitionRef& p, std::int64_t offset, bool ok) {
  State* s = find(p);
  if (!s) return;
  if (ok) {
    s->acked = std::max(s->acked, offset);
  } else if (s->acked < s->sent) {
    s->sent = s->acked;  // due again at the next take_commits()
  }
}

std::optional<std::int64_t> OffsetTracker::acknowledged(const PartitionRef& p) const {
  const State* s = find(p);
  if (!s || s->acked < 0) return std::nullopt;
  return s->acked;
}

}  // namespace sluice::kafka::internal
