// `sluice demo`: one command that shows what sluice does, in three acts
// (Kinesis with KCL-compatible workers, Redis Streams load balancing, Kafka
// managed consumers), each ending with a line that says whether anything was
// lost.
#ifndef SLUICE_TOOLS_SLUICE_DEMO_H_
#define SLUICE_TOOLS_SLUICE_DEMO_H_

#include <chrono>
#include <stop_token>
#include <string>

#include "demo_support.h"
#include "sluice/core/result.h"

namespace sluice::cli::demo {

struct DemoOptions {
  std::string only;  // "", "kinesis", "redis" or "kafka"
  std::string kinesis_endpoint, dynamodb_endpoint, s3_endpoint, s3_bucket, redis_url;
  std::string work_dir;
  // Kinesis act.
  int kinesis_records = 50000;
  // Redis act.
  int redis_streams = 30;
  int redis_messages_per_stream = 100;
  int redis_delay_ms = 3;
  // Kafka act.
  int kafka_messages = 3000;
  std::chrono::seconds act_timeout{150};
  std::stop_token stop;
};

struct RedisWorkerOptions {
  std::string redis_url, service, id;
  int delay_ms = 3;
};

struct KinesisWorkerOptions {
  std::string kinesis_endpoint, dynamodb_endpoint, s3_endpoint, s3_bucket;
  std::string stream, table, id;
};

Result<Ledger::Summary> run_kinesis_act(const DemoOptions& options, View& view);
Status run_kinesis_worker(const KinesisWorkerOptions& options);

Result<Ledger::Summary> run_kafka_act(const DemoOptions& options, View& view);

Result<Ledger::Summary> run_redis_act(const DemoOptions& options, View& view);
Status run_redis_worker(const RedisWorkerOptions& options);

}  // namespace sluice::cli::demo

#endif  // SLUICE_TOOLS_SLUICE_DEMO_H_
