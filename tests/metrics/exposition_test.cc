// supervisor/prometheus_text and metrics_exposition: the text format as
// Prometheus reads it (HELP and TYPE once per family, escaped label values,
// cumulative buckets ending in +Inf, _sum and _count), and what sproutd's
// figures become.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "supervisor/metrics_exposition.h"
#include "supervisor/prometheus_text.h"

namespace sprout::supervisor {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// "name{labels} value" -> value, for every sample line.
std::map<std::string, std::string> samples_of(const std::string& text) {
  std::map<std::string, std::string> samples;
  for (const auto& line : lines_of(text)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    samples[line.substr(0, space)] = line.substr(space + 1);
  }
  return samples;
}

TEST(PrometheusText, EscapesLabelValuesAndHelpAsTheFormatSays) {
  EXPECT_EQ(escape_label_value(R"(a\b"c)"
                               "\n"
                               "d"),
            R"(a\\b\"c\nd)");
  EXPECT_EQ(escape_label_value("plain-name_1"), "plain-name_1");
  EXPECT_EQ(escape_label_value("ünïcode"), "ünïcode") << "UTF-8 passes as it is";
  EXPECT_EQ(escape_help("a \\ \"b\"\nc"), "a \\\\ \"b\"\\nc") << "quotes stay in help";
}

TEST(PrometheusText, WritesValuesThatReadBackExactly) {
  EXPECT_EQ(format_sample_value(0), "0");
  EXPECT_EQ(format_sample_value(42), "42");
  EXPECT_EQ(format_sample_value(0.001), "0.001");
  EXPECT_EQ(format_sample_value(2.5), "2.5");
  EXPECT_EQ(std::stod(format_sample_value(0.1 + 0.2)), 0.1 + 0.2);
  EXPECT_EQ(format_sample_value(HUGE_VAL), "+Inf");
  EXPECT_EQ(format_sample_value(-HUGE_VAL), "-Inf");
  EXPECT_EQ(format_sample_value(std::nan("")), "NaN");
}

TEST(PrometheusText, WritesAFamilyThenItsSamples) {
  PrometheusText out;
  out.family("x_total", MetricType::kCounter, "Things.\nTwo lines.");
  out.sample("x_total", {{"function", "a\"b"}, {"status", "OK"}}, uint64_t{3});
  out.sample("x_total", {}, 0.5);
  EXPECT_EQ(out.text(),
            "# HELP x_total Things.\\nTwo lines.\n"
            "# TYPE x_total counter\n"
            "x_total{function=\"a\\\"b\",status=\"OK\"} 3\n"
            "x_total 0.5\n");
}

TEST(PrometheusText, HistogramBucketsAreCumulativeAndEndInInf) {
  const double bounds[] = {0.01, 0.1, 1};
  Histogram histogram(bounds);
  for (double seconds : {0.005, 0.01, 0.05, 0.5, 0.7, 5.0}) histogram.observe(seconds);
  PrometheusText out;
  out.family("d_seconds", MetricType::kHistogram, "Durations.");
  out.histogram("d_seconds", {{"function", "f"}}, histogram);
  EXPECT_EQ(out.text(),
            std::string("# HELP d_seconds Durations.\n"
                        "# TYPE d_seconds histogram\n"
                        "d_seconds_bucket{function=\"f\",le=\"0.01\"} 2\n"  // 0.01 is <= 0.01
                        "d_seconds_bucket{function=\"f\",le=\"0.1\"} 3\n"
                        "d_seconds_bucket{function=\"f\",le=\"1\"} 5\n"
                        "d_seconds_bucket{function=\"f\",le=\"+Inf\"} 6\n"
                        "d_seconds_sum{function=\"f\"} ") +
                format_sample_value(0.005 + 0.01 + 0.05 + 0.5 + 0.7 + 5.0) +
                "\n"
                "d_seconds_count{function=\"f\"} 6\n");
}

TEST(Histogram, CountsEachObservationInOneBucketAndTheSum) {
  Histogram histogram;  // the duration buckets, 1 ms .. 60 s
  EXPECT_EQ(histogram.upper_bounds().front(), 0.001);
  EXPECT_EQ(histogram.upper_bounds().back(), 60.0);
  histogram.observe(0.0004);
  histogram.observe(0.001);
  histogram.observe(120);
  EXPECT_EQ(histogram.count(), 3u);
  EXPECT_DOUBLE_EQ(histogram.sum(), 120.0014);
  EXPECT_EQ(histogram.bucket_counts().front(), 2u);
  EXPECT_EQ(histogram.bucket_counts().back(), 1u) << "past the last bound: +Inf only";
  const auto cumulative = histogram.cumulative_counts();
  for (size_t i = 1; i < cumulative.size(); ++i) EXPECT_GE(cumulative[i], cumulative[i - 1]);
  EXPECT_EQ(cumulative.back(), histogram.count());
}

NodeMetrics two_functions() {
  NodeMetrics node;
  FunctionMetrics hello{.name = "hello", .counters = {}};
  hello.counters.by_status = {{"OK", 3}, {"TIMEOUT", 1}};
  hello.counters.throttles = 2;
  hello.counters.cold_starts = 1;
  hello.counters.prefork_hits = 3;
  hello.counters.billed_ms = 1500;
  hello.counters.memory_mb_billed_ms = 128 * 1500;
  hello.counters.total_seconds.observe(0.002);
  hello.counters.run_seconds.observe(0.001);
  hello.counters.init_seconds.observe(0.14);
  FunctionMetrics odd{.name = "odd\"name\\\n", .counters = {}};
  node.functions = {hello, odd};
  node.live_sandboxes = 4;
  node.idle_sandboxes = 2;
  node.live_snapshots = 2;
  node.live_zygotes = 1;
  node.host_ids_in_use = 3;
  node.queued_invocations = 5;
  node.result_waits = 6;
  node.queued_events = 11;
  node.refused_queue_full = 7;
  node.refused_queue_timeout = 8;
  node.connections = {{"api_socket", 9}, {"http", 10}};
  return node;
}

TEST(MetricsExposition, EveryFigureLandsInItsSeries) {
  ProcessMetrics process{.cpu_seconds = 1.5,
                         .resident_memory_bytes = 4096,
                         .virtual_memory_bytes = 8192,
                         .open_fds = 12,
                         .max_fds = 1024,
                         .start_time_seconds = 1700000000.25,
                         .threads = 7};
  const auto samples = samples_of(render_metrics_text(two_functions(), &process));
  EXPECT_EQ(samples.at(R"(sprout_invocations_total{function="hello",status="OK"})"), "3");
  EXPECT_EQ(samples.at(R"(sprout_invocations_total{function="hello",status="TIMEOUT"})"), "1");
  EXPECT_EQ(samples.at(R"(sprout_throttles_total{function="hello"})"), "2");
  EXPECT_EQ(samples.at(R"(sprout_cold_starts_total{function="hello"})"), "1");
  EXPECT_EQ(samples.at(R"(sprout_prefork_hits_total{function="hello"})"), "3");
  EXPECT_EQ(samples.at(R"(sprout_billed_seconds_total{function="hello"})"), "1.5");
  // 128 MiB x 1.5 s = 0.1875 GB-s (Lambda's GB: 1024 MB) = 0.1875 * 2^30 byte-seconds.
  EXPECT_EQ(std::stod(samples.at(R"(sprout_billed_memory_byte_seconds_total{function="hello"})")),
            0.1875 * 1073741824.0);
  EXPECT_EQ(samples.at(
                R"(sprout_invocation_duration_seconds_bucket{function="hello",phase="total",le="0.0025"})"),
            "1");
  EXPECT_EQ(samples.at(
                R"(sprout_invocation_duration_seconds_bucket{function="hello",phase="run",le="0.001"})"),
            "1");
  EXPECT_EQ(samples.at(R"(sprout_init_duration_seconds_count{function="hello"})"), "1");
  EXPECT_EQ(samples.at(R"(sprout_init_duration_seconds_sum{function="hello"})"), "0.14");
  EXPECT_EQ(samples.at(R"(sprout_throttles_total{function="odd\"name\\\n"})"), "0")
      << "a known function shows its counters at 0";
  EXPECT_EQ(samples.at("sprout_live_sandboxes"), "4");
  EXPECT_EQ(samples.at("sprout_idle_sandboxes"), "2");
  EXPECT_EQ(samples.at("sprout_live_snapshots"), "2");
  EXPECT_EQ(samples.at("sprout_live_zygotes"), "1");
  EXPECT_EQ(samples.at("sprout_host_ids_in_use"), "3");
  EXPECT_EQ(samples.at("sprout_queued_invocations"), "5");
  EXPECT_EQ(samples.at("sprout_result_waits"), "6");
  EXPECT_EQ(samples.at("sprout_queued_events"), "11");
  EXPECT_EQ(samples.at("sprout_functions"), "2");
  EXPECT_EQ(samples.at("sprout_serving"), "1");
  EXPECT_EQ(samples.at(R"(sprout_admission_refusals_total{reason="queue_full"})"), "7");
  EXPECT_EQ(samples.at(R"(sprout_admission_refusals_total{reason="queue_timeout"})"), "8");
  EXPECT_EQ(samples.at(R"(sprout_connections{listener="api_socket"})"), "9");
  EXPECT_EQ(samples.at(R"(sprout_connections{listener="http"})"), "10");
  EXPECT_EQ(samples.at("process_cpu_seconds_total"), "1.5");
  EXPECT_EQ(samples.at("process_resident_memory_bytes"), "4096");
  EXPECT_EQ(samples.at("process_virtual_memory_bytes"), "8192");
  EXPECT_EQ(samples.at("process_open_fds"), "12");
  EXPECT_EQ(samples.at("process_max_fds"), "1024");
  EXPECT_EQ(samples.at("process_start_time_seconds"), "1700000000.25");
  EXPECT_EQ(samples.at("process_threads"), "7");
}

TEST(MetricsExposition, EachFamilyOnceWithItsSamplesTogetherAndNoSeriesTwice) {
  const std::string text = render_metrics_text(two_functions(), nullptr);
  std::set<std::string> families_seen, series_seen;
  std::string current;  // the family whose samples may follow
  for (const auto& line : lines_of(text)) {
    ASSERT_FALSE(line.empty());
    if (line.starts_with("# HELP ")) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(families_seen.insert(name).second) << "HELP twice for " << name;
      current = name;
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      EXPECT_EQ(line.substr(7, line.find(' ', 7) - 7), current) << "TYPE right after its HELP";
      continue;
    }
    const std::string series = line.substr(0, line.rfind(' '));
    EXPECT_TRUE(series_seen.insert(series).second) << "series twice: " << series;
    const std::string name = series.substr(0, series.find('{'));
    EXPECT_TRUE(name == current || name == current + "_bucket" || name == current + "_sum" ||
                name == current + "_count")
        << name << " outside its family " << current;
  }
  EXPECT_EQ(families_seen.count("process_cpu_seconds_total"), 0u) << "no process: left out";
  EXPECT_EQ(text.back(), '\n');
}

TEST(MetricsExposition, NoListenerRegisteredMeansNoConnectionsFamily) {
  NodeMetrics node;
  const std::string text = render_metrics_text(node, nullptr);
  EXPECT_EQ(text.find("sprout_connections"), std::string::npos);
  EXPECT_NE(text.find("sprout_live_sandboxes 0\n"), std::string::npos);
}

}  // namespace
}  // namespace sprout::supervisor
