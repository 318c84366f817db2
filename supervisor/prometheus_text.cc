#include "supervisor/prometheus_text.h"

#include <charconv>
#include <cmath>

namespace sprout::supervisor {
namespace {

std::string_view type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string escaped;
  escaped.reserve(value.size());
  for (const char c : value) {
    switch (c) {
      case '\\':
        escaped += "\\\\";
        break;
      case '"':
        escaped += "\\\"";
        break;
      case '\n':
        escaped += "\\n";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

std::string escape_help(std::string_view help) {
  std::string escaped;
  escaped.reserve(help.size());
  for (const char c : help) {
    if (c == '\\')
      escaped += "\\\\";
    else if (c == '\n')
      escaped += "\\n";
    else
      escaped += c;
  }
  return escaped;
}

std::string format_sample_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Shortest round-trip form ("0.001", "1e-06", "42"): exact, and what
  // Prometheus' own clients write.
  char buffer[32];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (error != std::errc()) return "NaN";  // cannot happen: 32 bytes hold any double
  return {buffer, end};
}

void PrometheusText::family(std::string_view name, MetricType type, std::string_view help) {
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  text_ += escape_help(help);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += type_name(type);
  text_ += '\n';
}

void PrometheusText::series(std::string_view name, const Labels& labels,
                            std::string_view extra_label_name,
                            std::string_view extra_label_value) {
  text_ += name;
  if (labels.empty() && extra_label_name.empty()) return;
  text_ += '{';
  bool first = true;
  auto label = [&](std::string_view label_name, std::string_view value) {
    if (!first) text_ += ',';
    first = false;
    text_ += label_name;
    text_ += "=\"";
    text_ += escape_label_value(value);
    text_ += '"';
  };
  for (const auto& [label_name, value] : labels) label(label_name, value);
  if (!extra_label_name.empty()) label(extra_label_name, extra_label_value);
  text_ += '}';
}

void PrometheusText::sample(std::string_view name, const Labels& labels, uint64_t value) {
  series(name, labels, {}, {});
  text_ += ' ';
  text_ += std::to_string(value);
  text_ += '\n';
}

void PrometheusText::sample(std::string_view name, const Labels& labels, double value) {
  series(name, labels, {}, {});
  text_ += ' ';
  text_ += format_sample_value(value);
  text_ += '\n';
}

void PrometheusText::histogram(std::string_view name, const Labels& labels,
                               const Histogram& histogram) {
  const std::string bucket = std::string(name) + "_bucket";
  const std::vector<uint64_t> cumulative = histogram.cumulative_counts();
  const std::vector<double>& bounds = histogram.upper_bounds();
  for (size_t i = 0; i <= bounds.size(); ++i) {
    const std::string le = i < bounds.size() ? format_sample_value(bounds[i]) : "+Inf";
    series(bucket, labels, "le", le);
    text_ += ' ';
    text_ += std::to_string(cumulative[i]);
    text_ += '\n';
  }
  sample(std::string(name) + "_sum", labels, histogram.sum());
  sample(std::string(name) + "_count", labels, histogram.count());
}

}  // namespace sprout::supervisor
