#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "sluice/core/metrics.h"

namespace sluice {
namespace {

TEST(MetricsConcurrency, ParallelIncrementsAndScrapesAgree) {
  MetricsRegistry r;
  auto& fam = r.counter("sluice_conc_total", "C.", {"worker"});
  auto& hist = r.histogram("sluice_conc_seconds", "H.", {}, {0.5});
  constexpr int kThreads = 4, kPer = 20000;
  std::vector<std::thread> threads;
  std::atomic<bool> stop{false};
  std::thread scraper([&] {
    while (!stop) (void)r.expose();  // scrapes race the writers
  });
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        fam.with({std::to_string(i % 3)}).inc();  // lookups race too
        hist.get().observe(t % 2 ? 0.1 : 1.0);
      }
    });
  }
  for (auto& th : threads) th.join();
  stop = true;
  scraper.join();
  double total = 0;
  for (int w = 0; w < 3; ++w) total += fam.with({std::to_string(w)}).value();
  EXPECT_DOUBLE_EQ(total, kThreads * kPer);
  auto s = hist.get().snapshot();
  EXPECT_EQ(s.count, static_cast<std::uint64_t>(kThreads * kPer));
  EXPECT_EQ(s.cumulative[0], static_cast<std::uint64_t>(kThreads / 2 * kPer));
}

}  // namespace
}  // namespace sluice
