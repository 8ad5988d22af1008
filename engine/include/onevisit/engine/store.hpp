// Durable storage for cases: the Store interface and its SQLite and PostgreSQL implementations.
//
// The runtime decides (pure) and the store persists. One command's effects commit in ONE
// transaction: the events it produced, the case's new version (and now and then its
// snapshot), the item rows that changed (they index the case's items for worklists), timer
// changes and adapter-call intents (the outbox). Either all of it is durable or none of it
// is. A case's state is its latest snapshot plus the events after it (load_case).
//
// The store sees events, snapshots, timers and outbox payloads as opaque JSON text; the
// runtime owns their meaning (docs/storage.md specifies the schema).
//
// Guarantees:
// - Optimistic concurrency: a commit names the case version it was decided on; when the case
//   has moved on, the commit is refused with version_conflict and nothing is written.
// - Idempotency: a command id seen before returns the first commit's stored result, without
//   writing anything again.
// - Group commit: commits from many threads share transactions (one fsync for a batch).
// - A corrupt file, or a file that is not an onevisit database, is refused at open with a
//   clear error; the schema is versioned and migrated forward on open.
//
// Thread safety: every member function of Store may be called from any thread concurrently.
#pragma once

#include <onevisit/engine/at_rest.hpp>

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace onevisit::engine {

/// Milliseconds since 1970-01-01 00:00 in the offices' local time (see calendar.hpp).
using Timestamp = std::int64_t;

struct StoreError {
  enum class Kind {
    io,                ///< the disk or the database engine failed
    corrupt,           ///< the file is damaged
    foreign,           ///< the file is not an onevisit database (or from a newer version)
    version_conflict,  ///< the case changed since the command was decided
    not_found,
    invalid,           ///< the request itself is inconsistent
    /// personal data in the file is encrypted under a key this store was not given, or the
    /// key given under that id is another one (docs/storage.md, Encryption at rest)
    locked,
    /// the database server could not be reached, lost the connection, or does not take
    /// writes (a failover, a restart): nothing is known to have changed, and the request may
    /// be sent again — a commit with its command id applies once (docs/operations.md)
    unavailable,
  };
  Kind kind = Kind::io;
  std::string message;
};

struct StoredEvent {
  std::uint64_t sequence = 0;  ///< 1-based position in the case's history (= case version after it)
  std::string type;            ///< e.g. "CaseStarted", "ItemTransitioned"
  std::string payload;         ///< JSON
  Timestamp recorded_at = 0;
};

struct TimerRecord {
  std::string case_id;
  std::string timer_id;  ///< unique within the case, e.g. "item:seal:overdue"
  Timestamp due_at = 0;
  std::string payload;   ///< JSON: what to do when it fires
};

struct OutboxRecord {
  std::uint64_t id = 0;          ///< assigned by the store
  std::string idempotency_key;   ///< case/item/transition: the same for every attempt
  std::string case_id;
  std::string department;
  std::string adapter;           ///< the department's system name
  std::string operation;
  std::string payload;           ///< JSON
  int attempts = 0;
  Timestamp next_attempt_at = 0;
  std::string status = "pending";  ///< pending | delivered | parked
  std::string last_error;
};

/// One row per item of a case: what worklists query. A commit names the rows that changed.
struct ItemRow {
  std::string item_id;
  std::string department;
  std::string state;
  /// True when nobody can act on the item now: finished, not applicable, cancelled, or
  /// still waiting for the items it comes after. Worklists show the others.
  bool final = false;
  Timestamp due_at = 0;  ///< 0 when the item has no running deadline
  std::string light;     ///< "", "yellow" or "red"
  /// A supervisor urged (督办) the department on this item and it has not moved on since.
  bool urged = false;
  /// A joint item (联办/会签): the store keeps its part rows, one per department in `parts`,
  /// replaced whenever the row is written. False for every other item (no part rows).
  bool joint = false;
  /// The other departments (never `department`) whose part of this joint item waits for
  /// them now: the item is open, where its lifecycle's `approve` leaves, and their part is
  /// undecided. Each lists the item in its worklist (WorklistEntry::part) until it decides.
  std::vector<std::string> parts;
};

struct CaseSummary {
  std::string case_id;
  std::string bundle_id;
  int bundle_version = 0;
  std::string status;  ///< e.g. "running", "completed", "withdrawn"
  std::string applicant;  ///< already masked by the runtime
  Timestamp started_at = 0;
  Timestamp updated_at = 0;
  std::uint64_t version = 0;
  /// How the case came in: window, online, mobile or kiosk (办理渠道; docs/figures.md).
  std::string channel = "window";
};

/// A generated case number: the day it was taken (YYYYMMDD, local time) and its place in
/// that day's sequence, from 1 (docs/runtime.md, Case numbers).
struct CaseNumber {
  std::int32_t day = 0;
  std::uint64_t sequence = 0;
};

struct CommitRequest {
  /// The command's idempotency key: a retry with the same id returns the first result. Empty:
  /// nobody can retry this commit (the runtime's own commands), so no record is kept.
  std::string command_id;
  std::string case_id;
  std::uint64_t expected_version = 0;  ///< 0: the case must not exist yet
  std::vector<StoredEvent> events;     ///< sequences expected_version+1 ...
  /// JSON of the case after the events, or empty: no new snapshot this time. The store keeps
  /// the latest one; load_case returns it with the events after it, which the runtime replays.
  std::string snapshot;
  CaseSummary summary;                 ///< version = expected_version + events.size()
  /// Item rows to insert or update by item_id; rows not named stay as they are. The runtime
  /// sends only the rows that changed (sending all is allowed: an unchanged row is not written).
  std::vector<ItemRow> items;
  std::vector<TimerRecord> set_timers;       ///< insert or replace by (case_id, timer_id); unchanged ones need not be sent
  std::vector<std::string> cancel_timers;    ///< timer ids of this case
  std::vector<OutboxRecord> outbox;          ///< new adapter-call intents
  std::string result;                  ///< JSON returned to a retried command
  /// Set on a case start whose id is a generated case number: in the same transaction as
  /// the case's first commit, the day's last number rises to it (last_case_number), so a
  /// refused or failed start takes none. Only with expected_version 0.
  std::optional<CaseNumber> case_number;
  /// Earlier events of the case whose payload is replaced, named by sequence; their type,
  /// sequence and place in the chain stay as they were. Only erasing personal data rewrites
  /// history this way (docs/storage.md, Erasure); every other command leaves it empty.
  std::vector<StoredEvent> rewrite_events;
  /// Outbox entries of the case whose payload is replaced, by id (erasure too).
  std::vector<std::pair<std::uint64_t, std::string>> rewrite_outbox;
  /// Search tokens the case gains and loses (search.hpp), in clear: the store keeps only their
  /// keyed hashes (docs/storage.md, Search index). Sent when the case's names and numbers
  /// change: at its start, and when retention erases them.
  std::vector<std::string> add_search_tokens;
  std::vector<std::string> remove_search_tokens;
  /// The account that acted, recorded once per case for "done by me" (CaseQuery::actor);
  /// empty for the runtime's own commands (timers, retention).
  std::string actor;
};

/// What load_case returns: the case's summary, its latest snapshot, and the events after it.
/// The case's state is the snapshot (an empty case when there is none) with `events` applied.
struct StoredCase {
  CaseSummary summary;
  std::uint64_t snapshot_version = 0;  ///< 0: no snapshot yet; `events` then start at 1
  std::string snapshot;
  std::vector<StoredEvent> events;     ///< sequences snapshot_version+1 ... summary.version
};

struct CommitResult {
  bool duplicate = false;     ///< the command id was seen before; nothing was written
  std::uint64_t version = 0;  ///< the case version after the (first) commit
  std::string result;         ///< the stored result of the (first) commit
};

struct DeployedWorkflow {
  std::string bundle_id;
  int version = 0;
  std::string source_hash;
  std::string source;  ///< the normalised source (every file it needs)
  Timestamp deployed_at = 0;
  std::uint64_t cases = 0;  ///< filled by list_workflows
};

struct CaseQuery {
  std::optional<std::string> bundle_id;
  std::optional<std::string> status;
  std::optional<std::string> channel;     ///< window, online, mobile or kiosk (list_cases)
  /// Cases with a non-final item of this department (list_cases); a worklist's items of the
  /// department and its pending joint parts (worklist, count_worklist).
  std::optional<std::string> department;
  std::optional<std::string> item_state;
  std::optional<Timestamp> due_before;
  std::optional<Timestamp> started_from;    ///< cases started at or after (list_cases)
  std::optional<Timestamp> started_before;  ///< cases started before (list_cases)
  /// Cases with any item of this department, open or finished: what a reviewer may see of
  /// the cases (list_cases, count_cases).
  std::optional<std::string> scope_department;
  /// Cases this account acted on (list_cases, count_cases): 我办过的.
  std::optional<std::string> actor;
  /// A search (list_cases, count_cases): cases with any of these tokens (search.hpp), in
  /// clear; the store looks up their keyed hashes.
  std::optional<std::vector<std::string>> any_token;
  /// With a search: a case with exactly this id matches too (a whole case number).
  std::optional<std::string> case_id;
  std::size_t limit = 100;
  std::size_t offset = 0;
};

struct WorklistEntry {
  std::string case_id;
  std::string bundle_id;
  /// The item's row (its `parts` are not read back: left empty).
  ItemRow item;
  /// Empty: the item itself, in its department's worklist. Otherwise the department whose
  /// part of the joint item this entry is (会签), listed in that department's worklist.
  std::string part;
};

class Store {
 public:
  virtual ~Store() = default;

  /// Commits one command's effects atomically (see CommitRequest). Blocks until durable.
  virtual std::expected<CommitResult, StoreError> commit(const CommitRequest& request) = 0;

  /// Whether commits should carry snapshots (CommitRequest::snapshot). A store that keeps
  /// every event at hand and reads them back cheaply (the in-memory one) says no: the engine
  /// then encodes none (a snapshot is the costliest thing a commit encodes), and load_case
  /// returns the events since the last snapshot it was sent, or all of them. Default: yes.
  virtual bool wants_snapshots() const { return true; }

  /// The summary, the latest snapshot and the events after it, all of one committed state.
  virtual std::expected<std::optional<StoredCase>, StoreError> load_case(const std::string& case_id) = 0;
  virtual std::expected<std::vector<StoredEvent>, StoreError> load_events(const std::string& case_id) = 0;
  virtual std::expected<std::vector<CaseSummary>, StoreError> list_cases(const CaseQuery& query) = 0;
  /// Non-final items, ordered by due date (no deadline last). With `query.department`, also
  /// that department's pending parts of other departments' joint items (ItemRow::parts).
  virtual std::expected<std::vector<WorklistEntry>, StoreError> worklist(const CaseQuery& query) = 0;
  /// How many cases list_cases would list from offset 0, counting at most `query.limit` (a
  /// worklist tab's count: "1000+" needs no walk through 100,000 rows).
  virtual std::expected<std::uint64_t, StoreError> count_cases(const CaseQuery& query) = 0;
  /// How many items worklist would list from offset 0, counting at most `query.limit`.
  virtual std::expected<std::uint64_t, StoreError> count_worklist(const CaseQuery& query) = 0;

  /// Cases committed before the search index existed (a database from before schema 7),
  /// at most `limit`: the engine indexes them at open (index_case).
  virtual std::expected<std::vector<std::string>, StoreError> unindexed_cases(std::size_t limit) = 0;
  /// Records an unindexed case's search tokens (in clear, hashed by the store) and the
  /// accounts that acted on it, and marks it indexed. Idempotent.
  virtual std::expected<void, StoreError> index_case(const std::string& case_id, const std::vector<std::string>& tokens,
                                                     const std::vector<std::string>& actors) = 0;

  /// The first result of the command committed with this id before (marked duplicate), if
  /// any. A case start's id, and the id of a commit without events, are found by the id
  /// alone; any other command's only in its case, `case_id` (ids are scoped to their case).
  virtual std::expected<std::optional<CommitResult>, StoreError> find_command(
      const std::string& case_id, const std::string& command_id) = 0;

  /// Timers due at or before `now`, oldest first.
  virtual std::expected<std::vector<TimerRecord>, StoreError> due_timers(Timestamp now, std::size_t limit) = 0;

  /// Outbox entries with status pending and next_attempt_at <= now, oldest first.
  virtual std::expected<std::vector<OutboxRecord>, StoreError> pending_outbox(Timestamp now, std::size_t limit) = 0;

  /// What a dispatcher takes to deliver: pending_outbox, claimed for `lease` where several
  /// nodes share the store, so that each call is taken by one of them. A claimed call is
  /// not returned to anyone again until update_outbox writes its outcome (which ends the
  /// claim) or the lease runs out (its node died: another takes it over). A case's calls are
  /// claimed together, so they stay in outbox order on one node. Stores of one process (the
  /// memory store, SQLite) return pending_outbox.
  virtual std::expected<std::vector<OutboxRecord>, StoreError> claim_outbox(Timestamp now, std::size_t limit,
                                                                            std::chrono::milliseconds lease) {
    (void)lease;
    return pending_outbox(now, limit);
  }
  /// What a timer loop fires: due_timers, claimed for `lease` like claim_outbox. The commit
  /// that fires a timer removes or moves it; a claim on a timer that stays ends with the lease.
  virtual std::expected<std::vector<TimerRecord>, StoreError> claim_due_timers(Timestamp now, std::size_t limit,
                                                                               std::chrono::milliseconds lease) {
    (void)lease;
    return due_timers(now, limit);
  }
  /// Updates an outbox entry's status, attempts, next attempt and last error.
  virtual std::expected<void, StoreError> update_outbox(const OutboxRecord& record) = 0;
  /// Updates many outbox entries in one transaction (all or none): a dispatcher's round.
  virtual std::expected<void, StoreError> update_outbox_many(const std::vector<OutboxRecord>& records) {
    for (const auto& record : records) {
      if (auto done = update_outbox(record); !done) return done;
    }
    return {};
  }
  /// Outbox entries of one case (empty: every case) with one status (empty: any), oldest
  /// first: what a clerk sees of a case's calls, and the parked ones to retry or resolve.
  virtual std::expected<std::vector<OutboxRecord>, StoreError> list_outbox(const std::string& case_id, const std::string& status,
                                                                          std::size_t limit) = 0;

  /// The highest generated case number committed for `day` (YYYYMMDD), 0 when none: where
  /// the day's numbering goes on after a restart.
  virtual std::expected<std::uint64_t, StoreError> last_case_number(std::int32_t day) = 0;

  /// Stores a workflow version. The same bundle, version and hash again is a no-op
  /// (returns false); the same bundle and version with another hash is refused (invalid).
  virtual std::expected<bool, StoreError> deploy(const DeployedWorkflow& workflow) = 0;
  virtual std::expected<std::vector<DeployedWorkflow>, StoreError> list_workflows() = 0;
  /// Every stored version without its source and without counting its cases (`source`
  /// empty, `cases` 0), in list_workflows' order: what a node compares with the versions it
  /// has loaded and a deploy with what it would store, without a scan of the cases.
  /// Default: list_workflows, trimmed.
  virtual std::expected<std::vector<DeployedWorkflow>, StoreError> list_deployed() {
    auto all = list_workflows();
    if (all) {
      for (auto& w : *all) {
        w.source.clear();
        w.cases = 0;
      }
    }
    return all;
  }
  /// One stored version with its source (`cases` 0); nullopt when it is not stored.
  /// Default: looked up in list_workflows.
  virtual std::expected<std::optional<DeployedWorkflow>, StoreError> load_workflow(const std::string& bundle_id, int version) {
    auto all = list_workflows();
    if (!all) return std::unexpected(all.error());
    for (auto& w : *all) {
      if (w.bundle_id == bundle_id && w.version == version) {
        w.cases = 0;
        return std::optional<DeployedWorkflow>(std::move(w));
      }
    }
    return std::optional<DeployedWorkflow>{};
  }
  /// How many versions (bundles' and calendars') are stored. Versions are only ever added, so
  /// the number changes exactly when someone deploys: a cheap question for a node that
  /// watches for another node's deploys (Engine::refresh_deployed), where list_workflows
  /// reads every source and counts cases (list_deployed and load_workflow then fetch what
  /// is new).
  virtual std::expected<std::uint64_t, StoreError> deployed_versions() = 0;
};

struct SqliteOptions {
  bool create = true;                          ///< create the file when missing
  /// Keys that seal personal columns (event payloads, snapshots, outbox payloads) at rest;
  /// null or empty: they are written as clear JSON. A file with values sealed under a key
  /// not given here is refused at open as `locked` (docs/storage.md, Encryption at rest).
  std::shared_ptr<const AtRestKeys> keys;
  std::chrono::milliseconds busy_timeout{5000};
  std::size_t max_batch = 256;                 ///< commits per group transaction at most
  /// WAL pages (4 KiB frames) after which the checkpointer thread copies the WAL back into
  /// the database file, and again after as many new ones while the WAL stays long (commits
  /// keep coming, a reader holds an old snapshot). A longer WAL copies each page once for
  /// more commits (docs/storage.md, Group commit). Default: 8000 (32 MiB); 0 or less is taken
  /// as the default.
  int checkpoint_frames = 8000;
};

/// Opens (or creates) an SQLite database in WAL mode with synchronous=FULL.
std::expected<std::unique_ptr<Store>, StoreError> open_sqlite_store(const std::string& path, const SqliteOptions& options = {});

struct ResealReport {
  std::uint64_t resealed = 0;          ///< values sealed again under the current key (or for the first time)
  std::vector<std::string> retired;   ///< key ids no value is sealed under any more
};

/// Seals every personal value of a store made by open_sqlite_store under its current key:
/// values in clear and values sealed under older keys (`onevisit store reseal`). Runs in
/// small transactions on the store's writer, so commits go on meanwhile. At the end the
/// older keys are retired from the file: it opens without them from then on.
/// An `invalid` error for any other store, or one opened without keys.
std::expected<ResealReport, StoreError> reseal_sqlite_store(Store& store);

struct PostgresOptions {
  /// Keys that seal personal columns at rest, as for SqliteOptions::keys.
  std::shared_ptr<const AtRestKeys> keys;
  std::size_t max_batch = 256;  ///< commits per group transaction at most
};

/// True when `database` names a PostgreSQL database (postgresql://… or postgres://…) rather
/// than an SQLite file: what every `--db` option decides by.
bool is_postgres_url(std::string_view database);

/// Opens the onevisit tables in a PostgreSQL database, creating or migrating them first.
/// `url` is a libpq connection URL; several hosts and `target_session_attrs=read-write` let
/// the store find the primary after a failover (docs/operations.md). The tables live in the
/// session's current schema (search_path). Refused: a schema with other tables (foreign), a
/// newer schema version (foreign), keys that do not match the data (locked); a server that
/// cannot be reached is an io error.
std::expected<std::unique_ptr<Store>, StoreError> open_postgres_store(const std::string& url, const PostgresOptions& options = {});

}  // namespace onevisit::engine
