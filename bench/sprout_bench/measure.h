// Samples, percentiles and the report files of sprout-bench: a CSV of every
// sample and a latency CDF per workload as SVG.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sprout::bench {

struct Sample {
  std::string workload;
  std::string mode;
  uint64_t latency_us = 0;  // wall time seen by the caller
  // sprout only, from the response's metrics:
  uint64_t queue_us = 0, fork_us = 0, run_us = 0, daemon_total_us = 0;
  bool ok = true;
  std::string error;
};

struct Summary {
  size_t count = 0, errors = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
  double per_second = 0;  // invocations per second over the run's wall time
};

Summary summarize(const std::vector<Sample>& samples, double wall_seconds);
uint64_t median(std::vector<uint64_t> values);

void write_csv(const std::string& path, const std::vector<Sample>& samples);
// One CDF plot, one line per mode, log-scaled latency axis.
void write_cdf_svg(const std::string& path, const std::string& title,
                   const std::vector<Sample>& samples);

}  // namespace sprout::bench
