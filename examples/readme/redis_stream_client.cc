// examples/readme/redis_stream_client.cc
// A consumer of a load-balanced Redis Streams service: the data streams
// producers add to "my-service" are shared out among its consumers, and a
// dead consumer's streams are claimed by the others. Run several, each with
// its own POD_NAME.
#include <cstdio>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/shutdown_signals.h"
#include "sluice/redis/client.h"
#include "sluice/redis/data_stream_reader.h"
#include "sluice/redis/stream_client.h"

int fail(const sluice::Status& s) {
  std::fprintf(stderr, "%s\n", s.to_string().c_str());
  return 1;
}

int main() {
  using namespace sluice::redis;
  auto redis = RedisClient::connect("redis://127.0.0.1:6379");
  if (!redis.ok()) return fail(redis.status());
  // The consumer id is "redis-consumer-<POD_NAME>" (or POD_IP).
  auto client = RedisStreamClient::create(*redis, "my-service");
  if (!client.ok()) return fail(client.status());

  // Reads the streams this consumer owns; an entry is checkpointed only
  // after the handler returned OK (at-least-once).
  auto reader = DataStreamReader::create(
      *redis, "my-service", {}, [](std::string_view stream, const std::vector<StreamEntry>& batch) {
        for (const auto& e : batch) {
          std::printf("%.*s %s\n", static_cast<int>(stream.size()), stream.data(), e.id.c_str());
        }
        return sluice::Status();
      });
  if (!reader.ok()) return fail(reader.status());

  auto queue = (*client)->init();  // recovers this consumer's streams after a restart
  if (!queue.ok()) return fail(queue.status());
  std::stop_source stop;
  sluice::ShutdownSignals signals(stop);
  while (auto n = (*queue)->pop(stop.get_token())) {
    const std::string& name = n->info.data_stream_name;
    switch (n->type) {
      case NotificationType::kStreamAdded:  // assigned to this consumer
        (void)(*reader)->add(name);
        break;
      case NotificationType::kStreamExpired:  // its owner died: one claimer wins
        if ((*client)->claim(n->info).ok()) (void)(*reader)->add(name);
        break;
      case NotificationType::kStreamDisowned:  // the lock was lost: stop
        (*reader)->remove(name);
        break;
      case NotificationType::kStreamTerminated:
        break;
    }
  }
  (*reader)->stop();
  sluice::Status s = (*client)->done();  // gives every owned stream back
  return s.ok() ? 0 : fail(s);
}
