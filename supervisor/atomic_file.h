// Crash-safe file writes: write a temporary file in the same directory,
// fsync it, rename it over the target, fsync the directory. A crash leaves
// either the old file or the new one, never a mix.
#pragma once

#include <string>
#include <string_view>

#include "base/errors.h"
#include "base/file_io.h"

namespace sprout {

Result<void> write_file_atomically(const std::string& path, std::string_view contents);
Result<void> fsync_directory(const std::string& path);

}  // namespace sprout
