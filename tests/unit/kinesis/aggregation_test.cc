#include "sluice/kinesis/aggregation.h"

#include <gtest/gtest.h>

#include <random>

#include "kinesis/md5.h"
#include "kpl_aggregation.pb.h"
#include "sluice/kinesis/hash_key.h"

namespace sluice::kinesis {
namespace {

std::string with_envelope(const std::string& proto) {
  std::string out(kAggregationMagic);
  out += proto;
  const Md5Digest d = md5(proto);
  out.append(reinterpret_cast<const char*>(d.data()), d.size());
  return out;
}

TEST(Aggregation, RoundTripsWithTablesAndExplicitKeys) {
  AggregateBuilder b;
  b.add("user-1", "", "first");
  b.add("user-2", "85070591730234615865843651857942052864", std::string("\0bin\xff", 5));
  b.add("user-1", "", "");  // empty data is allowed
  b.add("user-3", "85070591730234615865843651857942052864", "fourth");
  EXPECT_EQ(b.count(), 4u);
  const std::size_t predicted = b.size();
  std::string blob = b.finish();
  EXPECT_EQ(blob.size(), predicted);
  EXPECT_EQ(b.count(), 0u);
  EXPECT_TRUE(blob.starts_with(kAggregationMagic));

  std::vector<UserRecordView> out;
  ASSERT_EQ(deaggregate(blob, out), AggregateCheck::kAggregated);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].partition_key, "user-1");
  EXPECT_EQ(out[0].explicit_hash_key, "");
  EXPECT_EQ(out[0].data, "first");
  EXPECT_EQ(out[1].explicit_hash_key, "85070591730234615865843651857942052864");
  EXPECT_EQ(out[1].data, std::string_view("\0bin\xff", 5));
  EXPECT_EQ(out[2].data, "");
  EXPECT_EQ(out[3].partition_key, "user-3");
  for (std::uint64_t i = 0; i < 4; ++i) EXPECT_EQ(out[i].sub_sequence_number, i);
  // Views point into the blob: zero copy.
  EXPECT_GE(out[0].data.data(), blob.data());
  EXPECT_LT(out[0].data.data(), blob.data() + blob.size());
}

TEST(Aggregation, SizeWithPredictsExactly) {
  std::mt19937 rng(3);
  AggregateBuilder b;
  for (int i = 0; i < 300; ++i) {
    std::string pk = "pk-" + std::to_string(rng() % 40);
    std::string ehk = rng() % 3 == 0 ? std::to_string(rng()) : "";
    std::string data(rng() % 300, 'x');
    const std::size_t predicted = b.size_with(pk, ehk, data);
    b.add(pk, ehk, data);
    ASSERT_EQ(b.size(), predicted) << i;
  }
  const std::size_t final_size = b.size();
  EXPECT_EQ(b.finish().size(), final_size);
}

TEST(Aggregation, MatchesLibprotobufBothWays) {
  // libprotobuf encodes; sluice decodes.
  sluice::test::AggregatedRecord msg;
  msg.add_partition_key_table("alpha");
  msg.add_partition_key_table("beta");
  msg.add_explicit_hash_key_table("12345");
  for (int i = 0; i < 50; ++i) {
    auto* r = msg.add_records();
    r->set_partition_key_index(i % 2);
    if (i % 5 == 0) r->set_explicit_hash_key_index(0);
    r->set_data("payload-" + std::to_string(i));
    if (i % 7 == 0) {  // tags are legal and ignored
      auto* t = r->add_tags();
      t->set_key("k");
      t->set_value("v");
    }
  }
  std::string blob = with_envelope(msg.SerializeAsString());
  std::vector<UserRecordView> out;
  ASSERT_EQ(deaggregate(blob, out), AggregateCheck::kAggregated);
  ASSERT_EQ(out.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(out[i].partition_key, i % 2 ? "beta" : "alpha");
    EXPECT_EQ(out[i].explicit_hash_key, i % 5 == 0 ? "12345" : "");
    EXPECT_EQ(out[i].data, "payload-" + std::to_string(i));
  }

  // sluice encodes; libprotobuf decodes byte for byte the same message.
  AggregateBuilder b;
  for (int i = 0; i < 50; ++i) {
    b.add(i % 2 ? "beta" : "alpha", i % 5 == 0 ? "12345" : "", "payload-" + std::to_string(i));
  }
  std::string ours = b.finish();
  sluice::test::AggregatedRecord parsed;
  const std::string proto = ours.substr(4, ours.size() - 20);
  ASSERT_TRUE(parsed.ParseFromString(proto));
  ASSERT_EQ(parsed.records_size(), 50);
  EXPECT_EQ(parsed.partition_key_table_size(), 2);
  EXPECT_EQ(parsed.partition_key_table(0), "alpha");
  EXPECT_EQ(parsed.records(5).explicit_hash_key_index(), 0u);
  EXPECT_FALSE(parsed.records(1).has_explicit_hash_key_index());
  EXPECT_EQ(parsed.records(49).data(), "payload-49");
  // Same field order as protobuf's own serialization: identical bytes.
  sluice::test::AggregatedRecord rebuilt;
  rebuilt.add_partition_key_table("alpha");
  rebuilt.add_partition_key_table("beta");
  rebuilt.add_explicit_hash_key_table("12345");
  for (int i = 0; i < 50; ++i) {
    auto* r = rebuilt.add_records();
    r->set_partition_key_index(i % 2);
    if (i % 5 == 0) r->set_explicit_hash_key_index(0);
    r->set_data("payload-" + std::to_string(i));
  }
  EXPECT_EQ(proto, rebuilt.SerializeAsString());
}

TEST(Aggregation, AnythingElseIsAPlainRecord) {
  std::vector<UserRecordView> out;
  EXPECT_EQ(deaggregate("just a json document {}", out), AggregateCheck::kNotAggregated);
  EXPECT_EQ(deaggregate("", out), AggregateCheck::kNotAggregated);
  EXPECT_EQ(deaggregate(std::string(kAggregationMagic) + "short", out), AggregateCheck::kTooShort);

  AggregateBuilder b;
  b.add("pk", "", "data");
  std::string good = b.finish();
  std::string bad_digest = good;
  bad_digest.back() ^= 1;
  EXPECT_EQ(deaggregate(bad_digest, out), AggregateCheck::kBadDigest);
  std::string flipped = good;
  flipped[10] ^= 0x40;  // corrupts the protobuf and the digest
  EXPECT_NE(deaggregate(flipped, out), AggregateCheck::kAggregated);

  // A digest that matches a malformed protobuf.
  EXPECT_EQ(deaggregate(with_envelope("\x1a\x05\x08\x00"), out), AggregateCheck::kBadProtobuf);
  // A record pointing past the partition key table.
  sluice::test::AggregatedRecord msg;
  msg.add_partition_key_table("a");
  msg.add_records()->set_partition_key_index(3);
  msg.mutable_records(0)->set_data("x");
  EXPECT_EQ(deaggregate(with_envelope(msg.SerializeAsString()), out), AggregateCheck::kBadProtobuf);
  // A record missing its required data.
  sluice::test::AggregatedRecord nodata;
  nodata.add_partition_key_table("a");
  std::string partial = nodata.SerializeAsString() + std::string("\x1a\x02\x08\x00", 4);
  EXPECT_EQ(deaggregate(with_envelope(partial), out), AggregateCheck::kBadProtobuf);
  EXPECT_TRUE(out.empty()) << "nothing is appended unless the whole aggregate decodes";
}

TEST(HashKey, Md5OfPartitionKeyBigEndian) {
  // md5("") = d41d8cd98f00b204e9800998ecf8427e
  EXPECT_EQ(format_hash_key(partition_key_hash("")), "281949768489412648962353822266799178366");
  EXPECT_EQ(*record_hash_key("ignored", "42"), static_cast<HashKey>(42));
  EXPECT_EQ(format_hash_key(*parse_hash_key("340282366920938463463374607431768211455")),
            "340282366920938463463374607431768211455");
  EXPECT_FALSE(parse_hash_key("340282366920938463463374607431768211456").ok());
  EXPECT_FALSE(parse_hash_key("-1").ok());
  EXPECT_FALSE(parse_hash_key("").ok());
  EXPECT_FALSE(record_hash_key("pk", "12a").ok());
  auto iv = parse_hash_key_interval("10", "20");
  ASSERT_TRUE(iv.ok());
  EXPECT_TRUE(iv->contains(10));
  EXPECT_TRUE(iv->contains(20));
  EXPECT_FALSE(iv->contains(21));
  EXPECT_FALSE(parse_hash_key_interval("20", "10").ok());
}

}  // namespace
}  // namespace sluice::kinesis
