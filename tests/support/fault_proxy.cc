#include "support/fault_proxy.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <atomic>
#include <cctype>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "support/backends.h"

namespace sluice::testing {
namespace {

using asio::ip::tcp;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

struct Message {
  std::string start_line;  // "POST / HTTP/1.1" or "HTTP/1.1 200 OK"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::string header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (lower(k) == name) return v;
    }
    return "";
  }
};

// Parses the head (up to the blank line) of `raw`.
Message parse_head(const std::string& raw) {
  Message m;
  std::size_t pos = raw.find("\r\n");
  m.start_line = raw.substr(0, pos);
  while (pos != std::string::npos) {
    std::size_t next = raw.find("\r\n", pos + 2);
    std::string line =
        raw.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    pos = next;
    if (line.empty()) break;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string v = line.substr(colon + 1);
    while (!v.empty() && v.front() == ' ') v.erase(0, 1);
    m.headers.emplace_back(line.substr(0, colon), v);
  }
  return m;
}

// Decodes a complete chunked body.
std::string dechunk(const std::string& in) {
  std::string out;
  std::size_t pos = 0;
  while (pos < in.size()) {
    std::size_t eol = in.find("\r\n", pos);
    if (eol == std::string::npos) break;
    std::size_t len = std::stoul(in.substr(pos, eol - pos), nullptr, 16);
    if (len == 0) break;
    out.append(in, eol + 2, len);
    pos = eol + 2 + len + 2;
  }
  return out;
}

std::string serialize(const Message& m, bool keep_content_length) {
  std::string out = m.start_line + "\r\n";
  for (const auto& [k, v] : m.headers) {
    std::string lk = lower(k);
    if (lk == "connection" || lk == "transfer-encoding" || lk == "keep-alive") continue;
    if (lk == "content-length" && !keep_content_length) continue;
    out += k + ": " + v + "\r\n";
  }
  if (!keep_content_length) out += "Content-Length: " + std::to_string(m.body.size()) + "\r\n";
  out += "\r\n";
  return out;
}

}  // namespace

struct FaultProxy::Impl {
  struct RuleState {
    FaultRule rule;
    int matched = 0;
  };

  asio::io_context io;
  tcp::acceptor acceptor{io};
  HostPort upstream;
  std::thread thread;
  mutable std::mutex mu;
  std::vector<RuleState> rules;
  std::map<std::string, int> per_target;
  std::atomic<int> requests{0};
  std::atomic<int> faults{0};
  std::atomic<int> connections{0};

  std::optional<FaultRule> decide(const Message& req) {
    const std::string target = req.header("x-amz-target");
    const auto sp1 = req.start_line.find(' ');
    const std::string method = req.start_line.substr(0, sp1);
    const std::string path = req.start_line.substr(sp1 + 1, req.start_line.rfind(' ') - sp1 - 1);
    std::lock_guard lock(mu);
    ++per_target[target];
    for (auto& r : rules) {
      const FaultRule& f = r.rule;
      if (!f.target_contains.empty() && target.find(f.target_contains) == std::string::npos)
        continue;
      if (!f.method.empty() && f.method != method) continue;
      if (!f.path_prefix.empty() && !path.starts_with(f.path_prefix)) continue;
      if (!f.body_contains.empty() && req.body.find(f.body_contains) == std::string::npos) continue;
      const int n = r.matched++;
      if (n < f.skip) return std::nullopt;
      if (f.times >= 0 && n >= f.skip + f.times) continue;
      return f;
    }
    return std::nullopt;
  }
};

namespace {

// Reads one HTTP message (head + Content-Length or chunked body, or to EOF
// when `to_eof`). Returns false on EOF before a head.
asio::awaitable<bool> read_message(tcp::socket& sock, std::string& buf, Message& out, bool to_eof,
                                   bool head_only) {
  auto [ec, n] =
      co_await asio::async_read_until(sock, asio::dynamic_buffer(buf), "\r\n\r\n", kTuple);
  if (ec) co_return false;
  out = parse_head(buf.substr(0, n));
  buf.erase(0, n);
  if (head_only) co_return true;
  const std::string te = lower(out.header("transfer-encoding"));
  const std::string cl = out.header("content-length");
  if (te.find("chunked") != std::string::npos) {
    while (buf.find("0\r\n\r\n") == std::string::npos || !buf.ends_with("\r\n\r\n")) {
      auto [ec2, m] = co_await asio::async_read(sock, asio::dynamic_buffer(buf),
                                                asio::transfer_at_least(1), kTuple);
      if (ec2) break;
      (void)m;
    }
    out.body = dechunk(buf);
    buf.clear();
  } else if (!cl.empty()) {
    const std::size_t len = std::stoul(cl);
    if (buf.size() < len) {
      auto [ec2, m] = co_await asio::async_read(sock, asio::dynamic_buffer(buf),
                                                asio::transfer_exactly(len - buf.size()), kTuple);
      (void)ec2;
      (void)m;
    }
    out.body = buf.substr(0, len);
    buf.erase(0, std::min(len, buf.size()));
  } else if (to_eof) {
    while (true) {
      auto [ec2, m] = co_await asio::async_read(sock, asio::dynamic_buffer(buf),
                                                asio::transfer_at_least(1), kTuple);
      if (ec2) break;
      (void)m;
    }
    out.body = std::move(buf);
    buf.clear();
  }
  co_return true;
}

asio::awaitable<std::optional<Message>> forward(FaultProxy::Impl* impl, Message req) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket up(ex);
  auto [ec] = co_await up.async_connect(
      tcp::endpoint(asio::ip::make_address(impl->upstream.host), impl->upstream.port), kTuple);
  if (ec) co_return std::nullopt;
  std::string out = req.start_line + "\r\n";
  for (const auto& [k, v] : req.headers) {
    std::string lk = lower(k);
    if (lk == "connection" || lk == "content-length" || lk == "transfer-encoding") continue;
    out += k + ": " + v + "\r\n";
  }
  out += "Content-Length: " + std::to_string(req.body.size()) + "\r\nConnection: close\r\n\r\n";
  out += req.body;
  auto [ec2, n] = co_await asio::async_write(up, asio::buffer(out), kTuple);
  (void)n;
  if (ec2) co_return std::nullopt;
  std::string buf;
  Message resp;
  const bool head = req.start_line.starts_with("HEAD ");
  if (!co_await read_message(up, buf, resp, /*to_eof=*/true, head)) co_return std::nullopt;
  co_return resp;
}

asio::awaitable<void> session(FaultProxy::Impl* impl, tcp::socket client) {
  std::string buf;
  while (true) {
    Message req;
    if (!co_await read_message(client, buf, req, /*to_eof=*/false, /*head_only=*/false)) co_return;
    impl->requests.fetch_add(1);
    std::optional<FaultRule> fault = impl->decide(req);
    const bool head = req.start_line.starts_with("HEAD ");
    std::error_code ignored;
    if (fault) impl->faults.fetch_add(1);
    if (fault && fault->action == FaultRule::Action::kReply) {
      Message resp;
      resp.start_line = "HTTP/1.1 " + std::to_string(fault->status) + " Injected";
      resp.headers = fault->headers;
      resp.body = fault->body;
      std::string out = serialize(resp, false) + resp.body;
      co_await asio::async_write(client, asio::buffer(out), kTuple);
      continue;
    }
    if (fault && fault->action == FaultRule::Action::kReset) {
      client.set_option(asio::socket_base::linger(true, 0), ignored);
      client.close(ignored);
      co_return;
    }
    if (fault && fault->action == FaultRule::Action::kStall) {
      asio::steady_timer forever(client.get_executor(), std::chrono::hours(24));
      co_await forever.async_wait(kTuple);
      co_return;
    }
    if (fault && fault->action == FaultRule::Action::kDelay) {
      asio::steady_timer wait(client.get_executor(), fault->delay);
      co_await wait.async_wait(kTuple);
    }
    std::optional<Message> resp = co_await forward(impl, std::move(req));
    if (!resp) {
      std::string out = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
      co_await asio::async_write(client, asio::buffer(out), kTuple);
      continue;
    }
    if (fault && fault->action == FaultRule::Action::kTruncate) {
      std::string out = serialize(*resp, false);
      out += resp->body.substr(0, std::min(fault->truncate_after, resp->body.size()));
      co_await asio::async_write(client, asio::buffer(out), kTuple);
      client.shutdown(tcp::socket::shutdown_both, ignored);
      client.close(ignored);
      co_return;
    }
    std::string out = serialize(*resp, head);
    if (!head) out += resp->body;
    auto [ec, n] = co_await asio::async_write(client, asio::buffer(out), kTuple);
    (void)n;
    if (ec) co_return;
  }
}

asio::awaitable<void> accept_loop(FaultProxy::Impl* impl) {
  while (true) {
    auto [ec, sock] = co_await impl->acceptor.async_accept(kTuple);
    if (ec) co_return;
    impl->connections.fetch_add(1);
    sock.set_option(tcp::no_delay(true));
    asio::co_spawn(impl->io, session(impl, std::move(sock)), asio::detached);
  }
}

FaultRule json_error(std::string target, int times, int status, const std::string& type,
                     const std::string& message) {
  FaultRule r;
  r.target_contains = std::move(target);
  r.times = times;
  r.action = FaultRule::Action::kReply;
  r.status = status;
  r.headers = {{"Content-Type", "application/x-amz-json-1.1"},
               {"x-amzn-RequestId", "injected-0000-0000"}};
  r.body = "{\"__type\":\"" + type + "\",\"message\":\"" + message + "\"}";
  return r;
}

}  // namespace

FaultProxy::FaultProxy(const std::string& upstream) : impl_(std::make_unique<Impl>()) {
  impl_->upstream = parse_host_port(upstream);
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  asio::co_spawn(impl_->io, accept_loop(impl_.get()), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

FaultProxy::~FaultProxy() {
  impl_->io.stop();
  impl_->thread.join();
}

std::uint16_t FaultProxy::port() const {
  return impl_->acceptor.local_endpoint().port();
}
std::string FaultProxy::url() const {
  return "http://127.0.0.1:" + std::to_string(port());
}

void FaultProxy::add_rule(FaultRule rule) {
  std::lock_guard lock(impl_->mu);
  impl_->rules.push_back({std::move(rule), 0});
}

void FaultProxy::clear_rules() {
  std::lock_guard lock(impl_->mu);
  impl_->rules.clear();
}

int FaultProxy::requests() const {
  return impl_->requests.load();
}
int FaultProxy::faults() const {
  return impl_->faults.load();
}
int FaultProxy::connections() const {
  return impl_->connections.load();
}

int FaultProxy::requests_for(const std::string& target) const {
  std::lock_guard lock(impl_->mu);
  int n = 0;
  for (const auto& [t, count] : impl_->per_target) {
    if (t.find(target) != std::string::npos) n += count;
  }
  return n;
}

FaultRule FaultProxy::throttle(std::string target, int times, std::string type) {
  return json_error(std::move(target), times, 400, type, "Rate exceeded (injected)");
}

FaultRule FaultProxy::server_error(std::string target, int times, int status) {
  return json_error(std::move(target), times, status, "InternalFailure", "injected server error");
}

FaultRule FaultProxy::aws_error(std::string target, int times, int status, std::string type,
                                std::string message) {
  return json_error(std::move(target), times, status, type, message);
}

FaultRule FaultProxy::reset(std::string target, int times) {
  FaultRule r;
  r.target_contains = std::move(target);
  r.times = times;
  r.action = FaultRule::Action::kReset;
  return r;
}

FaultRule FaultProxy::delay(std::string target, int times, std::chrono::milliseconds d) {
  FaultRule r;
  r.target_contains = std::move(target);
  r.times = times;
  r.action = FaultRule::Action::kDelay;
  r.delay = d;
  return r;
}

FaultRule FaultProxy::truncate(std::string target, int times, std::size_t after_bytes) {
  FaultRule r;
  r.target_contains = std::move(target);
  r.times = times;
  r.action = FaultRule::Action::kTruncate;
  r.truncate_after = after_bytes;
  return r;
}

FaultRule FaultProxy::stall(std::string target, int times) {
  FaultRule r;
  r.target_contains = std::move(target);
  r.times = times;
  r.action = FaultRule::Action::kStall;
  return r;
}

}  // namespace sluice::testing
