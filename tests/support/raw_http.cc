#include "support/raw_http.h"

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/streambuf.hpp>
#include <asio/write.hpp>
#include <stdexcept>

#include <sys/socket.h>
#include <sys/time.h>

namespace sluice::testing {

using asio::ip::tcp;

namespace {
// Every read is bounded: a silent peer fails the test instead of hanging it.
void set_receive_timeout(tcp::socket& sock) {
  timeval tv{10, 0};
  setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}
}  // namespace

RawResponse raw_http(const std::string& host, std::uint16_t port, const std::string& request) {
  asio::io_context io;
  tcp::socket sock(io);
  sock.connect(tcp::endpoint(asio::ip::make_address(host), port));
  set_receive_timeout(sock);
  asio::write(sock, asio::buffer(request));
  std::string data;
  std::error_code ec;
  asio::read(sock, asio::dynamic_buffer(data), ec);
  if (ec && ec != asio::error::eof) throw std::runtime_error("read: " + ec.message());
  RawResponse r;
  const auto split = data.find("\r\n\r\n");
  r.head = data.substr(0, split);
  r.body = split == std::string::npos ? "" : data.substr(split + 4);
  if (r.head.size() > 12) r.status = std::stoi(r.head.substr(9, 3));
  return r;
}

std::string raw_line_exchange(const std::string& host, std::uint16_t port, const std::string& bytes) {
  asio::io_context io;
  tcp::socket sock(io);
  sock.connect(tcp::endpoint(asio::ip::make_address(host), port));
  set_receive_timeout(sock);
  asio::write(sock, asio::buffer(bytes));
  asio::streambuf buf;
  asio::read_until(sock, buf, "\r\n");
  std::string line(asio::buffers_begin(buf.data()), asio::buffers_end(buf.data()));
  return line.substr(0, line.find("\r\n") + 2);
}

}  // namespace sluice::testing
