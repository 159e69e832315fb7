#include "sluice/redis/checkpoint_store.h"

#include "sluice/redis/client.h"

namespace sluice::redis {

Status RedisCheckpointStoreOptions::validate() const {
  if (prefix.empty())
    return Status::invalid_argument("RedisCheckpointStoreOptions.prefix must not be empty");
  if (ttl.count() < 0)
    return Status::invalid_argument("RedisCheckpointStoreOptions.ttl must be >= 0 (0 = no expiry)");
  if (scan_count <= 0)
    return Status::invalid_argument("RedisCheckpointStoreOptions.scan_count must be > 0");
  return Status();
}

std::string escape_glob(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

RedisCheckpointStore::RedisCheckpointStore(std::shared_ptr<RedisClient> redis,
                                           RedisCheckpointStoreOptions options)
    : redis_(std::move(redis)), options_(std::move(options)) {}

Result<std::unique_ptr<RedisCheckpointStore>> RedisCheckpointStore::create(
    std::shared_ptr<RedisClient> redis, RedisCheckpointStoreOptions options) {
  if (!redis) return Status::invalid_argument("RedisCheckpointStore: no RedisClient given");
  SLUICE_RETURN_IF_ERROR(options.validate());
  return std::make_unique<RedisCheckpointStore>(std::move(redis), std::move(options));
}

std::string RedisCheckpointStore::key(std::string_view stream, std::string_view shard_id) const {
  std::string k = options_.prefix;
  k += ':';
  k += stream;
  k += ':';
  k += shard_id;
  return k;
}

Result<std::optional<Checkpoint>> RedisCheckpointStore::get(std::string_view stream,
                                                            std::string_view shard_id) {
  const std::string k = key(stream, shard_id);
  auto reply = redis_->command({"GET", k});
  if (!reply.ok()) return reply.status().with_context("checkpoint get " + k);
  if (reply->is_nil()) return std::optional<Checkpoint>();
  auto parsed = parse_checkpoint(reply->str());
  if (!parsed.ok()) return parsed.status().with_context("checkpoint " + k);
  return std::optional<Checkpoint>(std::move(*parsed));
}

Status RedisCheckpointStore::save(std::string_view stream, std::string_view shard_id,
                                  const Checkpoint& checkpoint) {
  if (stream.empty() || shard_id.empty()) {
    return Status::invalid_argument("checkpoint save: stream and shard id must not be empty");
  }
  const std::string k = key(stream, shard_id);
  Command cmd{"SET", k, encode_checkpoint(checkpoint)};
  if (options_.ttl.count() > 0) {
    cmd.push_back("PX");
    cmd.push_back(std::to_string(options_.ttl.count()));
  }
  auto reply = redis_->command(cmd);
  if (!reply.ok()) return reply.status().with_context("checkpoint save " + k);
  return Status();
}

Result<std::map<std::string, Checkpoint>> RedisCheckpointStore::list(std::string_view stream) {
  const std::string prefix = key(stream, "");
  const std::string pattern = escape_glob(prefix) + "*";
  std::map<std::string, Checkpoint> out;
  std::string cursor = "0";
  do {
    auto reply = redis_->command(
        {"SCAN", cursor, "MATCH", pattern, "COUNT", std::to_string(options_.scan_count)});
    if (!reply.ok()) return reply.status().with_context("checkpoint list " + std::string(stream));
    if (!reply->is_array() || reply->size() != 2 || !(*reply)[1].is_array()) {
      return Status::corruption("checkpoint list: unexpected SCAN reply " + reply->debug_string());
    }
    cursor = (*reply)[0].str();
    std::vector<std::string> keys;
    for (const Reply& k : (*reply)[1].elements()) {
      std::string_view shard = std::string_view(k.str()).substr(prefix.size());
      if (shard.empty() || shard.find(':') != std::string_view::npos)
        continue;  // another stream's key
      keys.push_back(k.str());
    }
    if (keys.empty()) continue;
    Command mget{"MGET"};
    mget.insert(mget.end(), keys.begin(), keys.end());
    auto values = redis_->command(mget);
    if (!values.ok()) return values.status().with_context("checkpoint list " + std::string(stream));
    for (std::size_t i = 0; i < keys.size() && i < values->size(); ++i) {
      const Reply& v = (*values)[i];
      if (v.is_nil()) continue;  // expired or removed since SCAN saw it
      auto parsed = parse_checkpoint(v.str());
      if (!parsed.ok()) return parsed.status().with_context("checkpoint " + keys[i]);
      out[keys[i].substr(prefix.size())] = std::move(*parsed);
    }
  } while (cursor != "0");
  return out;
}

Status RedisCheckpointStore::remove(std::string_view stream, std::string_view shard_id) {
  const std::string k = key(stream, shard_id);
  auto reply = redis_->command({"DEL", k});
  if (!reply.ok()) return reply.status().with_context("checkpoint remove " + k);
  return Status();
}

}  // namespace sluice::redis
