#include "events/nats/trigger_config.h"

#include <algorithm>
#include <vector>

#include "events/source_id.h"

namespace sprout::events {
namespace {

constexpr size_t kMaxStreamName = 255;
constexpr size_t kMaxSubject = 1024;
constexpr size_t kMaxUrl = 1024;

std::unexpected<Error> invalid(const std::string& detail) {
  return plain_error("NATS trigger", detail);
}

std::vector<std::string_view> tokens(std::string_view subject) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t dot = subject.find('.', start);
    out.push_back(subject.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

bool printable_without_space(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

// NATS subjects: '.'-separated non-empty tokens of printable characters;
// `*` only as a whole token, `>` only as the whole last token.
bool is_valid_subject(std::string_view subject, bool wildcards_allowed) {
  if (subject.empty() || subject.size() > kMaxSubject || !printable_without_space(subject)) {
    return false;
  }
  const std::vector<std::string_view> parts = tokens(subject);
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string_view part = parts[i];
    if (part.empty()) return false;
    const bool star = part == "*";
    const bool tail = part == ">";
    if ((star || tail) && !wildcards_allowed) return false;
    if (tail && i + 1 != parts.size()) return false;
    if (!star && !tail && part.find_first_of("*>") != std::string_view::npos) return false;
  }
  return true;
}

// JetStream stream names: no whitespace, '.', '*', '>' or path separators.
bool is_valid_stream_name(std::string_view name) {
  return !name.empty() && name.size() <= kMaxStreamName && printable_without_space(name) &&
         name.find_first_of(".*>/\\") == std::string_view::npos;
}

// nats://HOST[:PORT]: a host name or IPv4 address, or a bracketed IPv6
// address; no credentials (they would be stored and listed in clear).
bool is_valid_url(std::string_view url) {
  constexpr std::string_view kScheme = "nats://";
  if (url.size() > kMaxUrl || !url.starts_with(kScheme)) return false;
  std::string_view rest = url.substr(kScheme.size());
  if (rest.ends_with('/')) rest.remove_suffix(1);
  std::string_view host;
  std::string_view port;
  if (rest.starts_with('[')) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    host = rest.substr(1, close - 1);
    if (!std::all_of(host.begin(), host.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == ':'; })) {
      return false;
    }
    rest = rest.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return false;
    if (!rest.empty()) port = rest.substr(1);
    if (!rest.empty() && port.empty()) return false;
  } else {
    const size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = rest.substr(colon + 1);
      if (port.empty()) return false;
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
        })) {
      return false;
    }
  }
  if (port.empty()) return true;
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      })) {
    return false;
  }
  const int number = std::stoi(std::string(port));
  return number >= 1 && number <= 65535;
}

}  // namespace

std::string durable_name_of(std::string_view trigger_id) {
  return "sprout-" + std::string(trigger_id);
}

bool subject_matches(std::string_view filter, std::string_view subject) {
  const std::vector<std::string_view> want = tokens(filter);
  const std::vector<std::string_view> have = tokens(subject);
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] == ">") return have.size() > i;
    if (i >= have.size()) return false;
    if (want[i] != "*" && want[i] != have[i]) return false;
  }
  return want.size() == have.size();
}

Result<api::Trigger> normalize_nats_trigger(api::Trigger trigger) {
  if (!trigger.has_nats()) return invalid("the trigger is not a NATS trigger");
  if (!trigger.id().empty() && !is_valid_source_id(trigger.id())) {
    return invalid("id " + trigger.id() + " is not [a-zA-Z0-9_-]{1,64}");
  }
  api::NatsTrigger& nats = *trigger.mutable_nats();
  if (!is_valid_url(nats.url())) {
    return invalid("url '" + nats.url() + "' is not nats://HOST[:PORT] (no credentials)");
  }
  if (!is_valid_stream_name(nats.stream())) {
    return invalid("stream '" + nats.stream() +
                   "' is not a JetStream stream name (1..255 printable characters, none of "
                   "whitespace . * > / \\)");
  }
  if (!is_valid_subject(nats.subject(), /*wildcards_allowed=*/true)) {
    return invalid("subject '" + nats.subject() +
                   "' is not a NATS subject (non-empty '.'-separated tokens, * and > only as "
                   "whole tokens, > last)");
  }
  if (nats.batch_size() == 0) nats.set_batch_size(kDefaultBatchSize);
  if (nats.batch_size() > kMaxBatchSize) {
    return invalid("batch size " + std::to_string(nats.batch_size()) + " is not 1..100");
  }
  if (nats.batch_window_ms() > kMaxBatchWindowMs) {
    return invalid("batch window " + std::to_string(nats.batch_window_ms()) +
                   " ms is not 0..300000");
  }
  if (nats.max_deliveries() == 0) nats.set_max_deliveries(kDefaultMaxDeliveries);
  if (nats.max_deliveries() > kMaxMaxDeliveries) {
    return invalid("max deliveries " + std::to_string(nats.max_deliveries()) + " is not 1..1000");
  }
  if (nats.dead_letter_subject().empty()) {
    nats.set_dead_letter_subject("sprout.dlq." + trigger.function());
  }
  if (!is_valid_subject(nats.dead_letter_subject(), /*wildcards_allowed=*/false)) {
    return invalid("dead-letter subject '" + nats.dead_letter_subject() +
                   "' is not a NATS subject without wildcards");
  }
  if (subject_matches(nats.subject(), nats.dead_letter_subject())) {
    return invalid("dead-letter subject '" + nats.dead_letter_subject() +
                   "' is one the trigger consumes ('" + nats.subject() +
                   "'): dead letters would come back");
  }
  if (!trigger.id().empty()) nats.set_durable_name(durable_name_of(trigger.id()));
  return trigger;
}

}  // namespace sprout::events
