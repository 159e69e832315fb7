// Seed 001's basic_consumer: a KCL-compatible worker that logs every record,
// checkpoints after each batch, and shuts down gracefully on Ctrl-C (its
// leases go to the other workers at once).
//
//   AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:4567 AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000
//   \ build/examples/kinesis_kcl_basic_consumer --stream-name my-test-stream --table-name
//   my-app-leases
//
// KINESIS_LEASES_TO_ACQUIRE, KINESIS_MAX_LEASES, KINESIS_START_STRATEGY
// (LATEST, OLDEST, TIMESTAMP:<ms>) and KINESIS_BATCH_LIMIT are honoured.
#include <cstdio>
#include <string>

#include "sluice/core/shutdown_signals.h"
#include "sluice/kinesis/kcl/worker.h"

namespace kcl = sluice::kinesis::kcl;

namespace {

class LoggingProcessor final : public kcl::ShardRecordProcessor {
 public:
  void initialize(const kcl::InitializationInput& in) override {
    shard_ = in.shard_id;
    std::printf("[%s] starting at %s\n", shard_.c_str(),
                in.extended_sequence_number.to_string().c_str());
  }
  void process_records(std::span<const sluice::kinesis::Record> records,
                       std::int64_t millis_behind_latest,
                       kcl::Checkpointer& checkpointer) override {
    for (const auto& r : records) {
      std::printf("[%s] %s: %.*s\n", shard_.c_str(), std::string(r.sequence_number).c_str(),
                  static_cast<int>(r.data.size()), r.data.data());
    }
    std::printf("[%s] %zu records, %lld ms behind\n", shard_.c_str(), records.size(),
                static_cast<long long>(millis_behind_latest));
    // Everything delivered so far is processed: record it in the lease.
    if (auto s = checkpointer.checkpoint(); !s.ok()) {
      std::fprintf(stderr, "[%s] checkpoint failed: %s\n", shard_.c_str(), s.to_string().c_str());
    }
  }
  void lease_lost() override { std::printf("[%s] lease lost\n", shard_.c_str()); }
  void shard_ended(kcl::Checkpointer& checkpointer) override {
    // Required: marks the shard finished so that its children can start.
    std::printf("[%s] shard ended\n", shard_.c_str());
    (void)checkpointer.end();
  }
  void shutdown_requested(kcl::Checkpointer& checkpointer) override {
    std::printf("[%s] shutting down\n", shard_.c_str());
    (void)checkpointer.checkpoint();
  }

 private:
  std::string shard_;
};

}  // namespace

int main(int argc, char** argv) {
  kcl::WorkerConfig config;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--stream-name") {
      config.stream_name = argv[i + 1];
    } else if (arg == "--table-name") {
      config.application_name = argv[i + 1];
    } else {
      std::fprintf(stderr, "unknown flag %s\n", arg.c_str());
      return 2;
    }
  }
  if (config.stream_name.empty() || config.application_name.empty()) {
    std::fprintf(stderr, "usage: %s --stream-name S --table-name T\n", argv[0]);
    return 2;
  }
  if (auto s = kcl::apply_environment(config.management, config.polling); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.to_string().c_str());
    return 2;
  }
  config.logger = sluice::make_stderr_logger(sluice::LogLevel::kInfo);
  auto kinesis = sluice::aws::KinesisClient::create({});
  auto dynamodb = sluice::aws::DynamoDbClient::create({});
  if (!kinesis.ok() || !dynamodb.ok()) {
    std::fprintf(stderr, "AWS clients: %s %s\n", kinesis.status().to_string().c_str(),
                 dynamodb.status().to_string().c_str());
    return 1;
  }
  auto worker = kcl::Worker::create(config, std::move(*kinesis), std::move(*dynamodb),
                                    [] { return std::make_unique<LoggingProcessor>(); });
  if (!worker.ok()) {
    std::fprintf(stderr, "%s\n", worker.status().to_string().c_str());
    return 1;
  }
  std::stop_source stop;
  sluice::ShutdownSignals signals(stop);  // Ctrl-C: graceful shutdown
  std::printf("worker %s consuming %s (leases in %s)\n", (*worker)->worker_id().c_str(),
              config.stream_name.c_str(), config.application_name.c_str());
  const sluice::Status s = (*worker)->run(stop.get_token());
  if (!s.ok()) std::fprintf(stderr, "%s\n", s.to_string().c_str());
  return s.ok() ? 0 : 1;
}
