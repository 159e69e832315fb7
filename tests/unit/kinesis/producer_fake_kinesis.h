// FakeKinesis: just enough of the Kinesis API (PutRecords, ListShards) on a
// LocalHttpServer for the producer's unit tests, with scripted faults:
// per-entry error codes (partial failures), whole-request error replies,
// reply delays, and resharding (a new shard layout at any time).
#ifndef SLUICE_TESTS_UNIT_KINESIS_PRODUCER_FAKE_KINESIS_H_
#define SLUICE_TESTS_UNIT_KINESIS_PRODUCER_FAKE_KINESIS_H_

#include <simdjson.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sluice/aws/credentials.h"
#include "sluice/aws/kinesis_client.h"
#include "sluice/core/base64.h"
#include "sluice/core/json_writer.h"
#include "sluice/kinesis/hash_key.h"
#include "sluice/kinesis/shard_map.h"
#include "support/local_http_server.h"

namespace sluice::kinesis::producer_test {

class FakeKinesis {
 public:
  struct Stored {
    std::string partition_key;
    std::string explicit_hash_key;
    std::string data;
    std::string sequence_number;
  };
  // Returns an error code to reject entry `entry` of PutRecords request
  // `request` (both from 0), or nullopt to accept it.
  using EntryFault =
      std::function<std::optional<std::string>(int request, int entry, const Stored& record)>;
  // Returns a whole reply for PutRecords request `request`, or nullopt.
  using RequestFault =
      std::function<std::optional<sluice::testing::LocalHttpResponse>(int request)>;

  explicit FakeKinesis(int shards = 1)
      : server_([this](const sluice::testing::RecordedRequest& r) { return handle(r); }) {
    set_uniform_shards(shards);
  }

  std::string url() const { return server_.url(); }

  aws::ClientOptions client_options() const {
    aws::ClientOptions o;
    o.region = "us-east-1";
    o.endpoint = url();
    o.credentials = aws::make_static_credentials("AKIDEXAMPLE", "secret");
    return o;
  }

  void set_uniform_shards(int n) {
    std::lock_guard lock(mu_);
    ShardMap m = ShardMap::uniform(n);
    shards_.clear();
    for (std::size_t i = 0; i < m.size(); ++i) shards_.push_back(m.shard(static_cast<int>(i)));
  }
  // A new layout of open shards (ids must be new for split children).
  void set_shards(std::vector<ShardRange> shards) {
    std::lock_guard lock(mu_);
    shards_ = std::move(shards);
  }
  void set_entry_fault(EntryFault f) {
    std::lock_guard lock(mu_);
    entry_fault_ = std::move(f);
  }
  void set_request_fault(RequestFault f) {
    std::lock_guard lock(mu_);
    request_fault_ = std::move(f);
  }
  void set_reply_delay(std::chrono::milliseconds d) {
    std::lock_guard lock(mu_);
    delay_ = d;
  }

  int put_requests() const {
    std::lock_guard lock(mu_);
    return put_requests_;
  }
  int list_requests() const {
    std::lock_guard lock(mu_);
    return list_requests_;
  }
  // Entries of each PutRecords request, in arrival order.
  std::vector<std::size_t> request_sizes() const {
    std::lock_guard lock(mu_);
    return request_sizes_;
  }
  // Entries of each request, as sent.
  std::vector<std::vector<Stored>> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // Accepted records per shard id, in the order the shard stored them.
  std::map<std::string, std::vector<Stored>> stored() const {
    std::lock_guard lock(mu_);
    return stored_;
  }
  std::size_t stored_count() const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& [id, v] : stored_) n += v.size();
    return n;
  }

 private:
  static sluice::testing::LocalHttpResponse json(int status, std::string body) {
    sluice::testing::LocalHttpResponse r;
    r.status = status;
    r.headers = {{"Content-Type", "application/x-amz-json-1.1"}};
    r.body = std::move(body);
    return r;
  }

  sluice::testing::LocalHttpResponse handle(const sluice::testing::RecordedRequest& req) {
    const std::string target = req.header("X-Amz-Target");
    std::lock_guard lock(mu_);
    if (target.ends_with(".ListShards")) {
      ++list_requests_;
      std::string body;
      JsonWriter w(body);
      w.begin_object().key("Shards").begin_array();
      for (const auto& s : shards_) {
        w.begin_object().field("ShardId", s.shard_id);
        w.key("HashKeyRange")
            .begin_object()
            .field("StartingHashKey", format_hash_key(s.range.start))
            .field("EndingHashKey", format_hash_key(s.range.end))
            .end_object();
        w.key("SequenceNumberRange")
            .begin_object()
            .field("StartingSequenceNumber", "1")
            .end_object();
        w.end_object();
      }
      w.end_array().end_object();
      return json(200, body);
    }
    if (!target.ends_with(".PutRecords")) {
      return json(400, R"({"__type":"UnknownOperationException"})");
    }
    const int index = put_requests_++;
    if (request_fault_) {
      if (auto r = request_fault_(index)) return *r;
    }
    simdjson::dom::parser parser;
    simdjson::padded_string padded(req.body);
    simdjson::dom::element doc = parser.parse(padded);
    std::vector<Stored> entries;
    for (simdjson::dom::element e : doc["Records"].get_array()) {
      Stored s;
      s.partition_key = std::string(std::string_view(e["PartitionKey"]));
      std::string_view ehk;
      if (e["ExplicitHashKey"].get(ehk) == simdjson::SUCCESS)
        s.explicit_hash_key = std::string(ehk);
      s.data = *base64_decode(std::string_view(e["Data"]));
      entries.push_back(std::move(s));
    }
    requests_.push_back(entries);
    request_sizes_.push_back(entries.size());
    std::string body;
    JsonWriter w(body);
    int failed = 0;
    w.begin_object().key("Records").begin_array();
    for (std::size_t i = 0; i < entries.size(); ++i) {
      Stored& s = entries[i];
      std::optional<std::string> error;
      if (entry_fault_) error = entry_fault_(index, static_cast<int>(i), s);
      if (error) {
        ++failed;
        w.begin_object().field("ErrorCode", *error).field("ErrorMessage", "injected").end_object();
        continue;
      }
      const HashKey h = *record_hash_key(s.partition_key, s.explicit_hash_key);
      std::string shard_id;
      for (const auto& sh : shards_) {
        if (sh.range.contains(h)) shard_id = sh.shard_id;
      }
      s.sequence_number = std::to_string(++next_sequence_);
      w.begin_object()
          .field("ShardId", shard_id)
          .field("SequenceNumber", s.sequence_number)
          .end_object();
      stored_[shard_id].push_back(s);
    }
    w.end_array().field("FailedRecordCount", failed).end_object();
    auto reply = json(200, body);
    reply.delay = delay_;
    return reply;
  }

  mutable std::mutex mu_;
  std::vector<ShardRange> shards_;
  EntryFault entry_fault_;
  RequestFault request_fault_;
  std::chrono::milliseconds delay_{0};
  int put_requests_ = 0;
  int list_requests_ = 0;
  std::uint64_t next_sequence_ = 0;
  std::vector<std::size_t> request_sizes_;
  std::vector<std::vector<Stored>> requests_;
  std::map<std::string, std::vector<Stored>> stored_;
  sluice::testing::LocalHttpServer server_;  // last: stops before the state goes
};

}  // namespace sluice::kinesis::producer_test

#endif  // SLUICE_TESTS_UNIT_KINESIS_PRODUCER_FAKE_KINESIS_H_
