// sprout: the command-line client of sproutd. A contract that scripts rely
// on: the forms are stable (cli/help.cc lists them all, docs/cli.md explains
// them and the exit codes). This file holds the function commands (deploy,
// invoke, result, ls, get, rm, stats, health) and the dispatch;
// cli/event_commands.cc the event side (history, dlq, schedule, trigger).
// Every command checks its words and flags before it connects, so a usage
// error (exit 2) never depends on sproutd running.
#include <sys/stat.h>

#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/version.h"
#include "cli/command_support.h"
#include "cli/event_commands.h"
#include "cli/event_format.h"
#include "cli/help.h"
#include "cli/json_writer.h"
#include "cli/options.h"
#include "sprout/client.h"

namespace sprout::cli {
namespace {

std::string runtime_name(sprout::api::Runtime runtime) {
  switch (runtime) {
    case sprout::api::PYTHON3:
      return "python3";
    case sprout::api::NATIVE:
      return "native";
    case sprout::api::EXEC:
      return "exec";
    default:
      return "unknown";
  }
}

std::string json_strings(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string out = "[";
  for (int i = 0; i < items.size(); ++i) out += (i ? ", " : "") + json_string(items[i]);
  return out + "]";
}

std::string url_json(const sprout::api::FunctionUrlConfig& url) {
  return JsonObject()
      .boolean("enabled", url.enabled())
      .raw("cors_allow_origins", json_strings(url.cors_allow_origins()))
      .raw("cors_allow_methods", json_strings(url.cors_allow_methods()))
      .raw("cors_allow_headers", json_strings(url.cors_allow_headers()))
      .raw("cors_expose_headers", json_strings(url.cors_expose_headers()))
      .number("cors_max_age_s", url.cors_max_age_s())
      .boolean("cors_allow_credentials", url.cors_allow_credentials())
      .str();
}

// "off", or "on" with its CORS answer: one line of `sprout get`.
std::string url_line(const sprout::api::FunctionUrlConfig& url) {
  if (!url.enabled()) return "off";
  std::string line = "on";
  auto list = [&](const char* key, const auto& items) {
    if (items.empty()) return;
    line += std::string(" ") + key + "=";
    for (int i = 0; i < items.size(); ++i) line += (i ? "," : "") + items[i];
  };
  list("cors-origins", url.cors_allow_origins());
  list("cors-methods", url.cors_allow_methods());
  list("cors-headers", url.cors_allow_headers());
  list("cors-expose-headers", url.cors_expose_headers());
  if (url.cors_max_age_s() != 0) line += " cors-max-age-s=" + std::to_string(url.cors_max_age_s());
  if (url.cors_allow_credentials()) line += " cors-allow-credentials";
  return line;
}

// A .zip by its name or by its first bytes (a local file header, or the end
// record of an empty archive).
bool is_zip_archive(const std::string& path, const std::string& bytes) {
  const bool zip_name = path.size() > 4 && (path.ends_with(".zip") || path.ends_with(".ZIP"));
  return zip_name || bytes.starts_with(std::string("PK\x03\x04", 4)) ||
         bytes.starts_with(std::string("PK\x05\x06", 4));
}

// --url and its CORS flags into the spec; false (after saying why) on a
// usage error.
bool apply_url_flags(const Options& options, sprout::api::FunctionSpec& spec) {
  const bool enabled = options.switches.count("--url") > 0;
  const std::vector<std::pair<std::string, google::protobuf::RepeatedPtrField<std::string>*>>
      lists = {
          {"--url-cors-origin", spec.mutable_url()->mutable_cors_allow_origins()},
          {"--url-cors-method", spec.mutable_url()->mutable_cors_allow_methods()},
          {"--url-cors-header", spec.mutable_url()->mutable_cors_allow_headers()},
          {"--url-cors-expose-header", spec.mutable_url()->mutable_cors_expose_headers()},
      };
  bool any_cors = options.switches.count("--url-cors-allow-credentials") > 0 ||
                  options.flags.count("--url-cors-max-age-s") > 0;
  for (const auto& [name, field] : lists) {
    auto range = options.flags.equal_range(name);
    for (auto it = range.first; it != range.second; ++it) {
      field->Add(std::string(it->second));
      any_cors = true;
    }
  }
  if (any_cors && !enabled) {
    std::fprintf(stderr, "sprout: the --url-cors-* flags need --url\n");
    return false;
  }
  auto max_age = number_flag(options, "--url-cors-max-age-s");
  if (!max_age) return false;
  spec.mutable_url()->set_enabled(enabled);
  spec.mutable_url()->set_cors_max_age_s(*max_age);
  spec.mutable_url()->set_cors_allow_credentials(
      options.switches.count("--url-cors-allow-credentials") > 0);
  if (!enabled) spec.clear_url();
  return true;
}

std::string info_json(const sprout::api::FunctionInfo& info) {
  JsonObject env;
  for (const auto& [key, value] : info.spec().env()) env.string(key, value);
  return JsonObject()
      .string("name", info.spec().name())
      .number("version", info.version())
      .string("runtime", runtime_name(info.spec().runtime()))
      .string("tenant", info.tenant())
      .string("handler", info.spec().handler())
      .number("memory_mb", info.spec().memory_mb())
      .number("timeout_ms", info.spec().timeout_ms())
      .number("max_concurrency", info.spec().max_concurrency())
      .number("prefork_min", info.spec().prefork_min())
      .number("prefork_max", info.spec().prefork_max())
      .raw("env", env.str())
      .number("code_size", info.code_size())
      .number("deployed_unix_ms", static_cast<uint64_t>(info.deployed_unix_ms()))
      .string("state", info.state())
      .number("idle_sandboxes", info.idle_sandboxes())
      .raw("url", url_json(info.spec().url()))
      .raw("async", async_config_json(info.spec().async()))
      .str();
}

int deploy(LazyClient& lazy, const Options& options) {
  const auto words = options.arguments();
  if (words.size() != 1) return usage_error(options);
  sprout::api::FunctionSpec spec;
  spec.set_name(words[0]);
  const std::string runtime = flag(options, "--runtime");
  if (runtime == "python3")
    spec.set_runtime(sprout::api::PYTHON3);
  else if (runtime == "native")
    spec.set_runtime(sprout::api::NATIVE);
  else if (runtime == "exec")
    spec.set_runtime(sprout::api::EXEC);
  else {
    std::fprintf(stderr, "sprout: --runtime must be python3, native or exec\n");
    return kExitUsage;
  }
  const std::string code = flag(options, "--code");
  if (code.empty()) return usage_error(options, "deploy needs --code PATH");
  struct stat st;
  if (stat(code.c_str(), &st) != 0) {
    std::fprintf(stderr, "sprout: --code %s: no such file or directory\n", code.c_str());
    return kExitLocalError;
  }
  std::string handler = flag(options, "--handler");
  if (S_ISDIR(st.st_mode)) {
    auto packed = sprout::pack_directory(code);
    if (!packed) return report_error(options, packed.error());
    spec.set_code(std::move(*packed));
    spec.set_code_format(sprout::api::TAR);
    if (handler.empty()) {
      std::fprintf(stderr, "sprout: --handler is required when --code is a directory\n");
      return kExitUsage;
    }
  } else {
    std::string bytes;
    if (!read_file(code, &bytes)) {
      std::fprintf(stderr, "sprout: cannot read %s\n", code.c_str());
      return kExitLocalError;
    }
    const std::string file_name = code.substr(code.rfind('/') + 1);
    if (is_zip_archive(code, bytes)) {
      // Laid out by the function's snapshot, already confined: sproutd only
      // stores the bytes (agent/zip_bundle.h says what is refused).
      spec.set_code(std::move(bytes));
      spec.set_code_format(sprout::api::ZIP);
      if (handler.empty()) {
        std::fprintf(stderr, "sprout: --handler is required when --code is a .zip archive\n");
        return kExitUsage;
      }
    } else {
      spec.set_code(std::move(bytes));
      spec.set_code_format(sprout::api::SINGLE_FILE);
      spec.set_code_file_name(file_name);
      if (handler.empty()) {
        // handler.py -> handler.handler; a .so or an executable is its own handler.
        auto dot = file_name.rfind(".py");
        handler = runtime == "python3" && dot != std::string::npos
                      ? file_name.substr(0, dot) + ".handler"
                      : file_name;
      }
    }
  }
  if (!apply_url_flags(options, spec) || !apply_async_flags(options, spec)) return kExitUsage;
  spec.set_handler(handler);
  for (const char* name :
       {"--memory-mb", "--timeout-ms", "--max-concurrency", "--prefork-min", "--prefork-max"}) {
    if (!number_flag(options, name)) return kExitUsage;
  }
  spec.set_memory_mb(*number_flag(options, "--memory-mb"));
  spec.set_timeout_ms(*number_flag(options, "--timeout-ms"));
  spec.set_max_concurrency(*number_flag(options, "--max-concurrency"));
  spec.set_prefork_min(*number_flag(options, "--prefork-min"));
  spec.set_prefork_max(*number_flag(options, "--prefork-max"));
  spec.set_no_prefork(options.switches.count("--no-prefork") > 0);
  spec.set_tenant(flag(options, "--tenant"));  // empty: a tenant of its own
  auto range = options.flags.equal_range("--env");
  for (auto it = range.first; it != range.second; ++it) {
    auto eq = it->second.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "sprout: --env takes KEY=VALUE, not '%s'\n", it->second.c_str());
      return kExitUsage;
    }
    (*spec.mutable_env())[it->second.substr(0, eq)] = it->second.substr(eq + 1);
  }
  auto imports = options.flags.equal_range("--pre-import");
  for (auto it = imports.first; it != imports.second; ++it) spec.add_pre_imports(it->second);

  auto client = lazy.get();
  if (!client) return report_error(options, client.error());
  sprout::api::Request request;
  *request.mutable_deploy()->mutable_spec() = spec;
  auto response = (*client)->call(std::move(request));
  if (!response) return report_error(options, response.error());
  const auto& deployed = response->deploy();
  if (options.json) {
    JsonObject out;
    out.string("status", sprout::api::Status_Name(response->status()));
    if (response->status() != sprout::api::OK) out.string("error", response->error());
    if (deployed.has_function()) out.raw("function", info_json(deployed.function()));
    if (!deployed.error_type().empty()) {
      std::string trace = "[";
      for (int i = 0; i < deployed.stack_trace_size(); ++i)
        trace += (i ? ", " : "") + json_string(deployed.stack_trace(i));
      out.string("errorType", deployed.error_type())
          .string("errorMessage", deployed.error_message())
          .raw("stackTrace", trace + "]");
    }
    out.string("init_logs", deployed.init_logs());
    std::printf("%s\n", out.str().c_str());
  } else if (response->status() == sprout::api::OK) {
    std::printf("deployed %s v%u (%s, %llu bytes)\n", spec.name().c_str(),
                deployed.function().version(), runtime.c_str(),
                static_cast<unsigned long long>(deployed.function().code_size()));
  } else {
    std::fprintf(stderr, "%s: %s\n", sprout::api::Status_Name(response->status()).c_str(),
                 response->error().c_str());
    for (const auto& line : deployed.stack_trace()) std::fprintf(stderr, "%s", line.c_str());
    if (!deployed.init_logs().empty())
      std::fprintf(stderr, "init logs:\n%s", deployed.init_logs().c_str());
  }
  return exit_code_for(response->status());
}

// An invocation's answer as `invoke` prints it; `out` may already hold keys
// that come first in the JSON form. Returns the exit code of its status.
int print_invocation(const Options& options, const sprout::api::InvokeResponse& response,
                     JsonObject out) {
  const auto& metrics = response.metrics();
  if (options.json) {
    std::string trace = "[";
    for (int i = 0; i < response.stack_trace_size(); ++i)
      trace += (i ? ", " : "") + json_string(response.stack_trace(i));
    out.string("status", sprout::api::Status_Name(response.status()));
    if (response.status() != sprout::api::OK) out.string("detail", response.detail());
    out.raw("result",
            response.status() == sprout::api::OK ? json_value(response.result()) : "null");
    if (!response.error_type().empty()) {
      out.string("errorType", response.error_type())
          .string("errorMessage", response.error_message())
          .raw("stackTrace", trace + "]");
    }
    out.string("logs", response.logs()).boolean("logs_truncated", response.logs_truncated());
    out.string("request_id", response.request_id())
        .number("function_version", response.function_version());
    out.raw("metrics", JsonObject()
                           .number("queue_us", metrics.queue_us())
                           .number("fork_us", metrics.fork_us())
                           .number("init_us", metrics.init_us())
                           .number("run_us", metrics.run_us())
                           .number("total_us", metrics.total_us())
                           .number("billed_ms", metrics.billed_ms())
                           .number("cpu_time_us", metrics.cpu_time_us())
                           .number("peak_memory_bytes", metrics.peak_memory_bytes())
                           .number("prerequest_cpu_us", metrics.prerequest_cpu_us())
                           .boolean("preforked", metrics.preforked())
                           .str());
    std::printf("%s\n", out.str().c_str());
  } else {
    if (options.switches.count("--logs") && !response.logs().empty())
      std::fprintf(stderr, "%s", response.logs().c_str());
    if (response.status() == sprout::api::OK) {
      // Like every print of this file: a failed write to stdout has no recovery.
      static_cast<void>(std::fwrite(response.result().data(), 1, response.result().size(), stdout));
      std::printf("\n");
    } else {
      std::fprintf(stderr, "%s: %s\n", sprout::api::Status_Name(response.status()).c_str(),
                   response.detail().c_str());
      for (const auto& line : response.stack_trace()) std::fprintf(stderr, "%s", line.c_str());
    }
  }
  return exit_code_for(response.status());
}

int invoke(LazyClient& lazy, const Options& options) {
  if (options.switches.count("--async")) return invoke_async(lazy, options);
  const auto words = options.arguments();
  if (words.size() != 1) return usage_error(options);
  int exit_code = 0;
  auto payload = payload_from_flags(options, &exit_code);
  if (!payload) return exit_code;
  auto timeout = number_flag(options, "--timeout-ms");
  if (!timeout) return kExitUsage;
  auto client = lazy.get();
  if (!client) return report_error(options, client.error());
  auto response = (*client)->invoke(words[0], std::move(*payload), *timeout);
  if (!response) return report_error(options, response.error());
  return print_invocation(options, *response, JsonObject());
}

// `result ID [--wait]`: an InvokeAsync's outcome, printed as `invoke` prints
// one; exit 3 while it has not finished.
int result(LazyClient& lazy, const Options& options) {
  const auto words = options.arguments();
  if (words.size() != 1) return usage_error(options);
  auto client = lazy.get();
  if (!client) return report_error(options, client.error());
  auto response = (*client)->get_result(words[0], options.switches.count("--wait") > 0);
  if (!response) return report_error(options, response.error());
  if (!response->done()) {
    if (options.json) {
      std::printf(
          "%s\n",
          JsonObject().boolean("done", false).string("invocation_id", words[0]).str().c_str());
    } else {
      std::fprintf(stderr, "%s: not finished\n", words[0].c_str());
    }
    return kExitNotFinished;
  }
  JsonObject first;
  first.boolean("done", true).string("invocation_id", words[0]);
  return print_invocation(options, response->result(), std::move(first));
}

int list(LazyClient& lazy, const Options& options) {
  if (!options.arguments().empty()) return usage_error(options);
  auto client = lazy.get();
  if (!client) return report_error(options, client.error());
  auto response = (*client)->list();
  if (!response) return report_error(options, response.error());
  if (options.json) {
    std::string items = "[";
    for (int i = 0; i < response->functions_size(); ++i)
      items += (i ? ", " : "") + info_json(response->functions(i));
    std::printf("%s\n",
                JsonObject().string("status", "OK").raw("functions", items + "]").str().c_str());
    return 0;
  }
  // TENANT comes after the columns scripts already read, before the free-text STATE.
  std::printf("%-24s %7s %-8s %9s %10s %5s  %-27s %s\n", "NAME", "VERSION", "RUNTIME", "MEMORY_MB",
              "TIMEOUT_MS", "IDLE", "TENANT", "STATE");
  for (const auto& function : response->functions()) {
    std::printf("%-24s %7u %-8s %9u %10u %5u  %-27s %s\n", function.spec().name().c_str(),
                function.version(), runtime_name(function.spec().runtime()).c_str(),
                function.spec().memory_mb(), function.spec().timeout_ms(),
                function.idle_sandboxes(), function.tenant().c_str(), function.state().c_str());
  }
  return 0;
}

int get(LazyClient& lazy, const Options& options) {
  const auto words = options.arguments();
  if (words.size() != 1) return usage_error(options);
  auto client = lazy.get();
  if (!client) return report_error(options, client.error());
  auto response = (*client)->get(words[0]);
  if (!response) return report_error(options, response.error());
  const auto& function = response->function();
  if (options.json) {
    std::printf(
        "%s\n",
        JsonObject().string("status", "OK").raw("function", info_json(function)).str().c_str());
    return 0;
  }
  std::printf(
      "name: %s\nversion: %u\nruntime: %s\ntenant: %s\nhandler: %s\nmemory_mb: %u\n"
      "timeout_ms: %u\nmax_concurrency: %u\nprefork: %u..%u (idle %u)\ncode_size: %llu\n"
      "url: %s\nasync: %s\nstate: %s\n",
      function.spec().name().c_str(), function.version(),
      runtime_name(function.spec().runtime()).c_str(), function.tenant().c_str(),
      function.spec().handler().c_str(), function.spec().memory_mb(), function.spec().timeout_ms(),
      function.spec().max_concurrency(), function.spec().prefork_min(),
      function.spec().prefork_max(), function.idle_sandboxes(),
      static_cast<unsigned long long>(function.code_size()),
      url_line(function.spec().url()).c_str(), async_config_line(function.spec().async()).c_str(),
      function.state().c_str());
  for (const auto& [key, value] : function.spec().env())
    std::printf("env: %s=%s\n", key.c_str(), value.c_str());
  return 0;
}

int remove(LazyClient& lazy, const Options& options) {
  const auto words = options.arguments();
  if (words.size() != 1) return usage_error(options);
  auto client = lazy.get();
  if (!client) return report_error(options, client.error());
  auto response = (*client)->remove(words[0]);
  if (!response) return report_error(options, response.error());
  if (options.json) {
    std::printf("%s\n",
                JsonObject().string("status", "OK").string("deleted", words[0]).str().c_str());
  } else {
    std::printf("deleted %s\n", words[0].c_str());
  }
  return 0;
}

int stats(LazyClient& lazy, const Options& options) {
  const auto words = options.arguments();
  if (words.size() > 1) return usage_error(options);
  auto client = lazy.get();
  if (!client) return report_error(options, client.error());
  auto response = (*client)->stats(words.empty() ? "" : words[0]);
  if (!response) return report_error(options, response.error());
  if (options.json) {
    std::string items = "[";
    for (int i = 0; i < response->functions_size(); ++i) {
      const auto& function = response->functions(i);
      JsonObject by_status;
      for (const auto& [status, count] : function.by_status()) by_status.number(status, count);
      items += (i ? ", " : "") + JsonObject()
                                     .string("name", function.name())
                                     .number("invocations", function.invocations())
                                     .raw("by_status", by_status.str())
                                     .number("p50_us", function.p50_us())
                                     .number("p90_us", function.p90_us())
                                     .number("p99_us", function.p99_us())
                                     .number("billed_ms", function.billed_ms())
                                     .raw("gb_seconds", std::to_string(function.gb_seconds()))
                                     .number("cold_starts", function.cold_starts())
                                     .number("preforked_starts", function.preforked_starts())
                                     .str();
    }
    std::printf("%s\n",
                JsonObject().string("status", "OK").raw("functions", items + "]").str().c_str());
    return 0;
  }
  std::printf("%-24s %8s %9s %9s %9s %10s %11s  %s\n", "NAME", "CALLS", "P50_US", "P90_US",
              "P99_US", "BILLED_MS", "GB_SECONDS", "BY_STATUS");
  for (const auto& function : response->functions()) {
    std::string by_status;
    for (const auto& [status, count] : function.by_status())
      by_status += status + "=" + std::to_string(count) + " ";
    std::printf("%-24s %8llu %9llu %9llu %9llu %10llu %11.6f  %s\n", function.name().c_str(),
                static_cast<unsigned long long>(function.invocations()),
                static_cast<unsigned long long>(function.p50_us()),
                static_cast<unsigned long long>(function.p90_us()),
                static_cast<unsigned long long>(function.p99_us()),
                static_cast<unsigned long long>(function.billed_ms()), function.gb_seconds(),
                by_status.c_str());
  }
  return 0;
}

int health(LazyClient& lazy, const Options& options) {
  if (!options.arguments().empty()) return usage_error(options);
  auto client = lazy.get();
  if (!client) return report_error(options, client.error());
  auto response = (*client)->health();
  if (!response) return report_error(options, response.error());
  if (options.json) {
    std::printf("%s\n", JsonObject()
                            .string("status", "OK")
                            .boolean("serving", response->serving())
                            .string("version", response->version())
                            .number("uptime_ms", response->uptime_ms())
                            .number("functions", response->functions())
                            .number("live_sandboxes", response->live_sandboxes())
                            .number("live_zygotes", response->live_zygotes())
                            .number("live_snapshots", response->live_snapshots())
                            .number("host_ids_in_use", response->host_ids_in_use())
                            .string("cgroups", response->cgroups())
                            .str()
                            .c_str());
    return 0;
  }
  std::printf(
      "serving: %s\nversion: %s\nuptime_ms: %llu\nfunctions: %u\nlive_sandboxes: %u\n"
      "live_zygotes: %u\nlive_snapshots: %u\nhost_ids_in_use: %u\ncgroups: %s\n",
      response->serving() ? "yes" : "no", response->version().c_str(),
      static_cast<unsigned long long>(response->uptime_ms()), response->functions(),
      response->live_sandboxes(), response->live_zygotes(), response->live_snapshots(),
      response->host_ids_in_use(), response->cgroups().c_str());
  return 0;
}

// `sprout help [COMMAND]`, `sprout [COMMAND] --help`: on stdout, exit 0.
int help(const Options& options) {
  std::vector<std::string> topic = options.words;
  if (!topic.empty() && topic[0] == "help") topic.erase(topic.begin());
  const std::string text = topic.empty() ? "" : command_help(topic[0]);
  if (!topic.empty() && text.empty()) {
    std::fprintf(stderr, "sprout: unknown command '%s'\n%s", topic[0].c_str(), overview_help());
    return kExitUsage;
  }
  std::fputs(text.empty() ? overview_help() : text.c_str(), stdout);
  return 0;
}

// `sprout --version`: "NAME VERSION" on stdout, exit 0; the form help2man
// reads for the man page (packaging/), with the one version of
// base/version.h that sproutd and the .deb carry too.
int version() {
  std::printf("sprout %s\n", kVersion);
  return 0;
}

int run(int argc, char** argv) {
  auto options = parse(argc, argv);
  if (!options) return kExitUsage;
  if (options->version) return version();
  if (options->help || (!options->words.empty() && options->words[0] == "help"))
    return help(*options);
  if (options->words.empty()) return std::fputs(overview_help(), stderr), kExitUsage;
  const std::string& command = options->words[0];
  using Handler = int (*)(LazyClient&, const Options&);
  const std::map<std::string, Handler> commands = {
      {"deploy", deploy},   {"invoke", invoke},    {"result", result},     {"ls", list},
      {"get", get},         {"rm", remove},        {"stats", stats},       {"health", health},
      {"history", history}, {"dlq", dead_letters}, {"schedule", schedule}, {"trigger", trigger}};
  auto it = commands.find(command);
  if (it == commands.end()) {
    std::fprintf(stderr, "sprout: unknown command '%s'\n%s", command.c_str(), overview_help());
    return kExitUsage;
  }
  if (has_subcommands(command) && options->command() == command)
    return missing_subcommand(*options);
  if (!check_flags(*options)) return kExitUsage;
  LazyClient client(options->socket);
  return it->second(client, *options);
}

}  // namespace
}  // namespace sprout::cli

int main(int argc, char** argv) { return sprout::cli::run(argc, argv); }
