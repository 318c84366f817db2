// sproutd's configuration: defaults, then the --config file (protobuf text
// format), then command-line flags.
#pragma once

#include <string>

#include "base/errors.h"
#include "snapshot/host_ids.h"
#include "supervisor/proto/daemon_config.pb.h"

namespace sprout::supervisor {

inline constexpr const char* kDefaultSocketPath = "/run/sprout/sprout.sock";
inline constexpr const char* kDefaultStateDir = "/var/lib/sprout";
// Far above the ids distributions hand out to accounts (and above the
// 2^31 that some tools mishandle as negative), below 2^32 - 1 (-1).
inline constexpr uint32_t kDefaultHostIdFirst = 3000000000u;
inline constexpr uint32_t kDefaultHostIdCount = 65536;
inline constexpr uint32_t kDefaultSnapshotIdleTtlS = 600;

// The HTTP front door's defaults (docs/http.md).
inline constexpr uint32_t kDefaultHttpMaxConnections = 256;
inline constexpr uint32_t kDefaultHttpMaxHeaderBytes = 16 * 1024;
inline constexpr uint32_t kDefaultHttpRequestTimeoutMs = 30000;

// http_listen, parsed: an IPv4 or IPv6 address (without brackets) and a
// port (0: ephemeral).
struct HttpListenAddress {
  std::string address;
  uint16_t port = 0;
};
// "127.0.0.1:9000", "[::1]:9000", "0.0.0.0:0"; refused otherwise (host
// names included: sproutd binds exactly what it is told).
Result<HttpListenAddress> parse_http_listen(const std::string& text);

// Parses argv; "--help" yields an Error whose detail is the usage text.
Result<DaemonConfig> load_config(int argc, char** argv);
void apply_config_defaults(DaemonConfig& config);
std::string usage_text();

// The host id range of `config` (host_id_first, host_id_count), refused when
// it is malformed (see HostIdRange::create) or holds an id that an account
// of `passwd_path` (uid or primary gid) or a group of `group_path` uses: a
// sandbox must never run as, or be signalled by, a real account.
Result<HostIdRange> host_id_range_of(const DaemonConfig& config,
                                     const std::string& passwd_path = "/etc/passwd",
                                     const std::string& group_path = "/etc/group");

}  // namespace sprout::supervisor
