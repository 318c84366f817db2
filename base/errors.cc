#include "base/errors.h"

#include <string.h>

namespace sprout {

Error::Error(std::string step, std::string object, int err, std::string detail)
    : Error(std::move(step), std::move(object), err, std::move(detail),
            err != 0 ? ErrorCode::kOs : ErrorCode::kInternal) {}

Error::Error(std::string step, std::string object, int err, std::string detail, ErrorCode code)
    : step(std::move(step)),
      object(std::move(object)),
      err(err),
      detail(std::move(detail)),
      code(code) {}

std::string errno_name(int err) {
  // strerrorname_np is glibc >= 2.32; Debian 12 has 2.36.
  const char* name = strerrorname_np(err);
  return name ? name : "errno " + std::to_string(err);
}

std::string Error::message() const {
  std::string out = step;
  if (!object.empty()) out += " " + object;
  if (err != 0) out += ": " + errno_name(err) + " (" + strerror(err) + ")";
  if (!detail.empty()) out += (err != 0 ? ", " : ": ") + detail;
  return out;
}

std::unexpected<Error> os_error(std::string step, std::string object) {
  return os_error(std::move(step), std::move(object), errno);
}

std::unexpected<Error> os_error(std::string step, std::string object, int err) {
  return std::unexpected(Error{std::move(step), std::move(object), err, {}, ErrorCode::kOs});
}

std::unexpected<Error> plain_error(std::string step, std::string detail) {
  return plain_error(ErrorCode::kInternal, std::move(step), std::move(detail));
}

std::unexpected<Error> plain_error(ErrorCode code, std::string step, std::string detail) {
  return std::unexpected(Error{std::move(step), {}, 0, std::move(detail), code});
}

}  // namespace sprout
