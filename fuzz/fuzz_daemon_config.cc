// Fuzzes sproutd's configuration (supervisor/config.h): the --config file
// (protobuf text format, with its refusal of removed fields), command-line
// flags over it, the defaults, and the host id range checked against the
// account files.
//
// Input: up to four sections separated by a line "%%": the config text;
// flags, one argument per line; an /etc/passwd; an /etc/group (small real
// ones when absent). Each file is a memfd, read by path (/proc/self/fd/N)
// exactly as load_config() and host_id_range_of() read a file.
//
// Invariants, each an abort when broken:
// - a config that loads has every default filled, and filling them again
//   changes nothing;
// - a config that loads names no removed field (sandbox_uid, sandbox_gid):
//   judged by protobuf's own tokenizer, not by the loader's pattern;
// - a host id range that is accepted is well formed (HostIdRange::create's
//   rules) and holds no uid or gid of the account files.
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "supervisor/config.h"

namespace {

using sprout::supervisor::DaemonConfig;

void fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "fuzz_daemon_config: invariant broken: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// A file whose contents are replaced for every input, read by its path.
class MemFile {
 public:
  explicit MemFile(const char* name) : fd_(::memfd_create(name, MFD_CLOEXEC)) {
    if (fd_ < 0) fail("memfd_create");
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  void set(std::string_view text) {
    if (::ftruncate(fd_, 0) != 0) fail("ftruncate");
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::pwrite(fd_, text.data() + done, text.size() - done, done);
      if (n <= 0) fail("pwrite");
      done += static_cast<size_t>(n);
    }
  }
  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

constexpr std::string_view kPasswd =
    "root:x:0:0:root:/root:/bin/bash\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    "alice:x:1000:1000::/home/alice:/bin/bash\n";
constexpr std::string_view kGroup = "root:x:0:\nnogroup:x:65534:\nalice:x:1000:\n";

std::vector<std::string_view> sections(std::string_view input) {
  std::vector<std::string_view> out;
  while (out.size() < 3) {
    const size_t at = input.find("\n%%\n");
    if (at == std::string_view::npos) break;
    out.push_back(input.substr(0, at));
    input.remove_prefix(at + 4);
  }
  out.push_back(input);
  return out;
}

// Whether protobuf's text-format tokenizer sees `name` as an identifier of
// `text` (outside strings and # comments).
bool names_identifier(std::string_view text, const char* a, const char* b) {
  class Quiet : public google::protobuf::io::ErrorCollector {
   public:
    void AddError(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  } quiet;
  google::protobuf::io::ArrayInputStream stream(text.data(), static_cast<int>(text.size()));
  google::protobuf::io::Tokenizer tokenizer(&stream, &quiet);
  tokenizer.set_comment_style(google::protobuf::io::Tokenizer::SH_COMMENT_STYLE);
  while (tokenizer.Next()) {
    const auto& token = tokenizer.current();
    if (token.type == google::protobuf::io::Tokenizer::TYPE_IDENTIFIER &&
        (token.text == a || token.text == b)) {
      return true;
    }
  }
  return false;
}

// The numeric ids in `columns` of an account file, parsed independently of
// config.cc: lines starting with '#' are comments there, and are here.
bool file_has_id_in(std::string_view text, const std::vector<size_t>& columns, uint64_t first,
                    uint64_t last) {
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string_view> fields;
    while (true) {
      const size_t colon = line.find(':');
      fields.push_back(line.substr(0, colon));
      if (colon == std::string_view::npos) break;
      line.remove_prefix(colon + 1);
    }
    for (const size_t column : columns) {
      if (column >= fields.size()) continue;
      const std::string_view field = fields[column];
      if (field.empty() || field.find_first_not_of("0123456789") != std::string_view::npos)
        continue;
      errno = 0;
      const uint64_t id = std::strtoull(std::string(field).c_str(), nullptr, 10);
      if (errno == 0 && id >= first && id <= last) return true;
    }
  }
  return false;
}

void check_defaults_filled(const DaemonConfig& config) {
  const bool filled = !config.socket_path().empty() && !config.state_dir().empty() &&
                      config.max_frame_bytes() != 0 && config.max_live_sandboxes() != 0 &&
                      config.max_queue() != 0 && config.queue_timeout_ms() != 0 &&
                      config.io_threads() != 0 && config.drain_timeout_ms() != 0 &&
                      config.async_results_kept() != 0 && config.host_id_first() != 0 &&
                      config.host_id_count() != 0 && config.has_snapshot_idle_ttl_s() &&
                      config.fork_timeout_ms() != 0 && config.prefork_threads() != 0;
  if (!filled) fail("a loaded config lacks a default", config.ShortDebugString());
  DaemonConfig again = config;
  sprout::supervisor::apply_config_defaults(again);
  if (again.SerializeAsString() != config.SerializeAsString())
    fail("defaults are not idempotent", config.ShortDebugString());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  sprout::fuzz::silence_protobuf_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static MemFile config_file("sprout-fuzz-config");
  static MemFile passwd_file("sprout-fuzz-passwd");
  static MemFile group_file("sprout-fuzz-group");

  const auto parts = sections({reinterpret_cast<const char*>(data), size});
  const std::string_view text = parts[0];
  const std::string_view passwd = parts.size() > 2 ? parts[2] : kPasswd;
  const std::string_view group = parts.size() > 3 ? parts[3] : kGroup;
  config_file.set(text);
  passwd_file.set(passwd);
  group_file.set(group);

  std::vector<std::string> args = {"sproutd", "--config", config_file.path()};
  if (parts.size() > 1) {
    std::string_view flags = parts[1];
    while (!flags.empty() && args.size() < 64) {
      const size_t newline = flags.find('\n');
      std::string_view flag = flags.substr(0, newline);
      flags.remove_prefix(newline == std::string_view::npos ? flags.size() : newline + 1);
      flag = flag.substr(0, flag.find('\0'));  // what load_config sees of it
      // The config file is the first section's: the removed-field check
      // judges that text.
      if (flag == "--config") break;
      args.emplace_back(flag);
    }
  }
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  auto config = sprout::supervisor::load_config(static_cast<int>(args.size()), argv.data());
  if (!config) return 0;
  check_defaults_filled(*config);
  if (names_identifier(text, "sandbox_uid", "sandbox_gid"))
    fail("a config that sets a removed field loaded", std::string(text));

  auto range = sprout::supervisor::host_id_range_of(*config, passwd_file.path(), group_file.path());
  if (!range) return 0;
  const uint64_t first = range->first();
  const uint64_t last = first + range->count() - 1;
  if (range->count() == 0 || first == 0 || last >= 0xffffffffull || (first <= 65534 && last >= 65534))
    fail("a malformed host id range was accepted", config->ShortDebugString());
  if (file_has_id_in(passwd, {2, 3}, first, last) || file_has_id_in(group, {2}, first, last))
    fail("an accepted host id range holds an account's id", config->ShortDebugString());
  return 0;
}
