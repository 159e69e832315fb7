#include "sluice/core/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "support/test_util.h"

namespace sluice {
namespace {

TEST(Metrics, CounterGaugeBasics) {
  MetricsRegistry r;
  Counter& c = r.counter("sluice_test_records_total", "Records.", {}).get();
  c.inc();
  c.inc(2.5);
  c.inc(-10);  // ignored: counters never go down
  EXPECT_DOUBLE_EQ(c.value(), 3.5);
  Gauge& g = r.gauge("sluice_test_leases", "Leases held.", {}).get();
  g.set(4);
  g.inc();
  g.dec(2);
  EXPECT_DOUBLE_EQ(g.value(), 3);
}

TEST(Metrics, LabelledSeriesAreDistinctAndStable) {
  MetricsRegistry r;
  auto& fam = r.counter("sluice_test_calls_total", "Calls.", {"op", "outcome"});
  Counter& a = fam.with({"GetRecords", "ok"});
  Counter& b = fam.with({"GetRecords", "throttled"});
  EXPECT_NE(&a, &b);
  EXPECT_EQ(&a, &fam.with({"GetRecords", "ok"}));
  a.inc(3);
  EXPECT_DOUBLE_EQ(fam.with({"GetRecords", "ok"}).value(), 3);
}

TEST(Metrics, ReRegistrationSharesOrRejects) {
  MetricsRegistry r;
  auto& f1 = r.counter("sluice_x_total", "X.", {"a"});
  auto& f2 = r.counter("sluice_x_total", "X again.", {"a"});
  EXPECT_EQ(&f1, &f2);
  EXPECT_THROW(r.gauge("sluice_x_total", "X.", {"a"}), std::invalid_argument);
  EXPECT_THROW(r.counter("sluice_x_total", "X.", {"b"}), std::invalid_argument);
}

TEST(Metrics, RejectsBadNamesAndArity) {
  MetricsRegistry r;
  EXPECT_THROW(r.counter("9lives", "bad"), std::invalid_argument);
  EXPECT_THROW(r.counter("has-dash", "bad"), std::invalid_argument);
  EXPECT_THROW(r.counter("ok_name", "bad", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h_seconds", "bad", {"le"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h2_seconds", "bad", {}, {2, 1}), std::invalid_argument);
  auto& fam = r.counter("sluice_arity_total", "A.", {"a", "b"});
  EXPECT_THROW(fam.with({"only-one"}), std::invalid_argument);
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  MetricsRegistry r;
  Histogram& h = r.histogram("sluice_test_latency_seconds", "Latency.", {}, {0.1, 1, 10}).get();
  for (double v : {0.05, 0.1, 0.5, 2.0, 20.0}) h.observe(v);
  auto s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{2, 3, 4, 5}));  // 0.1 is "<= 0.1"
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.sum, 22.65);
}

TEST(Metrics, ExpositionExactText) {
  MetricsRegistry r;
  r.counter("sluice_records_total", "Records delivered.", {"stream", "shard"})
      .with({"orders", "shardId-000000000001"})
      .inc(12);
  r.gauge("sluice_lag_ms", "Lag with a \\ backslash\nand newline.", {"shard"})
      .with({"we\"ird\\va\nlue"})
      .set(-1.5);
  auto& h = r.histogram("sluice_call_seconds", "Call latency.", {"op"}, {0.5, 1});
  h.with({"put"}).observe(0.25);
  h.with({"put"}).observe(3);
  r.gauge("sluice_special", "Special values.", {"k"}).with({"inf"}).set(
      std::numeric_limits<double>::infinity());
  r.counter("sluice_unused_total", "Never touched.", {"x"});
  const std::string expected =
      "# HELP sluice_call_seconds Call latency.\n"
      "# TYPE sluice_call_seconds histogram\n"
      "sluice_call_seconds_bucket{op=\"put\",le=\"0.5\"} 1\n"
      "sluice_call_seconds_bucket{op=\"put\",le=\"1\"} 1\n"
      "sluice_call_seconds_bucket{op=\"put\",le=\"+Inf\"} 2\n"
      "sluice_call_seconds_sum{op=\"put\"} 3.25\n"
      "sluice_call_seconds_count{op=\"put\"} 2\n"
      "# HELP sluice_lag_ms Lag with a \\\\ backslash\\nand newline.\n"
      "# TYPE sluice_lag_ms gauge\n"
      "sluice_lag_ms{shard=\"we\\\"ird\\\\va\\nlue\"} -1.5\n"
      "# HELP sluice_records_total Records delivered.\n"
      "# TYPE sluice_records_total counter\n"
      "sluice_records_total{stream=\"orders\",shard=\"shardId-000000000001\"} 12\n"
      "# HELP sluice_special Special values.\n"
      "# TYPE sluice_special gauge\n"
      "sluice_special{k=\"inf\"} +Inf\n";
  EXPECT_EQ(r.expose(), expected);
}

// The exposition must satisfy a real Prometheus parser: promtool (Debian's
// prometheus package, installed by scripts/setup).
TEST(Metrics, PromtoolAcceptsTheExposition) {
  MetricsRegistry r;
  r.counter("sluice_records_delivered_total", "User records handed to the handler.",
            {"stream", "shard"})
      .with({"orders", "shardId-000000000001"})
      .inc(1e6);
  r.gauge("sluice_millis_behind_latest", "How far the reader is behind the tip.", {"shard"})
      .with({"a \"quoted\" \\ value"})
      .set(250);
  auto& h = r.histogram("sluice_getrecords_latency_seconds", "GetRecords latency.", {"stream"});
  for (int i = 0; i < 100; ++i) h.with({"orders"}).observe(i / 1000.0);
  r.counter("sluice_bytes_total", "Bytes.").get().inc(12345678901.0);
  testing::TempDir dir;
  testing::write_file(dir / "metrics.prom", r.expose());
  auto res = testing::run_command("promtool check metrics < " + (dir / "metrics.prom").string());
  EXPECT_EQ(res.exit_code, 0) << "promtool said:\n" << res.output << "\nfor:\n" << r.expose();
}

}  // namespace
}  // namespace sluice
