// Where the integration tests find their back ends.
//
// testenv/with-backends (scripts/test runs the suites through it) starts
// kinesalite, dynalite, s3rver and redis-server on free loopback ports and
// exports their addresses; integration_main.cc refuses to run without them.
#ifndef SLUICE_TESTS_SUPPORT_BACKENDS_H_
#define SLUICE_TESTS_SUPPORT_BACKENDS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::testing {

struct Backends {
  std::string kinesis_endpoint;   // SLUICE_TEST_KINESIS_ENDPOINT, http://127.0.0.1:P
  std::string dynamodb_endpoint;  // SLUICE_TEST_DYNAMODB_ENDPOINT
  std::string s3_endpoint;        // SLUICE_TEST_S3_ENDPOINT
  std::string s3_bucket;          // SLUICE_TEST_S3_BUCKET
  std::string redis_url;          // SLUICE_TEST_REDIS_URL, redis://127.0.0.1:P
  std::uint16_t redis_port = 0;   // SLUICE_TEST_REDIS_PORT
  std::string testenv_dir;        // SLUICE_TESTENV_DIR (node_modules for cross-checks)
  std::string node;               // SLUICE_TEST_NODE

  // Read once from the environment.
  static const Backends& get();
  // The names of required variables that are not set (empty when all are).
  static std::vector<std::string> missing();
};

// "127.0.0.1" and 4567 from "http://127.0.0.1:4567".
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};
HostPort parse_host_port(const std::string& url);

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_BACKENDS_H_
