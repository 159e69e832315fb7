// AsyncConnection: one non-blocking connection to Redis, driven by Asio.
//
// hiredis' asynchronous context is attached to the Asio executor through an
// adapter on asio::posix::stream_descriptor (its addRead/delRead/addWrite/
// delWrite/cleanup hooks), so any number of connections share the executor's
// threads: no thread per connection, per stream or per subscription.
//
// Every method is thread-safe (work is posted to the connection's strand);
// completion handlers run on that strand, in the order replies arrive.
//
//   auto conn = co_await AsyncConnection::connect(executor, options);
//   if (!conn.ok()) co_return conn.status();
//   Result<Reply> r = co_await (*conn)->command({"XREADGROUP", ...}, block + 5s);
//
// A command that gets no reply within its timeout (the connection's
// command_timeout unless given) closes the connection: every pending command
// fails with Timeout/Unavailable and the disconnect handler runs. Reconnecting
// is the owner's job (see Subscriber for pub/sub, RedisStreamClient for the rest).
#ifndef SLUICE_REDIS_ASYNC_CONNECTION_H_
#define SLUICE_REDIS_ASYNC_CONNECTION_H_

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/core/result.h"
#include "sluice/core/status.h"
#include "sluice/redis/connection_options.h"
#include "sluice/redis/reply.h"
#include "sluice/redis/script.h"

namespace sluice::redis {

// A message delivered to a pattern subscription.
struct PubSubMessage {
  std::string pattern;  // the pattern that matched
  std::string channel;  // e.g. "__keyspace@0__:orders<MUTEX_KEY_SEP>1700000000000-0"
  std::string payload;  // e.g. "expired"
};

class AsyncConnection {
 public:
  using ReplyHandler = std::function<void(Result<Reply>)>;
  using PipelineHandler = std::function<void(Result<std::vector<Reply>>)>;
  using ConnectHandler = std::function<void(Result<std::shared_ptr<AsyncConnection>>)>;
  using MessageHandler = std::function<void(const PubSubMessage&)>;
  // Called once when the connection ends for any reason other than close():
  // the server went away, a command timed out, a protocol error.
  using DisconnectHandler = std::function<void(const Status&)>;

  // Connects, authenticates, selects the database and sets the client name,
  // all within options.connect_timeout; `done` runs on the new connection's strand.
  static void async_connect(asio::any_io_executor ex, ConnectionOptions options,
                            ConnectHandler done);
  // Coroutine form of async_connect.
  static asio::awaitable<Result<std::shared_ptr<AsyncConnection>>> connect(
      asio::any_io_executor ex, ConnectionOptions options);

  ~AsyncConnection();  // closes
  AsyncConnection(const AsyncConnection&) = delete;
  AsyncConnection& operator=(const AsyncConnection&) = delete;

  // Sends `command`; `done` gets the reply (error replies included, as
  // Reply::Type::kError) or the transport failure. `timeout` overrides the
  // command timeout (blocking commands: block time plus a margin).
  void async_command(Command command, ReplyHandler done,
                     std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  // Coroutine form of async_command.
  asio::awaitable<Result<Reply>> command(
      Command command, std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  // Sends all commands at once; `done` gets every reply, in order.
  void async_pipeline(std::vector<Command> commands, PipelineHandler done);
  asio::awaitable<Result<std::vector<Reply>>> pipeline(std::vector<Command> commands);
  // EVALSHA with SCRIPT LOAD and one retry on NOSCRIPT. The reply may be an
  // error reply (other than NOSCRIPT).
  asio::awaitable<Result<Reply>> eval(const Script& script, std::vector<std::string> keys,
                                      std::vector<std::string> args);

  // Turns this connection into a subscriber of `patterns` (PSUBSCRIBE).
  // `on_subscribed` runs once every pattern is confirmed (or with the error);
  // `on_message` runs for every message. Only PING may be sent afterwards.
  void psubscribe(std::vector<std::string> patterns, MessageHandler on_message,
                  std::function<void(const Status&)> on_subscribed);

  // Set before issuing commands; replaced, not chained.
  void set_disconnect_handler(DisconnectHandler handler);
  // Ends the connection: pending commands fail with Cancelled; the disconnect
  // handler does not run. Idempotent.
  void close();
  // False once disconnected or closed.
  bool connected() const;
  const ConnectionOptions& options() const;
  asio::any_io_executor executor() const;

 private:
  struct Impl;
  explicit AsyncConnection(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::redis

#endif  // SLUICE_REDIS_ASYNC_CONNECTION_H_
