#include "demo_support.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <thread>

extern char** environ;

namespace sluice::cli::demo {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --- Child -------------------------------------------------------------------------

Child::Child(std::string name, std::vector<std::string> args, const std::string& out_path,
             const std::string& err_path)
    : name_(std::move(name)), out_path_(out_path), err_path_(err_path) {
  std::vector<std::string> argv_s;
  argv_s.push_back("/proc/self/exe");
  for (auto& a : args) argv_s.push_back(std::move(a));
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  // The exe link resolves in the parent at spawn time.
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) self[n] = 0;
  if (posix_spawn(&pid_, n > 0 ? self : "/proc/self/exe", &fa, nullptr, argv.data(), environ) != 0)
    pid_ = -1;
  posix_spawn_file_actions_destroy(&fa);
}

Child::~Child() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(5));
  }
}

bool Child::running() {
  if (pid_ <= 0 || status_ >= 0) return false;
  int st = 0;
  const pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return true;
}

void Child::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

int Child::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return status_;
}

std::string Child::last_error_line() const {
  std::ifstream in(err_path_);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

Status all_exited(std::vector<std::unique_ptr<Child>>& children) {
  if (children.empty()) return Status();
  for (auto& c : children) {
    if (c->running()) return Status();
  }
  const std::string why = children.front()->last_error_line();
  return Status::internal("every worker process exited; " + children.front()->name() +
                          " said: " + (why.empty() ? "(nothing)" : why));
}

// --- Tail ---------------------------------------------------------------------------

std::vector<std::string> Tail::new_lines() {
  std::vector<std::string> out;
  std::ifstream in(path_, std::ios::binary);
  if (!in) return out;
  in.seekg(offset_);
  std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  offset_ += static_cast<long>(chunk.size());
  partial_ += chunk;
  std::size_t start = 0, nl;
  while ((nl = partial_.find('\n', start)) != std::string::npos) {
    out.push_back(partial_.substr(start, nl - start));
    start = nl + 1;
  }
  partial_.erase(0, start);
  return out;
}

// --- View ---------------------------------------------------------------------------

View::View()
    : tty_(isatty(STDOUT_FILENO) && std::getenv("TERM") &&
           std::strcmp(std::getenv("TERM"), "dumb")) {}

View::~View() {
  finish();
}

void View::erase_block() {
  if (!tty_ || drawn_ == 0) return;
  std::printf("\x1b[%zuA\x1b[J", drawn_);  // up, then clear to the end
  drawn_ = 0;
}

void View::draw_block() {
  if (tty_) {
    for (const auto& l : block_) std::printf("%s\n", l.c_str());
    drawn_ = block_.size();
  } else if (std::chrono::steady_clock::now() - last_plain_ >= std::chrono::seconds(3)) {
    last_plain_ = std::chrono::steady_clock::now();
    for (const auto& l : block_) std::printf("  %s\n", l.c_str());
  }
  std::fflush(stdout);
}

void View::event(const std::string& line) {
  std::lock_guard lock(mu_);
  erase_block();
  std::printf("%s\n", line.c_str());
  draw_block();
}

void View::status(std::vector<std::string> lines) {
  std::lock_guard lock(mu_);
  erase_block();
  block_ = std::move(lines);
  draw_block();
}

void View::finish() {
  std::lock_guard lock(mu_);
  erase_block();
  block_.clear();
  std::fflush(stdout);
}

std::string View::bar(const std::string& label, double done, double total, int width) {
  const double f = total > 0 ? std::clamp(done / total, 0.0, 1.0) : 0.0;
  const int filled = static_cast<int>(f * width + 0.5);
  std::string s = label;
  s.resize(std::max<std::size_t>(s.size(), 12), ' ');
  s += " [" + std::string(static_cast<std::size_t>(filled), '#') +
       std::string(static_cast<std::size_t>(width - filled), '.') + "] ";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%3.0f%%  %.0f/%.0f", f * 100, done, total);
  return s + buf;
}

std::vector<std::string> View::table(const std::vector<std::string>& header,
                                     const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> w(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) w[i] = header[i].size();
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
  }
  auto fmt = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t i = 0; i < w.size(); ++i) {
      std::string c = i < cells.size() ? cells[i] : "";
      c.resize(w[i], ' ');
      line += (i ? "  " : "") + c;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line;
  };
  std::vector<std::string> out{fmt(header)};
  for (const auto& r : rows) out.push_back(fmt(r));
  return out;
}

// --- Ledger -------------------------------------------------------------------------

void Ledger::produced(const std::string& id, const std::string& key, std::int64_t order) {
  keys_[id] = {key, order};
}

void Ledger::delivered(const std::string& id, std::int64_t ms, std::int64_t seq) {
  deliveries_.push_back({ms, seq, id});
  ++counts_[id];
}

std::size_t Ledger::unique_delivered() const {
  std::size_t n = 0;
  for (const auto& [id, c] : counts_) n += keys_.count(id) > 0;
  return n;
}

Ledger::Summary Ledger::summarize() const {
  Summary s;
  s.produced = keys_.size();
  for (const auto& [id, c] : counts_) {
    if (!keys_.count(id)) {
      s.unknown += static_cast<std::size_t>(c);
      continue;
    }
    ++s.unique;
    s.duplicates += static_cast<std::size_t>(c - 1);
  }
  s.lost = s.produced - s.unique;
  // Order: per key, first deliveries (in time order) must follow the order
  // the records were produced in. Repeats after a crash are not violations.
  std::vector<Delivery> sorted = deliveries_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Delivery& a, const Delivery& b) {
    return a.ms != b.ms ? a.ms < b.ms : a.seq < b.seq;
  });
  std::set<std::string> seen;
  std::map<std::string, std::int64_t> last;
  for (const auto& d : sorted) {
    auto k = keys_.find(d.id);
    if (k == keys_.end() || !seen.insert(d.id).second) continue;
    auto it = last.find(k->second.first);
    if (it != last.end() && k->second.second < it->second) ++s.order_violations;
    last[k->second.first] =
        std::max(it == last.end() ? k->second.second : it->second, k->second.second);
  }
  return s;
}

std::string Ledger::line(const std::string& prefix, const Summary& s) {
  return prefix + ": produced " + std::to_string(s.produced) + ", delivered " +
         std::to_string(s.unique) + " unique, " + std::to_string(s.duplicates) +
         " duplicates, lost " + std::to_string(s.lost) + ", order violations " +
         std::to_string(s.order_violations);
}

}  // namespace sluice::cli::demo
