// What a NATS trigger definition may say, and its defaults: the checks that
// need no broker and no function table (those are NatsTriggers::add's).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "api/proto/sprout_api.pb.h"
#include "base/errors.h"

namespace sprout::events {

inline constexpr uint32_t kDefaultBatchSize = 10;
inline constexpr uint32_t kMaxBatchSize = 100;
inline constexpr uint32_t kMaxBatchWindowMs = 300000;
inline constexpr uint32_t kDefaultMaxDeliveries = 5;
// As SQS's maxReceiveCount.
inline constexpr uint32_t kMaxMaxDeliveries = 1000;


// The durable consumer of a trigger: "sprout-<id>".
std::string durable_name_of(std::string_view trigger_id);

// Whether `subject` (no wildcards) is one that `filter` (with `*` and `>`
// wildcards) matches, by NATS's token rules.
bool subject_matches(std::string_view filter, std::string_view subject);

// Checks `trigger.nats()` (and the id, when given) and fills the defaults:
// batch_size, max_deliveries, dead_letter_subject; durable_name is set from
// the id when there is one. Errors say which field and why.
Result<api::Trigger> normalize_nats_trigger(api::Trigger trigger);

}  // namespace sprout::events
