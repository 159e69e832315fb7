// ShutdownSignals: turns SIGINT and SIGTERM into a stop request, the way a
// service built on sluice shuts down gracefully.
//
//   std::stop_source stop;
//   sluice::ShutdownSignals signals(stop);   // Ctrl-C or TERM -> stop.request_stop()
//   consumer.start(stop.get_token());        // returns after a graceful shutdown
//
// A second signal while shutting down exits the process at once (exit code
// 128 + signal), for the operator who does not want to wait.
#ifndef SLUICE_CORE_SHUTDOWN_SIGNALS_H_
#define SLUICE_CORE_SHUTDOWN_SIGNALS_H_

#include <atomic>
#include <csignal>
#include <initializer_list>
#include <memory>
#include <stop_token>

namespace sluice {

class ShutdownSignals {
 public:
  explicit ShutdownSignals(std::stop_source source,
                           std::initializer_list<int> signals = {SIGINT, SIGTERM},
                           bool exit_on_second_signal = true);
  // Stops listening; the default dispositions come back.
  ~ShutdownSignals();
  ShutdownSignals(const ShutdownSignals&) = delete;
  ShutdownSignals& operator=(const ShutdownSignals&) = delete;

  // The first signal received, or 0.
  int received() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice

#endif  // SLUICE_CORE_SHUTDOWN_SIGNALS_H_
