#include "sluice/core/metrics_server.h"

#include <thread>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/streambuf.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace sluice {
namespace {

using asio::ip::tcp;

class AsioMetricsServer final : public MetricsServer {
 public:
  AsioMetricsServer(MetricsRegistry& registry, MetricsServerOptions options)
      : registry_(registry), options_(std::move(options)), acceptor_(io_) {}

  ~AsioMetricsServer() override { stop(); }

  Status listen() {
    std::error_code ec;
    auto address = asio::ip::make_address(options_.bind_address, ec);
    if (ec) {
      return Status::invalid_argument("metrics server: bad bind address \"" +
                                      options_.bind_address + "\": " + ec.message());
    }
    tcp::endpoint ep(address, options_.port);
    if (acceptor_.open(ep.protocol(), ec); ec) return io_failure("open", ec);
    acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (acceptor_.bind(ep, ec); ec) return io_failure("bind " + endpoint_text(ep), ec);
    if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
      return io_failure("listen", ec);
    }
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
    return Status();
  }

  std::uint16_t port() const override { return port_; }
  std::string url() const override {
    return "http://" + options_.bind_address + ":" + std::to_string(port_) + options_.path;
  }

  void stop() override {
    if (!thread_.joinable()) return;
    io_.stop();
    thread_.join();
    // The thread is gone: nothing else touches the acceptor now.
    std::error_code ignored;
    acceptor_.close(ignored);
  }

 private:
  static std::string endpoint_text(const tcp::endpoint& ep) {
    return ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  static Status io_failure(const std::string& what, const std::error_code& ec) {
    return Status::io_error("metrics server: " + what + ": " + ec.message());
  }

  asio::awaitable<void> accept_loop() {
    while (acceptor_.is_open()) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::experimental::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
        continue;  // e.g. EMFILE: try the next one
      }
      asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    using namespace asio::experimental::awaitable_operators;
    // A client that does not send its request within 5 s is dropped.
    asio::steady_timer deadline(io_, std::chrono::seconds(5));
    asio::streambuf buf(16 * 1024);
    auto first = co_await (
        asio::async_read_until(socket, buf, "\r\n\r\n",
                               asio::experimental::as_tuple(asio::use_awaitable)) ||
        deadline.async_wait(asio::experimental::as_tuple(asio::use_awaitable)));
    if (first.index() != 0) co_return;  // timed out
    auto [ec, n] = std::get<0>(first);
    if (ec) co_return;
    std::string head(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + n);
    std::string status = "200 OK";
    std::string body;
    std::string content_type = "text/plain; version=0.0.4; charset=utf-8";
    const auto line_end = head.find("\r\n");
    const std::string request_line = head.substr(0, line_end);
    const auto sp1 = request_line.find(' ');
    const auto sp2 = request_line.find(' ', sp1 + 1);
    const std::string method = request_line.substr(0, sp1);
    std::string target = sp1 == std::string::npos ? "" : request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (auto q = target.find('?'); q != std::string::npos) target.resize(q);
    if (method != "GET" && method != "HEAD") {
      status = "405 Method Not Allowed";
      body = "only GET and HEAD\n";
      content_type = "text/plain; charset=utf-8";
    } else if (target != options_.path) {
      status = "404 Not Found";
      body = "metrics are at " + options_.path + "\n";
      content_type = "text/plain; charset=utf-8";
    } else {
      body = registry_.expose();
    }
    std::string reply = "HTTP/1.1 " + status + "\r\nContent-Type: " + content_type +
                        "\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\nConnection: close\r\n\r\n";
    if (method != "HEAD") reply += body;
    co_await asio::async_write(socket, asio::buffer(reply),
                               asio::experimental::as_tuple(asio::use_awaitable));
    std::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
  }

  MetricsRegistry& registry_;
  MetricsServerOptions options_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(MetricsRegistry& registry,
                                                            MetricsServerOptions options) {
  if (options.path.empty() || options.path[0] != '/') {
    return Status::invalid_argument("metrics server: path must start with '/', got \"" +
                                    options.path + "\"");
  }
  auto server = std::make_unique<AsioMetricsServer>(registry, std::move(options));
  SLUICE_RETURN_IF_ERROR(server->listen());
  return std::unique_ptr<MetricsServer>(std::move(server));
}

}  // namespace sluice
