// The JSON-lines format of `sluice kafka consume` and `sluice kafka produce`,
// for programs that read or write it too.
//
// consume prints one object per message:
//   {"topic":"orders","partition":0,"offset":42,"timestamp":1767225600000,
//    "key":"b3JkZXItNw==","value":"eyJ0b3RhbCI6MTJ9",
//    "headers":[{"key":"trace-id","value":"YWJj"}]}
// produce reads objects with the same "key", "value" and "headers" (other
// fields, like those consume adds, are ignored), so one's output feeds the
// other.
//
// Every byte field (key, value, header values) is base64 (RFC 4648, with
// padding); header names are plain strings. null stands for a missing key, a
// tombstone value or a null header value. timestamp is milliseconds since
// the Unix epoch, null when the message has none. headers is an array (Kafka
// allows the same name twice); produce also accepts an object
// {"name":"<base64>",...}.
#ifndef SLUICE_KAFKA_JSON_LINES_H_
#define SLUICE_KAFKA_JSON_LINES_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/result.h"
#include "sluice/kafka/message.h"

namespace sluice::kafka {

// One message as a JSON object (no newline), appended to `out`.
void append_message_json(const Message& message, std::string& out);
std::string message_json(const Message& message);

// A message to produce, read from a JSON line.
struct MessageToProduce {
  std::optional<std::string> key{};    // nullopt: no key
  std::optional<std::string> value{};  // nullopt: tombstone
  std::vector<Header> headers{};
};

// Parses one line. InvalidArgument naming the field and the problem (not
// JSON, "value" missing, bad base64, wrong type).
Result<MessageToProduce> parse_message_json(std::string_view line);

}  // namespace sluice::kafka

#endif  // SLUICE_KAFKA_JSON_LINES_H_
