#include "supervisor/lambda_log_lines.h"

#include <cstdio>

namespace sprout::supervisor {

std::string milliseconds_text(uint64_t us) {
  // Rounded to the hundredth of a millisecond, in integers: no binary
  // fraction can turn 2.755 into 2.75.
  const uint64_t hundredths = (us + 5) / 10;
  char text[32];
  std::snprintf(text, sizeof text, "%llu.%02llu", static_cast<unsigned long long>(hundredths / 100),
                static_cast<unsigned long long>(hundredths % 100));
  return text;
}

std::string with_lambda_log_lines(const InvocationReport& report, std::string_view function_logs) {
  // Lambda counts memory in MiB and says "MB"; a peak is rounded up, so that
  // a sandbox that used any memory never reads "0 MB".
  constexpr uint64_t kMiB = uint64_t{1} << 20;
  const uint64_t max_memory_mb = (report.peak_memory_bytes + kMiB - 1) / kMiB;
  std::string logs;
  logs.reserve(function_logs.size() + 400);
  logs += "START RequestId: ";
  logs += report.request_id;
  logs += " Version: ";
  logs += std::to_string(report.version);
  logs += '\n';
  logs += function_logs;
  if (!function_logs.empty() && function_logs.back() != '\n') logs += '\n';
  logs += "END RequestId: ";
  logs += report.request_id;
  logs += '\n';
  logs += "REPORT RequestId: ";
  logs += report.request_id;
  logs += "\tDuration: " + milliseconds_text(report.run_us) + " ms";
  logs += "\tBilled Duration: " + std::to_string(report.billed_ms) + " ms";
  logs += "\tMemory Size: " + std::to_string(report.memory_mb) + " MB";
  logs += "\tMax Memory Used: " + std::to_string(max_memory_mb) + " MB";
  if (report.init_us) logs += "\tInit Duration: " + milliseconds_text(*report.init_us) + " ms";
  logs += "\t\n";
  return logs;
}

}  // namespace sprout::supervisor
