// EventBridge's "Scheduled Event": the payload a schedule without a payload
// of its own delivers, in the shape Lambda handlers written for EventBridge
// rules read:
//
//   {"version":"0","id":"<uuid>","detail-type":"Scheduled Event",
//    "source":"aws.events","account":"000000000000",
//    "time":"2026-03-29T01:00:00Z","region":"us-east-1",
//    "resources":["arn:aws:events:us-east-1:000000000000:rule/<schedule id>"],
//    "detail":{}}
#pragma once

#include <string>

#include "events/schedule/time_zone.h"

namespace sprout::events {

struct ScheduledEventOrigin {
  // sproutd's HTTP front door answers as region us-east-1, account
  // 000000000000 (http/function_name.h); the integrator passes the same.
  std::string region = "us-east-1";
  std::string account = "000000000000";
};

// `time`: the scheduled time (not when it was delivered), as EventBridge
// sends it. `event_id`: a UUID; random_event_id() makes one.
std::string scheduled_event_json(const ScheduledEventOrigin& origin,
                                 const std::string& schedule_id, Instant time,
                                 const std::string& event_id);

// "arn:aws:events:<region>:<account>:rule/<schedule id>".
std::string schedule_rule_arn(const ScheduledEventOrigin& origin, const std::string& schedule_id);

// "2026-03-29T01:00:00Z": ISO 8601, UTC, whole seconds.
std::string iso8601_utc(Instant time);

// A random (version 4) UUID.
std::string random_event_id();

}  // namespace sprout::events
