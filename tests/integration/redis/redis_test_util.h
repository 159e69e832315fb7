// Helpers of the Redis integration tests.
#ifndef SLUICE_TESTS_INTEGRATION_REDIS_REDIS_TEST_UTIL_H_
#define SLUICE_TESTS_INTEGRATION_REDIS_REDIS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "sluice/redis/client.h"
#include "support/backends.h"

namespace sluice::redis::testing {

inline std::shared_ptr<RedisClient> connect_or_die(const std::string& url,
                                                   MetricsRegistry* metrics = nullptr,
                                                   std::shared_ptr<Logger> logger = nullptr) {
  auto conn = parse_redis_url(url);
  EXPECT_TRUE(conn.ok()) << conn.status();
  RedisClientOptions o;
  o.connection = *conn;
  o.connection.connect_timeout = std::chrono::milliseconds(2000);
  o.connection.command_timeout = std::chrono::milliseconds(2000);
  o.metrics = metrics;
  o.logger = std::move(logger);
  auto client = RedisClient::connect(o);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *client : nullptr;
}

// The shared redis-server started by testenv/with-backends.
inline std::shared_ptr<RedisClient> shared_redis(MetricsRegistry* metrics = nullptr) {
  return connect_or_die(sluice::testing::Backends::get().redis_url, metrics);
}

}  // namespace sluice::redis::testing

#endif  // SLUICE_TESTS_INTEGRATION_REDIS_REDIS_TEST_UTIL_H_
