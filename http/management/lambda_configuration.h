// A sprout function as Lambda's FunctionConfiguration (the body of
// GetFunctionConfiguration, UpdateFunction*, CreateFunction, and each item
// of ListFunctions). Pure.
//
// Fixed values, because sproutd has no AWS account, region or IAM:
// FunctionArn is arn:aws:lambda:us-east-1:000000000000:function:NAME;
// Role is always kFunctionRole (the Role a request names is accepted and
// not kept); Version is "$LATEST" (sprout serves only the current version);
// State "Active", LastUpdateStatus "Successful" (a deploy returns once the
// init ran); PackageType "Zip"; Architectures ["x86_64"]; Description "".
// Runtime is "python3.11" for python3 (the embedded CPython), "native" or
// "exec" for sprout's own runtimes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "api/proto/sprout_api.pb.h"

namespace sprout::http {

inline constexpr std::string_view kManagementRegion = "us-east-1";
inline constexpr std::string_view kFunctionRole = "arn:aws:iam::000000000000:role/sprout-function";

// "arn:aws:lambda:us-east-1:000000000000:function:NAME".
std::string management_function_arn(std::string_view name);

// Lambda's Runtime name for a sprout runtime.
std::string lambda_runtime_name(api::Runtime runtime);

// "2024-01-01T00:00:00.000+0000", Lambda's LastModified format (UTC).
std::string lambda_timestamp(int64_t unix_ms);

// The FunctionConfiguration object. `code_sha256`: base64 SHA-256 of the
// code bundle, when known (else CodeSha256 is left out).
std::string function_configuration_json(const api::FunctionInfo& info,
                                        const std::optional<std::string>& code_sha256);

// base64 of the SHA-256 of `bytes` (Lambda's CodeSha256).
std::string code_sha256(std::string_view bytes);

}  // namespace sprout::http
