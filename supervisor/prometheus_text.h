// Writes the Prometheus text exposition format, version 0.0.4: for each
// metric family one `# HELP` and one `# TYPE` line, then its samples, with
// label values and help text escaped as the format requires. The caller
// writes each family once, all its samples together, and no series twice
// (metrics_exposition.cc iterates families, then functions in name order).
// Pure; not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "supervisor/histogram.h"

namespace sprout::supervisor {

// The Content-Type of this format, for the HTTP answer.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// (name, value) pairs, in the order written. Names are the caller's
// constants; values may be anything (a function's name) and are escaped.
using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

enum class MetricType { kCounter, kGauge, kHistogram };

class PrometheusText {
 public:
  // `# HELP name help` and `# TYPE name type`.
  void family(std::string_view name, MetricType type, std::string_view help);
  // `name{labels} value`; `name` may carry a suffix of its family's name.
  void sample(std::string_view name, const Labels& labels, uint64_t value);
  void sample(std::string_view name, const Labels& labels, double value);
  // A histogram's series: `name_bucket{labels,le="..."}` for every bound,
  // cumulative, then `le="+Inf"`, `name_sum` and `name_count`.
  void histogram(std::string_view name, const Labels& labels, const Histogram& histogram);

  const std::string& text() const { return text_; }
  std::string take() { return std::move(text_); }

 private:
  void series(std::string_view name, const Labels& labels, std::string_view extra_label_name,
              std::string_view extra_label_value);
  std::string text_;
};

// A label value: backslash, double quote and line feed escaped as \\, \" and
// \n; everything else (UTF-8 included) as it is.
std::string escape_label_value(std::string_view value);
// Help text: backslash and line feed escaped (quotes stay as they are).
std::string escape_help(std::string_view help);
// A sample value as the format reads it: the shortest text that reads back
// as the same double, "+Inf", "-Inf" or "NaN".
std::string format_sample_value(double value);

}  // namespace sprout::supervisor
