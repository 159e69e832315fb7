#include "sluice/kinesis/sequence_number.h"

namespace sluice::kinesis {

std::strong_ordering compare_sequence_numbers(std::string_view a, std::string_view b) {
  // Kinesis never pads with zeros, but tolerate it.
  while (a.size() > 1 && a.front() == '0') a.remove_prefix(1);
  while (b.size() > 1 && b.front() == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() <=> b.size();
  const int c = a.compare(b);
  return c < 0   ? std::strong_ordering::less
         : c > 0 ? std::strong_ordering::greater
                 : std::strong_ordering::equal;
}

bool is_sequence_number(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::string ExtendedSequenceNumber::to_string() const {
  if (sub_sequence_number == 0) return sequence_number;
  return sequence_number + "/" + std::to_string(sub_sequence_number);
}

}  // namespace sluice::kinesis
