// Private to the server: the database the AccountStore's tables live in, the case database's
// own — an SQLite file, or the PostgreSQL database that several `onevisit serve` nodes share
// (docs/api.md, Accounts tables). The AccountStore writes its SQL once, with `?` for each
// parameter; each Database runs it in its dialect.
//
// A statement's rows are read whole before it returns (the account tables' statements are
// short and return few rows), as text: integers in decimal, NULL as empty.
//
// PostgreSQL: a connection that is lost (a server restart, a failover) is made again by the
// next statement outside a transaction; libpq's connection string picks the server that now
// takes writes (`target_session_attrs=read-write`). A statement that lost its connection
// fails with an `unavailable` error: it may be retried.
//
// Thread safety: a Database is used by one thread at a time (the AccountStore's mutex).
#pragma once

#include "accounts.hpp"

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace onevisit::server::sql {

using Param = std::variant<std::int64_t, std::string>;

/// One row of a result: its columns as text.
using Row = std::vector<std::string>;

class Database {
 public:
  enum class Dialect { sqlite, postgres };
  virtual ~Database() = default;
  virtual Dialect dialect() const = 0;
  /// Runs one statement, its `?` bound to `params` in order; the rows it returned. A broken
  /// constraint is a `conflict` error.
  virtual std::expected<std::vector<Row>, AccountError> run(std::string_view sql, const std::vector<Param>& params) = 0;
  /// Runs statements without parameters, separated by `;` (migrations, BEGIN, COMMIT).
  virtual std::expected<void, AccountError> exec(std::string_view script) = 0;
  /// Where the tables are, for messages: a path, or a URL with any password masked.
  virtual const std::string& where() const = 0;
};

/// The SQLite file `path`, which must exist (the engine's store made it). The delete trigger
/// of the audit trail asks `*prune_cutoff` through server_audit_prune_cutoff() (accounts.cpp).
std::expected<std::unique_ptr<Database>, AccountError> open_sqlite_database(const std::string& path,
                                                                           const Timestamp* prune_cutoff);
/// The PostgreSQL database at `url` (postgresql://…), tables in its current schema.
std::expected<std::unique_ptr<Database>, AccountError> open_postgres_database(const std::string& url);

/// One statement and its rows: bind the parameters, then step through the rows.
class Query {
 public:
  Query(Database& db, std::string_view sql) : db_(db), sql_(sql) {}

  Query& bind(std::int64_t value) {
    params_.emplace_back(value);
    return *this;
  }
  Query& bind(std::string_view text) {
    params_.emplace_back(std::string(text));
    return *this;
  }

  /// Runs the statement at the first call; true while a row is ready.
  std::expected<bool, AccountError> step() {
    if (!rows_) {
      auto rows = db_.run(sql_, params_);
      if (!rows) return std::unexpected(rows.error());
      rows_ = std::move(*rows);
    }
    if (next_ >= rows_->size()) return false;
    row_ = &(*rows_)[next_++];
    return true;
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

  /// Column `column` of the current row (0 for NULL or a column past the row's end).
  std::int64_t int64(int column) const;
  std::string text(int column) const {
    return row_ != nullptr && static_cast<std::size_t>(column) < row_->size() ? (*row_)[column] : std::string();
  }

 private:
  Database& db_;
  std::string sql_;
  std::vector<Param> params_;
  std::optional<std::vector<Row>> rows_;
  std::size_t next_ = 0;
  const Row* row_ = nullptr;
};

inline std::expected<void, AccountError> exec(Database& db, std::string_view script) { return db.exec(script); }

}  // namespace onevisit::server::sql
