// Small JSON helpers of the Redis component (simdjson for parsing).
#ifndef SLUICE_SRC_REDIS_JSON_UTIL_H_
#define SLUICE_SRC_REDIS_JSON_UTIL_H_

#include <map>
#include <string>
#include <string_view>

#include "sluice/core/result.h"

namespace sluice::redis::internal {

// Appends `s` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view s);
std::string json_string(std::string_view s);

// A parsed JSON object: its compact text and its members (strings as their
// text, other values as compact JSON).
struct JsonObject {
  std::string compact;
  std::map<std::string, std::string> members;
};
// Corruption naming the problem when `text` is not a JSON object.
Result<JsonObject> parse_json_object(std::string_view text);

}  // namespace sluice::redis::internal

#endif  // SLUICE_SRC_REDIS_JSON_UTIL_H_
