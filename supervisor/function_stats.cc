#include "supervisor/function_stats.h"

#include <algorithm>

namespace sprout::supervisor {

uint64_t billed_milliseconds(uint64_t run_us, uint64_t prerequest_cpu_us) {
  const uint64_t used_us = run_us + prerequest_cpu_us;
  return std::max<uint64_t>(1, used_us / 1000 + (used_us % 1000 != 0));
}

void FunctionStats::record(api::Status status, const api::Metrics& metrics, uint32_t memory_mb) {
  std::lock_guard lock(mutex_);
  ++invocations_;
  ++by_status_[api::Status_Name(status)];
  if (latencies_us_.size() < kWindow) {
    latencies_us_.push_back(metrics.total_us());
  } else {
    latencies_us_[next_] = metrics.total_us();
    next_ = (next_ + 1) % kWindow;
  }
  billed_ms_ += metrics.billed_ms();
  gb_seconds_ += memory_mb / 1024.0 * metrics.billed_ms() / 1000.0;
  if (metrics.preforked())
    ++preforked_;
  else if (metrics.fork_us() > 0)
    ++cold_;
}

api::FunctionStats FunctionStats::snapshot(const std::string& name) const {
  std::lock_guard lock(mutex_);
  api::FunctionStats stats;
  stats.set_name(name);
  stats.set_invocations(invocations_);
  for (const auto& [status, count] : by_status_) (*stats.mutable_by_status())[status] = count;
  stats.set_billed_ms(billed_ms_);
  stats.set_gb_seconds(gb_seconds_);
  stats.set_cold_starts(cold_);
  stats.set_preforked_starts(preforked_);
  if (!latencies_us_.empty()) {
    std::vector<uint64_t> sorted = latencies_us_;
    std::sort(sorted.begin(), sorted.end());
    auto at = [&](double q) {
      return sorted[std::min(sorted.size() - 1, static_cast<size_t>(q * sorted.size()))];
    };
    stats.set_p50_us(at(0.50));
    stats.set_p90_us(at(0.90));
    stats.set_p99_us(at(0.99));
  }
  return stats;
}

}  // namespace sprout::supervisor
