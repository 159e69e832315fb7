// Seed 001's config_examples: KCL worker configurations for common
// deployments, each validated and printed. Needs no AWS access.
//
//   build/examples/kinesis_kcl_config_examples
#include <chrono>
#include <cstdio>
#include <string>

#include "sluice/kinesis/kcl/worker.h"

namespace kcl = sluice::kinesis::kcl;
using namespace std::chrono_literals;

namespace {

kcl::WorkerConfig base(const char* app) {
  kcl::WorkerConfig c;
  c.application_name = app;
  c.stream_name = "my-test-stream";
  return c;
}

// Many records per second per shard: big reads, no idle wait, more handler threads.
kcl::WorkerConfig high_throughput() {
  auto c = base("orders-high-throughput");
  c.polling.limit = 10000;
  c.polling.idle_time_between_reads = 200ms;
  c.management.leases_to_acquire = 0;  // take the whole fair share at once
  c.handler_threads = 16;
  return c;
}

// Large batches processed together; checkpoints are rarer (in the processor).
kcl::WorkerConfig batch_processing() {
  auto c = base("orders-batch");
  c.polling.limit = 5000;
  c.polling.idle_time_between_reads = 5s;
  c.management.max_leases = 20;
  return c;
}

// Fast failover and rebalancing on a laptop (dynalite/kinesalite).
kcl::WorkerConfig development() {
  auto c = base("orders-dev");
  c.management.start_strategy = kcl::StartStrategy::oldest();
  c.management.failover_time = 3s;
  c.management.take_interval = 500ms;
  c.management.shard_sync_interval = 2s;
  c.polling.limit = 100;
  c.polling.idle_time_between_reads = 100ms;
  return c;
}

// Fewer DynamoDB and GetRecords requests: longer failover (fewer renewals),
// rarer scans and shard syncs, longer idle waits.
kcl::WorkerConfig cost_optimised() {
  auto c = base("orders-cheap");
  c.management.failover_time = 30s;  // renewals every 10 s
  c.management.take_interval = 20s;
  c.management.shard_sync_interval = 5min;
  c.polling.idle_time_between_reads = 3s;
  return c;
}

// Re-read the stream from a point in time (a new application name: a
// fresh lease table, since existing checkpoints win over the strategy).
kcl::WorkerConfig replay(std::int64_t from_ms) {
  auto c = base("orders-replay-2026-11-01");
  c.management.start_strategy = kcl::StartStrategy::timestamp(from_ms);
  c.polling.limit = 10000;
  c.polling.idle_time_between_reads = 0ms;
  return c;
}

// KINESIS_LEASES_TO_ACQUIRE, KINESIS_MAX_LEASES, KINESIS_START_STRATEGY,
// KINESIS_BATCH_LIMIT, as in the seed.
sluice::Result<kcl::WorkerConfig> from_environment() {
  auto c = base("orders-env");
  SLUICE_RETURN_IF_ERROR(kcl::apply_environment(c.management, c.polling));
  return c;
}

void show(const char* title, const kcl::WorkerConfig& c) {
  const sluice::Status valid = c.validate();
  const auto& m = c.management;
  std::printf("%s (%s)\n", title, valid.ok() ? "valid" : valid.to_string().c_str());
  std::printf("  table=%s start=%s leases_to_acquire=%d max_leases=%d\n",
              c.effective_table_name().c_str(), m.start_strategy.to_string().c_str(),
              m.leases_to_acquire, m.max_leases);
  std::printf("  failover=%lldms renew=%lldms take=%lldms shard_sync=%lldms\n",
              static_cast<long long>(m.failover_time.count()),
              static_cast<long long>(m.effective_renew_interval().count()),
              static_cast<long long>(m.take_interval.count()),
              static_cast<long long>(m.shard_sync_interval.count()));
  std::printf("  limit=%d idle_between_reads=%lldms handler_threads=%zu\n\n", c.polling.limit,
              static_cast<long long>(c.polling.idle_time_between_reads.count()), c.handler_threads);
}

}  // namespace

int main() {
  show("high throughput", high_throughput());
  show("batch processing", batch_processing());
  show("development", development());
  show("cost optimised", cost_optimised());
  show("replay / catch-up", replay(1761955200000));
  auto env = from_environment();
  if (env.ok()) {
    show("environment", *env);
  } else {
    std::printf("environment: %s\n", env.status().to_string().c_str());
    return 1;
  }
  // A mistake is named by its field.
  auto wrong = development();
  wrong.polling.limit = 20000;
  std::printf("invalid example: %s\n", wrong.validate().to_string().c_str());
  return 0;
}
