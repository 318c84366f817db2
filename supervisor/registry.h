// The function registry on disk, under the state directory:
//
//   <state>/functions/<name>/v<N>/info.pb   FunctionInfo (spec without code)
//   <state>/functions/<name>/v<N>/code      the code bundle
//   <state>/functions/<name>/CURRENT        "<N>"
//
// A version is written into "v<N>.partial", fsynced, renamed to "v<N>", and
// only then made CURRENT (an atomic rename too), so a crash never leaves a
// half-written function: at worst an unreferenced ".partial", which open()
// removes. Older versions than the previous one are pruned. Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/proto/sprout_api.pb.h"
#include "base/errors.h"

namespace sprout::supervisor {

struct StoredFunction {
  api::FunctionInfo info;
  std::string code;
};

class Registry {
 public:
  static Result<std::unique_ptr<Registry>> open(const std::string& state_dir);

  Result<std::vector<StoredFunction>> load_all();
  // The version number a new deploy of `name` gets.
  uint32_t next_version(const std::string& name);
  Result<void> save(const api::FunctionInfo& info, const std::string& code);
  Result<void> remove(const std::string& name);

 private:
  explicit Registry(std::string functions_dir) : functions_dir_(std::move(functions_dir)) {}
  std::string function_dir(const std::string& name) const { return functions_dir_ + "/" + name; }

  std::string functions_dir_;
  std::mutex mutex_;
};

}  // namespace sprout::supervisor
