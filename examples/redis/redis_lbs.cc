// The seed 002 quick start in C++: a consumer of a Redis Streams load-balanced
// service. It processes the data streams the load balancer assigns to it,
// claims the streams of consumers that died, stops the ones it loses, and
// shuts down gracefully on SIGINT/SIGTERM.
//
//   export POD_NAME=my-consumer-$(hostname)       # or POD_IP; the consumer id
//   REDIS_URL=redis://127.0.0.1:6379 SERVICE=my-service ./redis_lbs
//   # in another shell, hand it work (the seed's producer snippet):
//   sluice redis lbs add --service my-service --stream user-session-123 --info
//   '{"priority":"high"}' redis-cli XADD user-session-123 '*' event click redis-cli XADD
//   user-session-123 '*' event end      # "end" finishes the stream
//
// Redis must publish expired-key keyspace events (notify-keyspace-events
// K and x); set CONFIGURE_KEYSPACE_EVENTS=1 to let the example enable them.
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>

#include "sluice/core/logger.h"
#include "sluice/core/shutdown_signals.h"
#include "sluice/redis/client.h"
#include "sluice/redis/data_stream_reader.h"
#include "sluice/redis/stream_client.h"

namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

}  // namespace

int main() {
  using namespace sluice::redis;
  auto log = sluice::make_stderr_logger(sluice::LogLevel::kInfo);
  const std::string url = env_or("REDIS_URL", "redis://127.0.0.1:6379");
  const std::string service = env_or("SERVICE", "my-service");

  RedisClientOptions redis_options;
  auto conn = parse_redis_url(url);
  if (!conn.ok()) {
    std::fprintf(stderr, "REDIS_URL: %s\n", conn.status().to_string().c_str());
    return 2;
  }
  redis_options.connection = *conn;
  redis_options.logger = log;
  auto redis = RedisClient::connect(redis_options);
  if (!redis.ok()) {
    std::fprintf(stderr, "%s\n", redis.status().to_string().c_str());
    return 1;
  }

  StreamClientOptions options;
  options.logger = log;
  options.configure_keyspace_events = env_or("CONFIGURE_KEYSPACE_EVENTS", "0") == "1";
  auto client = RedisStreamClient::create(*redis, service, options);
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n",
                 client.status().to_string().c_str());  // e.g. POD_NAME/POD_IP not set
    return 2;
  }
  RedisStreamClient& lbs = **client;

  // Processing a data stream: print its entries; an entry with event=end
  // finishes it. The reader resumes from a checkpoint, so a stream claimed
  // from a dead consumer continues where that consumer stopped.
  std::mutex finished_mu;
  std::set<std::string> finished;
  DataStreamReaderOptions reader_options;
  reader_options.logger = log;
  auto reader = DataStreamReader::create(
      *redis, service, reader_options,
      [&](std::string_view stream, const std::vector<StreamEntry>& batch) {
        for (const auto& entry : batch) {
          std::printf("[%s] %s", std::string(stream).c_str(), entry.id.c_str());
          for (const auto& [k, v] : entry.fields) std::printf(" %s=%s", k.c_str(), v.c_str());
          std::printf("\n");
          for (const auto& [k, v] : entry.fields) {
            if (k == "event" && v == "end") {
              std::lock_guard lock(finished_mu);
              finished.insert(std::string(stream));
            }
          }
        }
        std::fflush(stdout);
        return sluice::Status();
      });
  if (!reader.ok()) {
    std::fprintf(stderr, "%s\n", reader.status().to_string().c_str());
    return 1;
  }

  auto queue = lbs.init();
  if (!queue.ok()) {
    std::fprintf(stderr, "%s\n",
                 queue.status().to_string().c_str());  // names the CONFIG SET to run
    return 1;
  }
  log->info("consumer ready", {{"id", lbs.id()}, {"service", service}});

  std::stop_source stop;
  sluice::ShutdownSignals signals(stop);
  // Ctrl-C: done() finishes every owned stream's bookkeeping and queues
  // StreamTerminated, which ends the loop below.
  std::stop_callback on_signal(stop.get_token(), [&] { (void)lbs.done(); });

  while (true) {
    std::optional<Notification> n = (*queue)->pop_for(std::chrono::milliseconds(200));
    // Streams whose end the reader has seen are done.
    std::set<std::string> done_now;
    {
      std::lock_guard lock(finished_mu);
      done_now.swap(finished);
    }
    for (const auto& name : done_now) {
      (*reader)->remove(name);
      (void)(*reader)->forget(name);
      sluice::Status s = lbs.done_stream(name);
      log->info("stream finished", {{"stream", name}, {"status", s}});
    }
    if (!n) {
      if ((*queue)->closed()) break;  // StreamTerminated was the last one
      continue;
    }
    const std::string& name = n->info.data_stream_name;
    switch (n->type) {
      case NotificationType::kStreamAdded:
        log->info("stream added", {{"stream", name}, {"info", n->additional_info_json}});
        (void)(*reader)->add(name);
        break;
      case NotificationType::kStreamExpired: {
        sluice::Status s = lbs.claim(n->info);
        if (s.ok()) {
          log->info("claimed stream", {{"stream", name}});
          (void)(*reader)->add(name);
        } else if (is_already_claimed(s)) {
          log->debug("another consumer claimed it first", {{"stream", name}});  // normal
        } else {
          log->warn("claim failed", {{"stream", name}, {"error", s}});
        }
        break;
      }
      case NotificationType::kStreamDisowned:
        log->warn("stream lost; stopping it", {{"stream", name}});
        (*reader)->remove(name);
        break;
      case NotificationType::kStreamTerminated:
        log->info("shutting down", {{"reason", n->additional_info["info"]}});
        break;
    }
  }
  (*reader)->stop();
  return 0;
}
