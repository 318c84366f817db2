// The TZif reader against the system's tzdata (transitions checked against
// Python's zoneinfo) and against crafted files for the footer's rule forms.
#include "events/schedule/time_zone.h"

#include <gtest/gtest.h>

#include "tests/events/schedule/time_test_support.h"

namespace sprout::events {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::local;
using testing::make_tzif;
using testing::utc;

std::shared_ptr<const TimeZone> zone(const std::string& name) {
  auto loaded = TimeZone::load(name);
  EXPECT_TRUE(loaded) << loaded.error().message();
  return loaded ? *loaded : TimeZone::utc();
}

TEST(TimeZoneTest, UtcIsBuiltInAndTheDefault) {
  for (const char* name : {"", "UTC"}) {
    auto z = TimeZone::load(name, "/nonexistent");
    ASSERT_TRUE(z) << z.error().message();
    EXPECT_EQ((*z)->name(), "UTC");
    EXPECT_EQ((*z)->offset_at(utc(2026, 7, 1)), seconds(0));
    EXPECT_FALSE((*z)->next_transition_after(utc(2026, 1, 1)));
  }
}

TEST(TimeZoneTest, RefusesNamesOutsideTheZoneDirectory) {
  for (const char* name : {"../../etc/passwd", "/etc/localtime", "Europe/../../etc/passwd",
                           "Europe//Berlin", "./UTC", "Europe/Berlin/", "Europe/Ber lin",
                           "Europe/Berlin\n"}) {
    auto z = TimeZone::load(name);
    ASSERT_FALSE(z) << name;
    EXPECT_NE(z.error().message().find("time zone"), std::string::npos);
  }
  auto unknown = TimeZone::load("Mars/Olympus_Mons");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message().find("unknown"), std::string::npos);
}

TEST(TimeZoneTest, BerlinOffsetsAndTransitionsIn2026And2027) {
  auto berlin = zone("Europe/Berlin");
  EXPECT_EQ(berlin->offset_at(utc(2026, 1, 15)), hours(1));
  EXPECT_EQ(berlin->offset_at(utc(2026, 7, 15)), hours(2));
  EXPECT_EQ(berlin->offset_at(utc(2026, 3, 29, 0, 59, 59)), hours(1));
  EXPECT_EQ(berlin->offset_at(utc(2026, 3, 29, 1)), hours(2));
  EXPECT_EQ(berlin->offset_at(utc(2026, 10, 25, 0, 59, 59)), hours(2));
  EXPECT_EQ(berlin->offset_at(utc(2026, 10, 25, 1)), hours(1));

  auto spring = berlin->next_transition_after(utc(2026, 1, 1));
  ASSERT_TRUE(spring);
  EXPECT_EQ(spring->at, utc(2026, 3, 29, 1));
  EXPECT_EQ(spring->before, hours(1));
  EXPECT_EQ(spring->after, hours(2));
  auto fall = berlin->next_transition_after(spring->at);
  ASSERT_TRUE(fall);
  EXPECT_EQ(fall->at, utc(2026, 10, 25, 1));
  auto spring27 = berlin->next_transition_after(fall->at);
  ASSERT_TRUE(spring27);
  EXPECT_EQ(spring27->at, utc(2027, 3, 28, 1));
  EXPECT_EQ(berlin->next_transition_after(spring27->at)->at, utc(2027, 10, 31, 1));

  auto last = berlin->last_transition_at_or_before(utc(2026, 10, 25, 1));
  ASSERT_TRUE(last);
  EXPECT_EQ(last->at, utc(2026, 10, 25, 1));
  EXPECT_EQ(berlin->last_transition_at_or_before(utc(2026, 10, 25, 0, 59))->at,
            utc(2026, 3, 29, 1));
}

TEST(TimeZoneTest, BerlinLocalTimesInTheGapAndTheOverlap) {
  auto berlin = zone("Europe/Berlin");
  // Spring: 02:00 CET becomes 03:00 CEST; 02:30 never happens.
  auto gap = berlin->to_instants(local(2026, 3, 29, 2, 30));
  EXPECT_TRUE(gap.instants.empty());
  ASSERT_TRUE(gap.gap_end);
  EXPECT_EQ(*gap.gap_end, utc(2026, 3, 29, 1));
  auto after_gap = berlin->to_instants(local(2026, 3, 29, 3, 0));
  ASSERT_EQ(after_gap.instants.size(), 1u);
  EXPECT_EQ(after_gap.instants[0], utc(2026, 3, 29, 1));
  // Fall: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
  auto overlap = berlin->to_instants(local(2026, 10, 25, 2, 30));
  ASSERT_EQ(overlap.instants.size(), 2u);
  EXPECT_EQ(overlap.instants[0], utc(2026, 10, 25, 0, 30));
  EXPECT_EQ(overlap.instants[1], utc(2026, 10, 25, 1, 30));
  EXPECT_FALSE(overlap.gap_end);
  auto plain = berlin->to_instants(local(2026, 6, 1, 12, 0));
  ASSERT_EQ(plain.instants.size(), 1u);
  EXPECT_EQ(plain.instants[0], utc(2026, 6, 1, 10, 0));
  EXPECT_EQ(berlin->to_local(utc(2026, 6, 1, 10, 0)), local(2026, 6, 1, 12, 0));
}

TEST(TimeZoneTest, NewYorkTransitionsIn2026And2027) {
  auto new_york = zone("America/New_York");
  const std::pair<Instant, Instant> expected[] = {
      {utc(2026, 3, 8, 7), utc(2026, 11, 1, 6)}, {utc(2027, 3, 14, 7), utc(2027, 11, 7, 6)}};
  Instant probe = utc(2026, 1, 1);
  for (const auto& [spring, fall] : expected) {
    auto start = new_york->next_transition_after(probe);
    ASSERT_TRUE(start);
    EXPECT_EQ(start->at, spring);
    EXPECT_EQ(start->before, hours(-5));
    EXPECT_EQ(start->after, hours(-4));
    auto end = new_york->next_transition_after(start->at);
    ASSERT_TRUE(end);
    EXPECT_EQ(end->at, fall);
    probe = end->at;
  }
  auto gap = new_york->to_instants(local(2027, 3, 14, 2, 15));
  EXPECT_TRUE(gap.instants.empty());
  EXPECT_EQ(gap.gap_end, utc(2027, 3, 14, 7));
  auto overlap = new_york->to_instants(local(2027, 11, 7, 1, 15));
  ASSERT_EQ(overlap.instants.size(), 2u);
  EXPECT_EQ(overlap.instants[0], utc(2027, 11, 7, 5, 15));
  EXPECT_EQ(overlap.instants[1], utc(2027, 11, 7, 6, 15));
}

TEST(TimeZoneTest, FarFutureUsesTheFooterRule) {
  // Debian's files list transitions until 2037; 2045 comes from the footer.
  auto berlin = zone("Europe/Berlin");
  auto spring = berlin->next_transition_after(utc(2045, 1, 1));
  ASSERT_TRUE(spring);
  EXPECT_EQ(spring->at, utc(2045, 3, 26, 1));
  EXPECT_EQ(berlin->next_transition_after(spring->at)->at, utc(2045, 10, 29, 1));
  EXPECT_EQ(berlin->last_transition_at_or_before(utc(2045, 12, 1))->at, utc(2045, 10, 29, 1));
  auto new_york = zone("America/New_York");
  EXPECT_EQ(new_york->next_transition_after(utc(2045, 1, 1))->at, utc(2045, 3, 12, 7));
  EXPECT_EQ(new_york->offset_at(utc(2045, 11, 5, 5, 59)), hours(-4));
  EXPECT_EQ(new_york->offset_at(utc(2045, 11, 5, 6)), hours(-5));
  auto sydney = zone("Australia/Sydney");  // southern hemisphere: DST spans the new year
  EXPECT_EQ(sydney->offset_at(utc(2045, 1, 15)), hours(11));
  EXPECT_EQ(sydney->offset_at(utc(2045, 7, 15)), hours(10));
  EXPECT_EQ(sydney->next_transition_after(utc(2045, 1, 1))->at, utc(2045, 4, 1, 16));
  EXPECT_EQ(sydney->next_transition_after(utc(2045, 5, 1))->at, utc(2045, 9, 30, 16));
}

TEST(TimeZoneTest, LordHoweShiftsByHalfAnHour) {
  auto lord_howe = zone("Australia/Lord_Howe");
  auto end = lord_howe->next_transition_after(utc(2026, 1, 1));
  ASSERT_TRUE(end);
  EXPECT_EQ(end->at, utc(2026, 4, 4, 15));
  EXPECT_EQ(end->before, hours(11));
  EXPECT_EQ(end->after, hours(10) + minutes(30));
  auto start = lord_howe->next_transition_after(end->at);
  ASSERT_TRUE(start);
  EXPECT_EQ(start->at, utc(2026, 10, 3, 15, 30));
  // 02:00 becomes 02:30 on October 4: 02:15 does not exist.
  auto gap = lord_howe->to_instants(local(2026, 10, 4, 2, 15));
  EXPECT_TRUE(gap.instants.empty());
  EXPECT_EQ(gap.gap_end, utc(2026, 10, 3, 15, 30));
  EXPECT_EQ(lord_howe->to_instants(local(2026, 4, 5, 1, 45)).instants.size(), 2u);
}

TEST(TimeZoneTest, FooterOnlyFileWithMonthWeekDayRules) {
  auto z = TimeZone::from_tzif("Test/US", make_tzif({}, {{-18000, false}}, "EST5EDT,M3.2.0,M11.1.0"));
  ASSERT_TRUE(z) << z.error().message();
  EXPECT_EQ((*z)->offset_at(utc(2030, 3, 10, 6, 59)), hours(-5));
  EXPECT_EQ((*z)->offset_at(utc(2030, 3, 10, 7)), hours(-4));
  EXPECT_EQ((*z)->offset_at(utc(2030, 11, 3, 5, 59)), hours(-4));
  EXPECT_EQ((*z)->offset_at(utc(2030, 11, 3, 6)), hours(-5));
  EXPECT_EQ((*z)->to_instants(local(2030, 11, 3, 1, 30)).instants.size(), 2u);
}

TEST(TimeZoneTest, FooterJulianZeroBasedAndNegativeTimes) {
  // Jn never counts February 29: J60 is March 1 in every year; n counts
  // it: day 59 is February 29 in a leap year, March 1 otherwise. Here DST
  // ends at day 59 00:00 daylight time (23:00 UTC the day before) and
  // starts again at J60 00:00: an hour of standard time in 2027, a day and
  // an hour in 2028.
  auto julian = TimeZone::from_tzif("Test/J", make_tzif({}, {{0, false}}, "AAA0BBB,J60/0,59/0"));
  ASSERT_TRUE(julian) << julian.error().message();
  EXPECT_EQ((*julian)->next_transition_after(utc(2027, 1, 1))->at, utc(2027, 2, 28, 23));
  EXPECT_EQ((*julian)->next_transition_after(utc(2027, 2, 28, 23))->at, utc(2027, 3, 1));
  EXPECT_EQ((*julian)->next_transition_after(utc(2028, 1, 1))->at, utc(2028, 2, 28, 23));
  EXPECT_EQ((*julian)->offset_at(utc(2028, 2, 29, 12)), hours(0));
  EXPECT_EQ((*julian)->next_transition_after(utc(2028, 2, 29))->at, utc(2028, 3, 1));
  EXPECT_EQ((*julian)->offset_at(utc(2028, 3, 1, 12)), hours(1));
  // Nuuk: negative rule times ("/-1" is 23:00 the day before).
  auto nuuk = TimeZone::from_tzif("Test/Nuuk",
                                  make_tzif({}, {{-7200, false}}, "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
                                            '3'));
  ASSERT_TRUE(nuuk) << nuuk.error().message();
  EXPECT_EQ((*nuuk)->next_transition_after(utc(2026, 1, 1))->at, utc(2026, 3, 29, 1));
  EXPECT_EQ((*nuuk)->next_transition_after(utc(2026, 4, 1))->at, utc(2026, 10, 25, 1));
  // Permanent daylight time (RFC 8536's example): never a transition.
  auto permanent = TimeZone::from_tzif("Test/Permanent",
                                       make_tzif({}, {{-18000, false}}, "EST5EDT,0/0,J365/25", '3'));
  ASSERT_TRUE(permanent) << permanent.error().message();
  EXPECT_EQ((*permanent)->offset_at(utc(2030, 1, 1, 12)), hours(-4));
  EXPECT_EQ((*permanent)->offset_at(utc(2030, 7, 1)), hours(-4));
  EXPECT_EQ((*permanent)->offset_at(utc(2030, 12, 31, 23)), hours(-4));
  EXPECT_FALSE((*permanent)->next_transition_after(utc(2030, 1, 1)));
}

TEST(TimeZoneTest, ExplicitTransitionsThenFooter) {
  // One transition in 2000 from +1 to +2 without DST, then a footer with
  // DST: the data rules before, the footer after.
  const int64_t change = std::chrono::duration_cast<seconds>(
                             utc(2000, 1, 1).time_since_epoch()).count();
  auto z = TimeZone::from_tzif(
      "Test/Mixed", make_tzif({{change, 1}}, {{3600, false}, {7200, false}}, "XXX-2YYY,M3.5.0,M10.5.0/3"));
  ASSERT_TRUE(z) << z.error().message();
  EXPECT_EQ((*z)->offset_at(utc(1999, 12, 31, 23)), hours(1));
  EXPECT_EQ((*z)->offset_at(utc(2000, 1, 1)), hours(2));
  EXPECT_EQ((*z)->offset_at(utc(2000, 7, 1)), hours(3));
  auto first = (*z)->next_transition_after(utc(1999, 6, 1));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->at, utc(2000, 1, 1));
  EXPECT_EQ((*z)->next_transition_after(first->at)->at, utc(2000, 3, 26, 0));
}

TEST(TimeZoneTest, RefusesBrokenFiles) {
  const std::string good = make_tzif({}, {{0, false}}, "UTC0");
  EXPECT_TRUE(TimeZone::from_tzif("ok", good));
  for (size_t cut : {size_t{0}, size_t{3}, size_t{44}, size_t{60}, good.size() - 1}) {
    EXPECT_FALSE(TimeZone::from_tzif("cut", good.substr(0, cut))) << cut;
  }
  EXPECT_FALSE(TimeZone::from_tzif("no types", make_tzif({}, {}, "UTC0")));
  EXPECT_FALSE(TimeZone::from_tzif("bad index", make_tzif({{0, 3}}, {{0, false}}, "UTC0")));
  EXPECT_FALSE(TimeZone::from_tzif("descending",
                                   make_tzif({{100, 0}, {50, 0}}, {{0, false}}, "UTC0")));
  EXPECT_FALSE(TimeZone::from_tzif("offset", make_tzif({}, {{100000, false}}, "UTC0")));
  auto footer = TimeZone::from_tzif("footer", make_tzif({}, {{0, false}}, "EST5EDT,M13.1.0,M11.1.0"));
  ASSERT_FALSE(footer);
  EXPECT_NE(footer.error().message().find("footer"), std::string::npos);
  std::string leap = good;
  leap[28 + 3] = 1;  // a leap-second count in the first header
  auto right = TimeZone::from_tzif("right/UTC", leap);
  ASSERT_FALSE(right);
  EXPECT_NE(right.error().message().find("leap"), std::string::npos);
}

TEST(PosixZoneRuleTest, ParsesAndRefuses) {
  for (const char* text : {"UTC0", "EST5EDT", "<+0330>-3:30", "CET-1CEST,M3.5.0,M10.5.0/3",
                           "<-02>2<-01>,M3.5.0/-1,M10.5.0/0", "EST5EDT,0/0,J365/25",
                           "AAA+12:30:15BBB+11,J1/167,J365/-167"}) {
    auto rule = PosixZoneRule::parse(text);
    EXPECT_TRUE(rule) << text << ": " << rule.error().message();
  }
  for (const char* text : {"", "E5", "EST", "EST25", "EST5EDT,M3.2.0", "EST5EDT,M3.6.0,M11.1.0",
                           "EST5EDT,M3.2.7,M11.1.0", "EST5EDT,J0,J365", "EST5EDT,366,1",
                           "EST5EDT,M3.2.0/168,M11.1.0", "EST5EDT,M3.2.0,M11.1.0x", "<+03"}) {
    EXPECT_FALSE(PosixZoneRule::parse(text)) << text;
  }
}

}  // namespace
}  // namespace sprout::events
