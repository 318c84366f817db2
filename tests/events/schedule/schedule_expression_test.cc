// Schedule expressions: what parses, what is refused and with which field
// named, and when each fires, in UTC and across DST transitions (weekdays
// and transition instants checked against Python's calendar and zoneinfo).
#include "events/schedule/schedule_expression.h"

#include <gtest/gtest.h>

#include "tests/events/schedule/time_test_support.h"

namespace sprout::events {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::utc;

ScheduleExpression parsed(const std::string& text) {
  auto expression = ScheduleExpression::parse(text);
  EXPECT_TRUE(expression) << text << ": " << expression.error().message();
  return expression ? *expression : *ScheduleExpression::parse("rate(1 day)");
}

std::shared_ptr<const TimeZone> zone(const std::string& name) {
  auto loaded = TimeZone::load(name);
  EXPECT_TRUE(loaded) << loaded.error().message();
  return loaded ? *loaded : TimeZone::utc();
}

std::optional<Instant> next_utc(const std::string& text, Instant after) {
  return parsed(text).next_fire(after, *TimeZone::utc());
}

// The next `count` fires after `after` in `zone_name`.
std::vector<Instant> fires(const std::string& text, const std::string& zone_name, Instant after,
                           int count) {
  const auto expression = parsed(text);
  const auto z = zone(zone_name);
  std::vector<Instant> out;
  for (int i = 0; i < count; ++i) {
    auto next = expression.next_fire(after, *z);
    if (!next) break;
    EXPECT_GT(*next, after);
    out.push_back(*next);
    after = *next;
  }
  return out;
}

TEST(ScheduleExpressionTest, ParsesTheThreeForms) {
  for (const char* text :
       {"cron(0 12 * * ? *)", "cron(0/15 * * * ? *)", "cron(0 10 ? * MON-FRI *)",
        "cron(0 0 L * ? *)", "cron(0 0 LW * ? *)", "cron(0 0 15W * ? *)", "cron(0 0 ? * 6L *)",
        "cron(0 0 ? * 2#1 *)", "cron(0 0 ? * L *)", "cron(5,35 14 * JAN,jul ? 2026-2030)",
        "cron(10-50/10 */2 1-15/7 * ? */3)", "cron(0 0 ? * sun,SAT *)", "cron(0 0 ? * THUL *)",
        "cron(0 0 ? * FRI#3 *)", "cron(  0   12 * * ? *  )", "0 12 * * *", "*/5 9-17 * * mon-fri",
        "0 0 1 jan *", "0 0 * * 0,7", "@hourly", "@DAILY", "@yearly", "rate(1 minute)",
        "rate(5 minutes)", "rate(1 hour)", "rate(12 hours)", "rate(1 day)", "rate(7 days)",
        "rate(1 second)", "rate(30 seconds)", "  rate(2 days)  "}) {
    auto expression = ScheduleExpression::parse(text);
    EXPECT_TRUE(expression) << text << ": " << expression.error().message();
  }
  EXPECT_EQ(parsed("cron(0 12 * * ? *)").kind(), ScheduleExpression::Kind::kEventBridgeCron);
  EXPECT_EQ(parsed("0 12 * * *").kind(), ScheduleExpression::Kind::kUnixCron);
  EXPECT_EQ(parsed("rate(30 seconds)").kind(), ScheduleExpression::Kind::kRate);
  EXPECT_EQ(parsed("rate(30 seconds)").period(), seconds(30));
  EXPECT_EQ(parsed("rate(2 hours)").period(), hours(2));
  EXPECT_EQ(parsed("rate(3 days)").period(), hours(72));
}

TEST(ScheduleExpressionTest, RefusalsNameTheFieldAndTheProblem) {
  struct Case {
    const char* text;
    const char* words;  // must appear in the message
  };
  const Case cases[] = {
      {"", "empty"},
      {"cron(0 12 * * ? )", "6 fields"},
      {"cron(0 12 * * ? * *)", "6 fields"},
      {"cron(0 12 * * ? *", "closing parenthesis"},
      {"cron(60 12 * * ? *)", "minutes field \"60\": 60 is out of range 0-59"},
      {"cron(0 24 * * ? *)", "hours field \"24\": 24 is out of range 0-23"},
      {"cron(0 12 32 * ? *)", "day-of-month field \"32\""},
      {"cron(0 12 0 * ? *)", "day-of-month field \"0\": 0 is out of range 1-31"},
      {"cron(0 12 * 13 ? *)", "month field \"13\""},
      {"cron(0 12 * FOO ? *)", "month field \"FOO\""},
      {"cron(0 12 ? * 8 *)", "day-of-week field \"8\": 8 is out of range 1-7"},
      {"cron(0 12 ? * 0 *)", "day-of-week field \"0\""},
      {"cron(0 12 ? * FOO *)", "day-of-week field \"FOO\""},
      {"cron(0 12 * * ? 1969)", "year field \"1969\""},
      {"cron(0 12 * * ? 2200)", "year field \"2200\""},
      {"cron(0 12 * * * *)", "must be ?"},
      {"cron(0 12 1 * MON *)", "must be ?"},
      {"cron(0 12 ? * ? *)", "cannot both be ?"},
      {"cron(0/0 * * * ? *)", "at least 1"},
      {"cron(0/x * * * ? *)", "step"},
      {"cron(30-10 * * * ? *)", "runs backwards"},
      {"cron(0 12 ? * MON#6 *)", "1 to 5"},
      {"cron(0 12 ? * 9#1 *)", "day-of-week field"},
      {"cron(0 12 32W * ? *)", "day-of-month field \"32W\""},
      {"cron(0 12 L-3 * ? *)", "day-of-month field"},
      {"cron(5L * * * ? *)", "minutes field \"5L\""},
      {"cron(0 12 1,,2 * ? *)", "day-of-month field"},
      {"cron(0 12 ? * 2#1# *)", "day-of-week field"},
      {"cron(a 12 * * ? *)", "minutes field"},
      {"0 12 * *", "5 cron fields"},
      {"0 12 * * * *", "5 cron fields"},
      {"0 12 L * *", "only in cron(...)"},
      {"0 12 * * 5L", "only in cron(...)"},
      {"0 12 * * 1#2", "only in cron(...)"},
      {"0 12 ? * *", "use * in Unix cron"},
      {"0 12 * * 8", "day-of-week field \"8\": 8 is out of range 0-7"},
      {"@reboot", "unknown macro"},
      {"rate(5 minute)", "needs the value 1"},
      {"rate(1 minutes)", "singular unit \"minute\""},
      {"rate(0 minutes)", "from 1 to"},
      {"rate(-5 minutes)", "from 1 to"},
      {"rate(five minutes)", "not a whole number"},
      {"rate(5 weeks)", "not one of"},
      {"rate(5)", "rate(value unit)"},
      {"rate(1000001 seconds)", "from 1 to"},
  };
  for (const Case& c : cases) {
    auto expression = ScheduleExpression::parse(c.text);
    ASSERT_FALSE(expression) << c.text;
    EXPECT_NE(expression.error().message().find(c.words), std::string::npos)
        << c.text << " -> " << expression.error().message();
  }
}

TEST(ScheduleExpressionTest, EventBridgeCronInUtc) {
  const Instant new_year = utc(2026, 1, 1);  // a Thursday
  EXPECT_EQ(next_utc("cron(0 12 * * ? *)", new_year), utc(2026, 1, 1, 12));
  EXPECT_EQ(next_utc("cron(0 12 * * ? *)", utc(2026, 1, 1, 12)), utc(2026, 1, 2, 12));
  EXPECT_EQ(next_utc("cron(0/15 * * * ? *)", utc(2026, 1, 1, 0, 7)), utc(2026, 1, 1, 0, 15));
  EXPECT_EQ(next_utc("cron(0/15 * * * ? *)", utc(2026, 1, 1, 0, 45)), utc(2026, 1, 1, 1, 0));
  EXPECT_EQ(next_utc("cron(10-50/20 * * * ? *)", utc(2026, 1, 1, 0, 31)), utc(2026, 1, 1, 0, 50));
  EXPECT_EQ(next_utc("cron(0 10 ? * MON-FRI *)", utc(2026, 1, 3)), utc(2026, 1, 5, 10));
  EXPECT_EQ(next_utc("cron(0 9 ? JAN,JUL MON *)", utc(2026, 1, 6)), utc(2026, 1, 12, 9));
  EXPECT_EQ(next_utc("cron(0 9 ? JAN,JUL MON *)", utc(2026, 1, 27)), utc(2026, 7, 6, 9));
  EXPECT_EQ(next_utc("cron(59 23 31 12 ? *)", new_year), utc(2026, 12, 31, 23, 59));
  // Seconds within the minute: strictly after, so 12:00:30 goes to tomorrow.
  EXPECT_EQ(next_utc("cron(0 12 * * ? *)", utc(2026, 1, 1, 12, 0, 30)), utc(2026, 1, 2, 12));
  EXPECT_EQ(next_utc("cron(0 12 * * ? *)", utc(2026, 1, 1, 11, 59, 59)), utc(2026, 1, 1, 12));
}

TEST(ScheduleExpressionTest, LastWeekdayNearestAndNth) {
  // L: the last day, in leap and common years.
  EXPECT_EQ(next_utc("cron(0 0 L * ? *)", utc(2028, 2, 1)), utc(2028, 2, 29));
  EXPECT_EQ(next_utc("cron(0 0 L * ? *)", utc(2027, 2, 1)), utc(2027, 2, 28));
  EXPECT_EQ(next_utc("cron(0 0 L * ? *)", utc(2026, 4, 1)), utc(2026, 4, 30));
  // LW: January 31 2026 is a Saturday, May 31 a Sunday.
  EXPECT_EQ(next_utc("cron(0 0 LW * ? *)", utc(2026, 1, 1)), utc(2026, 1, 30));
  EXPECT_EQ(next_utc("cron(0 0 LW * ? *)", utc(2026, 5, 1)), utc(2026, 5, 29));
  EXPECT_EQ(next_utc("cron(0 0 LW * ? *)", utc(2026, 3, 1)), utc(2026, 3, 31));
  // nW: the nearest weekday, never across the month's ends.
  EXPECT_EQ(next_utc("cron(0 0 15W * ? *)", utc(2026, 2, 1)), utc(2026, 2, 16));  // Sunday 15th
  EXPECT_EQ(next_utc("cron(0 0 15W * ? *)", utc(2026, 8, 1)), utc(2026, 8, 14));  // Saturday 15th
  EXPECT_EQ(next_utc("cron(0 0 15W * ? *)", utc(2026, 1, 1)), utc(2026, 1, 15));  // a Thursday
  EXPECT_EQ(next_utc("cron(0 0 1W * ? *)", utc(2026, 7, 31)), utc(2026, 8, 3));   // Saturday 1st
  EXPECT_EQ(next_utc("cron(0 0 31W * ? *)", utc(2026, 4, 1)), utc(2026, 5, 29));  // Sunday 31st
  // dL: the last such weekday; d#n: the n-th.
  EXPECT_EQ(next_utc("cron(0 0 ? * 6L *)", utc(2026, 1, 1)), utc(2026, 1, 30));
  EXPECT_EQ(next_utc("cron(0 0 ? * FRIL *)", utc(2026, 2, 1)), utc(2026, 2, 27));
  EXPECT_EQ(next_utc("cron(0 0 ? * 2#1 *)", utc(2026, 1, 6)), utc(2026, 2, 2));
  EXPECT_EQ(next_utc("cron(0 0 ? * MON#1 *)", utc(2026, 2, 3)), utc(2026, 3, 2));
  EXPECT_EQ(next_utc("cron(0 0 ? * 1#5 *)", utc(2026, 1, 1)), utc(2026, 3, 29));
  // L alone in day-of-week: Saturday.
  EXPECT_EQ(next_utc("cron(0 0 ? * L *)", utc(2026, 1, 1)), utc(2026, 1, 3));
}

TEST(ScheduleExpressionTest, LeapDaysYearsAndNever) {
  EXPECT_EQ(next_utc("cron(0 0 29 2 ? *)", utc(2026, 3, 1)), utc(2028, 2, 29));
  EXPECT_EQ(next_utc("cron(0 0 29 2 ? *)", utc(2096, 3, 1)), utc(2104, 2, 29));  // 2100: no leap
  EXPECT_EQ(next_utc("0 0 29 2 *", utc(2026, 3, 1)), utc(2028, 2, 29));
  EXPECT_EQ(next_utc("cron(0 0 1 1 ? 2030)", utc(2026, 6, 1)), utc(2030, 1, 1));
  EXPECT_FALSE(next_utc("cron(0 0 1 1 ? 2030)", utc(2030, 1, 1)));
  EXPECT_EQ(next_utc("cron(0 0 1 1 ? 2026-2099/10)", utc(2026, 6, 1)), utc(2036, 1, 1));
  EXPECT_FALSE(next_utc("cron(0 0 30 2 ? *)", utc(2026, 1, 1)));  // February 30: never
  EXPECT_FALSE(next_utc("0 0 31 4 *", utc(2026, 1, 1)));
}

TEST(ScheduleExpressionTest, UnixCronAndVixieDayRule) {
  const Instant new_year = utc(2026, 1, 1);  // Thursday
  // Both day fields restricted: the 13th OR any Friday.
  EXPECT_EQ(next_utc("0 0 13 * 5", new_year), utc(2026, 1, 2));
  EXPECT_EQ(next_utc("0 0 13 * 5", utc(2026, 1, 9)), utc(2026, 1, 13));
  EXPECT_EQ(next_utc("0 0 13 * *", new_year), utc(2026, 1, 13));
  // A field starting with * is unrestricted for the rule: days 1, 11, 21,
  // 31 AND Friday: first May 1 2026.
  EXPECT_EQ(next_utc("0 0 */10 * 5", new_year), utc(2026, 5, 1));
  EXPECT_EQ(next_utc("30 4 * * 7", new_year), utc(2026, 1, 4, 4, 30));
  EXPECT_EQ(next_utc("30 4 * * 0", new_year), utc(2026, 1, 4, 4, 30));
  EXPECT_EQ(next_utc("30 4 * * sun", new_year), utc(2026, 1, 4, 4, 30));
  EXPECT_EQ(next_utc("0 0 * * 5-7", new_year), utc(2026, 1, 2));  // Fri, Sat, Sun
  EXPECT_EQ(next_utc("*/5 9-17 * * mon-fri", utc(2026, 1, 2, 17, 55)), utc(2026, 1, 5, 9));
  EXPECT_EQ(next_utc("@hourly", utc(2026, 1, 1, 0, 30)), utc(2026, 1, 1, 1));
  EXPECT_EQ(next_utc("@weekly", new_year), utc(2026, 1, 4));
  EXPECT_EQ(next_utc("@monthly", new_year), utc(2026, 2, 1));
  EXPECT_EQ(next_utc("@yearly", new_year), utc(2027, 1, 1));
}

TEST(ScheduleExpressionTest, RatesCountFromTheAnchorInAbsoluteTime) {
  const auto berlin = zone("Europe/Berlin");
  const Instant anchor = utc(2026, 1, 1);
  const auto five = parsed("rate(5 minutes)");
  EXPECT_EQ(five.next_fire(utc(2026, 1, 1, 0, 7), *berlin, anchor), utc(2026, 1, 1, 0, 10));
  EXPECT_EQ(five.next_fire(utc(2026, 1, 1, 0, 10), *berlin, anchor), utc(2026, 1, 1, 0, 15));
  EXPECT_EQ(five.next_fire(anchor, *berlin, anchor), utc(2026, 1, 1, 0, 5));
  EXPECT_EQ(five.next_fire(anchor - minutes(7), *berlin, anchor), anchor - minutes(5));
  const auto second = parsed("rate(1 second)");
  EXPECT_EQ(second.next_fire(anchor + seconds(41), *berlin, anchor), anchor + seconds(42));
  // Across Berlin's transitions, hours and days stay 3600 and 86400 s.
  const auto daily = parsed("rate(1 day)");
  const Instant noon_cet = utc(2026, 3, 28, 11);  // 12:00 CET
  EXPECT_EQ(daily.next_fire(noon_cet, *berlin, noon_cet), utc(2026, 3, 29, 11));  // 13:00 CEST
  const auto hourly = parsed("rate(1 hour)");
  const Instant before_fall = utc(2026, 10, 25, 0);
  EXPECT_EQ(hourly.next_fire(before_fall, *berlin, before_fall), utc(2026, 10, 25, 1));
  EXPECT_EQ(hourly.next_fire(utc(2026, 10, 25, 1), *berlin, before_fall), utc(2026, 10, 25, 2));
  const auto new_york = zone("America/New_York");
  const Instant before_spring = utc(2027, 3, 14, 6, 30);
  EXPECT_EQ(hourly.next_fire(before_spring, *new_york, before_spring), utc(2027, 3, 14, 7, 30));
}

TEST(ScheduleExpressionTest, BerlinSpringGapRunsOnceWhenTheGapEnds) {
  for (int year : {2026, 2027}) {
    const unsigned day = year == 2026 ? 29 : 28;  // the last Sunday of March
    // 02:30 does not exist: it runs at 03:00 CEST (01:00 UTC), then as usual.
    EXPECT_EQ(fires("cron(30 2 * * ? *)", "Europe/Berlin", utc(year, 3, day - 1, 12), 2),
              (std::vector<Instant>{utc(year, 3, day, 1), utc(year, 3, day + 1, 0, 30)}));
    // Several times in the gap still run once.
    EXPECT_EQ(fires("cron(0,20,40 2 * * ? *)", "Europe/Berlin", utc(year, 3, day - 1, 12), 4),
              (std::vector<Instant>{utc(year, 3, day, 1), utc(year, 3, day + 1, 0, 0),
                                    utc(year, 3, day + 1, 0, 20), utc(year, 3, day + 1, 0, 40)}));
    // A time after the gap is not moved.
    EXPECT_EQ(fires("5 3 * * *", "Europe/Berlin", utc(year, 3, day - 1, 12), 1),
              (std::vector<Instant>{utc(year, 3, day, 1, 5)}));
  }
}

TEST(ScheduleExpressionTest, BerlinFallOverlapRunsOnceAtTheFirstOccurrence) {
  for (int year : {2026, 2027}) {
    const unsigned day = year == 2026 ? 25 : 31;  // the last Sunday of October
    // 02:30 happens at 00:30 UTC (CEST) and 01:30 UTC (CET): the first only.
    EXPECT_EQ(fires("cron(30 2 * * ? *)", "Europe/Berlin", utc(year, 10, day - 1, 12), 2),
              (std::vector<Instant>{utc(year, 10, day, 0, 30), utc(year, 10, day + 1, 1, 30)}));
    // Asked from inside the repeated hour, it does not run again.
    EXPECT_EQ(fires("cron(45 2 * * ? *)", "Europe/Berlin", utc(year, 10, day, 1, 10), 1),
              (std::vector<Instant>{utc(year, 10, day + 1, 1, 45)}));
    EXPECT_EQ(fires("cron(15 2 * * ? *)", "Europe/Berlin", utc(year, 10, day, 1, 10), 1),
              (std::vector<Instant>{utc(year, 10, day + 1, 1, 15)}));
  }
}

TEST(ScheduleExpressionTest, EveryHourExpressionsFollowTheClock) {
  // Every 30 minutes through the fall overlap: every 30 real minutes.
  EXPECT_EQ(fires("cron(0/30 * * * ? *)", "Europe/Berlin", utc(2026, 10, 25, 0), 4),
            (std::vector<Instant>{utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 0),
                                  utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 2, 0)}));
  // Through the spring gap: 01:30 CET, then 03:00 CEST, 30 real minutes on.
  EXPECT_EQ(fires("*/30 * * * *", "Europe/Berlin", utc(2026, 3, 29, 0, 15), 3),
            (std::vector<Instant>{utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 0),
                                  utc(2026, 3, 29, 1, 30)}));
  // Hourly at :15: 02:15 does not exist and is not made up.
  EXPECT_EQ(fires("15 * * * *", "Europe/Berlin", utc(2026, 3, 29, 0, 0), 2),
            (std::vector<Instant>{utc(2026, 3, 29, 0, 15), utc(2026, 3, 29, 1, 15)}));
  // And in the repeated hour it runs twice.
  EXPECT_EQ(fires("15 * * * *", "Europe/Berlin", utc(2026, 10, 25, 0, 0), 3),
            (std::vector<Instant>{utc(2026, 10, 25, 0, 15), utc(2026, 10, 25, 1, 15),
                                  utc(2026, 10, 25, 2, 15)}));
}

TEST(ScheduleExpressionTest, NewYorkTransitions2026And2027) {
  // Spring: 02:00 EST becomes 03:00 EDT at 07:00 UTC.
  EXPECT_EQ(fires("cron(0 2 * * ? *)", "America/New_York", utc(2026, 3, 7, 12), 2),
            (std::vector<Instant>{utc(2026, 3, 8, 7), utc(2026, 3, 9, 6)}));
  EXPECT_EQ(fires("cron(30 2 ? * SUN *)", "America/New_York", utc(2027, 3, 13), 2),
            (std::vector<Instant>{utc(2027, 3, 14, 7), utc(2027, 3, 21, 6, 30)}));
  // Fall: 01:30 happens at 05:30 UTC (EDT) and 06:30 UTC (EST).
  EXPECT_EQ(fires("cron(30 1 * * ? *)", "America/New_York", utc(2026, 10, 31, 12), 2),
            (std::vector<Instant>{utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)}));
  EXPECT_EQ(fires("30 1 7 11 *", "America/New_York", utc(2027, 1, 1), 1),
            (std::vector<Instant>{utc(2027, 11, 7, 5, 30)}));
  // 02:00 on the fall day exists once (the overlap is 01:00-02:00 EST).
  EXPECT_EQ(fires("0 2 1 11 *", "America/New_York", utc(2026, 10, 1), 1),
            (std::vector<Instant>{utc(2026, 11, 1, 7)}));
}

TEST(ScheduleExpressionTest, FarFutureAndHalfHourZones) {
  // 2045 is past Debian's explicit transitions: the footer decides.
  EXPECT_EQ(fires("cron(30 2 * * ? 2045)", "Europe/Berlin", utc(2045, 3, 25, 12), 2),
            (std::vector<Instant>{utc(2045, 3, 26, 1), utc(2045, 3, 27, 0, 30)}));
  EXPECT_EQ(fires("cron(30 2 * * ? 2045)", "Europe/Berlin", utc(2045, 10, 28, 12), 2),
            (std::vector<Instant>{utc(2045, 10, 29, 0, 30), utc(2045, 10, 30, 1, 30)}));
  EXPECT_EQ(fires("cron(0 12 1 7 ? 2045)", "America/New_York", utc(2045, 1, 1), 1),
            (std::vector<Instant>{utc(2045, 7, 1, 16)}));
  // Lord Howe: 02:00 becomes 02:30 on October 4 2026 (15:30 UTC the day before).
  EXPECT_EQ(fires("cron(15 2 * * ? *)", "Australia/Lord_Howe", utc(2026, 10, 3, 3), 2),
            (std::vector<Instant>{utc(2026, 10, 3, 15, 30), utc(2026, 10, 4, 15, 15)}));
  // And 01:30-02:00 happens twice on April 5 2026: the first is 14:45 UTC.
  EXPECT_EQ(fires("cron(45 1 * * ? *)", "Australia/Lord_Howe", utc(2026, 4, 4, 3), 2),
            (std::vector<Instant>{utc(2026, 4, 4, 14, 45), utc(2026, 4, 5, 15, 15)}));
  // Kolkata: +05:30 all year.
  EXPECT_EQ(fires("0 9 * * *", "Asia/Kolkata", utc(2026, 6, 1), 1),
            (std::vector<Instant>{utc(2026, 6, 1, 3, 30)}));
}

}  // namespace
}  // namespace sprout::events
