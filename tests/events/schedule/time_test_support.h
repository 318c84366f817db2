// Calendar shorthands for the schedule tests, and a TZif file builder for
// zones that the system's tzdata does not have (a footer only, a rule with
// odd forms).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "events/schedule/time_zone.h"

namespace sprout::events::testing {

inline Instant utc(int year, unsigned month, unsigned day, int hour = 0, int minute = 0,
                   int second = 0) {
  return Instant{std::chrono::sys_days{std::chrono::year{year} / std::chrono::month{month} /
                                       std::chrono::day{day}}} +
         std::chrono::hours(hour) + std::chrono::minutes(minute) + std::chrono::seconds(second);
}

inline LocalTime local(int year, unsigned month, unsigned day, int hour = 0, int minute = 0) {
  return LocalTime{std::chrono::local_days{std::chrono::year{year} / std::chrono::month{month} /
                                           std::chrono::day{day}}} +
         std::chrono::hours(hour) + std::chrono::minutes(minute);
}

inline void put_be32(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((value >> shift) & 0xff);
}

inline void put_be64(std::string& out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((value >> shift) & 0xff);
}

struct TzifType {
  int32_t offset;
  bool is_dst;
};

// A version-2 TZif file: a minimal version-1 block (one type), then the
// 64-bit block with `times` (instant, type index), `types` and `footer`.
inline std::string make_tzif(const std::vector<std::pair<int64_t, uint8_t>>& times,
                             const std::vector<TzifType>& types, const std::string& footer,
                             char version = '2') {
  auto header = [&](uint32_t timecnt, uint32_t typecnt, uint32_t charcnt) {
    std::string h = "TZif";
    h += version;
    h += std::string(15, '\0');
    put_be32(h, 0);  // isutcnt
    put_be32(h, 0);  // isstdcnt
    put_be32(h, 0);  // leapcnt
    put_be32(h, timecnt);
    put_be32(h, typecnt);
    put_be32(h, charcnt);
    return h;
  };
  std::string out = header(0, 1, 4);
  put_be32(out, 0);
  out += '\0';
  out += '\0';
  out += std::string("UTC") + '\0';
  out += header(static_cast<uint32_t>(times.size()), static_cast<uint32_t>(types.size()), 4);
  for (const auto& [at, type] : times) put_be64(out, static_cast<uint64_t>(at));
  for (const auto& [at, type] : times) out += static_cast<char>(type);
  for (const TzifType& type : types) {
    put_be32(out, static_cast<uint32_t>(type.offset));
    out += static_cast<char>(type.is_dst ? 1 : 0);
    out += '\0';
  }
  out += std::string("ZZZ") + '\0';
  out += "\n" + footer + "\n";
  return out;
}

}  // namespace sprout::events::testing
