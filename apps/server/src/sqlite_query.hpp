// Private to the server: a prepared SQLite statement and the helpers the account tables use
// (accounts.cpp, applicant_accounts.cpp), so that each file does not repeat them.
//
// Thread safety: a Query belongs to one thread, under the AccountStore's mutex.
#pragma once

#include "accounts.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace onevisit::server::sql {

inline AccountError db_error(sqlite3* db, std::string_view what) {
  const int rc = sqlite3_extended_errcode(db);
  const AccountError::Kind kind = (rc & 0xff) == SQLITE_CONSTRAINT ? AccountError::Kind::conflict : AccountError::Kind::io;
  return AccountError{kind, std::string(what) + ": " + sqlite3_errmsg(db)};
}

// One prepared statement, finalized on scope exit. Text is copied (SQLITE_TRANSIENT): the
// statements here are few and short.
class Query {
 public:
  Query(sqlite3* db, const char* sql) : db_(db), sql_(sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) failed_ = true;
  }
  ~Query() { sqlite3_finalize(stmt_); }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(std::int64_t value) {
    if (!failed_ && sqlite3_bind_int64(stmt_, ++next_, value) != SQLITE_OK) failed_ = true;
    return *this;
  }
  Query& bind(std::string_view text) {
    if (!failed_ && sqlite3_bind_text64(stmt_, ++next_, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8) != SQLITE_OK) failed_ = true;
    return *this;
  }

  /// True when a row is ready.
  std::expected<bool, AccountError> step() {
    if (failed_) return std::unexpected(db_error(db_, sql_));
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return std::unexpected(db_error(db_, sql_));
  }
  std::expected<void, AccountError> run() {
    auto row = step();
    if (!row) return std::unexpected(row.error());
    return {};
  }
  template <class Read>
  auto collect(Read read) -> std::expected<std::vector<decltype(read(*this))>, AccountError> {
    std::vector<decltype(read(*this))> rows;
    for (;;) {
      auto row = step();
      if (!row) return std::unexpected(row.error());
      if (!*row) return rows;
      rows.push_back(read(*this));
    }
  }

  std::int64_t int64(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string text(int column) const {
    const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
    if (data == nullptr) return {};
    return std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
  }

 private:
  sqlite3* db_;
  const char* sql_;
  sqlite3_stmt* stmt_ = nullptr;
  int next_ = 0;
  bool failed_ = false;
};

inline std::expected<void, AccountError> exec(sqlite3* db, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return std::unexpected(db_error(db, "exec"));
  return {};
}

}  // namespace onevisit::server::sql
