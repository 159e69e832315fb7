#include "sluice/core/logger.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace sluice {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (iequals(hay.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
  }
  return false;
}

void append_value(std::string& out, std::string_view v) {
  if (!needs_quotes(v)) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (char c : v) {
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
          out.append(buf);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

class NoopLogger final : public Logger {
 public:
  bool enabled(LogLevel) const override { return false; }
  void write(LogLevel, std::string_view, std::span<const LogField>) override {}
};

class StderrLogger final : public Logger {
 public:
  explicit StderrLogger(LogLevel min) : min_(min) {}
  bool enabled(LogLevel level) const override { return level >= min_ && level != LogLevel::kOff; }
  void write(LogLevel level, std::string_view message, std::span<const LogField> fields) override {
    std::string line = format_logfmt(std::chrono::system_clock::now(), level, message, fields);
    line.push_back('\n');
    std::lock_guard lock(mu_);  // whole lines, never interleaved
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  }

 private:
  LogLevel min_;
  std::mutex mu_;
};

class FieldsLogger final : public Logger {
 public:
  FieldsLogger(std::shared_ptr<Logger> inner, std::vector<std::pair<std::string, std::string>> f)
      : inner_(std::move(inner)), fields_(std::move(f)) {}
  bool enabled(LogLevel level) const override { return inner_->enabled(level); }
  void write(LogLevel level, std::string_view message, std::span<const LogField> fields) override {
    std::vector<LogField> all;
    all.reserve(fields_.size() + fields.size());
    for (const auto& [k, v] : fields_) all.emplace_back(k, std::string_view(v));
    all.insert(all.end(), fields.begin(), fields.end());
    inner_->write(level, message, all);
  }

 private:
  std::shared_ptr<Logger> inner_;
  std::vector<std::pair<std::string, std::string>> fields_;
};

}  // namespace

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return "trace";
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
    case LogLevel::kOff: return "off";
  }
  return "unknown";
}

Result<LogLevel> parse_log_level(std::string_view text) {
  for (LogLevel l : {LogLevel::kTrace, LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn,
                     LogLevel::kError, LogLevel::kOff}) {
    if (iequals(text, log_level_name(l))) return l;
  }
  if (iequals(text, "warning")) return LogLevel::kWarn;
  return Status::invalid_argument("unknown log level \"" + std::string(text) +
                                  "\" (expected trace, debug, info, warn, error or off)");
}

bool is_secret_key(std::string_view key) {
  for (std::string_view s : {"password", "passwd", "secret", "token", "authorization",
                             "signature", "api_key", "apikey", "private_key"}) {
    if (icontains(key, s)) return true;
  }
  return false;
}

LogField::LogField(std::string_view key, double value) : key_(key) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", value);
  value_ = buf;
}

LogField::LogField(std::string_view key, std::chrono::nanoseconds d) : key_(key) {
  char buf[32];
  const double ns = static_cast<double>(d.count());
  if (d >= std::chrono::seconds(1) || d <= -std::chrono::seconds(1)) {
    std::snprintf(buf, sizeof buf, "%gs", ns / 1e9);
  } else if (d >= std::chrono::milliseconds(1) || d <= -std::chrono::milliseconds(1)) {
    std::snprintf(buf, sizeof buf, "%gms", ns / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%gus", ns / 1e3);
  }
  value_ = buf;
}

std::string format_logfmt(std::chrono::system_clock::time_point ts, LogLevel level,
                          std::string_view message, std::span<const LogField> fields) {
  std::string out;
  out.reserve(64 + message.size() + fields.size() * 24);
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(ts);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(ts - secs).count();
  const std::time_t t = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  out.append(buf);
  out.append(" level=").append(log_level_name(level));
  out.append(" msg=");
  append_value(out, message);
  for (const LogField& f : fields) {
    out.push_back(' ');
    out.append(f.key()).push_back('=');
    append_value(out, is_secret_key(f.key()) ? std::string_view("[redacted]") : f.value());
  }
  return out;
}

std::shared_ptr<Logger> make_noop_logger() {
  static const std::shared_ptr<Logger> logger = std::make_shared<NoopLogger>();
  return logger;
}

std::shared_ptr<Logger> make_stderr_logger(LogLevel min_level) {
  return std::make_shared<StderrLogger>(min_level);
}

std::shared_ptr<Logger> with_fields(std::shared_ptr<Logger> inner,
                                    std::vector<std::pair<std::string, std::string>> fields) {
  if (!inner) inner = make_noop_logger();
  return std::make_shared<FieldsLogger>(std::move(inner), std::move(fields));
}

}  // namespace sluice
