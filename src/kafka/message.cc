#include "sluice/kafka/message.h"

#include <librdkafka/rdkafka.h>

#include "kafka/message_access.h"

namespace sluice::kafka {

Message::Message(Fields f)
    : topic_(f.topic),
      partition_(f.partition),
      offset_(f.offset),
      key_(f.key.value_or(std::string_view())),
      value_(f.value.value_or(std::string_view())),
      has_key_(f.key.has_value()),
      has_value_(f.value.has_value()),
      timestamp_type_(f.timestamp_type),
      timestamp_(f.timestamp),
      headers_read_(true),
      headers_(std::move(f.headers)) {}

std::span<const HeaderView> Message::headers() const {
  if (!headers_read_) {
    headers_read_ = true;
    auto* record = static_cast<const rd_kafka_message_t*>(record_);
    rd_kafka_headers_t* hdrs = nullptr;
    if (record && rd_kafka_message_headers(record, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs) {
      const char* name;
      const void* value;
      std::size_t size;
      for (std::size_t i = 0;
           rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        headers_.push_back(HeaderView{
            name,
            value ? std::string_view(static_cast<const char*>(value), size) : std::string_view(),
            value == nullptr});
      }
    }
  }
  return headers_;
}

std::optional<std::string_view> Message::header(std::string_view key) const {
  auto all = headers();
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (it->key == key) return it->value;
  }
  return std::nullopt;
}

Message MessageAccess::view(const rd_kafka_message_t* r) {
  return view(r, r->rkt ? std::string_view(rd_kafka_topic_name(r->rkt)) : std::string_view());
}

Message MessageAccess::view(const rd_kafka_message_t* r, std::string_view topic) {
  Message m;
  m.topic_ = topic;
  m.partition_ = r->partition;
  m.offset_ = r->offset;
  if (r->key) {
    m.key_ = std::string_view(static_cast<const char*>(r->key), r->key_len);
    m.has_key_ = true;
  }
  if (r->payload) {
    m.value_ = std::string_view(static_cast<const char*>(r->payload), r->len);
    m.has_value_ = true;
  }
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  const std::int64_t ts = rd_kafka_message_timestamp(r, &type);
  switch (type) {
    case RD_KAFKA_TIMESTAMP_CREATE_TIME:
      m.timestamp_type_ = TimestampType::kCreateTime;
      break;
    case RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME:
      m.timestamp_type_ = TimestampType::kLogAppendTime;
      break;
    default:
      m.timestamp_type_ = TimestampType::kNone;
      break;
  }
  if (m.timestamp_type_ != TimestampType::kNone) {
    m.timestamp_ = Message::TimePoint(std::chrono::milliseconds(ts));
  }
  m.record_ = r;
  return m;
}

}  // namespace sluice::kafka
