// The SQLite store against its contract (engine/include/onevisit/engine/store.hpp,
// docs/storage.md): round trips, optimistic concurrency, idempotency, group commit, refusal
// of foreign and damaged files, the queries, and durability across kill -9 of a writer.
#include <onevisit/engine/engine.hpp>  // make_memory_store
#include <onevisit/engine/store.hpp>

#include "store/sqlite/store.hpp"  // white-box: group-commit counters
#include "../test_support.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace onevisit::engine;
using Kind = StoreError::Kind;

using onevisit::testing::ScratchDir;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::unique_ptr<Store> open_store(const std::string& path, const SqliteOptions& options = {}) {
  auto store = open_sqlite_store(path, options);
  if (!store) FAIL("open_sqlite_store: " << store.error().message);
  return std::move(*store);
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::io:
      return "io";
    case Kind::corrupt:
      return "corrupt";
    case Kind::foreign:
      return "foreign";
    case Kind::version_conflict:
      return "version_conflict";
    case Kind::not_found:
      return "not_found";
    case Kind::invalid:
      return "invalid";
    case Kind::locked:
      return "locked";
    case Kind::unavailable:
      return "unavailable";
  }
  return "?";
}

/// Runs raw SQL on a database (outside the store), e.g. to fake another application's file.
void raw_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  const std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  INFO(sql << ": " << message);
  REQUIRE(rc == SQLITE_OK);
}

/// Every idempotency record in a file, as rows (command_id, case_id, version): a case start's
/// and a commit's without events in `commands`, any other's on its last event (schema 5).
const std::string kCommandRecords =
    "(SELECT command_id, case_id, version FROM commands UNION ALL "
    "SELECT command_id, case_id, sequence AS version FROM events WHERE command_id IS NOT NULL)";

/// A commit of `events` events to `case_id` at `expected_version`, with an item, a timer
/// and a result derived from the resulting version.
CommitRequest make_commit(const std::string& command_id, const std::string& case_id,
                          std::uint64_t expected_version, std::size_t events = 1,
                          const std::string& bundle = "enterprise_startup", int bundle_version = 2) {
  CommitRequest r;
  r.command_id = command_id;
  r.case_id = case_id;
  r.expected_version = expected_version;
  const auto version = expected_version + events;
  for (std::size_t i = 0; i < events; ++i) {
    const auto seq = expected_version + 1 + i;
    r.events.push_back(StoredEvent{seq, seq == 1 ? "CaseStarted" : "ItemTransitioned",
                                   "{\"n\":" + std::to_string(seq) + "}",
                                   1000 + static_cast<Timestamp>(seq)});
  }
  r.snapshot = "{\"version\":" + std::to_string(version) + "}";
  r.summary = CaseSummary{
      case_id, bundle, bundle_version, "running", "张*", 1000, 1000 + static_cast<Timestamp>(version),
      version};
  r.items = {ItemRow{"registration", "market", "accepted", false, 5000, ""}};
  r.result = "{\"ok\":true,\"version\":" + std::to_string(version) + "}";
  return r;
}

CommitResult commit_ok(Store& store, const CommitRequest& r) {
  auto result = store.commit(r);
  if (!result)
    FAIL("commit " << r.command_id << ": " << kind_name(result.error().kind) << ": "
                   << result.error().message);
  return *result;
}

std::size_t count_rows(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  const auto n = static_cast<std::size_t>(sqlite3_column_int64(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

// The details of SQLite's plan for `sql`, one line per step.
std::string query_plan(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  std::string plan;
  while (sqlite3_step(stmt) == SQLITE_ROW) plan += std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3))) + "\n";
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return plan;
}

}  // namespace

TEST_CASE("store: every record type round-trips, also after reopening") {
  ScratchDir dir;
  const auto path = dir.file("cases.db");
  {
    auto store = open_store(path);
    CommitRequest r = make_commit("cmd-1", "case-1", 0, 2);
    r.items = {ItemRow{"registration", "market", "accepted", false, 5000, "yellow"},
               ItemRow{"seal", "police", "submitted", false, 0, ""}};
    r.set_timers = {TimerRecord{"case-1", "item:registration:overdue", 5000, "{\"fire\":\"overdue\"}"},
                    TimerRecord{"", "item:registration:warn", 4000, "{\"fire\":\"warn\"}"}};
    r.outbox = {OutboxRecord{0, "case-1/registration/accept", "", "market", "market_registry", "submit",
                             "{\"name\":\"某某公司\"}", 0, 0, "pending", ""}};
    const auto first = commit_ok(*store, r);
    CHECK_FALSE(first.duplicate);
    CHECK(first.version == 2);
    CHECK(first.result == r.result);

    CommitRequest next = make_commit("cmd-2", "case-1", 2, 1);
    next.summary.status = "completed";
    next.items = {ItemRow{"registration", "market", "approved", true, 0, ""}};
    next.cancel_timers = {"item:registration:overdue"};
    next.set_timers = {TimerRecord{"", "item:registration:warn", 4500, "{\"fire\":\"warn2\"}"}};
    CHECK(commit_ok(*store, next).version == 3);

    auto deployed = store->deploy(DeployedWorkflow{"enterprise_startup", 2, "sha256:abc", "bundle ...", 900});
    REQUIRE(deployed);
    CHECK(*deployed);
  }
  // Everything must come back the same from a new store on the same file.
  auto store = open_store(path);
  auto loaded = store->load_case("case-1");
  REQUIRE(loaded);
  REQUIRE(loaded->has_value());
  const auto& summary = (*loaded)->summary;
  CHECK((*loaded)->snapshot_version == 3);  // every commit of this test sends a snapshot
  CHECK((*loaded)->events.empty());
  const auto& snapshot = (*loaded)->snapshot;
  CHECK(summary.case_id == "case-1");
  CHECK(summary.bundle_id == "enterprise_startup");
  CHECK(summary.bundle_version == 2);
  CHECK(summary.status == "completed");
  CHECK(summary.applicant == "张*");
  CHECK(summary.started_at == 1000);
  CHECK(summary.updated_at == 1003);
  CHECK(summary.version == 3);
  CHECK(snapshot == "{\"version\":3}");

  auto events = store->load_events("case-1");
  REQUIRE(events);
  REQUIRE(events->size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK((*events)[i].sequence == i + 1);
    CHECK((*events)[i].payload == "{\"n\":" + std::to_string(i + 1) + "}");
    CHECK((*events)[i].recorded_at == static_cast<Timestamp>(1001 + i));
  }
  CHECK((*events)[0].type == "CaseStarted");
  CHECK((*events)[2].type == "ItemTransitioned");

  auto timers = store->due_timers(10'000, 10);
  REQUIRE(timers);
  REQUIRE(timers->size() == 1);
  CHECK((*timers)[0].case_id == "case-1");
  CHECK((*timers)[0].timer_id == "item:registration:warn");
  CHECK((*timers)[0].due_at == 4500);
  CHECK((*timers)[0].payload == "{\"fire\":\"warn2\"}");

  auto outbox = store->pending_outbox(0, 10);
  REQUIRE(outbox);
  REQUIRE(outbox->size() == 1);
  const auto& o = (*outbox)[0];
  CHECK(o.id > 0);
  CHECK(o.idempotency_key == "case-1/registration/accept");
  CHECK(o.case_id == "case-1");
  CHECK(o.department == "market");
  CHECK(o.adapter == "market_registry");
  CHECK(o.operation == "submit");
  CHECK(o.payload == "{\"name\":\"某某公司\"}");
  CHECK(o.attempts == 0);
  CHECK(o.status == "pending");

  // The second commit named only the registration row, now final; the seal row stays as the
  // first commit left it, so it is the one open item.
  auto work = store->worklist({});
  REQUIRE(work);
  REQUIRE(work->size() == 1);
  CHECK((*work)[0].item.item_id == "seal");
  CHECK((*work)[0].item.state == "submitted");
  CaseQuery approved;
  approved.item_state = "approved";
  auto cases = store->list_cases(approved);
  REQUIRE(cases);
  REQUIRE(cases->size() == 1);
  CHECK((*cases)[0].version == 3);

  auto workflows = store->list_workflows();
  REQUIRE(workflows);
  REQUIRE(workflows->size() == 1);
  CHECK((*workflows)[0].bundle_id == "enterprise_startup");
  CHECK((*workflows)[0].version == 2);
  CHECK((*workflows)[0].source_hash == "sha256:abc");
  CHECK((*workflows)[0].source == "bundle ...");
  CHECK((*workflows)[0].deployed_at == 900);
  CHECK((*workflows)[0].cases == 1);

  auto missing = store->load_case("nope");
  REQUIRE(missing);
  CHECK_FALSE(missing->has_value());
  auto no_events = store->load_events("nope");
  REQUIRE(no_events);
  CHECK(no_events->empty());
}

TEST_CASE("store: a version conflict changes nothing") {
  ScratchDir dir;
  const auto path = dir.file("cases.db");
  auto store = open_store(path);
  CommitRequest first = make_commit("cmd-1", "case-1", 0, 2);
  first.set_timers = {TimerRecord{"", "t", 100, "{}"}};
  commit_ok(*store, first);

  SECTION("a second start of the same case") {
    CommitRequest again = make_commit("cmd-2", "case-1", 0, 1);
    again.outbox = {OutboxRecord{0, "k", "", "tax", "tax_gateway", "submit", "{}", 0, 0, "pending", ""}};
    auto result = store->commit(again);
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == Kind::version_conflict);
    CHECK_THAT(result.error().message, Catch::Contains("version 2"));
  }
  SECTION("a command decided on an old version") {
    CommitRequest stale = make_commit("cmd-2", "case-1", 1, 1);
    stale.cancel_timers = {"t"};
    stale.outbox = {OutboxRecord{0, "k", "", "tax", "tax_gateway", "submit", "{}", 0, 0, "pending", ""}};
    auto result = store->commit(stale);
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == Kind::version_conflict);
    CHECK_THAT(result.error().message,
               Catch::Contains("expected the case at version 1, but it is at version 2"));
  }
  SECTION("a command on a case that does not exist") {
    auto result = store->commit(make_commit("cmd-2", "case-2", 4, 1));
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == Kind::not_found);
  }
  SECTION("a command that moves the case to another workflow version") {
    auto result = store->commit(make_commit("cmd-2", "case-1", 2, 1, "enterprise_startup", 3));
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == Kind::invalid);
  }

  auto loaded = store->load_case("case-1");
  REQUIRE(loaded);
  REQUIRE(loaded->has_value());
  CHECK((*loaded)->summary.version == 2);
  CHECK((*loaded)->snapshot == "{\"version\":2}");
  CHECK(store->load_events("case-1")->size() == 2);
  CHECK(store->due_timers(1000, 10)->size() == 1);
  CHECK(store->pending_outbox(1000, 10)->empty());
  CHECK(count_rows(path, "SELECT COUNT(*) FROM " + kCommandRecords) == 1);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM cases") == 1);
  // The refused command id was not recorded: deciding it again on the current version works.
  auto retried = commit_ok(*store, make_commit("cmd-2", "case-1", 2, 1));
  CHECK_FALSE(retried.duplicate);
  CHECK(retried.version == 3);
}

TEST_CASE("store: a duplicate command id returns the first result and writes nothing") {
  ScratchDir dir;
  const auto path = dir.file("cases.db");
  auto store = open_store(path);
  const auto first = commit_ok(*store, make_commit("cmd-1", "case-1", 0, 2));
  commit_ok(*store, make_commit("cmd-2", "case-1", 2, 1));

  // The retry of the start carries other content (it was decided again); the store answers
  // with what the first commit stored.
  CommitRequest retry = make_commit("cmd-1", "case-1", 0, 4);
  retry.outbox = {OutboxRecord{0, "k", "", "tax", "tax_gateway", "submit", "{}", 0, 0, "pending", ""}};
  retry.result = "{\"other\":true}";
  auto again = store->commit(retry);
  REQUIRE(again);
  CHECK(again->duplicate);
  CHECK(again->version == first.version);
  CHECK(again->result == first.result);
  CHECK(store->load_events("case-1")->size() == 3);
  CHECK((*store->load_case("case-1"))->summary.version == 3);
  CHECK(store->pending_outbox(1000, 10)->empty());
  CHECK(count_rows(path, "SELECT COUNT(*) FROM " + kCommandRecords) == 2);

  // The same id on another case is a client bug, not a retry.
  auto reused = store->commit(make_commit("cmd-1", "case-9", 0, 1));
  REQUIRE_FALSE(reused);
  CHECK(reused.error().kind == Kind::invalid);
  CHECK_FALSE(store->load_case("case-9")->has_value());
}

TEST_CASE("store: a command on an existing case is recorded on its last event, and its late retry finds it") {
  ScratchDir dir;
  const auto path = dir.file("cases.db");
  auto store = open_store(path);
  commit_ok(*store, make_commit("start-1", "case-1", 0, 1));
  const auto first = commit_ok(*store, make_commit("cmd-2", "case-1", 1, 2));
  for (std::uint64_t v = 3; v < 40; ++v)
    commit_ok(*store, make_commit("cmd-" + std::to_string(v), "case-1", v, 1));

  // The start is in `commands` (a retried start may come with another case id); cmd-2 only on
  // its last event, the case's third.
  CHECK(count_rows(path, "SELECT COUNT(*) FROM commands") == 1);
  CHECK(count_rows(path, "SELECT sequence FROM events WHERE command_id = 'cmd-2'") == 3);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM events WHERE command_id IS NULL") == 2);

  // A retry decided long ago (version 20), held up, and sent now gets the first result of 37
  // commits back; nothing is written.
  CommitRequest retry = make_commit("cmd-2", "case-1", 20, 1);
  retry.result = "{\"other\":true}";
  auto again = store->commit(retry);
  REQUIRE(again);
  CHECK(again->duplicate);
  CHECK(again->version == first.version);
  CHECK(again->result == first.result);
  CHECK((*store->load_case("case-1"))->summary.version == 40);
  // And so does a retry decided on the version the command was applied to (it lost the race
  // to its first attempt). One decided again after that commit is the caller's to recognise
  // (find_command before deciding; the engine does, under the case's lock).
  auto raced = store->commit(make_commit("cmd-2", "case-1", 1, 2));
  REQUIRE(raced);
  CHECK(raced->duplicate);
  CHECK(raced->version == 3);

  auto found = store->find_command("case-1", "cmd-2");
  REQUIRE(found);
  REQUIRE(found->has_value());
  CHECK((*found)->duplicate);
  CHECK((*found)->version == 3);
  CHECK((*found)->result == first.result);
  CHECK(store->find_command("case-1", "start-1")->has_value());
  CHECK(store->find_command("", "start-1")->has_value());  // a start's id alone finds it
  CHECK_FALSE(store->find_command("", "cmd-2")->has_value());
  CHECK_FALSE(store->find_command("case-1", "cmd-99")->has_value());
  CHECK_FALSE(store->find_command("case-9", "cmd-2")->has_value());

  // Ids of commands on existing cases are scoped to their case: on another case it is another command.
  commit_ok(*store, make_commit("start-2", "case-2", 0, 1));
  const auto other = commit_ok(*store, make_commit("cmd-2", "case-2", 1, 1));
  CHECK_FALSE(other.duplicate);
  CHECK(other.version == 2);
  // A start's id is not: the same id starting another case is a client bug.
  auto reused = store->commit(make_commit("start-1", "case-3", 0, 1));
  REQUIRE_FALSE(reused);
  CHECK(reused.error().kind == Kind::invalid);
  CHECK(reused.error().message.find("case-1") != std::string::npos);
}

TEST_CASE(
    "store: commits without a command id keep no record, a keyed commit without events is found by its id") {
  ScratchDir dir;
  const auto path = dir.file("cases.db");
  auto store = open_store(path);
  commit_ok(*store, make_commit("", "case-1", 0, 2));
  commit_ok(*store, make_commit("", "case-1", 2, 1));
  CHECK(count_rows(path, "SELECT COUNT(*) FROM " + kCommandRecords) == 0);
  // Without an id a stale commit is simply a conflict.
  auto stale = store->commit(make_commit("", "case-1", 2, 1));
  REQUIRE_FALSE(stale);
  CHECK(stale.error().kind == Kind::version_conflict);
  auto unknown = store->commit(make_commit("", "case-9", 4, 1));
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().kind == Kind::not_found);
  // A new case id that is taken: a conflict, and nothing of the request is written.
  auto taken = store->commit(make_commit("", "case-1", 0, 1));
  REQUIRE_FALSE(taken);
  CHECK(taken.error().kind == Kind::version_conflict);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM events") == 3);

  // A commit without events (a fired timer that changes nothing else) leaves the version as
  // it was, so its record goes to `commands` and a retry at the same version finds it.
  CommitRequest quiet = make_commit("timer-1", "case-1", 3, 0);
  quiet.snapshot.clear();
  quiet.cancel_timers = {"t"};
  const auto applied = commit_ok(*store, quiet);
  CHECK_FALSE(applied.duplicate);
  CHECK(applied.version == 3);
  auto history = store->load_events("case-1");  // the case row still names its latest event
  REQUIRE(history);
  CHECK(history->size() == 3);
  auto retried = store->commit(quiet);
  REQUIRE(retried);
  CHECK(retried->duplicate);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM commands WHERE command_id = 'timer-1'") == 1);
  CHECK(store->find_command("", "timer-1")->has_value());
}

TEST_CASE("store: a damaged chain of events is reported as corrupt, and no walk of it loops") {
  ScratchDir dir;
  const auto path = dir.file("cases.db");
  {
    auto store = open_store(path);
    commit_ok(*store, make_commit("start", "case-1", 0, 1));
    for (std::uint64_t v = 1; v < 5; ++v)
      commit_ok(*store, make_commit("cmd-" + std::to_string(v), "case-1", v, 1));
  }
  SECTION("a link that points forward (a loop)") {
    raw_sql(path, "UPDATE events SET previous = (SELECT MAX(id) FROM events) WHERE sequence = 3");
  }
  SECTION("a link to nothing (an event lost)") {
    raw_sql(path, "UPDATE events SET previous = 0 WHERE sequence = 4");
  }
  SECTION("an event of another sequence in the chain") {
    raw_sql(path, "UPDATE events SET sequence = 9 WHERE sequence = 2");
  }
  auto store = open_store(path);
  auto events = store->load_events("case-1");
  REQUIRE_FALSE(events);
  CHECK(events.error().kind == Kind::corrupt);
  CHECK(events.error().message.find("case-1") != std::string::npos);
  auto loaded = store->load_case("case-1");  // its snapshot is at version 5: no events to walk
  REQUIRE(loaded);
  // Looking a command up walks the chain too; it ends.
  auto found = store->find_command("case-1", "no-such-command");
  REQUIRE(found);
  CHECK_FALSE(found->has_value());
}

TEST_CASE("store: inconsistent requests are refused as invalid before anything is written") {
  ScratchDir dir;
  const auto path = dir.file("cases.db");
  auto store = open_store(path);
  commit_ok(*store, make_commit("cmd-0", "case-0", 0, 1));

  CommitRequest r = make_commit("cmd-1", "case-1", 0, 2);
  SECTION("no case id") { r.case_id.clear(); }
  SECTION("a gap in the event sequences") {
    r.events[1].sequence = 3;
    r.summary.version = 3;
  }
  SECTION("events not starting after expected_version") {
    r.events[0].sequence = 2;
    r.events[1].sequence = 3;
  }
  SECTION("a summary version that does not add up") { r.summary.version = 5; }
  SECTION("a summary for another case") { r.summary.case_id = "case-2"; }
  SECTION("a new case without events") {
    r.events.clear();
    r.summary.version = 0;
  }
  SECTION("an event without type") { r.events[0].type.clear(); }
  SECTION("an item twice") { r.items.push_back(r.items[0]); }
  SECTION("an unknown light") { r.items[0].light = "green"; }
  SECTION("a timer of another case") { r.set_timers = {TimerRecord{"case-0", "t", 1, "{}"}}; }
  SECTION("a timer set and cancelled") {
    r.set_timers = {TimerRecord{"", "t", 1, "{}"}};
    r.cancel_timers = {"t"};
  }
  SECTION("an outbox entry without key") {
    r.outbox = {OutboxRecord{0, "", "", "d", "a", "op", "{}", 0, 0, "pending", ""}};
  }
  SECTION("an outbox entry with an unknown status") {
    r.outbox = {OutboxRecord{0, "k", "", "d", "a", "op", "{}", 0, 0, "sent", ""}};
  }
  auto result = store->commit(r);
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == Kind::invalid);
  CHECK_FALSE(result.error().message.empty());
  CHECK(count_rows(path, "SELECT COUNT(*) FROM cases") == 1);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM commands") == 1);
}

TEST_CASE("store: 8 threads x 500 commits all land and share transactions") {
  ScratchDir dir;
  const auto path = dir.file("cases.db");
  auto store = open_store(path);
  constexpr int kThreads = 8;
  constexpr int kCommits = 500;
  constexpr int kCasesPerThread = 10;

  std::atomic<bool> writing{true};
  std::atomic<int> failures{0};
  std::atomic<int> inconsistent_reads{0};
  // A reader keeps querying while the writers run: each single read is a consistent snapshot.
  std::thread reader([&] {
    while (writing.load()) {
      auto c = store->load_case("t3-c0");
      if (!c) {
        ++failures;
      } else if (c->has_value() &&
                 (*c)->snapshot != "{\"version\":" + std::to_string((*c)->summary.version) + "}") {
        ++inconsistent_reads;
      }
      if (!store->worklist({}) || !store->list_cases({})) ++failures;
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kCommits; ++i) {
        const auto case_id = "t" + std::to_string(t) + "-c" + std::to_string(i % kCasesPerThread);
        const auto version = static_cast<std::uint64_t>(i / kCasesPerThread);
        auto r = make_commit(case_id + "-n" + std::to_string(i), case_id, version, 1);
        auto result = store->commit(r);
        if (!result || result->duplicate || result->version != version + 1) ++failures;
      }
    });
  }
  for (auto& w : writers) w.join();
  writing = false;
  reader.join();
  CHECK(failures == 0);
  CHECK(inconsistent_reads == 0);

  for (int t = 0; t < kThreads; ++t) {
    for (int c = 0; c < kCasesPerThread; ++c) {
      const auto case_id = "t" + std::to_string(t) + "-c" + std::to_string(c);
      auto events = store->load_events(case_id);
      REQUIRE(events);
      CHECK(events->size() == kCommits / kCasesPerThread);
      CHECK((*store->load_case(case_id))->summary.version == kCommits / kCasesPerThread);
    }
  }
  auto stats = sqlite_store_stats(*store);
  REQUIRE(stats);
  INFO("writes " << stats->writes << ", transactions " << stats->transactions << ", largest batch "
                 << stats->largest_batch);
  CHECK(stats->writes == kThreads * kCommits);
  // Group commit: concurrent commits share transactions (fsyncs).
  CHECK(stats->transactions < stats->writes);
  CHECK(stats->largest_batch > 1);
  CHECK(stats->largest_batch <= kThreads);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM " + kCommandRecords) == kThreads * kCommits);
}

TEST_CASE("store: racing commands on one case: one wins per version, the losers leave no trace") {
  // Commands decided on the same version land in the same group transaction; each loser is
  // rolled back to its own savepoint while the winner and the other cases' commits stay.
  ScratchDir dir;
  const auto path = dir.file("cases.db");
  auto store = open_store(path);
  commit_ok(*store, make_commit("start", "shared", 0, 1));
  constexpr int kThreads = 8;
  constexpr int kAttempts = 40;
  std::atomic<int> won{0};
  std::atomic<int> conflicts{0};
  std::atomic<int> other_errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAttempts; ++i) {
        auto loaded = store->load_case("shared");
        if (!loaded || !loaded->has_value()) {
          ++other_errors;
          continue;
        }
        const auto version = (*loaded)->summary.version;
        auto r = make_commit("t" + std::to_string(t) + "-" + std::to_string(i), "shared", version, 1);
        r.outbox = {
            OutboxRecord{0, r.command_id, "", "tax", "tax_gateway", "submit", "{}", 0, 0, "pending", ""}};
        // A commit to a case of its own rides in the same batches and must not be disturbed.
        auto own = make_commit("own-t" + std::to_string(t) + "-" + std::to_string(i),
                               "own-" + std::to_string(t), static_cast<std::uint64_t>(i), 1);
        std::thread side([&] {
          if (!store->commit(own)) ++other_errors;
        });
        auto result = store->commit(r);
        side.join();
        if (result) {
          ++won;
        } else if (result.error().kind == Kind::version_conflict) {
          ++conflicts;
        } else {
          ++other_errors;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(other_errors == 0);
  CHECK(won + conflicts == kThreads * kAttempts);
  CHECK(conflicts > 0);
  const auto version = (*store->load_case("shared"))->summary.version;
  CHECK(version == static_cast<std::uint64_t>(won + 1));
  CHECK(store->load_events("shared")->size() == version);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM " + kCommandRecords + " WHERE case_id = 'shared'") == version);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM outbox") == version - 1);
  for (int t = 0; t < kThreads; ++t) {
    CHECK(store->load_events("own-" + std::to_string(t))->size() == kAttempts);
  }
}

TEST_CASE("store: files that are not onevisit databases are refused and left as they were") {
  ScratchDir dir;
  const auto path = dir.file("input.db");
  Kind expected = Kind::io;

  SECTION("a text file") {
    write_bytes(path, "case_id,status\ncase-1,running\n");
    expected = Kind::foreign;
  }
  SECTION("random bytes") {
    std::mt19937 random(7);
    std::string bytes(8192, '\0');
    for (auto& b : bytes) b = static_cast<char>(random());
    write_bytes(path, bytes);
    expected = Kind::foreign;
  }
  SECTION("a truncated copy of a real database") {
    const auto real = dir.file("real.db");
    {
      auto store = open_store(real);
      for (int i = 0; i < 200; ++i) {
        auto r = make_commit("cmd-" + std::to_string(i), "case-" + std::to_string(i), 0, 3);
        r.snapshot = std::string(2000, 'x');
        commit_ok(*store, r);
      }
    }
    const auto bytes = read_bytes(real);
    REQUIRE(bytes.size() > 100'000);
    write_bytes(path, bytes.substr(0, bytes.size() / 2));
    expected = Kind::corrupt;
  }
  SECTION("a database truncated inside its header") {
    const auto real = dir.file("real.db");
    { open_store(real); }
    write_bytes(path, read_bytes(real).substr(0, 60));
    expected = Kind::corrupt;
  }
  SECTION("a database with a damaged table page") {
    {
      auto store = open_store(path);
      for (int i = 0; i < 50; ++i)
        commit_ok(*store, make_commit("cmd-" + std::to_string(i), "case-" + std::to_string(i), 0, 3));
    }
    const auto root = count_rows(path, "SELECT rootpage FROM sqlite_master WHERE name = 'events'");
    const auto page_size = count_rows(path, "PRAGMA page_size");
    auto bytes = read_bytes(path);
    REQUIRE(root > 1);
    REQUIRE(bytes.size() >= root * page_size);
    for (std::size_t i = 0; i < 12; ++i)
      bytes[(root - 1) * page_size + i] = '\xff';  // the b-tree page header
    write_bytes(path, bytes);
    expected = Kind::corrupt;
  }
  SECTION("onevisit's application_id without a schema version") {
    raw_sql(path, "PRAGMA application_id = 1330529622; CREATE TABLE t (x);");
    expected = Kind::corrupt;
  }
  SECTION("a database of another application (application_id)") {
    raw_sql(path, "PRAGMA application_id = 1179011410; CREATE TABLE t (x); INSERT INTO t VALUES (1);");
    expected = Kind::foreign;
  }
  SECTION("a database of another application (no application_id)") {
    raw_sql(path, "CREATE TABLE cases (x); INSERT INTO cases VALUES (1);");
    expected = Kind::foreign;
  }
  SECTION("an onevisit database of a newer schema version") {
    { open_store(path); }
    raw_sql(path, "PRAGMA user_version = 99;");
    expected = Kind::foreign;
  }

  const auto before = read_bytes(path);
  auto store = open_sqlite_store(path);
  REQUIRE_FALSE(store);
  INFO(store.error().message);
  CHECK(kind_name(store.error().kind) == std::string(kind_name(expected)));
  CHECK_THAT(store.error().message, Catch::Contains(path));
  CHECK(read_bytes(path) == before);
  CHECK_FALSE(fs::exists(path + "-wal"));
  CHECK_FALSE(fs::exists(path + "-shm"));
  CHECK_FALSE(fs::exists(path + "-journal"));
}

TEST_CASE("store: opening creates, initialises an empty file, or reports what is missing") {
  ScratchDir dir;
  SECTION("a missing file without create") {
    SqliteOptions options;
    options.create = false;
    auto store = open_sqlite_store(dir.file("missing.db"), options);
    REQUIRE_FALSE(store);
    CHECK(store.error().kind == Kind::not_found);
    CHECK_FALSE(fs::exists(dir.file("missing.db")));
  }
  SECTION("an empty file") {
    write_bytes(dir.file("empty.db"), "");
    auto store = open_store(dir.file("empty.db"));
    commit_ok(*store, make_commit("cmd-1", "case-1", 0, 1));
  }
  SECTION("a directory") {
    auto store = open_sqlite_store(dir.file(""));
    REQUIRE_FALSE(store);
    CHECK(store.error().kind == Kind::foreign);
  }
  SECTION("no file path") {
    auto store = open_sqlite_store(":memory:");
    REQUIRE_FALSE(store);
    CHECK(store.error().kind == Kind::invalid);
  }
  SECTION("a missing directory") {
    auto store = open_sqlite_store(dir.file("no/such/dir.db"));
    REQUIRE_FALSE(store);
    CHECK(store.error().kind == Kind::io);
  }
  SECTION("an existing store, twice at once") {
    auto a = open_store(dir.file("shared.db"));
    auto b = open_store(dir.file("shared.db"));
    commit_ok(*a, make_commit("cmd-1", "case-1", 0, 1));
    auto conflict = b->commit(make_commit("cmd-2", "case-1", 0, 1));
    REQUIRE_FALSE(conflict);
    CHECK(conflict.error().kind == Kind::version_conflict);
    CHECK(commit_ok(*b, make_commit("cmd-1", "case-1", 0, 1)).duplicate);
  }
}

TEST_CASE("store: deploy is a no-op for the same source and refused for another") {
  ScratchDir dir;
  auto store = open_store(dir.file("cases.db"));
  const DeployedWorkflow v1{"newborn", 1, "sha256:1111", "bundle newborn version 1 {}", 100};
  auto first = store->deploy(v1);
  REQUIRE(first);
  CHECK(*first);
  auto same = store->deploy(v1);
  REQUIRE(same);
  CHECK_FALSE(*same);

  auto changed = v1;
  changed.source_hash = "sha256:2222";
  changed.source = "bundle newborn version 1 { changed }";
  auto refused = store->deploy(changed);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == Kind::invalid);
  CHECK_THAT(refused.error().message, Catch::Contains("new version"));

  changed.version = 2;
  auto second = store->deploy(changed);
  REQUIRE(second);
  CHECK(*second);
  auto bad = store->deploy(DeployedWorkflow{"", 1, "h", "", 0});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == Kind::invalid);

  commit_ok(*store, make_commit("c1", "case-1", 0, 1, "newborn", 1));
  commit_ok(*store, make_commit("c2", "case-2", 0, 1, "newborn", 1));
  commit_ok(*store, make_commit("c3", "case-3", 0, 1, "newborn", 2));
  auto workflows = store->list_workflows();
  REQUIRE(workflows);
  REQUIRE(workflows->size() == 2);
  CHECK((*workflows)[0].version == 1);
  CHECK((*workflows)[0].source_hash == "sha256:1111");
  CHECK((*workflows)[0].cases == 2);
  CHECK((*workflows)[1].version == 2);
  CHECK((*workflows)[1].source_hash == "sha256:2222");
  CHECK((*workflows)[1].cases == 1);
}

TEST_CASE("store: the worklist is ordered by due date with no deadline last, and filtered") {
  ScratchDir dir;
  auto store = open_store(dir.file("cases.db"));
  auto add = [&](const std::string& case_id, const std::string& bundle, const std::string& status,
                 Timestamp started, std::vector<ItemRow> items) {
    auto r = make_commit("cmd-" + case_id, case_id, 0, 1, bundle, 1);
    r.summary.status = status;
    r.summary.started_at = started;
    r.items = std::move(items);
    commit_ok(*store, r);
  };
  add("a", "enterprise_startup", "running", 10,
      {ItemRow{"registration", "market", "accepted", false, 300, ""},
       ItemRow{"seal", "police", "submitted", false, 0, ""}});
  add("b", "enterprise_startup", "running", 20,
      {ItemRow{"registration", "market", "approved", true, 50, ""},
       ItemRow{"invoice", "tax", "accepted", false, 100, "red"}});
  add("c", "newborn", "running", 30,
      {ItemRow{"birth", "health", "submitted", false, 200, "yellow"},
       ItemRow{"hukou", "police", "accepted", false, 0, ""}});
  add("d", "newborn", "withdrawn", 40, {ItemRow{"birth", "health", "correcting", false, 150, ""}});

  auto keys = [](const std::vector<WorklistEntry>& entries) {
    std::vector<std::string> out;
    for (const auto& e : entries) out.push_back(e.case_id + "/" + e.item.item_id);
    return out;
  };
  using V = std::vector<std::string>;

  auto all = store->worklist({});
  REQUIRE(all);
  CHECK(keys(*all) == V{"b/invoice", "d/birth", "c/birth", "a/registration", "a/seal", "c/hukou"});
  CHECK((*all)[0].bundle_id == "enterprise_startup");
  CHECK((*all)[0].item.department == "tax");
  CHECK((*all)[0].item.state == "accepted");
  CHECK((*all)[0].item.light == "red");
  CHECK((*all)[0].item.due_at == 100);
  CHECK_FALSE((*all)[0].item.final);

  CaseQuery q;
  q.department = "police";
  CHECK(keys(*store->worklist(q)) == V{"a/seal", "c/hukou"});
  q = {};
  q.item_state = "accepted";
  CHECK(keys(*store->worklist(q)) == V{"b/invoice", "a/registration", "c/hukou"});
  q = {};
  q.due_before = 200;
  CHECK(keys(*store->worklist(q)) == V{"b/invoice", "d/birth", "c/birth"});
  q = {};
  q.bundle_id = "newborn";
  q.status = "running";
  CHECK(keys(*store->worklist(q)) == V{"c/birth", "c/hukou"});
  q = {};
  q.limit = 2;
  q.offset = 3;
  CHECK(keys(*store->worklist(q)) == V{"a/registration", "a/seal"});
  // Pages of every size, across the items with a deadline and those without, add up to the whole.
  for (std::size_t size = 1; size <= 7; ++size) {
    V paged;
    for (std::size_t offset = 0; offset < 8; offset += size) {
      q = {};
      q.limit = size;
      q.offset = offset;
      auto page = store->worklist(q);
      REQUIRE(page);
      CHECK(page->size() <= size);
      for (auto& k : keys(*page)) paged.push_back(k);
    }
    INFO("page size " << size);
    CHECK(paged == keys(*all));
  }

  auto ids = [](const std::vector<CaseSummary>& cases) {
    std::vector<std::string> out;
    for (const auto& c : cases) out.push_back(c.case_id);
    return out;
  };
  CHECK(ids(*store->list_cases({})) == V{"d", "c", "b", "a"});  // newest first
  q = {};
  q.status = "running";
  q.bundle_id = "enterprise_startup";
  CHECK(ids(*store->list_cases(q)) == V{"b", "a"});
  q = {};
  q.department = "market";  // b's market item is final
  CHECK(ids(*store->list_cases(q)) == V{"a"});
  q = {};
  q.item_state = "approved";  // a state filter alone also finds final items
  CHECK(ids(*store->list_cases(q)) == V{"b"});
  q = {};
  q.due_before = 150;
  CHECK(ids(*store->list_cases(q)) == V{"d", "b"});
  q = {};
  q.department = "health";
  q.item_state = "submitted";
  CHECK(ids(*store->list_cases(q)) == V{"c"});
  q = {};
  q.limit = 2;
  q.offset = 1;
  CHECK(ids(*store->list_cases(q)) == V{"c", "b"});
  q.limit = 0;
  CHECK(store->list_cases(q)->empty());
}

TEST_CASE("store: due timers come oldest first, up to the limit") {
  ScratchDir dir;
  auto store = open_store(dir.file("cases.db"));
  auto r1 = make_commit("c1", "case-1", 0, 1);
  r1.set_timers = {TimerRecord{"", "late", 1000, "{}"}, TimerRecord{"", "warn", 200, "{\"w\":1}"}};
  commit_ok(*store, r1);
  auto r2 = make_commit("c2", "case-2", 0, 1);
  r2.set_timers = {TimerRecord{"", "overdue", 100, "{}"}, TimerRecord{"", "warn", 200, "{}"}};
  commit_ok(*store, r2);

  auto keys = [](const std::vector<TimerRecord>& timers) {
    std::vector<std::string> out;
    for (const auto& t : timers) out.push_back(t.case_id + "/" + t.timer_id + "@" + std::to_string(t.due_at));
    return out;
  };
  using V = std::vector<std::string>;
  CHECK(keys(*store->due_timers(99, 10)).empty());
  CHECK(keys(*store->due_timers(200, 10)) == V{"case-2/overdue@100", "case-1/warn@200", "case-2/warn@200"});
  CHECK(keys(*store->due_timers(5000, 2)) == V{"case-2/overdue@100", "case-1/warn@200"});

  // Re-setting moves a timer; cancelling removes it.
  auto r3 = make_commit("c3", "case-2", 1, 1);
  r3.set_timers = {TimerRecord{"", "warn", 1500, "{}"}};
  r3.cancel_timers = {"overdue", "never-set"};
  commit_ok(*store, r3);
  CHECK(keys(*store->due_timers(5000, 10)) == V{"case-1/warn@200", "case-1/late@1000", "case-2/warn@1500"});
}

TEST_CASE("store: outbox entries are recorded once per key and updated") {
  ScratchDir dir;
  auto store = open_store(dir.file("cases.db"));
  auto r = make_commit("c1", "case-1", 0, 1);
  r.outbox = {OutboxRecord{0, "case-1/reg/submit", "", "market", "market_registry", "submit", "{\"a\":1}", 0,
                           0, "pending", ""},
              OutboxRecord{0, "case-1/seal/submit", "", "police", "seal_system", "submit", "{}", 0, 500,
                           "pending", ""}};
  commit_ok(*store, r);
  // A later transition that repeats a key (the same intent) does not add a second call.
  auto r2 = make_commit("c2", "case-1", 1, 1);
  r2.outbox = {OutboxRecord{0, "case-1/reg/submit", "", "market", "market_registry", "submit", "{\"a\":2}", 0,
                            0, "pending", ""}};
  commit_ok(*store, r2);

  auto now = store->pending_outbox(100, 10);
  REQUIRE(now);
  REQUIRE(now->size() == 1);
  CHECK((*now)[0].idempotency_key == "case-1/reg/submit");
  CHECK((*now)[0].payload == "{\"a\":1}");
  auto later = store->pending_outbox(1000, 10);
  REQUIRE(later->size() == 2);
  CHECK((*later)[1].idempotency_key == "case-1/seal/submit");

  auto delivered = (*later)[0];
  delivered.status = "delivered";
  delivered.attempts = 1;
  REQUIRE(store->update_outbox(delivered));
  auto retry = (*later)[1];
  retry.attempts = 1;
  retry.next_attempt_at = 2000;
  retry.last_error = "timeout after 30 s";
  REQUIRE(store->update_outbox(retry));

  CHECK(store->pending_outbox(1000, 10)->empty());
  auto again = store->pending_outbox(2000, 10);
  REQUIRE(again->size() == 1);
  CHECK((*again)[0].id == retry.id);
  CHECK((*again)[0].attempts == 1);
  CHECK((*again)[0].next_attempt_at == 2000);
  CHECK((*again)[0].last_error == "timeout after 30 s");

  retry.status = "parked";
  REQUIRE(store->update_outbox(retry));
  CHECK(store->pending_outbox(1'000'000, 10)->empty());

  auto unknown = retry;
  unknown.id = 9999;
  auto missing = store->update_outbox(unknown);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().kind == Kind::not_found);
  unknown.id = retry.id;
  unknown.status = "sent";
  auto invalid = store->update_outbox(unknown);
  REQUIRE_FALSE(invalid);
  CHECK(invalid.error().kind == Kind::invalid);
}

namespace {

/// Runs the crash writer on `db` for `run_for`, kills it with SIGKILL and returns every line
/// it printed (one acknowledged command each).
std::vector<std::string> run_and_kill(const std::string& db, int run, std::chrono::milliseconds run_for) {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  const std::string program = ONEVISIT_CRASH_WRITER;
  const std::string run_arg = std::to_string(run);
  std::vector<char*> argv{const_cast<char*>(program.c_str()), const_cast<char*>(db.c_str()),
                          const_cast<char*>(run_arg.c_str()), nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  REQUIRE(spawned == 0);

  std::string output;
  char buffer[4096];
  const auto deadline = std::chrono::steady_clock::now() + run_for;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) > 0) {
      const auto n = ::read(fds[0], buffer, sizeof buffer);
      if (n <= 0) break;  // the writer died on its own: the test below reports it
      output.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  for (;;) {  // what it printed before dying is still in the pipe
    const auto n = ::read(fds[0], buffer, sizeof buffer);
    if (n <= 0) break;
    output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  INFO("crash writer exit status " << status << ", output tail: "
                                   << output.substr(output.size() > 300 ? output.size() - 300 : 0));
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));

  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t end; (end = output.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(output.substr(start, end - start));
  }
  return lines;  // a last line without newline was cut by the kill: not acknowledged
}

}  // namespace

TEST_CASE("store: acknowledged commits survive kill -9 and nothing is half-applied") {
  ScratchDir dir;
  const auto db = dir.file("crash.db");
  const auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> run_ms(50, 400);

  struct Ack {
    std::string case_id;
    std::uint64_t version;
  };
  std::map<std::string, Ack> acknowledged;  // command id -> case, version
  for (int run = 0; run < 10; ++run) {
    for (const auto& line : run_and_kill(db, run, std::chrono::milliseconds(run_ms(random)))) {
      std::istringstream in(line);
      std::string command, case_id;
      std::uint64_t version = 0;
      if (!(in >> command >> case_id >> version)) FAIL("unexpected output line: " << line);
      acknowledged[command] = Ack{case_id, version};
    }
  }
  INFO(acknowledged.size() << " acknowledged commands");
  REQUIRE(acknowledged.size() > 10);

  // The store opens the file after all those crashes (quick_check included) ...
  {
    auto store = open_store(db);
    for (const auto& [command, ack] : acknowledged) {
      auto loaded = store->load_case(ack.case_id);
      REQUIRE(loaded);
      REQUIRE(loaded->has_value());
      CHECK((*loaded)->summary.version >= ack.version);
      // The latest snapshot and the events after it make up the whole case.
      CHECK((*loaded)->snapshot_version + (*loaded)->events.size() == (*loaded)->summary.version);
    }
  }

  // ... and the raw tables show every acknowledged command with all its effects.
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  auto query = [&](const std::string& sql) {
    std::vector<std::vector<std::string>> rows;
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(raw, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const auto* text = sqlite3_column_text(stmt, i);
        row.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "");
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    return rows;
  };
  CHECK(query("PRAGMA integrity_check") == std::vector<std::vector<std::string>>{{"ok"}});

  std::map<std::string, std::string> command_versions;
  for (const auto& row : query("SELECT command_id, version FROM " + kCommandRecords))
    command_versions[row[0]] = row[1];
  for (const auto& [command, ack] : acknowledged) {
    INFO("command " << command);
    REQUIRE(command_versions.contains(command));
    CHECK(command_versions[command] == std::to_string(ack.version));
  }
  // Every case: events 1..version without gaps, item row and timer at that version, and its
  // latest snapshot (the writer sends one every fourth event) at a version it reached.
  const auto cases = query(
      "SELECT c.case_id, c.version, "
      "COALESCE((SELECT s.version || ' ' || s.snapshot FROM snapshots s WHERE s.case_id = c.case_id), ''), "
      "COUNT(e.sequence), MIN(e.sequence), MAX(e.sequence), "
      "(SELECT state FROM case_items i WHERE i.case_id = c.case_id), "
      "(SELECT due_at FROM timers t WHERE t.case_id = c.case_id) "
      "FROM cases c LEFT JOIN events e ON e.case_id = c.case_id GROUP BY c.case_id");
  REQUIRE(cases.size() >= 1);
  for (const auto& row : cases) {
    INFO("case " << row[0]);
    CHECK(row[3] == row[1]);
    CHECK(row[4] == "1");
    CHECK(row[5] == row[1]);
    if (!row[2].empty()) {
      const auto space = row[2].find(' ');
      const auto snapshot_version = std::stoull(row[2].substr(0, space));
      CHECK(snapshot_version <= std::stoull(row[1]));
      CHECK(row[2].substr(space + 1) == "{\"version\":" + std::to_string(snapshot_version) + "}");
    } else {
      CHECK(std::stoull(row[1]) < 4);
    }
    CHECK(row[6] == "v" + row[1]);
    CHECK(row[7] == row[1]);
  }
  // Every recorded command: its case reached its version, and its outbox intent is there.
  const auto orphans = query("SELECT m.command_id FROM " + kCommandRecords +
                             " m LEFT JOIN cases c ON c.case_id = m.case_id "
                             "WHERE c.case_id IS NULL OR c.version < m.version "
                             "OR NOT EXISTS (SELECT 1 FROM outbox o WHERE o.idempotency_key = m.command_id)");
  CHECK(orphans.empty());
  const auto unexplained = query(
      "SELECT c.case_id FROM cases c WHERE NOT EXISTS "
      "(SELECT 1 FROM " +
      kCommandRecords + " m WHERE m.case_id = c.case_id AND m.version = c.version)");
  CHECK(unexplained.empty());
  const auto stray_events = query(
      "SELECT e.case_id, e.sequence FROM events e JOIN cases c ON c.case_id = e.case_id "
      "WHERE e.sequence > c.version");
  CHECK(stray_events.empty());
  sqlite3_close(raw);
}

// The schema of release 1 exactly as it shipped (sqlite_store.cpp, kSchemaV1): a frozen copy,
// so that this test keeps opening a real version-1 file however the store changes.
constexpr const char* kReleasedSchemaV1 = R"sql(
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE workflows (bundle_id TEXT NOT NULL, version INTEGER NOT NULL, source_hash TEXT NOT NULL,
  source TEXT NOT NULL, deployed_at BIGINT NOT NULL, PRIMARY KEY (bundle_id, version));
CREATE TABLE cases (case_id TEXT PRIMARY KEY, bundle_id TEXT NOT NULL, bundle_version INTEGER NOT NULL,
  status TEXT NOT NULL, applicant TEXT NOT NULL, started_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
  version BIGINT NOT NULL CHECK (version >= 0), snapshot TEXT NOT NULL);
CREATE INDEX cases_by_bundle ON cases (bundle_id, bundle_version);
CREATE INDEX cases_by_status ON cases (status, started_at);
CREATE INDEX cases_by_start ON cases (started_at);
CREATE TABLE events (case_id TEXT NOT NULL REFERENCES cases (case_id), sequence BIGINT NOT NULL CHECK (sequence > 0),
  type TEXT NOT NULL, payload TEXT NOT NULL, recorded_at BIGINT NOT NULL, PRIMARY KEY (case_id, sequence));
CREATE TABLE commands (command_id TEXT PRIMARY KEY, case_id TEXT NOT NULL REFERENCES cases (case_id),
  version BIGINT NOT NULL, result TEXT NOT NULL);
CREATE TABLE case_items (case_id TEXT NOT NULL REFERENCES cases (case_id), item_id TEXT NOT NULL,
  department TEXT NOT NULL, state TEXT NOT NULL, final INTEGER NOT NULL CHECK (final IN (0, 1)),
  due_at BIGINT NOT NULL, light TEXT NOT NULL, PRIMARY KEY (case_id, item_id));
CREATE INDEX case_items_open_by_department ON case_items (department, due_at) WHERE final = 0;
CREATE INDEX case_items_open_by_due ON case_items (due_at) WHERE final = 0;
CREATE TABLE timers (case_id TEXT NOT NULL REFERENCES cases (case_id), timer_id TEXT NOT NULL,
  due_at BIGINT NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (case_id, timer_id));
CREATE INDEX timers_by_due ON timers (due_at);
CREATE TABLE outbox (id INTEGER PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE,
  case_id TEXT NOT NULL REFERENCES cases (case_id), department TEXT NOT NULL, adapter TEXT NOT NULL,
  operation TEXT NOT NULL, payload TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at BIGINT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'parked')), last_error TEXT NOT NULL);
CREATE INDEX outbox_by_status ON outbox (status, next_attempt_at);
INSERT INTO meta (key, value) VALUES ('application', 'onevisit'), ('schema_version', '1');
PRAGMA application_id = 1330529622;
PRAGMA user_version = 1;
)sql";

TEST_CASE("store: a version-1 database is migrated to the current version and its cases load as before") {
  ScratchDir dir;
  const auto path = dir.file("v1.db");
  raw_sql(path, kReleasedSchemaV1);
  raw_sql(path,
          "INSERT INTO cases VALUES ('case-1', 'enterprise_startup', 2, 'running', '张*', 1000, 1002, 2, "
          "'{\"version\":2}');"
          "INSERT INTO cases VALUES ('case-2', 'enterprise_startup', 2, 'running', '李*', 1000, 1003, 3, "
          "'{\"version\":3}');"
          // The two cases' events interleaved, as concurrent commits leave them.
          "INSERT INTO events VALUES ('case-2', 1, 'CaseStarted', '{\"m\":1}', 1001), "
          "('case-1', 1, 'CaseStarted', '{\"n\":1}', 1001), ('case-2', 2, 'ItemTransitioned', '{\"m\":2}', 1002), "
          "('case-1', 2, 'ItemTransitioned', '{\"n\":2}', 1002), ('case-2', 3, 'ItemTransitioned', '{\"m\":3}', 1003);"
          "INSERT INTO commands VALUES ('cmd-1', 'case-1', 2, '{\"ok\":true}');"
          "INSERT INTO case_items VALUES ('case-1', 'registration', 'market', 'accepted', 0, 5000, '');"
          // A case withdrawn while its item ran: before version 8 the item stayed open.
          "INSERT INTO cases VALUES ('case-4', 'enterprise_startup', 1, 'withdrawn', '王*', 1000, 1001, 1, '{\"version\":1}');"
          "INSERT INTO case_items VALUES ('case-4', 'registration', 'market', 'accepted', 0, 5000, '');");
  {
    auto store = open_store(path);
    auto loaded = store->load_case("case-1");
    REQUIRE(loaded);
    REQUIRE(loaded->has_value());
    CHECK((*loaded)->summary.version == 2);
    CHECK((*loaded)->summary.applicant == "张*");
    CHECK((*loaded)->snapshot_version == 2);  // the case row's snapshot moved to its own table
    CHECK((*loaded)->snapshot == "{\"version\":2}");
    CHECK((*loaded)->events.empty());
    auto again = store->find_command("case-1", "cmd-1");
    REQUIRE(again);
    REQUIRE(again->has_value());
    CHECK((*again)->version == 2);

    // The next commit sends no snapshot: the migrated one stays, the new event follows it.
    CommitRequest next = make_commit("cmd-2", "case-1", 2, 1);
    next.snapshot.clear();
    commit_ok(*store, next);
    loaded = store->load_case("case-1");
    REQUIRE(loaded);
    REQUIRE(loaded->has_value());
    CHECK((*loaded)->summary.version == 3);
    CHECK((*loaded)->snapshot_version == 2);
    REQUIRE((*loaded)->events.size() == 1);
    CHECK((*loaded)->events[0].sequence == 3);
    CHECK((*loaded)->events[0].payload == "{\"n\":3}");
    // Version 4: each case's history is its chain of events, the migrated ones and the new one.
    const auto payloads = [&](const std::string& case_id) {
      std::vector<std::string> out;
      auto events = store->load_events(case_id);
      REQUIRE(events);
      for (std::size_t i = 0; i < events->size(); ++i) {
        CHECK((*events)[i].sequence == i + 1);
        out.push_back((*events)[i].payload);
      }
      return out;
    };
    CHECK(payloads("case-1") == std::vector<std::string>{"{\"n\":1}", "{\"n\":2}", "{\"n\":3}"});
    CHECK(payloads("case-2") == std::vector<std::string>{"{\"m\":1}", "{\"m\":2}", "{\"m\":3}"});
    CHECK(store->load_events("case-3")->empty());
    commit_ok(*store, make_commit("cmd-3", "case-2", 3, 2));
    CHECK(payloads("case-2").size() == 5);
    // Version 6: the cases from before were taken at a window; no day is numbered yet.
    CHECK((*loaded)->summary.channel == "window");
    CHECK(*store->last_case_number(20261207) == 0);
    // Version 7: the cases from before wait for the engine to index them (their names are
    // only in their events); indexing one takes it off the list.
    CHECK(*store->unindexed_cases(10) == std::vector<std::string>{"case-1", "case-2", "case-4"});
    REQUIRE(store->index_case("case-1", {"n:李梅"}, {"clerk-1"}));
    CHECK(*store->unindexed_cases(10) == std::vector<std::string>{"case-2", "case-4"});
    // Version 9: a joint item's pending parts are in their departments' worklists.
    CommitRequest joint = make_commit("cmd-4", "case-1", 3, 1);
    joint.items[0].joint = true;
    joint.items[0].parts = {"tax"};
    commit_ok(*store, joint);
    CaseQuery tax;
    tax.department = "tax";
    auto entries = store->worklist(tax);
    REQUIRE(entries);
    REQUIRE(entries->size() == 1);
    CHECK((*entries)[0].case_id == "case-1");
    CHECK((*entries)[0].part == "tax");
    CHECK(*store->count_worklist(tax) == 1);
  }
  CHECK(count_rows(path, "PRAGMA user_version") == 9);
  CHECK(count_rows(path, "SELECT value FROM meta WHERE key = 'schema_version'") == 9);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM case_item_parts WHERE department = 'tax' AND due_at = 5000") == 1);
  // A department's worklist reads its items and its parts each in its own index's due order:
  // no sort of every open item, no scan of either table.
  const auto worklist_plan = query_plan(
      path,
      "SELECT * FROM (SELECT i.case_id, c.bundle_id, i.item_id, i.due_at, '' AS part FROM case_items i JOIN cases c ON "
      "c.case_id = i.case_id WHERE i.final = 0 AND i.department = 'tax' AND i.due_at > 0 ORDER BY i.due_at, i.case_id, "
      "i.item_id LIMIT 50) AS own UNION ALL SELECT * FROM (SELECT p.case_id, c.bundle_id, p.item_id, p.due_at, p.department "
      "AS part FROM case_item_parts p JOIN case_items i ON i.case_id = p.case_id AND i.item_id = p.item_id JOIN cases c ON "
      "c.case_id = p.case_id WHERE p.department = 'tax' AND p.due_at > 0 ORDER BY p.due_at, p.case_id, p.item_id LIMIT 50) "
      "AS parts ORDER BY 4, 1, 3 LIMIT 50 OFFSET 0");
  INFO(worklist_plan);
  CHECK(worklist_plan.find("USING INDEX case_items_open_by_department") != std::string::npos);
  CHECK(worklist_plan.find("USING COVERING INDEX case_item_parts_by_department") != std::string::npos);
  CHECK(worklist_plan.find("SCAN i\n") == std::string::npos);
  CHECK(worklist_plan.find("SCAN p\n") == std::string::npos);
  CHECK(worklist_plan.find("SCAN c\n") == std::string::npos);
  // Version 8: the withdrawn case's item left the worklists; the running case's did not.
  CHECK(count_rows(path, "SELECT final FROM case_items WHERE case_id = 'case-4'") == 1);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM case_items WHERE case_id = 'case-1' AND final = 0") == 1);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM meta WHERE key = 'search_key'") == 1);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM search_tokens WHERE case_id = 'case-1' AND length(token) = 32") == 1);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM case_actors WHERE actor = 'clerk-1'") == 1);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM pragma_index_info('case_items_by_department')") == 2);
  // A case's calls (its page) are read through an index, not a scan of every case's calls.
  const auto plan = query_plan(path, "SELECT id FROM outbox WHERE case_id = 'case-1' AND ('' = '' OR status = '') ORDER BY id LIMIT 100");
  INFO(plan);
  CHECK(plan.find("USING INDEX outbox_by_case") != std::string::npos);
  CHECK(plan.find("SCAN outbox") == std::string::npos);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM cases WHERE channel = 'window'") == 3);
  // Version 5: commands on existing cases are recorded on their last event; the records made
  // before stay in `commands`.
  CHECK(count_rows(path, "SELECT COUNT(*) FROM commands WHERE command_id = 'cmd-1'") == 1);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM events WHERE command_id = 'cmd-3' AND sequence = 5") == 1);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM pragma_index_list('events')") == 0);
  // Version 3: the worklist index reads a page in order (no sort of the open items).
  CHECK(count_rows(path, "SELECT COUNT(*) FROM pragma_index_info('case_items_open_by_department')") == 4);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM pragma_table_info('cases') WHERE name = 'snapshot'") == 0);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM snapshots") == 3);
}

TEST_CASE("store: a case without a snapshot loads as all its events") {
  ScratchDir dir;
  auto store = open_store(dir.file("cases.db"));
  CommitRequest first = make_commit("cmd-1", "case-1", 0, 2);
  first.snapshot.clear();
  commit_ok(*store, first);
  auto loaded = store->load_case("case-1");
  REQUIRE(loaded);
  REQUIRE(loaded->has_value());
  CHECK((*loaded)->snapshot_version == 0);
  CHECK((*loaded)->snapshot.empty());
  REQUIRE((*loaded)->events.size() == 2);
  CHECK((*loaded)->events[0].type == "CaseStarted");
  CHECK((*loaded)->events[1].sequence == 2);

  commit_ok(*store, make_commit("cmd-2", "case-1", 2, 1));  // with a snapshot at version 3
  loaded = store->load_case("case-1");
  REQUIRE(loaded);
  CHECK((*loaded)->snapshot_version == 3);
  CHECK((*loaded)->events.empty());
}

// Every page a commit touches is another 4 KiB frame in the WAL. An item whose state alone
// changed (department, final and due_at as before) must rewrite its row's page only, not the
// entries of the three worklist indexes on those columns (SQLite rewrites an index entry
// whenever an UPDATE names one of its columns, whatever the value).
TEST_CASE("store: an item whose state alone changes writes no worklist index page") {
  ScratchDir dir;
  const auto path = dir.file("cases.db");
  auto store = open_store(path);
  commit_ok(*store, make_commit("cmd-1", "case-1", 0, 1));  // registration: accepted, due 5000
  const auto frames = [&] { return sqlite_store_stats(*store).value_or(SqliteStoreStats{}).wal_frames; };
  // The same commit twice, without an item row and with the item's state changed.
  CommitRequest without_item = make_commit("cmd-2", "case-1", 1, 1);
  without_item.items.clear();
  without_item.snapshot.clear();
  auto before = frames();
  commit_ok(*store, without_item);
  const auto frames_without_item = frames() - before;
  CommitRequest state_only = make_commit("cmd-3", "case-1", 2, 1);
  state_only.snapshot.clear();
  state_only.items[0].state = "reviewing";
  before = frames();
  commit_ok(*store, state_only);
  const auto frames_state_only = frames() - before;
  INFO("frames without an item row " << frames_without_item << ", with the state changed " << frames_state_only);
  CHECK(frames_state_only == frames_without_item + 1);  // the case_items page alone
  CHECK(count_rows(path, "SELECT COUNT(*) FROM case_items WHERE state = 'reviewing' AND due_at = 5000 AND final = 0") == 1);

  // A moved deadline and a finished item still move the worklist index entries.
  CommitRequest moved = make_commit("cmd-4", "case-1", 3, 1);
  moved.items[0].due_at = 7000;
  commit_ok(*store, moved);
  CHECK(count_rows(path, "SELECT due_at FROM case_items INDEXED BY case_items_open_by_due WHERE final = 0 AND due_at > 0") == 7000);
  CHECK(count_rows(path, "SELECT due_at FROM case_items INDEXED BY case_items_open_by_department "
                         "WHERE department = 'market' AND final = 0") == 7000);
  CommitRequest finished = make_commit("cmd-5", "case-1", 4, 1);
  finished.items[0] = ItemRow{"registration", "market", "approved", true, 0, ""};
  commit_ok(*store, finished);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM case_items INDEXED BY case_items_open_by_due WHERE final = 0 AND due_at >= 0") == 0);
  // A department that changes moves the department index entry too.
  CommitRequest transferred = make_commit("cmd-6", "case-1", 5, 1);
  transferred.items[0] = ItemRow{"registration", "tax", "accepted", false, 9000, ""};
  commit_ok(*store, transferred);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM case_items INDEXED BY case_items_by_department WHERE department = 'tax'") == 1);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM case_items INDEXED BY case_items_by_department WHERE department = 'market'") == 0);
  CHECK(count_rows(path, "SELECT due_at FROM case_items INDEXED BY case_items_open_by_department "
                         "WHERE department = 'tax' AND final = 0") == 9000);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'") == 0);
}

// The WAL starts again from its beginning only once a checkpoint has copied all of it; while
// commits keep coming (or a reader holds an old snapshot) it stays long. The checkpointer must
// then be asked once per checkpoint_frames new frames, not after every commit: back-to-back
// checkpoints copy each page again for every commit that changed it, where one checkpoint
// of a longer stretch copies it once.
TEST_CASE("store: a long WAL is checkpointed once per checkpoint_frames new frames, not after every commit") {
  ScratchDir dir;
  const auto path = dir.file("cases.db");
  SqliteOptions options;
  options.checkpoint_frames = 64;
  auto store = open_store(path, options);
  commit_ok(*store, make_commit("cmd-0", "case-1", 0, 1));
  // A reader in the middle of a read transaction: the WAL cannot start again behind it.
  sqlite3* reader = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &reader, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_exec(reader, "BEGIN; SELECT COUNT(*) FROM cases;", nullptr, nullptr, nullptr) == SQLITE_OK);
  const auto stats = [&] { return sqlite_store_stats(*store).value_or(SqliteStoreStats{}); };
  const auto before = stats();
  std::uint64_t version = 1;
  for (int i = 1; stats().wal_frames - before.wal_frames < 640; ++i, ++version) {
    commit_ok(*store, make_commit("cmd-" + std::to_string(i), "case-1", version, 1));
  }
  const auto after = stats();
  const auto frames = after.wal_frames - before.wal_frames;
  const auto commits = after.writes - before.writes;
  const auto checkpoints = after.checkpoints - before.checkpoints;
  INFO(commits << " commits wrote " << frames << " frames; checkpoints asked for: " << checkpoints);
  CHECK(commits > 3 * (frames / 64));  // more commits than checkpoints would be worth
  CHECK(checkpoints <= frames / 64 + 1);
  sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(reader);
}

// The writer runs a batch without savepoints first; a request that fails after it wrote
// something makes it roll back and run the batch again with a savepoint per request. A
// trigger (added behind the store's back) makes such a failure happen in the middle of one.
TEST_CASE("store: a request failing after its first writes leaves no trace, the rest of its batch lands") {
  ScratchDir dir;
  const auto path = dir.file("cases.db");
  { open_store(path); }
  raw_sql(path,
          "CREATE TRIGGER refuse_boom BEFORE INSERT ON timers WHEN NEW.timer_id = 'boom' "
          "BEGIN SELECT RAISE(ABORT, 'boom refused'); END;");
  auto store = open_store(path);
  constexpr int kThreads = 6;
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 20; ++k) {
        const auto case_id = "t" + std::to_string(t) + "-c" + std::to_string(k);
        CommitRequest r = make_commit(case_id + "-start", case_id, 0, 2);
        // Every third case carries the refused timer: its case row and events are written
        // before the timer insert fails.
        if (k % 3 == 0) r.set_timers = {TimerRecord{"", "boom", 1, "{}"}};
        auto result = store->commit(r);
        if (k % 3 == 0) {
          CHECK_FALSE(result);
          if (!result) ++refused;
        } else {
          CHECK(result);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(refused == kThreads * 7);
  const auto stats = sqlite_store_stats(*store).value_or(SqliteStoreStats{});
  CHECK(stats.savepoint_reruns >= 1);
  store.reset();
  CHECK(count_rows(path, "SELECT COUNT(*) FROM cases") == kThreads * 13);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM events") == kThreads * 13 * 2);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM " + kCommandRecords) == kThreads * 13);
  CHECK(count_rows(path, "SELECT COUNT(*) FROM cases WHERE CAST(substr(case_id, instr(case_id, '-c') + 2) AS INTEGER) % 3 = 0") == 0);
}

// Issue 14: case numbers are durable per day, and taken only by a start that commits.
TEST_CASE("store: a case start raises its day's last case number in its own commit, a refused one does not") {
  ScratchDir dir;
  const auto path = dir.file("numbers.db");
  auto sqlite = open_store(path);
  auto memory = make_memory_store();
  for (Store* store : {sqlite.get(), memory.get()}) {
    CHECK(*store->last_case_number(20261207) == 0);
    CommitRequest first = make_commit("n-1", "20261207-0001", 0, 1);
    first.case_number = CaseNumber{20261207, 1};
    first.summary.channel = "online";
    commit_ok(*store, first);
    // Out of number order (two starts in flight): the day's last is the highest.
    CommitRequest third = make_commit("n-3", "20261207-0003", 0, 1);
    third.case_number = CaseNumber{20261207, 3};
    commit_ok(*store, third);
    CommitRequest second = make_commit("n-2", "20261207-0002", 0, 1);
    second.case_number = CaseNumber{20261207, 2};
    commit_ok(*store, second);
    CHECK(*store->last_case_number(20261207) == 3);
    // A start refused by the store (the id is taken) takes no number.
    CommitRequest taken = make_commit("n-4", "20261207-0001", 0, 1);
    taken.case_number = CaseNumber{20261207, 4};
    auto refused = store->commit(taken);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == Kind::version_conflict);
    CHECK(*store->last_case_number(20261207) == 3);
    CHECK(*store->last_case_number(20261208) == 0);
    // The channel is kept with the case and filters lists.
    auto loaded = store->load_case("20261207-0001");
    REQUIRE(loaded);
    REQUIRE(loaded->has_value());
    CHECK((*loaded)->summary.channel == "online");
    auto online = store->list_cases(CaseQuery{.channel = "online"});
    REQUIRE(online);
    REQUIRE(online->size() == 1);
    CHECK(online->front().case_id == "20261207-0001");
    CHECK(store->list_cases(CaseQuery{.channel = "window"})->size() == 2);
  }
  sqlite.reset();
  CHECK(*open_store(path)->last_case_number(20261207) == 3);  // durable
}
