#include "sluice/redis/subscriber.h"

#include <asio/post.hpp>
#include <asio/strand.hpp>
#include <atomic>
#include <future>
#include <stop_token>

#include "sluice/redis/client.h"

namespace sluice::redis {

struct Subscriber::State : std::enable_shared_from_this<Subscriber::State> {
  State(std::shared_ptr<RedisClient> c, std::vector<std::string> p, MessageHandler m,
        SubscribedHandler s, SubscriberOptions o)
      : client(std::move(c)),
        patterns(std::move(p)),
        on_message(std::move(m)),
        on_subscribed(std::move(s)),
        options(std::move(o)),
        strand(asio::make_strand(client->executor())),
        backoff(options.reconnect) {}

  std::shared_ptr<RedisClient> client;
  std::vector<std::string> patterns;
  MessageHandler on_message;
  SubscribedHandler on_subscribed;
  SubscriberOptions options;
  asio::strand<asio::any_io_executor> strand;

  // Strand-confined.
  Backoff backoff;
  std::shared_ptr<AsyncConnection> conn;
  std::uint64_t attempt = 0;  // identifies the current connection attempt
  bool stopped = false;
  bool ever_subscribed = false;
  std::stop_source timers;  // cancels reconnect and ping waits on stop
  std::function<void(Status)> first_result;

  std::atomic<bool> is_subscribed{false};
  std::atomic<std::uint64_t> resubscriptions{0};

  Logger& log() { return client->logger(); }

  void connect() {
    if (stopped) return;
    const std::uint64_t id = ++attempt;
    client->async_connect(
        [self = shared_from_this(), id](Result<std::shared_ptr<AsyncConnection>> r) {
          asio::post(self->strand, [self, id, r = std::move(r)]() { self->on_connected(id, r); });
        });
  }

  void on_connected(std::uint64_t id, const Result<std::shared_ptr<AsyncConnection>>& r) {
    if (stopped || id != attempt) {
      if (r.ok()) (*r)->close();
      return;
    }
    if (!r.ok()) return lost(id, r.status());
    conn = *r;
    conn->set_disconnect_handler([self = shared_from_this(), id](const Status& why) {
      asio::post(self->strand, [self, id, why]() { self->lost(id, why); });
    });
    conn->psubscribe(
        patterns,
        [self = shared_from_this(), id](const PubSubMessage& m) {
          asio::post(self->strand, [self, id, m]() {
            if (self->stopped || id != self->attempt) return;
            self->on_message(m);
          });
        },
        [self = shared_from_this(), id](const Status& s) {
          asio::post(self->strand, [self, id, s]() { self->on_confirmed(id, s); });
        });
    // A subscription that is never confirmed counts as lost.
    client->clock().async_wait_until(
        strand, client->clock().now() + client->connection_options().command_timeout,
        timers.get_token(), [self = shared_from_this(), id](bool fired) {
          if (!fired || self->stopped || id != self->attempt || self->is_subscribed) return;
          self->lost(id, Status::timeout("PSUBSCRIBE was not confirmed in time"));
        });
  }

  void on_confirmed(std::uint64_t id, const Status& s) {
    if (stopped || id != attempt) return;
    if (!s.ok()) return lost(id, s);
    is_subscribed = true;
    backoff.reset();
    const bool again = ever_subscribed;
    ever_subscribed = true;
    if (again) {
      ++resubscriptions;
      log().info("redis subscription restored",
                 {{"redis", client->connection_options().describe()}});
    }
    if (first_result) {
      auto f = std::move(first_result);
      first_result = nullptr;
      f(Status());
    }
    if (on_subscribed) on_subscribed(again);
    schedule_ping(id);
  }

  void schedule_ping(std::uint64_t id) {
    client->clock().async_wait_until(
        strand, client->clock().now() + options.ping_interval, timers.get_token(),
        [self = shared_from_this(), id](bool fired) {
          if (!fired || self->stopped || id != self->attempt || !self->conn) return;
          // No reply within the command timeout closes the connection, and
          // the disconnect handler takes it from there.
          self->conn->async_command({"PING"}, [self, id](Result<Reply> r) {
            asio::post(self->strand, [self, id, ok = r.ok()]() {
              if (ok) self->schedule_ping(id);
            });
          });
        });
  }

  void lost(std::uint64_t id, const Status& why) {
    if (stopped || id != attempt) return;
    ++attempt;  // ignore anything the old connection still reports
    is_subscribed = false;
    if (conn) {
      conn->close();
      conn.reset();
    }
    if (first_result) {
      // The first attempt reports its failure to start() instead of retrying.
      auto f = std::move(first_result);
      first_result = nullptr;
      stopped = true;
      f(why);
      return;
    }
    auto delay = backoff.next();
    if (!delay) {
      log().error("redis subscription lost and retries exhausted",
                  {{"redis", client->connection_options().describe()}, {"error", why}});
      return;
    }
    log().warn(
        "redis subscription lost; reconnecting",
        {{"redis", client->connection_options().describe()}, {"error", why}, {"retry_in", *delay}});
    const std::uint64_t next = attempt;
    client->clock().async_wait_until(strand, client->clock().now() + *delay, timers.get_token(),
                                     [self = shared_from_this(), next](bool fired) {
                                       if (!fired || self->stopped || next != self->attempt) return;
                                       self->connect();
                                     });
  }
};

Subscriber::Subscriber(std::shared_ptr<RedisClient> client, std::vector<std::string> patterns,
                       MessageHandler on_message, SubscribedHandler on_subscribed,
                       SubscriberOptions options)
    : state_(std::make_shared<State>(std::move(client), std::move(patterns), std::move(on_message),
                                     std::move(on_subscribed), std::move(options))) {}

Subscriber::~Subscriber() {
  stop();
}

Status Subscriber::start() {
  if (state_->patterns.empty())
    return Status::invalid_argument("Subscriber: no patterns to subscribe to");
  Status valid = state_->options.reconnect.validate();
  if (!valid.ok()) return valid.with_context("SubscriberOptions.reconnect");
  if (state_->options.ping_interval.count() <= 0) {
    return Status::invalid_argument("SubscriberOptions.ping_interval must be > 0");
  }
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  asio::post(state_->strand, [s = state_, promise]() {
    if (s->stopped) {
      promise->set_value(Status::cancelled("subscriber stopped"));
      return;
    }
    s->first_result = [promise](Status st) { promise->set_value(std::move(st)); };
    s->connect();
  });
  return future.get();
}

void Subscriber::stop() {
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  asio::post(state_->strand, [s = state_, done]() {
    s->stopped = true;
    s->is_subscribed = false;
    s->timers.request_stop();
    if (s->conn) {
      s->conn->close();
      s->conn.reset();
    }
    if (s->first_result) {
      auto f = std::move(s->first_result);
      s->first_result = nullptr;
      f(Status::cancelled("subscriber stopped"));
    }
    done->set_value();
  });
  future.wait();
}

bool Subscriber::subscribed() const {
  return state_->is_subscribed.load();
}

std::uint64_t Subscriber::resubscriptions() const {
  return state_->resubscriptions.load();
}

}  // namespace sluice::redis
