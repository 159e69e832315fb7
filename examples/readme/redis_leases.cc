// examples/readme/redis_leases.cc
// Several processes consuming one Kinesis stream: Redis holds the
// checkpoints and the shard leases (seed 000's key layout), so each shard is
// read by one process at a time and shards are shared out fairly.
#include <chrono>
#include <cstdio>
#include <memory>
#include <span>
#include <stop_token>

#include "sluice/aws/kinesis_client.h"
#include "sluice/core/shutdown_signals.h"
#include "sluice/kinesis/consumer.h"
#include "sluice/redis/checkpoint_store.h"
#include "sluice/redis/client.h"
#include "sluice/redis/lease_manager.h"

int fail(const sluice::Status& s) {
  std::fprintf(stderr, "%s\n", s.to_string().c_str());
  return 1;
}

int main() {
  auto redis = sluice::redis::RedisClient::connect("redis://127.0.0.1:6379");
  if (!redis.ok()) return fail(redis.status());
  auto checkpoints = sluice::redis::RedisCheckpointStore::create(*redis);
  if (!checkpoints.ok()) return fail(checkpoints.status());
  sluice::redis::RedisLeaseManagerOptions lease_options;
  lease_options.ttl = std::chrono::seconds(30);  // a dead process's shards move after 30 s
  auto leases = sluice::redis::RedisLeaseManager::create(*redis, lease_options);
  if (!leases.ok()) return fail(leases.status());
  auto kinesis = sluice::aws::KinesisClient::create({});
  if (!kinesis.ok()) return fail(kinesis.status());

  sluice::kinesis::ConsumerOptions options;
  options.stream_name = "orders";
  options.lease_manager = std::move(*leases);
  options.checkpoint_every = 100;  // a crash replays at most 100 records per shard
  options.batch_handler = [](std::span<const sluice::kinesis::Record> batch) {
    std::printf("%zu records\n", batch.size());
    return sluice::Status();
  };
  auto consumer =
      sluice::kinesis::Consumer::create(options, std::move(*kinesis), std::move(*checkpoints));
  if (!consumer.ok()) return fail(consumer.status());
  std::stop_source stop;
  sluice::ShutdownSignals signals(stop);
  sluice::Status s = (*consumer)->start(stop.get_token());
  return s.ok() ? 0 : fail(s);
}
