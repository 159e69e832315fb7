#include "sluice/aws/kinesis_client.h"

#include <simdjson.h>

#include <cmath>
#include <cstring>

#include "sluice/core/base64.h"
#include "sluice/core/executor.h"
#include "sluice/core/json_writer.h"

namespace sluice::aws {
namespace {

constexpr std::string_view kTargetPrefix = "Kinesis_20131202";

void write_stream(JsonWriter& w, const StreamRef& s) {
  if (!s.arn.empty()) {
    w.field("StreamARN", s.arn);
  } else {
    w.field("StreamName", s.name);
  }
}

Status check_stream(const StreamRef& s) {
  if (s.name.empty() && s.arn.empty()) {
    return Status::invalid_argument("Kinesis: a stream name or ARN is required");
  }
  return Status();
}

Status malformed(std::string_view operation, std::string_view what) {
  return Status::corruption("Kinesis " + std::string(operation) +
                            ": malformed reply: " + std::string(what));
}

// Parses a small reply with the DOM API (the body is padded).
Result<simdjson::dom::element> parse_dom(simdjson::dom::parser& parser, const HttpResponse& r,
                                         std::string_view operation) {
  simdjson::dom::element doc;
  auto err = parser.parse(r.body.data(), r.body.size(), false).get(doc);
  if (err) return malformed(operation, simdjson::error_message(err));
  if (!doc.is_object()) return malformed(operation, "not a JSON object");
  return doc;
}

std::string get_str(simdjson::dom::element e, std::string_view key) {
  std::string_view v;
  if (e[key].get(v) == simdjson::SUCCESS) return std::string(v);
  return "";
}

HashKeyRange parse_range(simdjson::dom::element e) {
  HashKeyRange r;
  simdjson::dom::element range;
  if (e["HashKeyRange"].get(range) == simdjson::SUCCESS) {
    r.starting_hash_key = get_str(range, "StartingHashKey");
    r.ending_hash_key = get_str(range, "EndingHashKey");
  }
  return r;
}

}  // namespace

std::string_view shard_iterator_type_name(ShardIteratorType type) {
  switch (type) {
    case ShardIteratorType::kTrimHorizon:
      return "TRIM_HORIZON";
    case ShardIteratorType::kLatest:
      return "LATEST";
    case ShardIteratorType::kAtSequenceNumber:
      return "AT_SEQUENCE_NUMBER";
    case ShardIteratorType::kAfterSequenceNumber:
      return "AFTER_SEQUENCE_NUMBER";
    case ShardIteratorType::kAtTimestamp:
      return "AT_TIMESTAMP";
  }
  return "LATEST";
}

// --- GetRecords parsing (the hot path) -----------------------------------------

Result<GetRecordsResult> GetRecordsResult::parse(const std::string& body) {
  thread_local simdjson::ondemand::parser parser;
  std::optional<simdjson::padded_string> copy;  // only for bodies without padding
  simdjson::padded_string_view json;
  if (body.capacity() - body.size() >= simdjson::SIMDJSON_PADDING) {
    json = simdjson::padded_string_view(body.data(), body.size(), body.capacity());
  } else {
    copy.emplace(body);
    json = *copy;
  }
  GetRecordsResult out;
  // Everything the records point at fits in the body's size: base64 data
  // shrink when decoded, and the strings are copied once.
  out.storage_ = std::make_unique<char[]>(body.size() + 1);
  char* cursor = out.storage_.get();
  auto keep = [&cursor](std::string_view s) {
    std::memcpy(cursor, s.data(), s.size());
    std::string_view v(cursor, s.size());
    cursor += s.size();
    return v;
  };
  auto bad = [](std::string_view what) { return malformed("GetRecords", what); };

  simdjson::ondemand::document doc;
  if (auto err = parser.iterate(json).get(doc)) return bad(simdjson::error_message(err));
  simdjson::ondemand::object root;
  if (doc.get_object().get(root)) return bad("not a JSON object");
  for (auto field : root) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return bad("unreadable key");
    simdjson::ondemand::value value = field.value();
    if (key == "Records") {
      simdjson::ondemand::array records;
      if (value.get_array().get(records)) return bad("Records is not an array");
      for (auto rec_value : records) {
        simdjson::ondemand::object rec;
        if (rec_value.get_object().get(rec)) return bad("a record is not an object");
        KinesisRecord r;
        bool has_data = false, has_seq = false;
        for (auto rf : rec) {
          std::string_view k;
          if (rf.unescaped_key().get(k)) return bad("unreadable record key");
          simdjson::ondemand::value v = rf.value();
          if (k == "Data") {
            // The raw token keeps us off simdjson's string buffer: base64
            // has nothing to unescape, so decode straight from the reply.
            std::string_view token = v.raw_json_token();
            while (!token.empty() && token.back() != '"') token.remove_suffix(1);
            if (token.size() < 2 || token.front() != '"') return bad("Data is not a string");
            token = token.substr(1, token.size() - 2);
            std::string unescaped;
            if (token.find('\\') != std::string_view::npos) {  // "\/" from some encoders
              std::string_view s;
              if (v.get_string().get(s)) return bad("Data is not a string");
              unescaped = std::string(s);
              token = unescaped;
            }
            auto n = base64_decode_into(token, cursor);
            if (!n.ok()) return bad("record Data: " + std::string(n.status().message()));
            r.data = std::string_view(cursor, *n);
            cursor += *n;
            out.data_bytes += *n;
            has_data = true;
          } else if (k == "SequenceNumber") {
            std::string_view s;
            if (v.get_string().get(s)) return bad("SequenceNumber is not a string");
            r.sequence_number = keep(s);
            has_seq = true;
          } else if (k == "PartitionKey") {
            std::string_view s;
            if (v.get_string().get(s)) return bad("PartitionKey is not a string");
            r.partition_key = keep(s);
          } else if (k == "ApproximateArrivalTimestamp") {
            double t = 0;
            if (v.get_double().get(t)) return bad("ApproximateArrivalTimestamp is not a number");
            r.approximate_arrival = std::chrono::system_clock::time_point(
                std::chrono::duration_cast<std::chrono::system_clock::duration>(
                    std::chrono::duration<double>(t)));
          } else if (k == "EncryptionType") {
            std::string_view s;
            if (!v.get_string().get(s)) r.encryption_type = keep(s);
          }
        }
        if (!has_data || !has_seq) return bad("a record lacks Data or SequenceNumber");
        out.records.push_back(r);
      }
    } else if (key == "NextShardIterator") {
      if (value.is_null()) continue;  // real Kinesis: null at a closed shard's end
      std::string_view s;
      if (value.get_string().get(s)) return bad("NextShardIterator is not a string");
      out.next_shard_iterator = std::string(s);
    } else if (key == "MillisBehindLatest") {
      std::int64_t ms = 0;
      if (value.get_int64().get(ms)) return bad("MillisBehindLatest is not an integer");
      out.millis_behind_latest = ms;
    } else if (key == "ChildShards") {
      simdjson::ondemand::array children;
      if (value.get_array().get(children)) return bad("ChildShards is not an array");
      for (auto child_value : children) {
        ChildShard c;
        simdjson::ondemand::object child;
        if (child_value.get_object().get(child)) return bad("a child shard is not an object");
        for (auto cf : child) {
          std::string_view k;
          if (cf.unescaped_key().get(k)) return bad("unreadable child shard key");
          simdjson::ondemand::value v = cf.value();
          if (k == "ShardId") {
            std::string_view s;
            if (v.get_string().get(s)) return bad("ChildShards.ShardId");
            c.shard_id = std::string(s);
          } else if (k == "ParentShards") {
            simdjson::ondemand::array parents;
            if (v.get_array().get(parents)) return bad("ChildShards.ParentShards");
            for (auto p : parents) {
              std::string_view s;
              if (p.get_string().get(s)) return bad("ChildShards.ParentShards entry");
              c.parent_shards.emplace_back(s);
            }
          } else if (k == "HashKeyRange") {
            simdjson::ondemand::object range;
            if (v.get_object().get(range)) return bad("ChildShards.HashKeyRange");
            for (auto hf : range) {
              std::string_view hk, hv;
              if (hf.unescaped_key().get(hk) || hf.value().get_string().get(hv)) {
                return bad("ChildShards.HashKeyRange entry");
              }
              if (hk == "StartingHashKey") c.hash_key_range.starting_hash_key = std::string(hv);
              if (hk == "EndingHashKey") c.hash_key_range.ending_hash_key = std::string(hv);
            }
          }
        }
        out.child_shards.push_back(std::move(c));
      }
    }
  }
  return out;
}

// --- the client ----------------------------------------------------------------

Result<std::unique_ptr<KinesisClient>> KinesisClient::create(ClientOptions options) {
  SLUICE_ASSIGN_OR_RETURN(
      auto call,
      AwsCall::create({.name = "Kinesis", .signing_name = "kinesis", .s3_signing = false},
                      std::move(options)));
  return std::unique_ptr<KinesisClient>(new KinesisClient(std::move(call)));
}

asio::awaitable<Result<HttpResponse>> KinesisClient::invoke(std::string_view operation,
                                                            std::string body, CallOptions call) {
  std::string op(operation);
  auto pending = call_->json(kTargetPrefix, "1.1", op, std::move(body), call);
  Result<HttpResponse> r = co_await std::move(pending);
  co_return r;
}

asio::awaitable<Result<std::vector<Shard>>> KinesisClient::list_shards(
    StreamRef stream, std::string exclusive_start_shard_id, CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_stream(stream));
  std::vector<Shard> shards;
  std::string next_token;
  simdjson::dom::parser parser;
  while (true) {
    std::string body;
    JsonWriter w(body);
    w.begin_object();
    if (next_token.empty()) {
      write_stream(w, stream);
      if (!exclusive_start_shard_id.empty())
        w.field("ExclusiveStartShardId", exclusive_start_shard_id);
    } else {
      // Real Kinesis wants NextToken alone. (kinesalite never returns a
      // NextToken, so it never sees such a request: it would crash on one.)
      w.field("NextToken", next_token);
    }
    w.end_object();
    auto pending = invoke("ListShards", std::move(body), call);
    Result<HttpResponse> r = co_await std::move(pending);
    if (!r.ok()) co_return r.status();
    SLUICE_CO_ASSIGN_OR_RETURN(simdjson::dom::element doc, parse_dom(parser, *r, "ListShards"));
    simdjson::dom::array arr;
    if (doc["Shards"].get(arr) != simdjson::SUCCESS)
      co_return malformed("ListShards", "no Shards array");
    for (simdjson::dom::element e : arr) {
      Shard s;
      s.shard_id = get_str(e, "ShardId");
      if (s.shard_id.empty()) co_return malformed("ListShards", "a shard has no ShardId");
      s.parent_shard_id = get_str(e, "ParentShardId");
      s.adjacent_parent_shard_id = get_str(e, "AdjacentParentShardId");
      s.hash_key_range = parse_range(e);
      simdjson::dom::element seq;
      if (e["SequenceNumberRange"].get(seq) == simdjson::SUCCESS) {
        s.starting_sequence_number = get_str(seq, "StartingSequenceNumber");
        s.ending_sequence_number = get_str(seq, "EndingSequenceNumber");
      }
      exclusive_start_shard_id = s.shard_id;
      shards.push_back(std::move(s));
    }
    next_token = get_str(doc, "NextToken");
    if (next_token.empty()) break;
  }
  co_return shards;
}

asio::awaitable<Result<StreamSummary>> KinesisClient::describe_stream_summary(StreamRef stream,
                                                                              CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_stream(stream));
  std::string body;
  JsonWriter w(body);
  w.begin_object();
  write_stream(w, stream);
  w.end_object();
  auto pending = invoke("DescribeStreamSummary", std::move(body), call);
  Result<HttpResponse> r = co_await std::move(pending);
  if (!r.ok()) co_return r.status();
  simdjson::dom::parser parser;
  SLUICE_CO_ASSIGN_OR_RETURN(simdjson::dom::element doc,
                             parse_dom(parser, *r, "DescribeStreamSummary"));
  simdjson::dom::element d;
  if (doc["StreamDescriptionSummary"].get(d) != simdjson::SUCCESS) {
    co_return malformed("DescribeStreamSummary", "no StreamDescriptionSummary");
  }
  StreamSummary s;
  s.name = get_str(d, "StreamName");
  s.arn = get_str(d, "StreamARN");
  s.status = get_str(d, "StreamStatus");
  std::int64_t n = 0;
  if (d["OpenShardCount"].get(n) == simdjson::SUCCESS) s.open_shard_count = static_cast<int>(n);
  if (d["RetentionPeriodHours"].get(n) == simdjson::SUCCESS)
    s.retention_period_hours = static_cast<int>(n);
  simdjson::dom::element mode;
  if (d["StreamModeDetails"].get(mode) == simdjson::SUCCESS)
    s.stream_mode = get_str(mode, "StreamMode");
  co_return s;
}

asio::awaitable<Status> KinesisClient::create_stream(std::string name, int shard_count,
                                                     CallOptions call) {
  if (name.empty()) co_return Status::invalid_argument("CreateStream: stream name is empty");
  if (shard_count < 1) {
    co_return Status::invalid_argument("CreateStream: shard count must be >= 1, got " +
                                       std::to_string(shard_count));
  }
  std::string body;
  JsonWriter(body)
      .begin_object()
      .field("StreamName", name)
      .field("ShardCount", shard_count)
      .end_object();
  auto pending = invoke("CreateStream", std::move(body), call);
  Result<HttpResponse> r = co_await std::move(pending);
  co_return r.status();
}

asio::awaitable<Status> KinesisClient::delete_stream(StreamRef stream, CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_stream(stream));
  std::string body;
  JsonWriter w(body);
  w.begin_object();
  write_stream(w, stream);
  w.end_object();
  auto pending = invoke("DeleteStream", std::move(body), call);
  Result<HttpResponse> r = co_await std::move(pending);
  co_return r.status();
}

asio::awaitable<Status> KinesisClient::split_shard(StreamRef stream, std::string shard_id,
                                                   std::string new_starting_hash_key,
                                                   CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_stream(stream));
  std::string body;
  JsonWriter w(body);
  w.begin_object();
  write_stream(w, stream);
  w.field("ShardToSplit", shard_id).field("NewStartingHashKey", new_starting_hash_key).end_object();
  auto pending = invoke("SplitShard", std::move(body), call);
  Result<HttpResponse> r = co_await std::move(pending);
  co_return r.status();
}

asio::awaitable<Status> KinesisClient::merge_shards(StreamRef stream, std::string shard_id,
                                                    std::string adjacent_shard_id,
                                                    CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_stream(stream));
  std::string body;
  JsonWriter w(body);
  w.begin_object();
  write_stream(w, stream);
  w.field("ShardToMerge", shard_id).field("AdjacentShardToMerge", adjacent_shard_id).end_object();
  auto pending = invoke("MergeShards", std::move(body), call);
  Result<HttpResponse> r = co_await std::move(pending);
  co_return r.status();
}

asio::awaitable<Result<std::string>> KinesisClient::get_shard_iterator(StreamRef stream,
                                                                       std::string shard_id,
                                                                       IteratorPosition position,
                                                                       CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_stream(stream));
  std::string body;
  JsonWriter w(body);
  w.begin_object();
  write_stream(w, stream);
  w.field("ShardId", shard_id).field("ShardIteratorType", shard_iterator_type_name(position.type));
  switch (position.type) {
    case ShardIteratorType::kAtSequenceNumber:
    case ShardIteratorType::kAfterSequenceNumber:
      if (position.sequence_number.empty()) {
        co_return Status::invalid_argument(
            "GetShardIterator: " + std::string(shard_iterator_type_name(position.type)) +
            " needs a sequence number");
      }
      w.field("StartingSequenceNumber", position.sequence_number);
      break;
    case ShardIteratorType::kAtTimestamp: {
      // awsJson timestamps are epoch seconds, with milliseconds as fraction.
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          position.timestamp.time_since_epoch())
                          .count();
      w.key("Timestamp").number(static_cast<double>(ms) / 1000.0);
      break;
    }
    default:
      break;
  }
  w.end_object();
  auto pending = invoke("GetShardIterator", std::move(body), call);
  Result<HttpResponse> r = co_await std::move(pending);
  if (!r.ok()) co_return r.status();
  simdjson::dom::parser parser;
  SLUICE_CO_ASSIGN_OR_RETURN(simdjson::dom::element doc, parse_dom(parser, *r, "GetShardIterator"));
  std::string it = get_str(doc, "ShardIterator");
  if (it.empty()) co_return malformed("GetShardIterator", "no ShardIterator");
  co_return it;
}

asio::awaitable<Result<GetRecordsResult>> KinesisClient::get_records(std::string shard_iterator,
                                                                     int limit, StreamRef stream,
                                                                     CallOptions call) {
  if (limit < 1 || limit > 10000) {
    co_return Status::invalid_argument("GetRecords: limit must be 1..10000, got " +
                                       std::to_string(limit));
  }
  std::string body;
  JsonWriter w(body);
  w.begin_object().field("ShardIterator", shard_iterator).field("Limit", limit);
  if (!stream.arn.empty()) w.field("StreamARN", stream.arn);
  w.end_object();
  auto pending = invoke("GetRecords", std::move(body), call);
  Result<HttpResponse> r = co_await std::move(pending);
  if (!r.ok()) co_return r.status();
  co_return GetRecordsResult::parse(r->body);
}

asio::awaitable<Result<PutRecordResult>> KinesisClient::put_record(
    StreamRef stream, std::string_view data, std::string_view partition_key,
    std::string_view explicit_hash_key, CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_stream(stream));
  if (partition_key.empty())
    co_return Status::invalid_argument("PutRecord: partition key is empty");
  std::string body;
  body.reserve(base64_encoded_size(data.size()) + partition_key.size() + 128);
  JsonWriter w(body);
  w.begin_object();
  write_stream(w, stream);
  w.key("Data").base64(data).field("PartitionKey", partition_key);
  if (!explicit_hash_key.empty()) w.field("ExplicitHashKey", explicit_hash_key);
  w.end_object();
  auto pending = invoke("PutRecord", std::move(body), call);
  Result<HttpResponse> r = co_await std::move(pending);
  if (!r.ok()) co_return r.status();
  simdjson::dom::parser parser;
  SLUICE_CO_ASSIGN_OR_RETURN(simdjson::dom::element doc, parse_dom(parser, *r, "PutRecord"));
  PutRecordResult out{get_str(doc, "ShardId"), get_str(doc, "SequenceNumber")};
  if (out.sequence_number.empty()) co_return malformed("PutRecord", "no SequenceNumber");
  co_return out;
}

asio::awaitable<Result<PutRecordsResult>> KinesisClient::put_records(
    StreamRef stream, std::span<const PutRecordsEntry> entries, CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_stream(stream));
  if (entries.empty() || entries.size() > 500) {
    co_return Status::invalid_argument("PutRecords: 1..500 records per request, got " +
                                       std::to_string(entries.size()));
  }
  std::size_t size = 64;
  for (const auto& e : entries) {
    size += base64_encoded_size(e.data.size()) + e.partition_key.size() +
            e.explicit_hash_key.size() + 64;
  }
  std::string body;
  body.reserve(size);
  JsonWriter w(body);
  w.begin_object();
  write_stream(w, stream);
  w.key("Records").begin_array();
  for (const auto& e : entries) {
    if (e.partition_key.empty()) {
      co_return Status::invalid_argument("PutRecords: a record has an empty partition key");
    }
    w.begin_object().key("Data").base64(e.data).field("PartitionKey", e.partition_key);
    if (!e.explicit_hash_key.empty()) w.field("ExplicitHashKey", e.explicit_hash_key);
    w.end_object();
  }
  w.end_array().end_object();
  auto pending = invoke("PutRecords", std::move(body), call);
  Result<HttpResponse> r = co_await std::move(pending);
  if (!r.ok()) co_return r.status();
  simdjson::dom::parser parser;
  SLUICE_CO_ASSIGN_OR_RETURN(simdjson::dom::element doc, parse_dom(parser, *r, "PutRecords"));
  PutRecordsResult out;
  std::int64_t failed = 0;
  if (doc["FailedRecordCount"].get(failed)) {  // absent: keep the default
  }
  out.failed_record_count = static_cast<int>(failed);
  simdjson::dom::array arr;
  if (doc["Records"].get(arr) != simdjson::SUCCESS)
    co_return malformed("PutRecords", "no Records array");
  for (simdjson::dom::element e : arr) {
    out.records.push_back({get_str(e, "ShardId"), get_str(e, "SequenceNumber"),
                           get_str(e, "ErrorCode"), get_str(e, "ErrorMessage")});
  }
  if (out.records.size() != entries.size()) {
    co_return malformed("PutRecords", std::to_string(out.records.size()) + " results for " +
                                          std::to_string(entries.size()) + " records");
  }
  co_return out;
}

asio::awaitable<Status> KinesisClient::wait_until_active(StreamRef stream,
                                                         std::chrono::milliseconds timeout,
                                                         CallOptions call) {
  const Clock& clock = call_->clock();
  const auto deadline = clock.now() + timeout;
  while (true) {
    auto pending = describe_stream_summary(stream, call);
    Result<StreamSummary> s = co_await std::move(pending);
    if (s.ok() && s->status == "ACTIVE") co_return Status();
    if (!s.ok() && s.status().code() != StatusCode::kNotFound) co_return s.status();
    if (clock.now() >= deadline) {
      co_return Status::timeout("stream \"" + stream.display() + "\" not ACTIVE after " +
                                std::to_string(timeout.count()) + " ms" +
                                (s.ok() ? " (status " + s->status + ")" : ""));
    }
    auto sleep = async_sleep_for(clock, std::chrono::milliseconds(100), call.stop);
    const bool slept = co_await std::move(sleep);
    if (!slept) co_return Status::cancelled("stopped waiting for the stream");
  }
}

}  // namespace sluice::aws
