// RedisClient: the one handle sluice's Redis components share: a pool of
// blocking connections for synchronous calls, and an executor on which
// asynchronous connections (pub/sub, blocking reads, batched heartbeats) run.
//
//   auto redis = sluice::redis::RedisClient::connect({.connection = *parse_redis_url(url)});
//   if (!redis.ok()) return redis.status();
//   auto reply = (*redis)->command({"XADD", "my-service-input", "*", "lbs-input", json});
//
// Thread-safe. Reconnection: a pooled connection found closed by the server
// (Redis restarted) is discarded before use, and opening a connection is
// retried with `reconnect` (core RetryPolicy/Backoff). A command that fails
// on a broken connection is not re-sent (it may have run); callers retry per
// their own policy. Passwords never appear in logs or errors.
#ifndef SLUICE_REDIS_CLIENT_H_
#define SLUICE_REDIS_CLIENT_H_

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sluice/core/backoff.h"
#include "sluice/core/clock.h"
#include "sluice/core/logger.h"
#include "sluice/core/metrics.h"
#include "sluice/core/result.h"
#include "sluice/core/status.h"
#include "sluice/redis/async_connection.h"
#include "sluice/redis/connection.h"
#include "sluice/redis/connection_options.h"
#include "sluice/redis/reply.h"
#include "sluice/redis/script.h"

namespace sluice {
class ThreadPool;
}

namespace sluice::redis {

struct RedisClientOptions {
  ConnectionOptions connection{};
  // Most blocking connections open at once (idle and in use). A caller that
  // finds all of them in use waits up to `acquire_timeout`.
  std::size_t max_connections = 16;
  std::chrono::milliseconds acquire_timeout{5000};
  // How opening a connection is retried before a call fails with Unavailable.
  // Default: 3 retries, 100 ms doubling to at most 2 s.
  RetryPolicy reconnect =
      RetryPolicy::exponential(std::chrono::milliseconds(100), std::chrono::seconds(2), 3);
  // Where asynchronous connections run. Empty = a one-thread pool owned by
  // the client ("sluice-redis"), started on first asynchronous use.
  asio::any_io_executor executor{};
  // Null = no-op logger / MetricsRegistry::global() / Clock::real().
  std::shared_ptr<Logger> logger{};
  MetricsRegistry* metrics = nullptr;
  const Clock* clock = nullptr;

  Status validate() const;
};

class RedisClient : public std::enable_shared_from_this<RedisClient> {
 public:
  // Validates the options and opens (and PINGs) a first connection, so a
  // wrong address or password is reported here.
  static Result<std::shared_ptr<RedisClient>> connect(RedisClientOptions options);
  // The same with default options for `url` (see parse_redis_url()).
  static Result<std::shared_ptr<RedisClient>> connect(std::string_view url);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // One command; an error reply becomes a Status (reply_error_status()).
  Result<Reply> command(const Command& command);
  // One command; the reply as it came, error replies included.
  Result<Reply> call(const Command& command);
  // Every command in one round trip on one connection; error replies stay in
  // the result, a transport failure fails the call.
  Result<std::vector<Reply>> pipeline(const std::vector<Command>& commands);
  // EVALSHA, loading the script on NOSCRIPT; an error reply becomes a Status.
  Result<Reply> eval(const Script& script, const std::vector<std::string>& keys,
                     const std::vector<std::string>& args);

  // A pooled connection held for several calls in a row (WATCH/MULTI/EXEC,
  // a blocking read). Returned to the pool when destroyed, unless broken.
  class PooledConnection {
   public:
    PooledConnection(PooledConnection&& other) noexcept;
    PooledConnection& operator=(PooledConnection&&) = delete;
    ~PooledConnection();
    Connection* operator->() const { return conn_.get(); }
    Connection& operator*() const { return *conn_; }

   private:
    friend class RedisClient;
    PooledConnection(std::shared_ptr<RedisClient> owner, std::unique_ptr<Connection> conn);
    std::shared_ptr<RedisClient> owner_;
    std::unique_ptr<Connection> conn_;
  };
  Result<PooledConnection> acquire();

  // Opens an asynchronous connection on executor() (see AsyncConnection).
  void async_connect(AsyncConnection::ConnectHandler done);
  asio::awaitable<Result<std::shared_ptr<AsyncConnection>>> connect_async();

  // Where asynchronous work runs: options.executor, or a one-thread pool
  // owned by the client, started on first use.
  asio::any_io_executor executor() const;
  const RedisClientOptions& options() const { return options_; }
  const ConnectionOptions& connection_options() const { return options_.connection; }
  Logger& logger() const { return *logger_; }
  std::shared_ptr<Logger> logger_ptr() const { return logger_; }
  MetricsRegistry& metrics() const { return *metrics_; }
  const Clock& clock() const { return *clock_; }

  // Connections currently open (idle and in use), for tests and status pages.
  std::size_t open_connections() const;

 private:
  explicit RedisClient(RedisClientOptions options);
  Result<std::unique_ptr<Connection>> take();
  void give_back(std::unique_ptr<Connection> conn);
  Result<std::unique_ptr<Connection>> open_with_retry();

  RedisClientOptions options_;
  std::shared_ptr<Logger> logger_;
  MetricsRegistry* metrics_;
  const Clock* clock_;
  mutable std::mutex executor_mu_;
  mutable std::unique_ptr<ThreadPool> own_pool_;
  mutable std::thread::id pool_thread_;
  mutable asio::any_io_executor executor_;
  Counter* connections_opened_;
  Counter* connect_failures_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t open_ = 0;
};

}  // namespace sluice::redis

#endif  // SLUICE_REDIS_CLIENT_H_
