#include "sluice/redis/client.h"

#include <asio/post.hpp>
#include <future>
#include <thread>

#include "sluice/core/executor.h"

namespace sluice::redis {

Status RedisClientOptions::validate() const {
  SLUICE_RETURN_IF_ERROR(connection.validate());
  if (max_connections == 0)
    return Status::invalid_argument("RedisClientOptions.max_connections must be >= 1");
  if (acquire_timeout.count() <= 0)
    return Status::invalid_argument("RedisClientOptions.acquire_timeout must be > 0");
  Status s = reconnect.validate();
  if (!s.ok()) return s.with_context("RedisClientOptions.reconnect");
  return Status();
}

RedisClient::RedisClient(RedisClientOptions options)
    : options_(std::move(options)),
      logger_(options_.logger ? options_.logger : make_noop_logger()),
      metrics_(&registry_or_global(options_.metrics)),
      clock_(options_.clock ? options_.clock : &Clock::real()) {
  if (options_.executor) executor_ = options_.executor;
  connections_opened_ = &metrics_
                             ->counter("sluice_redis_connections_opened_total",
                                       "Redis connections opened (blocking and asynchronous)")
                             .get();
  connect_failures_ = &metrics_
                           ->counter("sluice_redis_connect_failures_total",
                                     "Attempts to open a Redis connection that failed")
                           .get();
}

asio::any_io_executor RedisClient::executor() const {
  std::lock_guard lock(executor_mu_);
  if (!executor_) {
    // Made on first use: a client used only for blocking calls (a checkpoint
    // store, the CLI) runs no thread.
    own_pool_ = std::make_unique<ThreadPool>(1, "sluice-redis");
    executor_ = own_pool_->executor();
    // Remember the pool's thread: the client may be destroyed from it (the
    // last reference dropped by a handler), and a thread cannot join itself.
    auto id = std::make_shared<std::promise<std::thread::id>>();
    auto f = id->get_future();
    asio::post(executor_, [id] { id->set_value(std::this_thread::get_id()); });
    pool_thread_ = f.get();
  }
  return executor_;
}

RedisClient::~RedisClient() {
  {
    std::lock_guard lock(mu_);
    idle_.clear();
  }
  if (own_pool_) {
    if (std::this_thread::get_id() == pool_thread_) {
      // Destroyed by a handler on the pool's own thread: let another thread
      // stop and join it once this handler has returned.
      std::thread([pool = std::move(own_pool_)] { pool->stop(); }).detach();
    } else {
      own_pool_->stop();
    }
  }
}

Result<std::shared_ptr<RedisClient>> RedisClient::connect(RedisClientOptions options) {
  SLUICE_RETURN_IF_ERROR(options.validate());
  std::shared_ptr<RedisClient> client(new RedisClient(std::move(options)));
  // Fail fast on a wrong address or password.
  auto first = client->open_with_retry();
  if (!first.ok()) return first.status();
  auto pong = (*first)->command({"PING"});
  if (!pong.ok()) {
    if (pong.status().code() == StatusCode::kPermissionDenied) {
      return Status::permission_denied("redis at " + client->options_.connection.describe() +
                                       " requires authentication: put the password in the URL "
                                       "(redis://[user]:PASSWORD@host:port) (" +
                                       std::string(pong.status().message()) + ")");
    }
    return pong.status();
  }
  {
    std::lock_guard lock(client->mu_);
    ++client->open_;  // counted like every pooled connection
  }
  client->give_back(std::move(*first));
  return client;
}

Result<std::shared_ptr<RedisClient>> RedisClient::connect(std::string_view url) {
  auto conn = parse_redis_url(url);
  if (!conn.ok()) return conn.status();
  RedisClientOptions options;
  options.connection = std::move(*conn);
  return connect(std::move(options));
}

Result<std::unique_ptr<Connection>> RedisClient::open_with_retry() {
  Backoff backoff(options_.reconnect);
  while (true) {
    auto conn = Connection::open(options_.connection);
    if (conn.ok()) {
      connections_opened_->inc();
      return conn;
    }
    connect_failures_->inc();
    // Authentication and configuration errors do not heal by waiting.
    const StatusCode code = conn.status().code();
    if (code == StatusCode::kPermissionDenied || code == StatusCode::kInvalidArgument)
      return conn.status();
    auto delay = backoff.next();
    if (!delay) return conn.status();
    logger_->warn("redis connect failed; retrying", {{"redis", options_.connection.describe()},
                                                     {"error", conn.status()},
                                                     {"retry_in", *delay}});
    clock_->sleep_for(*delay);
  }
}

Result<std::unique_ptr<Connection>> RedisClient::take() {
  std::unique_lock lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
  while (true) {
    while (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      if (conn->peer_closed()) {
        // Redis restarted or dropped the idle connection: discard it.
        --open_;
        lock.unlock();
        logger_->debug("redis: dropping a pooled connection closed by the server",
                       {{"redis", options_.connection.describe()}});
        conn.reset();
        lock.lock();
        continue;
      }
      return conn;
    }
    if (open_ < options_.max_connections) {
      ++open_;
      lock.unlock();
      auto conn = open_with_retry();
      if (!conn.ok()) {
        lock.lock();
        --open_;
        cv_.notify_one();
      }
      return conn;
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.max_connections) {
      return Status::resource_exhausted("redis: all " + std::to_string(options_.max_connections) +
                                        " pooled connections stayed in use for " +
                                        std::to_string(options_.acquire_timeout.count()) +
                                        " ms (raise RedisClientOptions.max_connections)");
    }
  }
}

void RedisClient::give_back(std::unique_ptr<Connection> conn) {
  std::lock_guard lock(mu_);
  if (conn && !conn->broken()) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  cv_.notify_one();
}

std::size_t RedisClient::open_connections() const {
  std::lock_guard lock(mu_);
  return open_;
}

RedisClient::PooledConnection::PooledConnection(std::shared_ptr<RedisClient> owner,
                                                std::unique_ptr<Connection> conn)
    : owner_(std::move(owner)), conn_(std::move(conn)) {}

RedisClient::PooledConnection::PooledConnection(PooledConnection&& other) noexcept
    : owner_(std::move(other.owner_)), conn_(std::move(other.conn_)) {}

RedisClient::PooledConnection::~PooledConnection() {
  if (owner_ && conn_) owner_->give_back(std::move(conn_));
}

Result<RedisClient::PooledConnection> RedisClient::acquire() {
  auto conn = take();
  if (!conn.ok()) return conn.status();
  return PooledConnection(shared_from_this(), std::move(*conn));
}

Result<Reply> RedisClient::call(const Command& command) {
  auto conn = take();
  if (!conn.ok()) return conn.status();
  auto reply = (*conn)->call(command);
  give_back(std::move(*conn));
  return reply;
}

Result<Reply> RedisClient::command(const Command& command) {
  auto reply = call(command);
  if (!reply.ok()) return reply;
  if (reply->is_error()) return reply_error_status(*reply, command.empty() ? "" : command.front());
  return reply;
}

Result<std::vector<Reply>> RedisClient::pipeline(const std::vector<Command>& commands) {
  if (commands.empty()) return std::vector<Reply>{};
  auto conn = take();
  if (!conn.ok()) return conn.status();
  auto replies = (*conn)->pipeline(commands);
  give_back(std::move(*conn));
  return replies;
}

Result<Reply> RedisClient::eval(const Script& script, const std::vector<std::string>& keys,
                                const std::vector<std::string>& args) {
  auto conn = take();
  if (!conn.ok()) return conn.status();
  auto reply = (*conn)->eval(script, keys, args);
  give_back(std::move(*conn));
  return reply;
}

void RedisClient::async_connect(AsyncConnection::ConnectHandler done) {
  auto* opened = connections_opened_;
  auto* failed = connect_failures_;
  AsyncConnection::async_connect(
      executor(), options_.connection,
      [opened, failed, done = std::move(done)](Result<std::shared_ptr<AsyncConnection>> conn) {
        (conn.ok() ? opened : failed)->inc();
        done(std::move(conn));
      });
}

asio::awaitable<Result<std::shared_ptr<AsyncConnection>>> RedisClient::connect_async() {
  return AsyncConnection::connect(executor(), options_.connection);
}

}  // namespace sluice::redis
