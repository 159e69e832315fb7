// The producer's payload pipeline and its envelope: optional compression
// (gzip, zstd) and claim-check of large payloads through a PayloadStore, in a
// compact versioned envelope that a consumer recognises and undoes.
//
// Producer side (the Producer and KinesisWriter do this for you):
//
//   auto encoder = PayloadEncoder::create({.compression = Compression::kGzip,
//                                          .store = store,
//                                          .large_payload_threshold = 256 * 1024,
//                                          .key_prefix = "group-schema-stream"});
//   auto prepared = encoder->prepare(payload);       // compresses, decides
//   if (prepared->claim_checked()) store->put(prepared->claim_key, prepared->object);
//   send(prepared->data);                            // the Kinesis record's data
//
// Consumer side (the consumer engine calls this per user record, after
// deaggregation):
//
//   if (has_envelope(record.data)) {
//     Result<std::string> payload = decode_payload(record.data, store.get());
//     ...
//   }   // else: a plain record, use record.data as is
//
//   consumer_options.payload_decoder = make_payload_decoder(store);   // the same, as a hook
//
// ## Envelope format, version 1
//
//   offset  size  field
//   0       4     magic F5 53 4C 50 ("\xF5" "SLP")
//   4       1     version = 1
//   5       1     flags: bits 0-1 codec (0 none, 1 gzip, 2 zstd; 3 reserved)
//                        bit 2    claim-check
//                        bits 3-7 reserved, zero
//   6       1-10  payload size: unsigned LEB128 varint, the length of the
//                 payload after decoding (the user's bytes)
//   inline (bit 2 clear):
//   ...     rest  the payload compressed with the codec (as is for codec 0)
//   claim-check (bit 2 set):
//   ...     1-10  stored size: LEB128 varint, bytes of the stored object
//   ...     4     CRC-32 (IEEE 802.3, as gzip and zlib compute it) of the
//                 stored object, big-endian
//   ...     rest  the object's key in the PayloadStore (UTF-8, 1..1024 bytes)
//                 The stored object is the payload compressed with the codec.
//
// The magic cannot begin UTF-8 text (0xF5 is never a UTF-8 byte) and differs
// from the KPL aggregate magic F3 89 9A C2. In a KPL aggregate the envelope
// wraps each user record's data, never the aggregate. Records written
// without compression or claim-check stay plain bytes; with either enabled,
// a payload that happens to begin with the magic is wrapped in a codec-0
// envelope, so decoding never mistakes it.
//
// Errors: a record that has the magic but a malformed envelope is
// Corruption naming the cause (truncated header, unsupported version,
// reserved flags, size or checksum mismatch, bad compressed data); a
// claim-check whose object is missing is NotFound naming the key and where
// it was looked for; a claim-check without a store is FailedPrecondition.
#ifndef SLUICE_KINESIS_PAYLOAD_CODEC_H_
#define SLUICE_KINESIS_PAYLOAD_CODEC_H_

#include <asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/core/result.h"
#include "sluice/core/status.h"
#include "sluice/kinesis/compression.h"
#include "sluice/kinesis/payload_store.h"

namespace sluice::kinesis {

inline constexpr std::string_view kPayloadEnvelopeMagic{"\xF5SLP", 4};
inline constexpr std::uint8_t kPayloadEnvelopeVersion = 1;
// Longest claim-check key accepted (S3's limit).
inline constexpr std::size_t kMaxPayloadKeyBytes = 1024;

// Whether `record_data` starts with the envelope magic. A plain record
// (false) is the payload itself.
bool has_envelope(std::string_view record_data);

// The parsed header of an envelope; the views point into the record.
struct PayloadEnvelope {
  std::uint8_t version = 0;
  Compression compression = Compression::kNone;
  bool claim_check = false;
  std::uint64_t payload_size = 0;  // bytes after decoding
  std::string_view body{};         // inline: the compressed payload
  std::string_view claim_key{};    // claim-check: the store key
  std::uint64_t stored_size = 0;   // claim-check: bytes of the stored object
  std::uint32_t stored_crc32 = 0;  // claim-check: CRC-32 of the stored object
};

// Parses the header. InvalidArgument when there is no envelope; Corruption
// naming the cause when the envelope is malformed.
Result<PayloadEnvelope> parse_envelope(std::string_view record_data);

// Builds envelopes (the encoder's building blocks, public for tools and tests).
std::string encode_inline_envelope(Compression codec, std::uint64_t payload_size,
                                   std::string_view compressed);
std::string encode_claim_check_envelope(Compression codec, std::uint64_t payload_size,
                                        std::string_view key, std::string_view stored_object);

struct PayloadDecodeOptions {
  // A payload that would decode to more than this is Corruption (guards
  // against decompression bombs and absurd claim-checks). Default 256 MiB.
  std::size_t max_payload_bytes = 256u << 20;
  // Check a claim-checked object's size and CRC-32 against the reference.
  // Default true.
  bool verify_checksum = true;
};

// The payload a record carries: the record itself when it has no envelope,
// else the decompressed inline payload or the fetched (and decompressed)
// claim-checked object. `store` may be null when no record is claim-checked.
// Blocking (a claim-check fetch waits for the store); safe from any thread.
Result<std::string> decode_payload(std::string_view record_data, PayloadStore* store,
                                   const PayloadDecodeOptions& options = {});
// For consumers that keep plain records as views: nullopt when the record
// has no envelope (use its bytes as they are), else the decoded payload or
// the error, as decode_payload().
Result<std::optional<std::string>> try_decode_payload(std::string_view record_data,
                                                      PayloadStore* store,
                                                      const PayloadDecodeOptions& options = {});
// try_decode_payload() bound to a store, in the shape of
// ConsumerOptions::payload_decoder. The store may be null when no record is
// claim-checked.
std::function<Result<std::optional<std::string>>(std::string_view)> make_payload_decoder(
    std::shared_ptr<PayloadStore> store, PayloadDecodeOptions options = {});
// The same for coroutines: a claim-check fetch suspends instead of blocking.
asio::awaitable<Result<std::string>> async_decode_payload(std::string record_data,
                                                          PayloadStore* store,
                                                          PayloadDecodeOptions options = {});

// The pipeline's settings. Every step is optional; with none enabled the
// payload is sent as is.
struct PayloadOptions {
  // Compress every payload with this codec. Default none.
  Compression compression = Compression::kNone;
  // Codec level; 0 = the codec's default (gzip 6, zstd 3).
  int compression_level = 0;
  // Where claim-checked payloads go. Needed when large_payload_threshold > 0.
  std::shared_ptr<PayloadStore> store{};
  // A payload whose record data (after compression and envelope) would
  // exceed this many bytes is stored in `store` and replaced by a reference.
  // 0 (default): never claim-check.
  std::size_t large_payload_threshold = 0;
  // Keys are "<key_prefix>/<uuid>" (seed 003:
  // "{logGroupId}-{schemaName}-{streamName}"); empty: "<uuid>".
  std::string key_prefix{};

  // Whether any step is enabled (else records stay plain).
  bool enabled() const { return compression != Compression::kNone || large_payload_threshold > 0; }
  // InvalidArgument naming the field: a threshold without a store, a bad
  // level, a prefix too long for a key.
  Status validate() const;
};

// One payload, encoded.
struct PreparedPayload {
  // The Kinesis record's data: the plain payload, an inline envelope, or
  // the claim-check reference.
  std::string data{};
  // Claim-check: the key and the object to store under it before `data`
  // is sent. Empty when not claim-checked.
  std::string claim_key{};
  std::string object{};
  // The payload's size before encoding.
  std::size_t payload_size = 0;

  bool claim_checked() const { return !claim_key.empty(); }
};

// Runs the pipeline. Thread-safe; cheap to copy.
class PayloadEncoder {
 public:
  static Result<PayloadEncoder> create(PayloadOptions options);

  // Compresses and decides on claim-check, without storing anything.
  Result<PreparedPayload> prepare(std::string payload) const;
  // prepare() and, for a claim-check, the store's put(): the result's
  // `data` is ready to send (its `object` is released). Blocking.
  Result<PreparedPayload> encode(std::string payload) const;
  asio::awaitable<Result<PreparedPayload>> async_encode(std::string payload) const;

  const PayloadOptions& options() const { return options_; }

 private:
  explicit PayloadEncoder(PayloadOptions options) : options_(std::move(options)) {}
  PayloadOptions options_;
};

}  // namespace sluice::kinesis

#endif  // SLUICE_KINESIS_PAYLOAD_CODEC_H_
