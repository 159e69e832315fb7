// Seed 000's example, in sluice: a Kinesis consumer configured from the
// environment, with Redis checkpoints and shard leases when REDIS_ADDR is set,
// a Prometheus /metrics endpoint, and a graceful shutdown on SIGINT/SIGTERM.
//
// Environment: STREAM_NAME (required), AWS_REGION, AWS_ENDPOINT (e.g.
// http://127.0.0.1:4567), REDIS_ADDR (host:port), START_POSITION (LATEST,
// TRIM_HORIZON or AT_TIMESTAMP), START_TIMESTAMP_RFC3339, SHARD_CONCURRENCY,
// CHECKPOINT_EVERY, BATCH_SIZE, METRICS_ADDR (default 127.0.0.1:9102),
// MAX_RECORDS (stop after that many; 0 = run until Ctrl-C).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sluice/aws/kinesis_client.h"
#include "sluice/core/metrics_server.h"
#include "sluice/core/shutdown_signals.h"
#include "sluice/core/time_format.h"
#include "sluice/kinesis/consumer.h"
#include "sluice/redis/checkpoint_store.h"
#include "sluice/redis/client.h"
#include "sluice/redis/lease_manager.h"

namespace {

std::string env(const char* name, const char* fallback = "") {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

int env_int(const char* name, int fallback) {
  const std::string v = env(name);
  return v.empty() ? fallback : std::atoi(v.c_str());
}

int fail(const sluice::Status& s) {
  std::fprintf(stderr, "kinesis_basic: %s\n", s.to_string().c_str());
  return 1;
}

}  // namespace

int main() {
  auto log = sluice::make_stderr_logger(sluice::LogLevel::kInfo);

  sluice::kinesis::ConsumerOptions options;
  options.stream_name = env("STREAM_NAME");
  options.logger = log;
  options.batch_size = env_int("BATCH_SIZE", 100);
  options.shard_concurrency = env_int("SHARD_CONCURRENCY", 1);
  options.checkpoint_every = env_int("CHECKPOINT_EVERY", 100);
  const std::string position = env("START_POSITION", "LATEST");
  if (position == "TRIM_HORIZON") {
    options.start_position = sluice::kinesis::StartPosition::kTrimHorizon;
  } else if (position == "AT_TIMESTAMP") {
    auto t = sluice::parse_rfc3339(env("START_TIMESTAMP_RFC3339"));
    if (!t.ok()) return fail(t.status().with_context("START_TIMESTAMP_RFC3339"));
    options.start_position = sluice::kinesis::StartPosition::kAtTimestamp;
    options.start_timestamp = *t;
  } else if (position != "LATEST") {
    return fail(sluice::Status::invalid_argument(
        "START_POSITION must be LATEST, TRIM_HORIZON or AT_TIMESTAMP"));
  }

  // Stop on Ctrl-C / TERM, or after MAX_RECORDS records (for scripted runs).
  std::stop_source stop;
  sluice::ShutdownSignals signals(stop);
  const long max_records = env_int("MAX_RECORDS", 0);
  std::atomic<long> handled{0};
  options.record_handler = [&](const sluice::kinesis::Record& r) -> sluice::Status {
    std::printf("%.*s %.*s %.*s\n", static_cast<int>(r.shard_id.size()), r.shard_id.data(),
                static_cast<int>(r.sequence_number.size()), r.sequence_number.data(),
                static_cast<int>(r.data.size()), r.data.data());
    std::fflush(stdout);
    if (max_records > 0 && ++handled >= max_records) stop.request_stop();
    return sluice::Status();  // your business logic here; an error is retried
  };

  // Checkpoints (and leases) in Redis when REDIS_ADDR is set, else in memory.
  std::shared_ptr<sluice::CheckpointStore> store =
      std::make_shared<sluice::MemoryCheckpointStore>();
  const std::string redis_addr = env("REDIS_ADDR");
  if (!redis_addr.empty()) {
    auto redis = sluice::redis::RedisClient::connect("redis://" + redis_addr);
    if (!redis.ok()) return fail(redis.status());
    auto checkpoints = sluice::redis::RedisCheckpointStore::create(*redis);
    if (!checkpoints.ok()) return fail(checkpoints.status());
    store = std::move(*checkpoints);
    auto leases = sluice::redis::RedisLeaseManager::create(*redis);
    if (!leases.ok()) return fail(leases.status());
    options.lease_manager = std::move(*leases);
  } else {
    log->warn("REDIS_ADDR is not set: checkpoints are kept in memory and lost at exit");
  }

  sluice::aws::ClientOptions aws;
  aws.region = env("AWS_REGION");
  aws.endpoint = env("AWS_ENDPOINT");
  aws.logger = log;
  auto kinesis = sluice::aws::KinesisClient::create(aws);
  if (!kinesis.ok()) return fail(kinesis.status());

  // Prometheus metrics of the consumer (and everything else in the process).
  const std::string metrics_addr = env("METRICS_ADDR", "127.0.0.1:9102");
  sluice::MetricsServerOptions m;
  m.bind_address = metrics_addr.substr(0, metrics_addr.rfind(':'));
  m.port = static_cast<std::uint16_t>(
      std::atoi(metrics_addr.substr(metrics_addr.rfind(':') + 1).c_str()));
  auto metrics = sluice::MetricsServer::start(sluice::MetricsRegistry::global(), m);
  if (!metrics.ok()) return fail(metrics.status());
  log->info("metrics", {{"url", (*metrics)->url()}});

  auto consumer = sluice::kinesis::Consumer::create(
      options, std::shared_ptr<sluice::aws::KinesisClient>(std::move(*kinesis)), store);
  if (!consumer.ok()) return fail(consumer.status());
  sluice::Status s = (*consumer)->start(stop.get_token());
  if (!s.ok()) return fail(s);
  log->info("consumer stopped");
  return 0;
}
