// Private helpers shared by the blocking and the asynchronous connection.
#ifndef SLUICE_SRC_REDIS_HIREDIS_UTIL_H_
#define SLUICE_SRC_REDIS_HIREDIS_UTIL_H_

#include <hiredis/hiredis.h>

#include <string>
#include <vector>

#include "sluice/core/status.h"
#include "sluice/redis/connection_options.h"
#include "sluice/redis/reply.h"

namespace sluice::redis::internal {

// Deep copy of a hiredis reply.
Reply convert_reply(const redisReply* r);

// argv/argvlen views of a command, valid while `cmd` lives.
struct ArgvView {
  explicit ArgvView(const Command& cmd);
  std::vector<const char*> argv;
  std::vector<size_t> len;
  int argc() const { return static_cast<int>(argv.size()); }
};

// The commands sent right after connecting: AUTH, SELECT, CLIENT SETNAME.
std::vector<Command> handshake_commands(const ConnectionOptions& o);
// The Status for a failed handshake reply (AUTH refused, bad db...).
Status handshake_error(const ConnectionOptions& o, const Command& cmd, const Reply& reply);

}  // namespace sluice::redis::internal

#endif  // SLUICE_SRC_REDIS_HIREDIS_UTIL_H_
