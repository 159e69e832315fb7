#include "sluice/aws/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <asio/async_result.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace sluice::aws {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view find_header(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return {};
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

// The URL without its query: queries can carry presigned credentials.
std::string url_for_messages(const std::string& url) {
  return url.substr(0, url.find('?'));
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::string_view HttpRequest::header(std::string_view name) const {
  return find_header(headers, name);
}

void HttpRequest::set_header(std::string name, std::string value) {
  std::erase_if(headers, [&](const auto& h) { return iequals(h.first, name); });
  headers.emplace_back(std::move(name), std::move(value));
}

std::string_view HttpResponse::header(std::string_view name) const {
  return find_header(headers, name);
}

// --- URL parsing ---------------------------------------------------------------

std::string UrlParts::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  const bool default_port =
      port == 0 || (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  if (!default_port) h += ":" + std::to_string(port);
  return h;
}

Result<UrlParts> parse_url(std::string_view url) {
  auto bad = [&](const char* why) {
    return Status::invalid_argument("bad URL \"" + url_for_messages(std::string(url)) +
                                    "\": " + why);
  };
  UrlParts p;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return bad("no scheme");
  p.scheme = std::string(url.substr(0, scheme_end));
  std::transform(p.scheme.begin(), p.scheme.end(), p.scheme.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (p.scheme != "http" && p.scheme != "https") return bad("scheme must be http or https");
  std::string_view rest = url.substr(scheme_end + 3);
  const auto path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view tail = path_start == std::string_view::npos ? "" : rest.substr(path_start);
  if (auto at = authority.rfind('@'); at != std::string_view::npos)
    authority = authority.substr(at + 1);
  if (authority.empty()) return bad("no host");
  std::string_view port_text;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed '[' in host");
    p.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return bad("junk after ']'");
      port_text = authority.substr(close + 2);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    p.host = std::string(authority.substr(0, colon));
    port_text = authority.substr(colon + 1);
  } else {
    p.host = std::string(authority);
  }
  if (p.host.empty()) return bad("no host");
  if (!port_text.empty()) {
    int port = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port <= 0 ||
        port > 65535) {
      return bad("bad port");
    }
    p.port = port;
  }
  const auto q = tail.find('?');
  p.path = std::string(tail.substr(0, q));
  if (p.path.empty()) p.path = "/";
  if (q != std::string_view::npos) p.query = std::string(tail.substr(q + 1));
  if (auto hash = p.query.find('#'); hash != std::string::npos) p.query.resize(hash);
  return p;
}

// --- the client ----------------------------------------------------------------

namespace {

struct Transfer {
  HttpRequest owned_request;
  // What is sent: &owned_request, or a caller's request (send_ref).
  const HttpRequest* request = &owned_request;
  HttpResponse response;
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  char errbuf[CURL_ERROR_SIZE] = {0};
  // Called on the I/O thread with the outcome.
  std::function<void(Result<HttpResponse>)> complete;

  ~Transfer() {
    if (header_list) curl_slist_free_all(header_list);
  }
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  t->response.body.append(data, size * n);
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    // A new response head (after a 100 Continue, say): start over.
    t->response.headers.clear();
    return size * n;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;  // the blank line
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  std::string value = trim(line.substr(colon + 1));
  if (name == "content-length") {
    std::size_t len = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), len);
    // Read the body into one buffer; cap the reservation at 64 MiB so a lying
    // header cannot make us allocate without bound.
    if (ec == std::errc() && len <= (64u << 20)) t->response.body.reserve(len + kResponseBodyPadding);
  }
  t->response.headers.emplace_back(std::move(name), std::move(value));
  return size * n;
}

Status transport_error(CURLcode code, const Transfer& t, const HttpClientOptions& opts) {
  std::string what = t.request->method + " " + url_for_messages(t.request->url) + ": ";
  what += t.errbuf[0] ? t.errbuf : curl_easy_strerror(code);
  what += " (curl error " + std::to_string(static_cast<int>(code)) + ")";
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return Status::timeout(
          what + "; connect timeout " + std::to_string(opts.connect_timeout.count()) +
          " ms, request timeout " + std::to_string(opts.request_timeout.count()) + " ms");
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP3:
      return Status::unavailable(what);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return Status::permission_denied(
          what +
          "; the server's TLS certificate was not trusted (set the CA bundle with "
          "HttpClientOptions::ca_file or AWS_CA_BUNDLE)");
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Status::invalid_argument(what);
    default:
      return Status(StatusCode::kUnavailable, what, false);
  }
}

}  // namespace

struct HttpClient::Impl {
  explicit Impl(HttpClientOptions o) : options(std::move(o)) {
    global_init();
    if (options.ca_file.empty()) {
      if (const char* bundle = std::getenv("AWS_CA_BUNDLE"); bundle && *bundle)
        options.ca_file = bundle;
    }
    multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      static_cast<long>(options.max_connections_per_host));
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS,
                      static_cast<long>(options.max_connections_per_host * 4));
    curl_multi_setopt(multi, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_MULTIPLEX));
    io = std::thread([this] { run(); });
  }

  ~Impl() {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    curl_multi_wakeup(multi);
    io.join();
    for (CURL* e : idle_easies) curl_easy_cleanup(e);
    curl_multi_cleanup(multi);
  }

  void submit(std::unique_ptr<Transfer> t) {
    {
      std::lock_guard lock(mu);
      if (!stopping) {
        queued.push_back(std::move(t));
        t = nullptr;
      }
    }
    if (t) {
      t->complete(Status::cancelled("HTTP client is shutting down"));
      return;
    }
    curl_multi_wakeup(multi);
  }

  CURL* take_easy() {
    if (!idle_easies.empty()) {
      CURL* e = idle_easies.back();
      idle_easies.pop_back();
      curl_easy_reset(e);
      return e;
    }
    return curl_easy_init();
  }

  Status configure(Transfer& t) {
    CURL* e = t.easy;
    const HttpRequest& r = *t.request;
    curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(options.request_timeout.count()));
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, options.verify_tls ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, options.verify_tls ? 2L : 0L);
    if (!options.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, options.ca_file.c_str());
    if (!options.proxy.empty()) curl_easy_setopt(e, CURLOPT_PROXY, options.proxy.c_str());
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     options.enable_http2 ? static_cast<long>(CURL_HTTP_VERSION_2TLS)
                                          : static_cast<long>(CURL_HTTP_VERSION_1_1));

    const std::string& m = r.method;
    const bool has_body = !r.body.empty() || m == "POST" || m == "PUT" || m == "PATCH";
    if (m == "GET") {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (m == "HEAD") {
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
      if (m != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m.c_str());
    }
    if (has_body && m != "GET" && m != "HEAD") {
      // libcurl reads the body straight from the request: no copy.
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    }

    bool has_content_type = false, has_accept = false;
    for (const auto& [k, v] : r.headers) {
      if (k.empty() || k.find_first_of(":\r\n") != std::string::npos ||
          v.find_first_of("\r\n") != std::string::npos) {
        return Status::invalid_argument("bad HTTP header name or value for \"" + k + "\"");
      }
      has_content_type |= iequals(k, "content-type");
      has_accept |= iequals(k, "accept");
      std::string line = k + (v.empty() ? ";" : ": " + v);
      t.header_list = curl_slist_append(t.header_list, line.c_str());
    }
    // Only what the caller set (and signed) goes out: no default
    // Content-Type for bodies, no Accept, no 100-continue round trip.
    if (!has_content_type) t.header_list = curl_slist_append(t.header_list, "Content-Type:");
    if (!has_accept) t.header_list = curl_slist_append(t.header_list, "Accept:");
    if (!options.expect_continue) t.header_list = curl_slist_append(t.header_list, "Expect:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.header_list);
    return Status();
  }

  void finish(Transfer* t, CURLcode code) {
    curl_multi_remove_handle(multi, t->easy);
    std::unique_ptr<Transfer> owned = std::move(active.at(t));
    active.erase(t);
    Result<HttpResponse> result = Status::internal("unset");
    if (code == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
      t->response.status = static_cast<int>(status);
      if (t->response.body.capacity() - t->response.body.size() < kResponseBodyPadding) {
        t->response.body.reserve(t->response.body.size() + kResponseBodyPadding);
      }
      result = std::move(t->response);
    } else {
      result = transport_error(code, *t, options);
    }
    // Keep a few easy handles: they carry DNS and TLS session caches.
    if (idle_easies.size() < 64) {
      idle_easies.push_back(t->easy);
    } else {
      curl_easy_cleanup(t->easy);
    }
    t->easy = nullptr;
    completed.fetch_add(1, std::memory_order_relaxed);
    owned->complete(std::move(result));
  }

  void run() {
    std::deque<std::unique_ptr<Transfer>> incoming;
    while (true) {
      bool stop_now;
      {
        std::lock_guard lock(mu);
        incoming.swap(queued);
        stop_now = stopping;
      }
      if (stop_now) {
        for (auto& t : incoming) t->complete(Status::cancelled("HTTP client is shutting down"));
        incoming.clear();
        for (auto& [raw, t] : active) {
          curl_multi_remove_handle(multi, t->easy);
          curl_easy_cleanup(t->easy);
          t->complete(Status::cancelled("HTTP client is shutting down"));
        }
        active.clear();
        return;
      }
      for (auto& t : incoming) {
        t->easy = take_easy();
        if (!t->easy) {
          t->complete(Status::resource_exhausted("curl_easy_init failed"));
          continue;
        }
        if (Status s = configure(*t); !s.ok()) {
          idle_easies.push_back(t->easy);
          t->complete(s);
          continue;
        }
        Transfer* raw = t.get();
        active.emplace(raw, std::move(t));
        curl_multi_add_handle(multi, raw->easy);
      }
      incoming.clear();
      int running = 0;
      curl_multi_perform(multi, &running);
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
        if (msg->msg != CURLMSG_DONE) continue;
        Transfer* t = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
        finish(t, msg->data.result);
      }
      // Sleeps until a socket is ready, curl's next timeout, or a wakeup.
      curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    }
  }

  HttpClientOptions options;
  CURLM* multi = nullptr;
  std::thread io;
  std::mutex mu;
  bool stopping = false;
  std::deque<std::unique_ptr<Transfer>> queued;
  // Owned only by the I/O thread:
  std::unordered_map<Transfer*, std::unique_ptr<Transfer>> active;
  std::vector<CURL*> idle_easies;
  std::atomic<std::size_t> completed{0};
};

HttpClient::HttpClient(HttpClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpClient::~HttpClient() = default;

const HttpClientOptions& HttpClient::options() const {
  return impl_->options;
}

std::size_t HttpClient::completed_requests() const {
  return impl_->completed.load();
}

void HttpClient::async_send(HttpRequest request, asio::any_io_executor ex,
                            std::function<void(Result<HttpResponse>)> done) {
  auto t = std::make_unique<Transfer>();
  t->owned_request = std::move(request);
  t->complete = [ex = std::move(ex), done = std::move(done)](Result<HttpResponse> r) mutable {
    asio::post(ex, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  };
  impl_->submit(std::move(t));
}

asio::awaitable<Result<HttpResponse>> HttpClient::send(HttpRequest request) {
  // A plain function returning the awaitable (not a coroutine): see
  // docs/DEVELOPING.md on GCC 12.
  return asio::async_initiate<decltype(asio::use_awaitable), void(Result<HttpResponse>)>(
      [this](auto handler, HttpRequest req) {
        auto ex = asio::get_associated_executor(handler);
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        async_send(std::move(req), std::move(ex),
                   [h](Result<HttpResponse> r) mutable { std::move (*h)(std::move(r)); });
      },
      asio::use_awaitable, std::move(request));
}

asio::awaitable<Result<HttpResponse>> HttpClient::send_ref(const HttpRequest& request) {
  return asio::async_initiate<decltype(asio::use_awaitable), void(Result<HttpResponse>)>(
      [this, &request](auto handler) {
        auto ex = asio::get_associated_executor(handler);
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        auto t = std::make_unique<Transfer>();
        t->request = &request;
        t->complete = [ex = std::move(ex), h](Result<HttpResponse> r) mutable {
          asio::post(ex, [h, r = std::move(r)]() mutable { std::move(*h)(std::move(r)); });
        };
        impl_->submit(std::move(t));
      },
      asio::use_awaitable);
}

Result<HttpResponse> HttpClient::send_blocking(HttpRequest request) {
  if (std::this_thread::get_id() == impl_->io.get_id()) {
    return Status::internal("HttpClient::send_blocking called from the client's I/O thread");
  }
  std::promise<Result<HttpResponse>> promise;
  auto future = promise.get_future();
  auto t = std::make_unique<Transfer>();
  t->owned_request = std::move(request);
  t->complete = [&promise](Result<HttpResponse> r) { promise.set_value(std::move(r)); };
  impl_->submit(std::move(t));
  return future.get();
}

}  // namespace sluice::aws
