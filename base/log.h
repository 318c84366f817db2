// One line per event on stderr: "sprout[<pid>] <level>: <message>".
// Thread-safe (a single write per line); not async-signal-safe.
#pragma once

#include <string_view>

namespace sprout {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

void log_line(LogLevel level, std::string_view message);
// Lines below this level are dropped. Default kInfo; SPROUT_LOG=debug lowers it.
void set_log_threshold(LogLevel level);

}  // namespace sprout
