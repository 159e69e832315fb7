#include <gtest/gtest.h>
#include <signal.h>

#include <asio/detached.hpp>
#include <atomic>
#include <future>
#include <thread>

#include "integration/redis/redis_test_util.h"
#include "sluice/core/executor.h"
#include "sluice/redis/async_connection.h"
#include "sluice/redis/client.h"
#include "sluice/redis/subscriber.h"
#include "support/redis_server_process.h"
#include "support/test_util.h"

namespace sluice::redis {
namespace {

using namespace std::chrono_literals;
using sluice::testing::RecordingLogger;
using sluice::testing::RedisServerOptions;
using sluice::testing::RedisServerProcess;
using sluice::testing::unique_name;
using sluice::testing::wait_until;
using testing::connect_or_die;
using testing::shared_redis;

TEST(RedisConnection, CommandsAndPipelineRoundTrip) {
  auto redis = shared_redis();
  ASSERT_TRUE(redis);
  const std::string key = unique_name("conn-key");
  ASSERT_TRUE(redis->command({"SET", key, std::string("a\0b", 3)}).ok());
  auto v = redis->command({"GET", key});
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->str(), std::string("a\0b", 3));  // binary safe

  auto replies = redis->pipeline(
      {{"INCR", key + ":n"}, {"INCR", key + ":n"}, {"LPUSH", key, "x"}, {"GET", key + ":n"}});
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 4u);
  EXPECT_EQ((*replies)[0].integer(), 1);
  EXPECT_EQ((*replies)[1].integer(), 2);
  EXPECT_TRUE((*replies)[2].is_error());  // WRONGTYPE stays in the pipeline's result
  EXPECT_EQ((*replies)[3].str(), "2");

  auto wrong = redis->command({"LPUSH", key, "x"});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong.status().message().find("WRONGTYPE"), std::string_view::npos);
  ASSERT_TRUE(redis->command({"DEL", key, key + ":n"}).ok());
}

TEST(RedisConnection, ScriptIsLoadedAgainAfterNoscript) {
  RedisServerProcess server;
  auto redis = connect_or_die(server.url());
  ASSERT_TRUE(redis);
  Script script("return {KEYS[1], ARGV[1], 'v1'}");
  auto first = redis->eval(script, {"k"}, {"a"});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((*first)[2].str(), "v1");
  // The SHA we computed is the one Redis computes.
  auto exists = redis->command({"SCRIPT", "EXISTS", script.sha1()});
  ASSERT_TRUE(exists.ok());
  EXPECT_EQ((*exists)[0].integer(), 1);
  ASSERT_TRUE(redis->command({"SCRIPT", "FLUSH"}).ok());
  auto again = redis->eval(script, {"k"}, {"b"});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)[1].str(), "b");
}

TEST(RedisConnection, PasswordAuthAndClearErrors) {
  RedisServerOptions with_password;
  with_password.password = "pa55-word";
  RedisServerProcess server(with_password);
  auto ok = connect_or_die(server.url());
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->command({"PING"}).ok());

  auto logger = std::make_shared<RecordingLogger>();
  RedisClientOptions wrong;
  wrong.connection =
      *parse_redis_url("redis://:not-the-pa55@127.0.0.1:" + std::to_string(server.port()));
  wrong.logger = logger;
  auto bad = RedisClient::connect(wrong);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(bad.status().message().find("AUTH"), std::string_view::npos);
  EXPECT_EQ(bad.status().message().find("not-the-pa55"), std::string_view::npos);
  EXPECT_FALSE(logger->contains("not-the-pa55"));

  auto none = RedisClient::connect("redis://127.0.0.1:" + std::to_string(server.port()));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(none.status().message().find("requires authentication"), std::string_view::npos)
      << none.status();
}

TEST(RedisConnection, AclUserAuth) {
  RedisServerProcess server;
  ASSERT_NE(server.raw_command({"ACL", "SETUSER", "app", "on", ">app-pw", "~*", "&*", "+@all"})
                .find("+OK"),
            std::string::npos);
  auto redis = connect_or_die("redis://app:app-pw@127.0.0.1:" + std::to_string(server.port()));
  ASSERT_TRUE(redis);
  auto who = redis->command({"ACL", "WHOAMI"});
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->str(), "app");
  auto bad = RedisClient::connect("redis://app:wrong@127.0.0.1:" + std::to_string(server.port()));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(bad.status().message().find("user 'app'"), std::string_view::npos) << bad.status();
  EXPECT_EQ(bad.status().message().find("wrong"), std::string_view::npos) << bad.status();
}

TEST(RedisConnection, SelectsTheDatabaseOfTheUrl) {
  RedisServerProcess server;
  auto db3 = connect_or_die(server.url() + "/3");
  auto db0 = connect_or_die(server.url() + "/0");
  ASSERT_TRUE(db3->command({"SET", "only-in-3", "x"}).ok());
  EXPECT_TRUE(db0->command({"GET", "only-in-3"})->is_nil());
  EXPECT_EQ(db3->command({"GET", "only-in-3"})->str(), "x");
}

TEST(RedisConnection, UnreachableServerIsReportedWithItsAddress) {
  RedisClientOptions o;
  o.connection = *parse_redis_url("redis://:sekrit@127.0.0.1:1");
  o.reconnect = RetryPolicy::exponential(1ms, 2ms, 1);
  auto logger = std::make_shared<RecordingLogger>();
  o.logger = logger;
  auto r = RedisClient::connect(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("127.0.0.1:1"), std::string_view::npos) << r.status();
  EXPECT_EQ(r.status().message().find("sekrit"), std::string_view::npos);
  EXPECT_TRUE(logger->contains("redis connect failed"));  // the retry was logged...
  EXPECT_FALSE(logger->contains("sekrit"));               // ...without the password
}

TEST(RedisConnection, PoolReplacesConnectionsAfterARestart) {
  RedisServerProcess server;
  auto redis = connect_or_die(server.url());
  ASSERT_TRUE(redis->command({"SET", "k", "v"}).ok());
  server.restart(/*keep_data=*/true);
  // The pooled connection was closed by the old server: it is replaced, not reused.
  auto v = redis->command({"GET", "k"});
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->str(), "v");
}

TEST(RedisConnection, PoolIsSharedSafelyAcrossThreads) {
  auto redis = shared_redis();
  const std::string key = unique_name("pool-counter");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (!redis->command({"INCR", key}).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(redis->command({"GET", key})->str(), "800");
  EXPECT_LE(redis->open_connections(), redis->options().max_connections);
  redis->command({"DEL", key}).status().ok();
}

asio::awaitable<void> async_round_trip(std::shared_ptr<RedisClient> redis, std::string key,
                                       std::promise<std::string> done) {
  auto conn = co_await redis->connect_async();
  if (!conn.ok()) {
    done.set_value("connect: " + conn.status().to_string());
    co_return;
  }
  std::shared_ptr<AsyncConnection> c = *conn;
  // GCC 12: no braced lists inside co_await expressions; build them first.
  Command set_cmd{"SET", key, "1"};
  Result<Reply> set = co_await c->command(std::move(set_cmd));
  std::vector<Command> cmds{{"INCR", key}, {"INCR", key}, {"GET", key}};
  Result<std::vector<Reply>> pipe = co_await c->pipeline(std::move(cmds));
  Script script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  Command flush{"SCRIPT", "FLUSH"};
  Result<Reply> flushed = co_await c->command(std::move(flush));
  std::vector<std::string> keys{key};
  std::vector<std::string> args{"10"};
  Result<Reply> evaluated = co_await c->eval(script, std::move(keys), std::move(args));
  std::string out;
  out += set.ok() ? set->debug_string() : set.status().to_string();
  out += "|";
  out += pipe.ok() ? Reply::array(*pipe).debug_string() : pipe.status().to_string();
  out += "|";
  out += evaluated.ok() ? evaluated->debug_string() : evaluated.status().to_string();
  (void)flushed;
  c->close();
  done.set_value(out);
}

TEST(RedisAsyncConnection, CommandsPipelinesAndScripts) {
  RedisServerProcess server;
  auto redis = connect_or_die(server.url());
  std::promise<std::string> done;
  auto result = done.get_future();
  asio::co_spawn(redis->executor(), async_round_trip(redis, "async-key", std::move(done)),
                 asio::detached);
  ASSERT_EQ(result.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(result.get(), "OK|[(integer) 2, (integer) 3, \"3\"]|(integer) 13");
}

TEST(RedisAsyncConnection, ReportsConnectErrors) {
  RedisServerOptions with_password;
  with_password.password = "pw1";
  RedisServerProcess server(with_password);
  ThreadPool pool(1);
  auto connect = [&](const std::string& url) {
    std::promise<Status> p;
    auto f = p.get_future();
    AsyncConnection::async_connect(pool.executor(), *parse_redis_url(url),
                                   [&p](Result<std::shared_ptr<AsyncConnection>> c) {
                                     p.set_value(c.status());
                                     if (c.ok()) (*c)->close();
                                   });
    EXPECT_EQ(f.wait_for(10s), std::future_status::ready);
    return f.get();
  };
  const std::string port = std::to_string(server.port());
  EXPECT_TRUE(connect("redis://:pw1@127.0.0.1:" + port).ok());
  Status wrong = connect("redis://:bad-pw@127.0.0.1:" + port);
  EXPECT_EQ(wrong.code(), StatusCode::kPermissionDenied) << wrong;
  EXPECT_EQ(wrong.message().find("bad-pw"), std::string_view::npos);
  Status none = connect("redis://127.0.0.1:" + port);
  EXPECT_EQ(none.code(), StatusCode::kPermissionDenied) << none;
  Status refused = connect("redis://127.0.0.1:1");
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable) << refused;
}

TEST(RedisAsyncConnection, ACommandWithoutReplyTimesOutAndClosesTheConnection) {
  RedisServerProcess server;
  auto conn_opts = *parse_redis_url(server.url() + "?command_timeout_ms=200");
  ThreadPool pool(1);
  std::promise<std::shared_ptr<AsyncConnection>> p;
  AsyncConnection::async_connect(
      pool.executor(), conn_opts,
      [&p](Result<std::shared_ptr<AsyncConnection>> c) { p.set_value(c.ok() ? *c : nullptr); });
  auto conn = p.get_future().get();
  ASSERT_TRUE(conn);
  std::promise<Status> disconnected;
  conn->set_disconnect_handler([&](const Status& s) { disconnected.set_value(s); });
  std::promise<Status> reply;
  conn->async_command({"BLPOP", "nothing-here", "5"},
                      [&](Result<Reply> r) { reply.set_value(r.status()); });
  auto rf = reply.get_future();
  ASSERT_EQ(rf.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(rf.get().code(), StatusCode::kTimeout);
  auto df = disconnected.get_future();
  ASSERT_EQ(df.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(df.get().code(), StatusCode::kTimeout);
  EXPECT_FALSE(conn->connected());
}

TEST(RedisAsyncConnection, NoticesTheServerGoingAway) {
  RedisServerProcess server;
  ThreadPool pool(1);
  std::promise<std::shared_ptr<AsyncConnection>> p;
  AsyncConnection::async_connect(
      pool.executor(), *parse_redis_url(server.url()),
      [&p](Result<std::shared_ptr<AsyncConnection>> c) { p.set_value(c.ok() ? *c : nullptr); });
  auto conn = p.get_future().get();
  ASSERT_TRUE(conn);
  std::promise<Status> disconnected;
  conn->set_disconnect_handler([&](const Status& s) { disconnected.set_value(s); });
  std::promise<Status> blocked;
  conn->async_command(
      {"BLPOP", "nothing-here", "0"}, [&](Result<Reply> r) { blocked.set_value(r.status()); }, 60s);
  std::this_thread::sleep_for(50ms);
  server.kill();
  auto bf = blocked.get_future();
  ASSERT_EQ(bf.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(bf.get().code(), StatusCode::kUnavailable);
  auto df = disconnected.get_future();
  ASSERT_EQ(df.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(df.get().code(), StatusCode::kUnavailable);
}

TEST(RedisSubscriber, ResubscribesAfterARedisRestart) {
  RedisServerProcess server;
  auto redis = connect_or_die(server.url());
  std::mutex mu;
  std::vector<std::string> got;
  std::atomic<int> resubscribed{0};
  Subscriber sub(
      redis, {"news:*"},
      [&](const PubSubMessage& m) {
        std::lock_guard lock(mu);
        got.push_back(m.channel + "=" + m.payload);
      },
      [&](bool again) {
        if (again) ++resubscribed;
      },
      SubscriberOptions{.reconnect = RetryPolicy::exponential(20ms, 200ms, RetryPolicy::kUnlimited),
                        .ping_interval = 100ms});
  ASSERT_TRUE(sub.start().ok());
  ASSERT_TRUE(redis->command({"PUBLISH", "news:a", "1"}).ok());
  auto count = [&] {
    std::lock_guard lock(mu);
    return got.size();
  };
  ASSERT_TRUE(wait_until([&] { return count() == 1; }, 5s));

  server.restart();
  ASSERT_TRUE(wait_until([&] { return resubscribed.load() == 1 && sub.subscribed(); }, 10s));
  EXPECT_EQ(sub.resubscriptions(), 1u);
  auto published = redis->command({"PUBLISH", "news:b", "2"});
  ASSERT_TRUE(published.ok()) << published.status();
  ASSERT_TRUE(wait_until([&] { return count() == 2; }, 5s));
  std::lock_guard lock(mu);
  EXPECT_EQ(got[0], "news:a=1");
  EXPECT_EQ(got[1], "news:b=2");
}

TEST(RedisSubscriber, PingNoticesAFrozenServer) {
  RedisServerProcess server;
  auto conn = *parse_redis_url(server.url() + "?command_timeout_ms=300&connect_timeout_ms=300");
  RedisClientOptions o;
  o.connection = conn;
  auto redis = *RedisClient::connect(o);
  std::atomic<int> resubscribed{0};
  Subscriber sub(
      redis, {"x:*"}, [](const PubSubMessage&) {}, [&](bool again) { resubscribed += again; },
      SubscriberOptions{.reconnect = RetryPolicy::exponential(20ms, 100ms, RetryPolicy::kUnlimited),
                        .ping_interval = 50ms});
  ASSERT_TRUE(sub.start().ok());
  ::kill(server.pid(), SIGSTOP);  // a half-open connection: no FIN, no RST, no PONG
  EXPECT_TRUE(wait_until([&] { return !sub.subscribed(); }, 5s));
  ::kill(server.pid(), SIGCONT);
  EXPECT_TRUE(wait_until([&] { return resubscribed.load() >= 1 && sub.subscribed(); }, 10s));
}

TEST(RedisSubscriber, StartFailsWithTheFirstError) {
  RedisServerProcess server;
  auto redis = connect_or_die(server.url());
  server.kill();  // the client exists, the server does not any more
  Subscriber sub(redis, {"p:*"}, [](const PubSubMessage&) {});
  Status s = sub.start();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s;
  EXPECT_FALSE(sub.subscribed());
}

}  // namespace
}  // namespace sluice::redis
