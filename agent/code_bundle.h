// Lays out a function's code bundle in a directory: a single file, or a tar
// stream (ustar, GNU long names, pax path records) of a directory tree.
// Only regular files and directories; absolute paths, "..", links and device
// nodes are refused with an error naming the entry.
#pragma once

#include <string>
#include <string_view>

#include "agent/proto/agent_protocol.pb.h"
#include "base/errors.h"

namespace sprout::agent {

inline constexpr size_t kMaxBundleEntries = 20000;

Result<void> lay_out_bundle(std::string_view bundle, BundleFormat format,
                            const std::string& file_name, const std::string& directory);

}  // namespace sprout::agent
