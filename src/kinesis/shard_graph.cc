#include "sluice/kinesis/shard_graph.h"

namespace sluice::kinesis {

void ShardGraph::update(std::vector<aws::Shard> shards) {
  std::map<std::string, aws::Shard, std::less<>> next;
  for (auto& s : shards) next.emplace(s.shard_id, std::move(s));
  // Children known only from ChildShards stay until a listing shows them.
  for (auto& [id, s] : shards_) {
    if (s.starting_sequence_number.empty() && !next.count(id)) next.emplace(id, s);
  }
  shards_ = std::move(next);
}

void ShardGraph::add_children(std::string_view parent,
                              const std::vector<aws::ChildShard>& children) {
  for (const auto& c : children) {
    if (shards_.count(c.shard_id)) continue;
    aws::Shard s;
    s.shard_id = c.shard_id;
    // A merge child names both parents; the one that is not `parent` is the
    // adjacent parent.
    for (const auto& p : c.parent_shards) {
      if (s.parent_shard_id.empty()) {
        s.parent_shard_id = p;
      } else {
        s.adjacent_parent_shard_id = p;
      }
    }
    if (s.parent_shard_id.empty()) s.parent_shard_id = std::string(parent);
    s.hash_key_range = c.hash_key_range;
    shards_.emplace(s.shard_id, std::move(s));
  }
}

const aws::Shard* ShardGraph::find(std::string_view shard_id) const {
  auto it = shards_.find(shard_id);
  return it == shards_.end() ? nullptr : &it->second;
}

std::vector<std::string> ShardGraph::parents(std::string_view shard_id) const {
  std::vector<std::string> out;
  if (const aws::Shard* s = find(shard_id)) {
    if (!s->parent_shard_id.empty()) out.push_back(s->parent_shard_id);
    if (!s->adjacent_parent_shard_id.empty()) out.push_back(s->adjacent_parent_shard_id);
  }
  return out;
}

std::vector<std::string> ShardGraph::children(std::string_view shard_id) const {
  std::vector<std::string> out;
  for (const auto& [id, s] : shards_) {
    if (s.parent_shard_id == shard_id || s.adjacent_parent_shard_id == shard_id) out.push_back(id);
  }
  return out;
}

std::vector<std::string> ShardGraph::shard_ids() const {
  std::vector<std::string> out;
  out.reserve(shards_.size());
  for (const auto& [id, s] : shards_) out.push_back(id);
  return out;
}

std::vector<std::string> ShardGraph::workable(
    const std::function<bool(const std::string&)>& is_complete) const {
  std::vector<std::string> out;
  for (const auto& [id, s] : shards_) {
    if (is_complete(id)) continue;
    bool ready = true;
    for (const std::string& p : parents(id)) {
      // A parent gone from the stream (aged out) does not block.
      if (shards_.count(p) && !is_complete(p)) {
        ready = false;
        break;
      }
    }
    if (ready) out.push_back(id);
  }
  return out;
}

}  // namespace sluice::kinesis
