// An IANA time zone read from a TZif file (RFC 8536, versions 1 to 3), for
// schedules' local times. GCC 12 has no std::chrono time zone database, and
// setting TZ in a multithreaded daemon is not safe, so sproutd reads the
// compiled zone files itself: the transitions they list, and for instants
// after the last one the POSIX TZ string of their footer ("CET-1CEST,
// M3.5.0,M10.5.0/3"), whose rules (Mm.w.d, Jn, n, with times from -167 to
// 167 hours) repeat every year.
//
// A TimeZone is immutable once loaded, so one instance is shared by any
// number of threads. Leap-second zones ("right/...") are refused: instants
// here are POSIX seconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/errors.h"

namespace sprout::events {

using Instant = std::chrono::sys_seconds;
using LocalTime = std::chrono::local_seconds;

inline constexpr std::string_view kDefaultZoneInfoDir = "/usr/share/zoneinfo";

// One change of the offset from UTC.
struct ZoneTransition {
  Instant at;                     // the first instant with the new offset
  std::chrono::seconds before{};  // offset (east of UTC) just before `at`
  std::chrono::seconds after{};   // offset from `at` on
};

// What a local (wall clock) time is in absolute time.
struct LocalMapping {
  // Ascending; empty in a gap (the clock jumped over this time, spring
  // forward), two in an overlap (the clock showed it twice, fall back).
  std::vector<Instant> instants;
  // In a gap: the transition that skipped it, which is also the first
  // instant whose local time is later than the time asked.
  std::optional<Instant> gap_end;
};

// The rules of a POSIX TZ string such as a TZif footer holds.
class PosixZoneRule {
 public:
  // "EST5EDT,M3.2.0,M11.1.0", "<+0330>-3:30", "AEST-10AEDT,M10.1.0,M4.1.0/3".
  static Result<PosixZoneRule> parse(std::string_view text);

  std::chrono::seconds offset_at(Instant t) const;
  // The first offset change strictly after `t`, if the rule has DST.
  std::optional<Instant> next_change_after(Instant t) const;
  bool has_dst() const { return dst_.has_value(); }
  std::chrono::seconds standard_offset() const { return std_offset_; }

  // A day in a year: the three forms of POSIX.
  struct DateRule {
    enum class Form { kJulianNoLeap, kZeroBasedDay, kMonthWeekDay } form = Form::kMonthWeekDay;
    int day = 0;  // Jn: 1..365; n: 0..365; Mm.w.d: the weekday d (0 = Sunday)
    int month = 0;
    int week = 0;  // 1..5, 5 = the last
    std::chrono::seconds time{7200};  // local time of day; may be negative or past 24 h
  };

 private:
  struct Dst {
    std::chrono::seconds offset{};
    DateRule start;  // in standard time
    DateRule end;    // in daylight time
  };
  // The year's DST start and end as instants.
  std::pair<Instant, Instant> changes_in_year(int year) const;

  std::chrono::seconds std_offset_{};
  std::optional<Dst> dst_;
};

class TimeZone {
 public:
  // Reads `name` ("Europe/Berlin") under `zoneinfo_dir`. The name must be a
  // relative path of plain components (no "..", no "."), so that no input
  // reads outside the directory. "UTC" is built in.
  static Result<std::shared_ptr<const TimeZone>> load(
      std::string_view name, std::string_view zoneinfo_dir = kDefaultZoneInfoDir);
  // The contents of a TZif file.
  static Result<std::shared_ptr<const TimeZone>> from_tzif(std::string name,
                                                           std::string_view bytes);
  static std::shared_ptr<const TimeZone> utc();

  const std::string& name() const { return name_; }
  // Offset east of UTC in effect at `t`.
  std::chrono::seconds offset_at(Instant t) const;
  LocalTime to_local(Instant t) const;
  // Every instant whose local time is `local`.
  LocalMapping to_instants(LocalTime local) const;
  // The first transition strictly after `t` that changes the offset.
  std::optional<ZoneTransition> next_transition_after(Instant t) const;
  // The last transition at or before `t` that changed the offset.
  std::optional<ZoneTransition> last_transition_at_or_before(Instant t) const;

  // Public for make_shared; use load, from_tzif or utc.
  struct Type {
    std::chrono::seconds offset{};
    bool is_dst = false;
  };
  TimeZone(std::string name, std::vector<Instant> times, std::vector<uint8_t> type_of_time,
           std::vector<Type> types, std::optional<PosixZoneRule> footer);

 private:
  std::string name_;
  std::vector<Instant> times_;         // ascending
  std::vector<uint8_t> type_of_time_;  // index into types_, one per time
  std::vector<Type> types_;            // at least one
  std::optional<PosixZoneRule> footer_;
  std::vector<std::chrono::seconds> distinct_offsets_;
};

}  // namespace sprout::events
