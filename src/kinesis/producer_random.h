// Random numbers for the producer (claim-check keys, random partition keys,
// jitter). A mutex-guarded engine, not thread_local: coroutines may resume on
// another thread (see DEVELOPING.md).
#ifndef SLUICE_SRC_KINESIS_PRODUCER_RANDOM_H_
#define SLUICE_SRC_KINESIS_PRODUCER_RANDOM_H_

#include <cstdint>
#include <string>

namespace sluice::kinesis::internal {

// 64 random bits from a process-wide engine seeded from std::random_device.
std::uint64_t random_u64();

// A random (version 4) UUID in its 36-character text form.
std::string random_uuid();

}  // namespace sluice::kinesis::internal

#endif  // SLUICE_SRC_KINESIS_PRODUCER_RANDOM_H_
