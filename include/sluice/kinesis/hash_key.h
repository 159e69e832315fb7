// Kinesis hash keys: 128-bit unsigned integers that place a record on a
// shard. A record's hash key is its explicit hash key when it has one, else
// the MD5 of its partition key (UTF-8) read as a big-endian integer.
#ifndef SLUICE_KINESIS_HASH_KEY_H_
#define SLUICE_KINESIS_HASH_KEY_H_

#include <string>
#include <string_view>

#include "sluice/core/result.h"

namespace sluice::kinesis {

using HashKey = unsigned __int128;

inline constexpr HashKey kMaxHashKey = ~HashKey{0};

// MD5(partition_key) as a big-endian 128-bit integer.
HashKey partition_key_hash(std::string_view partition_key);
// The key Kinesis routes by: the explicit hash key if non-empty, else the
// partition key's MD5. InvalidArgument for a malformed explicit key.
Result<HashKey> record_hash_key(std::string_view partition_key, std::string_view explicit_hash_key);

// Decimal text <-> value. InvalidArgument unless 0 <= value < 2^128 in digits.
Result<HashKey> parse_hash_key(std::string_view decimal);
std::string format_hash_key(HashKey key);

// An inclusive range of hash keys, as shards own them.
struct HashKeyInterval {
  HashKey start = 0;
  HashKey end = kMaxHashKey;
  bool contains(HashKey k) const { return k >= start && k <= end; }
};
Result<HashKeyInterval> parse_hash_key_interval(std::string_view start, std::string_view end);

}  // namespace sluice::kinesis

#endif  // SLUICE_KINESIS_HASH_KEY_H_
