// The SQLite store (docs/storage.md): one write connection owned by a writer thread that
// group-commits requests, and a small pool of read-only connections for queries.
//
// Write path. commit(), update_outbox() and deploy() validate their request, queue it as a
// job with a promise, and wait. The writer thread takes every queued job (up to max_batch),
// opens one BEGIN IMMEDIATE transaction and runs each job in its own SAVEPOINT: a job that
// ends in an error (a version conflict, a refused deploy, a failed statement) rolls back to
// its savepoint and leaves the other jobs of the batch alone. One COMMIT (one fsync of the
// WAL with synchronous=FULL) makes the whole batch durable; only then are the promises
// fulfilled, so a caller never sees a result that a crash could take back.
//
// Read path. Queries run on read-only connections from a pool guarded by a mutex; in WAL mode
// a reader sees the last committed state and never waits for the writer.
//
// Open. Nothing is written to a file before it is known to be ours: the header, the
// application id, the schema version and PRAGMA quick_check are read first; a file that
// fails any of them is refused and left as it was. Then WAL mode is set and the schema is
// migrated forward in one transaction.
#include "sqlite_store.hpp"

#include "sealing.hpp"
#include "sqlite_connection.hpp"
#include "store_common.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <variant>

#include <pthread.h>

namespace onevisit::engine {
namespace {

using sqlite::Bytes;
using sqlite::Connection;
using sqlite::OptionalText;
using sqlite::Statement;
using sqlite::to_sql;
using Kind = StoreError::Kind;
using store_common::capped;
using store_common::case_query;
using store_common::command_name;
using store_common::CasePlan;
using store_common::DynamicQuery;
using store_common::fail;
using store_common::in_quotes;
using store_common::kFewCases;
using store_common::make_error;
using store_common::place_of;
using store_common::Sealer;
using store_common::validate;
using store_common::worklist_query;

// PRAGMA application_id of every onevisit database: "ONEV" in ASCII.
constexpr std::int64_t kApplicationId = 0x4F4E4556;
// PRAGMA user_version: the schema version this build creates and reads (docs/storage.md).
constexpr std::int64_t kSchemaVersion = 8;
// Idle read connections kept open; more are opened under load and closed when released.
constexpr std::size_t kMaxIdleReaders = 8;
// Per-connection settings of the write connection. synchronous=FULL: every COMMIT fsyncs
// the WAL before it returns. temp_store=MEMORY keeps the statement journals of the
// per-request savepoints in memory (by default they spill to a temporary file: measured
// 4.5 KB of extra disk writes per commit). journal_size_limit truncates the WAL back to
// 64 MiB after a checkpoint, so a burst does not leave a large file behind. secure_delete=FAST
// zeroes what an update or delete frees inside a page it writes anyway (no extra I/O), so an
// outbox payload rewritten by a status change leaves no old copy in the page's free space.
// WAL frames (pages) after which the checkpointer copies the WAL back into the database file
// (32 MiB). SQLite's own automatic checkpoint (at 1000) is off on the write connection: it
// runs inside the COMMIT that crosses the mark, and every caller of that batch would wait for
// it. A checkpoint copies each page once however many versions of it the WAL holds, so a
// longer WAL copies less per commit: 8000 took 10-20 % of the CPU per commit off 1000
// (docs/storage.md).
constexpr int kCheckpointFrames = 8000;
constexpr const char* kConfigureWriter =
    "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; "
    "PRAGMA journal_size_limit = 67108864; PRAGMA secure_delete = FAST;";



int busy_timeout_ms(const SqliteOptions& options) {
  return static_cast<int>(std::clamp<std::int64_t>(options.busy_timeout.count(), 0, 1 << 30));
}

// ---------------------------------------------------------------------------------------
// Schema and migrations. Portable SQL: TEXT, INTEGER and BIGINT columns only (BIGINT has
// INTEGER affinity in SQLite and is 64-bit in PostgreSQL, where INTEGER is 32-bit), upserts
// with ON CONFLICT. The one dialect difference is outbox.id: `INTEGER PRIMARY KEY` is
// SQLite's auto-assigned rowid, `BIGINT GENERATED ALWAYS AS IDENTITY` in PostgreSQL.
// Migration N takes a database from schema version N-1 to N; never edit a released one.

struct Migration {
  std::int64_t version;
  const char* sql;
};

constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
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
  snapshot TEXT NOT NULL
);
CREATE INDEX cases_by_bundle ON cases (bundle_id, bundle_version);
CREATE INDEX cases_by_status ON cases (status, started_at);
CREATE INDEX cases_by_start ON cases (started_at);
CREATE TABLE events (
  case_id TEXT NOT NULL REFERENCES cases (case_id),
  sequence BIGINT NOT NULL CHECK (sequence > 0),
  type TEXT NOT NULL,
  payload TEXT NOT NULL,
  recorded_at BIGINT NOT NULL,
  PRIMARY KEY (case_id, sequence)
);
CREATE TABLE commands (
  command_id TEXT PRIMARY KEY,
  case_id TEXT NOT NULL REFERENCES cases (case_id),
  version BIGINT NOT NULL,
  result TEXT NOT NULL
);
CREATE TABLE case_items (
  case_id TEXT NOT NULL REFERENCES cases (case_id),
  item_id TEXT NOT NULL,
  department TEXT NOT NULL,
  state TEXT NOT NULL,
  final INTEGER NOT NULL CHECK (final IN (0, 1)),
  due_at BIGINT NOT NULL,
  light TEXT NOT NULL,
  PRIMARY KEY (case_id, item_id)
);
CREATE INDEX case_items_open_by_department ON case_items (department, due_at) WHERE final = 0;
CREATE INDEX case_items_open_by_due ON case_items (due_at) WHERE final = 0;
CREATE TABLE timers (
  case_id TEXT NOT NULL REFERENCES cases (case_id),
  timer_id TEXT NOT NULL,
  due_at BIGINT NOT NULL,
  payload TEXT NOT NULL,
  PRIMARY KEY (case_id, timer_id)
);
CREATE INDEX timers_by_due ON timers (due_at);
CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  case_id TEXT NOT NULL REFERENCES cases (case_id),
  department TEXT NOT NULL,
  adapter TEXT NOT NULL,
  operation TEXT NOT NULL,
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at BIGINT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'parked')),
  last_error TEXT NOT NULL
);
CREATE INDEX outbox_by_status ON outbox (status, next_attempt_at);
INSERT INTO meta (key, value) VALUES ('application', 'onevisit');
)sql";

// Version 2: the snapshot moves out of the case row into its own table and is written only
// when the runtime sends one (every few events); the case's state is the latest snapshot plus
// the events after it. The case rows, rewritten by every commit, become small: about forty to
// a page instead of three.
constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE snapshots (
  case_id TEXT PRIMARY KEY REFERENCES cases (case_id),
  version BIGINT NOT NULL CHECK (version > 0),
  snapshot TEXT NOT NULL
);
INSERT INTO snapshots (case_id, version, snapshot) SELECT case_id, version, snapshot FROM cases WHERE version > 0;
ALTER TABLE cases DROP COLUMN snapshot;
)sql";

// Version 3: the worklist indexes carry the tie-breakers of the worklist's order. Deadlines
// are whole working days, so thousands of open items share one due_at; with (case, item) in
// the index a page is read in order and the query stops at its limit instead of sorting them.
constexpr const char* kSchemaV3 = R"sql(
DROP INDEX case_items_open_by_department;
DROP INDEX case_items_open_by_due;
CREATE INDEX case_items_open_by_department ON case_items (department, due_at, case_id, item_id) WHERE final = 0;
CREATE INDEX case_items_open_by_due ON case_items (due_at, case_id, item_id) WHERE final = 0;
)sql";

// Version 4: a case's events are a chain instead of an index. The index on (case_id,
// sequence) took one more random 4 KiB page into the WAL with every commit (its entries for
// the cases of one batch lie far apart), a quarter of all pages a transition writes. Events
// are now appended in id order; each names the case's event before it (`previous`, 0 for the
// first) and the case row names its latest (`last_event`): a case's events are read by
// walking back from there. Sequences stay unique per case because a commit only lands on the
// case version it was decided on. The migration copies every case's events in order, so the
// chain of the old events is simply id - 1.
constexpr const char* kSchemaV4 = R"sql(
CREATE TABLE events_v4 (
  id INTEGER PRIMARY KEY,
  case_id TEXT NOT NULL REFERENCES cases (case_id),
  sequence BIGINT NOT NULL CHECK (sequence > 0),
  previous BIGINT NOT NULL,
  type TEXT NOT NULL,
  payload TEXT NOT NULL,
  recorded_at BIGINT NOT NULL
);
INSERT INTO events_v4 (case_id, sequence, previous, type, payload, recorded_at)
  SELECT case_id, sequence, 0, type, payload, recorded_at FROM events ORDER BY case_id, sequence;
UPDATE events_v4 SET previous = id - 1 WHERE sequence > 1;
ALTER TABLE cases ADD COLUMN last_event BIGINT NOT NULL DEFAULT 0;
CREATE INDEX events_v4_migration ON events_v4 (case_id, sequence);
UPDATE cases SET last_event = COALESCE(
  (SELECT e.id FROM events_v4 e WHERE e.case_id = cases.case_id ORDER BY e.sequence DESC LIMIT 1), 0);
DROP INDEX events_v4_migration;
DROP TABLE events;
ALTER TABLE events_v4 RENAME TO events;
)sql";

// Version 5: a command's idempotency record moves onto its last event. A row in `commands`
// per command put one more random page into the WAL with every commit (its index on the
// command id: the ids of one batch lie far apart), half of all pages a transition wrote. Now
// a command on an existing case that appends events records its id and result on the last
// of them, in the row that is appended anyway. A retry decided before that commit finds the
// case moved on and the record by walking the case's chain; one decided after it is the
// caller's to look up first (the engine does; docs/storage.md, Idempotency). `commands`
// keeps the records a case cannot hold: case starts (a retried start may come with another,
// newly generated case id), commits without events, and every record made before version 5.
constexpr const char* kSchemaV5 = R"sql(
ALTER TABLE events ADD COLUMN command_id TEXT;
ALTER TABLE events ADD COLUMN result TEXT;
)sql";

// Version 6 (issue 14): generated case numbers count per day without gaps, durably: each
// day's last number is kept and rises in the transaction of the case start that takes one
// (a refused or failed start takes none). And a case records its channel (window, online,
// mobile, kiosk), so that lists and figures can count and filter by it; cases from before
// were all taken at a window.
constexpr const char* kSchemaV6 = R"sql(
CREATE TABLE case_sequences (
  day INTEGER PRIMARY KEY,
  last BIGINT NOT NULL
);
ALTER TABLE cases ADD COLUMN channel TEXT NOT NULL DEFAULT 'window';
)sql";

// Version 7 (issue 14): case search and worklist tabs. `search_tokens` is the blind index:
// the keyed hash of each search token of a case (names and numbers stay sealed; a search
// looks hashes up, it never decrypts cases). `case_actors` lists, once per case, the accounts
// that acted on it (我办过的). A reviewer sees the cases with any item of their department,
// finished ones too: case_items gets an index on (department, case_id), written once per item
// when its case starts (a transition changes neither column). `urged` marks an item a
// supervisor urged (督办) until it moves on. Cases from before are marked `indexed = 0`; the
// engine indexes them when it first opens the file (their names and numbers are only in the
// sealed events), and the partial index finds them without a scan. A case page lists the
// case's calls through outbox_by_case.
constexpr const char* kSchemaV7 = R"sql(
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
ALTER TABLE cases ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX cases_unindexed ON cases (case_id) WHERE indexed = 0;
ALTER TABLE case_items ADD COLUMN urged INTEGER NOT NULL DEFAULT 0;
CREATE INDEX case_items_by_department ON case_items (department, case_id);
CREATE INDEX outbox_by_case ON outbox (case_id, id);
)sql";

// Version 8: a withdrawn case's items are final (they left the worklists when it was
// withdrawn); rows written before this rule are corrected once.
constexpr const char* kSchemaV8 = R"sql(
UPDATE case_items SET final = 1, urged = 0
 WHERE final = 0 AND case_id IN (SELECT case_id FROM cases WHERE status = 'withdrawn');
)sql";

constexpr Migration kMigrations[] = {{1, kSchemaV1}, {2, kSchemaV2}, {3, kSchemaV3}, {4, kSchemaV4},
                                     {5, kSchemaV5}, {6, kSchemaV6}, {7, kSchemaV7}, {8, kSchemaV8}};
static_assert(std::size(kMigrations) == kSchemaVersion, "one migration per schema version");

// ---------------------------------------------------------------------------------------
// Statements.

constexpr const char* kSelectCommand = "SELECT case_id, version, result FROM commands WHERE command_id = ?";
constexpr const char* kSelectCaseHead =
    "SELECT version, bundle_id, bundle_version FROM cases WHERE case_id = ?";
// Inserts a new case; nothing when the id is taken (the commit is then refused).
constexpr const char* kInsertCase =
    "INSERT INTO cases (case_id, bundle_id, bundle_version, status, applicant, started_at, updated_at, "
    "version, channel, indexed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (case_id) DO NOTHING";
// The day's last generated case number rises to the one this start took (commits of one day
// may land out of number order; the highest wins).
constexpr const char* kRaiseCaseSequence =
    "INSERT INTO case_sequences (day, last) VALUES (?1, ?2) ON CONFLICT (day) DO UPDATE SET "
    "last = CASE WHEN excluded.last > case_sequences.last THEN excluded.last ELSE case_sequences.last END";
constexpr const char* kSelectCaseSequence = "SELECT last FROM case_sequences WHERE day = ?";
// Two forms so that an unchanged status does not rewrite the cases_by_status entry (SQLite
// maintains every index on a column named in SET, whatever the value). The first changes
// nothing when the status differs; then the second runs. A commit without events passes
// last_event 0: the case keeps its own.
constexpr const char* kUpdateCase =
    "UPDATE cases SET applicant = ?1, updated_at = ?2, version = ?3, "
    "last_event = CASE WHEN ?4 = 0 THEN last_event ELSE ?4 END WHERE case_id = ?5 AND status = ?6";
constexpr const char* kUpdateCaseAndStatus =
    "UPDATE cases SET applicant = ?1, updated_at = ?2, version = ?3, "
    "last_event = CASE WHEN ?4 = 0 THEN last_event ELSE ?4 END, status = ?5 WHERE case_id = ?6";
constexpr const char* kSetLastEvent = "UPDATE cases SET last_event = ? WHERE case_id = ?";
constexpr const char* kUpsertSnapshot =
    "INSERT INTO snapshots (case_id, version, snapshot) VALUES (?, ?, ?) "
    "ON CONFLICT (case_id) DO UPDATE SET version = excluded.version, snapshot = excluded.snapshot";
constexpr const char* kInsertEvent =
    "INSERT INTO events (case_id, sequence, previous, type, payload, recorded_at, command_id, result) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
// A command's first event, inserted only if the case is at the version the command was
// decided on (and on its bundle version), linked to the case's latest event: the optimistic
// concurrency check and the first write in one statement. Nothing inserted: refused.
constexpr const char* kInsertFirstEvent =
    "INSERT INTO events (case_id, sequence, previous, type, payload, recorded_at, command_id, result) "
    "SELECT case_id, ?, last_event, ?, ?, ?, ?, ? FROM cases "
    "WHERE case_id = ? AND version = ? AND bundle_id = ? AND bundle_version = ?";
// One step of a walk back along a case's chain of events (find_record).
constexpr const char* kSelectChainStep =
    "SELECT previous, sequence, command_id, result FROM events WHERE id = ?";
// An item row named by a commit is inserted or updated; the WHERE makes an unchanged row a
// no-op instead of a rewrite of the row and of its worklist index entries. Rows a commit does
// not name stay as they are (a case's items are fixed by its workflow version).
constexpr const char* kUpsertItem =
    "INSERT INTO case_items (case_id, item_id, department, state, final, due_at, light, urged) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (case_id, item_id) DO UPDATE SET "
    "department = excluded.department, state = excluded.state, final = excluded.final, "
    "due_at = excluded.due_at, light = excluded.light, urged = excluded.urged "
    "WHERE case_items.department <> excluded.department OR case_items.state <> excluded.state OR "
    "case_items.final <> excluded.final OR case_items.due_at <> excluded.due_at OR "
    "case_items.light <> excluded.light OR case_items.urged <> excluded.urged";
constexpr const char* kInsertToken =
    "INSERT INTO search_tokens (token, case_id) VALUES (?, ?) ON CONFLICT (token, case_id) DO NOTHING";
constexpr const char* kDeleteToken = "DELETE FROM search_tokens WHERE token = ? AND case_id = ?";
constexpr const char* kInsertActor =
    "INSERT INTO case_actors (actor, case_id) VALUES (?, ?) ON CONFLICT (actor, case_id) DO NOTHING";
constexpr const char* kMarkIndexed = "UPDATE cases SET indexed = 1 WHERE case_id = ? AND indexed = 0";
constexpr const char* kDeleteTimer = "DELETE FROM timers WHERE case_id = ? AND timer_id = ?";
// The runtime re-sends every timer of the case on each commit; the WHERE makes an unchanged
// timer a no-op instead of a rewrite of its row and its due_at index entry.
constexpr const char* kUpsertTimer =
    "INSERT INTO timers (case_id, timer_id, due_at, payload) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (case_id, timer_id) DO UPDATE SET due_at = excluded.due_at, payload = excluded.payload "
    "WHERE timers.due_at <> excluded.due_at OR timers.payload <> excluded.payload";
constexpr const char* kInsertOutbox =
    "INSERT INTO outbox (idempotency_key, case_id, department, adapter, operation, payload, attempts, "
    "next_attempt_at, status, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (idempotency_key) DO NOTHING";
// Nothing inserted: the id was recorded before (apply looks first, so never in practice).
constexpr const char* kInsertCommand =
    "INSERT INTO commands (command_id, case_id, version, result) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (command_id) DO NOTHING";
constexpr const char* kUpdateOutbox =
    "UPDATE outbox SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?";
constexpr const char* kSelectWorkflowHash =
    "SELECT source_hash FROM workflows WHERE bundle_id = ? AND version = ?";
constexpr const char* kInsertWorkflow =
    "INSERT INTO workflows (bundle_id, version, source_hash, source, deployed_at) VALUES (?, ?, ?, ?, ?)";

constexpr const char* kCaseColumns =
    "c.case_id, c.bundle_id, c.bundle_version, c.status, c.applicant, c.started_at, c.updated_at, c.version, c.channel";
constexpr const char* kSelectCase =
    "SELECT c.case_id, c.bundle_id, c.bundle_version, c.status, c.applicant, c.started_at, c.updated_at, "
    "c.version, s.version, s.snapshot, c.last_event, c.channel "
    "FROM cases c LEFT JOIN snapshots s ON s.case_id = c.case_id WHERE c.case_id = ?";
// A case's events after sequence ?2, walking its chain back from its latest event ?1.
// (Every step goes to a smaller id, as events are appended in id order: a damaged link
// that points forward ends the walk instead of looping.)
constexpr const char* kSelectEventsAfter =
    "WITH RECURSIVE chain (id, previous, sequence) AS ("
    " SELECT id, previous, sequence FROM events WHERE id = ?1 AND sequence > ?2"
    " UNION ALL"
    " SELECT e.id, e.previous, e.sequence FROM events e JOIN chain ON e.id = chain.previous"
    " WHERE e.sequence > ?2 AND e.id < chain.id)"
    " SELECT e.sequence, e.type, e.payload, e.recorded_at FROM chain JOIN events e ON e.id = chain.id"
    " ORDER BY e.sequence";
constexpr const char* kSelectLastEvent = "SELECT last_event, version FROM cases WHERE case_id = ?";
constexpr const char* kDueTimers =
    "SELECT case_id, timer_id, due_at, payload FROM timers WHERE due_at <= ? "
    "ORDER BY due_at, case_id, timer_id LIMIT ?";
constexpr const char* kPendingOutbox =
    "SELECT id, idempotency_key, case_id, department, adapter, operation, payload, attempts, next_attempt_at, "
    "status, last_error FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?";
constexpr const char* kListOutbox =
    "SELECT id, idempotency_key, case_id, department, adapter, operation, payload, attempts, next_attempt_at, "
    "status, last_error FROM outbox WHERE (? = '' OR status = ?) ORDER BY id LIMIT ?";
// One case's calls: a query of its own, so the planner uses outbox_by_case (an "OR case_id"
// condition made it scan the whole outbox, 16 ms at 100,000 cases).
constexpr const char* kListOutboxOfCase =
    "SELECT id, idempotency_key, case_id, department, adapter, operation, payload, attempts, next_attempt_at, "
    "status, last_error FROM outbox WHERE case_id = ? AND (? = '' OR status = ?) ORDER BY id LIMIT ?";
constexpr const char* kListWorkflows =
    "SELECT w.bundle_id, w.version, w.source_hash, w.source, w.deployed_at, "
    "(SELECT COUNT(*) FROM cases c WHERE c.bundle_id = w.bundle_id AND c.bundle_version = w.version) "
    "FROM workflows w ORDER BY w.bundle_id, w.version";

// An outbox row as stored; its payload still to be opened (open_payloads).
OutboxRecord outbox_row(const Statement& s) {
  OutboxRecord o;
  o.id = s.uint64(0);
  o.idempotency_key = s.text(1);
  o.case_id = s.text(2);
  o.department = s.text(3);
  o.adapter = s.text(4);
  o.operation = s.text(5);
  o.payload = std::string(s.bytes(6));  // as stored: sealed or clear (open_payloads)
  o.attempts = static_cast<int>(s.int64(7));
  o.next_attempt_at = s.int64(8);
  o.status = s.text(9);
  o.last_error = s.text(10);
  return o;
}

std::expected<std::vector<OutboxRecord>, StoreError> open_payloads(const Sealer& sealer,
                                                                   std::expected<std::vector<OutboxRecord>, StoreError> rows) {
  if (!rows) return rows;
  for (auto& o : *rows) {
    auto clear = sealer.open(o.payload, "outbox.payload", o.case_id);
    if (!clear) return std::unexpected(clear.error());
    o.payload = std::move(*clear);
  }
  return rows;
}

/// Prepares `sql`, binds `args` in order and runs it to completion.
template <typename... Args>
std::expected<void, StoreError> execute(Connection& c, const char* sql, const Args&... args) {
  auto stmt = c.prepare(sql);
  if (!stmt) return std::unexpected(stmt.error());
  (stmt->bind(args), ...);
  return stmt->run();
}

// Binds a DynamicQuery's parameters in order to its prepared statement.
std::expected<Statement, StoreError> prepare(Connection& c, const DynamicQuery& query) {
  auto stmt = c.prepare(query.sql);
  if (!stmt) return stmt;
  for (const auto& p : query.params) {
    std::visit([&](const auto& v) { stmt->bind(v); }, p);
  }
  return stmt;
}


// ---------------------------------------------------------------------------------------
// A command's idempotency record and the case it was for: in `commands` (case starts,
// commits without events, records from before schema 5), else on the command's last event
// in `case_id`'s chain (docs/storage.md, Idempotency). The CommitResult is marked duplicate.
struct CommandRecord {
  std::string case_id;
  CommitResult result;
};
std::expected<std::optional<CommandRecord>, StoreError> find_record(Connection& c, const std::string& case_id,
                                                                    const std::string& command_id) {
  using Found = std::optional<CommandRecord>;
  if (command_id.empty()) return Found{};  // commits without an id keep no record
  {
    auto stmt = c.prepare(kSelectCommand);
    if (!stmt) return std::unexpected(stmt.error());
    stmt->bind(command_id);
    auto row = stmt->next();
    if (!row) return std::unexpected(row.error());
    if (*row) return Found{CommandRecord{stmt->text(0), CommitResult{true, stmt->uint64(1), stmt->text(2)}}};
  }
  if (case_id.empty()) return Found{};
  // Walk the case's chain back from its latest event, a point read by id per step (one
  // prepared statement run again: a quarter to a third less time than a recursive query,
  // BM_FindCommandInCase), and stop at the command's event. Each step must go to a smaller
  // id: a damaged link that points forward ends the walk instead of looping.
  std::int64_t id = 0;
  {
    auto head = c.prepare(kSelectLastEvent);
    if (!head) return std::unexpected(head.error());
    head->bind(case_id);
    auto row = head->next();
    if (!row) return std::unexpected(row.error());
    if (!*row) return Found{};
    id = head->int64(0);
  }
  auto step = c.prepare(kSelectChainStep);
  if (!step) return std::unexpected(step.error());
  while (id > 0) {
    step->restart().bind(id);
    auto row = step->next();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    if (step->text_view(2) == command_id) {
      return Found{CommandRecord{case_id, CommitResult{true, step->uint64(1), step->text(3)}}};
    }
    const auto previous = step->int64(0);
    if (previous >= id) break;
    id = previous;
  }
  return Found{};
}

// The writer: one connection, one thread, a queue of jobs executed in group transactions.

class Writer;

class Job {
 public:
  virtual ~Job() = default;
  /// Runs inside the batch transaction, in the job's savepoint. Returns the job's error (its
  /// savepoint is then rolled back), or nullptr on success. Never throws.
  virtual const StoreError* execute(Writer& writer) noexcept = 0;
  /// Fulfils the promise once: with the outcome, or `batch_error` when the batch did not commit.
  virtual void finish(const StoreError* batch_error) noexcept = 0;
};

template <typename T>
class TypedJob final : public Job {
 public:
  using Outcome = std::expected<T, StoreError>;
  using Body = std::function<Outcome(Writer&)>;

  explicit TypedJob(Body body) : body_(std::move(body)) {}
  std::future<Outcome> future() { return promise_.get_future(); }

  const StoreError* execute(Writer& writer) noexcept override {
    executed_ = true;
    try {
      outcome_ = body_(writer);
    } catch (const std::exception& e) {
      outcome_ = fail(Kind::io, std::string("store write failed: ") + e.what());
    } catch (...) {
      outcome_ = fail(Kind::io, "store write failed");
    }
    return outcome_.has_value() ? nullptr : &outcome_.error();
  }

  void finish(const StoreError* batch_error) noexcept override {
    if (finished_) return;
    finished_ = true;
    try {
      // A job refused on its own (a version conflict) keeps its reason; a job that succeeded,
      // or never ran, fails with the batch.
      if (batch_error != nullptr && (!executed_ || outcome_.has_value()))
        outcome_ = std::unexpected(*batch_error);
      promise_.set_value(std::move(outcome_));
    } catch (...) {
      // set_value only throws when already satisfied, which finished_ rules out.
    }
  }

 private:
  Body body_;
  Outcome outcome_ = fail(Kind::io, "the store closed before the request ran");
  std::promise<Outcome> promise_;
  bool executed_ = false;
  bool finished_ = false;
};

class Writer {
 public:
  Writer(std::unique_ptr<Connection> connection, std::size_t max_batch, Sealer sealer)
      : connection_(std::move(connection)), max_batch_(std::max<std::size_t>(max_batch, 1)), sealer_(std::move(sealer)) {}
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  ~Writer() { stop(); }

  void start() {
    thread_ = std::thread([this] { loop(); });
  }

  /// Finishes every queued job, then stops the thread. Idempotent.
  void stop() noexcept {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  std::expected<void, StoreError> submit(std::shared_ptr<Job> job) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return fail(Kind::io, "the store is closing");
      queue_.push_back(std::move(job));
    }
    wake_.notify_one();
    return {};
  }

  SqliteStoreStats stats() const {
    return SqliteStoreStats{writes_.load(), transactions_.load(), largest_batch_.load(), fallbacks_.load()};
  }

  // The job bodies; they run on the writer thread inside a transaction.
  std::expected<CommitResult, StoreError> apply(const CommitRequest& r);
  // Why `r` cannot be applied: its command was applied before (its first result, marked
  // duplicate), or an error (the case is not at the expected version, is missing, or runs on
  // another bundle). nullopt when nothing stands in its way. Reads only.
  std::expected<std::optional<CommitResult>, StoreError> refusal(const CommitRequest& r);
  std::expected<void, StoreError> apply(const OutboxRecord& o);
  std::expected<bool, StoreError> apply(const DeployedWorkflow& w);
  // Seals up to `limit` values of one personal column after rowid `after` under the current
  // key (those not sealed under it yet); the last rowid read and how many were sealed.
  struct ResealStep {
    std::int64_t last_rowid = 0;
    std::size_t read = 0;
    std::uint64_t resealed = 0;
  };
  std::expected<ResealStep, StoreError> reseal(std::string_view table, std::string_view column, std::int64_t after,
                                               std::size_t limit);
  // Forgets the check values of every key but the current one; returns their ids. The search
  // index's key is sealed under the current key first, so it outlives the older keys.
  std::expected<std::vector<std::string>, StoreError> retire_old_keys();
  // Indexes a case from before the search index (Store::index_case).
  std::expected<void, StoreError> index_case(const std::string& case_id, const std::vector<std::string>& tokens,
                                             const std::vector<std::string>& actors);

 private:
  // Replaces the payloads `r` names in its case's history and outbox (erasure).
  std::expected<void, StoreError> rewrite(const CommitRequest& r);
  enum class Attempt { done, needs_savepoints };
  void loop() noexcept;
  void run_batch(std::vector<std::shared_ptr<Job>>& batch);
  // One transaction over `batch`; sets batch_error when the transaction as a whole failed.
  Attempt run_transaction(std::vector<std::shared_ptr<Job>>& batch, bool savepoints,
                          std::optional<StoreError>& batch_error);
  // Moves queued jobs into `batch` until it holds max_batch_. REQUIRES: mutex_ held.
  void take_queued(std::vector<std::shared_ptr<Job>>& batch) {
    const auto n = std::min(queue_.size(), max_batch_ - std::min(max_batch_, batch.size()));
    batch.insert(batch.end(), std::make_move_iterator(queue_.begin()),
                 std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(n)));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  }
  std::expected<void, StoreError> control(const char* sql) {
    auto stmt = connection_->prepare(sql);
    if (!stmt) return std::unexpected(stmt.error());
    return stmt->run();
  }

  std::unique_ptr<Connection> connection_;
  const std::size_t max_batch_;
  const Sealer sealer_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false;
  std::thread thread_;
  std::atomic<std::uint64_t> writes_{0};
  std::atomic<std::uint64_t> transactions_{0};
  std::atomic<std::uint64_t> largest_batch_{0};
  std::atomic<std::uint64_t> fallbacks_{0};
};

void Writer::loop() noexcept {
#ifdef __linux__
  pthread_setname_np(pthread_self(), "ov-store-write");  // shows in top -H, perf, gdb
#endif
  std::vector<std::shared_ptr<Job>> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and drained
      take_queued(batch);
    }
    try {
      run_batch(batch);
    } catch (...) {
      const StoreError error{Kind::io,
                             "the store's writer failed (out of memory?); nothing of the batch was written"};
      if (!sqlite3_get_autocommit(connection_->handle())) {
        sqlite3_exec(connection_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
      }
      for (auto& job : batch) job->finish(&error);  // no-op for jobs already finished
    }
    batch.clear();
  }
}

void Writer::run_batch(std::vector<std::shared_ptr<Job>>& batch) {
  // First without savepoints: two statements fewer per request, and most requests either
  // succeed or are refused before they write anything (a version conflict, a duplicate). Only
  // a request that fails after it wrote something cannot be undone on its own; then the whole
  // transaction is rolled back (nothing of it was acknowledged) and the batch runs again with
  // a savepoint per request, so that request leaves no trace and the others are unaffected.
  std::optional<StoreError> batch_error;
  if (run_transaction(batch, false, batch_error) == Attempt::needs_savepoints) {
    fallbacks_.fetch_add(1);
    run_transaction(batch, true, batch_error);
  }
  if (!batch_error) transactions_.fetch_add(1);
  writes_.fetch_add(batch.size());
  auto largest = largest_batch_.load();
  while (batch.size() > largest && !largest_batch_.compare_exchange_weak(largest, batch.size())) {
  }
  for (auto& job : batch) job->finish(batch_error ? &*batch_error : nullptr);
}

Writer::Attempt Writer::run_transaction(std::vector<std::shared_ptr<Job>>& batch, bool savepoints,
                                        std::optional<StoreError>& batch_error) {
  sqlite3* db = connection_->handle();
  batch_error.reset();
  if (auto begun = control("BEGIN IMMEDIATE"); !begun) {
    batch_error = begun.error();
    return Attempt::done;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (savepoints) {
      if (auto s = control("SAVEPOINT request"); !s) {
        batch_error = s.error();
        break;
      }
    }
    const auto changes_before = sqlite3_total_changes64(db);
    if (const StoreError* error = batch[i]->execute(*this); error != nullptr) {
      // Some errors (disk full, I/O) make SQLite roll back the whole transaction; then the
      // jobs before this one are lost too.
      if (sqlite3_get_autocommit(db)) {
        batch_error = make_error(error->kind, "the batch transaction was rolled back: " + error->message);
        break;
      }
      if (!savepoints && sqlite3_total_changes64(db) != changes_before) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        return Attempt::needs_savepoints;
      }
      if (savepoints) {
        if (auto s = control("ROLLBACK TO request"); !s) {
          batch_error = s.error();
          break;
        }
      }
    }
    if (savepoints) {
      if (auto s = control("RELEASE request"); !s) {
        batch_error = s.error();
        break;
      }
    }
    if (i + 1 == batch.size() && !savepoints) {
      // Requests that arrived while this batch ran join it before COMMIT: they share its
      // fsync instead of waiting for it and then paying for their own. (Not on the second,
      // savepoint attempt: it reruns exactly the batch of the first.)
      std::lock_guard lock(mutex_);
      take_queued(batch);
    }
  }
  if (!batch_error) {
    if (auto committed = control("COMMIT"); !committed) batch_error = committed.error();
  }
  if (batch_error && !sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  return Attempt::done;
}

std::expected<std::optional<CommitResult>, StoreError> Writer::refusal(const CommitRequest& r) {
  Connection& c = *connection_;
  const auto who = [&r] { return command_name(r) + " on case " + in_quotes(r.case_id); };
  // A command seen before returns its first result and writes nothing.
  if (!r.command_id.empty()) {
    auto record = find_record(c, r.case_id, r.command_id);
    if (!record) return std::unexpected(record.error());
    if (*record) {
      if ((*record)->case_id != r.case_id) {
        return fail(Kind::invalid, "command id " + in_quotes(r.command_id) + " was already used for case " +
                                       in_quotes((*record)->case_id) + ", not " + in_quotes(r.case_id));
      }
      return std::optional<CommitResult>{(*record)->result};
    }
  }
  auto stmt = c.prepare(kSelectCaseHead);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->bind(r.case_id);
  auto row = stmt->next();
  if (!row) return std::unexpected(row.error());
  if (r.expected_version == 0) {
    if (*row) {
      return fail(Kind::version_conflict, who() + ": expected a new case, but it exists at version " +
                                              std::to_string(stmt->uint64(0)));
    }
    return std::nullopt;
  }
  if (!*row) {
    return fail(Kind::not_found, who() + ": expected the case at version " +
                                     std::to_string(r.expected_version) + ", but there is no such case");
  }
  if (const auto version = stmt->uint64(0); version != r.expected_version) {
    return fail(Kind::version_conflict, who() + ": expected the case at version " +
                                            std::to_string(r.expected_version) + ", but it is at version " +
                                            std::to_string(version));
  }
  if (stmt->text(1) != r.summary.bundle_id || stmt->int64(2) != r.summary.bundle_version) {
    return fail(Kind::invalid, who() + ": the case runs on " + stmt->text(1) + " version " +
                                   std::to_string(stmt->int64(2)) + " and cannot move to " +
                                   r.summary.bundle_id + " version " +
                                   std::to_string(r.summary.bundle_version));
  }
  return std::nullopt;
}

std::expected<CommitResult, StoreError> Writer::apply(const CommitRequest& r) {
  Connection& c = *connection_;
  sqlite3* db = c.handle();
  const auto& s = r.summary;
  // The command's idempotency record: on its last event when it appends events to an existing
  // case, else a row in `commands`; none without an id (docs/storage.md, Idempotency).
  const bool record_on_event = !r.command_id.empty() && r.expected_version > 0 && !r.events.empty();
  const bool record_in_commands = !r.command_id.empty() && !record_on_event;
  const auto last_of_command = [&](std::size_t i) {
    const bool last = record_on_event && i + 1 == r.events.size();
    return std::pair{OptionalText{last ? &r.command_id : nullptr}, OptionalText{last ? &r.result : nullptr}};
  };
  // A refused request must write nothing. Most requests are checked by their first write:
  // the new case's row is inserted only if the id is free, the first event only if the case
  // is at the expected version; when that write changes nothing, refusal() finds out why
  // (a duplicate command, a version conflict, no such case, another bundle). A command that
  // appends events to an existing case moves its version, so a retry decided before it
  // committed fails that check and is found there (one decided after it is the caller's to
  // look up first). The others are looked for first: a commit without events leaves the
  // version as it was, and a retried case start may come with another (generated) case id.
  const auto refused = [&]() -> std::expected<CommitResult, StoreError> {
    auto why = refusal(r);
    if (!why) return std::unexpected(why.error());
    if (!*why)
      return fail(Kind::io,
                  "a commit on case " + in_quotes(r.case_id) + " was not applied, for no reason found");
    return **why;
  };
  if (r.events.empty() || record_in_commands) {
    auto why = refusal(r);
    if (!why) return std::unexpected(why.error());
    if (*why) return **why;
  }
  // The case's latest event, which the next one links back to (0: a commit without events,
  // which leaves the case's own, see kUpdateCase).
  std::int64_t last_event = 0;
  std::size_t next_event = 0;
  if (r.expected_version == 0) {
    if (auto done = execute(c, kInsertCase, r.case_id, s.bundle_id, std::int64_t{s.bundle_version}, s.status,
                            s.applicant, s.started_at, s.updated_at, to_sql(s.version), s.channel);
        !done) {
      return std::unexpected(done.error());
    }
    if (sqlite3_changes64(db) == 0) return refused();
    if (r.case_number) {
      if (auto done = execute(c, kRaiseCaseSequence, std::int64_t{r.case_number->day},
                              static_cast<std::int64_t>(r.case_number->sequence));
          !done) {
        return std::unexpected(done.error());
      }
    }
  } else if (!r.events.empty()) {
    const auto& e = r.events.front();
    const auto [command_id, result] = last_of_command(0);
    const auto payload = sealer_.seal(e.payload, "events.payload", r.case_id);
    if (auto done = execute(c, kInsertFirstEvent, to_sql(e.sequence), e.type, payload.bound(), e.recorded_at,
                            command_id, result, r.case_id, to_sql(r.expected_version), s.bundle_id,
                            std::int64_t{s.bundle_version});
        !done) {
      return std::unexpected(done.error());
    }
    if (sqlite3_changes64(db) == 0) return refused();
    last_event = sqlite3_last_insert_rowid(db);
    next_event = 1;
  }

  // The case's events, then its row and its index rows. Only what changed is written: every
  // page touched is another 4 KiB frame in the WAL.
  for (std::size_t i = next_event; i < r.events.size(); ++i) {
    const auto& e = r.events[i];
    const auto [command_id, result] = last_of_command(i);
    const auto payload = sealer_.seal(e.payload, "events.payload", r.case_id);
    if (auto done = execute(c, kInsertEvent, r.case_id, to_sql(e.sequence), last_event, e.type, payload.bound(),
                            e.recorded_at, command_id, result);
        !done) {
      return std::unexpected(done.error());
    }
    last_event = sqlite3_last_insert_rowid(db);
  }
  if (r.expected_version == 0) {
    if (auto done = execute(c, kSetLastEvent, last_event, r.case_id); !done) {
      return std::unexpected(done.error());
    }
  } else {
    if (auto done = execute(c, kUpdateCase, s.applicant, s.updated_at, to_sql(s.version), last_event,
                            r.case_id, s.status);
        !done) {
      return std::unexpected(done.error());
    }
    if (sqlite3_changes64(db) == 0) {
      if (auto done = execute(c, kUpdateCaseAndStatus, s.applicant, s.updated_at, to_sql(s.version),
                              last_event, s.status, r.case_id);
          !done) {
        return std::unexpected(done.error());
      }
    }
  }
  if (!r.snapshot.empty()) {
    const auto snapshot = sealer_.seal(r.snapshot, "snapshots.snapshot", r.case_id);
    if (auto done = execute(c, kUpsertSnapshot, r.case_id, to_sql(s.version), snapshot.bound()); !done) {
      return std::unexpected(done.error());
    }
  }
  for (const auto& item : r.items) {
    if (auto done = execute(c, kUpsertItem, r.case_id, item.item_id, item.department, item.state,
                            std::int64_t{item.final ? 1 : 0}, item.due_at, item.light, std::int64_t{item.urged ? 1 : 0});
        !done) {
      return std::unexpected(done.error());
    }
  }
  // The blind index: keyed hashes only, never the names and numbers themselves.
  for (const auto& token : r.remove_search_tokens) {
    if (auto done = execute(c, kDeleteToken, sealer_.blind(token), r.case_id); !done) return std::unexpected(done.error());
  }
  for (const auto& token : r.add_search_tokens) {
    if (auto done = execute(c, kInsertToken, sealer_.blind(token), r.case_id); !done) return std::unexpected(done.error());
  }
  if (!r.actor.empty()) {
    if (auto done = execute(c, kInsertActor, r.actor, r.case_id); !done) return std::unexpected(done.error());
  }
  for (const auto& timer_id : r.cancel_timers) {
    if (auto done = execute(c, kDeleteTimer, r.case_id, timer_id); !done)
      return std::unexpected(done.error());
  }
  for (const auto& t : r.set_timers) {
    if (auto done = execute(c, kUpsertTimer, r.case_id, t.timer_id, t.due_at, t.payload); !done) {
      return std::unexpected(done.error());
    }
  }
  for (const auto& o : r.outbox) {
    // An idempotency key already present (a retried intent) keeps its first entry.
    const auto payload = sealer_.seal(o.payload, "outbox.payload", r.case_id);
    if (auto done =
            execute(c, kInsertOutbox, o.idempotency_key, r.case_id, o.department, o.adapter, o.operation,
                    payload.bound(), std::int64_t{o.attempts}, o.next_attempt_at, o.status, o.last_error);
        !done) {
      return std::unexpected(done.error());
    }
  }
  if (!r.rewrite_events.empty() || !r.rewrite_outbox.empty()) {
    if (auto done = rewrite(r); !done) return std::unexpected(done.error());
  }
  if (record_in_commands) {
    if (auto done = execute(c, kInsertCommand, r.command_id, r.case_id, to_sql(s.version), r.result); !done) {
      return std::unexpected(done.error());
    }
    // refusal() looked for the id first, in this transaction: a conflict here is a bug.
    if (sqlite3_changes64(db) == 0)
      return fail(Kind::io, "command id " + in_quotes(r.command_id) + " appeared twice");
  }
  return CommitResult{false, s.version, r.result};
}

std::expected<void, StoreError> Writer::apply(const OutboxRecord& o) {
  if (auto done = execute(*connection_, kUpdateOutbox, o.status, std::int64_t{o.attempts}, o.next_attempt_at,
                          o.last_error, to_sql(o.id));
      !done) {
    return std::unexpected(done.error());
  }
  if (sqlite3_changes64(connection_->handle()) == 0) {
    return fail(Kind::not_found, "no outbox entry " + std::to_string(o.id));
  }
  return {};
}

std::expected<bool, StoreError> Writer::apply(const DeployedWorkflow& w) {
  {
    auto stmt = connection_->prepare(kSelectWorkflowHash);
    if (!stmt) return std::unexpected(stmt.error());
    stmt->bind(w.bundle_id).bind(std::int64_t{w.version});
    auto row = stmt->next();
    if (!row) return std::unexpected(row.error());
    if (*row) {
      if (auto hash = stmt->text(0); hash != w.source_hash) {
        return fail(Kind::invalid, "bundle " + in_quotes(w.bundle_id) + " version " +
                                       std::to_string(w.version) +
                                       " is already deployed with another source (hash " + hash + ", not " +
                                       w.source_hash + "); deploy the change as a new version");
      }
      return false;  // the same workflow again
    }
  }
  if (auto done = execute(*connection_, kInsertWorkflow, w.bundle_id, std::int64_t{w.version}, w.source_hash,
                          w.source, w.deployed_at);
      !done) {
    return std::unexpected(done.error());
  }
  return true;
}

std::expected<void, StoreError> Writer::rewrite(const CommitRequest& r) {
  Connection& c = *connection_;
  // What an erasure replaces must not stay behind in freed space: secure_delete=ON also
  // zeroes freed overflow pages (FAST, the writer's setting, only what costs no extra I/O);
  // for this job only.
  if (auto on = control("PRAGMA secure_delete = ON"); !on) return on;
  struct Restore {
    Writer& w;
    ~Restore() { w.control("PRAGMA secure_delete = FAST"); }
  } restore{*this};
  // The events to rewrite, found by walking the case's chain (there is no index on sequence).
  std::map<std::uint64_t, std::int64_t> ids;  // sequence -> id
  {
    std::int64_t id = 0;
    {
      auto head = c.prepare(kSelectLastEvent);
      if (!head) return std::unexpected(head.error());
      head->bind(r.case_id);
      auto row = head->next();
      if (!row) return std::unexpected(row.error());
      if (*row) id = head->int64(0);
    }
    auto step = c.prepare(kSelectChainStep);
    if (!step) return std::unexpected(step.error());
    while (id > 0) {
      step->restart().bind(id);
      auto found = step->next();
      if (!found) return std::unexpected(found.error());
      if (!*found) break;
      ids[step->uint64(1)] = id;
      const auto previous = step->int64(0);
      if (previous >= id) break;
      id = previous;
    }
  }
  for (const auto& e : r.rewrite_events) {
    const auto it = ids.find(e.sequence);
    if (it == ids.end()) {
      return fail(Kind::invalid, "case " + in_quotes(r.case_id) + " has no event " + std::to_string(e.sequence) + " to rewrite");
    }
    const auto payload = sealer_.seal(e.payload, "events.payload", r.case_id);
    if (auto done = execute(c, "UPDATE events SET payload = ? WHERE id = ? AND type = ?", payload.bound(), it->second, e.type);
        !done) {
      return done;
    }
    if (sqlite3_changes64(c.handle()) != 1) {
      return fail(Kind::invalid, "case " + in_quotes(r.case_id) + ": event " + std::to_string(e.sequence) + " is not a " + e.type);
    }
  }
  for (const auto& [id, text] : r.rewrite_outbox) {
    const auto payload = sealer_.seal(text, "outbox.payload", r.case_id);
    if (auto done = execute(c, "UPDATE outbox SET payload = ? WHERE id = ? AND case_id = ?", payload.bound(), to_sql(id), r.case_id);
        !done) {
      return done;
    }
    if (sqlite3_changes64(c.handle()) != 1) {
      return fail(Kind::invalid, "case " + in_quotes(r.case_id) + " has no outbox entry " + std::to_string(id));
    }
  }
  return {};
}

std::expected<Writer::ResealStep, StoreError> Writer::reseal(std::string_view table, std::string_view column,
                                                             std::int64_t after, std::size_t limit) {
  Connection& c = *connection_;
  const AtRestKeys* keys = sealer_.keys();
  if (keys == nullptr) return fail(Kind::invalid, "resealing needs keys; the store was opened without any");
  const std::string current = sealing::prefix(keys->current().id);
  struct Row {
    std::int64_t rowid;
    std::string case_id;
    std::string stored;
  };
  const std::string select = "SELECT rowid, case_id, " + std::string(column) + " FROM " + std::string(table) +
                             " WHERE rowid > ? ORDER BY rowid LIMIT ?";
  const std::string update = "UPDATE " + std::string(table) + " SET " + std::string(column) + " = ? WHERE rowid = ?";
  const std::string place = std::string(table) + "." + std::string(column);
  std::vector<Row> rows;
  {
    auto stmt = c.prepare(select);
    if (!stmt) return std::unexpected(stmt.error());
    stmt->bind(after).bind(to_sql(limit));
    auto read = stmt->collect([](const Statement& s) { return Row{s.int64(0), s.text(1), std::string(s.bytes(2))}; });
    if (!read) return std::unexpected(read.error());
    rows = std::move(*read);
  }
  ResealStep step{after, rows.size(), 0};
  for (const auto& row : rows) {
    step.last_rowid = row.rowid;
    if (row.stored.starts_with(current)) continue;
    auto clear = sealer_.open(row.stored, place, row.case_id);
    if (!clear) return std::unexpected(clear.error());
    const auto sealed = sealer_.seal(*clear, place, row.case_id);
    if (auto done = execute(c, update.c_str(), sealed.bound(), row.rowid); !done) return std::unexpected(done.error());
    ++step.resealed;
  }
  return step;
}

std::expected<void, StoreError> Writer::index_case(const std::string& case_id, const std::vector<std::string>& tokens,
                                                   const std::vector<std::string>& actors) {
  Connection& c = *connection_;
  for (const auto& token : tokens) {
    if (auto done = execute(c, kInsertToken, sealer_.blind(token), case_id); !done) return std::unexpected(done.error());
  }
  for (const auto& actor : actors) {
    if (auto done = execute(c, kInsertActor, actor, case_id); !done) return std::unexpected(done.error());
  }
  return execute(c, kMarkIndexed, case_id);
}

std::expected<std::vector<std::string>, StoreError> Writer::retire_old_keys() {
  Connection& c = *connection_;
  {
    // The search index's key, sealed under an older key (or clear), moves to the current one.
    auto stmt = c.prepare("SELECT value FROM meta WHERE key = 'search_key'");
    if (!stmt) return std::unexpected(stmt.error());
    auto rows = stmt->collect([](const Statement& s) { return std::string(s.bytes(0)); });
    if (!rows) return std::unexpected(rows.error());
    if (!rows->empty() && !rows->front().starts_with(sealing::prefix(sealer_.keys()->current().id))) {
      auto clear = sealer_.open(rows->front(), "meta.search_key", "");
      if (!clear) return std::unexpected(clear.error());
      const auto sealed = sealer_.seal(*clear, "meta.search_key", "");
      if (auto done = execute(c, "UPDATE meta SET value = ? WHERE key = 'search_key'", sealed.bound()); !done) {
        return std::unexpected(done.error());
      }
    }
  }
  const std::string current = "key:" + sealer_.keys()->current().id;
  auto stmt = c.prepare("SELECT substr(key, 5) FROM meta WHERE key LIKE 'key:%' AND key <> ? ORDER BY key");
  if (!stmt) return std::unexpected(stmt.error());
  stmt->bind(current);
  auto retired = stmt->collect([](const Statement& s) { return s.text(0); });
  if (!retired) return retired;
  if (auto done = execute(c, "DELETE FROM meta WHERE key LIKE 'key:%' AND key <> ?", current); !done) {
    return std::unexpected(done.error());
  }
  return retired;
}

// ---------------------------------------------------------------------------------------
// The checkpointer: copies the WAL back into the database file on its own thread and
// connection (PASSIVE: it never waits for, nor blocks, the writer or the readers), so that no
// commit waits for a checkpoint. The writer's WAL hook asks for one when the WAL holds
// kCheckpointFrames pages; the writer restarts the WAL from its beginning at its next
// transaction once everything in it has been copied.

class Checkpointer {
 public:
  explicit Checkpointer(std::unique_ptr<Connection> connection) : connection_(std::move(connection)) {}
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;
  ~Checkpointer() { stop(); }

  void start() {
    thread_ = std::thread([this] { loop(); });
  }

  /// Stops the thread and closes the connection (before the writer's, which must be the last
  /// to close so that it checkpoints and removes the WAL). Idempotent.
  void stop() noexcept {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    connection_.reset();
  }

  /// sqlite3_wal_hook callback of the write connection: runs on the writer thread after each
  /// commit with the number of frames in the WAL.
  static int on_commit(void* self, sqlite3*, const char*, int frames) {
    auto* checkpointer = static_cast<Checkpointer*>(self);
    checkpointer->count_frames(frames);
    if (frames >= kCheckpointFrames) checkpointer->request();
    return SQLITE_OK;
  }

  std::uint64_t checkpoints() const { return checkpoints_.load(); }
  std::uint64_t frames_written() const { return frames_written_.load(); }

 private:
  void request() noexcept {
    if (requested_.exchange(true)) return;  // already asked; one wake-up is enough
    std::lock_guard lock(mutex_);
    wake_.notify_one();
  }

  void loop() noexcept {
#ifdef __linux__
    pthread_setname_np(pthread_self(), "ov-store-ckpt");
#endif
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || requested_.load(); });
        if (stopping_) return;
      }
      requested_.store(false);
      // SQLITE_BUSY (another checkpoint runs, e.g. from another process) is fine: the next
      // request tries again. Other errors show on the writer's own statements.
      sqlite3_wal_checkpoint_v2(connection_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      checkpoints_.fetch_add(1);
    }
  }

  // Frames (pages) the writer appended to the WAL: the WAL holds `frames` after a commit, and
  // fewer than before means the writer restarted it from the beginning.
  void count_frames(int frames) noexcept {
    const auto now = static_cast<std::uint64_t>(frames);
    frames_written_.fetch_add(now >= wal_frames_ ? now - wal_frames_ : now);
    wal_frames_ = now;
  }

  std::unique_ptr<Connection> connection_;
  std::uint64_t wal_frames_ = 0;  // writer thread only
  std::atomic<std::uint64_t> frames_written_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<bool> requested_{false};
  bool stopping_ = false;
  std::thread thread_;
  std::atomic<std::uint64_t> checkpoints_{0};
};

// ---------------------------------------------------------------------------------------
// Read connections.

class ReaderPool {
 public:
  ReaderPool(std::string path, int busy_timeout_ms)
      : path_(std::move(path)), busy_timeout_ms_(busy_timeout_ms) {}

  std::expected<std::unique_ptr<Connection>, StoreError> acquire() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    return Connection::open(path_, SQLITE_OPEN_READONLY, busy_timeout_ms_);
  }

  void release(std::unique_ptr<Connection> c) {
    std::lock_guard lock(mutex_);
    if (idle_.size() < kMaxIdleReaders) idle_.push_back(std::move(c));
  }

  void clear() {
    std::lock_guard lock(mutex_);
    idle_.clear();
  }

 private:
  const std::string path_;
  const int busy_timeout_ms_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

// ---------------------------------------------------------------------------------------
// The store.

CaseSummary read_summary(const Statement& stmt, int channel_column = 8) {
  CaseSummary s;
  s.case_id = stmt.text(0);
  s.bundle_id = stmt.text(1);
  s.bundle_version = static_cast<int>(stmt.int64(2));
  s.status = stmt.text(3);
  s.applicant = stmt.text(4);
  s.started_at = stmt.int64(5);
  s.updated_at = stmt.int64(6);
  s.version = stmt.uint64(7);
  s.channel = stmt.text(channel_column);
  return s;
}

// Runs `body` in one read transaction on `c`, so that its statements see one committed state.
template <typename T, typename F>
std::expected<T, StoreError> in_read_transaction(Connection& c, F&& body) {
  if (auto begun = c.exec("BEGIN"); !begun) return std::unexpected(begun.error());
  std::expected<T, StoreError> result = body();
  if (auto ended = c.exec("COMMIT"); !ended && result) return std::unexpected(ended.error());
  return result;
}

// A case's events after sequence `after` up to its `version`, in order, walking its chain
// back from `last_event`. A chain that does not hold exactly those (a damaged file) is an
// error, not a shorter history.
std::expected<std::vector<StoredEvent>, StoreError> chained_events(Connection& c, const Sealer& sealer,
                                                                   const std::string& case_id,
                                                                   std::int64_t last_event,
                                                                   std::uint64_t after,
                                                                   std::uint64_t version) {
  auto stmt = c.prepare(kSelectEventsAfter);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->bind(last_event).bind(to_sql(after));
  auto events = stmt->collect([](const Statement& s) {
    return StoredEvent{s.uint64(0), s.text(1), std::string(s.bytes(2)), s.int64(3)};
  });
  if (!events) return events;
  for (auto& e : *events) {
    auto clear = sealer.open(e.payload, "events.payload", case_id);
    if (!clear) return std::unexpected(clear.error());
    e.payload = std::move(*clear);
  }
  for (std::size_t i = 0; i < events->size(); ++i) {
    if ((*events)[i].sequence != after + i + 1) {
      return fail(Kind::corrupt, "case " + in_quotes(case_id) + ": its history is damaged (event " +
                                     std::to_string(after + i + 1) + " is missing from its chain)");
    }
  }
  if (after + events->size() != version) {
    return fail(Kind::corrupt,
                "case " + in_quotes(case_id) + ": its history is damaged (its chain holds events " +
                    std::to_string(after + 1) + " to " + std::to_string(after + events->size()) +
                    ", the case is at version " + std::to_string(version) + ")");
  }
  return events;
}

template <typename T, typename F>
std::expected<T, StoreError> guarded(F&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    return fail(Kind::io, std::string("store failure: ") + e.what());
  } catch (...) {
    return fail(Kind::io, "store failure");
  }
}


std::expected<std::uint64_t, StoreError> count(Connection& c, const DynamicQuery& query) {
  auto stmt = prepare(c, query);
  if (!stmt) return std::unexpected(stmt.error());
  auto rows = stmt->collect([](const Statement& s) { return s.uint64(0); });
  if (!rows) return std::unexpected(rows.error());
  return rows->empty() ? 0 : rows->front();
}

std::expected<CasePlan, StoreError> case_plan(Connection& c, const CaseQuery& q) {
  CasePlan plan;
  const auto few = [&](const char* sql, const std::string& key) -> std::expected<bool, StoreError> {
    DynamicQuery query;
    query.sql = sql;
    query.params.emplace_back(key);
    auto n = count(c, capped(std::move(query), kFewCases));
    if (!n) return std::unexpected(n.error());
    return *n < kFewCases;
  };
  if (q.actor) {
    auto answer = few("SELECT 1 FROM case_actors WHERE actor = ?", *q.actor);
    if (!answer) return std::unexpected(answer.error());
    plan.few_by_actor = *answer;
  }
  if (q.scope_department) {
    auto answer = few("SELECT 1 FROM case_items WHERE department = ?", *q.scope_department);
    if (!answer) return std::unexpected(answer.error());
    plan.few_in_department = *answer;
  }
  return plan;
}

class SqliteStore final : public Store {
 public:
  SqliteStore(const std::string& path, const SqliteOptions& options, const sealing::IndexKey& index_key,
              std::unique_ptr<Connection> writer, std::unique_ptr<Connection> checkpointer)
      : sealer_(options.keys, index_key),
        readers_(path, busy_timeout_ms(options)),
        writer_handle_(writer->handle()),
        writer_(std::move(writer), options.max_batch, sealer_),
        checkpointer_(std::move(checkpointer)) {}

  ~SqliteStore() override {
    writer_.stop();
    sqlite3_wal_hook(writer_handle_, nullptr, nullptr);
    checkpointer_.stop();
    // Read-only connections cannot checkpoint; closing them first lets the writer's
    // connection, the last one, checkpoint and remove the WAL.
    readers_.clear();
  }

  void start() {
    // Replaces SQLite's automatic checkpoint on the write connection (see Checkpointer).
    sqlite3_wal_hook(writer_handle_, &Checkpointer::on_commit, &checkpointer_);
    checkpointer_.start();
    writer_.start();
  }
  SqliteStoreStats stats() const {
    auto s = writer_.stats();
    s.checkpoints = checkpointer_.checkpoints();
    s.wal_frames = checkpointer_.frames_written();
    return s;
  }

  std::expected<CommitResult, StoreError> commit(const CommitRequest& request) override {
    return guarded<CommitResult>([&]() -> std::expected<CommitResult, StoreError> {
      if (auto error = validate(request)) return std::unexpected(*error);
      return write<CommitResult>([&request](Writer& w) { return w.apply(request); });
    });
  }

  std::expected<std::optional<StoredCase>, StoreError> load_case(const std::string& case_id) override {
    using Result = std::optional<StoredCase>;
    return read<Result>([&](Connection& c) {
      // The events after the snapshot are those of the same committed state as the summary.
      return in_read_transaction<Result>(c, [&]() -> std::expected<Result, StoreError> {
        StoredCase stored;
        std::int64_t last_event = 0;
        {
          auto stmt = c.prepare(kSelectCase);
          if (!stmt) return std::unexpected(stmt.error());
          stmt->bind(case_id);
          auto row = stmt->next();
          if (!row) return std::unexpected(row.error());
          if (!*row) return Result{};
          stored.summary = read_summary(*stmt, 11);
          stored.snapshot_version = stmt->uint64(8);  // NULL (no snapshot yet) reads as 0
          auto snapshot = sealer_.open(stmt->bytes(9), "snapshots.snapshot", case_id);
          if (!snapshot) return std::unexpected(snapshot.error());
          stored.snapshot = std::move(*snapshot);
          last_event = stmt->int64(10);
        }
        if (stored.snapshot_version < stored.summary.version) {
          auto events =
              chained_events(c, sealer_, case_id, last_event, stored.snapshot_version, stored.summary.version);
          if (!events) return std::unexpected(events.error());
          stored.events = std::move(*events);
        }
        return Result{std::move(stored)};
      });
    });
  }

  std::expected<std::vector<StoredEvent>, StoreError> load_events(const std::string& case_id) override {
    using Result = std::vector<StoredEvent>;
    return read<Result>([&](Connection& c) {
      // The chain walked is the one the case row names.
      return in_read_transaction<Result>(c, [&]() -> std::expected<Result, StoreError> {
        auto stmt = c.prepare(kSelectLastEvent);
        if (!stmt) return std::unexpected(stmt.error());
        stmt->bind(case_id);
        auto row = stmt->next();
        if (!row) return std::unexpected(row.error());
        if (!*row) return Result{};
        return chained_events(c, sealer_, case_id, stmt->int64(0), 0, stmt->uint64(1));
      });
    });
  }

  std::expected<std::vector<CaseSummary>, StoreError> list_cases(const CaseQuery& q) override {
    return read<std::vector<CaseSummary>>(
        [&](Connection& c) -> std::expected<std::vector<CaseSummary>, StoreError> {
          auto plan = case_plan(c, q);
          if (!plan) return std::unexpected(plan.error());
          DynamicQuery query = case_query(std::string("SELECT ") + kCaseColumns, blinded(q), *plan);
          query.sql += " ORDER BY c.started_at DESC, c.case_id LIMIT ? OFFSET ?";
          query.params.emplace_back(to_sql(q.limit));
          query.params.emplace_back(to_sql(q.offset));
          auto stmt = prepare(c, query);
          if (!stmt) return std::unexpected(stmt.error());
          return stmt->collect([](const Statement& s) { return read_summary(s); });
        });
  }

  std::expected<std::uint64_t, StoreError> count_cases(const CaseQuery& q) override {
    return read<std::uint64_t>([&](Connection& c) -> std::expected<std::uint64_t, StoreError> {
      auto plan = case_plan(c, q);
      if (!plan) return std::unexpected(plan.error());
      return count(c, capped(case_query("SELECT 1", blinded(q), *plan), q.limit));
    });
  }

  // The query with its search tokens replaced by their keyed hashes, as the index holds them.
  CaseQuery blinded(const CaseQuery& q) const {
    CaseQuery out = q;
    if (out.any_token) {
      for (auto& token : *out.any_token) token = sealer_.blind(token);
    }
    return out;
  }

  std::expected<std::vector<WorklistEntry>, StoreError> worklist(const CaseQuery& q) override {
    // Items with a deadline first, earliest first, then those without one. Two queries rather
    // than one ORDER BY on an expression: each walks a partial index in due order and stops
    // at its LIMIT, instead of sorting every open item of the department.
    return read<std::vector<WorklistEntry>>(
        [&](Connection& c) -> std::expected<std::vector<WorklistEntry>, StoreError> {
          constexpr const char* kColumns = "i.case_id, c.bundle_id, i.item_id, i.department, i.state, i.final, i.due_at, i.light, i.urged";
          auto rows = [&](const char* part, std::size_t limit, std::size_t offset) -> std::expected<std::vector<WorklistEntry>, StoreError> {
            DynamicQuery query = worklist_query(kColumns, part, q);
            query.sql += " ORDER BY i.due_at, i.case_id, i.item_id LIMIT ? OFFSET ?";
            query.params.emplace_back(to_sql(limit));
            query.params.emplace_back(to_sql(offset));
            auto stmt = prepare(c, query);
            if (!stmt) return std::unexpected(stmt.error());
            return stmt->collect([](const Statement& s) {
              WorklistEntry e;
              e.case_id = s.text(0);
              e.bundle_id = s.text(1);
              e.item = ItemRow{s.text(2), s.text(3), s.text(4), s.int64(5) != 0, s.int64(6), s.text(7), s.int64(8) != 0};
              return e;
            });
          };
          auto entries = rows("i.due_at > 0", q.limit, q.offset);
          if (!entries || entries->size() == q.limit || q.due_before) return entries;
          // The page goes on into the items without a deadline; skip what the offset still covers.
          std::size_t skip = 0;
          if (entries->empty() && q.offset > 0) {
            auto with_deadline = count(c, worklist_query("COUNT(*)", "i.due_at > 0", q));
            if (!with_deadline) return std::unexpected(with_deadline.error());
            skip = q.offset > *with_deadline ? q.offset - static_cast<std::size_t>(*with_deadline) : 0;
          }
          auto rest = rows("i.due_at = 0", q.limit - entries->size(), skip);
          if (!rest) return std::unexpected(rest.error());
          entries->insert(entries->end(), std::make_move_iterator(rest->begin()), std::make_move_iterator(rest->end()));
          return entries;
        });
  }

  std::expected<std::uint64_t, StoreError> count_worklist(const CaseQuery& q) override {
    return read<std::uint64_t>([&](Connection& c) -> std::expected<std::uint64_t, StoreError> {
      auto with_deadline = count(c, capped(worklist_query("1", "i.due_at > 0", q), q.limit));
      if (!with_deadline || q.due_before || *with_deadline >= q.limit) return with_deadline;
      auto without = count(c, capped(worklist_query("1", "i.due_at = 0", q), q.limit - *with_deadline));
      if (!without) return without;
      return *with_deadline + *without;
    });
  }

  std::expected<std::vector<std::string>, StoreError> unindexed_cases(std::size_t limit) override {
    return read<std::vector<std::string>>([&](Connection& c) -> std::expected<std::vector<std::string>, StoreError> {
      auto stmt = c.prepare("SELECT case_id FROM cases WHERE indexed = 0 ORDER BY case_id LIMIT ?");
      if (!stmt) return std::unexpected(stmt.error());
      stmt->bind(to_sql(limit));
      return stmt->collect([](const Statement& s) { return s.text(0); });
    });
  }

  std::expected<void, StoreError> index_case(const std::string& case_id, const std::vector<std::string>& tokens,
                                             const std::vector<std::string>& actors) override {
    return guarded<void>([&]() -> std::expected<void, StoreError> {
      return write<void>([&](Writer& w) { return w.index_case(case_id, tokens, actors); });
    });
  }

  std::expected<std::optional<CommitResult>, StoreError> find_command(
      const std::string& case_id, const std::string& command_id) override {
    using Result = std::optional<CommitResult>;
    return read<Result>([&](Connection& c) -> std::expected<Result, StoreError> {
      return in_read_transaction<Result>(c, [&]() -> std::expected<Result, StoreError> {
        auto record = find_record(c, case_id, command_id);
        if (!record) return std::unexpected(record.error());
        if (!*record) return Result{};
        return Result{(*record)->result};
      });
    });
  }

  std::expected<std::vector<TimerRecord>, StoreError> due_timers(Timestamp now, std::size_t limit) override {
    return read<std::vector<TimerRecord>>(
        [&](Connection& c) -> std::expected<std::vector<TimerRecord>, StoreError> {
          auto stmt = c.prepare(kDueTimers);
          if (!stmt) return std::unexpected(stmt.error());
          stmt->bind(std::int64_t{now}).bind(to_sql(limit));
          return stmt->collect([](const Statement& s) { return TimerRecord{s.text(0), s.text(1), s.int64(2), s.text(3)}; });
        });
  }

  std::expected<std::vector<OutboxRecord>, StoreError> pending_outbox(Timestamp now,
                                                                      std::size_t limit) override {
    return read<std::vector<OutboxRecord>>(
        [&](Connection& c) -> std::expected<std::vector<OutboxRecord>, StoreError> {
          auto stmt = c.prepare(kPendingOutbox);
          if (!stmt) return std::unexpected(stmt.error());
          stmt->bind(std::int64_t{now}).bind(to_sql(limit));
          return open_payloads(sealer_, stmt->collect(outbox_row));
        });
  }

  std::expected<std::vector<OutboxRecord>, StoreError> list_outbox(const std::string& case_id, const std::string& status,
                                                                  std::size_t limit) override {
    return read<std::vector<OutboxRecord>>(
        [&](Connection& c) -> std::expected<std::vector<OutboxRecord>, StoreError> {
          auto stmt = c.prepare(case_id.empty() ? kListOutbox : kListOutboxOfCase);
          if (!stmt) return std::unexpected(stmt.error());
          if (!case_id.empty()) stmt->bind(case_id);
          stmt->bind(status).bind(status).bind(to_sql(limit));
          return open_payloads(sealer_, stmt->collect(outbox_row));
        });
  }

  std::expected<void, StoreError> update_outbox(const OutboxRecord& record) override {
    return guarded<void>([&]() -> std::expected<void, StoreError> {
      if (auto error = validate(record)) return std::unexpected(*error);
      return write<void>([&record](Writer& w) { return w.apply(record); });
    });
  }

  std::expected<void, StoreError> update_outbox_many(const std::vector<OutboxRecord>& records) override {
    return guarded<void>([&]() -> std::expected<void, StoreError> {
      for (const auto& record : records) {
        if (auto error = validate(record)) return std::unexpected(*error);
      }
      if (records.empty()) return {};
      // One job: the whole round of a dispatcher costs one commit.
      return write<void>([&records](Writer& w) -> std::expected<void, StoreError> {
        for (const auto& record : records) {
          if (auto done = w.apply(record); !done) return done;
        }
        return {};
      });
    });
  }

  std::expected<bool, StoreError> deploy(const DeployedWorkflow& workflow) override {
    return guarded<bool>([&]() -> std::expected<bool, StoreError> {
      if (auto error = validate(workflow)) return std::unexpected(*error);
      return write<bool>([&workflow](Writer& w) { return w.apply(workflow); });
    });
  }

  std::expected<ResealReport, StoreError> reseal() {
    return guarded<ResealReport>([&]() -> std::expected<ResealReport, StoreError> {
      if (!sealer_.enabled()) return fail(Kind::invalid, "resealing needs keys; the store was opened without any");
      ResealReport report;
      // Small jobs: each is one short transaction on the writer, between ordinary commits.
      constexpr std::size_t kRowsPerJob = 256;
      constexpr std::pair<const char*, const char*> kColumns[] = {
          {"events", "payload"}, {"snapshots", "snapshot"}, {"outbox", "payload"}};
      for (const auto& [table, column] : kColumns) {
        std::int64_t after = 0;
        for (;;) {
          auto step = write<Writer::ResealStep>(
              [&](Writer& w) { return w.reseal(table, column, after, kRowsPerJob); });
          if (!step) return std::unexpected(step.error());
          report.resealed += step->resealed;
          after = step->last_rowid;
          if (step->read < kRowsPerJob) break;
        }
      }
      auto retired = write<std::vector<std::string>>([](Writer& w) { return w.retire_old_keys(); });
      if (!retired) return std::unexpected(retired.error());
      report.retired = std::move(*retired);
      return report;
    });
  }

  std::expected<std::uint64_t, StoreError> last_case_number(std::int32_t day) override {
    return read<std::uint64_t>([&](Connection& c) -> std::expected<std::uint64_t, StoreError> {
      auto stmt = c.prepare(kSelectCaseSequence);
      if (!stmt) return std::unexpected(stmt.error());
      stmt->bind(std::int64_t{day});
      auto row = stmt->next();
      if (!row) return std::unexpected(row.error());
      return *row ? stmt->uint64(0) : std::uint64_t{0};
    });
  }

  std::expected<std::vector<DeployedWorkflow>, StoreError> list_workflows() override {
    return read<std::vector<DeployedWorkflow>>(
        [&](Connection& c) -> std::expected<std::vector<DeployedWorkflow>, StoreError> {
          auto stmt = c.prepare(kListWorkflows);
          if (!stmt) return std::unexpected(stmt.error());
          return stmt->collect([](const Statement& s) {
            return DeployedWorkflow{s.text(0), static_cast<int>(s.int64(1)), s.text(2), s.text(3), s.int64(4), s.uint64(5)};
          });
        });
  }

 private:
  // Queues a job on the writer and waits for its batch to commit. The request the body
  // refers to lives on the caller's stack, which stays put until the promise is fulfilled.
  template <typename T>
  std::expected<T, StoreError> write(typename TypedJob<T>::Body body) {
    auto job = std::make_shared<TypedJob<T>>(std::move(body));
    auto future = job->future();
    if (auto queued = writer_.submit(job); !queued) return std::unexpected(queued.error());
    return future.get();
  }

  // Runs `body` on a pooled read connection. A connection that saw an error is closed rather
  // than pooled.
  template <typename T, typename F>
  std::expected<T, StoreError> read(F&& body) noexcept {
    return guarded<T>([&]() -> std::expected<T, StoreError> {
      auto connection = readers_.acquire();
      if (!connection) return std::unexpected(connection.error());
      std::expected<T, StoreError> result = body(**connection);
      if (result.has_value()) readers_.release(std::move(*connection));
      return result;
    });
  }

  const Sealer sealer_;
  ReaderPool readers_;
  sqlite3* writer_handle_;  // owned by writer_
  Writer writer_;
  Checkpointer checkpointer_;
};

// ---------------------------------------------------------------------------------------
// Opening: inspection (read-only), configuration, migration.

constexpr char kSqliteMagic[] = "SQLite format 3";  // with its NUL: the first 16 bytes of every SQLite file

struct Inspection {
  std::int64_t application_id = 0;
  std::int64_t schema_version = 0;
  std::int64_t schema_objects = 0;
};

std::expected<Inspection, StoreError> inspect(Connection& c) {
  auto app = c.query_int("PRAGMA application_id");
  if (!app) return std::unexpected(app.error());
  auto version = c.query_int("PRAGMA user_version");
  if (!version) return std::unexpected(version.error());
  auto objects = c.query_int("SELECT COUNT(*) FROM sqlite_master");
  if (!objects) return std::unexpected(objects.error());
  return Inspection{*app, *version, *objects};
}

std::string hex(std::int64_t value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "0x%08llX", static_cast<unsigned long long>(value) & 0xFFFFFFFFull);
  return buffer;
}

/// Refuses what is not an onevisit database this build can open. Reads only.
std::optional<StoreError> check_ownership(const Inspection& in, const std::string& path) {
  if (in.application_id != 0 && in.application_id != kApplicationId) {
    return make_error(Kind::foreign, path + " is not an onevisit database: its SQLite application_id is " +
                                         hex(in.application_id) + ", onevisit's is " + hex(kApplicationId));
  }
  if (in.application_id == 0 && in.schema_objects > 0) {
    return make_error(Kind::foreign,
                      path +
                          " is not an onevisit database: an SQLite database without onevisit's "
                          "application_id that already holds " +
                          std::to_string(in.schema_objects) + " tables or indexes");
  }
  if (in.application_id == kApplicationId && in.schema_version > kSchemaVersion) {
    return make_error(Kind::foreign, path + " has onevisit schema version " +
                                         std::to_string(in.schema_version) +
                                         ", newer than this build reads (" + std::to_string(kSchemaVersion) +
                                         "); open it with a newer onevisit");
  }
  if (in.application_id == kApplicationId && in.schema_version <= 0) {
    return make_error(Kind::corrupt, path + " carries onevisit's application_id but no schema version (" +
                                         std::to_string(in.schema_version) + ")");
  }
  return std::nullopt;
}

std::optional<StoreError> quick_check(Connection& c) {
  auto stmt = c.prepare("PRAGMA quick_check");
  if (!stmt) return stmt.error();
  std::vector<std::string> problems;
  for (;;) {
    auto row = stmt->next();
    if (!row) {
      const auto kind = row.error().kind;
      return make_error(kind, c.path() +
                                  (kind == Kind::corrupt ? " is damaged (PRAGMA quick_check): " : ": ") +
                                  row.error().message);
    }
    if (!*row) break;
    if (auto line = stmt->text(0); line != "ok" && problems.size() < 3) {
      std::replace(line.begin(), line.end(), '\n', ' ');
      problems.push_back(std::move(line));
    }
  }
  if (problems.empty()) return std::nullopt;
  std::string message = c.path() + " is damaged (PRAGMA quick_check):";
  for (const auto& p : problems) message += " " + p + ";";
  return make_error(Kind::corrupt, message);
}

std::expected<void, StoreError> migrate(Connection& c) {
  if (auto begun = c.exec("BEGIN IMMEDIATE"); !begun) return begun;
  auto rollback = [&c](StoreError error) -> std::expected<void, StoreError> {
    c.exec("ROLLBACK");
    return std::unexpected(std::move(error));
  };
  // Another process may have created or migrated the file since it was inspected.
  auto in = inspect(c);
  if (!in) return rollback(in.error());
  if (auto refused = check_ownership(*in, c.path())) return rollback(*refused);
  const std::int64_t from = in->application_id == kApplicationId ? in->schema_version : 0;
  for (const auto& m : kMigrations) {
    if (m.version <= from) continue;
    if (auto done = c.exec(m.sql); !done) {
      return rollback(make_error(done.error().kind, "migrating " + c.path() + " to schema version " +
                                                        std::to_string(m.version) + ": " +
                                                        done.error().message));
    }
  }
  if (from < kSchemaVersion) {
    const std::string pragmas = "PRAGMA application_id = " + std::to_string(kApplicationId) +
                                "; PRAGMA user_version = " + std::to_string(kSchemaVersion) + ";";
    if (auto done = c.exec(pragmas.c_str()); !done) return rollback(done.error());
    if (auto done = execute(c,
                            "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                            std::to_string(kSchemaVersion));
        !done) {
      return rollback(done.error());
    }
  }
  if (auto committed = c.exec("COMMIT"); !committed) return rollback(committed.error());
  return {};
}

// The file's keys against the configured ones (docs/storage.md, Encryption at rest). `meta`
// keeps a check value per key id that values were sealed under: every one must be given, and
// be the same key; the current key's is recorded before anything is sealed under it.
std::expected<void, StoreError> check_keys(Connection& c, const AtRestKeys* keys) {
  if (keys != nullptr && keys->empty()) keys = nullptr;
  if (auto begun = c.exec("BEGIN IMMEDIATE"); !begun) return begun;
  auto rollback = [&c](StoreError error) -> std::expected<void, StoreError> {
    c.exec("ROLLBACK");
    return std::unexpected(std::move(error));
  };
  std::vector<std::pair<std::string, std::string>> recorded;
  {
    auto stmt = c.prepare("SELECT substr(key, 5), value FROM meta WHERE key LIKE 'key:%' ORDER BY key");
    if (!stmt) return rollback(stmt.error());
    auto rows = stmt->collect([](const Statement& s) { return std::pair{s.text(0), s.text(1)}; });
    if (!rows) return rollback(rows.error());
    recorded = std::move(*rows);
  }
  bool current_recorded = false;
  for (const auto& [id, check] : recorded) {
    const AtRestKey* key = keys != nullptr ? keys->find(id) : nullptr;
    if (key == nullptr) {
      return rollback(make_error(Kind::locked, c.path() + " holds personal data encrypted under key " + in_quotes(id) +
                                                   (keys == nullptr ? ", and no keys were given"
                                                                    : ", which the configuration does not give") +
                                                   " ([storage.keys]; docs/storage.md, Encryption at rest)"));
    }
    if (AtRestKeys::check_value(*key) != check) {
      return rollback(make_error(Kind::locked, "the key configured as " + in_quotes(id) + " is not the key " + c.path() +
                                                   " was encrypted with under that id"));
    }
    current_recorded = current_recorded || id == keys->current().id;
  }
  if (keys != nullptr && !current_recorded) {
    if (auto done = execute(c, "INSERT INTO meta (key, value) VALUES (?, ?)", "key:" + keys->current().id,
                            AtRestKeys::check_value(keys->current()));
        !done) {
      return rollback(done.error());
    }
  }
  if (auto committed = c.exec("COMMIT"); !committed) return rollback(committed.error());
  return {};
}

// The search index's key (docs/storage.md, Search index): 32 random bytes made at the first
// open, kept in `meta` sealed under the current at-rest key (in clear hex without keys, where
// the names themselves are in clear too). Rotation reseals it (retire_old_keys), so the index
// never has to be rebuilt.
std::expected<sealing::IndexKey, StoreError> load_index_key(Connection& c, const Sealer& sealer) {
  static constexpr char kHex[] = "0123456789abcdef";
  if (auto begun = c.exec("BEGIN IMMEDIATE"); !begun) return std::unexpected(begun.error());
  auto rollback = [&c](StoreError error) -> std::expected<sealing::IndexKey, StoreError> {
    c.exec("ROLLBACK");
    return std::unexpected(std::move(error));
  };
  std::vector<std::string> stored;
  {
    auto stmt = c.prepare("SELECT value FROM meta WHERE key = 'search_key'");
    if (!stmt) return rollback(stmt.error());
    auto rows = stmt->collect([](const Statement& s) { return std::string(s.bytes(0)); });
    if (!rows) return rollback(rows.error());
    stored = std::move(*rows);
  }
  sealing::IndexKey key{};
  if (!stored.empty()) {
    auto hex = sealer.open(stored.front(), "meta.search_key", "");
    if (!hex) return rollback(hex.error());
    const auto nibble = [](char ch) { return ch >= 'a' ? ch - 'a' + 10 : ch - '0'; };
    if (hex->size() != key.size() * 2) return rollback(make_error(Kind::corrupt, c.path() + ": the search index key is damaged"));
    for (std::size_t i = 0; i < key.size(); ++i) {
      key[i] = static_cast<unsigned char>(nibble((*hex)[2 * i]) * 16 + nibble((*hex)[2 * i + 1]));
    }
  } else {
    key = sealing::random_index_key();
    std::string hex;
    for (const unsigned char b : key) {
      hex.push_back(kHex[b >> 4]);
      hex.push_back(kHex[b & 15]);
    }
    const auto sealed = sealer.seal(hex, "meta.search_key", "");
    if (auto done = execute(c, "INSERT INTO meta (key, value) VALUES ('search_key', ?)", sealed.bound()); !done) {
      return rollback(done.error());
    }
  }
  if (auto committed = c.exec("COMMIT"); !committed) return rollback(committed.error());
  return key;
}

std::expected<std::unique_ptr<Store>, StoreError> open_store(const std::string& path,
                                                             const SqliteOptions& options) {
  namespace fs = std::filesystem;
  if (path.empty() || path == ":memory:" || path.starts_with("file:")) {
    return fail(Kind::invalid, "the SQLite store needs a file path (got " + in_quotes(path) +
                                   "); use a temporary directory for tests");
  }
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return fail(Kind::io, "cannot access " + path + ": " + ec.message());
  }
  const bool exists = fs::exists(status);
  if (!exists && !options.create) return fail(Kind::not_found, "no database at " + path + " (create is off)");
  if (exists && !fs::is_regular_file(status)) return fail(Kind::foreign, path + " is not a regular file");

  if (exists) {
    // The header check needs no SQLite and cannot write: anything else is refused here.
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(Kind::io, "cannot read " + path);
    char header[sizeof kSqliteMagic] = {};
    in.read(header, sizeof header);
    const auto got = static_cast<std::size_t>(in.gcount());
    // An empty file is an empty database, as for SQLite itself.
    if (got > 0 && (got < sizeof header || std::memcmp(header, kSqliteMagic, sizeof header) != 0)) {
      return fail(Kind::foreign,
                  path + " is not an SQLite database (its first bytes are not \"SQLite format 3\")");
    }
  }

  const int busy_ms = busy_timeout_ms(options);
  auto opened =
      Connection::open(path, SQLITE_OPEN_READWRITE | (options.create ? SQLITE_OPEN_CREATE : 0), busy_ms);
  if (!opened) return std::unexpected(opened.error());
  auto& c = **opened;

  // Inspect before writing anything. A file with the SQLite magic that SQLite cannot read
  // (SQLITE_NOTADB: a damaged header; SQLITE_CORRUPT) is damaged rather than foreign, which
  // kind_of already says.
  auto in = inspect(c);
  if (!in) {
    const auto kind = in.error().kind;
    return fail(kind,
                path + (kind == Kind::corrupt ? " is damaged: " : " cannot be read: ") + in.error().message);
  }
  if (auto refused = check_ownership(*in, path)) return std::unexpected(*refused);
  if (in->schema_objects > 0) {
    if (auto damaged = quick_check(c)) return std::unexpected(*damaged);
  }

  // The file is ours (or new): configure and migrate.
  auto mode = c.query_text("PRAGMA journal_mode = WAL");
  if (!mode) return std::unexpected(mode.error());
  if (*mode != "wal") {
    return fail(Kind::io, "cannot put " + path + " in WAL mode (journal_mode stays " + *mode +
                              "; is it on a network file system?)");
  }
  if (auto done = c.exec(kConfigureWriter); !done) return std::unexpected(done.error());
  if (in->application_id != kApplicationId || in->schema_version < kSchemaVersion) {
    if (auto done = migrate(c); !done) return std::unexpected(done.error());
  }

  if (auto keys = check_keys(c, options.keys.get()); !keys) return std::unexpected(keys.error());
  auto index_key = load_index_key(c, Sealer(options.keys));
  if (!index_key) return std::unexpected(index_key.error());

  auto checkpointer = Connection::open(path, SQLITE_OPEN_READWRITE, busy_ms);
  if (!checkpointer) return std::unexpected(checkpointer.error());
  if (auto done = (*checkpointer)->exec(kConfigureWriter); !done) return std::unexpected(done.error());
  auto store = std::make_unique<SqliteStore>(path, options, *index_key, std::move(*opened), std::move(*checkpointer));
  store->start();
  return store;
}

}  // namespace

std::expected<std::unique_ptr<Store>, StoreError> open_sqlite_store(const std::string& path,
                                                                    const SqliteOptions& options) {
  return guarded<std::unique_ptr<Store>>([&] { return open_store(path, options); });
}

std::expected<ResealReport, StoreError> reseal_sqlite_store(Store& store) {
  auto* sqlite_store = dynamic_cast<SqliteStore*>(&store);
  if (sqlite_store == nullptr) return fail(Kind::invalid, "only an SQLite store keeps values sealed at rest");
  return sqlite_store->reseal();
}

std::optional<SqliteStoreStats> sqlite_store_stats(const Store& store) {
  if (const auto* sqlite_store = dynamic_cast<const SqliteStore*>(&store)) return sqlite_store->stats();
  return std::nullopt;
}

}  // namespace onevisit::engine
