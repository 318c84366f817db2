// The command line of `sprout`: which flags exist, which command takes
// which, and the parse that refuses everything else before anything is sent.
// A flag means the same thing (a switch, a value, a repeatable value) under
// every command, so the parse can split words from flag values before it
// knows the command; the command then checks that it takes each flag given.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sprout::cli {

struct Options {
  std::string socket;
  bool json = false;
  bool help = false;                              // --help / -h anywhere
  bool version = false;                           // --version anywhere
  std::vector<std::string> words;                 // positional, the command first
  std::multimap<std::string, std::string> flags;  // --flag value
  std::map<std::string, bool> switches;           // --flag

  // "deploy", "invoke", ..., or "schedule add" for a command with
  // subcommands (just "schedule" when the subcommand is missing or unknown).
  std::string command() const;
  // The positional words after the command (and its subcommand).
  std::vector<std::string> arguments() const;
  bool has(const std::string& name) const {
    return flags.count(name) > 0 || switches.count(name) > 0;
  }
};

// The commands that take a subcommand, and theirs.
bool has_subcommands(const std::string& command);
const std::vector<std::string>& subcommands(const std::string& command);

// Splits argv into words, flags and switches. On a usage error (a flag no
// command knows, a flag without its value) prints one line saying so on
// stderr and returns std::nullopt.
std::optional<Options> parse(int argc, char** argv);

// Every flag given is one `options.command()` takes, and a flag that is not
// repeatable is given once; else prints why on stderr and returns false.
bool check_flags(const Options& options);

// The value of a valued flag, or `fallback` when it was not given.
std::string flag(const Options& options, const std::string& name, const std::string& fallback = "");

// A flag's value as a decimal uint32; 0 when the flag was not given.
// std::nullopt (after saying why on stderr) when it is not a number.
std::optional<uint32_t> number_flag(const Options& options, const std::string& name);

}  // namespace sprout::cli
