#include "sluice/aws/dynamodb_client.h"

#include <simdjson.h>

#include <charconv>

#include "sluice/core/base64.h"
#include "sluice/core/executor.h"
#include "sluice/core/json_writer.h"

namespace sluice::aws {
namespace {

constexpr std::string_view kTargetPrefix = "DynamoDB_20120810";

Status malformed(std::string_view operation, std::string_view what) {
  return Status::corruption("DynamoDB " + std::string(operation) +
                            ": malformed reply: " + std::string(what));
}

void write_attribute(JsonWriter& w, const AttributeValue& v);

void write_item(JsonWriter& w, const Item& item) {
  w.begin_object();
  for (const auto& [k, v] : item) {
    w.key(k);
    write_attribute(w, v);
  }
  w.end_object();
}

void write_attribute(JsonWriter& w, const AttributeValue& v) {
  using T = AttributeValue::Type;
  w.begin_object();
  switch (v.type()) {
    case T::kS:
      w.field("S", v.scalar());
      break;
    case T::kN:
      w.field("N", v.scalar());
      break;
    case T::kB:
      w.key("B").base64(v.scalar());
      break;
    case T::kSS:
    case T::kNS: {
      w.key(v.type() == T::kSS ? "SS" : "NS").begin_array();
      for (const auto& s : v.set()) w.string(s);
      w.end_array();
      break;
    }
    case T::kBS: {
      w.key("BS").begin_array();
      for (const auto& s : v.set()) w.base64(s);
      w.end_array();
      break;
    }
    case T::kBool:
      w.field("BOOL", v.boolean());
      break;
    case T::kNull:
      w.field("NULL", true);
      break;
    case T::kM:
      w.key("M");
      write_item(w, v.map());
      break;
    case T::kL:
      w.key("L").begin_array();
      for (const auto& e : v.list()) write_attribute(w, e);
      w.end_array();
      break;
  }
  w.end_object();
}

Result<AttributeValue> parse_attribute(simdjson::dom::element e);

Result<Item> parse_item(simdjson::dom::element e) {
  simdjson::dom::object obj;
  if (e.get(obj) != simdjson::SUCCESS) return Status::corruption("an item is not a JSON object");
  Item item;
  for (auto [key, value] : obj) {
    SLUICE_ASSIGN_OR_RETURN(AttributeValue v, parse_attribute(value));
    item.emplace(std::string(key), std::move(v));
  }
  return item;
}

Result<std::vector<std::string>> parse_string_array(simdjson::dom::element e, bool base64) {
  simdjson::dom::array arr;
  if (e.get(arr) != simdjson::SUCCESS) return Status::corruption("a set is not an array");
  std::vector<std::string> out;
  for (auto x : arr) {
    std::string_view s;
    if (x.get(s) != simdjson::SUCCESS) return Status::corruption("a set member is not a string");
    if (base64) {
      SLUICE_ASSIGN_OR_RETURN(std::string bytes, base64_decode(s));
      out.push_back(std::move(bytes));
    } else {
      out.emplace_back(s);
    }
  }
  return out;
}

Result<AttributeValue> parse_attribute(simdjson::dom::element e) {
  simdjson::dom::object obj;
  if (e.get(obj) != simdjson::SUCCESS || obj.size() != 1) {
    return Status::corruption("an attribute value is not a one-member object");
  }
  auto [type, v] = *obj.begin();
  std::string_view s;
  if (type == "S" && v.get(s) == simdjson::SUCCESS) return AttributeValue::S(std::string(s));
  if (type == "N" && v.get(s) == simdjson::SUCCESS) return AttributeValue::N(std::string(s));
  if (type == "B" && v.get(s) == simdjson::SUCCESS) {
    SLUICE_ASSIGN_OR_RETURN(std::string bytes, base64_decode(s));
    return AttributeValue::B(std::move(bytes));
  }
  if (type == "SS" || type == "NS" || type == "BS") {
    SLUICE_ASSIGN_OR_RETURN(auto members, parse_string_array(v, type == "BS"));
    if (type == "SS") return AttributeValue::SS(std::move(members));
    if (type == "NS") return AttributeValue::NS(std::move(members));
    return AttributeValue::BS(std::move(members));
  }
  bool b;
  if (type == "BOOL" && v.get(b) == simdjson::SUCCESS) return AttributeValue::Bool(b);
  if (type == "NULL") return AttributeValue::Null();
  if (type == "M") {
    SLUICE_ASSIGN_OR_RETURN(Item m, parse_item(v));
    return AttributeValue::M(std::move(m));
  }
  if (type == "L") {
    simdjson::dom::array arr;
    if (v.get(arr) != simdjson::SUCCESS) return Status::corruption("L is not an array");
    std::vector<AttributeValue> list;
    for (auto x : arr) {
      SLUICE_ASSIGN_OR_RETURN(AttributeValue av, parse_attribute(x));
      list.push_back(std::move(av));
    }
    return AttributeValue::L(std::move(list));
  }
  return Status::corruption("unknown attribute type \"" + std::string(type) + "\"");
}

void write_expressions(JsonWriter& w, const std::string& condition_key,
                       const std::string& condition,
                       const std::map<std::string, std::string>& names, const Item& values) {
  if (!condition.empty()) w.field(condition_key, condition);
  if (!names.empty()) {
    w.key("ExpressionAttributeNames").begin_object();
    for (const auto& [k, v] : names) w.field(k, v);
    w.end_object();
  }
  if (!values.empty()) {
    w.key("ExpressionAttributeValues");
    write_item(w, values);
  }
}

std::string_view return_values_name(ReturnValues r) {
  switch (r) {
    case ReturnValues::kNone:
      return "NONE";
    case ReturnValues::kAllOld:
      return "ALL_OLD";
    case ReturnValues::kAllNew:
      return "ALL_NEW";
    case ReturnValues::kUpdatedOld:
      return "UPDATED_OLD";
    case ReturnValues::kUpdatedNew:
      return "UPDATED_NEW";
  }
  return "NONE";
}

Status check_table(std::string_view op, const std::string& table) {
  if (table.size() < 3) {
    return Status::invalid_argument("DynamoDB " + std::string(op) + ": table name \"" + table +
                                    "\" is shorter than 3 characters");
  }
  return Status();
}

// Parses the reply body and reads an optional item under `key`.
Result<std::optional<Item>> optional_item(const HttpResponse& r, std::string_view op,
                                          const char* key) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(r.body.data(), r.body.size(), false).get(doc)) return malformed(op, "not JSON");
  simdjson::dom::element attrs;
  if (doc[key].get(attrs) != simdjson::SUCCESS) return std::optional<Item>();
  auto item = parse_item(attrs);
  if (!item.ok()) return malformed(op, item.status().message());
  return std::optional<Item>(std::move(*item));
}

Result<ItemPage> parse_page(const HttpResponse& r, std::string_view op) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(r.body.data(), r.body.size(), false).get(doc)) return malformed(op, "not JSON");
  ItemPage page;
  simdjson::dom::array items;
  if (doc["Items"].get(items) == simdjson::SUCCESS) {
    for (auto e : items) {
      auto item = parse_item(e);
      if (!item.ok()) return malformed(op, item.status().message());
      page.items.push_back(std::move(*item));
    }
  }
  simdjson::dom::element last;
  if (doc["LastEvaluatedKey"].get(last) == simdjson::SUCCESS) {
    auto key = parse_item(last);
    if (!key.ok()) return malformed(op, key.status().message());
    page.last_evaluated_key = std::move(*key);
  }
  if (doc["Count"].get(page.count)) {  // absent: keep the default
  }
  if (doc["ScannedCount"].get(page.scanned_count)) {  // absent: keep the default
  }
  return page;
}

}  // namespace

// --- AttributeValue ----------------------------------------------------------

AttributeValue AttributeValue::Bool(bool v) {
  AttributeValue a;
  a.type_ = Type::kBool;
  a.bool_ = v;
  return a;
}

AttributeValue AttributeValue::M(std::map<std::string, AttributeValue> v) {
  AttributeValue a;
  a.type_ = Type::kM;
  a.map_ = std::move(v);
  return a;
}

AttributeValue AttributeValue::L(std::vector<AttributeValue> v) {
  AttributeValue a;
  a.type_ = Type::kL;
  a.list_ = std::move(v);
  return a;
}

AttributeValue AttributeValue::set_of(Type t, std::vector<std::string> v) {
  AttributeValue a;
  a.type_ = t;
  a.set_ = std::move(v);
  return a;
}

std::optional<std::int64_t> AttributeValue::as_int64() const {
  if (type_ != Type::kN) return std::nullopt;
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(scalar_.data(), scalar_.data() + scalar_.size(), v);
  if (ec != std::errc() || p != scalar_.data() + scalar_.size()) return std::nullopt;
  return v;
}

bool operator==(const AttributeValue& a, const AttributeValue& b) {
  return a.type_ == b.type_ && a.scalar_ == b.scalar_ && a.set_ == b.set_ && a.bool_ == b.bool_ &&
         a.map_ == b.map_ && a.list_ == b.list_;
}

const AttributeValue* find_attribute(const Item& item, const std::string& name) {
  auto it = item.find(name);
  return it == item.end() ? nullptr : &it->second;
}

std::optional<std::string> get_string(const Item& item, const std::string& name) {
  const AttributeValue* v = find_attribute(item, name);
  if (!v || v->type() != AttributeValue::Type::kS) return std::nullopt;
  return v->scalar();
}

std::optional<std::int64_t> get_int64(const Item& item, const std::string& name) {
  const AttributeValue* v = find_attribute(item, name);
  return v ? v->as_int64() : std::nullopt;
}

std::string attribute_to_json(const AttributeValue& value) {
  std::string out;
  JsonWriter w(out);
  write_attribute(w, value);
  return out;
}

std::string item_to_json(const Item& item) {
  std::string out;
  JsonWriter w(out);
  write_item(w, item);
  return out;
}

// --- the client ----------------------------------------------------------------

Result<std::unique_ptr<DynamoDbClient>> DynamoDbClient::create(ClientOptions options) {
  SLUICE_ASSIGN_OR_RETURN(
      auto call,
      AwsCall::create({.name = "DynamoDB", .signing_name = "dynamodb", .s3_signing = false},
                      std::move(options)));
  return std::unique_ptr<DynamoDbClient>(new DynamoDbClient(std::move(call)));
}

asio::awaitable<Result<HttpResponse>> DynamoDbClient::invoke(std::string_view operation,
                                                             std::string body, CallOptions call) {
  std::string op(operation);
  auto pending = call_->json(kTargetPrefix, "1.0", op, std::move(body), call);
  Result<HttpResponse> r = co_await std::move(pending);
  co_return r;
}

asio::awaitable<Status> DynamoDbClient::create_table(CreateTableRequest req, CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_table("CreateTable", req.table));
  if (req.key_schema.empty())
    co_return Status::invalid_argument("CreateTable: key schema is empty");
  auto key_type = [](KeyType t) { return t == KeyType::kHash ? "HASH" : "RANGE"; };
  std::string body;
  JsonWriter w(body);
  w.begin_object().field("TableName", req.table);
  w.key("KeySchema").begin_array();
  for (const auto& k : req.key_schema) {
    w.begin_object().field("AttributeName", k.name).field("KeyType", key_type(k.type)).end_object();
  }
  w.end_array();
  w.key("AttributeDefinitions").begin_array();
  for (const auto& a : req.attributes) {
    const char* t = a.type == ScalarType::kS ? "S" : a.type == ScalarType::kN ? "N" : "B";
    w.begin_object().field("AttributeName", a.name).field("AttributeType", t).end_object();
  }
  w.end_array();
  w.field("BillingMode", req.billing_mode);
  if (req.billing_mode == "PROVISIONED") {
    w.key("ProvisionedThroughput")
        .begin_object()
        .field("ReadCapacityUnits", req.read_capacity_units)
        .field("WriteCapacityUnits", req.write_capacity_units)
        .end_object();
  }
  if (!req.global_secondary_indexes.empty()) {
    w.key("GlobalSecondaryIndexes").begin_array();
    for (const auto& g : req.global_secondary_indexes) {
      w.begin_object().field("IndexName", g.name);
      w.key("KeySchema").begin_array();
      for (const auto& k : g.key_schema) {
        w.begin_object()
            .field("AttributeName", k.name)
            .field("KeyType", key_type(k.type))
            .end_object();
      }
      w.end_array();
      w.key("Projection").begin_object().field("ProjectionType", g.projection_type);
      if (!g.non_key_attributes.empty()) {
        w.key("NonKeyAttributes").begin_array();
        for (const auto& a : g.non_key_attributes) w.string(a);
        w.end_array();
      }
      w.end_object();
      if (req.billing_mode == "PROVISIONED") {
        w.key("ProvisionedThroughput")
            .begin_object()
            .field("ReadCapacityUnits", req.read_capacity_units)
            .field("WriteCapacityUnits", req.write_capacity_units)
            .end_object();
      }
      w.end_object();
    }
    w.end_array();
  }
  w.end_object();
  auto pending = invoke("CreateTable", std::move(body), call);
  Result<HttpResponse> r = co_await std::move(pending);
  co_return r.status();
}

asio::awaitable<Result<TableDescription>> DynamoDbClient::describe_table(std::string table,
                                                                         CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_table("DescribeTable", table));
  std::string body;
  JsonWriter(body).begin_object().field("TableName", table).end_object();
  auto pending = invoke("DescribeTable", std::move(body), call);
  Result<HttpResponse> r = co_await std::move(pending);
  if (!r.ok()) co_return r.status();
  simdjson::dom::parser parser;
  simdjson::dom::element doc, t;
  if (parser.parse(r->body.data(), r->body.size(), false).get(doc) ||
      doc["Table"].get(t) != simdjson::SUCCESS) {
    co_return malformed("DescribeTable", "no Table");
  }
  TableDescription d;
  std::string_view s;
  if (t["TableName"].get(s) == simdjson::SUCCESS) d.name = std::string(s);
  if (t["TableArn"].get(s) == simdjson::SUCCESS) d.arn = std::string(s);
  if (t["TableStatus"].get(s) == simdjson::SUCCESS) d.status = std::string(s);
  simdjson::dom::element billing;
  if (t["BillingModeSummary"].get(billing) == simdjson::SUCCESS &&
      billing["BillingMode"].get(s) == simdjson::SUCCESS) {
    d.billing_mode = std::string(s);
  }
  if (t["ItemCount"].get(d.item_count)) {  // absent: keep the default
  }
  simdjson::dom::array keys;
  if (t["KeySchema"].get(keys) == simdjson::SUCCESS) {
    for (auto k : keys) {
      std::string_view name, type;
      if (k["AttributeName"].get(name) == simdjson::SUCCESS &&
          k["KeyType"].get(type) == simdjson::SUCCESS) {
        d.key_schema.push_back(
            {std::string(name), type == "RANGE" ? KeyType::kRange : KeyType::kHash});
      }
    }
  }
  simdjson::dom::array gsis;
  if (t["GlobalSecondaryIndexes"].get(gsis) == simdjson::SUCCESS) {
    for (auto g : gsis) {
      if (g["IndexName"].get(s) == simdjson::SUCCESS)
        d.global_secondary_index_names.emplace_back(s);
    }
  }
  co_return d;
}

asio::awaitable<Status> DynamoDbClient::delete_table(std::string table, CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_table("DeleteTable", table));
  std::string body;
  JsonWriter(body).begin_object().field("TableName", table).end_object();
  auto pending = invoke("DeleteTable", std::move(body), call);
  Result<HttpResponse> r = co_await std::move(pending);
  co_return r.status();
}

asio::awaitable<Status> DynamoDbClient::wait_until_active(std::string table,
                                                          std::chrono::milliseconds timeout,
                                                          CallOptions call) {
  const Clock& clock = call_->clock();
  const auto deadline = clock.now() + timeout;
  while (true) {
    auto pending = describe_table(table, call);
    Result<TableDescription> d = co_await std::move(pending);
    if (d.ok() && d->status == "ACTIVE") co_return Status();
    if (!d.ok() && d.status().code() != StatusCode::kNotFound) co_return d.status();
    if (clock.now() >= deadline) {
      co_return Status::timeout("table \"" + table + "\" not ACTIVE after " +
                                std::to_string(timeout.count()) + " ms");
    }
    auto sleep = async_sleep_for(clock, std::chrono::milliseconds(100), call.stop);
    const bool slept = co_await std::move(sleep);
    if (!slept) co_return Status::cancelled("stopped waiting for the table");
  }
}

asio::awaitable<Result<std::optional<Item>>> DynamoDbClient::invoke_for_item(
    std::string_view operation, std::string body, CallOptions call, const char* key) {
  auto pending = invoke(operation, std::move(body), call);
  Result<HttpResponse> r = co_await std::move(pending);
  if (!r.ok()) co_return r.status();
  co_return optional_item(*r, operation, key);
}

asio::awaitable<Result<std::optional<Item>>> DynamoDbClient::get_item(GetItemRequest req,
                                                                      CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_table("GetItem", req.table));
  std::string body;
  JsonWriter w(body);
  w.begin_object().field("TableName", req.table).key("Key");
  write_item(w, req.key);
  w.field("ConsistentRead", req.consistent_read);
  if (!req.projection_expression.empty())
    w.field("ProjectionExpression", req.projection_expression);
  write_expressions(w, "", "", req.names, {});
  w.end_object();
  auto pending = invoke_for_item("GetItem", std::move(body), call, "Item");
  co_return co_await std::move(pending);
}

asio::awaitable<Result<std::optional<Item>>> DynamoDbClient::put_item(PutItemRequest req,
                                                                      CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_table("PutItem", req.table));
  std::string body;
  JsonWriter w(body);
  w.begin_object().field("TableName", req.table).key("Item");
  write_item(w, req.item);
  write_expressions(w, "ConditionExpression", req.condition_expression, req.names, req.values);
  if (req.return_old) w.field("ReturnValues", "ALL_OLD");
  w.end_object();
  auto pending = invoke_for_item("PutItem", std::move(body), call, "Attributes");
  co_return co_await std::move(pending);
}

asio::awaitable<Result<std::optional<Item>>> DynamoDbClient::update_item(UpdateItemRequest req,
                                                                         CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_table("UpdateItem", req.table));
  std::string body;
  JsonWriter w(body);
  w.begin_object().field("TableName", req.table).key("Key");
  write_item(w, req.key);
  if (!req.update_expression.empty()) w.field("UpdateExpression", req.update_expression);
  write_expressions(w, "ConditionExpression", req.condition_expression, req.names, req.values);
  if (req.return_values != ReturnValues::kNone) {
    w.field("ReturnValues", return_values_name(req.return_values));
  }
  w.end_object();
  auto pending = invoke_for_item("UpdateItem", std::move(body), call, "Attributes");
  co_return co_await std::move(pending);
}

asio::awaitable<Result<std::optional<Item>>> DynamoDbClient::delete_item(DeleteItemRequest req,
                                                                         CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_table("DeleteItem", req.table));
  std::string body;
  JsonWriter w(body);
  w.begin_object().field("TableName", req.table).key("Key");
  write_item(w, req.key);
  write_expressions(w, "ConditionExpression", req.condition_expression, req.names, req.values);
  if (req.return_old) w.field("ReturnValues", "ALL_OLD");
  w.end_object();
  auto pending = invoke_for_item("DeleteItem", std::move(body), call, "Attributes");
  co_return co_await std::move(pending);
}

asio::awaitable<Result<ItemPage>> DynamoDbClient::scan(ScanRequest req, CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_table("Scan", req.table));
  std::string body;
  JsonWriter w(body);
  w.begin_object().field("TableName", req.table);
  if (!req.index_name.empty()) w.field("IndexName", req.index_name);
  if (!req.projection_expression.empty())
    w.field("ProjectionExpression", req.projection_expression);
  write_expressions(w, "FilterExpression", req.filter_expression, req.names, req.values);
  if (req.limit > 0) w.field("Limit", req.limit);
  if (req.consistent_read) w.field("ConsistentRead", true);
  if (req.exclusive_start_key) {
    w.key("ExclusiveStartKey");
    write_item(w, *req.exclusive_start_key);
  }
  w.end_object();
  auto pending = invoke("Scan", std::move(body), call);
  Result<HttpResponse> r = co_await std::move(pending);
  if (!r.ok()) co_return r.status();
  co_return parse_page(*r, "Scan");
}

asio::awaitable<Result<ItemPage>> DynamoDbClient::query(QueryRequest req, CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_table("Query", req.table));
  if (req.key_condition_expression.empty()) {
    co_return Status::invalid_argument("Query: key_condition_expression is required");
  }
  std::string body;
  JsonWriter w(body);
  w.begin_object().field("TableName", req.table);
  if (!req.index_name.empty()) w.field("IndexName", req.index_name);
  w.field("KeyConditionExpression", req.key_condition_expression);
  if (!req.projection_expression.empty())
    w.field("ProjectionExpression", req.projection_expression);
  write_expressions(w, "FilterExpression", req.filter_expression, req.names, req.values);
  if (req.limit > 0) w.field("Limit", req.limit);
  if (!req.scan_index_forward) w.field("ScanIndexForward", false);
  if (req.consistent_read) w.field("ConsistentRead", true);
  if (req.exclusive_start_key) {
    w.key("ExclusiveStartKey");
    write_item(w, *req.exclusive_start_key);
  }
  w.end_object();
  auto pending = invoke("Query", std::move(body), call);
  Result<HttpResponse> r = co_await std::move(pending);
  if (!r.ok()) co_return r.status();
  co_return parse_page(*r, "Query");
}

asio::awaitable<Result<std::vector<Item>>> DynamoDbClient::scan_all(ScanRequest req,
                                                                    std::size_t max_items,
                                                                    CallOptions call) {
  std::vector<Item> all;
  while (true) {
    auto pending = scan(req, call);
    Result<ItemPage> page = co_await std::move(pending);
    if (!page.ok()) co_return page.status();
    for (auto& i : page->items) all.push_back(std::move(i));
    if (!page->last_evaluated_key || (max_items && all.size() >= max_items)) break;
    req.exclusive_start_key = std::move(page->last_evaluated_key);
  }
  co_return all;
}

asio::awaitable<Result<std::vector<Item>>> DynamoDbClient::query_all(QueryRequest req,
                                                                     std::size_t max_items,
                                                                     CallOptions call) {
  std::vector<Item> all;
  while (true) {
    auto pending = query(req, call);
    Result<ItemPage> page = co_await std::move(pending);
    if (!page.ok()) co_return page.status();
    for (auto& i : page->items) all.push_back(std::move(i));
    if (!page->last_evaluated_key || (max_items && all.size() >= max_items)) break;
    req.exclusive_start_key = std::move(page->last_evaluated_key);
  }
  co_return all;
}

}  // namespace sluice::aws
