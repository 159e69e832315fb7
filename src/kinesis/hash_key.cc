#include "sluice/kinesis/hash_key.h"

#include <algorithm>

#include "kinesis/md5.h"

namespace sluice::kinesis {

HashKey partition_key_hash(std::string_view partition_key) {
  const Md5Digest d = md5(partition_key);
  HashKey k = 0;
  for (std::uint8_t b : d) k = (k << 8) | b;
  return k;
}

Result<HashKey> record_hash_key(std::string_view partition_key,
                                std::string_view explicit_hash_key) {
  if (!explicit_hash_key.empty()) return parse_hash_key(explicit_hash_key);
  return partition_key_hash(partition_key);
}

Result<HashKey> parse_hash_key(std::string_view text) {
  auto bad = [&](const char* why) {
    return Status::invalid_argument("hash key \"" + std::string(text.substr(0, 60)) + "\" " + why);
  };
  if (text.empty()) return bad("is empty");
  if (text.size() > 39) return bad("is longer than 2^128 - 1");
  HashKey v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return bad("is not a decimal number");
    const HashKey digit = static_cast<HashKey>(c - '0');
    if (v > (kMaxHashKey - digit) / 10) return bad("is larger than 2^128 - 1");
    v = v * 10 + digit;
  }
  return v;
}

std::string format_hash_key(HashKey key) {
  if (key == 0) return "0";
  std::string out;
  while (key) {
    out.push_back(static_cast<char>('0' + static_cast<int>(key % 10)));
    key /= 10;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

Result<HashKeyInterval> parse_hash_key_interval(std::string_view start, std::string_view end) {
  SLUICE_ASSIGN_OR_RETURN(HashKey s, parse_hash_key(start));
  SLUICE_ASSIGN_OR_RETURN(HashKey e, parse_hash_key(end));
  if (s > e) return Status::invalid_argument("hash key range starts after it ends");
  return HashKeyInterval{s, e};
}

}  // namespace sluice::kinesis
