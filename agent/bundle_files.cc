#include "agent/bundle_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sprout::agent {

Result<std::string> entry_relative_path(std::string_view name, std::string_view archive) {
  const std::string quoted = "'" + std::string(name) + "'";
  if (name.find('\0') != std::string_view::npos)
    return plain_error("read bundle", std::string(archive) + " entry name with a NUL byte");
  if (!name.empty() && name[0] == '/') {
    return plain_error("read bundle", "refusing " + std::string(archive) +
                                          " entry with an absolute or escaping path: " + quoted);
  }
  std::string out;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view part = name.substr(start, end - start);
    if (part == "..") {
      return plain_error("read bundle", "refusing " + std::string(archive) +
                                            " entry with an absolute or escaping path: " + quoted);
    }
    if (part.size() > kMaxPathComponentBytes) {
      return plain_error("read bundle", "refusing " + std::string(archive) +
                                            " entry with a path component over 255 bytes: " +
                                            quoted);
    }
    if (!part.empty() && part != ".") {
      if (!out.empty()) out += '/';
      out.append(part);
    }
    start = end + 1;
  }
  return out;
}

Result<void> make_directories(const std::string& root, const std::string& relative) {
  std::string path = root;
  size_t start = 0;
  while (start < relative.size()) {
    size_t end = relative.find('/', start);
    if (end == std::string::npos) end = relative.size();
    path += "/" + relative.substr(start, end - start);
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return os_error("mkdir", path);
    start = end + 1;
  }
  return {};
}

Result<UniqueFd> create_entry_file(const std::string& root, const std::string& relative,
                                   bool executable) {
  auto slash = relative.rfind('/');
  if (slash != std::string::npos) {
    if (auto r = make_directories(root, relative.substr(0, slash)); !r)
      return std::unexpected(r.error());
  }
  std::string path = root + "/" + relative;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                     executable ? 0755 : 0644));
  if (!fd) return os_error("create", path);
  return fd;
}

Result<void> write_all(int fd, std::string_view data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = retry_eintr([&] { return ::write(fd, data.data() + done, data.size() - done); });
    if (n < 0) return os_error("write", path);
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace sprout::agent
