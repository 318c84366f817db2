// A schedule's expression, parsed, and when it fires next.
//
// Three forms:
//  - EventBridge cron: "cron(min hour day-of-month month day-of-week year)".
//    Each field takes `,` lists, `a-b` ranges, `*`, and `/` steps ("0/15",
//    "*/5", "10-50/10"); month and day names (JAN..DEC, SUN..SAT, any case);
//    day-of-week counts 1 = SUN .. 7 = SAT. Exactly one of day-of-month and
//    day-of-week is `?`. Day-of-month also takes `L` (the last day), `LW`
//    (the last weekday) and `15W` (the weekday nearest the 15th, within the
//    month); day-of-week takes `L` (Saturday, the week's last day), `5L`
//    (the month's last Thursday) and `2#1` (the month's first Monday).
//    Years 1970-2199.
//  - Unix cron, five fields "min hour day-of-month month day-of-week" with
//    day-of-week 0-7 (0 and 7 are Sunday) and names, and the macros
//    @yearly @annually @monthly @weekly @daily @midnight @hourly. As Vixie
//    cron: when both day fields are restricted (neither starts with `*`), a
//    day matches if EITHER matches; otherwise both must.
//  - "rate(N unit)": minute|minutes|hour|hours|day|days, and second|seconds
//    for short intervals; the singular only with N = 1, the plural only
//    otherwise, as EventBridge requires.
//
// Cron times are wall-clock times in the schedule's zone. Daylight saving
// time:
//  - A time that a spring-forward gap skips (02:30 when the clock jumps from
//    02:00 to 03:00) runs once, at the first instant after the gap (03:00),
//    as cronie does, rather than being lost for the year.
//  - A time that a fall-back overlap repeats (02:30 shown twice) runs once,
//    at its first occurrence.
//  - Except for expressions that run every hour (the hour field matches all
//    24 hours, e.g. "*/15 * * * *"): they follow the clock as it is, running
//    in both occurrences of a repeated hour and not at all in a skipped one,
//    so that a job every 15 minutes keeps running every 15 real minutes
//    (cronie's rule for jobs that run at least hourly).
// EventBridge Scheduler differs only in skipping gap times outright; a
// daily job that silently does not run once a year is the worse surprise.
//
// Rates are in absolute time, unaffected by DST: they fire at
// anchor + k * period (the runner anchors at the schedule's creation).
#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/errors.h"
#include "events/schedule/time_zone.h"

namespace sprout::events {

class ScheduleExpression {
 public:
  enum class Kind { kEventBridgeCron, kUnixCron, kRate };

  // The error names the field and what is wrong with it.
  static Result<ScheduleExpression> parse(std::string_view text);

  Kind kind() const { return kind_; }
  const std::string& text() const { return text_; }
  // For rates: the period.
  std::chrono::seconds period() const { return period_; }

  // The first fire strictly after `after`: for cron, in `zone`'s wall-clock
  // time (see above for DST); for rates, rate_anchor + k * period. None
  // when the expression never fires again (a cron whose years are over, or
  // a date that never exists such as February 30).
  std::optional<Instant> next_fire(Instant after, const TimeZone& zone,
                                   Instant rate_anchor = Instant{}) const;

  // The first wall-clock minute at or after `from` that the cron fields
  // match (ignoring zones); none for rates or beyond the year 2199.
  std::optional<LocalTime> next_match(LocalTime from) const;

  // Whether the cron runs every hour (all 24 hours match), which selects
  // the DST behaviour described above.
  bool runs_every_hour() const { return hours_.all(); }

 private:
  ScheduleExpression() = default;
  static Result<ScheduleExpression> parse_rate(std::string_view text, std::string_view inner);
  static Result<ScheduleExpression> parse_cron(std::string_view text, std::string_view fields,
                                               Kind kind);
  bool day_matches(std::chrono::year_month_day date) const;
  bool day_of_month_matches(std::chrono::year_month_day date) const;
  bool day_of_week_matches(std::chrono::year_month_day date) const;
  std::optional<Instant> next_cron_fire(Instant after, const TimeZone& zone) const;

  friend class CronFieldParser;

  Kind kind_ = Kind::kRate;
  std::string text_;
  std::chrono::seconds period_{0};

  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // bit d: day d (1..31)
  std::bitset<13> months_;         // bit m: month m (1..12)
  std::bitset<7> weekdays_;        // bit d: 0 = Sunday .. 6 = Saturday
  std::vector<bool> years_;        // index: year - kFirstYear
  bool day_of_month_any_ = false;  // `?` or `*` (matches every day)
  bool day_of_week_any_ = false;
  // Vixie cron: both day fields restricted means either one matches.
  bool days_either_ = false;
  bool last_day_of_month_ = false;     // L
  bool last_weekday_of_month_ = false;  // LW
  std::vector<int> nearest_weekday_to_;  // 15W
  std::vector<int> last_weekday_in_month_;  // 5L: weekday 0..6
  std::vector<std::pair<int, int>> nth_weekday_;  // 2#1: {weekday 0..6, n 1..5}

 public:
  static constexpr int kFirstYear = 1970;
  static constexpr int kLastYear = 2199;
};

}  // namespace sprout::events
