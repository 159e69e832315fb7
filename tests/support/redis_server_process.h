// Processes the Redis tests run themselves: a redis-server of the test's own
// (so it can be restarted on the same port mid-test, or configured with a
// password or ACL users), and child processes (clients to SIGKILL or SIGSTOP).
#ifndef SLUICE_TESTS_SUPPORT_REDIS_SERVER_PROCESS_H_
#define SLUICE_TESTS_SUPPORT_REDIS_SERVER_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/test_util.h"

namespace sluice::testing {

struct RedisServerOptions {
  // notify-keyspace-events setting ("" = none).
  std::string notify_keyspace_events = "KEx";
  // requirepass; also used to AUTH the helper's own commands.
  std::string password;
  // More redis.conf lines.
  std::vector<std::string> extra_config;
};

// A redis-server bound to 127.0.0.1 on a free port, in a temporary directory,
// without automatic persistence. stop(save=true) + start() keeps the data
// (SHUTDOWN SAVE writes dump.rdb, the next start loads it).
class RedisServerProcess {
 public:
  explicit RedisServerProcess(RedisServerOptions options = {});
  // Kills the server.
  ~RedisServerProcess();
  RedisServerProcess(const RedisServerProcess&) = delete;
  RedisServerProcess& operator=(const RedisServerProcess&) = delete;

  std::uint16_t port() const { return port_; }
  // redis://127.0.0.1:<port> (with the password if one is set).
  std::string url() const;
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // Starts (again) on the same port; throws std::runtime_error if it does not come up.
  void start();
  // SHUTDOWN SAVE (keep_data) or NOSAVE, and waits for the process to exit.
  void stop(bool keep_data = true);
  void restart(bool keep_data = true) {
    stop(keep_data);
    start();
  }
  // SIGKILL, no save.
  void kill();
  // Sends one command over a raw connection and returns the raw RESP reply.
  std::string raw_command(const std::vector<std::string>& args) const;

 private:
  RedisServerOptions options_;
  TempDir dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// A child process with its stdout (and stderr) collected line by line.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv,
               std::vector<std::pair<std::string, std::string>> env = {});
  // SIGKILLs the child if still running, then reaps it.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Writes to the child's stdin.
  void write_stdin(const std::string& text);
  // Every line printed so far.
  std::vector<std::string> lines() const;
  // Waits until a line satisfies `pred`; true if one did within `timeout`.
  bool wait_for_line(const std::function<bool(const std::string&)>& pred,
                     std::chrono::milliseconds timeout);
  bool wait_for_line_containing(const std::string& text, std::chrono::milliseconds timeout) {
    return wait_for_line([&](const std::string& l) { return l.find(text) != std::string::npos; },
                         timeout);
  }
  // Waits for the child to exit; its exit status (128+signal if killed), or -1 on timeout.
  int wait(std::chrono::milliseconds timeout);

 private:
  void read_loop(int fd);
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int exit_status_ = -1;
  bool reaped_ = false;
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_REDIS_SERVER_PROCESS_H_
