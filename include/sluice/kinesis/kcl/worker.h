// Worker: a KCL-compatible distributed Kinesis consumer, seed 001's shape on
// sluice's engine. Many worker processes share a stream's shards through a
// DynamoDB lease table with the Java KCL's schema (lease_coordinator.h);
// each shard a worker owns gets a ShardRecordProcessor of yours
// (shard_record_processor.h).
//
//   namespace kcl = sluice::kinesis::kcl;
//   kcl::WorkerConfig config;
//   config.application_name = "my-app";          // the lease table's name
//   config.stream_name = "my-test-stream";
//   config.management.start_strategy = kcl::StartStrategy::oldest();
//   auto kinesis = sluice::aws::KinesisClient::create({});
//   auto dynamodb = sluice::aws::DynamoDbClient::create({});
//   auto worker = kcl::Worker::create(config, std::move(*kinesis), std::move(*dynamodb),
//                                     [] { return std::make_unique<MyProcessor>(); });
//   std::stop_source stop;
//   sluice::ShutdownSignals signals(stop);             // Ctrl-C: graceful shutdown
//   sluice::Status s = (*worker)->run(stop.get_token());
//
// A graceful shutdown gives every processor shutdown_requested (checkpoint
// there), then gives the leases up so that the other workers take them at
// once rather than after the failover time.
#ifndef SLUICE_KINESIS_KCL_WORKER_H_
#define SLUICE_KINESIS_KCL_WORKER_H_

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/aws/dynamodb_client.h"
#include "sluice/aws/kinesis_client.h"
#include "sluice/core/clock.h"
#include "sluice/core/logger.h"
#include "sluice/core/metrics.h"
#include "sluice/kinesis/kcl/config.h"
#include "sluice/kinesis/kcl/lease_coordinator.h"
#include "sluice/kinesis/kcl/lease_table.h"
#include "sluice/kinesis/kcl/metrics_publisher.h"
#include "sluice/kinesis/kcl/shard_record_processor.h"
#include "sluice/kinesis/scheduler.h"

namespace sluice::kinesis::kcl {

struct WorkerConfig {
  // The application: names the lease table (unless table_name is set) and
  // the CloudWatch namespace.
  std::string application_name{};
  std::string table_name{};
  // The stream (one of the two is required).
  std::string stream_name{};
  std::string stream_arn{};
  // Multi-stream lease keys ("account:stream:creationEpoch"); empty =
  // single-stream keys (shard ids), the KCL's default.
  std::string stream_identifier{};
  // Empty = generate_worker_id() (host name + random suffix).
  std::string worker_id{};

  ManagementConfig management{};
  PollingConfig polling{};

  // Create the lease table (PAY_PER_REQUEST) when it does not exist, with
  // the KCL v3 LeaseOwnerToLeaseKeyIndex GSI when create_owner_index.
  bool create_table = true;
  bool create_owner_index = false;
  std::chrono::milliseconds table_create_timeout{60000};

  // Split KPL aggregates into user records (the KCL does).
  bool deaggregate = true;
  // Decodes the sluice producer's payload envelope (compression, S3 claim
  // checks) before processors see the records:
  //   config.payload_decoder = sluice::kinesis::make_payload_decoder(store);
  // Retryable failures (S3 unreachable) are retried by the shard's reader;
  // a record that cannot be decoded (corrupt, claim-check object gone) is
  // delivered with its data as stored and reported to on_processor_error
  // (kind "payload") with its sequence number. Unset: data as stored.
  std::function<Result<std::optional<std::string>>(std::string_view)> payload_decoder{};
  // Threads running processors. 0 = max(4, hardware threads).
  std::size_t handler_threads = 0;
  // Graceful shutdown: processors' shutdown_requested and final checkpoints
  // within this time.
  std::chrono::milliseconds shutdown_timeout{30000};

  // Called (on a handler thread) when a processor throws, or returns from
  // shard_ended without checkpointing SHARD_END. These are also logged at
  // error level and counted (sluice_kcl_processor_errors_total).
  std::function<void(const std::string& shard_id, const Status& error)> on_processor_error{};

  // Optional periodic publishing (CloudWatch or your own): RecordsProcessed,
  // MillisBehindLatest, LeasesHeld, LeaseTableRequests, ProcessorErrors,
  // with a WorkerIdentifier dimension, every metrics_interval.
  std::shared_ptr<MetricsPublisher> metrics_publisher{};
  std::chrono::milliseconds metrics_interval{60000};

  std::shared_ptr<Logger> logger{};    // null: no logging
  MetricsRegistry* metrics = nullptr;  // null: MetricsRegistry::global()
  const Clock* clock = nullptr;        // null: Clock::real()

  // InvalidArgument naming the field.
  Status validate() const;
  // table_name, or application_name.
  const std::string& effective_table_name() const {
    return table_name.empty() ? application_name : table_name;
  }
};

// What the worker has done, for status pages and tests.
struct WorkerStats {
  std::int64_t records_processed = 0;
  std::int64_t processor_errors = 0;
  std::int64_t max_millis_behind_latest = -1;
};

class Worker {
 public:
  // A worker over the DynamoDB lease table.
  static Result<std::unique_ptr<Worker>> create(WorkerConfig config,
                                                std::shared_ptr<aws::KinesisClient> kinesis,
                                                std::shared_ptr<aws::DynamoDbClient> dynamodb,
                                                ShardRecordProcessorFactory factory);
  // A worker over any lease table (MemoryLeaseTable for tests and
  // single-process development).
  static Result<std::unique_ptr<Worker>> create(WorkerConfig config,
                                                std::shared_ptr<aws::KinesisClient> kinesis,
                                                std::shared_ptr<LeaseTable> table,
                                                ShardRecordProcessorFactory factory);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Creates the table if asked, then consumes until `stop` (OK after a
  // graceful shutdown) or a fatal error (returned). Call once.
  Status run(std::stop_token stop);

  const std::string& worker_id() const;
  const WorkerConfig& config() const;
  std::vector<ShardStatus> status() const;
  WorkerStats stats() const;
  LeaseCoordinator& coordinator();

  struct Impl;

 private:
  explicit Worker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::kinesis::kcl

#endif  // SLUICE_KINESIS_KCL_WORKER_H_
