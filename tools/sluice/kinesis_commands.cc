// `sluice kinesis ...` commands.
#include "cli.h"

namespace sluice::cli {

void add_kinesis_commands(CLI::App& root, Context& ctx) {
  auto* group =
      root.add_subcommand("kinesis", "Consume, produce, aggregate and inspect Kinesis streams");
  group->require_subcommand(1);
  add_kinesis_producer_commands(*group, ctx);
}

}  // namespace sluice::cli
