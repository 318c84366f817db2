// The invocation history on a real SQLite file: order and limits, the bound
// per function, truncation, persistence, entries not written yet, forget(),
// and record() staying off the disk while the database is locked.
#include "events/history/invocation_history.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "events/history/history_entry.h"
#include "tests/support/wait_until.h"

namespace sprout::events {
namespace {

using namespace std::chrono_literals;
using sprout::testing::wait_until;

api::HistoryEntry entry_named(const std::string& request_id) {
  api::HistoryEntry entry;
  entry.set_request_id(request_id);
  entry.set_source(api::API);
  entry.set_status(api::OK);
  entry.set_start_unix_ms(1'700'000'000'000);
  entry.set_result(R"("done")");
  return entry;
}

std::vector<std::string> request_ids(const std::vector<api::HistoryEntry>& entries) {
  std::vector<std::string> ids;
  ids.reserve(entries.size());
  for (const auto& entry : entries) ids.push_back(entry.request_id());
  return ids;
}

// "r<last>", ..., "r<first>": what list() answers for entries r<first>..r<last>.
std::vector<std::string> newest_first(int first, int last) {
  std::vector<std::string> ids;
  for (int i = last; i >= first; --i) ids.push_back("r" + std::to_string(i));
  return ids;
}

// Options under which the writer never writes on its own during a test: the
// test decides with flush() what reaches the disk.
HistoryOptions writer_idle() {
  HistoryOptions options;
  options.flush_interval = std::chrono::hours(1);
  options.batch_size = 100'000;
  options.buffer_capacity = 100'000;
  return options;
}

class InvocationHistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/sprout-test-history-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/events.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<InvocationHistory> open(const HistoryOptions& options = {}) {
    auto history = InvocationHistory::open(path_, options);
    EXPECT_TRUE(history) << history.error().message();
    return history ? std::move(*history) : nullptr;
  }

  // Rows of `function` in the table, seen from a connection of the test's own.
  int64_t rows_on_disk(const std::string& function) {
    auto db = Database::open(path_, Durability::kNormal);
    EXPECT_TRUE(db);
    auto count = (*db)->prepare("SELECT COUNT(*) FROM history_entries WHERE function = ?1");
    EXPECT_TRUE(count);
    count->bind(1, function);
    auto row = count->step();
    EXPECT_TRUE(row && *row);
    return count->column_int(0);
  }

  static void record_range(InvocationHistory& history, const std::string& function, int first,
                           int last) {
    for (int i = first; i <= last; ++i) history.record(function, entry_named("r" + std::to_string(i)));
  }

  std::string dir_;
  std::string path_;
};

TEST_F(InvocationHistoryTest, ListsNewestFirstWithinTheLimit) {
  auto history = open();
  ASSERT_TRUE(history);
  record_range(*history, "f", 0, 29);
  history->record("g", entry_named("other"));
  ASSERT_TRUE(history->flush());

  auto by_default = history->list("f", 0);
  ASSERT_TRUE(by_default) << by_default.error().message();
  EXPECT_EQ(request_ids(*by_default), newest_first(10, 29)) << "limit 0 means 20";
  auto five = history->list("f", 5);
  ASSERT_TRUE(five);
  EXPECT_EQ(request_ids(*five), newest_first(25, 29));
  auto all = history->list("f", 1'000'000);
  ASSERT_TRUE(all);
  EXPECT_EQ(request_ids(*all), newest_first(0, 29));
  auto other = history->list("g", 0);
  ASSERT_TRUE(other);
  EXPECT_EQ(request_ids(*other), std::vector<std::string>{"other"});
  auto unknown = history->list("nobody", 0);
  ASSERT_TRUE(unknown);
  EXPECT_TRUE(unknown->empty());
  EXPECT_EQ(history->written(), 31U);
  EXPECT_EQ(history->dropped(), 0U);
}

TEST_F(InvocationHistoryTest, KeepsTheNewestEntriesPerFunction) {
  HistoryOptions options = writer_idle();
  options.max_per_function = 10;
  options.batch_size = 4;  // the trim runs across several transactions
  auto history = open(options);
  ASSERT_TRUE(history);
  record_range(*history, "f", 0, 24);
  record_range(*history, "g", 0, 4);
  ASSERT_TRUE(history->flush());

  EXPECT_EQ(rows_on_disk("f"), 10);
  EXPECT_EQ(rows_on_disk("g"), 5);
  auto kept = history->list("f", 1000);
  ASSERT_TRUE(kept);
  EXPECT_EQ(request_ids(*kept), newest_first(15, 24)) << "the oldest are the ones dropped";

  // Buffered entries count against the bound in list() as well.
  record_range(*history, "f", 25, 27);
  auto merged = history->list("f", 1000);
  ASSERT_TRUE(merged);
  EXPECT_EQ(request_ids(*merged), newest_first(18, 27));
}

TEST_F(InvocationHistoryTest, TruncatesLargeFieldsAtCharacterBoundaries) {
  auto history = open();
  ASSERT_TRUE(history);
  api::HistoryEntry big = entry_named("big");
  // 1023 bytes then a 3-byte character (U+20AC): the 1 KiB cut is inside it.
  big.set_result(std::string(kHistoryResultBytes - 1, 'x') + "\xE2\x82\xAC" + "more");
  big.set_error_message(std::string(kHistoryErrorBytes + 10, 'e'));
  // The 4 KiB tail starts inside a 2-byte character (é), which goes whole.
  big.set_log_tail("\xC3\xA9" + std::string(kHistoryLogTailBytes - 1, 'l'));
  history->record("f", big);
  ASSERT_TRUE(history->flush());
  auto listed = history->list("f", 1);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1U);
  const api::HistoryEntry& kept = listed->front();
  EXPECT_EQ(kept.result(), std::string(kHistoryResultBytes - 1, 'x'));
  EXPECT_EQ(kept.error_message(), std::string(kHistoryErrorBytes, 'e'));
  EXPECT_EQ(kept.log_tail(), std::string(kHistoryLogTailBytes - 1, 'l'));
  EXPECT_TRUE(kept.truncated());

  history->record("f", entry_named("small"));
  auto small = history->list("f", 1);
  ASSERT_TRUE(small);
  ASSERT_EQ(small->size(), 1U);
  EXPECT_FALSE(small->front().truncated());
}

TEST_F(InvocationHistoryTest, PersistsAcrossReopenAfterStop) {
  {
    auto history = open(writer_idle());
    ASSERT_TRUE(history);
    record_range(*history, "f", 0, 6);
    EXPECT_EQ(history->written(), 0U) << "the idle writer has written nothing yet";
    history->stop();
    EXPECT_EQ(history->written(), 7U) << "stop() writes what is buffered";
    history->record("f", entry_named("too late"));
    EXPECT_EQ(history->dropped(), 1U) << "a record after stop() is counted, not kept";
  }
  auto reopened = open();
  ASSERT_TRUE(reopened);
  auto listed = reopened->list("f", 100);
  ASSERT_TRUE(listed);
  EXPECT_EQ(request_ids(*listed), newest_first(0, 6));
  // New entries continue after the old ones.
  reopened->record("f", entry_named("r7"));
  ASSERT_TRUE(reopened->flush());
  auto after = reopened->list("f", 2);
  ASSERT_TRUE(after);
  EXPECT_EQ(request_ids(*after), newest_first(6, 7));
}

TEST_F(InvocationHistoryTest, ListSeesEntriesNotWrittenYet) {
  auto history = open(writer_idle());
  ASSERT_TRUE(history);
  record_range(*history, "f", 0, 1);
  ASSERT_TRUE(history->flush());
  record_range(*history, "f", 2, 3);  // buffered only: the writer is idle
  EXPECT_EQ(history->written(), 2U);
  auto listed = history->list("f", 10);
  ASSERT_TRUE(listed);
  EXPECT_EQ(request_ids(*listed), newest_first(0, 3));
  auto newest = history->list("f", 1);
  ASSERT_TRUE(newest);
  EXPECT_EQ(request_ids(*newest), newest_first(3, 3));
}

TEST_F(InvocationHistoryTest, TheWriterThreadWritesOnItsOwn) {
  HistoryOptions options;
  options.flush_interval = 10ms;
  auto history = open(options);
  ASSERT_TRUE(history);
  record_range(*history, "f", 0, 2);
  EXPECT_TRUE(wait_until([&] { return history->written() == 3; }, 60s));
  EXPECT_EQ(rows_on_disk("f"), 3);
}

TEST_F(InvocationHistoryTest, RecordDoesNotWaitForALockedDatabase) {
  HistoryOptions options;
  options.flush_interval = 10ms;
  options.batch_size = 16;
  options.buffer_capacity = 500;
  auto history = open(options);
  ASSERT_TRUE(history);
  constexpr int kRecorded = 2000;

  auto blocker = Database::open(path_, Durability::kNormal);
  ASSERT_TRUE(blocker);
  std::atomic<bool> recorded{false};
  std::thread recorder;
  {
    auto write_lock = (*blocker)->begin();  // BEGIN IMMEDIATE: the writer cannot commit
    ASSERT_TRUE(write_lock);
    recorder = std::thread([&] {
      record_range(*history, "f", 0, kRecorded - 1);
      recorded = true;
    });
    // Every record() returns while the lock is still held: none of them
    // waited for the disk. (If one did, the lock is released at the end of
    // this scope so that the thread ends and the test fails instead of hanging.)
    EXPECT_TRUE(wait_until([&] { return recorded.load(); }, 60s));
    EXPECT_EQ(history->written(), 0U);
  }
  recorder.join();
  ASSERT_TRUE(recorded);
  EXPECT_GT(history->dropped(), 0U) << "more entries than the buffer holds while locked";

  // Once the lock is gone, the writer writes everything it kept.
  EXPECT_TRUE(wait_until(
      [&] { return history->written() + history->dropped() == uint64_t{kRecorded}; }, 60s));
  const auto kept = static_cast<int>(history->written());
  EXPECT_EQ(rows_on_disk("f"), kept);
  // What was kept is listed whole (the buffer and one batch are fewer than
  // the 1000 a function keeps), in the order it was recorded.
  ASSERT_LT(kept, 1000);
  auto listed = history->list("f", 1000);
  ASSERT_TRUE(listed);
  ASSERT_EQ(static_cast<int>(listed->size()), kept);
  for (size_t i = 1; i < listed->size(); ++i)
    EXPECT_GT(std::stoi((*listed)[i - 1].request_id().substr(1)),
              std::stoi((*listed)[i].request_id().substr(1)));
  EXPECT_EQ(listed->back().request_id(), "r0");
}

TEST_F(InvocationHistoryTest, ForgetDeletesWrittenAndBufferedEntries) {
  auto history = open(writer_idle());
  ASSERT_TRUE(history);
  record_range(*history, "f", 0, 4);
  record_range(*history, "g", 0, 2);
  ASSERT_TRUE(history->flush());
  record_range(*history, "f", 5, 6);  // still buffered
  ASSERT_TRUE(history->forget("f"));

  auto gone = history->list("f", 100);
  ASSERT_TRUE(gone);
  EXPECT_TRUE(gone->empty());
  ASSERT_TRUE(history->flush());
  EXPECT_EQ(rows_on_disk("f"), 0) << "the buffered entries were not written after forget()";
  auto kept = history->list("g", 100);
  ASSERT_TRUE(kept);
  EXPECT_EQ(request_ids(*kept), newest_first(0, 2));

  history->record("f", entry_named("anew"));
  auto anew = history->list("f", 100);
  ASSERT_TRUE(anew);
  EXPECT_EQ(request_ids(*anew), std::vector<std::string>{"anew"});
}

TEST_F(InvocationHistoryTest, RejectsBadOptionsAndNames) {
  HistoryOptions no_room;
  no_room.max_per_function = 0;
  auto refused = InvocationHistory::open(path_, no_room);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("max_per_function"), std::string::npos);
  HistoryOptions no_batch;
  no_batch.batch_size = 0;
  EXPECT_FALSE(InvocationHistory::open(path_, no_batch));

  auto missing_dir = InvocationHistory::open(dir_ + "/no/such/dir/events.db");
  EXPECT_FALSE(missing_dir);

  auto history = open();
  ASSERT_TRUE(history);
  EXPECT_FALSE(history->list("", 0));
  EXPECT_FALSE(history->forget(""));
}

}  // namespace
}  // namespace sprout::events
