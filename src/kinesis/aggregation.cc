#include "sluice/kinesis/aggregation.h"

#include <cstring>

#include "kinesis/md5.h"

namespace sluice::kinesis {
namespace {

// Protobuf wire types.
constexpr int kVarint = 0;
constexpr int kLengthDelimited = 2;

// A bounds-checked reader of protobuf wire data.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : p_(data.data()), end_(data.data() + data.size()) {}
  bool done() const { return p_ == end_; }

  bool varint(std::uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return false;
      const auto b = static_cast<std::uint8_t>(*p_++);
      out |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;  // over-long varint
  }
  bool bytes(std::string_view& out) {
    std::uint64_t len;
    if (!varint(len) || len > static_cast<std::uint64_t>(end_ - p_)) return false;
    out = std::string_view(p_, len);
    p_ += len;
    return true;
  }
  // Skips a field of an unknown number (forward compatibility).
  bool skip(int wire_type) {
    std::uint64_t v;
    std::string_view s;
    switch (wire_type) {
      case kVarint:
        return varint(v);
      case 1:
        if (end_ - p_ < 8) return false;
        p_ += 8;
        return true;
      case kLengthDelimited:
        return bytes(s);
      case 5:
        if (end_ - p_ < 4) return false;
        p_ += 4;
        return true;
      default:
        return false;
    }
  }

 private:
  const char* p_;
  const char* end_;
};

std::size_t varint_size(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_tag(std::string& out, int field, int wire_type) {
  put_varint(out, static_cast<std::uint64_t>(field << 3 | wire_type));
}

std::size_t length_field_size(std::size_t len) {
  return 1 + varint_size(len) + len;
}

}  // namespace

std::string_view aggregate_check_name(AggregateCheck check) {
  switch (check) {
    case AggregateCheck::kNotAggregated:
      return "not aggregated";
    case AggregateCheck::kAggregated:
      return "aggregated";
    case AggregateCheck::kTooShort:
      return "too short for an aggregate";
    case AggregateCheck::kBadDigest:
      return "MD5 digest mismatch";
    case AggregateCheck::kBadProtobuf:
      return "malformed protobuf";
  }
  return "unknown";
}

AggregateCheck deaggregate(std::string_view blob, std::vector<UserRecordView>& out) {
  if (!blob.starts_with(kAggregationMagic)) return AggregateCheck::kNotAggregated;
  if (blob.size() <= kAggregationMagic.size() + kAggregationDigestSize)
    return AggregateCheck::kTooShort;
  const std::string_view proto = blob.substr(
      kAggregationMagic.size(), blob.size() - kAggregationMagic.size() - kAggregationDigestSize);
  const Md5Digest digest = md5(proto);
  if (std::memcmp(digest.data(), blob.data() + blob.size() - kAggregationDigestSize, 16) != 0) {
    return AggregateCheck::kBadDigest;
  }

  // Small tables live on the stack in the common case.
  std::vector<std::string_view> pk_table, ehk_table;
  struct Pending {
    std::uint64_t pk_index;
    std::uint64_t ehk_index;
    bool has_ehk;
    std::string_view data;
  };
  std::vector<Pending> pending;
  WireReader r(proto);
  while (!r.done()) {
    std::uint64_t tag;
    if (!r.varint(tag)) return AggregateCheck::kBadProtobuf;
    const int field = static_cast<int>(tag >> 3), wire = static_cast<int>(tag & 7);
    if ((field == 1 || field == 2 || field == 3) && wire == kLengthDelimited) {
      std::string_view value;
      if (!r.bytes(value)) return AggregateCheck::kBadProtobuf;
      if (field == 1) {
        pk_table.push_back(value);
      } else if (field == 2) {
        ehk_table.push_back(value);
      } else {
        Pending rec{0, 0, false, {}};
        bool has_pk = false, has_data = false;
        WireReader rr(value);
        while (!rr.done()) {
          std::uint64_t t;
          if (!rr.varint(t)) return AggregateCheck::kBadProtobuf;
          const int f = static_cast<int>(t >> 3), w = static_cast<int>(t & 7);
          if (f == 1 && w == kVarint) {
            if (!rr.varint(rec.pk_index)) return AggregateCheck::kBadProtobuf;
            has_pk = true;
          } else if (f == 2 && w == kVarint) {
            if (!rr.varint(rec.ehk_index)) return AggregateCheck::kBadProtobuf;
            rec.has_ehk = true;
          } else if (f == 3 && w == kLengthDelimited) {
            if (!rr.bytes(rec.data)) return AggregateCheck::kBadProtobuf;
            has_data = true;
          } else if (!rr.skip(w)) {  // tags (4) and anything newer
            return AggregateCheck::kBadProtobuf;
          }
        }
        if (!has_pk || !has_data) return AggregateCheck::kBadProtobuf;  // both are required
        pending.push_back(rec);
      }
    } else if (!r.skip(wire)) {
      return AggregateCheck::kBadProtobuf;
    }
  }
  for (const Pending& p : pending) {
    if (p.pk_index >= pk_table.size() || (p.has_ehk && p.ehk_index >= ehk_table.size())) {
      return AggregateCheck::kBadProtobuf;
    }
  }
  out.reserve(out.size() + pending.size());
  std::uint64_t sub = 0;
  for (const Pending& p : pending) {
    out.push_back({pk_table[p.pk_index], p.has_ehk ? ehk_table[p.ehk_index] : std::string_view(),
                   p.data, sub++});
  }
  return AggregateCheck::kAggregated;
}

// --- AggregateBuilder ----------------------------------------------------------

std::size_t AggregateBuilder::record_size(std::size_t pk_index, bool new_pk,
                                          std::string_view partition_key, std::size_t ehk_index,
                                          bool new_ehk, std::string_view explicit_hash_key,
                                          std::string_view data) const {
  std::size_t inner = 1 + varint_size(pk_index) + length_field_size(data.size());
  if (!explicit_hash_key.empty()) inner += 1 + varint_size(ehk_index);
  std::size_t total = length_field_size(inner);
  if (new_pk) total += length_field_size(partition_key.size());
  if (new_ehk) total += length_field_size(explicit_hash_key.size());
  return total;
}

std::size_t AggregateBuilder::size() const {
  if (records_ == 0) return 0;
  return kAggregationMagic.size() + tables_size_ + body_.size() + kAggregationDigestSize;
}

std::size_t AggregateBuilder::size_with(std::string_view partition_key,
                                        std::string_view explicit_hash_key,
                                        std::string_view data) const {
  auto pk = pk_index_.find(std::string(partition_key));
  const bool new_pk = pk == pk_index_.end();
  bool new_ehk = false;
  std::size_t ehk_index = 0;
  if (!explicit_hash_key.empty()) {
    auto e = ehk_index_.find(std::string(explicit_hash_key));
    new_ehk = e == ehk_index_.end();
    ehk_index = new_ehk ? explicit_hash_keys_.size() : e->second;
  }
  return kAggregationMagic.size() + tables_size_ + body_.size() + kAggregationDigestSize +
         record_size(new_pk ? partition_keys_.size() : pk->second, new_pk, partition_key, ehk_index,
                     new_ehk, explicit_hash_key, data);
}

void AggregateBuilder::add(std::string_view partition_key, std::string_view explicit_hash_key,
                           std::string_view data) {
  std::size_t pk_index;
  if (auto it = pk_index_.find(std::string(partition_key)); it != pk_index_.end()) {
    pk_index = it->second;
  } else {
    pk_index = partition_keys_.size();
    partition_keys_.emplace_back(partition_key);
    pk_index_.emplace(std::string(partition_key), pk_index);
    tables_size_ += length_field_size(partition_key.size());
  }
  std::size_t ehk_index = 0;
  if (!explicit_hash_key.empty()) {
    if (auto it = ehk_index_.find(std::string(explicit_hash_key)); it != ehk_index_.end()) {
      ehk_index = it->second;
    } else {
      ehk_index = explicit_hash_keys_.size();
      explicit_hash_keys_.emplace_back(explicit_hash_key);
      ehk_index_.emplace(std::string(explicit_hash_key), ehk_index);
      tables_size_ += length_field_size(explicit_hash_key.size());
    }
  }
  std::size_t inner = 1 + varint_size(pk_index) + length_field_size(data.size());
  if (!explicit_hash_key.empty()) inner += 1 + varint_size(ehk_index);
  put_tag(body_, 3, kLengthDelimited);
  put_varint(body_, inner);
  put_tag(body_, 1, kVarint);
  put_varint(body_, pk_index);
  if (!explicit_hash_key.empty()) {
    put_tag(body_, 2, kVarint);
    put_varint(body_, ehk_index);
  }
  put_tag(body_, 3, kLengthDelimited);
  put_varint(body_, data.size());
  body_.append(data);
  ++records_;
}

std::string AggregateBuilder::finish() {
  std::string out;
  out.reserve(size());
  out.append(kAggregationMagic);
  const std::size_t proto_start = out.size();
  for (const auto& pk : partition_keys_) {
    put_tag(out, 1, kLengthDelimited);
    put_varint(out, pk.size());
    out.append(pk);
  }
  for (const auto& ehk : explicit_hash_keys_) {
    put_tag(out, 2, kLengthDelimited);
    put_varint(out, ehk.size());
    out.append(ehk);
  }
  out.append(body_);
  const Md5Digest d = md5(std::string_view(out).substr(proto_start));
  out.append(reinterpret_cast<const char*>(d.data()), d.size());
  clear();
  return out;
}

void AggregateBuilder::clear() {
  body_.clear();
  partition_keys_.clear();
  explicit_hash_keys_.clear();
  pk_index_.clear();
  ehk_index_.clear();
  tables_size_ = 0;
  records_ = 0;
}

}  // namespace sluice::kinesis
