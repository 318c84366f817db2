// The lines Lambda writes around every invocation's own output, in the log
// tail sprout returns (InvokeResponse.logs):
//
//   START RequestId: <id> Version: <version>
//   <the function's output>
//   END RequestId: <id>
//   REPORT RequestId: <id>\tDuration: 2.75 ms\tBilled Duration: 3 ms\t
//          Memory Size: 128 MB\tMax Memory Used: 39 MB\t[Init Duration: 139.19 ms\t]
//
// (REPORT is one line; like Lambda's it separates its fields with tabs and
// ends with a tab.) The figures are sprout's own: Duration is the run time
// (run_us), Billed Duration what sprout bills (billed_ms), Memory Size the
// function's memory_mb, Max Memory Used the sandbox's peak from its cgroup,
// and Init Duration appears on the invocation that paid for the init (see
// init_reports.h). Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sprout::supervisor {

struct InvocationReport {
  std::string_view request_id;
  uint32_t version = 0;
  uint64_t run_us = 0;
  uint64_t billed_ms = 0;
  uint32_t memory_mb = 0;
  uint64_t peak_memory_bytes = 0;
  std::optional<uint64_t> init_us;  // only on the invocation that paid for the init
};

// `function_logs` (already bounded by the log tail's limit, with its
// truncation marker if cut) between the START line and the END and REPORT
// lines. Output that does not end with a line feed gets one, so that END
// starts a line. The lines add at most a few hundred bytes on top of the
// function's bounded output: they never push any of it out.
std::string with_lambda_log_lines(const InvocationReport& report, std::string_view function_logs);

// Milliseconds with two decimals, as Lambda writes durations: 2751 us ->
// "2.75".
std::string milliseconds_text(uint64_t us);

}  // namespace sprout::supervisor
