// Private to the engine: a thin RAII layer over the SQLite C API for the SQLite store.
//
// A Connection owns one sqlite3 handle and a cache of its prepared statements (prepared once,
// with SQLITE_PREPARE_PERSISTENT, finalized when the connection closes). A Statement is a
// borrowed cached statement in use: it binds parameters left to right, steps, reads columns,
// and resets itself (clearing its bindings) when it goes out of scope, so an idle connection
// never holds a read transaction open.
//
// Errors come back as StoreError values, never as exceptions. The kind says how much the
// error invalidates: corrupt for a damaged file (SQLITE_CORRUPT, SQLITE_NOTADB), invalid for
// a constraint the request broke (SQLITE_CONSTRAINT), io for everything else.
//
// Thread safety: connections are opened with SQLITE_OPEN_NOMUTEX (the "multi-thread" mode):
// a Connection, and every Statement borrowed from it, may be used by one thread at a time.
#pragma once

#include "store/store_common.hpp"

#include <onevisit/engine/store.hpp>

#include <sqlite3.h>

#include <cassert>
#include <cstdint>
#include <expected>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>

namespace onevisit::engine::sqlite {

/// The StoreError kind for an SQLite result code (primary or extended).
inline StoreError::Kind kind_of(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return StoreError::Kind::corrupt;
    case SQLITE_CONSTRAINT:
      return StoreError::Kind::invalid;
    default:
      return StoreError::Kind::io;
  }
}

/// Clamps a count to what SQLite binds (a signed 64-bit integer).
inline std::int64_t to_sql(std::uint64_t value) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(value > kMax ? kMax : value);
}

/// A text parameter that is NULL when absent: `text` null.
struct OptionalText {
  const std::string* text = nullptr;
};

/// Bytes bound as a BLOB, or as text (store_common.hpp).
using Bytes = store_common::SealedBytes;

class Statement {
 public:
  Statement(sqlite3_stmt* stmt, const std::string* path) : stmt_(stmt), path_(path) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& other) noexcept
      : stmt_(std::exchange(other.stmt_, nullptr)),
        path_(other.path_),
        next_(other.next_),
        bind_rc_(other.bind_rc_) {}
  Statement& operator=(Statement&&) = delete;
  ~Statement() {
    if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }

  // Binds the next parameter. Text is bound without copying (SQLITE_STATIC): the caller keeps
  // it alive until the statement is destroyed, which clears the bindings.
  Statement& bind(std::int64_t value) {
    note(sqlite3_bind_int64(stmt_, ++next_, value));
    return *this;
  }
  Statement& bind(std::string_view text) {
    note(sqlite3_bind_text64(stmt_, ++next_, text.empty() ? "" : text.data(), text.size(), SQLITE_STATIC,
                             SQLITE_UTF8));
    return *this;
  }

  /// Binds the text `value` points to, or NULL when it points to nothing (not copied either).
  Statement& bind(OptionalText value) {
    if (value.text == nullptr) {
      note(sqlite3_bind_null(stmt_, ++next_));
      return *this;
    }
    return bind(std::string_view(*value.text));
  }

  /// Binds bytes as a BLOB, or as text (see Bytes); not copied either.
  Statement& bind(Bytes value) {
    if (!value.blob) return bind(value.data);
    note(sqlite3_bind_blob64(stmt_, ++next_, value.data.empty() ? "" : value.data.data(), value.data.size(),
                             SQLITE_STATIC));
    return *this;
  }

  /// Resets the statement to run again: the next bind() sets the first parameter.
  Statement& restart() {
    sqlite3_reset(stmt_);
    next_ = 0;
    bind_rc_ = SQLITE_OK;
    return *this;
  }

  /// Steps once: true when a row is ready to read, false when the statement is done.
  std::expected<bool, StoreError> next() {
    if (bind_rc_ != SQLITE_OK) return std::unexpected(error(bind_rc_));
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return std::unexpected(error(rc));
  }

  /// Runs a statement that returns no rows (or whose rows do not matter).
  std::expected<void, StoreError> run() {
    for (;;) {
      auto row = next();
      if (!row) return std::unexpected(row.error());
      if (!*row) return {};
    }
  }

  std::int64_t int64(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::uint64_t uint64(int column) const {
    const auto value = sqlite3_column_int64(stmt_, column);
    return value < 0 ? 0 : static_cast<std::uint64_t>(value);
  }
  /// The text of `column` without a copy, valid until the next step or reset; empty for NULL.
  std::string_view text_view(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    if (data == nullptr) return {};
    return std::string_view(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
  }
  /// The bytes of `column` as stored (a BLOB's or a TEXT's) without a copy, valid until the
  /// next step or reset; empty for NULL.
  std::string_view bytes(int column) const {
    const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
    if (data == nullptr) return {};
    return std::string_view(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
  }
  std::string text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    if (data == nullptr) return {};
    return std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
  }

  /// Reads every remaining row through `read(*this)` into a vector.
  template <class Read>
  auto collect(Read read) -> std::expected<std::vector<decltype(read(*this))>, StoreError> {
    std::vector<decltype(read(*this))> rows;
    for (;;) {
      auto row = next();
      if (!row) return std::unexpected(row.error());
      if (!*row) return rows;
      rows.push_back(read(*this));
    }
  }

  StoreError error(int rc) const {
    sqlite3* db = sqlite3_db_handle(stmt_);
    std::string message =
        db != nullptr && sqlite3_errcode(db) == rc ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    const char* sql = sqlite3_sql(stmt_);
    std::string what = sql != nullptr ? std::string(sql).substr(0, 60) : std::string();
    return StoreError{kind_of(rc), message + " (in \"" + what + "\" on " + *path_ + ")"};
  }

 private:
  void note(int rc) {
    assert(rc != SQLITE_RANGE && "more parameters bound than the statement has");
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }

  sqlite3_stmt* stmt_;
  const std::string* path_;
  int next_ = 0;
  int bind_rc_ = SQLITE_OK;
};

class Connection {
 public:
  /// Opens `path` with sqlite3_open_v2 `flags` (SQLITE_OPEN_NOMUTEX is added) and sets the
  /// busy timeout. Extended result codes are enabled.
  static std::expected<std::unique_ptr<Connection>, StoreError> open(const std::string& path, int flags,
                                                                     int busy_timeout_ms) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    auto connection = std::unique_ptr<Connection>(new Connection(db, path));
    if (rc != SQLITE_OK) {
      return std::unexpected(StoreError{
          kind_of(rc),
          "cannot open " + path + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc))});
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, busy_timeout_ms);
    return connection;
  }

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

  /// The cached prepared statement for `sql` (prepared on first use; a cache hit allocates
  /// nothing).
  std::expected<Statement, StoreError> prepare(std::string_view sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      sqlite3_stmt* stmt = nullptr;
      const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                        SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) {
        return std::unexpected(error(rc, "prepare \"" + std::string(sql.substr(0, 60)) + "\""));
      }
      it = cache_.emplace(std::string(sql), stmt).first;
    }
    return Statement(it->second, &path_);
  }

  /// Runs one or more statements without caching (DDL, pragmas, BEGIN/COMMIT).
  std::expected<void, StoreError> exec(const char* sql) {
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return std::unexpected(error(rc, sql));
    return {};
  }

  /// Runs a statement returning one integer (e.g. `PRAGMA user_version`).
  std::expected<std::int64_t, StoreError> query_int(const char* sql) {
    return query_one(sql, [](const Statement& s) { return s.int64(0); });
  }

  /// Runs a statement returning one text value (e.g. `PRAGMA journal_mode=WAL`).
  std::expected<std::string, StoreError> query_text(const char* sql) {
    return query_one(sql, [](const Statement& s) { return s.text(0); });
  }

  /// Drops the cached statements (needed before a schema change makes them stale).
  void clear_cache() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    cache_.clear();
  }

  StoreError error(int rc, std::string_view what) const {
    std::string message = sqlite3_errcode(db_) == rc ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    return StoreError{kind_of(rc), std::string(what) + ": " + message + " (" + path_ + ")"};
  }

 private:
  template <class Read>
  auto query_one(const char* sql, Read read) -> std::expected<decltype(read(std::declval<const Statement&>())), StoreError> {
    auto stmt = prepare(sql);
    if (!stmt) return std::unexpected(stmt.error());
    auto row = stmt->next();
    if (!row) return std::unexpected(row.error());
    if (!*row) return std::unexpected(StoreError{StoreError::Kind::io, std::string(sql) + " returned no row"});
    return read(*stmt);
  }

  Connection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_;
  // Heterogeneous lookup: find() takes a string_view without building a std::string.
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view sql) const noexcept { return std::hash<std::string_view>{}(sql); }
  };

  std::string path_;
  std::unordered_map<std::string, sqlite3_stmt*, SqlHash, std::equal_to<>> cache_;
};

/// Prepares `sql`, binds `args` in order and runs it to completion.
template <typename... Args>
std::expected<void, StoreError> execute(Connection& c, const char* sql, const Args&... args) {
  auto stmt = c.prepare(sql);
  if (!stmt) return std::unexpected(stmt.error());
  (stmt->bind(args), ...);
  return stmt->run();
}

/// Prepares a DynamicQuery and binds its parameters in order.
inline std::expected<Statement, StoreError> prepare(Connection& c, const store_common::DynamicQuery& query) {
  auto stmt = c.prepare(query.sql);
  if (!stmt) return stmt;
  for (const auto& p : query.params) {
    std::visit([&](const auto& v) { stmt->bind(v); }, p);
  }
  return stmt;
}

}  // namespace onevisit::engine::sqlite
