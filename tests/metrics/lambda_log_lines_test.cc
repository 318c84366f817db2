// supervisor/lambda_log_lines: START, END and REPORT as Lambda writes them
// around the function's output.
#include "supervisor/lambda_log_lines.h"

#include <gtest/gtest.h>

namespace sprout::supervisor {
namespace {

constexpr const char* kId = "8f507cfc-1a2b-4697-b07a-ac58fc914c95";

TEST(LambdaLogLines, FrameTheOutputWithStartEndAndATabSeparatedReport) {
  const std::string logs =
      with_lambda_log_lines({.request_id = kId,
                             .version = 3,
                             .run_us = 2751,
                             .billed_ms = 3,
                             .memory_mb = 128,
                             .peak_memory_bytes = 39u << 20,
                             .init_us = std::nullopt},
                            "hello\n");
  EXPECT_EQ(logs, std::string("START RequestId: ") + kId + " Version: 3\n" +
                      "hello\n" +
                      "END RequestId: " + kId + "\n" +
                      "REPORT RequestId: " + kId +
                      "\tDuration: 2.75 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB"
                      "\tMax Memory Used: 39 MB\t\n");
}

TEST(LambdaLogLines, InitDurationOnlyOnTheInvocationThatPaidForIt) {
  const std::string logs = with_lambda_log_lines(
      {.request_id = "r", .version = 1, .run_us = 1000, .billed_ms = 1, .memory_mb = 64,
       .peak_memory_bytes = 1, .init_us = 139190},
      "");
  EXPECT_EQ(logs,
            "START RequestId: r Version: 1\n"
            "END RequestId: r\n"
            "REPORT RequestId: r\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 64 MB"
            "\tMax Memory Used: 1 MB\tInit Duration: 139.19 ms\t\n")
      << "no output: END follows START; any memory used reads at least 1 MB";
}

TEST(LambdaLogLines, OutputWithoutAFinalLineFeedStillLeavesEndOnItsOwnLine) {
  const std::string logs = with_lambda_log_lines({.request_id = "r"}, "partial");
  EXPECT_NE(logs.find("\npartial\nEND RequestId: r\n"), std::string::npos) << logs;
}

TEST(LambdaLogLines, TheTruncationMarkerAndOutputStayWhole) {
  const std::string output = "[sprout: 10 bytes of earlier output dropped]\n" +
                             std::string(64 * 1024, 'x') + "\n";
  const std::string logs = with_lambda_log_lines({.request_id = "r"}, output);
  EXPECT_NE(logs.find(output), std::string::npos) << "the lines never push output out";
  EXPECT_LT(logs.size() - output.size(), 400u) << "and add a few hundred bytes at most";
}

TEST(LambdaLogLines, DurationsInMillisecondsWithTwoDecimalsRounded) {
  EXPECT_EQ(milliseconds_text(0), "0.00");
  EXPECT_EQ(milliseconds_text(4), "0.00");
  EXPECT_EQ(milliseconds_text(5), "0.01");
  EXPECT_EQ(milliseconds_text(2755), "2.76");
  EXPECT_EQ(milliseconds_text(3000000), "3000.00");
}

}  // namespace
}  // namespace sprout::supervisor
