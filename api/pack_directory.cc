// A minimal ustar writer for function code: regular files and directories,
// sorted by name so that the same tree always packs to the same bytes.
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "sprout/client.h"

namespace sprout {
namespace {

constexpr size_t kBlock = 512;

void octal(char* field, size_t width, uint64_t value) {
  snprintf(field, width, "%0*llo", static_cast<int>(width - 1),
           static_cast<unsigned long long>(value));
}

bool header(std::string& out, const std::string& name, char type, uint64_t size, unsigned mode,
            ClientError* error) {
  char block[kBlock] = {};
  // ustar splits long names into a 155-byte prefix and a 100-byte name.
  std::string prefix, base = name;
  if (name.size() > 100) {
    size_t cut = name.rfind('/', 155);
    if (cut == std::string::npos || name.size() - cut - 1 > 100) {
      *error = {api::INVALID_ARGUMENT, "path too long for a tar entry: " + name};
      return false;
    }
    prefix = name.substr(0, cut);
    base = name.substr(cut + 1);
  }
  memcpy(block, base.data(), base.size());  // NOLINT(bugprone-not-null-terminated-result): tar fields are NUL-padded by the zeroed block
  octal(block + 100, 8, mode);
  octal(block + 108, 8, 0);
  octal(block + 116, 8, 0);
  octal(block + 124, 12, size);
  octal(block + 136, 12, 0);
  block[156] = type;
  memcpy(block + 257, "ustar", 6);
  memcpy(block + 263, "00", 2);  // NOLINT(bugprone-not-null-terminated-result): ustar version, two bytes, no NUL
  memcpy(block + 345, prefix.data(), prefix.size());  // NOLINT(bugprone-not-null-terminated-result): zeroed block
  memset(block + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : block) sum += c;
  snprintf(block + 148, 8, "%06o", sum);
  out.append(block, kBlock);
  return true;
}

bool add_tree(std::string& out, const std::string& root, const std::string& relative,
              ClientError* error) {
  const std::string path = relative.empty() ? root : root + "/" + relative;
  DIR* dir = opendir(path.c_str());
  if (!dir) {
    *error = {api::INVALID_ARGUMENT, "cannot read directory " + path + ": " + strerror(errno)};
    return false;
  }
  std::vector<std::string> names;
  while (dirent* entry = readdir(dir)) {
    if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
      names.push_back(entry->d_name);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    const std::string child = relative.empty() ? name : relative + "/" + name;
    struct stat st;
    if (lstat((root + "/" + child).c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (name == "__pycache__") continue;  // the interpreter's cache, not code
      if (!header(out, child + "/", '5', 0, 0755, error)) return false;
      if (!add_tree(out, root, child, error)) return false;
    } else if (S_ISREG(st.st_mode)) {
      std::ifstream in(root + "/" + child, std::ios::binary);
      std::stringstream data;
      data << in.rdbuf();
      const std::string bytes = data.str();
      if (!header(out, child, '0', bytes.size(), (st.st_mode & 0111) ? 0755 : 0644, error))
        return false;
      out += bytes;
      out.append((kBlock - bytes.size() % kBlock) % kBlock, '\0');
    } else {
      *error = {api::INVALID_ARGUMENT,
                "only files and directories can be deployed, not " + root + "/" + child};
      return false;
    }
  }
  return true;
}

}  // namespace

ClientResult<std::string> pack_directory(const std::string& directory) {
  std::string out;
  ClientError error;
  if (!add_tree(out, directory, "", &error)) return std::unexpected(error);
  out.append(2 * kBlock, '\0');  // end-of-archive
  return out;
}

}  // namespace sprout
