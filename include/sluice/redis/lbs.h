// The load-balancer stream (LBS) wire format, shared with the Go client
// (handcoding-labs/redis-stream-client-go) so that Go and C++ consumers can
// serve one service together:
//
//   LBS stream      <service>-input                 (XADD by producers)
//   consumer group  <service>-group                 (XREADGROUP by consumers)
//   entry field     lbs-input = {"DataStreamName":"<name>","Info":{...}}
//   lock key        <name><MUTEX_KEY_SEP><entry id in the LBS>
//                   value: the owner's consumer id; TTL: one heartbeat interval
//   expiry events   PSUBSCRIBE __keyspace@<db>__:*<MUTEX_KEY_SEP>*  payload "expired"
//
// `<MUTEX_KEY_SEP>` is literally that 15-character string (the Go client's
// configs.MutexKeySep), chosen because it does not occur in stream names.
#ifndef SLUICE_REDIS_LBS_H_
#define SLUICE_REDIS_LBS_H_

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/result.h"
#include "sluice/core/status.h"

namespace sluice::redis {

class RedisClient;

inline constexpr std::string_view kMutexKeySep = "<MUTEX_KEY_SEP>";
inline constexpr std::string_view kLbsInputField = "lbs-input";
inline constexpr std::string_view kConsumerIdPrefix = "redis-consumer-";

// "<service>-input"
std::string lbs_stream_name(std::string_view service);
// "<service>-group"
std::string lbs_group_name(std::string_view service);
// "__keyspace@<db>__:*<MUTEX_KEY_SEP>*"
std::string lock_keyspace_pattern(int db);

// Which LBS entry assigns which data stream.
struct LbsInfo {
  std::string data_stream_name;
  std::string id_in_lbs;  // the entry's id in <service>-input, e.g. "1700000000000-0"

  // "<data_stream_name><MUTEX_KEY_SEP><id_in_lbs>"
  std::string mutex_key() const;
  friend bool operator==(const LbsInfo&, const LbsInfo&) = default;
};

// Splits a lock key (or a keyspace channel "__keyspace@0__:<lock key>") back
// into its parts; InvalidArgument when it is not one.
Result<LbsInfo> parse_mutex_key(std::string_view key_or_channel);

// The message of one LBS entry: {"DataStreamName": ..., "Info": {...}}.
struct LbsMessage {
  std::string data_stream_name;
  // The Info object as compact JSON text; "{}" when absent or null.
  std::string info_json = "{}";
  // Info's members: strings as their text, other values as JSON text.
  std::map<std::string, std::string> info;
};

// Parses the lbs-input value. Corruption naming the problem when it is not
// JSON, not an object, lacks a non-empty string DataStreamName, or has an
// Info that is neither an object nor null.
Result<LbsMessage> parse_lbs_message(std::string_view json);
// The lbs-input value for `data_stream_name` and `info_json` (a JSON object,
// or empty for none); InvalidArgument if info_json is not a JSON object.
Result<std::string> encode_lbs_message(std::string_view data_stream_name,
                                       std::string_view info_json = {});

// Adds a data stream to a service's LBS, as the seed's producer snippet does
// (XADD <service>-input * lbs-input <json>), creating the consumer group
// first if it does not exist yet so that the entry is not skipped by a group
// created later at "$". Returns the new entry's id.
Result<std::string> lbs_add(RedisClient& redis, std::string_view service,
                            std::string_view data_stream_name, std::string_view info_json = {});

// A snapshot of a service's LBS, for `sluice redis lbs status`.
struct LbsStatus {
  struct Entry {
    std::string id;
    std::string data_stream_name;  // empty if the message is malformed
    std::string info_json;
    std::string problem;  // why the message is malformed, empty if fine
    // From the group's pending list (empty owner = not delivered yet or acknowledged).
    std::string owner;
    std::chrono::milliseconds idle{0};
    long long deliveries = 0;
    // The lock key's holder and remaining TTL (empty holder = no lock).
    std::string lock_holder;
    std::chrono::milliseconds lock_ttl{0};
  };
  struct Consumer {
    std::string name;
    long long pending = 0;
    std::chrono::milliseconds idle{0};
  };
  std::string stream;
  std::string group;
  bool group_exists = false;
  long long length = 0;   // entries in the stream
  long long pending = 0;  // entries delivered and not acknowledged
  std::string last_delivered_id;
  std::vector<Entry> entries;  // the first `limit` entries
  std::vector<Consumer> consumers;
};
Result<LbsStatus> lbs_status(RedisClient& redis, std::string_view service, int limit = 1000);

}  // namespace sluice::redis

#endif  // SLUICE_REDIS_LBS_H_
