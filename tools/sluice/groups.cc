// Command groups whose commands arrive with their components. Each group
// exists now so that `sluice <group> --help` and the exit codes are stable.
#include "cli.h"

namespace sluice::cli {

void add_aws_commands(CLI::App& root, Context&) {
  auto* aws = root.add_subcommand("aws", "AWS helpers: SigV4 signing and credential checks");
  aws->require_subcommand(1);
}

void add_kinesis_commands(CLI::App& root, Context&) {
  auto* k = root.add_subcommand("kinesis", "Consume, produce, aggregate and inspect Kinesis streams");
  k->require_subcommand(1);
}

void add_redis_commands(CLI::App& root, Context&) {
  auto* r = root.add_subcommand("redis", "Redis Streams load balancer: add streams, show status");
  r->require_subcommand(1);
}

void add_kafka_commands(CLI::App& root, Context&) {
  auto* k = root.add_subcommand("kafka", "Produce to and consume from Kafka; run a mock cluster");
  k->require_subcommand(1);
}

}  // namespace sluice::cli
