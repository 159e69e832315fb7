// A program that uses the installed sluice: proves headers, libraries and
// package files fit together.
#include <cstdio>

#include "sluice/core/backoff.h"
#include "sluice/core/executor.h"
#include "sluice/core/metrics.h"
#include "sluice/version.h"

int main() {
  sluice::MetricsRegistry registry;
  registry.counter("consumer_runs_total", "Runs.").get().inc();
  sluice::Backoff backoff(sluice::RetryPolicy::exponential(std::chrono::milliseconds(100),
                                                           std::chrono::seconds(30), 5));
  sluice::ThreadPool pool(1);
  int v = sluice::run_blocking(pool.executor(), []() -> asio::awaitable<int> { co_return 42; }());
  if (v != 42 || !backoff.next() || registry.expose().find("consumer_runs_total 1") == std::string::npos) {
    std::puts("sluice consumer broken");
    return 1;
  }
  std::printf("sluice consumer ok (sluice %s)\n", sluice::version());
  return 0;
}
