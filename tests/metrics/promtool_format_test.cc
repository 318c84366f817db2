// promtool (Debian's prometheus package) judges the rendered text: format,
// names, units and help, with label values that need every escape.
#include <gtest/gtest.h>

#include "supervisor/metrics_exposition.h"
#include "tests/metrics/run_command.h"

namespace sprout::supervisor {
namespace {

TEST(PromtoolFormat, AcceptsEveryMetricWithEscapedLabelsAndProcessMetrics) {
  NodeMetrics node;
  FunctionMetrics hard{.name = "quote\" back\\slash\nnewline ünï", .counters = {}};
  hard.counters.by_status = {{"OK", 2}, {"FUNCTION_ERROR", 1}};
  hard.counters.total_seconds.observe(0.003);
  hard.counters.run_seconds.observe(0.002);
  hard.counters.init_seconds.observe(0.2);
  hard.counters.billed_ms = 7;
  hard.counters.memory_mb_billed_ms = 7 * 128;
  FunctionMetrics plain{.name = "plain", .counters = {}};
  node.functions = {hard, plain};
  node.connections = {{"api_socket", 1}, {"http", 2}};
  auto process = read_process_metrics();
  ASSERT_TRUE(process) << process.error().message();
  const std::string text = render_metrics_text(node, &*process);
  const auto checked = testing::run_command({"promtool", "check", "metrics"}, text);
  EXPECT_EQ(checked.exit_code, 0) << checked.output << "\n---\n" << text;
  EXPECT_EQ(checked.output, "") << "no lint finding";
}

TEST(PromtoolFormat, WouldRejectABrokenExposition) {
  // The check above can fail: promtool refuses a sample of a counter whose
  // name breaks the conventions, and a malformed line.
  const auto lint = testing::run_command(
      {"promtool", "check", "metrics"},
      "# HELP x_milliseconds x\n# TYPE x_milliseconds counter\nx_milliseconds 1\n");
  EXPECT_NE(lint.exit_code, 0) << lint.output;
  const auto broken = testing::run_command({"promtool", "check", "metrics"},
                                           "# TYPE y gauge\ny{a=\"unterminated} 1\n");
  EXPECT_NE(broken.exit_code, 0) << broken.output;
}

}  // namespace
}  // namespace sprout::supervisor
