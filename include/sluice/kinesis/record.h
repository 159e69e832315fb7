// Record: one user record as the consumer hands it to your code.
//
// A record is either a plain Kinesis record or one user record of a KPL
// aggregate (then `aggregated` is true and `sub_sequence_number` tells it
// apart from its siblings). The views point into the batch the record came
// in and are valid while your handler runs: copy what you keep.
#ifndef SLUICE_KINESIS_RECORD_H_
#define SLUICE_KINESIS_RECORD_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "sluice/kinesis/sequence_number.h"

namespace sluice::kinesis {

struct Record {
  std::string_view data;
  std::string_view partition_key;
  std::string_view explicit_hash_key;  // set only for aggregated user records that have one
  std::string_view sequence_number;
  std::uint64_t sub_sequence_number = 0;
  bool aggregated = false;
  std::chrono::system_clock::time_point approximate_arrival{};
  std::string_view shard_id;

  ExtendedSequenceNumber position() const {
    return {std::string(sequence_number), sub_sequence_number};
  }
};

}  // namespace sluice::kinesis

#endif  // SLUICE_KINESIS_RECORD_H_
