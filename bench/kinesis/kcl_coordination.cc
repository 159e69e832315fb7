// The KCL lease coordinator's figures against a real lease table (dynalite,
// or DynamoDB): convergence of N workers over 32 leases from a cold start
// and when a worker joins, leases moved once balanced (goal 0), failover
// time after a worker dies, and lease-table requests per lease per minute
// in steady state. Each worker is a LeaseCoordinator driven the way the
// engine drives it (balance() every take interval, or sooner when a watched
// lease is due to expire; shed leases released at once); a "killed" worker's table calls all fail
// from the moment it dies, so it can neither renew nor release, exactly as after SIGKILL.
//
//   testenv/with-backends -- build/bench/bench_kcl_coordination [memory] [SECTION...]
//
// SECTION: convergence, failover or cost (default: all three).
//
// Uses SLUICE_TEST_DYNAMODB_ENDPOINT (or AWS_ENDPOINT_URL_DYNAMODB); with
// "memory", an in-process table (the algorithm alone, no I/O latency).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kcl_killable_table.h"
#include "sluice/aws/dynamodb_client.h"
#include "sluice/kinesis/kcl/lease_coordinator.h"

namespace kcl = sluice::kinesis::kcl;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using sluice::Status;

namespace {

constexpr int kShards = 32;

struct Setup {
  bool memory = false;
  std::shared_ptr<sluice::aws::DynamoDbClient> db;
  std::shared_ptr<kcl::MemoryLeaseTable> memory_table;
  std::string table;
  sluice::MetricsRegistry metrics;

  std::shared_ptr<kcl::LeaseTable> open() {
    if (memory) return memory_table;
    auto t = kcl::DynamoDbLeaseTable::create(db, {.table_name = table, .metrics = &metrics});
    if (!t.ok()) {
      std::fprintf(stderr, "%s\n", t.status().to_string().c_str());
      std::exit(1);
    }
    return std::shared_ptr<kcl::LeaseTable>(std::move(*t));
  }
};

std::string shard(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "shardId-%012d", i);
  return buf;
}

std::vector<std::string> all_shards() {
  std::vector<std::string> out;
  for (int i = 0; i < kShards; ++i) out.push_back(shard(i));
  return out;
}

// One worker: a coordinator and the thread that drives it.
class BenchWorker {
 public:
  BenchWorker(Setup& setup, std::string id, kcl::ManagementConfig m)
      : table_(std::make_shared<KillableLeaseTable>(setup.open())) {
    kcl::LeaseCoordinatorOptions o;
    o.worker_id = std::move(id);
    o.management = m;
    o.metrics = &setup.metrics;
    coordinator_ = *kcl::LeaseCoordinator::create(table_, o);
    (void)coordinator_->start("bench", [](const std::string&) {});
    thread_ = std::jthread([this, m](std::stop_token stop) {
      const auto shards = all_shards();
      while (!stop.stop_requested()) {
        auto step = coordinator_->balance(shards);
        auto until = sluice::Clock::real().now() + m.take_interval;
        if (step.ok()) {
          for (const auto& s : step->to_shed) (void)coordinator_->release(s);
          // As the engine does: balance again when a watched lease expires.
          if (step->next_step_at) until = std::min(until, *step->next_step_at);
        }
        sluice::Clock::real().sleep_until(until, stop);
      }
    });
  }
  ~BenchWorker() {
    thread_.request_stop();
    thread_.join();
    (void)coordinator_->stop();
  }
  // From now on every table call fails: no renewal, no release.
  void kill() {
    table_->kill();
    thread_.request_stop();
  }

 private:
  std::shared_ptr<KillableLeaseTable> table_;
  std::shared_ptr<kcl::LeaseCoordinator> coordinator_;
  std::jthread thread_;
};

struct View {
  std::map<std::string, int> owners;
  std::map<std::string, std::string> owner_of;
  bool settled = true;  // nothing unowned, no handoff in progress
};

View view(kcl::LeaseTable& t) {
  View v;
  auto leases = t.list();
  if (!leases.ok()) return {{}, {}, false};
  for (const auto& l : *leases) {
    if (l.lease_owner.empty() || l.in_handoff()) v.settled = false;
    ++v.owners[l.lease_owner];
    v.owner_of[l.shard_id] = l.lease_owner;
  }
  return v;
}

bool balanced(kcl::LeaseTable& t, const std::set<std::string>& live) {
  View v = view(t);
  if (!v.settled) return false;
  int lo = kShards, hi = 0;
  for (const auto& w : live) {
    const int n = v.owners.count(w) ? v.owners[w] : 0;
    lo = std::min(lo, n);
    hi = std::max(hi, n);
  }
  for (const auto& [o, n] : v.owners) {
    if (!live.count(o)) return false;
  }
  return hi - lo <= 1;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Waits (bounded) until balanced; seconds taken, or -1.
double until_balanced(kcl::LeaseTable& t, const std::set<std::string>& live, Clock::time_point from,
                      std::chrono::seconds limit = 120s) {
  while (Clock::now() - from < limit) {
    if (balanced(t, live)) return seconds_since(from);
    std::this_thread::sleep_for(20ms);
  }
  return -1;
}

void fresh_table(Setup& s, const std::string& name) {
  s.table = name;
  if (s.memory) {
    s.memory_table = std::make_shared<kcl::MemoryLeaseTable>(name, &s.metrics);
  }
  auto t = s.open();
  if (Status st = t->create_if_missing(false, 30s); !st.ok()) {
    std::fprintf(stderr, "creating %s: %s\n", name.c_str(), st.to_string().c_str());
    std::exit(1);
  }
  for (int i = 0; i < kShards; ++i) {
    kcl::Lease l;
    l.lease_key = l.shard_id = shard(i);
    l.checkpoint = kcl::kTrimHorizon;
    (void)t->create(l);
  }
}

int moves(const View& a, const View& b) {
  int n = 0;
  for (const auto& [s, o] : a.owner_of) n += b.owner_of.count(s) && b.owner_of.at(s) != o;
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  Setup setup;
  std::set<std::string> sections;  // none named: all
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "memory") {
      setup.memory = true;
    } else if (arg == "convergence" || arg == "failover" || arg == "cost") {
      sections.insert(arg);
    } else {
      std::fprintf(stderr,
                   "usage: bench_kcl_coordination [memory] [convergence|failover|cost]...\n");
      return 2;
    }
  }
  auto want = [&](const char* section) { return sections.empty() || sections.count(section) > 0; };
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress as it happens
  if (!setup.memory) {
    const char* ep = std::getenv("SLUICE_TEST_DYNAMODB_ENDPOINT");
    sluice::aws::ClientOptions o;
    o.region = "us-east-1";
    if (ep) o.endpoint = ep;
    if (!std::getenv("AWS_ACCESS_KEY_ID")) {
      o.credentials = sluice::aws::make_static_credentials("AKIDEXAMPLE", "secret");
    }
    auto db = sluice::aws::DynamoDbClient::create(o);
    if (!db.ok()) {
      std::fprintf(stderr, "%s\n", db.status().to_string().c_str());
      return 1;
    }
    setup.db = std::move(*db);
  }
  const long long stamp = std::chrono::system_clock::now().time_since_epoch().count() % 1000000;
  std::printf("lease table: %s, %d leases\n", setup.memory ? "in memory" : "DynamoDB (dynalite)",
              kShards);

  // Coordination timings of these runs: failover 3 s, take every 1 s.
  kcl::ManagementConfig fast;
  fast.failover_time = 3000ms;
  fast.take_interval = 1000ms;

  if (want("convergence")) {
    std::printf("\nconvergence (failover %lld ms, take interval %lld ms)\n",
                static_cast<long long>(fast.failover_time.count()),
                static_cast<long long>(fast.take_interval.count()));
    std::printf("%8s %14s %14s %22s\n", "workers", "cold start s", "join s", "moves in 10 s after");
    for (int n : {2, 4, 8}) {
      fresh_table(setup, "bench-kcl-conv-" + std::to_string(n) + "-" + std::to_string(stamp));
      auto observer = setup.open();
      std::vector<std::unique_ptr<BenchWorker>> workers;
      std::set<std::string> live;
      const auto cold = Clock::now();
      for (int i = 0; i < n - 1; ++i) {
        live.insert("w" + std::to_string(i));
        workers.push_back(std::make_unique<BenchWorker>(setup, "w" + std::to_string(i), fast));
      }
      // Cold start of n workers: measured on a separate run below; here n-1
      // start together, then one joins.
      const double first = until_balanced(*observer, live, cold);
      const auto join = Clock::now();
      live.insert("w" + std::to_string(n - 1));
      workers.push_back(std::make_unique<BenchWorker>(setup, "w" + std::to_string(n - 1), fast));
      const double joined = until_balanced(*observer, live, join);
      View before = view(*observer);
      std::this_thread::sleep_for(10s);
      View after = view(*observer);
      workers.clear();
      // Cold start with all n at once.
      fresh_table(setup, "bench-kcl-cold-" + std::to_string(n) + "-" + std::to_string(stamp));
      auto observer2 = setup.open();
      const auto start = Clock::now();
      for (int i = 0; i < n; ++i) {
        workers.push_back(std::make_unique<BenchWorker>(setup, "c" + std::to_string(i), fast));
      }
      std::set<std::string> live2;
      for (int i = 0; i < n; ++i) live2.insert("c" + std::to_string(i));
      const double cold_all = until_balanced(*observer2, live2, start);
      workers.clear();
      (void)first;
      std::printf("%8d %14.2f %14.2f %22d\n", n, cold_all, joined, moves(before, after));
    }
  }

  if (want("failover")) {
    // Where in the renewal and scan cycles the kill falls decides the time:
    // several runs, each killed at a different phase, show its spread.
    std::printf("\nfailover: 4 workers, one killed (no renewal, no release)\n");
    constexpr int kFailoverRuns = 4;
    double worst = 0;
    for (int run = 0; run < kFailoverRuns; ++run) {
      fresh_table(setup, "bench-kcl-fail-" + std::to_string(stamp) + "-" + std::to_string(run));
      auto observer = setup.open();
      std::vector<std::unique_ptr<BenchWorker>> workers;
      std::set<std::string> live;
      for (int i = 0; i < 4; ++i) {
        live.insert("f" + std::to_string(i));
        workers.push_back(std::make_unique<BenchWorker>(setup, "f" + std::to_string(i), fast));
      }
      if (until_balanced(*observer, live, Clock::now()) < 0) std::printf("never balanced\n");
      // A different phase of the cycles each run.
      std::this_thread::sleep_for(fast.take_interval * run / kFailoverRuns);
      const auto killed = Clock::now();
      workers[0]->kill();
      live.erase("f0");
      double all_taken = -1;
      while (Clock::now() - killed < 120s) {
        View v = view(*observer);
        if (!v.owners.count("f0") && v.settled) {
          all_taken = seconds_since(killed);
          break;
        }
        std::this_thread::sleep_for(20ms);
      }
      worst = all_taken < 0 ? 1e9 : std::max(worst, all_taken);
      std::printf("  run %d: last lease of the dead worker owned again after %.2f s\n", run + 1,
                  all_taken);
      workers.clear();
    }
    std::printf("  worst %.2f s; bound: failover %.1f s + take interval %.1f s = %.1f s\n", worst,
                fast.failover_time.count() / 1000.0, fast.take_interval.count() / 1000.0,
                (fast.failover_time + fast.take_interval).count() / 1000.0);
  }

  if (want("cost")) {
    std::printf("\ncost: steady state, default timings (failover 10 s, renew 3.33 s, take 5 s)\n");
    for (int n : {2, 8}) {
      kcl::ManagementConfig defaults;  // failover 10 s, take 5 s
      fresh_table(setup, "bench-kcl-cost-" + std::to_string(n) + "-" + std::to_string(stamp));
      auto observer = setup.open();
      std::vector<std::unique_ptr<BenchWorker>> workers;
      std::set<std::string> live;
      for (int i = 0; i < n; ++i) {
        live.insert("k" + std::to_string(i));
        workers.push_back(std::make_unique<BenchWorker>(setup, "k" + std::to_string(i), defaults));
      }
      if (until_balanced(*observer, live, Clock::now()) < 0) std::printf("never balanced\n");
      std::this_thread::sleep_for(6s);
      kcl::LeaseTableMetrics m(setup.metrics, setup.table);
      const double before = m.total() - m.scan.value();
      const double scans_before = m.scan.value();
      const auto t0 = Clock::now();
      std::this_thread::sleep_for(60s);
      const double minutes = seconds_since(t0) / 60.0;
      const double writes = (m.total() - m.scan.value() - before) / minutes / kShards;
      const double scans = (m.scan.value() - scans_before) / minutes / kShards;
      // The KCL v2: a renewal per lease every 3.33 s (18/min) and one Scan per
      // worker every 20 s (3/min per worker).
      const double kcl_writes = 60.0 / (10.0 / 3.0);
      const double kcl_scans = 3.0 * n / kShards;
      std::printf(
          "  %d workers: %.1f writes + %.2f scans per lease per minute "
          "(KCL v2: %.1f + %.2f)\n",
          n, writes, scans, kcl_writes, kcl_scans);
      workers.clear();
    }
  }
  return 0;
}
