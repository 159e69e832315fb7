// The producer's batching logic, without threads, clocks or I/O, so that it
// can be tested and benchmarked on its own. Not thread-safe: the Producer
// calls it under its mutex.
//
// Records wait in lanes, one lane per partition key, in put() order. A lane
// is "ready" when it has records, its first record is ready to send (its
// claim-check object is stored), no request carrying its records is in
// flight, and it is not waiting out a retry backoff. build() makes one
// PutRecords request from ready lanes, oldest first. While a request is in
// flight its lanes take no part in other requests, and records to retry go
// back to the front of their lane: so the records of one partition key are
// sent in order, and a retry never overtakes or is overtaken by a later
// record of its key.
//
// With aggregation, a lane adds its records to one aggregate per request
// (the aggregate of the shard its records hash to), so a key's records in
// one request succeed or fail together. Without aggregation, a lane may put
// many records in one request (Kinesis may then accept a later one and
// reject an earlier one: PutRecords' own semantics), unless strict_order
// limits it to one record per request.
#ifndef SLUICE_SRC_KINESIS_PRODUCER_BATCHER_H_
#define SLUICE_SRC_KINESIS_PRODUCER_BATCHER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sluice/core/clock.h"
#include "sluice/core/status.h"
#include "sluice/kinesis/aggregation.h"
#include "sluice/kinesis/hash_key.h"
#include "sluice/kinesis/producer.h"
#include "sluice/kinesis/shard_map.h"

namespace sluice::kinesis::internal {

struct Lane;

// One user record from put() to its result.
struct PendingRecord {
  std::uint64_t seq = 0;  // put() order
  std::string partition_key;
  std::string explicit_hash_key;
  std::string data;  // what is sent (after the payload pipeline)
  HashKey hash_key = 0;
  // Bytes as a plain PutRecords entry (data + partition key).
  std::size_t size = 0;
  // Bytes counted against the buffer (size + claim-check object while held).
  std::size_t buffered_bytes = 0;
  Clock::TimePoint enqueued{};
  // Linger counts from here: the put, or the end of its claim-check upload.
  Clock::TimePoint linger_from{};
  int attempts = 0;     // PutRecords requests that carried it
  int max_retries = 0;  // -1: unlimited
  // False until its claim-check object is stored.
  bool ready = true;
  bool uploading = false;
  std::string payload_key;  // claim-check key
  std::string object;       // claim-check object until its upload starts
  // The outcome of the request that carried it last.
  enum class Outcome { kPending, kWritten, kRetry, kFailed };
  Outcome outcome = Outcome::kPending;
  PutResult result;
  Status last_error;
  Lane* lane = nullptr;
  // Reports the result, exactly once.
  PutCallback callback;
};
using RecordPtr = std::unique_ptr<PendingRecord>;

struct Lane {
  std::string key;
  std::deque<RecordPtr> records;
  std::size_t bytes = 0;  // sum of records' size
  bool in_flight = false;
  bool in_ready = false;
  bool delayed = false;
  Clock::TimePoint due{};  // ready lanes: when linger wants it sent
};

// One Kinesis record of a request: a plain user record, or an aggregate.
struct RequestEntry {
  std::vector<PendingRecord*> records;
  // Aggregated entries: the index of the predicted shard in the request's
  // map (-1 when there was no map and records were grouped by hash key).
  int predicted_shard = -1;
  bool aggregated = false;                    // more than one record: a KPL aggregate
  std::unique_ptr<AggregateBuilder> builder;  // while building, for aggregates
  std::size_t bytes = 0;                      // request bytes (data + partition key)
  // Filled by finish_entries(): the Kinesis record to send.
  std::string blob;  // aggregates only; plain entries send the record's data
  std::string explicit_hash_key;
  std::string_view data() const { return aggregated ? std::string_view(blob) : records[0]->data; }
  std::string_view partition_key() const { return records[0]->partition_key; }
};

struct Request {
  std::vector<RecordPtr> records;  // owned while in flight
  std::vector<RequestEntry> entries;
  std::vector<Lane*> lanes;  // the lanes it took records from
  std::size_t bytes = 0;
  std::shared_ptr<const ShardMap> map;  // the map its aggregates were predicted with
  bool has_aggregates = false;
};

struct BatcherConfig {
  bool aggregate = false;
  bool strict_order = false;
  std::size_t max_records_per_request = 500;
  std::size_t max_request_bytes = 5u << 20;
  std::size_t aggregation_max_bytes = 1u << 20;
  std::chrono::nanoseconds linger{0};
};

// Builds the blobs of a request's aggregates and the explicit hash keys:
// the CPU work done outside the producer's lock.
void finish_entries(Request& request);

class Batcher {
 public:
  explicit Batcher(BatcherConfig config) : config_(config) {}
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  const BatcherConfig& config() const { return config_; }
  void set_shard_map(std::shared_ptr<const ShardMap> map) { map_ = std::move(map); }
  const std::shared_ptr<const ShardMap>& shard_map() const { return map_; }

  // Queues a record at the end of its lane. Returns the record (still owned
  // by the batcher). `wake` is set when the sender should re-check: a new
  // linger deadline or a full batch.
  PendingRecord* add(RecordPtr record, Clock::TimePoint now, bool& wake);
  // A claim-check object was stored: the record may go. True if a lane
  // became ready.
  bool mark_ready(PendingRecord* record, Clock::TimePoint now);
  // Takes a record out of its lane (its upload failed).
  RecordPtr remove(PendingRecord* record, Clock::TimePoint now);

  // Lanes whose backoff ended by `now` become ready.
  void release_due(Clock::TimePoint now);
  // Whether a request should be sent now: a full batch, an expired linger,
  // or `flush` (send whatever is ready).
  bool should_send(Clock::TimePoint now, bool flush) const;
  // The next time a linger or backoff ends (TimePoint::max() when none).
  Clock::TimePoint next_deadline() const;

  // A request from the ready lanes (null when none is ready).
  std::unique_ptr<Request> build(Clock::TimePoint now);
  // The request is over. `retry` (records of the request, in request order)
  // go back to the front of their lanes, which wait until `retry_at`; the
  // request's other lanes become free.
  void complete(Request& request, std::vector<RecordPtr> retry, Clock::TimePoint retry_at,
                Clock::TimePoint now);

  // Takes every record not in flight and not uploading (shutdown).
  std::vector<RecordPtr> drain();

  std::size_t ready_records() const { return ready_records_; }
  std::size_t ready_bytes() const { return ready_bytes_; }
  std::size_t lanes() const { return lanes_.size(); }
  std::size_t queued_records() const { return queued_records_; }

 private:
  Lane& lane_for(const std::string& key);
  void maybe_ready(Lane& lane, Clock::TimePoint now, bool front);
  void maybe_erase(Lane& lane);
  bool batch_full() const;

  BatcherConfig config_;
  std::shared_ptr<const ShardMap> map_;
  std::unordered_map<std::string, std::unique_ptr<Lane>> lanes_;
  std::deque<Lane*> ready_;
  std::multimap<Clock::TimePoint, Lane*> delayed_;
  std::size_t ready_records_ = 0;
  std::size_t ready_bytes_ = 0;
  std::size_t queued_records_ = 0;  // records in lanes (not in flight)
};

}  // namespace sluice::kinesis::internal

#endif  // SLUICE_SRC_KINESIS_PRODUCER_BATCHER_H_
