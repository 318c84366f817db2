// The help texts of `sprout`: the overview of every command (`sprout
// --help`) and each command's own (`sprout COMMAND --help`, also printed on
// a usage error of that command).
#pragma once

#include <string>

namespace sprout::cli {

const char* overview_help();

// The help of "invoke", "schedule", "schedule add", ...: a subcommand's is
// its command's. Empty for an unknown command.
std::string command_help(const std::string& command);

}  // namespace sprout::cli
