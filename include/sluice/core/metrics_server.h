// MetricsServer: a small HTTP endpoint that serves a MetricsRegistry in the
// Prometheus text format, for a Prometheus server (or curl) to scrape.
//
//   auto server = sluice::MetricsServer::start(registry, {.port = 9102});
//   if (!server.ok()) return server.status();
//   // http://127.0.0.1:9102/metrics
//
// It answers GET (and HEAD) on `path` with the exposition and 404 elsewhere,
// one request per connection, on a thread of its own.
#ifndef SLUICE_CORE_METRICS_SERVER_H_
#define SLUICE_CORE_METRICS_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "sluice/core/metrics.h"
#include "sluice/core/result.h"

namespace sluice {

struct MetricsServerOptions {
  // Loopback by default; "0.0.0.0" exposes it to scrapers on other hosts.
  std::string bind_address = "127.0.0.1";
  // 0 lets the kernel pick a free port (read it back with port()).
  std::uint16_t port = 0;
  std::string path = "/metrics";
};

class MetricsServer {
 public:
  // Binds and starts serving, or fails with the cause (bad address, port in use).
  static Result<std::unique_ptr<MetricsServer>> start(MetricsRegistry& registry,
                                                      MetricsServerOptions options = {});
  virtual ~MetricsServer() = default;

  virtual std::uint16_t port() const = 0;
  // "http://127.0.0.1:9102/metrics"
  virtual std::string url() const = 0;
  // Stops accepting and joins the thread; also done by the destructor.
  virtual void stop() = 0;
};

}  // namespace sluice

#endif  // SLUICE_CORE_METRICS_SERVER_H_
