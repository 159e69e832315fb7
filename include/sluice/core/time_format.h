// RFC 3339 timestamps, as the CLI, the examples and the logs print and read
// them ("2026-11-23T10:00:00Z", "2026-11-23T10:00:00.250+01:00").
#ifndef SLUICE_CORE_TIME_FORMAT_H_
#define SLUICE_CORE_TIME_FORMAT_H_

#include <chrono>
#include <string>
#include <string_view>

#include "sluice/core/result.h"

namespace sluice {

// InvalidArgument naming the text when it is not an RFC 3339 date-time with
// a zone (Z or +hh:mm). Fractions beyond milliseconds are truncated.
Result<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);
// UTC with milliseconds: "2026-11-23T10:00:00.250Z".
std::string format_rfc3339(std::chrono::system_clock::time_point t);

}  // namespace sluice

#endif  // SLUICE_CORE_TIME_FORMAT_H_
