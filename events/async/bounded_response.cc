#include "events/async/bounded_response.h"

namespace sprout::events::async {
namespace {

// A UTF-8 continuation byte (10xxxxxx): never the first byte of a character.
// Cuts `field` to `max_bytes` (UTF-8 safe); says whether it was cut.
bool cut_prefix(std::string& field, size_t max_bytes) {
  const size_t kept = utf8_prefix(field, max_bytes).size();
  if (kept == field.size()) return false;
  field.resize(kept);
  return true;
}

}  // namespace

api::InvokeResponse bounded_response(const api::InvokeResponse& response) {
  api::InvokeResponse bounded = response;
  cut_prefix(*bounded.mutable_detail(), kStoredErrorBytes);
  cut_prefix(*bounded.mutable_error_type(), kStoredErrorTypeBytes);
  cut_prefix(*bounded.mutable_error_message(), kStoredErrorBytes);
  if (bounded.stack_trace_size() > static_cast<int>(kStoredStackFrames)) {
    bounded.mutable_stack_trace()->DeleteSubrange(
        static_cast<int>(kStoredStackFrames),
        bounded.stack_trace_size() - static_cast<int>(kStoredStackFrames));
  }
  for (std::string& frame : *bounded.mutable_stack_trace())
    cut_prefix(frame, kStoredStackFrameBytes);
  const std::string_view tail = utf8_suffix(response.logs(), kStoredLogTailBytes);
  if (tail.size() != response.logs().size()) {
    bounded.set_logs(std::string(tail));
    bounded.set_logs_truncated(true);
  }
  if (cut_prefix(*bounded.mutable_result(), kStoredResultBytes)) {
    // GetResult after the fact must not pass a cut result off as whole.
    std::string note = "result truncated to its first " + std::to_string(bounded.result().size()) +
                       " of " + std::to_string(response.result().size()) + " bytes";
    bounded.set_detail(bounded.detail().empty() ? note : bounded.detail() + "; " + note);
  }
  return bounded;
}

std::string bounded_error_text(const api::InvokeResponse& response) {
  std::string text;
  if (!response.error_type().empty()) {
    text = std::string(utf8_prefix(response.error_type(), kStoredErrorTypeBytes)) + ": " +
           std::string(utf8_prefix(response.error_message(), kStoredErrorBytes));
  } else if (!response.error_message().empty()) {
    text = response.error_message();
  } else {
    text = response.detail();
  }
  cut_prefix(text, kStoredErrorBytes);
  return text;
}

}  // namespace sprout::events::async
