#include "sluice/kinesis/kcl/lease_table.h"

#include <algorithm>

#include "sluice/core/executor.h"

namespace sluice::kinesis::kcl {

using aws::AttributeValue;
using aws::Item;

namespace {

CounterFamily& requests_family(MetricsRegistry& r) {
  return r.counter("sluice_kcl_lease_table_requests_total",
                   "Requests sent to the lease table, by operation (renew, take, handoff, "
                   "evict and checkpoint are UpdateItem, create is PutItem, scan is one Scan "
                   "page, get is GetItem).",
                   {"table", "operation"});
}

}  // namespace

LeaseTableMetrics::LeaseTableMetrics(MetricsRegistry& r, const std::string& t)
    : scan(requests_family(r).with({t, "scan"})),
      get(requests_family(r).with({t, "get"})),
      create(requests_family(r).with({t, "create"})),
      renew(requests_family(r).with({t, "renew"})),
      take(requests_family(r).with({t, "take"})),
      handoff(requests_family(r).with({t, "handoff"})),
      evict(requests_family(r).with({t, "evict"})),
      checkpoint(requests_family(r).with({t, "checkpoint"})),
      update(requests_family(r).with({t, "update"})),
      remove(requests_family(r).with({t, "remove"})),
      table(requests_family(r).with({t, "table"})) {}

double LeaseTableMetrics::total() const {
  return scan.value() + get.value() + create.value() + renew.value() + take.value() +
         handoff.value() + evict.value() + checkpoint.value() + update.value() + remove.value() +
         table.value();
}

// --- DynamoDbLeaseTable ----------------------------------------------------------

Result<std::unique_ptr<DynamoDbLeaseTable>> DynamoDbLeaseTable::create(
    std::shared_ptr<aws::DynamoDbClient> dynamodb, DynamoDbLeaseTableOptions options) {
  if (!dynamodb)
    return Status::invalid_argument("DynamoDbLeaseTable: a DynamoDB client is required");
  if (options.table_name.size() < 3 || options.table_name.size() > 255) {
    return Status::invalid_argument(
        "DynamoDbLeaseTableOptions.table_name must be 3..255 "
        "characters, got \"" +
        options.table_name + "\"");
  }
  for (char c : options.table_name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      return Status::invalid_argument("DynamoDbLeaseTableOptions.table_name \"" +
                                      options.table_name +
                                      "\" may only contain letters, digits, '_', '-' and '.'");
    }
  }
  if (options.scan_page_limit < 0) {
    return Status::invalid_argument("DynamoDbLeaseTableOptions.scan_page_limit must be >= 0");
  }
  return std::unique_ptr<DynamoDbLeaseTable>(
      new DynamoDbLeaseTable(std::move(dynamodb), std::move(options)));
}

DynamoDbLeaseTable::DynamoDbLeaseTable(std::shared_ptr<aws::DynamoDbClient> dynamodb,
                                       DynamoDbLeaseTableOptions options)
    : dynamodb_(std::move(dynamodb)),
      options_(std::move(options)),
      metrics_(std::make_unique<LeaseTableMetrics>(registry_or_global(options_.metrics),
                                                   options_.table_name)),
      pool_(std::make_unique<ThreadPool>(1, "sluice-leases")) {}

DynamoDbLeaseTable::~DynamoDbLeaseTable() = default;

Status DynamoDbLeaseTable::create_if_missing(bool owner_index, std::chrono::milliseconds timeout) {
  metrics_->table.inc();
  auto described = run_blocking(pool_->executor(), dynamodb_->describe_table(options_.table_name));
  if (described.ok() && described->status == "ACTIVE") return Status();
  if (!described.ok() && described.status().code() != StatusCode::kNotFound) {
    return described.status().with_context("describing lease table " + options_.table_name);
  }
  if (!described.ok()) {
    aws::CreateTableRequest req;
    req.table = options_.table_name;
    req.key_schema = {{attr::kLeaseKey, aws::KeyType::kHash}};
    req.attributes = {{attr::kLeaseKey, aws::ScalarType::kS}};
    req.billing_mode = "PAY_PER_REQUEST";
    if (owner_index) {
      req.attributes.push_back({attr::kLeaseOwner, aws::ScalarType::kS});
      req.global_secondary_indexes = {
          {kLeaseOwnerIndex,
           {{attr::kLeaseOwner, aws::KeyType::kHash}, {attr::kLeaseKey, aws::KeyType::kRange}},
           "KEYS_ONLY"}};
    }
    metrics_->table.inc();
    Status s = run_blocking(pool_->executor(), dynamodb_->create_table(std::move(req)));
    // Another worker may have created it meanwhile.
    if (!s.ok() && s.code() != StatusCode::kAlreadyExists) {
      return s.with_context("creating lease table " + options_.table_name);
    }
  }
  metrics_->table.inc();
  Status active =
      run_blocking(pool_->executor(), dynamodb_->wait_until_active(options_.table_name, timeout));
  return active.with_context("waiting for lease table " + options_.table_name);
}

Result<std::vector<Lease>> DynamoDbLeaseTable::list(std::size_t* skipped) {
  std::vector<Lease> out;
  std::size_t bad = 0;
  std::optional<Item> start;
  while (true) {
    aws::ScanRequest req;
    req.table = options_.table_name;
    req.limit = options_.scan_page_limit;
    req.consistent_read = options_.consistent_scans;
    req.exclusive_start_key = start;
    metrics_->scan.inc();
    auto page = run_blocking(pool_->executor(), dynamodb_->scan(std::move(req)));
    if (!page.ok())
      return page.status().with_context("scanning lease table " + options_.table_name);
    for (const Item& item : page->items) {
      auto lease = lease_from_item(item);
      if (!lease.ok()) {
        ++bad;
        continue;
      }
      if (*lease) out.push_back(std::move(**lease));
    }
    if (!page->last_evaluated_key) break;
    start = std::move(page->last_evaluated_key);
  }
  if (skipped) *skipped = bad;
  std::sort(out.begin(), out.end(),
            [](const Lease& a, const Lease& b) { return a.lease_key < b.lease_key; });
  return out;
}

Result<std::optional<Lease>> DynamoDbLeaseTable::get(std::string_view lease_key) {
  aws::GetItemRequest req;
  req.table = options_.table_name;
  req.key = {{attr::kLeaseKey, AttributeValue::S(std::string(lease_key))}};
  req.consistent_read = true;
  metrics_->get.inc();
  auto item = run_blocking(pool_->executor(), dynamodb_->get_item(std::move(req)));
  if (!item.ok()) return item.status();
  if (!*item) return std::optional<Lease>();
  return lease_from_item(**item);
}

Status DynamoDbLeaseTable::create(const Lease& lease) {
  aws::PutItemRequest req;
  req.table = options_.table_name;
  req.item = lease_to_item(lease);
  req.condition_expression = "attribute_not_exists(#k)";
  req.names = {{"#k", attr::kLeaseKey}};
  metrics_->create.inc();
  auto r = run_blocking(pool_->executor(), dynamodb_->put_item(std::move(req)));
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kConditionFailed) {
      return Status::already_exists("lease " + lease.lease_key + " exists");
    }
    return r.status();
  }
  return Status();
}

Status DynamoDbLeaseTable::update(aws::UpdateItemRequest request, Counter& counter) {
  request.table = options_.table_name;
  counter.inc();
  auto r = run_blocking(pool_->executor(), dynamodb_->update_item(std::move(request)));
  return r.ok() ? Status() : r.status();
}

namespace {
Item key_of(std::string_view lease_key) {
  return {{attr::kLeaseKey, AttributeValue::S(std::string(lease_key))}};
}
}  // namespace

Status DynamoDbLeaseTable::renew(std::string_view lease_key, std::int64_t counter,
                                 bool handing_over) {
  aws::UpdateItemRequest req;
  req.key = key_of(lease_key);
  req.update_expression = "SET #c = :next";
  req.condition_expression = "#c = :seen";
  req.names = {{"#c", attr::kLeaseCounter}};
  if (!handing_over) {
    req.condition_expression += " AND attribute_not_exists(#co)";
    req.names["#co"] = attr::kCheckpointOwner;
  }
  req.values = {{":next", AttributeValue::N(counter + 1)}, {":seen", AttributeValue::N(counter)}};
  return update(std::move(req), metrics_->renew);
}

Status DynamoDbLeaseTable::take(const Lease& seen, std::string_view owner) {
  aws::UpdateItemRequest req;
  req.key = key_of(seen.lease_key);
  req.update_expression = "SET #o = :owner, #c = :next REMOVE #co";
  req.condition_expression = "#c = :seen";
  req.names = {
      {"#o", attr::kLeaseOwner}, {"#c", attr::kLeaseCounter}, {"#co", attr::kCheckpointOwner}};
  req.values = {{":owner", AttributeValue::S(std::string(owner))},
                {":next", AttributeValue::N(seen.lease_counter + 1)},
                {":seen", AttributeValue::N(seen.lease_counter)}};
  if (!seen.lease_owner.empty() && seen.lease_owner != owner) {
    req.update_expression += " ADD #sw :one";
    req.names["#sw"] = attr::kOwnerSwitches;
    req.values[":one"] = AttributeValue::N(1);
  }
  return update(std::move(req), metrics_->take);
}

Status DynamoDbLeaseTable::start_handoff(std::string_view lease_key, std::string_view from,
                                         std::string_view new_owner) {
  aws::UpdateItemRequest req;
  req.key = key_of(lease_key);
  req.update_expression = "SET #o = :new, #co = :from ADD #sw :one";
  req.condition_expression = "attribute_exists(#k) AND #o = :from AND attribute_not_exists(#co)";
  req.names = {{"#k", attr::kLeaseKey},
               {"#o", attr::kLeaseOwner},
               {"#co", attr::kCheckpointOwner},
               {"#sw", attr::kOwnerSwitches}};
  req.values = {{":new", AttributeValue::S(std::string(new_owner))},
                {":from", AttributeValue::S(std::string(from))},
                {":one", AttributeValue::N(1)}};
  return update(std::move(req), metrics_->handoff);
}

Status DynamoDbLeaseTable::evict(std::string_view lease_key, std::string_view owner,
                                 std::string_view checkpoint_owner) {
  aws::UpdateItemRequest req;
  req.key = key_of(lease_key);
  req.names = {{"#k", attr::kLeaseKey},
               {"#o", attr::kLeaseOwner},
               {"#co", attr::kCheckpointOwner},
               {"#c", attr::kLeaseCounter}};
  req.values = {{":owner", AttributeValue::S(std::string(owner))}, {":one", AttributeValue::N(1)}};
  if (checkpoint_owner.empty()) {
    req.update_expression = "REMOVE #o ADD #c :one";
    req.condition_expression = "attribute_exists(#k) AND #o = :owner AND attribute_not_exists(#co)";
  } else {
    req.update_expression = "REMOVE #co ADD #c :one";
    req.condition_expression = "attribute_exists(#k) AND #o = :owner AND #co = :cpo";
    req.values[":cpo"] = AttributeValue::S(std::string(checkpoint_owner));
  }
  return update(std::move(req), metrics_->evict);
}

Status DynamoDbLeaseTable::update_checkpoint(std::string_view lease_key, std::int64_t counter,
                                             const CheckpointUpdate& u) {
  aws::UpdateItemRequest req;
  req.key = key_of(lease_key);
  req.update_expression = "SET #cp = :cp, #cps = :cps, #sw = :zero, #c = :next";
  req.names = {{"#cp", attr::kCheckpoint},
               {"#cps", attr::kCheckpointSubSequence},
               {"#sw", attr::kOwnerSwitches},
               {"#c", attr::kLeaseCounter},
               {"#p", attr::kPendingCheckpoint},
               {"#ps", attr::kPendingCheckpointSubSequence},
               {"#pst", attr::kPendingCheckpointState}};
  req.values = {{":cp", AttributeValue::S(u.checkpoint)},
                {":cps", AttributeValue::N(u.sub_sequence_number)},
                {":zero", AttributeValue::N(0)},
                {":next", AttributeValue::N(counter + 1)},
                {":seen", AttributeValue::N(counter)}};
  if (!u.child_shard_ids.empty()) {
    req.update_expression += ", #ch = :ch";
    req.names["#ch"] = attr::kChildShardIds;
    req.values[":ch"] = AttributeValue::SS(u.child_shard_ids);
  }
  req.update_expression += " REMOVE #p, #ps, #pst";
  req.condition_expression = "#c = :seen";
  return update(std::move(req), metrics_->checkpoint);
}

Status DynamoDbLeaseTable::prepare_checkpoint(std::string_view lease_key, std::int64_t counter,
                                              std::string_view sequence_number,
                                              std::int64_t sub_sequence_number,
                                              const std::optional<std::string>& state) {
  aws::UpdateItemRequest req;
  req.key = key_of(lease_key);
  req.update_expression = "SET #p = :p, #ps = :ps, #c = :next";
  req.names = {{"#p", attr::kPendingCheckpoint},
               {"#ps", attr::kPendingCheckpointSubSequence},
               {"#c", attr::kLeaseCounter}};
  req.values = {{":p", AttributeValue::S(std::string(sequence_number))},
                {":ps", AttributeValue::N(sub_sequence_number)},
                {":next", AttributeValue::N(counter + 1)},
                {":seen", AttributeValue::N(counter)}};
  if (state) {
    req.update_expression += ", #pst = :pst";
    req.names["#pst"] = attr::kPendingCheckpointState;
    req.values[":pst"] = AttributeValue::B(*state);
  }
  req.condition_expression = "#c = :seen";
  return update(std::move(req), metrics_->checkpoint);
}

Status DynamoDbLeaseTable::update_children(std::string_view lease_key,
                                           const std::vector<std::string>& child_shard_ids) {
  if (child_shard_ids.empty()) return Status();
  aws::UpdateItemRequest req;
  req.key = key_of(lease_key);
  req.update_expression = "SET #ch = :ch";
  req.condition_expression = "attribute_exists(#k)";
  req.names = {{"#ch", attr::kChildShardIds}, {"#k", attr::kLeaseKey}};
  req.values = {{":ch", AttributeValue::SS(child_shard_ids)}};
  return update(std::move(req), metrics_->update);
}

Status DynamoDbLeaseTable::remove(std::string_view lease_key) {
  aws::DeleteItemRequest req;
  req.table = options_.table_name;
  req.key = key_of(lease_key);
  metrics_->remove.inc();
  auto r = run_blocking(pool_->executor(), dynamodb_->delete_item(std::move(req)));
  return r.ok() ? Status() : r.status();
}

// --- MemoryLeaseTable ------------------------------------------------------------

namespace {

Status no_lease(std::string_view key) {
  return Status::condition_failed("lease " + std::string(key) + " does not exist");
}

std::int64_t counter_of(const Item& item) {
  return aws::get_int64(item, attr::kLeaseCounter).value_or(0);
}

std::string string_of(const Item& item, const char* name) {
  return aws::get_string(item, name).value_or("");
}

}  // namespace

MemoryLeaseTable::MemoryLeaseTable(std::string name, MetricsRegistry* metrics)
    : name_(std::move(name)),
      metrics_(std::make_unique<LeaseTableMetrics>(registry_or_global(metrics), name_)) {}

MemoryLeaseTable::~MemoryLeaseTable() = default;

Status MemoryLeaseTable::check_available() const {
  if (unavailable_) return Status::unavailable("lease table " + name_ + " is unavailable (test)");
  return Status();
}

// One conditional change of an existing item, as each write is: counted,
// refused while "unavailable", atomic under the table's lock.
Status MemoryLeaseTable::change_item(Counter& call, std::string_view lease_key,
                                     const std::function<Status(Item&)>& change) {
  call.inc();
  SLUICE_RETURN_IF_ERROR(check_available());
  std::lock_guard lock(mu_);
  auto it = items_.find(lease_key);
  if (it == items_.end()) return no_lease(lease_key);
  return change(it->second);
}

Status MemoryLeaseTable::create_if_missing(bool, std::chrono::milliseconds) {
  metrics_->table.inc();
  return check_available();
}

Result<std::vector<Lease>> MemoryLeaseTable::list(std::size_t* skipped) {
  metrics_->scan.inc();
  SLUICE_RETURN_IF_ERROR(check_available());
  std::vector<Lease> out;
  std::size_t bad = 0;
  std::lock_guard lock(mu_);
  for (const auto& [key, item] : items_) {
    auto lease = lease_from_item(item);
    if (!lease.ok()) {
      ++bad;
      continue;
    }
    if (*lease) out.push_back(std::move(**lease));
  }
  if (skipped) *skipped = bad;
  return out;
}

Result<std::optional<Lease>> MemoryLeaseTable::get(std::string_view lease_key) {
  metrics_->get.inc();
  SLUICE_RETURN_IF_ERROR(check_available());
  std::lock_guard lock(mu_);
  auto it = items_.find(lease_key);
  if (it == items_.end()) return std::optional<Lease>();
  return lease_from_item(it->second);
}

Status MemoryLeaseTable::create(const Lease& lease) {
  metrics_->create.inc();
  SLUICE_RETURN_IF_ERROR(check_available());
  std::lock_guard lock(mu_);
  if (items_.count(lease.lease_key)) {
    return Status::already_exists("lease " + lease.lease_key + " exists");
  }
  items_[lease.lease_key] = lease_to_item(lease);
  return Status();
}

Status MemoryLeaseTable::renew(std::string_view lease_key, std::int64_t counter,
                               bool handing_over) {
  return change_item(metrics_->renew, lease_key, [&](Item& item) -> Status {
    if (counter_of(item) != counter) return Status::condition_failed("leaseCounter changed");
    if (!handing_over && item.count(attr::kCheckpointOwner)) {
      return Status::condition_failed("checkpointOwner is set");
    }
    item[attr::kLeaseCounter] = AttributeValue::N(counter + 1);
    return Status();
  });
}

Status MemoryLeaseTable::take(const Lease& seen, std::string_view owner) {
  return change_item(metrics_->take, seen.lease_key, [&](Item& item) -> Status {
    if (counter_of(item) != seen.lease_counter)
      return Status::condition_failed("leaseCounter changed");
    item[attr::kLeaseOwner] = AttributeValue::S(std::string(owner));
    item[attr::kLeaseCounter] = AttributeValue::N(seen.lease_counter + 1);
    item.erase(attr::kCheckpointOwner);
    if (!seen.lease_owner.empty() && seen.lease_owner != owner) {
      item[attr::kOwnerSwitches] =
          AttributeValue::N(aws::get_int64(item, attr::kOwnerSwitches).value_or(0) + 1);
    }
    return Status();
  });
}

Status MemoryLeaseTable::start_handoff(std::string_view lease_key, std::string_view from,
                                       std::string_view new_owner) {
  return change_item(metrics_->handoff, lease_key, [&](Item& item) -> Status {
    if (string_of(item, attr::kLeaseOwner) != from || item.count(attr::kCheckpointOwner)) {
      return Status::condition_failed("owner changed or handoff in progress");
    }
    item[attr::kLeaseOwner] = AttributeValue::S(std::string(new_owner));
    item[attr::kCheckpointOwner] = AttributeValue::S(std::string(from));
    item[attr::kOwnerSwitches] =
        AttributeValue::N(aws::get_int64(item, attr::kOwnerSwitches).value_or(0) + 1);
    return Status();
  });
}

Status MemoryLeaseTable::evict(std::string_view lease_key, std::string_view owner,
                               std::string_view checkpoint_owner) {
  return change_item(metrics_->evict, lease_key, [&](Item& item) -> Status {
    if (string_of(item, attr::kLeaseOwner) != owner ||
        string_of(item, attr::kCheckpointOwner) != checkpoint_owner) {
      return Status::condition_failed("owner changed");
    }
    if (checkpoint_owner.empty()) {
      item.erase(attr::kLeaseOwner);
    } else {
      item.erase(attr::kCheckpointOwner);
    }
    item[attr::kLeaseCounter] = AttributeValue::N(counter_of(item) + 1);
    return Status();
  });
}

Status MemoryLeaseTable::update_checkpoint(std::string_view lease_key, std::int64_t counter,
                                           const CheckpointUpdate& u) {
  return change_item(metrics_->checkpoint, lease_key, [&](Item& item) -> Status {
    if (counter_of(item) != counter) return Status::condition_failed("leaseCounter changed");
    item[attr::kCheckpoint] = AttributeValue::S(u.checkpoint);
    item[attr::kCheckpointSubSequence] = AttributeValue::N(u.sub_sequence_number);
    item[attr::kOwnerSwitches] = AttributeValue::N(0);
    item[attr::kLeaseCounter] = AttributeValue::N(counter + 1);
    if (!u.child_shard_ids.empty())
      item[attr::kChildShardIds] = AttributeValue::SS(u.child_shard_ids);
    item.erase(attr::kPendingCheckpoint);
    item.erase(attr::kPendingCheckpointSubSequence);
    item.erase(attr::kPendingCheckpointState);
    return Status();
  });
}

Status MemoryLeaseTable::prepare_checkpoint(std::string_view lease_key, std::int64_t counter,
                                            std::string_view sequence_number,
                                            std::int64_t sub_sequence_number,
                                            const std::optional<std::string>& state) {
  return change_item(metrics_->checkpoint, lease_key, [&](Item& item) -> Status {
    if (counter_of(item) != counter) return Status::condition_failed("leaseCounter changed");
    item[attr::kPendingCheckpoint] = AttributeValue::S(std::string(sequence_number));
    item[attr::kPendingCheckpointSubSequence] = AttributeValue::N(sub_sequence_number);
    if (state) item[attr::kPendingCheckpointState] = AttributeValue::B(*state);
    item[attr::kLeaseCounter] = AttributeValue::N(counter + 1);
    return Status();
  });
}

Status MemoryLeaseTable::update_children(std::string_view lease_key,
                                         const std::vector<std::string>& child_shard_ids) {
  if (child_shard_ids.empty()) return Status();
  return change_item(metrics_->update, lease_key, [&](Item& item) {
    item[attr::kChildShardIds] = AttributeValue::SS(child_shard_ids);
    return Status();
  });
}

Status MemoryLeaseTable::remove(std::string_view lease_key) {
  metrics_->remove.inc();
  SLUICE_RETURN_IF_ERROR(check_available());
  std::lock_guard lock(mu_);
  auto it = items_.find(lease_key);
  if (it != items_.end()) items_.erase(it);
  return Status();
}

void MemoryLeaseTable::put_item(Item item) {
  std::lock_guard lock(mu_);
  std::string key = aws::get_string(item, attr::kLeaseKey).value_or("");
  items_[key] = std::move(item);
}

std::map<std::string, Item> MemoryLeaseTable::items() const {
  std::lock_guard lock(mu_);
  return {items_.begin(), items_.end()};
}

}  // namespace sluice::kinesis::kcl
