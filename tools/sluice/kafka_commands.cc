// `sluice kafka ...` commands:
//
//   sluice kafka produce --brokers B --topic T [--key K] [--input FILE|-] [--raw]
//                        [-X KEY=VALUE]...
//   sluice kafka consume --brokers B --topic T --group G [--from earliest|latest]
//                        [--max-messages N] [-X KEY=VALUE]...
//   sluice kafka mock-cluster [--brokers N] [--topic T:PARTITIONS]...
//
// produce and consume speak the JSON lines of sluice/kafka/json_lines.h
// (bytes in base64), so `consume | produce` copies messages between topics.
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "cli.h"
#include "sluice/core/shutdown_signals.h"
#include "sluice/kafka/json_lines.h"
#include "sluice/kafka/mock_cluster.h"
#include "sluice/kafka/producer.h"
#include "sluice/kafka/registry.h"

namespace sluice::cli {
namespace {

constexpr const char* kFormatHelp = R"(
JSON lines: every byte field is base64 (RFC 4648, with padding); header names are
plain strings; null means no key, a tombstone value, or a null header value.
  consume prints one line per message:
    {"topic":"T","partition":0,"offset":42,"timestamp":1767225600000,
     "key":"<base64>|null","value":"<base64>|null",
     "headers":[{"key":"name","value":"<base64>|null"}]}
    (timestamp: milliseconds since the Unix epoch, or null)
  produce reads one object per line:
    {"key":"<base64>","value":"<base64>","headers":[{"key":"name","value":"<base64>"}]}
    "key" and "headers" may be left out ("headers" may also be {"name":"<base64>"});
    other fields are ignored, so consume's output can be produced again.
    With --raw every line is a plain-text value instead.)";

struct ProduceOptions {
  std::string brokers;
  std::string topic;
  std::string key;
  bool has_key = false;
  std::string input = "-";
  bool raw = false;
  std::vector<std::string> properties;  // KEY=VALUE, passed to librdkafka
};

struct ConsumeOptions {
  std::string brokers;
  std::string topic;
  std::string group;
  std::string from = "latest";
  long long max_messages = 0;
  std::vector<std::string> properties;
};

struct MockClusterOptions {
  int brokers = 1;
  std::vector<std::string> topics;
};

// --property KEY=VALUE options as librdkafka properties (e.g. debug=cgrp).
Result<std::map<std::string, std::string>> parse_properties(const std::vector<std::string>& specs) {
  std::map<std::string, std::string> out;
  for (const auto& spec : specs) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::invalid_argument("--property \"" + spec + "\": expected KEY=VALUE");
    }
    out[spec.substr(0, eq)] = spec.substr(eq + 1);
  }
  return out;
}

Status run_produce(const ProduceOptions& o, const GlobalOptions& global) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (o.input != "-") {
    file.open(o.input, std::ios::binary);
    if (!file) return Status::invalid_argument("--input: cannot open \"" + o.input + "\"");
    in = &file;
  }
  kafka::ProducerConfig pc;
  pc.bootstrap_servers = o.brokers;
  pc.name = "cli";
  pc.enable_sync_producer = false;
  pc.enable_async_producer = true;
  SLUICE_ASSIGN_OR_RETURN(pc.properties, parse_properties(o.properties));
  auto producer = kafka::Producer::create(pc, {.metrics = nullptr, .logger = global.logger()});
  if (!producer.ok()) return producer.status();

  std::atomic<long long> delivered{0};
  std::atomic<long long> failed{0};
  std::mutex first_error_mu;
  Status first_error;
  auto on_delivery = [&](const Result<kafka::Delivery>& r) {
    if (r.ok()) {
      delivered.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    failed.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(first_error_mu);
    if (first_error.ok()) first_error = r.status();
  };

  std::string line;
  long long line_no = 0;
  long long queued = 0;
  const std::optional<std::string_view> default_key =
      o.has_key ? std::optional<std::string_view>(o.key) : std::nullopt;
  Status input_error;
  while (std::getline(*in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    Status s;
    if (o.raw) {
      s = (*producer)->send_async(o.topic, default_key, line, on_delivery);
    } else {
      if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank line
      auto msg = kafka::parse_message_json(line);
      if (!msg.ok()) {
        input_error = Status::invalid_argument("input line " + std::to_string(line_no) + ": " +
                                               std::string(msg.status().message()));
        break;
      }
      std::optional<std::string_view> key = default_key;
      if (msg->key) key = *msg->key;
      std::optional<std::string_view> value;
      if (msg->value) value = *msg->value;
      s = (*producer)->send_async(o.topic, key, value, msg->headers, on_delivery);
    }
    if (!s.ok()) {
      input_error = s.with_context("input line " + std::to_string(line_no));
      break;
    }
    ++queued;
  }
  const Status closed = (*producer)->close(std::chrono::seconds(30));
  std::fprintf(stderr, "sluice kafka produce: %lld message(s) delivered to %s, %lld failed\n",
               delivered.load(), o.topic.c_str(), failed.load());
  if (!input_error.ok()) return input_error;
  if (failed.load() > 0) {
    std::lock_guard lock(first_error_mu);
    return Status(first_error.code(), std::to_string(failed.load()) +
                                          " message(s) not delivered; first error: " +
                                          std::string(first_error.message()));
  }
  return closed;
}

Status run_consume(const ConsumeOptions& o, const GlobalOptions& global) {
  if (o.from != "earliest" && o.from != "latest") {
    return Status::invalid_argument("--from must be earliest or latest, got \"" + o.from + "\"");
  }
  if (o.max_messages < 0) return Status::invalid_argument("--max-messages must be >= 0");
  kafka::ConsumerConfig cc;
  cc.job_name = "cli";
  cc.topics = {o.topic};
  cc.bootstrap_servers = o.brokers;
  cc.group = o.group;
  cc.initial_offset =
      o.from == "earliest" ? kafka::InitialOffset::kOldest : kafka::InitialOffset::kNewest;
  cc.max_processing_time = std::chrono::seconds(10);  // stdout may be a slow pipe
  SLUICE_ASSIGN_OR_RETURN(cc.properties, parse_properties(o.properties));

  std::stop_source stop;
  ShutdownSignals signals(stop);
  kafka::Registry registry({.metrics = nullptr, .logger = global.logger()});
  long long printed = 0;
  std::string line;
  Status output_error;
  auto handler = [&](kafka::HandlerContext&, const kafka::Message& m) -> Status {
    if (o.max_messages > 0 && printed >= o.max_messages) {
      return Status::cancelled("--max-messages reached");  // not committed
    }
    line.clear();
    kafka::append_message_json(m, line);
    line.push_back('\n');
    if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() ||
        std::fflush(stdout) != 0) {
      output_error = Status::io_error("writing to stdout failed");
      stop.request_stop();
      return output_error;
    }
    if (o.max_messages > 0 && ++printed >= o.max_messages) stop.request_stop();
    return Status();
  };
  SLUICE_RETURN_IF_ERROR(registry.register_consumer(kafka::make_consumer(cc, handler)));
  SLUICE_RETURN_IF_ERROR(registry.set_consumer_switch(cc.job_name, true));
  SLUICE_RETURN_IF_ERROR(registry.start_all(stop.get_token()));
  SLUICE_RETURN_IF_ERROR(registry.wait_stop());
  if (!output_error.ok()) return output_error;
  auto status = registry.job_status(cc.job_name);
  if (status.ok() && status->state == kafka::JobState::kDisabled) return status->last_error;
  return Status();
}

Status run_mock_cluster(const MockClusterOptions& o) {
  auto cluster = kafka::MockCluster::start({.brokers = o.brokers});
  if (!cluster.ok()) return cluster.status();
  for (const auto& spec : o.topics) {
    std::string name = spec;
    int partitions = 4;
    if (auto colon = spec.rfind(':'); colon != std::string::npos) {
      name = spec.substr(0, colon);
      const std::string count = spec.substr(colon + 1);
      try {
        std::size_t used = 0;
        partitions = std::stoi(count, &used);
        if (used != count.size()) throw std::invalid_argument(count);
      } catch (const std::exception&) {
        return Status::invalid_argument("--topic \"" + spec +
                                        "\": partitions must be a number (TOPIC:PARTITIONS)");
      }
    }
    SLUICE_RETURN_IF_ERROR((*cluster)->create_topic(name, partitions));
  }
  std::stop_source stop;
  ShutdownSignals signals(stop);
  std::printf("bootstrap=%s\n", (*cluster)->bootstrap_servers().c_str());
  std::fflush(stdout);
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait(lock, stop.get_token(), [] { return false; });
  return Status();
}

}  // namespace

void add_kafka_commands(CLI::App& root, Context& ctx) {
  auto* group =
      root.add_subcommand("kafka", "Produce to and consume from Kafka; run a mock cluster");
  group->require_subcommand(1);

  auto produce = std::make_shared<ProduceOptions>();
  auto* p = group->add_subcommand(
      "produce", "Send JSON-line (or, with --raw, plain-text) messages to a topic");
  p->add_option("--brokers", produce->brokers, "Bootstrap servers, host:port[,host:port...]")
      ->required();
  p->add_option("--topic", produce->topic, "Topic to produce to")->required();
  p->add_option("--key", produce->key,
                "Key (plain text) for messages that have none: every --raw line, JSON lines "
                "without \"key\"")
      ->each([produce](const std::string&) { produce->has_key = true; });
  p->add_option("--input", produce->input, "Read lines from FILE, or - for stdin");
  p->add_flag("--raw", produce->raw, "Each line is a plain-text value (not JSON)");
  p->add_option("-X,--property", produce->properties,
                "librdkafka property KEY=VALUE (e.g. debug=msg, compression.type=lz4); "
                "repeatable");
  p->footer(kFormatHelp);
  ctx.on_run(p, "kafka produce", [produce, &ctx] { return run_produce(*produce, ctx.global); });

  auto consume = std::make_shared<ConsumeOptions>();
  auto* c = group->add_subcommand(
      "consume",
      "Read a topic as a consumer group member and print one JSON line per message "
      "(key, value and header values in base64); offsets are committed after printing");
  c->add_option("--brokers", consume->brokers, "Bootstrap servers, host:port[,host:port...]")
      ->required();
  c->add_option("--topic", consume->topic, "Topic to consume")->required();
  c->add_option("--group", consume->group, "Consumer group id")->required();
  c->add_option("--from", consume->from,
                "Where to start when the group has no committed offset: earliest or latest")
      ->check(CLI::IsMember({"earliest", "latest"}));
  c->add_option("--max-messages", consume->max_messages,
                "Stop after N messages (0: run until Ctrl-C / SIGTERM)");
  c->add_option("-X,--property", consume->properties,
                "librdkafka property KEY=VALUE (e.g. debug=cgrp,consumer); repeatable");
  c->footer(kFormatHelp);
  ctx.on_run(c, "kafka consume", [consume, &ctx] { return run_consume(*consume, ctx.global); });

  auto mock = std::make_shared<MockClusterOptions>();
  auto* m = group->add_subcommand(
      "mock-cluster",
      "Run a librdkafka mock Kafka cluster on loopback until Ctrl-C / SIGTERM; prints "
      "\"bootstrap=<servers>\" on one line first");
  m->add_option("--brokers", mock->brokers, "Number of brokers")->check(CLI::PositiveNumber);
  m->add_option(
      "--topic", mock->topics,
      "Create TOPIC with PARTITIONS partitions (TOPIC:PARTITIONS, default 4); repeatable");
  ctx.on_run(m, "kafka mock-cluster", [mock] { return run_mock_cluster(*mock); });
}

}  // namespace sluice::cli
