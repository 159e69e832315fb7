#include "support/local_http_server.h"

#include <algorithm>
#include <array>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <cctype>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

namespace sluice::testing {

using asio::ip::tcp;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

const char* reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

enum class Parse { kNeedMore, kBad, kDone };

struct Parsed {
  RecordedRequest request;
  std::size_t consumed = 0;
  bool headers_complete = false;
  bool expect_continue = false;
  bool keep_alive = true;
};

// Parses one request from the front of `buf`.
Parse parse_request(const std::string& buf, Parsed& out) {
  const auto head_end = buf.find("\r\n\r\n");
  if (head_end == std::string::npos)
    return buf.size() > (1u << 20) ? Parse::kBad : Parse::kNeedMore;
  out = Parsed{};
  out.headers_complete = true;
  std::string_view head(buf.data(), head_end);
  auto line_end = head.find("\r\n");
  std::string_view request_line = head.substr(0, line_end);
  const auto sp1 = request_line.find(' ');
  const auto sp2 = request_line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return Parse::kBad;
  out.request.method = std::string(request_line.substr(0, sp1));
  out.request.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
  const std::string_view version = request_line.substr(sp2 + 1);
  out.keep_alive = version != "HTTP/1.0";
  std::size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  std::optional<std::size_t> content_length;
  bool chunked = false;
  while (pos < head.size()) {
    auto e = head.find("\r\n", pos);
    if (e == std::string_view::npos) e = head.size();
    std::string_view line = head.substr(pos, e - pos);
    pos = e + 2;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return Parse::kBad;
    std::string name(trim(line.substr(0, colon)));
    std::string value(trim(line.substr(colon + 1)));
    if (iequals(name, "content-length")) {
      try {
        content_length = std::stoull(value);
      } catch (const std::exception&) {
        return Parse::kBad;
      }
    } else if (iequals(name, "transfer-encoding") && value.find("chunked") != std::string::npos) {
      chunked = true;
    } else if (iequals(name, "expect") && iequals(value, "100-continue")) {
      out.expect_continue = true;
    } else if (iequals(name, "connection") && iequals(value, "close")) {
      out.keep_alive = false;
    }
    out.request.headers.emplace_back(std::move(name), std::move(value));
  }
  std::size_t body_start = head_end + 4;
  if (chunked) {
    std::size_t p = body_start;
    while (true) {
      const auto e = buf.find("\r\n", p);
      if (e == std::string::npos) return Parse::kNeedMore;
      std::size_t size = 0;
      try {
        size = std::stoul(buf.substr(p, e - p), nullptr, 16);
      } catch (const std::exception&) {
        return Parse::kBad;
      }
      p = e + 2;
      if (size == 0) {
        // Trailers (ignored) up to an empty line.
        while (true) {
          const auto t = buf.find("\r\n", p);
          if (t == std::string::npos) return Parse::kNeedMore;
          const bool empty = t == p;
          p = t + 2;
          if (empty) break;
        }
        out.consumed = p;
        return Parse::kDone;
      }
      if (buf.size() < p + size + 2) return Parse::kNeedMore;
      out.request.body.append(buf, p, size);
      p += size + 2;
    }
  }
  const std::size_t len = content_length.value_or(0);
  if (buf.size() < body_start + len) return Parse::kNeedMore;
  out.request.body = buf.substr(body_start, len);
  out.consumed = body_start + len;
  return Parse::kDone;
}

}  // namespace

std::string RecordedRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return "";
}

std::string RecordedRequest::path() const {
  return target.substr(0, target.find('?'));
}

std::string RecordedRequest::query() const {
  const auto q = target.find('?');
  return q == std::string::npos ? "" : target.substr(q + 1);
}

struct LocalHttpServer::Impl {
  struct Connection : std::enable_shared_from_this<Connection> {
    Connection(Impl* s, tcp::socket sock) : server(s), socket(std::move(sock)), timer(s->io) {}

    void read() {
      socket.async_read_some(asio::buffer(chunk),
                             [self = shared_from_this()](std::error_code ec, std::size_t n) {
                               if (ec) return self->close();
                               self->buf.append(self->chunk.data(), n);
                               self->process();
                             });
    }

    void process() {
      Parsed parsed;
      switch (parse_request(buf, parsed)) {
        case Parse::kNeedMore:
          if (parsed.headers_complete && parsed.expect_continue && !sent_continue) {
            sent_continue = true;
            write("HTTP/1.1 100 Continue\r\n\r\n", [](Connection& c) { c.read(); });
          } else {
            read();
          }
          return;
        case Parse::kBad:
          write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                [](Connection& c) { c.close(); });
          return;
        case Parse::kDone:
          break;
      }
      buf.erase(0, parsed.consumed);
      sent_continue = false;
      LocalHttpResponse response;
      Handler handler;
      {
        std::lock_guard lock(server->mu);
        if (server->recording) {
          server->requests.push_back(parsed.request);
        } else {
          ++server->unrecorded;
        }
        handler = server->handler;
      }
      try {
        response = handler ? handler(parsed.request) : LocalHttpResponse{.status = 404};
      } catch (const std::exception& e) {
        response =
            LocalHttpResponse{.status = 500, .body = std::string("handler threw: ") + e.what()};
      }
      if (response.drop_connection) return close();
      std::string out =
          "HTTP/1.1 " + std::to_string(response.status) + " " + reason(response.status) + "\r\n";
      for (const auto& [k, v] : response.headers) out += k + ": " + v + "\r\n";
      out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
      if (!parsed.keep_alive) out += "Connection: close\r\n";
      out += "\r\n";
      if (parsed.request.method != "HEAD") out += response.body;
      const bool keep_alive = parsed.keep_alive;
      auto send = [self = shared_from_this(), out = std::move(out), keep_alive]() mutable {
        self->write(std::move(out), [keep_alive](Connection& c) {
          if (keep_alive) {
            c.process();  // a pipelined request may be waiting in the buffer
          } else {
            c.close();
          }
        });
      };
      if (response.delay.count() > 0) {
        timer.expires_after(response.delay);
        timer.async_wait([send = std::move(send)](std::error_code ec) mutable {
          if (!ec) send();
        });
      } else {
        send();
      }
    }

    void write(std::string data, std::function<void(Connection&)> then) {
      auto owned = std::make_shared<std::string>(std::move(data));
      asio::async_write(socket, asio::buffer(*owned),
                        [self = shared_from_this(), owned, then = std::move(then)](
                            std::error_code ec, std::size_t) {
                          if (ec) return self->close();
                          then(*self);
                        });
    }

    void close() {
      std::error_code ignored;
      timer.cancel();
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
      server->connections.erase(shared_from_this());
    }

    Impl* server;
    tcp::socket socket;
    asio::steady_timer timer;
    std::array<char, 16384> chunk{};
    std::string buf;
    bool sent_continue = false;
  };

  void accept() {
    acceptor.async_accept([this](std::error_code ec, tcp::socket sock) {
      if (ec) return;  // closed
      {
        std::lock_guard lock(mu);
        ++accepted;
      }
      auto c = std::make_shared<Connection>(this, std::move(sock));
      connections.insert(c);
      c->read();
      accept();
    });
  }

  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::set<std::shared_ptr<Connection>> connections;  // I/O thread only
  std::thread thread;
  std::uint16_t port = 0;
  bool stopped = false;  // guarded by stop_mu
  std::mutex stop_mu;

  mutable std::mutex mu;
  Handler handler;
  std::vector<RecordedRequest> requests;
  bool recording = true;
  std::size_t unrecorded = 0;
  std::size_t accepted = 0;
};

LocalHttpServer::LocalHttpServer(Handler handler) : impl_(std::make_shared<Impl>()) {
  impl_->handler = std::move(handler);
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  std::error_code ec;
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("LocalHttpServer: cannot listen on 127.0.0.1: " + ec.message());
  impl_->port = impl_->acceptor.local_endpoint().port();
  impl_->accept();
  impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

LocalHttpServer::~LocalHttpServer() {
  stop();
}

void LocalHttpServer::stop() {
  {
    std::lock_guard lock(impl_->stop_mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
  }
  asio::post(impl_->io, [impl = impl_.get()] {
    std::error_code ignored;
    impl->acceptor.close(ignored);
    auto conns = impl->connections;
    for (const auto& c : conns) c->close();
  });
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::uint16_t LocalHttpServer::port() const {
  return impl_->port;
}

std::string LocalHttpServer::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port);
}

void LocalHttpServer::set_handler(Handler handler) {
  std::lock_guard lock(impl_->mu);
  impl_->handler = std::move(handler);
}

std::vector<RecordedRequest> LocalHttpServer::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->requests;
}

std::size_t LocalHttpServer::request_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->requests.size() + impl_->unrecorded;
}

std::size_t LocalHttpServer::connection_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->accepted;
}

}  // namespace sluice::testing

namespace sluice::testing {
void LocalHttpServer::set_recording(bool on) {
  std::lock_guard lock(impl_->mu);
  impl_->recording = on;
}
}  // namespace sluice::testing
