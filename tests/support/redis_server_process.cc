#include "support/redis_server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

extern char** environ;

namespace sluice::testing {
namespace {

std::uint16_t pick_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind a free port");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

int connect_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

std::string resp(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

// Reads whatever arrives until a short quiet period (good enough for simple replies).
std::string read_some(int fd) {
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() >= 2 && out.substr(out.size() - 2) == "\r\n") break;
  }
  return out;
}

std::vector<char*> c_argv(std::vector<std::string>& args) {
  std::vector<char*> out;
  for (auto& a : args) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

RedisServerProcess::RedisServerProcess(RedisServerOptions options) : options_(std::move(options)) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = pick_free_port();
    try {
      start();
      return;
    } catch (const std::exception&) {
      if (attempt == 4) throw;
    }
  }
}

RedisServerProcess::~RedisServerProcess() {
  kill();
}

std::string RedisServerProcess::url() const {
  std::string auth = options_.password.empty() ? "" : ":" + options_.password + "@";
  return "redis://" + auth + "127.0.0.1:" + std::to_string(port_);
}

void RedisServerProcess::start() {
  if (pid_ > 0) return;
  std::string conf =
      "bind 127.0.0.1\nport " + std::to_string(port_) + "\ndir " + dir_.path().string() +
      "\ndbfilename dump.rdb\nsave \"\"\nappendonly no\ndaemonize no\nprotected-mode yes\n"
      "loglevel warning\nlogfile " +
      (dir_ / "redis.log").string() + "\n";
  if (!options_.notify_keyspace_events.empty()) {
    conf += "notify-keyspace-events " + options_.notify_keyspace_events + "\n";
  }
  if (!options_.password.empty()) conf += "requirepass " + options_.password + "\n";
  for (const auto& line : options_.extra_config) conf += line + "\n";
  write_file(dir_ / "redis.conf", conf);

  std::vector<std::string> args{"redis-server", (dir_ / "redis.conf").string()};
  auto argv = c_argv(args);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  if (posix_spawnp(&pid, "redis-server", &actions, nullptr, argv.data(), environ) != 0) {
    posix_spawn_file_actions_destroy(&actions);
    throw std::runtime_error("cannot start redis-server (is it installed?)");
  }
  posix_spawn_file_actions_destroy(&actions);
  pid_ = pid;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("redis-server exited at start on port " + std::to_string(port_));
    }
    std::vector<std::string> ping{"PING"};
    std::string reply = raw_command(ping);
    if (reply.rfind("+PONG", 0) == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill();
  throw std::runtime_error("redis-server did not answer on port " + std::to_string(port_));
}

std::string RedisServerProcess::raw_command(const std::vector<std::string>& args) const {
  int fd = connect_to(port_);
  if (fd < 0) return "";
  std::string out;
  if (!options_.password.empty()) {
    std::string auth = resp({"AUTH", options_.password});
    ::send(fd, auth.data(), auth.size(), MSG_NOSIGNAL);
    read_some(fd);
  }
  std::string req = resp(args);
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  out = read_some(fd);
  ::close(fd);
  return out;
}

void RedisServerProcess::stop(bool keep_data) {
  if (pid_ <= 0) return;
  raw_command({"SHUTDOWN", keep_data ? "SAVE" : "NOSAVE"});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill();
}

void RedisServerProcess::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

// --- ChildProcess -------------------------------------------------------------

ChildProcess::ChildProcess(std::vector<std::string> argv,
                           std::vector<std::pair<std::string, std::string>> env) {
  int out[2];
  int in[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(in, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  auto envp = c_argv(env_strings);
  auto args = c_argv(argv);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(in[0]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(in[1]);
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  pid_ = pid;
  stdin_fd_ = in[1];
  reader_ = std::thread([this, fd = out[0]] { read_loop(fd); });
}

ChildProcess::~ChildProcess() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::kill(pid_, SIGCONT);
    wait(std::chrono::seconds(10));
  }
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  if (reader_.joinable()) reader_.join();
}

void ChildProcess::read_loop(int fd) {
  std::string partial;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    partial.append(buf, static_cast<size_t>(n));
    std::size_t pos;
    while ((pos = partial.find('\n')) != std::string::npos) {
      std::lock_guard lock(mu_);
      lines_.push_back(partial.substr(0, pos));
      partial.erase(0, pos + 1);
      cv_.notify_all();
    }
  }
  std::lock_guard lock(mu_);
  if (!partial.empty()) lines_.push_back(partial);
  cv_.notify_all();
  ::close(fd);
}

void ChildProcess::signal(int sig) {
  if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
}

void ChildProcess::write_stdin(const std::string& text) {
  if (stdin_fd_ >= 0) {
    ssize_t n = ::write(stdin_fd_, text.data(), text.size());
    (void)n;
  }
}

std::vector<std::string> ChildProcess::lines() const {
  std::lock_guard lock(mu_);
  return lines_;
}

bool ChildProcess::wait_for_line(const std::function<bool(const std::string&)>& pred,
                                 std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  std::size_t checked = 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    for (; checked < lines_.size(); ++checked) {
      if (pred(lines_[checked])) return true;
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      for (; checked < lines_.size(); ++checked) {
        if (pred(lines_[checked])) return true;
      }
      return false;
    }
  }
}

int ChildProcess::wait(std::chrono::milliseconds timeout) {
  if (reaped_) return exit_status_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_status_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace sluice::testing
