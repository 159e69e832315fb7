// Shared pieces of the `sluice` command-line tool: global options, exit
// codes, and how a subcommand hands its work to main().
#ifndef SLUICE_TOOLS_SLUICE_CLI_H_
#define SLUICE_TOOLS_SLUICE_CLI_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "sluice/aws/kinesis_client.h"
#include "sluice/core/logger.h"
#include "sluice/core/result.h"
#include "sluice/core/status.h"

namespace sluice::cli {

// Exit codes, the same for every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the command ran and failed (the error says why)
inline constexpr int kExitUsage = 2;    // the command line is wrong

// Flags every subcommand understands.
struct GlobalOptions {
  std::string endpoint_url;  // --endpoint-url: overrides the service endpoint
  std::string region;        // --region: overrides AWS_REGION / the profile
  std::string log_level = "warn";

  // The stderr logger at --log-level.
  std::shared_ptr<Logger> logger() const;
};

// What a subcommand does once the whole command line is parsed. Returning an
// error prints "sluice <path>: <message>" and exits 1.
using Action = std::function<Status()>;

struct Context {
  GlobalOptions global;
  Action action;
  std::string action_path;  // "kinesis consume", for error messages

  // Makes `sub` run `action` when it is the command chosen.
  void on_run(CLI::App* sub, std::string path, Action action_fn);
};

// Command groups; each lives in its own file.
void add_doctor_command(CLI::App& root, Context& ctx);
void add_demo_command(CLI::App& root, Context& ctx);
void add_aws_commands(CLI::App& root, Context& ctx);
void add_kinesis_commands(CLI::App& root, Context& ctx);
void add_redis_commands(CLI::App& root, Context& ctx);
void add_kafka_commands(CLI::App& root, Context& ctx);
// `sluice kinesis produce` and `sluice kinesis aggregate` (the producer's
// commands), added to the kinesis group.
void add_kinesis_producer_commands(CLI::App& kinesis, Context& ctx);
// `sluice kinesis consume` and `sluice kinesis deaggregate`.
void add_kinesis_consumer_commands(CLI::App& kinesis, Context& ctx);

// AWS client options from the global flags (--region, --endpoint-url,
// --log-level); the rest resolves as the SDKs do.
aws::ClientOptions aws_client_options(const GlobalOptions& global);
Result<std::shared_ptr<aws::KinesisClient>> kinesis_client(const GlobalOptions& global);
// One DescribeStreamSummary before a consumer starts: a wrong endpoint,
// stream name, region or credentials is an error naming the cause at once,
// where the consumer itself would keep retrying (it rides out outages).
Status check_stream_reachable(aws::KinesisClient& kinesis, const std::string& stream);

}  // namespace sluice::cli

#endif  // SLUICE_TOOLS_SLUICE_CLI_H_
