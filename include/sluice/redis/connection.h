// Connection: one blocking connection to Redis (hiredis underneath).
//
// Most code uses RedisClient (client.h), which keeps a pool of these and
// reconnects with backoff. Use a Connection directly for a dedicated
// blocking loop (XREAD BLOCK, say) or MULTI/EXEC sequences.
//
// Not thread-safe: one thread at a time. After an I/O error or timeout the
// connection is broken() (a reply may still be in flight) and must be
// replaced, never reused.
#ifndef SLUICE_REDIS_CONNECTION_H_
#define SLUICE_REDIS_CONNECTION_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/core/result.h"
#include "sluice/core/status.h"
#include "sluice/redis/connection_options.h"
#include "sluice/redis/reply.h"
#include "sluice/redis/script.h"

struct redisContext;  // hiredis, kept out of the public API

namespace sluice::redis {

class Connection {
 public:
  // Connects, authenticates, selects the database and sets the client name.
  // Unavailable/Timeout when the server cannot be reached, PermissionDenied
  // when AUTH is refused; the message names the server (never the password).
  static Result<std::unique_ptr<Connection>> open(const ConnectionOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one command and returns its reply, error replies included (as
  // Reply::Type::kError). `timeout` replaces the command timeout for this call
  // (give blocking commands their block time plus a margin).
  Result<Reply> call(const Command& command,
                     std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  // The same, with an error reply turned into a Status (reply_error_status()).
  Result<Reply> command(const Command& command,
                        std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  // Sends every command, then reads every reply: one round trip. Error
  // replies stay in the vector; a transport failure fails the whole call.
  Result<std::vector<Reply>> pipeline(const std::vector<Command>& commands);
  // EVALSHA, with SCRIPT LOAD and one retry on NOSCRIPT; error replies become a Status.
  Result<Reply> eval(const Script& script, const std::vector<std::string>& keys,
                     const std::vector<std::string>& args);

  // An I/O error or timeout happened: the connection must be discarded.
  bool broken() const { return broken_; }
  // For an idle connection: whether the server closed it (or sent something
  // unexpected) since the last reply. Pools check this before reuse.
  bool peer_closed() const;
  const ConnectionOptions& options() const { return options_; }

 private:
  Connection(redisContext* ctx, ConnectionOptions options);
  Status io_error(const char* what);
  Status set_timeout(std::chrono::milliseconds timeout);

  redisContext* ctx_;
  ConnectionOptions options_;
  bool broken_ = false;
};

}  // namespace sluice::redis

#endif  // SLUICE_REDIS_CONNECTION_H_
