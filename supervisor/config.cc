#include "supervisor/config.h"

#include <google/protobuf/text_format.h>

#include <cstdlib>

#include "supervisor/atomic_file.h"

namespace sprout::supervisor {

std::string usage_text() {
  return "usage: sproutd [--socket PATH] [--state-dir DIR] [--config FILE]\n"
         "               [--max-live-sandboxes N] [--max-queue N] [--queue-timeout-ms N]\n"
         "               [--max-frame-bytes N] [--allow-uid UID]... [--allow-gid GID]...\n"
         "               [--python-pre-import MODULE]... [--agent PATH]\n"
         "defaults: --socket /run/sprout/sprout.sock --state-dir /var/lib/sprout\n"
         "The config file is a DaemonConfig (supervisor/proto/daemon_config.proto) in text "
         "format.\n";
}

void apply_config_defaults(DaemonConfig& config) {
  if (config.socket_path().empty()) config.set_socket_path(kDefaultSocketPath);
  if (config.state_dir().empty()) config.set_state_dir(kDefaultStateDir);
  if (config.max_frame_bytes() == 0) config.set_max_frame_bytes(6 * 1024 * 1024 + 64 * 1024);
  if (config.max_live_sandboxes() == 0) config.set_max_live_sandboxes(256);
  if (config.max_queue() == 0) config.set_max_queue(1024);
  if (config.queue_timeout_ms() == 0) config.set_queue_timeout_ms(2000);
  if (config.io_threads() == 0) config.set_io_threads(2);
  if (config.drain_timeout_ms() == 0) config.set_drain_timeout_ms(30000);
  if (config.async_results_kept() == 0) config.set_async_results_kept(10000);
}

Result<DaemonConfig> load_config(int argc, char** argv) {
  DaemonConfig flags;
  std::string config_file;
  auto number = [](const char* text, const std::string& flag) -> Result<uint64_t> {
    char* end = nullptr;
    unsigned long long value = std::strtoull(text, &end, 10);
    if (!*text || *end)
      return plain_error("parse flags", flag + " takes a number, not '" + text + "'");
    return value;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") return plain_error("usage", usage_text());
    if (i + 1 >= argc) return plain_error("parse flags", flag + " needs a value\n" + usage_text());
    const char* value = argv[++i];
    if (flag == "--socket") {
      flags.set_socket_path(value);
    } else if (flag == "--state-dir") {
      flags.set_state_dir(value);
    } else if (flag == "--config") {
      config_file = value;
    } else if (flag == "--agent") {
      flags.set_agent_path(value);
    } else if (flag == "--python-pre-import") {
      flags.add_python_pre_imports(value);
    } else {
      auto n = number(value, flag);
      if (!n) return std::unexpected(n.error());
      if (flag == "--max-live-sandboxes")
        flags.set_max_live_sandboxes(*n);
      else if (flag == "--max-queue")
        flags.set_max_queue(*n);
      else if (flag == "--queue-timeout-ms")
        flags.set_queue_timeout_ms(*n);
      else if (flag == "--max-frame-bytes")
        flags.set_max_frame_bytes(*n);
      else if (flag == "--allow-uid")
        flags.add_allowed_uids(*n);
      else if (flag == "--allow-gid")
        flags.add_allowed_gids(*n);
      else if (flag == "--drain-timeout-ms")
        flags.set_drain_timeout_ms(*n);
      else
        return plain_error("parse flags", "unknown flag " + flag + "\n" + usage_text());
    }
  }
  DaemonConfig config;
  if (!config_file.empty()) {
    auto text = read_whole_file(config_file);
    if (!text) return std::unexpected(text.error());
    if (!google::protobuf::TextFormat::ParseFromString(*text, &config)) {
      return plain_error("parse config",
                         config_file + " is not a valid DaemonConfig in text format");
    }
  }
  config.MergeFrom(flags);  // flags win over the file
  apply_config_defaults(config);
  return config;
}

}  // namespace sprout::supervisor
