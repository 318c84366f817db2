// History entries built from invocation answers, and the cuts that keep them
// small without ever splitting a UTF-8 character.
#include "events/history/history_entry.h"

#include <gtest/gtest.h>

#include <string>

namespace sprout::events {
namespace {

api::InvokeResponse answer(api::Status status) {
  api::InvokeResponse response;
  response.set_status(status);
  response.set_request_id("req-1");
  response.set_function_version(3);
  response.mutable_metrics()->set_total_us(12'345);
  response.mutable_metrics()->set_billed_ms(11);
  response.set_logs("START\nhello\nEND\n");
  return response;
}

const InvocationOrigin kScheduled{
    .source = api::SCHEDULE, .source_id = "nightly", .attempt = 2, .start_unix_ms = 1'700'000'000'000};

TEST(HistoryEntryOf, OkKeepsTheResultAndTheMetrics) {
  api::InvokeResponse response = answer(api::OK);
  response.set_result(R"({"answer": 42})");
  const api::HistoryEntry entry = history_entry_of(response, kScheduled);
  EXPECT_EQ(entry.request_id(), "req-1");
  EXPECT_EQ(entry.source(), api::SCHEDULE);
  EXPECT_EQ(entry.source_id(), "nightly");
  EXPECT_EQ(entry.attempt(), 2U);
  EXPECT_EQ(entry.start_unix_ms(), 1'700'000'000'000);
  EXPECT_EQ(entry.status(), api::OK);
  EXPECT_EQ(entry.duration_us(), 12'345U);
  EXPECT_EQ(entry.billed_ms(), 11U);
  EXPECT_EQ(entry.function_version(), 3U);
  EXPECT_EQ(entry.result(), R"({"answer": 42})");
  EXPECT_EQ(entry.error_message(), "");
  EXPECT_EQ(entry.log_tail(), "START\nhello\nEND\n");
  EXPECT_FALSE(entry.truncated());
}

TEST(HistoryEntryOf, FunctionErrorKeepsTheFunctionsOwnMessageAndNoResult) {
  api::InvokeResponse response = answer(api::FUNCTION_ERROR);
  response.set_error_type("ValueError");
  response.set_error_message("bad input");
  response.set_detail("the handler raised ValueError");
  response.set_result(R"({"errorMessage": "bad input"})");
  const api::HistoryEntry entry = history_entry_of(response, {});
  EXPECT_EQ(entry.status(), api::FUNCTION_ERROR);
  EXPECT_EQ(entry.error_type(), "ValueError");
  EXPECT_EQ(entry.error_message(), "bad input");
  EXPECT_EQ(entry.result(), "") << "a result is kept only for OK";
  EXPECT_EQ(entry.source(), api::API);
  EXPECT_EQ(entry.attempt(), 1U);
}

TEST(HistoryEntryOf, TimeoutTakesSproutsDetailAsTheError) {
  api::InvokeResponse response = answer(api::TIMEOUT);
  response.set_detail("the invocation ran past its 3 s timeout");
  const api::HistoryEntry entry = history_entry_of(response, kScheduled);
  EXPECT_EQ(entry.status(), api::TIMEOUT);
  EXPECT_EQ(entry.error_type(), "");
  EXPECT_EQ(entry.error_message(), "the invocation ran past its 3 s timeout");
  EXPECT_EQ(entry.log_tail(), "START\nhello\nEND\n");
}

TEST(HistoryEntryOf, CutsLargeFieldsAndSaysSo) {
  api::InvokeResponse ok = answer(api::OK);
  ok.set_result(std::string(5000, 'r'));
  ok.set_logs("old" + std::string(kHistoryLogTailBytes, 'l') + "new");
  const api::HistoryEntry cut = history_entry_of(ok, {});
  EXPECT_EQ(cut.result(), std::string(kHistoryResultBytes, 'r'));
  ASSERT_EQ(cut.log_tail().size(), kHistoryLogTailBytes);
  EXPECT_TRUE(cut.log_tail().ends_with("new")) << "the tail keeps the newest lines";
  EXPECT_TRUE(cut.truncated());

  api::InvokeResponse failed = answer(api::CRASHED);
  failed.set_detail(std::string(3000, 'd'));
  EXPECT_EQ(history_entry_of(failed, {}).error_message().size(), kHistoryErrorBytes);
  EXPECT_TRUE(history_entry_of(failed, {}).truncated());

  api::InvokeResponse tail_already_cut = answer(api::OK);
  tail_already_cut.set_logs_truncated(true);
  EXPECT_TRUE(history_entry_of(tail_already_cut, {}).truncated())
      << "logs that sproutd had already cut are not the whole output either";
}

TEST(HistoryEntryOf, CutsAHugeErrorTypeAndIds) {
  // A tenant's exception class named with 5 MiB must not make a 5 MB row.
  api::InvokeResponse response = answer(api::FUNCTION_ERROR);
  response.set_error_type(std::string(5 * 1024 * 1024, 'E'));
  response.set_error_message("short");
  response.set_request_id(std::string(1000, 'r'));
  response.add_stack_trace(std::string(1024 * 1024, 's'));
  InvocationOrigin origin = kScheduled;
  origin.source_id = std::string(1000, 'i');
  const api::HistoryEntry entry = history_entry_of(response, origin);
  EXPECT_EQ(entry.error_type(), std::string(kHistoryErrorTypeBytes, 'E'));
  EXPECT_EQ(entry.request_id().size(), kHistoryIdBytes);
  EXPECT_EQ(entry.source_id().size(), kHistoryIdBytes);
  EXPECT_EQ(entry.error_message(), "short");
  EXPECT_TRUE(entry.truncated());
  EXPECT_LT(entry.ByteSizeLong(), 8u * 1024) << "the stack trace is not kept";
}

TEST(TruncateHistoryEntry, CutsTheErrorTypeAtACharacterBoundary) {
  api::HistoryEntry entry;
  std::string type(kHistoryErrorTypeBytes - 1, 'x');
  type += "\xC3\xA9";  // "é" straddles the limit: left out whole
  type += std::string(100, 'y');
  entry.set_error_type(type);
  truncate_history_entry(entry);
  EXPECT_EQ(entry.error_type(), std::string(kHistoryErrorTypeBytes - 1, 'x'));
  EXPECT_TRUE(entry.truncated());
}

TEST(Utf8Cut, PrefixLeavesOutACharacterTheCutFallsIn) {
  const std::string two_byte = "\xC3\xA9";         // é
  const std::string four_byte = "\xF0\x9F\x98\x80";  // U+1F600
  EXPECT_EQ(utf8_prefix("abc" + two_byte, 4), "abc");
  EXPECT_EQ(utf8_prefix("abc" + two_byte, 5), "abc" + two_byte);
  EXPECT_EQ(utf8_prefix("a" + four_byte + "b", 2), "a");
  EXPECT_EQ(utf8_prefix("a" + four_byte + "b", 4), "a");
  EXPECT_EQ(utf8_prefix("a" + four_byte + "b", 5), "a" + four_byte);
  EXPECT_EQ(utf8_prefix("short", 100), "short");
}

TEST(Utf8Cut, SuffixStartsAtAWholeCharacter) {
  const std::string four_byte = "\xF0\x9F\x98\x80";
  EXPECT_EQ(utf8_suffix("a" + four_byte + "b", 2), "b");
  EXPECT_EQ(utf8_suffix("a" + four_byte + "b", 4), "b");
  EXPECT_EQ(utf8_suffix("a" + four_byte + "b", 5), four_byte + "b");
  EXPECT_EQ(utf8_suffix("short", 100), "short");
}

TEST(Utf8Cut, BinaryBytesAreStillCutWithinBounds) {
  const std::string continuation_only(10, '\x80');  // not UTF-8 at all
  EXPECT_LE(utf8_prefix(continuation_only, 5).size(), 5U);
  EXPECT_LE(utf8_suffix(continuation_only, 5).size(), 5U);
}

TEST(TruncateHistoryEntry, CutsAtMultiByteBoundaryAndIsIdempotent) {
  api::HistoryEntry entry;
  // 1023 ASCII bytes then é: the 1 KiB cut falls inside é, which goes whole.
  entry.set_result(std::string(kHistoryResultBytes - 1, 'x') + "\xC3\xA9" + "tail");
  entry.set_error_message("short");
  truncate_history_entry(entry);
  EXPECT_EQ(entry.result(), std::string(kHistoryResultBytes - 1, 'x'));
  EXPECT_EQ(entry.error_message(), "short");
  EXPECT_TRUE(entry.truncated());
  const std::string once = entry.SerializeAsString();
  truncate_history_entry(entry);
  EXPECT_EQ(entry.SerializeAsString(), once);

  api::HistoryEntry small;
  small.set_result("ok");
  truncate_history_entry(small);
  EXPECT_FALSE(small.truncated());
}

}  // namespace
}  // namespace sprout::events
