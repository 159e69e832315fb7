// ShardMap: which open shard owns which hash keys, to predict where a
// record lands. The producer aggregates only records that land on the same
// shard (the KCL drops user records outside the shard's range), so it keeps
// one of these from ListShards and refreshes it on a schedule and whenever
// PutRecords shows a record on a shard it did not expect (a reshard).
#ifndef SLUICE_KINESIS_SHARD_MAP_H_
#define SLUICE_KINESIS_SHARD_MAP_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/aws/kinesis_client.h"
#include "sluice/core/result.h"
#include "sluice/kinesis/hash_key.h"

namespace sluice::kinesis {

struct ShardRange {
  std::string shard_id;
  HashKeyInterval range;
};

class ShardMap {
 public:
  // An empty map: find() knows no shard.
  ShardMap() = default;

  // The open shards of a ListShards reply (closed ones are ignored).
  // Corruption naming the shard when a hash range is malformed, or when two
  // open shards overlap.
  static Result<ShardMap> from_shards(const std::vector<aws::Shard>& shards);
  // `count` shards splitting the key space evenly, as CreateStream does
  // (shard i starts at i * floor(2^128 / count)); ids "shardId-00000000000i".
  // For tools and tests that predict without a stream. count >= 1.
  static ShardMap uniform(int count);

  // The index of the shard owning `key`, or -1 when no open shard does.
  int find(HashKey key) const;
  // The index of the shard with this id, or -1.
  int index_of(std::string_view shard_id) const;

  const ShardRange& shard(int index) const { return shards_[static_cast<std::size_t>(index)]; }
  std::size_t size() const { return shards_.size(); }
  bool empty() const { return shards_.empty(); }

 private:
  std::vector<ShardRange> shards_;  // sorted by range start
};

}  // namespace sluice::kinesis

#endif  // SLUICE_KINESIS_SHARD_MAP_H_
