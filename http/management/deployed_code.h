// The SHA-256 of each function's current code bundle (CodeSha256), and the
// bundle itself for UpdateFunctionConfiguration, which redeploys the current
// code with new settings. The bundle comes from the FunctionManager (it
// survives restarts and covers functions deployed through the socket); the
// hash is remembered per function and version, so GetFunction and
// ListFunctions do not hash every bundle on every call. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "api/proto/sprout_api.pb.h"
#include "supervisor/function_manager.h"

namespace sprout::http {

struct DeployedCode {
  uint32_t version = 0;
  std::string bundle;
  std::string sha256;  // base64
};

class DeployedCodeMemory {
 public:
  // After a deploy through the front door answered `info`: the hash of the
  // bundle it deployed, known without asking the manager.
  void remember(const api::FunctionInfo& info, std::string sha256);
  // The hash of the version `info` describes; std::nullopt when that is no
  // longer the current version (a deploy raced this call).
  std::optional<std::string> sha256(const api::FunctionInfo& info,
                                    supervisor::FunctionManager& manager);
  // The current version's code and hash, if `info` still describes it.
  std::optional<DeployedCode> current(const api::FunctionInfo& info,
                                      supervisor::FunctionManager& manager);
  void forget(const std::string& name);

 private:
  struct Hash {
    uint32_t version = 0;
    std::string sha256;
  };
  std::mutex mutex_;
  std::map<std::string, Hash> hashes_;
};

}  // namespace sprout::http
