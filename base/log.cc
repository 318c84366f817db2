#include "base/log.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace sprout {
namespace {

LogLevel initial_threshold() {
  const char* env = std::getenv("SPROUT_LOG");
  if (env && std::string_view(env) == "debug") return LogLevel::kDebug;
  if (env && std::string_view(env) == "warning") return LogLevel::kWarning;
  if (env && std::string_view(env) == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

const LogLevel threshold = initial_threshold();

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

}  // namespace

void log_line(LogLevel level, std::string_view message) {
  if (level < threshold) return;
  std::string line = "sprout[" + std::to_string(getpid()) + "] " + level_name(level) + ": ";
  line.append(message);
  line.push_back('\n');
  // One write() so that lines from several threads or processes never interleave.
  [[maybe_unused]] auto written = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace sprout
