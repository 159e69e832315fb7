// Compression codecs of the producer's payload pipeline: gzip (zlib, as seed
// 003 compresses every record) and zstd (faster, and smaller at equal cost).
//
//   auto packed = compress(Compression::kZstd, payload);
//   if (!packed.ok()) return packed.status();
//   auto back = decompress(Compression::kZstd, *packed, /*max_size=*/payload.size());
//
// Compression contexts are pooled across calls, so compressing many small
// records does not pay zlib's or zstd's set-up cost each time. Every function
// is thread-safe.
#ifndef SLUICE_KINESIS_COMPRESSION_H_
#define SLUICE_KINESIS_COMPRESSION_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sluice/core/result.h"

namespace sluice::kinesis {

// The numeric values are the codec field of the payload envelope
// (payload_codec.h): never renumber them.
enum class Compression : std::uint8_t {
  kNone = 0,
  kGzip = 1,  // RFC 1952 gzip member (deflate inside), what `gzip -d` reads
  kZstd = 2,  // one zstd frame with its content size, what `zstd -d` reads
};

// "none", "gzip", "zstd".
std::string_view compression_name(Compression codec);
// Accepts the names above (any case); InvalidArgument naming the choices otherwise.
Result<Compression> parse_compression(std::string_view name);

// Compresses `data`. `level` 0 is the codec's default (gzip 6, zstd 3);
// otherwise gzip takes 1..9 and zstd 1..19 (InvalidArgument outside).
// kNone returns the bytes unchanged.
Result<std::string> compress(Compression codec, std::string_view data, int level = 0);

// Decompresses one gzip member or zstd frame. Corruption, naming the codec
// and the cause, when the data is malformed, truncated, followed by trailing
// bytes, or would decompress to more than `max_size` bytes (a guard against
// decompression bombs). kNone returns the bytes unchanged.
Result<std::string> decompress(Compression codec, std::string_view data, std::size_t max_size);

}  // namespace sluice::kinesis

#endif  // SLUICE_KINESIS_COMPRESSION_H_
