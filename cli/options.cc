#include "cli/options.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <string_view>

#include "sprout/client.h"

namespace sprout::cli {
namespace {

enum class FlagKind {
  kSwitch,    // --async
  kValue,     // --limit N, at most once
  kRepeated,  // --env K=V, any number of times
};

// Every flag of every command, with its kind.
const std::map<std::string, FlagKind, std::less<>>& known_flags() {
  static const std::map<std::string, FlagKind, std::less<>> flags = {
      // everywhere
      {"--socket", FlagKind::kValue},
      {"--json", FlagKind::kSwitch},
      // deploy
      {"--runtime", FlagKind::kValue},
      {"--code", FlagKind::kValue},
      {"--handler", FlagKind::kValue},
      {"--memory-mb", FlagKind::kValue},
      {"--timeout-ms", FlagKind::kValue},
      {"--env", FlagKind::kRepeated},
      {"--max-concurrency", FlagKind::kValue},
      {"--pre-import", FlagKind::kRepeated},
      {"--prefork-min", FlagKind::kValue},
      {"--prefork-max", FlagKind::kValue},
      {"--no-prefork", FlagKind::kSwitch},
      {"--tenant", FlagKind::kValue},
      {"--url", FlagKind::kSwitch},
      {"--url-cors-origin", FlagKind::kRepeated},
      {"--url-cors-method", FlagKind::kRepeated},
      {"--url-cors-header", FlagKind::kRepeated},
      {"--url-cors-expose-header", FlagKind::kRepeated},
      {"--url-cors-max-age-s", FlagKind::kValue},
      {"--url-cors-allow-credentials", FlagKind::kSwitch},
      {"--async-retries", FlagKind::kValue},
      {"--async-max-age-s", FlagKind::kValue},
      {"--on-failure", FlagKind::kValue},
      // invoke, result, history
      {"--payload", FlagKind::kValue},
      {"--payload-file", FlagKind::kValue},
      {"--logs", FlagKind::kSwitch},
      {"--async", FlagKind::kSwitch},
      {"--wait", FlagKind::kSwitch},
      {"--limit", FlagKind::kValue},
      // schedule add
      {"--expr", FlagKind::kValue},
      {"--tz", FlagKind::kValue},
      {"--id", FlagKind::kValue},
      {"--allow-overlap", FlagKind::kSwitch},
      {"--max-catch-up", FlagKind::kValue},
      // trigger add
      {"--watch", FlagKind::kValue},
      {"--bucket", FlagKind::kValue},
      {"--prefix", FlagKind::kValue},
      {"--suffix", FlagKind::kValue},
      {"--nats", FlagKind::kValue},
      {"--stream", FlagKind::kValue},
      {"--subject", FlagKind::kValue},
      {"--batch", FlagKind::kValue},
      {"--batch-window-ms", FlagKind::kValue},
      {"--max-deliveries", FlagKind::kValue},
      {"--dlq-subject", FlagKind::kValue},
  };
  return flags;
}

// The flags each command takes, besides --socket and --json (every command).
const std::map<std::string, std::set<std::string>, std::less<>>& command_flags() {
  // clang-format off: one line per command reads better than one per flag.
  static const std::map<std::string, std::set<std::string>, std::less<>> commands = {
      {"deploy",
       {"--runtime",
        "--code",
        "--handler",
        "--memory-mb",
        "--timeout-ms",
        "--env",
        "--max-concurrency",
        "--pre-import",
        "--prefork-min",
        "--prefork-max",
        "--no-prefork",
        "--tenant",
        "--url",
        "--url-cors-origin",
        "--url-cors-method",
        "--url-cors-header",
        "--url-cors-expose-header",
        "--url-cors-max-age-s",
        "--url-cors-allow-credentials",
        "--async-retries",
        "--async-max-age-s",
        "--on-failure"}},
      {"invoke", {"--payload", "--payload-file", "--timeout-ms", "--logs", "--async"}},
      {"result", {"--wait", "--logs"}},
      {"ls", {}},
      {"get", {}},
      {"rm", {}},
      {"stats", {}},
      {"health", {}},
      {"help", {}},
      {"history", {"--limit", "--logs"}},
      {"dlq", {}},
      {"dlq ls", {"--limit"}},
      {"dlq redrive", {}},
      {"schedule", {}},
      {"schedule add",
       {"--expr", "--payload", "--payload-file", "--tz", "--id", "--allow-overlap",
        "--max-catch-up"}},
      {"schedule ls", {}},
      {"schedule rm", {}},
      {"trigger", {}},
      {"trigger add",
       {"--id", "--watch", "--bucket", "--prefix", "--suffix", "--nats", "--stream", "--subject",
        "--batch", "--batch-window-ms", "--max-deliveries", "--dlq-subject"}},
      {"trigger ls", {}},
      {"trigger rm", {}},
  };
  // clang-format on
  return commands;
}

const std::map<std::string, std::vector<std::string>, std::less<>>& subcommand_table() {
  static const std::map<std::string, std::vector<std::string>, std::less<>> table = {
      {"dlq", {"ls", "redrive"}},
      {"schedule", {"add", "ls", "rm"}},
      {"trigger", {"add", "ls", "rm"}},
  };
  return table;
}

}  // namespace

bool has_subcommands(const std::string& command) { return subcommand_table().count(command) > 0; }

const std::vector<std::string>& subcommands(const std::string& command) {
  static const std::vector<std::string> none;
  auto it = subcommand_table().find(command);
  return it == subcommand_table().end() ? none : it->second;
}

std::string Options::command() const {
  if (words.empty()) return "";
  if (!has_subcommands(words[0]) || words.size() < 2) return words[0];
  const auto& known = subcommands(words[0]);
  if (std::find(known.begin(), known.end(), words[1]) == known.end()) return words[0];
  return words[0] + " " + words[1];
}

std::vector<std::string> Options::arguments() const {
  const size_t skip = command().find(' ') == std::string::npos ? 1 : 2;
  if (words.size() <= skip) return {};
  return {words.begin() + static_cast<std::ptrdiff_t>(skip), words.end()};
}

std::optional<Options> parse(int argc, char** argv) {
  Options options;
  options.socket = default_socket_path();
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      options.help = true;
      continue;
    }
    if (arg == "--version") {
      options.version = true;
      continue;
    }
    if (!arg.starts_with("--")) {
      options.words.push_back(arg);
      continue;
    }
    auto known = known_flags().find(arg);
    if (known == known_flags().end()) {
      std::fprintf(stderr, "sprout: unknown flag %s (sprout --help lists them)\n", arg.c_str());
      return std::nullopt;
    }
    if (known->second == FlagKind::kSwitch) {
      options.switches[arg] = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "sprout: %s needs a value\n", arg.c_str());
      return std::nullopt;
    }
    if (arg == "--socket") {
      options.socket = argv[++i];
    } else {
      options.flags.emplace(arg, argv[++i]);
    }
  }
  options.json = options.switches.count("--json") > 0;
  return options;
}

bool check_flags(const Options& options) {
  const std::string command = options.command();
  auto allowed = command_flags().find(command);
  if (allowed == command_flags().end()) return true;  // an unknown command is refused by name
  auto takes = [&](const std::string& name) {
    return name == "--json" || allowed->second.count(name) > 0;
  };
  for (const auto& [name, on] : options.switches) {
    if (!takes(name)) {
      std::fprintf(stderr, "sprout: %s does not take %s\n", command.c_str(), name.c_str());
      return false;
    }
  }
  for (auto it = options.flags.begin(); it != options.flags.end();
       it = options.flags.upper_bound(it->first)) {
    const std::string& name = it->first;
    if (!takes(name)) {
      std::fprintf(stderr, "sprout: %s does not take %s\n", command.c_str(), name.c_str());
      return false;
    }
    if (known_flags().at(name) != FlagKind::kRepeated && options.flags.count(name) > 1) {
      std::fprintf(stderr, "sprout: %s is given more than once\n", name.c_str());
      return false;
    }
  }
  return true;
}

std::string flag(const Options& options, const std::string& name, const std::string& fallback) {
  auto it = options.flags.find(name);
  return it == options.flags.end() ? fallback : it->second;
}

std::optional<uint32_t> number_flag(const Options& options, const std::string& name) {
  auto it = options.flags.find(name);
  if (it == options.flags.end()) return 0;
  const std::string& text = it->second;
  // Digits only: strtoul would take " 5", "+5" and "-1" (as 2^64-1).
  const bool digits =
      !text.empty() && text.size() <= 10 &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  const uint64_t value = digits ? std::stoull(text) : 0;
  if (!digits || value > 0xffffffffULL) {
    std::fprintf(stderr, "sprout: %s takes a number (0..4294967295), not '%s'\n", name.c_str(),
                 text.c_str());
    return std::nullopt;
  }
  return static_cast<uint32_t>(value);
}

}  // namespace sprout::cli
