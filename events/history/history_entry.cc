#include "events/history/history_entry.h"

namespace sprout::events {
namespace {

// A UTF-8 continuation byte (10xxxxxx): never the first byte of a character.
// Replaces `field` by its kept part when that is shorter; says whether it was.
bool keep(std::string& field, std::string_view kept) {
  if (kept.size() == field.size()) return false;
  field = std::string(kept);
  return true;
}

}  // namespace

void truncate_history_entry(api::HistoryEntry& entry) {
  bool cut = keep(*entry.mutable_result(), utf8_prefix(entry.result(), kHistoryResultBytes));
  cut |= keep(*entry.mutable_error_message(),
              utf8_prefix(entry.error_message(), kHistoryErrorBytes));
  cut |= keep(*entry.mutable_error_type(), utf8_prefix(entry.error_type(), kHistoryErrorTypeBytes));
  cut |= keep(*entry.mutable_request_id(), utf8_prefix(entry.request_id(), kHistoryIdBytes));
  cut |= keep(*entry.mutable_source_id(), utf8_prefix(entry.source_id(), kHistoryIdBytes));
  cut |= keep(*entry.mutable_log_tail(), utf8_suffix(entry.log_tail(), kHistoryLogTailBytes));
  if (cut) entry.set_truncated(true);
}

api::HistoryEntry history_entry_of(const api::InvokeResponse& response,
                                   const InvocationOrigin& origin) {
  api::HistoryEntry entry;
  entry.set_source(origin.source);
  entry.set_status(response.status());
  entry.set_start_unix_ms(origin.start_unix_ms);
  entry.set_duration_us(response.metrics().total_us());
  entry.set_billed_ms(response.metrics().billed_ms());
  entry.set_function_version(response.function_version());
  entry.set_attempt(origin.attempt);

  bool cut = false;
  const auto copy_prefix = [&cut](std::string_view from, size_t max_bytes, std::string* to) {
    const std::string_view kept = utf8_prefix(from, max_bytes);
    to->assign(kept);
    cut |= kept.size() != from.size();
  };
  copy_prefix(response.request_id(), kHistoryIdBytes, entry.mutable_request_id());
  copy_prefix(origin.source_id, kHistoryIdBytes, entry.mutable_source_id());
  copy_prefix(response.error_type(), kHistoryErrorTypeBytes, entry.mutable_error_type());
  if (response.status() == api::OK) {
    copy_prefix(response.result(), kHistoryResultBytes, entry.mutable_result());
  } else {
    // The function's own words when it said any (FUNCTION_ERROR, INIT_ERROR);
    // otherwise sprout's account of what ended it (TIMEOUT, CRASHED, ...).
    const std::string& why =
        response.error_message().empty() ? response.detail() : response.error_message();
    copy_prefix(why, kHistoryErrorBytes, entry.mutable_error_message());
  }
  const std::string_view tail = utf8_suffix(response.logs(), kHistoryLogTailBytes);
  entry.set_log_tail(std::string(tail));
  cut |= tail.size() != response.logs().size() || response.logs_truncated();
  entry.set_truncated(cut);
  return entry;
}

}  // namespace sprout::events
