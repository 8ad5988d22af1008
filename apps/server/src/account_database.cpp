// The account tables' databases (account_database.hpp): SQLite and PostgreSQL.
#include "account_database.hpp"

#include <onevisit/engine/database_url.hpp>

#include <libpq-fe.h>
#include <sqlite3.h>

#include <charconv>

namespace onevisit::server::sql {

namespace {

using Kind = AccountError::Kind;

// ---------------------------------------------------------------------------------------
// SQLite: the case file, one connection.

// server_audit_prune_cutoff(): the AccountStore's prune cutoff, read by the delete trigger
// while prune_audit holds the store's mutex.
void prune_cutoff_function(sqlite3_context* context, int, sqlite3_value**) {
  sqlite3_result_int64(context, *static_cast<const Timestamp*>(sqlite3_user_data(context)));
}

class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~SqliteDatabase() override { sqlite3_close_v2(db_); }
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  Dialect dialect() const override { return Dialect::sqlite; }
  const std::string& where() const override { return path_; }

  AccountError error(std::string_view what) const {
    const int rc = sqlite3_extended_errcode(db_);
    const Kind kind = (rc & 0xff) == SQLITE_CONSTRAINT ? Kind::conflict : Kind::io;
    return AccountError{kind, std::string(what) + ": " + sqlite3_errmsg(db_)};
  }

  std::expected<std::vector<Row>, AccountError> run(std::string_view sql, const std::vector<Param>& params) override {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK) {
      return std::unexpected(error(sql));
    }
    struct Finalize {
      sqlite3_stmt* s;
      ~Finalize() { sqlite3_finalize(s); }
    } finalize{stmt};
    int index = 0;
    for (const auto& p : params) {
      ++index;
      const int rc = std::holds_alternative<std::int64_t>(p)
                         ? sqlite3_bind_int64(stmt, index, std::get<std::int64_t>(p))
                         : sqlite3_bind_text64(stmt, index, std::get<std::string>(p).data(), std::get<std::string>(p).size(),
                                               SQLITE_TRANSIENT, SQLITE_UTF8);
      if (rc != SQLITE_OK) return std::unexpected(error(sql));
    }
    std::vector<Row> rows;
    for (;;) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) return rows;
      if (rc != SQLITE_ROW) return std::unexpected(error(sql));
      Row row(static_cast<std::size_t>(sqlite3_column_count(stmt)));
      for (int c = 0; c < static_cast<int>(row.size()); ++c) {
        const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
        if (data != nullptr) row[static_cast<std::size_t>(c)].assign(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt, c)));
      }
      rows.push_back(std::move(row));
    }
  }

  std::expected<void, AccountError> exec(std::string_view script) override {
    const std::string text(script);
    if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) return std::unexpected(error("exec"));
    return {};
  }

 private:
  sqlite3* db_;
  std::string path_;
};

// ---------------------------------------------------------------------------------------
// PostgreSQL: one connection, made again after it is lost.

class PostgresDatabase final : public Database {
 public:
  explicit PostgresDatabase(std::string url) : url_(std::move(url)), where_(engine::masked_database(url_)) {}
  ~PostgresDatabase() override {
    if (conn_ != nullptr) PQfinish(conn_);
  }
  PostgresDatabase(const PostgresDatabase&) = delete;
  PostgresDatabase& operator=(const PostgresDatabase&) = delete;

  Dialect dialect() const override { return Dialect::postgres; }
  const std::string& where() const override { return where_; }

  // Connects when there is no healthy connection. A connection lost inside a transaction is
  // not replaced here: the transaction's next statement fails, and its ROLLBACK finds a new one.
  std::expected<void, AccountError> connect() {
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return {};
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = PQconnectdb(url_.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      AccountError e{Kind::unavailable, "cannot connect to " + where_ + ": " + first_line(PQerrorMessage(conn_))};
      PQfinish(conn_);
      conn_ = nullptr;
      return std::unexpected(std::move(e));
    }
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);  // "already exists, skipping"
    return {};
  }

  std::expected<std::vector<Row>, AccountError> run(std::string_view sql, const std::vector<Param>& params) override {
    if (auto connected = connect(); !connected) return std::unexpected(connected.error());
    // `?` becomes $1, $2, … (the account tables' SQL has no `?` inside a string literal).
    std::string numbered;
    int n = 0;
    for (const char ch : sql) {
      if (ch == '?') numbered += "$" + std::to_string(++n);
      else numbered += ch;
    }
    std::vector<std::string> texts;
    texts.reserve(params.size());
    for (const auto& p : params) {
      texts.push_back(std::holds_alternative<std::int64_t>(p) ? std::to_string(std::get<std::int64_t>(p)) : std::get<std::string>(p));
    }
    std::vector<const char*> values;
    for (const auto& t : texts) values.push_back(t.c_str());
    PGresult* result = PQexecParams(conn_, numbered.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0);
    struct Clear {
      PGresult* r;
      ~Clear() { PQclear(r); }
    } clear{result};
    const auto status = PQresultStatus(result);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) return std::unexpected(error(result, sql));
    std::vector<Row> rows;
    for (int r = 0; r < PQntuples(result); ++r) {
      Row row(static_cast<std::size_t>(PQnfields(result)));
      for (int c = 0; c < PQnfields(result); ++c) {
        if (!PQgetisnull(result, r, c)) row[static_cast<std::size_t>(c)].assign(PQgetvalue(result, r, c), static_cast<std::size_t>(PQgetlength(result, r, c)));
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  std::expected<void, AccountError> exec(std::string_view script) override {
    if (auto connected = connect(); !connected) return std::unexpected(connected.error());
    const std::string text(script);
    PGresult* result = PQexec(conn_, text.c_str());
    struct Clear {
      PGresult* r;
      ~Clear() { PQclear(r); }
    } clear{result};
    const auto status = PQresultStatus(result);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) return std::unexpected(error(result, "exec"));
    return {};
  }

 private:
  static std::string first_line(const char* message) {
    std::string text = message != nullptr ? message : "";
    if (const auto end = text.find('\n'); end != std::string::npos) text.resize(end);
    return text;
  }

  // Class 23 (integrity constraint violation) is a conflict; a lost connection (class 08, or
  // none at all), a server shutting down (57P) or a standby refusing writes (25006) may pass
  // with a retry on the primary.
  AccountError error(const PGresult* result, std::string_view what) const {
    const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    const std::string sqlstate = state != nullptr ? state : "";
    const std::string message = first_line(result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
    Kind kind = Kind::io;
    if (sqlstate.starts_with("23")) kind = Kind::conflict;
    else if (PQstatus(conn_) != CONNECTION_OK || sqlstate.empty() || sqlstate.starts_with("08") || sqlstate.starts_with("57P") ||
             sqlstate == "25006") {
      kind = Kind::unavailable;
    }
    return AccountError{kind, std::string(what) + ": " + message};
  }

  std::string url_;
  std::string where_;
  PGconn* conn_ = nullptr;
};

}  // namespace

std::int64_t Query::int64(int column) const {
  const std::string value = text(column);
  std::int64_t out = 0;
  std::from_chars(value.data(), value.data() + value.size(), out);
  return out;
}

std::expected<std::unique_ptr<Database>, AccountError> open_sqlite_database(const std::string& path, const Timestamp* prune_cutoff) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    AccountError error{Kind::io, "cannot open " + path + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc))};
    sqlite3_close_v2(db);
    return std::unexpected(error);
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  auto database = std::make_unique<SqliteDatabase>(db, path);
  if (auto ok = database->exec("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;"); !ok) return std::unexpected(ok.error());
  if (sqlite3_create_function_v2(db, "server_audit_prune_cutoff", 0, SQLITE_UTF8, const_cast<Timestamp*>(prune_cutoff),
                                 prune_cutoff_function, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return std::unexpected(database->error("defining server_audit_prune_cutoff()"));
  }
  return database;
}

std::expected<std::unique_ptr<Database>, AccountError> open_postgres_database(const std::string& url) {
  auto database = std::make_unique<PostgresDatabase>(url);
  if (auto connected = database->connect(); !connected) return std::unexpected(connected.error());
  return database;
}

}  // namespace onevisit::server::sql
