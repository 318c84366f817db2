// Checks of everything a client sends before sproutd acts on it.
#pragma once

#include <string>

#include "api/proto/sprout_api.pb.h"

namespace sprout::supervisor {

bool is_valid_function_name(const std::string& name);
// A tenant name: [A-Za-z0-9_-]{1,64}.
bool is_valid_tenant_name(const std::string& tenant);
// Empty when valid; otherwise what is wrong, for INVALID_ARGUMENT.
std::string validate_function_spec(const api::FunctionSpec& spec);
// The async settings of `function`; empty when valid.
std::string validate_async_config(const std::string& function, const api::AsyncConfig& async);
// Fills zero fields with defaults (after validation).
void apply_function_defaults(api::FunctionSpec& spec);
// The tenant a function runs under: its spec's, or, when that is empty, a
// tenant of its own, "fn:<name>", which no named tenant can equal (':' is
// not allowed in tenant names).
std::string effective_tenant(const api::FunctionSpec& spec);

}  // namespace sprout::supervisor
