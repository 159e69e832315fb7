// MD5 for the KPL digest and partition-key hashing (not for security).
#ifndef SLUICE_SRC_KINESIS_MD5_H_
#define SLUICE_SRC_KINESIS_MD5_H_

#include <array>
#include <cstdint>
#include <string_view>

namespace sluice::kinesis {

using Md5Digest = std::array<std::uint8_t, 16>;
Md5Digest md5(std::string_view data);

}  // namespace sluice::kinesis

#endif  // SLUICE_SRC_KINESIS_MD5_H_
