#include "supervisor/config.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>

#include <arpa/inet.h>

#include <cstdlib>
#include <limits>
#include <set>
#include <sstream>
#include <string_view>
#include <vector>

#include "base/version.h"
#include "protocol/limits.h"
#include "supervisor/atomic_file.h"

namespace sprout::supervisor {
namespace {

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, ':')) fields.push_back(field);
  return fields;
}

bool parse_id(const std::string& text, uint64_t* id) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return false;
  char* end = nullptr;
  *id = std::strtoull(text.c_str(), &end, 10);
  return *end == '\0';
}

// Refuses `range` when a numeric field of an account file falls in it.
// `columns` lists the fields that hold ids, with the kind of id each is.
Result<void> check_account_file(const HostIdRange& range, const std::string& path,
                                const std::vector<std::pair<size_t, const char*>>& columns) {
  auto text = read_whole_file(path);
  if (!text) {
    return plain_error("check host id range",
                       "cannot read " + path +
                           " to make sure no account uses the range: " + text.error().message());
  }
  const uint64_t first = range.first(), last = uint64_t{range.first()} + range.count() - 1;
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto fields = split_fields(line);
    for (const auto& [column, kind] : columns) {
      uint64_t id = 0;
      if (column >= fields.size() || !parse_id(fields[column], &id)) continue;
      if (id >= first && id <= last) {
        return plain_error("check host id range",
                           "host_id_first " + std::to_string(first) + ", host_id_count " +
                               std::to_string(range.count()) + " (ids " + std::to_string(first) +
                               ".." + std::to_string(last) + ") contains " + kind + " " +
                               std::to_string(id) + " of '" + fields[0] + "' in " + path +
                               "; choose a range that no account or group uses");
      }
    }
  }
  return {};
}

// The text format parser skips reserved field names without a word, so a
// config that still sets a removed field is caught here: silently running
// under other ids than the operator wrote down is worse than refusing.
// Judged on the parser's own tokens (strings and # comments skipped), so no
// spelling it accepts slips past: a newline before the colon, no space
// after a string, a '#' inside a string.
std::string removed_field_in(const std::string& text) {
  class IgnoreErrors : public google::protobuf::io::ErrorCollector {
   public:
    void AddError(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  } ignore;
  google::protobuf::io::ArrayInputStream stream(text.data(), static_cast<int>(text.size()));
  google::protobuf::io::Tokenizer tokens(&stream, &ignore);
  tokens.set_comment_style(google::protobuf::io::Tokenizer::SH_COMMENT_STYLE);
  while (tokens.Next()) {
    const auto& token = tokens.current();
    if (token.type == google::protobuf::io::Tokenizer::TYPE_IDENTIFIER &&
        (token.text == "sandbox_uid" || token.text == "sandbox_gid")) {
      return token.text;
    }
  }
  return {};
}

constexpr std::string_view kUsagePrefix = "usage: ";

// The project's version (base/version.h), as the man page and the .deb
// carry it.
std::string version_text() { return std::string("sproutd ") + kVersion + "\n"; }

}  // namespace

std::string usage_text() {
  return std::string(kUsagePrefix) +
         "sproutd [--help] [--version]\n"
         "               [--socket PATH] [--state-dir DIR] [--config FILE]\n"
         "               [--max-live-sandboxes N] [--max-queue N] [--queue-timeout-ms N]\n"
         "               [--max-frame-bytes N] [--allow-uid UID]... [--allow-gid GID]...\n"
         "               [--python-pre-import MODULE]... [--agent PATH]\n"
         "               [--host-id-first ID] [--host-id-count N] [--snapshot-idle-ttl-s S]\n"
         "               [--fork-timeout-ms N] [--prefork-threads N] [--drain-timeout-ms N]\n"
         "               [--max-connections N] [--frame-timeout-ms N]\n"
         "               [--http-listen ADDR:PORT] [--http-max-connections N]\n"
         "               [--http-max-header-bytes N] [--http-max-body-bytes N]\n"
         "               [--http-request-timeout-ms N]\n"
         "defaults: --socket /run/sprout/sprout.sock --state-dir /var/lib/sprout\n"
         "          --host-id-first 3000000000 --host-id-count 65536\n"
         "          --snapshot-idle-ttl-s 600 (0: never evict) --fork-timeout-ms 10000\n"
         "          --prefork-threads 4 --max-connections 1024 --frame-timeout-ms 10000\n"
         "          --drain-timeout-ms 30000 (SIGTERM: longest wait for running invocations)\n"
         "          HTTP (docs/http.md) off unless --http-listen; then --http-max-connections 256\n"
         "          --http-max-header-bytes 16384 --http-max-body-bytes 8454144\n"
         "          --http-request-timeout-ms 30000; SigV4 access keys (http_credentials) and\n"
         "          http_allow_unauthenticated_loopback (default true) in the config file only.\n"
         "The config file is a DaemonConfig (supervisor/proto/daemon_config.proto) in text "
         "format.\n";
}

void apply_config_defaults(DaemonConfig& config) {
  if (config.socket_path().empty()) config.set_socket_path(kDefaultSocketPath);
  if (config.state_dir().empty()) config.set_state_dir(kDefaultStateDir);
  if (config.max_frame_bytes() == 0) config.set_max_frame_bytes(limits::kMaxApiFrameBytes);
  if (config.max_live_sandboxes() == 0) config.set_max_live_sandboxes(256);
  if (config.max_queue() == 0) config.set_max_queue(1024);
  if (config.queue_timeout_ms() == 0) config.set_queue_timeout_ms(2000);
  if (config.io_threads() == 0) config.set_io_threads(2);
  if (config.drain_timeout_ms() == 0) config.set_drain_timeout_ms(30000);
  if (config.async_results_kept() == 0) config.set_async_results_kept(10000);
  if (config.async_retry_base_ms() == 0) config.set_async_retry_base_ms(60000);
  if (config.async_max_queued() == 0) config.set_async_max_queued(100000);
  if (config.async_max_in_flight() == 0) config.set_async_max_in_flight(64);
  if (config.history_per_function() == 0) config.set_history_per_function(1000);
  if (config.host_id_first() == 0) config.set_host_id_first(kDefaultHostIdFirst);
  if (config.host_id_count() == 0) config.set_host_id_count(kDefaultHostIdCount);
  // Presence, not zero: an explicit 0 means "never evict".
  if (!config.has_snapshot_idle_ttl_s()) config.set_snapshot_idle_ttl_s(kDefaultSnapshotIdleTtlS);
  if (config.fork_timeout_ms() == 0) config.set_fork_timeout_ms(10000);
  if (config.prefork_threads() == 0) config.set_prefork_threads(4);
  if (config.max_connections() == 0) config.set_max_connections(1024);
  if (config.frame_timeout_ms() == 0) config.set_frame_timeout_ms(10000);
  if (!config.has_http_allow_unauthenticated_loopback())
    config.set_http_allow_unauthenticated_loopback(true);
  if (config.http_max_connections() == 0)
    config.set_http_max_connections(kDefaultHttpMaxConnections);
  if (config.http_max_header_bytes() == 0)
    config.set_http_max_header_bytes(kDefaultHttpMaxHeaderBytes);
  // A CreateFunction carries the code bundle base64-encoded (4 bytes per 3)
  // in a JSON envelope: room for the largest bundle a frame can take.
  if (config.http_max_body_bytes() == 0) {
    config.set_http_max_body_bytes((config.max_frame_bytes() + 2) / 3 * 4 +
                                   limits::kFrameEnvelopeBytes);
  }
  if (config.http_request_timeout_ms() == 0)
    config.set_http_request_timeout_ms(kDefaultHttpRequestTimeoutMs);
}

Result<HttpListenAddress> parse_http_listen(const std::string& text) {
  auto refuse = [&] {
    return plain_error("parse http_listen",
                       "'" + text +
                           "' is not ADDR:PORT with an IPv4 or [IPv6] address and a port "
                           "0..65535 (e.g. 127.0.0.1:9000, [::1]:9000)");
  };
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return refuse();
  std::string address = text.substr(0, colon);
  const std::string port_text = text.substr(colon + 1);
  const bool bracketed = address.front() == '[' && address.back() == ']';
  if (bracketed) address = address.substr(1, address.size() - 2);
  unsigned char parsed[sizeof(in6_addr)];
  const bool v4 = !bracketed && inet_pton(AF_INET, address.c_str(), parsed) == 1;
  const bool v6 = bracketed && inet_pton(AF_INET6, address.c_str(), parsed) == 1;
  if (!v4 && !v6) return refuse();
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos)
    return refuse();
  const unsigned long port = std::strtoul(port_text.c_str(), nullptr, 10);
  if (port > 65535) return refuse();
  return HttpListenAddress{.address = address, .port = static_cast<uint16_t>(port)};
}

namespace {

// What only a whole configuration can tell: the HTTP settings.
Result<void> check_http_settings(const DaemonConfig& config) {
  if (!config.http_listen().empty()) {
    if (auto listen = parse_http_listen(config.http_listen()); !listen)
      return std::unexpected(listen.error());
  }
  std::set<std::string> keys;
  for (const auto& credential : config.http_credentials()) {
    if (credential.access_key_id().empty() || credential.secret_access_key().empty()) {
      return plain_error("parse config",
                         "http_credentials needs both access_key_id and secret_access_key");
    }
    if (!keys.insert(credential.access_key_id()).second) {
      return plain_error("parse config", "http_credentials names access key id '" +
                                             credential.access_key_id() + "' twice");
    }
  }
  if (config.http_max_header_bytes() < 1024) {
    return plain_error("parse config", "http_max_header_bytes must be at least 1024, not " +
                                           std::to_string(config.http_max_header_bytes()));
  }
  return {};
}

}  // namespace

Result<DaemonConfig> load_config(int argc, char** argv) {
  DaemonConfig flags;
  std::string config_file;
  auto number = [](const char* text, const std::string& flag,
                   uint64_t max = std::numeric_limits<uint32_t>::max()) -> Result<uint64_t> {
    char* end = nullptr;
    unsigned long long value = std::strtoull(text, &end, 10);
    if (!*text || *end || *text == '-' || value > max)
      return plain_error("parse flags", flag + " takes a number up to " + std::to_string(max) +
                                            ", not '" + text + "'");
    return value;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    // kUsage answers are printed verbatim on stdout, exit 0 (main.cc). The
    // step "usage" renders as the "usage: " that usage_text() starts with.
    if (flag == "--help" || flag == "-h")
      return plain_error(ErrorCode::kUsage, "usage", usage_text().substr(kUsagePrefix.size()));
    // "NAME VERSION" on a line of its own, the form help2man (the man page,
    // packaging/) and `dpkg`-minded operators expect; no detail, so the
    // message is the step alone.
    if (flag == "--version") return plain_error(ErrorCode::kUsage, version_text(), "");
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
    } else if (flag == "--http-listen") {
      flags.set_http_listen(value);
    } else if (flag == "--python-pre-import") {
      flags.add_python_pre_imports(value);
    } else if (flag == "--max-frame-bytes") {
      auto n = number(value, flag, std::numeric_limits<uint64_t>::max());
      if (!n) return std::unexpected(n.error());
      flags.set_max_frame_bytes(*n);
    } else if (flag == "--http-max-body-bytes") {
      auto n = number(value, flag, std::numeric_limits<uint64_t>::max());
      if (!n) return std::unexpected(n.error());
      flags.set_http_max_body_bytes(*n);
    } else {
      auto n = number(value, flag);
      if (!n) return std::unexpected(n.error());
      if (flag == "--max-live-sandboxes")
        flags.set_max_live_sandboxes(*n);
      else if (flag == "--max-queue")
        flags.set_max_queue(*n);
      else if (flag == "--queue-timeout-ms")
        flags.set_queue_timeout_ms(*n);
      else if (flag == "--allow-uid")
        flags.add_allowed_uids(*n);
      else if (flag == "--allow-gid")
        flags.add_allowed_gids(*n);
      else if (flag == "--drain-timeout-ms")
        flags.set_drain_timeout_ms(*n);
      else if (flag == "--host-id-first")
        flags.set_host_id_first(*n);
      else if (flag == "--host-id-count")
        flags.set_host_id_count(*n);
      else if (flag == "--snapshot-idle-ttl-s")
        flags.set_snapshot_idle_ttl_s(*n);
      else if (flag == "--fork-timeout-ms")
        flags.set_fork_timeout_ms(*n);
      else if (flag == "--prefork-threads")
        flags.set_prefork_threads(*n);
      else if (flag == "--max-connections")
        flags.set_max_connections(*n);
      else if (flag == "--frame-timeout-ms")
        flags.set_frame_timeout_ms(*n);
      else if (flag == "--http-max-connections")
        flags.set_http_max_connections(*n);
      else if (flag == "--http-max-header-bytes")
        flags.set_http_max_header_bytes(*n);
      else if (flag == "--http-request-timeout-ms")
        flags.set_http_request_timeout_ms(*n);
      else
        return plain_error("parse flags", "unknown flag " + flag + "\n" + usage_text());
    }
  }
  DaemonConfig config;
  if (!config_file.empty()) {
    auto text = read_whole_file(config_file);
    if (!text) return std::unexpected(text.error());
    if (std::string removed = removed_field_in(*text); !removed.empty()) {
      return plain_error("parse config",
                         config_file + ": " + removed +
                             " is no longer supported: every zygote and function snapshot runs "
                             "as a host id of its own, from host_id_first/host_id_count");
    }
    if (!google::protobuf::TextFormat::ParseFromString(*text, &config)) {
      return plain_error("parse config",
                         config_file + " is not a valid DaemonConfig in text format");
    }
  }
  config.MergeFrom(flags);  // flags win over the file
  apply_config_defaults(config);
  if (auto http = check_http_settings(config); !http) return std::unexpected(http.error());
  return config;
}

Result<HostIdRange> host_id_range_of(const DaemonConfig& config, const std::string& passwd_path,
                                     const std::string& group_path) {
  auto range = HostIdRange::create(config.host_id_first(), config.host_id_count());
  if (!range) {
    return plain_error("check host id range",
                       "host_id_first " + std::to_string(config.host_id_first()) +
                           ", host_id_count " + std::to_string(config.host_id_count()) + ": " +
                           range.error().detail);
  }
  if (auto r = check_account_file(*range, passwd_path, {{2, "uid"}, {3, "gid"}}); !r)
    return std::unexpected(r.error());
  if (auto r = check_account_file(*range, group_path, {{2, "gid"}}); !r)
    return std::unexpected(r.error());
  return range;
}

}  // namespace sprout::supervisor
