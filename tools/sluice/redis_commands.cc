// `sluice redis ...` commands: the Redis Streams load balancer of seed 002.
//
//   sluice redis lbs add --service S --stream NAME [--info JSON]
//   sluice redis lbs status --service S [--limit N] [--json]
//
// The server comes from --url, else SLUICE_REDIS_URL, else REDIS_URL, else
// redis://127.0.0.1:6379 (passwords in URLs are never printed).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli.h"
#include "sluice/redis/client.h"
#include "sluice/redis/lbs.h"

namespace sluice::cli {
namespace {

struct RedisOptions {
  std::string url;
  std::string service;
  std::string stream;
  std::string info;
  int limit = 100;
  bool json = false;
};

std::string default_url() {
  for (const char* var : {"SLUICE_REDIS_URL", "REDIS_URL"}) {
    if (const char* v = std::getenv(var); v != nullptr && *v != '\0') return v;
  }
  return "redis://127.0.0.1:6379";
}

Result<std::shared_ptr<redis::RedisClient>> connect(const RedisOptions& o,
                                                    const GlobalOptions& global) {
  auto conn = redis::parse_redis_url(o.url.empty() ? default_url() : o.url);
  if (!conn.ok()) return conn.status();
  redis::RedisClientOptions options;
  options.connection = *conn;
  options.connection.client_name = "sluice-cli";
  options.reconnect =
      RetryPolicy::exponential(std::chrono::milliseconds(100), std::chrono::seconds(1), 1);
  options.logger = global.logger();
  return redis::RedisClient::connect(options);
}

std::string seconds(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

std::string json_escape(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

void print_status_json(const redis::LbsStatus& st) {
  std::string out =
      "{\"stream\":" + json_escape(st.stream) + ",\"group\":" + json_escape(st.group) +
      ",\"group_exists\":" + (st.group_exists ? "true" : "false") +
      ",\"length\":" + std::to_string(st.length) + ",\"pending\":" + std::to_string(st.pending) +
      ",\"last_delivered_id\":" + json_escape(st.last_delivered_id) + ",\"consumers\":[";
  for (std::size_t i = 0; i < st.consumers.size(); ++i) {
    const auto& c = st.consumers[i];
    if (i) out += ",";
    out += "{\"name\":" + json_escape(c.name) + ",\"pending\":" + std::to_string(c.pending) +
           ",\"idle_ms\":" + std::to_string(c.idle.count()) + "}";
  }
  out += "],\"entries\":[";
  for (std::size_t i = 0; i < st.entries.size(); ++i) {
    const auto& e = st.entries[i];
    if (i) out += ",";
    out += "{\"id\":" + json_escape(e.id) + ",\"data_stream\":" + json_escape(e.data_stream_name) +
           ",\"info\":" + (e.info_json.empty() ? std::string("{}") : e.info_json) +
           ",\"problem\":" + json_escape(e.problem) + ",\"owner\":" + json_escape(e.owner) +
           ",\"idle_ms\":" + std::to_string(e.idle.count()) +
           ",\"deliveries\":" + std::to_string(e.deliveries) +
           ",\"lock_holder\":" + json_escape(e.lock_holder) +
           ",\"lock_ttl_ms\":" + std::to_string(e.lock_ttl.count()) + "}";
  }
  out += "]}";
  std::printf("%s\n", out.c_str());
}

void print_status_table(const redis::LbsStatus& st) {
  std::printf("LBS %s  group %s%s  entries %lld  pending %lld  last-delivered %s\n",
              st.stream.c_str(), st.group.c_str(), st.group_exists ? "" : " (missing)", st.length,
              st.pending, st.last_delivered_id.empty() ? "-" : st.last_delivered_id.c_str());
  std::printf("\nCONSUMERS\n  %-36s %8s %10s\n", "NAME", "PENDING", "IDLE");
  for (const auto& c : st.consumers) {
    std::printf("  %-36s %8lld %10s\n", c.name.c_str(), c.pending, seconds(c.idle).c_str());
  }
  std::printf("\nENTRIES\n  %-22s %-28s %-30s %9s %5s  %-30s %7s\n", "ID", "DATA STREAM", "OWNER",
              "IDLE", "DELIV", "LOCK HOLDER", "TTL");
  for (const auto& e : st.entries) {
    if (!e.problem.empty()) {
      std::printf("  %-22s (malformed: %s)%s\n", e.id.c_str(), e.problem.c_str(),
                  e.owner.empty() ? "" : (" pending for " + e.owner).c_str());
      continue;
    }
    std::printf("  %-22s %-28s %-30s %9s %5s  %-30s %7s\n", e.id.c_str(),
                e.data_stream_name.c_str(), e.owner.empty() ? "-" : e.owner.c_str(),
                e.owner.empty() ? "-" : seconds(e.idle).c_str(),
                e.owner.empty() ? "-" : std::to_string(e.deliveries).c_str(),
                e.lock_holder.empty() ? "-" : e.lock_holder.c_str(),
                e.lock_holder.empty() ? "-" : seconds(e.lock_ttl).c_str());
  }
  if (st.length > static_cast<long long>(st.entries.size())) {
    std::printf("  ... %lld more (raise --limit)\n",
                st.length - static_cast<long long>(st.entries.size()));
  }
}

}  // namespace

void add_redis_commands(CLI::App& root, Context& ctx) {
  auto* group =
      root.add_subcommand("redis", "Redis Streams load balancer: add streams, show status");
  group->require_subcommand(1);
  group->fallthrough();
  auto opts = std::make_shared<RedisOptions>();
  group->add_option(
      "--url", opts->url,
      "Redis URL, redis://[user:password@]host:port/db (default: SLUICE_REDIS_URL, REDIS_URL, "
      "redis://127.0.0.1:6379)");

  auto* lbs = group->add_subcommand("lbs", "The load-balancer stream (LBS) of a service");
  lbs->require_subcommand(1);
  lbs->fallthrough();

  auto* add = lbs->add_subcommand(
      "add", "Add a data stream to a service's LBS (what the Go producer snippet does)");
  add->add_option("--service", opts->service, "Service name; the LBS is <service>-input")
      ->required();
  add->add_option("--stream", opts->stream, "Data stream name to hand to one consumer")->required();
  add->add_option("--info", opts->info,
                  "Additional info, a JSON object, e.g. '{\"priority\":\"high\"}'");
  ctx.on_run(add, "redis lbs add", [opts, &ctx]() -> Status {
    SLUICE_ASSIGN_OR_RETURN(auto client, connect(*opts, ctx.global));
    SLUICE_ASSIGN_OR_RETURN(std::string id,
                            redis::lbs_add(*client, opts->service, opts->stream, opts->info));
    std::printf("%s\n", id.c_str());
    return Status();
  });

  auto* status = lbs->add_subcommand(
      "status", "Show a service's LBS: entries, owners, pending, idle times, locks");
  status->add_option("--service", opts->service, "Service name; the LBS is <service>-input")
      ->required();
  status->add_option("--limit", opts->limit, "Entries to show at most")->check(CLI::PositiveNumber);
  status->add_flag("--json", opts->json, "Print JSON instead of a table");
  ctx.on_run(status, "redis lbs status", [opts, &ctx]() -> Status {
    SLUICE_ASSIGN_OR_RETURN(auto client, connect(*opts, ctx.global));
    SLUICE_ASSIGN_OR_RETURN(redis::LbsStatus st,
                            redis::lbs_status(*client, opts->service, opts->limit));
    if (opts->json) {
      print_status_json(st);
    } else {
      print_status_table(st);
    }
    return Status();
  });
}

}  // namespace sluice::cli
