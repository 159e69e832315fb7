#include "sluice/kinesis/kcl/lease.h"

#include <algorithm>
#include <cstdlib>

#include "sluice/kinesis/sequence_number.h"

namespace sluice::kinesis::kcl {

using aws::AttributeValue;

Result<LeaseKey> LeaseKey::parse(std::string_view key) {
  if (key.empty()) return Status::invalid_argument("empty lease key");
  LeaseKey out;
  const auto last = key.rfind(':');
  if (last == std::string_view::npos) {
    out.shard_id = std::string(key);
    return out;
  }
  // account:stream:epoch:shardId
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const auto colon = key.find(':', start);
    parts.push_back(key.substr(start, colon == std::string_view::npos ? key.npos : colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (parts.size() != 4 ||
      std::any_of(parts.begin(), parts.end(), [](std::string_view p) { return p.empty(); })) {
    return Status::invalid_argument("lease key \"" + std::string(key) +
                                    "\" is neither a shard id nor "
                                    "account:stream:creationEpoch:shardId");
  }
  out.stream_identifier = std::string(key.substr(0, last));
  out.shard_id = std::string(parts[3]);
  return out;
}

std::string LeaseKey::to_string() const {
  return stream_identifier.empty() ? shard_id : stream_identifier + ":" + shard_id;
}

std::string LeaseKey::stream_name() const {
  const auto first = stream_identifier.find(':');
  if (first == std::string::npos) return "";
  const auto second = stream_identifier.find(':', first + 1);
  return stream_identifier.substr(
      first + 1, second == std::string::npos ? std::string::npos : second - first - 1);
}

aws::Item lease_to_item(const Lease& lease) {
  aws::Item item;
  item[attr::kLeaseKey] = AttributeValue::S(lease.lease_key);
  item[attr::kLeaseCounter] = AttributeValue::N(lease.lease_counter);
  if (!lease.lease_owner.empty()) item[attr::kLeaseOwner] = AttributeValue::S(lease.lease_owner);
  item[attr::kOwnerSwitches] = AttributeValue::N(lease.owner_switches_since_checkpoint);
  item[attr::kCheckpoint] = AttributeValue::S(lease.checkpoint);
  item[attr::kCheckpointSubSequence] = AttributeValue::N(lease.checkpoint_sub_sequence_number);
  if (!lease.parent_shard_ids.empty()) {
    item[attr::kParentShardId] = AttributeValue::SS(lease.parent_shard_ids);
  }
  if (!lease.child_shard_ids.empty()) {
    item[attr::kChildShardIds] = AttributeValue::SS(lease.child_shard_ids);
  }
  if (!lease.pending_checkpoint.empty()) {
    item[attr::kPendingCheckpoint] = AttributeValue::S(lease.pending_checkpoint);
    item[attr::kPendingCheckpointSubSequence] =
        AttributeValue::N(lease.pending_checkpoint_sub_sequence_number);
  }
  if (lease.pending_checkpoint_state) {
    item[attr::kPendingCheckpointState] = AttributeValue::B(*lease.pending_checkpoint_state);
  }
  if (!lease.starting_hash_key.empty() && !lease.ending_hash_key.empty()) {
    item[attr::kStartingHashKey] = AttributeValue::S(lease.starting_hash_key);
    item[attr::kEndingHashKey] = AttributeValue::S(lease.ending_hash_key);
  }
  if (lease.throughput_kbps) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", *lease.throughput_kbps);
    item[attr::kThroughputKBps] = AttributeValue::N(std::string(buf));
  }
  if (!lease.checkpoint_owner.empty()) {
    item[attr::kCheckpointOwner] = AttributeValue::S(lease.checkpoint_owner);
  }
  if (!lease.stream_identifier.empty()) {
    item[attr::kStreamName] = AttributeValue::S(lease.stream_identifier);
    item[attr::kShardId] = AttributeValue::S(lease.shard_id);
  }
  return item;
}

namespace {

Status wrong_type(const std::string& key, const char* name, const char* want) {
  return Status::corruption("lease " + (key.empty() ? std::string("?") : key) + ": attribute " +
                            name + " is not " + want);
}

// Reads an optional string attribute.
Status read_s(const aws::Item& item, const std::string& key, const char* name, std::string& out) {
  const AttributeValue* v = aws::find_attribute(item, name);
  if (!v) return Status();
  if (v->type() != AttributeValue::Type::kS) return wrong_type(key, name, "a string (S)");
  out = v->scalar();
  return Status();
}

Status read_n(const aws::Item& item, const std::string& key, const char* name, std::int64_t& out) {
  const AttributeValue* v = aws::find_attribute(item, name);
  if (!v) return Status();
  auto n = v->as_int64();
  if (v->type() != AttributeValue::Type::kN || !n) return wrong_type(key, name, "an integer (N)");
  out = *n;
  return Status();
}

Status read_ss(const aws::Item& item, const std::string& key, const char* name,
               std::vector<std::string>& out) {
  const AttributeValue* v = aws::find_attribute(item, name);
  if (!v) return Status();
  // The KCL writes string sets; a single string is accepted as a set of one.
  if (v->type() == AttributeValue::Type::kS) {
    out = {v->scalar()};
    return Status();
  }
  if (v->type() != AttributeValue::Type::kSS) return wrong_type(key, name, "a string set (SS)");
  out = v->set();
  std::sort(out.begin(), out.end());
  return Status();
}

}  // namespace

Result<std::optional<Lease>> lease_from_item(const aws::Item& item) {
  if (const AttributeValue* type = aws::find_attribute(item, attr::kEntityType)) {
    if (type->type() != AttributeValue::Type::kS || type->scalar() != "LEASE") {
      return std::optional<Lease>();
    }
  }
  Lease l;
  const AttributeValue* key = aws::find_attribute(item, attr::kLeaseKey);
  if (!key || key->type() != AttributeValue::Type::kS || key->scalar().empty()) {
    return Status::corruption("lease table item without a string leaseKey");
  }
  l.lease_key = key->scalar();
  SLUICE_ASSIGN_OR_RETURN(LeaseKey parsed, LeaseKey::parse(l.lease_key));
  l.stream_identifier = std::move(parsed.stream_identifier);
  l.shard_id = std::move(parsed.shard_id);
  const std::string& k = l.lease_key;
  SLUICE_RETURN_IF_ERROR(read_s(item, k, attr::kLeaseOwner, l.lease_owner));
  SLUICE_RETURN_IF_ERROR(read_n(item, k, attr::kLeaseCounter, l.lease_counter));
  SLUICE_RETURN_IF_ERROR(read_n(item, k, attr::kOwnerSwitches, l.owner_switches_since_checkpoint));
  SLUICE_RETURN_IF_ERROR(read_s(item, k, attr::kCheckpoint, l.checkpoint));
  SLUICE_RETURN_IF_ERROR(
      read_n(item, k, attr::kCheckpointSubSequence, l.checkpoint_sub_sequence_number));
  SLUICE_RETURN_IF_ERROR(read_s(item, k, attr::kPendingCheckpoint, l.pending_checkpoint));
  SLUICE_RETURN_IF_ERROR(read_n(item, k, attr::kPendingCheckpointSubSequence,
                                l.pending_checkpoint_sub_sequence_number));
  if (const AttributeValue* v = aws::find_attribute(item, attr::kPendingCheckpointState)) {
    if (v->type() != AttributeValue::Type::kB) {
      return wrong_type(k, attr::kPendingCheckpointState, "binary (B)");
    }
    l.pending_checkpoint_state = v->scalar();
  }
  SLUICE_RETURN_IF_ERROR(read_ss(item, k, attr::kParentShardId, l.parent_shard_ids));
  SLUICE_RETURN_IF_ERROR(read_ss(item, k, attr::kChildShardIds, l.child_shard_ids));
  SLUICE_RETURN_IF_ERROR(read_s(item, k, attr::kStartingHashKey, l.starting_hash_key));
  SLUICE_RETURN_IF_ERROR(read_s(item, k, attr::kEndingHashKey, l.ending_hash_key));
  if (const AttributeValue* v = aws::find_attribute(item, attr::kThroughputKBps)) {
    if (v->type() != AttributeValue::Type::kN) {
      return wrong_type(k, attr::kThroughputKBps, "a number (N)");
    }
    char* end = nullptr;
    const double d = std::strtod(v->scalar().c_str(), &end);
    if (end == v->scalar().c_str()) return wrong_type(k, attr::kThroughputKBps, "a number (N)");
    l.throughput_kbps = d;
  }
  SLUICE_RETURN_IF_ERROR(read_s(item, k, attr::kCheckpointOwner, l.checkpoint_owner));
  return std::optional<Lease>(std::move(l));
}

Result<std::optional<Checkpoint>> checkpoint_of(const Lease& lease) {
  const std::string& c = lease.checkpoint;
  if (c.empty()) return std::optional<Checkpoint>();
  Checkpoint out;
  if (c == kShardEnd) {
    out.shard_end = true;
  } else if (c == kTrimHorizon) {
    out.sentinel = StartSentinel::kTrimHorizon;
  } else if (c == kLatest) {
    out.sentinel = StartSentinel::kLatest;
  } else if (c == kAtTimestamp) {
    out.sentinel = StartSentinel::kAtTimestamp;
  } else if (is_sequence_number(c)) {
    out.sequence_number = c;
    // Always kept, 0 included: the engine re-reads the record and skips it
    // (and, for an aggregate, its user records up to this one), which is
    // exactly the KCL's "resume after (sequence, sub-sequence)".
    if (lease.checkpoint_sub_sequence_number < 0) {
      return Status::corruption("lease " + lease.lease_key + ": negative " +
                                attr::kCheckpointSubSequence);
    }
    out.sub_sequence_number = static_cast<std::uint64_t>(lease.checkpoint_sub_sequence_number);
  } else {
    return Status::corruption("lease " + lease.lease_key + ": checkpoint \"" + c +
                              "\" is neither a sequence number nor a sentinel");
  }
  return std::optional<Checkpoint>(std::move(out));
}

std::string checkpoint_text(const Checkpoint& checkpoint) {
  if (checkpoint.shard_end) return kShardEnd;
  switch (checkpoint.sentinel) {
    case StartSentinel::kTrimHorizon:
      return kTrimHorizon;
    case StartSentinel::kLatest:
      return kLatest;
    case StartSentinel::kAtTimestamp:
      return kAtTimestamp;
    case StartSentinel::kNone:
      break;
  }
  return checkpoint.sequence_number;
}

}  // namespace sluice::kinesis::kcl
