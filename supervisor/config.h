// sproutd's configuration: defaults, then the --config file (protobuf text
// format), then command-line flags.
#pragma once

#include <string>

#include "sandbox/errors.h"
#include "supervisor/proto/daemon_config.pb.h"

namespace sprout::supervisor {

inline constexpr const char* kDefaultSocketPath = "/run/sprout/sprout.sock";
inline constexpr const char* kDefaultStateDir = "/var/lib/sprout";

// Parses argv; "--help" yields an Error whose detail is the usage text.
Result<DaemonConfig> load_config(int argc, char** argv);
void apply_config_defaults(DaemonConfig& config);
std::string usage_text();

}  // namespace sprout::supervisor
