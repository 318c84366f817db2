// Lambda's ReportBatchItemFailures rules, as read_batch_response applies
// them.
#include "events/nats/batch_response.h"

#include <gtest/gtest.h>

namespace sprout::events {
namespace {

const std::vector<std::string> kBatch = {"id-1", "id-2", "id-3"};

api::InvokeResponse ok(const std::string& result) {
  api::InvokeResponse response;
  response.set_status(api::OK);
  response.set_result(result);
  return response;
}

TEST(BatchResponseTest, ResultsWithoutFailuresAreCompleteSuccess) {
  for (const std::string result :
       {"", "  ", "null", "{}", "{\"batchItemFailures\":null}", "{\"batchItemFailures\":[]}",
        "{\"statusCode\":200}", "\"done\"", "42", "[1,2]"}) {
    const BatchOutcome outcome = read_batch_response(ok(result), kBatch);
    EXPECT_FALSE(outcome.whole_batch_failed) << result << ": " << outcome.reason;
    EXPECT_TRUE(outcome.failed_ids.empty()) << result;
    EXPECT_FALSE(outcome.failed("id-1")) << result;
  }
}

TEST(BatchResponseTest, NamedItemsFailAndTheRestSucceed) {
  const BatchOutcome outcome = read_batch_response(
      ok(R"({"batchItemFailures":[{"itemIdentifier":"id-3"},{"itemIdentifier":"id-1"}]})"),
      kBatch);
  EXPECT_FALSE(outcome.whole_batch_failed) << outcome.reason;
  EXPECT_TRUE(outcome.failed("id-1"));
  EXPECT_FALSE(outcome.failed("id-2"));
  EXPECT_TRUE(outcome.failed("id-3"));
}

TEST(BatchResponseTest, MalformedFailureListsFailTheWholeBatch) {
  for (const std::string result : {
           R"({"batchItemFailures":[{"itemIdentifier":"id-9"}]})",   // not in the batch
           R"({"batchItemFailures":[{"itemIdentifier":""}]})",       // empty
           R"({"batchItemFailures":[{"itemIdentifier":null}]})",     // null
           R"({"batchItemFailures":[{"itemId":"id-1"}]})",           // bad key name
           R"({"batchItemFailures":[{"itemIdentifier":1}]})",        // not a string
           R"({"batchItemFailures":["id-1"]})",                       // not an object
           R"({"batchItemFailures":"id-1"})",                         // not a list
           R"({"batchItemFailures":[{"itemIdentifier":"id-1"}])",    // not JSON
       }) {
    const BatchOutcome outcome = read_batch_response(ok(result), kBatch);
    EXPECT_TRUE(outcome.whole_batch_failed) << result;
    EXPECT_FALSE(outcome.reason.empty()) << result;
    EXPECT_TRUE(outcome.failed("id-2")) << result;
  }
}

TEST(BatchResponseTest, NonOkStatusFailsTheWholeBatchAndSaysWhy) {
  api::InvokeResponse response;
  response.set_status(api::FUNCTION_ERROR);
  response.set_error_message("boom");
  // Even a result that names items does not count when the call failed.
  response.set_result(R"({"batchItemFailures":[{"itemIdentifier":"id-1"}]})");
  BatchOutcome outcome = read_batch_response(response, kBatch);
  EXPECT_TRUE(outcome.whole_batch_failed);
  EXPECT_EQ(outcome.reason, "FUNCTION_ERROR: boom");

  response.Clear();
  response.set_status(api::TIMEOUT);
  response.set_detail("timed out after 3000 ms");
  outcome = read_batch_response(response, kBatch);
  EXPECT_TRUE(outcome.whole_batch_failed);
  EXPECT_EQ(outcome.reason, "TIMEOUT: timed out after 3000 ms");
}

}  // namespace
}  // namespace sprout::events
