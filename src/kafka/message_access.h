// What the consumer session sets in public types that handlers only read:
// Message views over librdkafka records, and the HandlerContext of a call.
#ifndef SLUICE_SRC_KAFKA_MESSAGE_ACCESS_H_
#define SLUICE_SRC_KAFKA_MESSAGE_ACCESS_H_

#include <librdkafka/rdkafka.h>

#include <string_view>

#include "sluice/kafka/consumer.h"
#include "sluice/kafka/message.h"

namespace sluice::kafka {

struct MessageAccess {
  // A view of `record`, valid while the record lives.
  static Message view(const rd_kafka_message_t* record);
  // The same, with the record's topic name already at hand (the session
  // looks it up once per partition and batch, not once per message).
  static Message view(const rd_kafka_message_t* record, std::string_view topic);
};

struct HandlerContextAccess {
  // Makes `ctx` the context of a new handler call. A thread reuses one
  // context for all its calls: building one per call copied the stop token
  // (two atomic operations per message).
  static void begin_call(HandlerContext& ctx, int attempt, Clock::TimePoint deadline) {
    ctx.attempt_ = attempt;
    ctx.deadline_ = deadline;
  }
};

}  // namespace sluice::kafka

#endif  // SLUICE_SRC_KAFKA_MESSAGE_ACCESS_H_
