#include "sluice/core/metrics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace sluice {
namespace {

bool valid_metric_name(std::string_view n) {
  if (n.empty()) return false;
  auto first = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; };
  if (!first(n[0])) return false;
  return std::all_of(n.begin() + 1, n.end(), [&](char c) {
    return first(c) || std::isdigit(static_cast<unsigned char>(c));
  });
}

bool valid_label_name(std::string_view n) {
  if (n.empty() || n.starts_with("__")) return false;
  auto first = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; };
  if (!first(n[0])) return false;
  return std::all_of(n.begin() + 1, n.end(), [&](char c) {
    return first(c) || std::isdigit(static_cast<unsigned char>(c));
  });
}

void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out.append("NaN");
  } else if (std::isinf(v)) {
    out.append(v > 0 ? "+Inf" : "-Inf");
  } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    out.append(buf);
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    out.append(buf);
  }
}

void append_escaped(std::string& out, std::string_view v, bool quote_escape) {
  for (char c : v) {
    if (c == '\\') {
      out.append("\\\\");
    } else if (c == '\n') {
      out.append("\\n");
    } else if (c == '"' && quote_escape) {
      out.append("\\\"");
    } else {
      out.push_back(c);
    }
  }
}

// {a="x",b="y"} with an optional extra label (histogram "le").
void append_labels(std::string& out, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out.push_back('{');
  bool first = true;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!first) out.push_back(',');
    first = false;
    out.append(names[i]).append("=\"");
    append_escaped(out, values[i], true);
    out.push_back('"');
  }
  if (!extra_name.empty()) {
    if (!first) out.push_back(',');
    out.append(extra_name).append("=\"").append(extra_value).push_back('"');
  }
  out.push_back('}');
}

void append_header(std::string& out, const metrics_internal::FamilyBase& f, std::string_view type) {
  out.append("# HELP ").append(f.name()).push_back(' ');
  append_escaped(out, f.help(), false);
  out.append("\n# TYPE ").append(f.name()).push_back(' ');
  out.append(type).push_back('\n');
}

std::string_view type_name(MetricType t) {
  switch (t) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

// --- Histogram ---------------------------------------------------------------

Histogram::Histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_->size() + 1)) {}

void Histogram::observe(double v) {
  const auto& b = *bounds_;
  const std::size_t i = std::lower_bound(b.begin(), b.end(), v) - b.begin();  // first bound >= v
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = *bounds_;
  s.cumulative.resize(bounds_->size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_->size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  // Concurrent observes may land between the loads; keep the exposition
  // self-consistent by deriving the count from the buckets read.
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> default_latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
  std::vector<double> out;
  double v = start;
  for (int i = 0; i < count; ++i, v *= factor) out.push_back(v);
  return out;
}

// --- families ------------------------------------------------------------------

namespace metrics_internal {

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
                       MetricType type)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)),
      type_(type) {}

void FamilyBase::check_arity(std::size_t n) const {
  if (n != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + " has " + std::to_string(label_names_.size()) +
                                " labels, got " + std::to_string(n) + " values");
  }
}

}  // namespace metrics_internal

template <class Metric>
Metric& MetricFamily<Metric>::with(std::vector<std::string> label_values) {
  check_arity(label_values.size());
  std::lock_guard lock(mu_);
  auto it = series_.find(label_values);
  if (it != series_.end()) return *it->second;
  std::unique_ptr<Metric> m;
  if constexpr (std::is_same_v<Metric, Histogram>) {
    m = std::make_unique<Histogram>(bounds_);
  } else {
    m = std::make_unique<Metric>();
  }
  Metric& ref = *m;
  series_.emplace(std::move(label_values), std::move(m));
  return ref;
}

template <class Metric>
void MetricFamily<Metric>::expose(std::string& out) const {
  std::lock_guard lock(mu_);
  if (series_.empty()) return;  // a family with no series says nothing
  append_header(out, *this, type_name(type_));
  for (const auto& [values, metric] : series_) {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      const Histogram::Snapshot s = metric->snapshot();
      for (std::size_t i = 0; i <= s.bounds.size(); ++i) {
        std::string le;
        if (i == s.bounds.size()) {
          le = "+Inf";
        } else {
          append_number(le, s.bounds[i]);
        }
        out.append(name_).append("_bucket");
        append_labels(out, label_names_, values, "le", le);
        out.push_back(' ');
        append_number(out, static_cast<double>(s.cumulative[i]));
        out.push_back('\n');
      }
      out.append(name_).append("_sum");
      append_labels(out, label_names_, values);
      out.push_back(' ');
      append_number(out, s.sum);
      out.push_back('\n');
      out.append(name_).append("_count");
      append_labels(out, label_names_, values);
      out.push_back(' ');
      append_number(out, static_cast<double>(s.count));
      out.push_back('\n');
    } else {
      out.append(name_);
      append_labels(out, label_names_, values);
      out.push_back(' ');
      append_number(out, metric->value());
      out.push_back('\n');
    }
  }
}

template class MetricFamily<Counter>;
template class MetricFamily<Gauge>;
template class MetricFamily<Histogram>;

// --- registry ----------------------------------------------------------------

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

template <class Family>
Family& MetricsRegistry::add(std::string_view name, std::string_view help,
                             std::vector<std::string> labels, MetricType type,
                             std::vector<double>* bounds) {
  if (!valid_metric_name(name)) {
    throw std::invalid_argument("invalid metric name \"" + std::string(name) + "\"");
  }
  for (const auto& l : labels) {
    if (!valid_label_name(l) || (type == MetricType::kHistogram && l == "le")) {
      throw std::invalid_argument("metric " + std::string(name) + ": invalid label name \"" + l + "\"");
    }
  }
  if (bounds) {
    if (bounds->empty() || !std::is_sorted(bounds->begin(), bounds->end()) ||
        std::adjacent_find(bounds->begin(), bounds->end()) != bounds->end()) {
      throw std::invalid_argument("histogram " + std::string(name) +
                                  ": bucket bounds must be non-empty and strictly increasing");
    }
    if (std::isinf(bounds->back())) bounds->pop_back();  // +Inf is implicit
  }
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    auto* existing = dynamic_cast<Family*>(it->second.get());
    if (!existing || existing->type() != type || existing->label_names() != labels) {
      throw std::invalid_argument("metric " + std::string(name) +
                                  " is already registered with another type or other labels");
    }
    return *existing;
  }
  auto family = std::make_unique<Family>(std::string(name), std::string(help), std::move(labels), type);
  if (bounds) family->bounds_ = std::make_shared<const std::vector<double>>(std::move(*bounds));
  Family& ref = *family;
  families_.emplace(std::string(name), std::move(family));
  return ref;
}

CounterFamily& MetricsRegistry::counter(std::string_view name, std::string_view help,
                                        std::vector<std::string> label_names) {
  return add<CounterFamily>(name, help, std::move(label_names), MetricType::kCounter, nullptr);
}

GaugeFamily& MetricsRegistry::gauge(std::string_view name, std::string_view help,
                                    std::vector<std::string> label_names) {
  return add<GaugeFamily>(name, help, std::move(label_names), MetricType::kGauge, nullptr);
}

HistogramFamily& MetricsRegistry::histogram(std::string_view name, std::string_view help,
                                            std::vector<std::string> label_names,
                                            std::vector<double> bounds) {
  return add<HistogramFamily>(name, help, std::move(label_names), MetricType::kHistogram, &bounds);
}

std::string MetricsRegistry::expose() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& [name, family] : families_) family->expose(out);
  return out;
}

MetricsRegistry& MetricsRegistry::global() {
  static MetricsRegistry* registry = new MetricsRegistry();  // never destroyed: used at exit
  return *registry;
}

}  // namespace sluice
