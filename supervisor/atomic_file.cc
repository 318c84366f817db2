#include "supervisor/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include "base/unique_fd.h"

namespace sprout {

Result<void> fsync_directory(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return os_error("open directory", path);
  if (::fsync(fd.get()) != 0) return os_error("fsync directory", path);
  return {};
}

Result<void> write_file_atomically(const std::string& path, std::string_view contents) {
  const auto slash = path.rfind('/');
  const std::string directory = slash == std::string::npos ? "." : path.substr(0, slash);
  const std::string temporary = path + ".tmp." + std::to_string(getpid());
  {
    UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) return os_error("create", temporary);
    size_t done = 0;
    while (done < contents.size()) {
      ssize_t n = retry_eintr(
          [&] { return ::write(fd.get(), contents.data() + done, contents.size() - done); });
      if (n < 0) {
        ::unlink(temporary.c_str());
        return os_error("write", temporary);
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) {
      ::unlink(temporary.c_str());
      return os_error("fsync", temporary);
    }
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    ::unlink(temporary.c_str());
    return os_error("rename over", path);
  }
  return fsync_directory(directory);
}

}  // namespace sprout
