// sluice: tail, produce and inspect Kinesis, Redis Streams and Kafka, debug
// SigV4, and run the demo. See `sluice --help`.
#include <cstdio>
#include <string>

#include "cli.h"
#include "sluice/version.h"

namespace sluice::cli {

std::shared_ptr<Logger> GlobalOptions::logger() const {
  auto level = parse_log_level(log_level);
  return make_stderr_logger(level.ok() ? *level : LogLevel::kWarn);
}

void Context::on_run(CLI::App* sub, std::string path, Action action_fn) {
  // CLI11 runs a chosen subcommand's callback before its parent's: the first
  // one to run is the deepest command named, and it wins.
  sub->final_callback([this, path = std::move(path), fn = std::move(action_fn)] {
    if (action) return;
    action_path = path;
    action = fn;
  });
}

namespace {

int run(int argc, char** argv) {
  CLI::App app{
      "sluice: read from and write to Kinesis, Redis Streams and Kafka, with "
      "checkpoints, leases and retries.",
      "sluice"};
  app.set_version_flag("--version", std::string("sluice ") + version());
  app.require_subcommand(1);
  app.fallthrough();  // global flags may come after the subcommand

  Context ctx;
  app.option_defaults()->always_capture_default();
  app.add_option("--endpoint-url", ctx.global.endpoint_url,
                 "Service endpoint to use instead of the AWS default (e.g. a local emulator)");
  app.add_option("--region", ctx.global.region,
                 "AWS region (default: AWS_REGION, then the profile)");
  app.add_option("--log-level", ctx.global.log_level, "trace, debug, info, warn, error or off")
      ->check([](const std::string& v) {
        auto l = parse_log_level(v);
        return l.ok() ? std::string() : std::string(l.status().message());
      });

  add_demo_command(app, ctx);
  add_doctor_command(app, ctx);
  add_aws_commands(app, ctx);
  add_kinesis_commands(app, ctx);
  add_redis_commands(app, ctx);
  add_kafka_commands(app, ctx);
  // After the subcommands: CLI11 copies a parent's footer into subcommands made later.
  app.footer(
      "\nRun `sluice COMMAND --help` for each command's options.\n"
      "AWS commands resolve credentials, region and endpoints as the AWS SDKs do (AWS_PROFILE, "
      "AWS_REGION, AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, ~/.aws/config); see "
      "`sluice aws --help`.\n"
      "Exit status: 0 success, 1 the command failed (the message names the cause), 2 the "
      "command line is wrong.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  if (!ctx.action) {
    std::fprintf(stderr, "sluice: nothing to run; see sluice --help\n");
    return kExitUsage;
  }
  Status s = ctx.action();
  if (!s.ok()) {
    std::fprintf(stderr, "sluice %s: %s\n", ctx.action_path.c_str(),
                 std::string(s.message()).c_str());
    return s.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
  }
  return kExitOk;
}

}  // namespace
}  // namespace sluice::cli

int main(int argc, char** argv) {
  return sluice::cli::run(argc, argv);
}
