// The SQLite store's schema, its migrations and the checks at open (schema.hpp).
#include "store/sqlite/schema.hpp"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <vector>

namespace onevisit::engine::sqlite {
namespace {

using Kind = StoreError::Kind;
using store_common::in_quotes;
using store_common::make_error;
using store_common::Sealer;

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

// Version 9 (issue 13): a joint item (联办/会签) is in the worklist of every department taking
// part while that department's part waits for it. `case_item_parts` holds one row per such
// pending part (never for the item's own department, whose worklist lists the item row), with
// the item's due date so that a department's worklist reads its parts in due order from the
// index, like its items; rows leave when the part is decided or the item closes. Joint items
// stored before get their rows when their row is next written.
constexpr const char* kSchemaV9 = R"sql(
CREATE TABLE case_item_parts (
  case_id TEXT NOT NULL REFERENCES cases (case_id),
  item_id TEXT NOT NULL,
  department TEXT NOT NULL,
  due_at BIGINT NOT NULL,
  PRIMARY KEY (case_id, item_id, department)
);
CREATE INDEX case_item_parts_by_department ON case_item_parts (department, due_at, case_id, item_id);
)sql";

constexpr Migration kMigrations[] = {{1, kSchemaV1}, {2, kSchemaV2}, {3, kSchemaV3}, {4, kSchemaV4}, {5, kSchemaV5},
                                     {6, kSchemaV6}, {7, kSchemaV7}, {8, kSchemaV8}, {9, kSchemaV9}};
static_assert(std::size(kMigrations) == kSchemaVersion, "one migration per schema version");

}  // namespace

std::expected<Inspection, StoreError> inspect(Connection& c) {
  auto app = c.query_int("PRAGMA application_id");
  if (!app) return std::unexpected(app.error());
  auto version = c.query_int("PRAGMA user_version");
  if (!version) return std::unexpected(version.error());
  auto objects = c.query_int("SELECT COUNT(*) FROM sqlite_master");
  if (!objects) return std::unexpected(objects.error());
  return Inspection{*app, *version, *objects};
}

namespace {

std::string hex(std::int64_t value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "0x%08llX", static_cast<unsigned long long>(value) & 0xFFFFFFFFull);
  return buffer;
}

}  // namespace

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

}  // namespace onevisit::engine::sqlite
