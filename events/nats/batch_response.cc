#include "events/nats/batch_response.h"

#include <algorithm>

#include "http/json.h"

namespace sprout::events {
namespace {

BatchOutcome whole_batch(std::string reason) {
  return BatchOutcome{.whole_batch_failed = true, .reason = std::move(reason), .failed_ids = {}};
}

bool only_whitespace(const std::string& text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

}  // namespace

BatchOutcome read_batch_response(const api::InvokeResponse& response,
                                 const std::vector<std::string>& batch_ids) {
  if (response.status() != api::OK) {
    std::string reason = api::Status_Name(response.status());
    const std::string& why =
        response.error_message().empty() ? response.detail() : response.error_message();
    if (!why.empty()) reason += ": " + why;
    return whole_batch(std::move(reason));
  }
  if (only_whitespace(response.result())) return {};

  std::string parse_error;
  const std::optional<http::JsonValue> result = http::parse_json(response.result(), &parse_error);
  if (!result) return whole_batch("the function's result is not valid JSON: " + parse_error);
  if (!result->is_object()) return {};
  const http::JsonValue* failures = result->find("batchItemFailures");
  if (failures == nullptr || failures->is_null()) return {};
  if (!failures->is_array()) return whole_batch("batchItemFailures is not a list");

  BatchOutcome outcome;
  for (const http::JsonValue& failure : failures->items()) {
    if (!failure.is_object()) return whole_batch("a batchItemFailures entry is not an object");
    const http::JsonValue* id = failure.find("itemIdentifier");
    if (id == nullptr || !id->is_string() || id->as_string().empty()) {
      return whole_batch("a batchItemFailures entry has no itemIdentifier");
    }
    if (std::find(batch_ids.begin(), batch_ids.end(), id->as_string()) == batch_ids.end()) {
      return whole_batch("itemIdentifier " + http::json_quote(id->as_string()) +
                         " is not a messageId of the batch");
    }
    outcome.failed_ids.insert(id->as_string());
  }
  return outcome;
}

}  // namespace sprout::events
