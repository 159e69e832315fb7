// `sluice demo [--only kinesis|redis|kafka]` and the hidden worker commands
// it starts as child processes.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "cli.h"
#include "demo.h"
#include "sluice/core/shutdown_signals.h"

namespace sluice::cli {
namespace {

std::string env_or(const char* name, const std::string& fallback = "") {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

Status run_demo(demo::DemoOptions o) {
  std::stop_source stop;
  ShutdownSignals signals(stop);  // Ctrl-C: the acts stop and children are killed
  o.stop = stop.get_token();
  if (o.work_dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sluice-demo-XXXXXX").string();
    if (!mkdtemp(tmpl.data()))
      return Status::io_error("cannot create a work directory for the demo");
    o.work_dir = tmpl;
  }
  const bool all = o.only.empty();
  if (!all && o.only != "kinesis" && o.only != "redis" && o.only != "kafka") {
    return Status::invalid_argument("--only must be kinesis, redis or kafka, got \"" + o.only +
                                    "\"");
  }
  demo::View view;
  bool ok = true;
  // Each act: its summary line, or why it could not run.
  auto act = [&](const char* name, const char* title, auto&& run) -> Status {
    view.event(std::string("== ") + title + " ==");
    Result<demo::Ledger::Summary> summary = run();
    if (!summary.ok()) return summary.status().with_context(std::string(name) + " act");
    ok &= summary->ok();
    std::printf("%s\n", demo::Ledger::line(name, *summary).c_str());
    if (summary->unknown > 0) {
      std::printf("%s: %zu deliveries of records nobody produced\n", name, summary->unknown);
    }
    std::fflush(stdout);
    return Status();
  };
  if (all || o.only == "kinesis") {
    SLUICE_RETURN_IF_ERROR(act("demo",
                               "Kinesis: producer, KCL-compatible workers, a split, a SIGKILL",
                               [&] { return demo::run_kinesis_act(o, view); }));
  }
  if ((all || o.only == "redis") && !stop.stop_requested()) {
    if (o.redis_url.empty()) {
      return Status::invalid_argument(
          "the Redis act needs --redis (or SLUICE_TEST_REDIS_URL / REDIS_URL)");
    }
    SLUICE_RETURN_IF_ERROR(act("redis", "Redis Streams: a load-balanced client (seed 002's shape)",
                               [&] { return demo::run_redis_act(o, view); }));
  }
  if ((all || o.only == "kafka") && !stop.stop_requested()) {
    SLUICE_RETURN_IF_ERROR(act("kafka", "Kafka: a managed consumer on a mock cluster",
                               [&] { return demo::run_kafka_act(o, view); }));
  }
  std::fflush(stdout);
  if (stop.stop_requested()) return Status::cancelled("interrupted");
  if (!ok) return Status::internal("the demo lost records or saw them out of order (see above)");
  std::filesystem::remove_all(o.work_dir);
  return Status();
}

}  // namespace

void add_demo_command(CLI::App& root, Context& ctx) {
  auto o = std::make_shared<demo::DemoOptions>();
  auto* cmd = root.add_subcommand(
      "demo",
      "Show sluice end to end against local back ends: Kinesis (producer, 3 KCL-compatible worker "
      "processes, a split, a SIGKILL), Redis Streams (load balancing, a killed client's streams "
      "claimed) and Kafka (managed consumers, switches, retries). Each act ends with a line "
      "'<act>: produced N, delivered N unique, D duplicates, lost 0, order violations 0'. "
      "scripts/demo starts the back ends and runs this.");
  cmd->add_option("--only", o->only, "Run one act: kinesis, redis or kafka");
  cmd->add_option("--redis", o->redis_url, "Redis URL (default: SLUICE_TEST_REDIS_URL, REDIS_URL)");
  cmd->add_option("--kinesis-records", o->kinesis_records, "Records the Kinesis act produces")
      ->check(CLI::Range(100, 10000000));
  cmd->add_option("--redis-streams", o->redis_streams, "Data streams in the Redis act")
      ->check(CLI::Range(3, 10000));
  cmd->add_option("--redis-messages", o->redis_messages_per_stream, "Messages per data stream")
      ->check(CLI::Range(2, 1000000));
  cmd->add_option("--kafka-messages", o->kafka_messages, "Messages the Kafka act produces")
      ->check(CLI::Range(100, 10000000));
  cmd->add_option("--act-timeout", o->act_timeout,
                  "Longest an act may run, in seconds (default 150)");
  cmd->add_option("--work-dir", o->work_dir,
                  "Where workers write what they deliver (default: a temp dir)");
  ctx.on_run(cmd, "demo", [o] {
    demo::DemoOptions opts = *o;
    if (opts.redis_url.empty())
      opts.redis_url = env_or("SLUICE_TEST_REDIS_URL", env_or("REDIS_URL"));
    opts.kinesis_endpoint = env_or("SLUICE_TEST_KINESIS_ENDPOINT");
    opts.dynamodb_endpoint = env_or("SLUICE_TEST_DYNAMODB_ENDPOINT");
    opts.s3_endpoint = env_or("SLUICE_TEST_S3_ENDPOINT");
    opts.s3_bucket = env_or("SLUICE_TEST_S3_BUCKET", "sluice-demo");
    return run_demo(std::move(opts));
  });

  // Worker processes the demo starts (not for direct use).
  auto rw = std::make_shared<demo::RedisWorkerOptions>();
  auto* redis_worker = cmd->add_subcommand("redis-worker", "(internal) a Redis act client process");
  redis_worker->group("");
  redis_worker->add_option("--redis", rw->redis_url)->required();
  redis_worker->add_option("--service", rw->service)->required();
  redis_worker->add_option("--id", rw->id)->required();
  redis_worker->add_option("--delay-ms", rw->delay_ms);
  ctx.on_run(redis_worker, "demo redis-worker", [rw] { return demo::run_redis_worker(*rw); });

  auto kw = std::make_shared<demo::KinesisWorkerOptions>();
  auto* kinesis_worker =
      cmd->add_subcommand("kinesis-worker", "(internal) a Kinesis act worker process");
  kinesis_worker->group("");
  kinesis_worker->add_option("--kinesis", kw->kinesis_endpoint)->required();
  kinesis_worker->add_option("--dynamodb", kw->dynamodb_endpoint)->required();
  kinesis_worker->add_option("--s3", kw->s3_endpoint);
  kinesis_worker->add_option("--bucket", kw->s3_bucket);
  kinesis_worker->add_option("--stream", kw->stream)->required();
  kinesis_worker->add_option("--table", kw->table)->required();
  kinesis_worker->add_option("--id", kw->id)->required();
  ctx.on_run(kinesis_worker, "demo kinesis-worker", [kw] { return demo::run_kinesis_worker(*kw); });
}

}  // namespace sluice::cli
