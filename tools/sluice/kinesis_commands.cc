// `sluice kinesis ...` commands.
#include "cli.h"
#include "sluice/core/executor.h"

namespace sluice::cli {

void add_kinesis_commands(CLI::App& root, Context& ctx) {
  auto* group =
      root.add_subcommand("kinesis", "Consume, produce, aggregate and inspect Kinesis streams");
  group->require_subcommand(1);
  add_kinesis_producer_commands(*group, ctx);
  add_kinesis_consumer_commands(*group, ctx);
}

aws::ClientOptions aws_client_options(const GlobalOptions& global) {
  aws::ClientOptions c;
  c.region = global.region;
  c.endpoint = global.endpoint_url;
  c.logger = global.logger();
  return c;
}

Result<std::shared_ptr<aws::KinesisClient>> kinesis_client(const GlobalOptions& global) {
  SLUICE_ASSIGN_OR_RETURN(auto client, aws::KinesisClient::create(aws_client_options(global)));
  return std::shared_ptr<aws::KinesisClient>(std::move(client));
}

Status check_stream_reachable(aws::KinesisClient& kinesis, const std::string& stream) {
  ThreadPool pool(1, "sluice-check");
  auto summary = run_blocking(pool.executor(), kinesis.describe_stream_summary({.name = stream}));
  if (summary.ok()) return Status();
  return summary.status().with_context(
      "checking stream " + stream +
      " before consuming (check the stream name, --endpoint-url / AWS_ENDPOINT_URL_KINESIS, "
      "--region and the credentials)");
}

}  // namespace sluice::cli
