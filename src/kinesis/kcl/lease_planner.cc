#include "kinesis/kcl/lease_planner.h"

#include <algorithm>
#include <tuple>

namespace sluice::kinesis::kcl {

LeasePlan plan_leases(const PlanInput& in) {
  LeasePlan plan;
  std::set<std::string> workers{in.me};
  std::map<std::string, int>& load = plan.load;
  load[in.me] = 0;
  std::vector<const LeaseView*> free_leases;
  // A live worker renews every lease it holds each renewal pass, so one
  // expired lease means its owner is gone. Its other leases expire one by
  // one (they were renewed at different moments): counting it as a worker
  // until the last one does would hold the survivors' shares down and leave
  // its expired leases untaken until then.
  std::set<std::string> gone;
  for (const LeaseView& l : in.leases) {
    if (l.expired && !l.finished && !l.owner.empty() && l.owner != in.me) gone.insert(l.owner);
  }
  for (const LeaseView& l : in.leases) {
    if (l.finished) continue;
    if (in.held.count(l.shard_id)) {
      ++load[in.me];
      ++plan.active;
      continue;
    }
    if (!l.owner.empty() && l.owner == in.me) {
      // Assigned to this worker (a handoff to it, or a lease of an earlier
      // process with the same worker id).
      if (!l.workable) continue;
      ++load[in.me];
      ++plan.active;
      if (!l.checkpoint_owner.empty() && !l.expired) workers.insert(l.checkpoint_owner);
      if (l.checkpoint_owner.empty() || l.expired || l.handoff_timed_out) {
        plan.adopt.push_back(l.shard_id);
      }
      continue;
    }
    if (!l.owner.empty() && !l.expired) {
      ++load[l.owner];
      ++plan.active;
      if (!gone.count(l.owner)) workers.insert(l.owner);
      if (!l.checkpoint_owner.empty() && !gone.count(l.checkpoint_owner)) {
        workers.insert(l.checkpoint_owner);
      }
      continue;
    }
    if (l.workable) {
      free_leases.push_back(&l);
      ++plan.active;
    }
  }
  plan.workers.assign(workers.begin(), workers.end());
  for (const auto& w : plan.workers) load.try_emplace(w, 0);

  // Shares: floor(N/W), plus one for N mod W workers. With nothing free,
  // those holding most get the extra, so a balanced table moves nothing.
  // With leases free, by worker id alone: loads change with every take of
  // the round, and workers planning a few writes apart would otherwise give
  // the extras to different workers and leave a lease nobody counts as
  // theirs until the next round.
  const int w_count = static_cast<int>(plan.workers.size());
  const int base = plan.active / w_count;
  const int extra = plan.active % w_count;
  std::vector<std::string> order = plan.workers;  // sorted by id
  if (free_leases.empty()) {
    std::sort(order.begin(), order.end(), [&](const std::string& a, const std::string& b) {
      return std::make_tuple(-load[a], a) < std::make_tuple(-load[b], b);
    });
  }
  for (int i = 0; i < w_count; ++i) {
    int q = base + (i < extra ? 1 : 0);
    if (in.max_leases > 0) q = std::min(q, in.max_leases);
    plan.quota[order[i]] = q;
  }
  plan.target = plan.quota[in.me];
  plan.need = plan.target - load[in.me];
  plan.limit = std::max(0, plan.need);
  if (in.leases_to_acquire > 0) plan.limit = std::min(plan.limit, in.leases_to_acquire);
  // A worker with nothing is invisible to the others (they count owners):
  // it takes one lease first, so that every worker's next plan includes it,
  // instead of taking a share computed without the others that start with it.
  if (load[in.me] == 0) plan.limit = std::min(plan.limit, 1);

  // Unowned and expired leases: very old ones first (they have waited
  // longest), then the rest from a point that differs per worker.
  std::vector<const LeaseView*> very_old, rest;
  for (const LeaseView* l : free_leases) (l->very_old ? very_old : rest).push_back(l);
  auto by_id = [](const LeaseView* a, const LeaseView* b) { return a->shard_id < b->shard_id; };
  std::sort(very_old.begin(), very_old.end(), by_id);
  std::sort(rest.begin(), rest.end(), by_id);
  if (!rest.empty()) {
    std::rotate(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(in.spread % rest.size()),
                rest.end());
  }
  for (const LeaseView* l : very_old) plan.take.push_back(l->shard_id);
  for (const LeaseView* l : rest) plan.take.push_back(l->shard_id);

  // Nothing free: the workers under their share take leases from those
  // above it, by graceful handoff. The matching is the same for everyone
  // (under-share workers by id, over-share workers most-above first), so two
  // takers never pick the same worker's last excess lease.
  if (free_leases.empty() && plan.need > 0) {
    std::vector<std::string> over;
    for (const auto& w : plan.workers) {
      if (load[w] > plan.quota[w]) over.push_back(w);
    }
    std::sort(over.begin(), over.end(), [&](const std::string& a, const std::string& b) {
      return std::make_tuple(-(load[a] - plan.quota[a]), -load[a], a) <
             std::make_tuple(-(load[b] - plan.quota[b]), -load[b], b);
    });
    std::map<std::string, std::vector<std::string>> candidates;  // owner -> leases, best first
    for (const auto& w : over) {
      auto& list = candidates[w];
      for (const LeaseView& l : in.leases) {
        if (l.owner == w && !l.finished && !l.expired && l.checkpoint_owner.empty() && l.workable) {
          list.push_back(l.shard_id);
        }
      }
      std::sort(list.rbegin(), list.rend());  // youngest shards first
    }
    std::map<std::string, int> excess;
    for (const auto& w : over) excess[w] = load[w] - plan.quota[w];
    std::map<std::string, std::size_t> next;
    for (const auto& u : plan.workers) {
      int want = plan.quota[u] - load[u];
      for (; want > 0; --want) {
        bool found = false;
        for (const auto& w : over) {
          if (excess[w] <= 0 || next[w] >= candidates[w].size()) continue;
          const std::string& shard = candidates[w][next[w]++];
          --excess[w];
          if (u == in.me) plan.steal.emplace_back(shard, w);
          found = true;
          break;
        }
        if (!found) break;
      }
    }
    if (static_cast<int>(plan.steal.size()) > plan.limit) plan.steal.resize(plan.limit);
  }

  // Above max_leases: give the excess up.
  if (in.max_leases > 0 && load[in.me] > in.max_leases) {
    int excess = load[in.me] - in.max_leases;
    for (auto it = in.held.rbegin(); it != in.held.rend() && excess > 0; ++it, --excess) {
      plan.shed.push_back(*it);
    }
  }

  plan.balanced = free_leases.empty();
  for (const auto& w : plan.workers) plan.balanced &= load[w] == plan.quota[w];
  return plan;
}

}  // namespace sluice::kinesis::kcl
