#include "sluice/redis/stream_client.h"

#include <pthread.h>

#include <algorithm>
#include <asio/post.hpp>
#include <asio/strand.hpp>
#include <cstdlib>
#include <future>
#include <thread>

#include "redis/json_util.h"
#include "sluice/core/executor.h"
#include "sluice/redis/async_connection.h"
#include "sluice/redis/client.h"
#include "sluice/redis/script.h"
#include "sluice/redis/subscriber.h"

namespace sluice::redis {
namespace {

using Millis = std::chrono::milliseconds;

constexpr std::string_view kAlreadyClaimed = "already claimed";

// Takes the lock of a freshly assigned (or recovered) entry.
// KEYS[1] lock key; ARGV[1] consumer id, ARGV[2] ttl ms.
// {1}: ours now; {0, holder}: someone else holds it.
const Script kAcquire(R"lua(
local v = redis.call('GET', KEYS[1])
if v == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1}
elseif v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1}
end
return {0, v}
)lua");

// The heartbeat of many locks in one call (compare-and-extend).
// KEYS[1] LBS stream, KEYS[2..n] lock keys; ARGV[1] consumer id, ARGV[2] ttl
// ms, ARGV[3] group, ARGV[4..] the entry id of each lock key, in order.
// Per lock: 1 extended; 2 re-taken (the key was gone - Redis restarted or the
// TTL lapsed - and the LBS entry is still pending for this consumer, so
// nobody claimed it); 0 lost (another holder, or the entry is not ours).
const Script kExtend(R"lua(
local me, ttl, group = ARGV[1], ARGV[2], ARGV[3]
local out = {}
for i = 2, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v == me then
    redis.call('PEXPIRE', KEYS[i], ttl)
    out[i - 1] = 1
  elseif v == false then
    local id = ARGV[i + 2]
    local p = redis.pcall('XPENDING', KEYS[1], group, id, id, 1)
    if type(p) == 'table' and p.err == nil and p[1] ~= nil and p[1][2] == me then
      redis.call('SET', KEYS[i], me, 'PX', ttl)
      out[i - 1] = 2
    else
      out[i - 1] = 0
    end
  else
    out[i - 1] = 0
  end
end
return out
)lua");

// claim(): XCLAIM with min idle, then lock - atomically, so two claimers can
// never end up one with the entry and the other with the lock.
// KEYS[1] lock key, KEYS[2] LBS stream; ARGV[1] group, ARGV[2] consumer,
// ARGV[3] min idle ms, ARGV[4] entry id, ARGV[5] ttl ms.
// {1, fields}: won; {0, holder}: locked by another; {-1}: not claimable (just
// claimed by someone, or not pending); {-2}: the entry was deleted.
const Script kClaim(R"lua(
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[2] then return {0, holder} end
local claimed = redis.call('XCLAIM', KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
if #claimed == 0 then return {-1} end
if not claimed[1] then
  redis.call('XACK', KEYS[2], ARGV[1], ARGV[4])
  return {-2}
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[5])
return {1, claimed[1][2]}
)lua");

// done_stream(): unlock (only if ours), acknowledge and delete the entry.
// KEYS[1] lock key, KEYS[2] LBS stream; ARGV[1] consumer, ARGV[2] group, ARGV[3] entry id.
const Script kDone(R"lua(
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then return {0, v} end
if v then redis.call('DEL', KEYS[1]) end
redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])
redis.call('XDEL', KEYS[2], ARGV[3])
return {1}
)lua");

// The value of `name` in a flat [field, value, ...] array.
const Reply* field_value(const Reply& fields, std::string_view name) {
  for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
    if (fields[i].str() == name) return &fields[i + 1];
  }
  return nullptr;
}

Notification make_notification(NotificationType type, LbsInfo info,
                               std::map<std::string, std::string> add, std::string add_json) {
  Notification n;
  n.type = type;
  n.info = std::move(info);
  n.additional_info = std::move(add);
  n.additional_info_json = add_json.empty() ? "{}" : std::move(add_json);
  return n;
}

}  // namespace

Status StreamClientOptions::validate() const {
  if (heartbeat_interval < Millis(100)) {
    return Status::invalid_argument(
        "StreamClientOptions.heartbeat_interval must be >= 100 ms, got " +
        std::to_string(heartbeat_interval.count()) + " ms");
  }
  if (lbs_idle_time < Millis(4000)) {
    return Status::invalid_argument("StreamClientOptions.lbs_idle_time must be >= 4 s, got " +
                                    std::to_string(lbs_idle_time.count()) + " ms");
  }
  if (lbs_idle_time <= 2 * heartbeat_interval) {
    return Status::invalid_argument("StreamClientOptions.lbs_idle_time (" +
                                    std::to_string(lbs_idle_time.count()) +
                                    " ms) must be > 2 x heartbeat_interval (" +
                                    std::to_string(heartbeat_interval.count()) + " ms)");
  }
  if (lbs_recovery_count <= 0)
    return Status::invalid_argument("StreamClientOptions.lbs_recovery_count must be > 0");
  Status retry_ok = retry.validate();
  if (!retry_ok.ok()) return retry_ok.with_context("StreamClientOptions.retry");
  if (lbs_block_time.count() <= 0)
    return Status::invalid_argument("StreamClientOptions.lbs_block_time must be > 0");
  if (orphan_scan_interval.count() < 0) {
    return Status::invalid_argument(
        "StreamClientOptions.orphan_scan_interval must be >= 0 (0 = lbs_idle_time)");
  }
  if (group_start_id.empty())
    return Status::invalid_argument("StreamClientOptions.group_start_id must not be empty");
  if (extend_batch_size <= 0)
    return Status::invalid_argument("StreamClientOptions.extend_batch_size must be > 0");
  if (consumer_id.find_first_of(" \r\n") != std::string::npos) {
    return Status::invalid_argument(
        "StreamClientOptions.consumer_id must not contain spaces or newlines");
  }
  return Status();
}

Result<std::string> resolve_consumer_id(const StreamClientOptions& options) {
  if (!options.consumer_id.empty()) return options.consumer_id;
  for (const char* var : {"POD_NAME", "POD_IP"}) {
    const char* v = std::getenv(var);
    if (v != nullptr && *v != '\0') return std::string(kConsumerIdPrefix) + v;
  }
  return Status::invalid_argument(
      "RedisStreamClient needs a unique consumer id: set POD_NAME (preferred) or POD_IP in the "
      "environment "
      "(the consumer id becomes redis-consumer-<value>, as with the Go client), or set "
      "StreamClientOptions.consumer_id");
}

bool is_already_claimed(const Status& status) {
  return status.code() == StatusCode::kConditionFailed &&
         status.message().substr(0, kAlreadyClaimed.size()) == kAlreadyClaimed;
}

// ---------------------------------------------------------------------------

struct RedisStreamClient::Impl : std::enable_shared_from_this<RedisStreamClient::Impl> {
  enum class State { kNew, kRunning, kStopping, kStopped };

  struct Owned {
    LbsInfo info;
    std::map<std::string, std::string> add;
    std::string add_json;
    Clock::TimePoint confirmed_at;  // when a lock write last succeeded (sent time)
    bool finishing = false;         // done_stream() in progress: not extended
  };

  struct Target {
    std::string name;
    std::string key;
    std::string id;
  };

  Impl(std::shared_ptr<RedisClient> r, std::string svc, StreamClientOptions o)
      : redis(std::move(r)), service(std::move(svc)), opts(std::move(o)) {
    clock = opts.clock ? opts.clock : &Clock::real();
    lbs = lbs_stream_name(service);
    group = lbs_group_name(service);
    config = opts.validate();
    if (config.ok() && service.empty())
      config = Status::invalid_argument("RedisStreamClient: service name is empty");
    if (config.ok() && !redis)
      config = Status::invalid_argument("RedisStreamClient: no RedisClient given");
    if (config.ok()) {
      auto resolved = resolve_consumer_id(opts);
      if (resolved.ok()) {
        id = *resolved;
      } else {
        config = resolved.status();
      }
    }
    log = with_fields(opts.logger ? opts.logger : make_noop_logger(),
                      {{"component", "redis.lbs"}, {"service", service}, {"consumer", id}});
    auto& m = registry_or_global(opts.metrics);
    owned_gauge = &m.gauge("sluice_redis_lbs_streams_owned", "Data streams this consumer owns",
                           {"service", "consumer"})
                       .with({service, id});
    auto& claims =
        m.counter("sluice_redis_lbs_claims_total",
                  "claim() outcomes: won, lost (already claimed), error", {"service", "result"});
    claims_won = &claims.with({service, "won"});
    claims_lost = &claims.with({service, "lost"});
    claims_error = &claims.with({service, "error"});
    extensions = &m.counter("sluice_redis_lbs_lock_extensions_total",
                            "Lock extensions that succeeded", {"service"})
                      .with({service});
    auto& failures = m.counter(
        "sluice_redis_lbs_lock_extension_failures_total",
        "Lock extensions that failed: lost (held by another) or error (Redis unreachable)",
        {"service", "reason"});
    extension_lost = &failures.with({service, "lost"});
    extension_error = &failures.with({service, "error"});
    recovery = &m.histogram("sluice_redis_lbs_recovery_seconds",
                            "Time init() spent recovering this consumer's pending LBS entries",
                            {"service"})
                    .with({service});
    assignment_delay =
        &m.histogram("sluice_redis_lbs_assignment_delay_seconds",
                     "From XADD to the LBS (entry id time) to StreamAdded", {"service"})
             .with({service});
    auto& notifs = m.counter("sluice_redis_lbs_notifications_total",
                             "Notifications delivered, by type", {"service", "type"});
    for (auto t : {NotificationType::kStreamAdded, NotificationType::kStreamExpired,
                   NotificationType::kStreamDisowned, NotificationType::kStreamTerminated}) {
      notifications[static_cast<int>(t)] =
          &notifs.with({service, std::string(notification_type_name(t))});
    }
    malformed = &m.counter("sluice_redis_lbs_malformed_total",
                           "Malformed or duplicate LBS entries, by reason", {"service", "reason"});
    read_errors =
        &m.counter("sluice_redis_lbs_read_errors_total", "Failed reads of the LBS", {"service"})
             .with({service});
  }

  // --- configuration --------------------------------------------------------
  std::shared_ptr<RedisClient> redis;
  std::string service;
  StreamClientOptions opts;
  Status config;
  std::string id;
  std::string lbs;
  std::string group;
  const Clock* clock = nullptr;
  std::shared_ptr<Logger> log;

  // --- metrics --------------------------------------------------------------
  Gauge* owned_gauge;
  Counter* claims_won;
  Counter* claims_lost;
  Counter* claims_error;
  Counter* extensions;
  Counter* extension_lost;
  Counter* extension_error;
  Histogram* recovery;
  Histogram* assignment_delay;
  Counter* notifications[4] = {};
  CounterFamily* malformed;
  Counter* read_errors;

  // --- runtime --------------------------------------------------------------
  std::shared_ptr<NotificationQueue> queue = std::make_shared<NotificationQueue>();
  std::optional<asio::strand<asio::any_io_executor>> strand;
  std::unique_ptr<TaskGroup> tasks;
  std::unique_ptr<Subscriber> subscriber;
  std::stop_source reader_stop;  // the LBS reader and the orphan sweep
  std::stop_source all_stop;     // everything else
  std::promise<void> reader_exited;
  bool reader_started = false;
  std::thread dispatcher;

  // Strand-confined.
  std::shared_ptr<AsyncConnection> reader_conn;
  std::shared_ptr<AsyncConnection> cmd_conn;

  mutable std::mutex mu;
  State state = State::kNew;
  std::map<std::string, Owned, std::less<>> owned;
  std::mutex done_mu;

  std::string ttl_ms() const { return std::to_string(opts.heartbeat_interval.count()); }
  Millis sweep_interval() const {
    return opts.orphan_scan_interval.count() > 0 ? opts.orphan_scan_interval : opts.lbs_idle_time;
  }

  // --- notifications ----------------------------------------------------------
  void emit(Notification n) {
    const auto type = n.type;
    if (queue->push(std::move(n))) notifications[static_cast<int>(type)]->inc();
  }
  void emit_last(std::string why) {
    Notification n;
    n.type = NotificationType::kStreamTerminated;
    n.additional_info["info"] = why;
    n.additional_info_json = "{\"info\":" + internal::json_string(why) + "}";
    if (queue->push_last(std::move(n))) {
      notifications[static_cast<int>(NotificationType::kStreamTerminated)]->inc();
    }
  }
  void set_owned_gauge_locked() { owned_gauge->set(static_cast<double>(owned.size())); }

  // --- ownership --------------------------------------------------------------
  // Records a stream as ours; false if we are shutting down (the caller then
  // gives the lock back) or already own it under another entry.
  bool adopt(const LbsInfo& info, const LbsMessage& msg, Clock::TimePoint locked_at) {
    std::lock_guard lock(mu);
    if (state != State::kRunning) return false;
    auto it = owned.find(info.data_stream_name);
    if (it != owned.end() && it->second.info.id_in_lbs != info.id_in_lbs) return false;
    owned[info.data_stream_name] = Owned{info, msg.info, msg.info_json, locked_at, false};
    set_owned_gauge_locked();
    return true;
  }

  void confirm(const Target& t, Clock::TimePoint at) {
    std::lock_guard lock(mu);
    auto it = owned.find(t.name);
    if (it != owned.end() && it->second.info.id_in_lbs == t.id) it->second.confirmed_at = at;
  }

  void disown(const Target& t, std::string_view why) {
    Owned o;
    {
      std::lock_guard lock(mu);
      auto it = owned.find(t.name);
      if (it == owned.end() || it->second.info.id_in_lbs != t.id || it->second.finishing) return;
      o = std::move(it->second);
      owned.erase(it);
      set_owned_gauge_locked();
    }
    log->warn("stream disowned", {{"stream", t.name}, {"entry", t.id}, {"reason", why}});
    emit(make_notification(NotificationType::kStreamDisowned, o.info, o.add, o.add_json));
  }

  std::vector<Target> extend_targets() {
    std::vector<Target> out;
    std::lock_guard lock(mu);
    out.reserve(owned.size());
    for (const auto& [name, o] : owned) {
      if (!o.finishing) out.push_back(Target{name, o.info.mutex_key(), o.info.id_in_lbs});
    }
    return out;
  }

  // --- malformed entries ------------------------------------------------------
  void report_malformed(const std::string& entry_id, std::string_view reason, const Status& why) {
    malformed->with({service, std::string(reason)}).inc();
    log->warn("malformed LBS entry",
              {{"entry", entry_id},
               {"reason", reason},
               {"error", why},
               {"action", opts.ack_malformed ? "acknowledged" : "left pending"}});
  }

  // --- asynchronous helpers (strand) -----------------------------------------
  asio::awaitable<Result<std::shared_ptr<AsyncConnection>>> command_connection(
      std::shared_ptr<Impl> self);
  asio::awaitable<void> read_loop(std::shared_ptr<Impl> self, std::stop_token stop);
  asio::awaitable<void> handle_entry(std::shared_ptr<Impl> self, Reply entry);
  asio::awaitable<void> heartbeat_loop(std::shared_ptr<Impl> self, std::stop_token stop);
  asio::awaitable<void> extend(std::shared_ptr<Impl> self, std::vector<Target> targets);
  asio::awaitable<void> sweep_loop(std::shared_ptr<Impl> self, std::stop_token stop);
  asio::awaitable<void> sweep_once(std::shared_ptr<Impl> self);
  asio::awaitable<void> on_expired(std::shared_ptr<Impl> self, LbsInfo info);

  void on_keyspace(const PubSubMessage& m) {
    if (m.payload != "expired") return;
    auto info = parse_mutex_key(m.channel);
    if (!info.ok()) {
      log->debug("ignoring keyspace event", {{"channel", m.channel}, {"error", info.status()}});
      return;
    }
    if (all_stop.stop_requested()) return;
    tasks->spawn(*strand, on_expired(shared_from_this(), std::move(*info)));
  }

  void terminate(const std::string& why);

  // --- synchronous parts (caller's thread) -------------------------------------
  Status check_keyspace_events();
  Status create_group();
  Status recover();
  Status finish_stream(const std::string& name);
  void stop_background();
};

// --- keyspace events and the group --------------------------------------------

Status RedisStreamClient::Impl::check_keyspace_events() {
  if (!opts.check_keyspace_events) return Status();
  auto r = redis->call({"CONFIG", "GET", "notify-keyspace-events"});
  if (!r.ok()) return r.status().with_context("reading notify-keyspace-events");
  if (r->is_error() || r->size() < 2) {
    log->warn(
        "cannot read notify-keyspace-events (is CONFIG disabled?); make sure it contains K and x",
        {{"reply", r->debug_string()}});
    return Status();
  }
  const std::string flags = (*r)[1].str();
  const bool has_k = flags.find('K') != std::string::npos;
  const bool has_x = flags.find('x') != std::string::npos || flags.find('A') != std::string::npos;
  if (has_k && has_x) return Status();
  std::string wanted = flags;
  if (!has_k) wanted += 'K';
  if (!has_x) wanted += 'x';
  const std::string where = redis->connection_options().describe();
  if (opts.configure_keyspace_events) {
    auto set = redis->command({"CONFIG", "SET", "notify-keyspace-events", wanted});
    if (!set.ok()) {
      return Status::failed_precondition("cannot enable keyspace notifications on " + where +
                                         " (CONFIG SET notify-keyspace-events " + wanted +
                                         "): " + std::string(set.status().message()));
    }
    log->info("enabled keyspace notifications", {{"notify-keyspace-events", wanted}});
    return Status();
  }
  return Status::failed_precondition(
      "Redis at " + where +
      " does not publish the keyspace events needed to notice expired locks: "
      "notify-keyspace-events is '" +
      flags +
      "' and must contain K and x. Run: redis-cli CONFIG SET "
      "notify-keyspace-events " +
      wanted + " (or set StreamClientOptions.configure_keyspace_events = true)");
}

Status RedisStreamClient::Impl::create_group() {
  auto r = redis->call({"XGROUP", "CREATE", lbs, group, opts.group_start_id, "MKSTREAM"});
  if (!r.ok()) return r.status().with_context("creating the LBS group");
  if (r->is_error() && r->error_code() != "BUSYGROUP")
    return reply_error_status(*r, "XGROUP CREATE " + lbs);
  if (!r->is_error()) log->info("created LBS consumer group", {{"stream", lbs}, {"group", group}});
  return Status();
}

// --- recovery (init) ----------------------------------------------------------------

Status RedisStreamClient::Impl::recover() {
  const auto started = std::chrono::steady_clock::now();
  auto pending = redis->command(
      {"XPENDING", lbs, group, "-", "+", std::to_string(opts.lbs_recovery_count), id});
  if (!pending.ok())
    return pending.status().with_context("listing this consumer's pending LBS entries");
  std::vector<std::string> ids;
  for (const Reply& p : pending->elements()) {
    if (p.size() >= 1) ids.push_back(p[0].str());
  }
  std::vector<Command> reads;
  for (const auto& e : ids) reads.push_back({"XRANGE", lbs, e, e});
  auto entries = redis->pipeline(reads);
  if (!entries.ok()) return entries.status().with_context("reading pending LBS entries");
  int recovered = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const Reply& range = (*entries)[i];
    if (!range.is_array() || range.size() == 0) {
      // Deleted but still pending (finished by a client that only XDELed): settle it.
      (void)redis->call({"XACK", lbs, group, ids[i]});
      continue;
    }
    const Reply& fields = range[0][1];
    const Reply* value = field_value(fields, kLbsInputField);
    Result<LbsMessage> msg =
        value ? parse_lbs_message(value->str())
              : Result<LbsMessage>(Status::corruption("entry has no lbs-input field"));
    if (!msg.ok()) {
      report_malformed(ids[i], value ? "invalid_message" : "missing_lbs_input", msg.status());
      if (opts.ack_malformed) (void)redis->call({"XACK", lbs, group, ids[i]});
      continue;
    }
    LbsInfo info{msg->data_stream_name, ids[i]};
    const auto sent_at = clock->now();
    auto locked = redis->eval(kAcquire, {info.mutex_key()}, {id, ttl_ms()});
    if (!locked.ok()) {
      log->error("could not lock a recovered stream; the orphan sweep will offer it again",
                 {{"stream", info.data_stream_name},
                  {"entry", info.id_in_lbs},
                  {"error", locked.status()}});
      continue;
    }
    if ((*locked)[0].integer() != 1) {
      log->warn("recovered stream is locked by another consumer; leaving it",
                {{"stream", info.data_stream_name},
                 {"entry", info.id_in_lbs},
                 {"holder", (*locked)[1].str()}});
      continue;
    }
    if (!adopt(info, *msg, sent_at)) {
      malformed->with({service, "duplicate"}).inc();
      log->warn("duplicate LBS entry for an owned stream; acknowledging it",
                {{"stream", info.data_stream_name}, {"entry", info.id_in_lbs}});
      (void)redis->eval(kDone, {info.mutex_key(), lbs}, {id, group, info.id_in_lbs});
      continue;
    }
    ++recovered;
    emit(make_notification(NotificationType::kStreamAdded, info, msg->info, msg->info_json));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  recovery->observe(seconds);
  log->info("recovered pending streams",
            {{"pending", static_cast<long long>(ids.size())},
             {"recovered", recovered},
             {"took", std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::duration<double>(seconds))}});
  return Status();
}

// --- the LBS reader ----------------------------------------------------------------

asio::awaitable<Result<std::shared_ptr<AsyncConnection>>>
RedisStreamClient::Impl::command_connection(std::shared_ptr<Impl> self) {
  if (cmd_conn && cmd_conn->connected()) co_return cmd_conn;
  Result<std::shared_ptr<AsyncConnection>> c = co_await redis->connect_async();
  if (!c.ok()) co_return c.status();
  std::shared_ptr<AsyncConnection> fresh = *c;
  if (all_stop.stop_requested()) {
    fresh->close();
    co_return Status::cancelled("client stopping");
  }
  if (cmd_conn && cmd_conn->connected()) {
    fresh->close();  // another task connected meanwhile
    co_return cmd_conn;
  }
  cmd_conn = fresh;
  (void)self;
  co_return cmd_conn;
}

asio::awaitable<void> RedisStreamClient::Impl::read_loop(std::shared_ptr<Impl> self,
                                                         std::stop_token stop) {
  Backoff backoff(opts.retry);
  int consecutive = 0;
  const std::string block = std::to_string(opts.lbs_block_time.count());
  while (!stop.stop_requested()) {
    Status failure;
    if (!reader_conn || !reader_conn->connected()) {
      Result<std::shared_ptr<AsyncConnection>> c = co_await redis->connect_async();
      if (stop.stop_requested()) {
        if (c.ok()) (*c)->close();
        break;
      }
      if (c.ok()) {
        reader_conn = *c;
      } else {
        failure = c.status();
      }
    }
    if (failure.ok()) {
      Command cmd{"XREADGROUP", "GROUP", group,     id,  "COUNT", "1",
                  "BLOCK",      block,   "STREAMS", lbs, ">"};
      std::shared_ptr<AsyncConnection> conn = reader_conn;
      Result<Reply> r = co_await conn->command(
          std::move(cmd), opts.lbs_block_time + redis->connection_options().command_timeout);
      if (stop.stop_requested()) break;
      if (!r.ok()) {
        failure = r.status();
        reader_conn.reset();
      } else if (r->is_error()) {
        failure = reply_error_status(*r, "XREADGROUP " + lbs);
        if (r->error_code() == "NOGROUP") {
          // The group (or the whole stream) is gone: Redis lost its data.
          // Recreate it from the start of whatever the stream holds now.
          Command create{"XGROUP", "CREATE", lbs, group, "0", "MKSTREAM"};
          Result<std::shared_ptr<AsyncConnection>> cc = co_await command_connection(self);
          if (cc.ok()) {
            std::shared_ptr<AsyncConnection> c2 = *cc;
            Result<Reply> created = co_await c2->command(std::move(create));
            if (created.ok() && (!created->is_error() || created->error_code() == "BUSYGROUP")) {
              log->warn("LBS consumer group was missing (Redis lost its data?); recreated it",
                        {{"group", group}});
              continue;
            }
          }
        }
      } else {
        if (consecutive > 0) log->info("LBS reads recovered", {{"after_errors", consecutive}});
        consecutive = 0;
        backoff.reset();  // the error counter resets after a successful read
        if (r->is_array()) {
          for (const Reply& stream : r->elements()) {
            if (stream.size() < 2) continue;
            for (const Reply& entry : stream[1].elements()) {
              co_await handle_entry(self, entry);
            }
          }
        }
        continue;
      }
    }
    ++consecutive;
    read_errors->inc();
    std::optional<std::chrono::nanoseconds> delay = backoff.next();
    if (!delay) {
      terminate("reading the LBS failed " + std::to_string(consecutive) +
                " times in a row: " + std::string(failure.message()));
      break;
    }
    log->warn("LBS read failed; retrying",
              {{"error", failure}, {"consecutive_errors", consecutive}, {"retry_in", *delay}});
    bool slept = co_await async_sleep_for(*clock, *delay, stop);
    if (!slept) break;
  }
  if (reader_conn) {
    reader_conn->close();
    reader_conn.reset();
  }
  reader_exited.set_value();
}

asio::awaitable<void> RedisStreamClient::Impl::handle_entry(std::shared_ptr<Impl> self,
                                                            Reply entry) {
  if (entry.size() < 2) co_return;
  const std::string entry_id = entry[0].str();
  const Reply* value = field_value(entry[1], kLbsInputField);
  Result<LbsMessage> msg =
      value ? parse_lbs_message(value->str())
            : Result<LbsMessage>(Status::corruption("entry has no lbs-input field"));
  Result<std::shared_ptr<AsyncConnection>> cc = co_await command_connection(self);
  if (!cc.ok()) {
    log->error("cannot reach Redis to lock a new stream; the orphan sweep will offer it again",
               {{"entry", entry_id}, {"error", cc.status()}});
    co_return;
  }
  std::shared_ptr<AsyncConnection> conn = *cc;
  if (!msg.ok()) {
    report_malformed(entry_id, value ? "invalid_message" : "missing_lbs_input", msg.status());
    if (opts.ack_malformed) {
      Command ack{"XACK", lbs, group, entry_id};
      Result<Reply> acked = co_await conn->command(std::move(ack));
      (void)acked;
    }
    co_return;
  }
  LbsInfo info{msg->data_stream_name, entry_id};
  const auto sent_at = clock->now();
  std::vector<std::string> keys{info.mutex_key()};
  std::vector<std::string> args{id, ttl_ms()};
  Result<Reply> locked = co_await conn->eval(kAcquire, std::move(keys), std::move(args));
  if (!locked.ok() || locked->is_error() || !locked->is_array()) {
    log->error("could not lock a new stream; the orphan sweep will offer it again",
               {{"stream", info.data_stream_name},
                {"entry", entry_id},
                {"error", locked.ok() ? locked->debug_string() : locked.status().to_string()}});
    co_return;
  }
  if ((*locked)[0].integer() != 1) {
    log->warn(
        "new stream is already locked by another consumer; leaving it to that consumer",
        {{"stream", info.data_stream_name}, {"entry", entry_id}, {"holder", (*locked)[1].str()}});
    co_return;
  }
  if (!adopt(info, *msg, sent_at)) {
    bool running = false;
    {
      std::lock_guard lock(mu);
      running = state == State::kRunning;
    }
    std::vector<std::string> dkeys{info.mutex_key(), lbs};
    if (running) {
      // A second entry for a stream we already own: acknowledge it away.
      malformed->with({service, "duplicate"}).inc();
      log->warn("duplicate LBS entry for an owned stream; acknowledging it",
                {{"stream", info.data_stream_name}, {"entry", entry_id}});
      std::vector<std::string> dargs{id, group, entry_id};
      Result<Reply> r = co_await conn->eval(kDone, std::move(dkeys), std::move(dargs));
      (void)r;
    } else {
      // Shutting down: give the lock back at once and leave the entry pending
      // (the orphan sweep of other consumers, or our restart, picks it up).
      Command unlock{"DEL", info.mutex_key()};
      Result<Reply> r = co_await conn->command(std::move(unlock));
      (void)r;
    }
    co_return;
  }
  // Entry ids start with the server's millisecond clock at XADD.
  const auto dash = entry_id.find('-');
  if (dash != std::string::npos) {
    const long long added_ms = std::atoll(entry_id.substr(0, dash).c_str());
    const long long now_ms =
        std::chrono::duration_cast<Millis>(clock->wall_now().time_since_epoch()).count();
    if (added_ms > 0 && now_ms >= added_ms)
      assignment_delay->observe(static_cast<double>(now_ms - added_ms) / 1000.0);
  }
  log->debug("stream added", {{"stream", info.data_stream_name}, {"entry", entry_id}});
  emit(make_notification(NotificationType::kStreamAdded, info, msg->info, msg->info_json));
}

// --- the heartbeat --------------------------------------------------------------------

asio::awaitable<void> RedisStreamClient::Impl::heartbeat_loop(std::shared_ptr<Impl> self,
                                                              std::stop_token stop) {
  const auto interval = opts.heartbeat_interval / 2;
  auto next = clock->now() + interval;
  while (!stop.stop_requested()) {
    bool slept = co_await async_sleep_until(*clock, next, stop);
    if (!slept) break;
    next += interval;
    if (next < clock->now())
      next = clock->now() + interval;  // woke up late (paused): do not catch up
    std::vector<Target> targets = extend_targets();
    if (!targets.empty()) co_await extend(self, std::move(targets));
  }
}

asio::awaitable<void> RedisStreamClient::Impl::extend(std::shared_ptr<Impl> self,
                                                      std::vector<Target> targets) {
  const std::size_t batch = static_cast<std::size_t>(opts.extend_batch_size);
  for (std::size_t start = 0; start < targets.size(); start += batch) {
    const std::size_t end = std::min(targets.size(), start + batch);
    std::vector<std::string> keys{lbs};
    std::vector<std::string> args{id, ttl_ms(), group};
    for (std::size_t i = start; i < end; ++i) {
      keys.push_back(targets[i].key);
      args.push_back(targets[i].id);
    }
    Status failure;
    const auto sent_at = clock->now();
    Result<std::shared_ptr<AsyncConnection>> cc = co_await command_connection(self);
    if (!cc.ok()) {
      failure = cc.status();
    } else {
      std::shared_ptr<AsyncConnection> conn = *cc;
      Result<Reply> r = co_await conn->eval(kExtend, std::move(keys), std::move(args));
      if (!r.ok()) {
        failure = r.status();
      } else if (r->is_error() || !r->is_array() || r->size() != end - start) {
        failure = Status::internal("lock extension script replied " + r->debug_string());
      } else {
        for (std::size_t i = start; i < end; ++i) {
          const long long code = (*r)[i - start].integer();
          if (code == 1 || code == 2) {
            confirm(targets[i], sent_at);
            extensions->inc();
            if (code == 2) {
              log->info("lock re-taken after it lapsed (Redis restarted?); the entry is still ours",
                        {{"stream", targets[i].name}, {"entry", targets[i].id}});
            }
          } else {
            extension_lost->inc();
            disown(targets[i],
                   "the lock is held by another consumer or the entry is no longer ours");
          }
        }
        continue;
      }
    }
    // No answer: a lock is only known to be ours until its last confirmation
    // plus the TTL. Past that, another consumer may have claimed it.
    extension_error->inc();
    if (all_stop.stop_requested()) co_return;
    log->warn("cannot extend locks",
              {{"error", failure}, {"locks", static_cast<long long>(end - start)}});
    const auto now = clock->now();
    for (std::size_t i = start; i < end; ++i) {
      Clock::TimePoint confirmed;
      {
        std::lock_guard lock(mu);
        auto it = owned.find(targets[i].name);
        if (it == owned.end()) continue;
        confirmed = it->second.confirmed_at;
      }
      if (confirmed + opts.heartbeat_interval <= now) {
        disown(targets[i],
               "the lock could not be extended within its TTL: " + std::string(failure.message()));
      }
    }
  }
}

// --- expiry events and the orphan sweep --------------------------------------------------

asio::awaitable<void> RedisStreamClient::Impl::on_expired(std::shared_ptr<Impl> self,
                                                          LbsInfo info) {
  bool ours = false;
  bool finishing = false;
  {
    std::lock_guard lock(mu);
    auto it = owned.find(info.data_stream_name);
    if (it != owned.end() && it->second.info.id_in_lbs == info.id_in_lbs) {
      ours = true;
      finishing = it->second.finishing;
    }
  }
  if (ours) {
    // Our own lock lapsed (we were slow, or paused): find out at once
    // whether the stream is still ours or somebody claimed it.
    if (!finishing) {
      std::vector<Target> mine{Target{info.data_stream_name, info.mutex_key(), info.id_in_lbs}};
      co_await extend(self, std::move(mine));
    }
    co_return;
  }
  Result<std::shared_ptr<AsyncConnection>> cc = co_await command_connection(self);
  if (!cc.ok()) co_return;
  std::shared_ptr<AsyncConnection> conn = *cc;
  std::vector<Command> cmds{{"XPENDING", lbs, group, info.id_in_lbs, info.id_in_lbs, "1"},
                            {"XRANGE", lbs, info.id_in_lbs, info.id_in_lbs}};
  Result<std::vector<Reply>> r = co_await conn->pipeline(std::move(cmds));
  if (!r.ok() || all_stop.stop_requested()) co_return;
  const Reply& pending = (*r)[0];
  if (!pending.is_array() || pending.size() == 0)
    co_return;  // finished, or not ours to worry about
  Notification n = make_notification(NotificationType::kStreamExpired, info, {}, "{}");
  const Reply& range = (*r)[1];
  if (range.is_array() && range.size() > 0) {
    if (const Reply* value = field_value(range[0][1], kLbsInputField)) {
      auto msg = parse_lbs_message(value->str());
      if (msg.ok()) {
        n.additional_info = msg->info;
        n.additional_info_json = msg->info_json;
      }
    }
  }
  log->debug("lock expired", {{"stream", info.data_stream_name}, {"entry", info.id_in_lbs}});
  emit(std::move(n));
}

asio::awaitable<void> RedisStreamClient::Impl::sweep_loop(std::shared_ptr<Impl> self,
                                                          std::stop_token stop) {
  while (!stop.stop_requested()) {
    co_await sweep_once(self);
    bool slept = co_await async_sleep_for(*clock, sweep_interval(), stop);
    if (!slept) break;
  }
}

asio::awaitable<void> RedisStreamClient::Impl::sweep_once(std::shared_ptr<Impl> self) {
  Result<std::shared_ptr<AsyncConnection>> cc = co_await command_connection(self);
  if (!cc.ok()) co_return;
  std::shared_ptr<AsyncConnection> conn = *cc;
  Command xpending{"XPENDING",
                   lbs,
                   group,
                   "IDLE",
                   std::to_string(opts.lbs_idle_time.count()),
                   "-",
                   "+",
                   std::to_string(opts.lbs_recovery_count)};
  Result<Reply> pending = co_await conn->command(std::move(xpending));
  if (!pending.ok() || !pending->is_array() || pending->size() == 0) co_return;
  std::vector<std::string> candidates;
  {
    std::lock_guard lock(mu);
    for (const Reply& p : pending->elements()) {
      if (p.size() < 2) continue;
      const std::string& eid = p[0].str();
      const bool mine =
          p[1].str() == id && std::any_of(owned.begin(), owned.end(), [&](const auto& kv) {
            return kv.second.info.id_in_lbs == eid;
          });
      if (!mine) candidates.push_back(eid);
    }
  }
  if (candidates.empty()) co_return;
  std::vector<Command> reads;
  for (const auto& eid : candidates) reads.push_back({"XRANGE", lbs, eid, eid});
  Result<std::vector<Reply>> entries = co_await conn->pipeline(std::move(reads));
  if (!entries.ok()) co_return;
  std::vector<std::pair<LbsInfo, LbsMessage>> parsed;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const Reply& range = (*entries)[i];
    if (!range.is_array() || range.size() == 0) continue;
    const Reply* value = field_value(range[0][1], kLbsInputField);
    if (value == nullptr) continue;
    auto msg = parse_lbs_message(value->str());
    if (!msg.ok()) continue;
    parsed.emplace_back(LbsInfo{msg->data_stream_name, candidates[i]}, std::move(*msg));
  }
  std::vector<Command> exists;
  for (const auto& p : parsed) exists.push_back({"EXISTS", p.first.mutex_key()});
  Result<std::vector<Reply>> locks = co_await conn->pipeline(std::move(exists));
  if (!locks.ok() || all_stop.stop_requested()) co_return;
  int orphans = 0;
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    if ((*locks)[i].integer() != 0) continue;
    ++orphans;
    emit(make_notification(NotificationType::kStreamExpired, parsed[i].first, parsed[i].second.info,
                           parsed[i].second.info_json));
  }
  if (orphans > 0) log->info("orphaned streams found", {{"count", orphans}});
}

// --- fatal errors and shutdown ----------------------------------------------------------

void RedisStreamClient::Impl::terminate(const std::string& why) {
  std::map<std::string, Owned, std::less<>> lost;
  {
    std::lock_guard lock(mu);
    if (state != State::kRunning) return;
    state = State::kStopping;
    lost.swap(owned);
    set_owned_gauge_locked();
  }
  log->error("client terminated",
             {{"reason", why}, {"streams", static_cast<long long>(lost.size())}});
  // The locks lapse on their own; each stream is reported lost.
  for (auto& [name, o] : lost)
    emit(make_notification(NotificationType::kStreamDisowned, o.info, o.add, o.add_json));
  emit_last(why);
  reader_stop.request_stop();
  all_stop.request_stop();
  if (cmd_conn) cmd_conn->close();
}

void RedisStreamClient::Impl::stop_background() {
  all_stop.request_stop();
  reader_stop.request_stop();
  if (strand) {
    std::promise<void> closed;
    auto f = closed.get_future();
    asio::post(*strand, [this, &closed] {
      if (reader_conn) reader_conn->close();
      if (cmd_conn) cmd_conn->close();
      closed.set_value();
    });
    f.wait();
  }
  if (subscriber) subscriber->stop();
  if (tasks && !tasks->wait_for(std::chrono::seconds(30))) {
    log->error("background tasks did not stop within 30 s",
               {{"active", static_cast<long long>(tasks->active())}});
  }
  if (strand) {
    // Connections opened by tasks that were finishing.
    std::promise<void> closed;
    auto f = closed.get_future();
    asio::post(*strand, [this, &closed] {
      if (reader_conn) reader_conn->close();
      if (cmd_conn) cmd_conn->close();
      reader_conn.reset();
      cmd_conn.reset();
      closed.set_value();
    });
    f.wait();
  }
}

Status RedisStreamClient::Impl::finish_stream(const std::string& name) {
  LbsInfo info;
  {
    std::lock_guard lock(mu);
    auto it = owned.find(name);
    if (it == owned.end()) {
      return Status::not_found("done_stream: data stream '" + name + "' is not owned by " + id);
    }
    if (it->second.finishing)
      return Status::failed_precondition("done_stream('" + name + "') already in progress");
    it->second.finishing = true;
    info = it->second.info;
  }
  auto r = redis->eval(kDone, {info.mutex_key(), lbs}, {id, group, info.id_in_lbs});
  std::lock_guard lock(mu);
  auto it = owned.find(name);
  if (!r.ok()) {
    if (it != owned.end()) it->second.finishing = false;  // still ours: the heartbeat resumes
    return r.status().with_context("done_stream('" + name + "')");
  }
  if (it != owned.end() && it->second.info.id_in_lbs == info.id_in_lbs) owned.erase(it);
  set_owned_gauge_locked();
  if ((*r)[0].integer() == 0) {
    return Status::lease_lost("done_stream('" + name + "'): the lock is held by " + (*r)[1].str() +
                              " now; its LBS entry was left to that consumer");
  }
  log->debug("stream done", {{"stream", name}, {"entry", info.id_in_lbs}});
  return Status();
}

// --- RedisStreamClient --------------------------------------------------------------------

RedisStreamClient::RedisStreamClient(std::shared_ptr<RedisClient> redis, std::string service_name,
                                     StreamClientOptions options)
    : impl_(std::make_shared<Impl>(std::move(redis), std::move(service_name), std::move(options))) {
}

Result<std::unique_ptr<RedisStreamClient>> RedisStreamClient::create(
    std::shared_ptr<RedisClient> redis, std::string service_name, StreamClientOptions options) {
  auto client = std::make_unique<RedisStreamClient>(std::move(redis), std::move(service_name),
                                                    std::move(options));
  if (!client->impl_->config.ok()) return client->impl_->config;
  return client;
}

RedisStreamClient::~RedisStreamClient() {
  Status s = done();
  if (!s.ok()) impl_->log->warn("done() at destruction failed", {{"error", s}});
}

const std::string& RedisStreamClient::id() const {
  return impl_->id;
}
const std::string& RedisStreamClient::service_name() const {
  return impl_->service;
}
const StreamClientOptions& RedisStreamClient::options() const {
  return impl_->opts;
}

Result<std::shared_ptr<NotificationQueue>> RedisStreamClient::init() {
  Impl& s = *impl_;
  if (!s.config.ok()) return s.config;
  {
    std::lock_guard lock(s.mu);
    if (s.state != Impl::State::kNew)
      return Status::failed_precondition("RedisStreamClient::init() may be called once");
  }
  SLUICE_RETURN_IF_ERROR(s.check_keyspace_events());
  SLUICE_RETURN_IF_ERROR(s.create_group());

  s.strand.emplace(asio::make_strand(s.redis->executor()));
  s.tasks = std::make_unique<TaskGroup>(*s.strand);
  std::weak_ptr<Impl> weak = impl_;
  s.subscriber = std::make_unique<Subscriber>(
      s.redis, std::vector<std::string>{lock_keyspace_pattern(s.redis->connection_options().db)},
      [weak](const PubSubMessage& m) {
        if (auto self = weak.lock()) self->on_keyspace(m);
      },
      [weak](bool resubscribed) {
        // Expiry events published while we were away are lost: look for
        // orphans at once.
        auto self = weak.lock();
        if (!self || !resubscribed || self->reader_stop.stop_requested()) return;
        self->tasks->spawn(*self->strand, self->sweep_once(self));
      });
  Status subscribed = s.subscriber->start();
  if (!subscribed.ok()) {
    s.subscriber.reset();
    return subscribed.with_context("subscribing to lock expiry events");
  }
  {
    std::lock_guard lock(s.mu);
    s.state = Impl::State::kRunning;
  }
  Status recovered = s.recover();
  if (!recovered.ok()) {
    s.log->error("recovery of pending streams failed; continuing", {{"error", recovered}});
  }
  s.reader_started = true;
  s.tasks->spawn(*s.strand, s.read_loop(impl_, s.reader_stop.get_token()));
  s.tasks->spawn(*s.strand, s.heartbeat_loop(impl_, s.all_stop.get_token()));
  s.tasks->spawn(*s.strand, s.sweep_loop(impl_, s.reader_stop.get_token()));
  if (s.opts.on_notification) {
    s.dispatcher = std::thread([impl = impl_] {
      while (auto n = impl->queue->pop()) {
        try {
          impl->opts.on_notification(*n);
        } catch (const std::exception& e) {
          impl->log->error("on_notification threw", {{"error", e.what()}});
        } catch (...) {
          impl->log->error("on_notification threw");
        }
      }
    });
    pthread_setname_np(s.dispatcher.native_handle(), "sluice-lbs-cb");
  }
  s.log->info("client started", {{"lbs", s.lbs},
                                 {"group", s.group},
                                 {"owned", static_cast<long long>(streams_owned().size())}});
  return s.queue;
}

Status RedisStreamClient::claim(const LbsInfo& info) {
  Impl& s = *impl_;
  if (info.data_stream_name.empty() || info.id_in_lbs.empty()) {
    return Status::invalid_argument("claim: data_stream_name and id_in_lbs must be set");
  }
  if (info.data_stream_name.find(kMutexKeySep) != std::string::npos) {
    return Status::invalid_argument("claim: data stream name contains <MUTEX_KEY_SEP>");
  }
  {
    std::lock_guard lock(s.mu);
    if (s.state != Impl::State::kRunning)
      return Status::failed_precondition("claim: the client is not running");
    auto it = s.owned.find(info.data_stream_name);
    if (it != s.owned.end() && it->second.info.id_in_lbs == info.id_in_lbs)
      return Status();  // ours already
  }
  const auto sent_at = s.clock->now();
  auto r = s.redis->eval(kClaim, {info.mutex_key(), s.lbs},
                         {s.group, s.id, std::to_string(s.opts.heartbeat_interval.count()),
                          info.id_in_lbs, s.ttl_ms()});
  if (!r.ok()) {
    s.claims_error->inc();
    return r.status().with_context("claim('" + info.data_stream_name + "')");
  }
  const long long code = (*r)[0].integer();
  if (code == 0 || code == -1) {
    s.claims_lost->inc();
    const std::string holder = code == 0 ? (*r)[1].str() : std::string("another consumer");
    s.log->debug(
        "claim lost",
        {{"stream", info.data_stream_name}, {"entry", info.id_in_lbs}, {"holder", holder}});
    return Status(StatusCode::kConditionFailed,
                  std::string(kAlreadyClaimed) + ": stream '" + info.data_stream_name +
                      "' (entry " + info.id_in_lbs + ") was taken by " + holder,
                  false);
  }
  if (code == -2) {
    s.claims_lost->inc();
    return Status::not_found("claim: the LBS entry " + info.id_in_lbs + " of '" +
                             info.data_stream_name + "' no longer exists (finished)");
  }
  LbsMessage msg;
  msg.data_stream_name = info.data_stream_name;
  if (r->size() > 1) {
    if (const Reply* value = field_value((*r)[1], kLbsInputField)) {
      auto parsed = parse_lbs_message(value->str());
      if (parsed.ok()) msg = std::move(*parsed);
    }
  }
  if (!s.adopt(info, msg, sent_at)) {
    // Shutting down, or we own this stream under another entry: undo.
    (void)s.redis->eval(kDone, {info.mutex_key(), s.lbs}, {s.id, s.group, info.id_in_lbs});
    return Status::failed_precondition("claim('" + info.data_stream_name +
                                       "'): the client is stopping or already owns this stream");
  }
  s.claims_won->inc();
  s.log->info("claimed stream", {{"stream", info.data_stream_name}, {"entry", info.id_in_lbs}});
  return Status();
}

Status RedisStreamClient::done_stream(std::string_view data_stream_name) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->state == Impl::State::kNew)
      return Status::failed_precondition("done_stream: call init() first");
  }
  return impl_->finish_stream(std::string(data_stream_name));
}

Status RedisStreamClient::done() {
  Impl& s = *impl_;
  std::lock_guard serial(s.done_mu);
  bool was_running = false;
  {
    std::lock_guard lock(s.mu);
    if (s.state == Impl::State::kNew) {
      s.state = Impl::State::kStopped;
      return Status();
    }
    if (s.state == Impl::State::kStopped) return Status();
    was_running = s.state == Impl::State::kRunning;
    s.state = Impl::State::kStopping;
  }
  if (s.dispatcher.joinable() && s.dispatcher.get_id() == std::this_thread::get_id()) {
    return Status::failed_precondition("done() must not be called from on_notification");
  }
  Status first;
  // 1. Stop taking new streams (the heartbeat keeps running meanwhile).
  s.reader_stop.request_stop();
  if (s.strand && s.reader_started) {
    asio::post(*s.strand, [impl = impl_] {
      if (impl->reader_conn) impl->reader_conn->close();
    });
    auto exited = s.reader_exited.get_future();
    if (exited.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      s.log->error("the LBS reader did not stop within 30 s");
    }
  }
  // 2. Finish every owned stream.
  if (was_running) {
    std::vector<std::string> names;
    {
      std::lock_guard lock(s.mu);
      for (const auto& [name, o] : s.owned) names.push_back(name);
    }
    for (const auto& name : names) {
      Status st = s.finish_stream(name);
      if (!st.ok() && st.code() != StatusCode::kNotFound) {
        s.log->warn("done_stream during done() failed", {{"stream", name}, {"error", st}});
        if (first.ok()) first = st;
      }
    }
  }
  // 3. Stop everything else, then the last notification.
  s.stop_background();
  {
    std::lock_guard lock(s.mu);
    s.state = Impl::State::kStopped;
    s.owned.clear();
    s.set_owned_gauge_locked();
  }
  s.emit_last("done");
  if (s.dispatcher.joinable()) s.dispatcher.join();
  s.log->info("client stopped");
  return first;
}

std::vector<std::string> RedisStreamClient::streams_owned() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> out;
  for (const auto& [name, o] : impl_->owned) out.push_back(name);
  return out;
}

bool RedisStreamClient::owns(std::string_view data_stream_name) const {
  std::lock_guard lock(impl_->mu);
  return impl_->owned.find(data_stream_name) != impl_->owned.end();
}

}  // namespace sluice::redis
