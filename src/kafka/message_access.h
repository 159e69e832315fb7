// Builds sluice::kafka::Message views over librdkafka records.
#ifndef SLUICE_SRC_KAFKA_MESSAGE_ACCESS_H_
#define SLUICE_SRC_KAFKA_MESSAGE_ACCESS_H_

#include <librdkafka/rdkafka.h>

#include "sluice/kafka/message.h"

namespace sluice::kafka {

struct MessageAccess {
  // A view of `record`, valid while the record lives.
  static Message view(const rd_kafka_message_t* record);
};

}  // namespace sluice::kafka

#endif  // SLUICE_SRC_KAFKA_MESSAGE_ACCESS_H_
