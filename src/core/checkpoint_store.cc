#include "sluice/core/checkpoint_store.h"

#include <charconv>

namespace sluice {
namespace {

constexpr std::string_view kShardEnd = "SHARD_END";

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::string encode_checkpoint(const Checkpoint& c) {
  switch (c.sentinel) {
    case StartSentinel::kTrimHorizon:
      return "TRIM_HORIZON";
    case StartSentinel::kLatest:
      return "LATEST";
    case StartSentinel::kAtTimestamp:
      return "AT_TIMESTAMP";
    case StartSentinel::kNone:
      break;
  }
  if (c.shard_end) {
    return c.sequence_number.empty() ? std::string(kShardEnd)
                                     : std::string(kShardEnd) + ":" + c.sequence_number;
  }
  if (c.sub_sequence_number)
    return c.sequence_number + ":" + std::to_string(*c.sub_sequence_number);
  return c.sequence_number;
}

Result<Checkpoint> parse_checkpoint(std::string_view text) {
  auto bad = [&] {
    return Status::corruption(
        "checkpoint \"" + std::string(text) +
        "\" is not SEQ, SEQ:SUB, SHARD_END, SHARD_END:SEQ, TRIM_HORIZON, LATEST or "
        "AT_TIMESTAMP");
  };
  Checkpoint c;
  if (text == "TRIM_HORIZON") c.sentinel = StartSentinel::kTrimHorizon;
  if (text == "LATEST") c.sentinel = StartSentinel::kLatest;
  if (text == "AT_TIMESTAMP") c.sentinel = StartSentinel::kAtTimestamp;
  if (c.sentinel != StartSentinel::kNone) return c;
  if (text.starts_with(kShardEnd)) {
    std::string_view rest = text.substr(kShardEnd.size());
    c.shard_end = true;
    if (rest.empty()) return c;
    if (rest[0] != ':' || !all_digits(rest.substr(1))) return bad();
    c.sequence_number = std::string(rest.substr(1));
    return c;
  }
  const auto colon = text.find(':');
  std::string_view seq = text.substr(0, colon);
  if (!all_digits(seq)) return bad();
  c.sequence_number = std::string(seq);
  if (colon != std::string_view::npos) {
    std::string_view sub = text.substr(colon + 1);
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(sub.data(), sub.data() + sub.size(), v);
    if (ec != std::errc() || p != sub.data() + sub.size() || sub.empty()) return bad();
    c.sub_sequence_number = v;
  }
  return c;
}

Result<std::optional<Checkpoint>> MemoryCheckpointStore::get(std::string_view stream,
                                                             std::string_view shard_id) {
  std::lock_guard lock(mu_);
  auto s = streams_.find(stream);
  if (s == streams_.end()) return std::optional<Checkpoint>();
  auto it = s->second.find(std::string(shard_id));
  if (it == s->second.end()) return std::optional<Checkpoint>();
  return std::optional<Checkpoint>(it->second);
}

Status MemoryCheckpointStore::save(std::string_view stream, std::string_view shard_id,
                                   const Checkpoint& checkpoint) {
  std::lock_guard lock(mu_);
  auto s = streams_.find(stream);
  if (s == streams_.end())
    s = streams_.emplace(std::string(stream), std::map<std::string, Checkpoint>()).first;
  s->second[std::string(shard_id)] = checkpoint;
  return Status();
}

Result<std::map<std::string, Checkpoint>> MemoryCheckpointStore::list(std::string_view stream) {
  std::lock_guard lock(mu_);
  auto s = streams_.find(stream);
  if (s == streams_.end()) return std::map<std::string, Checkpoint>();
  return s->second;
}

Status MemoryCheckpointStore::remove(std::string_view stream, std::string_view shard_id) {
  std::lock_guard lock(mu_);
  auto s = streams_.find(stream);
  if (s != streams_.end()) s->second.erase(std::string(shard_id));
  return Status();
}

}  // namespace sluice
