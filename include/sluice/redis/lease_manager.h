// RedisLeaseManager: shard leases in Redis for the Kinesis consumer engine,
// in seed 000's layout (kinesis-consumer-go's lease.RedisManager), plus a
// worker registry for fair sharing.
//
//   lease key    <prefix>:<stream>:<shard id>   value: owner id, SET NX PX <ttl>
//   workers      <prefix>:<stream>:workers      sorted set: owner id -> expiry (ms,
//                                               Redis server time), pruned on every read
//
// Renewal and release compare the owner and then PEXPIRE/DEL in one Lua
// script, so a stale owner can never renew or delete another owner's lease.
// A background renewer (one thread per manager, timed by the injected Clock)
// renews every `renew_interval` and reports leases it finds gone through
// `on_lost`. balance() registers this worker, counts the live ones, and
// takes free or expired leases up to ceil(workable / live workers), naming
// the leases above that share in `to_shed`. A lease the renewer finds gone is
// reported through `on_lost` (on the renewer's thread; it may call release()
// and holds(), not stop()) and again in the next balance()'s `lost`.
//
//   auto redis = sluice::redis::RedisClient::connect(url);
//   auto leases = sluice::redis::RedisLeaseManager::create(*redis, {.ttl = 30s});
//   consumer_options.lease_manager = std::shared_ptr<sluice::LeaseManager>(std::move(*leases));
//
// Shard ids must not be "workers" (Kinesis shard ids never are). See
// sluice/core/lease_manager.h for the contract.
#ifndef SLUICE_REDIS_LEASE_MANAGER_H_
#define SLUICE_REDIS_LEASE_MANAGER_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sluice/core/clock.h"
#include "sluice/core/lease_manager.h"
#include "sluice/core/logger.h"
#include "sluice/core/metrics.h"
#include "sluice/core/result.h"
#include "sluice/core/status.h"

namespace sluice::redis {

class RedisClient;

struct RedisLeaseManagerOptions {
  // Key prefix; seed 000's default.
  std::string prefix = "kinesis:lease";
  // How long a lease (and a worker's registration) lasts without renewal.
  std::chrono::milliseconds ttl{30000};
  // How often held leases are renewed. Zero = ttl / 2. Must be < ttl.
  std::chrono::milliseconds renew_interval{0};
  // How often the engine should call balance() to pick up free or expired
  // leases (the manager itself does not use it; engines read it from here).
  std::chrono::milliseconds acquire_retry_interval{5000};
  // The id leases are held under. Empty = "<hostname>-<pid>-<8 random hex digits>".
  std::string owner_id{};
  // Null = no-op logger / MetricsRegistry::global() / Clock::real().
  std::shared_ptr<Logger> logger{};
  MetricsRegistry* metrics = nullptr;
  const Clock* clock = nullptr;

  Status validate() const;
  // renew_interval, or ttl / 2 when it is zero.
  std::chrono::milliseconds effective_renew_interval() const;
};

class RedisLeaseManager final : public LeaseManager {
 public:
  // Validates the options (InvalidArgument naming the field).
  static Result<std::unique_ptr<RedisLeaseManager>> create(std::shared_ptr<RedisClient> redis,
                                                           RedisLeaseManagerOptions options = {});
  // Releases everything still held (stop()).
  ~RedisLeaseManager() override;

  const std::string& owner_id() const override { return owner_id_; }
  Status start(std::string_view stream,
               std::function<void(const std::string& shard_id)> on_lost) override;
  Result<LeaseBalance> balance(const std::vector<std::string>& workable_shards) override;
  bool holds(std::string_view shard_id) const override;
  Status release(std::string_view shard_id) override;
  Status stop() override;

  // "<prefix>:<stream>:<shard>" of the bound stream.
  std::string lease_key(std::string_view shard_id) const;
  // "<prefix>:<stream>:workers"
  std::string workers_key() const;
  // Registers this worker now and returns how many are live (for tests and status pages).
  Result<int> live_workers();
  // Runs one renewal pass now, as the background renewer does.
  void renew_now();
  const RedisLeaseManagerOptions& options() const { return options_; }

 private:
  RedisLeaseManager(std::shared_ptr<RedisClient> redis, RedisLeaseManagerOptions options);
  void renew_loop(std::stop_token stop);
  // Renews every held lease; returns the ones found lost (already removed from held_).
  std::vector<std::string> renew_held();
  Result<int> heartbeat();

  std::shared_ptr<RedisClient> redis_;
  RedisLeaseManagerOptions options_;
  std::string owner_id_;
  std::shared_ptr<Logger> log_;
  const Clock* clock_;
  Gauge* held_gauge_ = nullptr;
  Counter* acquired_ = nullptr;
  Counter* lost_ = nullptr;
  Counter* renewals_ = nullptr;
  Counter* renew_failures_ = nullptr;

  mutable std::mutex mu_;
  std::string stream_;
  bool started_ = false;
  std::function<void(const std::string&)> on_lost_;
  // Held shard -> when a renewal (or the acquisition) last confirmed it.
  std::map<std::string, Clock::TimePoint, std::less<>> held_;
  // Lost by the renewer since the last balance(), reported there too.
  std::set<std::string> lost_since_balance_;
  std::mutex renew_mu_;  // one renewal pass at a time
  std::jthread renewer_;
};

}  // namespace sluice::redis

#endif  // SLUICE_REDIS_LEASE_MANAGER_H_
