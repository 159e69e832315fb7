#include "support/backends.h"

#include <cstdlib>
#include <stdexcept>

namespace sluice::testing {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

constexpr const char* kRequired[] = {
    "SLUICE_TEST_KINESIS_ENDPOINT", "SLUICE_TEST_DYNAMODB_ENDPOINT", "SLUICE_TEST_S3_ENDPOINT",
    "SLUICE_TEST_S3_BUCKET",        "SLUICE_TEST_REDIS_URL",         "SLUICE_TEST_REDIS_PORT",
    "SLUICE_TESTENV_DIR",           "SLUICE_TEST_NODE",
};

}  // namespace

const Backends& Backends::get() {
  static const Backends b = [] {
    Backends out;
    out.kinesis_endpoint = env("SLUICE_TEST_KINESIS_ENDPOINT");
    out.dynamodb_endpoint = env("SLUICE_TEST_DYNAMODB_ENDPOINT");
    out.s3_endpoint = env("SLUICE_TEST_S3_ENDPOINT");
    out.s3_bucket = env("SLUICE_TEST_S3_BUCKET");
    out.redis_url = env("SLUICE_TEST_REDIS_URL");
    const std::string port = env("SLUICE_TEST_REDIS_PORT");
    out.redis_port = port.empty() ? 0 : static_cast<std::uint16_t>(std::stoi(port));
    out.testenv_dir = env("SLUICE_TESTENV_DIR");
    out.node = env("SLUICE_TEST_NODE");
    return out;
  }();
  return b;
}

std::vector<std::string> Backends::missing() {
  std::vector<std::string> out;
  for (const char* name : kRequired) {
    if (env(name).empty()) out.emplace_back(name);
  }
  return out;
}

HostPort parse_host_port(const std::string& url) {
  std::string rest = url;
  if (auto p = rest.find("://"); p != std::string::npos) rest = rest.substr(p + 3);
  if (auto p = rest.find('/'); p != std::string::npos) rest.resize(p);
  if (auto p = rest.find('@'); p != std::string::npos) rest = rest.substr(p + 1);
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("no port in " + url);
  return HostPort{rest.substr(0, colon), static_cast<std::uint16_t>(std::stoi(rest.substr(colon + 1)))};
}

}  // namespace sluice::testing
