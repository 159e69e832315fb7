#include "sluice/redis/stream_client.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "integration/redis/redis_test_util.h"
#include "sluice/redis/client.h"
#include "sluice/redis/lbs.h"
#include "sluice/redis/script.h"
#include "support/redis_server_process.h"
#include "support/test_util.h"

namespace sluice::redis {
namespace {

using namespace std::chrono_literals;
using sluice::testing::ChildProcess;
using sluice::testing::RecordingLogger;
using sluice::testing::RedisServerOptions;
using sluice::testing::RedisServerProcess;
using sluice::testing::unique_name;
using sluice::testing::wait_until;

constexpr auto kHeartbeat = 300ms;

// Threads of this process whose name starts with `prefix` (sluice names its
// threads "sluice-..."; sanitizers add threads of their own at any time).
std::size_t thread_count(const std::string& prefix = "sluice") {
  std::size_t n = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    n += name.rfind(prefix, 0) == 0;
  }
  return n;
}

// A client and the notifications it delivered.
struct Consumer {
  std::unique_ptr<RedisStreamClient> client;
  std::shared_ptr<NotificationQueue> queue;
  std::vector<Notification> seen;

  // Pops until a notification of `type` (for `stream`, if given) arrives.
  std::optional<Notification> wait_for(NotificationType type, const std::string& stream = "",
                                       std::chrono::milliseconds timeout = 5s) {
    for (const auto& n : seen) {
      if (n.type == type && (stream.empty() || n.info.data_stream_name == stream)) return n;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto n = queue->pop_for(deadline - std::chrono::steady_clock::now());
      if (!n) break;
      seen.push_back(*n);
      if (n->type == type && (stream.empty() || n->info.data_stream_name == stream)) return n;
    }
    return std::nullopt;
  }
  // Collects what arrives within `d`.
  void drain_for(std::chrono::milliseconds d) {
    const auto deadline = std::chrono::steady_clock::now() + d;
    while (auto n = queue->pop_for(deadline - std::chrono::steady_clock::now())) seen.push_back(*n);
  }
  std::size_t count(NotificationType type) const {
    return static_cast<std::size_t>(std::count_if(
        seen.begin(), seen.end(), [&](const Notification& n) { return n.type == type; }));
  }
};

class RedisStreamClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = testing::connect_or_die(server_.url(), &metrics_);
    ASSERT_TRUE(redis_);
  }

  StreamClientOptions options(const std::string& id) {
    StreamClientOptions o;
    o.consumer_id = id;
    o.heartbeat_interval = kHeartbeat;
    o.lbs_idle_time = 4s;
    o.lbs_block_time = 200ms;
    o.retry = RetryPolicy::exponential(50ms, 500ms, RetryPolicy::kUnlimited);
    o.metrics = &metrics_;
    o.logger = logger_;
    return o;
  }

  Consumer start(const std::string& id) { return start(options(id)); }
  Consumer start(StreamClientOptions o) {
    Consumer c;
    auto client = RedisStreamClient::create(redis_, service_, std::move(o));
    EXPECT_TRUE(client.ok()) << client.status();
    c.client = std::move(*client);
    auto q = c.client->init();
    EXPECT_TRUE(q.ok()) << q.status();
    if (q.ok()) c.queue = *q;
    return c;
  }

  std::string add(const std::string& stream, const std::string& info = "") {
    auto id = lbs_add(*redis_, service_, stream, info);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "";
  }

  std::string get(const std::string& key) {
    auto r = redis_->command({"GET", key});
    return r.ok() && r->is_string() ? r->str() : "";
  }
  long long pending_count() {
    auto r = redis_->command({"XPENDING", lbs_stream_name(service_), lbs_group_name(service_)});
    return r.ok() ? (*r)[0].integer() : -1;
  }
  std::vector<std::string> lock_keys() {
    auto r = redis_->command({"KEYS", "*<MUTEX_KEY_SEP>*"});  // test-only: a private server
    std::vector<std::string> out;
    for (const auto& k : r->elements()) out.push_back(k.str());
    return out;
  }
  // Makes `stream` look like a stream of a consumer that died: a pending
  // entry delivered to "ghost", idle for `idle`, with a lock about to lapse.
  LbsInfo ghost_stream(const std::string& stream, std::chrono::milliseconds lock_ttl,
                       std::chrono::milliseconds idle = 60s) {
    // One script, so that no reader of the group sees the entry as new: add
    // it, move the group past it, hand it to "ghost", lock it for "ghost".
    static const Script kGhost(R"lua(
local id = redis.call('XADD', KEYS[1], '*', 'lbs-input', ARGV[1])
redis.call('XGROUP', 'SETID', KEYS[1], ARGV[2], id)
redis.call('XCLAIM', KEYS[1], ARGV[2], 'ghost', 0, id, 'IDLE', ARGV[3], 'FORCE', 'JUSTID')
if tonumber(ARGV[5]) > 0 then
  redis.call('SET', ARGV[4] .. '<MUTEX_KEY_SEP>' .. id, 'ghost', 'PX', ARGV[5])
end
return id
)lua");
    auto message = encode_lbs_message(stream, R"({"owner":"ghost"})");
    auto id = redis_->eval(kGhost, {lbs_stream_name(service_)},
                           {*message, lbs_group_name(service_), std::to_string(idle.count()),
                            stream, std::to_string(lock_ttl.count())});
    EXPECT_TRUE(id.ok()) << id.status();
    return LbsInfo{stream, id.ok() ? id->str() : ""};
  }
  // Waits until `n` LBS readers are blocked in XREADGROUP, so that the next
  // XADD goes to the reader that has waited longest.
  bool readers_blocked(int n) {
    return wait_until(
        [&] {
          auto info = redis_->command({"INFO", "clients"});
          return info.ok() &&
                 info->str().find("blocked_clients:" + std::to_string(n)) != std::string::npos;
        },
        5s, 2ms);
  }
  double metric(const std::string& name_and_labels) {
    const std::string text = metrics_.expose();
    const auto pos = text.find(name_and_labels + " ");
    if (pos == std::string::npos) return 0;
    return std::stod(text.substr(pos + name_and_labels.size() + 1));
  }

  RedisServerProcess server_;
  MetricsRegistry metrics_;
  std::shared_ptr<RecordingLogger> logger_ = std::make_shared<RecordingLogger>(LogLevel::kDebug);
  std::shared_ptr<RedisClient> redis_;
  std::string service_ = unique_name("svc");
};

TEST(StreamClientOptions, ValidationNamesTheField) {
  StreamClientOptions o;
  o.consumer_id = "c";
  EXPECT_TRUE(o.validate().ok());
  o.lbs_idle_time = 3s;
  EXPECT_NE(o.validate().message().find("lbs_idle_time must be >= 4 s"), std::string_view::npos);
  o.lbs_idle_time = 5s;
  o.heartbeat_interval = 3s;
  EXPECT_NE(o.validate().message().find("2 x heartbeat_interval"), std::string_view::npos);
  o = {};
  o.retry.max_retries = -2;
  EXPECT_NE(o.validate().message().find("retry"), std::string_view::npos);
  o = {};
  o.heartbeat_interval = 50ms;
  EXPECT_NE(o.validate().message().find("heartbeat_interval"), std::string_view::npos);
}

TEST(StreamClientOptions, ConsumerIdComesFromThePodEnvironment) {
  StreamClientOptions o;
  {
    sluice::testing::ScopedEnv name("POD_NAME", "web-7f9c");
    sluice::testing::ScopedEnv ip("POD_IP", "10.0.0.9");
    EXPECT_EQ(*resolve_consumer_id(o), "redis-consumer-web-7f9c");
  }
  {
    sluice::testing::ScopedEnv name("POD_NAME", std::nullopt);
    sluice::testing::ScopedEnv ip("POD_IP", "10.0.0.9");
    EXPECT_EQ(*resolve_consumer_id(o), "redis-consumer-10.0.0.9");
  }
  {
    sluice::testing::ScopedEnv name("POD_NAME", std::nullopt);
    sluice::testing::ScopedEnv ip("POD_IP", std::nullopt);
    auto r = resolve_consumer_id(o);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("POD_NAME"), std::string_view::npos);
    EXPECT_NE(r.status().message().find("POD_IP"), std::string_view::npos);
    EXPECT_NE(r.status().message().find("consumer_id"), std::string_view::npos);
    o.consumer_id = "explicit-1";
    EXPECT_EQ(*resolve_consumer_id(o), "explicit-1");
    auto redis = testing::shared_redis();
    StreamClientOptions none;
    auto client = RedisStreamClient::create(redis, "svc", none);
    ASSERT_FALSE(client.ok());
    EXPECT_NE(client.status().message().find("POD_NAME"), std::string_view::npos);
  }
}

TEST(RedisStreamClientInit, NamesTheConfigSetToRunWhenKeyspaceEventsAreOff) {
  RedisServerOptions ex_only;
  ex_only.notify_keyspace_events = "Ex";  // keyevent only: no __keyspace@ channels
  RedisServerProcess server(ex_only);
  auto redis = testing::connect_or_die(server.url());
  StreamClientOptions o;
  o.consumer_id = "c1";
  auto client = *RedisStreamClient::create(redis, unique_name("svc"), o);
  auto q = client->init();
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(q.status().message().find("CONFIG SET notify-keyspace-events"), std::string_view::npos)
      << q.status();
  EXPECT_NE(q.status().message().find("configure_keyspace_events"), std::string_view::npos);

  o.configure_keyspace_events = true;
  auto fixing = *RedisStreamClient::create(redis, unique_name("svc"), o);
  ASSERT_TRUE(fixing->init().ok());
  const std::string flags = (*redis->command({"CONFIG", "GET", "notify-keyspace-events"}))[1].str();
  EXPECT_NE(flags.find('K'), std::string::npos) << flags;
  EXPECT_NE(flags.find('E'), std::string::npos) << flags;  // what was there is kept
  EXPECT_TRUE(fixing->done().ok());
}

TEST_F(RedisStreamClientTest, AddedStreamIsLockedWithTheGoLayoutAndKeptAlive) {
  auto c = start("redis-consumer-pod-a");
  // What the Go producer snippet writes, byte for byte.
  auto id = redis_->command(
      {"XADD", service_ + "-input", "*", "lbs-input",
       R"({"DataStreamName":"user-session-123","Info":{"user_id":"user-456","priority":"high","n":3}})"});
  ASSERT_TRUE(id.ok());
  auto n = c.wait_for(NotificationType::kStreamAdded, "user-session-123");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->info.id_in_lbs, id->str());
  EXPECT_EQ(n->additional_info.at("user_id"), "user-456");
  EXPECT_EQ(n->additional_info.at("priority"), "high");
  EXPECT_EQ(n->additional_info.at("n"), "3");
  EXPECT_EQ(n->additional_info_json, R"({"user_id":"user-456","priority":"high","n":3})");
  const std::string key = "user-session-123<MUTEX_KEY_SEP>" + id->str();
  EXPECT_EQ(n->info.mutex_key(), key);
  EXPECT_EQ(get(key), "redis-consumer-pod-a");
  EXPECT_LE(redis_->command({"PTTL", key})->integer(), kHeartbeat.count());
  // Group "<service>-group", consumer = our id, entry pending for us.
  auto pending =
      redis_->command({"XPENDING", service_ + "-input", service_ + "-group", "-", "+", "10"});
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0][1].str(), "redis-consumer-pod-a");
  // The heartbeat keeps it alive well past its TTL.
  std::this_thread::sleep_for(4 * kHeartbeat);
  EXPECT_EQ(get(key), "redis-consumer-pod-a");
  EXPECT_TRUE(c.client->owns("user-session-123"));
  EXPECT_GE(metric("sluice_redis_lbs_lock_extensions_total{service=\"" + service_ + "\"}"), 3);
  EXPECT_EQ(metric("sluice_redis_lbs_streams_owned{service=\"" + service_ +
                   "\",consumer=\"redis-consumer-pod-a\"}"),
            1);
  EXPECT_EQ(c.count(NotificationType::kStreamDisowned), 0u);
}

TEST_F(RedisStreamClientTest, TheHeartbeatIsTimedByTheInjectedClock) {
  ManualClock clock;
  auto o = options("c1");
  o.heartbeat_interval = 2000ms;
  o.lbs_idle_time = 5000ms;
  o.clock = &clock;
  auto c = start(o);
  add("timed");
  auto n = c.wait_for(NotificationType::kStreamAdded, "timed");
  ASSERT_TRUE(n);
  const std::string key = n->info.mutex_key();
  ASSERT_TRUE(redis_->command({"PEXPIRE", key, "1500"}).ok());
  ASSERT_TRUE(clock.await_sleepers(2));  // the heartbeat and the orphan sweep wait on the clock
  std::this_thread::sleep_for(100ms);
  EXPECT_LE(redis_->command({"PTTL", key})->integer(), 1500);  // not extended: no time has passed
  clock.advance(1000ms);                                       // half a heartbeat
  EXPECT_TRUE(wait_until([&] { return redis_->command({"PTTL", key})->integer() > 1500; }, 5s));
  EXPECT_EQ(get(key), "c1");
}

TEST_F(RedisStreamClientTest, StreamsAreSpreadRoundRobinAndEachHasOneOwner) {
  std::vector<Consumer> consumers;
  for (const char* id : {"c1", "c2", "c3"}) {
    auto o = options(id);
    o.lbs_block_time = 10s;  // readers stay queued in Redis in arrival order
    consumers.push_back(start(o));
  }
  std::map<std::string, std::string> owner_of;
  for (int i = 0; i < 9; ++i) {
    ASSERT_TRUE(readers_blocked(3));
    const std::string stream = "data-" + std::to_string(i);
    add(stream);
    ASSERT_TRUE(wait_until(
        [&] {
          for (auto& c : consumers) {
            if (c.client->owns(stream)) return true;
          }
          return false;
        },
        5s, 2ms));
    for (auto& c : consumers) {
      if (c.client->owns(stream)) owner_of[stream] = c.client->id();
    }
  }
  std::map<std::string, int> per_consumer;
  for (auto& c : consumers) {
    c.drain_for(50ms);
    per_consumer[c.client->id()] = static_cast<int>(c.client->streams_owned().size());
    EXPECT_EQ(c.count(NotificationType::kStreamAdded), 3u) << c.client->id();
  }
  EXPECT_EQ(per_consumer["c1"], 3);
  EXPECT_EQ(per_consumer["c2"], 3);
  EXPECT_EQ(per_consumer["c3"], 3);
  // Exactly one owner per stream, and it holds the lock.
  for (const auto& [stream, owner] : owner_of) {
    int owners = 0;
    for (auto& c : consumers) owners += c.client->owns(stream);
    EXPECT_EQ(owners, 1) << stream;
  }
  for (auto& c : consumers) {
    for (const auto& n : c.seen) {
      EXPECT_EQ(get(n.info.mutex_key()), c.client->id());
    }
  }
}

TEST_F(RedisStreamClientTest, DoneStreamLeavesNoLockAndNoPendingEntry) {
  auto c = start("c1");
  add("orders-1");
  add("orders-2");
  auto n1 = c.wait_for(NotificationType::kStreamAdded, "orders-1");
  ASSERT_TRUE(n1);
  ASSERT_TRUE(c.wait_for(NotificationType::kStreamAdded, "orders-2"));
  ASSERT_TRUE(c.client->done_stream("orders-1").ok());
  EXPECT_FALSE(c.client->owns("orders-1"));
  EXPECT_EQ(get(n1->info.mutex_key()), "");
  EXPECT_EQ(pending_count(), 1);
  EXPECT_EQ(redis_->command({"XLEN", service_ + "-input"})->integer(), 1);  // XDELed
  EXPECT_EQ(c.client->done_stream("orders-1").code(), StatusCode::kNotFound);
  // No longer extended: no Disowned/Expired shows up for it later.
  c.drain_for(3 * kHeartbeat);
  for (const auto& n : c.seen) {
    if (n.info.data_stream_name == "orders-1") {
      EXPECT_EQ(n.type, NotificationType::kStreamAdded);
    }
  }
}

TEST_F(RedisStreamClientTest, DoneLeavesNoLockNoPendingEntryAndNoThread) {
  (void)redis_->executor();  // the RedisClient's own executor thread is shared infrastructure
  const std::size_t threads_before = thread_count();
  {
    auto c = start("c1");
    for (int i = 0; i < 5; ++i) add("s-" + std::to_string(i));
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(c.wait_for(NotificationType::kStreamAdded, "s-" + std::to_string(i)));
    ASSERT_TRUE(c.client->done().ok());
    EXPECT_TRUE(lock_keys().empty());
    EXPECT_EQ(pending_count(), 0);
    EXPECT_EQ(redis_->command({"XLEN", service_ + "-input"})->integer(), 0);
    EXPECT_TRUE(c.client->streams_owned().empty());
    // StreamTerminated is the last notification, and nothing comes after it.
    auto last = c.wait_for(NotificationType::kStreamTerminated);
    ASSERT_TRUE(last);
    EXPECT_EQ(last->additional_info.at("info"), "done");
    EXPECT_TRUE(c.queue->closed());
    EXPECT_FALSE(c.queue->pop_for(100ms).has_value());
    EXPECT_EQ(c.seen.back().type, NotificationType::kStreamTerminated);
    EXPECT_TRUE(c.client->done().ok());  // idempotent
    EXPECT_EQ(c.client->claim(LbsInfo{"x", "1-1"}).code(), StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(thread_count(), threads_before);
}

TEST_F(RedisStreamClientTest, OnlyOneClaimerWinsAnExpiredStream) {
  std::vector<Consumer> consumers;
  for (const char* id : {"c1", "c2", "c3"}) consumers.push_back(start(id));
  const LbsInfo ghost = ghost_stream("orphaned", 200ms);
  // Every consumer hears of the expiry...
  std::vector<Notification> expired;
  for (auto& c : consumers) {
    auto n = c.wait_for(NotificationType::kStreamExpired, "orphaned");
    ASSERT_TRUE(n) << c.client->id();
    EXPECT_EQ(n->info, ghost);
    EXPECT_EQ(n->additional_info.at("owner"), "ghost");
    expired.push_back(*n);
  }
  // ...and all claim at once: exactly one wins.
  std::vector<Status> results(consumers.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < consumers.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = consumers[i].client->claim(expired[i].info); });
  }
  for (auto& t : threads) t.join();
  int won = 0;
  std::string winner;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (results[i].ok()) {
      ++won;
      winner = consumers[i].client->id();
    } else {
      EXPECT_TRUE(is_already_claimed(results[i])) << results[i];
    }
  }
  ASSERT_EQ(won, 1);
  EXPECT_EQ(get(ghost.mutex_key()), winner);
  auto pending =
      redis_->command({"XPENDING", service_ + "-input", service_ + "-group", "-", "+", "10"});
  EXPECT_EQ((*pending)[0][1].str(), winner);
  int owners = 0;
  for (auto& c : consumers) owners += c.client->owns("orphaned");
  EXPECT_EQ(owners, 1);
  // The winner keeps the lock alive.
  std::this_thread::sleep_for(3 * kHeartbeat);
  EXPECT_EQ(get(ghost.mutex_key()), winner);
  EXPECT_EQ(metric("sluice_redis_lbs_claims_total{service=\"" + service_ + "\",result=\"won\"}"),
            1);
  EXPECT_EQ(metric("sluice_redis_lbs_claims_total{service=\"" + service_ + "\",result=\"lost\"}"),
            2);
}

TEST_F(RedisStreamClientTest, ClaimingAFinishedStreamFails) {
  auto c = start("c1");
  EXPECT_EQ(c.client->claim(LbsInfo{"", "1-1"}).code(), StatusCode::kInvalidArgument);
  const LbsInfo ghost = ghost_stream("gone", 0ms);
  ASSERT_TRUE(redis_->command({"XDEL", service_ + "-input", ghost.id_in_lbs}).ok());
  Status s = c.client->claim(ghost);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(c.client->owns("gone"));
  EXPECT_EQ(get(ghost.mutex_key()), "");
}

TEST_F(RedisStreamClientTest, AStolenLockProducesStreamDisowned) {
  auto c = start("c1");
  add("mine");
  auto added = c.wait_for(NotificationType::kStreamAdded, "mine");
  ASSERT_TRUE(added);
  ASSERT_TRUE(redis_->command({"SET", added->info.mutex_key(), "intruder", "PX", "60000"}).ok());
  auto n = c.wait_for(NotificationType::kStreamDisowned, "mine");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->info, added->info);
  EXPECT_FALSE(c.client->owns("mine"));
  EXPECT_EQ(get(added->info.mutex_key()), "intruder");  // never touched
  EXPECT_EQ(metric("sluice_redis_lbs_lock_extension_failures_total{service=\"" + service_ +
                   "\",reason=\"lost\"}"),
            1);
}

TEST_F(RedisStreamClientTest, LosingRedisLongerThanTheTtlProducesStreamDisowned) {
  auto conn = *parse_redis_url(server_.url() + "?command_timeout_ms=400");
  RedisClientOptions ro;
  ro.connection = conn;
  auto redis = *RedisClient::connect(ro);
  auto client = *RedisStreamClient::create(redis, service_, options("c1"));
  auto queue = *client->init();
  Consumer c{std::move(client), queue, {}};
  add("s1");
  ASSERT_TRUE(c.wait_for(NotificationType::kStreamAdded, "s1"));
  ::kill(server_.pid(), SIGSTOP);  // no reply, no error: the connection just hangs
  auto n = c.wait_for(NotificationType::kStreamDisowned, "s1", 5s);
  ::kill(server_.pid(), SIGCONT);
  ASSERT_TRUE(n);
  EXPECT_FALSE(c.client->owns("s1"));
}

// The consumer reads as an ACL user whose XREADGROUP permission the test
// can take away: every read then fails with NOPERM, deterministically.
class RedisStreamClientRetryTest : public RedisStreamClientTest {
 protected:
  void SetUp() override {
    RedisStreamClientTest::SetUp();
    ASSERT_NE(server_.raw_command({"ACL", "SETUSER", "lbs", "on", ">lbs-pw", "~*", "&*", "+@all"})
                  .find("+OK"),
              std::string::npos);
    lbs_redis_ =
        testing::connect_or_die("redis://lbs:lbs-pw@127.0.0.1:" + std::to_string(server_.port()));
  }
  void allow_reads(bool allow) {
    ASSERT_NE(server_.raw_command({"ACL", "SETUSER", "lbs", allow ? "+xreadgroup" : "-xreadgroup"})
                  .find("+OK"),
              std::string::npos);
  }
  Consumer start_as_lbs_user(StreamClientOptions o) {
    Consumer c;
    c.client = *RedisStreamClient::create(lbs_redis_, service_, std::move(o));
    c.queue = *c.client->init();
    return c;
  }
  double read_errors() {
    return metric("sluice_redis_lbs_read_errors_total{service=\"" + service_ + "\"}");
  }
  std::shared_ptr<RedisClient> lbs_redis_;
};

TEST_F(RedisStreamClientRetryTest, ReadsFailingPastMaxRetriesTerminateTheClient) {
  auto o = options("c1");
  o.retry = RetryPolicy::exponential(20ms, 40ms, 3);
  auto c = start_as_lbs_user(o);
  add("kept");
  ASSERT_TRUE(c.wait_for(NotificationType::kStreamAdded, "kept"));
  allow_reads(false);
  auto last = c.wait_for(NotificationType::kStreamTerminated, "", 5s);
  ASSERT_TRUE(last);
  EXPECT_NE(last->additional_info.at("info").find("failed 4 times"), std::string::npos)
      << last->additional_info.at("info");  // the first try and 3 retries
  EXPECT_NE(last->additional_info.at("info").find("NOPERM"), std::string::npos);
  // Every owned stream is reported lost before the end, nothing after it.
  EXPECT_EQ(c.count(NotificationType::kStreamDisowned), 1u);
  EXPECT_EQ(c.seen.back().type, NotificationType::kStreamTerminated);
  EXPECT_FALSE(c.queue->pop_for(100ms).has_value());
  EXPECT_EQ(read_errors(), 4);
  allow_reads(true);
  EXPECT_TRUE(c.client->done().ok());
}

TEST_F(RedisStreamClientRetryTest, ZeroRetriesFailsAtOnce) {
  auto o = options("c1");
  o.retry = RetryPolicy::exponential(20ms, 40ms, 0);
  auto c = start_as_lbs_user(o);
  allow_reads(false);
  auto last = c.wait_for(NotificationType::kStreamTerminated, "", 5s);
  ASSERT_TRUE(last);
  EXPECT_NE(last->additional_info.at("info").find("failed 1 times"), std::string::npos);
  allow_reads(true);
}

TEST_F(RedisStreamClientRetryTest, TheErrorCountResetsAfterASuccessfulRead) {
  auto o = options("c1");
  o.retry = RetryPolicy::exponential(150ms, 150ms, 3);
  auto c = start_as_lbs_user(o);
  for (int round = 1; round <= 3; ++round) {
    // Two failures (below the limit of 3 retries), then reads work again.
    allow_reads(false);
    ASSERT_TRUE(wait_until([&] { return read_errors() >= 2.0 * round; }, 5s, 1ms));
    allow_reads(true);
    add("after-round-" + std::to_string(round));
    ASSERT_TRUE(c.wait_for(NotificationType::kStreamAdded, "after-round-" + std::to_string(round)));
  }
  // Six failures in all, never more than two in a row: still running.
  EXPECT_GE(read_errors(), 6);
  EXPECT_EQ(c.count(NotificationType::kStreamTerminated), 0u);
  EXPECT_FALSE(c.queue->closed());
}

TEST_F(RedisStreamClientTest, OrphanSweepReportsIdleUnlockedEntries) {
  auto o = options("c1");
  o.orphan_scan_interval = 200ms;
  auto c = start(o);
  // A consumer that died long ago, whose expiry event nobody heard.
  const LbsInfo ghost = ghost_stream("forgotten", 0ms, 60s);
  auto n = c.wait_for(NotificationType::kStreamExpired, "forgotten");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->info, ghost);
  ASSERT_TRUE(c.client->claim(n->info).ok());
  EXPECT_EQ(get(ghost.mutex_key()), "c1");
}

TEST_F(RedisStreamClientTest, MalformedEntriesAreCountedLoggedAcknowledgedAndSkipped) {
  auto c = start("c1");
  const std::string lbs = service_ + "-input";
  std::vector<Command> bad{
      {"XADD", lbs, "*", "something-else", "x"},
      {"XADD", lbs, "*", "lbs-input", "{not json"},
      {"XADD", lbs, "*", "lbs-input", R"({"Info":{}})"},
      {"XADD", lbs, "*", "lbs-input", R"({"DataStreamName":"a","Info":[1,2]})"},
      {"XADD", lbs, "*", "lbs-input", R"({"DataStreamName":""})"}};
  for (const auto& cmd : bad) ASSERT_TRUE(redis_->command(cmd).ok());
  add("good-one");
  auto n = c.wait_for(NotificationType::kStreamAdded, "good-one");
  ASSERT_TRUE(n);
  EXPECT_EQ(c.count(NotificationType::kStreamAdded), 1u);
  EXPECT_EQ(pending_count(), 1);  // only the good one; the malformed ones were acknowledged
  EXPECT_EQ(redis_->command({"XLEN", lbs})->integer(), 6);  // and left in the stream for inspection
  EXPECT_EQ(metric("sluice_redis_lbs_malformed_total{service=\"" + service_ +
                   "\",reason=\"missing_lbs_input\"}"),
            1);
  EXPECT_EQ(metric("sluice_redis_lbs_malformed_total{service=\"" + service_ +
                   "\",reason=\"invalid_message\"}"),
            4);
  EXPECT_TRUE(logger_->contains("malformed LBS entry"));
  EXPECT_TRUE(logger_->contains("DataStreamName"));
  // The client carries on.
  add("good-two");
  EXPECT_TRUE(c.wait_for(NotificationType::kStreamAdded, "good-two"));
}

TEST_F(RedisStreamClientTest, MalformedEntriesCanBeLeftPending) {
  auto o = options("c1");
  o.ack_malformed = false;
  auto c = start(o);
  ASSERT_TRUE(redis_->command({"XADD", service_ + "-input", "*", "lbs-input", "]["}).ok());
  add("ok");
  ASSERT_TRUE(c.wait_for(NotificationType::kStreamAdded, "ok"));
  EXPECT_EQ(pending_count(), 2);
}

TEST_F(RedisStreamClientTest, ARestartedClientWithTheSameIdRecoversItsStreams) {
  // Two entries as a crashed "c1" leaves them: delivered to c1, not
  // acknowledged, one still locked by c1.
  const std::string a = add("crash-1", R"({"k":"v"})");
  const std::string b = add("crash-2");
  ASSERT_TRUE(redis_
                  ->command({"XREADGROUP", "GROUP", service_ + "-group", "c1", "COUNT", "10",
                             "STREAMS", service_ + "-input", ">"})
                  .ok());
  ASSERT_TRUE(
      redis_->command({"SET", LbsInfo{"crash-1", a}.mutex_key(), "c1", "PX", "60000"}).ok());
  auto c = start("c1");
  auto n1 = c.wait_for(NotificationType::kStreamAdded, "crash-1");
  auto n2 = c.wait_for(NotificationType::kStreamAdded, "crash-2");
  ASSERT_TRUE(n1 && n2);
  EXPECT_EQ(n1->info.id_in_lbs, a);
  EXPECT_EQ(n1->additional_info.at("k"), "v");
  EXPECT_EQ(get(LbsInfo{"crash-2", b}.mutex_key()), "c1");
  EXPECT_LE(redis_->command({"PTTL", LbsInfo{"crash-1", a}.mutex_key()})->integer(),
            kHeartbeat.count());
  EXPECT_TRUE(c.client->owns("crash-1"));
  EXPECT_TRUE(c.client->owns("crash-2"));
  EXPECT_GE(metric("sluice_redis_lbs_recovery_seconds_count{service=\"" + service_ + "\"}"), 1);
}

TEST_F(RedisStreamClientTest, CallbackModeDeliversInOrderAndEndsWithTerminated) {
  std::mutex mu;
  std::vector<std::string> got;
  auto o = options("c1");
  o.on_notification = [&](const Notification& n) {
    std::lock_guard lock(mu);
    got.push_back(std::string(notification_type_name(n.type)) + ":" + n.info.data_stream_name);
  };
  auto client = *RedisStreamClient::create(redis_, service_, o);
  ASSERT_TRUE(client->init().ok());
  EXPECT_EQ(thread_count("sluice-lbs-cb"), 1u);
  add("cb-1");
  add("cb-2");
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard lock(mu);
    return got.size() == 2;
  }));
  ASSERT_TRUE(client->done().ok());
  std::lock_guard lock(mu);
  EXPECT_EQ(
      got, (std::vector<std::string>{"StreamAdded:cb-1", "StreamAdded:cb-2", "StreamTerminated:"}));
}

// --- consumers in processes of their own ------------------------------------------

// Built next to this test binary.
std::string worker_path() {
  return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "sluice_redis_lbs_worker")
      .string();
}

TEST_F(RedisStreamClientTest, AKilledConsumersStreamIsClaimedByAnother) {
  auto worker = std::make_unique<ChildProcess>(std::vector<std::string>{
      worker_path(), server_.url(), service_, "doomed", std::to_string(kHeartbeat.count())});
  ASSERT_TRUE(worker->wait_for_line_containing("READY doomed", 10s))
      << ::testing::PrintToString(worker->lines());
  add("k-1");
  ASSERT_TRUE(worker->wait_for_line_containing("StreamAdded k-1", 5s));
  auto c = start("survivor");
  worker->signal(SIGKILL);
  auto n = c.wait_for(NotificationType::kStreamExpired, "k-1", 5s);
  ASSERT_TRUE(n);
  ASSERT_TRUE(c.client->claim(n->info).ok());
  EXPECT_EQ(get(n->info.mutex_key()), "survivor");
}

TEST_F(RedisStreamClientTest, AFrozenConsumerIsDisownedWhenItWakesUp) {
  ChildProcess frozen(
      {worker_path(), server_.url(), service_, "sleepy", std::to_string(kHeartbeat.count())});
  ASSERT_TRUE(frozen.wait_for_line_containing("READY sleepy", 10s))
      << ::testing::PrintToString(frozen.lines());
  add("f-1");
  ASSERT_TRUE(frozen.wait_for_line_containing("StreamAdded f-1", 5s));
  std::vector<Consumer> others;
  others.push_back(start("o1"));
  others.push_back(start("o2"));
  frozen.signal(SIGSTOP);  // stuck past the lock TTL (a GC pause, a debugger, a swap storm)
  std::vector<Notification> expired;
  for (auto& o : others) {
    auto n = o.wait_for(NotificationType::kStreamExpired, "f-1", 5s);
    ASSERT_TRUE(n);
    expired.push_back(*n);
  }
  Status a = others[0].client->claim(expired[0].info);
  Status b = others[1].client->claim(expired[1].info);
  EXPECT_NE(a.ok(), b.ok()) << a << " / " << b;  // exactly one claimer wins
  frozen.signal(SIGCONT);
  EXPECT_TRUE(frozen.wait_for_line_containing("StreamDisowned f-1", 5s))
      << ::testing::PrintToString(frozen.lines());
  const std::string winner = a.ok() ? "o1" : "o2";
  EXPECT_EQ(get(expired[0].info.mutex_key()), winner);
  // The woken consumer does not take its old stream back.
  std::this_thread::sleep_for(3 * kHeartbeat);
  EXPECT_EQ(get(expired[0].info.mutex_key()), winner);
  EXPECT_FALSE(frozen.wait_for_line_containing("CLAIMED f-1", 10ms));
}

TEST_F(RedisStreamClientTest, RedisRestartKeepsEveryStreamWithExactlyOneOwner) {
  std::vector<Consumer> consumers;
  for (const char* id : {"c1", "c2"}) {
    auto o = options(id);
    o.heartbeat_interval = 1000ms;  // long enough to ride out the restart
    consumers.push_back(start(o));
  }
  std::vector<std::string> streams;
  for (int i = 0; i < 4; ++i) streams.push_back("rs-" + std::to_string(i));
  for (const auto& s : streams) add(s);
  ASSERT_TRUE(wait_until([&] {
    std::size_t owned = 0;
    for (auto& c : consumers) owned += c.client->streams_owned().size();
    return owned == streams.size();
  }));
  server_.restart(/*keep_data=*/true);
  // Clients reconnect and resubscribe; whoever loses a lock hears of it, and
  // an expired stream is claimed by someone. Play that out for a while.
  const auto until = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < until) {
    for (auto& c : consumers) {
      while (auto n = c.queue->try_pop()) {
        c.seen.push_back(*n);
        if (n->type == NotificationType::kStreamExpired) (void)c.client->claim(n->info);
      }
    }
    std::this_thread::sleep_for(20ms);
  }
  for (const auto& s : streams) {
    std::vector<std::string> owners;
    for (auto& c : consumers) {
      if (c.client->owns(s)) owners.push_back(c.client->id());
    }
    ASSERT_EQ(owners.size(), 1u) << s;
    auto pending =
        redis_->command({"XPENDING", service_ + "-input", service_ + "-group", "-", "+", "10"});
    ASSERT_TRUE(pending.ok()) << pending.status();
  }
  // Still working after the restart: new streams are assigned...
  add("after-restart");
  ASSERT_TRUE(wait_until([&] {
    return consumers[0].client->owns("after-restart") || consumers[1].client->owns("after-restart");
  }));
  // ...and expiry events reach both clients again (they resubscribed).
  const LbsInfo ghost = ghost_stream("ghost-after-restart", 100ms);
  for (auto& c : consumers) {
    EXPECT_TRUE(c.wait_for(NotificationType::kStreamExpired, ghost.data_stream_name, 5s));
  }
}

TEST_F(RedisStreamClientTest, RedisRestartWithoutDataDisownsAndStartsOver) {
  auto c = start("c1");
  add("lost-1");
  ASSERT_TRUE(c.wait_for(NotificationType::kStreamAdded, "lost-1"));
  server_.restart(
      /*keep_data=*/false);  // no persistence: the LBS, the group and the locks are gone
  EXPECT_TRUE(c.wait_for(NotificationType::kStreamDisowned, "lost-1", 5s));
  EXPECT_FALSE(c.client->owns("lost-1"));
  // The group is recreated and new work flows again.
  ASSERT_TRUE(wait_until([&] { return lbs_add(*redis_, service_, "new-1").ok(); }, 5s, 50ms));
  EXPECT_TRUE(c.wait_for(NotificationType::kStreamAdded, "new-1", 5s));
}

}  // namespace
}  // namespace sluice::redis
