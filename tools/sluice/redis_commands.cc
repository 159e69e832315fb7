// `sluice redis ...` commands.
#include "cli.h"

namespace sluice::cli {

void add_redis_commands(CLI::App& root, Context&) {
  auto* group = root.add_subcommand("redis", "Redis Streams load balancer: add streams, show status");
  group->require_subcommand(1);
}

}  // namespace sluice::cli
