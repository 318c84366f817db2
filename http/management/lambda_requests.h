// The request bodies of Lambda's function-management calls, read into
// sprout's FunctionSpec: CreateFunction, UpdateFunctionCode and
// UpdateFunctionConfiguration. Pure; every refusal is an AwsFault that the
// route answers as it is.
//
// What is read: FunctionName (a name or an ARN), Runtime (python3.N ->
// python3; anything else is refused: sprout runs no other Lambda runtime),
// Handler, Code.ZipFile (base64 of a .zip, laid out by the function's
// snapshot), MemorySize (MiB), Timeout (seconds), Environment.Variables,
// PackageType "Zip", Architectures ["x86_64"]. Accepted and not kept: Role
// (every function reports lambda_configuration.h's fixed role),
// Description, Publish, Tags, TracingConfig, KMSKeyArn, LoggingConfig,
// EphemeralStorage, SnapStart, VpcConfig, DeadLetterConfig, RevisionId.
// Refused: Code from S3 or an image, Layers, FileSystemConfigs,
// ImageConfig, other architectures, DryRun.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include "api/proto/sprout_api.pb.h"

namespace sprout::http {

// An AWS error before it is an HTTP answer.
struct AwsFault {
  unsigned status = 400;
  std::string type;
  std::string message;
};

AwsFault invalid_parameter(std::string message);

// CreateFunction's body as a FunctionSpec (code_format ZIP). Unset numbers
// stay 0 (sproutd's defaults: 128 MiB, 3 s, as Lambda's).
std::expected<api::FunctionSpec, AwsFault> read_create_function(std::string_view body);

// UpdateFunctionCode's body: the new .zip bundle (decoded).
std::expected<std::string, AwsFault> read_update_function_code(std::string_view body);

// UpdateFunctionConfiguration's body applied to the current `spec`:
// MemorySize, Timeout, Environment (replaces every variable), Handler,
// Runtime (python3.N, only for a python3 function).
std::expected<void, AwsFault> apply_update_function_configuration(std::string_view body,
                                                                  api::FunctionSpec& spec);

// Lambda's python3.N names ("python3.11", "python3.9"): python3.
bool is_python3_runtime_name(std::string_view runtime);

}  // namespace sprout::http
