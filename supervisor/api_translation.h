// From sproutd's internal outcomes to the API's answers: an invocation's
// InvocationStatus and InvocationResult, a failed init (agent::InitResult),
// an Error of sprout's own, into api::Status, api::InvokeResponse and
// api::Response. Pure functions; the FunctionManager decides, this file
// only words the answer.
#pragma once

#include <string>

#include "agent/proto/agent_protocol.pb.h"
#include "api/proto/sprout_api.pb.h"
#include "base/errors.h"
#include "snapshot/invocation_result.h"

namespace sprout::supervisor {

// A response with `status` and its one readable line, and nothing else.
api::Response error_response(api::Status status, std::string message);

// OK, FUNCTION_ERROR, ... as on the wire.
api::Status api_status(InvocationStatus status);

// A deploy whose init failed: INIT_ERROR, the init's error as Lambda reports
// it, its logs, and the version that was not stored.
api::Response init_error_response(const agent::InitResult& init, const std::string& init_logs,
                                  const api::FunctionInfo& function);

// An invocation that ran (whatever its status): everything it came to, its
// metrics and what it is billed.
void fill_invoke_response(InvocationResult result, api::InvokeResponse* invoke);

// An invocation that did not run because no snapshot could be had: the
// function's init failed (error code kInitFailed: INIT_ERROR with
// `init_failure`), or sprout did (INTERNAL).
void fill_snapshot_failure(const Error& error, const agent::InitResult& init_failure,
                           api::InvokeResponse* invoke);

// An invocation that failed in sprout after it was admitted: INTERNAL,
// unless a status was set already.
void fill_invoke_failure(const Error& error, api::InvokeResponse* invoke);

// The response's own status and error line, from its invoke part.
void finish_invoke_response(api::Response* response);

// What InvokeAsync keeps for GetResult: the invocation's answer, or the
// status and error line of a response refused before it ran.
api::InvokeResponse stored_result(const api::Response& response);

}  // namespace sprout::supervisor
