// Seed 001's multi_worker: N KCL workers in one process competing for the
// stream's leases through one lease table, global statistics, a periodic
// report of who holds what, and a coordinated shutdown (Ctrl-C or
// --run-duration-seconds) in which every worker hands its leases over.
//
//   build/examples/kinesis_kcl_multi_worker --stream-name S --table-name T
//       --workers 3 [--run-duration-seconds 300]
//
// Endpoints and credentials as the AWS SDKs resolve them
// (AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL_DYNAMODB, ...); KINESIS_* as
// in basic_consumer.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sluice/core/shutdown_signals.h"
#include "sluice/kinesis/kcl/worker.h"

namespace kcl = sluice::kinesis::kcl;

namespace {

// Shared by every worker's processors.
struct GlobalStats {
  std::atomic<long long> records{0};
  std::atomic<long long> batches{0};
  std::atomic<long long> leases_lost{0};
  std::atomic<long long> shards_ended{0};
};

class CountingProcessor final : public kcl::ShardRecordProcessor {
 public:
  explicit CountingProcessor(GlobalStats* stats) : stats_(stats) {}
  void initialize(const kcl::InitializationInput&) override {}
  void process_records(std::span<const sluice::kinesis::Record> records, std::int64_t,
                       kcl::Checkpointer& checkpointer) override {
    stats_->records += static_cast<long long>(records.size());
    ++stats_->batches;
    (void)checkpointer.checkpoint();
  }
  void lease_lost() override { ++stats_->leases_lost; }
  void shard_ended(kcl::Checkpointer& checkpointer) override {
    ++stats_->shards_ended;
    (void)checkpointer.end();
  }
  void shutdown_requested(kcl::Checkpointer& checkpointer) override {
    (void)checkpointer.checkpoint();
  }

 private:
  GlobalStats* stats_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string stream, table;
  int workers = 2;
  int duration_s = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--stream-name") {
      stream = argv[i + 1];
    } else if (arg == "--table-name") {
      table = argv[i + 1];
    } else if (arg == "--workers") {
      workers = std::atoi(argv[i + 1]);
    } else if (arg == "--run-duration-seconds") {
      duration_s = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "unknown flag %s\n", arg.c_str());
      return 2;
    }
  }
  if (stream.empty() || table.empty() || workers < 1) {
    std::fprintf(stderr,
                 "usage: %s --stream-name S --table-name T [--workers N] "
                 "[--run-duration-seconds S]\n",
                 argv[0]);
    return 2;
  }
  auto kinesis = sluice::aws::KinesisClient::create({});
  auto dynamodb = sluice::aws::DynamoDbClient::create({});
  if (!kinesis.ok() || !dynamodb.ok()) {
    std::fprintf(stderr, "AWS clients: %s %s\n", kinesis.status().to_string().c_str(),
                 dynamodb.status().to_string().c_str());
    return 1;
  }
  std::shared_ptr<sluice::aws::KinesisClient> k = std::move(*kinesis);
  std::shared_ptr<sluice::aws::DynamoDbClient> d = std::move(*dynamodb);

  GlobalStats stats;
  std::vector<std::unique_ptr<kcl::Worker>> pool;
  for (int i = 0; i < workers; ++i) {
    kcl::WorkerConfig config;
    config.application_name = table;
    config.stream_name = stream;
    config.worker_id = "worker-" + std::to_string(i);
    // Quick rebalancing for a demonstration (the defaults suit production).
    config.management.failover_time = std::chrono::seconds(6);
    config.management.take_interval = std::chrono::seconds(1);
    config.polling.idle_time_between_reads = std::chrono::milliseconds(250);
    if (auto s = kcl::apply_environment(config.management, config.polling); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.to_string().c_str());
      return 2;
    }
    auto w = kcl::Worker::create(config, k, d,
                                 [&stats] { return std::make_unique<CountingProcessor>(&stats); });
    if (!w.ok()) {
      std::fprintf(stderr, "%s\n", w.status().to_string().c_str());
      return 1;
    }
    pool.push_back(std::move(*w));
  }

  // One stop for all: Ctrl-C, or the run duration.
  std::stop_source stop;
  sluice::ShutdownSignals signals(stop);
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (auto& w : pool) {
    threads.emplace_back([&w, &stop, &failed] {
      const sluice::Status s = w->run(stop.get_token());
      if (!s.ok()) {
        std::fprintf(stderr, "%s: %s\n", w->worker_id().c_str(), s.to_string().c_str());
        ++failed;
      }
    });
  }
  const auto started = std::chrono::steady_clock::now();
  while (!stop.stop_requested()) {
    sluice::Clock::real().sleep_for(std::chrono::seconds(2), stop.get_token());
    const auto elapsed = std::chrono::steady_clock::now() - started;
    std::printf(
        "--- %lld s: %lld records in %lld batches, %lld leases lost, %lld shards ended\n",
        static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count()),
        stats.records.load(), stats.batches.load(), stats.leases_lost.load(),
        stats.shards_ended.load());
    for (auto& w : pool) {
      const auto snap = w->coordinator().snapshot();
      std::string held;
      for (const auto& s : snap.held) held += " " + s;
      std::printf("    %s holds %zu (share %d):%s\n", w->worker_id().c_str(), snap.held.size(),
                  snap.target, held.c_str());
    }
    std::fflush(stdout);
    if (duration_s > 0 && elapsed >= std::chrono::seconds(duration_s)) stop.request_stop();
  }
  for (auto& t : threads) t.join();
  std::printf("total records processed: %lld\n", stats.records.load());
  return failed.load() == 0 ? 0 : 1;
}
