// Private helpers of the signer and the credential providers: hashing,
// percent-decoding, text trimming, environment lookups, a tiny XML reader
// for STS replies.
#ifndef SLUICE_SRC_AWS_AUTH_UTIL_H_
#define SLUICE_SRC_AWS_AUTH_UTIL_H_

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/core/result.h"

namespace sluice::aws::auth_internal {

using Digest = std::array<unsigned char, 32>;

Digest sha256(std::string_view data);
Digest hmac_sha256(std::string_view key, std::string_view data);
std::string to_hex(const unsigned char* data, std::size_t n);
inline std::string to_hex(const Digest& d) {
  return to_hex(d.data(), d.size());
}
inline std::string_view as_view(const Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

// %XX sequences decoded; anything else (a lone '%', '+') kept as is.
std::string uri_decode(std::string_view text);

std::string_view trim(std::string_view s);
std::string to_lower(std::string_view s);
std::string to_upper(std::string_view s);
bool iequals(std::string_view a, std::string_view b);

// The environment variable's value; nullopt when unset or empty (SDKs treat
// an empty variable as unset).
std::optional<std::string> env(const char* name);
// "true" (any case) for a boolean environment variable.
bool env_true(const char* name);

// The text of the first <tag>...</tag> element of `xml`, with the five
// predefined entities and numeric character references decoded; nullopt
// when there is none.
std::optional<std::string> xml_text(std::string_view xml, std::string_view tag);

// `text` cut to `max` bytes with "..." when longer (for error messages that
// quote a reply).
std::string truncate_for_message(std::string_view text, std::size_t max = 300);

// The whole file, or IOError naming the path (never its contents).
Result<std::string> read_text_file(const std::string& path);

// "~/..." expanded with HOME.
std::string expand_home(std::string_view path);

}  // namespace sluice::aws::auth_internal

#endif  // SLUICE_SRC_AWS_AUTH_UTIL_H_
