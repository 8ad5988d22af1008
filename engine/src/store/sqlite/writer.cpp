// The SQLite store's writer and checkpointer (writer.hpp): the statements of the write path,
// group transactions, and the WAL's checkpoints.
#include "store/sqlite/writer.hpp"

#include "store/sealing.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <span>
#include <string_view>

#include <pthread.h>

namespace onevisit::engine::sqlite {
namespace {

using Kind = StoreError::Kind;
using store_common::CaseHead;
using store_common::CommandRecord;
using store_common::command_name;
using store_common::fail;
using store_common::in_quotes;
using store_common::make_error;
using store_common::Sealer;

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
// An item row named by a commit. SQLite rewrites an index entry whenever an UPDATE names one
// of the index's columns, whatever the value, and every rewritten entry is another page in
// the WAL: the worklist indexes hold department, final and due_at, so the common change —
// the state alone — names only state, light and urged (kUpdateItemState, when the other three
// are as stored); a moved deadline or a finished item names final and due_at as well
// (kUpdateItemDeadline); a new row, or an item that moved to another department, takes the
// upsert. The three share their parameters: state, light, urged, case, item, department,
// final, due_at.
constexpr const char* kUpdateItemState =
    "UPDATE case_items SET state = ?1, light = ?2, urged = ?3 "
    "WHERE case_id = ?4 AND item_id = ?5 AND department = ?6 AND final = ?7 AND due_at = ?8";
constexpr const char* kUpdateItemDeadline =
    "UPDATE case_items SET state = ?1, light = ?2, urged = ?3, final = ?7, due_at = ?8 "
    "WHERE case_id = ?4 AND item_id = ?5 AND department = ?6";
// Inserted or updated; the WHERE makes an unchanged row a no-op instead of a rewrite of the
// row and of its worklist index entries. Rows a commit does not name stay as they are (a
// case's items are fixed by its workflow version).
constexpr const char* kUpsertItem =
    "INSERT INTO case_items (case_id, item_id, department, state, final, due_at, light, urged) "
    "VALUES (?4, ?5, ?6, ?1, ?7, ?8, ?2, ?3) ON CONFLICT (case_id, item_id) DO UPDATE SET "
    "department = excluded.department, state = excluded.state, final = excluded.final, "
    "due_at = excluded.due_at, light = excluded.light, urged = excluded.urged "
    "WHERE case_items.department <> excluded.department OR case_items.state <> excluded.state OR "
    "case_items.final <> excluded.final OR case_items.due_at <> excluded.due_at OR "
    "case_items.light <> excluded.light OR case_items.urged <> excluded.urged";
// A joint item's pending parts (case_item_parts): replaced whenever its row is written.
constexpr const char* kDeleteParts = "DELETE FROM case_item_parts WHERE case_id = ? AND item_id = ?";
constexpr const char* kInsertPart = "INSERT INTO case_item_parts (case_id, item_id, department, due_at) VALUES (?, ?, ?, ?)";
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

}  // namespace

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

Writer::Writer(std::unique_ptr<Connection> connection, std::size_t max_batch, Sealer sealer)
    : connection_(std::move(connection)), sealer_(std::move(sealer)), queue_(max_batch) {}

void Writer::start() {
  queue_.start(
      "ov-store-write", [this](Queue::Batch& batch) { run_batch(batch); }, [this] { abandon(); });
}

SqliteStoreStats Writer::stats() const {
  const auto counters = queue_.counters();
  return SqliteStoreStats{counters.writes, counters.transactions, counters.largest_batch, fallbacks_.load()};
}

void Writer::abandon() noexcept {
  if (!sqlite3_get_autocommit(connection_->handle())) {
    sqlite3_exec(connection_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

void Writer::run_batch(Queue::Batch& batch) {
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
  queue_.finish(batch, batch_error);
}

Writer::Attempt Writer::run_transaction(Queue::Batch& batch, bool savepoints, std::optional<StoreError>& batch_error) {
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
      queue_.join_queued(batch);
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
  return store_common::refusal(
      r, [&] { return find_record(c, r.case_id, r.command_id); },
      [&]() -> std::expected<std::optional<CaseHead>, StoreError> {
        auto stmt = c.prepare(kSelectCaseHead);
        if (!stmt) return std::unexpected(stmt.error());
        stmt->bind(r.case_id);
        auto row = stmt->next();
        if (!row) return std::unexpected(row.error());
        if (!*row) return std::nullopt;
        return CaseHead{stmt->uint64(0), stmt->text(1), stmt->int64(2)};
      });
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
    // A new case has no rows yet: straight to the insert.
    static constexpr std::array<const char*, 3> kForms{kUpdateItemState, kUpdateItemDeadline, kUpsertItem};
    const std::span<const char* const> forms = r.expected_version == 0 ? std::span(kForms).last(1) : std::span(kForms);
    for (const char* sql : forms) {
      if (auto done = execute(c, sql, item.state, item.light, std::int64_t{item.urged ? 1 : 0}, r.case_id, item.item_id,
                              item.department, std::int64_t{item.final ? 1 : 0}, item.due_at);
          !done) {
        return std::unexpected(done.error());
      }
      if (sql == kUpsertItem || sqlite3_changes64(db) > 0) break;
    }
    if (!item.joint) continue;
    if (r.expected_version != 0) {
      if (auto done = execute(c, kDeleteParts, r.case_id, item.item_id); !done) return std::unexpected(done.error());
    }
    for (const auto& department : item.parts) {
      if (auto done = execute(c, kInsertPart, r.case_id, item.item_id, department, item.due_at); !done) {
        return std::unexpected(done.error());
      }
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

void Checkpointer::stop() noexcept {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  connection_.reset();
}

// SQLite's own automatic checkpoint (at 1000 frames) is off on the write connection: it runs
// inside the COMMIT that crosses the mark, and every caller of that batch would wait for it.
// A checkpoint copies each page once however many versions of it the WAL holds, so a longer
// WAL copies less per commit: 8000 frames took 10-20 % of the CPU per commit off 1000
// (docs/storage.md).
int Checkpointer::on_commit(void* self, sqlite3*, const char*, int frames) {
  auto* checkpointer = static_cast<Checkpointer*>(self);
  checkpointer->count_frames(frames);
  if (static_cast<std::uint64_t>(frames) >= checkpointer->next_request_) {
    checkpointer->request();
    checkpointer->next_request_ = static_cast<std::uint64_t>(frames) + static_cast<std::uint64_t>(checkpointer->frames_);
  }
  return SQLITE_OK;
}

void Checkpointer::request() noexcept {
  if (requested_.exchange(true)) return;  // already asked; one wake-up is enough
  std::lock_guard lock(mutex_);
  wake_.notify_one();
}

void Checkpointer::loop() noexcept {
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

}  // namespace onevisit::engine::sqlite
