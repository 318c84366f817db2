#include "supervisor/registry.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <optional>

#include "base/log.h"
#include "supervisor/atomic_file.h"
#include "supervisor/validation.h"

namespace sprout::supervisor {
namespace fs = std::filesystem;

namespace {

Result<void> make_directory(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return os_error("mkdir", path);
  return {};
}

std::optional<uint32_t> current_version(const std::string& dir) {
  auto text = read_whole_file(dir + "/CURRENT");
  if (!text) return std::nullopt;
  try {
    return static_cast<uint32_t>(std::stoul(*text));
  } catch (...) {
    return std::nullopt;
  }
}

// What is wrong with a stored function, or empty: a spec that names another
// function, code of another size than the one saved (truncated), or a spec
// that would not be accepted by a deploy.
std::string damage_in(const std::string& name, const api::FunctionInfo& info,
                      const std::string& code) {
  if (info.spec().name() != name)
    return "names '" + info.spec().name() + "', not its directory";
  if (code.size() != info.code_size()) {
    return "has " + std::to_string(code.size()) + " bytes of code where " +
           std::to_string(info.code_size()) + " were saved (truncated or replaced)";
  }
  api::FunctionSpec spec = info.spec();
  spec.set_code(code);
  if (std::string problem = validate_function_spec(spec); !problem.empty())
    return "has an invalid spec: " + problem;
  return {};
}

}  // namespace

Result<std::unique_ptr<Registry>> Registry::open(const std::string& state_dir) {
  // The state holds code and specs of every tenant's functions: root only.
  std::error_code error;
  fs::create_directories(state_dir, error);
  if (error) return os_error("create state directory", state_dir, error.value());
  ::chmod(state_dir.c_str(), 0700);
  const std::string functions = state_dir + "/functions";
  if (auto r = make_directory(functions, 0700); !r) return std::unexpected(r.error());
  std::unique_ptr<Registry> registry(new Registry(functions));
  // Whatever a crashed sproutd left half-written is removed now.
  for (const auto& function : fs::directory_iterator(functions, error)) {
    if (!function.is_directory()) continue;
    for (const auto& entry : fs::directory_iterator(function.path(), error)) {
      const std::string name = entry.path().filename();
      if (name.ends_with(".partial") || name.find(".tmp.") != std::string::npos) {
        log_line(LogLevel::kInfo,
                 "removing leftover of an interrupted deploy: " + entry.path().string());
        fs::remove_all(entry.path(), error);
      }
    }
  }
  return registry;
}

uint32_t Registry::next_version(const std::string& name) {
  std::lock_guard lock(mutex_);
  return current_version(function_dir(name)).value_or(0) + 1;
}

Result<void> Registry::save(const api::FunctionInfo& info, const std::string& code) {
  std::lock_guard lock(mutex_);
  const std::string dir = function_dir(info.spec().name());
  if (auto r = make_directory(dir, 0700); !r) return r;
  const std::string version = "v" + std::to_string(info.version());
  const std::string partial = dir + "/" + version + ".partial";
  std::error_code error;
  fs::remove_all(partial, error);
  if (auto r = make_directory(partial, 0700); !r) return r;
  std::string serialized;
  info.SerializeToString(&serialized);
  if (auto r = write_file_atomically(partial + "/code", code); !r) return r;
  if (auto r = write_file_atomically(partial + "/info.pb", serialized); !r) return r;
  fs::remove_all(dir + "/" + version, error);
  if (::rename(partial.c_str(), (dir + "/" + version).c_str()) != 0)
    return os_error("rename", partial);
  if (auto r = fsync_directory(dir); !r) return r;
  if (auto r = write_file_atomically(dir + "/CURRENT", std::to_string(info.version())); !r)
    return r;
  // Keep the previous version (its invocations may still run), drop older ones.
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename();
    if (name.size() < 2 || name[0] != 'v' || name.find('.') != std::string::npos) continue;
    uint32_t number = static_cast<uint32_t>(std::strtoul(name.c_str() + 1, nullptr, 10));
    if (number + 1 < info.version()) fs::remove_all(entry.path(), error);
  }
  return {};
}

Result<void> Registry::remove(const std::string& name) {
  std::lock_guard lock(mutex_);
  const std::string dir = function_dir(name);
  // Rename first: a crash mid-removal leaves a ".deleted" name that open()
  // does not load, never a half-present function.
  const std::string doomed = functions_dir_ + "/." + name + ".deleted";
  std::error_code error;
  fs::remove_all(doomed, error);
  if (::rename(dir.c_str(), doomed.c_str()) != 0) return os_error("remove function", dir);
  (void)fsync_directory(functions_dir_);
  fs::remove_all(doomed, error);
  return {};
}

Result<std::vector<StoredFunction>> Registry::load_all() {
  std::lock_guard lock(mutex_);
  std::vector<StoredFunction> functions;
  std::error_code error;
  for (const auto& function : fs::directory_iterator(functions_dir_, error)) {
    const std::string name = function.path().filename();
    if (!function.is_directory()) continue;
    if (!is_valid_function_name(name)) {
      fs::remove_all(function.path(), error);  // a ".x.deleted" left by a crash
      continue;
    }
    auto version = current_version(function.path());
    if (!version) {
      log_line(LogLevel::kWarning, "function " + name + " has no CURRENT version; skipped");
      continue;
    }
    const std::string dir = function.path().string() + "/v" + std::to_string(*version);
    auto info_bytes = read_whole_file(dir + "/info.pb");
    auto code = read_whole_file(dir + "/code");
    StoredFunction stored;
    if (!info_bytes || !code || !stored.info.ParseFromString(*info_bytes)) {
      log_line(LogLevel::kError,
               "function " + name + " v" + std::to_string(*version) + " is unreadable; skipped");
      continue;
    }
    // A damaged entry (disk error, hand edit) is reported and skipped; the
    // other functions still load.
    if (std::string problem = damage_in(name, stored.info, *code); !problem.empty()) {
      log_line(LogLevel::kError, "function " + name + " v" + std::to_string(*version) + " " +
                                     problem + "; skipped");
      continue;
    }
    stored.code = std::move(*code);
    functions.push_back(std::move(stored));
  }
  return functions;
}

}  // namespace sprout::supervisor
