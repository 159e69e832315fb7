#include "redis/hiredis_util.h"

namespace sluice::redis::internal {

Reply convert_reply(const redisReply* r) {
  if (r == nullptr) return Reply::nil();
  switch (r->type) {
    case REDIS_REPLY_STRING:
      return Reply::string(std::string(r->str, r->len));
    case REDIS_REPLY_STATUS:
      return Reply::status(std::string(r->str, r->len));
    case REDIS_REPLY_ERROR:
      return Reply::error(std::string(r->str, r->len));
    case REDIS_REPLY_INTEGER:
      return Reply::integer(r->integer);
    case REDIS_REPLY_ARRAY: {
      std::vector<Reply> elements;
      elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) elements.push_back(convert_reply(r->element[i]));
      return Reply::array(std::move(elements));
    }
    default:
      return Reply::nil();
  }
}

ArgvView::ArgvView(const Command& cmd) {
  argv.reserve(cmd.size());
  len.reserve(cmd.size());
  for (const auto& a : cmd) {
    argv.push_back(a.data());
    len.push_back(a.size());
  }
}

std::vector<Command> handshake_commands(const ConnectionOptions& o) {
  std::vector<Command> cmds;
  if (!o.password.empty()) {
    if (o.username.empty()) {
      cmds.push_back({"AUTH", o.password});
    } else {
      cmds.push_back({"AUTH", o.username, o.password});
    }
  }
  if (o.db != 0) cmds.push_back({"SELECT", std::to_string(o.db)});
  if (!o.client_name.empty()) cmds.push_back({"CLIENT", "SETNAME", o.client_name});
  return cmds;
}

Status handshake_error(const ConnectionOptions& o, const Command& cmd, const Reply& reply) {
  const std::string where = o.describe();
  if (cmd.front() == "AUTH") {
    // The server's message never contains the password; ours neither.
    std::string who =
        o.username.empty() ? std::string("the password") : "user '" + o.username + "'";
    return Status::permission_denied("redis AUTH with " + who + " refused by " + where + ": " +
                                     reply.str());
  }
  if (cmd.front() == "SELECT") {
    return Status::invalid_argument("redis SELECT " + cmd[1] + " refused by " + where + ": " +
                                    reply.str() + " (check the database number in the URL)");
  }
  return reply_error_status(reply, cmd.front() + " " + cmd[1] + " on " + where);
}

}  // namespace sluice::redis::internal
