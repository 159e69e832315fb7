// Metrics: counters, gauges and histograms with labels, kept in a registry and
// exposed in the Prometheus text format (version 0.0.4).
//
//   auto& records = registry.counter("sluice_records_delivered_total",
//                                    "User records handed to the handler", {"stream", "shard"});
//   Counter& c = records.with({"orders", "shardId-000000000001"});  // keep this reference
//   c.inc();
//
// Looking a series up takes a lock; incrementing one does not. Components look
// their series up once and keep the references, which stay valid for the
// registry's lifetime.
//
// Components take a `MetricsRegistry*` in their options; null means
// MetricsRegistry::global(). Registering a name twice with the same type and
// label names returns the existing family (so several consumers in a process
// share series); any other re-registration throws std::invalid_argument, as
// does a malformed name or a wrong number of label values: those are bugs in
// the calling code, not runtime conditions.
#ifndef SLUICE_CORE_METRICS_H_
#define SLUICE_CORE_METRICS_H_

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

class Counter {
 public:
  // Adds `v` (must be >= 0; negative values are ignored, counters only go up).
  void inc(double v = 1.0) {
    if (v > 0) value_.fetch_add(v, std::memory_order_relaxed);
  }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void inc(double v = 1.0) { value_.fetch_add(v, std::memory_order_relaxed); }
  void dec(double v = 1.0) { value_.fetch_sub(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  // `bounds`: strictly increasing upper bounds; +Inf is implicit.
  explicit Histogram(std::shared_ptr<const std::vector<double>> bounds);

  void observe(double v);

  struct Snapshot {
    std::vector<double> bounds;             // upper bounds, without +Inf
    std::vector<std::uint64_t> cumulative;  // count <= each bound, then the +Inf total
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::shared_ptr<const std::vector<double>> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bucket, not cumulative
  std::atomic<double> sum_{0.0};
  std::atomic<std::uint64_t> count_{0};
};

// Seconds: 1 ms .. 60 s, for request and processing latencies.
std::vector<double> default_latency_buckets();
// `count` bounds start, start*factor, start*factor^2, ...
std::vector<double> exponential_buckets(double start, double factor, int count);

enum class MetricType { kCounter, kGauge, kHistogram };

namespace metrics_internal {
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
             MetricType type);
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  MetricType type() const { return type_; }
  virtual void expose(std::string& out) const = 0;

 protected:
  void check_arity(std::size_t n) const;
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  MetricType type_;
  mutable std::mutex mu_;
};
}  // namespace metrics_internal

// All series of one metric name, one per combination of label values.
template <class Metric>
class MetricFamily final : public metrics_internal::FamilyBase {
 public:
  using FamilyBase::FamilyBase;

  // The series for these label values, in the order of label_names(); made
  // on first use.
  Metric& with(std::initializer_list<std::string_view> label_values) {
    return with(std::vector<std::string>(label_values.begin(), label_values.end()));
  }
  Metric& with(std::vector<std::string> label_values);
  // The only series of a family without labels.
  Metric& get() { return with(std::vector<std::string>{}); }

  void expose(std::string& out) const override;

 private:
  friend class MetricsRegistry;
  std::shared_ptr<const std::vector<double>> bounds_;  // histograms only
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_;
};

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  CounterFamily& counter(std::string_view name, std::string_view help,
                         std::vector<std::string> label_names = {});
  GaugeFamily& gauge(std::string_view name, std::string_view help,
                     std::vector<std::string> label_names = {});
  HistogramFamily& histogram(std::string_view name, std::string_view help,
                             std::vector<std::string> label_names = {},
                             std::vector<double> bounds = default_latency_buckets());

  // Every family, sorted by name, in the Prometheus text exposition format.
  std::string expose() const;

  // The process-wide registry that components use unless told otherwise.
  static MetricsRegistry& global();

 private:
  template <class Family>
  Family& add(std::string_view name, std::string_view help, std::vector<std::string> labels,
              MetricType type, std::vector<double>* bounds);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<metrics_internal::FamilyBase>, std::less<>> families_;
};

// The registry to use for a component given `registry` from its options.
inline MetricsRegistry& registry_or_global(MetricsRegistry* registry) {
  return registry ? *registry : MetricsRegistry::global();
}

}  // namespace sluice

#endif  // SLUICE_CORE_METRICS_H_
