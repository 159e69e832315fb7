// A blocking, dependency-free HTTP/1.1 exchange over a fresh TCP connection,
// for smoke tests that must not depend on sluice's own HTTP client.
#ifndef SLUICE_TESTS_SUPPORT_RAW_HTTP_H_
#define SLUICE_TESTS_SUPPORT_RAW_HTTP_H_

#include <cstdint>
#include <string>

namespace sluice::testing {

struct RawResponse {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

// Sends `request` (complete, with "Connection: close") and reads until the
// peer closes. Throws std::runtime_error on connection errors.
RawResponse raw_http(const std::string& host, std::uint16_t port, const std::string& request);

// Sends raw bytes and reads one line (for RESP: "+PONG\r\n").
std::string raw_line_exchange(const std::string& host, std::uint16_t port, const std::string& bytes);

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_RAW_HTTP_H_
