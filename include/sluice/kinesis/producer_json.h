// The JSON-lines form of a record that `sluice kinesis produce --input` reads
// and `sluice kinesis aggregate` reads and writes, one object per line:
//
//   {"partition_key":"user-1","explicit_hash_key":"","data":"aGVsbG8="}
//
// `data` is base64 (standard alphabet, padded); `explicit_hash_key` may be
// absent, null or "" for none.
#ifndef SLUICE_KINESIS_PRODUCER_JSON_H_
#define SLUICE_KINESIS_PRODUCER_JSON_H_

#include <string>
#include <string_view>

#include "sluice/core/result.h"
#include "sluice/kinesis/producer.h"

namespace sluice::kinesis {

// Parses one line. InvalidArgument naming the problem (not JSON, a missing
// or non-string field, bad base64). The partition key is not validated here.
Result<UserRecord> parse_record_json(std::string_view line);

// One line (without the newline).
std::string format_record_json(std::string_view partition_key, std::string_view explicit_hash_key,
                               std::string_view data);

}  // namespace sluice::kinesis

#endif  // SLUICE_KINESIS_PRODUCER_JSON_H_
