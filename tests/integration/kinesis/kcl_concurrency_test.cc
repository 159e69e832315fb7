// Two KCL workers in one process, against kinesalite and dynalite, with all
// their threads live at once: each worker's engine, lease renewer and
// handler pool (processors checkpoint from the handler threads), a producer
// putting records while they run, and the test thread reading status(),
// stats() and coordinator().snapshot() of both the whole time, during the
// graceful stop of one worker (the other takes its leases over) and of the
// other. Labelled "concurrency": it also runs under ThreadSanitizer, which
// no other KCL worker test does.
//
// Beyond what TSan reports, it checks: every put record is delivered exactly
// once (every move of a shard is graceful); a checkpoint from a processor is either written or
// refused with LeaseLost (never another error); each worker's stats() never go back, never count
// records its processors were not handed, and at the end equal what they were handed; after both
// stopped, every lease is unowned and its checkpoint is the shard's last record.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kcl_harness.h"
#include "sluice/kinesis/sequence_number.h"

namespace sluice::kinesis::testing {
namespace {

using namespace std::chrono_literals;

// A live view of one worker as the test thread polls it.
struct Watched {
  RunningKclWorker* worker = nullptr;
  std::int64_t last_processed = 0;
};

class KclConcurrencyTest : public KclTest {
 protected:
  // Processors checkpoint everything after every batch, from the handler
  // thread that runs them; anything but success or LeaseLost is recorded.
  kcl::WorkerConfig concurrent_config(const std::string& id) {
    auto c = config(id);
    c.handler_threads = 3;
    c.polling.limit = 25;  // several batches per shard: many checkpoints
    return c;
  }
  kcl::ShardRecordProcessorFactory checkpointing(const std::string& id) {
    RecordingOptions o;
    o.on_batch = [this](const std::string& shard, std::span<const Record>, kcl::Checkpointer& cp) {
      Status s = cp.checkpoint();
      std::lock_guard lock(mu_);
      if (s.ok()) {
        ++checkpoints_written_;
      } else if (s.code() == StatusCode::kLeaseLost) {
        ++checkpoints_refused_;
      } else {
        bad_.push_back("checkpoint of " + shard + " failed: " + s.to_string());
      }
    };
    return recording(id, o);
  }

  // User records the ledger says `id`'s processors were handed.
  std::int64_t delivered_to(const std::string& id) {
    std::int64_t n = 0;
    for (const auto& d : ledger_.deliveries()) n += d.worker == id;
    return n;
  }

  // One poll of a worker's status(), stats() and snapshot(), with what must
  // hold at any moment.
  void poll(Watched& w) {
    const std::string id = w.worker->id();
    // stats() before the ledger: the worker counts a batch after its
    // processor returned, the ledger at its start.
    const kcl::WorkerStats stats = w.worker->worker().stats();
    const std::int64_t delivered = delivered_to(id);
    EXPECT_GE(stats.records_processed, w.last_processed) << id << ": records_processed went back";
    EXPECT_LE(stats.records_processed, delivered)
        << id << ": counts records its processors were not handed";
    EXPECT_EQ(stats.processor_errors, 0) << id;
    w.last_processed = stats.records_processed;
    // scheduler.h lists waiting, running, ended, stopped, failed and
    // lease-lost; the engine also shows "starting" until a shard runs.
    static const std::set<std::string> states = {"starting", "waiting", "running",   "ended",
                                                 "stopped",  "failed",  "lease-lost"};
    for (const auto& s : w.worker->worker().status()) {
      EXPECT_TRUE(shards_.count(s.shard_id)) << id << ": status of unknown shard " << s.shard_id;
      EXPECT_TRUE(states.count(s.state)) << id << ": state " << s.state;
      EXPECT_NE(s.state, "failed") << id << " " << s.shard_id;
    }
    const kcl::CoordinatorSnapshot snap = w.worker->worker().coordinator().snapshot();
    const std::set<std::string> held(snap.held.begin(), snap.held.end());
    for (const auto& h : snap.handing_over) {
      EXPECT_TRUE(held.count(h)) << id << " hands over " << h << " which it does not hold";
    }
    for (const auto& h : snap.held) EXPECT_TRUE(shards_.count(h)) << id << " holds " << h;
    ++polls_;
  }
  void poll_all(std::vector<Watched>& ws) {
    for (auto& w : ws) poll(w);
  }
  // Polls until `pred` holds or `timeout` passes.
  bool poll_until(std::vector<Watched>& ws, const std::function<bool()>& pred,
                  std::chrono::milliseconds timeout) {
    return wait_for(
        [&] {
          poll_all(ws);
          return pred();
        },
        timeout);
  }
  // Stops `w` gracefully on another thread while the test thread polls `ws`.
  Status stop_while_polling(RunningKclWorker& w, std::vector<Watched>& ws) {
    Status result;
    std::atomic<bool> done{false};
    std::thread stopper([&] {
      result = w.stop();
      done = true;
    });
    const bool stopped = poll_until(
        ws, [&] { return done.load(); }, 40s);
    stopper.join();
    EXPECT_TRUE(stopped) << w.id() << " took more than 40 s to stop";
    return result;
  }
  bool all_delivered(const std::vector<Put>& puts) {
    const auto seen = ledger_.distinct_data();
    for (const auto& p : puts) {
      if (!seen.count(p.data)) return false;
    }
    return true;
  }

  std::set<std::string> shards_;
  std::mutex mu_;
  std::int64_t checkpoints_written_ = 0;
  std::int64_t checkpoints_refused_ = 0;
  std::vector<std::string> bad_;
  std::int64_t polls_ = 0;
};

TEST_F(KclConcurrencyTest, TwoWorkersCheckpointFromHandlerThreadsWhileStatusIsPolledAndStopInTurn) {
  create_stream(4);
  std::vector<Put> puts = put(120, "before");
  for (const auto& p : puts) shards_.insert(p.shard);
  ASSERT_EQ(shards_.size(), 4u) << "16 partition keys spread over the 4 shards";

  auto* a = start_worker(concurrent_config("conc-a"), checkpointing("conc-a"));
  auto* b = start_worker(concurrent_config("conc-b"), checkpointing("conc-b"));
  ASSERT_TRUE(a && b);
  std::vector<Watched> both = {Watched{a, 0}, Watched{b, 0}};

  // Records arrive while the workers balance and run.
  std::vector<Put> live;
  std::thread producer([&] {
    for (int i = 0; i < 8; ++i) {
      auto batch = put(25, "live-" + std::to_string(i));
      live.insert(live.end(), batch.begin(), batch.end());
      std::this_thread::sleep_for(150ms);
    }
  });
  const bool balanced_both = poll_until(
      both,
      [&] {
        return balanced({a->id(), b->id()}, 4) && all_delivered(puts);
      },
      40s);
  producer.join();
  puts.insert(puts.end(), live.begin(), live.end());
  ASSERT_TRUE(balanced_both) << describe_owners();
  ASSERT_TRUE(poll_until(
      both, [&] { return all_delivered(puts); }, 40s))
      << ledger_.distinct_data().size() << " of " << puts.size() << " delivered";

  // a stops gracefully while records keep arriving: b takes its leases.
  std::thread producer2([&] { live = put(100, "during-stop"); });
  EXPECT_TRUE(stop_while_polling(*a, both).ok());
  producer2.join();
  puts.insert(puts.end(), live.begin(), live.end());
  for (const auto& l : scan()) EXPECT_NE(l.lease_owner, a->id()) << l.shard_id;
  std::vector<Watched> only_b = {both[1]};
  ASSERT_TRUE(poll_until(
      only_b, [&] { return owners()[b->id()] == 4 && running(*b) == 4 && all_delivered(puts); },
      40s))
      << describe_owners();
  auto after = put(100, "after-stop");
  puts.insert(puts.end(), after.begin(), after.end());
  ASSERT_TRUE(poll_until(
      only_b, [&] { return all_delivered(puts); }, 40s));

  // Then b stops too.
  EXPECT_TRUE(stop_while_polling(*b, only_b).ok());

  // Every record delivered at least once.
  expect_none_lost(puts, ledger_.distinct_data());
  // The stats count exactly what each worker's processors were handed.
  std::int64_t counted = 0;
  for (auto* w : {a, b}) {
    const auto stats = w->worker().stats();
    EXPECT_EQ(stats.records_processed, delivered_to(w->id())) << w->id();
    EXPECT_EQ(stats.processor_errors, 0) << w->id();
    counted += stats.records_processed;
  }
  EXPECT_EQ(counted, static_cast<std::int64_t>(ledger_.size()));
  // Every move here is graceful (handoffs, stops): nothing is delivered
  // twice. (A shard handed over used to start from the checkpoint list read
  // before the handoff step, missing the old owner's final checkpoint.)
  EXPECT_EQ(counted, static_cast<std::int64_t>(puts.size()));
  // Both stopped gracefully: every lease unowned, checkpointed at its
  // shard's last record.
  std::map<std::string, std::string> last;
  for (const auto& p : puts) {
    auto& l = last[p.shard];
    if (l.empty() || compare_sequence_numbers(p.sequence, l) > 0) l = p.sequence;
  }
  for (const auto& l : scan()) {
    EXPECT_EQ(l.lease_owner, "") << l.shard_id;
    EXPECT_EQ(l.checkpoint_owner, "") << l.shard_id;
    EXPECT_EQ(l.checkpoint, last[l.shard_id]) << l.shard_id;
  }
  std::lock_guard lock(mu_);
  for (const auto& e : bad_) ADD_FAILURE() << e;
  EXPECT_GT(checkpoints_written_, 4) << "processors checkpointed";
  EXPECT_GT(polls_, 10);
  std::cout << "[ stats    ] records put " << puts.size() << ", delivered " << counted
            << "; checkpoints written " << checkpoints_written_ << ", refused "
            << checkpoints_refused_ << "; polls " << polls_ << "\n";
}

}  // namespace
}  // namespace sluice::kinesis::testing
