// Core hot paths: metric updates (on every record) and exposition (per scrape).
#include <benchmark/benchmark.h>

#include "sluice/core/metrics.h"

namespace {

void BM_CounterInc(benchmark::State& state) {
  static sluice::MetricsRegistry registry;
  sluice::Counter& c = registry.counter("bench_counter_total", "B.", {"k"}).with({"v"});
  for (auto _ : state) c.inc();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CounterInc)->ThreadRange(1, 2);

void BM_HistogramObserve(benchmark::State& state) {
  static sluice::MetricsRegistry registry;
  sluice::Histogram& h = registry.histogram("bench_seconds", "B.").get();
  double v = 0;
  for (auto _ : state) {
    h.observe(v);
    v = v > 10 ? 0 : v + 0.013;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HistogramObserve);

void BM_Expose1000Series(benchmark::State& state) {
  sluice::MetricsRegistry registry;
  auto& fam = registry.counter("bench_series_total", "B.", {"shard"});
  for (int i = 0; i < 1000; ++i) fam.with({"shardId-" + std::to_string(i)}).inc(i);
  for (auto _ : state) benchmark::DoNotOptimize(registry.expose());
}
BENCHMARK(BM_Expose1000Series);

}  // namespace

BENCHMARK_MAIN();
