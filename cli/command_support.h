// What every command of `sprout` shares: exit codes, how a failed call is
// reported, the generic API exchange, payload flags, and the small text
// forms of the human output (local ISO times, one-line excerpts).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "cli/options.h"
#include "sprout/client.h"

namespace sprout::cli {

inline constexpr int kExitLocalError = 1;
inline constexpr int kExitUsage = 2;
// `sprout result ID` without --wait, for an invocation still running: no
// status of the API says "not yet".
inline constexpr int kExitNotFinished = 3;

// The command's help on stderr, after `message` (when given) on a line of
// its own; returns kExitUsage.
int usage_error(const Options& options, const std::string& message = "");

// A command that takes a subcommand, given none or an unknown one: says so,
// with the command's help, and returns kExitUsage.
int missing_subcommand(const Options& options);

// 0 for OK; 10 + the status number otherwise (FUNCTION_ERROR = 12, ...).
int exit_code_for(api::Status status);

// Prints the failure (a JSON object on stdout with --json, "STATUS: message"
// on stderr otherwise) and returns its exit code.
int report_error(const Options& options, const ClientError& error);

// sproutd's connection, made on first use: a command checks its words and
// flags first, so that a usage error never depends on sproutd running.
class LazyClient {
 public:
  explicit LazyClient(std::string socket_path) : socket_path_(std::move(socket_path)) {}
  ClientResult<Client*> get();

 private:
  std::string socket_path_;
  std::unique_ptr<Client> client_;
};

// One exchange; a Response whose status is not OK comes back as a
// ClientError, as the client library's typed calls do.
ClientResult<api::Response> call_checked(LazyClient& client, api::Request request);

// `bytes` as a JSON value: itself when it is valid JSON, else a JSON string.
std::string json_value(const std::string& bytes);

bool read_file(const std::string& path, std::string* out);

// The payload of --payload or --payload-file (empty when neither is given).
// std::nullopt after saying why on stderr; `*exit_code` is then kExitUsage
// (both given) or kExitLocalError (the file cannot be read).
std::optional<std::string> payload_from_flags(const Options& options, int* exit_code);

// "2025-11-30T14:05:09.123+01:00" in the local time zone; "-" for 0.
std::string local_iso_time(int64_t unix_ms);

// `text` on one line (control characters as spaces), cut to at most
// `max_chars` characters (UTF-8 aware) with "..." when cut.
std::string one_line(std::string_view text, size_t max_chars);

// [A-Za-z0-9_-]{1,64}: the names of functions, schedules and triggers.
bool is_valid_id(std::string_view id);

}  // namespace sprout::cli
