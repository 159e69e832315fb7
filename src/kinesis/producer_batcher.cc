#include "kinesis/producer_batcher.h"

#include <algorithm>
#include <map>

namespace sluice::kinesis::internal {

namespace {

// Open aggregates of the request being built, by predicted shard (or, with
// no map, by exact hash key): entry indices.
struct OpenAggregates {
  std::map<int, std::size_t> by_shard;
  std::map<HashKey, std::size_t> by_hash;
};

}  // namespace

void finish_entries(Request& request) {
  for (auto& e : request.entries) {
    if (e.aggregated) {
      e.blob = e.builder->finish();
      e.builder.reset();
      e.explicit_hash_key = format_hash_key(e.records[0]->hash_key);
    } else {
      e.explicit_hash_key = e.records[0]->explicit_hash_key;
    }
  }
}

Lane& Batcher::lane_for(const std::string& key) {
  auto it = lanes_.find(key);
  if (it != lanes_.end()) return *it->second;
  auto lane = std::make_unique<Lane>();
  lane->key = key;
  Lane& ref = *lane;
  lanes_.emplace(key, std::move(lane));
  return ref;
}

bool Batcher::batch_full() const {
  if (ready_bytes_ >= config_.max_request_bytes) return true;
  return !config_.aggregate && ready_records_ >= config_.max_records_per_request;
}

void Batcher::maybe_ready(Lane& lane, Clock::TimePoint now, bool front) {
  (void)now;
  if (lane.in_flight || lane.in_ready || lane.delayed || lane.records.empty() ||
      !lane.records.front()->ready) {
    return;
  }
  lane.in_ready = true;
  const PendingRecord& head = *lane.records.front();
  lane.due = std::max(head.enqueued, head.linger_from) +
             std::chrono::duration_cast<Clock::Duration>(config_.linger);
  ready_records_ += lane.records.size();
  ready_bytes_ += lane.bytes;
  if (front && (ready_.empty() || lane.due <= ready_.front()->due)) {
    ready_.push_front(&lane);
  } else {
    ready_.push_back(&lane);
  }
}

void Batcher::maybe_erase(Lane& lane) {
  if (lane.records.empty() && !lane.in_flight && !lane.in_ready && !lane.delayed) {
    lanes_.erase(lane.key);  // destroys `lane`
  }
}

PendingRecord* Batcher::add(RecordPtr record, Clock::TimePoint now, bool& wake) {
  wake = false;
  const bool was_full = batch_full();
  Lane& lane = lane_for(record->partition_key);
  PendingRecord* r = record.get();
  r->lane = &lane;
  lane.bytes += r->size;
  ++queued_records_;
  lane.records.push_back(std::move(record));
  if (lane.in_ready) {
    ++ready_records_;
    ready_bytes_ += r->size;
  } else {
    maybe_ready(lane, now, false);
    if (lane.in_ready && ready_.size() == 1) wake = true;  // a new linger deadline
  }
  if (!was_full && batch_full()) wake = true;
  return r;
}

bool Batcher::mark_ready(PendingRecord* record, Clock::TimePoint now) {
  record->ready = true;
  record->linger_from = now;  // it may wait for company from now on
  Lane& lane = *record->lane;
  if (lane.records.empty() || lane.records.front().get() != record) return false;
  maybe_ready(lane, now, true);
  return lane.in_ready;
}

RecordPtr Batcher::remove(PendingRecord* record, Clock::TimePoint now) {
  Lane& lane = *record->lane;
  auto it = std::find_if(lane.records.begin(), lane.records.end(),
                         [record](const RecordPtr& p) { return p.get() == record; });
  if (it == lane.records.end()) return nullptr;
  RecordPtr out = std::move(*it);
  lane.records.erase(it);
  lane.bytes -= out->size;
  --queued_records_;
  if (lane.in_ready) {
    --ready_records_;
    ready_bytes_ -= out->size;
  }
  maybe_ready(lane, now, true);
  maybe_erase(lane);
  return out;
}

void Batcher::release_due(Clock::TimePoint now) {
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    Lane* lane = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    lane->delayed = false;
    maybe_ready(*lane, now, true);
    maybe_erase(*lane);
  }
}

bool Batcher::should_send(Clock::TimePoint now, bool flush) const {
  if (ready_.empty()) return false;
  return flush || batch_full() || ready_.front()->due <= now;
}

Clock::TimePoint Batcher::next_deadline() const {
  Clock::TimePoint t = Clock::TimePoint::max();
  if (!ready_.empty()) t = ready_.front()->due;
  if (!delayed_.empty()) t = std::min(t, delayed_.begin()->first);
  return t;
}

namespace {

// Whether `r` fits in `req` as a new entry. A request always takes its first
// entry, whatever its size (put() has checked it against max_record_bytes).
bool fits(const Request& req, const PendingRecord& r, const BatcherConfig& config) {
  if (req.entries.empty()) return true;
  return req.entries.size() < config.max_records_per_request &&
         req.bytes + r.size <= config.max_request_bytes;
}

// Takes records from the head of `lane` into `req`; see Batcher::build.
bool take_lane(Lane& lane, Request& req, const BatcherConfig& config, const ShardMap* map,
               OpenAggregates& open, bool& full, std::size_t& ready_records,
               std::size_t& ready_bytes, std::size_t& queued_records) {
  bool took = false;
  std::optional<std::size_t> lane_entry;  // the entry this lane adds to (one per request)
  while (!lane.records.empty()) {
    PendingRecord* r = lane.records.front().get();
    if (!r->ready) break;
    if (config.aggregate) {
      const int shard = map != nullptr ? map->find(r->hash_key) : -1;
      std::size_t* slot = nullptr;
      if (shard >= 0) {
        auto it = open.by_shard.find(shard);
        if (it != open.by_shard.end()) slot = &it->second;
      } else {
        auto it = open.by_hash.find(r->hash_key);
        if (it != open.by_hash.end()) slot = &it->second;
      }
      if (lane_entry && (slot == nullptr || *slot != *lane_entry)) break;
      bool added = false;
      if (slot != nullptr) {
        RequestEntry& e = req.entries[*slot];
        if (!e.builder) {
          e.builder = std::make_unique<AggregateBuilder>();
          const PendingRecord* first = e.records[0];
          e.builder->add(first->partition_key, first->explicit_hash_key, first->data);
        }
        const std::size_t agg_bytes =
            e.builder->size_with(r->partition_key, r->explicit_hash_key, r->data) +
            e.records[0]->partition_key.size();
        if (agg_bytes <= config.aggregation_max_bytes &&
            req.bytes - e.bytes + agg_bytes <= config.max_request_bytes) {
          e.builder->add(r->partition_key, r->explicit_hash_key, r->data);
          e.records.push_back(r);
          e.aggregated = true;
          req.bytes = req.bytes - e.bytes + agg_bytes;
          e.bytes = agg_bytes;
          lane_entry = *slot;
          added = true;
        } else {
          // This aggregate is full: later records of its shard start another.
          const std::size_t closed = *slot;
          if (shard >= 0) {
            open.by_shard.erase(shard);
          } else {
            open.by_hash.erase(r->hash_key);
          }
          if (lane_entry && *lane_entry == closed) break;
        }
      }
      if (!added) {
        if (lane_entry) break;
        if (!fits(req, *r, config)) {
          full = true;
          break;
        }
        RequestEntry e;
        e.records.push_back(r);
        e.bytes = r->size;
        e.predicted_shard = shard;
        req.bytes += r->size;
        req.entries.push_back(std::move(e));
        const std::size_t index = req.entries.size() - 1;
        if (shard >= 0) {
          open.by_shard[shard] = index;
        } else {
          open.by_hash[r->hash_key] = index;
        }
        lane_entry = index;
      }
    } else {
      if (config.strict_order && took) break;
      if (!fits(req, *r, config)) {
        full = true;
        break;
      }
      RequestEntry e;
      e.records.push_back(r);
      e.bytes = r->size;
      req.bytes += r->size;
      req.entries.push_back(std::move(e));
    }
    // Move the record from the lane into the request.
    lane.bytes -= r->size;
    --ready_records;
    ready_bytes -= r->size;
    --queued_records;
    req.records.push_back(std::move(lane.records.front()));
    lane.records.pop_front();
    took = true;
  }
  return took;
}

}  // namespace

std::unique_ptr<Request> Batcher::build(Clock::TimePoint now) {
  (void)now;
  if (ready_.empty()) return nullptr;
  auto req = std::make_unique<Request>();
  if (config_.aggregate) req->map = map_;
  const ShardMap* map = req->map && !req->map->empty() ? req->map.get() : nullptr;
  OpenAggregates open;
  bool full = false;
  while (!ready_.empty() && !full) {
    Lane* lane = ready_.front();
    const bool took = take_lane(*lane, *req, config_, map, open, full, ready_records_, ready_bytes_,
                                queued_records_);
    if (!took) break;
    ready_.pop_front();
    lane->in_ready = false;
    ready_records_ -= lane->records.size();
    ready_bytes_ -= lane->bytes;
    lane->in_flight = true;
    req->lanes.push_back(lane);
  }
  if (req->records.empty()) return nullptr;
  for (const auto& e : req->entries) {
    if (e.aggregated) req->has_aggregates = true;
  }
  return req;
}

void Batcher::complete(Request& request, std::vector<RecordPtr> retry, Clock::TimePoint retry_at,
                       Clock::TimePoint now) {
  for (Lane* lane : request.lanes) lane->in_flight = false;
  // Back to the front of their lanes, keeping their order.
  for (auto it = retry.rbegin(); it != retry.rend(); ++it) {
    Lane& lane = *(*it)->lane;
    lane.bytes += (*it)->size;
    ++queued_records_;
    lane.records.push_front(std::move(*it));
    if (!lane.delayed) {
      lane.delayed = true;
      delayed_.emplace(retry_at, &lane);
    }
  }
  for (Lane* lane : request.lanes) {
    maybe_ready(*lane, now, true);
    maybe_erase(*lane);
  }
  request.lanes.clear();
}

std::vector<RecordPtr> Batcher::drain() {
  std::vector<RecordPtr> out;
  ready_.clear();
  delayed_.clear();
  ready_records_ = 0;
  ready_bytes_ = 0;
  std::vector<Lane*> all;
  all.reserve(lanes_.size());
  for (auto& [key, lane] : lanes_) all.push_back(lane.get());
  for (Lane* lane : all) {
    lane->in_ready = false;
    lane->delayed = false;
    std::deque<RecordPtr> keep;
    for (auto& r : lane->records) {
      if (r->uploading) {
        keep.push_back(std::move(r));
      } else {
        lane->bytes -= r->size;
        --queued_records_;
        out.push_back(std::move(r));
      }
    }
    lane->records = std::move(keep);
    maybe_erase(*lane);
  }
  std::sort(out.begin(), out.end(),
            [](const RecordPtr& a, const RecordPtr& b) { return a->seq < b->seq; });
  return out;
}

}  // namespace sluice::kinesis::internal
