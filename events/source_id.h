// The ids of schedules and triggers: chosen by the client or made up by
// sproutd, they travel in the API, the CLI's arguments, NATS consumer names
// and the history, so they are kept to one safe alphabet.
#pragma once

#include <string_view>

namespace sprout::events {

// [a-zA-Z0-9_-]{1,64}
bool is_valid_source_id(std::string_view id);

}  // namespace sprout::events
