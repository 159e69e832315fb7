// `sluice kafka ...` commands.
#include "cli.h"

namespace sluice::cli {

void add_kafka_commands(CLI::App& root, Context&) {
  auto* group = root.add_subcommand("kafka", "Produce to and consume from Kafka; run a mock cluster");
  group->require_subcommand(1);
}

}  // namespace sluice::cli
