// `sluice aws ...` commands.
#include "cli.h"

namespace sluice::cli {

void add_aws_commands(CLI::App& root, Context&) {
  auto* group = root.add_subcommand("aws", "AWS helpers: SigV4 signing and credential checks");
  group->require_subcommand(1);
}

}  // namespace sluice::cli
