// The lease coordinator's decisions, as pure functions of one view of the
// lease table (no I/O, no clock): who the live workers are, each one's fair
// share, and what this worker should take, steal (by graceful handoff) or
// shed this cycle.
//
// Every worker computes the same plan from the same view, so workers agree
// on who takes what without talking to each other: each acts only on its
// own part. Shares are floor(N/W) or floor(N/W)+1 (exactly N mod W workers
// get the +1, those already holding more first), so a balanced table moves
// nothing, and any two workers end within one lease of each other (KCL's
// ceil(N/W) target can leave a worker two below the others).
#ifndef SLUICE_SRC_KINESIS_KCL_LEASE_PLANNER_H_
#define SLUICE_SRC_KINESIS_KCL_LEASE_PLANNER_H_

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace sluice::kinesis::kcl {

// One lease as a worker sees it.
struct LeaseView {
  std::string shard_id;
  std::string owner;               // leaseOwner; empty = unassigned
  std::string checkpoint_owner;    // set during a graceful handoff
  bool expired = false;            // owned, but its counter has not moved for the failover time
  bool very_old = false;           // not moved for several failover times
  bool workable = false;           // this worker's engine could work on it now
  bool finished = false;           // checkpoint SHARD_END
  bool handoff_timed_out = false;  // in handoff to this worker for longer than allowed
};

struct PlanInput {
  std::string me;
  std::vector<LeaseView> leases;
  // Leases this worker holds and keeps (not being handed over).
  std::set<std::string> held;
  int max_leases = 0;         // per worker, 0 = no limit
  int leases_to_acquire = 0;  // new leases per cycle, 0 = no limit
  // A seed that spreads workers over different unowned leases.
  std::size_t spread = 0;
};

struct LeasePlan {
  std::vector<std::string> workers;  // live workers, sorted
  std::map<std::string, int> load;   // leases each live worker has (or is receiving)
  std::map<std::string, int> quota;  // each one's fair share
  int active = 0;                    // leases being shared
  // This worker's share and what it is short of it (negative: over).
  int target = 0;
  int need = 0;
  // New leases this worker may acquire this cycle (takes + steals).
  int limit = 0;
  // Leases assigned to this worker (leaseOwner = me) that it does not hold
  // yet: take them (not counted against `limit`).
  std::vector<std::string> adopt;
  // Unowned or expired leases, best first: take until `limit` are taken.
  std::vector<std::string> take;
  // (shard, current owner): start a graceful handoff to this worker.
  std::vector<std::pair<std::string, std::string>> steal;
  // Held leases to give up (only above max_leases).
  std::vector<std::string> shed;
  // Every live worker is at its share and nothing is unowned.
  bool balanced = false;
};

LeasePlan plan_leases(const PlanInput& input);

}  // namespace sluice::kinesis::kcl

#endif  // SLUICE_SRC_KINESIS_KCL_LEASE_PLANNER_H_
