// Fuzzes the laying out of a function's code bundle (agent/code_bundle.h):
// tar streams, zip archives and single files, as the agent lays them out
// under /var/task.
//
// Input: byte 0 picks the format (odd: SINGLE_FILE; else bit 1 set: ZIP;
// else TAR); for a single file, the bytes up to the first newline are its
// name. The bundle is laid
// out into a private directory, <scratch>/outside/target, under $TMPDIR
// (scripts/run-fuzz.sh gives each run a scratch TMPDIR of its own).
//
// Safety invariants, each an abort when broken:
// - every open() and mkdir() that succeeds while the bundle is laid out
//   names a path under the target directory, without a ".." component
//   (the calls are wrapped at link time: -Wl,--wrap=open,--wrap=mkdir);
// - afterwards the target holds only regular files (one link each, no
//   set-id bits) and directories: no symlink, hard link, device, FIFO or
//   socket; and nothing beside the target changed: <scratch>/outside holds
//   the target and the untouched file "sentinel", <scratch> holds "outside";
// - on a failed lay-out too: a refusal may leave files, never an escape.
// The target is emptied after each input and the scratch removed at exit.
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "agent/code_bundle.h"

namespace {

void fail(const char* what, const std::string& path = {}) {
  std::fprintf(stderr, "fuzz_code_bundle: invariant broken: %s%s%s\n", what,
               path.empty() ? "" : ": ", path.c_str());
  std::abort();
}

std::string g_scratch;  // <TMPDIR>/sprout-fuzz-bundle-XXXXXX
std::string g_outside;  // <scratch>/outside
std::string g_target;   // <scratch>/outside/target
const char* const kSentinelText = "not to be touched\n";
bool g_laying_out = false;  // only the bundle code's calls are checked

// A path the bundle code may create: under the target, no ".." component.
// Lexical is exact here, because the target holds no symlink (checked
// after every input).
void check_created_path(const char* path, const char* call) {
  const std::string_view p(path);
  const std::string prefix = g_target + "/";
  if (p.substr(0, prefix.size()) != prefix) fail(call, "created outside the target: " + std::string(p));
  std::string_view rest = p.substr(prefix.size());
  while (true) {
    const size_t slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    if (part == "..") fail(call, "created through '..': " + std::string(p));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
}

}  // namespace

extern "C" {
int __real_open(const char* path, int flags, ...);
int __real_mkdir(const char* path, mode_t mode);

int __wrap_open(const char* path, int flags, ...) {
  mode_t mode = 0;
  if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) {
    va_list args;
    va_start(args, flags);
    mode = va_arg(args, mode_t);
    va_end(args);
  }
  const int fd = __real_open(path, flags, mode);
  if (g_laying_out && fd >= 0) check_created_path(path, "open");
  return fd;
}

int __wrap_mkdir(const char* path, mode_t mode) {
  const int result = __real_mkdir(path, mode);
  if (g_laying_out && result == 0) check_created_path(path, "mkdir");
  return result;
}
}  // extern "C"

namespace {

int check_entry(const char* path, const struct stat* st, int type, struct FTW*) {
  if (type == FTW_NS || type == FTW_DNR) fail("unreadable entry in the target", path);
  if (S_ISDIR(st->st_mode)) {
    if ((st->st_mode & (S_ISUID | S_ISGID)) != 0) fail("set-id directory", path);
    return 0;
  }
  if (!S_ISREG(st->st_mode)) fail("neither a regular file nor a directory", path);
  if (st->st_nlink != 1) fail("hard link", path);
  if ((st->st_mode & (S_ISUID | S_ISGID | S_ISVTX)) != 0) fail("set-id or sticky file", path);
  return 0;
}

int remove_entry(const char* path, const struct stat*, int, struct FTW* ftw) {
  if (ftw->level == 0) return 0;  // the target itself stays
  if (::remove(path) != 0) fail("cannot clean the target", path);
  return 0;
}

// The one entry a directory must hold, besides `also` (if any).
void check_only(const std::string& dir, const char* entry, const char* also = nullptr) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) fail("cannot list", dir);
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name(e->d_name);
    if (name == "." || name == ".." || name == entry || (also != nullptr && name == also)) continue;
    fail("something appeared beside the target", dir + "/" + std::string(name));
  }
  ::closedir(d);
}

void check_surroundings() {
  check_only(g_scratch, "outside");
  check_only(g_outside, "target", "sentinel");
  struct stat st;
  const std::string sentinel = g_outside + "/sentinel";
  if (::lstat(sentinel.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_size != static_cast<off_t>(std::strlen(kSentinelText))) {
    fail("the sentinel beside the target changed", sentinel);
  }
  if (::lstat(g_target.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) fail("the target changed", g_target);
}

void remove_scratch() {
  if (g_scratch.empty()) return;
  (void)::nftw(
      g_scratch.c_str(),
      [](const char* path, const struct stat*, int, struct FTW*) { return ::remove(path); }, 64,
      FTW_DEPTH | FTW_PHYS);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                        "/sprout-fuzz-bundle-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) fail("mkdtemp", pattern);
  g_scratch = pattern;
  g_outside = g_scratch + "/outside";
  g_target = g_outside + "/target";
  if (::mkdir(g_outside.c_str(), 0755) != 0 || ::mkdir(g_target.c_str(), 0755) != 0)
    fail("cannot create the target", g_target);
  FILE* sentinel = std::fopen((g_outside + "/sentinel").c_str(), "w");
  if (sentinel == nullptr || std::fputs(kSentinelText, sentinel) < 0 || std::fclose(sentinel) != 0)
    fail("cannot write the sentinel", g_outside);
  std::atexit(remove_scratch);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool single_file = (data[0] & 1) != 0;
  const sprout::agent::BundleFormat format = single_file         ? sprout::agent::SINGLE_FILE
                                             : (data[0] & 2) != 0 ? sprout::agent::ZIP
                                                                  : sprout::agent::TAR;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string file_name;
  if (single_file) {
    const size_t newline = rest.find('\n');
    file_name = std::string(rest.substr(0, newline));
    rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
  }

  g_laying_out = true;
  auto laid = sprout::agent::lay_out_bundle(rest, format, file_name, g_target);
  g_laying_out = false;
  (void)laid;  // a refusal is fine; what it left behind is checked below

  if (::nftw(g_target.c_str(), check_entry, 64, FTW_PHYS) != 0) fail("cannot walk the target", g_target);
  check_surroundings();
  if (::nftw(g_target.c_str(), remove_entry, 64, FTW_DEPTH | FTW_PHYS) != 0)
    fail("cannot clean the target", g_target);
  return 0;
}
