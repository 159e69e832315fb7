#include "sluice/redis/async_connection.h"

#include <hiredis/async.h>

#include <asio/bind_executor.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <atomic>
#include <deque>

#include "redis/hiredis_util.h"

namespace sluice::redis {

using SteadyTime = std::chrono::steady_clock::time_point;

// Everything that touches hiredis runs on `strand`. hiredis calls back into
// this object synchronously (event hooks, reply callbacks); those callbacks
// only record state and post the user's handlers, so that no user code ever
// runs inside hiredis and redisAsyncFree() is never called from a callback.
struct AsyncConnection::Impl : std::enable_shared_from_this<AsyncConnection::Impl> {
  struct Pending {
    Impl* impl;
    ReplyHandler handler;
    bool tracked;  // has an entry in `deadlines`
  };
  struct SubState {
    Impl* impl;
    MessageHandler on_message;
    std::function<void(const Status&)> on_subscribed;
    std::size_t unconfirmed;
  };

  Impl(asio::any_io_executor ex, ConnectionOptions o)
      : strand(asio::make_strand(std::move(ex))),
        options(std::move(o)),
        timer(strand),
        connect_timer(strand) {}

  ~Impl() {
    // Normally closed already; this is the last resort (callbacks only touch
    // members, which are alive during the destructor body).
    closed = true;
    if (ac != nullptr) redisAsyncFree(ac);
  }

  asio::strand<asio::any_io_executor> strand;
  ConnectionOptions options;
  redisAsyncContext* ac = nullptr;
  std::unique_ptr<asio::posix::stream_descriptor> sd;
  bool reading = false;
  bool writing = false;
  bool read_pending = false;
  bool write_pending = false;
  std::atomic<bool> ready{false};
  bool closed = false;
  Status failure;        // why we tore the connection down ourselves (timeout)
  Status connect_error;  // set by hiredis' connect callback on failure
  DisconnectHandler on_disconnect;
  ConnectHandler connect_done;

  asio::steady_timer timer;  // reply deadlines
  std::uint64_t timer_generation = 0;
  std::deque<SteadyTime> deadlines;  // outstanding tracked commands, in reply order
  asio::steady_timer connect_timer;
  std::unique_ptr<SubState> sub;

  // --- hiredis event hooks ---------------------------------------------------
  static void ev_add_read(void* p) {
    auto* self = static_cast<Impl*>(p);
    self->reading = true;
    self->arm_read();
  }
  static void ev_del_read(void* p) { static_cast<Impl*>(p)->reading = false; }
  static void ev_add_write(void* p) {
    auto* self = static_cast<Impl*>(p);
    self->writing = true;
    self->arm_write();
  }
  static void ev_del_write(void* p) { static_cast<Impl*>(p)->writing = false; }
  static void ev_cleanup(void* p) {
    auto* self = static_cast<Impl*>(p);
    self->reading = false;
    self->writing = false;
    self->ac = nullptr;
    self->ready = false;
    if (self->sd) {
      std::error_code ec;
      self->sd->cancel(ec);
      // hiredis owns the descriptor and closes it: only let go of it here.
      self->sd->release();
    }
  }

  void arm_read() {
    if (read_pending || !sd || !sd->is_open()) return;
    read_pending = true;
    sd->async_wait(
        asio::posix::stream_descriptor::wait_read,
        asio::bind_executor(strand, [self = shared_from_this()](const std::error_code& ec) {
          self->read_pending = false;
          if (ec || self->ac == nullptr) return;
          if (self->reading) redisAsyncHandleRead(self->ac);
          if (self->ac != nullptr && self->reading) self->arm_read();
        }));
  }

  void arm_write() {
    if (write_pending || !sd || !sd->is_open()) return;
    write_pending = true;
    sd->async_wait(
        asio::posix::stream_descriptor::wait_write,
        asio::bind_executor(strand, [self = shared_from_this()](const std::error_code& ec) {
          self->write_pending = false;
          if (ec || self->ac == nullptr) return;
          if (self->writing) redisAsyncHandleWrite(self->ac);
          if (self->ac != nullptr && self->writing) self->arm_write();
        }));
  }

  // --- hiredis callbacks (run inside hiredis) --------------------------------
  static void on_connect_cb(const redisAsyncContext* c, int status) {
    auto* self = static_cast<Impl*>(c->data);
    if (status != REDIS_OK) {
      self->connect_error =
          Status::unavailable("cannot connect to redis at " + self->options.describe() + ": " +
                              (c->errstr ? c->errstr : "unknown error"));
    }
  }

  static void on_disconnect_cb(const redisAsyncContext* c, int status) {
    auto* self = static_cast<Impl*>(c->data);
    self->ready = false;
    if (self->closed || !self->on_disconnect) return;
    Status why =
        !self->failure.ok() ? self->failure
        : status == REDIS_OK
            ? Status::unavailable("redis connection to " + self->options.describe() + " closed")
            : Status::unavailable("redis connection to " + self->options.describe() +
                                  " lost: " + (c->errstr ? c->errstr : "unknown error"));
    asio::post(self->strand, [h = std::move(self->on_disconnect), why]() { h(why); });
    self->on_disconnect = nullptr;
  }

  Status lost_status(const redisAsyncContext* c) const {
    if (!failure.ok()) return failure;
    if (closed) return Status::cancelled("redis connection closed");
    if (!connect_error.ok()) return connect_error;
    return Status::unavailable(
        "redis connection to " + options.describe() + " lost" +
        (c && c->errstr && c->errstr[0] ? std::string(": ") + c->errstr : std::string()));
  }

  static void on_reply_cb(redisAsyncContext* c, void* r, void* privdata) {
    auto* p = static_cast<Pending*>(privdata);
    Impl* self = p->impl;
    Result<Reply> result = r != nullptr
                               ? Result<Reply>(internal::convert_reply(static_cast<redisReply*>(r)))
                               : Result<Reply>(self->lost_status(c));
    if (p->tracked) self->pop_deadline();
    asio::post(self->strand, [h = std::move(p->handler), result = std::move(result)]() mutable {
      h(std::move(result));
    });
    delete p;
  }

  static void on_sub_cb(redisAsyncContext*, void* r, void* privdata) {
    auto* s = static_cast<SubState*>(privdata);
    auto* reply = static_cast<redisReply*>(r);
    if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
    const std::string_view kind(reply->element[0]->str, reply->element[0]->len);
    if (kind == "psubscribe") {
      if (s->unconfirmed > 0 && --s->unconfirmed == 0 && s->on_subscribed) {
        asio::post(s->impl->strand, [h = std::move(s->on_subscribed)]() { h(Status()); });
        s->on_subscribed = nullptr;
      }
    } else if (kind == "pmessage" && reply->elements >= 4) {
      PubSubMessage m{std::string(reply->element[1]->str, reply->element[1]->len),
                      std::string(reply->element[2]->str, reply->element[2]->len),
                      std::string(reply->element[3]->str, reply->element[3]->len)};
      asio::post(s->impl->strand, [h = s->on_message, m = std::move(m)]() { h(m); });
    }
  }

  // --- deadlines -------------------------------------------------------------
  void push_deadline(SteadyTime t) {
    deadlines.push_back(t);
    if (deadlines.size() == 1) arm_timer();
  }
  void pop_deadline() {
    if (!deadlines.empty()) deadlines.pop_front();
    arm_timer();
  }
  void arm_timer() {
    ++timer_generation;
    if (deadlines.empty() || closed) {
      timer.cancel();
      return;
    }
    timer.expires_at(deadlines.front());
    timer.async_wait([self = weak_from_this(), gen = timer_generation](const std::error_code& ec) {
      auto s = self.lock();
      if (ec || !s || gen != s->timer_generation) return;
      if (!s->deadlines.empty() && std::chrono::steady_clock::now() >= s->deadlines.front()) {
        s->fail(Status::timeout("redis at " + s->options.describe() +
                                " did not reply in time; closing the connection"));
      } else {
        s->arm_timer();
      }
    });
  }

  // Tears the connection down from the strand (never from inside hiredis).
  void fail(Status why) {
    if (failure.ok()) failure = std::move(why);
    if (ac != nullptr) redisAsyncFree(ac);
  }

  // --- connecting ------------------------------------------------------------
  void start_connect(ConnectHandler done) {
    Status valid = options.validate();
    if (!valid.ok()) {
      asio::post(strand, [done = std::move(done), valid]() { done(valid); });
      return;
    }
    redisAsyncContext* c = options.unix_socket.empty()
                               ? redisAsyncConnect(options.host.c_str(), options.port)
                               : redisAsyncConnectUnix(options.unix_socket.c_str());
    if (c == nullptr || c->err) {
      Status s = c == nullptr ? Status::resource_exhausted("redis: cannot allocate a connection")
                              : Status::unavailable("cannot connect to redis at " +
                                                    options.describe() + ": " + c->errstr);
      if (c) redisAsyncFree(c);
      asio::post(strand, [done = std::move(done), s]() { done(s); });
      return;
    }
    ac = c;
    ac->data = this;
    sd = std::make_unique<asio::posix::stream_descriptor>(strand, ac->c.fd);
    ac->ev.data = this;
    ac->ev.addRead = &ev_add_read;
    ac->ev.delRead = &ev_del_read;
    ac->ev.addWrite = &ev_add_write;
    ac->ev.delWrite = &ev_del_write;
    ac->ev.cleanup = &ev_cleanup;
    redisAsyncSetConnectCallback(ac, &on_connect_cb);  // arms the first write event
    redisAsyncSetDisconnectCallback(ac, &on_disconnect_cb);
    connect_done = std::move(done);

    connect_timer.expires_after(options.connect_timeout);
    connect_timer.async_wait([self = shared_from_this()](const std::error_code& ec) {
      if (ec) return;
      self->finish_connect(
          Status::timeout("cannot connect to redis at " + self->options.describe() + " within " +
                          std::to_string(self->options.connect_timeout.count()) + " ms"));
    });
    // hiredis buffers these until the connection is up. PING last: it also
    // reveals a server that wants a password we did not give.
    auto cmds = internal::handshake_commands(options);
    cmds.push_back({"PING"});
    auto remaining = std::make_shared<std::size_t>(cmds.size());
    for (const Command& cmd : cmds) {
      send(
          cmd,
          [self = shared_from_this(), cmd, remaining](Result<Reply> r) {
            if (!r.ok()) return self->finish_connect(r.status());
            if (r->is_error()) {
              if (cmd.front() == "PING" && r->error_code() == "NOAUTH") {
                return self->finish_connect(Status::permission_denied(
                    "redis at " + self->options.describe() +
                    " requires authentication: put the password in the URL "
                    "(redis://[user]:PASSWORD@host:port)"));
              }
              return self->finish_connect(internal::handshake_error(self->options, cmd, *r));
            }
            if (--*remaining == 0) self->finish_connect(Status());
          },
          options.connect_timeout);
    }
  }

  void finish_connect(Status status) {
    if (!connect_done) return;
    ConnectHandler done = std::move(connect_done);
    connect_done = nullptr;
    connect_timer.cancel();
    if (status.ok() && ac != nullptr) {
      ready = true;
      std::shared_ptr<AsyncConnection> conn(new AsyncConnection(shared_from_this()));
      asio::post(strand, [done = std::move(done), conn]() { done(conn); });
      return;
    }
    if (status.ok()) status = lost_status(nullptr);
    closed = true;
    if (ac != nullptr) redisAsyncFree(ac);
    asio::post(strand, [done = std::move(done), status]() { done(status); });
  }

  // --- commands --------------------------------------------------------------
  void send(const Command& cmd, ReplyHandler done,
            std::optional<std::chrono::milliseconds> timeout) {
    if (ac == nullptr || closed) {
      Status s = closed ? Status::cancelled("redis connection closed") : lost_status(nullptr);
      asio::post(strand, [done = std::move(done), s]() { done(s); });
      return;
    }
    if (cmd.empty()) {
      asio::post(strand, [done = std::move(done)]() {
        done(Status::invalid_argument("redis: empty command"));
      });
      return;
    }
    auto* p = new Pending{this, std::move(done), true};
    internal::ArgvView argv(cmd);
    if (redisAsyncCommandArgv(ac, &on_reply_cb, p, argv.argc(), argv.argv.data(),
                              argv.len.data()) != REDIS_OK) {
      ReplyHandler h = std::move(p->handler);
      delete p;
      Status s = Status::unavailable("redis connection to " + options.describe() + " is closing");
      asio::post(strand, [h = std::move(h), s]() { h(s); });
      return;
    }
    push_deadline(std::chrono::steady_clock::now() + timeout.value_or(options.command_timeout));
  }

  void subscribe(std::vector<std::string> patterns, MessageHandler on_message,
                 std::function<void(const Status&)> on_subscribed) {
    if (ac == nullptr || closed || sub || patterns.empty()) {
      Status s = patterns.empty() ? Status::invalid_argument("psubscribe: no patterns")
                 : sub
                     ? Status::failed_precondition("psubscribe: this connection already subscribes")
                     : Status::unavailable("redis connection is not open");
      asio::post(strand, [h = std::move(on_subscribed), s]() {
        if (h) h(s);
      });
      return;
    }
    sub = std::make_unique<SubState>(
        SubState{this, std::move(on_message), std::move(on_subscribed), patterns.size()});
    Command cmd{"PSUBSCRIBE"};
    cmd.insert(cmd.end(), patterns.begin(), patterns.end());
    internal::ArgvView argv(cmd);
    if (redisAsyncCommandArgv(ac, &on_sub_cb, sub.get(), argv.argc(), argv.argv.data(),
                              argv.len.data()) != REDIS_OK) {
      auto h = std::move(sub->on_subscribed);
      sub->on_subscribed = nullptr;
      asio::post(strand, [h = std::move(h)]() {
        if (h) h(Status::unavailable("psubscribe: connection closing"));
      });
    }
  }

  void close() {
    if (closed && ac == nullptr) return;
    closed = true;
    on_disconnect = nullptr;
    connect_timer.cancel();
    ++timer_generation;
    timer.cancel();
    if (ac != nullptr) redisAsyncFree(ac);
    if (connect_done) finish_connect(Status::cancelled("redis connection closed while connecting"));
  }
};

AsyncConnection::AsyncConnection(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

AsyncConnection::~AsyncConnection() {
  close();
}

void AsyncConnection::async_connect(asio::any_io_executor ex, ConnectionOptions options,
                                    ConnectHandler done) {
  auto impl = std::make_shared<Impl>(std::move(ex), std::move(options));
  asio::post(impl->strand,
             [impl, done = std::move(done)]() mutable { impl->start_connect(std::move(done)); });
}

asio::awaitable<Result<std::shared_ptr<AsyncConnection>>> AsyncConnection::connect(
    asio::any_io_executor ex, ConnectionOptions options) {
  return asio::async_initiate<decltype(asio::use_awaitable),
                              void(Result<std::shared_ptr<AsyncConnection>>)>(
      [](auto handler, asio::any_io_executor on, ConnectionOptions opts) {
        auto resume_on = asio::get_associated_executor(handler, on);
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        async_connect(std::move(on), std::move(opts),
                      [h, resume_on](Result<std::shared_ptr<AsyncConnection>> r) {
                        asio::post(resume_on, [h, r = std::move(r)]() mutable {
                          std::move (*h)(std::move(r));
                        });
                      });
      },
      asio::use_awaitable, std::move(ex), std::move(options));
}

void AsyncConnection::async_command(Command command, ReplyHandler done,
                                    std::optional<std::chrono::milliseconds> timeout) {
  asio::post(impl_->strand, [impl = impl_, command = std::move(command), done = std::move(done),
                             timeout]() mutable { impl->send(command, std::move(done), timeout); });
}

asio::awaitable<Result<Reply>> AsyncConnection::command(
    Command command, std::optional<std::chrono::milliseconds> timeout) {
  return asio::async_initiate<decltype(asio::use_awaitable), void(Result<Reply>)>(
      [impl = impl_](auto handler, Command cmd, std::optional<std::chrono::milliseconds> limit) {
        auto resume_on = asio::get_associated_executor(handler, impl->strand);
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        asio::post(impl->strand, [impl, cmd = std::move(cmd), limit, h, resume_on]() {
          impl->send(
              cmd,
              [h, resume_on](Result<Reply> r) {
                asio::post(resume_on,
                           [h, r = std::move(r)]() mutable { std::move (*h)(std::move(r)); });
              },
              limit);
        });
      },
      asio::use_awaitable, std::move(command), timeout);
}

void AsyncConnection::async_pipeline(std::vector<Command> commands, PipelineHandler done) {
  asio::post(impl_->strand,
             [impl = impl_, commands = std::move(commands), done = std::move(done)]() mutable {
               if (commands.empty()) {
                 done(std::vector<Reply>{});
                 return;
               }
               struct Collector {
                 std::vector<Reply> replies;
                 std::size_t remaining;
                 Status failure;
                 PipelineHandler done;
               };
               auto col = std::make_shared<Collector>();
               col->replies.resize(commands.size());
               col->remaining = commands.size();
               col->done = std::move(done);
               for (std::size_t i = 0; i < commands.size(); ++i) {
                 impl->send(
                     commands[i],
                     [col, i](Result<Reply> r) {
                       if (r.ok()) {
                         col->replies[i] = std::move(*r);
                       } else if (col->failure.ok()) {
                         col->failure = r.status();
                       }
                       if (--col->remaining == 0) {
                         if (col->failure.ok()) {
                           col->done(std::move(col->replies));
                         } else {
                           col->done(col->failure);
                         }
                       }
                     },
                     std::nullopt);
               }
             });
}

asio::awaitable<Result<std::vector<Reply>>> AsyncConnection::pipeline(
    std::vector<Command> commands) {
  return asio::async_initiate<decltype(asio::use_awaitable), void(Result<std::vector<Reply>>)>(
      [this](auto handler, std::vector<Command> cmds) {
        auto resume_on = asio::get_associated_executor(handler, impl_->strand);
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        async_pipeline(std::move(cmds), [h, resume_on](Result<std::vector<Reply>> r) {
          asio::post(resume_on, [h, r = std::move(r)]() mutable { std::move (*h)(std::move(r)); });
        });
      },
      asio::use_awaitable, std::move(commands));
}

asio::awaitable<Result<Reply>> AsyncConnection::eval(const Script& script,
                                                     std::vector<std::string> keys,
                                                     std::vector<std::string> args) {
  // Copied before the first suspension: `script` is only borrowed.
  const Command cmd = script.evalsha_command(keys, args);
  Command load = script.load_command();
  Result<Reply> reply = co_await command(cmd);
  if (reply.ok() && reply->is_error() && reply->error_code() == "NOSCRIPT") {
    Result<Reply> loaded = co_await command(std::move(load));
    if (!loaded.ok()) co_return loaded.status();
    if (loaded->is_error()) co_return reply_error_status(*loaded, "SCRIPT LOAD");
    Result<Reply> again = co_await command(cmd);
    co_return again;
  }
  co_return reply;
}

void AsyncConnection::psubscribe(std::vector<std::string> patterns, MessageHandler on_message,
                                 std::function<void(const Status&)> on_subscribed) {
  asio::post(impl_->strand, [impl = impl_, patterns = std::move(patterns),
                             on_message = std::move(on_message),
                             on_subscribed = std::move(on_subscribed)]() mutable {
    impl->subscribe(std::move(patterns), std::move(on_message), std::move(on_subscribed));
  });
}

void AsyncConnection::set_disconnect_handler(DisconnectHandler handler) {
  asio::post(impl_->strand, [impl = impl_, handler = std::move(handler)]() mutable {
    if (impl->closed) return;
    if (impl->ac == nullptr) {
      // Already gone: tell the new handler at once.
      Status why = impl->lost_status(nullptr);
      asio::post(impl->strand, [handler = std::move(handler), why]() { handler(why); });
      return;
    }
    impl->on_disconnect = std::move(handler);
  });
}

void AsyncConnection::close() {
  asio::post(impl_->strand, [impl = impl_]() { impl->close(); });
}

bool AsyncConnection::connected() const {
  return impl_->ready.load();
}

const ConnectionOptions& AsyncConnection::options() const {
  return impl_->options;
}

asio::any_io_executor AsyncConnection::executor() const {
  return impl_->strand;
}

}  // namespace sluice::redis
