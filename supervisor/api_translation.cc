#include "supervisor/api_translation.h"

#include <utility>

#include "supervisor/function_stats.h"

namespace sprout::supervisor {

api::Response error_response(api::Status status, std::string message) {
  api::Response response;
  response.set_status(status);
  response.set_error(std::move(message));
  return response;
}

api::Status api_status(InvocationStatus status) {
  switch (status) {
    case InvocationStatus::kOk:
      return api::OK;
    case InvocationStatus::kFunctionError:
      return api::FUNCTION_ERROR;
    case InvocationStatus::kTimeout:
      return api::TIMEOUT;
    case InvocationStatus::kOutOfMemory:
      return api::OUT_OF_MEMORY;
    case InvocationStatus::kSeccompViolation:
      return api::SECCOMP_VIOLATION;
    case InvocationStatus::kCrashed:
      return api::CRASHED;
    case InvocationStatus::kInternal:
      return api::INTERNAL;
  }
  return api::INTERNAL;
}

api::Response init_error_response(const agent::InitResult& init, const std::string& init_logs,
                                  const api::FunctionInfo& function) {
  api::Response response;
  response.set_status(api::INIT_ERROR);
  response.set_error(init.error_type() + ": " + init.error_message());
  api::DeployResponse* deploy = response.mutable_deploy();
  deploy->set_error_type(init.error_type());
  deploy->set_error_message(init.error_message());
  for (const auto& line : init.stack_trace()) deploy->add_stack_trace(line);
  deploy->set_init_logs(init_logs);
  *deploy->mutable_function() = function;
  return response;
}

void fill_invoke_response(InvocationResult result, api::InvokeResponse* invoke) {
  invoke->set_status(api_status(result.status));
  invoke->set_request_id(result.request_id);
  invoke->set_detail(result.detail);
  invoke->set_result(std::move(result.result));
  invoke->set_error_type(result.error_type);
  invoke->set_error_message(result.error_message);
  for (auto& line : result.stack_trace) invoke->add_stack_trace(std::move(line));
  invoke->set_logs(std::move(result.logs));
  invoke->set_logs_truncated(result.logs_truncated);
  const InvocationMetrics& measured = result.metrics;
  api::Metrics* metrics = invoke->mutable_metrics();
  metrics->set_fork_us(measured.fork_us);
  metrics->set_run_us(measured.run_us);
  metrics->set_cpu_time_us(measured.cpu_time_us);
  metrics->set_peak_memory_bytes(measured.peak_memory_bytes);
  metrics->set_preforked(measured.preforked);
  metrics->set_prerequest_cpu_us(measured.prerequest_cpu_us);
  metrics->set_minor_faults(measured.minor_faults);
  metrics->set_major_faults(measured.major_faults);
  metrics->set_voluntary_context_switches(measured.voluntary_switches);
  metrics->set_involuntary_context_switches(measured.involuntary_switches);
  metrics->set_billed_ms(billed_milliseconds(measured.run_us, measured.prerequest_cpu_us));
}

void fill_snapshot_failure(const Error& error, const agent::InitResult& init_failure,
                           api::InvokeResponse* invoke) {
  const bool init_failed = error.code == ErrorCode::kInitFailed;
  invoke->set_status(init_failed ? api::INIT_ERROR : api::INTERNAL);
  invoke->set_detail(error.message());
  if (init_failed) {
    invoke->set_error_type(init_failure.error_type());
    invoke->set_error_message(init_failure.error_message());
  }
}

void fill_invoke_failure(const Error& error, api::InvokeResponse* invoke) {
  if (invoke->status() != api::STATUS_UNSPECIFIED) return;
  invoke->set_status(api::INTERNAL);
  invoke->set_detail(error.message());
}

void finish_invoke_response(api::Response* response) {
  const api::InvokeResponse& invoke = response->invoke();
  response->set_status(invoke.status());
  if (invoke.status() != api::OK) response->set_error(invoke.detail());
}

api::InvokeResponse stored_result(const api::Response& response) {
  if (response.has_invoke()) return response.invoke();
  api::InvokeResponse result;
  result.set_status(response.status());
  result.set_detail(response.error());
  return result;
}

}  // namespace sprout::supervisor
