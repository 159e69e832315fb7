#include "sluice/core/base64.h"

#include <array>

namespace sluice {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 0..63 for alphabet characters, 0xff otherwise.
constexpr std::array<std::uint8_t, 256> make_decode_table() {
  std::array<std::uint8_t, 256> t{};
  for (auto& v : t) v = 0xff;
  for (int i = 0; i < 64; ++i)
    t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::uint8_t>(i);
  return t;
}
constexpr auto kDecode = make_decode_table();

Status bad_char(std::string_view text, std::size_t at) {
  const unsigned char c = static_cast<unsigned char>(text[at]);
  char shown[8];
  if (c >= 0x20 && c < 0x7f) {
    shown[0] = '\'';
    shown[1] = static_cast<char>(c);
    shown[2] = '\'';
    shown[3] = 0;
  } else {
    static const char hex[] = "0123456789abcdef";
    shown[0] = '0';
    shown[1] = 'x';
    shown[2] = hex[c >> 4];
    shown[3] = hex[c & 15];
    shown[4] = 0;
  }
  return Status::corruption("invalid base64: character " + std::string(shown) + " at offset " +
                            std::to_string(at) + " of " + std::to_string(text.size()));
}

}  // namespace

void base64_encode_append(std::string_view data, std::string& out) {
  const std::size_t start = out.size();
  out.resize(start + base64_encoded_size(data.size()));
  char* o = out.data() + start;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t i = 0;
  const std::size_t n = data.size();
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v =
        (std::uint32_t(in[i]) << 16) | (std::uint32_t(in[i + 1]) << 8) | in[i + 2];
    o[0] = kAlphabet[v >> 18];
    o[1] = kAlphabet[(v >> 12) & 63];
    o[2] = kAlphabet[(v >> 6) & 63];
    o[3] = kAlphabet[v & 63];
    o += 4;
  }
  if (n - i == 1) {
    const std::uint32_t v = std::uint32_t(in[i]) << 16;
    o[0] = kAlphabet[v >> 18];
    o[1] = kAlphabet[(v >> 12) & 63];
    o[2] = '=';
    o[3] = '=';
  } else if (n - i == 2) {
    const std::uint32_t v = (std::uint32_t(in[i]) << 16) | (std::uint32_t(in[i + 1]) << 8);
    o[0] = kAlphabet[v >> 18];
    o[1] = kAlphabet[(v >> 12) & 63];
    o[2] = kAlphabet[(v >> 6) & 63];
    o[3] = '=';
  }
}

std::string base64_encode(std::string_view data) {
  std::string out;
  base64_encode_append(data, out);
  return out;
}

Result<std::size_t> base64_decode_into(std::string_view text, char* out) {
  std::size_t n = text.size();
  // Padding only at the end: at most two '='.
  std::size_t pad = 0;
  while (n > 0 && text[n - 1] == '=' && pad < 2) {
    --n;
    ++pad;
  }
  if (pad && (n + pad) % 4 != 0) {
    return Status::corruption("invalid base64: padding does not complete a 4-character group");
  }
  if (n % 4 == 1) return Status::corruption("invalid base64: length leaves a lone character");
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  auto* o = reinterpret_cast<unsigned char*>(out);
  std::size_t i = 0;
  // Four characters at a time; any 0xff lookup marks a bad character.
  for (; i + 4 <= n; i += 4) {
    const std::uint32_t a = kDecode[in[i]], b = kDecode[in[i + 1]], c = kDecode[in[i + 2]],
                        d = kDecode[in[i + 3]];
    if ((a | b | c | d) & 0x80) {
      for (std::size_t k = i; k < i + 4; ++k) {
        if (kDecode[in[k]] == 0xff) return bad_char(text, k);
      }
    }
    const std::uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    o[0] = static_cast<unsigned char>(v >> 16);
    o[1] = static_cast<unsigned char>(v >> 8);
    o[2] = static_cast<unsigned char>(v);
    o += 3;
  }
  const std::size_t rest = n - i;
  if (rest) {
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < rest; ++k) {
      const std::uint8_t x = kDecode[in[i + k]];
      if (x == 0xff) return bad_char(text, i + k);
      v |= std::uint32_t(x) << (18 - 6 * k);
    }
    *o++ = static_cast<unsigned char>(v >> 16);
    if (rest == 3) *o++ = static_cast<unsigned char>(v >> 8);
  }
  return static_cast<std::size_t>(o - reinterpret_cast<unsigned char*>(out));
}

Status base64_decode_append(std::string_view text, std::string& out) {
  const std::size_t start = out.size();
  out.resize(start + base64_max_decoded_size(text.size()));
  auto n = base64_decode_into(text, out.data() + start);
  if (!n.ok()) {
    out.resize(start);
    return n.status();
  }
  out.resize(start + *n);
  return Status();
}

Result<std::string> base64_decode(std::string_view text) {
  std::string out;
  SLUICE_RETURN_IF_ERROR(base64_decode_append(text, out));
  return out;
}

}  // namespace sluice
