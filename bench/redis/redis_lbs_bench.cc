// End-to-end benchmark of the Redis Streams load balancer (seed 002's shape).
//
//   bench_redis_lbs [--streams 1000] [--clients 3] [--heartbeat-ms 2000] [--redis-server
//   redis-server]
//
// Starts a redis-server of its own (loopback, free port, no persistence) and
// consumer processes (this binary with --client), then measures:
//   1. memory (RSS) and threads of one consumer owning every stream;
//   2. assignment latency: XADD to the LBS -> StreamAdded in a consumer, for a
//      burst of --streams entries spread over --clients consumers;
//   3. failover latency: SIGKILL of one consumer -> a successful claim() of each
//      of its streams by another (dominated by the lock TTL = one heartbeat).
// Times are CLOCK_MONOTONIC, shared by every process on the machine.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sluice/core/shutdown_signals.h"
#include "sluice/redis/client.h"
#include "sluice/redis/lbs.h"
#include "sluice/redis/stream_client.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using sluice::redis::NotificationType;

long long mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// --- the consumer process -------------------------------------------------------

int run_client(const std::string& url, const std::string& service, const std::string& id,
               int heartbeat_ms) {
  std::setvbuf(stdout, nullptr, _IOFBF, 1 << 16);
  auto redis = sluice::redis::RedisClient::connect(url);
  if (!redis.ok()) {
    std::printf("ERROR %s\n", redis.status().to_string().c_str());
    return 1;
  }
  sluice::redis::StreamClientOptions o;
  o.consumer_id = id;
  o.heartbeat_interval = std::chrono::milliseconds(heartbeat_ms);
  o.lbs_idle_time = std::max(std::chrono::milliseconds(4000), 3 * o.heartbeat_interval);
  o.retry.max_retries = -1;
  auto client = sluice::redis::RedisStreamClient::create(*redis, service, o);
  if (!client.ok()) {
    std::printf("ERROR %s\n", client.status().to_string().c_str());
    return 1;
  }
  auto queue = (*client)->init();
  if (!queue.ok()) {
    std::printf("ERROR %s\n", queue.status().to_string().c_str());
    return 1;
  }
  std::printf("READY %s\n", id.c_str());
  std::fflush(stdout);
  std::stop_source stop;
  sluice::ShutdownSignals signals(stop);
  std::stop_callback on_stop(stop.get_token(), [&] { (void)(*client)->done(); });
  while (auto n = (*queue)->pop()) {
    const long long t = mono_ns();
    switch (n->type) {
      case NotificationType::kStreamAdded:
        std::printf("ADDED %s %lld\n", n->info.data_stream_name.c_str(), t);
        break;
      case NotificationType::kStreamExpired: {
        sluice::Status s = (*client)->claim(n->info);
        if (s.ok()) {
          std::printf("CLAIMED %s %lld\n", n->info.data_stream_name.c_str(), mono_ns());
        } else if (sluice::redis::is_already_claimed(s)) {
          std::printf("CLAIM_LOST %s\n", n->info.data_stream_name.c_str());
        } else {
          std::printf("CLAIM_ERROR %s %s\n", n->info.data_stream_name.c_str(),
                      s.to_string().c_str());
        }
        break;
      }
      case NotificationType::kStreamDisowned:
        std::printf("DISOWNED %s\n", n->info.data_stream_name.c_str());
        break;
      case NotificationType::kStreamTerminated:
        std::printf("TERMINATED\n");
        break;
    }
    if ((*queue)->size() == 0) std::fflush(stdout);
  }
  std::fflush(stdout);
  return 0;
}

// --- processes ----------------------------------------------------------------------

class Child {
 public:
  explicit Child(std::vector<std::string> args) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) std::abort();
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (posix_spawnp(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) {
      std::fprintf(stderr, "cannot start %s\n", argv[0]);
      std::exit(1);
    }
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    reader_ = std::thread([this, fd = out[0]] {
      std::string partial;
      char buf[65536];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) {
        partial.append(buf, static_cast<size_t>(n));
        std::size_t pos;
        std::lock_guard lock(mu_);
        while ((pos = partial.find('\n')) != std::string::npos) {
          lines_.push_back(partial.substr(0, pos));
          partial.erase(0, pos + 1);
        }
        cv_.notify_all();
      }
      ::close(fd);
    });
  }
  ~Child() {
    kill(SIGKILL);
    if (reader_.joinable()) reader_.join();
  }
  pid_t pid() const { return pid_; }
  void kill(int sig) {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, sig);
      if (sig == SIGKILL || sig == SIGTERM) {
        int st;
        ::waitpid(pid_, &st, 0);
        reaped_ = true;
      }
    }
  }
  std::vector<std::string> lines() {
    std::lock_guard lock(mu_);
    return lines_;
  }
  bool wait_for(const std::string& prefix, std::size_t count, std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      std::size_t n = 0;
      for (const auto& l : lines_) n += l.rfind(prefix, 0) == 0;
      return n >= count;
    });
  }
  // VmRSS (kB) and Threads from /proc/<pid>/status.
  std::pair<long, long> rss_and_threads() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    long rss = -1, threads = -1;
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmRSS:", 0) == 0) rss = std::atol(line.c_str() + 6);
      if (line.rfind("Threads:", 0) == 0) threads = std::atol(line.c_str() + 8);
    }
    return {rss, threads};
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

struct Percentiles {
  double p50, p90, p99, max;
};
Percentiles percentiles(std::vector<double> v) {
  if (v.empty()) return {0, 0, 0, 0};
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<std::size_t>(q * (v.size() - 1) + 0.5))];
  };
  return {at(0.5), at(0.9), at(0.99), v.back()};
}

// name -> monotonic time of the first line "<prefix> <name> <ns>".
std::map<std::string, long long> events(Child& c, const std::string& prefix) {
  std::map<std::string, long long> out;
  for (const auto& l : c.lines()) {
    if (l.rfind(prefix + " ", 0) != 0) continue;
    std::istringstream in(l.substr(prefix.size() + 1));
    std::string name;
    long long t = 0;
    in >> name >> t;
    out.emplace(name, t);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 6 && std::string(argv[1]) == "--client")
    return run_client(argv[2], argv[3], argv[4], std::atoi(argv[5]));
  int streams = 1000;
  int clients = 3;
  int heartbeat_ms = 2000;
  std::string redis_server = "redis-server";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--streams")
      streams = std::atoi(argv[i + 1]);
    else if (flag == "--clients")
      clients = std::atoi(argv[i + 1]);
    else if (flag == "--heartbeat-ms")
      heartbeat_ms = std::atoi(argv[i + 1]);
    else if (flag == "--redis-server")
      redis_server = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  char dir_template[] = "/tmp/bench-redis-lbs-XXXXXX";
  const std::string dir = ::mkdtemp(dir_template);
  const std::uint16_t port = free_port();
  {
    std::ofstream conf(dir + "/redis.conf");
    conf << "bind 127.0.0.1\nport " << port << "\ndir " << dir
         << "\nsave \"\"\nappendonly no\nnotify-keyspace-events KEx\nloglevel warning\nlogfile "
         << dir << "/redis.log\n";
  }
  Child server({redis_server, dir + "/redis.conf"});
  const std::string url = "redis://127.0.0.1:" + std::to_string(port);
  std::shared_ptr<sluice::redis::RedisClient> redis;
  for (int i = 0; i < 200 && !redis; ++i) {
    auto r = sluice::redis::RedisClient::connect(url);
    if (r.ok())
      redis = *r;
    else
      std::this_thread::sleep_for(10ms);
  }
  if (!redis) {
    std::fprintf(stderr, "redis-server did not start\n");
    return 1;
  }
  std::printf("redis-server %s, %d streams, %d consumers, heartbeat (lock TTL) %d ms\n\n",
              url.c_str(), streams, clients, heartbeat_ms);

  // 1. One consumer owning every stream.
  {
    const std::string service = "bench-solo";
    Child solo({self, "--client", url, service, "solo", std::to_string(heartbeat_ms)});
    if (!solo.wait_for("READY", 1, 10s)) {
      std::fprintf(stderr, "consumer did not start\n");
      return 1;
    }
    std::this_thread::sleep_for(200ms);
    auto [rss0, threads0] = solo.rss_and_threads();
    for (int i = 0; i < streams; ++i)
      (void)sluice::redis::lbs_add(*redis, service, "solo-" + std::to_string(i));
    if (!solo.wait_for("ADDED", static_cast<std::size_t>(streams), 60s))
      std::fprintf(stderr, "not all assigned\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(2 * heartbeat_ms));  // a few heartbeats
    auto [rss1, threads1] = solo.rss_and_threads();
    std::printf("[1] one consumer owning %d streams\n", streams);
    std::printf(
        "    RSS %.1f MiB (%.1f MiB before any stream, +%.2f KiB per stream), threads %ld (%ld "
        "before)\n\n",
        rss1 / 1024.0, rss0 / 1024.0, static_cast<double>(rss1 - rss0) / streams, threads1,
        threads0);
    solo.kill(SIGTERM);
  }

  // 2. Assignment latency over `clients` consumers.
  const std::string service = "bench";
  std::vector<std::unique_ptr<Child>> consumers;
  for (int c = 0; c < clients; ++c) {
    consumers.push_back(std::make_unique<Child>(std::vector<std::string>{
        self, "--client", url, service, "c" + std::to_string(c), std::to_string(heartbeat_ms)}));
  }
  for (auto& c : consumers) {
    if (!c->wait_for("READY", 1, 10s)) {
      std::fprintf(stderr, "consumer did not start\n");
      return 1;
    }
  }
  std::this_thread::sleep_for(300ms);
  std::map<std::string, long long> sent;
  const long long burst_start = mono_ns();
  for (int i = 0; i < streams; ++i) {
    const std::string name = "s-" + std::to_string(i);
    sent[name] = mono_ns();
    auto id = sluice::redis::lbs_add(*redis, service, name);
    if (!id.ok()) std::fprintf(stderr, "XADD failed: %s\n", id.status().to_string().c_str());
  }
  const long long burst_end = mono_ns();
  std::size_t assigned = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  std::vector<std::map<std::string, long long>> added(consumers.size());
  while (std::chrono::steady_clock::now() < deadline) {
    assigned = 0;
    for (std::size_t c = 0; c < consumers.size(); ++c) {
      added[c] = events(*consumers[c], "ADDED");
      assigned += added[c].size();
    }
    if (assigned >= static_cast<std::size_t>(streams)) break;
    std::this_thread::sleep_for(20ms);
  }
  std::vector<double> latency_ms;
  long long last_assigned = 0;
  std::printf("[2] assignment: %d XADDs to the LBS in %.1f ms, %zu assigned\n", streams,
              (burst_end - burst_start) / 1e6, assigned);
  for (std::size_t c = 0; c < consumers.size(); ++c) {
    for (const auto& [name, t] : added[c]) {
      latency_ms.push_back((t - sent[name]) / 1e6);
      last_assigned = std::max(last_assigned, t);
    }
    auto [rss, threads] = consumers[c]->rss_and_threads();
    std::printf("    consumer c%zu: %zu streams, RSS %.1f MiB, threads %ld\n", c, added[c].size(),
                rss / 1024.0, threads);
  }
  auto p = percentiles(latency_ms);
  std::printf(
      "    XADD -> StreamAdded: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms; all assigned "
      "%.1f ms after the "
      "first XADD\n\n",
      p.p50, p.p90, p.p99, p.max, (last_assigned - burst_start) / 1e6);

  // 3. Failover: SIGKILL consumer 0; the others claim its streams.
  std::this_thread::sleep_for(std::chrono::milliseconds(heartbeat_ms));
  const auto victim_streams = added[0];
  const long long killed_at = mono_ns();
  consumers[0]->kill(SIGKILL);
  std::map<std::string, long long> claimed;
  const auto claim_deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(20 * heartbeat_ms) + 30s;
  while (std::chrono::steady_clock::now() < claim_deadline) {
    claimed.clear();
    for (std::size_t c = 1; c < consumers.size(); ++c) {
      for (const auto& [name, t] : events(*consumers[c], "CLAIMED")) claimed.emplace(name, t);
    }
    if (claimed.size() >= victim_streams.size()) break;
    std::this_thread::sleep_for(20ms);
  }
  std::vector<double> failover_ms;
  for (const auto& [name, t] : claimed) failover_ms.push_back((t - killed_at) / 1e6);
  std::size_t lost = 0;
  for (std::size_t c = 1; c < consumers.size(); ++c) {
    for (const auto& l : consumers[c]->lines()) lost += l.rfind("CLAIM_LOST", 0) == 0;
  }
  auto f = percentiles(failover_ms);
  std::printf(
      "[3] failover: SIGKILL of c0 (%zu streams) -> claimed elsewhere: %zu (claims lost to a "
      "faster peer: %zu)\n",
      victim_streams.size(), claimed.size(), lost);
  std::printf(
      "    SIGKILL -> successful claim: p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms (lock "
      "TTL %d ms)\n",
      f.p50, f.p90, f.p99, f.max, heartbeat_ms);
  for (std::size_t c = 1; c < consumers.size(); ++c) {
    auto [rss, threads] = consumers[c]->rss_and_threads();
    std::printf("    consumer c%zu after failover: RSS %.1f MiB, threads %ld\n", c, rss / 1024.0,
                threads);
  }
  for (std::size_t c = 1; c < consumers.size(); ++c) consumers[c]->kill(SIGTERM);
  consumers.clear();
  server.kill(SIGKILL);
  std::filesystem::remove_all(dir);
  return 0;
}
