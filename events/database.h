// A thin, typed wrapper over one SQLite connection to sproutd's event
// database (<state>/events.db): open in WAL mode, prepared statements with
// bound parameters (never SQL built from input), and transactions that roll
// back unless committed. Each event component opens a connection of its own
// (SQLite serializes writers across connections; busy_timeout makes a writer
// wait instead of failing) and creates its own tables. A Database is used by
// one thread at a time: its owner holds a mutex around it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/errors.h"

struct sqlite3;
struct sqlite3_stmt;

namespace sprout::events {

// How hard a commit is on the disk. kFull: fsynced before COMMIT returns,
// for writes that promise durability (an accepted event); kNormal: in WAL
// mode survives a process crash but maybe not a power cut (history).
enum class Durability { kFull, kNormal };

class Statement;

class Database {
 public:
  // Opens (creating) `path`; WAL journal, foreign keys on, busy timeout 5 s.
  static Result<std::unique_ptr<Database>> open(const std::string& path, Durability durability);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements without parameters (schema, pragmas).
  Result<void> exec(std::string_view sql);
  Result<Statement> prepare(std::string_view sql);
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t changes() const;
  int64_t last_insert_rowid() const;
  const std::string& path() const { return path_; }

  // BEGIN IMMEDIATE (takes the write lock at once, so two writers never
  // deadlock upgrading); rolled back when destroyed uncommitted.
  class Transaction {
   public:
    explicit Transaction(Database& db) : db_(&db) {}
    Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
    Transaction(const Transaction&) = delete;
    ~Transaction();
    Result<void> commit();

   private:
    Database* db_;
  };
  Result<Transaction> begin();

 private:
  friend class Statement;
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  std::unexpected<Error> error(const std::string& step) const;

  sqlite3* db_;
  std::string path_;
};

// A prepared statement. Parameters are 1-based, columns 0-based, as SQLite's.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  ~Statement();

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind_blob(int index, std::string_view bytes);
  Statement& bind_null(int index);

  // Steps once: true with a row to read, false when done.
  Result<bool> step();
  // Steps to the end (INSERT, UPDATE, DELETE).
  Result<void> run();
  // Ready to run again with new bindings.
  void reset();

  int64_t column_int(int column) const;
  std::string column_text(int column) const;  // TEXT or BLOB, as bytes
  bool column_is_null(int column) const;

 private:
  friend class Database;
  Statement(Database* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Database* db_;
  sqlite3_stmt* stmt_;
  std::optional<Error> bind_error_;  // reported by the next step()
};

}  // namespace sprout::events
