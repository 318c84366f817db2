// Whole-file reads for small files (/proc, cgroup files, stored specs).
// Parent side; may allocate. Thread-safe.
#pragma once

#include <string>

#include "base/errors.h"

namespace sprout {

Result<std::string> read_whole_file(const std::string& path);

}  // namespace sprout
