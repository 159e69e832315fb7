#include "sluice/redis/connection.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "redis/hiredis_util.h"

namespace sluice::redis {
namespace {

timeval to_timeval(std::chrono::milliseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

// The Status for a hiredis context error, naming the server.
Status context_error(const redisContext* c, const ConnectionOptions& o, std::string_view what,
                     std::chrono::milliseconds timeout) {
  const std::string where = o.describe();
  const std::string detail = c ? std::string(c->errstr) : std::string("out of memory");
  if (c == nullptr) return Status::resource_exhausted("redis: cannot allocate a connection");
  switch (c->err) {
    case REDIS_ERR_IO:
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINPROGRESS || errno == ETIMEDOUT ||
          detail.find("timed out") != std::string::npos) {
        return Status::timeout("redis " + std::string(what) + " on " + where +
                               ": no reply within " + std::to_string(timeout.count()) + " ms");
      }
      return Status::unavailable("redis " + std::string(what) + " on " + where + ": " +
                                 (detail.empty() ? std::string(std::strerror(errno)) : detail));
    case REDIS_ERR_EOF:
      return Status::unavailable("redis " + std::string(what) + " on " + where +
                                 ": the server closed the connection");
    case REDIS_ERR_PROTOCOL:
      return Status::corruption("redis " + std::string(what) + " on " + where +
                                ": protocol error: " + detail);
    case REDIS_ERR_OOM:
      return Status::resource_exhausted("redis " + std::string(what) + ": out of memory");
    default:
      return Status::unavailable("redis " + std::string(what) + " on " + where + ": " + detail);
  }
}

}  // namespace

Connection::Connection(redisContext* ctx, ConnectionOptions options)
    : ctx_(ctx), options_(std::move(options)) {}

Connection::~Connection() {
  if (ctx_) redisFree(ctx_);
}

Result<std::unique_ptr<Connection>> Connection::open(const ConnectionOptions& options) {
  SLUICE_RETURN_IF_ERROR(options.validate());
  const timeval tv = to_timeval(options.connect_timeout);
  redisContext* c = options.unix_socket.empty()
                        ? redisConnectWithTimeout(options.host.c_str(), options.port, tv)
                        : redisConnectUnixWithTimeout(options.unix_socket.c_str(), tv);
  if (c == nullptr || c->err) {
    Status s = c == nullptr ? Status::resource_exhausted("redis: cannot allocate a connection")
                            : Status::unavailable("cannot connect to redis at " +
                                                  options.describe() + ": " + c->errstr);
    if (c && std::string_view(c->errstr).find("timed out") != std::string_view::npos) {
      s = Status::timeout("cannot connect to redis at " + options.describe() + " within " +
                          std::to_string(options.connect_timeout.count()) + " ms");
    }
    if (c) redisFree(c);
    return s;
  }
  if (options.keepalive && options.unix_socket.empty()) redisEnableKeepAlive(c);
  std::unique_ptr<Connection> conn(new Connection(c, options));
  // The handshake runs under the connect timeout.
  SLUICE_RETURN_IF_ERROR(conn->set_timeout(options.connect_timeout));
  for (const Command& cmd : internal::handshake_commands(options)) {
    auto reply = conn->call(cmd, options.connect_timeout);
    if (!reply.ok()) return reply.status();
    if (reply->is_error()) return internal::handshake_error(options, cmd, *reply);
  }
  SLUICE_RETURN_IF_ERROR(conn->set_timeout(options.command_timeout));
  return conn;
}

Status Connection::set_timeout(std::chrono::milliseconds timeout) {
  if (redisSetTimeout(ctx_, to_timeval(timeout)) != REDIS_OK) {
    broken_ = true;
    return Status::io_error("redis: cannot set the socket timeout");
  }
  return Status();
}

Status Connection::io_error(const char* what) {
  broken_ = true;
  return context_error(ctx_, options_, what, options_.command_timeout);
}

Result<Reply> Connection::call(const Command& command,
                               std::optional<std::chrono::milliseconds> timeout) {
  if (broken_) return Status::unavailable("redis: connection is broken; open a new one");
  if (command.empty()) return Status::invalid_argument("redis: empty command");
  if (timeout) SLUICE_RETURN_IF_ERROR(set_timeout(*timeout));
  internal::ArgvView argv(command);
  errno = 0;
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(ctx_, argv.argc(), argv.argv.data(), argv.len.data()));
  if (r == nullptr) {
    broken_ = true;
    return context_error(ctx_, options_, command.front().c_str(),
                         timeout.value_or(options_.command_timeout));
  }
  Reply reply = internal::convert_reply(r);
  freeReplyObject(r);
  if (timeout) SLUICE_RETURN_IF_ERROR(set_timeout(options_.command_timeout));
  return reply;
}

Result<Reply> Connection::command(const Command& command,
                                  std::optional<std::chrono::milliseconds> timeout) {
  auto reply = call(command, timeout);
  if (!reply.ok()) return reply;
  if (reply->is_error()) return reply_error_status(*reply, command.front());
  return reply;
}

Result<std::vector<Reply>> Connection::pipeline(const std::vector<Command>& commands) {
  if (broken_) return Status::unavailable("redis: connection is broken; open a new one");
  for (const Command& cmd : commands) {
    if (cmd.empty()) return Status::invalid_argument("redis: empty command in a pipeline");
    internal::ArgvView argv(cmd);
    if (redisAppendCommandArgv(ctx_, argv.argc(), argv.argv.data(), argv.len.data()) != REDIS_OK) {
      return io_error("pipeline");
    }
  }
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    errno = 0;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) return io_error("pipeline");
    replies.push_back(internal::convert_reply(static_cast<redisReply*>(raw)));
    freeReplyObject(raw);
  }
  return replies;
}

Result<Reply> Connection::eval(const Script& script, const std::vector<std::string>& keys,
                               const std::vector<std::string>& args) {
  const Command cmd = script.evalsha_command(keys, args);
  auto reply = call(cmd);
  if (!reply.ok()) return reply;
  if (reply->is_error() && reply->error_code() == "NOSCRIPT") {
    auto loaded = command(script.load_command());
    if (!loaded.ok()) return loaded.status();
    reply = call(cmd);
    if (!reply.ok()) return reply;
  }
  if (reply->is_error()) return reply_error_status(*reply, "EVALSHA");
  return reply;
}

bool Connection::peer_closed() const {
  if (broken_ || ctx_ == nullptr || ctx_->fd < 0) return true;
  pollfd p{};
  p.fd = ctx_->fd;
  p.events = POLLIN;
  const int n = ::poll(&p, 1, 0);
  if (n < 0) return true;
  // Readable while idle: EOF (the server closed it) or unsolicited data.
  return n > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

}  // namespace sluice::redis
