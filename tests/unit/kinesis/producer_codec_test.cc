// The producer's building blocks: compression, the payload envelope (encode,
// decode, corruption, claim-check), partition key strategies, the shard map
// and the JSON-lines record form.
#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "sluice/core/executor.h"
#include "sluice/kinesis/aggregation.h"
#include "sluice/kinesis/compression.h"
#include "sluice/kinesis/partition_keys.h"
#include "sluice/kinesis/payload_codec.h"
#include "sluice/kinesis/payload_store.h"
#include "sluice/kinesis/producer_json.h"
#include "sluice/kinesis/shard_map.h"

namespace sluice::kinesis {
namespace {

std::string text_payload(std::size_t n, unsigned seed = 1) {
  std::mt19937 rng(seed);
  static const char* kWords[] = {"lorem ", "ipsum ",       "dolor ",      "sit ",
                                 "amet ",  "consectetur ", "adipiscing ", "elit "};
  std::string s;
  while (s.size() < n) s += kWords[rng() % 8];
  s.resize(n);
  return s;
}

// A string literal with its embedded NULs.
template <std::size_t N>
std::string lit(const char (&s)[N]) {
  return std::string(s, N - 1);
}

std::string random_bytes(std::size_t n, unsigned seed = 2) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// --- compression -------------------------------------------------------------

TEST(ProducerCompression, RoundTripsEveryCodecAndSize) {
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kZstd}) {
    for (std::size_t n : {0u, 1u, 100u, 70000u, 1u << 20}) {
      const std::string in = n % 2 ? random_bytes(n) : text_payload(n);
      auto packed = compress(c, in);
      ASSERT_TRUE(packed.ok()) << compression_name(c) << " " << packed.status();
      auto back = decompress(c, *packed, n);
      ASSERT_TRUE(back.ok()) << compression_name(c) << " n=" << n << " " << back.status();
      EXPECT_EQ(*back, in);
    }
  }
  // Text compresses.
  auto gz = compress(Compression::kGzip, text_payload(10000));
  EXPECT_LT(gz->size(), 5000u);
  EXPECT_EQ(static_cast<unsigned char>((*gz)[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>((*gz)[1]), 0x8b);
  auto zs = compress(Compression::kZstd, text_payload(10000), 19);
  EXPECT_LT(zs->size(), 5000u);
}

TEST(ProducerCompression, RejectsCorruptTruncatedOversizedAndBadLevels) {
  const std::string in = text_payload(5000);
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    std::string packed = *compress(c, in);
    auto truncated = decompress(c, packed.substr(0, packed.size() / 2), 10000);
    EXPECT_EQ(truncated.status().code(), StatusCode::kCorruption) << compression_name(c);
    auto trailing = decompress(c, packed + "xx", 10000);
    EXPECT_EQ(trailing.status().code(), StatusCode::kCorruption) << compression_name(c);
    auto bomb = decompress(c, packed, 100);
    EXPECT_EQ(bomb.status().code(), StatusCode::kCorruption) << compression_name(c);
    EXPECT_NE(bomb.status().message().find("100"), std::string_view::npos);
    std::string flipped = packed;
    flipped[flipped.size() / 2] ^= 0x55;
    auto bad = decompress(c, flipped, 10000);
    EXPECT_TRUE(!bad.ok() || *bad != in) << compression_name(c);
  }
  EXPECT_EQ(decompress(Compression::kGzip, "not gzip at all", 100).status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(compress(Compression::kGzip, "x", 10).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(compress(Compression::kZstd, "x", 20).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*parse_compression("GZIP"), Compression::kGzip);
  EXPECT_EQ(*parse_compression("zstd"), Compression::kZstd);
  EXPECT_EQ(parse_compression("lz4").status().code(), StatusCode::kInvalidArgument);
}

TEST(ProducerCompression, PooledContextsAreThreadSafe) {
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &bad] {
      for (int i = 0; i < 200; ++i) {
        const std::string in = text_payload(100 + static_cast<std::size_t>(i), t * 1000 + i);
        for (Compression c : {Compression::kGzip, Compression::kZstd}) {
          auto back = decompress(c, *compress(c, in, 1 + i % 9), in.size());
          if (!back.ok() || *back != in) ++bad;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

// --- payload envelope -----------------------------------------------------------

TEST(PayloadEnvelope, MagicDiffersFromKplAndUtf8) {
  EXPECT_NE(kPayloadEnvelopeMagic, kAggregationMagic);
  EXPECT_FALSE(has_envelope("{\"json\":1}"));
  EXPECT_FALSE(has_envelope(std::string(kAggregationMagic) + "xxxx"));
  EXPECT_FALSE(has_envelope("\xF5SL"));
  EXPECT_TRUE(has_envelope(std::string(kPayloadEnvelopeMagic)));
  // Plain records pass through decoding unchanged.
  EXPECT_EQ(*decode_payload("plain bytes", nullptr), "plain bytes");
  EXPECT_EQ(*decode_payload("", nullptr), "");
}

TEST(PayloadEnvelope, DocumentedLayoutInline) {
  // gzip, 3-byte payload: magic, version 1, flags 0x01, varint 3, then gzip.
  std::string env = encode_inline_envelope(Compression::kGzip, 3, "GZ");
  ASSERT_EQ(env.size(), 9u);
  EXPECT_EQ(env.substr(0, 4), "\xF5SLP");
  EXPECT_EQ(env[4], '\x01');
  EXPECT_EQ(env[5], '\x01');
  EXPECT_EQ(env[6], '\x03');
  EXPECT_EQ(env.substr(7), "GZ");
  // zstd with a 300-byte payload: flags 0x02, varint AC 02.
  env = encode_inline_envelope(Compression::kZstd, 300, "");
  EXPECT_EQ(env[5], '\x02');
  EXPECT_EQ(env.substr(6, 2), "\xAC\x02");
}

TEST(PayloadEnvelope, DocumentedLayoutClaimCheck) {
  const std::string object = "stored-object";
  std::string env = encode_claim_check_envelope(Compression::kNone, 13, "p/k", object);
  EXPECT_EQ(env.substr(0, 4), "\xF5SLP");
  EXPECT_EQ(env[5], '\x04');         // codec 0, claim-check
  EXPECT_EQ(env[6], '\x0D');         // payload size 13
  EXPECT_EQ(env[7], '\x0D');         // stored size 13
  EXPECT_EQ(env.substr(12), "p/k");  // after the 4-byte CRC
  auto parsed = parse_envelope(env);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->claim_check);
  EXPECT_EQ(parsed->claim_key, "p/k");
  EXPECT_EQ(parsed->stored_size, 13u);
  EXPECT_EQ(parsed->stored_crc32,
            crc32(0, reinterpret_cast<const Bytef*>(object.data()), object.size()));
  const std::string crc_bytes = env.substr(8, 4);
  EXPECT_EQ((static_cast<std::uint32_t>(static_cast<unsigned char>(crc_bytes[0])) << 24) |
                static_cast<unsigned char>(crc_bytes[3]) |
                (static_cast<std::uint32_t>(static_cast<unsigned char>(crc_bytes[1])) << 16) |
                (static_cast<std::uint32_t>(static_cast<unsigned char>(crc_bytes[2])) << 8),
            parsed->stored_crc32);
}

TEST(PayloadEnvelope, EncoderRoundTripsEveryPipeline) {
  auto store = std::make_shared<InMemoryPayloadStore>();
  const std::vector<std::string> payloads = {"",
                                             "small",
                                             text_payload(5000),
                                             random_bytes(3000),
                                             std::string(kPayloadEnvelopeMagic) + "looks like one",
                                             std::string(kAggregationMagic) + "kpl-ish"};
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kZstd}) {
    for (std::size_t threshold : {0u, 1000u}) {
      auto enc = PayloadEncoder::create({.compression = c,
                                         .store = store,
                                         .large_payload_threshold = threshold,
                                         .key_prefix = "lg-s-st"});
      ASSERT_TRUE(enc.ok()) << enc.status();
      for (const auto& p : payloads) {
        auto prepared = enc->encode(p);
        ASSERT_TRUE(prepared.ok()) << prepared.status();
        if (c != Compression::kNone) {
          EXPECT_TRUE(has_envelope(prepared->data));
        }
        if (c == Compression::kNone && threshold == 0) {
          EXPECT_EQ(prepared->data, p) << "no pipeline: bytes as given";
          continue;
        }
        if (threshold > 0) {
          EXPECT_LE(prepared->data.size(), std::max<std::size_t>(threshold, 1100));
        }
        if (prepared->claim_checked()) {
          EXPECT_TRUE(prepared->claim_key.starts_with("lg-s-st/"));
          EXPECT_EQ(prepared->claim_key.size(), 8u + 36u);
        }
        auto back = decode_payload(prepared->data, store.get());
        ASSERT_TRUE(back.ok()) << back.status();
        EXPECT_EQ(*back, p) << compression_name(c) << " threshold " << threshold;
      }
    }
  }
  // Without any step, payloads stay exactly as given (even envelope look-alikes).
  auto plain = PayloadEncoder::create({});
  EXPECT_EQ(plain->prepare(std::string(kPayloadEnvelopeMagic) + "x")->data,
            std::string(kPayloadEnvelopeMagic) + "x");
  // With a pipeline, a look-alike is escaped and decodes back exactly.
  auto escaping = PayloadEncoder::create({.store = store, .large_payload_threshold = 1 << 20});
  auto escaped = escaping->prepare(std::string(kPayloadEnvelopeMagic) + "x");
  EXPECT_NE(escaped->data, std::string(kPayloadEnvelopeMagic) + "x");
  EXPECT_EQ(*decode_payload(escaped->data, nullptr), std::string(kPayloadEnvelopeMagic) + "x");
  // Plain small records stay plain when only claim-check is on.
  EXPECT_EQ(escaping->prepare("abc")->data, "abc");
}

TEST(PayloadEnvelope, ConsumerHookLeavesPlainRecordsAlone) {
  auto store = std::make_shared<InMemoryPayloadStore>();
  auto decoder = make_payload_decoder(store);
  auto plain = decoder("plain");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->has_value()) << "plain records: use the bytes as they are";
  auto enc = PayloadEncoder::create(
      {.compression = Compression::kGzip, .store = store, .large_payload_threshold = 100});
  for (const std::string& p : {std::string("small"), text_payload(5000), random_bytes(500)}) {
    auto prepared = enc->encode(p);
    auto decoded = decoder(prepared->data);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ASSERT_TRUE(decoded->has_value());
    EXPECT_EQ(**decoded, p);
  }
  EXPECT_EQ(decoder(std::string(kPayloadEnvelopeMagic) + "junk").status().code(),
            StatusCode::kCorruption);
}

TEST(PayloadEnvelope, AsyncDecodeFetchesClaimChecks) {
  auto store = std::make_shared<InMemoryPayloadStore>();
  auto enc = PayloadEncoder::create(
      {.compression = Compression::kZstd, .store = store, .large_payload_threshold = 10});
  const std::string payload = random_bytes(4000);
  ThreadPool pool(1);
  auto prepared = run_blocking(pool.executor(), enc->async_encode(payload));
  ASSERT_TRUE(prepared.ok());
  ASSERT_TRUE(prepared->claim_checked());
  EXPECT_EQ(store->size(), 1u);
  auto back = run_blocking(pool.executor(), async_decode_payload(prepared->data, store.get()));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, payload);
}

TEST(PayloadEnvelope, CorruptEnvelopesAreClearErrors) {
  auto expect_corrupt = [](const std::string& data, std::string_view words) {
    auto r = decode_payload(data, nullptr);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status();
    EXPECT_NE(r.status().message().find(words), std::string_view::npos) << r.status();
  };
  const std::string magic(kPayloadEnvelopeMagic);
  expect_corrupt(magic, "truncated header");
  expect_corrupt(magic + lit("\x02\x00\x01x"), "unsupported version 2");
  expect_corrupt(magic + lit("\x01\x10\x01x"), "reserved flag");
  expect_corrupt(magic + lit("\x01\x03\x01x"), "unknown compression codec 3");
  expect_corrupt(magic + lit("\x01\x00"), "truncated payload size");
  expect_corrupt(magic + lit("\x01\x00\x80"), "truncated payload size");
  expect_corrupt(magic + lit("\x01\x00\x05") + "abc", "declares 5");
  expect_corrupt(magic + lit("\x01\x01\x05") + "abcde", "gzip");
  expect_corrupt(magic + lit("\x01\x04\x05"), "truncated stored size");
  expect_corrupt(magic + lit("\x01\x04\x05\x05\x00"), "truncated checksum");
  expect_corrupt(magic + lit("\x01\x04\x05\x05\x00\x00\x00\x00"), "without a key");
  // A decompression bomb is refused by the declared size before inflating.
  std::string big(1 << 20, 'a');
  std::string env =
      encode_inline_envelope(Compression::kGzip, big.size(), *compress(Compression::kGzip, big));
  auto r = decode_payload(env, nullptr, {.max_payload_bytes = 1000});
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
}

TEST(PayloadEnvelope, MissingOrReplacedClaimCheckObjects) {
  auto store = std::make_shared<InMemoryPayloadStore>();
  auto enc =
      PayloadEncoder::create({.store = store, .large_payload_threshold = 5, .key_prefix = "pre"});
  auto prepared = enc->encode("a payload over five bytes");
  ASSERT_TRUE(prepared->claim_checked());
  // No store given.
  auto no_store = decode_payload(prepared->data, nullptr);
  EXPECT_EQ(no_store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(no_store.status().message().find(prepared->claim_key), std::string_view::npos);
  // Replaced object: size/CRC check.
  ASSERT_TRUE(store->put(prepared->claim_key, "a payload over five byteZ").ok());
  auto replaced = decode_payload(prepared->data, store.get());
  EXPECT_EQ(replaced.status().code(), StatusCode::kCorruption);
  EXPECT_NE(replaced.status().message().find("CRC-32"), std::string_view::npos);
  ASSERT_TRUE(store->put(prepared->claim_key, "short").ok());
  EXPECT_EQ(decode_payload(prepared->data, store.get()).status().code(), StatusCode::kCorruption);
  // Unchecked, the replaced object is returned (size still verified).
  EXPECT_EQ(decode_payload(prepared->data, store.get(), {.verify_checksum = false}).status().code(),
            StatusCode::kCorruption);
  // Missing object: NotFound naming the key.
  store->erase(prepared->claim_key);
  auto missing = decode_payload(prepared->data, store.get());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("memory:" + prepared->claim_key),
            std::string_view::npos);
}

TEST(PayloadEnvelope, OptionsAreValidated) {
  EXPECT_EQ(PayloadEncoder::create({.large_payload_threshold = 10}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(PayloadEncoder::create({.compression = Compression::kGzip, .compression_level = 42})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(PayloadEncoder::create({.key_prefix = std::string(1000, 'k')}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(PayloadStoreKeys, UuidKeysAreUniqueAndVersion4) {
  std::set<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.insert(make_payload_key("a-b-c"));
  EXPECT_EQ(keys.size(), 1000u);
  const std::string k = *keys.begin();
  ASSERT_EQ(k.size(), 6u + 36u);
  EXPECT_EQ(k.substr(0, 6), "a-b-c/");
  EXPECT_EQ(k[6 + 14], '4');
  EXPECT_TRUE(std::string("89ab").find(k[6 + 19]) != std::string::npos);
  EXPECT_EQ(make_payload_key("").size(), 36u);
}

// --- partition keys -----------------------------------------------------------------

TEST(PartitionKeys, ValidationFollowsKinesisRules) {
  EXPECT_TRUE(validate_partition_key("a").ok());
  EXPECT_TRUE(validate_partition_key(std::string(256, 'x')).ok());
  EXPECT_EQ(validate_partition_key("").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(validate_partition_key(std::string(257, 'x')).code(), StatusCode::kInvalidArgument);
  // 256 characters of two bytes each are fine: the limit counts characters.
  std::string two_byte;
  for (int i = 0; i < 256; ++i) two_byte += "\xC3\xA9";
  EXPECT_TRUE(validate_partition_key(two_byte).ok());
  EXPECT_EQ(validate_partition_key("bad\xFF").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(validate_partition_key("\xC3").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(validate_partition_key("\xC0\x80").code(), StatusCode::kInvalidArgument);  // overlong
  EXPECT_EQ(validate_partition_key("\xED\xA0\x80").code(),
            StatusCode::kInvalidArgument);  // surrogate
}

TEST(PartitionKeys, Strategies) {
  auto fixed = fixed_partition_key("orders");
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ((*fixed)("x"), "orders");
  EXPECT_EQ(fixed_partition_key("").status().code(), StatusCode::kInvalidArgument);

  auto random = random_partition_keys();
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(random(""));
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(seen.begin()->size(), 16u);

  auto seed = seed_partition_keys("lg", "schema", 3);
  ASSERT_TRUE(seed.ok());
  EXPECT_EQ((*seed)(""), "lg-schema-0");
  EXPECT_EQ((*seed)(""), "lg-schema-1");
  EXPECT_EQ((*seed)(""), "lg-schema-2");
  EXPECT_EQ((*seed)(""), "lg-schema-0");
  auto one = seed_partition_keys("lg", "schema", 1);
  EXPECT_EQ((*one)(""), "lg-schema-0");
  EXPECT_EQ((*one)(""), "lg-schema-0");
  auto zero = seed_partition_keys("lg", "schema", 0);
  EXPECT_EQ(zero.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(zero.status().message().find("distribution factor"), std::string_view::npos);
  EXPECT_EQ(spread_partition_keys("p", -5).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(spread_partition_keys(std::string(255, 'p'), 10).status().code(),
            StatusCode::kInvalidArgument);
}

// --- shard map ------------------------------------------------------------------------

TEST(ProducerShardMap, UniformMatchesCreateStreamSplit) {
  ShardMap one = ShardMap::uniform(1);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one.shard(0).range.start, 0u);
  EXPECT_EQ(one.shard(0).range.end, kMaxHashKey);
  ShardMap three = ShardMap::uniform(3);
  // The same boundaries CreateStream gives three shards (kinesalite, AWS).
  EXPECT_EQ(format_hash_key(three.shard(1).range.start), "113427455640312821154458202477256070485");
  EXPECT_EQ(format_hash_key(three.shard(0).range.end), "113427455640312821154458202477256070484");
  EXPECT_EQ(three.shard(2).range.end, kMaxHashKey);
  ShardMap four = ShardMap::uniform(4);
  EXPECT_EQ(format_hash_key(four.shard(1).range.start), "85070591730234615865843651857942052864");
  EXPECT_EQ(four.find(0), 0);
  EXPECT_EQ(four.find(kMaxHashKey), 3);
  EXPECT_EQ(four.find(four.shard(2).range.start), 2);
  EXPECT_EQ(four.find(four.shard(2).range.start - 1), 1);
  EXPECT_EQ(four.index_of("shardId-000000000003"), 3);
  EXPECT_EQ(four.index_of("nope"), -1);
}

TEST(ProducerShardMap, FromShardsSkipsClosedAndRejectsOverlap) {
  std::vector<aws::Shard> shards(3);
  shards[0].shard_id = "parent";
  shards[0].hash_key_range = {"0", "340282366920938463463374607431768211455"};
  shards[0].ending_sequence_number = "99";
  shards[1].shard_id = "child-b";
  shards[1].hash_key_range = {"170141183460469231731687303715884105728",
                              "340282366920938463463374607431768211455"};
  shards[2].shard_id = "child-a";
  shards[2].hash_key_range = {"0", "170141183460469231731687303715884105727"};
  auto map = ShardMap::from_shards(shards);
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_EQ(map->size(), 2u);
  EXPECT_EQ(map->shard(0).shard_id, "child-a");
  EXPECT_EQ(map->shard(map->find(kMaxHashKey)).shard_id, "child-b");
  shards[0].ending_sequence_number.clear();  // parent open too: overlap
  EXPECT_EQ(ShardMap::from_shards(shards).status().code(), StatusCode::kCorruption);
  shards[0].hash_key_range.starting_hash_key = "x";
  EXPECT_EQ(ShardMap::from_shards(shards).status().code(), StatusCode::kCorruption);
  // A gap: keys outside every shard are -1.
  std::vector<aws::Shard> gap(1);
  gap[0].shard_id = "s";
  gap[0].hash_key_range = {"10", "20"};
  auto g = ShardMap::from_shards(gap);
  EXPECT_EQ(g->find(5), -1);
  EXPECT_EQ(g->find(21), -1);
  EXPECT_EQ(g->find(10), 0);
}

// --- JSON lines -------------------------------------------------------------------------

TEST(ProducerJson, ParsesAndFormats) {
  const std::string data("\0\x01\xFFhello", 8);
  std::string line = format_record_json("pk-1", "123", data);
  auto r = parse_record_json(line);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->partition_key, "pk-1");
  EXPECT_EQ(r->explicit_hash_key, "123");
  EXPECT_EQ(r->data, data);
  auto minimal = parse_record_json(R"({"partition_key":"k","explicit_hash_key":null,"data":""})");
  ASSERT_TRUE(minimal.ok());
  EXPECT_EQ(minimal->explicit_hash_key, "");
  EXPECT_EQ(minimal->data, "");
  EXPECT_EQ(parse_record_json("nope").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(parse_record_json(R"({"partition_key":"k"})").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(parse_record_json(R"({"partition_key":1,"data":""})").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(parse_record_json(R"({"partition_key":"k","data":"!!"})").status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sluice::kinesis
