// ShardGraph: a stream's shards and their lineage, kept from ListShards (and,
// on real Kinesis, from the ChildShards of GetRecords at a shard's end).
//
// A shard may start only when each of its parents is complete (its
// SHARD_END checkpoint is written) or gone from the stream (aged out of
// retention: nothing of it can be read any more, so it must not block its
// children forever).
#ifndef SLUICE_KINESIS_SHARD_GRAPH_H_
#define SLUICE_KINESIS_SHARD_GRAPH_H_

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/aws/kinesis_client.h"

namespace sluice::kinesis {

class ShardGraph {
 public:
  // Replaces the graph with a ListShards result. Shards missing from it have
  // aged out and are forgotten; children learned from ChildShards are kept
  // until a listing includes them.
  void update(std::vector<aws::Shard> shards);
  // Records children announced by GetRecords at `parent`'s end.
  void add_children(std::string_view parent, const std::vector<aws::ChildShard>& children);

  const aws::Shard* find(std::string_view shard_id) const;
  // Parent ids as the shard names them (they may be gone from the graph).
  std::vector<std::string> parents(std::string_view shard_id) const;
  std::vector<std::string> children(std::string_view shard_id) const;
  std::vector<std::string> shard_ids() const;
  std::size_t size() const { return shards_.size(); }

  // Shards not complete whose every parent is complete or gone, in id order.
  std::vector<std::string> workable(
      const std::function<bool(const std::string&)>& is_complete) const;

 private:
  std::map<std::string, aws::Shard, std::less<>> shards_;
};

}  // namespace sluice::kinesis

#endif  // SLUICE_KINESIS_SHARD_GRAPH_H_
