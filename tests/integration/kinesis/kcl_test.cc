// The KCL-compatible worker against kinesalite and dynalite: the lease
// table's exact schema, consuming a table the Java KCL wrote, balancing
// across workers, late joiners, graceful handoff, resharding, and the
// checkpointer's rules, payload decoding. (Failover after SIGKILL:
// kcl_failover_test.cc.)
#include <gtest/gtest.h>

#include "kcl_harness.h"
#include "sluice/kinesis/aggregation.h"
#include "sluice/kinesis/payload_codec.h"

namespace sluice::kinesis::testing {
namespace {

using aws::AttributeValue;
using Type = aws::AttributeValue::Type;

const std::map<std::string, Type>& kcl_attribute_types() {
  static const std::map<std::string, Type> types = {
      {"leaseKey", Type::kS},
      {"leaseOwner", Type::kS},
      {"leaseCounter", Type::kN},
      {"ownerSwitchesSinceCheckpoint", Type::kN},
      {"checkpoint", Type::kS},
      {"checkpointSubSequenceNumber", Type::kN},
      {"pendingCheckpoint", Type::kS},
      {"pendingCheckpointSubSequenceNumber", Type::kN},
      {"pendingCheckpointState", Type::kB},
      {"parentShardId", Type::kSS},
      {"childShardIds", Type::kSS},
      {"startingHashKey", Type::kS},
      {"endingHashKey", Type::kS},
      {"throughputKBps", Type::kN},
      {"checkpointOwner", Type::kS},
  };
  return types;
}

class KclWorkerTest : public KclTest {
 protected:
  // Every item of the table, as stored.
  std::vector<aws::Item> raw_items() {
    aws::ScanRequest req;
    req.table = table_;
    req.consistent_read = true;
    auto items = run(dynamodb_->scan_all(std::move(req)));
    EXPECT_TRUE(items.ok()) << items.status();
    return items.ok() ? *items : std::vector<aws::Item>{};
  }
};

TEST_F(KclWorkerTest, LeaseItemsHaveTheJavaKclAttributeNamesAndTypes) {
  create_stream(2);
  auto puts = put(100, "schema");
  auto* w = start_worker("schema-worker");
  ASSERT_TRUE(wait_for([&] { return ledger_.distinct_data().size() >= 100; })) << describe_events();
  // Split one shard so that parentShardId and, at the parent's end,
  // childShardIds are written too.
  ASSERT_TRUE(run(kinesis_->split_shard({.name = stream_}, "shardId-000000000000",
                                        "85070591730234615865843651857942052864"))
                  .ok());
  ASSERT_TRUE(run(kinesis_->wait_until_active({.name = stream_}, 10s)).ok());
  auto more = put(100, "schema-after");
  ASSERT_TRUE(wait_for([&] {
    auto l = lease("shardId-000000000000");
    return ledger_.distinct_data().size() >= 200 && l && l->at_shard_end() &&
           !l->child_shard_ids.empty();
  })) << describe_events();
  ASSERT_TRUE(w->stop().ok());

  // The table: hash key leaseKey (S), on demand.
  auto described = run(dynamodb_->describe_table(table_));
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(described->billing_mode, "PAY_PER_REQUEST");
  ASSERT_EQ(described->key_schema.size(), 1u);
  EXPECT_EQ(described->key_schema[0].name, "leaseKey");

  auto items = raw_items();
  ASSERT_EQ(items.size(), 4u);
  for (const auto& item : items) {
    const std::string key = aws::get_string(item, "leaseKey").value_or("?");
    for (const auto& [name, value] : item) {
      auto it = kcl_attribute_types().find(name);
      ASSERT_NE(it, kcl_attribute_types().end())
          << key << ": attribute " << name << " is not one the Java KCL writes";
      EXPECT_EQ(value.type(), it->second) << key << ": attribute " << name << " has the wrong type";
    }
    // What every KCL lease has.
    for (const char* name :
         {"leaseKey", "leaseCounter", "ownerSwitchesSinceCheckpoint", "checkpoint",
          "checkpointSubSequenceNumber", "startingHashKey", "endingHashKey"}) {
      EXPECT_TRUE(item.count(name)) << key << " lacks " << name;
    }
    EXPECT_FALSE(item.count("leaseOwner")) << key << ": a graceful shutdown leaves leases unowned";
    EXPECT_FALSE(item.count("checkpointOwner")) << key;
  }
  auto by_key = [&](const std::string& k) -> const aws::Item& {
    for (const auto& i : items) {
      if (aws::get_string(i, "leaseKey") == k) return i;
    }
    static const aws::Item none;
    ADD_FAILURE() << "no lease " << k;
    return none;
  };
  const aws::Item& parent = by_key("shardId-000000000000");
  EXPECT_EQ(aws::get_string(parent, "checkpoint"), "SHARD_END");
  ASSERT_TRUE(parent.count("childShardIds"));
  EXPECT_EQ(parent.at("childShardIds").set(),
            (std::vector<std::string>{"shardId-000000000002", "shardId-000000000003"}));
  EXPECT_FALSE(parent.count("parentShardId"));
  for (const char* child : {"shardId-000000000002", "shardId-000000000003"}) {
    const aws::Item& c = by_key(child);
    ASSERT_TRUE(c.count("parentShardId")) << child;
    EXPECT_EQ(c.at("parentShardId").set(), std::vector<std::string>{"shardId-000000000000"});
    // A sequence number: the children were read after the parent's end.
    const std::string cp = aws::get_string(c, "checkpoint").value_or("");
    EXPECT_TRUE(is_sequence_number(cp)) << child << " checkpoint " << cp;
  }
  const aws::Item& open = by_key("shardId-000000000001");
  EXPECT_TRUE(is_sequence_number(aws::get_string(open, "checkpoint").value_or("")));
  EXPECT_EQ(aws::get_string(open, "startingHashKey"), "170141183460469231731687303715884105728");
  EXPECT_EQ(aws::get_string(open, "endingHashKey"), "340282366920938463463374607431768211455");
  expect_none_lost(puts, ledger_.distinct_data());
  expect_none_lost(more, ledger_.distinct_data());
}

// A table written by Java KCL workers: leases mid-checkpoint (one inside a
// KPL aggregate), a finished parent with its children, a foreign item.
TEST_F(KclWorkerTest, ConsumesATableTheJavaKclWroteFromExactlyItsCheckpoints) {
  create_stream(2);
  // Shard 1 (upper half of the hash range): plain records, one aggregate of
  // five user records, more plain records.
  const std::string upper = "255211775190703847597530955573826158591";
  std::vector<Put> before1, after1;
  for (int i = 0; i < 10; ++i)
    before1.push_back(put_raw("s1-before-" + std::to_string(i), "k", upper));
  AggregateBuilder agg;
  for (int i = 0; i < 5; ++i)
    agg.add("user-" + std::to_string(i), upper, "agg-" + std::to_string(i));
  const Put aggregate = put_raw(agg.finish(), "agg", upper);
  for (int i = 0; i < 10; ++i)
    after1.push_back(put_raw("s1-after-" + std::to_string(i), "k", upper));
  ASSERT_EQ(aggregate.shard, "shardId-000000000001");
  // Shard 0: records, then a split into 2 and 3; children get records.
  const std::string low = "1", high = "120000000000000000000000000000000000000";
  for (int i = 0; i < 10; ++i) put_raw("s0-" + std::to_string(i), "k", low);
  ASSERT_TRUE(run(kinesis_->split_shard({.name = stream_}, "shardId-000000000000",
                                        "85070591730234615865843651857942052864"))
                  .ok());
  ASSERT_TRUE(run(kinesis_->wait_until_active({.name = stream_}, 10s)).ok());
  std::vector<Put> child2, child3;
  for (int i = 0; i < 10; ++i) child2.push_back(put_raw("c2-" + std::to_string(i), "k", low));
  for (int i = 0; i < 10; ++i) child3.push_back(put_raw("c3-" + std::to_string(i), "k", high));
  ASSERT_EQ(child2[0].shard, "shardId-000000000002");
  ASSERT_EQ(child3[0].shard, "shardId-000000000003");

  // The table, item by item as the Java KCL writes it.
  ASSERT_TRUE(leases_->create_if_missing(false, 10s).ok());
  auto put_item = [&](aws::Item item) {
    aws::PutItemRequest req;
    req.table = table_;
    req.item = std::move(item);
    auto r = run(dynamodb_->put_item(std::move(req)));
    ASSERT_TRUE(r.ok()) << r.status();
  };
  auto S = [](std::string v) { return AttributeValue::S(std::move(v)); };
  auto N = [](std::int64_t v) { return AttributeValue::N(v); };
  const std::string dead = "java-worker-7f3a";
  put_item({{"leaseKey", S("shardId-000000000000")},
            {"leaseOwner", S(dead)},
            {"leaseCounter", N(412)},
            {"ownerSwitchesSinceCheckpoint", N(0)},
            {"checkpoint", S("SHARD_END")},
            {"checkpointSubSequenceNumber", N(0)},
            {"childShardIds", AttributeValue::SS({"shardId-000000000002", "shardId-000000000003"})},
            {"startingHashKey", S("0")},
            {"endingHashKey", S("170141183460469231731687303715884105727")}});
  // Mid-aggregate: user records 0..2 done.
  put_item({{"leaseKey", S("shardId-000000000001")},
            {"leaseOwner", S(dead)},
            {"leaseCounter", N(97)},
            {"ownerSwitchesSinceCheckpoint", N(1)},
            {"checkpoint", S(aggregate.sequence)},
            {"checkpointSubSequenceNumber", N(2)},
            {"startingHashKey", S("170141183460469231731687303715884105728")},
            {"endingHashKey", S("340282366920938463463374607431768211455")},
            {"throughputKBps", AttributeValue::N(std::string("1.25"))}});
  // A child mid-way (plain record: sub-sequence 0), unowned.
  put_item({{"leaseKey", S("shardId-000000000002")},
            {"leaseCounter", N(3)},
            {"ownerSwitchesSinceCheckpoint", N(0)},
            {"checkpoint", S(child2[3].sequence)},
            {"checkpointSubSequenceNumber", N(0)},
            {"parentShardId", AttributeValue::SS({"shardId-000000000000"})},
            {"startingHashKey", S("0")},
            {"endingHashKey", S("85070591730234615865843651857942052863")}});
  // A child not started yet.
  put_item({{"leaseKey", S("shardId-000000000003")},
            {"leaseCounter", N(0)},
            {"ownerSwitchesSinceCheckpoint", N(0)},
            {"checkpoint", S("TRIM_HORIZON")},
            {"checkpointSubSequenceNumber", N(0)},
            {"parentShardId", AttributeValue::SS({"shardId-000000000000"})},
            {"startingHashKey", S("85070591730234615865843651857942052864")},
            {"endingHashKey", S("170141183460469231731687303715884105727")}});
  // Not a lease (KCL v3.5 keeps other entities in the table).
  const aws::Item foreign = {{"leaseKey", S("-WorkerMetricStats-java-worker-7f3a")},
                             {"entityType", S("WORKER_METRICS")},
                             {"leaseCounter", S("not a number")},
                             {"metricStats", AttributeValue::L({N(1), N(2)})}};
  put_item(foreign);

  // LATEST: the checkpoints, not the strategy, say where to start.
  auto c = config("sluice-worker");
  c.management.start_strategy = kcl::StartStrategy::latest();
  start_worker(c, recording("sluice-worker"));
  std::set<std::string> expected;
  for (int i = 3; i < 5; ++i) expected.insert("agg-" + std::to_string(i));
  for (const auto& p : after1) expected.insert(p.data);
  for (std::size_t i = 4; i < child2.size(); ++i) expected.insert(child2[i].data);
  for (const auto& p : child3) expected.insert(p.data);
  ASSERT_TRUE(wait_for([&] { return ledger_.distinct_data().size() >= expected.size(); }, 60s))
      << ledger_.size() << "\n"
      << missing(expected) << "\n"
      << describe_events();
  std::this_thread::sleep_for(1s);  // anything extra would show up now
  ASSERT_TRUE(workers_[0]->stop().ok());
  EXPECT_EQ(ledger_.distinct_data(), expected);
  EXPECT_EQ(ledger_.size(), expected.size()) << "nothing delivered twice";
  // Where each shard started, as the processor was told.
  auto init1 = ledger_.inits("shardId-000000000001");
  ASSERT_FALSE(init1.empty());
  EXPECT_EQ(init1[0].extended_sequence_number, (ExtendedSequenceNumber{aggregate.sequence, 2}));
  auto init3 = ledger_.inits("shardId-000000000003");
  ASSERT_FALSE(init3.empty());
  EXPECT_EQ(init3[0].extended_sequence_number.sequence_number, "TRIM_HORIZON");
  EXPECT_TRUE(ledger_.inits("shardId-000000000000").empty()) << "a finished shard is not read";

  // The foreign item is untouched; no lease was added or dropped.
  auto items = raw_items();
  EXPECT_EQ(items.size(), 5u);
  for (const auto& item : items) {
    if (aws::get_string(item, "leaseKey") == "-WorkerMetricStats-java-worker-7f3a") {
      EXPECT_EQ(item, foreign);
    }
  }
  auto l1 = lease("shardId-000000000001");
  ASSERT_TRUE(l1);
  EXPECT_EQ(l1->checkpoint, after1.back().sequence);
  EXPECT_EQ(l1->checkpoint_sub_sequence_number, 0);
  EXPECT_EQ(l1->throughput_kbps, 1.25) << "attributes sluice does not write are kept";
  auto l0 = lease("shardId-000000000000");
  ASSERT_TRUE(l0);
  EXPECT_EQ(l0->lease_owner, dead) << "a finished lease is left alone";
}

TEST_F(KclWorkerTest, AWorkerThatJoinsLaterGetsItsShareAndBalanceHolds) {
  create_stream(8);
  auto puts = put(400, "join");
  std::vector<std::string> ids = {"worker-a", "worker-b"};
  for (const auto& id : ids) start_worker(id);
  ASSERT_TRUE(wait_for([&] { return balanced(ids, 8); }, 60s)) << describe_owners();
  ids.push_back("worker-c");
  start_worker("worker-c");
  ASSERT_TRUE(wait_for([&] { return balanced(ids, 8); }, 60s)) << describe_owners();
  // Balanced: nothing moves any more (counters move, owners do not).
  const auto settled = owners();
  std::map<std::string, std::string> owner_of;
  for (const auto& l : scan()) owner_of[l.shard_id] = l.lease_owner;
  std::this_thread::sleep_for(3s);
  for (const auto& l : scan()) {
    EXPECT_EQ(l.lease_owner, owner_of[l.shard_id]) << l.shard_id << " moved after balance";
    EXPECT_TRUE(l.checkpoint_owner.empty()) << l.shard_id;
  }
  auto more = put(400, "join-more");
  ASSERT_TRUE(wait_for([&] { return ledger_.distinct_data().size() >= 800; }, 60s))
      << ledger_.distinct_data().size();
  expect_none_lost(puts, ledger_.distinct_data());
  expect_none_lost(more, ledger_.distinct_data());
  std::set<std::string> with_records;
  for (const auto& d : ledger_.deliveries()) {
    if (d.data.starts_with("join-more")) with_records.insert(d.worker);
  }
  EXPECT_EQ(with_records.size(), 3u) << "every worker processes its share";
  for (auto& w : workers_) EXPECT_TRUE(w->stop().ok());
}

TEST_F(KclWorkerTest, ThreeWorkersStartingTogetherBalanceWithinOneLease) {
  create_stream(8);
  auto puts = put(300, "cold");
  const std::vector<std::string> ids = {"cold-a", "cold-b", "cold-c"};
  for (const auto& id : ids) start_worker(id);
  ASSERT_TRUE(wait_for([&] { return balanced(ids, 8); }, 60s)) << describe_owners();
  ASSERT_TRUE(wait_for([&] { return ledger_.distinct_data().size() >= 300; }, 60s));
  expect_none_lost(puts, ledger_.distinct_data());
  for (auto& w : workers_) EXPECT_TRUE(w->stop().ok());
}

TEST_F(KclWorkerTest, GracefulShutdownHandsLeasesOverWithoutWaitingForExpiry) {
  create_stream(4);
  auto puts = put(200, "grace");
  // A failover time far beyond the test's waits: any move must be a handover.
  auto slow = [&](const std::string& id) {
    auto c = config(id);
    c.management.failover_time = 120s;
    return start_worker(c, recording(id));
  };
  slow("grace-a");
  auto* b = slow("grace-b");
  ASSERT_TRUE(wait_for(
      [&] {
        return balanced({"grace-a", "grace-b"}, 4);
      },
      60s))
      << describe_owners();
  ASSERT_TRUE(wait_for([&] { return ledger_.distinct_data().size() >= 200; }, 60s));
  // Both work on their shares (not just own them) before one leaves.
  ASSERT_TRUE(wait_for(
      [&] {
        return balanced({"grace-a", "grace-b"}, 4) && running(*workers_[0]) == 2 &&
               running(*workers_[1]) == 2;
      },
      60s))
      << describe_owners();
  ASSERT_TRUE(workers_[0]->stop().ok());
  EXPECT_TRUE(ledger_.has_event("shutdown_requested shardId-000000000000 grace-a") ||
              ledger_.has_event("shutdown_requested shardId-000000000001 grace-a") ||
              ledger_.has_event("shutdown_requested shardId-000000000002 grace-a") ||
              ledger_.has_event("shutdown_requested shardId-000000000003 grace-a"))
      << describe_events();
  for (const auto& l : scan()) EXPECT_NE(l.lease_owner, "grace-a") << l.shard_id;
  ASSERT_TRUE(wait_for([&] { return owners()[b->id()] == 4; }, 30s))
      << "the survivor took the released leases long before their 120 s expiry: "
      << describe_owners();
  const std::size_t before = ledger_.size();
  auto more = put(200, "grace-more");
  ASSERT_TRUE(wait_for([&] { return ledger_.distinct_data().size() >= 400; }, 60s));
  expect_none_lost(puts, ledger_.distinct_data());
  expect_none_lost(more, ledger_.distinct_data());
  EXPECT_EQ(ledger_.size(), before + 200)
      << "the handover repeated nothing (checkpointed at shutdown)";
  EXPECT_TRUE(b->stop().ok());
}

TEST_F(KclWorkerTest, SplitAndMergeWhileWorkersRunKeepParentsBeforeChildren) {
  create_stream(2);
  auto puts = put(200, "rs1");
  for (const char* id : {"rs-a", "rs-b"}) start_worker(id);
  ASSERT_TRUE(wait_for([&] { return ledger_.distinct_data().size() >= 200; }, 60s));
  ASSERT_TRUE(run(kinesis_->split_shard({.name = stream_}, "shardId-000000000000",
                                        "85070591730234615865843651857942052864"))
                  .ok());
  ASSERT_TRUE(run(kinesis_->wait_until_active({.name = stream_}, 10s)).ok());
  auto more = put(200, "rs2");
  ASSERT_TRUE(
      run(kinesis_->merge_shards({.name = stream_}, "shardId-000000000002", "shardId-000000000003"))
          .ok());
  ASSERT_TRUE(run(kinesis_->wait_until_active({.name = stream_}, 10s)).ok());
  auto last = put(200, "rs3");
  ASSERT_TRUE(wait_for([&] { return ledger_.distinct_data().size() >= 600; }, 90s))
      << ledger_.distinct_data().size() << "\n"
      << describe_events();
  for (auto& w : workers_) EXPECT_TRUE(w->stop().ok());
  auto seen = ledger_.distinct_data();
  expect_none_lost(puts, seen);
  expect_none_lost(more, seen);
  expect_none_lost(last, seen);
  auto deliveries = ledger_.deliveries();
  auto first_of = [&](const std::string& shard) {
    std::uint64_t v = UINT64_MAX;
    for (const auto& d : deliveries)
      if (d.shard == shard) v = std::min(v, d.order);
    return v;
  };
  auto last_of = [&](const std::string& shard) {
    std::uint64_t v = 0;
    for (const auto& d : deliveries)
      if (d.shard == shard) v = std::max(v, d.order);
    return v;
  };
  EXPECT_LT(last_of("shardId-000000000000"), first_of("shardId-000000000002"));
  EXPECT_LT(last_of("shardId-000000000000"), first_of("shardId-000000000003"));
  EXPECT_LT(last_of("shardId-000000000002"), first_of("shardId-000000000004"));
  EXPECT_LT(last_of("shardId-000000000003"), first_of("shardId-000000000004"));
  EXPECT_NE(first_of("shardId-000000000004"), UINT64_MAX) << "the merged shard was read";
  // The table records the lineage as the KCL does.
  auto l4 = lease("shardId-000000000004");
  ASSERT_TRUE(l4);
  EXPECT_EQ(l4->parent_shard_ids,
            (std::vector<std::string>{"shardId-000000000002", "shardId-000000000003"}));
  for (const char* parent : {"shardId-000000000002", "shardId-000000000003"}) {
    auto l = lease(parent);
    ASSERT_TRUE(l) << parent;
    EXPECT_TRUE(l->at_shard_end()) << parent;
    EXPECT_EQ(l->child_shard_ids, std::vector<std::string>{"shardId-000000000004"}) << parent;
  }
}

// --- the checkpointer's rules ---------------------------------------------------

TEST_F(KclWorkerTest, CheckpointerRefusesInvalidSequenceNumbersWithAClearError) {
  create_stream(1);
  auto puts = put(20, "rule");
  // Shared with the processor, which may outlive this scope on a failure.
  struct State {
    std::mutex mu;
    std::vector<Status> results;
    std::atomic<bool> tried{false};
  };
  auto state = std::make_shared<State>();
  RecordingOptions o;
  o.on_batch = [state](const std::string&, std::span<const Record> records, kcl::Checkpointer& cp) {
    if (state->tried.exchange(true)) return;
    std::vector<Status> r;
    r.push_back(cp.checkpoint("not-a-sequence"));
    // After the largest delivered.
    r.push_back(cp.checkpoint(std::string(records.back().sequence_number) + "0"));
    r.push_back(cp.end());  // SHARD_END before the shard's end
    r.push_back(cp.checkpoint(records[records.size() / 2]));
    // Before the last checkpoint.
    r.push_back(cp.checkpoint(records.front()));
    auto prepared = cp.prepare_checkpoint("12x");
    r.push_back(prepared.status());
    std::lock_guard lock(state->mu);
    state->results = std::move(r);
  };
  start_worker("rules", o);
  auto results = [state] {
    std::lock_guard lock(state->mu);
    return state->results;
  };
  ASSERT_TRUE(wait_for([&] { return !results().empty(); }));
  const std::vector<Status> r = results();
  ASSERT_EQ(r.size(), 6u);
  EXPECT_EQ(r[0].code(), StatusCode::kInvalidArgument) << r[0];
  EXPECT_NE(std::string(r[0].message()).find("not a sequence number"), std::string::npos) << r[0];
  EXPECT_EQ(r[1].code(), StatusCode::kFailedPrecondition) << r[1];
  EXPECT_NE(std::string(r[1].message()).find("after the last record delivered"), std::string::npos)
      << r[1];
  EXPECT_EQ(r[2].code(), StatusCode::kFailedPrecondition) << r[2];
  EXPECT_NE(std::string(r[2].message()).find("not reached its end"), std::string::npos) << r[2];
  EXPECT_TRUE(r[3].ok()) << r[3];
  EXPECT_EQ(r[4].code(), StatusCode::kFailedPrecondition) << r[4];
  EXPECT_NE(std::string(r[4].message()).find("before the last checkpoint"), std::string::npos)
      << r[4];
  EXPECT_EQ(r[5].code(), StatusCode::kInvalidArgument) << r[5];
  ASSERT_TRUE(workers_[0]->stop().ok());
}

TEST_F(KclWorkerTest, CheckpointAfterTheLeaseIsLostIsRefused) {
  create_stream(1);
  put(10, "lost");
  struct State {
    std::mutex mu;
    std::vector<Status> refused;
  };
  auto state = std::make_shared<State>();
  RecordingOptions o;
  // In lease_lost, the checkpointer of the last batch (which the KCL's
  // processors also keep): refused, the lease is someone else's.
  o.on_lease_lost = [state](const std::string&, kcl::Checkpointer* cp) {
    if (!cp) return;
    std::lock_guard lock(state->mu);
    state->refused.push_back(cp->checkpoint());
    state->refused.push_back(cp->end());
  };
  auto c = config("loser");
  c.management.failover_time = 60s;  // the thief's lease does not expire during the test
  start_worker(c, recording("loser", o));
  ASSERT_TRUE(wait_for([&] { return ledger_.size() >= 10; }));
  // Another worker takes the lease behind this one's back.
  ASSERT_TRUE(wait_for([&] {
    auto l = lease("shardId-000000000000");
    return l && leases_->take(*l, "thief").ok();
  }));
  put(10, "lost-more");
  ASSERT_TRUE(
      wait_for([&] { return ledger_.has_event("lease_lost shardId-000000000000 loser"); }, 30s))
      << describe_events();
  {
    std::lock_guard lock(state->mu);
    ASSERT_EQ(state->refused.size(), 2u);
    for (const auto& s : state->refused) {
      EXPECT_EQ(s.code(), StatusCode::kLeaseLost) << s;
      EXPECT_NE(std::string(s.message()).find("lease"), std::string::npos) << s;
    }
  }
  auto l = lease("shardId-000000000000");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->lease_owner, "thief") << "the loser wrote nothing after losing the lease";
  ASSERT_TRUE(workers_[0]->stop().ok());
}

TEST_F(KclWorkerTest, ShardEndedWithoutACheckpointIsAnErrorAndChildrenWait) {
  create_stream(1);
  put(20, "end");
  struct State {
    std::mutex mu;
    std::vector<std::pair<std::string, Status>> errors;
  };
  auto state = std::make_shared<State>();
  auto c = config("forgetful");
  c.on_processor_error = [state](const std::string& shard, const Status& s) {
    std::lock_guard lock(state->mu);
    state->errors.emplace_back(shard, s);
  };
  RecordingOptions o;
  o.checkpoint_shard_end = false;
  start_worker(c, recording("forgetful", o));
  ASSERT_TRUE(wait_for([&] { return ledger_.size() >= 20; }));
  ASSERT_TRUE(run(kinesis_->split_shard({.name = stream_}, "shardId-000000000000",
                                        "170141183460469231731687303715884105728"))
                  .ok());
  ASSERT_TRUE(run(kinesis_->wait_until_active({.name = stream_}, 10s)).ok());
  auto more = put(20, "end-children");
  ASSERT_TRUE(wait_for(
      [&] {
        std::lock_guard lock(state->mu);
        return !state->errors.empty();
      },
      30s))
      << describe_events();
  {
    std::lock_guard lock(state->mu);
    const auto& errors = state->errors;
    EXPECT_EQ(errors[0].first, "shardId-000000000000");
    EXPECT_EQ(errors[0].second.code(), StatusCode::kFailedPrecondition) << errors[0].second;
    EXPECT_NE(std::string(errors[0].second.message()).find("without checkpointing SHARD_END"),
              std::string::npos)
        << errors[0].second;
  }
  // The children do not start while the parent is not at SHARD_END.
  std::this_thread::sleep_for(2s);
  for (const auto& d : ledger_.deliveries()) {
    EXPECT_FALSE(d.data.starts_with("end-children")) << "child read before its parent ended";
  }
  auto parent = lease("shardId-000000000000");
  ASSERT_TRUE(parent);
  EXPECT_FALSE(parent->at_shard_end());
  ASSERT_TRUE(workers_[0]->stop().ok());
}

TEST_F(KclWorkerTest, PayloadDecoderOpensEnvelopesAndReportsACorruptRecordWithoutLosingIt) {
  create_stream(1);
  auto encoder = PayloadEncoder::create({.compression = Compression::kZstd});
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  std::set<std::string> expected;
  for (int i = 0; i < 5; ++i) {
    const std::string payload = "zstd-" + std::to_string(i) + std::string(300, 'z');
    auto prepared = encoder->encode(payload);
    ASSERT_TRUE(prepared.ok()) << prepared.status();
    ASSERT_NE(prepared->data, payload) << "the record carries an envelope";
    put_raw(prepared->data, "pk");
    expected.insert(payload);
  }
  put_raw("plain-record", "pk");
  expected.insert("plain-record");
  // The envelope's magic with an unknown version: Corruption.
  const std::string corrupt = std::string("\xF5SLP\x07\x00\x05", 7) + "hello";
  const Put bad = put_raw(corrupt, "pk");
  expected.insert(corrupt);

  struct State {
    std::mutex mu;
    std::vector<std::pair<std::string, Status>> errors;
  };
  auto state = std::make_shared<State>();
  auto c = config("decoding");
  c.payload_decoder = make_payload_decoder(nullptr);
  c.on_processor_error = [state](const std::string& shard, const Status& s) {
    std::lock_guard lock(state->mu);
    state->errors.emplace_back(shard, s);
  };
  start_worker(c, recording("decoding"));
  ASSERT_TRUE(wait_for([&] { return ledger_.size() >= expected.size(); })) << missing(expected);
  EXPECT_EQ(ledger_.distinct_data(), expected) << missing(expected);
  {
    std::lock_guard lock(state->mu);
    ASSERT_EQ(state->errors.size(), 1u);
    const Status& e = state->errors[0].second;
    EXPECT_EQ(e.code(), StatusCode::kCorruption) << e;
    EXPECT_NE(std::string(e.message()).find(bad.sequence), std::string::npos) << e;
    EXPECT_NE(std::string(e.message()).find("delivered undecoded"), std::string::npos) << e;
  }
  ASSERT_TRUE(workers_[0]->stop().ok());
}

}  // namespace
}  // namespace sluice::kinesis::testing
