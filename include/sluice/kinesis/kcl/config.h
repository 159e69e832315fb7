// Configuration of the KCL-style worker, in seed 001's shape:
// ManagementConfig (leases and coordination), PollingConfig (reading), the
// start strategy, and the KINESIS_* environment variables.
//
//   sluice::kinesis::kcl::ManagementConfig management{
//       .leases_to_acquire = 2,
//       .max_leases = 20,
//       .start_strategy = sluice::kinesis::kcl::StartStrategy::latest(),
//   };
//   sluice::kinesis::kcl::PollingConfig polling{.limit = 1000};
//   // KINESIS_LEASES_TO_ACQUIRE, KINESIS_MAX_LEASES, KINESIS_START_STRATEGY,
//   // KINESIS_BATCH_LIMIT override what is set in code:
//   sluice::Status s = sluice::kinesis::kcl::apply_environment(management, polling);
#ifndef SLUICE_KINESIS_KCL_CONFIG_H_
#define SLUICE_KINESIS_KCL_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/core/result.h"
#include "sluice/core/status.h"

namespace sluice::kinesis::kcl {

// Where a shard that has no checkpoint yet starts (written into its new
// lease as TRIM_HORIZON, LATEST or AT_TIMESTAMP, as the Java KCL does).
struct StartStrategy {
  enum class Kind {
    kLatest,     // records written after the worker starts (the KCL's default)
    kOldest,     // the oldest record kept (TRIM_HORIZON)
    kTimestamp,  // the first record at or after `timestamp_ms`
  };
  Kind kind = Kind::kLatest;
  std::int64_t timestamp_ms = 0;  // Unix milliseconds, with kTimestamp

  static StartStrategy latest() { return {Kind::kLatest, 0}; }
  static StartStrategy oldest() { return {Kind::kOldest, 0}; }
  static StartStrategy timestamp(std::int64_t unix_ms) { return {Kind::kTimestamp, unix_ms}; }

  // "LATEST", "OLDEST" (or "TRIM_HORIZON"), "TIMESTAMP:<unix ms>"
  // (case-insensitive). InvalidArgument naming the text otherwise.
  static Result<StartStrategy> parse(std::string_view text);
  std::string to_string() const;

  friend bool operator==(const StartStrategy&, const StartStrategy&) = default;
};

// Lease management: how many leases a worker takes and holds, and the
// coordination timings. Every duration must be positive (0 for
// renew_interval means failover_time / 3).
struct ManagementConfig {
  // New leases (unowned, expired or handed over) a worker acquires per take
  // cycle. 0 = as many as its fair share needs at once.
  int leases_to_acquire = 0;
  // Leases a worker holds at most. 0 = no limit (the KCL's default).
  int max_leases = 0;
  StartStrategy start_strategy{};
  // A lease whose counter has not moved for this long (as this worker's own
  // clock sees it) is expired: its owner is presumed dead. KCL default 10 s.
  std::chrono::milliseconds failover_time{10000};
  // How often held leases are renewed. 0 = failover_time / 3 (the KCL's
  // rate). Must be below failover_time / 2.
  std::chrono::milliseconds renew_interval{0};
  // How often the table is scanned and leases taken, stolen and balanced
  // (the KCL's is ~20 s). Also bounds how long after expiry a dead worker's
  // shards are picked up.
  std::chrono::milliseconds take_interval{5000};
  // How often shards are listed and leases created for new shards (also at
  // every shard end). KCL default 60 s.
  std::chrono::milliseconds shard_sync_interval{60000};
  // A graceful handoff not completed by the old owner in this time is
  // forced (the new owner takes the lease). The KCL v3 caps it at 30 s.
  std::chrono::milliseconds handoff_timeout{30000};

  // InvalidArgument naming the field.
  Status validate() const;
  std::chrono::milliseconds effective_renew_interval() const;
};

// Reading records from a shard.
struct PollingConfig {
  // Records per GetRecords call, 1..10000 (the KCL's maxRecords).
  int limit = 10000;
  // Wait after a GetRecords that returned nothing (the KCL's
  // idleTimeBetweenReadsInMillis).
  std::chrono::milliseconds idle_time_between_reads{1500};

  Status validate() const;
};

// Overrides from the environment, as seed 001 does:
//   KINESIS_LEASES_TO_ACQUIRE  -> management.leases_to_acquire
//   KINESIS_MAX_LEASES         -> management.max_leases
//   KINESIS_START_STRATEGY     -> management.start_strategy (LATEST, OLDEST, TIMESTAMP:<ms>)
//   KINESIS_BATCH_LIMIT        -> polling.limit
// Unset or empty variables change nothing. InvalidArgument naming the
// variable when a value does not parse or is out of range (nothing is
// changed then). The AWS variables (AWS_REGION, AWS_PROFILE,
// AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL_DYNAMODB, credentials) are read
// by the AWS clients. `getenv` is replaceable for tests.
Status apply_environment(ManagementConfig& management, PollingConfig& polling,
                         const std::function<std::optional<std::string>(const char*)>& getenv = {});

// "<host name>-<8 random hex digits>": unique per process (and per worker
// when several run in one process), stable for the process's life.
std::string generate_worker_id();

}  // namespace sluice::kinesis::kcl

#endif  // SLUICE_KINESIS_KCL_CONFIG_H_
