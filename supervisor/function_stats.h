// Per-function metering: counts by status, latency percentiles over the most
// recent invocations, billed milliseconds and GB-seconds. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "api/proto/sprout_api.pb.h"

namespace sprout::supervisor {

class FunctionStats {
 public:
  static constexpr size_t kWindow = 4096;  // latencies kept for percentiles

  void record(api::Status status, const api::Metrics& metrics, uint32_t memory_mb);
  api::FunctionStats snapshot(const std::string& name) const;

 private:
  mutable std::mutex mutex_;
  uint64_t invocations_ = 0;
  std::map<std::string, uint64_t> by_status_;
  std::vector<uint64_t> latencies_us_;  // ring buffer
  size_t next_ = 0;
  uint64_t billed_ms_ = 0;
  double gb_seconds_ = 0;
  uint64_t cold_ = 0, preforked_ = 0;
};

// Lambda's rule, applied to everything the function's code used: the run
// time plus the CPU its sandbox spent before the request arrived (after-fork
// hooks, warm-up), rounded up to the millisecond, at least 1 ms.
uint64_t billed_milliseconds(uint64_t run_us, uint64_t prerequest_cpu_us);

}  // namespace sprout::supervisor
