#include "sluice/redis/lease_manager.h"

#include <unistd.h>

#include <algorithm>
#include <functional>
#include <random>

#include "sluice/redis/client.h"
#include "sluice/redis/script.h"

namespace sluice::redis {
namespace {

// KEYS[1] lease; ARGV[1] owner, ARGV[2] ttl ms. 1 = taken (or already ours, extended).
const Script kAcquire(R"lua(
local v = redis.call('GET', KEYS[1])
if v == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
elseif v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
)lua");

// Seed 000's renew script: compare the owner, then extend.
const Script kRenew(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
)lua");

// Seed 000's release script: compare the owner, then delete.
const Script kRelease(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
)lua");

// KEYS[1] workers sorted set; ARGV[1] owner, ARGV[2] ttl ms. Registers the
// owner until now + ttl (server time, so hosts' clocks do not matter),
// prunes expired workers, returns how many are live.
const Script kHeartbeat(R"lua(
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return redis.call('ZCARD', KEYS[1])
)lua");

std::string generate_owner_id() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
    std::snprintf(host, sizeof host, "host");
  std::random_device rd;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(rd()));
  return std::string(host) + "-" + std::to_string(::getpid()) + "-" + suffix;
}

}  // namespace

Status RedisLeaseManagerOptions::validate() const {
  if (prefix.empty())
    return Status::invalid_argument("RedisLeaseManagerOptions.prefix must not be empty");
  if (ttl.count() <= 0) return Status::invalid_argument("RedisLeaseManagerOptions.ttl must be > 0");
  if (renew_interval.count() < 0) {
    return Status::invalid_argument(
        "RedisLeaseManagerOptions.renew_interval must be >= 0 (0 = ttl/2)");
  }
  if (effective_renew_interval() >= ttl || effective_renew_interval().count() <= 0) {
    return Status::invalid_argument("RedisLeaseManagerOptions.renew_interval (" +
                                    std::to_string(effective_renew_interval().count()) +
                                    " ms) must be > 0 and < ttl (" + std::to_string(ttl.count()) +
                                    " ms)");
  }
  if (acquire_retry_interval.count() <= 0) {
    return Status::invalid_argument("RedisLeaseManagerOptions.acquire_retry_interval must be > 0");
  }
  if (owner_id.find_first_of(" \r\n") != std::string::npos) {
    return Status::invalid_argument(
        "RedisLeaseManagerOptions.owner_id must not contain spaces or newlines");
  }
  return Status();
}

std::chrono::milliseconds RedisLeaseManagerOptions::effective_renew_interval() const {
  return renew_interval.count() > 0 ? renew_interval : ttl / 2;
}

Result<std::unique_ptr<RedisLeaseManager>> RedisLeaseManager::create(
    std::shared_ptr<RedisClient> redis, RedisLeaseManagerOptions options) {
  if (!redis) return Status::invalid_argument("RedisLeaseManager: no RedisClient given");
  SLUICE_RETURN_IF_ERROR(options.validate());
  return std::unique_ptr<RedisLeaseManager>(
      new RedisLeaseManager(std::move(redis), std::move(options)));
}

RedisLeaseManager::RedisLeaseManager(std::shared_ptr<RedisClient> redis,
                                     RedisLeaseManagerOptions options)
    : redis_(std::move(redis)),
      options_(std::move(options)),
      owner_id_(options_.owner_id.empty() ? generate_owner_id() : options_.owner_id),
      log_(options_.logger ? options_.logger : make_noop_logger()),
      clock_(options_.clock ? options_.clock : &Clock::real()) {}

RedisLeaseManager::~RedisLeaseManager() {
  Status s = stop();
  if (!s.ok()) log_->warn("lease manager: stop failed", {{"error", s}});
}

std::string RedisLeaseManager::lease_key(std::string_view shard_id) const {
  std::string k = options_.prefix;
  k += ':';
  k += stream_;
  k += ':';
  k += shard_id;
  return k;
}

std::string RedisLeaseManager::workers_key() const {
  return options_.prefix + ":" + stream_ + ":workers";
}

Status RedisLeaseManager::start(std::string_view stream,
                                std::function<void(const std::string&)> on_lost) {
  if (stream.empty())
    return Status::invalid_argument("RedisLeaseManager::start: stream must not be empty");
  {
    std::lock_guard lock(mu_);
    if (started_)
      return Status::failed_precondition("RedisLeaseManager already started for stream " + stream_);
    stream_ = std::string(stream);
    on_lost_ = std::move(on_lost);
    started_ = true;
  }
  auto& m = registry_or_global(options_.metrics);
  held_gauge_ = &m.gauge("sluice_redis_leases_held", "Shard leases this worker holds in Redis",
                         {"stream", "owner"})
                     .with({stream_, owner_id_});
  acquired_ = &m.counter("sluice_redis_leases_acquired_total", "Shard leases taken", {"stream"})
                   .with({stream_});
  lost_ = &m.counter("sluice_redis_leases_lost_total", "Shard leases found taken or expired",
                     {"stream"})
               .with({stream_});
  renewals_ = &m.counter("sluice_redis_lease_renewals_total", "Shard lease renewals that succeeded",
                         {"stream"})
                   .with({stream_});
  renew_failures_ = &m.counter("sluice_redis_lease_renew_failures_total",
                               "Lease renewal passes that could not reach Redis", {"stream"})
                         .with({stream_});
  auto workers = heartbeat();
  if (!workers.ok()) {
    std::lock_guard lock(mu_);
    started_ = false;
    return workers.status().with_context("RedisLeaseManager::start");
  }
  renewer_ = std::jthread([this](std::stop_token st) { renew_loop(std::move(st)); });
  log_->info("lease manager started", {{"stream", stream_},
                                       {"owner", owner_id_},
                                       {"ttl", options_.ttl},
                                       {"live_workers", *workers}});
  return Status();
}

Result<int> RedisLeaseManager::heartbeat() {
  auto r =
      redis_->eval(kHeartbeat, {workers_key()}, {owner_id_, std::to_string(options_.ttl.count())});
  if (!r.ok()) return r.status();
  return static_cast<int>(r->integer());
}

Result<int> RedisLeaseManager::live_workers() {
  {
    std::lock_guard lock(mu_);
    if (!started_) return Status::failed_precondition("RedisLeaseManager: call start() first");
  }
  return heartbeat();
}

void RedisLeaseManager::renew_loop(std::stop_token stop) {
  const auto interval = options_.effective_renew_interval();
  while (!stop.stop_requested()) {
    if (!clock_->sleep_until(clock_->now() + interval, stop)) break;
    renew_now();
  }
}

std::vector<std::string> RedisLeaseManager::renew_held() {
  std::lock_guard pass(renew_mu_);
  std::vector<std::string> shards;
  {
    std::lock_guard lock(mu_);
    for (const auto& [shard, _] : held_) shards.push_back(shard);
  }
  const auto sent_at = clock_->now();
  const std::string ttl = std::to_string(options_.ttl.count());
  std::vector<Command> cmds;
  cmds.reserve(shards.size() + 1);
  for (const auto& shard : shards)
    cmds.push_back(kRenew.evalsha_command({lease_key(shard)}, {owner_id_, ttl}));
  cmds.push_back(kHeartbeat.evalsha_command({workers_key()}, {owner_id_, ttl}));
  auto replies = redis_->pipeline(cmds);
  if (replies.ok()) {
    // After a Redis restart or SCRIPT FLUSH the scripts are gone: load them
    // and run the pass once more.
    const bool noscript = std::any_of(replies->begin(), replies->end(),
                                      [](const Reply& r) { return r.error_code() == "NOSCRIPT"; });
    if (noscript) {
      auto loaded = redis_->pipeline({kRenew.load_command(), kHeartbeat.load_command()});
      if (loaded.ok()) replies = redis_->pipeline(cmds);
    }
  }
  std::vector<std::string> lost;
  std::lock_guard lock(mu_);
  if (!replies.ok() || replies->size() != cmds.size()) {
    if (renew_failures_) renew_failures_->inc();
    log_->warn("lease renewal failed", {{"stream", stream_}, {"error", replies.status()}});
    // Without an answer, a lease is only known to be ours until its last
    // confirmation plus the TTL.
    const auto now = clock_->now();
    for (const auto& shard : shards) {
      auto it = held_.find(shard);
      if (it != held_.end() && it->second + options_.ttl <= now) {
        held_.erase(it);
        lost.push_back(shard);
      }
    }
  } else {
    for (std::size_t i = 0; i < shards.size(); ++i) {
      auto it = held_.find(shards[i]);
      if (it == held_.end()) continue;  // released meanwhile
      const Reply& r = (*replies)[i];
      if (r.is_integer() && r.integer() == 1) {
        it->second = sent_at;
        if (renewals_) renewals_->inc();
      } else if (r.is_integer()) {
        held_.erase(it);
        lost.push_back(shards[i]);
      } else {
        log_->warn("lease renewal error", {{"shard", shards[i]}, {"reply", r.debug_string()}});
      }
    }
  }
  for (const auto& shard : lost) {
    lost_since_balance_.insert(shard);
    if (lost_) lost_->inc();
    log_->warn("lease lost", {{"stream", stream_}, {"shard", shard}, {"owner", owner_id_}});
  }
  if (held_gauge_) held_gauge_->set(static_cast<double>(held_.size()));
  return lost;
}

void RedisLeaseManager::renew_now() {
  std::vector<std::string> lost = renew_held();
  std::function<void(const std::string&)> cb;
  {
    std::lock_guard lock(mu_);
    cb = on_lost_;
  }
  if (!cb) return;
  for (const auto& shard : lost) {
    try {
      cb(shard);
    } catch (const std::exception& e) {
      log_->error("lease manager: on_lost threw", {{"shard", shard}, {"error", e.what()}});
    } catch (...) {
      log_->error("lease manager: on_lost threw", {{"shard", shard}});
    }
  }
}

Result<LeaseBalance> RedisLeaseManager::balance(const std::vector<std::string>& workable_shards) {
  {
    std::lock_guard lock(mu_);
    if (!started_)
      return Status::failed_precondition("RedisLeaseManager: call start() before balance()");
  }
  for (const auto& s : workable_shards) {
    if (s.empty() || s == "workers") {
      return Status::invalid_argument("RedisLeaseManager::balance: invalid shard id '" + s + "'");
    }
  }
  LeaseBalance out;
  // Confirm what we hold (the renewer may be between passes).
  std::vector<std::string> lost = renew_held();
  auto live = heartbeat();
  if (!live.ok()) return live.status().with_context("lease balance");
  const int workers = std::max(1, *live);

  std::set<std::string> workable(workable_shards.begin(), workable_shards.end());
  std::set<std::string> held;
  {
    std::lock_guard lock(mu_);
    for (const auto& [shard, _] : held_) held.insert(shard);
    for (const auto& shard : lost_since_balance_) out.lost.push_back(shard);
    lost_since_balance_.clear();
  }
  std::size_t held_workable = 0;
  for (const auto& s : held) held_workable += workable.count(s);
  const std::size_t target = (workable.size() + workers - 1) / workers;

  if (held_workable < target) {
    // Free candidates, starting at a point that depends on the owner id so
    // that workers joining together do not all race for the same shards.
    std::vector<std::string> candidates;
    for (const auto& s : workable) {
      if (!held.count(s)) candidates.push_back(s);
    }
    if (!candidates.empty()) {
      const std::size_t start = std::hash<std::string>{}(owner_id_) % candidates.size();
      std::rotate(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(start),
                  candidates.end());
    }
    const std::string ttl = std::to_string(options_.ttl.count());
    std::size_t next = 0;
    while (held_workable < target && next < candidates.size()) {
      const std::size_t want = std::min(target - held_workable, candidates.size() - next);
      std::vector<std::string> batch(candidates.begin() + static_cast<std::ptrdiff_t>(next),
                                     candidates.begin() + static_cast<std::ptrdiff_t>(next + want));
      next += want;
      const auto sent_at = clock_->now();
      for (const auto& shard : batch) {
        auto r = redis_->eval(kAcquire, {lease_key(shard)}, {owner_id_, ttl});
        if (!r.ok()) return r.status().with_context("lease acquire " + shard);
        if (r->integer() == 1) {
          std::lock_guard lock(mu_);
          held_[shard] = sent_at;
          held.insert(shard);
          out.acquired.push_back(shard);
          ++held_workable;
          if (acquired_) acquired_->inc();
        }
      }
    }
  } else if (held_workable > target) {
    // Shed the excess, highest shard ids first (they are the youngest).
    std::size_t excess = held_workable - target;
    for (auto it = held.rbegin(); it != held.rend() && excess > 0; ++it) {
      if (workable.count(*it)) {
        out.to_shed.push_back(*it);
        --excess;
      }
    }
  }
  {
    std::lock_guard lock(mu_);
    for (const auto& [shard, _] : held_) out.held.push_back(shard);
    if (held_gauge_) held_gauge_->set(static_cast<double>(held_.size()));
  }
  std::sort(out.acquired.begin(), out.acquired.end());
  std::sort(out.lost.begin(), out.lost.end());
  out.lost.erase(std::unique(out.lost.begin(), out.lost.end()), out.lost.end());
  std::sort(out.to_shed.begin(), out.to_shed.end());
  (void)lost;
  if (!out.acquired.empty() || !out.lost.empty() || !out.to_shed.empty()) {
    log_->info("lease balance", {{"stream", stream_},
                                 {"owner", owner_id_},
                                 {"live_workers", workers},
                                 {"target", static_cast<long long>(target)},
                                 {"held", static_cast<long long>(out.held.size())},
                                 {"acquired", static_cast<long long>(out.acquired.size())},
                                 {"lost", static_cast<long long>(out.lost.size())},
                                 {"to_shed", static_cast<long long>(out.to_shed.size())}});
  }
  return out;
}

bool RedisLeaseManager::holds(std::string_view shard_id) const {
  std::lock_guard lock(mu_);
  return held_.find(shard_id) != held_.end();
}

Status RedisLeaseManager::release(std::string_view shard_id) {
  std::string key;
  {
    std::lock_guard lock(mu_);
    if (!started_)
      return Status::failed_precondition("RedisLeaseManager: call start() before release()");
    auto it = held_.find(shard_id);
    if (it != held_.end()) held_.erase(it);
    key = lease_key(shard_id);
    if (held_gauge_) held_gauge_->set(static_cast<double>(held_.size()));
  }
  auto r = redis_->eval(kRelease, {key}, {owner_id_});
  if (!r.ok()) return r.status().with_context("lease release " + key);
  return Status();
}

Status RedisLeaseManager::stop() {
  {
    std::lock_guard lock(mu_);
    if (!started_) return Status();
  }
  if (renewer_.joinable() && renewer_.get_id() == std::this_thread::get_id()) {
    return Status::failed_precondition("RedisLeaseManager::stop() must not be called from on_lost");
  }
  if (renewer_.joinable()) {
    renewer_.request_stop();
    renewer_.join();
  }
  std::vector<std::string> shards;
  {
    std::lock_guard lock(mu_);
    for (const auto& [shard, _] : held_) shards.push_back(shard);
  }
  Status first;
  std::vector<Command> cmds;
  for (const auto& shard : shards)
    cmds.push_back(kRelease.evalsha_command({lease_key(shard)}, {owner_id_}));
  cmds.push_back({"ZREM", workers_key(), owner_id_});
  auto replies = redis_->pipeline(cmds);
  if (replies.ok() && std::any_of(replies->begin(), replies->end(),
                                  [](const Reply& r) { return r.error_code() == "NOSCRIPT"; })) {
    auto loaded = redis_->command(kRelease.load_command());
    if (loaded.ok()) replies = redis_->pipeline(cmds);
  }
  if (!replies.ok()) {
    first = replies.status().with_context("lease manager stop: releasing " +
                                          std::to_string(shards.size()) +
                                          " leases (they expire after the TTL)");
  }
  {
    std::lock_guard lock(mu_);
    held_.clear();
    started_ = false;
    if (held_gauge_) held_gauge_->set(0);
  }
  log_->info("lease manager stopped", {{"stream", stream_},
                                       {"owner", owner_id_},
                                       {"released", static_cast<long long>(shards.size())}});
  return first;
}

}  // namespace sluice::redis
