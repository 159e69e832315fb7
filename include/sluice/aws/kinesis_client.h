// KinesisClient: the Kinesis Data Streams API calls sluice needs, typed, over
// awsJson 1.1 with SigV4, retries and error mapping (service_client.h).
//
//   auto kinesis = KinesisClient::create({.region = "us-east-1"});
//   auto shards = co_await (*kinesis)->list_shards({.name = "orders"});
//
// Streams are named by name or ARN (StreamRef). GetRecords is the consumer's
// hot path: the reply is parsed in place, record data are base64-decoded once
// into one buffer owned by the result, and records are views into it.
#ifndef SLUICE_AWS_KINESIS_CLIENT_H_
#define SLUICE_AWS_KINESIS_CLIENT_H_

#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/aws/service_client.h"

namespace sluice::aws {

// A stream by name or by ARN (the ARN wins when both are set).
struct StreamRef {
  std::string name{};
  std::string arn{};
  // The ARN if set, else the name: for messages and metric labels.
  const std::string& display() const { return arn.empty() ? name : arn; }
};

struct HashKeyRange {
  std::string starting_hash_key;  // decimal, 0 .. 2^128-1
  std::string ending_hash_key;
};

struct Shard {
  std::string shard_id;
  std::string parent_shard_id;           // empty when none
  std::string adjacent_parent_shard_id;  // empty when none (set for merges)
  HashKeyRange hash_key_range;
  std::string starting_sequence_number;
  std::string ending_sequence_number;  // empty while the shard is open
  bool is_open() const { return ending_sequence_number.empty(); }
};

struct StreamSummary {
  std::string name;
  std::string arn;
  std::string status;  // CREATING, DELETING, ACTIVE, UPDATING
  int open_shard_count = 0;
  int retention_period_hours = 0;
  std::string stream_mode;  // PROVISIONED or ON_DEMAND ("" if not reported)
};

enum class ShardIteratorType {
  kTrimHorizon,
  kLatest,
  kAtSequenceNumber,
  kAfterSequenceNumber,
  kAtTimestamp,
};
std::string_view shard_iterator_type_name(ShardIteratorType type);

struct IteratorPosition {
  ShardIteratorType type = ShardIteratorType::kLatest;
  std::string sequence_number{};                      // AT_/AFTER_SEQUENCE_NUMBER
  std::chrono::system_clock::time_point timestamp{};  // AT_TIMESTAMP
};

// One Kinesis record of a GetRecords reply. The views point into the
// GetRecordsResult that holds it and live as long as that result.
struct KinesisRecord {
  std::string_view sequence_number;
  std::string_view partition_key;
  std::string_view data;  // decoded bytes
  std::chrono::system_clock::time_point approximate_arrival{};
  std::string_view encryption_type;  // "NONE" or "KMS" (empty when absent)
};

struct ChildShard {
  std::string shard_id;
  std::vector<std::string> parent_shards;
  HashKeyRange hash_key_range;
};

class GetRecordsResult {
 public:
  std::vector<KinesisRecord> records;
  // Unset when the shard is closed and read to its end.
  std::optional<std::string> next_shard_iterator;
  std::optional<std::int64_t> millis_behind_latest;
  // Set by real Kinesis at a closed shard's end (kinesalite never sends it).
  std::vector<ChildShard> child_shards;
  // Sum of the decoded data sizes.
  std::size_t data_bytes = 0;

  // Parses a GetRecords reply body (in place when it has simdjson's padding,
  // as HttpResponse bodies do). Records point into storage owned by the
  // result. Corruption, naming what is wrong, when the reply is malformed.
  static Result<GetRecordsResult> parse(const std::string& body);

 private:
  std::unique_ptr<char[]> storage_;  // decoded data, sequence numbers, keys
};

struct PutRecordsEntry {
  std::string_view data;
  std::string_view partition_key;
  std::string_view explicit_hash_key{};  // empty: hash the partition key
};

struct PutRecordsResultEntry {
  std::string shard_id;         // set on success
  std::string sequence_number;  // set on success
  std::string error_code;       // e.g. ProvisionedThroughputExceededException
  std::string error_message;
  bool ok() const { return error_code.empty(); }
};

struct PutRecordsResult {
  int failed_record_count = 0;
  std::vector<PutRecordsResultEntry> records;  // one per entry, same order
};

struct PutRecordResult {
  std::string shard_id;
  std::string sequence_number;
};

class KinesisClient {
 public:
  static Result<std::unique_ptr<KinesisClient>> create(ClientOptions options = {});

  const AwsCall& call() const { return *call_; }

  // Every shard of the stream (open and closed, with lineage), paging with
  // NextToken. `exclusive_start_shard_id` lists only shards after it.
  asio::awaitable<Result<std::vector<Shard>>> list_shards(StreamRef stream,
                                                          std::string exclusive_start_shard_id = "",
                                                          CallOptions call = {});
  asio::awaitable<Result<StreamSummary>> describe_stream_summary(StreamRef stream,
                                                                 CallOptions call = {});
  asio::awaitable<Status> create_stream(std::string name, int shard_count, CallOptions call = {});
  asio::awaitable<Status> delete_stream(StreamRef stream, CallOptions call = {});
  asio::awaitable<Status> split_shard(StreamRef stream, std::string shard_id,
                                      std::string new_starting_hash_key, CallOptions call = {});
  asio::awaitable<Status> merge_shards(StreamRef stream, std::string shard_id,
                                       std::string adjacent_shard_id, CallOptions call = {});
  asio::awaitable<Result<std::string>> get_shard_iterator(StreamRef stream, std::string shard_id,
                                                          IteratorPosition position,
                                                          CallOptions call = {});
  // `limit`: 1..10000 records.
  asio::awaitable<Result<GetRecordsResult>> get_records(std::string shard_iterator, int limit,
                                                        StreamRef stream = {},
                                                        CallOptions call = {});
  asio::awaitable<Result<PutRecordResult>> put_record(StreamRef stream, std::string_view data,
                                                      std::string_view partition_key,
                                                      std::string_view explicit_hash_key = {},
                                                      CallOptions call = {});
  // Up to 500 entries. The views must stay valid until the call completes.
  asio::awaitable<Result<PutRecordsResult>> put_records(StreamRef stream,
                                                        std::span<const PutRecordsEntry> entries,
                                                        CallOptions call = {});
  // Waits (polling DescribeStreamSummary) until the stream is ACTIVE.
  asio::awaitable<Status> wait_until_active(StreamRef stream, std::chrono::milliseconds timeout,
                                            CallOptions call = {});

 private:
  explicit KinesisClient(std::shared_ptr<AwsCall> call) : call_(std::move(call)) {}
  asio::awaitable<Result<HttpResponse>> invoke(std::string_view operation, std::string body,
                                               CallOptions call);
  std::shared_ptr<AwsCall> call_;
};

}  // namespace sluice::aws

#endif  // SLUICE_AWS_KINESIS_CLIENT_H_
