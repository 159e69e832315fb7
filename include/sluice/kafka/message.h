// Message: one Kafka record as a handler sees it, and Header, one header of a
// record being produced.
//
// A consumed Message is a set of views into librdkafka's buffer: no byte is
// copied on the way to the handler, and the views are valid only until the
// handler returns. Copy what must outlive the call (std::string(m.value())).
//
//   Status handle(HandlerContext&, const Message& m) override {
//     log(m.topic(), m.partition(), m.offset(), m.value());
//     if (auto trace = m.header("trace-id")) use(*trace);
//   }
#ifndef SLUICE_KAFKA_MESSAGE_H_
#define SLUICE_KAFKA_MESSAGE_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::kafka {

// A header of a message to produce. Kafka allows a header without a value
// (null), distinct from an empty one, and the same key more than once.
struct Header {
  std::string key{};
  std::optional<std::string> value{};  // nullopt: a null value
};

// A header of a consumed message (views into the message).
struct HeaderView {
  std::string_view key{};
  std::string_view value{};
  bool is_null = false;  // the header had no value at all
};

// Where a message's timestamp comes from (Kafka's message.timestamp.type).
enum class TimestampType { kNone, kCreateTime, kLogAppendTime };

class Message {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  // The fields of a message built by hand: for unit tests of handlers and for
  // replays. The views must outlive the Message.
  struct Fields {
    std::string_view topic{};
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    std::optional<std::string_view> key{};    // nullopt: no key (null)
    std::optional<std::string_view> value{};  // nullopt: a tombstone (null value)
    TimePoint timestamp{};
    TimestampType timestamp_type = TimestampType::kCreateTime;
    std::vector<HeaderView> headers{};
  };
  explicit Message(Fields fields);

  std::string_view topic() const { return topic_; }
  std::int32_t partition() const { return partition_; }
  std::int64_t offset() const { return offset_; }

  // The key; empty when the message has none (has_key() tells the two apart).
  std::string_view key() const { return key_; }
  bool has_key() const { return has_key_; }
  // The value; empty for a tombstone (has_value() is then false).
  std::string_view value() const { return value_; }
  bool has_value() const { return has_value_; }

  // Milliseconds since the epoch as a time point; the epoch itself when the
  // timestamp type is kNone.
  TimePoint timestamp() const { return timestamp_; }
  TimestampType timestamp_type() const { return timestamp_type_; }

  // Every header, in wire order (read from the record on first use).
  std::span<const HeaderView> headers() const;
  // The value of the last header named `key` (null values read as ""), or
  // nullopt if there is none.
  std::optional<std::string_view> header(std::string_view key) const;

 private:
  friend struct MessageAccess;  // builds Messages over librdkafka records
  Message() = default;

  std::string_view topic_{};
  std::int32_t partition_ = 0;
  std::int64_t offset_ = 0;
  std::string_view key_{};
  std::string_view value_{};
  bool has_key_ = false;
  bool has_value_ = false;
  TimestampType timestamp_type_ = TimestampType::kNone;
  TimePoint timestamp_{};
  const void* record_ = nullptr;  // the librdkafka record, for lazy header parsing
  mutable bool headers_read_ = false;
  mutable std::vector<HeaderView> headers_;
};

}  // namespace sluice::kafka

#endif  // SLUICE_KAFKA_MESSAGE_H_
