// DynamoDbClient against dynalite: tables with a GSI, every item operation,
// conditional failures, and paging.
#include "sluice/aws/dynamodb_client.h"

#include <gtest/gtest.h>

#include "sluice/core/executor.h"
#include "support/backends.h"
#include "support/test_util.h"

namespace sluice::aws {
namespace {

using namespace std::chrono_literals;
using testing::Backends;
using AV = AttributeValue;

class DynamoDbClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClientOptions o;
    o.region = "us-east-1";
    o.endpoint = Backends::get().dynamodb_endpoint;
    o.credentials = make_static_credentials("AKIDEXAMPLE", "secret");
    auto c = DynamoDbClient::create(o);
    ASSERT_TRUE(c.ok()) << c.status();
    ddb_ = std::move(*c);
    table_ = testing::unique_name("leases");
    CreateTableRequest req;
    req.table = table_;
    req.key_schema = {{"leaseKey", KeyType::kHash}};
    req.attributes = {{"leaseKey", ScalarType::kS}, {"leaseOwner", ScalarType::kS}};
    req.global_secondary_indexes = {
        {"LeaseOwnerToLeaseKeyIndex",
         {{"leaseOwner", KeyType::kHash}, {"leaseKey", KeyType::kRange}},
         "KEYS_ONLY"}};
    ASSERT_TRUE(run(ddb_->create_table(req)).ok());
    ASSERT_TRUE(run(ddb_->wait_until_active(table_, 10s)).ok());
  }
  void TearDown() override { (void)run(ddb_->delete_table(table_)); }
  template <class T>
  T run(asio::awaitable<T> task) {
    return run_blocking(pool_.executor(), std::move(task));
  }
  Item lease(const std::string& key, const std::string& owner, std::int64_t counter) {
    return {{"leaseKey", AV::S(key)},
            {"leaseOwner", AV::S(owner)},
            {"leaseCounter", AV::N(counter)},
            {"checkpoint", AV::S("TRIM_HORIZON")},
            {"parentShardId", AV::SS({"shardId-000000000000"})},
            {"pendingCheckpointState", AV::B(std::string("\x00\xff", 2))},
            {"extra", AV::M({{"flag", AV::Bool(true)}, {"list", AV::L({AV::N(1), AV::Null()})}})}};
  }

  ThreadPool pool_{2};
  std::unique_ptr<DynamoDbClient> ddb_;
  std::string table_;
};

TEST_F(DynamoDbClientTest, DescribeShowsSchemaAndIndex) {
  auto d = run(ddb_->describe_table(table_));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->name, table_);
  EXPECT_EQ(d->status, "ACTIVE");
  EXPECT_EQ(d->billing_mode, "PAY_PER_REQUEST");
  ASSERT_EQ(d->key_schema.size(), 1u);
  EXPECT_EQ(d->key_schema[0].name, "leaseKey");
  EXPECT_EQ(d->global_secondary_index_names, std::vector<std::string>{"LeaseOwnerToLeaseKeyIndex"});
  auto missing = run(ddb_->describe_table("no-such-table-xyz"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  auto again = run(ddb_->create_table({.table = table_,
                                       .key_schema = {{"leaseKey", KeyType::kHash}},
                                       .attributes = {{"leaseKey", ScalarType::kS}}}));
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << again;
}

TEST_F(DynamoDbClientTest, PutGetRoundTripsEveryType) {
  Item item = lease("shardId-000000000001", "worker-a", 1);
  item["numbers"] = AV::NS({"1", "2.5"});
  item["blobs"] = AV::BS({"a", std::string("\0b", 2)});
  ASSERT_TRUE(run(ddb_->put_item({.table = table_, .item = item})).ok());
  auto got =
      run(ddb_->get_item({.table = table_, .key = {{"leaseKey", AV::S("shardId-000000000001")}}}));
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, item);
  EXPECT_EQ(get_int64(**got, "leaseCounter"), 1);
  EXPECT_EQ(get_string(**got, "leaseOwner"), "worker-a");
  auto none = run(ddb_->get_item({.table = table_, .key = {{"leaseKey", AV::S("nope")}}}));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(DynamoDbClientTest, ConditionalUpdatesLikeTheLeaseTable) {
  ASSERT_TRUE(run(ddb_->put_item({.table = table_, .item = lease("s1", "a", 1)})).ok());
  // Renew: counter + 1 if the counter is what we last saw.
  UpdateItemRequest renew{.table = table_,
                          .key = {{"leaseKey", AV::S("s1")}},
                          .update_expression = "SET leaseCounter = leaseCounter + :one",
                          .condition_expression = "leaseCounter = :seen AND leaseOwner = :me",
                          .values = {{":one", AV::N(1)}, {":seen", AV::N(1)}, {":me", AV::S("a")}},
                          .return_values = ReturnValues::kAllNew};
  auto r = run(ddb_->update_item(renew));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(get_int64(**r, "leaseCounter"), 2);
  // The same renew again: the counter moved, so the condition fails.
  auto stale = run(ddb_->update_item(renew));
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), StatusCode::kConditionFailed);
  EXPECT_NE(stale.status().message().find("ConditionalCheckFailedException"),
            std::string_view::npos);
  EXPECT_FALSE(stale.status().retryable());
  // REMOVE with attribute names, and put-if-absent.
  auto removed = run(ddb_->update_item({.table = table_,
                                        .key = {{"leaseKey", AV::S("s1")}},
                                        .update_expression = "REMOVE #o",
                                        .names = {{"#o", "leaseOwner"}},
                                        .return_values = ReturnValues::kAllNew}));
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(find_attribute(**removed, "leaseOwner"), nullptr);
  auto dup = run(ddb_->put_item({.table = table_,
                                 .item = lease("s1", "b", 1),
                                 .condition_expression = "attribute_not_exists(leaseKey)"}));
  EXPECT_EQ(dup.status().code(), StatusCode::kConditionFailed);
  // Conditional delete, returning the old item.
  auto del_wrong = run(ddb_->delete_item({.table = table_,
                                          .key = {{"leaseKey", AV::S("s1")}},
                                          .condition_expression = "leaseCounter = :c",
                                          .values = {{":c", AV::N(99)}}}));
  EXPECT_EQ(del_wrong.status().code(), StatusCode::kConditionFailed);
  auto del = run(ddb_->delete_item({.table = table_,
                                    .key = {{"leaseKey", AV::S("s1")}},
                                    .condition_expression = "leaseCounter = :c",
                                    .values = {{":c", AV::N(2)}},
                                    .return_old = true}));
  ASSERT_TRUE(del.ok()) << del.status();
  EXPECT_EQ(get_int64(**del, "leaseCounter"), 2);
}

TEST_F(DynamoDbClientTest, ScanAndQueryPage) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(run(ddb_->put_item(
                        {.table = table_,
                         .item = lease("shard-" + std::to_string(i), i % 2 ? "odd" : "even", i)}))
                    .ok());
  }
  auto page = run(ddb_->scan({.table = table_, .limit = 3}));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->items.size(), 3u);
  EXPECT_TRUE(page->last_evaluated_key.has_value());
  auto all = run(ddb_->scan_all({.table = table_, .limit = 3}));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 7u);
  auto filtered = run(ddb_->scan_all({.table = table_,
                                      .filter_expression = "leaseCounter >= :n",
                                      .values = {{":n", AV::N(5)}},
                                      .limit = 2}));
  ASSERT_TRUE(filtered.ok());
  EXPECT_EQ(filtered->size(), 2u);
  auto odd = run(ddb_->query_all({.table = table_,
                                  .index_name = "LeaseOwnerToLeaseKeyIndex",
                                  .key_condition_expression = "leaseOwner = :o",
                                  .values = {{":o", AV::S("odd")}}}));
  ASSERT_TRUE(odd.ok()) << odd.status();
  EXPECT_EQ(odd->size(), 3u);
  for (const auto& item : *odd) EXPECT_EQ(item.size(), 2u) << "KEYS_ONLY index";
  EXPECT_EQ(run(ddb_->query({.table = table_})).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(run(ddb_->scan({.table = "ab"})).status().code(), StatusCode::kInvalidArgument);
}

TEST(DynamoDbJson, AttributeForms) {
  EXPECT_EQ(attribute_to_json(AV::S("x")), "{\"S\":\"x\"}");
  EXPECT_EQ(attribute_to_json(AV::N(-5)), "{\"N\":\"-5\"}");
  EXPECT_EQ(attribute_to_json(AV::B("hi")), "{\"B\":\"aGk=\"}");
  EXPECT_EQ(attribute_to_json(AV::SS({"a", "b"})), "{\"SS\":[\"a\",\"b\"]}");
  EXPECT_EQ(attribute_to_json(AV::Null()), "{\"NULL\":true}");
  EXPECT_EQ(item_to_json({{"m", AV::M({{"b", AV::Bool(false)}})}, {"l", AV::L({})}}),
            "{\"l\":{\"L\":[]},\"m\":{\"M\":{\"b\":{\"BOOL\":false}}}}");
  EXPECT_EQ(AV::N("12").as_int64(), 12);
  EXPECT_FALSE(AV::N("1.5").as_int64().has_value());
  EXPECT_FALSE(AV::S("1").as_int64().has_value());
}

}  // namespace
}  // namespace sluice::aws
