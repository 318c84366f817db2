#include "cli/event_format.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "cli/command_support.h"
#include "cli/json_writer.h"

namespace sprout::cli {
namespace {

// The defaults the proto documents for fields left at zero or unset; the
// human output shows what will actually happen.
constexpr uint32_t kDefaultRetries = 2;
constexpr uint32_t kDefaultMaxEventAgeS = 21600;
constexpr uint32_t kDefaultMaxCatchUp = 1;
constexpr uint32_t kDefaultBatchSize = 10;
constexpr uint32_t kDefaultMaxDeliveries = 5;

// Widths of the free-text tail columns, so that a row stays one line.
constexpr size_t kResultChars = 60;
constexpr size_t kErrorChars = 60;

uint64_t unsigned_ms(int64_t unix_ms) {
  return static_cast<uint64_t>(std::max<int64_t>(unix_ms, 0));
}

std::string format(const char* pattern, auto... values) {
  const int size = std::snprintf(nullptr, 0, pattern, values...);
  std::string text(static_cast<size_t>(std::max(size, 0)) + 1, '\0');
  std::snprintf(text.data(), text.size(), pattern, values...);
  text.pop_back();
  return text;
}

// The outcome of an invocation in a few words: its result, or its error.
std::string outcome(api::Status status, const std::string& result, const std::string& error_type,
                    const std::string& error_message) {
  if (status == api::OK) return result;
  if (error_type.empty()) return error_message;
  return error_message.empty() ? error_type : error_type + ": " + error_message;
}

std::string bucket_of(const api::FileTrigger& file) {
  if (!file.bucket().empty()) return file.bucket();
  const std::string& dir = file.watch_dir();
  std::string base = dir.substr(dir.rfind('/') + 1);
  for (char& c : base) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return base;
}

}  // namespace

std::string source_name(api::InvocationSource source) {
  switch (source) {
    case api::API:
      return "api";
    case api::HTTP:
      return "http";
    case api::ASYNC:
      return "async";
    case api::SCHEDULE:
      return "schedule";
    case api::FILE:
      return "file";
    case api::QUEUE:
      return "queue";
    default:
      return "unknown";
  }
}

std::string async_config_json(const api::AsyncConfig& async) {
  return JsonObject()
      .number("max_retry_attempts",
              async.has_max_retry_attempts() ? async.max_retry_attempts() : kDefaultRetries)
      .number("max_event_age_s",
              async.max_event_age_s() != 0 ? async.max_event_age_s() : kDefaultMaxEventAgeS)
      .string("on_failure", async.on_failure())
      .str();
}

std::string async_config_line(const api::AsyncConfig& async) {
  return format("retries=%u max-age-s=%u on-failure=%s",
                async.has_max_retry_attempts() ? async.max_retry_attempts() : kDefaultRetries,
                async.max_event_age_s() != 0 ? async.max_event_age_s() : kDefaultMaxEventAgeS,
                async.on_failure().empty() ? "dead-letters" : async.on_failure().c_str());
}

std::string history_entry_json(const api::HistoryEntry& entry) {
  return JsonObject()
      .string("request_id", entry.request_id())
      .string("source", source_name(entry.source()))
      .string("source_id", entry.source_id())
      .string("status", api::Status_Name(entry.status()))
      .number("attempt", entry.attempt())
      .number("function_version", entry.function_version())
      .number("start_unix_ms", unsigned_ms(entry.start_unix_ms()))
      .string("start", local_iso_time(entry.start_unix_ms()))
      .number("duration_us", entry.duration_us())
      .number("billed_ms", entry.billed_ms())
      .raw("result", entry.status() == api::OK ? json_value(entry.result()) : "null")
      .string("error_type", entry.error_type())
      .string("error_message", entry.error_message())
      .string("log_tail", entry.log_tail())
      .boolean("truncated", entry.truncated())
      .str();
}

std::string history_header() {
  return format("%-36s  %-20s %-17s %3s  %-29s %11s %9s  %s\n", "REQUEST_ID", "SOURCE", "STATUS",
                "TRY", "START", "DURATION_MS", "BILLED_MS", "RESULT_OR_ERROR");
}

std::string history_row(const api::HistoryEntry& entry, bool with_logs) {
  std::string source = source_name(entry.source());
  if (!entry.source_id().empty()) source += ":" + entry.source_id();
  std::string row = format(
      "%-36s  %-20s %-17s %3u  %-29s %11.2f %9llu  %s\n", entry.request_id().c_str(),
      source.c_str(), api::Status_Name(entry.status()).c_str(), entry.attempt(),
      local_iso_time(entry.start_unix_ms()).c_str(),
      static_cast<double>(entry.duration_us()) / 1000.0,
      static_cast<unsigned long long>(entry.billed_ms()),
      one_line(outcome(entry.status(), entry.result(), entry.error_type(), entry.error_message()),
               kResultChars)
          .c_str());
  if (with_logs && !entry.log_tail().empty()) {
    std::string_view tail = entry.log_tail();
    while (!tail.empty()) {
      const size_t end = tail.find('\n');
      row += "    ";
      row += tail.substr(0, end);
      row += '\n';
      tail = end == std::string_view::npos ? std::string_view() : tail.substr(end + 1);
    }
  }
  return row;
}

std::string dead_letter_json(const api::DeadLetter& letter) {
  return JsonObject()
      .string("request_id", letter.request_id())
      .string("function", letter.function())
      .raw("payload", json_value(letter.payload()))
      .string("source", source_name(letter.source()))
      .string("last_status", api::Status_Name(letter.last_status()))
      .string("last_error", letter.last_error())
      .number("attempts", letter.attempts())
      .string("reason", letter.reason())
      .number("enqueued_unix_ms", unsigned_ms(letter.enqueued_unix_ms()))
      .string("enqueued", local_iso_time(letter.enqueued_unix_ms()))
      .number("failed_unix_ms", unsigned_ms(letter.failed_unix_ms()))
      .string("failed", local_iso_time(letter.failed_unix_ms()))
      .str();
}

std::string dead_letter_header() {
  return format("%-36s  %-10s %8s  %-17s %-16s  %-29s  %s\n", "REQUEST_ID", "SOURCE", "ATTEMPTS",
                "LAST_STATUS", "REASON", "FAILED", "LAST_ERROR");
}

std::string dead_letter_row(const api::DeadLetter& letter) {
  return format("%-36s  %-10s %8u  %-17s %-16s  %-29s  %s\n", letter.request_id().c_str(),
                source_name(letter.source()).c_str(), letter.attempts(),
                api::Status_Name(letter.last_status()).c_str(), letter.reason().c_str(),
                local_iso_time(letter.failed_unix_ms()).c_str(),
                one_line(letter.last_error(), kErrorChars).c_str());
}

std::string schedule_json(const api::Schedule& schedule) {
  return JsonObject()
      .string("id", schedule.id())
      .string("function", schedule.function())
      .string("expression", schedule.expression())
      .raw("payload", schedule.payload().empty() ? "null" : json_value(schedule.payload()))
      .string("time_zone", schedule.time_zone().empty() ? "UTC" : schedule.time_zone())
      .boolean("allow_overlap", schedule.allow_overlap())
      .number("max_catch_up",
              schedule.has_max_catch_up() ? schedule.max_catch_up() : kDefaultMaxCatchUp)
      .number("created_unix_ms", unsigned_ms(schedule.created_unix_ms()))
      .number("next_fire_unix_ms", unsigned_ms(schedule.next_fire_unix_ms()))
      .string("next_fire", local_iso_time(schedule.next_fire_unix_ms()))
      .number("last_fire_unix_ms", unsigned_ms(schedule.last_fire_unix_ms()))
      .string("last_fire", local_iso_time(schedule.last_fire_unix_ms()))
      .str();
}

std::string schedule_header() {
  return format("%-24s %-24s %-29s  %-29s  %-20s %-7s %8s  %s\n", "ID", "FUNCTION", "NEXT_FIRE",
                "LAST_FIRE", "TIME_ZONE", "OVERLAP", "CATCH_UP", "EXPRESSION");
}

std::string schedule_row(const api::Schedule& schedule) {
  return format("%-24s %-24s %-29s  %-29s  %-20s %-7s %8u  %s\n", schedule.id().c_str(),
                schedule.function().c_str(), local_iso_time(schedule.next_fire_unix_ms()).c_str(),
                local_iso_time(schedule.last_fire_unix_ms()).c_str(),
                schedule.time_zone().empty() ? "UTC" : schedule.time_zone().c_str(),
                schedule.allow_overlap() ? "yes" : "no",
                schedule.has_max_catch_up() ? schedule.max_catch_up() : kDefaultMaxCatchUp,
                schedule.expression().c_str());
}

std::string trigger_kind(const api::Trigger& trigger) {
  if (trigger.has_file()) return "file";
  if (trigger.has_nats()) return "nats";
  return "unknown";
}

std::string trigger_json(const api::Trigger& trigger) {
  JsonObject out;
  out.string("id", trigger.id())
      .string("function", trigger.function())
      .string("kind", trigger_kind(trigger));
  if (trigger.has_file()) {
    const auto& file = trigger.file();
    out.raw("file", JsonObject()
                        .string("watch_dir", file.watch_dir())
                        .string("bucket", file.bucket())
                        .string("prefix", file.prefix())
                        .string("suffix", file.suffix())
                        .str());
  }
  if (trigger.has_nats()) {
    const auto& nats = trigger.nats();
    out.raw("nats", JsonObject()
                        .string("url", nats.url())
                        .string("stream", nats.stream())
                        .string("subject", nats.subject())
                        .number("batch_size", nats.batch_size())
                        .number("batch_window_ms", nats.batch_window_ms())
                        .number("max_deliveries", nats.max_deliveries())
                        .string("dead_letter_subject", nats.dead_letter_subject())
                        .string("durable_name", nats.durable_name())
                        .str());
  }
  return out.number("created_unix_ms", unsigned_ms(trigger.created_unix_ms()))
      .string("state", trigger.state())
      .number("delivered", trigger.delivered())
      .str();
}

std::string trigger_source_line(const api::Trigger& trigger) {
  if (trigger.has_file()) {
    const auto& file = trigger.file();
    std::string line = "dir=" + file.watch_dir() + " bucket=" + bucket_of(file);
    if (!file.prefix().empty()) line += " prefix=" + file.prefix();
    if (!file.suffix().empty()) line += " suffix=" + file.suffix();
    return line;
  }
  if (trigger.has_nats()) {
    const auto& nats = trigger.nats();
    return format("url=%s stream=%s subject=%s batch=%u window-ms=%u max-deliveries=%u dlq=%s",
                  nats.url().c_str(), nats.stream().c_str(), nats.subject().c_str(),
                  nats.batch_size() != 0 ? nats.batch_size() : kDefaultBatchSize,
                  nats.batch_window_ms(),
                  nats.max_deliveries() != 0 ? nats.max_deliveries() : kDefaultMaxDeliveries,
                  nats.dead_letter_subject().empty() ? ("sprout.dlq." + trigger.function()).c_str()
                                                     : nats.dead_letter_subject().c_str());
  }
  return "";
}

std::string trigger_table(const google::protobuf::RepeatedPtrField<api::Trigger>& triggers) {
  // SOURCE is as wide as its widest row, so that STATE, last (it may hold
  // spaces: what is wrong), starts in one column.
  size_t source_width = std::string_view("SOURCE").size();
  for (const auto& trigger : triggers)
    source_width = std::max(source_width, trigger_source_line(trigger).size());
  const int width = static_cast<int>(source_width);
  std::string table = format("%-24s %-24s %-4s %9s  %-*s  %s\n", "ID", "FUNCTION", "KIND",
                             "DELIVERED", width, "SOURCE", "STATE");
  for (const auto& trigger : triggers) {
    table += format("%-24s %-24s %-4s %9llu  %-*s  %s\n", trigger.id().c_str(),
                    trigger.function().c_str(), trigger_kind(trigger).c_str(),
                    static_cast<unsigned long long>(trigger.delivered()), width,
                    trigger_source_line(trigger).c_str(), trigger.state().c_str());
  }
  return table;
}

}  // namespace sprout::cli
