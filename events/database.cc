#include "events/database.h"

#include <sqlite3.h>

namespace sprout::events {

Result<std::unique_ptr<Database>> Database::open(const std::string& path, Durability durability) {
  sqlite3* handle = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &handle,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  if (rc != SQLITE_OK) {
    std::string why = handle ? sqlite3_errmsg(handle) : sqlite3_errstr(rc);
    sqlite3_close(handle);
    return plain_error("open event database " + path, why);
  }
  std::unique_ptr<Database> db(new Database(handle, path));
  sqlite3_busy_timeout(handle, 5000);
  // WAL: readers never block the writer; FULL syncs the WAL at each commit.
  const std::string pragmas = std::string("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; ") +
                              (durability == Durability::kFull ? "PRAGMA synchronous=FULL;"
                                                               : "PRAGMA synchronous=NORMAL;");
  if (auto r = db->exec(pragmas); !r) return std::unexpected(r.error());
  return db;
}

Database::~Database() { sqlite3_close_v2(db_); }

std::unexpected<Error> Database::error(const std::string& step) const {
  return plain_error(step, sqlite3_errmsg(db_));
}

Result<void> Database::exec(std::string_view sql) {
  char* message = nullptr;
  const std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string why = message ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    return plain_error("sqlite exec on " + path_, why);
  }
  return {};
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) !=
      SQLITE_OK)
    return error("sqlite prepare \"" + std::string(sql.substr(0, 60)) + "\"");
  return Statement(this, stmt);
}

int64_t Database::changes() const { return sqlite3_changes64(db_); }
int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

Result<Database::Transaction> Database::begin() {
  if (auto r = exec("BEGIN IMMEDIATE"); !r) return std::unexpected(r.error());
  return Transaction(*this);
}

Database::Transaction::~Transaction() {
  if (db_) (void)db_->exec("ROLLBACK");  // nothing more to do if even that fails
}

Result<void> Database::Transaction::commit() {
  Database* db = db_;
  db_ = nullptr;
  return db->exec("COMMIT");
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), bind_error_(std::move(other.bind_error_)) {
  other.stmt_ = nullptr;
}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = other.stmt_;
    bind_error_ = std::move(other.bind_error_);
    other.stmt_ = nullptr;
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

namespace {
void note_bind(int rc, sqlite3* db, std::optional<Error>& error) {
  if (rc != SQLITE_OK && !error) error = plain_error("sqlite bind", sqlite3_errmsg(db)).error();
}
}  // namespace

Statement& Statement::bind(int index, int64_t value) {
  note_bind(sqlite3_bind_int64(stmt_, index, value), db_->db_, bind_error_);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  note_bind(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT,
                                SQLITE_UTF8),
            db_->db_, bind_error_);
  return *this;
}

Statement& Statement::bind_blob(int index, std::string_view bytes) {
  // A zero-length blob, not NULL: sqlite3_bind_blob64 with a null pointer binds NULL.
  static const char kEmpty = 0;
  note_bind(sqlite3_bind_blob64(stmt_, index, bytes.empty() ? &kEmpty : bytes.data(),
                                bytes.size(), SQLITE_TRANSIENT),
            db_->db_, bind_error_);
  return *this;
}

Statement& Statement::bind_null(int index) {
  note_bind(sqlite3_bind_null(stmt_, index), db_->db_, bind_error_);
  return *this;
}

Result<bool> Statement::step() {
  if (bind_error_) return std::unexpected(*bind_error_);
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->error("sqlite step \"" + std::string(sqlite3_sql(stmt_)).substr(0, 60) + "\"");
}

Result<void> Statement::run() {
  while (true) {
    auto row = step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return {};
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_.reset();
}

int64_t Statement::column_int(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::column_text(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  return data ? std::string(static_cast<const char*>(data), size) : std::string();
}

bool Statement::column_is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

}  // namespace sprout::events
