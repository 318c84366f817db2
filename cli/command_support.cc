#include "cli/command_support.h"

#include <time.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/help.h"
#include "cli/json_writer.h"

namespace sprout::cli {

int usage_error(const Options& options, const std::string& message) {
  if (!message.empty()) std::fprintf(stderr, "sprout: %s\n", message.c_str());
  const std::string help = command_help(options.command());
  std::fputs(help.empty() ? overview_help() : help.c_str(), stderr);
  return kExitUsage;
}

int missing_subcommand(const Options& options) {
  const std::string& command = options.words.at(0);
  if (options.words.size() < 2) return usage_error(options, command + " needs a subcommand");
  return usage_error(options, "unknown subcommand '" + command + " " + options.words[1] + "'");
}

int exit_code_for(api::Status status) {
  return status == api::OK ? 0 : 10 + static_cast<int>(status);
}

int report_error(const Options& options, const ClientError& error) {
  if (options.json) {
    std::printf("%s\n", JsonObject()
                            .string("status", api::Status_Name(error.status))
                            .string("error", error.message)
                            .str()
                            .c_str());
  } else {
    std::fprintf(stderr, "%s: %s\n", api::Status_Name(error.status).c_str(), error.message.c_str());
  }
  return exit_code_for(error.status);
}

ClientResult<Client*> LazyClient::get() {
  if (!client_) {
    auto connected = Client::connect(socket_path_);
    if (!connected) return std::unexpected(connected.error());
    client_ = std::move(*connected);
  }
  return client_.get();
}

ClientResult<api::Response> call_checked(LazyClient& client, api::Request request) {
  auto connected = client.get();
  if (!connected) return std::unexpected(connected.error());
  auto response = (*connected)->call(std::move(request));
  if (!response) return response;
  if (response->status() != api::OK)
    return std::unexpected(ClientError{response->status(), response->error()});
  return response;
}

std::string json_value(const std::string& bytes) {
  return is_valid_json(bytes) ? bytes : json_string(bytes);
}

bool read_file(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream buffer;
  buffer << in.rdbuf();
  *out = buffer.str();
  return true;
}

std::optional<std::string> payload_from_flags(const Options& options, int* exit_code) {
  std::string payload = flag(options, "--payload");
  if (options.flags.count("--payload-file")) {
    if (options.flags.count("--payload")) {
      std::fprintf(stderr, "sprout: give --payload or --payload-file, not both\n");
      *exit_code = kExitUsage;
      return std::nullopt;
    }
    if (!read_file(flag(options, "--payload-file"), &payload)) {
      std::fprintf(stderr, "sprout: cannot read %s\n", flag(options, "--payload-file").c_str());
      *exit_code = kExitLocalError;
      return std::nullopt;
    }
  }
  return payload;
}

std::string local_iso_time(int64_t unix_ms) {
  if (unix_ms == 0) return "-";
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  struct tm local {};
  if (localtime_r(&seconds, &local) == nullptr) return std::to_string(unix_ms);
  char date[32];
  char zone[8];
  if (strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &local) == 0 ||
      strftime(zone, sizeof zone, "%z", &local) != 5)
    return std::to_string(unix_ms);
  // strftime's %z is "+0100"; ISO 8601's extended form wants "+01:00".
  char text[64];
  std::snprintf(text, sizeof text, "%s.%03d%.3s:%.2s", date, static_cast<int>(unix_ms % 1000), zone,
                zone + 3);
  return text;
}

std::string one_line(std::string_view text, size_t max_chars) {
  std::string line;
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const bool continuation = (byte & 0xC0) == 0x80;
    if (!continuation) {
      if (chars == max_chars) {
        // Cut: make room for the marker by dropping the last three characters.
        size_t keep = line.size();
        for (int dropped = 0; dropped < 3 && keep > 0; ++dropped) {
          do --keep;
          while (keep > 0 && (static_cast<unsigned char>(line[keep]) & 0xC0) == 0x80);
        }
        line.resize(keep);
        return line + "...";
      }
      ++chars;
    }
    line += byte < 0x20 || byte == 0x7f ? ' ' : static_cast<char>(byte);
  }
  return line;
}

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace sprout::cli
