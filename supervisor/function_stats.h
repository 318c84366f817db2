// Per-function metering: counts by status, latency percentiles over the most
// recent invocations, billed milliseconds and GB-seconds, and the cumulative
// counters and histograms that /metrics exposes. Shared by every version of
// a function (counters are cumulative over redeploys); dropped with the
// function by Delete. Thread-safe: each call holds the object's lock only to
// read or add numbers.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "api/proto/sprout_api.pb.h"
#include "supervisor/histogram.h"
#include "supervisor/init_reports.h"

namespace sprout::supervisor {

class FunctionStats {
 public:
  static constexpr size_t kWindow = 4096;  // latencies kept for percentiles

  // Everything /metrics shows of a function, copied at one instant.
  struct Counters {
    std::map<std::string, uint64_t> by_status;  // "OK" -> 10, as Stats
    uint64_t throttles = 0;     // refused at admission (THROTTLED), never ran
    uint64_t cold_starts = 0;   // forked on the critical path
    uint64_t prefork_hits = 0;  // served by a pre-forked sandbox
    uint64_t billed_ms = 0;
    // Sum of memory_mb x billed_ms: GB-seconds (Lambda's GB is 1024 MB) are
    // this / 1024 / 1000, kept whole so that nothing is lost to rounding.
    uint64_t memory_mb_billed_ms = 0;
    Histogram total_seconds;  // request received to answer ready
    Histogram run_seconds;    // request delivered to the sandbox until its answer
    Histogram init_seconds;   // inits of the function's snapshots
  };

  // An invocation that was admitted, whatever its status.
  void record(api::Status status, const api::Metrics& metrics, uint32_t memory_mb);
  // An invocation refused at admission (queue full, or no slot in time).
  void record_throttle();
  // A snapshot of the function was loaded and its init took `init_us`.
  void record_init(uint64_t init_us);

  api::FunctionStats snapshot(const std::string& name) const;
  Counters counters() const;

  // Which invocation reports each snapshot's init (REPORT's Init Duration).
  InitReports& init_reports() { return init_reports_; }

 private:
  mutable std::mutex mutex_;
  uint64_t invocations_ = 0;
  std::vector<uint64_t> latencies_us_;  // ring buffer
  size_t next_ = 0;
  double gb_seconds_ = 0;
  Counters counters_;
  InitReports init_reports_;
};

// Lambda's rule, applied to everything the function's code used: the run
// time plus the CPU its sandbox spent before the request arrived (after-fork
// hooks, warm-up), rounded up to the millisecond, at least 1 ms.
uint64_t billed_milliseconds(uint64_t run_us, uint64_t prerequest_cpu_us);

}  // namespace sprout::supervisor
