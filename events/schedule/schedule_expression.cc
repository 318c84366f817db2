#include "events/schedule/schedule_expression.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace sprout::events {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::local_days;
using std::chrono::minutes;
using std::chrono::seconds;
using std::chrono::year_month_day;

namespace {

constexpr int64_t kMaxRateValue = 1000000;

constexpr std::array<std::string_view, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> kDayNames = {"SUN", "MON", "TUE", "WED",
                                                       "THU", "FRI", "SAT"};

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> split_on_spaces(std::string_view text) {
  std::vector<std::string_view> parts;
  size_t at = 0;
  while (at < text.size()) {
    while (at < text.size() && std::isspace(static_cast<unsigned char>(text[at]))) ++at;
    const size_t start = at;
    while (at < text.size() && !std::isspace(static_cast<unsigned char>(text[at]))) ++at;
    if (at > start) parts.push_back(text.substr(start, at - start));
  }
  return parts;
}

std::vector<std::string_view> split_on(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

std::optional<int64_t> parse_count(std::string_view text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

unsigned last_day_of(year_month_day date) {
  return static_cast<unsigned>(
      std::chrono::year_month_day_last{date.year(), std::chrono::month_day_last{date.month()}}
          .day());
}

unsigned weekday_of(year_month_day date) {
  return std::chrono::weekday{std::chrono::sys_days{date}}.c_encoding();
}

unsigned weekday_of(year_month_day date, unsigned day) {
  return weekday_of(year_month_day{date.year(), date.month(), std::chrono::day{day}});
}

}  // namespace

// Reads one cron field into the expression. Errors name the field.
class CronFieldParser {
 public:
  struct Spec {
    std::string_view name;
    int min;
    int max;
    const std::string_view* names = nullptr;  // values from name_base on
    size_t name_count = 0;
    int name_base = 0;
  };

  CronFieldParser(std::string_view expression, const Spec& spec, std::string_view text)
      : expression_(expression), spec_(spec), text_(text) {}

  std::unexpected<Error> error(const std::string& why) const {
    return plain_error("invalid schedule expression \"" + std::string(expression_) + "\"",
                       std::string(spec_.name) + " field \"" + std::string(text_) + "\": " + why);
  }

  // A number or a name, within the field's range.
  Result<int> value(std::string_view token) const {
    if (token.empty()) return error("a value is missing");
    if (std::isdigit(static_cast<unsigned char>(token.front()))) {
      auto number = parse_count(token);
      if (!number) return error("\"" + std::string(token) + "\" is not a number");
      if (*number < spec_.min || *number > spec_.max)
        return error(std::string(token) + " is out of range " + std::to_string(spec_.min) + "-" +
                     std::to_string(spec_.max));
      return static_cast<int>(*number);
    }
    for (size_t i = 0; i < spec_.name_count; ++i) {
      if (equals_ignoring_case(token, spec_.names[i])) return spec_.name_base + static_cast<int>(i);
    }
    return error("\"" + std::string(token) + "\" is not a value of this field");
  }

  // One element: *, a, a-b, each with an optional /step; sets `bits`
  // (indexed by value - min).
  Result<void> element(std::string_view item, std::vector<bool>& bits) const {
    std::string_view base = item;
    int step = 1;
    if (const size_t slash = item.find('/'); slash != std::string_view::npos) {
      base = item.substr(0, slash);
      auto parsed = parse_count(item.substr(slash + 1));
      if (!parsed) return error("the step of \"" + std::string(item) + "\" is not a number");
      if (*parsed < 1) return error("the step of \"" + std::string(item) + "\" must be at least 1");
      step = static_cast<int>(std::min<int64_t>(*parsed, spec_.max - spec_.min + 1));
    }
    int first = spec_.min;
    int last = spec_.max;
    if (base != "*") {
      const size_t dash = base.find('-');
      auto from = value(base.substr(0, dash));
      if (!from) return std::unexpected(from.error());
      first = *from;
      if (dash != std::string_view::npos) {
        auto to = value(base.substr(dash + 1));
        if (!to) return std::unexpected(to.error());
        last = *to;
        if (last < first) return error("the range \"" + std::string(base) + "\" runs backwards");
      } else if (step == 1) {
        last = first;  // a single value; "a/n" runs from a to the maximum
      }
    }
    for (int v = first; v <= last; v += step) bits[v - spec_.min] = true;
    return {};
  }

  // A plain field (no L, W, #, ?).
  Result<std::vector<bool>> plain() const {
    std::vector<bool> bits(spec_.max - spec_.min + 1, false);
    if (text_.empty()) return error("empty");
    for (std::string_view item : split_on(text_, ',')) {
      if (item.find_first_of("LW#?") != std::string_view::npos && !has_letters_only_name(item))
        return error("\"" + std::string(item) +
                     "\": L, W, # and ? are allowed only in the day fields of cron(...)");
      if (auto r = element(item, bits); !r) return std::unexpected(r.error());
    }
    return bits;
  }

 private:
  // "JUL" or "WED" contain L or W but are names, not special characters.
  bool has_letters_only_name(std::string_view item) const {
    for (std::string_view token : split_on(item.substr(0, item.find('/')), '-')) {
      if (!value(token)) return false;
    }
    return true;
  }

  std::string_view expression_;
  Spec spec_;
  std::string_view text_;
};

namespace {

using Spec = CronFieldParser::Spec;
constexpr Spec kMinuteSpec{"minutes", 0, 59};
constexpr Spec kHourSpec{"hours", 0, 23};
constexpr Spec kDayOfMonthSpec{"day-of-month", 1, 31};
constexpr Spec kMonthSpec{"month", 1, 12, kMonthNames.data(), kMonthNames.size(), 1};
constexpr Spec kEventBridgeWeekdaySpec{"day-of-week", 1, 7, kDayNames.data(), kDayNames.size(), 1};
constexpr Spec kUnixWeekdaySpec{"day-of-week", 0, 7, kDayNames.data(), kDayNames.size(), 0};
constexpr Spec kYearSpec{"year", ScheduleExpression::kFirstYear, ScheduleExpression::kLastYear};

std::optional<std::string_view> expand_macro(std::string_view text) {
  struct Macro {
    std::string_view name;
    std::string_view fields;
  };
  static constexpr std::array<Macro, 7> kMacros = {{{"@yearly", "0 0 1 1 *"},
                                                    {"@annually", "0 0 1 1 *"},
                                                    {"@monthly", "0 0 1 * *"},
                                                    {"@weekly", "0 0 * * 0"},
                                                    {"@daily", "0 0 * * *"},
                                                    {"@midnight", "0 0 * * *"},
                                                    {"@hourly", "0 * * * *"}}};
  for (const Macro& macro : kMacros) {
    if (equals_ignoring_case(text, macro.name)) return macro.fields;
  }
  return std::nullopt;
}

template <size_t N>
std::bitset<N> to_bits(const std::vector<bool>& values, int offset) {
  std::bitset<N> bits;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i]) bits.set(i + offset);
  }
  return bits;
}

}  // namespace

Result<ScheduleExpression> ScheduleExpression::parse(std::string_view text) {
  const std::string_view trimmed = trim(text);
  auto bad = [&](const std::string& why) {
    return plain_error("invalid schedule expression \"" + std::string(trimmed) + "\"", why);
  };
  if (trimmed.empty()) return bad("empty; expected cron(...), rate(...) or five cron fields");
  if (trimmed.size() > 256) return bad("longer than 256 characters");
  auto inner_of = [&](std::string_view prefix) -> std::optional<std::string_view> {
    if (trimmed.size() < prefix.size() || !equals_ignoring_case(trimmed.substr(0, prefix.size()), prefix))
      return std::nullopt;
    return trimmed.substr(prefix.size());
  };
  for (std::string_view prefix : {"rate(", "cron("}) {
    auto rest = inner_of(prefix);
    if (!rest) continue;
    if (rest->empty() || rest->back() != ')') return bad("no closing parenthesis");
    const std::string_view inner = rest->substr(0, rest->size() - 1);
    return prefix == std::string_view("rate(")
               ? parse_rate(trimmed, inner)
               : parse_cron(trimmed, inner, Kind::kEventBridgeCron);
  }
  if (trimmed.front() == '@') {
    auto fields = expand_macro(trimmed);
    if (!fields)
      return bad("unknown macro; expected @yearly, @annually, @monthly, @weekly, @daily, "
                 "@midnight or @hourly");
    return parse_cron(trimmed, *fields, Kind::kUnixCron);
  }
  return parse_cron(trimmed, trimmed, Kind::kUnixCron);
}

Result<ScheduleExpression> ScheduleExpression::parse_rate(std::string_view text,
                                                          std::string_view inner) {
  auto bad = [&](const std::string& why) {
    return plain_error("invalid schedule expression \"" + std::string(text) + "\"", why);
  };
  const auto parts = split_on_spaces(inner);
  if (parts.size() != 2) return bad("expected rate(value unit), e.g. rate(5 minutes)");
  auto value = parse_count(parts[0]);
  if (!value || *value < 1 || *value > kMaxRateValue)
    return bad("rate value \"" + std::string(parts[0]) + "\" is not a whole number from 1 to " +
               std::to_string(kMaxRateValue));
  struct Unit {
    std::string_view singular;
    std::string_view plural;
    int64_t seconds;
  };
  static constexpr std::array<Unit, 4> kUnits = {{{"second", "seconds", 1},
                                                  {"minute", "minutes", 60},
                                                  {"hour", "hours", 3600},
                                                  {"day", "days", 86400}}};
  for (const Unit& unit : kUnits) {
    const bool singular = parts[1] == unit.singular;
    const bool plural = parts[1] == unit.plural;
    if (!singular && !plural) continue;
    if (singular && *value != 1)
      return bad("rate unit \"" + std::string(unit.singular) + "\" needs the value 1; use \"" +
                 std::string(unit.plural) + "\"");
    if (plural && *value == 1)
      return bad("rate value 1 needs the singular unit \"" + std::string(unit.singular) + "\"");
    ScheduleExpression expression;
    expression.kind_ = Kind::kRate;
    expression.text_ = std::string(text);
    expression.period_ = seconds(*value * unit.seconds);
    return expression;
  }
  return bad("rate unit \"" + std::string(parts[1]) +
             "\" is not one of second(s), minute(s), hour(s), day(s)");
}

Result<ScheduleExpression> ScheduleExpression::parse_cron(std::string_view text,
                                                          std::string_view fields, Kind kind) {
  const bool eventbridge = kind == Kind::kEventBridgeCron;
  const auto parts = split_on_spaces(fields);
  const size_t expected = eventbridge ? 6 : 5;
  if (parts.size() != expected) {
    return plain_error(
        "invalid schedule expression \"" + std::string(text) + "\"",
        eventbridge ? "cron(...) needs 6 fields: minutes hours day-of-month month day-of-week "
                      "year; got " + std::to_string(parts.size())
                    : "expected cron(...), rate(...) or 5 cron fields (minute hour "
                      "day-of-month month day-of-week); got " + std::to_string(parts.size()) +
                          " fields");
  }
  ScheduleExpression expression;
  expression.kind_ = kind;
  expression.text_ = std::string(text);

  auto plain_field = [&](const Spec& spec, std::string_view field) {
    return CronFieldParser(text, spec, field).plain();
  };
  auto minute_bits = plain_field(kMinuteSpec, parts[0]);
  if (!minute_bits) return std::unexpected(minute_bits.error());
  expression.minutes_ = to_bits<60>(*minute_bits, 0);
  auto hour_bits = plain_field(kHourSpec, parts[1]);
  if (!hour_bits) return std::unexpected(hour_bits.error());
  expression.hours_ = to_bits<24>(*hour_bits, 0);
  auto month_bits = plain_field(kMonthSpec, parts[3]);
  if (!month_bits) return std::unexpected(month_bits.error());
  expression.months_ = to_bits<13>(*month_bits, 1);
  if (eventbridge) {
    auto year_bits = plain_field(kYearSpec, parts[5]);
    if (!year_bits) return std::unexpected(year_bits.error());
    expression.years_ = *year_bits;
  } else {
    expression.years_.assign(kLastYear - kFirstYear + 1, true);
  }

  const std::string_view dom = parts[2];
  const std::string_view dow = parts[4];
  const CronFieldParser dom_parser(text, kDayOfMonthSpec, dom);
  const CronFieldParser dow_parser(text, eventbridge ? kEventBridgeWeekdaySpec : kUnixWeekdaySpec,
                                   dow);
  if (eventbridge) {
    if (dom == "?" && dow == "?")
      return dom_parser.error("day-of-month and day-of-week cannot both be ?");
    if (dom != "?" && dow != "?")
      return dow_parser.error("one of day-of-month and day-of-week must be ? (EventBridge)");
    expression.day_of_month_any_ = dom == "?" || dom == "*";
    expression.day_of_week_any_ = dow == "?" || dow == "*";
  } else {
    if (dom == "?" || dow == "?")
      return (dom == "?" ? dom_parser : dow_parser)
          .error("? is for cron(...) only; use * in Unix cron");
    // Vixie cron's rule: a field "starting with *" is unrestricted for the
    // either-or decision, even "*/2".
    expression.days_either_ = dom.front() != '*' && dow.front() != '*';
  }

  // Day of month: numbers, ranges, steps; and in EventBridge L, LW, nW.
  if (!expression.day_of_month_any_) {
    std::vector<bool> bits(31, false);
    for (std::string_view item : split_on(dom, ',')) {
      const bool special = item == "L" || item == "LW" || (item.size() > 1 && item.back() == 'W');
      if (special && !eventbridge)
        return dom_parser.error("L and W are allowed only in cron(...)");
      if (item == "L") {
        expression.last_day_of_month_ = true;
      } else if (item == "LW") {
        expression.last_weekday_of_month_ = true;
      } else if (special) {
        auto day = dom_parser.value(item.substr(0, item.size() - 1));
        if (!day) return std::unexpected(day.error());
        expression.nearest_weekday_to_.push_back(*day);
      } else {
        if (item.find_first_of("LW#?") != std::string_view::npos)
          return dom_parser.error("\"" + std::string(item) +
                                  "\" is not a day, L, LW or nW (e.g. 15W)");
        if (auto r = dom_parser.element(item, bits); !r) return std::unexpected(r.error());
      }
    }
    expression.days_of_month_ = to_bits<32>(bits, 1);
  }

  // Day of week: numbers, names, ranges, steps; and in EventBridge L, dL, d#n.
  if (!expression.day_of_week_any_) {
    const int first = eventbridge ? 1 : 0;
    std::vector<bool> bits(eventbridge ? 7 : 8, false);
    auto weekday = [&](std::string_view token) -> Result<int> {
      auto v = dow_parser.value(token);
      if (!v) return std::unexpected(v.error());
      return (*v - first) % 7;  // 0 = Sunday; Unix 7 is Sunday too
    };
    for (std::string_view item : split_on(dow, ',')) {
      const size_t hash = item.find('#');
      // No day name ends in L, so "5L" and "THUL" are "the last ..." forms.
      const bool last_of = item.size() > 1 && item.back() == 'L';
      if ((hash != std::string_view::npos || item == "L" || last_of) && !eventbridge)
        return dow_parser.error("L and # are allowed only in cron(...)");
      if (item == "L") {
        bits[6] = true;  // the week's last day: Saturday
      } else if (hash != std::string_view::npos) {
        auto day = weekday(item.substr(0, hash));
        if (!day) return std::unexpected(day.error());
        auto nth = parse_count(item.substr(hash + 1));
        if (!nth || *nth < 1 || *nth > 5)
          return dow_parser.error("\"" + std::string(item) + "\": the week after # must be 1 to 5");
        expression.nth_weekday_.emplace_back(*day, static_cast<int>(*nth));
      } else if (last_of) {
        auto day = weekday(item.substr(0, item.size() - 1));
        if (!day) return std::unexpected(day.error());
        expression.last_weekday_in_month_.push_back(*day);
      } else {
        if (item.find_first_of("#?") != std::string_view::npos)
          return dow_parser.error("\"" + std::string(item) + "\" is not a day, L, dL or d#n");
        if (auto r = dow_parser.element(item, bits); !r) return std::unexpected(r.error());
      }
    }
    for (size_t i = 0; i < bits.size(); ++i) {
      if (bits[i]) expression.weekdays_.set(i % 7);  // Unix 7 is Sunday
    }
  }
  return expression;
}

bool ScheduleExpression::day_of_month_matches(year_month_day date) const {
  if (day_of_month_any_) return true;
  const unsigned day = static_cast<unsigned>(date.day());
  if (days_of_month_.test(day)) return true;
  const unsigned last = last_day_of(date);
  if (last_day_of_month_ && day == last) return true;
  if (last_weekday_of_month_) {
    const unsigned weekday = weekday_of(date, last);
    const unsigned last_weekday = weekday == 6 ? last - 1 : weekday == 0 ? last - 2 : last;
    if (day == last_weekday) return true;
  }
  for (int target_signed : nearest_weekday_to_) {
    const auto target = static_cast<unsigned>(target_signed);
    if (target > last) continue;  // no 31st this month: no nearest weekday either
    // The nearest weekday without leaving the month: a Saturday 1st moves
    // to Monday 3rd, a Sunday last day to Friday.
    unsigned nearest = target;
    const unsigned weekday = weekday_of(date, target);
    if (weekday == 6) nearest = target == 1 ? 3 : target - 1;
    if (weekday == 0) nearest = target == last ? target - 2 : target + 1;
    if (day == nearest) return true;
  }
  return false;
}

bool ScheduleExpression::day_of_week_matches(year_month_day date) const {
  if (day_of_week_any_) return true;
  const unsigned weekday = weekday_of(date);
  if (weekdays_.test(weekday)) return true;
  const unsigned day = static_cast<unsigned>(date.day());
  for (int last_of : last_weekday_in_month_) {
    if (static_cast<unsigned>(last_of) == weekday && day + 7 > last_day_of(date)) return true;
  }
  for (const auto& [nth_day, nth] : nth_weekday_) {
    if (static_cast<unsigned>(nth_day) == weekday && (day - 1) / 7 + 1 == static_cast<unsigned>(nth))
      return true;
  }
  return false;
}

bool ScheduleExpression::day_matches(year_month_day date) const {
  if (days_either_) return day_of_month_matches(date) || day_of_week_matches(date);
  return day_of_month_matches(date) && day_of_week_matches(date);
}

std::optional<LocalTime> ScheduleExpression::next_match(LocalTime from) const {
  if (kind_ == Kind::kRate) return std::nullopt;
  auto t = std::chrono::ceil<minutes>(from);
  for (;;) {
    const local_days day = std::chrono::floor<days>(t);
    const year_month_day date{day};
    const int year = static_cast<int>(date.year());
    if (year > kLastYear) return std::nullopt;
    if (year < kFirstYear) {
      t = local_days{std::chrono::year{kFirstYear} / 1 / 1};
      continue;
    }
    if (!years_[year - kFirstYear]) {
      int next_year = year + 1;
      while (next_year <= kLastYear && !years_[next_year - kFirstYear]) ++next_year;
      if (next_year > kLastYear) return std::nullopt;
      t = local_days{std::chrono::year{next_year} / 1 / 1};
      continue;
    }
    const auto month = static_cast<unsigned>(date.month());
    if (!months_.test(month)) {
      unsigned next_month = month + 1;
      while (next_month <= 12 && !months_.test(next_month)) ++next_month;
      t = next_month <= 12 ? local_days{date.year() / std::chrono::month{next_month} / 1}
                           : local_days{(date.year() + std::chrono::years(1)) / 1 / 1};
      continue;
    }
    if (!day_matches(date)) {
      t = day + days(1);
      continue;
    }
    const auto minute_of_day = static_cast<int>((t - day).count());
    const int hour = minute_of_day / 60;
    const int minute = minute_of_day % 60;
    if (!hours_.test(hour)) {
      int next_hour = hour + 1;
      while (next_hour < 24 && !hours_.test(next_hour)) ++next_hour;
      t = next_hour < 24 ? day + hours(next_hour) : day + days(1);
      continue;
    }
    if (!minutes_.test(minute)) {
      int next_minute = minute + 1;
      while (next_minute < 60 && !minutes_.test(next_minute)) ++next_minute;
      t = next_minute < 60 ? day + hours(hour) + minutes(next_minute) : day + hours(hour + 1);
      continue;
    }
    return LocalTime{t};
  }
}

std::optional<Instant> ScheduleExpression::next_fire(Instant after, const TimeZone& zone,
                                                     Instant rate_anchor) const {
  if (kind_ != Kind::kRate) return next_cron_fire(after, zone);
  // anchor + k * period for the smallest k with a result after `after`.
  const int64_t elapsed = (after - rate_anchor).count();
  const int64_t period = period_.count();
  int64_t k = elapsed / period;
  if (elapsed % period != 0 && elapsed < 0) --k;  // floor, also before the anchor
  return rate_anchor + period_ * (k + 1);
}

// Walks the zone's segments of constant offset from `after` on: within one,
// wall-clock time is a plain shift of absolute time; at each transition the
// DST rules of the header decide what the skipped or repeated local times do.
std::optional<Instant> ScheduleExpression::next_cron_fire(Instant after,
                                                          const TimeZone& zone) const {
  const bool follow_clock = runs_every_hour();
  auto local_of = [](Instant t, seconds offset) { return LocalTime{(t + offset).time_since_epoch()}; };
  // The latest wall-clock time already shown: after a fall back, the
  // repeated times up to it have run in their first occurrence.
  std::optional<LocalTime> shown_until;
  if (!follow_clock) {
    if (auto last = zone.last_transition_at_or_before(after); last && last->before > last->after)
      shown_until = local_of(last->at, last->before);
  }
  Instant segment_start = after;
  bool first_segment = true;
  // Two transitions a year at most in real zones: this bounds the walk far
  // beyond the year 2199 for any of them.
  for (int segment = 0; segment < 2000; ++segment) {
    const seconds offset = zone.offset_at(segment_start);
    const auto transition = zone.next_transition_after(segment_start);
    LocalTime from = local_of(segment_start, offset) + seconds(first_segment ? 1 : 0);
    if (shown_until && *shown_until > from) from = *shown_until;
    const std::optional<LocalTime> segment_end =
        transition ? std::optional(local_of(transition->at, offset)) : std::nullopt;
    if (!segment_end || from < *segment_end) {
      const auto match = next_match(from);
      if (!match) return std::nullopt;
      if (!segment_end || *match < *segment_end)
        return Instant{match->time_since_epoch()} - offset;
    }
    if (!transition) return std::nullopt;
    if (!follow_clock) {
      const LocalTime before = local_of(transition->at, transition->before);
      const LocalTime after_change = local_of(transition->at, transition->after);
      if (transition->after > transition->before) {
        // Spring forward: the skipped times run once, when the gap ends.
        const LocalTime gap_from = shown_until ? std::max(before, *shown_until) : before;
        if (auto match = next_match(gap_from); match && *match < after_change)
          return transition->at;
      } else {
        shown_until = shown_until ? std::max(*shown_until, before) : before;
      }
    }
    segment_start = transition->at;
    first_segment = false;
  }
  return std::nullopt;
}

}  // namespace sprout::events
