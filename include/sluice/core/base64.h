// Base64 (RFC 4648, standard alphabet, with padding), the encoding of every
// binary field in the AWS JSON protocols. On the consumer's hot path: the
// decoder writes straight into a caller-provided buffer.
#ifndef SLUICE_CORE_BASE64_H_
#define SLUICE_CORE_BASE64_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sluice/core/result.h"

namespace sluice {

// Bytes needed to encode / at most needed to decode.
constexpr std::size_t base64_encoded_size(std::size_t n) {
  return (n + 2) / 3 * 4;
}
constexpr std::size_t base64_max_decoded_size(std::size_t n) {
  return n / 4 * 3 + 3;
}

// Appends the encoding of `data` to `out`.
void base64_encode_append(std::string_view data, std::string& out);
std::string base64_encode(std::string_view data);

// Decodes `text` into `out` (at least base64_max_decoded_size(text.size())
// bytes) and returns the decoded length, or Corruption naming the first bad
// character's offset. Accepts input with or without padding; rejects
// whitespace and characters outside the alphabet.
Result<std::size_t> base64_decode_into(std::string_view text, char* out);
// Appends the decoded bytes to `out`.
Status base64_decode_append(std::string_view text, std::string& out);
Result<std::string> base64_decode(std::string_view text);

}  // namespace sluice

#endif  // SLUICE_CORE_BASE64_H_
