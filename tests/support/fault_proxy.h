// FaultProxy: a loopback HTTP/1.1 reverse proxy that forwards requests to a
// real back end (kinesalite, dynalite, s3rver) and injects faults by rule:
// throttling and error replies, connection resets, latency, and truncated
// bodies. The emulators never throttle or fail; this is how the tests make
// them.
//
//   FaultProxy proxy(Backends::get().kinesis_endpoint);
//   proxy.add_rule(FaultProxy::throttle("GetRecords", /*times=*/3));
//   client_options.endpoint = proxy.url();
#ifndef SLUICE_TESTS_SUPPORT_FAULT_PROXY_H_
#define SLUICE_TESTS_SUPPORT_FAULT_PROXY_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sluice::testing {

struct FaultRule {
  enum class Action {
    kReply,     // answer with `status`/`body`/`headers` without forwarding
    kReset,     // close the client connection without answering (RST)
    kDelay,     // wait `delay`, then forward
    kTruncate,  // forward, but send only `truncate_after` bytes of the body, then close
    kStall,     // accept and read the request, never answer (until the proxy stops)
  };
  // Which requests match: every non-empty criterion must hold.
  std::string target_contains;  // substring of X-Amz-Target ("GetRecords")
  std::string method;           // "PUT"
  std::string path_prefix;      // "/bucket/"
  std::string body_contains;    // substring of the request body
  // Let this many matching requests through first, then fault `times` of
  // them (-1: every one after that).
  int skip = 0;
  int times = 1;

  Action action = Action::kReply;
  int status = 500;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay{0};
  std::size_t truncate_after = 0;
};

class FaultProxy {
 public:
  // `upstream`: "http://127.0.0.1:PORT". Listens on 127.0.0.1, a free port.
  explicit FaultProxy(const std::string& upstream);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  std::string url() const;
  std::uint16_t port() const;

  void add_rule(FaultRule rule);
  void clear_rules();

  // Requests received (faulted or not) and faults injected so far.
  int requests() const;
  int faults() const;
  // Client connections accepted so far (keep-alive reuse shows as few).
  int connections() const;
  // Requests received whose X-Amz-Target contains `target`.
  int requests_for(const std::string& target) const;

  // AWS JSON-protocol replies, as the real services send them.
  static FaultRule throttle(std::string target, int times,
                            std::string type = "ProvisionedThroughputExceededException");
  static FaultRule server_error(std::string target, int times, int status = 500);
  static FaultRule aws_error(std::string target, int times, int status, std::string type,
                             std::string message);
  static FaultRule reset(std::string target, int times);
  static FaultRule delay(std::string target, int times, std::chrono::milliseconds d);
  static FaultRule truncate(std::string target, int times, std::size_t after_bytes);
  static FaultRule stall(std::string target, int times);

  struct Impl;  // the proxy's state, shared with its coroutines

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_FAULT_PROXY_H_
