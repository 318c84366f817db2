// supervisor/api_translation: internal outcomes worded as API answers.
#include "supervisor/api_translation.h"

#include <gtest/gtest.h>

#include <string>

namespace sprout::supervisor {
namespace {

TEST(ApiTranslation, EveryInvocationStatusHasItsWireStatus) {
  EXPECT_EQ(api_status(InvocationStatus::kOk), api::OK);
  EXPECT_EQ(api_status(InvocationStatus::kFunctionError), api::FUNCTION_ERROR);
  EXPECT_EQ(api_status(InvocationStatus::kTimeout), api::TIMEOUT);
  EXPECT_EQ(api_status(InvocationStatus::kOutOfMemory), api::OUT_OF_MEMORY);
  EXPECT_EQ(api_status(InvocationStatus::kSeccompViolation), api::SECCOMP_VIOLATION);
  EXPECT_EQ(api_status(InvocationStatus::kCrashed), api::CRASHED);
  EXPECT_EQ(api_status(InvocationStatus::kInternal), api::INTERNAL);
}

TEST(ApiTranslation, AnInvocationThatRanIsReportedWholeAndBilled) {
  InvocationResult result;
  result.status = InvocationStatus::kFunctionError;
  result.request_id = "r-1";
  result.detail = "ValueError: nope";
  result.error_type = "ValueError";
  result.error_message = "nope";
  result.stack_trace = {"line 1", "line 2"};
  result.logs = "out\n";
  result.metrics.fork_us = 700;
  result.metrics.run_us = 1500;
  result.metrics.prerequest_cpu_us = 600;
  result.metrics.preforked = false;
  api::Response response;
  fill_invoke_response(result, response.mutable_invoke());
  finish_invoke_response(&response);
  const api::InvokeResponse& invoke = response.invoke();
  EXPECT_EQ(response.status(), api::FUNCTION_ERROR);
  EXPECT_EQ(response.error(), "ValueError: nope");
  EXPECT_EQ(invoke.request_id(), "r-1");
  EXPECT_EQ(invoke.stack_trace_size(), 2);
  EXPECT_EQ(invoke.logs(), "out\n");
  EXPECT_EQ(invoke.metrics().fork_us(), 700u);
  EXPECT_EQ(invoke.metrics().billed_ms(), 3u) << "ceil((1500 + 600) / 1000)";
}

TEST(ApiTranslation, ASnapshotThatCouldNotBeHadIsTheInitsFaultOnlyByItsCode) {
  agent::InitResult init;
  init.set_error_type("Runtime.ImportModuleError");
  init.set_error_message("no module");
  api::InvokeResponse by_init;
  fill_snapshot_failure(plain_error(ErrorCode::kInitFailed, "init", "x").error(), init, &by_init);
  EXPECT_EQ(by_init.status(), api::INIT_ERROR);
  EXPECT_EQ(by_init.error_type(), "Runtime.ImportModuleError");
  api::InvokeResponse by_sprout;
  // The step's words do not matter: only the code does.
  fill_snapshot_failure(plain_error("init", "zygote died").error(), init, &by_sprout);
  EXPECT_EQ(by_sprout.status(), api::INTERNAL);
  EXPECT_EQ(by_sprout.detail(), "init: zygote died");
  EXPECT_EQ(by_sprout.error_type(), "");
  // A failure after that keeps the status already set.
  fill_invoke_failure(plain_error("invoke", "not run").error(), &by_init);
  EXPECT_EQ(by_init.status(), api::INIT_ERROR);
}

TEST(ApiTranslation, AsyncResultsKeepARefusalsStatusAndLine) {
  const api::InvokeResponse refused =
      stored_result(error_response(api::THROTTLED, "too many invocations waiting"));
  EXPECT_EQ(refused.status(), api::THROTTLED);
  EXPECT_EQ(refused.detail(), "too many invocations waiting");
  api::Response ran;
  ran.mutable_invoke()->set_status(api::OK);
  ran.mutable_invoke()->set_result("42");
  EXPECT_EQ(stored_result(ran).result(), "42");
}

TEST(ApiTranslation, AFailedInitAtDeployCarriesTheErrorAndTheLogs) {
  agent::InitResult init;
  init.set_error_type("Exception");
  init.set_error_message("boom");
  init.add_stack_trace("  File \"handler.py\", line 1");
  api::FunctionInfo function;
  function.set_version(3);
  const api::Response response = init_error_response(init, "init output\n", function);
  EXPECT_EQ(response.status(), api::INIT_ERROR);
  EXPECT_EQ(response.error(), "Exception: boom");
  EXPECT_EQ(response.deploy().init_logs(), "init output\n");
  EXPECT_EQ(response.deploy().stack_trace_size(), 1);
  EXPECT_EQ(response.deploy().function().version(), 3u);
}

}  // namespace
}  // namespace sprout::supervisor
