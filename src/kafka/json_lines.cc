#include "sluice/kafka/json_lines.h"

#include <simdjson.h>

#include <chrono>

#include "sluice/core/base64.h"
#include "sluice/core/json_writer.h"

namespace sluice::kafka {
namespace {

void bytes_or_null(JsonWriter& w, bool present, std::string_view bytes) {
  if (present) {
    w.base64(bytes);
  } else {
    w.null();
  }
}

// A base64 string or null, into `out`.
Status read_bytes(simdjson::dom::element e, std::string_view what,
                  std::optional<std::string>& out) {
  if (e.is_null()) {
    out.reset();
    return Status();
  }
  std::string_view text;
  if (e.get_string().get(text) != simdjson::SUCCESS) {
    return Status::invalid_argument(std::string(what) + " must be a base64 string or null");
  }
  auto decoded = base64_decode(text);
  if (!decoded.ok()) {
    return Status::invalid_argument(
        std::string(what) + " is not valid base64: " + std::string(decoded.status().message()));
  }
  out = std::move(*decoded);
  return Status();
}

}  // namespace

void append_message_json(const Message& m, std::string& out) {
  JsonWriter w(out);
  w.begin_object();
  w.field("topic", m.topic());
  w.key("partition").number(static_cast<std::int64_t>(m.partition()));
  w.key("offset").number(static_cast<std::int64_t>(m.offset()));
  w.key("timestamp");
  if (m.timestamp_type() == TimestampType::kNone) {
    w.null();
  } else {
    w.number(static_cast<std::int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(m.timestamp().time_since_epoch())
            .count()));
  }
  w.key("key");
  bytes_or_null(w, m.has_key(), m.key());
  w.key("value");
  bytes_or_null(w, m.has_value(), m.value());
  w.key("headers").begin_array();
  for (const auto& h : m.headers()) {
    w.begin_object().field("key", h.key).key("value");
    bytes_or_null(w, !h.is_null, h.value);
    w.end_object();
  }
  w.end_array();
  w.end_object();
}

std::string message_json(const Message& message) {
  std::string out;
  append_message_json(message, out);
  return out;
}

Result<MessageToProduce> parse_message_json(std::string_view line) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(line.data(), line.size()).get(doc); err) {
    return Status::invalid_argument(std::string("not a JSON object: ") +
                                    simdjson::error_message(err));
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return Status::invalid_argument("not a JSON object");
  }
  MessageToProduce out;
  simdjson::dom::element e;
  if (obj["key"].get(e) == simdjson::SUCCESS) {
    SLUICE_RETURN_IF_ERROR(read_bytes(e, "\"key\"", out.key));
  }
  if (obj["value"].get(e) != simdjson::SUCCESS) {
    return Status::invalid_argument("\"value\" is missing (use null for a tombstone)");
  }
  SLUICE_RETURN_IF_ERROR(read_bytes(e, "\"value\"", out.value));
  if (obj["headers"].get(e) == simdjson::SUCCESS && !e.is_null()) {
    simdjson::dom::array arr;
    simdjson::dom::object map;
    if (e.get_array().get(arr) == simdjson::SUCCESS) {
      std::size_t i = 0;
      for (simdjson::dom::element h : arr) {
        const std::string where = "headers[" + std::to_string(i++) + "]";
        simdjson::dom::object ho;
        std::string_view name;
        if (h.get_object().get(ho) != simdjson::SUCCESS ||
            ho["key"].get_string().get(name) != simdjson::SUCCESS) {
          return Status::invalid_argument(where +
                                          " must be an object with a string \"key\" and a "
                                          "base64 \"value\"");
        }
        Header header{std::string(name), std::nullopt};
        simdjson::dom::element v;
        if (ho["value"].get(v) == simdjson::SUCCESS) {
          SLUICE_RETURN_IF_ERROR(read_bytes(v, where + ".value", header.value));
        }
        out.headers.push_back(std::move(header));
      }
    } else if (e.get_object().get(map) == simdjson::SUCCESS) {
      for (auto [name, v] : map) {
        Header header{std::string(name), std::nullopt};
        SLUICE_RETURN_IF_ERROR(read_bytes(v, "headers." + std::string(name), header.value));
        out.headers.push_back(std::move(header));
      }
    } else {
      return Status::invalid_argument("\"headers\" must be an array or an object");
    }
  }
  return out;
}

}  // namespace sluice::kafka
