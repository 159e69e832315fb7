// Positions in a shard: a Kinesis sequence number (a decimal string of up to
// 128 bits) plus, for user records of a KPL aggregate, a sub-sequence number.
#ifndef SLUICE_KINESIS_SEQUENCE_NUMBER_H_
#define SLUICE_KINESIS_SEQUENCE_NUMBER_H_

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::kinesis {

// Compares two sequence numbers as the big integers they are.
std::strong_ordering compare_sequence_numbers(std::string_view a, std::string_view b);

// Whether `s` is a well-formed sequence number (digits only, non-empty).
bool is_sequence_number(std::string_view s);

// A user record's position: the Kinesis record's sequence number and the
// user record's index inside it (0 for records that are not aggregates).
struct ExtendedSequenceNumber {
  std::string sequence_number;
  std::uint64_t sub_sequence_number = 0;

  friend std::strong_ordering operator<=>(const ExtendedSequenceNumber& a,
                                          const ExtendedSequenceNumber& b) {
    if (auto c = compare_sequence_numbers(a.sequence_number, b.sequence_number); c != 0) return c;
    return a.sub_sequence_number <=> b.sub_sequence_number;
  }
  friend bool operator==(const ExtendedSequenceNumber& a, const ExtendedSequenceNumber& b) {
    return a.sequence_number == b.sequence_number && a.sub_sequence_number == b.sub_sequence_number;
  }
  // "<seq>" or "<seq>/<sub>".
  std::string to_string() const;
};

}  // namespace sluice::kinesis

#endif  // SLUICE_KINESIS_SEQUENCE_NUMBER_H_
