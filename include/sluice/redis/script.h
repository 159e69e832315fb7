// Script: a Lua script run by its SHA-1 (EVALSHA), loaded on demand.
//
// The SHA-1 is computed locally when the script is made, so the first call
// already sends EVALSHA; a NOSCRIPT reply (first use, Redis restarted, or
// SCRIPT FLUSH) makes the caller SCRIPT LOAD the source and retry once.
//
//   static const sluice::redis::Script kCompareAndDelete(R"(
//     if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
//     return 0)");
//   auto r = client->eval(kCompareAndDelete, {key}, {owner});
#ifndef SLUICE_REDIS_SCRIPT_H_
#define SLUICE_REDIS_SCRIPT_H_

#include <string>
#include <string_view>
#include <vector>

#include "sluice/redis/reply.h"

namespace sluice::redis {

class Script {
 public:
  explicit Script(std::string source);

  const std::string& source() const { return source_; }
  // 40 lowercase hex digits, as SCRIPT LOAD returns.
  const std::string& sha1() const { return sha1_; }

  // EVALSHA <sha1> <#keys> keys... args...
  Command evalsha_command(const std::vector<std::string>& keys,
                          const std::vector<std::string>& args) const;
  // SCRIPT LOAD <source>
  Command load_command() const { return {"SCRIPT", "LOAD", source_}; }

 private:
  std::string source_;
  std::string sha1_;
};

// SHA-1 of `data` as 40 lowercase hex digits.
std::string sha1_hex(std::string_view data);

}  // namespace sluice::redis

#endif  // SLUICE_REDIS_SCRIPT_H_
