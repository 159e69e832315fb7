#include "redis/json_util.h"

#include <simdjson.h>

#include <cstdio>

namespace sluice::redis::internal {

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

std::string json_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

Result<JsonObject> parse_json_object(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  simdjson::dom::element doc;
  if (auto err = parser.parse(padded).get(doc); err) {
    return Status::corruption(std::string("not valid JSON (") + simdjson::error_message(err) + ")");
  }
  simdjson::dom::object obj;
  if (doc.get(obj)) return Status::corruption("not a JSON object");
  JsonObject out;
  out.compact = simdjson::minify(doc);
  for (auto field : obj) {
    std::string key(field.key);
    std::string_view sv;
    if (field.value.is_string() && !field.value.get(sv)) {
      out.members[key] = std::string(sv);
    } else {
      out.members[key] = simdjson::minify(field.value);
    }
  }
  return out;
}

}  // namespace sluice::redis::internal
