// HttpClient: asynchronous HTTP/1.1 (and HTTP/2-capable) client on libcurl's
// multi interface, for the AWS service clients.
//
// One I/O thread drives every transfer of a client; connections are kept
// alive and reused per host. Completions are posted to the caller's executor
// (the awaitable form resumes the calling coroutine there): no thread per
// request. Request bodies are handed to libcurl without copying and response
// bodies are read into one buffer sized from Content-Length.
//
//   sluice::aws::HttpClient http;
//   auto reply = co_await http.send({.method = "POST", .url = url, .headers = ..., .body = ...});
//   if (!reply.ok()) ...        // transport errors: Timeout / Unavailable, with curl's cause
//   reply->status, reply->body  // any HTTP status is a successful exchange
//
// TLS: peers are verified by default against the system CA store; set
// `ca_file` (or the AWS_CA_BUNDLE environment variable) to trust another
// bundle. Proxies: libcurl honours http_proxy, https_proxy (HTTPS_PROXY) and
// no_proxy (NO_PROXY) from the environment; `proxy` overrides them.
#ifndef SLUICE_AWS_HTTP_CLIENT_H_
#define SLUICE_AWS_HTTP_CLIENT_H_

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/core/result.h"

namespace sluice::aws {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  // Absolute URL: scheme, host, optional port, path, optional query.
  std::string url;
  HttpHeaders headers;
  std::string body;

  // The value of the first header named `name` (case-insensitive), or "".
  std::string_view header(std::string_view name) const;
  // Replaces every header named `name` (case-insensitive) with one.
  void set_header(std::string name, std::string value);
};

// Spare capacity every HttpResponse::body has past its end, so that simdjson
// (which reads up to 64 bytes beyond its input) can parse it in place.
inline constexpr std::size_t kResponseBodyPadding = 64;

struct HttpResponse {
  int status = 0;
  // Names lower-cased, in arrival order.
  HttpHeaders headers;
  // Has kResponseBodyPadding bytes of spare capacity.
  std::string body;

  std::string_view header(std::string_view name) const;
};

struct HttpClientOptions {
  // Time to establish a connection (TCP + TLS).
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(5);
  // Time for a whole exchange, connection included. 0 = no limit.
  std::chrono::milliseconds request_timeout = std::chrono::seconds(30);
  // Verify the server's TLS certificate and host name. Turn off only for tests.
  bool verify_tls = true;
  // A PEM bundle of CAs to trust instead of the system's. Empty: the
  // AWS_CA_BUNDLE environment variable if set, else the system store.
  std::string ca_file{};
  // A proxy URL for every request; empty uses the standard environment
  // variables (http_proxy, https_proxy, no_proxy).
  std::string proxy{};
  // Negotiate HTTP/2 over TLS when the server offers it (multiplexing
  // streams on one connection); plain HTTP stays HTTP/1.1.
  bool enable_http2 = false;
  // Open connections kept per host (and the cap on concurrent ones).
  std::size_t max_connections_per_host = 64;
  // Send "Expect: 100-continue" for large bodies? libcurl's default waits up
  // to a second for the 100; AWS answers at once, so sluice turns it off.
  bool expect_continue = false;
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  // Fails every transfer still in flight with Cancelled and joins the I/O thread.
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request` and resumes the calling coroutine with the response.
  // Transport failures come back as Timeout or Unavailable (retryable, with
  // libcurl's explanation), TLS verification failures as PermissionDenied.
  asio::awaitable<Result<HttpResponse>> send(HttpRequest request);

  // The same without taking the request: it is read in place, so it must
  // stay alive and unchanged until the awaitable completes. Lets a retry loop
  // resend one request (re-signed) without copying its body.
  asio::awaitable<Result<HttpResponse>> send_ref(const HttpRequest& request);

  // Callback form: `done` is posted to `ex`.
  void async_send(HttpRequest request, asio::any_io_executor ex,
                  std::function<void(Result<HttpResponse>)> done);

  // Blocking form, for synchronous callers (CLI, credential providers). Must
  // not be called from the client's own I/O thread.
  Result<HttpResponse> send_blocking(HttpRequest request);

  const HttpClientOptions& options() const;

  // Requests completed so far (for tests and metrics).
  std::size_t completed_requests() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Splits an absolute URL. Errors name the URL.
struct UrlParts {
  std::string scheme;  // "https"
  std::string host;    // "kinesis.us-east-1.amazonaws.com" (IPv6 without brackets)
  int port = 0;        // 0 when not given
  std::string path;    // "/" when empty; as written (not decoded)
  std::string query;   // without '?'; as written
  // "host" or "host:port" as the Host header carries it.
  std::string host_header() const;
};
Result<UrlParts> parse_url(std::string_view url);

}  // namespace sluice::aws

#endif  // SLUICE_AWS_HTTP_CLIENT_H_
