// JsonWriter: appends JSON to a string, for request bodies and the CLI's
// JSON lines. Parsing is simdjson's job; writing is this small class.
//
//   std::string body;
//   JsonWriter w(body);
//   w.begin_object().field("StreamName", name).key("Limit").number(100).end_object();
//
// Commas are placed for you. Strings are escaped as JSON requires (quote,
// backslash, control characters); other bytes pass through unchanged, so
// callers must hand it UTF-8 (binary goes through base64()).
#ifndef SLUICE_CORE_JSON_WRITER_H_
#define SLUICE_CORE_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view name);

  JsonWriter& string(std::string_view value);
  JsonWriter& number(std::int64_t value);
  JsonWriter& number(std::uint64_t value);
  JsonWriter& number(int value) { return number(static_cast<std::int64_t>(value)); }
  // Finite doubles only; NaN and infinities are written as null.
  JsonWriter& number(double value);
  JsonWriter& boolean(bool value);
  JsonWriter& null();
  // `bytes` base64-encoded, as a JSON string.
  JsonWriter& base64(std::string_view bytes);
  // Already-serialized JSON, inserted as one value.
  JsonWriter& raw(std::string_view json);

  JsonWriter& field(std::string_view name, std::string_view value) {
    return key(name).string(value);
  }
  JsonWriter& field(std::string_view name, const char* value) { return key(name).string(value); }
  JsonWriter& field(std::string_view name, const std::string& value) {
    return key(name).string(value);
  }
  JsonWriter& field(std::string_view name, std::int64_t value) { return key(name).number(value); }
  JsonWriter& field(std::string_view name, int value) { return key(name).number(value); }
  JsonWriter& field(std::string_view name, bool value) { return key(name).boolean(value); }

 private:
  void before_value();
  std::string& out_;
  // One entry per open container: whether it has a member yet.
  std::vector<bool> has_member_;
  bool after_key_ = false;
};

// Appends `value` as a JSON string literal (with quotes) to `out`.
void append_json_string(std::string& out, std::string_view value);

}  // namespace sluice

#endif  // SLUICE_CORE_JSON_WRITER_H_
