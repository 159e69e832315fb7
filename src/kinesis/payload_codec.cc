#include "sluice/kinesis/payload_codec.h"

#include <zlib.h>

namespace sluice::kinesis {
namespace {

constexpr std::uint8_t kCodecMask = 0x03;
constexpr std::uint8_t kClaimCheckFlag = 0x04;
constexpr std::uint8_t kReservedFlags = 0xF8;
constexpr std::size_t kFixedHeader = 6;  // magic, version, flags

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

std::size_t varint_size(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Reads a varint at `pos`; false when truncated or longer than 10 bytes.
bool read_varint(std::string_view data, std::size_t& pos, std::uint64_t& out) {
  out = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= data.size()) return false;
    const auto b = static_cast<std::uint8_t>(data[pos++]);
    out |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

std::uint32_t crc32_of(std::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths: feed large inputs in pieces.
  while (!data.empty()) {
    const std::size_t n = std::min<std::size_t>(data.size(), 1u << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(n));
    data.remove_prefix(n);
  }
  return static_cast<std::uint32_t>(crc);
}

void put_header(std::string& out, Compression codec, bool claim, std::uint64_t payload_size) {
  out.append(kPayloadEnvelopeMagic);
  out.push_back(static_cast<char>(kPayloadEnvelopeVersion));
  std::uint8_t flags = static_cast<std::uint8_t>(codec) & kCodecMask;
  if (claim) flags |= kClaimCheckFlag;
  out.push_back(static_cast<char>(flags));
  put_varint(out, payload_size);
}

Status corrupt(const std::string& what) {
  return Status::corruption("payload envelope: " + what);
}

// Checks the decoded bytes against the envelope's declared size.
Result<std::string> check_size(Result<std::string> decoded, const PayloadEnvelope& env,
                               std::string_view where) {
  if (!decoded.ok()) {
    return Status(
        decoded.status().code(),
        "payload envelope: " + std::string(where) + ": " + std::string(decoded.status().message()),
        false);
  }
  if (decoded->size() != env.payload_size) {
    return corrupt(std::string(where) + " decodes to " + std::to_string(decoded->size()) +
                   " bytes, the envelope declares " + std::to_string(env.payload_size));
  }
  return decoded;
}

Result<std::string> decode_inline(const PayloadEnvelope& env, const PayloadDecodeOptions& options) {
  return check_size(decompress(env.compression, env.body, options.max_payload_bytes), env,
                    "inline " + std::string(compression_name(env.compression)) + " payload");
}

// Verifies and decompresses a fetched claim-checked object.
Result<std::string> decode_object(const PayloadEnvelope& env, const std::string& object,
                                  PayloadStore& store, const PayloadDecodeOptions& options) {
  const std::string where = "claim-checked payload " + store.location(env.claim_key);
  if (options.verify_checksum) {
    if (object.size() != env.stored_size) {
      return corrupt(where + " has " + std::to_string(object.size()) +
                     " bytes, the reference says " + std::to_string(env.stored_size) +
                     " (replaced or truncated?)");
    }
    if (crc32_of(object) != env.stored_crc32) {
      return corrupt(where + " fails its CRC-32 check (replaced or damaged?)");
    }
  }
  return check_size(decompress(env.compression, object, options.max_payload_bytes), env, where);
}

Status check_claim(const PayloadEnvelope& env, PayloadStore* store,
                   const PayloadDecodeOptions& options) {
  if (env.payload_size > options.max_payload_bytes) {
    return corrupt("claim-checked payload " + std::string(env.claim_key) + " declares " +
                   std::to_string(env.payload_size) + " bytes, more than the " +
                   std::to_string(options.max_payload_bytes) + " allowed (max_payload_bytes)");
  }
  if (store == nullptr) {
    return Status::failed_precondition("record is claim-checked (key \"" +
                                       std::string(env.claim_key) +
                                       "\") but no PayloadStore was given to fetch it");
  }
  return Status();
}

}  // namespace

bool has_envelope(std::string_view record_data) {
  return record_data.starts_with(kPayloadEnvelopeMagic);
}

Result<PayloadEnvelope> parse_envelope(std::string_view data) {
  if (!has_envelope(data)) return Status::invalid_argument("record has no payload envelope");
  if (data.size() < kFixedHeader) return corrupt("truncated header");
  PayloadEnvelope env;
  env.version = static_cast<std::uint8_t>(data[4]);
  if (env.version != kPayloadEnvelopeVersion) {
    return corrupt("unsupported version " + std::to_string(env.version) + " (this sluice reads " +
                   std::to_string(kPayloadEnvelopeVersion) + ")");
  }
  const auto flags = static_cast<std::uint8_t>(data[5]);
  if (flags & kReservedFlags) {
    return corrupt("reserved flag bits set (flags 0x" +
                   std::string(1, "0123456789abcdef"[flags >> 4]) +
                   std::string(1, "0123456789abcdef"[flags & 0xF]) + ")");
  }
  const std::uint8_t codec = flags & kCodecMask;
  if (codec > static_cast<std::uint8_t>(Compression::kZstd)) {
    return corrupt("unknown compression codec " + std::to_string(codec));
  }
  env.compression = static_cast<Compression>(codec);
  env.claim_check = (flags & kClaimCheckFlag) != 0;
  std::size_t pos = kFixedHeader;
  if (!read_varint(data, pos, env.payload_size)) return corrupt("truncated payload size");
  if (!env.claim_check) {
    env.body = data.substr(pos);
    return env;
  }
  if (!read_varint(data, pos, env.stored_size)) return corrupt("truncated stored size");
  if (data.size() - pos < 4) return corrupt("truncated checksum");
  env.stored_crc32 = (static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[pos])) << 24) |
                     (static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[pos + 1])) << 16) |
                     (static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[pos + 2])) << 8) |
                     static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[pos + 3]));
  pos += 4;
  env.claim_key = data.substr(pos);
  if (env.claim_key.empty()) return corrupt("claim-check without a key");
  if (env.claim_key.size() > kMaxPayloadKeyBytes) {
    return corrupt("claim-check key of " + std::to_string(env.claim_key.size()) +
                   " bytes (at most " + std::to_string(kMaxPayloadKeyBytes) + ")");
  }
  return env;
}

std::string encode_inline_envelope(Compression codec, std::uint64_t payload_size,
                                   std::string_view compressed) {
  std::string out;
  out.reserve(kFixedHeader + varint_size(payload_size) + compressed.size());
  put_header(out, codec, false, payload_size);
  out.append(compressed);
  return out;
}

std::string encode_claim_check_envelope(Compression codec, std::uint64_t payload_size,
                                        std::string_view key, std::string_view stored_object) {
  std::string out;
  out.reserve(kFixedHeader + 24 + key.size());
  put_header(out, codec, true, payload_size);
  put_varint(out, stored_object.size());
  const std::uint32_t crc = crc32_of(stored_object);
  out.push_back(static_cast<char>(crc >> 24));
  out.push_back(static_cast<char>(crc >> 16));
  out.push_back(static_cast<char>(crc >> 8));
  out.push_back(static_cast<char>(crc));
  out.append(key);
  return out;
}

Result<std::string> decode_payload(std::string_view record_data, PayloadStore* store,
                                   const PayloadDecodeOptions& options) {
  if (!has_envelope(record_data)) return std::string(record_data);
  SLUICE_ASSIGN_OR_RETURN(PayloadEnvelope env, parse_envelope(record_data));
  if (!env.claim_check) return decode_inline(env, options);
  SLUICE_RETURN_IF_ERROR(check_claim(env, store, options));
  SLUICE_ASSIGN_OR_RETURN(std::string object, store->get(std::string(env.claim_key)));
  return decode_object(env, object, *store, options);
}

Result<std::optional<std::string>> try_decode_payload(std::string_view record_data,
                                                      PayloadStore* store,
                                                      const PayloadDecodeOptions& options) {
  if (!has_envelope(record_data)) return std::optional<std::string>();
  SLUICE_ASSIGN_OR_RETURN(std::string payload, decode_payload(record_data, store, options));
  return std::optional<std::string>(std::move(payload));
}

std::function<Result<std::optional<std::string>>(std::string_view)> make_payload_decoder(
    std::shared_ptr<PayloadStore> store, PayloadDecodeOptions options) {
  return [store = std::move(store), options](std::string_view data) {
    return try_decode_payload(data, store.get(), options);
  };
}

asio::awaitable<Result<std::string>> async_decode_payload(std::string record_data,
                                                          PayloadStore* store,
                                                          PayloadDecodeOptions options) {
  if (!has_envelope(record_data)) co_return std::move(record_data);
  Result<PayloadEnvelope> parsed = parse_envelope(record_data);
  if (!parsed.ok()) co_return parsed.status();
  const PayloadEnvelope env = *parsed;
  if (!env.claim_check) co_return decode_inline(env, options);
  Status ok = check_claim(env, store, options);
  if (!ok.ok()) co_return ok;
  // Awaitables are built in their own statements: GCC 12 may destroy a
  // temporary of a co_await expression twice (DEVELOPING.md).
  auto get_op = store->async_get(std::string(env.claim_key));
  Result<std::string> object = co_await std::move(get_op);
  if (!object.ok()) co_return object.status();
  co_return decode_object(env, *object, *store, options);
}

Status PayloadOptions::validate() const {
  if (compression_level != 0) {
    // compress() knows each codec's range; try an empty input.
    auto probe = compress(compression, "", compression_level);
    if (!probe.ok()) {
      return Status::invalid_argument("PayloadOptions.compression_level: " +
                                      std::string(probe.status().message()));
    }
  }
  if (compression != Compression::kNone && compression != Compression::kGzip &&
      compression != Compression::kZstd) {
    return Status::invalid_argument("PayloadOptions.compression: unknown codec");
  }
  if (large_payload_threshold > 0 && !store) {
    return Status::invalid_argument(
        "PayloadOptions.store: large_payload_threshold is set but no PayloadStore is given");
  }
  if (key_prefix.size() + 37 > kMaxPayloadKeyBytes) {
    return Status::invalid_argument(
        "PayloadOptions.key_prefix: " + std::to_string(key_prefix.size()) +
        " bytes leave no room for the uuid in a 1024-byte key");
  }
  return Status();
}

Result<PayloadEncoder> PayloadEncoder::create(PayloadOptions options) {
  SLUICE_RETURN_IF_ERROR(options.validate());
  return PayloadEncoder(std::move(options));
}

Result<PreparedPayload> PayloadEncoder::prepare(std::string payload) const {
  PreparedPayload out;
  out.payload_size = payload.size();
  const std::size_t threshold = options_.large_payload_threshold;
  if (options_.compression != Compression::kNone) {
    SLUICE_ASSIGN_OR_RETURN(std::string compressed,
                            compress(options_.compression, payload, options_.compression_level));
    out.data = encode_inline_envelope(options_.compression, payload.size(), compressed);
    if (threshold == 0 || out.data.size() <= threshold) return out;
    out.object = std::move(compressed);
  } else {
    // A plain payload that looks like an envelope gets a real (codec 0) one
    // when the pipeline is on, so that decoding never mistakes it.
    const bool escape = options_.enabled() && has_envelope(payload);
    if (escape) {
      out.data = encode_inline_envelope(Compression::kNone, payload.size(), payload);
    }
    const std::size_t size = escape ? out.data.size() : payload.size();
    if (threshold == 0 || size <= threshold) {
      if (!escape) out.data = std::move(payload);
      return out;
    }
    out.object = std::move(payload);
  }
  out.claim_key = make_payload_key(options_.key_prefix);
  out.data = encode_claim_check_envelope(options_.compression, out.payload_size, out.claim_key,
                                         out.object);
  return out;
}

Result<PreparedPayload> PayloadEncoder::encode(std::string payload) const {
  SLUICE_ASSIGN_OR_RETURN(PreparedPayload prepared, prepare(std::move(payload)));
  if (prepared.claim_checked()) {
    SLUICE_RETURN_IF_ERROR(options_.store->put(prepared.claim_key, std::move(prepared.object)));
    prepared.object.clear();
  }
  return prepared;
}

asio::awaitable<Result<PreparedPayload>> PayloadEncoder::async_encode(std::string payload) const {
  Result<PreparedPayload> prepared = prepare(std::move(payload));
  if (!prepared.ok()) co_return prepared.status();
  PreparedPayload out = std::move(*prepared);
  if (out.claim_checked()) {
    auto put_op = options_.store->async_put(out.claim_key, std::move(out.object));
    Status stored = co_await std::move(put_op);
    if (!stored.ok()) co_return stored;
    out.object.clear();
  }
  co_return out;
}

}  // namespace sluice::kinesis
