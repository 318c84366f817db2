#include "events/schedule/scheduled_event.h"

#include <array>
#include <cstdio>
#include <random>

#include "http/json.h"

namespace sprout::events {

std::string schedule_rule_arn(const ScheduledEventOrigin& origin, const std::string& schedule_id) {
  return "arn:aws:events:" + origin.region + ":" + origin.account + ":rule/" + schedule_id;
}

std::string iso8601_utc(Instant time) {
  const auto day = std::chrono::floor<std::chrono::days>(time);
  const std::chrono::year_month_day date{day};
  const std::chrono::hh_mm_ss clock{time - day};
  std::array<char, 32> text{};
  (void)std::snprintf(text.data(), text.size(), "%04d-%02u-%02uT%02d:%02d:%02dZ",
                      static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                      static_cast<unsigned>(date.day()), static_cast<int>(clock.hours().count()),
                      static_cast<int>(clock.minutes().count()),
                      static_cast<int>(clock.seconds().count()));
  return text.data();
}

std::string random_event_id() {
  // random_device reads the kernel's generator: ids of different sproutd
  // runs never repeat a seeded sequence.
  std::random_device source;
  std::array<uint8_t, 16> bytes{};
  for (size_t i = 0; i < bytes.size(); i += 4) {
    const uint32_t word = source();
    for (size_t j = 0; j < 4; ++j) bytes[i + j] = static_cast<uint8_t>(word >> (8 * j));
  }
  bytes[6] = static_cast<uint8_t>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<uint8_t>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string id;
  static constexpr std::string_view kHex = "0123456789abcdef";
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id += '-';
    id += kHex[bytes[i] >> 4];
    id += kHex[bytes[i] & 0x0f];
  }
  return id;
}

std::string scheduled_event_json(const ScheduledEventOrigin& origin,
                                 const std::string& schedule_id, Instant time,
                                 const std::string& event_id) {
  return http::JsonObjectWriter()
      .string("version", "0")
      .string("id", event_id)
      .string("detail-type", "Scheduled Event")
      .string("source", "aws.events")
      .string("account", origin.account)
      .string("time", iso8601_utc(time))
      .string("region", origin.region)
      .raw("resources", http::json_string_array({schedule_rule_arn(origin, schedule_id)}))
      .raw("detail", "{}")
      .str();
}

}  // namespace sprout::events
