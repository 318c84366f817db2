// Lays out a function's code bundle in a directory: a single file, a tar
// stream (ustar, GNU long names, pax path records) of a directory tree, or a
// .zip archive (agent/zip_bundle.h: stored and deflate entries). Only
// regular files and directories; absolute paths, "..", links and device
// nodes are refused with an error naming the entry (the path rules are
// shared: agent/bundle_files.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/proto/agent_protocol.pb.h"
#include "base/errors.h"

namespace sprout::agent {

inline constexpr size_t kMaxBundleEntries = 20000;

// At most how many bytes the bundle lays out (a zip's declared total, after
// its checks; for the other formats, the bundle's own size bounds it). For
// sizing the file system the code is laid out on.
Result<uint64_t> bundle_unpacked_bytes(std::string_view bundle, BundleFormat format);

Result<void> lay_out_bundle(std::string_view bundle, BundleFormat format,
                            const std::string& file_name, const std::string& directory);

}  // namespace sprout::agent
