// The PostgreSQL store (docs/storage.md, PostgreSQL): the Store contract of the SQLite store
// on a database server that several `onevisit serve` nodes share.
//
// Write path. As on SQLite: commit(), update_outbox(), deploy() and index_case() validate
// their request (store_common.hpp), queue it as a job and wait. One writer thread per store
// takes every queued job (up to max_batch) into one transaction, the commands' statements
// pipelined (one round trip for the lot; run_pipelined), and falls back to a SAVEPOINT per job
// when one fails, so that a refused or failed job leaves the others alone; one COMMIT (one
// WAL flush with synchronous_commit on) makes the batch durable, and only then are the
// callers answered. A commit that loses its connection before COMMIT returns is answered with a
// retryable io error: it either committed whole or not at all, and its retry with the same
// command id is recognised (the idempotency records live in the same transaction).
//
// Concurrency between nodes. A command on an existing case starts with the UPDATE of the
// case row conditioned on the version it was decided on: the row lock serialises commands on
// one case across every node, and a command that lost the race changes nothing and is
// refused as version_conflict. Two starts of one case id (or one command id) race on the
// primary keys; the loser is answered as if it had come second.
//
// Read path. Queries run on pooled connections (a mutex guards the pool); a connection that
// saw an error is closed instead of pooled, so that a failover is followed by new sessions.
//
// Open. Connects, refuses a schema that is not ours (tables without our `meta`, or a newer
// schema version), then migrates forward under an advisory lock, so that nodes started
// together migrate once. The tables live in the connection's current schema (search_path):
// one database can hold several districts, or a test per schema.
#include "store/postgres/store.hpp"

#include "hash.hpp"
#include "store/group_writer.hpp"
#include "store/postgres/connection.hpp"
#include "store/store_common.hpp"

#include <onevisit/engine/content_store.hpp>

#include <onevisit/engine/store.hpp>

#include <algorithm>
#include <map>
#include <mutex>
#include <tuple>

namespace onevisit::engine {
namespace {

using pg::Connection;
using pg::Failure;
using pg::Params;
using pg::params;
using pg::Result;
using store_common::case_query;
using store_common::CaseHead;
using store_common::CommandRecord;
using store_common::command_name;
using store_common::DynamicQuery;
using store_common::fail;
using store_common::guarded;
using store_common::in_quotes;
using store_common::make_error;
using store_common::Sealer;
using Kind = StoreError::Kind;

// The schema version this build creates and reads: the PostgreSQL store's own ledger, in
// meta.schema_version (docs/storage.md, PostgreSQL). It is not SQLite's user_version: the
// two schemas differ where the dialects do, and each migrates on its own.
constexpr std::int64_t kSchemaVersion = 3;
constexpr std::size_t kMaxIdleReaders = 8;

// Migration N takes the schema from version N-1 to N; never edit a released one. Payloads,
// snapshots and meta values are bytea: clear JSON, or values sealed at rest (sealing.hpp).
// Unlike the SQLite schema, events are keyed by (case_id, sequence): PostgreSQL's B-tree
// pages do not go into a WAL whole on every commit the way SQLite's did, and the key makes
// a case's history one index range. Every idempotency record is a row in `commands`, scoped
// as the Store contract says: '' for case starts and commits without events (found by the
// id alone), the case id for the rest.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value BYTEA NOT NULL
);
CREATE TABLE workflows (
  bundle_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  source_hash TEXT NOT NULL,
  source TEXT NOT NULL,
  deployed_at BIGINT NOT NULL,
  PRIMARY KEY (bundle_id, version)
);
CREATE TABLE cases (
  case_id TEXT PRIMARY KEY,
  bundle_id TEXT NOT NULL,
  bundle_version INTEGER NOT NULL,
  status TEXT NOT NULL,
  applicant TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  version BIGINT NOT NULL CHECK (version >= 0),
  channel TEXT NOT NULL DEFAULT 'window',
  indexed INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX cases_by_bundle ON cases (bundle_id, bundle_version);
CREATE INDEX cases_by_status ON cases (status, started_at);
CREATE INDEX cases_by_start ON cases (started_at DESC, case_id);
CREATE INDEX cases_unindexed ON cases (case_id) WHERE indexed = 0;
CREATE TABLE snapshots (
  case_id TEXT PRIMARY KEY REFERENCES cases (case_id),
  version BIGINT NOT NULL CHECK (version > 0),
  snapshot BYTEA NOT NULL
);
CREATE TABLE events (
  case_id TEXT NOT NULL REFERENCES cases (case_id),
  sequence BIGINT NOT NULL CHECK (sequence > 0),
  type TEXT NOT NULL,
  payload BYTEA NOT NULL,
  recorded_at BIGINT NOT NULL,
  PRIMARY KEY (case_id, sequence)
);
CREATE TABLE commands (
  scope TEXT NOT NULL,
  command_id TEXT NOT NULL,
  case_id TEXT NOT NULL REFERENCES cases (case_id),
  version BIGINT NOT NULL,
  result TEXT NOT NULL,
  PRIMARY KEY (scope, command_id)
);
CREATE TABLE case_items (
  case_id TEXT NOT NULL REFERENCES cases (case_id),
  item_id TEXT NOT NULL,
  department TEXT NOT NULL,
  state TEXT NOT NULL,
  final INTEGER NOT NULL CHECK (final IN (0, 1)),
  due_at BIGINT NOT NULL,
  light TEXT NOT NULL,
  urged INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (case_id, item_id)
);
CREATE INDEX case_items_open_by_department ON case_items (department, due_at, case_id, item_id) WHERE final = 0;
CREATE INDEX case_items_open_by_due ON case_items (due_at, case_id, item_id) WHERE final = 0;
CREATE INDEX case_items_by_department ON case_items (department, case_id);
CREATE TABLE timers (
  case_id TEXT NOT NULL REFERENCES cases (case_id),
  timer_id TEXT NOT NULL,
  due_at BIGINT NOT NULL,
  payload TEXT NOT NULL,
  PRIMARY KEY (case_id, timer_id)
);
CREATE INDEX timers_by_due ON timers (due_at, case_id, timer_id);
CREATE TABLE outbox (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  case_id TEXT NOT NULL REFERENCES cases (case_id),
  department TEXT NOT NULL,
  adapter TEXT NOT NULL,
  operation TEXT NOT NULL,
  payload BYTEA NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at BIGINT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'parked')),
  last_error TEXT NOT NULL
);
CREATE INDEX outbox_by_status ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_case ON outbox (case_id, id);
CREATE TABLE case_sequences (
  day INTEGER PRIMARY KEY,
  last BIGINT NOT NULL
);
CREATE TABLE search_tokens (
  token TEXT NOT NULL,
  case_id TEXT NOT NULL REFERENCES cases (case_id),
  PRIMARY KEY (token, case_id)
);
CREATE TABLE case_actors (
  actor TEXT NOT NULL,
  case_id TEXT NOT NULL REFERENCES cases (case_id),
  PRIMARY KEY (actor, case_id)
);
CREATE TABLE contents (
  sha256 TEXT PRIMARY KEY,
  size BIGINT NOT NULL,
  chunks INTEGER NOT NULL
);
CREATE TABLE content_chunks (
  sha256 TEXT NOT NULL REFERENCES contents (sha256),
  chunk INTEGER NOT NULL,
  bytes BYTEA NOT NULL,
  PRIMARY KEY (sha256, chunk)
);
INSERT INTO meta (key, value) VALUES ('application', 'onevisit'::bytea);
)sql";

// Version 2 (issue 16, several nodes): timers and outbox calls are claimed with a lease, in
// milliseconds of the database server's clock (one clock for every node): `lease_until` is
// 0 when nobody holds one. The indexes find the claimable ones without a scan.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE timers ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX outbox_pending ON outbox (next_attempt_at, id) WHERE status = 'pending';
)sql";

struct Migration {
  std::int64_t version;
  const char* sql;
};
// Version 3 (issue 13): a joint item (联办/会签) is in the worklist of every department taking
// part while that department's part waits for it: one row per pending part (never the item's
// own department), with the item's due date for the worklist's order (as on SQLite, schema 9).
constexpr const char* kSchemaV3 = R"sql(
CREATE TABLE case_item_parts (
  case_id TEXT NOT NULL REFERENCES cases (case_id),
  item_id TEXT NOT NULL,
  department TEXT NOT NULL,
  due_at BIGINT NOT NULL,
  PRIMARY KEY (case_id, item_id, department)
);
CREATE INDEX case_item_parts_by_department ON case_item_parts (department, due_at, case_id, item_id);
)sql";

constexpr Migration kMigrations[] = {{1, kSchemaV1}, {2, kSchemaV2}, {3, kSchemaV3}};
static_assert(std::size(kMigrations) == kSchemaVersion, "one migration per schema version");

// ---------------------------------------------------------------------------------------
// Statements ($n parameters; see postgres_connection.hpp for their binary form).

constexpr const char* kFindCommand =
    "SELECT case_id, version, result FROM commands WHERE command_id = $1 AND scope IN ('', $2) ORDER BY scope LIMIT 1";
constexpr const char* kSelectCaseHead = "SELECT version, bundle_id, bundle_version FROM cases WHERE case_id = $1";
constexpr const char* kInsertCase =
    "INSERT INTO cases (case_id, bundle_id, bundle_version, status, applicant, started_at, updated_at, version, channel) "
    "VALUES ($1, $2, $3::bigint, $4, $5, $6, $7, $8, $9) ON CONFLICT (case_id) DO NOTHING";
constexpr const char* kRaiseCaseSequence =
    "INSERT INTO case_sequences (day, last) VALUES ($1::bigint, $2) ON CONFLICT (day) DO UPDATE SET "
    "last = GREATEST(case_sequences.last, excluded.last)";
// The optimistic concurrency check and the case row's update in one statement: the row lock
// it takes serialises the commands on one case, whichever node runs them.
constexpr const char* kUpdateCase =
    "UPDATE cases SET applicant = $1, updated_at = $2, version = $3, status = $4 "
    "WHERE case_id = $5 AND version = $6 AND bundle_id = $7 AND bundle_version = $8::bigint";
constexpr const char* kUpsertSnapshot =
    "INSERT INTO snapshots (case_id, version, snapshot) VALUES ($1, $2, $3) "
    "ON CONFLICT (case_id) DO UPDATE SET version = excluded.version, snapshot = excluded.snapshot";
constexpr const char* kInsertToken =
    "INSERT INTO search_tokens (token, case_id) VALUES ($1, $2) ON CONFLICT (token, case_id) DO NOTHING";
constexpr const char* kDeleteToken = "DELETE FROM search_tokens WHERE token = $1 AND case_id = $2";
constexpr const char* kInsertActor =
    "INSERT INTO case_actors (actor, case_id) VALUES ($1, $2) ON CONFLICT (actor, case_id) DO NOTHING";
constexpr const char* kMarkIndexed = "UPDATE cases SET indexed = 1 WHERE case_id = $1 AND indexed = 0";
constexpr const char* kDeleteTimer = "DELETE FROM timers WHERE case_id = $1 AND timer_id = $2";
constexpr const char* kInsertCommand =
    "INSERT INTO commands (scope, command_id, case_id, version, result) VALUES ($1, $2, $3, $4, $5)";
// Writing a call's outcome ends its claim.
constexpr const char* kUpdateOutbox =
    "UPDATE outbox SET status = $1, attempts = $2::bigint, next_attempt_at = $3, last_error = $4, lease_until = 0 WHERE id = $5";
// The database server's clock in milliseconds: leases are measured on one clock, whatever
// the nodes' clocks say.
#define ONEVISIT_PG_NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
// Claims due pending calls by whole cases, in the order of their first call: a case none of
// whose pending calls another node holds, taken by whichever node first gets its advisory
// lock (pg_try_advisory_xact_lock: the other skips it, so a case's calls never split between
// nodes); rows another node is claiming right now are skipped (SKIP LOCKED), and a row whose
// claim committed meanwhile is rechecked on its new version (lease_until). `limit` counts
// cases.
constexpr const char* kClaimOutbox =
    "WITH candidates AS (SELECT o.case_id, MIN(o.id) AS first FROM outbox o WHERE o.status = 'pending' "
    "AND o.next_attempt_at <= $1 AND NOT EXISTS (SELECT 1 FROM outbox l WHERE l.case_id = o.case_id "
    "AND l.status = 'pending' AND l.lease_until > " ONEVISIT_PG_NOW_MS ") GROUP BY o.case_id ORDER BY first LIMIT $2), "
    "mine AS (SELECT case_id FROM candidates WHERE pg_try_advisory_xact_lock(hashtextextended('onevisit-outbox:' || case_id, 0))), "
    "claimable AS (SELECT o.id FROM outbox o JOIN mine ON mine.case_id = o.case_id WHERE o.status = 'pending' "
    "AND o.next_attempt_at <= $1 AND o.lease_until <= " ONEVISIT_PG_NOW_MS " FOR UPDATE OF o SKIP LOCKED) "
    "UPDATE outbox SET lease_until = " ONEVISIT_PG_NOW_MS " + $3 FROM claimable WHERE outbox.id = claimable.id "
    "RETURNING outbox.id, outbox.idempotency_key, outbox.case_id, outbox.department, outbox.adapter, outbox.operation, "
    "outbox.payload, outbox.attempts, outbox.next_attempt_at, outbox.status, outbox.last_error";
constexpr const char* kClaimTimers =
    "WITH claimable AS (SELECT case_id, timer_id FROM timers WHERE due_at <= $1 AND lease_until <= " ONEVISIT_PG_NOW_MS
    " ORDER BY due_at, case_id, timer_id LIMIT $2 FOR UPDATE SKIP LOCKED) "
    "UPDATE timers t SET lease_until = " ONEVISIT_PG_NOW_MS " + $3 FROM claimable c "
    "WHERE t.case_id = c.case_id AND t.timer_id = c.timer_id RETURNING t.case_id, t.timer_id, t.due_at, t.payload";
constexpr const char* kSelectWorkflowHash = "SELECT source_hash FROM workflows WHERE bundle_id = $1 AND version = $2::bigint";
constexpr const char* kInsertWorkflow =
    "INSERT INTO workflows (bundle_id, version, source_hash, source, deployed_at) VALUES ($1, $2::bigint, $3, $4, $5)";
constexpr const char* kSelectCase =
    "SELECT c.case_id, c.bundle_id, c.bundle_version, c.status, c.applicant, c.started_at, c.updated_at, c.version, "
    "c.channel, s.version, s.snapshot FROM cases c LEFT JOIN snapshots s ON s.case_id = c.case_id WHERE c.case_id = $1";
constexpr const char* kSelectEvents =
    "SELECT sequence, type, payload, recorded_at FROM events WHERE case_id = $1 AND sequence > $2 AND sequence <= $3 "
    "ORDER BY sequence";
constexpr const char* kSelectVersion = "SELECT version FROM cases WHERE case_id = $1";
constexpr const char* kDueTimers =
    "SELECT case_id, timer_id, due_at, payload FROM timers WHERE due_at <= $1 ORDER BY due_at, case_id, timer_id LIMIT $2";
constexpr const char* kOutboxColumns =
    "SELECT id, idempotency_key, case_id, department, adapter, operation, payload, attempts, next_attempt_at, status, "
    "last_error FROM outbox ";
constexpr const char* kCaseColumns =
    "c.case_id, c.bundle_id, c.bundle_version, c.status, c.applicant, c.started_at, c.updated_at, c.version, c.channel";
constexpr const char* kListDeployed =
    "SELECT bundle_id, version, source_hash, deployed_at FROM workflows ORDER BY bundle_id, version";
constexpr const char* kLoadWorkflow =
    "SELECT bundle_id, version, source_hash, source, deployed_at FROM workflows WHERE bundle_id = $1 AND version = $2::bigint";
constexpr const char* kListWorkflows =
    "SELECT w.bundle_id, w.version, w.source_hash, w.source, w.deployed_at, "
    "(SELECT COUNT(*) FROM cases c WHERE c.bundle_id = w.bundle_id AND c.bundle_version = w.version) "
    "FROM workflows w ORDER BY w.bundle_id, w.version";

// A DynamicQuery (store_common.hpp, `?` placeholders) in PostgreSQL's numbered form.
std::pair<std::string, Params> numbered(const DynamicQuery& query) {
  std::string sql;
  std::size_t n = 0;
  for (const char ch : query.sql) {
    if (ch == '?') {
      sql += "$" + std::to_string(++n);
    } else {
      sql += ch;
    }
  }
  Params p;
  for (const auto& param : query.params) std::visit([&](const auto& v) { p.add(v); }, param);
  return {std::move(sql), std::move(p)};
}

std::int64_t to_sql(std::uint64_t value) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(value > kMax ? kMax : value);
}

std::unexpected<StoreError> failed(const Failure& f) { return std::unexpected(f.error); }

CaseSummary read_summary(const Result& r, int row) {
  CaseSummary s;
  s.case_id = r.text(row, 0);
  s.bundle_id = r.text(row, 1);
  s.bundle_version = static_cast<int>(r.int64(row, 2));
  s.status = r.text(row, 3);
  s.applicant = r.text(row, 4);
  s.started_at = r.int64(row, 5);
  s.updated_at = r.int64(row, 6);
  s.version = r.uint64(row, 7);
  s.channel = r.text(row, 8);
  return s;
}

std::expected<std::vector<OutboxRecord>, StoreError> outbox_rows(const Sealer& sealer, const Result& r) {
  std::vector<OutboxRecord> out;
  for (int i = 0; i < r.rows(); ++i) {
    OutboxRecord o;
    o.id = r.uint64(i, 0);
    o.idempotency_key = r.text(i, 1);
    o.case_id = r.text(i, 2);
    o.department = r.text(i, 3);
    o.adapter = r.text(i, 4);
    o.operation = r.text(i, 5);
    auto clear = sealer.open(r.bytes(i, 6), "outbox.payload", o.case_id);
    if (!clear) return std::unexpected(clear.error());
    o.payload = std::move(*clear);
    o.attempts = static_cast<int>(r.int64(i, 7));
    o.next_attempt_at = r.int64(i, 8);
    o.status = r.text(i, 9);
    o.last_error = r.text(i, 10);
    out.push_back(std::move(o));
  }
  return out;
}

// A command's idempotency record: by the id alone, then in `case_id`.
std::expected<std::optional<CommandRecord>, StoreError> find_record(Connection& c, const std::string& case_id,
                                                                    const std::string& command_id) {
  using Found = std::optional<CommandRecord>;
  if (command_id.empty()) return Found{};
  auto rows = c.run(kFindCommand, params(command_id, case_id));
  if (!rows) return failed(rows.error());
  if (rows->rows() == 0) return Found{};
  return Found{CommandRecord{rows->text(0, 0), CommitResult{true, rows->uint64(0, 1), rows->text(0, 2)}}};
}

// ---------------------------------------------------------------------------------------
// The writer: one connection, one thread, a queue of jobs executed in group transactions.

class Writer {
 public:
  using Queue = store_common::GroupWriter<Writer>;
  template <typename T>
  using Body = typename store_common::TypedJob<Writer, T>::Body;

  Writer(std::string url, std::unique_ptr<Connection> connection, std::size_t max_batch, Sealer sealer)
      : url_(std::move(url)), connection_(std::move(connection)), sealer_(std::move(sealer)), queue_(max_batch) {
    connection_->count_round_trips_in(&round_trips_);
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  ~Writer() { stop(); }

  void start() {
    queue_.start(
        "ov-pg-write", [this](Queue::Batch& batch) { run_batch(batch); },
        [this] {
          // In pipeline mode a ROLLBACK cannot be sent; closing the session rolls back too.
          if (connection_ && PQpipelineStatus(connection_->handle()) != PQ_PIPELINE_OFF) connection_.reset();
          if (connection_) connection_->simple("ROLLBACK");
        });
  }

  void stop() noexcept { queue_.stop(); }

  /// Queues `body` and waits for its batch to commit.
  template <typename T>
  std::expected<T, StoreError> write(Body<T> body) {
    return queue_.template write<T>(std::move(body));
  }

  PostgresStoreStats stats() const {
    const auto counters = queue_.counters();
    return PostgresStoreStats{counters.writes, counters.transactions, counters.largest_batch, round_trips_.load()};
  }

  std::expected<CommitResult, StoreError> apply(const CommitRequest& r);
  std::expected<void, StoreError> apply(const OutboxRecord& o);
  std::expected<bool, StoreError> apply(const DeployedWorkflow& w);
  std::expected<void, StoreError> index_case(const std::string& case_id, const std::vector<std::string>& tokens,
                                             const std::vector<std::string>& actors);

 private:
  std::expected<CommitResult, StoreError> apply_once(const CommitRequest& r);
  std::expected<std::optional<CommitResult>, StoreError> refusal(const CommitRequest& r);
  std::expected<void, StoreError> rewrite(const CommitRequest& r);
  // Runs a statement on the writer's connection; remembers the SQLSTATE of a failure. While
  // a pipeline is being filled, the job that needs a result at once is deferred instead: it
  // runs again after the pipeline's results are in (run_pipelined).
  std::expected<Result, StoreError> run(const std::string& sql, const Params& p) {
    if (pipelining_) {
      deferred_ = true;
      return fail(Kind::io, "deferred until the pipelined statements are done");
    }
    auto result = connection_->run(sql, p);
    if (!result) {
      last_sqlstate_ = result.error().sqlstate;
      return failed(result.error());
    }
    return std::move(*result);
  }
  enum class Attempt { done, needs_savepoints };
  void run_batch(Queue::Batch& batch);
  // One transaction over `batch` with the commits' statements pipelined; sets batch_error
  // when the transaction as a whole failed.
  Attempt run_pipelined(Queue::Batch& batch, std::optional<StoreError>& batch_error);
  // Runs batch[job] synchronously inside the open transaction, without a savepoint.
  Attempt run_alone(Queue::Batch& batch, std::size_t job, std::optional<StoreError>& batch_error);
  // Closes the connection (the server rolls back what it had open) and fails the batch.
  Attempt lose_connection(const StoreError& error, std::optional<StoreError>& batch_error);
  // One transaction over `batch`; sets batch_error when the transaction as a whole failed.
  Attempt run_transaction(Queue::Batch& batch, bool savepoints, std::optional<StoreError>& batch_error);

  const std::string url_;
  std::unique_ptr<Connection> connection_;
  const Sealer sealer_;
  std::string last_sqlstate_;
  bool wrote_ = false;         // the running job wrote before it failed (writer thread only)
  bool in_savepoint_ = false;  // the running job has a savepoint of its own (writer thread only)
  bool pipelining_ = false;    // the running job's commit statement goes into the pipeline
  bool deferred_ = false;      // the running job needed a result at once: it runs after the pipeline
  std::atomic<std::uint64_t> round_trips_{0};
  Queue queue_;                // last: stopped before the members its thread uses go
};

void Writer::run_batch(Queue::Batch& batch) {
  std::optional<StoreError> batch_error;
  // A connection lost with an earlier batch (a server restart, a failover) is made again;
  // libpq's connection string picks the server that now takes writes.
  if (!connection_ || !connection_->ok()) {
    auto reconnected = Connection::open(url_);
    if (!reconnected) {
      batch_error = make_error(Kind::unavailable, reconnected.error().message + "; the command may be retried with the same command id");
    } else {
      connection_ = std::move(*reconnected);
      connection_->count_round_trips_in(&round_trips_);
    }
  }
  // First without savepoints, the commits pipelined: most requests either apply or are
  // refused before they write (a version conflict, a duplicate), and each is one statement.
  // Only a request that failed (PostgreSQL then aborts the whole transaction) or failed after
  // it wrote something cannot be undone on its own; then the transaction is rolled back
  // (nothing of it was answered) and the batch runs again with a savepoint per request, so
  // that request leaves no trace and the others are unaffected.
  if (!batch_error && run_pipelined(batch, batch_error) == Attempt::needs_savepoints) {
    run_transaction(batch, true, batch_error);
  }
  queue_.finish(batch, batch_error);
}

// BEGIN and the statements of the commits that follow one another in the batch go to the
// server in one round trip, and their results come back together (libpq pipeline mode);
// COMMIT follows once they are read. A commit's statement writes nothing when it is refused
// (apply_once), so a refusal spoils nothing: that job runs again on its own to learn why and
// answer it. A job that needs a result at once (an outbox update, a deploy, a commit that
// rewrites history) is deferred: it runs synchronously after the pipeline before it, and the
// jobs after it fill the next pipeline. Requests queued meanwhile join before COMMIT.
Writer::Attempt Writer::run_pipelined(Queue::Batch& batch, std::optional<StoreError>& batch_error) {
  batch_error.reset();
  static const std::string kBegin = "BEGIN";
  bool begun = false;
  for (std::size_t next = 0; next < batch.size();) {
    if (!connection_->enter_pipeline()) return lose_connection(make_error(Kind::unavailable, "cannot enter pipeline mode"), batch_error);
    if (!begun) {
      if (auto sent = connection_->send(kBegin, Params{}); !sent) return lose_connection(sent.error().error, batch_error);
    }
    std::vector<std::size_t> sent;
    std::size_t job = next;
    for (; job < batch.size(); ++job) {
      pipelining_ = true;
      deferred_ = false;
      last_sqlstate_.clear();
      const StoreError* error = batch[job]->execute(*this);
      pipelining_ = false;
      if (deferred_) break;
      if (error != nullptr) return lose_connection(*error, batch_error);  // only sending fails here
      sent.push_back(job);
    }
    if (auto synced = connection_->sync(); !synced) return lose_connection(synced.error().error, batch_error);
    std::optional<StoreError> failure;
    if (!begun) {
      if (auto done = connection_->receive(); !done) failure = done.error().error;
      begun = true;
    }
    std::vector<std::size_t> again;  // refused: run again alone, to learn and answer why
    for (const std::size_t j : sent) {
      auto result = connection_->receive();
      if (!result) {
        if (!failure) failure = result.error().error;
      } else if (result->int64(0, 0) == 0) {
        again.push_back(j);
      }
    }
    if (!connection_->leave_pipeline() || !connection_->ok()) {
      return lose_connection(failure ? *failure : make_error(Kind::unavailable, "the connection to PostgreSQL was lost"), batch_error);
    }
    if (failure) {
      // A statement failed (a key another node took meanwhile, a constraint): PostgreSQL
      // aborted the transaction, so it goes again with a savepoint per job.
      connection_->simple("ROLLBACK");
      return Attempt::needs_savepoints;
    }
    if (job < batch.size()) again.push_back(job);
    for (const std::size_t j : again) {
      if (const auto attempt = run_alone(batch, j, batch_error); attempt != Attempt::done || batch_error) return attempt;
    }
    next = job < batch.size() ? job + 1 : job;
    // Requests that arrived while this batch ran join it before COMMIT (one WAL flush).
    if (next == batch.size()) queue_.join_queued(batch);
  }
  if (auto committed = connection_->simple("COMMIT"); !committed) {
    batch_error = committed.error().error;
    if (connection_->ok()) connection_->simple("ROLLBACK");
  }
  return Attempt::done;
}

Writer::Attempt Writer::run_alone(Queue::Batch& batch, std::size_t job, std::optional<StoreError>& batch_error) {
  in_savepoint_ = false;
  last_sqlstate_.clear();
  wrote_ = false;
  if (const StoreError* error = batch[job]->execute(*this); error != nullptr) {
    if (!connection_->ok()) {
      batch_error = *error;
      return Attempt::done;
    }
    if (wrote_ || PQtransactionStatus(connection_->handle()) == PQTRANS_INERROR) {
      connection_->simple("ROLLBACK");
      return Attempt::needs_savepoints;
    }
  }
  return Attempt::done;
}

Writer::Attempt Writer::lose_connection(const StoreError& error, std::optional<StoreError>& batch_error) {
  pipelining_ = false;
  batch_error = error;
  if (batch_error->kind != Kind::unavailable) {
    batch_error = make_error(Kind::unavailable, error.message + "; the command may be retried with the same command id");
  }
  connection_.reset();
  return Attempt::done;
}

Writer::Attempt Writer::run_transaction(Queue::Batch& batch, bool savepoints, std::optional<StoreError>& batch_error) {
  batch_error.reset();
  const auto control = [&](const char* sql) {
    if (batch_error) return false;
    if (auto done = connection_->simple(sql); !done) {
      batch_error = done.error().error;
      return false;
    }
    return true;
  };
  if (!control("BEGIN")) return Attempt::done;
  for (std::size_t i = 0; i < batch.size() && !batch_error; ++i) {
    if (savepoints && !control("SAVEPOINT job")) break;
    in_savepoint_ = savepoints;
    last_sqlstate_.clear();
    wrote_ = false;
    if (const StoreError* error = batch[i]->execute(*this); error != nullptr) {
      if (!connection_->ok()) {
        batch_error = *error;
        break;
      }
      if (!savepoints && (wrote_ || PQtransactionStatus(connection_->handle()) == PQTRANS_INERROR)) {
        connection_->simple("ROLLBACK");
        return Attempt::needs_savepoints;
      }
      if (savepoints && !control("ROLLBACK TO SAVEPOINT job")) break;
    }
    if (savepoints && !control("RELEASE SAVEPOINT job")) break;
    if (i + 1 == batch.size() && !savepoints) {
      // Requests that arrived while this batch ran join it before COMMIT (one WAL flush).
      queue_.join_queued(batch);
    }
  }
  control("COMMIT");
  if (batch_error && connection_->ok()) connection_->simple("ROLLBACK");
  return Attempt::done;
}

std::expected<std::optional<CommitResult>, StoreError> Writer::refusal(const CommitRequest& r) {
  return store_common::refusal(
      r, [&] { return find_record(*connection_, r.case_id, r.command_id); },
      [&]() -> std::expected<std::optional<CaseHead>, StoreError> {
        auto head = run(kSelectCaseHead, params(r.case_id));
        if (!head) return std::unexpected(head.error());
        if (head->rows() == 0) return std::nullopt;
        return CaseHead{head->uint64(0, 0), head->text(0, 1), head->int64(0, 2)};
      });
}

std::expected<CommitResult, StoreError> Writer::apply(const CommitRequest& r) {
  auto applied = apply_once(r);
  // A unique key taken meanwhile by another node's commit (the same new case id, the same
  // command id): undo this attempt and answer as if it had come second.
  if (!applied && last_sqlstate_ == "23505" && connection_->ok() && in_savepoint_) {
    if (auto undone = connection_->simple("ROLLBACK TO SAVEPOINT job"); !undone) return failed(undone.error());
    auto why = refusal(r);
    if (!why) return std::unexpected(why.error());
    if (*why) return **why;
  }
  return applied;
}

// Appends "($k, $k+1, ...), (...)" for `rows` rows of `columns` parameters each, numbered
// after those already in `p`, and adds the parameters through `add(row)`.
template <typename Add>
void append_rows(std::string& sql, Params& p, std::size_t rows, std::size_t columns, Add add) {
  for (std::size_t r = 0; r < rows; ++r) {
    const auto first = p.size() + 1;
    add(r);
    sql += r == 0 ? "(" : ", (";
    for (std::size_t c = 0; c < columns; ++c) sql += (c == 0 ? "$" : ", $") + std::to_string(first + c);
    sql += ")";
  }
}

std::expected<CommitResult, StoreError> Writer::apply_once(const CommitRequest& r) {
  const auto& s = r.summary;
  // Case starts and commits without events are recorded by their id alone; the others in
  // their case (the Store contract, find_command).
  const bool by_id_alone = r.expected_version == 0 || r.events.empty();
  const auto refused = [&]() -> std::expected<CommitResult, StoreError> {
    auto why = refusal(r);
    if (!why) return std::unexpected(why.error());
    if (!*why) return fail(Kind::io, "a commit on case " + in_quotes(r.case_id) + " was not applied, for no reason found");
    return **why;
  };
  // The whole command is ONE statement (one round trip to the server): the case row's
  // insert or conditional update is the `head`, and every other write is conditioned on the
  // head having changed a row, so a refused command writes nothing. A refusal is then
  // explained by refusal(), which only reads. The parameters: $1 the case id, then each
  // part's in order.
  Params p;
  p.add(r.case_id);
  std::string sql = "WITH head AS (";
  if (r.expected_version == 0) {
    // A start whose command id was recorded before (a retry with another generated case id)
    // inserts nothing either.
    const auto k = p.size() + 1;
    p.add(s.bundle_id).add(std::int64_t{s.bundle_version}).add(s.status).add(s.applicant).add(s.started_at).add(s.updated_at);
    p.add(to_sql(s.version)).add(s.channel);
    sql += "INSERT INTO cases (case_id, bundle_id, bundle_version, status, applicant, started_at, updated_at, version, channel) "
           "SELECT $1";
    for (std::size_t c = 0; c < 8; ++c) sql += ", $" + std::to_string(k + c) + (c == 1 ? "::integer" : "");
    if (!r.command_id.empty()) {
      p.add(r.command_id);
      sql += " WHERE NOT EXISTS (SELECT 1 FROM commands WHERE scope = '' AND command_id = $" + std::to_string(p.size()) + ")";
    }
    sql += " ON CONFLICT (case_id) DO NOTHING RETURNING 1)";
  } else {
    const auto k = p.size() + 1;
    p.add(s.applicant).add(s.updated_at).add(to_sql(s.version)).add(s.status).add(to_sql(r.expected_version)).add(s.bundle_id);
    p.add(std::int64_t{s.bundle_version});
    const auto n = [&](std::size_t i) { return "$" + std::to_string(k + i); };
    sql += "UPDATE cases SET applicant = " + n(0) + ", updated_at = " + n(1) + ", version = " + n(2) + ", status = " + n(3) +
           " WHERE case_id = $1 AND version = " + n(4) + " AND bundle_id = " + n(5) + " AND bundle_version = " + n(6) +
           "::integer";
    if (!r.command_id.empty() && by_id_alone) {
      p.add(r.command_id);
      sql += " AND NOT EXISTS (SELECT 1 FROM commands WHERE scope = '' AND command_id = $" + std::to_string(p.size()) + ")";
    }
    sql += " RETURNING 1)";
  }
  std::size_t part = 0;
  const auto begin_part = [&] { sql += ", p" + std::to_string(++part) + " AS ("; };
  constexpr const char* kIfApplied = " WHERE EXISTS (SELECT 1 FROM head)";
  if (r.expected_version == 0 && r.case_number) {
    begin_part();
    p.add(std::int64_t{r.case_number->day}).add(to_sql(r.case_number->sequence));
    sql += "INSERT INTO case_sequences (day, last) SELECT $" + std::to_string(p.size() - 1) + "::integer, $" +
           std::to_string(p.size()) + std::string(kIfApplied) +
           " ON CONFLICT (day) DO UPDATE SET last = GREATEST(case_sequences.last, excluded.last))";
  }
  std::vector<Sealer::Value> sealed;
  sealed.reserve(r.events.size() + r.outbox.size() + 1);
  if (!r.events.empty()) {
    begin_part();
    sql += "INSERT INTO events (case_id, sequence, type, payload, recorded_at) SELECT $1, v.* FROM (VALUES ";
    append_rows(sql, p, r.events.size(), 4, [&](std::size_t i) {
      const auto& e = r.events[i];
      sealed.push_back(sealer_.seal(e.payload, "events.payload", r.case_id));
      p.add(to_sql(e.sequence)).add(e.type).add(sealed.back().bound()).add(e.recorded_at);
    });
    sql += ") AS v" + std::string(kIfApplied) + ")";
  }
  if (!r.snapshot.empty()) {
    begin_part();
    sealed.push_back(sealer_.seal(r.snapshot, "snapshots.snapshot", r.case_id));
    p.add(to_sql(s.version)).add(sealed.back().bound());
    sql += "INSERT INTO snapshots (case_id, version, snapshot) SELECT $1, $" + std::to_string(p.size() - 1) + ", $" +
           std::to_string(p.size()) + std::string(kIfApplied) +
           " ON CONFLICT (case_id) DO UPDATE SET version = excluded.version, snapshot = excluded.snapshot)";
  }
  if (!r.items.empty()) {
    // Inserted or updated by item id; an unchanged row is not rewritten (the WHERE).
    begin_part();
    sql += "INSERT INTO case_items (case_id, item_id, department, state, final, due_at, light, urged) "
           "SELECT $1, v.* FROM (VALUES ";
    append_rows(sql, p, r.items.size(), 7, [&](std::size_t i) {
      const auto& item = r.items[i];
      p.add(item.item_id).add(item.department).add(item.state).add(std::int64_t{item.final ? 1 : 0}).add(item.due_at);
      p.add(item.light).add(std::int64_t{item.urged ? 1 : 0});
    });
    sql += ") AS v" + std::string(kIfApplied) +
           " ON CONFLICT (case_id, item_id) DO UPDATE SET department = excluded.department, state = excluded.state, "
           "final = excluded.final, due_at = excluded.due_at, light = excluded.light, urged = excluded.urged "
           "WHERE (case_items.department, case_items.state, case_items.final, case_items.due_at, case_items.light, "
           "case_items.urged) IS DISTINCT FROM (excluded.department, excluded.state, excluded.final, excluded.due_at, "
           "excluded.light, excluded.urged))";
  }
  // A joint item's pending parts (case_item_parts) follow its row: the ones no longer pending
  // leave, the pending ones are inserted or take its due date. The two sets are disjoint, so
  // one statement may hold both.
  std::vector<const ItemRow*> joint;
  std::size_t part_rows = 0;
  for (const auto& item : r.items) {
    if (!item.joint) continue;
    joint.push_back(&item);
    part_rows += item.parts.size();
  }
  if (!joint.empty() && r.expected_version != 0) {
    begin_part();
    std::string items, kept;
    for (const auto* item : joint) {
      p.add(item->item_id);
      items += (items.empty() ? "$" : ", $") + std::to_string(p.size());
      for (const auto& department : item->parts) {
        p.add(item->item_id).add(department);
        kept += (kept.empty() ? "($" : ", ($") + std::to_string(p.size() - 1) + ", $" + std::to_string(p.size()) + ")";
      }
    }
    sql += "DELETE FROM case_item_parts WHERE case_id = $1 AND item_id IN (" + items + ")" +
           (kept.empty() ? std::string() : " AND (item_id, department) NOT IN (VALUES " + kept + ")") +
           " AND EXISTS (SELECT 1 FROM head))";
  }
  if (part_rows > 0) {
    begin_part();
    sql += "INSERT INTO case_item_parts (case_id, item_id, department, due_at) SELECT $1, v.* FROM (VALUES ";
    std::vector<std::pair<const ItemRow*, const std::string*>> rows;
    for (const auto* item : joint) {
      for (const auto& department : item->parts) rows.emplace_back(item, &department);
    }
    append_rows(sql, p, rows.size(), 3, [&](std::size_t i) { p.add(rows[i].first->item_id).add(*rows[i].second).add(rows[i].first->due_at); });
    sql += ") AS v" + std::string(kIfApplied) +
           " ON CONFLICT (case_id, item_id, department) DO UPDATE SET due_at = excluded.due_at "
           "WHERE case_item_parts.due_at <> excluded.due_at)";
  }
  // The blind index: keyed hashes only, never the names and numbers themselves.
  const auto in_list = [&](const std::vector<std::string>& values, auto transform) {
    std::string list;
    for (const auto& v : values) {
      p.add(transform(v));
      list += (list.empty() ? "$" : ", $") + std::to_string(p.size());
    }
    return list;
  };
  const auto blind = [&](const std::string& token) { return sealer_.blind(token); };
  const auto same = [](const std::string& v) { return v; };
  if (!r.remove_search_tokens.empty()) {
    begin_part();
    sql += "DELETE FROM search_tokens WHERE case_id = $1 AND token IN (" + in_list(r.remove_search_tokens, blind) + ") AND " +
           "EXISTS (SELECT 1 FROM head))";
  }
  if (!r.add_search_tokens.empty()) {
    begin_part();
    sql += "INSERT INTO search_tokens (token, case_id) SELECT v.token, $1 FROM (VALUES ";
    append_rows(sql, p, r.add_search_tokens.size(), 1, [&](std::size_t i) { p.add(blind(r.add_search_tokens[i])); });
    sql += ") AS v (token)" + std::string(kIfApplied) + " ON CONFLICT (token, case_id) DO NOTHING)";
  }
  if (!r.actor.empty()) {
    begin_part();
    p.add(r.actor);
    sql += "INSERT INTO case_actors (actor, case_id) SELECT $" + std::to_string(p.size()) + ", $1" + std::string(kIfApplied) +
           " ON CONFLICT (actor, case_id) DO NOTHING)";
  }
  if (!r.cancel_timers.empty()) {
    begin_part();
    sql += "DELETE FROM timers WHERE case_id = $1 AND timer_id IN (" + in_list(r.cancel_timers, same) +
           ") AND EXISTS (SELECT 1 FROM head))";
  }
  if (!r.set_timers.empty()) {
    begin_part();
    sql += "INSERT INTO timers (case_id, timer_id, due_at, payload) SELECT $1, v.* FROM (VALUES ";
    append_rows(sql, p, r.set_timers.size(), 3, [&](std::size_t i) {
      const auto& t = r.set_timers[i];
      p.add(t.timer_id).add(t.due_at).add(t.payload);
    });
    sql += ") AS v" + std::string(kIfApplied) +
           " ON CONFLICT (case_id, timer_id) DO UPDATE SET due_at = excluded.due_at, payload = excluded.payload, lease_until = 0 "
           "WHERE timers.due_at <> excluded.due_at OR timers.payload <> excluded.payload)";
  }
  if (!r.outbox.empty()) {
    // An idempotency key already present (a retried intent) keeps its first entry.
    begin_part();
    sql += "INSERT INTO outbox (case_id, idempotency_key, department, adapter, operation, payload, attempts, next_attempt_at, "
           "status, last_error) SELECT $1, v.* FROM (VALUES ";
    append_rows(sql, p, r.outbox.size(), 9, [&](std::size_t i) {
      const auto& o = r.outbox[i];
      sealed.push_back(sealer_.seal(o.payload, "outbox.payload", r.case_id));
      p.add(o.idempotency_key).add(o.department).add(o.adapter).add(o.operation).add(sealed.back().bound());
      p.add(std::int64_t{o.attempts}).add(o.next_attempt_at).add(o.status).add(o.last_error);
    });
    sql += ") AS v" + std::string(kIfApplied) + " ON CONFLICT (idempotency_key) DO NOTHING)";
  }
  if (!r.command_id.empty()) {
    begin_part();
    p.add(by_id_alone ? std::string() : r.case_id).add(r.command_id).add(to_sql(s.version)).add(r.result);
    const auto k = p.size() - 3;
    sql += "INSERT INTO commands (scope, command_id, case_id, version, result) SELECT $" + std::to_string(k) + ", $" +
           std::to_string(k + 1) + ", $1, $" + std::to_string(k + 2) + ", $" + std::to_string(k + 3) + std::string(kIfApplied) +
           ")";
  }
  sql += " SELECT COUNT(*) FROM head";
  if (pipelining_ && r.rewrite_events.empty() && r.rewrite_outbox.empty()) {
    // Into the batch's pipeline: answered as applied unless its result says otherwise, and
    // then it runs again alone (run_pipelined).
    if (auto sent = connection_->send(sql, p); !sent) return failed(sent.error());
    return CommitResult{false, s.version, r.result};
  }
  auto applied = run(sql, p);
  if (!applied) return std::unexpected(applied.error());
  if (applied->int64(0, 0) == 0) return refused();
  if (!r.rewrite_events.empty() || !r.rewrite_outbox.empty()) {
    wrote_ = true;  // a refused rewrite must undo the command's writes above
    if (auto done = rewrite(r); !done) return std::unexpected(done.error());
  }
  return CommitResult{false, s.version, r.result};
}

std::expected<void, StoreError> Writer::rewrite(const CommitRequest& r) {
  for (const auto& e : r.rewrite_events) {
    const auto payload = sealer_.seal(e.payload, "events.payload", r.case_id);
    auto done = run("UPDATE events SET payload = $1 WHERE case_id = $2 AND sequence = $3 AND type = $4",
                    params(payload.bound(), r.case_id, to_sql(e.sequence), e.type));
    if (!done) return std::unexpected(done.error());
    if (done->changed() != 1) {
      return fail(Kind::invalid, "case " + in_quotes(r.case_id) + " has no " + e.type + " event " +
                                     std::to_string(e.sequence) + " to rewrite");
    }
  }
  for (const auto& [id, text] : r.rewrite_outbox) {
    const auto payload = sealer_.seal(text, "outbox.payload", r.case_id);
    auto done = run("UPDATE outbox SET payload = $1 WHERE id = $2 AND case_id = $3", params(payload.bound(), to_sql(id), r.case_id));
    if (!done) return std::unexpected(done.error());
    if (done->changed() != 1) {
      return fail(Kind::invalid, "case " + in_quotes(r.case_id) + " has no outbox entry " + std::to_string(id));
    }
  }
  return {};
}

std::expected<void, StoreError> Writer::apply(const OutboxRecord& o) {
  auto done = run(kUpdateOutbox, params(o.status, std::int64_t{o.attempts}, o.next_attempt_at, o.last_error, to_sql(o.id)));
  if (!done) return std::unexpected(done.error());
  if (done->changed() == 0) return fail(Kind::not_found, "no outbox entry " + std::to_string(o.id));
  wrote_ = true;  // a later failure in the same round must undo this update
  return {};
}

std::expected<bool, StoreError> Writer::apply(const DeployedWorkflow& w) {
  auto found = run(kSelectWorkflowHash, params(w.bundle_id, std::int64_t{w.version}));
  if (!found) return std::unexpected(found.error());
  if (found->rows() > 0) {
    if (auto hash = found->text(0, 0); hash != w.source_hash) {
      return fail(Kind::invalid, "bundle " + in_quotes(w.bundle_id) + " version " + std::to_string(w.version) +
                                     " is already deployed with another source (hash " + hash + ", not " + w.source_hash +
                                     "); deploy the change as a new version");
    }
    return false;
  }
  auto inserted = run(kInsertWorkflow, params(w.bundle_id, std::int64_t{w.version}, w.source_hash, w.source, w.deployed_at));
  if (!inserted) {
    // Another node deployed the same version meanwhile: the same source is a no-op.
    if (last_sqlstate_ == "23505" && connection_->ok() && in_savepoint_) {
      if (auto undone = connection_->simple("ROLLBACK TO SAVEPOINT job"); !undone) return failed(undone.error());
      return apply(w);
    }
    return std::unexpected(inserted.error());
  }
  return true;
}

std::expected<void, StoreError> Writer::index_case(const std::string& case_id, const std::vector<std::string>& tokens,
                                                   const std::vector<std::string>& actors) {
  for (const auto& token : tokens) {
    if (auto done = run(kInsertToken, params(sealer_.blind(token), case_id)); !done) return std::unexpected(done.error());
  }
  for (const auto& actor : actors) {
    if (auto done = run(kInsertActor, params(actor, case_id)); !done) return std::unexpected(done.error());
  }
  if (auto done = run(kMarkIndexed, params(case_id)); !done) return std::unexpected(done.error());
  return {};
}

// ---------------------------------------------------------------------------------------
// The store.

class PostgresStore final : public Store {
 public:
  PostgresStore(const std::string& url, const PostgresOptions& options, const sealing::IndexKey& index_key,
                std::unique_ptr<Connection> writer)
      : url_(url), sealer_(options.keys, index_key), writer_(url, std::move(writer), options.max_batch, sealer_) {}

  ~PostgresStore() override { writer_.stop(); }

  void start() { writer_.start(); }
  PostgresStoreStats stats() const { return writer_.stats(); }

  std::expected<CommitResult, StoreError> commit(const CommitRequest& request) override {
    return store_common::commit_through(writer_, request);
  }

  std::expected<std::optional<StoredCase>, StoreError> load_case(const std::string& case_id) override {
    using Found = std::optional<StoredCase>;
    return read<Found>([&](Connection& c) -> std::expected<Found, StoreError> {
      // The case row and its snapshot come from one statement; the events up to the row's
      // version are committed and never change, so a second statement reads the same state.
      auto row = c.run(kSelectCase, params(case_id));
      if (!row) return failed(row.error());
      if (row->rows() == 0) return Found{};
      StoredCase stored;
      stored.summary = read_summary(*row, 0);
      stored.snapshot_version = row->uint64(0, 9);
      if (!row->null(0, 10)) {
        auto snapshot = sealer_.open(row->bytes(0, 10), "snapshots.snapshot", case_id);
        if (!snapshot) return std::unexpected(snapshot.error());
        stored.snapshot = std::move(*snapshot);
      }
      auto events = read_events(c, case_id, stored.snapshot_version, stored.summary.version);
      if (!events) return std::unexpected(events.error());
      stored.events = std::move(*events);
      return Found{std::move(stored)};
    });
  }

  std::expected<std::vector<StoredEvent>, StoreError> load_events(const std::string& case_id) override {
    using Events = std::vector<StoredEvent>;
    return read<Events>([&](Connection& c) -> std::expected<Events, StoreError> {
      auto row = c.run(kSelectVersion, params(case_id));
      if (!row) return failed(row.error());
      if (row->rows() == 0) return Events{};
      return read_events(c, case_id, 0, row->uint64(0, 0));
    });
  }

  std::expected<std::vector<CaseSummary>, StoreError> list_cases(const CaseQuery& q) override {
    using Cases = std::vector<CaseSummary>;
    return read<Cases>([&](Connection& c) -> std::expected<Cases, StoreError> {
      DynamicQuery query = case_query(std::string("SELECT ") + kCaseColumns, blinded(q));
      query.sql += " ORDER BY c.started_at DESC, c.case_id LIMIT ? OFFSET ?";
      query.params.emplace_back(to_sql(q.limit));
      query.params.emplace_back(to_sql(q.offset));
      auto [sql, p] = numbered(query);
      auto rows = c.run(sql, p);
      if (!rows) return failed(rows.error());
      Cases out;
      for (int i = 0; i < rows->rows(); ++i) out.push_back(read_summary(*rows, i));
      return out;
    });
  }

  std::expected<std::uint64_t, StoreError> count_cases(const CaseQuery& q) override {
    return read<std::uint64_t>([&](Connection& c) {
      return count(c, store_common::capped(case_query("SELECT 1", blinded(q)), q.limit));
    });
  }

  std::expected<std::vector<WorklistEntry>, StoreError> worklist(const CaseQuery& q) override {
    using Entries = std::vector<WorklistEntry>;
    // Items with a deadline first, earliest first, then those without one (as on SQLite).
    return read<Entries>([&](Connection& c) -> std::expected<Entries, StoreError> {
      auto rows = [&](const DynamicQuery& query) -> std::expected<Entries, StoreError> {
        auto [sql, p] = numbered(query);
        auto result = c.run(sql, p);
        if (!result) return failed(result.error());
        Entries out;
        for (int i = 0; i < result->rows(); ++i) {
          WorklistEntry e;
          e.case_id = result->text(i, 0);
          e.bundle_id = result->text(i, 1);
          e.item = ItemRow{result->text(i, 2), result->text(i, 3), result->text(i, 4), result->int64(i, 5) != 0,
                           result->int64(i, 6), result->text(i, 7), result->int64(i, 8) != 0};
          e.part = result->text(i, 9);
          out.push_back(std::move(e));
        }
        return out;
      };
      return store_common::worklist_page(q, rows, [&](const DynamicQuery& query) { return count(c, query); });
    });
  }

  std::expected<std::uint64_t, StoreError> count_worklist(const CaseQuery& q) override {
    return read<std::uint64_t>([&](Connection& c) {
      return store_common::worklist_count(q, [&](const DynamicQuery& query) { return count(c, query); });
    });
  }

  std::expected<std::vector<std::string>, StoreError> unindexed_cases(std::size_t limit) override {
    using Ids = std::vector<std::string>;
    return read<Ids>([&](Connection& c) -> std::expected<Ids, StoreError> {
      auto rows = c.run("SELECT case_id FROM cases WHERE indexed = 0 ORDER BY case_id LIMIT $1", params(to_sql(limit)));
      if (!rows) return failed(rows.error());
      Ids out;
      for (int i = 0; i < rows->rows(); ++i) out.push_back(rows->text(i, 0));
      return out;
    });
  }

  std::expected<void, StoreError> index_case(const std::string& case_id, const std::vector<std::string>& tokens,
                                             const std::vector<std::string>& actors) override {
    return guarded<void>([&]() { return write<void>([&](Writer& w) { return w.index_case(case_id, tokens, actors); }); });
  }

  std::expected<std::optional<CommitResult>, StoreError> find_command(const std::string& case_id,
                                                                      const std::string& command_id) override {
    using Found = std::optional<CommitResult>;
    return read<Found>([&](Connection& c) -> std::expected<Found, StoreError> {
      auto record = find_record(c, case_id, command_id);
      if (!record) return std::unexpected(record.error());
      if (!*record) return Found{};
      return Found{(*record)->result};
    });
  }

  std::expected<std::vector<TimerRecord>, StoreError> due_timers(Timestamp now, std::size_t limit) override {
    using Timers = std::vector<TimerRecord>;
    return read<Timers>([&](Connection& c) -> std::expected<Timers, StoreError> {
      auto rows = c.run(kDueTimers, params(std::int64_t{now}, to_sql(limit)));
      if (!rows) return failed(rows.error());
      Timers out;
      for (int i = 0; i < rows->rows(); ++i) {
        out.push_back(TimerRecord{rows->text(i, 0), rows->text(i, 1), rows->int64(i, 2), rows->text(i, 3)});
      }
      return out;
    });
  }

  std::expected<std::vector<OutboxRecord>, StoreError> pending_outbox(Timestamp now, std::size_t limit) override {
    using Records = std::vector<OutboxRecord>;
    return read<Records>([&](Connection& c) -> std::expected<Records, StoreError> {
      auto rows = c.run(std::string(kOutboxColumns) + "WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY id LIMIT $2",
                        params(std::int64_t{now}, to_sql(limit)));
      if (!rows) return failed(rows.error());
      return outbox_rows(sealer_, *rows);
    });
  }

  std::expected<std::vector<OutboxRecord>, StoreError> claim_outbox(Timestamp now, std::size_t limit,
                                                                    std::chrono::milliseconds lease) override {
    using Records = std::vector<OutboxRecord>;
    return claim<Records>([&](Connection& c) -> std::expected<Records, StoreError> {
      auto rows = c.run(kClaimOutbox, params(std::int64_t{now}, to_sql(limit), static_cast<std::int64_t>(lease.count())));
      if (!rows) return failed(rows.error());
      auto records = outbox_rows(sealer_, *rows);
      if (records) std::sort(records->begin(), records->end(), [](const auto& a, const auto& b) { return a.id < b.id; });
      return records;
    });
  }

  std::expected<std::vector<TimerRecord>, StoreError> claim_due_timers(Timestamp now, std::size_t limit,
                                                                       std::chrono::milliseconds lease) override {
    using Timers = std::vector<TimerRecord>;
    return claim<Timers>([&](Connection& c) -> std::expected<Timers, StoreError> {
      auto rows = c.run(kClaimTimers, params(std::int64_t{now}, to_sql(limit), static_cast<std::int64_t>(lease.count())));
      if (!rows) return failed(rows.error());
      Timers out;
      for (int i = 0; i < rows->rows(); ++i) {
        out.push_back(TimerRecord{rows->text(i, 0), rows->text(i, 1), rows->int64(i, 2), rows->text(i, 3)});
      }
      std::sort(out.begin(), out.end(), [](const TimerRecord& a, const TimerRecord& b) {
        return std::tie(a.due_at, a.case_id, a.timer_id) < std::tie(b.due_at, b.case_id, b.timer_id);
      });
      return out;
    });
  }

  std::expected<std::vector<OutboxRecord>, StoreError> list_outbox(const std::string& case_id, const std::string& status,
                                                                  std::size_t limit) override {
    using Records = std::vector<OutboxRecord>;
    return read<Records>([&](Connection& c) -> std::expected<Records, StoreError> {
      auto rows = case_id.empty()
                      ? c.run(std::string(kOutboxColumns) + "WHERE ($1 = '' OR status = $1) ORDER BY id LIMIT $2",
                              params(status, to_sql(limit)))
                      : c.run(std::string(kOutboxColumns) + "WHERE case_id = $1 AND ($2 = '' OR status = $2) ORDER BY id LIMIT $3",
                              params(case_id, status, to_sql(limit)));
      if (!rows) return failed(rows.error());
      return outbox_rows(sealer_, *rows);
    });
  }

  std::expected<void, StoreError> update_outbox(const OutboxRecord& record) override {
    return store_common::update_outbox_through(writer_, record);
  }

  std::expected<void, StoreError> update_outbox_many(const std::vector<OutboxRecord>& records) override {
    return store_common::update_outbox_many_through(writer_, records);
  }

  std::expected<std::uint64_t, StoreError> last_case_number(std::int32_t day) override {
    return read<std::uint64_t>([&](Connection& c) -> std::expected<std::uint64_t, StoreError> {
      auto rows = c.run("SELECT last FROM case_sequences WHERE day = $1::bigint", params(std::int64_t{day}));
      if (!rows) return failed(rows.error());
      return rows->rows() > 0 ? rows->uint64(0, 0) : std::uint64_t{0};
    });
  }

  std::expected<bool, StoreError> deploy(const DeployedWorkflow& workflow) override {
    return store_common::deploy_through(writer_, workflow);
  }

  std::expected<std::uint64_t, StoreError> deployed_versions() override {
    return read<std::uint64_t>([&](Connection& c) -> std::expected<std::uint64_t, StoreError> {
      auto rows = c.run("SELECT COUNT(*) FROM workflows", Params{});
      if (!rows) return failed(rows.error());
      return rows->rows() > 0 ? rows->uint64(0, 0) : std::uint64_t{0};
    });
  }

  std::expected<std::vector<DeployedWorkflow>, StoreError> list_workflows() override {
    using Workflows = std::vector<DeployedWorkflow>;
    return read<Workflows>([&](Connection& c) -> std::expected<Workflows, StoreError> {
      auto rows = c.run(kListWorkflows, Params{});
      if (!rows) return failed(rows.error());
      Workflows out;
      for (int i = 0; i < rows->rows(); ++i) {
        out.push_back(DeployedWorkflow{rows->text(i, 0), static_cast<int>(rows->int64(i, 1)), rows->text(i, 2),
                                       rows->text(i, 3), rows->int64(i, 4), rows->uint64(i, 5)});
      }
      return out;
    });
  }

  std::expected<std::vector<DeployedWorkflow>, StoreError> list_deployed() override {
    using Workflows = std::vector<DeployedWorkflow>;
    return read<Workflows>([&](Connection& c) -> std::expected<Workflows, StoreError> {
      auto rows = c.run(kListDeployed, Params{});
      if (!rows) return failed(rows.error());
      Workflows out;
      for (int i = 0; i < rows->rows(); ++i) {
        out.push_back(DeployedWorkflow{rows->text(i, 0), static_cast<int>(rows->int64(i, 1)), rows->text(i, 2), "", rows->int64(i, 3), 0});
      }
      return out;
    });
  }

  std::expected<std::optional<DeployedWorkflow>, StoreError> load_workflow(const std::string& bundle_id, int version) override {
    using Found = std::optional<DeployedWorkflow>;
    return read<Found>([&](Connection& c) -> std::expected<Found, StoreError> {
      auto rows = c.run(kLoadWorkflow, params(bundle_id, std::int64_t{version}));
      if (!rows) return failed(rows.error());
      if (rows->rows() == 0) return Found{};
      return Found{DeployedWorkflow{rows->text(0, 0), static_cast<int>(rows->int64(0, 1)), rows->text(0, 2), rows->text(0, 3),
                                    rows->int64(0, 4), 0}};
    });
  }

 private:
  // A case's events after sequence `after` up to `version`, in order. A history that does
  // not hold exactly those is damaged: an error, never a shorter history.
  std::expected<std::vector<StoredEvent>, StoreError> read_events(Connection& c, const std::string& case_id, std::uint64_t after,
                                                                  std::uint64_t version) const {
    std::vector<StoredEvent> events;
    if (after >= version) return events;
    auto rows = c.run(kSelectEvents, params(case_id, to_sql(after), to_sql(version)));
    if (!rows) return failed(rows.error());
    for (int i = 0; i < rows->rows(); ++i) {
      auto clear = sealer_.open(rows->bytes(i, 2), "events.payload", case_id);
      if (!clear) return std::unexpected(clear.error());
      events.push_back(StoredEvent{rows->uint64(i, 0), rows->text(i, 1), std::move(*clear), rows->int64(i, 3)});
      if (events.back().sequence != after + events.size()) break;
    }
    if (events.size() != version - after || (!events.empty() && events.back().sequence != version)) {
      return fail(Kind::corrupt, "case " + in_quotes(case_id) + ": its history is damaged (events " + std::to_string(after + 1) +
                                     " to " + std::to_string(version) + " expected, " + std::to_string(events.size()) +
                                     " in order found)");
    }
    return events;
  }

  static std::expected<std::uint64_t, StoreError> count(Connection& c, const DynamicQuery& query) {
    auto [sql, p] = numbered(query);
    auto rows = c.run(sql, p);
    if (!rows) return failed(rows.error());
    return rows->rows() > 0 ? rows->uint64(0, 0) : 0;
  }

  CaseQuery blinded(const CaseQuery& q) const {
    CaseQuery out = q;
    if (out.any_token) {
      for (auto& token : *out.any_token) token = sealer_.blind(token);
    }
    return out;
  }

  template <typename T>
  std::expected<T, StoreError> write(Writer::Body<T> body) {
    return writer_.write<T>(std::move(body));
  }

  // A claim is its own short transaction on a pooled connection (autocommit: one statement),
  // apart from the writer's batches, so a claim never waits for a batch nor a batch for it.
  template <typename T, typename F>
  std::expected<T, StoreError> claim(F&& body) noexcept {
    return read<T>(std::forward<F>(body));
  }

  // Runs `body` on a pooled connection; one that saw an error is closed rather than pooled.
  template <typename T, typename F>
  std::expected<T, StoreError> read(F&& body) noexcept {
    return guarded<T>([&]() -> std::expected<T, StoreError> {
      std::unique_ptr<Connection> connection;
      {
        std::lock_guard lock(readers_mutex_);
        if (!readers_.empty()) {
          connection = std::move(readers_.back());
          readers_.pop_back();
        }
      }
      if (!connection) {
        auto opened = Connection::open(url_);
        if (!opened) return std::unexpected(opened.error());
        connection = std::move(*opened);
      }
      std::expected<T, StoreError> result = body(*connection);
      if (result.has_value() && connection->ok()) {
        std::lock_guard lock(readers_mutex_);
        if (readers_.size() < kMaxIdleReaders) readers_.push_back(std::move(connection));
      }
      return result;
    });
  }

  const std::string url_;
  const Sealer sealer_;
  std::mutex readers_mutex_;
  std::vector<std::unique_ptr<Connection>> readers_;
  Writer writer_;
};

// ---------------------------------------------------------------------------------------
// Opening: ownership, migration, keys: in one transaction under an advisory lock, so that
// nodes opening one database together do it once.

std::expected<std::optional<std::string>, StoreError> meta_value(Connection& c, const char* key) {
  auto rows = c.run("SELECT value FROM meta WHERE key = $1", params(std::string(key)));
  if (!rows) return failed(rows.error());
  if (rows->rows() == 0) return std::optional<std::string>{};
  return std::optional<std::string>{rows->text(0, 0)};
}

std::expected<sealing::IndexKey, StoreError> prepare_schema(Connection& c, const std::string& where,
                                                            const std::shared_ptr<const AtRestKeys>& given) {
  const AtRestKeys* keys = given && !given->empty() ? given.get() : nullptr;
  if (auto begun = c.simple("BEGIN"); !begun) return failed(begun.error());
  auto rollback = [&c](StoreError error) -> std::expected<sealing::IndexKey, StoreError> {
    c.simple("ROLLBACK");
    return std::unexpected(std::move(error));
  };
  // One lock per schema: the key is the schema's name hashed.
  if (auto locked = c.run("SELECT pg_advisory_xact_lock(hashtext('onevisit:' || current_schema()))", Params{}); !locked) {
    return rollback(locked.error().error);
  }
  auto inspected = c.run(
      "SELECT current_schema(), to_regclass('meta') IS NOT NULL, "
      "(SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema())",
      Params{});
  if (!inspected) return rollback(inspected.error().error);
  if (inspected->null(0, 0)) {
    return rollback(make_error(Kind::invalid, where + ": no schema to create the tables in (search_path names none that exists)"));
  }
  const std::string schema = inspected->text(0, 0);
  const bool has_meta = inspected->int64(0, 1) != 0;
  const auto tables = inspected->int64(0, 2);
  std::int64_t from = 0;
  if (!has_meta && tables > 0) {
    return rollback(make_error(Kind::foreign, where + ": schema " + in_quotes(schema) + " already holds " + std::to_string(tables) +
                                                  " tables and is not an onevisit database (no onevisit meta table)"));
  }
  if (has_meta) {
    auto application = meta_value(c, "application");
    if (!application) return rollback(application.error());
    if (*application != std::optional<std::string>{"onevisit"}) {
      return rollback(make_error(Kind::foreign, where + ": schema " + in_quotes(schema) + " is not an onevisit database"));
    }
    auto version = meta_value(c, "schema_version");
    if (!version) return rollback(version.error());
    try {
      from = *version ? std::stoll(**version) : 0;
    } catch (...) {
      from = 0;
    }
    if (from <= 0) return rollback(make_error(Kind::corrupt, where + ": the onevisit meta table has no schema version"));
    if (from > kSchemaVersion) {
      return rollback(make_error(Kind::foreign, where + " has onevisit PostgreSQL schema version " + std::to_string(from) +
                                                    ", newer than this build reads (" + std::to_string(kSchemaVersion) +
                                                    "); open it with a newer onevisit"));
    }
  }
  for (const auto& m : kMigrations) {
    if (m.version <= from) continue;
    if (auto done = c.simple(m.sql); !done) {
      return rollback(make_error(done.error().error.kind, "migrating " + where + " to schema version " + std::to_string(m.version) +
                                                              ": " + done.error().error.message));
    }
  }
  if (from < kSchemaVersion) {
    if (auto done = c.run("INSERT INTO meta (key, value) VALUES ('schema_version', convert_to($1, 'UTF8')) "
                          "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                          params(std::to_string(kSchemaVersion)));
        !done) {
      return rollback(done.error().error);
    }
  }
  // The keys personal data was sealed under must all be given, and be the same keys
  // (docs/storage.md, Encryption at rest: the same rule as the SQLite store).
  auto recorded = c.run("SELECT substr(key, 5), value FROM meta WHERE key LIKE 'key:%' ORDER BY key", Params{});
  if (!recorded) return rollback(recorded.error().error);
  bool current_recorded = false;
  for (int i = 0; i < recorded->rows(); ++i) {
    const auto id = recorded->text(i, 0);
    const AtRestKey* key = keys != nullptr ? keys->find(id) : nullptr;
    if (key == nullptr) {
      return rollback(make_error(Kind::locked, where + " holds personal data encrypted under key " + in_quotes(id) +
                                                   (keys == nullptr ? ", and no keys were given" : ", which the configuration does not give") +
                                                   " ([storage.keys]; docs/storage.md, Encryption at rest)"));
    }
    if (AtRestKeys::check_value(*key) != recorded->text(i, 1)) {
      return rollback(make_error(Kind::locked, "the key configured as " + in_quotes(id) + " is not the key " + where +
                                                   " was encrypted with under that id"));
    }
    current_recorded = current_recorded || id == keys->current().id;
  }
  if (keys != nullptr && !current_recorded) {
    if (auto done = c.run("INSERT INTO meta (key, value) VALUES ($1, convert_to($2, 'UTF8'))",
                          params("key:" + keys->current().id, AtRestKeys::check_value(keys->current())));
        !done) {
      return rollback(done.error().error);
    }
  }
  // The search index's key: made at the first open, sealed under the current key.
  const Sealer sealer(given);
  auto stored = meta_value(c, "search_key");
  if (!stored) return rollback(stored.error());
  sealing::IndexKey index_key{};
  static constexpr char kHex[] = "0123456789abcdef";
  if (*stored) {
    auto hex = sealer.open(**stored, "meta.search_key", "");
    if (!hex) return rollback(hex.error());
    if (hex->size() != index_key.size() * 2) return rollback(make_error(Kind::corrupt, where + ": the search index key is damaged"));
    const auto nibble = [](char ch) { return ch >= 'a' ? ch - 'a' + 10 : ch - '0'; };
    for (std::size_t i = 0; i < index_key.size(); ++i) {
      index_key[i] = static_cast<unsigned char>(nibble((*hex)[2 * i]) * 16 + nibble((*hex)[2 * i + 1]));
    }
  } else {
    index_key = sealing::random_index_key();
    std::string hex;
    for (const unsigned char b : index_key) {
      hex.push_back(kHex[b >> 4]);
      hex.push_back(kHex[b & 15]);
    }
    const auto sealed = sealer.seal(hex, "meta.search_key", "");
    if (auto done = c.run("INSERT INTO meta (key, value) VALUES ('search_key', $1)", params(sealed.bound())); !done) {
      return rollback(done.error().error);
    }
  }
  if (auto committed = c.simple("COMMIT"); !committed) return rollback(committed.error().error);
  return index_key;
}

std::expected<std::unique_ptr<Store>, StoreError> open_store(const std::string& url, const PostgresOptions& options) {
  if (!is_postgres_url(url)) {
    return fail(Kind::invalid, "a PostgreSQL database is named by a URL postgresql://…, not " + in_quotes(Connection::redacted(url)));
  }
  auto connection = Connection::open(url);
  if (!connection) return std::unexpected(connection.error());
  auto index_key = prepare_schema(**connection, "PostgreSQL database " + Connection::redacted(url), options.keys);
  if (!index_key) return std::unexpected(index_key.error());
  auto store = std::make_unique<PostgresStore>(url, options, *index_key, std::move(*connection));
  store->start();
  return store;
}

// ---------------------------------------------------------------------------------------
// Uploaded contents (content_store.hpp) in the database the nodes share: a content is its
// SHA-256, its size and its chunks of at most kChunkBytes (a row stays well under the 1 GB a
// bytea can hold, and a get never needs one huge allocation on the server). Each chunk is
// sealed on its own when there are keys, bound to its content and place. A get reads the
// chunks in order, checks their count and sizes against the content's row, and the whole
// against its hash: damaged bytes are never served.

constexpr std::size_t kChunkBytes = 1 << 20;

class PostgresContentStore final : public ContentStore {
 public:
  PostgresContentStore(std::string url, std::unique_ptr<Connection> connection, std::shared_ptr<const AtRestKeys> keys)
      : url_(std::move(url)), connection_(std::move(connection)), keys_(keys && !keys->empty() ? std::move(keys) : nullptr) {}

  std::expected<std::string, StoreError> put(std::string_view content) override {
    std::string hash = sha256_hex(content);
    std::lock_guard lock(mutex_);
    auto c = connection();
    if (!c) return std::unexpected(c.error());
    auto& conn = **c;
    const std::size_t chunks = content.empty() ? 1 : (content.size() + kChunkBytes - 1) / kChunkBytes;
    if (auto begun = conn.simple("BEGIN"); !begun) return std::unexpected(begun.error().error);
    // The kind is the statement's: a lost connection stays `unavailable`, for a retry.
    const auto rollback = [&](const StoreError& error) -> std::expected<std::string, StoreError> {
      conn.simple("ROLLBACK");
      return std::unexpected(StoreError{error.kind, "cannot store content " + hash + ": " + error.message});
    };
    auto head = conn.run("INSERT INTO contents (sha256, size, chunks) VALUES ($1, $2, $3::bigint) ON CONFLICT (sha256) DO NOTHING",
                         params(hash, static_cast<std::int64_t>(content.size()), static_cast<std::int64_t>(chunks)));
    if (!head) return rollback(head.error().error);
    if (head->changed() > 0) {
      for (std::size_t i = 0; i < chunks; ++i) {
        const auto part = content.substr(std::min(content.size(), i * kChunkBytes), kChunkBytes);
        const std::string sealed = keys_ ? sealing::seal(keys_->current(), part, place_of(hash, i)) : std::string();
        auto done = conn.run("INSERT INTO content_chunks (sha256, chunk, bytes) VALUES ($1, $2::bigint, $3)",
                             params(hash, static_cast<std::int64_t>(i), store_common::SealedBytes{keys_ ? std::string_view(sealed) : part}));
        if (!done) return rollback(done.error().error);
      }
    }
    if (auto committed = conn.simple("COMMIT"); !committed) return rollback(committed.error().error);
    return hash;
  }

  std::expected<std::optional<std::string>, StoreError> get(std::string_view hash) const override {
    if (!is_sha256_hex(hash)) return fail(Kind::invalid, "'" + std::string(hash.substr(0, 80)) + "' is not a SHA-256 in hex");
    std::lock_guard lock(mutex_);
    auto c = connection();
    if (!c) return std::unexpected(c.error());
    auto rows = (*c)->run(
        "SELECT h.size, h.chunks, k.chunk, k.bytes FROM contents h LEFT JOIN content_chunks k ON k.sha256 = h.sha256 "
        "WHERE h.sha256 = $1 ORDER BY k.chunk",
        params(std::string(hash)));
    if (!rows) return std::unexpected(rows.error().error);
    if (rows->rows() == 0) return std::optional<std::string>{};
    const auto damaged = [&] {
      return fail(Kind::corrupt, "stored content " + std::string(hash) + " is damaged: its chunks no longer match its hash");
    };
    const auto expected_chunks = rows->int64(0, 1);
    if (rows->rows() != expected_chunks) return damaged();
    std::string content;
    content.reserve(static_cast<std::size_t>(rows->int64(0, 0)));
    for (int i = 0; i < rows->rows(); ++i) {
      if (rows->null(i, 2) || rows->int64(i, 2) != i) return damaged();
      const auto stored = rows->bytes(i, 3);
      if (sealing::is_sealed(stored)) {
        static const AtRestKeys kNone;
        auto clear = sealing::open(keys_ ? *keys_ : kNone, stored, place_of(hash, static_cast<std::size_t>(i)));
        if (!clear) {
          const bool unknown_key = clear.error().kind == sealing::OpenError::Kind::unknown_key;
          return fail(unknown_key ? Kind::locked : Kind::corrupt,
                      unknown_key ? "stored content " + std::string(hash) + " is encrypted under key '" + clear.error().key_id +
                                           "', which this engine was not given ([storage.keys] of the configuration)"
                                     : "stored content " + std::string(hash) + " is sealed but does not open: damaged or moved");
        }
        content += *clear;
      } else {
        content += stored;
      }
    }
    if (content.size() != static_cast<std::size_t>(rows->int64(0, 0)) || sha256_hex(content) != hash) return damaged();
    return std::optional<std::string>(std::move(content));
  }

 private:
  static std::string place_of(std::string_view hash, std::size_t chunk) {
    return "contents/" + std::string(hash) + "/" + std::to_string(chunk);
  }
  // The connection, made again when the last one was lost. REQUIRES: mutex_ held.
  std::expected<Connection*, StoreError> connection() const {
    if (!connection_ || !connection_->ok()) {
      auto opened = Connection::open(url_);
      if (!opened) return std::unexpected(opened.error());
      connection_ = std::move(*opened);
    }
    return connection_.get();
  }

  const std::string url_;
  mutable std::mutex mutex_;
  mutable std::unique_ptr<Connection> connection_;
  std::shared_ptr<const AtRestKeys> keys_;
};

}  // namespace

std::expected<std::unique_ptr<ContentStore>, std::string> make_postgres_content_store(const std::string& url,
                                                                                      std::shared_ptr<const AtRestKeys> keys) {
  if (!is_postgres_url(url)) return std::unexpected("a PostgreSQL database is named by a URL postgresql://…");
  auto connection = Connection::open(url);
  if (!connection) return std::unexpected(connection.error().message);
  // The tables are the store's: made by open_postgres_store, which the engine opens first.
  auto found = (*connection)->run("SELECT to_regclass('content_chunks') IS NOT NULL", Params{});
  if (!found) return std::unexpected(found.error().error.message);
  if (found->int64(0, 0) == 0) {
    return std::unexpected("PostgreSQL database " + Connection::redacted(url) + " has no onevisit tables (open the store first)");
  }
  return std::make_unique<PostgresContentStore>(url, std::move(*connection), std::move(keys));
}

bool is_postgres_url(std::string_view database) {
  return database.starts_with("postgresql://") || database.starts_with("postgres://");
}

std::expected<std::unique_ptr<Store>, StoreError> open_postgres_store(const std::string& url, const PostgresOptions& options) {
  return guarded<std::unique_ptr<Store>>([&] { return open_store(url, options); });
}

std::optional<PostgresStoreStats> postgres_store_stats(const Store& store) {
  if (const auto* postgres = dynamic_cast<const PostgresStore*>(&store)) return postgres->stats();
  return std::nullopt;
}

}  // namespace onevisit::engine
