// Reads a queue batch's invocation answer as Lambda reads an SQS handler's
// with ReportBatchItemFailures: {"batchItemFailures":[{"itemIdentifier":
// "<messageId>"}, ...]} names the records that failed; the rest succeeded.
//
// Lambda's rules, kept here:
//  - complete success: an OK answer with an empty result, JSON null, a
//    value that is not an object, an object without batchItemFailures, or
//    one whose batchItemFailures is null or [].
//  - complete failure: a status other than OK (the handler raised, timed
//    out, crashed, was throttled...); a result that is not valid JSON; a
//    batchItemFailures that is not a list; an entry that is not an object,
//    or whose itemIdentifier is missing, null, empty, not a string, or not
//    the messageId of a record of this batch.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "api/proto/sprout_api.pb.h"

namespace sprout::events {

struct BatchOutcome {
  // Every record failed; `reason` says why (for the log and the DLQ header).
  bool whole_batch_failed = false;
  std::string reason;
  // When not whole_batch_failed: the messageIds that failed (the others
  // succeeded).
  std::set<std::string> failed_ids;

  bool failed(const std::string& message_id) const {
    return whole_batch_failed || failed_ids.contains(message_id);
  }
};

// `batch_ids`: the messageIds of the batch's records.
BatchOutcome read_batch_response(const api::InvokeResponse& response,
                                 const std::vector<std::string>& batch_ids);

}  // namespace sprout::events
