// A RedisStreamClient in a process of its own, for tests that SIGKILL or
// SIGSTOP a consumer. Prints one line per event and flushes it:
//   READY <consumer id>
//   StreamAdded <stream> <entry> | StreamExpired ... | StreamDisowned ... | StreamTerminated
//   CLAIMED <stream> | CLAIM_LOST <stream> | CLAIM_ERROR <stream> <error>
// It claims every expired stream. SIGTERM/SIGINT: done(), then exit 0.
//
//   sluice_redis_lbs_worker <redis url> <service> <consumer id> <heartbeat ms>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stop_token>

#include "sluice/core/shutdown_signals.h"
#include "sluice/redis/client.h"
#include "sluice/redis/stream_client.h"

int main(int argc, char** argv) {
  using namespace sluice::redis;
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s URL SERVICE CONSUMER_ID HEARTBEAT_MS\n", argv[0]);
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  auto redis = RedisClient::connect(argv[1]);
  if (!redis.ok()) {
    std::printf("ERROR %s\n", redis.status().to_string().c_str());
    return 1;
  }
  StreamClientOptions o;
  o.consumer_id = argv[3];
  o.heartbeat_interval = std::chrono::milliseconds(std::atoi(argv[4]));
  o.lbs_block_time = std::chrono::milliseconds(200);
  auto client = RedisStreamClient::create(*redis, argv[2], o);
  if (!client.ok()) {
    std::printf("ERROR %s\n", client.status().to_string().c_str());
    return 1;
  }
  auto queue = (*client)->init();
  if (!queue.ok()) {
    std::printf("ERROR %s\n", queue.status().to_string().c_str());
    return 1;
  }
  std::printf("READY %s\n", (*client)->id().c_str());
  std::stop_source stop;
  sluice::ShutdownSignals signals(stop);
  std::stop_callback on_stop(stop.get_token(), [&] { (void)(*client)->done(); });
  while (auto n = (*queue)->pop()) {
    const std::string type(notification_type_name(n->type));
    std::printf("%s %s %s\n", type.c_str(), n->info.data_stream_name.c_str(),
                n->info.id_in_lbs.c_str());
    if (n->type == NotificationType::kStreamExpired) {
      sluice::Status s = (*client)->claim(n->info);
      if (s.ok()) {
        std::printf("CLAIMED %s\n", n->info.data_stream_name.c_str());
      } else if (is_already_claimed(s)) {
        std::printf("CLAIM_LOST %s\n", n->info.data_stream_name.c_str());
      } else {
        std::printf("CLAIM_ERROR %s %s\n", n->info.data_stream_name.c_str(), s.to_string().c_str());
      }
    }
  }
  return 0;
}
