// A tiny HTTP/1.1 server on 127.0.0.1 (port picked by the kernel) for tests
// that need a service to talk to: the instance metadata service, the
// container credentials endpoint, STS, a fake AWS API.
//
//   testing::LocalHttpServer server([](const testing::RecordedRequest& r) {
//     if (r.path() == "/latest/api/token") return testing::LocalHttpResponse{.status = 200, .body =
//     "tok"}; return testing::LocalHttpResponse{.status = 404};
//   });
//   client.get(server.url() + "/latest/api/token");
//   EXPECT_EQ(server.requests()[0].method, "PUT");
//
// One thread serves every connection (keep-alive, pipelining-safe,
// Content-Length and chunked request bodies, Expect: 100-continue). The
// handler runs on that thread, one request at a time. Every request is
// recorded before the handler sees it.
#ifndef SLUICE_TESTS_SUPPORT_LOCAL_HTTP_SERVER_H_
#define SLUICE_TESTS_SUPPORT_LOCAL_HTTP_SERVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::testing {

struct RecordedRequest {
  std::string method{};
  std::string target{};                                        // "/path?query" as sent
  std::vector<std::pair<std::string, std::string>> headers{};  // as sent, values trimmed
  std::string body{};                                          // de-chunked

  // The first header named `name` (case-insensitive), or "".
  std::string header(std::string_view name) const;
  std::string path() const;   // target without the query
  std::string query() const;  // after '?', or ""
};

struct LocalHttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers{};  // Content-Length is added
  std::string body{};
  // Wait this long (without blocking other connections) before answering.
  std::chrono::milliseconds delay{0};
  // Close the connection instead of answering (a reset, for the client).
  bool drop_connection = false;
};

class LocalHttpServer {
 public:
  using Handler = std::function<LocalHttpResponse(const RecordedRequest&)>;

  // Starts listening at once. Throws std::runtime_error if it cannot.
  explicit LocalHttpServer(Handler handler);
  // Stops and joins the server thread.
  ~LocalHttpServer();
  LocalHttpServer(const LocalHttpServer&) = delete;
  LocalHttpServer& operator=(const LocalHttpServer&) = delete;

  std::uint16_t port() const;
  // "http://127.0.0.1:<port>"
  std::string url() const;

  // Off: requests are counted but not kept (for load tests, where keeping
  // every request would be the biggest use of memory).
  void set_recording(bool on);

  // Replaces the handler (takes effect for the next request).
  void set_handler(Handler handler);

  // Every request received so far, in arrival order.
  std::vector<RecordedRequest> requests() const;
  std::size_t request_count() const;
  // Connections accepted so far (to check keep-alive).
  std::size_t connection_count() const;

  // Closes the listener and every connection. Idempotent.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_LOCAL_HTTP_SERVER_H_
