#include "sluice/core/time_format.h"

#include <cstdio>
#include <ctime>

namespace sluice {

Result<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view input) {
  const std::string text(input);
  auto bad = [&](const char* why) {
    return Status::invalid_argument("\"" + text + "\" is not an RFC 3339 time (" + why +
                                    "; e.g. 2026-11-23T10:00:00Z)");
  };
  std::tm tm{};
  const char* p = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p) p = strptime(text.c_str(), "%Y-%m-%dt%H:%M:%S", &tm);
  if (!p) return bad("date and time unreadable");
  int frac_ms = 0;
  if (*p == '.') {
    ++p;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
      if (digits < 3) frac_ms = frac_ms * 10 + (*p - '0');
      ++digits;
      ++p;
    }
    if (digits == 0) return bad("empty fraction");
    for (; digits < 3; ++digits) frac_ms *= 10;
  }
  long offset = 0;
  if (*p == 'Z' || *p == 'z') {
    ++p;
  } else if (*p == '+' || *p == '-') {
    int hh = 0, mm = 0;
    if (std::sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || hh > 23 || mm > 59)
      return bad("bad UTC offset");
    offset = (hh * 3600L + mm * 60L) * (*p == '+' ? 1 : -1);
    p += 6;
  } else {
    return bad("no zone: add Z or +hh:mm");
  }
  if (*p) return bad("unexpected text after the time");
  const std::time_t t = timegm(&tm) - offset;
  return std::chrono::system_clock::from_time_t(t) + std::chrono::milliseconds(frac_ms);
}

std::string format_rfc3339(std::chrono::system_clock::time_point t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000 - (ms % 1000 < 0 ? 1 : 0));
  const int millis = static_cast<int>(((ms % 1000) + 1000) % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

}  // namespace sluice
