// DynamoDbClient: the DynamoDB calls sluice's lease table needs, typed, over
// awsJson 1.0 with SigV4, retries and error mapping (service_client.h).
//
//   auto ddb = DynamoDbClient::create({.endpoint = "http://127.0.0.1:8000"});
//   Status s = co_await (*ddb)->update_item({
//       .table = "my-app",
//       .key = {{"leaseKey", AttributeValue::S("shardId-000000000001")}},
//       .update_expression = "SET leaseCounter = leaseCounter + :one",
//       .condition_expression = "leaseCounter = :seen",
//       .values = {{":one", AttributeValue::N(1)}, {":seen", AttributeValue::N(7)}}});
//   if (s.code() == StatusCode::kConditionFailed) ...  // someone else moved it
#ifndef SLUICE_AWS_DYNAMODB_CLIENT_H_
#define SLUICE_AWS_DYNAMODB_CLIENT_H_

#include <asio/awaitable.hpp>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/aws/service_client.h"

namespace sluice::aws {

// A DynamoDB attribute value: one of S, N, B, SS, NS, BS, BOOL, NULL, M, L.
class AttributeValue {
 public:
  enum class Type { kS, kN, kB, kSS, kNS, kBS, kBool, kNull, kM, kL };

  AttributeValue() : type_(Type::kNull) {}
  static AttributeValue S(std::string v) { return AttributeValue(Type::kS, std::move(v)); }
  // Numbers travel as decimal text, exactly as written.
  static AttributeValue N(std::string v) { return AttributeValue(Type::kN, std::move(v)); }
  static AttributeValue N(std::int64_t v) { return AttributeValue(Type::kN, std::to_string(v)); }
  static AttributeValue B(std::string bytes) { return AttributeValue(Type::kB, std::move(bytes)); }
  static AttributeValue SS(std::vector<std::string> v) { return set_of(Type::kSS, std::move(v)); }
  static AttributeValue NS(std::vector<std::string> v) { return set_of(Type::kNS, std::move(v)); }
  static AttributeValue BS(std::vector<std::string> v) { return set_of(Type::kBS, std::move(v)); }
  static AttributeValue Bool(bool v);
  static AttributeValue Null() { return AttributeValue(); }
  static AttributeValue M(std::map<std::string, AttributeValue> v);
  static AttributeValue L(std::vector<AttributeValue> v);

  Type type() const { return type_; }
  // S, N (the decimal text) and B (the bytes).
  const std::string& scalar() const { return scalar_; }
  // SS, NS and BS members.
  const std::vector<std::string>& set() const { return set_; }
  bool boolean() const { return bool_; }
  const std::map<std::string, AttributeValue>& map() const { return map_; }
  const std::vector<AttributeValue>& list() const { return list_; }

  // N as an integer (nullopt if not N or not an integer in range).
  std::optional<std::int64_t> as_int64() const;

  friend bool operator==(const AttributeValue& a, const AttributeValue& b);

 private:
  AttributeValue(Type t, std::string v) : type_(t), scalar_(std::move(v)) {}
  static AttributeValue set_of(Type t, std::vector<std::string> v);
  Type type_;
  std::string scalar_;
  std::vector<std::string> set_;
  bool bool_ = false;
  std::map<std::string, AttributeValue> map_;
  std::vector<AttributeValue> list_;
};

using Item = std::map<std::string, AttributeValue>;

// Convenience readers: the attribute `name` of `item` if present with the type.
const AttributeValue* find_attribute(const Item& item, const std::string& name);
std::optional<std::string> get_string(const Item& item, const std::string& name);
std::optional<std::int64_t> get_int64(const Item& item, const std::string& name);

enum class KeyType { kHash, kRange };
enum class ScalarType { kS, kN, kB };
struct KeyElement {
  std::string name;
  KeyType type = KeyType::kHash;
};
struct AttributeDefinition {
  std::string name;
  ScalarType type = ScalarType::kS;
};
struct GlobalSecondaryIndex {
  std::string name;
  std::vector<KeyElement> key_schema;
  std::string projection_type = "KEYS_ONLY";      // KEYS_ONLY, ALL or INCLUDE
  std::vector<std::string> non_key_attributes{};  // with INCLUDE
};

struct CreateTableRequest {
  std::string table{};
  std::vector<KeyElement> key_schema{};
  std::vector<AttributeDefinition> attributes{};
  // PAY_PER_REQUEST (default) or PROVISIONED with the capacities below.
  std::string billing_mode = "PAY_PER_REQUEST";
  std::int64_t read_capacity_units = 0;
  std::int64_t write_capacity_units = 0;
  std::vector<GlobalSecondaryIndex> global_secondary_indexes{};
};

struct TableDescription {
  std::string name;
  std::string arn;
  std::string status;  // CREATING, ACTIVE, DELETING, UPDATING
  std::string billing_mode;
  std::int64_t item_count = 0;
  std::vector<KeyElement> key_schema;
  std::vector<std::string> global_secondary_index_names;
};

enum class ReturnValues { kNone, kAllOld, kAllNew, kUpdatedOld, kUpdatedNew };

struct GetItemRequest {
  std::string table{};
  Item key{};
  bool consistent_read = true;
  std::string projection_expression{};
  std::map<std::string, std::string> names{};
};

struct PutItemRequest {
  std::string table{};
  Item item{};
  std::string condition_expression{};
  std::map<std::string, std::string> names{};  // "#k" -> attribute name
  Item values{};                               // ":v" -> value
  bool return_old = false;
};

struct UpdateItemRequest {
  std::string table{};
  Item key{};
  std::string update_expression{};
  std::string condition_expression{};
  std::map<std::string, std::string> names{};
  Item values{};
  ReturnValues return_values = ReturnValues::kNone;
};

struct DeleteItemRequest {
  std::string table{};
  Item key{};
  std::string condition_expression{};
  std::map<std::string, std::string> names{};
  Item values{};
  bool return_old = false;
};

struct ScanRequest {
  std::string table{};
  std::string index_name{};
  std::string filter_expression{};
  std::string projection_expression{};
  std::map<std::string, std::string> names{};
  Item values{};
  int limit = 0;  // 0: no limit per page
  std::optional<Item> exclusive_start_key{};
  bool consistent_read = false;
};

struct QueryRequest {
  std::string table{};
  std::string index_name{};
  std::string key_condition_expression{};
  std::string filter_expression{};
  std::string projection_expression{};
  std::map<std::string, std::string> names{};
  Item values{};
  int limit = 0;
  std::optional<Item> exclusive_start_key{};
  bool scan_index_forward = true;
  bool consistent_read = false;
};

// One page of a Scan or Query.
struct ItemPage {
  std::vector<Item> items;
  std::optional<Item> last_evaluated_key;  // set when there are more pages
  std::int64_t count = 0;
  std::int64_t scanned_count = 0;
};

class DynamoDbClient {
 public:
  static Result<std::unique_ptr<DynamoDbClient>> create(ClientOptions options = {});

  const AwsCall& call() const { return *call_; }

  asio::awaitable<Status> create_table(CreateTableRequest request, CallOptions call = {});
  asio::awaitable<Result<TableDescription>> describe_table(std::string table,
                                                           CallOptions call = {});
  asio::awaitable<Status> delete_table(std::string table, CallOptions call = {});
  // Polls DescribeTable until ACTIVE (and every index ACTIVE).
  asio::awaitable<Status> wait_until_active(std::string table, std::chrono::milliseconds timeout,
                                            CallOptions call = {});

  // nullopt when there is no such item.
  asio::awaitable<Result<std::optional<Item>>> get_item(GetItemRequest request,
                                                        CallOptions call = {});
  // ConditionFailed when the condition does not hold. Returns the old item
  // when asked (and there was one).
  asio::awaitable<Result<std::optional<Item>>> put_item(PutItemRequest request,
                                                        CallOptions call = {});
  asio::awaitable<Result<std::optional<Item>>> update_item(UpdateItemRequest request,
                                                           CallOptions call = {});
  asio::awaitable<Result<std::optional<Item>>> delete_item(DeleteItemRequest request,
                                                           CallOptions call = {});
  asio::awaitable<Result<ItemPage>> scan(ScanRequest request, CallOptions call = {});
  asio::awaitable<Result<ItemPage>> query(QueryRequest request, CallOptions call = {});
  // Every page, concatenated (bounded by `max_items`, 0 = no bound).
  asio::awaitable<Result<std::vector<Item>>> scan_all(ScanRequest request,
                                                      std::size_t max_items = 0,
                                                      CallOptions call = {});
  asio::awaitable<Result<std::vector<Item>>> query_all(QueryRequest request,
                                                       std::size_t max_items = 0,
                                                       CallOptions call = {});

 private:
  explicit DynamoDbClient(std::shared_ptr<AwsCall> call) : call_(std::move(call)) {}
  asio::awaitable<Result<HttpResponse>> invoke(std::string_view operation, std::string body,
                                               CallOptions call);
  // invoke(), then the reply's optional item under `key` ("Item",
  // "Attributes"). `operation` must outlive the call (a literal).
  asio::awaitable<Result<std::optional<Item>>> invoke_for_item(std::string_view operation,
                                                               std::string body, CallOptions call,
                                                               const char* key);
  std::shared_ptr<AwsCall> call_;
};

// The JSON form DynamoDB uses ({"S":"x"}, {"N":"1"}, {"M":{...}}), for
// request bodies and tests.
std::string attribute_to_json(const AttributeValue& value);
std::string item_to_json(const Item& item);

}  // namespace sluice::aws

#endif  // SLUICE_AWS_DYNAMODB_CLIENT_H_
