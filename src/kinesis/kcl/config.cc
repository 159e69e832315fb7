#include "sluice/kinesis/kcl/config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <mutex>
#include <random>

namespace sluice::kinesis::kcl {

namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

template <class T>
bool parse_int(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

Result<StartStrategy> StartStrategy::parse(std::string_view text) {
  const std::string u = upper(text);
  if (u == "LATEST") return latest();
  if (u == "OLDEST" || u == "TRIM_HORIZON") return oldest();
  if (u.starts_with("TIMESTAMP:")) {
    std::int64_t ms = 0;
    if (parse_int(std::string_view(u).substr(10), ms) && ms >= 0) return timestamp(ms);
  }
  return Status::invalid_argument("start strategy \"" + std::string(text) +
                                  "\" is not LATEST, OLDEST or TIMESTAMP:<unix milliseconds>");
}

std::string StartStrategy::to_string() const {
  switch (kind) {
    case Kind::kLatest:
      return "LATEST";
    case Kind::kOldest:
      return "OLDEST";
    case Kind::kTimestamp:
      return "TIMESTAMP:" + std::to_string(timestamp_ms);
  }
  return "LATEST";
}

std::chrono::milliseconds ManagementConfig::effective_renew_interval() const {
  return renew_interval.count() > 0 ? renew_interval : failover_time / 3;
}

Status ManagementConfig::validate() const {
  if (leases_to_acquire < 0) {
    return Status::invalid_argument(
        "ManagementConfig.leases_to_acquire must be >= 0 (0 = no "
        "limit), got " +
        std::to_string(leases_to_acquire));
  }
  if (max_leases < 0) {
    return Status::invalid_argument(
        "ManagementConfig.max_leases must be >= 0 (0 = no limit), got " +
        std::to_string(max_leases));
  }
  if (start_strategy.kind == StartStrategy::Kind::kTimestamp && start_strategy.timestamp_ms <= 0) {
    return Status::invalid_argument(
        "ManagementConfig.start_strategy Timestamp needs a positive Unix time in milliseconds");
  }
  if (failover_time.count() <= 0) {
    return Status::invalid_argument("ManagementConfig.failover_time must be positive");
  }
  if (renew_interval.count() < 0) {
    return Status::invalid_argument(
        "ManagementConfig.renew_interval must be >= 0 (0 = failover_time / 3)");
  }
  if (effective_renew_interval().count() <= 0 || effective_renew_interval() * 2 >= failover_time) {
    return Status::invalid_argument("ManagementConfig.renew_interval (" +
                                    std::to_string(effective_renew_interval().count()) +
                                    " ms) must be > 0 and below failover_time / 2 (" +
                                    std::to_string(failover_time.count()) + " ms)");
  }
  if (take_interval.count() <= 0) {
    return Status::invalid_argument("ManagementConfig.take_interval must be positive");
  }
  if (shard_sync_interval.count() <= 0) {
    return Status::invalid_argument("ManagementConfig.shard_sync_interval must be positive");
  }
  if (handoff_timeout.count() <= 0) {
    return Status::invalid_argument("ManagementConfig.handoff_timeout must be positive");
  }
  return Status();
}

Status PollingConfig::validate() const {
  if (limit < 1 || limit > 10000) {
    return Status::invalid_argument("PollingConfig.limit must be 1..10000, got " +
                                    std::to_string(limit));
  }
  if (idle_time_between_reads.count() < 0) {
    return Status::invalid_argument("PollingConfig.idle_time_between_reads must not be negative");
  }
  return Status();
}

Status apply_environment(ManagementConfig& management, PollingConfig& polling,
                         const std::function<std::optional<std::string>(const char*)>& getenv_fn) {
  auto read = [&](const char* name) -> std::optional<std::string> {
    std::optional<std::string> v;
    if (getenv_fn) {
      v = getenv_fn(name);
    } else if (const char* e = std::getenv(name)) {
      v = std::string(e);
    }
    if (v && v->empty()) v.reset();
    return v;
  };
  ManagementConfig m = management;
  PollingConfig p = polling;
  auto count = [&](const char* name, int lo, int hi, int& out) -> Status {
    auto v = read(name);
    if (!v) return Status();
    int n = 0;
    if (!parse_int(*v, n) || n < lo || n > hi) {
      return Status::invalid_argument(std::string(name) + "=\"" + *v + "\" is not an integer in " +
                                      std::to_string(lo) + ".." + std::to_string(hi));
    }
    out = n;
    return Status();
  };
  SLUICE_RETURN_IF_ERROR(count("KINESIS_LEASES_TO_ACQUIRE", 0, 1 << 20, m.leases_to_acquire));
  SLUICE_RETURN_IF_ERROR(count("KINESIS_MAX_LEASES", 0, 1 << 20, m.max_leases));
  SLUICE_RETURN_IF_ERROR(count("KINESIS_BATCH_LIMIT", 1, 10000, p.limit));
  if (auto v = read("KINESIS_START_STRATEGY")) {
    auto s = StartStrategy::parse(*v);
    if (!s.ok())
      return Status::invalid_argument("KINESIS_START_STRATEGY: " +
                                      std::string(s.status().message()));
    m.start_strategy = *s;
  }
  management = m;
  polling = p;
  return Status();
}

std::string generate_worker_id() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
    std::snprintf(host, sizeof host, "host");
  }
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}() ^
                             (static_cast<std::uint64_t>(::getpid()) << 32)};
  std::uint64_t r;
  {
    std::lock_guard lock(mu);
    r = rng();
  }
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(r & 0xffffffffu));
  return std::string(host) + "-" + suffix;
}

}  // namespace sluice::kinesis::kcl
