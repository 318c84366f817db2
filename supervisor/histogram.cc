#include "supervisor/histogram.h"

#include <algorithm>

namespace sprout::supervisor {

Histogram::Histogram(std::span<const double> upper_bounds)
    : upper_bounds_(upper_bounds.begin(), upper_bounds.end()),
      bucket_counts_(upper_bounds.size() + 1, 0) {}

void Histogram::observe(double seconds) {
  // lower_bound: the first bound >= seconds, so a value equal to a bound
  // falls in that bound's bucket, as `le` says.
  const auto bucket = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), seconds);
  ++bucket_counts_[static_cast<size_t>(bucket - upper_bounds_.begin())];
  ++count_;
  sum_ += seconds;
}

std::vector<uint64_t> Histogram::cumulative_counts() const {
  std::vector<uint64_t> cumulative(bucket_counts_.size());
  uint64_t running = 0;
  for (size_t i = 0; i < bucket_counts_.size(); ++i) {
    running += bucket_counts_[i];
    cumulative[i] = running;
  }
  return cumulative;
}

}  // namespace sprout::supervisor
