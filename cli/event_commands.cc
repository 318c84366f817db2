#include "cli/event_commands.h"

#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <system_error>

#include "cli/event_format.h"
#include "cli/json_writer.h"

namespace sprout::cli {
namespace {

// A JSON array of already encoded values.
template <typename Items, typename Encode>
std::string json_array(const Items& items, Encode encode) {
  std::string out = "[";
  bool first = true;
  for (const auto& item : items) {
    out += (first ? "" : ", ") + encode(item);
    first = false;
  }
  return out + "]";
}

// --id, when given, has the form sproutd accepts; said here rather than as
// INVALID_ARGUMENT from the server because it is the user's typing.
bool check_id_flag(const Options& options) {
  if (!options.flags.count("--id") || is_valid_id(flag(options, "--id"))) return true;
  std::fprintf(stderr, "sprout: --id takes [A-Za-z0-9_-]{1,64}, not '%s'\n",
               flag(options, "--id").c_str());
  return false;
}

int print_removed(const Options& options, const char* what, const std::string& id) {
  if (options.json) {
    std::printf("%s\n", JsonObject().string("status", "OK").string("removed", id).str().c_str());
  } else {
    std::printf("removed %s %s\n", what, id.c_str());
  }
  return 0;
}

// ---- dlq ----

int list_dead_letters(LazyClient& client, const Options& options) {
  const auto words = options.arguments();
  if (words.size() != 1) return usage_error(options);
  auto limit = number_flag(options, "--limit");
  if (!limit) return kExitUsage;
  api::Request request;
  request.mutable_dead_letters()->set_function(words[0]);
  request.mutable_dead_letters()->set_limit(*limit);
  auto response = call_checked(client, std::move(request));
  if (!response) return report_error(options, response.error());
  const auto& events = response->dead_letters().events();
  if (options.json) {
    std::printf("%s\n", JsonObject()
                            .string("status", "OK")
                            .string("function", words[0])
                            .raw("events", json_array(events, dead_letter_json))
                            .str()
                            .c_str());
    return 0;
  }
  std::fputs(dead_letter_header().c_str(), stdout);
  for (const auto& letter : events) std::fputs(dead_letter_row(letter).c_str(), stdout);
  return 0;
}

int redrive(LazyClient& client, const Options& options) {
  const auto words = options.arguments();
  if (words.empty()) return usage_error(options);
  api::Request request;
  request.mutable_redrive()->set_function(words[0]);
  for (size_t i = 1; i < words.size(); ++i) request.mutable_redrive()->add_request_ids(words[i]);
  auto response = call_checked(client, std::move(request));
  if (!response) return report_error(options, response.error());
  const uint32_t requeued = response->redrive().requeued();
  if (options.json) {
    std::printf("%s\n", JsonObject()
                            .string("status", "OK")
                            .string("function", words[0])
                            .number("requeued", requeued)
                            .str()
                            .c_str());
    return 0;
  }
  std::printf("requeued %u dead letter%s of %s\n", requeued, requeued == 1 ? "" : "s",
              words[0].c_str());
  // Named ids that were not requeued are not an error of the call (another
  // redrive may have taken them), but the user asked for them by name.
  const size_t named = words.size() - 1;
  if (named > requeued)
    std::fprintf(stderr, "sprout: %zu of the %zu request ids named are not dead letters of %s\n",
                 named - requeued, named, words[0].c_str());
  return 0;
}

// ---- schedule ----

int add_schedule(LazyClient& client, const Options& options) {
  const auto words = options.arguments();
  if (words.size() != 1) return usage_error(options);
  if (!options.flags.count("--expr") || flag(options, "--expr").empty())
    return usage_error(options, "schedule add needs --expr EXPR");
  if (!check_id_flag(options)) return kExitUsage;
  auto catch_up = number_flag(options, "--max-catch-up");
  if (!catch_up) return kExitUsage;
  int exit_code = 0;
  auto payload = payload_from_flags(options, &exit_code);
  if (!payload) return exit_code;

  api::Request request;
  auto* schedule = request.mutable_add_schedule()->mutable_schedule();
  schedule->set_id(flag(options, "--id"));
  schedule->set_function(words[0]);
  schedule->set_expression(flag(options, "--expr"));
  schedule->set_payload(std::move(*payload));
  schedule->set_time_zone(flag(options, "--tz"));
  schedule->set_allow_overlap(options.switches.count("--allow-overlap") > 0);
  if (options.flags.count("--max-catch-up")) schedule->set_max_catch_up(*catch_up);
  auto response = call_checked(client, std::move(request));
  if (!response) return report_error(options, response.error());
  const auto& added = response->add_schedule().schedule();
  if (options.json) {
    std::printf(
        "%s\n",
        JsonObject().string("status", "OK").raw("schedule", schedule_json(added)).str().c_str());
    return 0;
  }
  std::printf("added schedule %s for %s: %s in %s, next fire %s\n", added.id().c_str(),
              added.function().c_str(), added.expression().c_str(),
              added.time_zone().empty() ? "UTC" : added.time_zone().c_str(),
              local_iso_time(added.next_fire_unix_ms()).c_str());
  return 0;
}

int list_schedules(LazyClient& client, const Options& options) {
  const auto words = options.arguments();
  if (words.size() > 1) return usage_error(options);
  api::Request request;
  request.mutable_list_schedules()->set_function(words.empty() ? "" : words[0]);
  auto response = call_checked(client, std::move(request));
  if (!response) return report_error(options, response.error());
  const auto& schedules = response->list_schedules().schedules();
  if (options.json) {
    std::printf("%s\n", JsonObject()
                            .string("status", "OK")
                            .raw("schedules", json_array(schedules, schedule_json))
                            .str()
                            .c_str());
    return 0;
  }
  std::fputs(schedule_header().c_str(), stdout);
  for (const auto& item : schedules) std::fputs(schedule_row(item).c_str(), stdout);
  return 0;
}

int remove_schedule(LazyClient& client, const Options& options) {
  const auto words = options.arguments();
  if (words.size() != 1) return usage_error(options);
  api::Request request;
  request.mutable_remove_schedule()->set_id(words[0]);
  auto response = call_checked(client, std::move(request));
  if (!response) return report_error(options, response.error());
  return print_removed(options, "schedule", words[0]);
}

// ---- trigger ----

// DIR as sproutd takes it: canonical (absolute from our cwd, which is not
// sproutd's, with symbolic links, ".", ".." and trailing slashes resolved:
// sproutd walks and mounts it as root and refuses any other form), and a
// directory. std::nullopt after saying why.
std::optional<std::string> canonical_watch_dir(const std::string& dir) {
  std::error_code error;
  const std::filesystem::path path = std::filesystem::canonical(dir, error);
  if (error) {
    std::fprintf(stderr, "sprout: --watch %s: %s\n", dir.c_str(), error.message().c_str());
    return std::nullopt;
  }
  if (!std::filesystem::is_directory(path, error)) {
    std::fprintf(stderr, "sprout: --watch %s: not a directory\n", dir.c_str());
    return std::nullopt;
  }
  return path.string();
}

// The flags of one kind of trigger given to the other are a usage error,
// not something to drop silently.
bool refuse_foreign_flags(const Options& options, const char* kind,
                          std::initializer_list<const char*> foreign) {
  for (const char* name : foreign) {
    if (options.flags.count(name)) {
      std::fprintf(stderr, "sprout: %s is not a flag of a %s trigger\n", name, kind);
      return false;
    }
  }
  return true;
}

// The FileTrigger of --watch; `*exit_code` says which error when std::nullopt.
std::optional<api::FileTrigger> file_trigger(const Options& options, int* exit_code) {
  *exit_code = kExitUsage;
  if (!refuse_foreign_flags(options, "file",
                            {"--stream", "--subject", "--batch", "--batch-window-ms",
                             "--max-deliveries", "--dlq-subject"}))
    return std::nullopt;
  const std::string bucket = flag(options, "--bucket");
  if (options.flags.count("--bucket") && (bucket.empty() || bucket == "." || bucket == ".." ||
                                          bucket.find('/') != std::string::npos)) {
    // It names the mount point /mnt/<bucket>.
    std::fprintf(stderr, "sprout: --bucket takes a name without '/', not '%s'\n", bucket.c_str());
    return std::nullopt;
  }
  auto dir = canonical_watch_dir(flag(options, "--watch"));
  if (!dir) {
    *exit_code = kExitLocalError;
    return std::nullopt;
  }
  api::FileTrigger file;
  file.set_watch_dir(*dir);
  file.set_bucket(bucket);
  file.set_prefix(flag(options, "--prefix"));
  file.set_suffix(flag(options, "--suffix"));
  return file;
}

std::optional<api::NatsTrigger> nats_trigger(const Options& options) {
  if (!refuse_foreign_flags(options, "NATS", {"--bucket", "--prefix", "--suffix"}))
    return std::nullopt;
  for (const char* required : {"--stream", "--subject"}) {
    if (flag(options, required).empty()) {
      std::fprintf(stderr, "sprout: trigger add --nats needs %s\n", required);
      return std::nullopt;
    }
  }
  auto batch = number_flag(options, "--batch");
  auto window = number_flag(options, "--batch-window-ms");
  auto deliveries = number_flag(options, "--max-deliveries");
  if (!batch || !window || !deliveries) return std::nullopt;
  api::NatsTrigger nats;
  nats.set_url(flag(options, "--nats"));
  nats.set_stream(flag(options, "--stream"));
  nats.set_subject(flag(options, "--subject"));
  nats.set_batch_size(*batch);
  nats.set_batch_window_ms(*window);
  nats.set_max_deliveries(*deliveries);
  nats.set_dead_letter_subject(flag(options, "--dlq-subject"));
  return nats;
}

int add_trigger(LazyClient& client, const Options& options) {
  const auto words = options.arguments();
  if (words.size() != 1) return usage_error(options);
  const bool watch = options.flags.count("--watch") > 0;
  const bool nats = options.flags.count("--nats") > 0;
  if (watch == nats) {
    return usage_error(options, watch ? "trigger add takes --watch DIR or --nats URL, not both"
                                      : "trigger add needs --watch DIR or --nats URL");
  }
  if (!check_id_flag(options)) return kExitUsage;

  api::Request request;
  auto* trigger = request.mutable_add_trigger()->mutable_trigger();
  trigger->set_id(flag(options, "--id"));
  trigger->set_function(words[0]);
  if (watch) {
    int exit_code = 0;
    auto file = file_trigger(options, &exit_code);
    if (!file) return exit_code;
    *trigger->mutable_file() = std::move(*file);
  } else {
    auto queue = nats_trigger(options);
    if (!queue) return kExitUsage;
    *trigger->mutable_nats() = std::move(*queue);
  }
  auto response = call_checked(client, std::move(request));
  if (!response) return report_error(options, response.error());
  const auto& added = response->add_trigger().trigger();
  if (options.json) {
    std::printf(
        "%s\n",
        JsonObject().string("status", "OK").raw("trigger", trigger_json(added)).str().c_str());
    return 0;
  }
  std::printf("added %s trigger %s for %s: %s (%s)\n", trigger_kind(added).c_str(),
              added.id().c_str(), added.function().c_str(), trigger_source_line(added).c_str(),
              added.state().empty() ? "active" : added.state().c_str());
  return 0;
}

int list_triggers(LazyClient& client, const Options& options) {
  const auto words = options.arguments();
  if (words.size() > 1) return usage_error(options);
  api::Request request;
  request.mutable_list_triggers()->set_function(words.empty() ? "" : words[0]);
  auto response = call_checked(client, std::move(request));
  if (!response) return report_error(options, response.error());
  const auto& triggers = response->list_triggers().triggers();
  if (options.json) {
    std::printf("%s\n", JsonObject()
                            .string("status", "OK")
                            .raw("triggers", json_array(triggers, trigger_json))
                            .str()
                            .c_str());
    return 0;
  }
  std::fputs(trigger_table(triggers).c_str(), stdout);
  return 0;
}

int remove_trigger(LazyClient& client, const Options& options) {
  const auto words = options.arguments();
  if (words.size() != 1) return usage_error(options);
  api::Request request;
  request.mutable_remove_trigger()->set_id(words[0]);
  auto response = call_checked(client, std::move(request));
  if (!response) return report_error(options, response.error());
  return print_removed(options, "trigger", words[0]);
}

}  // namespace

bool apply_async_flags(const Options& options, api::FunctionSpec& spec) {
  auto retries = number_flag(options, "--async-retries");
  auto max_age = number_flag(options, "--async-max-age-s");
  if (!retries || !max_age) return false;
  const std::string on_failure = flag(options, "--on-failure");
  if (options.flags.count("--on-failure") && !is_valid_id(on_failure)) {
    std::fprintf(stderr, "sprout: --on-failure takes a function name, not '%s'\n",
                 on_failure.c_str());
    return false;
  }
  // Left unset, each takes the server's default; a redeploy without the
  // flags therefore returns to the defaults, as --url does.
  if (options.flags.count("--async-retries"))
    spec.mutable_async()->set_max_retry_attempts(*retries);
  if (options.flags.count("--async-max-age-s")) spec.mutable_async()->set_max_event_age_s(*max_age);
  if (!on_failure.empty()) spec.mutable_async()->set_on_failure(on_failure);
  return true;
}

int invoke_async(LazyClient& client, const Options& options) {
  const auto words = options.arguments();
  if (words.size() != 1) return usage_error(options);
  if (options.switches.count("--logs")) {
    std::fprintf(stderr,
                 "sprout: --logs needs a synchronous invoke; for --async see "
                 "sprout result ID --logs or sprout history NAME --logs\n");
    return kExitUsage;
  }
  if (options.flags.count("--timeout-ms")) {
    // An event outlives this call (and sproutd restarts): it runs with the
    // timeout of the function version that takes it.
    std::fprintf(stderr,
                 "sprout: --timeout-ms needs a synchronous invoke; an --async invocation "
                 "runs with the function's timeout\n");
    return kExitUsage;
  }
  int exit_code = 0;
  auto payload = payload_from_flags(options, &exit_code);
  if (!payload) return exit_code;
  api::Request request;
  request.mutable_invoke_async()->set_function(words[0]);
  request.mutable_invoke_async()->set_payload(std::move(*payload));
  auto response = call_checked(client, std::move(request));
  if (!response) return report_error(options, response.error());
  const std::string& id = response->invoke_async().invocation_id();
  if (options.json) {
    std::printf("%s\n",
                JsonObject().string("status", "OK").string("invocation_id", id).str().c_str());
  } else {
    std::printf("%s\n", id.c_str());
  }
  return 0;
}

int history(LazyClient& client, const Options& options) {
  const auto words = options.arguments();
  if (words.size() != 1) return usage_error(options);
  auto limit = number_flag(options, "--limit");
  if (!limit) return kExitUsage;
  api::Request request;
  request.mutable_history()->set_function(words[0]);
  request.mutable_history()->set_limit(*limit);
  auto response = call_checked(client, std::move(request));
  if (!response) return report_error(options, response.error());
  const auto& entries = response->history().entries();
  if (options.json) {
    std::printf("%s\n", JsonObject()
                            .string("status", "OK")
                            .string("function", words[0])
                            .raw("entries", json_array(entries, history_entry_json))
                            .str()
                            .c_str());
    return 0;
  }
  const bool with_logs = options.switches.count("--logs") > 0;
  std::fputs(history_header().c_str(), stdout);
  for (const auto& entry : entries) std::fputs(history_row(entry, with_logs).c_str(), stdout);
  return 0;
}

int dead_letters(LazyClient& client, const Options& options) {
  const std::string command = options.command();
  if (command == "dlq ls") return list_dead_letters(client, options);
  if (command == "dlq redrive") return redrive(client, options);
  return missing_subcommand(options);
}

int schedule(LazyClient& client, const Options& options) {
  const std::string command = options.command();
  if (command == "schedule add") return add_schedule(client, options);
  if (command == "schedule ls") return list_schedules(client, options);
  if (command == "schedule rm") return remove_schedule(client, options);
  return missing_subcommand(options);
}

int trigger(LazyClient& client, const Options& options) {
  const std::string command = options.command();
  if (command == "trigger add") return add_trigger(client, options);
  if (command == "trigger ls") return list_triggers(client, options);
  if (command == "trigger rm") return remove_trigger(client, options);
  return missing_subcommand(options);
}

}  // namespace sprout::cli
