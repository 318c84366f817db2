// The bounded copies of invocation answers the async queue stores.
#include "events/async/bounded_response.h"

#include <gtest/gtest.h>

#include <string>

namespace sprout::events::async {
namespace {

TEST(BoundedResponse, SmallAnswersComeBackEqual) {
  api::InvokeResponse response;
  response.set_status(api::FUNCTION_ERROR);
  response.set_error_type("ValueError");
  response.set_error_message("bad");
  response.add_stack_trace("line 1");
  response.set_logs("hello\n");
  response.set_request_id("id");
  const api::InvokeResponse bounded = bounded_response(response);
  EXPECT_EQ(bounded.SerializeAsString(), response.SerializeAsString());
  EXPECT_EQ(bounded_error_text(response), "ValueError: bad");
}

TEST(BoundedResponse, CutsEveryLargeFieldAndSaysSo) {
  api::InvokeResponse response;
  response.set_status(api::OK);
  response.set_result(std::string(kStoredResultBytes - 1, 'r') + "\xC3\xA9" + "tail");
  response.set_logs("first\n" + std::string(10 * 1024, 'l'));
  response.set_detail(std::string(5000, 'd'));
  const api::InvokeResponse bounded = bounded_response(response);
  EXPECT_EQ(bounded.result(), std::string(kStoredResultBytes - 1, 'r'))
      << "a character the cut falls in is left out whole";
  EXPECT_EQ(bounded.logs(), std::string(kStoredLogTailBytes, 'l'));
  EXPECT_TRUE(bounded.logs_truncated());
  EXPECT_TRUE(bounded.detail().starts_with(std::string(kStoredErrorBytes, 'd')));
  EXPECT_NE(bounded.detail().find("result truncated to its first 262143 of 262149 bytes"),
            std::string::npos)
      << bounded.detail().substr(kStoredErrorBytes);
}

TEST(BoundedErrorText, IsAtMostAKibibyteWhateverItIsMadeOf) {
  api::InvokeResponse response;
  response.set_error_type(std::string(1024 * 1024, 'T'));
  response.set_error_message(std::string(1024 * 1024, 'm'));
  std::string text = bounded_error_text(response);
  EXPECT_EQ(text.size(), kStoredErrorBytes);
  EXPECT_EQ(text.substr(kStoredErrorTypeBytes, 2), ": ") << "the message still shows";

  api::InvokeResponse detail_only;
  detail_only.set_detail(std::string(4096, 'd'));
  EXPECT_EQ(bounded_error_text(detail_only).size(), kStoredErrorBytes);
}

}  // namespace
}  // namespace sprout::events::async
