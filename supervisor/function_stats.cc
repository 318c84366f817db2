#include "supervisor/function_stats.h"

#include <algorithm>

namespace sprout::supervisor {
namespace {

double seconds_of(uint64_t us) { return static_cast<double>(us) / 1e6; }

}  // namespace

uint64_t billed_milliseconds(uint64_t run_us, uint64_t prerequest_cpu_us) {
  const uint64_t used_us = run_us + prerequest_cpu_us;
  return std::max<uint64_t>(1, used_us / 1000 + (used_us % 1000 != 0));
}

void FunctionStats::record(api::Status status, const api::Metrics& metrics, uint32_t memory_mb) {
  std::lock_guard lock(mutex_);
  ++invocations_;
  ++counters_.by_status[api::Status_Name(status)];
  if (latencies_us_.size() < kWindow) {
    latencies_us_.push_back(metrics.total_us());
  } else {
    latencies_us_[next_] = metrics.total_us();
    next_ = (next_ + 1) % kWindow;
  }
  counters_.billed_ms += metrics.billed_ms();
  counters_.memory_mb_billed_ms += uint64_t{memory_mb} * metrics.billed_ms();
  gb_seconds_ += memory_mb / 1024.0 * metrics.billed_ms() / 1000.0;
  if (metrics.preforked())
    ++counters_.prefork_hits;
  else if (metrics.fork_us() > 0)
    ++counters_.cold_starts;
  counters_.total_seconds.observe(seconds_of(metrics.total_us()));
  // Only what reached a sandbox has a run phase: an invocation whose
  // snapshot could not be had (INIT_ERROR, INTERNAL) never ran.
  if (metrics.run_us() > 0) counters_.run_seconds.observe(seconds_of(metrics.run_us()));
}

void FunctionStats::record_throttle() {
  std::lock_guard lock(mutex_);
  ++counters_.throttles;
}

void FunctionStats::record_init(uint64_t init_us) {
  std::lock_guard lock(mutex_);
  counters_.init_seconds.observe(seconds_of(init_us));
}

api::FunctionStats FunctionStats::snapshot(const std::string& name) const {
  std::vector<uint64_t> sorted;
  api::FunctionStats stats;
  {
    std::lock_guard lock(mutex_);
    stats.set_name(name);
    stats.set_invocations(invocations_);
    for (const auto& [status, count] : counters_.by_status)
      (*stats.mutable_by_status())[status] = count;
    stats.set_billed_ms(counters_.billed_ms);
    stats.set_gb_seconds(gb_seconds_);
    stats.set_cold_starts(counters_.cold_starts);
    stats.set_preforked_starts(counters_.prefork_hits);
    sorted = latencies_us_;
  }
  // Sorted outside the lock: 4096 numbers, and invocations keep recording.
  if (!sorted.empty()) {
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

FunctionStats::Counters FunctionStats::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

}  // namespace sprout::supervisor
