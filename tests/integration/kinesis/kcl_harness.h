// Shared fixture of the KCL worker's integration tests: a fresh stream on
// kinesalite and a fresh lease table on dynalite, KCL workers with short
// timings run on threads, and a ledger of what every processor saw.
#ifndef SLUICE_TESTS_INTEGRATION_KINESIS_KCL_HARNESS_H_
#define SLUICE_TESTS_INTEGRATION_KINESIS_KCL_HARNESS_H_

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "consumer_harness.h"
#include "sluice/aws/dynamodb_client.h"
#include "sluice/kinesis/kcl/lease_table.h"
#include "sluice/kinesis/kcl/worker.h"

namespace sluice::kinesis::testing {

// One user record as a KCL processor saw it.
struct KclDelivery {
  std::string worker;
  std::string shard;
  std::string sequence;
  std::uint64_t sub = 0;
  std::string data;
  std::uint64_t order = 0;  // global delivery order, across workers
};

// What every processor of every worker of a test saw and did.
class KclLedger {
 public:
  void delivered(const std::string& worker, std::span<const Record> records) {
    std::lock_guard lock(mu_);
    for (const auto& r : records) {
      deliveries_.push_back({worker, std::string(r.shard_id), std::string(r.sequence_number),
                             r.sub_sequence_number, std::string(r.data), next_++});
    }
  }
  void event(const std::string& text) {
    std::lock_guard lock(mu_);
    events_.push_back(text);
  }
  void initialized(const std::string& shard, const kcl::InitializationInput& in) {
    std::lock_guard lock(mu_);
    inits_[shard].push_back(in);
    events_.push_back("initialize " + shard + " " + in.extended_sequence_number.to_string());
  }
  std::vector<KclDelivery> deliveries() const {
    std::lock_guard lock(mu_);
    return deliveries_;
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return deliveries_.size();
  }
  std::set<std::string> distinct_data() const {
    std::lock_guard lock(mu_);
    std::set<std::string> out;
    for (const auto& d : deliveries_) out.insert(d.data);
    return out;
  }
  std::vector<std::string> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  bool has_event(const std::string& text) const {
    std::lock_guard lock(mu_);
    for (const auto& e : events_) {
      if (e == text) return true;
    }
    return false;
  }
  std::vector<kcl::InitializationInput> inits(const std::string& shard) const {
    std::lock_guard lock(mu_);
    auto it = inits_.find(shard);
    return it == inits_.end() ? std::vector<kcl::InitializationInput>{} : it->second;
  }

 private:
  mutable std::mutex mu_;
  std::vector<KclDelivery> deliveries_;
  std::vector<std::string> events_;
  std::map<std::string, std::vector<kcl::InitializationInput>> inits_;
  std::uint64_t next_ = 0;
};

// A processor that records everything and checkpoints after every batch,
// at shard end and at shutdown. `on_batch` replaces the checkpoint after a
// batch when set (for the checkpointer-rule tests).
struct RecordingOptions {
  std::function<void(const std::string& shard, std::span<const Record>, kcl::Checkpointer&)>
      on_batch{};
  bool checkpoint_shard_end = true;
  // Called in lease_lost with the checkpointer of the last call (null if none).
  std::function<void(const std::string& shard, kcl::Checkpointer*)> on_lease_lost{};
};

class RecordingProcessor final : public kcl::ShardRecordProcessor {
 public:
  RecordingProcessor(std::string worker, KclLedger* ledger, RecordingOptions options)
      : worker_(std::move(worker)), ledger_(ledger), options_(std::move(options)) {}
  void initialize(const kcl::InitializationInput& in) override {
    shard_ = in.shard_id;
    ledger_->initialized(shard_, in);
  }
  void process_records(std::span<const Record> records, std::int64_t,
                       kcl::Checkpointer& checkpointer) override {
    ledger_->delivered(worker_, records);
    last_checkpointer_ = &checkpointer;
    if (options_.on_batch) {
      options_.on_batch(shard_, records, checkpointer);
      return;
    }
    if (Status s = checkpointer.checkpoint(); !s.ok()) {
      ledger_->event("checkpoint failed " + shard_ + ": " + std::string(s.message()));
    }
  }
  void lease_lost() override {
    if (options_.on_lease_lost) options_.on_lease_lost(shard_, last_checkpointer_);
    ledger_->event("lease_lost " + shard_ + " " + worker_);
  }
  void shard_ended(kcl::Checkpointer& checkpointer) override {
    ledger_->event("shard_ended " + shard_ + " " + worker_);
    if (!options_.checkpoint_shard_end) return;
    if (Status s = checkpointer.checkpoint(); !s.ok()) {
      ledger_->event("shard end checkpoint failed " + shard_ + ": " + std::string(s.message()));
    }
  }
  void shutdown_requested(kcl::Checkpointer& checkpointer) override {
    ledger_->event("shutdown_requested " + shard_ + " " + worker_);
    if (Status s = checkpointer.checkpoint(); !s.ok()) {
      ledger_->event("shutdown checkpoint failed " + shard_ + ": " + std::string(s.message()));
    }
  }

 private:
  std::string worker_;
  KclLedger* ledger_;
  RecordingOptions options_;
  std::string shard_;
  kcl::Checkpointer* last_checkpointer_ = nullptr;
};

// A worker running on its own thread.
class RunningKclWorker {
 public:
  explicit RunningKclWorker(std::unique_ptr<kcl::Worker> w) : worker_(std::move(w)) {
    thread_ = std::thread([this] {
      result_ = worker_->run(stop_.get_token());
      finished_ = true;
    });
  }
  ~RunningKclWorker() { (void)stop(); }
  // Graceful shutdown; the status run() returned.
  Status stop() {
    stop_.request_stop();
    if (thread_.joinable()) thread_.join();
    return result_;
  }
  bool finished() const { return finished_; }
  kcl::Worker& worker() { return *worker_; }
  const std::string& id() const { return worker_->worker_id(); }

 private:
  std::unique_ptr<kcl::Worker> worker_;
  std::stop_source stop_;
  std::thread thread_;
  Status result_;
  std::atomic<bool> finished_{false};
};

class KclTest : public KinesisStreamTest {
 protected:
  void SetUp() override {
    KinesisStreamTest::SetUp();
    aws::ClientOptions o;
    o.region = "us-east-1";
    o.endpoint = sluice::testing::Backends::get().dynamodb_endpoint;
    o.credentials = aws::make_static_credentials("AKIDEXAMPLE", "secret");
    auto c = aws::DynamoDbClient::create(o);
    ASSERT_TRUE(c.ok()) << c.status();
    dynamodb_ = std::move(*c);
    table_ = sluice::testing::unique_name("kcl-leases");
    auto t =
        kcl::DynamoDbLeaseTable::create(dynamodb_, {.table_name = table_, .metrics = &metrics_});
    ASSERT_TRUE(t.ok()) << t.status();
    leases_ = std::move(*t);
  }
  void TearDown() override {
    workers_.clear();
    (void)run(dynamodb_->delete_table(table_));
    KinesisStreamTest::TearDown();
  }

  // Short timings: failover 2 s, takes every 300 ms.
  kcl::WorkerConfig config(const std::string& worker_id) {
    kcl::WorkerConfig c;
    c.application_name = table_;
    c.stream_name = stream_;
    c.worker_id = worker_id;
    c.management.start_strategy = kcl::StartStrategy::oldest();
    c.management.failover_time = 2000ms;
    c.management.take_interval = 300ms;
    c.management.shard_sync_interval = 1000ms;
    c.polling.limit = 100;
    c.polling.idle_time_between_reads = 100ms;
    c.handler_threads = 2;
    c.shutdown_timeout = 15s;
    c.metrics = &metrics_;
    if (std::getenv("SLUICE_TEST_DEBUG")) {
      c.logger = make_stderr_logger(LogLevel::kDebug);
    }
    return c;
  }

  kcl::ShardRecordProcessorFactory recording(const std::string& worker_id,
                                             RecordingOptions options = {}) {
    KclLedger* ledger = &ledger_;
    return [worker_id, ledger, options] {
      return std::make_unique<RecordingProcessor>(worker_id, ledger, options);
    };
  }

  // Starts a worker (its own DynamoDB lease table object, as a separate
  // process would have) and keeps it in workers_.
  RunningKclWorker* start_worker(kcl::WorkerConfig c, kcl::ShardRecordProcessorFactory factory) {
    auto w = kcl::Worker::create(std::move(c), kinesis_, dynamodb_, std::move(factory));
    EXPECT_TRUE(w.ok()) << w.status();
    if (!w.ok()) return nullptr;
    workers_.push_back(std::make_unique<RunningKclWorker>(std::move(*w)));
    return workers_.back().get();
  }
  RunningKclWorker* start_worker(const std::string& id, RecordingOptions options = {}) {
    return start_worker(config(id), recording(id, options));
  }

  // The table as it is now.
  std::vector<kcl::Lease> scan() {
    auto all = leases_->list();
    // The first worker creates the table: until then there is nothing.
    if (all.status().code() == StatusCode::kNotFound) return {};
    EXPECT_TRUE(all.ok()) << all.status();
    return all.ok() ? *all : std::vector<kcl::Lease>{};
  }
  std::optional<kcl::Lease> lease(const std::string& shard) {
    auto l = leases_->get(shard);
    EXPECT_TRUE(l.ok()) << l.status();
    return l.ok() ? *l : std::nullopt;
  }
  // Leases of unfinished shards per owner ("" = unowned).
  std::map<std::string, int> owners() {
    std::map<std::string, int> out;
    for (const auto& l : scan()) {
      if (!l.at_shard_end()) ++out[l.lease_owner];
    }
    return out;
  }
  // Every one of `ids` owns a lease, none is unowned or being handed over,
  // and the counts differ by at most one.
  bool balanced(const std::vector<std::string>& ids, int total) {
    for (const auto& l : scan()) {
      if (l.in_handoff()) return false;
    }
    auto o = owners();
    if (o.count("")) return false;
    int lo = 1 << 30, hi = 0, sum = 0;
    for (const auto& id : ids) {
      const int n = o.count(id) ? o[id] : 0;
      lo = std::min(lo, n);
      hi = std::max(hi, n);
      sum += n;
    }
    return sum == total && hi - lo <= 1 && lo > 0;
  }
  // Shards a worker is running now (processor initialized, reading).
  static int running(RunningKclWorker& w) {
    int n = 0;
    for (const auto& s : w.worker().status()) n += s.state == "running";
    return n;
  }
  std::string describe_owners() {
    std::string out;
    for (const auto& [o, n] : owners())
      out += (o.empty() ? "<none>" : o) + "=" + std::to_string(n) + " ";
    return out;
  }
  std::string describe_events() {
    std::string out;
    for (const auto& e : ledger_.events()) out += e + "\n";
    return out;
  }

  // What of `expected` was not delivered, for failure messages.
  std::string missing(const std::set<std::string>& expected) {
    auto seen = ledger_.distinct_data();
    std::string out = "missing:";
    for (const auto& e : expected) {
      if (!seen.count(e)) out += " " + e;
    }
    out += "\nunexpected:";
    for (const auto& s : seen) {
      if (!expected.count(s)) out += " " + s;
    }
    return out;
  }

  // Every put record was delivered at least once.
  static void expect_none_lost(const std::vector<Put>& puts, const std::set<std::string>& seen) {
    for (const auto& p : puts) EXPECT_TRUE(seen.count(p.data)) << "lost: " << p.data;
  }

  std::shared_ptr<aws::DynamoDbClient> dynamodb_;
  std::string table_;
  std::shared_ptr<kcl::DynamoDbLeaseTable> leases_;
  KclLedger ledger_;
  std::vector<std::unique_ptr<RunningKclWorker>> workers_;
};

}  // namespace sluice::kinesis::testing

#endif  // SLUICE_TESTS_INTEGRATION_KINESIS_KCL_HARNESS_H_
