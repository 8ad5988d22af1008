// The SQLite store (docs/storage.md): one write connection owned by a writer thread that
// group-commits requests (writer.hpp), and a small pool of read-only connections for queries.
//
// Read path. Queries run on read-only connections from a pool guarded by a mutex; in WAL mode
// a reader sees the last committed state and never waits for the writer.
//
// Open. Nothing is written to a file before it is known to be ours (schema.hpp); then WAL
// mode is set and the schema is migrated forward in one transaction.
#include "store/sqlite/store.hpp"

#include "store/sealing.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/schema.hpp"
#include "store/sqlite/writer.hpp"
#include "store/store_common.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string_view>

namespace onevisit::engine {
namespace {

using sqlite::Checkpointer;
using sqlite::Connection;
using sqlite::kApplicationId;
using sqlite::kConfigureWriter;
using sqlite::kSchemaVersion;
using sqlite::kSelectLastEvent;
using sqlite::prepare;
using sqlite::Statement;
using sqlite::to_sql;
using sqlite::Writer;
using Kind = StoreError::Kind;
using store_common::capped;
using store_common::case_query;
using store_common::CasePlan;
using store_common::DynamicQuery;
using store_common::fail;
using store_common::guarded;
using store_common::in_quotes;
using store_common::kFewCases;
using store_common::Sealer;

// Idle read connections kept open; more are opened under load and closed when released.
constexpr std::size_t kMaxIdleReaders = 8;
// With its NUL: the first 16 bytes of every SQLite file.
constexpr char kSqliteMagic[] = "SQLite format 3";

int busy_timeout_ms(const SqliteOptions& options) {
  return static_cast<int>(std::clamp<std::int64_t>(options.busy_timeout.count(), 0, 1 << 30));
}

// Statements of the read path.

constexpr const char* kSelectCaseSequence = "SELECT last FROM case_sequences WHERE day = ?";
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
constexpr const char* kListDeployed = "SELECT bundle_id, version, source_hash, deployed_at FROM workflows ORDER BY bundle_id, version";
constexpr const char* kLoadWorkflow =
    "SELECT bundle_id, version, source_hash, source, deployed_at FROM workflows WHERE bundle_id = ? AND version = ?";
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
        checkpointer_(std::move(checkpointer), options.checkpoint_frames) {}

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
    return store_common::commit_through(writer_, request);
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
    using Entries = std::vector<WorklistEntry>;
    return read<Entries>([&](Connection& c) -> std::expected<Entries, StoreError> {
      auto rows = [&](const DynamicQuery& query) -> std::expected<Entries, StoreError> {
        auto stmt = prepare(c, query);
        if (!stmt) return std::unexpected(stmt.error());
        return stmt->collect([](const Statement& s) {
          WorklistEntry e;
          e.case_id = s.text(0);
          e.bundle_id = s.text(1);
          e.item = ItemRow{s.text(2), s.text(3), s.text(4), s.int64(5) != 0, s.int64(6), s.text(7), s.int64(8) != 0};
          e.part = s.text(9);
          return e;
        });
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
    return store_common::update_outbox_through(writer_, record);
  }

  std::expected<void, StoreError> update_outbox_many(const std::vector<OutboxRecord>& records) override {
    return store_common::update_outbox_many_through(writer_, records);
  }

  std::expected<bool, StoreError> deploy(const DeployedWorkflow& workflow) override {
    return store_common::deploy_through(writer_, workflow);
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

  std::expected<std::uint64_t, StoreError> deployed_versions() override {
    return read<std::uint64_t>([&](Connection& c) -> std::expected<std::uint64_t, StoreError> {
      auto stmt = c.prepare("SELECT COUNT(*) FROM workflows");
      if (!stmt) return std::unexpected(stmt.error());
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

  std::expected<std::vector<DeployedWorkflow>, StoreError> list_deployed() override {
    return read<std::vector<DeployedWorkflow>>(
        [&](Connection& c) -> std::expected<std::vector<DeployedWorkflow>, StoreError> {
          auto stmt = c.prepare(kListDeployed);
          if (!stmt) return std::unexpected(stmt.error());
          return stmt->collect([](const Statement& s) {
            return DeployedWorkflow{s.text(0), static_cast<int>(s.int64(1)), s.text(2), "", s.int64(3), 0};
          });
        });
  }

  std::expected<std::optional<DeployedWorkflow>, StoreError> load_workflow(const std::string& bundle_id, int version) override {
    using Found = std::optional<DeployedWorkflow>;
    return read<Found>([&](Connection& c) -> std::expected<Found, StoreError> {
      auto stmt = c.prepare(kLoadWorkflow);
      if (!stmt) return std::unexpected(stmt.error());
      stmt->bind(bundle_id).bind(std::int64_t{version});
      auto row = stmt->next();
      if (!row) return std::unexpected(row.error());
      if (!*row) return Found{};
      return Found{DeployedWorkflow{stmt->text(0), static_cast<int>(stmt->int64(1)), stmt->text(2), stmt->text(3), stmt->int64(4), 0}};
    });
  }

 private:
  // Queues a job on the writer and waits for its batch to commit.
  template <typename T>
  std::expected<T, StoreError> write(Writer::Body<T> body) {
    return writer_.write<T>(std::move(body));
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
// Opening: inspection (read-only), configuration, migration (schema.hpp).

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

