// One line per event on stderr: "sprout[<pid>] <level>: <message>".
// Thread-safe (a single write per line); not async-signal-safe.
#pragma once

#include <string_view>

namespace sprout {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// Lines below the threshold are dropped: kInfo, or SPROUT_LOG=debug|warning|error
// as read at start.
void log_line(LogLevel level, std::string_view message);

}  // namespace sprout
