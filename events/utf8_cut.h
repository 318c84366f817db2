// Cutting text that a tenant controls (results, errors, logs) to a size
// without splitting a UTF-8 character, for what the event side keeps:
// the history and the async queue's stored answers.
#pragma once

#include <cstddef>
#include <string_view>

namespace sprout::events {

// The longest prefix of `text` of at most `max_bytes` that does not end inside
// a UTF-8 character (a cut character is left out whole, never half-kept).
std::string_view utf8_prefix(std::string_view text, size_t max_bytes);
// The longest suffix of at most `max_bytes` that does not start inside a
// UTF-8 character: a log's tail keeps its newest bytes.
std::string_view utf8_suffix(std::string_view text, size_t max_bytes);

}  // namespace sprout::events
