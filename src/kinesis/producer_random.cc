#include "kinesis/producer_random.h"

#include <mutex>
#include <random>

namespace sluice::kinesis::internal {
namespace {

struct Engine {
  std::mutex mu;
  std::mt19937_64 rng{[] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }()};
};

Engine& engine() {
  static auto* e = new Engine();
  return *e;
}

}  // namespace

std::uint64_t random_u64() {
  Engine& e = engine();
  std::lock_guard lock(e.mu);
  return e.rng();
}

std::string random_uuid() {
  std::uint64_t hi = random_u64();
  std::uint64_t lo = random_u64();
  hi = (hi & ~0xF000ull) | 0x4000ull;              // version 4
  lo = (lo & ~(0xC0ull << 56)) | (0x80ull << 56);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  auto emit = [&](std::uint64_t v, int from_nibble, int count) {
    for (int i = 0; i < count; ++i) {
      const int shift = (15 - (from_nibble + i)) * 4;
      out.push_back(kHex[(v >> shift) & 0xF]);
    }
  };
  emit(hi, 0, 8);
  out.push_back('-');
  emit(hi, 8, 4);
  out.push_back('-');
  emit(hi, 12, 4);
  out.push_back('-');
  emit(lo, 0, 4);
  out.push_back('-');
  emit(lo, 4, 12);
  return out;
}

}  // namespace sluice::kinesis::internal
