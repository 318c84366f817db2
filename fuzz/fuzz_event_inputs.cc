// Fuzzes what the event sources read from less-trusted hands
// (docs/events.md):
//   mode 0: a queue handler's answer (its result is the tenant's JSON),
//           read as Lambda reads batchItemFailures;
//   mode 1: a schedule expression (from the API), parsed and evaluated in
//           UTC and in Europe/Berlin;
//   mode 2: a TZif file, and the times a schedule computes in that zone.
// The first byte picks the mode; the rest is the input.
//
// Invariants, each an abort when broken:
// - a batch answer never marks as failed an id that is not in the batch,
//   and a whole-batch failure always says why;
// - an expression that parses yields fire times strictly after the instant
//   asked, and asking again from a fire time moves forward;
// - a zone's local time and its instants agree: every instant that a local
//   time maps to shows that local time again.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "events/nats/batch_response.h"
#include "events/schedule/schedule_expression.h"
#include "events/schedule/time_zone.h"
#include "fuzz/fuzz_support.h"

namespace {

using sprout::events::Instant;
using sprout::events::ScheduleExpression;
using sprout::events::TimeZone;

void fail(const char* what) {
  std::fprintf(stderr, "fuzz_event_inputs: invariant broken: %s\n", what);
  std::abort();
}

void batch_answer(std::string_view result) {
  sprout::api::InvokeResponse response;
  response.set_status(sprout::api::OK);
  response.set_result(std::string(result));
  const std::vector<std::string> batch = {"a", "b", "9d7e1f2a-0000-4000-8000-000000000001"};
  const sprout::events::BatchOutcome outcome = sprout::events::read_batch_response(response, batch);
  if (outcome.whole_batch_failed && outcome.reason.empty()) fail("whole batch failed without a reason");
  for (const std::string& id : outcome.failed_ids) {
    bool known = false;
    for (const std::string& in_batch : batch) known = known || id == in_batch;
    if (!known) fail("a failed id that is not in the batch");
  }
}

// A few fires from two starting points; each strictly later than the last.
void walk_fires(const ScheduleExpression& expression, const TimeZone& zone) {
  for (const Instant start : {Instant{std::chrono::seconds{1774746000}},   // 2026-03-29, Berlin's spring forward
                              Instant{std::chrono::seconds{1792886400}}}) {  // 2026-10-25, fall back
    Instant after = start;
    for (int i = 0; i < 4; ++i) {
      auto next = expression.next_fire(after, zone, start);
      if (!next) break;
      if (*next <= after) fail("a fire time not after the instant asked");
      after = *next;
    }
  }
}

void schedule_expression(std::string_view text) {
  auto expression = ScheduleExpression::parse(std::string(text));
  if (!expression) return;
  walk_fires(*expression, *TimeZone::utc());
  static const auto berlin = TimeZone::load("Europe/Berlin");
  if (berlin) walk_fires(*expression, **berlin);
}

void tzif(std::string_view bytes) {
  auto zone = TimeZone::from_tzif("fuzz", bytes);
  if (!zone) return;
  for (const int64_t t : {int64_t{-2208988800}, int64_t{0}, int64_t{1774746000}, int64_t{2524608000}}) {
    const Instant instant{std::chrono::seconds{t}};
    const auto local = (*zone)->to_local(instant);
    for (const Instant back : (*zone)->to_instants(local).instants)
      if ((*zone)->to_local(back) != local) fail("an instant that does not show its local time");
  }
  static const auto every_minute = ScheduleExpression::parse("cron(* * * * ? *)");
  if (every_minute) walk_fires(*every_minute, **zone);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool silenced = (sprout::fuzz::silence_protobuf_logs(), true);
  (void)silenced;
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      batch_answer(input);
      break;
    case 1:
      schedule_expression(input);
      break;
    default:
      tzif(input);
      break;
  }
  return 0;
}
