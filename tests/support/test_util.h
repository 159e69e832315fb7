// Small helpers for sluice's tests: unique names, bounded waits, temporary
// environment variables and directories, a logger that records lines.
#ifndef SLUICE_TESTS_SUPPORT_TEST_UTIL_H_
#define SLUICE_TESTS_SUPPORT_TEST_UTIL_H_

#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sluice/core/logger.h"

namespace sluice::testing {

// "<prefix>-<12 random hex digits>": names that never collide across tests
// sharing one back end.
std::string unique_name(const std::string& prefix);

// The source tree and the build tree of the tests (SLUICE_SOURCE_DIR /
// SLUICE_BINARY_DIR when set, else where CMake configured them).
std::string source_dir();
std::string binary_dir();
// The built `sluice` tool.
std::string sluice_binary();

// Polls `pred` every `step` until it holds (true) or `timeout` passes (false).
// Every wait in the tests is bounded by one of these.
bool wait_until(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(10),
                std::chrono::milliseconds step = std::chrono::milliseconds(10));

// Sets (or, with nullopt, unsets) an environment variable for a scope.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, std::optional<std::string> value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// A fresh directory, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Writes `contents` to `path`, creating parent directories.
void write_file(const std::filesystem::path& path, const std::string& contents);
std::string read_file(const std::filesystem::path& path);

// A logger that keeps every line (logfmt) for assertions.
class RecordingLogger final : public Logger {
 public:
  explicit RecordingLogger(LogLevel min = LogLevel::kTrace) : min_(min) {}
  bool enabled(LogLevel level) const override { return level >= min_; }
  void write(LogLevel level, std::string_view message, std::span<const LogField> fields) override;
  std::vector<std::string> lines() const;
  // Whether any line contains `text`.
  bool contains(std::string_view text) const;
  std::string joined() const;

 private:
  LogLevel min_;
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

// Runs a shell command, returning its exit status and combined output.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult run_command(const std::string& command);

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_TEST_UTIL_H_
