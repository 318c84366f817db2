// A Prometheus-style histogram of durations: fixed upper bounds in seconds,
// a count per bucket, the sum and the count of everything observed. Plain
// data, not thread-safe: its owner (FunctionStats) guards it and hands out
// copies.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace sprout::supervisor {

// Upper bounds, in seconds, for sprout's latencies: from a pre-forked
// invocation's millisecond to a cold start that waits for a 10 s init, and
// on to the longest timeouts people set (Lambda's is 900 s; beyond 60 s all
// land in +Inf, which still counts them and their sum).
inline constexpr double kDurationBucketsSeconds[] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05,  0.1,    0.25,  0.5,  1,
                                                     2.5,   5,      10,    30,   60};

class Histogram {
 public:
  // With kDurationBucketsSeconds.
  Histogram() : Histogram(kDurationBucketsSeconds) {}
  // `upper_bounds`: ascending, finite; the +Inf bucket is implied.
  explicit Histogram(std::span<const double> upper_bounds);

  // Counts `seconds` in the first bucket whose bound is >= it (Prometheus's
  // `le`: less than or equal), and in the sum.
  void observe(double seconds);

  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  // Per bucket, not cumulative: upper_bounds().size() + 1 entries, the last
  // for +Inf.
  const std::vector<uint64_t>& bucket_counts() const { return bucket_counts_; }
  // As the exposition wants them: entry i counts every observation <= bound
  // i; the last entry (+Inf) equals count().
  std::vector<uint64_t> cumulative_counts() const;
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> upper_bounds_;
  std::vector<uint64_t> bucket_counts_;
  uint64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace sprout::supervisor
