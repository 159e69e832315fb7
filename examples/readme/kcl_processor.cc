// examples/readme/kcl_processor.cc
// A KCL-compatible worker: shards are shared with the other workers of the
// application (sluice or Java KCL) through the DynamoDB lease table "orders-app".
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <stop_token>
#include <string>

#include "sluice/aws/dynamodb_client.h"
#include "sluice/aws/kinesis_client.h"
#include "sluice/core/shutdown_signals.h"
#include "sluice/kinesis/kcl/shard_record_processor.h"
#include "sluice/kinesis/kcl/worker.h"

namespace kcl = sluice::kinesis::kcl;

class Printer final : public kcl::ShardRecordProcessor {
 public:
  void initialize(const kcl::InitializationInput& input) override { shard_id_ = input.shard_id; }

  void process_records(std::span<const sluice::kinesis::Record> records,
                       std::int64_t /*millis_behind_latest*/, kcl::Checkpointer& cp) override {
    for (const auto& r : records) {
      std::printf("%s %.*s\n", shard_id_.c_str(), static_cast<int>(r.data.size()), r.data.data());
    }
    // Everything handled so far; a failure (LeaseLost...) names the cause.
    if (sluice::Status s = cp.checkpoint(); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.to_string().c_str());
    }
  }
  void lease_lost() override {}  // another worker owns the shard: do not checkpoint
  void shard_ended(kcl::Checkpointer& cp) override { (void)cp.checkpoint(); }  // SHARD_END
  void shutdown_requested(kcl::Checkpointer& cp) override { (void)cp.checkpoint(); }

 private:
  std::string shard_id_;
};

int fail(const sluice::Status& s) {
  std::fprintf(stderr, "%s\n", s.to_string().c_str());
  return 1;
}

int main() {
  kcl::WorkerConfig config;
  config.application_name = "orders-app";  // the lease table's name
  config.stream_name = "orders";
  config.management.start_strategy = kcl::StartStrategy::oldest();
  // KINESIS_LEASES_TO_ACQUIRE, KINESIS_MAX_LEASES, KINESIS_START_STRATEGY and
  // KINESIS_BATCH_LIMIT override what is set above (seed 001's variables).
  if (sluice::Status s = kcl::apply_environment(config.management, config.polling); !s.ok()) {
    return fail(s);
  }

  auto kinesis = sluice::aws::KinesisClient::create({});
  if (!kinesis.ok()) return fail(kinesis.status());
  auto dynamodb = sluice::aws::DynamoDbClient::create({});
  if (!dynamodb.ok()) return fail(dynamodb.status());
  auto worker = kcl::Worker::create(config, std::move(*kinesis), std::move(*dynamodb),
                                    [] { return std::make_unique<Printer>(); });
  if (!worker.ok()) return fail(worker.status());

  std::stop_source stop;
  sluice::ShutdownSignals signals(stop);  // Ctrl-C: shutdown_requested, then leases given up
  sluice::Status s = (*worker)->run(stop.get_token());
  return s.ok() ? 0 : fail(s);
}
