#include "base/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include "base/unique_fd.h"

namespace sprout {

Result<std::string> read_whole_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return os_error("open", path);
  std::string contents;
  char buffer[65536];
  for (;;) {
    ssize_t n = retry_eintr([&] { return ::read(fd.get(), buffer, sizeof buffer); });
    if (n < 0) return os_error("read", path);
    if (n == 0) return contents;
    contents.append(buffer, n);
  }
}

}  // namespace sprout
