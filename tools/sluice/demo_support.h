// Pieces the demo's acts share: child processes, a live terminal view, and
// the delivery ledger that turns what workers printed into the summary line.
#ifndef SLUICE_TOOLS_SLUICE_DEMO_SUPPORT_H_
#define SLUICE_TOOLS_SLUICE_DEMO_SUPPORT_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "sluice/core/status.h"

namespace sluice::cli::demo {

// Microseconds since the epoch: workers stamp deliveries with it so that the
// ledger can merge several processes' outputs in time order.
std::int64_t now_us();

// This program again (/proc/self/exe) with other arguments, its stdout and
// stderr in files; killed (SIGKILL) if still running when destroyed.
class Child {
 public:
  Child(std::string name, std::vector<std::string> args, const std::string& out_path,
        const std::string& err_path);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // Exit status (128 + signal when killed), or -1 if still running after `timeout`.
  int wait(std::chrono::milliseconds timeout);
  const std::string& out_path() const { return out_path_; }
  // The last non-empty line it wrote to stderr (why it stopped, usually).
  std::string last_error_line() const;

 private:
  std::string name_;
  std::string out_path_;
  std::string err_path_;
  pid_t pid_ = -1;
  int status_ = -1;
};

// An error naming why, when every child has exited (a misconfigured back end,
// usually): the act cannot finish, so it should not wait for its timeout.
Status all_exited(std::vector<std::unique_ptr<Child>>& children);

// Reads lines appended to a file since the last call.
class Tail {
 public:
  explicit Tail(std::string path) : path_(std::move(path)) {}
  std::vector<std::string> new_lines();

 private:
  std::string path_;
  long offset_ = 0;
  std::string partial_;
};

// The live view: a block of status lines redrawn in place on a terminal,
// plain lines every few seconds otherwise. Events are printed above it and
// stay.
class View {
 public:
  View();
  ~View();
  bool tty() const { return tty_; }
  void event(const std::string& line);
  // Replaces the block (progress bars and tables, one string per line).
  void status(std::vector<std::string> lines);
  // Erases the block (before the summary).
  void finish();

  static std::string bar(const std::string& label, double done, double total, int width = 30);
  static std::vector<std::string> table(const std::vector<std::string>& header,
                                        const std::vector<std::vector<std::string>>& rows);

 private:
  void erase_block();
  void draw_block();
  bool tty_;
  std::mutex mu_;
  std::vector<std::string> block_;
  std::size_t drawn_ = 0;
  std::chrono::steady_clock::time_point last_plain_{};
};

// What was produced and what workers delivered, checked at the end.
class Ledger {
 public:
  // A produced record: `key` (partition key / stream / message key) and its
  // position in that key's order (0, 1, 2, ...).
  void produced(const std::string& id, const std::string& key, std::int64_t order);
  // A delivery, as a worker reported it (at `us`, in file order `seq`).
  void delivered(const std::string& id, std::int64_t ms, std::int64_t seq);

  struct Summary {
    std::size_t produced = 0;
    std::size_t unique = 0;
    std::size_t duplicates = 0;
    std::size_t lost = 0;
    std::size_t order_violations = 0;
    std::size_t unknown = 0;  // delivered ids nobody produced
    bool ok() const { return lost == 0 && order_violations == 0 && unknown == 0; }
  };
  Summary summarize() const;
  std::size_t unique_delivered() const;
  std::size_t produced_count() const { return keys_.size(); }

  // "<prefix>: produced N, delivered N unique, D duplicates, lost L, order violations V"
  static std::string line(const std::string& prefix, const Summary& s);

 private:
  std::map<std::string, std::pair<std::string, std::int64_t>> keys_;  // id -> (key, order)
  struct Delivery {
    std::int64_t ms;
    std::int64_t seq;
    std::string id;
  };
  std::vector<Delivery> deliveries_;
  std::map<std::string, int> counts_;
};

}  // namespace sluice::cli::demo

#endif  // SLUICE_TOOLS_SLUICE_DEMO_SUPPORT_H_
