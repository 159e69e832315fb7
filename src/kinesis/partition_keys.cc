#include "sluice/kinesis/partition_keys.h"

#include <atomic>
#include <memory>

#include "kinesis/producer_random.h"

namespace sluice::kinesis {

Status validate_partition_key(std::string_view key) {
  if (key.empty()) return Status::invalid_argument("partition key is empty (1..256 characters)");
  std::size_t chars = 0;
  for (std::size_t i = 0; i < key.size();) {
    const auto b = static_cast<unsigned char>(key[i]);
    std::size_t len;
    std::uint32_t cp;
    if (b < 0x80) {
      len = 1;
      cp = b;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4;
      cp = b & 0x07;
    } else {
      return Status::invalid_argument("partition key is not valid UTF-8 (bad byte at offset " +
                                      std::to_string(i) + ")");
    }
    if (i + len > key.size()) {
      return Status::invalid_argument("partition key is not valid UTF-8 (truncated at offset " +
                                      std::to_string(i) + ")");
    }
    for (std::size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(key[i + k]);
      if ((c & 0xC0) != 0x80) {
        return Status::invalid_argument("partition key is not valid UTF-8 (bad byte at offset " +
                                        std::to_string(i + k) + ")");
      }
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr std::uint32_t kMinForLen[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLen[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return Status::invalid_argument("partition key is not valid UTF-8 (bad sequence at offset " +
                                      std::to_string(i) + ")");
    }
    i += len;
    ++chars;
  }
  if (chars > 256) {
    return Status::invalid_argument("partition key has " + std::to_string(chars) +
                                    " characters (at most 256)");
  }
  return Status();
}

PartitionKeyFn random_partition_keys() {
  return [](std::string_view) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::uint64_t v = internal::random_u64();
    std::string key(16, '0');
    for (int i = 15; i >= 0; --i, v >>= 4) key[static_cast<std::size_t>(i)] = kHex[v & 0xF];
    return key;
  };
}

Result<PartitionKeyFn> fixed_partition_key(std::string key) {
  SLUICE_RETURN_IF_ERROR(validate_partition_key(key));
  return PartitionKeyFn([key = std::move(key)](std::string_view) { return key; });
}

Result<PartitionKeyFn> spread_partition_keys(std::string prefix, int distribution_factor) {
  if (distribution_factor < 1) {
    return Status::invalid_argument("distribution factor must be at least 1, got " +
                                    std::to_string(distribution_factor));
  }
  Status longest = validate_partition_key(prefix + "-" + std::to_string(distribution_factor - 1));
  if (!longest.ok()) return longest.with_context("partition key prefix \"" + prefix + "\"");
  auto counter = std::make_shared<std::atomic<std::uint64_t>>(0);
  const auto n = static_cast<std::uint64_t>(distribution_factor);
  return PartitionKeyFn([prefix = std::move(prefix), counter, n](std::string_view) {
    const std::uint64_t i = counter->fetch_add(1, std::memory_order_relaxed) % n;
    std::string key;
    key.reserve(prefix.size() + 21);
    key += prefix;
    key += '-';
    key += std::to_string(i);
    return key;
  });
}

Result<PartitionKeyFn> seed_partition_keys(std::string_view log_group_id,
                                           std::string_view schema_name, int distribution_factor) {
  std::string prefix;
  prefix.append(log_group_id).append("-").append(schema_name);
  return spread_partition_keys(std::move(prefix), distribution_factor);
}

}  // namespace sluice::kinesis
