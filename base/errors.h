// The typed error of sandbox/: which step failed, on what object, with which
// errno. Rendered as "mount tmpfs on /tmp: EPERM (Operation not permitted)".
#pragma once

#include <expected>
#include <string>

namespace sprout {

struct Error {
  std::string step;    // "mount tmpfs", "write uid_map", "create cgroup"
  std::string object;  // "/tmp", "/proc/123/uid_map"; may be empty
  int err = 0;         // errno, or 0 when the failure is not an OS error
  std::string detail;  // extra words when errno says too little

  std::string message() const;
};

template <typename T>
using Result = std::expected<T, Error>;

// Builds the error value of a failed call from the current errno.
std::unexpected<Error> os_error(std::string step, std::string object = {});
std::unexpected<Error> os_error(std::string step, std::string object, int err);
std::unexpected<Error> plain_error(std::string step, std::string detail);

// "EPERM", "ENOENT", ... ; falls back to the number.
std::string errno_name(int err);

}  // namespace sprout
