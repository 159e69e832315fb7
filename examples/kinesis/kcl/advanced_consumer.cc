// Seed 001's advanced_consumer: batched processing with a checkpoint
// interval, JSON parsing with a fallback for other formats, per-record error
// handling that never stops the shard, message-type routing (user_action,
// system_event, error), periodic metrics, and a start timestamp.
//
//   build/examples/kinesis_kcl_advanced_consumer --stream-name S --table-name T
//       [--batch-size 500] [--checkpoint-interval-seconds 60]
//       [--start-from-timestamp 1640995200000] [--run-duration-seconds N]
//
// Feed it with build/examples/kinesis_simple_producer --json-format.
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sluice/core/shutdown_signals.h"
#include "sluice/kinesis/kcl/worker.h"

namespace kcl = sluice::kinesis::kcl;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct Metrics {
  std::atomic<long long> processed{0};
  std::atomic<long long> user_actions{0};
  std::atomic<long long> system_events{0};
  std::atomic<long long> errors_seen{0};
  std::atomic<long long> unknown_types{0};
  std::atomic<long long> not_json{0};
  std::atomic<long long> failures{0};
  std::atomic<long long> checkpoints{0};
  std::atomic<long long> max_behind_ms{0};
};

class AdvancedProcessor final : public kcl::ShardRecordProcessor {
 public:
  AdvancedProcessor(Metrics* m, std::chrono::seconds checkpoint_interval)
      : m_(m), interval_(checkpoint_interval) {}

  void initialize(const kcl::InitializationInput& in) override {
    shard_ = in.shard_id;
    last_checkpoint_ = SteadyClock::now();
  }

  void process_records(std::span<const sluice::kinesis::Record> records,
                       std::int64_t millis_behind_latest,
                       kcl::Checkpointer& checkpointer) override {
    for (const auto& r : records) {
      // One bad record is counted and skipped; the shard goes on.
      try {
        route(r);
        ++m_->processed;
      } catch (const std::exception& e) {
        ++m_->failures;
        std::fprintf(stderr, "[%s] record %s failed: %s\n", shard_.c_str(),
                     std::string(r.sequence_number).c_str(), e.what());
      }
    }
    if (millis_behind_latest > m_->max_behind_ms.load()) m_->max_behind_ms = millis_behind_latest;
    // Checkpoint at most once per interval: each checkpoint is a DynamoDB write.
    if (SteadyClock::now() - last_checkpoint_ >= interval_) checkpoint(checkpointer);
  }
  void lease_lost() override {}  // another worker has the shard: nothing to save
  void shard_ended(kcl::Checkpointer& checkpointer) override { (void)checkpointer.end(); }
  void shutdown_requested(kcl::Checkpointer& checkpointer) override { checkpoint(checkpointer); }

 private:
  void route(const sluice::kinesis::Record& r) {
    simdjson::padded_string json(r.data);
    simdjson::dom::element doc;
    std::string_view type;
    if (parser_.parse(json).get(doc) != simdjson::SUCCESS ||
        (doc["type"].get(type) != simdjson::SUCCESS &&
         doc["event_type"].get(type) != simdjson::SUCCESS)) {
      ++m_->not_json;  // plain text and other formats: kept, just counted
      return;
    }
    if (type == "user_action") {
      ++m_->user_actions;
    } else if (type == "system_event") {
      ++m_->system_events;
    } else if (type == "error" || type == "error_event") {
      ++m_->errors_seen;
    } else {
      ++m_->unknown_types;
    }
  }
  void checkpoint(kcl::Checkpointer& checkpointer) {
    if (auto s = checkpointer.checkpoint(); s.ok()) {
      ++m_->checkpoints;
      last_checkpoint_ = SteadyClock::now();
    } else {
      std::fprintf(stderr, "[%s] checkpoint failed: %s\n", shard_.c_str(), s.to_string().c_str());
    }
  }

  Metrics* m_;
  std::chrono::seconds interval_;
  std::string shard_;
  SteadyClock::time_point last_checkpoint_{};
  simdjson::dom::parser parser_;
};

}  // namespace

int main(int argc, char** argv) {
  kcl::WorkerConfig config;
  int checkpoint_interval_s = 30;
  int duration_s = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i], value = argv[i + 1];
    if (arg == "--stream-name") {
      config.stream_name = value;
    } else if (arg == "--table-name") {
      config.application_name = value;
    } else if (arg == "--batch-size") {
      config.polling.limit = std::atoi(value.c_str());
    } else if (arg == "--checkpoint-interval-seconds") {
      checkpoint_interval_s = std::atoi(value.c_str());
    } else if (arg == "--start-from-timestamp") {
      config.management.start_strategy = kcl::StartStrategy::timestamp(std::atoll(value.c_str()));
    } else if (arg == "--run-duration-seconds") {
      duration_s = std::atoi(value.c_str());
    } else {
      std::fprintf(stderr, "unknown flag %s\n", arg.c_str());
      return 2;
    }
  }
  if (config.stream_name.empty() || config.application_name.empty()) {
    std::fprintf(stderr, "usage: %s --stream-name S --table-name T [--batch-size N] ...\n",
                 argv[0]);
    return 2;
  }
  config.logger = sluice::make_stderr_logger(sluice::LogLevel::kWarn);
  Metrics metrics;
  const auto interval = std::chrono::seconds(checkpoint_interval_s);
  auto kinesis = sluice::aws::KinesisClient::create({});
  auto dynamodb = sluice::aws::DynamoDbClient::create({});
  if (!kinesis.ok() || !dynamodb.ok()) return 1;
  auto worker = kcl::Worker::create(
      config, std::move(*kinesis), std::move(*dynamodb),
      [&metrics, interval] { return std::make_unique<AdvancedProcessor>(&metrics, interval); });
  if (!worker.ok()) {  // validation names the field (e.g. PollingConfig.limit)
    std::fprintf(stderr, "%s\n", worker.status().to_string().c_str());
    return 2;
  }
  std::stop_source stop;
  sluice::ShutdownSignals signals(stop);
  std::jthread reporter([&](std::stop_token self) {
    const auto started = SteadyClock::now();
    while (sluice::Clock::real().sleep_for(std::chrono::seconds(10), self)) {
      const auto ws = (*worker)->stats();
      std::printf(
          "metrics: processed=%lld user_action=%lld system_event=%lld error=%lld "
          "unknown=%lld not_json=%lld failures=%lld checkpoints=%lld "
          "max_behind_ms=%lld processor_errors=%lld\n",
          metrics.processed.load(), metrics.user_actions.load(), metrics.system_events.load(),
          metrics.errors_seen.load(), metrics.unknown_types.load(), metrics.not_json.load(),
          metrics.failures.load(), metrics.checkpoints.load(), metrics.max_behind_ms.load(),
          static_cast<long long>(ws.processor_errors));
      std::fflush(stdout);
      if (duration_s > 0 && SteadyClock::now() - started >= std::chrono::seconds(duration_s)) {
        stop.request_stop();
      }
    }
  });
  const sluice::Status s = (*worker)->run(stop.get_token());
  reporter.request_stop();
  reporter.join();
  std::printf("processed %lld records\n", metrics.processed.load());
  if (!s.ok()) std::fprintf(stderr, "%s\n", s.to_string().c_str());
  return s.ok() ? 0 : 1;
}
