#include "agent/code_bundle.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include "base/unique_fd.h"

namespace sprout::agent {
namespace {

constexpr size_t kBlock = 512;

// The path with "." components removed; nullopt if it is absolute or has a
// ".." component. "" for the bundle's root itself.
std::optional<std::string> clean_relative_path(std::string_view path) {
  if (!path.empty() && path[0] == '/') return std::nullopt;
  std::string out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part == "..") return std::nullopt;
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

Result<void> write_file(const std::string& root, const std::string& relative, std::string_view data,
                        bool executable) {
  auto slash = relative.rfind('/');
  if (slash != std::string::npos) {
    if (auto r = make_directories(root, relative.substr(0, slash)); !r) return r;
  }
  std::string path = root + "/" + relative;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                     executable ? 0755 : 0644));
  if (!fd) return os_error("create", path);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n =
        retry_eintr([&] { return ::write(fd.get(), data.data() + done, data.size() - done); });
    if (n < 0) return os_error("write", path);
    done += static_cast<size_t>(n);
  }
  return {};
}

Result<uint64_t> parse_octal(const char* field, size_t width, const std::string& entry) {
  uint64_t value = 0;
  size_t i = 0;
  while (i < width && field[i] == ' ') ++i;
  for (; i < width && field[i] >= '0' && field[i] <= '7'; ++i) value = value * 8 + (field[i] - '0');
  if (i < width && field[i] != '\0' && field[i] != ' ') {
    return plain_error("read bundle", "unsupported numeric field in tar entry '" + entry + "'");
  }
  return value;
}

// The "path" record of a pax extended header, if any.
std::string pax_path(std::string_view records) {
  while (!records.empty()) {
    size_t space = records.find(' ');
    if (space == std::string_view::npos) break;
    size_t length = std::strtoul(std::string(records.substr(0, space)).c_str(), nullptr, 10);
    if (length == 0 || length > records.size()) break;
    std::string_view record = records.substr(space + 1, length - space - 2);  // drop "\n"
    if (record.rfind("path=", 0) == 0) return std::string(record.substr(5));
    records.remove_prefix(length);
  }
  return {};
}

Result<void> extract_tar(std::string_view tar, const std::string& root) {
  size_t offset = 0, entries = 0;
  std::string next_name;  // from a GNU 'L' or pax 'x' header
  while (offset + kBlock <= tar.size()) {
    const char* header = tar.data() + offset;
    bool all_zero = true;
    for (size_t i = 0; i < kBlock && all_zero; ++i) all_zero = header[i] == 0;
    if (all_zero) return {};  // end-of-archive marker
    if (++entries > kMaxBundleEntries) return plain_error("read bundle", "more than 20000 entries");

    std::string name(header, strnlen(header, 100));
    if (memcmp(header + 257, "ustar", 5) == 0 && header[345] != '\0') {
      name = std::string(header + 345, strnlen(header + 345, 155)) + "/" + name;
    }
    if (!next_name.empty()) name = std::exchange(next_name, {});
    auto size = parse_octal(header + 124, 12, name);
    if (!size) return std::unexpected(size.error());
    auto mode = parse_octal(header + 100, 8, name);
    if (!mode) return std::unexpected(mode.error());
    const char type = header[156];
    offset += kBlock;
    if (*size > tar.size() - offset)
      return plain_error("read bundle", "tar entry '" + name + "' runs past the end");
    std::string_view data = tar.substr(offset, *size);
    offset += (*size + kBlock - 1) / kBlock * kBlock;

    if (type == 'L') {
      next_name = std::string(data.data(), strnlen(data.data(), data.size()));
      continue;
    }
    if (type == 'x') {
      next_name = pax_path(data);
      continue;
    }
    if (type == 'g') continue;  // global pax header: nothing we use

    auto cleaned = clean_relative_path(name);
    if (!cleaned) {
      return plain_error("read bundle",
                         "refusing tar entry with an absolute or escaping path: '" + name + "'");
    }
    const std::string& relative = *cleaned;
    if (type == '5') {
      if (relative.empty()) continue;  // "./"
      if (auto r = make_directories(root, relative); !r) return r;
    } else if (type == '0' || type == '\0' || type == '7') {
      if (relative.empty()) return plain_error("read bundle", "tar entry without a name");
      if (auto r = write_file(root, relative, data, (*mode & 0111) != 0); !r) return r;
    } else {
      return plain_error("read bundle", std::string("unsupported tar entry type '") + type +
                                            "' for '" + name + "' (only files and directories)");
    }
  }
  return plain_error("read bundle", "tar stream ends without its end-of-archive marker");
}

}  // namespace

Result<void> lay_out_bundle(std::string_view bundle, BundleFormat format,
                            const std::string& file_name, const std::string& directory) {
  switch (format) {
    case SINGLE_FILE: {
      auto relative = clean_relative_path(file_name);
      if (!relative || relative->empty() || relative->find('/') != std::string::npos) {
        return plain_error("lay out code", "bad file name '" + file_name + "'");
      }
      // A lone file has no mode of its own; executable costs nothing and
      // lets an exec function be a single script.
      return write_file(directory, *relative, bundle, true);
    }
    case TAR:
      return extract_tar(bundle, directory);
    default:
      return plain_error("lay out code", "unknown bundle format");
  }
}

}  // namespace sprout::agent
