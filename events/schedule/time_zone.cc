#include "events/schedule/time_zone.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "base/file_io.h"

namespace sprout::events {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::seconds;
using std::chrono::sys_days;

constexpr std::string_view kTzifMagic = "TZif";
constexpr size_t kHeaderSize = 44;
// RFC 8536: offsets within (-25 h, 26 h), the range every real zone keeps.
constexpr int64_t kMinUtcOffset = -89999;
constexpr int64_t kMaxUtcOffset = 93599;

std::unexpected<Error> tzif_error(const std::string& name, std::string detail) {
  return plain_error("read time zone " + name, std::move(detail));
}

uint32_t read_be32(std::string_view bytes, size_t at) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[at + i]);
  return value;
}

int64_t read_be64(std::string_view bytes, size_t at) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[at + i]);
  return static_cast<int64_t>(value);
}

struct TzifHeader {
  char version = 0;
  uint32_t isutcnt = 0;
  uint32_t isstdcnt = 0;
  uint32_t leapcnt = 0;
  uint32_t timecnt = 0;
  uint32_t typecnt = 0;
  uint32_t charcnt = 0;

  // Bytes of the data block that follows; `time_size` is 4 (v1) or 8.
  uint64_t block_size(uint64_t time_size) const {
    return uint64_t{timecnt} * time_size + timecnt + uint64_t{typecnt} * 6 + charcnt +
           uint64_t{leapcnt} * (time_size + 4) + isstdcnt + isutcnt;
  }
};

Result<TzifHeader> read_header(const std::string& name, std::string_view bytes, size_t at) {
  if (bytes.size() < at + kHeaderSize || bytes.substr(at, 4) != kTzifMagic)
    return tzif_error(name, "not a TZif file (no \"TZif\" header)");
  TzifHeader header;
  header.version = bytes[at + 4];
  if (header.version != 0 && header.version != '2' && header.version != '3' &&
      header.version != '4')
    return tzif_error(name, "unknown TZif version");
  header.isutcnt = read_be32(bytes, at + 20);
  header.isstdcnt = read_be32(bytes, at + 24);
  header.leapcnt = read_be32(bytes, at + 28);
  header.timecnt = read_be32(bytes, at + 32);
  header.typecnt = read_be32(bytes, at + 36);
  header.charcnt = read_be32(bytes, at + 40);
  if (header.typecnt == 0) return tzif_error(name, "TZif file without local time types");
  if (header.leapcnt != 0)
    return tzif_error(name, "leap-second zones (right/...) are not supported");
  if ((header.isutcnt != 0 && header.isutcnt != header.typecnt) ||
      (header.isstdcnt != 0 && header.isstdcnt != header.typecnt))
    return tzif_error(name, "TZif indicator counts do not match the type count");
  return header;
}

// --- POSIX TZ strings --------------------------------------------------------

class TzStringReader {
 public:
  explicit TzStringReader(std::string_view text) : text_(text) {}
  bool done() const { return at_ >= text_.size(); }
  char peek() const { return done() ? '\0' : text_[at_]; }
  bool take(char c) {
    if (peek() != c) return false;
    ++at_;
    return true;
  }

  // A zone abbreviation: three or more letters, or <...> with signs and digits.
  bool abbreviation() {
    if (take('<')) {
      const size_t close = text_.find('>', at_);
      if (close == std::string_view::npos || close - at_ < 3) return false;
      at_ = close + 1;
      return true;
    }
    const size_t start = at_;
    while (!done() && std::isalpha(static_cast<unsigned char>(peek()))) ++at_;
    return at_ - start >= 3;
  }

  std::optional<int> number(int max_digits) {
    int value = 0;
    int digits = 0;
    while (digits < max_digits && std::isdigit(static_cast<unsigned char>(peek()))) {
      value = value * 10 + (text_[at_++] - '0');
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    return value;
  }

  // [+-]h[h[h]][:mm[:ss]], hours up to `max_hours`.
  std::optional<seconds> clock_time(int max_hours) {
    int sign = 1;
    if (take('-')) {
      sign = -1;
    } else {
      (void)take('+');  // a plus sign is optional and means nothing
    }
    auto h = number(3);
    if (!h || *h > max_hours) return std::nullopt;
    int total = *h * 3600;
    if (take(':')) {
      auto m = number(2);
      if (!m || *m > 59) return std::nullopt;
      total += *m * 60;
      if (take(':')) {
        auto s = number(2);
        if (!s || *s > 59) return std::nullopt;
        total += *s;
      }
    }
    return seconds(sign * total);
  }

 private:
  std::string_view text_;
  size_t at_ = 0;
};

std::optional<PosixZoneRule::DateRule> read_date_rule(TzStringReader& in) {
  PosixZoneRule::DateRule rule;
  using Form = PosixZoneRule::DateRule::Form;
  if (in.take('J')) {
    auto n = in.number(3);
    if (!n || *n < 1 || *n > 365) return std::nullopt;
    rule.form = Form::kJulianNoLeap;
    rule.day = *n;
  } else if (in.take('M')) {
    auto month = in.number(2);
    if (!month || *month < 1 || *month > 12 || !in.take('.')) return std::nullopt;
    auto week = in.number(1);
    if (!week || *week < 1 || *week > 5 || !in.take('.')) return std::nullopt;
    auto weekday = in.number(1);
    if (!weekday || *weekday > 6) return std::nullopt;
    rule.form = Form::kMonthWeekDay;
    rule.month = *month;
    rule.week = *week;
    rule.day = *weekday;
  } else {
    auto n = in.number(3);
    if (!n || *n > 365) return std::nullopt;
    rule.form = Form::kZeroBasedDay;
    rule.day = *n;
  }
  if (in.take('/')) {
    // RFC 8536 extends POSIX: the time of day may be negative or up to 167 h.
    auto time = in.clock_time(167);
    if (!time) return std::nullopt;
    rule.time = *time;
  }
  return rule;
}

sys_days date_in_year(const PosixZoneRule::DateRule& rule, int year) {
  using Form = PosixZoneRule::DateRule::Form;
  const std::chrono::year y{year};
  const sys_days january_first{y / std::chrono::January / 1};
  switch (rule.form) {
    case Form::kJulianNoLeap: {
      // Day 60 is March 1 in every year: February 29 is never counted.
      const int skip_leap_day = (y.is_leap() && rule.day >= 60) ? 1 : 0;
      return january_first + days(rule.day - 1 + skip_leap_day);
    }
    case Form::kZeroBasedDay:
      return january_first + days(rule.day);
    case Form::kMonthWeekDay:
      break;
  }
  const auto month = std::chrono::month{static_cast<unsigned>(rule.month)};
  const sys_days first{y / month / 1};
  const unsigned first_weekday = std::chrono::weekday{first}.c_encoding();
  const int to_weekday = (rule.day - static_cast<int>(first_weekday) + 7) % 7;
  sys_days day = first + days(to_weekday + (rule.week - 1) * 7);
  const sys_days last{y / month / std::chrono::last};
  while (day > last) day -= days(7);  // week 5: the last such weekday
  return day;
}

int year_of(Instant t) {
  return static_cast<int>(std::chrono::year_month_day{std::chrono::floor<days>(t)}.year());
}

}  // namespace

// --- PosixZoneRule -------------------------------------------------------------

Result<PosixZoneRule> PosixZoneRule::parse(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return plain_error("parse TZ string \"" + std::string(text) + "\"", why);
  };
  TzStringReader in(text);
  PosixZoneRule rule;
  if (!in.abbreviation()) return bad("no standard time name");
  auto std_west = in.clock_time(24);
  if (!std_west) return bad("no valid standard offset");
  rule.std_offset_ = -*std_west;  // POSIX counts west of Greenwich as positive
  if (in.done()) return rule;
  if (!in.abbreviation()) return bad("no valid daylight time name");
  Dst dst;
  dst.offset = rule.std_offset_ + hours(1);
  if (!in.done() && in.peek() != ',') {
    auto dst_west = in.clock_time(24);
    if (!dst_west) return bad("no valid daylight offset");
    dst.offset = -*dst_west;
  }
  if (in.done()) {
    // POSIX leaves the default rules to the implementation; this is the US
    // rule, as glibc uses. TZif footers always spell their rules out.
    dst.start = DateRule{.form = DateRule::Form::kMonthWeekDay, .day = 0, .month = 3, .week = 2};
    dst.end = DateRule{.form = DateRule::Form::kMonthWeekDay, .day = 0, .month = 11, .week = 1};
  } else {
    if (!in.take(',')) return bad("expected ',' before the daylight time start rule");
    auto start = read_date_rule(in);
    if (!start) return bad("invalid daylight time start rule");
    if (!in.take(',')) return bad("expected ',' before the daylight time end rule");
    auto end = read_date_rule(in);
    if (!end) return bad("invalid daylight time end rule");
    if (!in.done()) return bad("unexpected text after the end rule");
    dst.start = *start;
    dst.end = *end;
  }
  rule.dst_ = dst;
  return rule;
}

std::pair<Instant, Instant> PosixZoneRule::changes_in_year(int year) const {
  // The start rule's time is standard time, the end rule's daylight time.
  const Instant start = Instant{date_in_year(dst_->start, year)} + dst_->start.time - std_offset_;
  const Instant end = Instant{date_in_year(dst_->end, year)} + dst_->end.time - dst_->offset;
  return {start, end};
}

namespace {
struct RuleChange {
  Instant at;
  bool starts_dst;
};
}  // namespace

std::chrono::seconds PosixZoneRule::offset_at(Instant t) const {
  if (!dst_) return std_offset_;
  const int year = year_of(t);
  std::vector<RuleChange> changes;
  for (int y = year - 1; y <= year + 1; ++y) {
    auto [start, end] = changes_in_year(y);
    changes.push_back({start, true});
    changes.push_back({end, false});
  }
  // At equal instants the end sorts first, so that a rule whose DST ends
  // exactly when the next starts ("EST5EDT,0/0,J365/25") stays in DST.
  std::sort(changes.begin(), changes.end(), [](const RuleChange& a, const RuleChange& b) {
    return a.at != b.at ? a.at < b.at : (!a.starts_dst && b.starts_dst);
  });
  bool in_dst = false;
  for (const RuleChange& change : changes) {
    if (change.at > t) break;
    in_dst = change.starts_dst;
  }
  return in_dst ? dst_->offset : std_offset_;
}

std::optional<Instant> PosixZoneRule::next_change_after(Instant t) const {
  if (!dst_) return std::nullopt;
  const int year = year_of(t);
  std::vector<Instant> candidates;
  for (int y = year - 1; y <= year + 2; ++y) {
    auto [start, end] = changes_in_year(y);
    candidates.push_back(start);
    candidates.push_back(end);
  }
  std::sort(candidates.begin(), candidates.end());
  for (Instant at : candidates) {
    if (at > t && offset_at(at) != offset_at(at - seconds(1))) return at;
  }
  return std::nullopt;  // DST all year round
}

// --- TimeZone ------------------------------------------------------------------

TimeZone::TimeZone(std::string name, std::vector<Instant> times, std::vector<uint8_t> type_of_time,
                   std::vector<Type> types, std::optional<PosixZoneRule> footer)
    : name_(std::move(name)),
      times_(std::move(times)),
      type_of_time_(std::move(type_of_time)),
      types_(std::move(types)),
      footer_(footer) {
  for (const Type& type : types_) distinct_offsets_.push_back(type.offset);
  if (footer_) {
    distinct_offsets_.push_back(footer_->standard_offset());
    // The daylight offset is whatever the rule gives in its DST season;
    // probing both halves of a year finds it without exposing the rule.
    if (footer_->has_dst()) {
      const Instant probe = times_.empty() ? Instant{} : times_.back();
      for (int month = 0; month < 12; ++month)
        distinct_offsets_.push_back(footer_->offset_at(probe + days(30 * month + 1)));
    }
  }
  std::sort(distinct_offsets_.begin(), distinct_offsets_.end());
  distinct_offsets_.erase(std::unique(distinct_offsets_.begin(), distinct_offsets_.end()),
                          distinct_offsets_.end());
}

std::shared_ptr<const TimeZone> TimeZone::utc() {
  static const std::shared_ptr<const TimeZone> zone = std::make_shared<const TimeZone>(
      "UTC", std::vector<Instant>{}, std::vector<uint8_t>{}, std::vector<Type>{Type{}},
      std::nullopt);
  return zone;
}

Result<std::shared_ptr<const TimeZone>> TimeZone::load(std::string_view name,
                                                        std::string_view zoneinfo_dir) {
  if (name.empty() || name == "UTC") return utc();
  const std::string quoted = "\"" + std::string(name) + "\"";
  if (name.size() > 255) return plain_error("time zone " + quoted.substr(0, 40) + "...", "too long");
  if (name.front() == '/') return plain_error("time zone " + quoted, "must not be an absolute path");
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view part = name.substr(start, end - start);
    if (part.empty() || part == "." || part == "..")
      return plain_error("time zone " + quoted, "is not an IANA zone name (Area/Location)");
    for (char c : part) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '+')
        return plain_error("time zone " + quoted, "is not an IANA zone name (Area/Location)");
    }
    start = end + 1;
  }
  const std::string path = std::string(zoneinfo_dir) + "/" + std::string(name);
  auto bytes = read_whole_file(path);
  if (!bytes) return plain_error("time zone " + quoted, "unknown (" + bytes.error().message() + ")");
  return from_tzif(std::string(name), *bytes);
}

Result<std::shared_ptr<const TimeZone>> TimeZone::from_tzif(std::string name,
                                                             std::string_view bytes) {
  auto v1 = read_header(name, bytes, 0);
  if (!v1) return std::unexpected(v1.error());
  size_t at = kHeaderSize;
  TzifHeader header = *v1;
  size_t time_size = 4;
  if (header.version != 0) {
    // Version 2 and later repeat the data with 64-bit times, then a footer;
    // the 32-bit block is only for old readers.
    if (bytes.size() < at + header.block_size(4))
      return tzif_error(name, "TZif file is truncated");
    at += header.block_size(4);
    auto v2 = read_header(name, bytes, at);
    if (!v2) return std::unexpected(v2.error());
    header = *v2;
    at += kHeaderSize;
    time_size = 8;
  }
  if (bytes.size() < at + header.block_size(time_size))
    return tzif_error(name, "TZif file is truncated");

  std::vector<Instant> times;
  times.reserve(header.timecnt);
  for (uint32_t i = 0; i < header.timecnt; ++i) {
    const int64_t value = time_size == 8 ? read_be64(bytes, at)
                                         : static_cast<int32_t>(read_be32(bytes, at));
    at += time_size;
    if (!times.empty() && Instant{seconds(value)} <= times.back())
      return tzif_error(name, "TZif transition times are not ascending");
    times.emplace_back(seconds(value));
  }
  std::vector<uint8_t> type_of_time;
  type_of_time.reserve(header.timecnt);
  for (uint32_t i = 0; i < header.timecnt; ++i) {
    const auto index = static_cast<uint8_t>(bytes[at++]);
    if (index >= header.typecnt) return tzif_error(name, "TZif transition names no valid type");
    type_of_time.push_back(index);
  }
  std::vector<Type> types;
  for (uint32_t i = 0; i < header.typecnt; ++i) {
    const auto offset = static_cast<int32_t>(read_be32(bytes, at));
    const auto is_dst = static_cast<uint8_t>(bytes[at + 4]);
    at += 6;
    if (offset < kMinUtcOffset || offset > kMaxUtcOffset || is_dst > 1)
      return tzif_error(name, "TZif local time type out of range");
    types.push_back(Type{seconds(offset), is_dst == 1});
  }
  at += header.charcnt + header.isstdcnt + header.isutcnt;  // abbreviations, indicators: unused

  std::optional<PosixZoneRule> footer;
  if (time_size == 8) {
    if (at >= bytes.size() || bytes[at] != '\n') return tzif_error(name, "TZif footer missing");
    const size_t end = bytes.find('\n', at + 1);
    if (end == std::string_view::npos) return tzif_error(name, "TZif footer not terminated");
    const std::string_view text = bytes.substr(at + 1, end - at - 1);
    if (!text.empty()) {
      auto rule = PosixZoneRule::parse(text);
      if (!rule) return tzif_error(name, "TZif footer: " + rule.error().message());
      footer = *rule;
    }
  }
  return std::make_shared<const TimeZone>(std::move(name), std::move(times),
                                          std::move(type_of_time), std::move(types),
                                          footer);
}

std::chrono::seconds TimeZone::offset_at(Instant t) const {
  if (times_.empty() || t > times_.back()) {
    // RFC 8536: the footer covers instants after the last transition (all
    // of them when there is none); without one the last type stays.
    if (footer_) return footer_->offset_at(t);
    return times_.empty() ? types_.front().offset : types_[type_of_time_.back()].offset;
  }
  const auto next = std::upper_bound(times_.begin(), times_.end(), t);
  if (next == times_.begin()) return types_.front().offset;  // before the first transition
  return types_[type_of_time_[next - times_.begin() - 1]].offset;
}

LocalTime TimeZone::to_local(Instant t) const {
  return LocalTime{(t + offset_at(t)).time_since_epoch()};
}

std::optional<ZoneTransition> TimeZone::next_transition_after(Instant t) const {
  auto changes_at = [this](Instant at) { return offset_at(at) != offset_at(at - seconds(1)); };
  auto make = [this](Instant at) {
    return ZoneTransition{at, offset_at(at - seconds(1)), offset_at(at)};
  };
  for (auto it = std::upper_bound(times_.begin(), times_.end(), t); it != times_.end(); ++it) {
    if (changes_at(*it)) return make(*it);
  }
  if (!footer_) return std::nullopt;
  Instant probe = times_.empty() ? t : std::max(t, times_.back());
  // A footer change that the explicit data already made is no change; a few
  // steps always reach a real one when the rule has DST.
  for (int step = 0; step < 8; ++step) {
    auto at = footer_->next_change_after(probe);
    if (!at) return std::nullopt;
    if (changes_at(*at)) return make(*at);
    probe = *at;
  }
  return std::nullopt;
}

std::optional<ZoneTransition> TimeZone::last_transition_at_or_before(Instant t) const {
  auto changes_at = [this](Instant at) { return offset_at(at) != offset_at(at - seconds(1)); };
  auto make = [this](Instant at) {
    return ZoneTransition{at, offset_at(at - seconds(1)), offset_at(at)};
  };
  if (footer_ && footer_->has_dst() && (times_.empty() || t > times_.back())) {
    // Walk the footer's changes forward from a year and a half back and keep
    // the last one at or before t.
    const Instant floor = times_.empty() ? t - days(550) : std::max(t - days(550), times_.back());
    std::optional<Instant> last;
    Instant probe = floor;
    for (int step = 0; step < 8; ++step) {
      auto at = footer_->next_change_after(probe);
      if (!at || *at > t) break;
      if (changes_at(*at)) last = *at;
      probe = *at;
    }
    if (last) return make(*last);
  }
  auto it = std::upper_bound(times_.begin(), times_.end(), t);
  while (it != times_.begin()) {
    --it;
    if (changes_at(*it)) return make(*it);
  }
  return std::nullopt;
}

LocalMapping TimeZone::to_instants(LocalTime local) const {
  LocalMapping mapping;
  const Instant as_utc{local.time_since_epoch()};
  // Each offset the zone ever uses is tried: local - offset is an answer
  // exactly when that offset is in effect then.
  for (seconds offset : distinct_offsets_) {
    const Instant candidate = as_utc - offset;
    if (offset_at(candidate) == offset) mapping.instants.push_back(candidate);
  }
  std::sort(mapping.instants.begin(), mapping.instants.end());
  mapping.instants.erase(std::unique(mapping.instants.begin(), mapping.instants.end()),
                         mapping.instants.end());
  if (!mapping.instants.empty()) return mapping;
  // A gap: find the forward transition whose skipped span holds `local`.
  Instant probe = as_utc - hours(27);
  while (auto transition = next_transition_after(probe)) {
    if (transition->at > as_utc + hours(27)) break;
    const LocalTime skipped_from{(transition->at + transition->before).time_since_epoch()};
    const LocalTime skipped_to{(transition->at + transition->after).time_since_epoch()};
    if (skipped_from <= local && local < skipped_to) {
      mapping.gap_end = transition->at;
      break;
    }
    probe = transition->at;
  }
  return mapping;
}

}  // namespace sprout::events
