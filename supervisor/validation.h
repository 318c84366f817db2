// Checks of everything a client sends before sproutd acts on it.
#pragma once

#include <string>

#include "api/proto/sprout_api.pb.h"

namespace sprout::supervisor {

bool is_valid_function_name(const std::string& name);
// Empty when valid; otherwise what is wrong, for INVALID_ARGUMENT.
std::string validate_function_spec(const api::FunctionSpec& spec);
// Fills zero fields with defaults (after validation).
void apply_function_defaults(api::FunctionSpec& spec);

}  // namespace sprout::supervisor
