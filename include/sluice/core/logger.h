// Logger: where sluice's components report what they do, with levels and
// key/value fields. The library never writes to stdout or stderr by itself:
// the default logger discards everything, and the user picks a sink.
//
//   auto log = sluice::make_stderr_logger(sluice::LogLevel::kInfo);
//   log->info("lease taken", {{"shard", shard_id}, {"counter", counter}});
//
// Secrets: wrap a value in sluice::Redacted to have it printed as
// "[redacted]"; sinks also redact fields whose key names a secret (password,
// secret, token, authorization, signature, api key).
#ifndef SLUICE_CORE_LOGGER_H_
#define SLUICE_CORE_LOGGER_H_

#include <chrono>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/core/result.h"
#include "sluice/core/status.h"

namespace sluice {

enum class LogLevel : std::uint8_t { kTrace, kDebug, kInfo, kWarn, kError, kOff };

// "trace", "debug", "info", "warn", "error", "off".
std::string_view log_level_name(LogLevel level);
// Accepts the names above (any case) and "warning".
Result<LogLevel> parse_log_level(std::string_view text);

// A value that must never appear in logs.
struct Redacted {
  std::string_view value;
};

// Whether a field key names a secret that sinks must not print.
bool is_secret_key(std::string_view key);

// One key/value pair of a log line. The key is kept by reference (use string
// literals); the value is rendered to text when the field is made.
class LogField {
 public:
  LogField(std::string_view key, std::string_view value) : key_(key), value_(value) {}
  LogField(std::string_view key, const char* value) : key_(key), value_(value ? value : "") {}
  LogField(std::string_view key, const std::string& value) : key_(key), value_(value) {}
  LogField(std::string_view key, std::string&& value) : key_(key), value_(std::move(value)) {}
  template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, char>)
  LogField(std::string_view key, T value) : key_(key), value_(std::to_string(value)) {}
  LogField(std::string_view key, bool value) : key_(key), value_(value ? "true" : "false") {}
  LogField(std::string_view key, double value);
  LogField(std::string_view key, const Status& status) : key_(key), value_(status.to_string()) {}
  // Durations print as "1.5s", "250ms", "80us".
  LogField(std::string_view key, std::chrono::nanoseconds duration);
  LogField(std::string_view key, Redacted) : key_(key), value_("[redacted]") {}

  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }

 private:
  std::string_view key_;
  std::string value_;
};

class Logger {
 public:
  virtual ~Logger() = default;

  // Whether a line at `level` would be written; check it before building
  // expensive fields on hot paths.
  virtual bool enabled(LogLevel level) const = 0;
  // Writes one line. Implementations must be thread-safe.
  virtual void write(LogLevel level, std::string_view message,
                     std::span<const LogField> fields) = 0;

  void log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {}) {
    if (enabled(level)) write(level, message, std::span<const LogField>(fields.begin(), fields.size()));
  }
  void trace(std::string_view m, std::initializer_list<LogField> f = {}) { log(LogLevel::kTrace, m, f); }
  void debug(std::string_view m, std::initializer_list<LogField> f = {}) { log(LogLevel::kDebug, m, f); }
  void info(std::string_view m, std::initializer_list<LogField> f = {}) { log(LogLevel::kInfo, m, f); }
  void warn(std::string_view m, std::initializer_list<LogField> f = {}) { log(LogLevel::kWarn, m, f); }
  void error(std::string_view m, std::initializer_list<LogField> f = {}) { log(LogLevel::kError, m, f); }
};

// Discards everything. The default for every component.
std::shared_ptr<Logger> make_noop_logger();

// Writes logfmt lines to stderr:
//   ts=2026-11-23T20:12:00.123Z level=info msg="lease taken" shard=shardId-000000000001
std::shared_ptr<Logger> make_stderr_logger(LogLevel min_level = LogLevel::kInfo);

// A logger that adds `fields` (e.g. component=kinesis.consumer) to every line
// and passes it on to `inner`.
std::shared_ptr<Logger> with_fields(std::shared_ptr<Logger> inner,
                                    std::vector<std::pair<std::string, std::string>> fields);

// Renders one logfmt line (without newline), redacting secret keys; what the
// stderr sink writes, for sinks of your own.
std::string format_logfmt(std::chrono::system_clock::time_point ts, LogLevel level,
                          std::string_view message, std::span<const LogField> fields);

}  // namespace sluice

#endif  // SLUICE_CORE_LOGGER_H_
