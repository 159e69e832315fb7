#include "kinesis/batch_builder.h"

#include <unordered_map>

#include "sluice/kinesis/aggregation.h"

namespace sluice::kinesis {

Result<BatchStats> build_batch(
    RecordBatch& batch, const BatchBuildOptions& options,
    const std::function<Result<std::optional<std::string>>(std::string_view)>& decoder) {
  BatchStats stats;
  batch.records.clear();
  batch.aggregate_sizes.clear();
  batch.payload_errors.clear();
  batch.decoded.clear();
  batch.bytes = 0;
  batch.records.reserve(batch.source.records.size());
  std::vector<UserRecordView> users;
  // User records of one aggregate share its partition-key table: hash each
  // key once per aggregate, not once per record (the views of one table
  // entry share their address).
  std::unordered_map<const char*, HashKey> pk_hashes;
  for (const aws::KinesisRecord& kr : batch.source.records) {
    ++stats.kinesis_records;
    Record base;
    base.sequence_number = kr.sequence_number;
    base.approximate_arrival = kr.approximate_arrival;
    base.shard_id = batch.shard_id;
    AggregateCheck check = AggregateCheck::kNotAggregated;
    if (options.deaggregate) {
      users.clear();
      check = deaggregate(kr.data, users);
    }
    if (check == AggregateCheck::kAggregated) {
      ++stats.aggregates;
      batch.aggregate_sizes.emplace(std::string(kr.sequence_number), users.size());
      const bool skipping = options.skip_through && kr.sequence_number == options.skip_sequence;
      pk_hashes.clear();
      for (const UserRecordView& u : users) {
        if (skipping && u.sub_sequence_number <= *options.skip_through) {
          ++stats.skipped_by_checkpoint;
          continue;
        }
        if (options.hash_range) {
          Result<HashKey> key = HashKey{0};
          if (u.explicit_hash_key.empty()) {
            auto cached = pk_hashes.find(u.partition_key.data());
            if (cached == pk_hashes.end()) {
              cached =
                  pk_hashes.emplace(u.partition_key.data(), partition_key_hash(u.partition_key))
                      .first;
            }
            key = cached->second;
          } else {
            key = parse_hash_key(u.explicit_hash_key);
          }
          // A user record with an unreadable explicit key cannot be placed:
          // keep it rather than drop data on a guess.
          if (key.ok() && !options.hash_range->contains(*key)) {
            ++stats.dropped_out_of_range;
            continue;
          }
        }
        Record r = base;
        r.data = u.data;
        r.partition_key = u.partition_key;
        r.explicit_hash_key = u.explicit_hash_key;
        r.sub_sequence_number = u.sub_sequence_number;
        r.aggregated = true;
        batch.records.push_back(r);
      }
    } else {
      if (check != AggregateCheck::kNotAggregated) ++stats.corrupt_aggregates;
      // A plain record is user record 0 of itself: a checkpoint (seq, sub)
      // covers it (the KCL writes sub 0 for plain records).
      if (options.skip_through && kr.sequence_number == options.skip_sequence) {
        ++stats.skipped_by_checkpoint;
        continue;
      }
      Record r = base;
      r.data = kr.data;
      r.partition_key = kr.partition_key;
      batch.records.push_back(r);
    }
  }
  if (decoder) {
    for (std::size_t i = 0; i < batch.records.size(); ++i) {
      Result<std::optional<std::string>> d = decoder(batch.records[i].data);
      if (!d.ok()) {
        if (d.status().retryable()) return d.status();
        batch.payload_errors.emplace(i, d.status());
        continue;
      }
      if (*d) {
        batch.decoded.push_back(std::move(**d));
        batch.records[i].data = batch.decoded.back();
      }
    }
  }
  for (const Record& r : batch.records) batch.bytes += r.data.size();
  return stats;
}

}  // namespace sluice::kinesis
