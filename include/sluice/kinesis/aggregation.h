// The KPL aggregated record format, both ways.
//
//   F3 89 9A C2 || protobuf AggregatedRecord || MD5(protobuf) (16 bytes)
//
// An aggregate packs many user records (partition key, optional explicit
// hash key, data) into one Kinesis record; they share its sequence number and
// are told apart by sub-sequence numbers 0..n-1. Byte-compatible with the
// KPL, the KCL and the aws-kinesis-agg libraries.
#ifndef SLUICE_KINESIS_AGGREGATION_H_
#define SLUICE_KINESIS_AGGREGATION_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice::kinesis {

inline constexpr std::string_view kAggregationMagic{"\xF3\x89\x9A\xC2", 4};
inline constexpr std::size_t kAggregationDigestSize = 16;

// A user record inside an aggregate: views into the aggregate's bytes.
struct UserRecordView {
  std::string_view partition_key;
  std::string_view explicit_hash_key;  // empty when absent
  std::string_view data;
  std::uint64_t sub_sequence_number = 0;
};

// Why a blob that starts with the magic was not taken as an aggregate.
enum class AggregateCheck {
  kNotAggregated,  // no magic: a plain record
  kAggregated,     // decoded
  kTooShort,       // magic but no room for a digest
  kBadDigest,      // MD5 mismatch
  kBadProtobuf,    // digest fine, protobuf malformed or an index out of range
};
std::string_view aggregate_check_name(AggregateCheck check);

// Decodes `blob`. On kAggregated, appends its user records to `out` (views
// into `blob`, sub-sequence numbers from 0) and returns kAggregated; on any
// other result `out` is left as it was and the blob is a plain record.
AggregateCheck deaggregate(std::string_view blob, std::vector<UserRecordView>& out);

// Builds one aggregate (the producer side). Not thread-safe.
class AggregateBuilder {
 public:
  // Bytes the finished aggregate would take with this record added.
  std::size_t size_with(std::string_view partition_key, std::string_view explicit_hash_key,
                        std::string_view data) const;
  // Bytes the finished aggregate takes now (0 when empty).
  std::size_t size() const;
  std::size_t count() const { return records_; }

  void add(std::string_view partition_key, std::string_view explicit_hash_key,
           std::string_view data);
  // The aggregate's bytes; the builder is empty again afterwards.
  std::string finish();
  void clear();

 private:
  std::size_t record_size(std::size_t pk_index, bool new_pk, std::string_view partition_key,
                          std::size_t ehk_index, bool new_ehk, std::string_view explicit_hash_key,
                          std::string_view data) const;
  std::string body_;  // protobuf fields so far (tables are written at finish)
  std::vector<std::string> partition_keys_;
  std::vector<std::string> explicit_hash_keys_;
  std::unordered_map<std::string, std::size_t> pk_index_;
  std::unordered_map<std::string, std::size_t> ehk_index_;
  std::size_t tables_size_ = 0;  // encoded size of both tables
  std::size_t records_ = 0;
};

}  // namespace sluice::kinesis

#endif  // SLUICE_KINESIS_AGGREGATION_H_
