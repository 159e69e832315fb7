// Turns a GetRecords reply into the user records a processor sees: KPL
// deaggregation, hash-range filtering after reshards, skipping what a
// mid-aggregate checkpoint already covers, and payload decoding.
#ifndef SLUICE_SRC_KINESIS_BATCH_BUILDER_H_
#define SLUICE_SRC_KINESIS_BATCH_BUILDER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/kinesis/hash_key.h"
#include "sluice/kinesis/shard_processor.h"

namespace sluice::kinesis {

struct BatchStats {
  std::size_t kinesis_records = 0;
  std::size_t aggregates = 0;
  std::size_t corrupt_aggregates = 0;  // magic but bad digest/protobuf: passed through
  std::size_t dropped_out_of_range = 0;
  std::size_t skipped_by_checkpoint = 0;
};

struct BatchBuildOptions {
  bool deaggregate = true;
  // Only aggregated user records inside this range are kept (unset: no filter).
  std::optional<HashKeyInterval> hash_range;
  // Skip user records of `skip_sequence` with sub-sequence <= `skip_through`.
  std::string skip_sequence;
  std::optional<std::uint64_t> skip_through;
};

// Fills `batch.records` (and aggregate_sizes, payload_errors, bytes) from
// `batch.source`. Payload decoding (when `decoder` is set) may fail with a
// retryable error for the whole batch (the claim-check store is down, say):
// the reader then backs off and builds it again; non-retryable decode errors
// are kept per record in batch.payload_errors.
Result<BatchStats> build_batch(
    RecordBatch& batch, const BatchBuildOptions& options,
    const std::function<Result<std::optional<std::string>>(std::string_view)>& decoder);

}  // namespace sluice::kinesis

#endif  // SLUICE_SRC_KINESIS_BATCH_BUILDER_H_
