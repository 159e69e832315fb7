#include "sluice/kinesis/producer_json.h"

#include <simdjson.h>

#include "sluice/core/base64.h"
#include "sluice/core/json_writer.h"

namespace sluice::kinesis {

Result<UserRecord> parse_record_json(std::string_view line) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(line);
  simdjson::dom::element doc;
  if (auto err = parser.parse(padded).get(doc); err) {
    return Status::invalid_argument(std::string("not a JSON object: ") +
                                    simdjson::error_message(err));
  }
  simdjson::dom::object obj;
  if (doc.get(obj) != simdjson::SUCCESS) return Status::invalid_argument("not a JSON object");
  UserRecord out;
  bool has_data = false;
  for (auto field : obj) {
    const std::string_view key = field.key;
    if (key != "partition_key" && key != "explicit_hash_key" && key != "data") continue;
    if (key == "explicit_hash_key" && field.value.is_null()) continue;
    std::string_view value;
    if (field.value.get(value) != simdjson::SUCCESS) {
      return Status::invalid_argument("\"" + std::string(key) + "\" must be a string");
    }
    if (key == "partition_key") {
      out.partition_key = std::string(value);
    } else if (key == "explicit_hash_key") {
      out.explicit_hash_key = std::string(value);
    } else {
      auto decoded = base64_decode(value);
      if (!decoded.ok()) {
        return Status::invalid_argument("\"data\" is not base64: " +
                                        std::string(decoded.status().message()));
      }
      out.data = std::move(*decoded);
      has_data = true;
    }
  }
  if (!has_data) return Status::invalid_argument("\"data\" is missing");
  return out;
}

std::string format_record_json(std::string_view partition_key, std::string_view explicit_hash_key,
                               std::string_view data) {
  std::string out;
  out.reserve(base64_encoded_size(data.size()) + partition_key.size() + explicit_hash_key.size() +
              64);
  JsonWriter w(out);
  w.begin_object()
      .field("partition_key", partition_key)
      .field("explicit_hash_key", explicit_hash_key)
      .key("data")
      .base64(data)
      .end_object();
  return out;
}

}  // namespace sluice::kinesis
