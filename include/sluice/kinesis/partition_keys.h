// Partition key strategies: how a producer picks the partition key of a
// record that has none. The key decides the shard (MD5 of the key, unless
// an explicit hash key is given) and the unit of ordering.
//
//   ProducerOptions o;
//   o.partition_keys = random_partition_keys();                     // spread evenly, no order
//   o.partition_keys = *fixed_partition_key("orders");              // one shard, total order
//   o.partition_keys = *seed_partition_keys("lg-1", "events", 10);  // "lg-1-events-0" .. "-9"
//   o.partition_keys = [](std::string_view data) { return tenant_of(data); };  // your own
//
// Every strategy here is thread-safe; a function of your own must be too
// when put() is called from several threads.
#ifndef SLUICE_KINESIS_PARTITION_KEYS_H_
#define SLUICE_KINESIS_PARTITION_KEYS_H_

#include <functional>
#include <string>
#include <string_view>

#include "sluice/core/result.h"
#include "sluice/core/status.h"

namespace sluice::kinesis {

// Returns the partition key for a record with these data bytes.
using PartitionKeyFn = std::function<std::string(std::string_view data)>;

// Kinesis' rule: 1..256 Unicode characters of valid UTF-8. InvalidArgument
// saying which part fails.
Status validate_partition_key(std::string_view key);

// A fresh random key per record (16 hex digits): even spread over shards,
// no ordering between records.
PartitionKeyFn random_partition_keys();

// The same key for every record. InvalidArgument for an invalid key.
Result<PartitionKeyFn> fixed_partition_key(std::string key);

// "<prefix>-<n>" with n cycling through 0 .. distribution_factor-1, so
// consecutive records spread over `distribution_factor` keys (and so over up
// to that many shards). InvalidArgument unless distribution_factor >= 1 and
// the longest key is valid.
Result<PartitionKeyFn> spread_partition_keys(std::string prefix, int distribution_factor);

// Seed 003's keys: "{logGroupId}-{schemaName}-{n}", n in 0 ..
// distribution_factor-1 (spread_partition_keys with prefix
// "{logGroupId}-{schemaName}").
Result<PartitionKeyFn> seed_partition_keys(std::string_view log_group_id,
                                           std::string_view schema_name, int distribution_factor);

}  // namespace sluice::kinesis

#endif  // SLUICE_KINESIS_PARTITION_KEYS_H_
