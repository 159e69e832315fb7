#include "support/test_util.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace sluice::testing {

std::string unique_name(const std::string& prefix) {
  static std::mutex mu;
  static std::mt19937_64 rng(std::random_device{}());
  std::lock_guard lock(mu);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%012llx",
                static_cast<unsigned long long>(rng() & 0xffffffffffffULL));
  return prefix + "-" + buf;
}

std::string source_dir() {
  const char* v = std::getenv("SLUICE_SOURCE_DIR");
  return v && *v ? v : SLUICE_TEST_SOURCE_DIR;
}

std::string binary_dir() {
  const char* v = std::getenv("SLUICE_BINARY_DIR");
  return v && *v ? v : SLUICE_TEST_BINARY_DIR;
}

std::string sluice_binary() {
  return binary_dir() + "/tools/sluice/sluice";
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(step);
  }
}

ScopedEnv::ScopedEnv(std::string name, std::optional<std::string> value) : name_(std::move(name)) {
  if (const char* old = std::getenv(name_.c_str())) old_ = old;
  if (value) {
    setenv(name_.c_str(), value->c_str(), 1);
  } else {
    unsetenv(name_.c_str());
  }
}

ScopedEnv::~ScopedEnv() {
  if (old_) {
    setenv(name_.c_str(), old_->c_str(), 1);
  } else {
    unsetenv(name_.c_str());
  }
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "sluice-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::filesystem::path& path, const std::string& contents) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void RecordingLogger::write(LogLevel level, std::string_view message,
                            std::span<const LogField> fields) {
  std::string line = format_logfmt(std::chrono::system_clock::now(), level, message, fields);
  std::lock_guard lock(mu_);
  lines_.push_back(std::move(line));
}

std::vector<std::string> RecordingLogger::lines() const {
  std::lock_guard lock(mu_);
  return lines_;
}

bool RecordingLogger::contains(std::string_view text) const {
  std::lock_guard lock(mu_);
  for (const auto& l : lines_) {
    if (l.find(text) != std::string::npos) return true;
  }
  return false;
}

std::string RecordingLogger::joined() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& l : lines_) out.append(l).push_back('\n');
  return out;
}

CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace sluice::testing
