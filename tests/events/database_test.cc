// The event database wrapper: what it promises its users (typed binding,
// rollback unless committed, WAL) on a real SQLite file.
#include "events/database.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

namespace sprout::events {
namespace {

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/sprout-test-db-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(DatabaseTest, BindsAndReadsBackTextBlobsAndIntegers) {
  auto db = Database::open(dir_ + "/e.db", Durability::kFull);
  ASSERT_TRUE(db) << db.error().message();
  ASSERT_TRUE((*db)->exec("CREATE TABLE t (n INTEGER, s TEXT, b BLOB)"));
  auto insert = (*db)->prepare("INSERT INTO t VALUES (?, ?, ?)");
  ASSERT_TRUE(insert);
  const std::string binary("a\0b'; DROP TABLE t; --", 22);
  ASSERT_TRUE(insert->bind(1, int64_t{1} << 40).bind(2, "x'y").bind_blob(3, binary).run());
  insert->reset();
  ASSERT_TRUE(insert->bind(1, int64_t{2}).bind(2, "").bind_blob(3, "").run());
  auto select = (*db)->prepare("SELECT n, s, b FROM t ORDER BY rowid");
  ASSERT_TRUE(select);
  ASSERT_TRUE(*select->step());
  EXPECT_EQ(select->column_int(0), int64_t{1} << 40);
  EXPECT_EQ(select->column_text(1), "x'y");
  EXPECT_EQ(select->column_text(2), binary);
  ASSERT_TRUE(*select->step());
  EXPECT_FALSE(select->column_is_null(2)) << "an empty blob is not NULL";
  EXPECT_FALSE(*select->step());
}

TEST_F(DatabaseTest, TransactionRollsBackUnlessCommitted) {
  auto db = Database::open(dir_ + "/e.db", Durability::kNormal);
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->exec("CREATE TABLE t (n INTEGER)"));
  {
    auto tx = (*db)->begin();
    ASSERT_TRUE(tx);
    ASSERT_TRUE((*db)->exec("INSERT INTO t VALUES (1)"));
  }
  {
    auto tx = (*db)->begin();
    ASSERT_TRUE(tx);
    ASSERT_TRUE((*db)->exec("INSERT INTO t VALUES (2)"));
    ASSERT_TRUE(tx->commit());
  }
  auto count = (*db)->prepare("SELECT group_concat(n) FROM t");
  ASSERT_TRUE(count && *count->step());
  EXPECT_EQ(count->column_text(0), "2");
}

TEST_F(DatabaseTest, SecondConnectionSeesCommittedRowsInWalMode) {
  auto writer = Database::open(dir_ + "/e.db", Durability::kFull);
  auto reader = Database::open(dir_ + "/e.db", Durability::kNormal);
  ASSERT_TRUE(writer && reader);
  ASSERT_TRUE((*writer)->exec("CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (7)"));
  auto mode = (*reader)->prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode && *mode->step());
  EXPECT_EQ(mode->column_text(0), "wal");
  auto select = (*reader)->prepare("SELECT n FROM t");
  ASSERT_TRUE(select && *select->step());
  EXPECT_EQ(select->column_int(0), 7);
}

TEST_F(DatabaseTest, ErrorsNameTheStatementAndSqlitesReason) {
  auto db = Database::open(dir_ + "/e.db", Durability::kFull);
  ASSERT_TRUE(db);
  auto bad = (*db)->prepare("SELECT * FROM missing_table");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("no such table"), std::string::npos)
      << bad.error().message();
  auto unopenable = Database::open(dir_ + "/no/such/dir/e.db", Durability::kFull);
  ASSERT_FALSE(unopenable);
  EXPECT_NE(unopenable.error().message().find(dir_), std::string::npos);
}

}  // namespace
}  // namespace sprout::events
