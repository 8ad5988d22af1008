// Private to the engine: a thin RAII layer over libpq for the PostgreSQL store.
//
// Every statement goes through the extended protocol (PQexecParams / PQexecPrepared) with
// every parameter and every result column in binary form: text is its UTF-8 bytes, bytea its
// bytes, bigint eight bytes in network order. Nothing is quoted or escaped into SQL text.
// A Connection prepares each distinct statement once (named s1, s2, ... on that session) and
// reuses it; a new session after a reconnect starts with an empty cache.
//
// Errors come back as StoreError values with the statement and PostgreSQL's SQLSTATE; the
// kind says how much the error invalidates: invalid for a constraint the request broke (class
// 23), corrupt for data PostgreSQL found damaged (XX001, XX002), unavailable for what a retry
// may pass (a lost connection: class 08 or no result at all; a server shutting down, 57P; a
// standby refusing writes, 25006; a serialization failure or a deadlock, class 40), io for
// everything else.
//
// Thread safety: a Connection and its Results may be used by one thread at a time.
#pragma once

#include "store/store_common.hpp"

#include <onevisit/engine/database_url.hpp>
#include <onevisit/engine/store.hpp>

#include <libpq-fe.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace onevisit::engine::pg {

// Type OIDs of the parameters we send (pg_type.h; fixed since PostgreSQL 7).
inline constexpr Oid kBool = 16;
inline constexpr Oid kBytea = 17;
inline constexpr Oid kInt8 = 20;
inline constexpr Oid kInt2 = 21;
inline constexpr Oid kInt4 = 23;
inline constexpr Oid kText = 25;

/// The parameters of one statement, in order ($1, $2, ...), in binary form.
class Params {
 public:
  Params& add(std::int64_t value) {
    std::string bytes(8, '\0');
    auto v = static_cast<std::uint64_t>(value);
    for (int i = 7; i >= 0; --i) {
      bytes[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
      v >>= 8;
    }
    return push(kInt8, std::move(bytes));
  }
  Params& add(std::string_view text) { return push(kText, std::string(text)); }
  Params& add(const std::string& text) { return add(std::string_view(text)); }
  Params& add(const char* text) { return add(std::string_view(text)); }
  /// Bytes for a bytea column: sealed values and clear JSON alike.
  Params& add(store_common::SealedBytes value) { return push(kBytea, std::string(value.data)); }
  Params& add_null_text() {
    types_.push_back(kText);
    values_.emplace_back();
    nulls_.push_back(true);
    return *this;
  }

  std::size_t size() const { return types_.size(); }
  const std::vector<Oid>& types() const { return types_; }

  // The arrays libpq takes; valid until the next add.
  struct Arrays {
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats;
  };
  Arrays arrays() const {
    Arrays a;
    for (std::size_t i = 0; i < values_.size(); ++i) {
      a.values.push_back(nulls_[i] ? nullptr : values_[i].data());
      a.lengths.push_back(static_cast<int>(values_[i].size()));
      a.formats.push_back(1);
    }
    return a;
  }

 private:
  Params& push(Oid type, std::string bytes) {
    types_.push_back(type);
    values_.push_back(std::move(bytes));
    nulls_.push_back(false);
    return *this;
  }
  std::vector<Oid> types_;
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
};

/// Builds Params from a list of values.
template <typename... Args>
Params params(const Args&... args) {
  Params p;
  (p.add(args), ...);
  return p;
}

/// An owned PGresult of a statement that succeeded; columns read in binary form.
class Result {
 public:
  explicit Result(PGresult* result) : result_(result, &PQclear) {}

  int rows() const { return PQntuples(result_.get()); }
  /// Rows an INSERT, UPDATE or DELETE changed.
  std::uint64_t changed() const {
    const char* n = PQcmdTuples(result_.get());
    return n == nullptr || *n == '\0' ? 0 : std::stoull(n);
  }
  bool null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string_view bytes(int row, int column) const {
    return std::string_view(PQgetvalue(result_.get(), row, column),
                            static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
  }
  std::string text(int row, int column) const { return std::string(bytes(row, column)); }
  /// An integer column of any width (smallint, integer, bigint) or a boolean; 0 for NULL.
  std::int64_t int64(int row, int column) const {
    if (null(row, column)) return 0;
    const auto raw = bytes(row, column);
    std::uint64_t v = 0;
    for (const char c : raw) v = (v << 8) | static_cast<unsigned char>(c);
    switch (raw.size()) {
      case 1: return static_cast<std::int8_t>(v);
      case 2: return static_cast<std::int16_t>(v);
      case 4: return static_cast<std::int32_t>(v);
      default: return static_cast<std::int64_t>(v);
    }
  }
  std::uint64_t uint64(int row, int column) const {
    const auto v = int64(row, column);
    return v < 0 ? 0 : static_cast<std::uint64_t>(v);
  }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

/// The SQLSTATE of a failed statement ("" when there was no result: a lost connection).
struct Failure {
  StoreError error;
  std::string sqlstate;
};

// A lost connection (no SQLSTATE, or class 08), a server shutting down (57P), a standby that
// refuses writes (25006) or a serialization failure (class 40): the same request may pass
// when sent again.
inline bool retryable(std::string_view sqlstate) {
  return sqlstate.empty() || sqlstate.starts_with("40") || sqlstate.starts_with("08") || sqlstate.starts_with("57P") ||
         sqlstate == "25006";
}

inline StoreError::Kind kind_of(std::string_view sqlstate) {
  if (sqlstate.starts_with("23")) return StoreError::Kind::invalid;
  if (sqlstate == "XX001" || sqlstate == "XX002") return StoreError::Kind::corrupt;
  if (retryable(sqlstate)) return StoreError::Kind::unavailable;
  return StoreError::Kind::io;
}

class Connection {
 public:
  /// Connects with a libpq connection string or URL (several hosts and target_session_attrs
  /// included: libpq picks the server). Blocks until connected or refused.
  static std::expected<std::unique_ptr<Connection>, StoreError> open(const std::string& url) {
    PGconn* conn = PQconnectdb(url.c_str());
    auto connection = std::unique_ptr<Connection>(new Connection(conn));
    if (conn == nullptr) return std::unexpected(StoreError{StoreError::Kind::io, "cannot connect to PostgreSQL: out of memory"});
    if (PQstatus(conn) != CONNECTION_OK) {
      std::string message = PQerrorMessage(conn);
      while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
      return std::unexpected(StoreError{StoreError::Kind::unavailable, "cannot connect to PostgreSQL (" + redacted(url) + "): " + message});
    }
    // Quiet: NOTICEs (e.g. "relation already exists, skipping") are not ours to log.
    PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
    return connection;
  }

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { PQfinish(conn_); }

  bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }
  /// Counts every round trip to the server from now on in `counter` (instrumentation).
  void count_round_trips_in(std::atomic<std::uint64_t>* counter) { round_trips_ = counter; }
  PGconn* handle() const { return conn_; }

  /// Runs `sql` (prepared once on this session) with `p`; results in binary form.
  /// REQUIRES: not in pipeline mode.
  std::expected<Result, Failure> run(const std::string& sql, const Params& p) {
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      std::string name = "s" + std::to_string(++statements_named_);
      count_round_trip();
      PGresult* prepared = PQprepare(conn_, name.c_str(), sql.c_str(), static_cast<int>(p.size()), p.types().data());
      if (auto failed = check(prepared, sql, PGRES_COMMAND_OK)) return std::unexpected(std::move(*failed));
      PQclear(prepared);
      it = prepared_.emplace(sql, std::move(name)).first;
    }
    const auto a = p.arrays();
    count_round_trip();
    PGresult* result = PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(p.size()), a.values.data(), a.lengths.data(),
                                      a.formats.data(), 1);
    const auto status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    if (auto failed = check(result, sql, status == PGRES_TUPLES_OK ? PGRES_TUPLES_OK : PGRES_COMMAND_OK)) {
      return std::unexpected(std::move(*failed));
    }
    return Result(result);
  }

  // Pipeline mode (libpq 14 and later): statements are queued with send() without waiting
  // for their results, flushed with sync() and their results read back in order with
  // receive(): many statements cost one round trip. When one fails, PostgreSQL skips the
  // rest up to the Sync (they fail as skipped). Only the results are waited for after the
  // Sync, and each is a few bytes, so a blocking connection cannot deadlock with the
  // server on full socket buffers.

  /// Enters pipeline mode. REQUIRES: no statement running.
  bool enter_pipeline() { return PQenterPipelineMode(conn_) == 1; }

  /// Queues `sql` (prepared on its first use on this session, as run() does) with `p`.
  /// REQUIRES: in pipeline mode. A failure means the connection is lost or out of step:
  /// close it.
  std::expected<void, Failure> send(const std::string& sql, const Params& p) {
    Sent sent{sql, {}};
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      std::string name = "s" + std::to_string(++statements_named_);
      if (PQsendPrepare(conn_, name.c_str(), sql.c_str(), static_cast<int>(p.size()), p.types().data()) != 1) {
        return std::unexpected(lost(sql));
      }
      // Named now; forgotten again by receive() if the server skips or refuses the prepare.
      it = prepared_.emplace(sql, name).first;
      sent.prepared = std::move(name);
    }
    const auto a = p.arrays();
    if (PQsendQueryPrepared(conn_, it->second.c_str(), static_cast<int>(p.size()), a.values.data(), a.lengths.data(),
                            a.formats.data(), 1) != 1) {
      return std::unexpected(lost(sql));
    }
    sent_.push_back(std::move(sent));
    return {};
  }

  /// Ends the queued statements with a Sync and sends them all to the server.
  std::expected<void, Failure> sync() {
    count_round_trip();
    if (PQpipelineSync(conn_) != 1) return std::unexpected(lost("Sync"));
    return {};
  }

  /// Statements sent whose results are still to be received.
  std::size_t pending() const { return sent_.size(); }

  /// The result of the oldest statement sent and not yet received. REQUIRES: pending() > 0.
  std::expected<Result, Failure> receive() {
    Sent sent = std::move(sent_.front());
    sent_.pop_front();
    std::optional<Failure> failure;
    if (!sent.prepared.empty()) {
      PGresult* prepared = PQgetResult(conn_);
      failure = check_piped(prepared, sent.sql, PGRES_COMMAND_OK);
      if (!failure) PQclear(prepared);
      if (prepared != nullptr) end_of_statement();
      if (failure) prepared_.erase(sent.sql);
    }
    PGresult* result = PQgetResult(conn_);
    const auto status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    auto failed = check_piped(result, sent.sql, status == PGRES_TUPLES_OK ? PGRES_TUPLES_OK : PGRES_COMMAND_OK);
    if (result != nullptr) end_of_statement();
    if (failure) {
      if (!failed) PQclear(result);
      return std::unexpected(std::move(*failure));
    }
    if (failed) return std::unexpected(std::move(*failed));
    return Result(result);
  }

  /// Receives what is left, reads the Sync and leaves pipeline mode. False when the
  /// connection broke on the way (it is then useless: ok() is false).
  bool leave_pipeline() {
    while (!sent_.empty()) (void)receive();
    PGresult* synced = PQgetResult(conn_);
    const bool in_sync = synced != nullptr && PQresultStatus(synced) == PGRES_PIPELINE_SYNC;
    PQclear(synced);
    return in_sync && PQexitPipelineMode(conn_) == 1;
  }

  /// Runs one or more statements without parameters (BEGIN, COMMIT, SAVEPOINT, DDL).
  std::expected<void, Failure> simple(const std::string& sql) {
    count_round_trip();
    PGresult* result = PQexec(conn_, sql.c_str());
    const auto status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    if (auto failed = check(result, sql, status == PGRES_TUPLES_OK ? PGRES_TUPLES_OK : PGRES_COMMAND_OK)) {
      return std::unexpected(std::move(*failed));
    }
    PQclear(result);
    return {};
  }

  /// `url` with any password in it replaced, fit for an error message or a log.
  static std::string redacted(const std::string& url) { return masked_database(url); }

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}

  // nullopt when `result` has the `expected` status (the caller keeps it); else the failure
  // (and `result` is freed).
  std::optional<Failure> check(PGresult* result, const std::string& sql, ExecStatusType expected) {
    if (result != nullptr && PQresultStatus(result) == expected) return std::nullopt;
    std::string sqlstate;
    std::string message;
    if (result != nullptr) {
      const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
      sqlstate = state != nullptr ? state : "";
      message = PQresultErrorMessage(result);
      PQclear(result);
    }
    if (message.empty()) message = PQerrorMessage(conn_);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    if (!ok()) sqlstate.clear();  // the connection is gone: whatever the statement did is unknown
    std::string what = sql.substr(0, 60);
    std::string text = message + " (SQLSTATE " + (sqlstate.empty() ? std::string("none: connection lost") : sqlstate) +
                       ", in \"" + what + "\")";
    if (retryable(sqlstate)) text += "; the command may be retried with the same command id";
    return Failure{StoreError{kind_of(sqlstate), std::move(text)}, sqlstate};
  }

  // A statement queued in pipeline mode: its text and the name of the prepare queued before
  // it, when there was one.
  struct Sent {
    std::string sql;
    std::string prepared;
  };

  void count_round_trip() {
    if (round_trips_ != nullptr) round_trips_->fetch_add(1, std::memory_order_relaxed);
  }

  // A statement's results end with a null from PQgetResult.
  void end_of_statement() {
    if (PGresult* extra = PQgetResult(conn_); extra != nullptr) PQclear(extra);
  }

  // check() for a result read in pipeline mode, where a statement after a failed one is
  // skipped (PGRES_PIPELINE_ABORTED) without an error of its own.
  std::optional<Failure> check_piped(PGresult* result, const std::string& sql, ExecStatusType expected) {
    if (result != nullptr && PQresultStatus(result) == PGRES_PIPELINE_ABORTED) {
      PQclear(result);
      return Failure{StoreError{StoreError::Kind::io, "skipped after an earlier statement of the same pipeline failed (in \"" +
                                                          sql.substr(0, 60) + "\")"},
                     "skipped"};
    }
    return check(result, sql, expected);
  }

  Failure lost(const std::string& sql) {
    std::string message = PQerrorMessage(conn_);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    return Failure{StoreError{StoreError::Kind::unavailable, "cannot send \"" + sql.substr(0, 60) + "\" to PostgreSQL: " + message +
                                                                 "; the command may be retried with the same command id"},
                   ""};
  }

  PGconn* conn_;
  std::unordered_map<std::string, std::string> prepared_;
  std::uint64_t statements_named_ = 0;  // names are never reused, even after a forgotten prepare
  std::deque<Sent> sent_;
  std::atomic<std::uint64_t>* round_trips_ = nullptr;
};

}  // namespace onevisit::engine::pg
