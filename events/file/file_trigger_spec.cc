#include "events/file/file_trigger_spec.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>

#include "http/json.h"

namespace sprout::events {
namespace {

// The kernel's pseudo file systems (walking them as root reads or
// triggers kernel state), and sproutd's own runtime directory.
constexpr std::array<std::string_view, 4> kRefusedTrees = {"/proc", "/sys", "/dev", "/run/sprout"};

bool is_under(std::string_view path, std::string_view directory) {
  return path == directory ||
         (path.size() > directory.size() && path.starts_with(directory) && path[directory.size()] == '/');
}

bool looks_like_ipv4(std::string_view name) {
  int parts = 0;
  size_t start = 0;
  while (start <= name.size()) {
    const size_t dot = std::min(name.find('.', start), name.size());
    const std::string_view part = name.substr(start, dot - start);
    if (part.empty() || part.size() > 3 ||
        !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return false;
    ++parts;
    start = dot + 1;
  }
  return parts == 4;
}

Result<void> check_filter(std::string_view what, std::string_view value) {
  if (value.size() > kMaxS3KeyBytes)
    return plain_error("file trigger " + std::string(what),
                       "longer than " + std::to_string(kMaxS3KeyBytes) + " bytes");
  if (!http::is_valid_utf8(value) || value.find('\0') != std::string_view::npos)
    return plain_error("file trigger " + std::string(what), "not valid UTF-8 text");
  return {};
}

}  // namespace

bool is_valid_s3_key(std::string_view key) {
  return !key.empty() && key.size() <= kMaxS3KeyBytes && http::is_valid_utf8(key);
}

bool is_valid_bucket_name(std::string_view name, std::string* why) {
  auto refuse = [&](const char* reason) {
    if (why) *why = reason;
    return false;
  };
  if (name.size() < 3 || name.size() > 63) return refuse("must be 3 to 63 characters long");
  if (!std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
      }))
    return refuse("may hold only lower-case letters, digits, '.' and '-'");
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back()))
    return refuse("must begin and end with a letter or a digit");
  if (name.find("..") != std::string_view::npos) return refuse("must not hold two adjacent dots");
  if (looks_like_ipv4(name)) return refuse("must not look like an IP address");
  for (const std::string_view prefix : {"xn--", "sthree-", "amzn-s3-demo-"})
    if (name.starts_with(prefix)) return refuse("must not begin with a reserved prefix");
  for (const std::string_view suffix : {"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"})
    if (name.ends_with(suffix)) return refuse("must not end with a reserved suffix");
  return true;
}

Result<api::FileTrigger> validate_file_trigger(const api::FileTrigger& spec) {
  const std::string& dir = spec.watch_dir();
  if (dir.empty()) return plain_error("file trigger", "a watch directory is required");
  if (dir.front() != '/')
    return plain_error("file trigger watch directory " + dir, "must be an absolute path");
  const std::unique_ptr<char, decltype(&free)> real(realpath(dir.c_str(), nullptr), &free);
  if (!real) return os_error("file trigger watch directory", dir);
  if (dir != real.get())
    return plain_error("file trigger watch directory " + dir,
                       "must be canonical (no symlinks, '.', '..' or trailing '/'): use " +
                           std::string(real.get()));
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) return os_error("file trigger watch directory", dir);
  if (!S_ISDIR(st.st_mode))
    return plain_error("file trigger watch directory " + dir, "is not a directory");
  if (dir == "/") return plain_error("file trigger watch directory /", "the root cannot be watched");
  for (const std::string_view refused : kRefusedTrees)
    if (is_under(dir, refused))
      return plain_error("file trigger watch directory " + dir,
                         "must not be under " + std::string(refused));

  api::FileTrigger checked = spec;
  if (checked.bucket().empty()) {
    std::string base = dir.substr(dir.rfind('/') + 1);
    std::transform(base.begin(), base.end(), base.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string why;
    if (!is_valid_bucket_name(base, &why))
      return plain_error("file trigger bucket", "the directory's name \"" + base +
                                                    "\" is no valid S3 bucket name (it " + why +
                                                    "); give one with --bucket");
    checked.set_bucket(base);
  } else {
    std::string why;
    if (!is_valid_bucket_name(checked.bucket(), &why))
      return plain_error("file trigger bucket \"" + checked.bucket() + "\"", "it " + why);
  }
  if (auto ok = check_filter("prefix", checked.prefix()); !ok) return std::unexpected(ok.error());
  if (auto ok = check_filter("suffix", checked.suffix()); !ok) return std::unexpected(ok.error());
  return checked;
}

}  // namespace sprout::events
