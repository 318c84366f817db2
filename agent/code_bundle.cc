#include "agent/code_bundle.h"

#include <cstring>
#include <string>
#include <utility>

#include "agent/bundle_files.h"
#include "agent/zip_bundle.h"

namespace sprout::agent {
namespace {

constexpr size_t kBlock = 512;

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

    auto cleaned = entry_relative_path(name, "tar");
    if (!cleaned) return std::unexpected(cleaned.error());
    const std::string& relative = *cleaned;
    if (type == '5') {
      if (relative.empty()) continue;  // "./"
      if (auto r = make_directories(root, relative); !r) return r;
    } else if (type == '0' || type == '\0' || type == '7') {
      if (relative.empty()) return plain_error("read bundle", "tar entry without a name");
      auto file = create_entry_file(root, relative, (*mode & 0111) != 0);
      if (!file) return std::unexpected(file.error());
      if (auto r = write_all(file->get(), data, root + "/" + relative); !r) return r;
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
      auto relative = entry_relative_path(file_name, "single-file");
      if (!relative || relative->empty() || relative->find('/') != std::string::npos) {
        return plain_error("lay out code", "bad file name '" + file_name + "'");
      }
      // A lone file has no mode of its own; executable costs nothing and
      // lets an exec function be a single script.
      auto file = create_entry_file(directory, *relative, true);
      if (!file) return std::unexpected(file.error());
      return write_all(file->get(), bundle, directory + "/" + *relative);
    }
    case TAR:
      return extract_tar(bundle, directory);
    case ZIP:
      return extract_zip(bundle, directory);
    default:
      return plain_error("lay out code", "unknown bundle format");
  }
}

Result<uint64_t> bundle_unpacked_bytes(std::string_view bundle, BundleFormat format) {
  if (format == ZIP) return zip_unpacked_bytes(bundle);
  // A tar stream holds its files' bytes plus headers and padding: no more.
  return bundle.size();
}

}  // namespace sprout::agent
