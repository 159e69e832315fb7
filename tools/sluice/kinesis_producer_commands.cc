// `sluice kinesis produce` and `sluice kinesis aggregate`.
#include "cli.h"

namespace sluice::cli {

void add_kinesis_producer_commands(CLI::App&, Context&) {}

}  // namespace sluice::cli
