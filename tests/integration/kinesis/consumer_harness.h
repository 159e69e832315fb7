// Shared fixture of the consumer engine's integration tests: a fresh stream
// on kinesalite, a way to put records and remember where they went, and a
// consumer run in a thread until it has seen enough.
#ifndef SLUICE_TESTS_INTEGRATION_KINESIS_CONSUMER_HARNESS_H_
#define SLUICE_TESTS_INTEGRATION_KINESIS_CONSUMER_HARNESS_H_

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sluice/aws/kinesis_client.h"
#include "sluice/core/executor.h"
#include "sluice/kinesis/consumer.h"
#include "support/backends.h"
#include "support/test_util.h"

namespace sluice::kinesis::testing {

using namespace std::chrono_literals;

// One user record as a handler saw it.
struct Seen {
  std::string shard;
  std::string sequence;
  std::uint64_t sub = 0;
  std::string partition_key;
  std::string data;
  bool aggregated = false;
  std::uint64_t order = 0;  // global delivery order
};

// What a PutRecords call did with one record.
struct Put {
  std::string data;
  std::string partition_key;
  std::string shard;
  std::string sequence;
};

class Collector {
 public:
  Status record(const Record& r) {
    std::lock_guard lock(mu_);
    seen_.push_back({std::string(r.shard_id), std::string(r.sequence_number), r.sub_sequence_number,
                     std::string(r.partition_key), std::string(r.data), r.aggregated, next_++});
    return Status();
  }
  std::vector<Seen> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return seen_.size();
  }
  void clear() {
    std::lock_guard lock(mu_);
    seen_.clear();
  }

 private:
  mutable std::mutex mu_;
  std::vector<Seen> seen_;
  std::uint64_t next_ = 0;
};

// A consumer running on its own thread.
class RunningConsumer {
 public:
  explicit RunningConsumer(std::unique_ptr<Consumer> c) : consumer_(std::move(c)) {
    thread_ = std::thread([this] {
      result_ = consumer_->start(stop_.get_token());
      finished_ = true;
    });
  }
  ~RunningConsumer() { (void)stop(); }
  Status stop() {
    stop_.request_stop();
    if (thread_.joinable()) thread_.join();
    return result_;
  }
  bool finished() const { return finished_; }
  Consumer& consumer() { return *consumer_; }
  // True once every shard in `shards` is running.
  bool running(std::size_t shards) const {
    std::size_t n = 0;
    for (const auto& s : consumer_->status()) n += s.state == "running";
    return n >= shards;
  }

 private:
  std::unique_ptr<Consumer> consumer_;
  std::stop_source stop_;
  std::thread thread_;
  Status result_;
  std::atomic<bool> finished_{false};
};

class KinesisStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    aws::ClientOptions o;
    o.region = "us-east-1";
    o.endpoint = sluice::testing::Backends::get().kinesis_endpoint;
    o.credentials = aws::make_static_credentials("AKIDEXAMPLE", "secret");
    auto c = aws::KinesisClient::create(o);
    ASSERT_TRUE(c.ok()) << c.status();
    kinesis_ = std::move(*c);
    stream_ = sluice::testing::unique_name("consume");
  }
  void TearDown() override {
    if (created_) (void)run(kinesis_->delete_stream({.name = stream_}));
  }

  template <class T>
  T run(asio::awaitable<T> task) {
    return run_blocking(pool_.executor(), std::move(task));
  }

  void create_stream(int shards) {
    ASSERT_TRUE(run(kinesis_->create_stream(stream_, shards)).ok());
    created_ = true;
    ASSERT_TRUE(run(kinesis_->wait_until_active({.name = stream_}, 10s)).ok());
  }

  // Puts `n` records "<prefix>-<i>" over `keys` partition keys.
  std::vector<Put> put(int n, const std::string& prefix, int keys = 16) {
    std::vector<Put> out;
    for (int start = 0; start < n; start += 500) {
      const int count = std::min(500, n - start);
      std::vector<std::string> data, pks;
      for (int i = start; i < start + count; ++i) {
        data.push_back(prefix + "-" + std::to_string(i));
        pks.push_back("pk-" + std::to_string(i % keys));
      }
      std::vector<aws::PutRecordsEntry> entries;
      for (int i = 0; i < count; ++i) entries.push_back({data[i], pks[i]});
      auto r = run(kinesis_->put_records({.name = stream_}, entries));
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) return out;
      EXPECT_EQ(r->failed_record_count, 0);
      for (int i = 0; i < count; ++i) {
        out.push_back({data[i], pks[i], r->records[i].shard_id, r->records[i].sequence_number});
      }
    }
    return out;
  }

  // Puts one raw Kinesis record (e.g. a KPL aggregate).
  Put put_raw(const std::string& data, const std::string& pk, const std::string& ehk = "") {
    auto r = run(kinesis_->put_record({.name = stream_}, data, pk, ehk));
    EXPECT_TRUE(r.ok()) << r.status();
    return {data, pk, r.ok() ? r->shard_id : "", r.ok() ? r->sequence_number : ""};
  }

  ConsumerOptions options(Collector& collector) {
    ConsumerOptions o;
    o.stream_name = stream_;
    o.start_position = StartPosition::kTrimHorizon;
    o.poll_interval = 50ms;
    o.shard_sync_interval = 500ms;
    o.lease_acquire_interval = 200ms;
    o.checkpoint_every = 10;
    o.retry = {.max_attempts = 3, .backoff = 10ms};
    o.record_handler = [&collector](const Record& r) { return collector.record(r); };
    o.metrics = &metrics_;
    o.shutdown_timeout = 20s;
    if (std::getenv("SLUICE_TEST_DEBUG")) o.logger = make_stderr_logger(LogLevel::kTrace);
    return o;
  }

  std::unique_ptr<RunningConsumer> start(ConsumerOptions o,
                                         std::shared_ptr<CheckpointStore> store) {
    auto c = Consumer::create(std::move(o), kinesis_, std::move(store));
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return nullptr;
    return std::make_unique<RunningConsumer>(std::move(*c));
  }

  static bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 60s) {
    return sluice::testing::wait_until(pred, timeout, 20ms);
  }

  // Every put record was seen, and within each shard in sequence order.
  static void expect_all_in_order(const std::vector<Put>& puts, const std::vector<Seen>& seen) {
    std::map<std::string, std::vector<std::string>> by_shard_seen;
    std::set<std::string> seen_data;
    for (const auto& s : seen) {
      by_shard_seen[s.shard].push_back(s.sequence);
      seen_data.insert(s.data);
    }
    for (const auto& p : puts) EXPECT_TRUE(seen_data.count(p.data)) << "lost: " << p.data;
    for (const auto& [shard, seqs] : by_shard_seen) {
      for (std::size_t i = 1; i < seqs.size(); ++i) {
        ASSERT_TRUE(compare_sequence_numbers(seqs[i - 1], seqs[i]) <= 0)
            << "out of order in " << shard << " at " << i;
      }
    }
  }

  double counter(const std::string& name, const std::vector<std::string>& label_names,
                 std::vector<std::string> values) {
    return metrics_.counter(name, "", label_names).with(std::move(values)).value();
  }

  ThreadPool pool_{2};
  std::shared_ptr<aws::KinesisClient> kinesis_;
  std::string stream_;
  bool created_ = false;
  MetricsRegistry metrics_;
};

}  // namespace sluice::kinesis::testing

#endif  // SLUICE_TESTS_INTEGRATION_KINESIS_CONSUMER_HARNESS_H_
