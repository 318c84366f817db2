// The typed error of sprout: what kind of failure (a code that callers may
// branch on), which step failed, on what object, with which errno. Rendered
// as "mount tmpfs on /tmp: EPERM (Operation not permitted)"; the code is
// never part of the text, and no caller compares the text.
#pragma once

#include <expected>
#include <utility>
#include <string>

namespace sprout {

// What callers decide on. Only the kinds that some caller tells apart have a
// code of their own; everything else is kInternal (or kOs, with its errno).
enum class ErrorCode {
  kInternal,    // sprout's own failure, not told apart further
  kOs,          // a system call failed: `err` holds its errno
  kTimeout,     // a deadline passed (a snapshot that did not fork in time)
  kPeerClosed,  // the other end of a channel closed it (end of stream)
  kInitFailed,  // the function's own init failed: its fault, not sprout's
  kUsage,       // --help: `detail` is the usage text, not an error
};

struct Error {
  Error() = default;
  // `code`: kOs when `err` is set, kInternal otherwise.
  Error(std::string step, std::string object, int err, std::string detail);
  Error(std::string step, std::string object, int err, std::string detail, ErrorCode code);

  std::string step;    // "mount tmpfs", "write uid_map", "create cgroup"
  std::string object;  // "/tmp", "/proc/123/uid_map"; may be empty
  int err = 0;         // errno, or 0 when the failure is not an OS error
  std::string detail;  // extra words when errno says too little
  ErrorCode code = ErrorCode::kInternal;

  std::string message() const;
};

// [[nodiscard]]: a Result dropped on the floor is a failure ignored. A
// discard on purpose is written `(void)call();` with a comment.
template <typename T>
class [[nodiscard]] Result : public std::expected<T, Error> {
 public:
  using std::expected<T, Error>::expected;
  Result(std::expected<T, Error> other) : std::expected<T, Error>(std::move(other)) {}
};

// Builds the error value of a failed call from the current errno (code kOs).
std::unexpected<Error> os_error(std::string step, std::string object = {});
std::unexpected<Error> os_error(std::string step, std::string object, int err);
// A failure that is not a system call's (code kInternal unless given).
std::unexpected<Error> plain_error(std::string step, std::string detail);
std::unexpected<Error> plain_error(ErrorCode code, std::string step, std::string detail);

// "EPERM", "ENOENT", ... ; falls back to the number.
std::string errno_name(int err);

}  // namespace sprout
