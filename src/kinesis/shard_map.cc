#include "sluice/kinesis/shard_map.h"

#include <algorithm>
#include <cstdio>

namespace sluice::kinesis {

Result<ShardMap> ShardMap::from_shards(const std::vector<aws::Shard>& shards) {
  ShardMap map;
  for (const auto& s : shards) {
    if (!s.is_open()) continue;
    auto range = parse_hash_key_interval(s.hash_key_range.starting_hash_key,
                                         s.hash_key_range.ending_hash_key);
    if (!range.ok()) {
      return Status::corruption("shard " + s.shard_id + " has a malformed hash key range: " +
                                std::string(range.status().message()));
    }
    map.shards_.push_back({s.shard_id, *range});
  }
  std::sort(map.shards_.begin(), map.shards_.end(),
            [](const ShardRange& a, const ShardRange& b) { return a.range.start < b.range.start; });
  for (std::size_t i = 1; i < map.shards_.size(); ++i) {
    if (map.shards_[i].range.start <= map.shards_[i - 1].range.end) {
      return Status::corruption("open shards " + map.shards_[i - 1].shard_id + " and " +
                                map.shards_[i].shard_id + " overlap");
    }
  }
  return map;
}

ShardMap ShardMap::uniform(int count) {
  ShardMap map;
  if (count < 1) count = 1;
  // floor(2^128 / count), computed without 2^128: (max / count), corrected.
  const HashKey n = static_cast<HashKey>(count);
  HashKey step = kMaxHashKey / n;
  if (kMaxHashKey - step * n == n - 1) ++step;  // 2^128 divisible by count
  for (int i = 0; i < count; ++i) {
    ShardRange r;
    char id[32];
    std::snprintf(id, sizeof id, "shardId-%012d", i);
    r.shard_id = id;
    r.range.start = step * static_cast<HashKey>(i);
    r.range.end = i + 1 < count ? step * static_cast<HashKey>(i + 1) - 1 : kMaxHashKey;
    map.shards_.push_back(std::move(r));
  }
  return map;
}

int ShardMap::find(HashKey key) const {
  // The last shard starting at or before `key`.
  auto it = std::upper_bound(shards_.begin(), shards_.end(), key,
                             [](HashKey k, const ShardRange& s) { return k < s.range.start; });
  if (it == shards_.begin()) return -1;
  --it;
  if (!it->range.contains(key)) return -1;
  return static_cast<int>(it - shards_.begin());
}

int ShardMap::index_of(std::string_view shard_id) const {
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    if (shards_[i].shard_id == shard_id) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace sluice::kinesis
