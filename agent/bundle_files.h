// What every entry of a code bundle must obey, whatever its archive format
// (tar, zip), and the writing of entries under the code directory. One place
// for the path rules, so that the formats cannot drift apart on what counts
// as an escape. Runs in the function snapshot, already confined; the rules
// still hold on their own, because the layout must not depend on where it
// runs.
#pragma once

#include <string>
#include <string_view>

#include "base/errors.h"
#include "base/unique_fd.h"

namespace sprout::agent {

inline constexpr size_t kMaxPathComponentBytes = 255;  // NAME_MAX

// The entry's path relative to the code directory, with "." and empty
// components dropped ("" for the directory itself). An error naming the
// entry if the path is absolute, has a ".." component, a NUL byte, or a
// component longer than NAME_MAX. `archive` names the format in the error
// ("tar", "zip").
Result<std::string> entry_relative_path(std::string_view name, std::string_view archive);

// Creates root/relative and every directory above it (mode 0755); existing
// directories are fine.
Result<void> make_directories(const std::string& root, const std::string& relative);

// Creates (or truncates) the regular file root/relative, its directories
// first; never follows a symlink at its last component. Mode 0755 when
// `executable`, else 0644 (the code is mounted read-only afterwards).
Result<UniqueFd> create_entry_file(const std::string& root, const std::string& relative,
                                   bool executable);

// Writes all of `data`; `path` names the file in the error.
Result<void> write_all(int fd, std::string_view data, const std::string& path);

}  // namespace sprout::agent
