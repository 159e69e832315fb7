// `sluice doctor`: checks that the configured back ends answer, one line per
// back end, and exits 1 if any does not. The first thing to run when a
// consumer cannot reach its stream.
#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/streambuf.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli.h"

namespace sluice::cli {
namespace {

using asio::ip::tcp;

struct Target {
  std::string name;      // "kinesis"
  std::string url;       // "http://127.0.0.1:4567"
  bool redis = false;
};

struct Parsed {
  std::string host;
  std::string port;
};

Result<Parsed> split_url(const std::string& url, const std::string& default_port) {
  std::string rest = url;
  auto scheme = rest.find("://");
  if (scheme == std::string::npos) return Status::invalid_argument("\"" + url + "\" is not a URL");
  rest = rest.substr(scheme + 3);
  if (auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  if (auto at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);  // userinfo
  Parsed p;
  if (!rest.empty() && rest[0] == '[') {  // [v6]:port
    auto close = rest.find(']');
    p.host = rest.substr(1, close - 1);
    p.port = close + 1 < rest.size() && rest[close + 1] == ':' ? rest.substr(close + 2) : default_port;
  } else if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    p.host = rest.substr(0, colon);
    p.port = rest.substr(colon + 1);
  } else {
    p.host = rest;
    p.port = default_port;
  }
  if (p.host.empty()) return Status::invalid_argument("no host in \"" + url + "\"");
  return p;
}

// Connects, sends `probe`, and returns the first line of the reply.
Result<std::string> exchange(const Parsed& p, const std::string& probe,
                             std::chrono::milliseconds timeout) {
  asio::io_context io;
  tcp::resolver resolver(io);
  tcp::socket sock(io);
  asio::streambuf buf;
  std::error_code result = asio::error::timed_out;
  std::string stage = "resolve";
  resolver.async_resolve(p.host, p.port, [&](std::error_code ec, tcp::resolver::results_type eps) {
    if (ec) {
      result = ec;
      return;
    }
    stage = "connect";
    asio::async_connect(sock, eps, [&](std::error_code ec2, const tcp::endpoint&) {
      if (ec2) {
        result = ec2;
        return;
      }
      stage = "exchange";
      asio::async_write(sock, asio::buffer(probe), [&](std::error_code ec3, std::size_t) {
        if (ec3) {
          result = ec3;
          return;
        }
        asio::async_read_until(sock, buf, "\r\n",
                               [&](std::error_code ec4, std::size_t) { result = ec4; });
      });
    });
  });
  io.run_for(timeout);
  if (result) {
    return Status::unavailable(stage + " " + p.host + ":" + p.port + " failed: " + result.message());
  }
  std::string line(asio::buffers_begin(buf.data()), asio::buffers_end(buf.data()));
  return line.substr(0, line.find("\r\n"));
}

std::string env_or(const char* a, const char* b = nullptr) {
  if (const char* v = std::getenv(a); v && *v) return v;
  if (b) {
    if (const char* v = std::getenv(b); v && *v) return v;
  }
  return "";
}

}  // namespace

void add_doctor_command(CLI::App& root, Context& ctx) {
  struct Opts {
    std::string kinesis, dynamodb, s3, redis;
    int timeout_ms = 2000;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = root.add_subcommand(
      "doctor",
      "Check that the back ends answer: Kinesis, DynamoDB and S3 endpoints (from the flags, "
      "--endpoint-url, AWS_ENDPOINT_URL_<SERVICE> or AWS_ENDPOINT_URL) and Redis (--redis or "
      "REDIS_URL). Exits 1 if any configured back end does not answer.");
  cmd->add_option("--kinesis-endpoint", opts->kinesis, "Kinesis endpoint URL");
  cmd->add_option("--dynamodb-endpoint", opts->dynamodb, "DynamoDB endpoint URL");
  cmd->add_option("--s3-endpoint", opts->s3, "S3 endpoint URL");
  cmd->add_option("--redis", opts->redis, "Redis URL, redis://HOST:PORT");
  cmd->add_option("--timeout-ms", opts->timeout_ms, "Per-check timeout")->check(CLI::Range(1, 60000));
  ctx.on_run(cmd, "doctor", [opts, &ctx]() -> Status {
    const std::string& global = ctx.global.endpoint_url;
    auto pick = [&](const std::string& flag, const char* service_env) {
      if (!flag.empty()) return flag;
      if (!global.empty()) return global;
      return env_or(service_env, "AWS_ENDPOINT_URL");
    };
    std::vector<Target> targets;
    if (auto u = pick(opts->kinesis, "AWS_ENDPOINT_URL_KINESIS"); !u.empty()) targets.push_back({"kinesis", u});
    if (auto u = pick(opts->dynamodb, "AWS_ENDPOINT_URL_DYNAMODB"); !u.empty()) targets.push_back({"dynamodb", u});
    if (auto u = pick(opts->s3, "AWS_ENDPOINT_URL_S3"); !u.empty()) targets.push_back({"s3", u});
    if (auto u = opts->redis.empty() ? env_or("REDIS_URL") : opts->redis; !u.empty()) {
      targets.push_back({"redis", u, true});
    }
    if (targets.empty()) {
      return Status::invalid_argument(
          "no back end to check: pass --kinesis-endpoint, --dynamodb-endpoint, --s3-endpoint or "
          "--redis (or set AWS_ENDPOINT_URL_<SERVICE> / REDIS_URL)");
    }
    int failures = 0;
    for (const auto& t : targets) {
      auto parts = split_url(t.url, t.redis ? "6379" : (t.url.starts_with("https") ? "443" : "80"));
      std::string verdict;
      if (!parts.ok()) {
        verdict = "FAIL " + std::string(parts.status().message());
      } else {
        const std::string probe =
            t.redis ? "PING\r\n"
                    : "GET / HTTP/1.1\r\nHost: " + parts->host + "\r\nConnection: close\r\n\r\n";
        auto line = exchange(*parts, probe, std::chrono::milliseconds(opts->timeout_ms));
        if (!line.ok()) {
          verdict = "FAIL " + std::string(line.status().message());
        } else if (t.redis ? (*line == "+PONG" || line->starts_with("-NOAUTH"))
                           : line->starts_with("HTTP/1.")) {
          verdict = "ok   " + *line;
        } else {
          verdict = "FAIL unexpected reply: " + *line;
        }
      }
      if (!verdict.starts_with("ok")) ++failures;
      std::printf("%-9s %-40s %s\n", t.name.c_str(), t.url.c_str(), verdict.c_str());
    }
    if (failures) {
      return Status::unavailable(std::to_string(failures) + " of " + std::to_string(targets.size()) +
                                 " back ends did not answer");
    }
    return Status();
  });
}

}  // namespace sluice::cli
