// RedisCheckpointStore: Kinesis checkpoints in Redis, one key per shard, in
// the layout of seed 000's kinesis-consumer-go (so a Go and a C++ consumer
// can take over from each other):
//
//   key   <prefix>:<stream>:<shard id>      e.g. kinesis:checkpoint:orders:shardId-000000000001
//   value encode_checkpoint() text "49590338271490256608559692538361571095921575989136588898",
//                                            "<seq>:<sub>", "SHARD_END" or "SHARD_END:<seq>"
//   TTL   `ttl`, refreshed by every save()
//
//   auto redis = sluice::redis::RedisClient::connect("redis://127.0.0.1:6379");
//   auto store = std::make_shared<sluice::redis::RedisCheckpointStore>(*redis);
//   auto consumer = sluice::kinesis::Consumer::create(options, kinesis, store);
//
// list() walks the keys with SCAN (never KEYS). Shard ids must not contain
// ':' (Kinesis shard ids never do): keys with one after the stream prefix are
// another stream's and are skipped by list().
#ifndef SLUICE_REDIS_CHECKPOINT_STORE_H_
#define SLUICE_REDIS_CHECKPOINT_STORE_H_

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/core/checkpoint_store.h"
#include "sluice/core/result.h"
#include "sluice/core/status.h"

namespace sluice::redis {

class RedisClient;

struct RedisCheckpointStoreOptions {
  // Key prefix; seed 000's default.
  std::string prefix = "kinesis:checkpoint";
  // Expiry of a checkpoint key, refreshed on every save. Default 30 days
  // (seed 000's). Zero keeps keys forever.
  std::chrono::milliseconds ttl = std::chrono::hours(24 * 30);
  // SCAN COUNT hint for list().
  int scan_count = 1000;

  Status validate() const;
};

class RedisCheckpointStore final : public CheckpointStore {
 public:
  explicit RedisCheckpointStore(std::shared_ptr<RedisClient> redis,
                                RedisCheckpointStoreOptions options = {});
  // Validates the options first (InvalidArgument naming the field).
  static Result<std::unique_ptr<RedisCheckpointStore>> create(
      std::shared_ptr<RedisClient> redis, RedisCheckpointStoreOptions options = {});

  Result<std::optional<Checkpoint>> get(std::string_view stream,
                                        std::string_view shard_id) override;
  Status save(std::string_view stream, std::string_view shard_id,
              const Checkpoint& checkpoint) override;
  Result<std::map<std::string, Checkpoint>> list(std::string_view stream) override;
  Status remove(std::string_view stream, std::string_view shard_id) override;

  // "<prefix>:<stream>:<shard>"
  std::string key(std::string_view stream, std::string_view shard_id) const;
  const RedisCheckpointStoreOptions& options() const { return options_; }

 private:
  std::shared_ptr<RedisClient> redis_;
  RedisCheckpointStoreOptions options_;
};

// Escapes the glob characters of `text` (* ? [ ] \) for a SCAN MATCH pattern.
std::string escape_glob(std::string_view text);

}  // namespace sluice::redis

#endif  // SLUICE_REDIS_CHECKPOINT_STORE_H_
