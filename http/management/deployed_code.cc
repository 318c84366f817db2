#include "http/management/deployed_code.h"

#include "http/management/lambda_configuration.h"

namespace sprout::http {

void DeployedCodeMemory::remember(const api::FunctionInfo& info, std::string sha256) {
  std::lock_guard lock(mutex_);
  hashes_[info.spec().name()] = Hash{info.version(), std::move(sha256)};
}

std::optional<DeployedCode> DeployedCodeMemory::current(const api::FunctionInfo& info,
                                                        supervisor::FunctionManager& manager) {
  auto current = manager.current_function(info.spec().name());
  // Another version by now (a deploy through the socket, say): not this code.
  if (!current || current->info.version() != info.version()) return std::nullopt;
  DeployedCode code{.version = info.version(), .bundle = std::move(current->code), .sha256 = {}};
  {
    std::lock_guard lock(mutex_);
    auto it = hashes_.find(info.spec().name());
    if (it != hashes_.end() && it->second.version == info.version()) code.sha256 = it->second.sha256;
  }
  if (code.sha256.empty()) {
    code.sha256 = code_sha256(code.bundle);  // outside the lock: a large bundle takes a while
    std::lock_guard lock(mutex_);
    hashes_[info.spec().name()] = Hash{info.version(), code.sha256};
  }
  return code;
}

std::optional<std::string> DeployedCodeMemory::sha256(const api::FunctionInfo& info,
                                                      supervisor::FunctionManager& manager) {
  {
    std::lock_guard lock(mutex_);
    auto it = hashes_.find(info.spec().name());
    if (it != hashes_.end() && it->second.version == info.version()) return it->second.sha256;
  }
  auto code = current(info, manager);
  if (!code) return std::nullopt;
  return code->sha256;
}

void DeployedCodeMemory::forget(const std::string& name) {
  std::lock_guard lock(mutex_);
  hashes_.erase(name);
}

}  // namespace sprout::http
