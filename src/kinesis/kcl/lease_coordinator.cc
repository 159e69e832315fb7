#include "sluice/kinesis/kcl/lease_coordinator.h"

#include <algorithm>
#include <functional>

#include "kinesis/kcl/lease_planner.h"

namespace sluice::kinesis::kcl {

using namespace std::chrono_literals;

struct LeaseCoordinator::Metrics {
  Metrics(MetricsRegistry& r, const std::string& table, const std::string& worker)
      : held(r.gauge("sluice_kcl_leases_held", "Leases this worker holds.", {"table", "worker"})
                 .with({table, worker})),
        target(r.gauge("sluice_kcl_lease_target",
                       "This worker's fair share of leases in the last plan.", {"table", "worker"})
                   .with({table, worker})),
        workers(r.gauge("sluice_kcl_workers", "Live workers seen in the last plan.",
                        {"table", "worker"})
                    .with({table, worker})),
        taken(r.counter("sluice_kcl_leases_taken_total",
                        "Leases taken: unowned, expired, or handed over to this worker.",
                        {"table", "worker", "kind"})),
        stolen(r.counter("sluice_kcl_leases_stolen_total",
                         "Leases taken from a live worker: handoffs started, and handoffs forced "
                         "after the timeout.",
                         {"table", "worker", "kind"})),
        lost(r.counter("sluice_kcl_leases_lost_total",
                       "Leases found taken by another worker, deleted, or not renewable for the "
                       "failover time.",
                       {"table", "worker"})
                 .with({table, worker})),
        shed(r.counter("sluice_kcl_leases_handed_over_total",
                       "Leases this worker gave up to another after checkpointing.",
                       {"table", "worker"})
                 .with({table, worker})),
        renewals(r.counter("sluice_kcl_lease_renewals_total", "Lease renewals that succeeded.",
                           {"table", "worker"})
                     .with({table, worker})),
        renewals_skipped(r.counter("sluice_kcl_lease_renewals_skipped_total",
                                   "Renewals not needed because a checkpoint moved the counter.",
                                   {"table", "worker"})
                             .with({table, worker})),
        renew_failures(r.counter("sluice_kcl_lease_renew_failures_total",
                                 "Lease renewals that failed for another reason than losing the "
                                 "lease (the table could not be reached).",
                                 {"table", "worker"})
                           .with({table, worker})),
        created(r.counter("sluice_kcl_leases_created_total", "Leases created for new shards.",
                          {"table", "worker"})
                    .with({table, worker})),
        table_(table),
        worker_(worker) {}
  Counter& taken_as(const char* kind) { return taken.with({table_, worker_, kind}); }
  Counter& stolen_as(const char* kind) { return stolen.with({table_, worker_, kind}); }

  Gauge& held;
  Gauge& target;
  Gauge& workers;
  CounterFamily& taken;
  CounterFamily& stolen;
  Counter& lost;
  Counter& shed;
  Counter& renewals;
  Counter& renewals_skipped;
  Counter& renew_failures;
  Counter& created;
  std::string table_;
  std::string worker_;
};

Result<std::shared_ptr<LeaseCoordinator>> LeaseCoordinator::create(
    std::shared_ptr<LeaseTable> table, LeaseCoordinatorOptions options) {
  if (!table) return Status::invalid_argument("LeaseCoordinator: a lease table is required");
  SLUICE_RETURN_IF_ERROR(options.management.validate());
  if (options.worker_id.find_first_of(" \t\r\n") != std::string::npos) {
    return Status::invalid_argument("LeaseCoordinatorOptions.worker_id must not contain spaces");
  }
  if (!options.stream_identifier.empty()) {
    auto key = LeaseKey::parse(options.stream_identifier + ":shardId-000000000000");
    if (!key.ok()) {
      return Status::invalid_argument("LeaseCoordinatorOptions.stream_identifier \"" +
                                      options.stream_identifier +
                                      "\" is not account:stream:creationEpoch");
    }
  }
  return std::shared_ptr<LeaseCoordinator>(
      new LeaseCoordinator(std::move(table), std::move(options)));
}

LeaseCoordinator::LeaseCoordinator(std::shared_ptr<LeaseTable> table,
                                   LeaseCoordinatorOptions options)
    : table_(std::move(table)),
      options_(std::move(options)),
      worker_id_(options_.worker_id.empty() ? generate_worker_id() : options_.worker_id),
      log_(with_fields(options_.logger ? options_.logger : make_noop_logger(),
                       {{"component", "kinesis.kcl"}, {"worker", worker_id_}})),
      clock_(options_.clock ? options_.clock : &Clock::real()),
      metrics_(std::make_unique<Metrics>(registry_or_global(options_.metrics), table_->name(),
                                         worker_id_)),
      spread_(std::hash<std::string>{}(worker_id_)) {}

LeaseCoordinator::~LeaseCoordinator() {
  Status s = stop();
  if (!s.ok()) log_->warn("lease coordinator: stop failed", {{"error", s}});
}

std::string LeaseCoordinator::lease_key(std::string_view shard_id) const {
  if (options_.stream_identifier.empty()) return std::string(shard_id);
  return options_.stream_identifier + ":" + std::string(shard_id);
}

bool LeaseCoordinator::mine(const Lease& lease) const {
  return lease.stream_identifier == options_.stream_identifier;
}

std::shared_ptr<std::mutex> LeaseCoordinator::write_lock(const std::string& shard) {
  std::lock_guard lock(mu_);
  auto& m = write_locks_[shard];
  if (!m) m = std::make_shared<std::mutex>();
  return m;
}

// --- observation ------------------------------------------------------------------

Status LeaseCoordinator::refresh(bool force) {
  const auto fresh_for = options_.management.take_interval / 2;
  {
    std::lock_guard lock(mu_);
    if (!force && scanned_at_ && clock_->now() - *scanned_at_ < fresh_for) return Status();
  }
  std::size_t skipped = 0;
  auto all = table_->list(&skipped);
  if (!all.ok()) return all.status();
  if (skipped) {
    log_->warn("lease table items that are not valid leases were skipped",
               {{"table", table_->name()}, {"count", static_cast<long long>(skipped)}});
  }
  std::vector<Lease> leases;
  for (auto& l : *all) {
    if (mine(l)) leases.push_back(std::move(l));
  }
  std::sort(leases.begin(), leases.end(),
            [](const Lease& a, const Lease& b) { return a.shard_id < b.shard_id; });
  std::lock_guard lock(mu_);
  const auto now = clock_->now();
  observe_locked(leases, now);
  leases_ = std::move(leases);
  scanned_at_ = now;
  return Status();
}

void LeaseCoordinator::observe_locked(const std::vector<Lease>& leases, Clock::TimePoint now) {
  std::map<std::string, Observed, std::less<>> next;
  for (const Lease& l : leases) {
    auto it = observed_.find(l.shard_id);
    Observed o;
    o.counter = l.lease_counter;
    o.owner = l.lease_owner;
    o.checkpoint_owner = l.checkpoint_owner;
    if (it != observed_.end() && it->second.counter == l.lease_counter &&
        it->second.owner == l.lease_owner && it->second.checkpoint_owner == l.checkpoint_owner) {
      o.changed_at = it->second.changed_at;
    } else {
      // First sight or a change: the KCL's rule is to start the failover
      // clock when this worker sees the new value.
      o.changed_at = now;
    }
    next.emplace(l.shard_id, std::move(o));
  }
  observed_ = std::move(next);
}

void LeaseCoordinator::lose_locked(const std::string& shard, std::string_view why) {
  auto it = held_.find(shard);
  if (it == held_.end()) return;
  held_.erase(it);
  lost_since_balance_.insert(shard);
  metrics_->lost.inc();
  metrics_->held.set(static_cast<double>(held_.size()));
  log_->warn("lease lost", {{"shard", shard}, {"why", why}});
}

void LeaseCoordinator::notify_lost(const std::vector<std::string>& shards) {
  if (shards.empty()) return;
  std::function<void(const std::string&)> cb;
  {
    std::lock_guard lock(mu_);
    cb = on_lost_;
  }
  if (!cb) return;
  for (const auto& shard : shards) {
    try {
      cb(shard);
    } catch (const std::exception& e) {
      log_->error("on_lost threw", {{"shard", shard}, {"error", e.what()}});
    } catch (...) {
      log_->error("on_lost threw", {{"shard", shard}});
    }
  }
}

// Held leases the last scan shows moved on (taken by someone else), and
// handoffs away from this worker started since.
std::vector<std::string> LeaseCoordinator::reconcile_locked() {
  std::vector<std::string> lost;
  for (auto& [shard, h] : held_) {
    auto it = std::lower_bound(leases_.begin(), leases_.end(), shard,
                               [](const Lease& l, const std::string& s) { return l.shard_id < s; });
    if (it == leases_.end() || it->shard_id != shard) {
      lost.push_back(shard);
      continue;
    }
    const Lease& l = *it;
    if (l.lease_owner == worker_id_ && l.checkpoint_owner.empty()) continue;
    if (l.checkpoint_owner == worker_id_ && !l.lease_owner.empty()) {
      if (!h.handing_over) {
        log_->info("lease handoff requested", {{"shard", shard}, {"to", l.lease_owner}});
      }
      h.handing_over = true;
      h.handoff_to = l.lease_owner;
      continue;
    }
    // A scan older than this worker's last write shows an older counter:
    // only a higher one proves that someone else wrote since.
    if (l.lease_counter > h.counter) lost.push_back(shard);
  }
  for (const auto& shard : lost) lose_locked(shard, "the lease table shows another owner");
  return lost;
}

// --- LeaseManager -----------------------------------------------------------------

Status LeaseCoordinator::start(std::string_view stream,
                               std::function<void(const std::string&)> on_lost) {
  {
    std::lock_guard lock(mu_);
    if (started_) return Status::failed_precondition("LeaseCoordinator already started");
    stream_ = std::string(stream);
    on_lost_ = std::move(on_lost);
    started_ = true;
  }
  renewer_ = std::jthread([this](std::stop_token st) { renew_loop(std::move(st)); });
  log_->info("lease coordinator started",
             {{"table", table_->name()},
              {"stream", stream_},
              {"failover", std::chrono::nanoseconds(options_.management.failover_time)},
              {"renew", std::chrono::nanoseconds(options_.management.effective_renew_interval())},
              {"take", std::chrono::nanoseconds(options_.management.take_interval)}});
  return Status();
}

Result<LeaseBalance> LeaseCoordinator::balance(const std::vector<std::string>& workable_shards) {
  {
    std::lock_guard lock(mu_);
    if (!started_) return Status::failed_precondition("LeaseCoordinator: call start() first");
  }
  bool due = false;
  {
    std::lock_guard lock(mu_);
    due = next_step_at_ && clock_->now() >= *next_step_at_;
  }
  // The step asked for is judged on a fresh scan: a watched lease may have
  // been renewed since the last one (a take would only fail its condition),
  // leftover leases taken by others.
  SLUICE_RETURN_IF_ERROR(refresh(due).with_context("scanning the lease table"));
  const std::set<std::string> workable(workable_shards.begin(), workable_shards.end());
  LeaseBalance out;
  bool took_first = false;
  SLUICE_RETURN_IF_ERROR(balance_round(workable, out, &took_first).status());
  auto settle = options_.first_take_settle;
  if (settle.count() < 0) {
    settle = std::min<std::chrono::milliseconds>(options_.management.take_interval / 4, 1s);
  }
  if (took_first && settle.count() > 0) {
    // This worker was invisible (no leases) and now owns one: let workers
    // that started with it show up too, then take the rest of the share.
    clock_->sleep_for(settle);
    if (refresh(true).ok()) {
      bool again = false;
      (void)balance_round(workable, out, &again);
    }
  }
  std::lock_guard lock(mu_);
  for (const auto& [shard, h] : held_) {
    out.held.push_back(shard);
    if (h.handing_over || h.shed_requested) out.to_shed.push_back(shard);
  }
  out.lost.assign(lost_since_balance_.begin(), lost_since_balance_.end());
  lost_since_balance_.clear();
  std::sort(out.acquired.begin(), out.acquired.end());
  out.acquired.erase(std::unique(out.acquired.begin(), out.acquired.end()), out.acquired.end());
  out.next_step_at = next_step_at_;
  metrics_->held.set(static_cast<double>(held_.size()));
  return out;
}

Result<LeaseBalance> LeaseCoordinator::balance_round(const std::set<std::string>& workable,
                                                     LeaseBalance& out, bool* took_first) {
  const auto& m = options_.management;
  PlanInput input;
  LeasePlan plan;
  std::map<std::string, Lease> seen;
  std::vector<std::string> lost;
  {
    std::lock_guard lock(mu_);
    const auto now = clock_->now();
    lost = reconcile_locked();
    input.me = worker_id_;
    input.max_leases = m.max_leases;
    input.leases_to_acquire = m.leases_to_acquire;
    input.spread = spread_;
    std::optional<Clock::TimePoint> expiry_due;
    for (const auto& [shard, h] : held_) {
      if (!h.handing_over && !h.shed_requested) input.held.insert(shard);
    }
    for (const Lease& l : leases_) {
      LeaseView v;
      v.shard_id = l.shard_id;
      v.owner = l.lease_owner;
      v.checkpoint_owner = l.checkpoint_owner;
      v.finished = l.at_shard_end();
      v.workable = workable.count(l.shard_id) > 0;
      auto o = observed_.find(l.shard_id);
      const auto unchanged = o == observed_.end() ? Clock::Duration(0) : now - o->second.changed_at;
      v.expired = !l.lease_owner.empty() && unchanged > m.failover_time;
      v.very_old = v.expired && unchanged > 3 * m.failover_time;
      if (!v.expired && v.workable && !v.finished && !l.lease_owner.empty() &&
          l.lease_owner != worker_id_ && o != observed_.end()) {
        // Strictly after the failover time, as the expiry test above.
        const auto due = o->second.changed_at + m.failover_time + 1ms;
        if (!expiry_due || due < *expiry_due) expiry_due = due;
      }
      if (l.lease_owner == worker_id_ && !l.checkpoint_owner.empty() && !held_.count(l.shard_id)) {
        auto [it, fresh] = incoming_.try_emplace(l.shard_id, now);
        (void)fresh;
        v.handoff_timed_out = now - it->second > m.handoff_timeout;
      }
      input.leases.push_back(std::move(v));
      seen.emplace(l.shard_id, l);
    }
    // Handoffs to this worker that are gone from the table.
    for (auto it = incoming_.begin(); it != incoming_.end();) {
      auto s = seen.find(it->first);
      if (s == seen.end() || s->second.lease_owner != worker_id_ || held_.count(it->first)) {
        it = incoming_.erase(it);
      } else {
        ++it;
      }
    }
    next_step_at_ = expiry_due;
    plan = plan_leases(input);
    last_workers_ = plan.workers;
    last_target_ = plan.target;
    last_balanced_ = plan.balanced;
    metrics_->target.set(plan.target);
    metrics_->workers.set(static_cast<double>(plan.workers.size()));
  }
  notify_lost(lost);
  const int load_before = plan.load[worker_id_];

  auto acquire = [&](const Lease& l, const char* kind, Counter& counter) -> bool {
    const auto sent = clock_->now();
    Status s = table_->take(l, worker_id_);
    if (!s.ok()) {
      if (s.code() != StatusCode::kConditionFailed) {
        log_->warn("taking a lease failed", {{"shard", l.shard_id}, {"error", s}});
      }
      return false;
    }
    counter.inc();
    std::lock_guard lock(mu_);
    Held h;
    h.counter = l.lease_counter + 1;
    h.last_write = sent;
    held_[l.shard_id] = h;
    incoming_.erase(l.shard_id);
    lost_since_balance_.erase(l.shard_id);
    for (Lease& mine : leases_) {
      if (mine.shard_id == l.shard_id) {
        mine.lease_owner = worker_id_;
        mine.checkpoint_owner.clear();
        mine.lease_counter = h.counter;
      }
    }
    out.acquired.push_back(l.shard_id);
    log_->info("lease taken", {{"shard", l.shard_id}, {"kind", kind}, {"from", l.lease_owner}});
    return true;
  };

  for (const auto& shard : plan.adopt) {
    const Lease& l = seen.at(shard);
    const bool forced = !l.checkpoint_owner.empty();
    acquire(l, forced ? "forced" : "assigned",
            forced ? metrics_->stolen_as("forced") : metrics_->taken_as("assigned"));
  }
  int got = 0;
  for (const auto& shard : plan.take) {
    if (got >= plan.limit) break;
    const Lease& l = seen.at(shard);
    const bool expired = !l.lease_owner.empty();
    if (acquire(l, expired ? "expired" : "unowned",
                metrics_->taken_as(expired ? "expired" : "unowned"))) {
      ++got;
    }
  }
  for (const auto& [shard, from] : plan.steal) {
    if (got >= plan.limit) break;
    Status s = table_->start_handoff(lease_key(shard), from, worker_id_);
    if (!s.ok()) {
      if (s.code() != StatusCode::kConditionFailed) {
        log_->warn("starting a lease handoff failed", {{"shard", shard}, {"error", s}});
      }
      continue;
    }
    ++got;
    metrics_->stolen_as("handoff").inc();
    log_->info("lease handoff started", {{"shard", shard}, {"from", from}});
    std::lock_guard lock(mu_);
    incoming_[shard] = clock_->now();
    for (Lease& l : leases_) {
      if (l.shard_id == shard) {
        l.lease_owner = worker_id_;
        l.checkpoint_owner = from;
      }
    }
  }
  if (!plan.shed.empty()) {
    std::lock_guard lock(mu_);
    for (const auto& shard : plan.shed) {
      auto it = held_.find(shard);
      if (it != held_.end() && !it->second.shed_requested) {
        it->second.shed_requested = true;
        log_->info("giving a lease up: above max_leases", {{"shard", shard}});
      }
    }
  }
  if (took_first) *took_first = load_before == 0 && got > 0 && plan.need > got;
  // Free leases left while this worker is below the ceiling share: while
  // leases move (a failover), workers can compute the shares from views a
  // few writes apart, and a lease nobody counts as theirs would wait a whole
  // take interval. Look again shortly, a couple of times at most.
  const int workers = std::max<int>(1, static_cast<int>(plan.workers.size()));
  const int ceiling = (plan.active + workers - 1) / workers;
  const int load_after = load_before + got;
  const bool room = load_after < ceiling && (m.max_leases == 0 || load_after < m.max_leases) &&
                    (m.leases_to_acquire == 0 || got < m.leases_to_acquire);
  {
    std::lock_guard lock(mu_);
    if (room && static_cast<int>(plan.take.size()) > got && quick_steps_ < 2) {
      ++quick_steps_;
      // Long enough for the other takers' writes of this round to land.
      const auto soon =
          clock_->now() + std::min<Clock::Duration>(Clock::Duration(m.take_interval) / 8,
                                                    std::chrono::milliseconds(100));
      if (!next_step_at_ || soon < *next_step_at_) next_step_at_ = soon;
    } else if (!room || static_cast<int>(plan.take.size()) <= got) {
      quick_steps_ = 0;
    }
  }
  if (!plan.balanced || got > 0 || !plan.adopt.empty()) {
    log_->debug("lease plan", {{"workers", static_cast<long long>(plan.workers.size())},
                               {"active", plan.active},
                               {"target", plan.target},
                               {"need", plan.need},
                               {"taken", got},
                               {"balanced", plan.balanced}});
  }
  return out;
}

bool LeaseCoordinator::holds(std::string_view shard_id) const {
  std::lock_guard lock(mu_);
  return held_.find(shard_id) != held_.end();
}

Status LeaseCoordinator::release(std::string_view shard_id) {
  Held h;
  const std::string shard(shard_id);
  auto wl = write_lock(shard);
  std::lock_guard write(*wl);
  {
    std::lock_guard lock(mu_);
    auto it = held_.find(shard_id);
    if (it == held_.end()) return Status();
    h = it->second;
    held_.erase(it);
    metrics_->held.set(static_cast<double>(held_.size()));
    for (Lease& l : leases_) {
      if (l.shard_id == shard) {
        if (h.handing_over) {
          l.checkpoint_owner.clear();
        } else {
          l.lease_owner.clear();
        }
        ++l.lease_counter;
      }
    }
  }
  Status s = h.handing_over ? table_->evict(lease_key(shard), h.handoff_to, worker_id_)
                            : table_->evict(lease_key(shard), worker_id_, "");
  if (s.code() == StatusCode::kConditionFailed && !h.handing_over) {
    // Another worker may have started a handoff this worker has not seen
    // yet (leaseOwner = it, checkpointOwner = us): complete it, or the
    // lease stays half handed over until the handoff times out.
    auto now = table_->get(lease_key(shard));
    if (now.ok() && *now && (*now)->checkpoint_owner == worker_id_ &&
        !(*now)->lease_owner.empty()) {
      h.handing_over = true;
      h.handoff_to = (*now)->lease_owner;
      s = table_->evict(lease_key(shard), h.handoff_to, worker_id_);
    }
  }
  if (h.handing_over || h.shed_requested) metrics_->shed.inc();
  if (s.code() == StatusCode::kConditionFailed) {
    log_->debug("lease already moved on when released", {{"shard", shard}});
    return Status();
  }
  if (!s.ok()) {
    log_->warn("releasing a lease failed; it expires after the failover time",
               {{"shard", shard}, {"error", s}});
    return s.with_context("releasing lease " + shard);
  }
  log_->info(h.handing_over ? "lease handed over" : "lease released",
             {{"shard", shard}, {"to", h.handoff_to}});
  return Status();
}

Status LeaseCoordinator::stop() {
  {
    std::lock_guard lock(mu_);
    if (!started_) return Status();
  }
  if (renewer_.joinable()) {
    if (renewer_.get_id() == std::this_thread::get_id()) {
      return Status::failed_precondition(
          "LeaseCoordinator::stop() must not be called from on_lost");
    }
    renewer_.request_stop();
    renewer_.join();
  }
  std::vector<std::string> shards;
  {
    std::lock_guard lock(mu_);
    for (const auto& [shard, h] : held_) shards.push_back(shard);
  }
  Status first;
  for (const auto& shard : shards) {
    Status s = release(shard);
    if (!s.ok() && first.ok()) first = s;
  }
  give_back_assigned();
  {
    std::lock_guard lock(mu_);
    started_ = false;
    held_.clear();
    metrics_->held.set(0);
  }
  log_->info("lease coordinator stopped",
             {{"table", table_->name()}, {"released", static_cast<long long>(shards.size())}});
  return first;
}

// Leases handed to this worker that it has not adopted yet (leaseOwner =
// us, not held): without this, a worker stopping right after another one
// handed it a lease would leave that lease to expire. An unadopted lease is
// made unowned; a handoff still in progress goes back to its old owner,
// which keeps working on it (its next renewal sees the counter it expects).
void LeaseCoordinator::give_back_assigned() {
  auto all = table_->list();
  if (!all.ok()) {
    log_->warn("scanning for leases handed to this worker failed", {{"error", all.status()}});
    return;
  }
  for (const Lease& l : *all) {
    if (!mine(l) || l.lease_owner != worker_id_ || holds(l.shard_id)) continue;
    Status s = l.checkpoint_owner.empty() ? table_->evict(l.lease_key, worker_id_, "")
                                          : table_->take(l, l.checkpoint_owner);
    if (s.ok()) {
      log_->info("lease handed to this worker given back at shutdown",
                 {{"shard", l.shard_id}, {"to", l.checkpoint_owner}});
    } else if (s.code() != StatusCode::kConditionFailed) {
      log_->warn("giving back a lease failed", {{"shard", l.shard_id}, {"error", s}});
    }
  }
}

Status LeaseCoordinator::shards_listed(const std::vector<ShardLineage>& shards) {
  SLUICE_RETURN_IF_ERROR(refresh(false).with_context("scanning the lease table"));
  std::vector<Lease> to_create;
  std::vector<std::pair<std::string, std::vector<std::string>>> to_update;
  {
    std::lock_guard lock(mu_);
    lineage_.clear();
    std::map<std::string, std::vector<std::string>> children;
    for (const auto& s : shards) {
      lineage_[s.shard_id] = s;
      for (const auto& p : s.parent_ids) children[p].push_back(s.shard_id);
    }
    for (auto& [p, c] : children) std::sort(c.begin(), c.end());
    std::map<std::string, const Lease*> existing;
    for (const Lease& l : leases_) existing[l.shard_id] = &l;

    // Shard ids grow with creation, so id order puts parents first.
    std::vector<const ShardLineage*> order;
    for (const auto& [id, s] : lineage_) order.push_back(&s);
    // Closed shards that have a leased descendant (processed, or skipped
    // on purpose, by someone before): never leased again.
    std::map<std::string, bool> leased_below;
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      bool below = false;
      auto c = children.find((*it)->shard_id);
      if (c != children.end()) {
        for (const auto& child : c->second) below |= existing.count(child) || leased_below[child];
      }
      leased_below[(*it)->shard_id] = below;
    }
    const auto strategy = options_.management.start_strategy.kind;
    const std::string initial = strategy == StartStrategy::Kind::kOldest      ? kTrimHorizon
                                : strategy == StartStrategy::Kind::kTimestamp ? kAtTimestamp
                                                                              : kLatest;
    std::set<std::string> will_have;
    for (const auto& [id, l] : existing) will_have.insert(id);
    absent_by_policy_.clear();
    for (const ShardLineage* s : order) {
      if (existing.count(s->shard_id)) {
        const Lease& l = *existing[s->shard_id];
        auto c = children.find(s->shard_id);
        if (l.at_shard_end() && c != children.end() && l.child_shard_ids != c->second) {
          to_update.emplace_back(s->shard_id, c->second);
        }
        continue;
      }
      bool leased_parent = false;
      for (const auto& p : s->parent_ids) leased_parent |= will_have.count(p) > 0;
      const bool create = strategy == StartStrategy::Kind::kLatest
                              ? (s->open || leased_parent)
                              : (leased_parent || !leased_below[s->shard_id]);
      if (!create) {
        if (!s->open) absent_by_policy_.insert(s->shard_id);
        continue;
      }
      Lease l;
      l.lease_key = lease_key(s->shard_id);
      l.shard_id = s->shard_id;
      l.stream_identifier = options_.stream_identifier;
      l.checkpoint = leased_parent ? kTrimHorizon : initial;
      l.parent_shard_ids = s->parent_ids;
      std::sort(l.parent_shard_ids.begin(), l.parent_shard_ids.end());
      l.starting_hash_key = s->starting_hash_key;
      l.ending_hash_key = s->ending_hash_key;
      to_create.push_back(std::move(l));
      will_have.insert(s->shard_id);
    }
  }
  for (const Lease& l : to_create) {
    Status s = table_->create(l);
    if (s.ok()) {
      metrics_->created.inc();
      log_->info("lease created", {{"shard", l.shard_id}, {"checkpoint", l.checkpoint}});
    } else if (s.code() != StatusCode::kAlreadyExists) {
      log_->warn("creating a lease failed; retried at the next shard sync",
                 {{"shard", l.shard_id}, {"error", s}});
      continue;
    }
    if (s.ok()) {
      std::lock_guard lock(mu_);
      auto pos =
          std::lower_bound(leases_.begin(), leases_.end(), l.shard_id,
                           [](const Lease& a, const std::string& id) { return a.shard_id < id; });
      if (pos == leases_.end() || pos->shard_id != l.shard_id) leases_.insert(pos, l);
      observed_.try_emplace(l.shard_id, Observed{0, "", "", clock_->now()});
    }
  }
  for (const auto& [shard, kids] : to_update) {
    Status s = table_->update_children(lease_key(shard), kids);
    if (!s.ok()) log_->warn("writing childShardIds failed", {{"shard", shard}, {"error", s}});
  }
  return Status();
}

// --- renewal ----------------------------------------------------------------------

void LeaseCoordinator::renew_loop(std::stop_token stop) {
  const auto tick = std::max<Clock::Duration>(options_.management.effective_renew_interval() / 4,
                                              std::chrono::milliseconds(1));
  while (!stop.stop_requested()) {
    if (!clock_->sleep_until(clock_->now() + tick, stop)) break;
    renew_now();
  }
}

void LeaseCoordinator::renew_now() {
  std::lock_guard pass(renew_mu_);
  const auto interval = options_.management.effective_renew_interval();
  std::vector<std::string> due;
  {
    std::lock_guard lock(mu_);
    const auto now = clock_->now();
    for (const auto& [shard, h] : held_) {
      if (now - h.last_write >= interval) due.push_back(shard);
    }
  }
  for (const auto& shard : due) renew_one(shard);
}

Result<bool> LeaseCoordinator::confirm_write(const std::string& shard,
                                             std::int64_t expected_counter,
                                             const std::optional<std::string>& checkpoint) {
  auto item = table_->get(lease_key(shard));
  if (!item.ok()) return item.status();
  if (!*item) return false;
  const Lease& l = **item;
  const bool ours = (l.lease_owner == worker_id_ && l.checkpoint_owner.empty()) ||
                    l.checkpoint_owner == worker_id_;
  return ours && l.lease_counter == expected_counter + 1 &&
         (!checkpoint || l.checkpoint == *checkpoint);
}

void LeaseCoordinator::renew_one(const std::string& shard) {
  auto wl = write_lock(shard);
  std::lock_guard write(*wl);
  const auto& m = options_.management;
  std::int64_t counter;
  bool handing_over;
  Clock::TimePoint last_write;
  {
    std::lock_guard lock(mu_);
    auto it = held_.find(shard);
    if (it == held_.end()) return;
    if (clock_->now() - it->second.last_write < m.effective_renew_interval()) {
      metrics_->renewals_skipped.inc();  // a checkpoint renewed it meanwhile
      return;
    }
    counter = it->second.counter;
    handing_over = it->second.handing_over;
    last_write = it->second.last_write;
  }
  const auto sent = clock_->now();
  Status s = table_->renew(lease_key(shard), counter, handing_over);
  std::vector<std::string> lost;
  if (s.code() == StatusCode::kConditionFailed) {
    // Why? A handoff to another worker, a retried request that did land,
    // or the lease is gone.
    auto item = table_->get(lease_key(shard));
    if (!item.ok()) {
      s = item.status();
    } else {
      std::lock_guard lock(mu_);
      auto it = held_.find(shard);
      if (it == held_.end()) return;
      if (!*item) {
        lose_locked(shard, "the lease was deleted");
        lost.push_back(shard);
      } else {
        const Lease& l = **item;
        if (l.lease_owner == worker_id_ && l.checkpoint_owner.empty() &&
            l.lease_counter == counter + 1) {
          // Our renewal landed (a retry), or a handoff of it was given back.
          it->second.counter = l.lease_counter;
          it->second.last_write = sent;
          it->second.handing_over = false;
          it->second.handoff_to.clear();
          s = Status();
        } else if (l.checkpoint_owner == worker_id_ && !l.lease_owner.empty()) {
          if (!it->second.handing_over) {
            log_->info("lease handoff requested", {{"shard", shard}, {"to", l.lease_owner}});
          }
          it->second.handing_over = true;
          it->second.handoff_to = l.lease_owner;
          it->second.counter = l.lease_counter;
          counter = l.lease_counter;
          handing_over = true;
          s = Status::condition_failed("retry");  // renew again below, as the old owner
        } else {
          lose_locked(shard, l.lease_owner.empty() ? "the lease was evicted"
                                                   : "the lease was taken by " + l.lease_owner);
          lost.push_back(shard);
        }
      }
    }
    if (lost.empty() && s.code() == StatusCode::kConditionFailed) {
      s = table_->renew(lease_key(shard), counter, true);
      if (s.code() == StatusCode::kConditionFailed) {
        std::lock_guard lock(mu_);
        lose_locked(shard, "the lease moved during a handoff");
        lost.push_back(shard);
      }
    }
  }
  if (lost.empty()) {
    std::lock_guard lock(mu_);
    auto it = held_.find(shard);
    if (it != held_.end()) {
      if (s.ok()) {
        if (it->second.counter == counter) it->second.counter = counter + 1;
        it->second.last_write = std::max(it->second.last_write, sent);
        metrics_->renewals.inc();
      } else {
        metrics_->renew_failures.inc();
        log_->warn("lease renewal failed", {{"shard", shard}, {"error", s}});
        if (clock_->now() - last_write > m.failover_time) {
          lose_locked(shard, "not renewed for the failover time");
          lost.push_back(shard);
        }
      }
    }
  }
  notify_lost(lost);
}

// --- CheckpointStore --------------------------------------------------------------

void LeaseCoordinator::note_checkpoint_position(std::string_view shard_id,
                                                const ExtendedSequenceNumber& position) {
  std::lock_guard lock(mu_);
  notes_[std::string(shard_id)] = position;
}

Status LeaseCoordinator::save(std::string_view, std::string_view shard_id,
                              const Checkpoint& checkpoint) {
  const std::string shard(shard_id);
  auto wl = write_lock(shard);
  std::lock_guard write(*wl);
  CheckpointUpdate update;
  update.checkpoint = checkpoint_text(checkpoint);
  std::int64_t counter;
  {
    std::lock_guard lock(mu_);
    auto it = held_.find(shard);
    if (it == held_.end()) {
      return Status::lease_lost("shard " + shard + " is not leased by worker " + worker_id_);
    }
    counter = it->second.counter;
    if (checkpoint.sub_sequence_number) {
      update.sub_sequence_number = static_cast<std::int64_t>(*checkpoint.sub_sequence_number);
    } else if (auto n = notes_.find(shard);
               n != notes_.end() && n->second.sequence_number == checkpoint.sequence_number &&
               !checkpoint.shard_end) {
      update.sub_sequence_number = static_cast<std::int64_t>(n->second.sub_sequence_number);
    }
    if (checkpoint.shard_end) {
      auto l = lineage_.find(shard);
      if (l != lineage_.end()) {
        for (const auto& [id, s] : lineage_) {
          if (std::find(s.parent_ids.begin(), s.parent_ids.end(), shard) != s.parent_ids.end()) {
            update.child_shard_ids.push_back(id);
          }
        }
      }
    }
    notes_.erase(shard);
  }
  if (update.checkpoint.empty()) {
    return Status::invalid_argument("checkpoint of shard " + shard + " has no position");
  }
  const auto sent = clock_->now();
  Status s = table_->update_checkpoint(lease_key(shard), counter, update);
  if (s.code() == StatusCode::kConditionFailed) {
    auto confirmed = confirm_write(shard, counter, update.checkpoint);
    if (confirmed.ok() && *confirmed) {
      s = Status();
    } else if (confirmed.ok()) {
      {
        std::lock_guard lock(mu_);
        lose_locked(shard, "checkpoint found the lease moved");
      }
      notify_lost({shard});
      return Status::lease_lost("shard " + shard + " is leased by another worker now");
    } else {
      s = confirmed.status();
    }
  }
  if (!s.ok()) return s;
  std::lock_guard lock(mu_);
  auto it = held_.find(shard);
  if (it != held_.end()) {
    it->second.counter = counter + 1;
    it->second.last_write = std::max(it->second.last_write, sent);
  }
  for (Lease& l : leases_) {
    if (l.shard_id == shard) {
      l.checkpoint = update.checkpoint;
      l.checkpoint_sub_sequence_number = update.sub_sequence_number;
      l.lease_counter = counter + 1;
      l.pending_checkpoint.clear();
      l.pending_checkpoint_state.reset();
      if (!update.child_shard_ids.empty()) l.child_shard_ids = update.child_shard_ids;
    }
  }
  return Status();
}

Status LeaseCoordinator::prepare_checkpoint(std::string_view shard_id,
                                            const ExtendedSequenceNumber& position,
                                            const std::optional<std::string>& state) {
  const std::string shard(shard_id);
  auto wl = write_lock(shard);
  std::lock_guard write(*wl);
  std::int64_t counter;
  {
    std::lock_guard lock(mu_);
    auto it = held_.find(shard);
    if (it == held_.end()) {
      return Status::lease_lost("shard " + shard + " is not leased by worker " + worker_id_);
    }
    counter = it->second.counter;
  }
  const auto sent = clock_->now();
  Status s =
      table_->prepare_checkpoint(lease_key(shard), counter, position.sequence_number,
                                 static_cast<std::int64_t>(position.sub_sequence_number), state);
  if (s.code() == StatusCode::kConditionFailed) {
    auto confirmed = confirm_write(shard, counter, std::nullopt);
    if (confirmed.ok() && *confirmed) {
      s = Status();
    } else if (confirmed.ok()) {
      {
        std::lock_guard lock(mu_);
        lose_locked(shard, "prepare_checkpoint found the lease moved");
      }
      notify_lost({shard});
      return Status::lease_lost("shard " + shard + " is leased by another worker now");
    } else {
      s = confirmed.status();
    }
  }
  if (!s.ok()) return s.with_context("prepare_checkpoint of shard " + shard);
  std::lock_guard lock(mu_);
  auto it = held_.find(shard);
  if (it != held_.end()) {
    it->second.counter = counter + 1;
    it->second.last_write = std::max(it->second.last_write, sent);
  }
  for (Lease& l : leases_) {
    if (l.shard_id == shard) {
      l.pending_checkpoint = position.sequence_number;
      l.pending_checkpoint_sub_sequence_number =
          static_cast<std::int64_t>(position.sub_sequence_number);
      if (state) l.pending_checkpoint_state = state;
      l.lease_counter = counter + 1;
    }
  }
  return Status();
}

Result<std::optional<Checkpoint>> LeaseCoordinator::get(std::string_view,
                                                        std::string_view shard_id) {
  auto l = table_->get(lease_key(shard_id));
  if (!l.ok()) return l.status();
  if (!*l) return std::optional<Checkpoint>();
  return checkpoint_of(**l);
}

Result<std::map<std::string, Checkpoint>> LeaseCoordinator::list(std::string_view) {
  SLUICE_RETURN_IF_ERROR(refresh(false).with_context("scanning the lease table"));
  std::map<std::string, Checkpoint> out;
  std::lock_guard lock(mu_);
  for (const Lease& l : leases_) {
    auto c = checkpoint_of(l);
    if (!c.ok()) {
      log_->warn("lease with an unreadable checkpoint",
                 {{"shard", l.shard_id}, {"error", c.status()}});
      continue;
    }
    if (*c) out.emplace(l.shard_id, std::move(**c));
  }
  // A closed shard without a lease by policy does not block its children
  // (the KCL's rule: only a parent that has a lease must reach SHARD_END).
  for (const auto& shard : absent_by_policy_) {
    Checkpoint done;
    done.shard_end = true;
    out.emplace(shard, done);
  }
  return out;
}

Status LeaseCoordinator::remove(std::string_view, std::string_view shard_id) {
  return table_->remove(lease_key(shard_id));
}

// --- status -----------------------------------------------------------------------

std::optional<Lease> LeaseCoordinator::lease(std::string_view shard_id) const {
  std::lock_guard lock(mu_);
  for (const Lease& l : leases_) {
    if (l.shard_id == shard_id) return l;
  }
  return std::nullopt;
}

CoordinatorSnapshot LeaseCoordinator::snapshot() const {
  CoordinatorSnapshot s;
  std::lock_guard lock(mu_);
  s.leases = leases_;
  for (const auto& [shard, h] : held_) {
    s.held.push_back(shard);
    if (h.handing_over) s.handing_over.push_back(shard);
  }
  s.workers = last_workers_;
  s.target = last_target_;
  s.balanced = last_balanced_;
  return s;
}

}  // namespace sluice::kinesis::kcl
