// One contract for every Store (engine/include/onevisit/engine/store.hpp, docs/storage.md):
// each test below runs against the in-memory store, the SQLite store and the PostgreSQL
// store, so that their semantics cannot drift. What only one store has (SQLite's files and
// crash test, PostgreSQL's schemas and shared contents) is tested in that store's own file.
//
// The PostgreSQL runs need a server: ctest starts a throwaway cluster as the fixture
// onevisit_postgresql (scripts/pg_cluster.sh) and passes its URL in ONEVISIT_TEST_POSTGRES_URL.
// Without it they fail and say so; they never pass silently. Each test gets a schema of its
// own, dropped at its end.
#include <onevisit/engine/content_store.hpp>
#include <onevisit/engine/database_url.hpp>
#include <onevisit/engine/engine.hpp>  // make_memory_store
#include <onevisit/engine/store.hpp>
#include <onevisit/engine/store_migration.hpp>

#include "store/postgres/store.hpp"
#include "../postgres_support.hpp"
#include "../test_support.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace onevisit::engine;
using Kind = StoreError::Kind;
using onevisit::testing::postgres_sql;
using onevisit::testing::PostgresScratch;
using onevisit::testing::ScratchDir;
using V = std::vector<std::string>;

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::io: return "io";
    case Kind::corrupt: return "corrupt";
    case Kind::foreign: return "foreign";
    case Kind::version_conflict: return "version_conflict";
    case Kind::not_found: return "not_found";
    case Kind::invalid: return "invalid";
    case Kind::locked: return "locked";
    case Kind::unavailable: return "unavailable";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------
// The stores under test.

class StoreUnderTest {
 public:
  virtual ~StoreUnderTest() = default;
  virtual Store& store() = 0;
  /// Closes the store and opens it again on the same data (a restart); the memory store,
  /// which has no data beyond itself, stays as it is.
  virtual void reopen() = 0;
};

class MemoryUnderTest final : public StoreUnderTest {
 public:
  Store& store() override { return *store_; }
  void reopen() override {}

 private:
  std::unique_ptr<Store> store_ = make_memory_store();
};

class SqliteUnderTest final : public StoreUnderTest {
 public:
  SqliteUnderTest() { reopen(); }
  Store& store() override { return *store_; }
  void reopen() override {
    store_.reset();
    auto opened = open_sqlite_store(dir_.file("cases.db"));
    if (!opened) FAIL("open_sqlite_store: " << opened.error().message);
    store_ = std::move(*opened);
  }

 private:
  ScratchDir dir_;
  std::unique_ptr<Store> store_;
};

class PostgresUnderTest final : public StoreUnderTest {
 public:
  PostgresUnderTest() { reopen(); }
  ~PostgresUnderTest() override { store_.reset(); }
  Store& store() override { return *store_; }
  void reopen() override {
    store_.reset();
    auto opened = open_postgres_store(scratch_.url());
    if (!opened) FAIL("open_postgres_store: " << opened.error().message);
    store_ = std::move(*opened);
  }

 private:
  PostgresScratch scratch_;
  std::unique_ptr<Store> store_;
};

// Declares a contract test: `id` is its body, run once per store.
#define STORE_CONTRACT(id, title)                                                                              \
  void id(StoreUnderTest& under_test);                                                                         \
  TEST_CASE("store contract (memory): " title, "[store-contract]") {                                          \
    MemoryUnderTest s;                                                                                         \
    id(s);                                                                                                     \
  }                                                                                                            \
  TEST_CASE("store contract (SQLite): " title, "[store-contract]") {                                          \
    SqliteUnderTest s;                                                                                         \
    id(s);                                                                                                     \
  }                                                                                                            \
  TEST_CASE("store contract (PostgreSQL): " title, "[store-contract][postgres]") {                            \
    PostgresUnderTest s;                                                                                       \
    id(s);                                                                                                     \
  }                                                                                                            \
  void id(StoreUnderTest& under_test)

// ---------------------------------------------------------------------------------------
// Requests.

/// A commit of `events` events to `case_id` at `expected_version`, with an item, a snapshot
/// and a result derived from the resulting version.
CommitRequest make_commit(const std::string& command_id, const std::string& case_id, std::uint64_t expected_version,
                          std::size_t events = 1, const std::string& bundle = "enterprise_startup", int bundle_version = 2) {
  CommitRequest r;
  r.command_id = command_id;
  r.case_id = case_id;
  r.expected_version = expected_version;
  const auto version = expected_version + events;
  for (std::size_t i = 0; i < events; ++i) {
    const auto seq = expected_version + 1 + i;
    r.events.push_back(StoredEvent{seq, seq == 1 ? "CaseStarted" : "ItemTransitioned", "{\"n\":" + std::to_string(seq) + "}",
                                   1000 + static_cast<Timestamp>(seq)});
  }
  r.snapshot = "{\"version\":" + std::to_string(version) + "}";
  r.summary = CaseSummary{case_id, bundle, bundle_version, "running", "张*", 1000, 1000 + static_cast<Timestamp>(version), version};
  r.items = {ItemRow{"registration", "market", "accepted", false, 5000, ""}};
  r.result = "{\"ok\":true,\"version\":" + std::to_string(version) + "}";
  return r;
}

OutboxRecord call(const std::string& key, const std::string& department = "tax", Timestamp next = 0) {
  return OutboxRecord{0, key, "", department, department + "_gateway", "submit", "{\"key\":\"" + key + "\"}", 0, next, "pending", ""};
}

CommitResult commit_ok(Store& store, const CommitRequest& r) {
  auto result = store.commit(r);
  if (!result) FAIL("commit " << r.command_id << ": " << kind_name(result.error().kind) << ": " << result.error().message);
  return *result;
}

template <typename T>
T ok(std::expected<T, StoreError> result) {
  if (!result) FAIL(kind_name(result.error().kind) << ": " << result.error().message);
  return std::move(*result);
}

V timer_keys(const std::vector<TimerRecord>& timers) {
  V out;
  for (const auto& t : timers) out.push_back(t.case_id + "/" + t.timer_id + "@" + std::to_string(t.due_at));
  return out;
}

V worklist_keys(const std::vector<WorklistEntry>& entries) {
  V out;
  for (const auto& e : entries) out.push_back(e.case_id + "/" + e.item.item_id);
  return out;
}

V case_ids(const std::vector<CaseSummary>& cases) {
  V out;
  for (const auto& c : cases) out.push_back(c.case_id);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// The contract.

STORE_CONTRACT(round_trip, "a commit's every record reads back as written, also after a restart") {
  Store& store = under_test.store();
  auto start = make_commit("start-1", "case-1", 0, 2);
  start.summary.channel = "online";
  start.summary.applicant = "张*三";
  start.items = {ItemRow{"registration", "market", "accepted", false, 5000, "yellow", true},
                 ItemRow{"seal", "police", "waiting", true, 0, ""}};
  start.set_timers = {TimerRecord{"", "registration:overdue", 5000, "{\"item\":\"registration\"}"}};
  start.outbox = {call("case-1/registration/submit", "market", 10)};
  start.case_number = CaseNumber{20261207, 3};
  const auto first = commit_ok(store, start);
  CHECK_FALSE(first.duplicate);
  CHECK(first.version == 2);
  CHECK(first.result == start.result);
  // The next command: no snapshot this time, so the case loads as the snapshot and the event after it.
  auto next = make_commit("next-1", "case-1", 2, 1);
  next.snapshot.clear();
  next.summary.status = "completed";
  next.summary.channel = "online";
  next.items = {ItemRow{"registration", "market", "approved", true, 5000, ""}};
  commit_ok(store, next);

  for (int round = 0; round < 2; ++round) {
    INFO((round == 0 ? "as committed" : "after a restart"));
    Store& s = under_test.store();
    auto loaded = ok(s.load_case("case-1"));
    REQUIRE(loaded);
    CHECK(loaded->summary.case_id == "case-1");
    CHECK(loaded->summary.bundle_id == "enterprise_startup");
    CHECK(loaded->summary.bundle_version == 2);
    CHECK(loaded->summary.status == "completed");
    CHECK(loaded->summary.applicant == "张*");
    CHECK(loaded->summary.channel == "online");
    CHECK(loaded->summary.started_at == 1000);
    CHECK(loaded->summary.updated_at == 1003);
    CHECK(loaded->summary.version == 3);
    CHECK(loaded->snapshot_version == 2);
    CHECK(loaded->snapshot == "{\"version\":2}");
    REQUIRE(loaded->events.size() == 1);
    CHECK(loaded->events[0].sequence == 3);
    CHECK(loaded->events[0].type == "ItemTransitioned");
    CHECK(loaded->events[0].payload == "{\"n\":3}");
    CHECK(loaded->events[0].recorded_at == 1003);
    auto events = ok(s.load_events("case-1"));
    REQUIRE(events.size() == 3);
    CHECK(events[0].type == "CaseStarted");
    CHECK(events[2].sequence == 3);
    CHECK(timer_keys(ok(s.due_timers(6000, 10))) == V{"case-1/registration:overdue@5000"});
    CHECK(ok(s.due_timers(6000, 10))[0].payload == "{\"item\":\"registration\"}");
    auto calls = ok(s.list_outbox("case-1", "", 10));
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].case_id == "case-1");
    CHECK(calls[0].payload == "{\"key\":\"case-1/registration/submit\"}");
    CHECK(calls[0].adapter == "market_gateway");
    CHECK(calls[0].next_attempt_at == 10);
    CHECK(ok(s.last_case_number(20261207)) == 3);
    CHECK(ok(s.last_case_number(20261208)) == 0);
    auto command = ok(s.find_command("case-1", "next-1"));
    REQUIRE(command);
    CHECK(command->duplicate);
    CHECK(command->version == 3);
    // The worklist shows the open items only: the seal waits, registration is approved.
    CHECK(ok(s.worklist({})).empty());
    CaseQuery urged;
    urged.item_state = "approved";
    CHECK(case_ids(ok(s.list_cases(urged))) == V{"case-1"});
    CHECK_FALSE(ok(s.load_case("case-2")));
    CHECK(ok(s.load_events("case-2")).empty());
    under_test.reopen();
  }
}

STORE_CONTRACT(version_conflict, "a version conflict changes nothing") {
  Store& store = under_test.store();
  CommitRequest first = make_commit("cmd-1", "case-1", 0, 2);
  first.set_timers = {TimerRecord{"", "t", 100, "{}"}};
  commit_ok(store, first);

  SECTION("a second start of the same case") {
    CommitRequest again = make_commit("cmd-2", "case-1", 0, 1);
    again.outbox = {call("k")};
    auto result = store.commit(again);
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == Kind::version_conflict);
  }
  SECTION("a command decided on an old version") {
    CommitRequest stale = make_commit("cmd-2", "case-1", 1, 1);
    stale.cancel_timers = {"t"};
    stale.outbox = {call("k")};
    auto result = store.commit(stale);
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == Kind::version_conflict);
  }
  SECTION("a command on a case that does not exist") {
    auto result = store.commit(make_commit("cmd-2", "case-2", 4, 1));
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == Kind::not_found);
    CHECK_FALSE(ok(store.load_case("case-2")));
  }
  SECTION("a command that moves the case to another workflow version") {
    auto result = store.commit(make_commit("cmd-2", "case-1", 2, 1, "enterprise_startup", 3));
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == Kind::invalid);
  }
  SECTION("a command without events decided on an old version") {
    CommitRequest stale = make_commit("cmd-2", "case-1", 1, 0);
    stale.cancel_timers = {"t"};
    auto result = store.commit(stale);
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == Kind::version_conflict);
  }

  auto loaded = ok(store.load_case("case-1"));
  REQUIRE(loaded);
  CHECK(loaded->summary.version == 2);
  CHECK(loaded->summary.bundle_version == 2);
  CHECK(loaded->snapshot == "{\"version\":2}");
  CHECK(ok(store.load_events("case-1")).size() == 2);
  CHECK(timer_keys(ok(store.due_timers(1000, 10))) == V{"case-1/t@100"});
  CHECK(ok(store.list_outbox("", "", 10)).empty());
  CHECK_FALSE(ok(store.find_command("case-1", "cmd-2")));
  // The refused command id was not recorded: deciding it again on the current version works.
  auto retried = commit_ok(store, make_commit("cmd-2", "case-1", 2, 1));
  CHECK_FALSE(retried.duplicate);
  CHECK(retried.version == 3);
}

STORE_CONTRACT(command_ids, "a command id is applied once, its retry returns the first result") {
  Store& store = under_test.store();
  const auto first = commit_ok(store, make_commit("cmd-1", "case-1", 0, 2));
  const auto second = commit_ok(store, make_commit("cmd-2", "case-1", 2, 1));

  // The retry of the start carries other content (it was decided again); the store answers
  // with what the first commit stored, and writes nothing.
  CommitRequest retry = make_commit("cmd-1", "case-1", 0, 4);
  retry.outbox = {call("k")};
  retry.result = "{\"other\":true}";
  auto again = ok(store.commit(retry));
  CHECK(again.duplicate);
  CHECK(again.version == first.version);
  CHECK(again.result == first.result);
  // A late retry of a command on the case (decided on the version before it) too.
  auto late = ok(store.commit(make_commit("cmd-2", "case-1", 2, 1)));
  CHECK(late.duplicate);
  CHECK(late.version == second.version);
  CHECK(late.result == second.result);
  CHECK(ok(store.load_events("case-1")).size() == 3);
  CHECK(ok(store.load_case("case-1"))->summary.version == 3);
  CHECK(ok(store.list_outbox("", "", 10)).empty());

  // A case start's id is found by the id alone, a later command's in its case only.
  CHECK(ok(store.find_command("", "cmd-1")));
  CHECK(ok(store.find_command("other", "cmd-1")));
  CHECK(ok(store.find_command("case-1", "cmd-2")));
  CHECK_FALSE(ok(store.find_command("", "cmd-2")));
  CHECK_FALSE(ok(store.find_command("case-1", "cmd-3")));

  // A commit without events (e.g. an urge) is recorded by its id alone.
  auto urge = make_commit("urge-1", "case-1", 3, 0);
  urge.items = {ItemRow{"registration", "market", "accepted", false, 5000, "", true}};
  CHECK(commit_ok(store, urge).version == 3);
  auto urged_again = ok(store.commit(urge));
  CHECK(urged_again.duplicate);
  CHECK(ok(store.find_command("", "urge-1")));

  // The same start id on another case is a client bug, not a retry.
  auto reused = store.commit(make_commit("cmd-1", "case-9", 0, 1));
  REQUIRE_FALSE(reused);
  CHECK(reused.error().kind == Kind::invalid);
  CHECK_FALSE(ok(store.load_case("case-9")));
}

STORE_CONTRACT(invalid_requests, "inconsistent requests are refused as invalid and change nothing") {
  Store& store = under_test.store();
  commit_ok(store, make_commit("start", "case-1", 0, 1));
  auto r = make_commit("cmd", "case-1", 1, 2);
  SECTION("no case id") { r.case_id.clear(); }
  SECTION("a summary of another case") { r.summary.case_id = "case-2"; }
  SECTION("a summary without a bundle") { r.summary.bundle_id.clear(); }
  SECTION("a gap in the sequences") { r.events[1].sequence = 4; }
  SECTION("an event without a type") { r.events[0].type.clear(); }
  SECTION("a summary at the wrong version") { r.summary.version = 7; }
  SECTION("an item twice") { r.items.push_back(r.items.front()); }
  SECTION("an item without an id") { r.items.front().item_id.clear(); }
  SECTION("an unknown light") { r.items.front().light = "green"; }
  SECTION("a timer of another case") { r.set_timers = {TimerRecord{"case-2", "t", 1, "{}"}}; }
  SECTION("a timer set twice") { r.set_timers = {TimerRecord{"", "t", 1, "{}"}, TimerRecord{"", "t", 2, "{}"}}; }
  SECTION("a timer set and cancelled") {
    r.set_timers = {TimerRecord{"", "t", 1, "{}"}};
    r.cancel_timers = {"t"};
  }
  SECTION("an outbox entry without a key") { r.outbox = {call("")}; }
  SECTION("an outbox entry of another case") {
    r.outbox = {call("k")};
    r.outbox.front().case_id = "case-2";
  }
  SECTION("an outbox entry with an unknown status") {
    r.outbox = {call("k")};
    r.outbox.front().status = "sent";
  }
  SECTION("a new case without events") {
    r = make_commit("cmd", "case-2", 0, 0);
  }
  auto result = store.commit(r);
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == Kind::invalid);
  CHECK(ok(store.load_case("case-1"))->summary.version == 1);
  CHECK_FALSE(ok(store.load_case("case-2")));
  CHECK(ok(store.due_timers(1'000'000, 10)).empty());
  CHECK(ok(store.list_outbox("", "", 10)).empty());
  CHECK_FALSE(ok(store.find_command("case-1", "cmd")));
}

STORE_CONTRACT(timers, "timers belong to their case, come due oldest first, move and cancel") {
  Store& store = under_test.store();
  auto r1 = make_commit("c1", "case-1", 0, 1);
  r1.set_timers = {TimerRecord{"", "late", 1000, "{}"}, TimerRecord{"", "warn", 200, "{\"w\":1}"}};
  commit_ok(store, r1);
  auto r2 = make_commit("c2", "case-2", 0, 1);
  r2.set_timers = {TimerRecord{"", "overdue", 100, "{}"}, TimerRecord{"case-2", "warn", 200, "{}"}};
  commit_ok(store, r2);

  CHECK(ok(store.due_timers(99, 10)).empty());
  CHECK(timer_keys(ok(store.due_timers(200, 10))) == V{"case-2/overdue@100", "case-1/warn@200", "case-2/warn@200"});
  CHECK(timer_keys(ok(store.due_timers(5000, 2))) == V{"case-2/overdue@100", "case-1/warn@200"});
  CHECK(ok(store.due_timers(200, 10))[1].payload == "{\"w\":1}");

  // Re-setting moves a timer; cancelling removes it (one never set is no error).
  auto r3 = make_commit("c3", "case-2", 1, 1);
  r3.set_timers = {TimerRecord{"", "warn", 1500, "{}"}};
  r3.cancel_timers = {"overdue", "never-set"};
  commit_ok(store, r3);
  CHECK(timer_keys(ok(store.due_timers(5000, 10))) == V{"case-1/warn@200", "case-1/late@1000", "case-2/warn@1500"});
  under_test.reopen();
  CHECK(timer_keys(ok(under_test.store().due_timers(5000, 10))) == V{"case-1/warn@200", "case-1/late@1000", "case-2/warn@1500"});
}

STORE_CONTRACT(outbox, "outbox entries belong to their case, are recorded once per key, and are updated") {
  Store& store = under_test.store();
  auto r = make_commit("c1", "case-1", 0, 1);
  r.outbox = {call("case-1/reg/submit", "market"), call("case-1/seal/submit", "police", 500)};
  commit_ok(store, r);
  auto r2 = make_commit("c2", "case-1", 1, 1);
  auto repeated = call("case-1/reg/submit", "market");
  repeated.payload = "{\"a\":2}";
  r2.outbox = {repeated};  // the same intent again: no second call
  commit_ok(store, r2);
  auto other = make_commit("c3", "case-2", 0, 1);
  other.outbox = {call("case-2/reg/submit", "market")};
  commit_ok(store, other);

  auto now = ok(store.pending_outbox(100, 10));
  REQUIRE(now.size() == 2);
  CHECK(now[0].idempotency_key == "case-1/reg/submit");
  CHECK(now[0].case_id == "case-1");
  CHECK(now[0].payload == "{\"key\":\"case-1/reg/submit\"}");
  CHECK(now[1].case_id == "case-2");
  CHECK(now[0].id < now[1].id);
  auto later = ok(store.pending_outbox(1000, 10));
  REQUIRE(later.size() == 3);
  CHECK(later[1].idempotency_key == "case-1/seal/submit");
  CHECK(ok(store.pending_outbox(1000, 1)).size() == 1);

  auto of_case = ok(store.list_outbox("case-1", "", 10));
  REQUIRE(of_case.size() == 2);
  CHECK(of_case[0].idempotency_key == "case-1/reg/submit");
  CHECK(of_case[1].idempotency_key == "case-1/seal/submit");

  auto delivered = later[0];
  delivered.status = "delivered";
  delivered.attempts = 1;
  REQUIRE(store.update_outbox(delivered));
  auto retry = later[1];
  retry.attempts = 1;
  retry.next_attempt_at = 2000;
  retry.last_error = "timeout after 30 s";
  auto parked = later[2];
  parked.status = "parked";
  parked.attempts = 5;
  REQUIRE(store.update_outbox_many({retry, parked}));

  CHECK(ok(store.pending_outbox(1000, 10)).empty());
  auto again = ok(store.pending_outbox(2000, 10));
  REQUIRE(again.size() == 1);
  CHECK(again[0].id == retry.id);
  CHECK(again[0].attempts == 1);
  CHECK(again[0].last_error == "timeout after 30 s");
  CHECK(ok(store.list_outbox("", "parked", 10)).size() == 1);
  CHECK(ok(store.list_outbox("case-1", "delivered", 10)).size() == 1);
  CHECK(ok(store.list_outbox("case-2", "delivered", 10)).empty());

  auto unknown = retry;
  unknown.id = 9999;
  auto missing = store.update_outbox(unknown);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().kind == Kind::not_found);
  unknown.id = retry.id;
  unknown.status = "sent";
  auto invalid = store.update_outbox(unknown);
  REQUIRE_FALSE(invalid);
  CHECK(invalid.error().kind == Kind::invalid);
  unknown.status = "pending";
  unknown.attempts = -1;
  CHECK_FALSE(store.update_outbox(unknown));
  // A round with one bad update changes none of its entries.
  auto fine = again[0];
  fine.status = "delivered";
  CHECK_FALSE(store.update_outbox_many({fine, unknown}));
  CHECK(ok(store.pending_outbox(2000, 10)).size() == 1);
}

STORE_CONTRACT(worklist, "the worklist is ordered by due date with no deadline last, filtered and paged") {
  Store& store = under_test.store();
  auto add = [&](const std::string& case_id, const std::string& bundle, const std::string& status, Timestamp started,
                 std::vector<ItemRow> items) {
    auto r = make_commit("cmd-" + case_id, case_id, 0, 1, bundle, 1);
    r.summary.status = status;
    r.summary.started_at = started;
    r.items = std::move(items);
    commit_ok(store, r);
  };
  // Added out of id order, items out of id order: the order is the store's, not the insertion's.
  add("c", "newborn", "running", 30,
      {ItemRow{"hukou", "police", "accepted", false, 0, ""}, ItemRow{"birth", "health", "submitted", false, 200, "yellow"}});
  add("a", "enterprise_startup", "running", 10,
      {ItemRow{"seal", "police", "submitted", false, 0, ""}, ItemRow{"registration", "market", "accepted", false, 300, ""}});
  add("b", "enterprise_startup", "running", 20,
      {ItemRow{"registration", "market", "approved", true, 50, ""}, ItemRow{"invoice", "tax", "accepted", false, 100, "red"}});
  add("d", "newborn", "withdrawn", 40, {ItemRow{"birth", "health", "correcting", false, 150, ""}});
  add("e", "newborn", "running", 50,
      {ItemRow{"zeta", "health", "accepted", false, 300, ""}, ItemRow{"alpha", "health", "accepted", false, 300, ""}});

  const V everything{"b/invoice", "d/birth", "c/birth", "a/registration", "e/alpha", "e/zeta", "a/seal", "c/hukou"};
  auto all = ok(store.worklist({}));
  CHECK(worklist_keys(all) == everything);
  CHECK(all[0].bundle_id == "enterprise_startup");
  CHECK(all[0].item.department == "tax");
  CHECK(all[0].item.light == "red");
  CHECK(all[0].item.due_at == 100);
  CHECK_FALSE(all[0].item.final);

  CaseQuery q;
  q.department = "police";
  CHECK(worklist_keys(ok(store.worklist(q))) == V{"a/seal", "c/hukou"});
  CHECK(ok(store.count_worklist(q)) == 2);
  q = {};
  q.item_state = "accepted";
  CHECK(worklist_keys(ok(store.worklist(q))) == V{"b/invoice", "a/registration", "e/alpha", "e/zeta", "c/hukou"});
  q = {};
  q.due_before = 200;
  CHECK(worklist_keys(ok(store.worklist(q))) == V{"b/invoice", "d/birth", "c/birth"});
  CHECK(ok(store.count_worklist(q)) == 3);
  q = {};
  q.bundle_id = "newborn";
  q.status = "running";
  CHECK(worklist_keys(ok(store.worklist(q))) == V{"c/birth", "e/alpha", "e/zeta", "c/hukou"});
  q = {};
  q.limit = 5;
  CHECK(ok(store.count_worklist(q)) == 5);  // counting stops at the limit
  q.limit = 100;
  CHECK(ok(store.count_worklist(q)) == everything.size());
  // Pages of every size, across the items with a deadline and those without, add up to the whole.
  for (std::size_t size = 1; size <= 9; ++size) {
    V paged;
    for (std::size_t offset = 0; offset < 10; offset += size) {
      q = {};
      q.limit = size;
      q.offset = offset;
      auto page = ok(store.worklist(q));
      CHECK(page.size() <= size);
      for (auto& k : worklist_keys(page)) paged.push_back(k);
    }
    INFO("page size " << size);
    CHECK(paged == everything);
  }
}

STORE_CONTRACT(joint_parts, "a joint item is in the worklist of each department taking part until it decides its part") {
  Store& store = under_test.store();
  // 城管 handles the permit; 市政 and 水务 decide their parts (会签). Another case gives 市政
  // items of its own, one due later, one without a deadline.
  ItemRow permit{"excavation", "urban", "accepted", false, 500, "yellow"};
  permit.joint = true;
  permit.parts = {"municipal", "water"};
  auto start = make_commit("start-j", "j", 0, 1, "road_works", 1);
  start.items = {permit, ItemRow{"traffic", "police", "accepted", false, 400, ""}};
  commit_ok(store, start);
  auto other = make_commit("start-k", "k", 0, 1, "road_works", 1);
  other.items = {ItemRow{"inspection", "municipal", "accepted", false, 700, ""}, ItemRow{"survey", "municipal", "accepted", false, 0, ""}};
  commit_ok(store, other);

  CaseQuery municipal;
  municipal.department = "municipal";
  auto list = ok(store.worklist(municipal));
  CHECK(worklist_keys(list) == V{"j/excavation", "k/inspection", "k/survey"});
  REQUIRE(list.size() == 3);
  CHECK(list[0].part == "municipal");  // a part, not 市政's own item
  CHECK(list[0].item.department == "urban");
  CHECK(list[0].item.state == "accepted");
  CHECK(list[0].item.due_at == 500);
  CHECK(list[0].item.light == "yellow");
  CHECK(list[0].bundle_id == "road_works");
  CHECK(list[1].part.empty());
  CHECK(ok(store.count_worklist(municipal)) == 3);
  // Pages across the union add up to the whole.
  for (std::size_t size = 1; size <= 3; ++size) {
    V paged;
    for (std::size_t offset = 0; offset < 4; offset += size) {
      CaseQuery q = municipal;
      q.limit = size;
      q.offset = offset;
      for (auto& k : worklist_keys(ok(store.worklist(q)))) paged.push_back(k);
    }
    INFO("page size " << size);
    CHECK(paged == V{"j/excavation", "k/inspection", "k/survey"});
  }
  // The item filters hold for the part's item; counting stops at the limit.
  CaseQuery q = municipal;
  q.due_before = 600;
  CHECK(worklist_keys(ok(store.worklist(q))) == V{"j/excavation"});
  CHECK(ok(store.count_worklist(q)) == 1);
  q = municipal;
  q.limit = 2;
  CHECK(ok(store.count_worklist(q)) == 2);
  // The handling department lists the item once, as its own; a list of every department
  // lists each item once.
  CaseQuery urban;
  urban.department = "urban";
  list = ok(store.worklist(urban));
  CHECK(worklist_keys(list) == V{"j/excavation"});
  REQUIRE(list.size() == 1);
  CHECK(list[0].part.empty());
  list = ok(store.worklist({}));
  CHECK(worklist_keys(list) == V{"j/traffic", "j/excavation", "k/inspection", "k/survey"});
  CHECK(std::all_of(list.begin(), list.end(), [](const WorklistEntry& e) { return e.part.empty(); }));

  // 市政 decides its part: the row leaves 市政's worklist, 水务's stays and follows the
  // item's deadline.
  auto decided = make_commit("decide-municipal", "j", 1, 1, "road_works", 1);
  permit.parts = {"water"};
  permit.due_at = 450;
  decided.items = {permit};
  commit_ok(store, decided);
  under_test.reopen();
  Store& again = under_test.store();
  CHECK(worklist_keys(ok(again.worklist(municipal))) == V{"k/inspection", "k/survey"});
  CHECK(ok(again.count_worklist(municipal)) == 2);
  CaseQuery water;
  water.department = "water";
  list = ok(again.worklist(water));
  CHECK(worklist_keys(list) == V{"j/excavation"});
  REQUIRE(list.size() == 1);
  CHECK(list[0].part == "water");
  CHECK(list[0].item.due_at == 450);
  CHECK(ok(again.count_worklist(water)) == 1);

  // Under `any` the first approval decides the item: it closes, every pending part leaves.
  auto approved = make_commit("approve", "j", 2, 1, "road_works", 1);
  permit.state = "approved";
  permit.final = true;
  permit.parts.clear();
  approved.items = {permit};
  commit_ok(again, approved);
  CHECK(ok(again.worklist(water)).empty());
  CHECK(ok(again.count_worklist(water)) == 0);
  CHECK(ok(again.worklist(urban)).empty());
}

STORE_CONTRACT(case_queries, "cases are listed newest first and filtered, counts stop at the limit") {
  Store& store = under_test.store();
  auto add = [&](const std::string& case_id, const std::string& bundle, const std::string& status, Timestamp started,
                 std::vector<ItemRow> items, const std::string& channel, const std::string& actor, V tokens) {
    auto r = make_commit("cmd-" + case_id, case_id, 0, 1, bundle, 1);
    r.summary.status = status;
    r.summary.started_at = started;
    r.summary.channel = channel;
    r.items = std::move(items);
    r.actor = actor;
    r.add_search_tokens = std::move(tokens);
    commit_ok(store, r);
  };
  add("a", "enterprise_startup", "running", 10,
      {ItemRow{"registration", "market", "accepted", false, 300, ""}, ItemRow{"seal", "police", "submitted", false, 0, ""}},
      "window", "clerk-1", {"name:张三", "id:1234"});
  add("b", "enterprise_startup", "running", 20,
      {ItemRow{"registration", "market", "approved", true, 50, ""}, ItemRow{"invoice", "tax", "accepted", false, 100, "red"}},
      "online", "clerk-2", {"name:李四"});
  add("c", "newborn", "running", 30,
      {ItemRow{"birth", "health", "submitted", false, 200, "yellow"}, ItemRow{"hukou", "police", "accepted", false, 0, ""}},
      "mobile", "clerk-1", {"name:张三"});
  add("d", "newborn", "withdrawn", 30, {ItemRow{"birth", "health", "correcting", false, 150, ""}}, "window", "", {});

  CHECK(case_ids(ok(store.list_cases({}))) == V{"c", "d", "b", "a"});  // newest first, then by id
  CaseQuery q;
  q.status = "running";
  q.bundle_id = "enterprise_startup";
  CHECK(case_ids(ok(store.list_cases(q))) == V{"b", "a"});
  q = {};
  q.department = "market";  // b's market item is final
  CHECK(case_ids(ok(store.list_cases(q))) == V{"a"});
  q = {};
  q.scope_department = "market";  // a reviewer sees finished items' cases too
  CHECK(case_ids(ok(store.list_cases(q))) == V{"b", "a"});
  q = {};
  q.item_state = "approved";  // a state filter alone also finds final items
  CHECK(case_ids(ok(store.list_cases(q))) == V{"b"});
  q = {};
  q.due_before = 150;
  CHECK(case_ids(ok(store.list_cases(q))) == V{"d", "b"});
  q = {};
  q.department = "health";
  q.item_state = "submitted";
  CHECK(case_ids(ok(store.list_cases(q))) == V{"c"});
  q = {};
  q.channel = "online";
  CHECK(case_ids(ok(store.list_cases(q))) == V{"b"});
  q = {};
  q.started_from = 20;
  q.started_before = 30;
  CHECK(case_ids(ok(store.list_cases(q))) == V{"b"});
  q = {};
  q.actor = "clerk-1";
  CHECK(case_ids(ok(store.list_cases(q))) == V{"c", "a"});
  CHECK(ok(store.count_cases(q)) == 2);
  q = {};
  q.any_token = V{"name:张三", "name:王五"};
  CHECK(case_ids(ok(store.list_cases(q))) == V{"c", "a"});
  q.case_id = "b";  // a whole case number matches too
  CHECK(case_ids(ok(store.list_cases(q))) == V{"c", "b", "a"});
  q = {};
  q.any_token = V{};
  q.case_id = "d";
  CHECK(case_ids(ok(store.list_cases(q))) == V{"d"});
  q = {};
  q.limit = 2;
  q.offset = 1;
  CHECK(case_ids(ok(store.list_cases(q))) == V{"d", "b"});
  CHECK(ok(store.count_cases(q)) == 2);  // at most the limit
  q.limit = 0;
  CHECK(ok(store.list_cases(q)).empty());
  CHECK(ok(store.count_cases({})) == 4);

  // Tokens a case loses (erasure) no longer find it.
  auto erase = make_commit("erase-a", "a", 1, 1, "enterprise_startup", 1);
  erase.summary.started_at = 10;
  erase.remove_search_tokens = {"name:张三"};
  erase.items.clear();
  commit_ok(store, erase);
  q = {};
  q.any_token = V{"name:张三"};
  CHECK(case_ids(ok(store.list_cases(q))) == V{"c"});
  q.any_token = V{"id:1234"};
  CHECK(case_ids(ok(store.list_cases(q))) == V{"a"});
}

STORE_CONTRACT(erasure, "erasure rewrites named payloads in place and refuses what is not there") {
  Store& store = under_test.store();
  auto start = make_commit("start", "case-1", 0, 2);
  start.outbox = {call("k")};
  commit_ok(store, start);
  const auto call_id = ok(store.list_outbox("case-1", "", 1)).at(0).id;

  auto erase = make_commit("erase", "case-1", 2, 1);
  SECTION("rewritten") {
    erase.rewrite_events = {StoredEvent{1, "CaseStarted", "{\"erased\":true}", 0}};
    erase.rewrite_outbox = {{call_id, "{\"erased\":true}"}};
    commit_ok(store, erase);
    auto events = ok(store.load_events("case-1"));
    REQUIRE(events.size() == 3);
    CHECK(events[0].payload == "{\"erased\":true}");
    CHECK(events[0].type == "CaseStarted");
    CHECK(events[0].recorded_at == 1001);
    CHECK(events[1].payload == "{\"n\":2}");
    CHECK(ok(store.list_outbox("case-1", "", 1)).at(0).payload == "{\"erased\":true}");
  }
  SECTION("an event that is not there, or of another type") {
    SECTION("no such sequence") { erase.rewrite_events = {StoredEvent{9, "CaseStarted", "{}", 0}}; }
    SECTION("another type") { erase.rewrite_events = {StoredEvent{2, "CaseStarted", "{}", 0}}; }
    SECTION("an outbox entry of no case") { erase.rewrite_outbox = {{call_id + 100, "{}"}}; }
    auto refused = store.commit(erase);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == Kind::invalid);
    CHECK(ok(store.load_case("case-1"))->summary.version == 2);
    CHECK(ok(store.load_events("case-1"))[0].payload == "{\"n\":1}");
  }
}

STORE_CONTRACT(deploy, "deploying is a no-op for the same source and refused for another") {
  Store& store = under_test.store();
  const DeployedWorkflow v1{"enterprise_startup", 1, "hash-1", "workflow ...", 100, 0};
  CHECK(ok(store.deploy(v1)) == true);
  CHECK(ok(store.deploy(v1)) == false);
  auto other = v1;
  other.source_hash = "hash-2";
  auto refused = store.deploy(other);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == Kind::invalid);
  auto v2 = v1;
  v2.version = 2;
  v2.source_hash = "hash-2";
  CHECK(ok(store.deploy(v2)));
  auto bad = v1;
  bad.version = 0;
  CHECK_FALSE(store.deploy(bad));
  bad = v1;
  bad.bundle_id.clear();
  CHECK_FALSE(store.deploy(bad));
  commit_ok(store, make_commit("s1", "case-1", 0, 1, "enterprise_startup", 2));
  commit_ok(store, make_commit("s2", "case-2", 0, 1, "enterprise_startup", 2));
  auto listed = ok(store.list_workflows());
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].version == 1);
  CHECK(listed[0].source_hash == "hash-1");
  CHECK(listed[0].source == "workflow ...");
  CHECK(listed[0].deployed_at == 100);
  CHECK(listed[0].cases == 0);
  CHECK(listed[1].cases == 2);
  // What a node checks against what it has loaded: the keys, neither sources nor counts;
  // then the source of one version.
  auto keys = ok(store.list_deployed());
  REQUIRE(keys.size() == 2);
  CHECK(keys[1].bundle_id == "enterprise_startup");
  CHECK(keys[1].version == 2);
  CHECK(keys[1].source_hash == "hash-2");
  CHECK(keys[1].deployed_at == 100);
  CHECK(keys[1].source.empty());
  CHECK(keys[1].cases == 0);
  auto one = ok(store.load_workflow("enterprise_startup", 1));
  REQUIRE(one);
  CHECK(one->source == "workflow ...");
  CHECK(one->source_hash == "hash-1");
  CHECK(one->version == 1);
  CHECK_FALSE(ok(store.load_workflow("enterprise_startup", 3)));
  CHECK_FALSE(ok(store.load_workflow("newborn", 1)));
}

STORE_CONTRACT(case_numbers, "a case start raises its day's last case number, a refused one does not") {
  Store& store = under_test.store();
  auto start = [&](const std::string& id, std::uint64_t sequence) {
    auto r = make_commit("start-" + id, id, 0, 1);
    r.case_number = CaseNumber{20261207, sequence};
    return r;
  };
  commit_ok(store, start("n-2", 2));
  commit_ok(store, start("n-1", 1));  // commits of one day may land out of number order
  CHECK(ok(store.last_case_number(20261207)) == 2);
  auto clash = start("n-2", 5);
  clash.command_id = "another";
  CHECK_FALSE(store.commit(clash));
  CHECK(ok(store.last_case_number(20261207)) == 2);
  commit_ok(store, start("n-3", 3));
  CHECK(ok(store.last_case_number(20261207)) == 3);
}

STORE_CONTRACT(search_index, "old cases are indexed once, indexing is idempotent") {
  Store& store = under_test.store();
  commit_ok(store, make_commit("s1", "case-1", 0, 1));
  // Every case committed through this API is indexed at once.
  CHECK(ok(store.unindexed_cases(10)).empty());
  REQUIRE(store.index_case("case-1", {"name:赵六"}, {"clerk-9"}));
  REQUIRE(store.index_case("case-1", {"name:赵六"}, {"clerk-9"}));
  CaseQuery q;
  q.any_token = V{"name:赵六"};
  CHECK(case_ids(ok(store.list_cases(q))) == V{"case-1"});
  q = {};
  q.actor = "clerk-9";
  CHECK(case_ids(ok(store.list_cases(q))) == V{"case-1"});
}

STORE_CONTRACT(concurrency, "8 threads commit at once: every commit lands, racers on one case win once per version") {
  Store& store = under_test.store();
  constexpr int kThreads = 8;
  constexpr int kCases = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCases; ++i) {
        const auto id = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto r = make_commit("start-" + id, id, 0, 1);
        r.outbox = {call(id + "/submit")};
        if (!store.commit(r)) ++failures;
        if (!store.commit(make_commit("next-" + id, id, 1, 2))) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(failures == 0);
  CaseQuery all;
  all.limit = 1000;
  CHECK(ok(store.count_cases(all)) == kThreads * kCases);
  CHECK(ok(store.list_outbox("", "pending", 1000)).size() == kThreads * kCases);
  CHECK(ok(store.load_events("t3-7")).size() == 3);

  // Racers on one case, each decided on the version it read: exactly one wins each version,
  // and the losers leave no trace.
  commit_ok(store, make_commit("race-start", "race", 0, 1));
  std::atomic<int> wins{0};
  std::atomic<int> conflicts{0};
  threads.clear();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 10; ++round) {
        auto loaded = store.load_case("race");
        if (!loaded || !*loaded) continue;
        const auto version = (*loaded)->summary.version;
        auto r = make_commit("race-" + std::to_string(t) + "-" + std::to_string(round), "race", version, 1);
        r.outbox = {call("race/" + std::to_string(t) + "/" + std::to_string(round))};
        auto result = store.commit(r);
        if (result) {
          ++wins;
        } else if (result.error().kind == Kind::version_conflict) {
          ++conflicts;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(wins + conflicts == kThreads * 10);
  const auto events = ok(store.load_events("race"));
  CHECK(events.size() == static_cast<std::size_t>(wins) + 1);
  for (std::size_t i = 0; i < events.size(); ++i) CHECK(events[i].sequence == i + 1);
  CHECK(ok(store.list_outbox("race", "", 1000)).size() == static_cast<std::size_t>(wins.load()));
}

// ---------------------------------------------------------------------------------------
// What only the PostgreSQL store has.

TEST_CASE("postgresql store: a schema with other tables, or from a newer onevisit, is refused and left as it was",
          "[postgres]") {
  PostgresScratch scratch;
  SECTION("another application's tables") {
    postgres_sql(scratch.base(), "CREATE TABLE " + scratch.schema() + ".orders (id INTEGER)");
    auto opened = open_postgres_store(scratch.url());
    REQUIRE_FALSE(opened);
    CHECK(opened.error().kind == Kind::foreign);
    CHECK_THAT(opened.error().message, Catch::Contains("not an onevisit database"));
  }
  SECTION("a newer schema version") {
    { REQUIRE(open_postgres_store(scratch.url())); }
    postgres_sql(scratch.base(), "UPDATE " + scratch.schema() + ".meta SET value = '99'::bytea WHERE key = 'schema_version'");
    auto opened = open_postgres_store(scratch.url());
    REQUIRE_FALSE(opened);
    CHECK(opened.error().kind == Kind::foreign);
    CHECK_THAT(opened.error().message, Catch::Contains("newer than this build reads"));
  }
  SECTION("no server") {
    auto opened = open_postgres_store("postgresql://onevisit@/postgres?host=/nonexistent-onevisit-socket&connect_timeout=2");
    REQUIRE_FALSE(opened);
    CHECK(opened.error().kind == Kind::unavailable);  // worth trying again later
    CHECK_THAT(opened.error().message, Catch::Contains("cannot connect to PostgreSQL"));
  }
  SECTION("a password is never repeated in an error") {
    auto opened = open_postgres_store("postgresql://onevisit:secret-word@/postgres?host=/nonexistent-onevisit-socket");
    REQUIRE_FALSE(opened);
    CHECK_THAT(opened.error().message, !Catch::Contains("secret-word"));
  }
}

TEST_CASE("postgresql store: a schema-2 database is migrated to 3: joint items' parts in the worklists", "[postgres]") {
  PostgresScratch scratch;
  {
    auto opened = open_postgres_store(scratch.url());
    REQUIRE(opened);
    commit_ok(**opened, make_commit("start-1", "case-1", 0));
  }
  // As a database from before version 3 is: no part rows.
  postgres_sql(scratch.base(), "DROP TABLE " + scratch.schema() + ".case_item_parts; UPDATE " + scratch.schema() +
                                   ".meta SET value = '2'::bytea WHERE key = 'schema_version'");
  auto opened = open_postgres_store(scratch.url());
  REQUIRE(opened);
  Store& store = **opened;
  auto joint = make_commit("joint-1", "case-1", 1);
  joint.items[0].joint = true;
  joint.items[0].parts = {"tax"};
  commit_ok(store, joint);
  CaseQuery tax;
  tax.department = "tax";
  auto entries = ok(store.worklist(tax));
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].part == "tax");
  CHECK(entries[0].item.item_id == "registration");
  CHECK(ok(store.count_worklist(tax)) == 1);
}

TEST_CASE("postgresql store: two stores on one database are two nodes: a case's commands serialise, ids are shared",
          "[postgres]") {
  PostgresScratch scratch;
  auto node_a = open_postgres_store(scratch.url());
  auto node_b = open_postgres_store(scratch.url());
  REQUIRE(node_a);
  REQUIRE(node_b);
  commit_ok(**node_a, make_commit("start", "case-1", 0, 1));
  // A command applied on one node is recognised on the other.
  auto retry = (*node_b)->commit(make_commit("start", "case-1", 0, 1));
  REQUIRE(retry);
  CHECK(retry->duplicate);
  // Both decide on version 1: one wins, the other is a conflict, never both.
  std::expected<CommitResult, StoreError> a = std::unexpected(StoreError{});
  std::expected<CommitResult, StoreError> b = std::unexpected(StoreError{});
  std::thread ta([&] { a = (*node_a)->commit(make_commit("a", "case-1", 1, 1)); });
  std::thread tb([&] { b = (*node_b)->commit(make_commit("b", "case-1", 1, 1)); });
  ta.join();
  tb.join();
  CHECK(a.has_value() != b.has_value());
  const auto& loser = a ? b : a;
  REQUIRE_FALSE(loser);
  CHECK(loser.error().kind == Kind::version_conflict);
  CHECK(ok((*node_a)->load_events("case-1")).size() == 2);
  // The same new case started on both nodes at once (another command id each): one wins.
  std::thread sa([&] { a = (*node_a)->commit(make_commit("sa", "case-2", 0, 1)); });
  std::thread sb([&] { b = (*node_b)->commit(make_commit("sb", "case-2", 0, 1)); });
  sa.join();
  sb.join();
  CHECK(a.has_value() != b.has_value());
  CHECK((a ? b : a).error().kind == Kind::version_conflict);
  auto stats = postgres_store_stats(**node_a);
  REQUIRE(stats);
  CHECK(stats->writes >= 2);
}

TEST_CASE("postgresql store: group commit shares transactions between threads", "[postgres]") {
  PostgresScratch scratch;
  auto store = open_postgres_store(scratch.url());
  REQUIRE(store);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const auto id = std::to_string(t) + "-" + std::to_string(i);
        CHECK((*store)->commit(make_commit("s" + id, id, 0, 1)));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto stats = postgres_store_stats(**store);
  REQUIRE(stats);
  CHECK(stats->writes == 400);
  CHECK(stats->transactions < 400);  // batches of concurrent commits share one COMMIT
  CHECK(stats->largest_batch > 1);
}

namespace {

/// A session of its own on the test cluster that holds locks while a test queues writes.
class Holder {
 public:
  explicit Holder(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
    REQUIRE(PQstatus(conn_) == CONNECTION_OK);
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  }
  ~Holder() { PQfinish(conn_); }
  Holder(const Holder&) = delete;
  Holder& operator=(const Holder&) = delete;
  std::string run(const std::string& sql) {
    PGresult* result = PQexec(conn_, sql.c_str());
    const auto status = PQresultStatus(result);
    INFO(sql << ": " << PQresultErrorMessage(result));
    CHECK((status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK));
    std::string value = status == PGRES_TUPLES_OK && PQntuples(result) > 0 ? PQgetvalue(result, 0, 0) : "";
    PQclear(result);
    return value;
  }
  /// Waits until another session waits for a lock (the store's writer, blocked by ours).
  void wait_for_a_blocked_session() {
    for (int i = 0; i < 1000; ++i) {
      if (run("SELECT COUNT(*) FROM pg_locks WHERE NOT granted") != "0") return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL("the store's writer never waited for the lock the test holds");
  }

 private:
  PGconn* conn_;
};

}  // namespace

TEST_CASE("postgresql store: a group's commits go to the server together, in one round trip", "[postgres]") {
  PostgresScratch scratch;
  auto opened = open_postgres_store(scratch.url());
  REQUIRE(opened);
  Store& store = **opened;
  commit_ok(store, make_commit("start-held", "held", 0, 1));
  for (int c = 0; c < 8; ++c) commit_ok(store, make_commit("start-" + std::to_string(c), "case-" + std::to_string(c), 0, 1));
  // The writer's first batch waits for the case row the holder locked; meanwhile eight
  // commits queue up and join that batch when the lock goes.
  Holder holder(scratch.url());
  holder.run("BEGIN");
  holder.run("SELECT 1 FROM cases WHERE case_id = 'held' FOR UPDATE");
  const auto before = postgres_store_stats(store).value();
  std::vector<std::thread> threads;
  threads.emplace_back([&] { commit_ok(store, make_commit("held-2", "held", 1, 1)); });
  holder.wait_for_a_blocked_session();
  for (int c = 0; c < 8; ++c) {
    threads.emplace_back([&, c] { commit_ok(store, make_commit("case-2-" + std::to_string(c), "case-" + std::to_string(c), 1, 1)); });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // the eight queue behind the held batch
  holder.run("COMMIT");
  for (auto& thread : threads) thread.join();
  const auto after = postgres_store_stats(store).value();
  CHECK(after.writes - before.writes == 9);
  CHECK(after.transactions - before.transactions == 1);
  // BEGIN and the held commit; the eight that joined; COMMIT. One statement per round trip
  // would take eleven.
  CHECK(after.round_trips - before.round_trips == 3);
  for (int c = 0; c < 8; ++c) CHECK(ok(store.load_events("case-" + std::to_string(c))).size() == 2);
  CHECK(ok(store.load_events("held")).size() == 2);
}

TEST_CASE("postgresql store: in one group, a refused, a failed and an outbox update are each answered as if alone",
          "[postgres]") {
  PostgresScratch scratch;
  auto opened = open_postgres_store(scratch.url());
  REQUIRE(opened);
  Store& store = **opened;
  auto first = make_commit("start-1", "case-1", 0, 1);
  first.outbox = {call("call-1")};
  commit_ok(store, first);
  commit_ok(store, make_commit("start-2", "case-2", 0, 1));
  commit_ok(store, make_commit("start-3", "case-3", 0, 1));
  auto pending = ok(store.list_outbox("case-1", "pending", 10));
  REQUIRE(pending.size() == 1);
  // Another node records command id "taken" and has not committed yet: the writer's start
  // with that id waits on the key, and fails with a unique violation when the other commits.
  Holder other_node(scratch.url());
  other_node.run("BEGIN");
  other_node.run("INSERT INTO commands (scope, command_id, case_id, version, result) VALUES ('', 'taken', 'case-3', 1, '{}')");
  std::expected<CommitResult, StoreError> taken = std::unexpected(StoreError{});
  std::thread blocked([&] { taken = store.commit(make_commit("taken", "case-new", 0, 1)); });
  other_node.wait_for_a_blocked_session();
  // Queued behind it, to go together: an applied commit, a version conflict, a retried
  // start, an outbox update (it needs its row count at once) and another applied commit.
  std::expected<CommitResult, StoreError> applied = std::unexpected(StoreError{});
  std::expected<CommitResult, StoreError> conflict = std::unexpected(StoreError{});
  std::expected<CommitResult, StoreError> retried = std::unexpected(StoreError{});
  std::expected<void, StoreError> updated = std::unexpected(StoreError{});
  std::expected<CommitResult, StoreError> applied_after = std::unexpected(StoreError{});
  auto delivered = pending.front();
  delivered.status = "delivered";
  delivered.attempts = 1;
  std::vector<std::thread> threads;
  threads.emplace_back([&] { applied = store.commit(make_commit("c1-2", "case-1", 1, 1)); });
  threads.emplace_back([&] { conflict = store.commit(make_commit("c2-old", "case-2", 5, 1)); });
  threads.emplace_back([&] { retried = store.commit(make_commit("start-3", "case-3", 0, 1)); });
  threads.emplace_back([&] { updated = store.update_outbox(delivered); });
  threads.emplace_back([&] { applied_after = store.commit(make_commit("c2-2", "case-2", 1, 1)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  other_node.run("COMMIT");
  blocked.join();
  for (auto& thread : threads) thread.join();

  // The failed start wrote nothing and is answered by what the other node recorded: its
  // command id was used for another case.
  CHECK(ok(store.load_events("case-new")).empty());
  REQUIRE_FALSE(taken);
  CHECK(taken.error().kind == Kind::invalid);
  CHECK_THAT(taken.error().message, Catch::Contains("already used for case \"case-3\""));
  REQUIRE(applied);
  CHECK_FALSE(applied->duplicate);
  REQUIRE_FALSE(conflict);
  CHECK(conflict.error().kind == Kind::version_conflict);
  REQUIRE(retried);
  CHECK(retried->duplicate);
  CHECK(updated.has_value());
  REQUIRE(applied_after);
  CHECK_FALSE(applied_after->duplicate);
  CHECK(ok(store.load_events("case-1")).size() == 2);
  CHECK(ok(store.load_events("case-2")).size() == 2);
  CHECK(ok(store.load_events("case-3")).size() == 1);
  CHECK(ok(store.list_outbox("case-1", "delivered", 10)).size() == 1);
  CHECK(postgres_store_stats(store)->largest_batch >= 5);
}

TEST_CASE("postgresql store: uploaded contents are chunked, shared by every node, and checked against their hash",
          "[postgres]") {
  PostgresScratch scratch;
  auto store = open_postgres_store(scratch.url());
  REQUIRE(store);
  auto node_a = make_postgres_content_store(scratch.url());
  auto node_b = make_postgres_content_store(scratch.url());
  REQUIRE(node_a);
  REQUIRE(node_b);
  std::string big(2'500'000, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) % 251);
  auto hash = (*node_a)->put(big);
  REQUIRE(hash);
  CHECK((*node_a)->put(big).value() == *hash);  // the same bytes again: a no-op
  auto read = (*node_b)->get(*hash);
  REQUIRE(read);
  REQUIRE(*read);
  CHECK(**read == big);
  auto empty = (*node_a)->put("");
  REQUIRE(empty);
  CHECK((*node_b)->get(*empty).value() == std::optional<std::string>(""));
  CHECK_FALSE((*node_b)->get(std::string(64, 'a')).value());
  CHECK_FALSE((*node_b)->get("not-a-hash"));
  // One damaged chunk: refused, never served.
  postgres_sql(scratch.base(), "UPDATE " + scratch.schema() + ".content_chunks SET bytes = 'x'::bytea WHERE sha256 = '" + *hash +
                                   "' AND chunk = 1");
  auto damaged = (*node_b)->get(*hash);
  REQUIRE_FALSE(damaged);
  CHECK_THAT(damaged.error().message, Catch::Contains("damaged"));
  CHECK(damaged.error().kind == StoreError::Kind::corrupt);
}

TEST_CASE("postgresql store: nodes claim each due call and timer once, and take over a dead node's claims after the lease",
          "[postgres]") {
  PostgresScratch scratch;
  auto node_a = open_postgres_store(scratch.url());
  auto node_b = open_postgres_store(scratch.url());
  REQUIRE(node_a);
  REQUIRE(node_b);
  constexpr int kCases = 30;
  for (int i = 0; i < kCases; ++i) {
    const auto id = "case-" + std::to_string(i);
    auto r = make_commit("start-" + id, id, 0, 1);
    r.outbox = {call(id + "/first"), call(id + "/second")};
    r.set_timers = {TimerRecord{"", "overdue", 100, "{}"}};
    commit_ok(**node_a, r);
  }
  using std::chrono::milliseconds;
  // Both nodes claim at once, in small rounds, until nothing is left.
  std::map<std::string, int> claimed_by;  // idempotency key -> node
  std::map<std::string, std::set<int>> case_nodes;
  std::map<std::string, int> timers_by;
  std::mutex mutex;
  auto claim_all = [&](Store& store, int node) {
    for (;;) {
      auto calls = store.claim_outbox(1000, 7, milliseconds(60'000));
      auto timers = store.claim_due_timers(1000, 7, milliseconds(60'000));
      REQUIRE(calls);
      REQUIRE(timers);
      std::lock_guard lock(mutex);
      for (const auto& c : *calls) {
        CHECK(claimed_by.emplace(c.idempotency_key, node).second);
        case_nodes[c.case_id].insert(node);
      }
      for (const auto& t : *timers) CHECK(timers_by.emplace(t.case_id, node).second);
      if (calls->empty() && timers->empty()) return;
    }
  };
  std::thread a([&] { claim_all(**node_a, 0); });
  std::thread b([&] { claim_all(**node_b, 1); });
  a.join();
  b.join();
  CHECK(claimed_by.size() == 2 * kCases);  // every call once
  CHECK(timers_by.size() == kCases);      // every timer once
  for (const auto& [case_id, nodes] : case_nodes) {
    INFO(case_id);
    CHECK(nodes.size() == 1);  // a case's calls stay together, in order, on one node
  }
  // Claimed calls are still pending, but nobody gets them again while the lease runs.
  CHECK(ok((*node_a)->pending_outbox(1000, 1000)).size() == 2 * kCases);
  CHECK(ok((*node_a)->claim_outbox(1000, 1000, milliseconds(60'000))).empty());
  CHECK(ok((*node_b)->claim_due_timers(1000, 1000, milliseconds(60'000))).empty());

  // Writing a call's outcome ends its claim: a retry later is claimable again.
  auto mine = ok((*node_a)->list_outbox("case-0", "", 10));
  REQUIRE(mine.size() == 2);
  for (auto& c : mine) c.next_attempt_at = 500;
  REQUIRE((*node_a)->update_outbox_many(mine));
  auto again = ok((*node_b)->claim_outbox(1000, 1000, milliseconds(60'000)));
  REQUIRE(again.size() == 2);
  CHECK(again[0].idempotency_key == "case-0/first");
  CHECK(again[1].idempotency_key == "case-0/second");

  // A node that dies holding claims: after its lease another node takes them over.
  auto late = make_commit("start-late", "late", 0, 1);
  late.outbox = {call("late/only")};
  late.set_timers = {TimerRecord{"", "overdue", 100, "{}"}};
  commit_ok(**node_a, late);
  REQUIRE(ok((*node_b)->claim_outbox(1000, 10, milliseconds(300))).size() == 1);
  REQUIRE(ok((*node_b)->claim_due_timers(1000, 10, milliseconds(300))).size() == 1);
  node_b->reset();  // gone, without a word
  CHECK(ok((*node_a)->claim_outbox(1000, 10, milliseconds(60'000))).empty());
  CHECK(ok((*node_a)->claim_due_timers(1000, 10, milliseconds(60'000))).empty());
  std::this_thread::sleep_for(milliseconds(400));
  auto taken = ok((*node_a)->claim_outbox(1000, 10, milliseconds(60'000)));
  REQUIRE(taken.size() == 1);
  CHECK(taken[0].idempotency_key == "late/only");
  CHECK(timer_keys(ok((*node_a)->claim_due_timers(1000, 10, milliseconds(60'000)))) == V{"late/overdue@100"});
}

TEST_CASE("store contract: a store of one process claims what is pending and due, every time", "[store-contract]") {
  // The memory and SQLite stores serve one process: a claim is a plain read (no lease).
  for (int kind = 0; kind < 2; ++kind) {
    std::unique_ptr<StoreUnderTest> under_test;
    if (kind == 0) {
      under_test = std::make_unique<MemoryUnderTest>();
    } else {
      under_test = std::make_unique<SqliteUnderTest>();
    }
    Store& store = under_test->store();
    auto r = make_commit("s", "case-1", 0, 1);
    r.outbox = {call("k")};
    r.set_timers = {TimerRecord{"", "t", 100, "{}"}};
    commit_ok(store, r);
    for (int round = 0; round < 2; ++round) {
      CHECK(ok(store.claim_outbox(1000, 10, std::chrono::milliseconds(60'000))).size() == 1);
      CHECK(ok(store.claim_due_timers(1000, 10, std::chrono::milliseconds(60'000))).size() == 1);
    }
  }
}

TEST_CASE("postgresql store: onevisit migrate copies a district's SQLite file and verifies counts and checksums", "[postgres]") {
  ScratchDir dir;
  const auto file = dir.file("district.db");
  std::string upload_hash;
  {
    auto sqlite = open_sqlite_store(file);
    REQUIRE(sqlite);
    Store& s = **sqlite;
    REQUIRE(s.deploy(DeployedWorkflow{"enterprise_startup", 2, "hash-2", "workflow ...", 100, 0}));
    for (int i = 0; i < 12; ++i) {
      const auto id = "case-" + std::to_string(i);
      auto start = make_commit("start-" + id, id, 0, 2);
      start.outbox = {call(id + "/submit")};
      start.set_timers = {TimerRecord{"", "overdue", 100 + i, "{}"}};
      start.add_search_tokens = {"name:张" + std::to_string(i)};
      start.actor = "clerk-1";
      start.case_number = CaseNumber{20261207, static_cast<std::uint64_t>(i + 1)};
      commit_ok(s, start);
      commit_ok(s, make_commit("next-" + id, id, 2, 3));  // its record sits on its last event in SQLite
    }
    auto folder = make_folder_content_store(file + ".contents");
    REQUIRE(folder);
    upload_hash = (*folder)->put("%PDF-1.7 营业执照").value();
  }
  PostgresScratch scratch;
  auto report = migrate_sqlite_to_postgres(file, file + ".contents", scratch.url());
  if (!report) FAIL(report.error().message);
  CHECK(report->rows.at("cases") == 12);
  CHECK(report->rows.at("events") == 12 * 5);
  CHECK(report->rows.at("commands") + report->rows.at("commands (on events)") == 24);
  CHECK(report->checksums.size() == 3);
  CHECK(report->contents == 1);

  auto opened = open_postgres_store(scratch.url());
  REQUIRE(opened);
  Store& pg = **opened;
  auto loaded = ok(pg.load_case("case-7"));
  REQUIRE(loaded);
  CHECK(loaded->summary.version == 5);
  CHECK(loaded->snapshot == "{\"version\":5}");
  CHECK(ok(pg.load_events("case-7")).size() == 5);
  // Both kinds of idempotency records are recognised after the move.
  CHECK(ok(pg.commit(make_commit("start-case-7", "case-7", 0, 1))).duplicate);
  CHECK(ok(pg.commit(make_commit("next-case-7", "case-7", 2, 3))).duplicate);
  CHECK(ok(pg.due_timers(1000, 100)).size() == 12);
  CHECK(ok(pg.list_outbox("case-3", "", 10)).size() == 1);
  CHECK(ok(pg.last_case_number(20261207)) == 12);
  CHECK(ok(pg.list_workflows()).at(0).cases == 12);
  // The search index works with the file's key.
  CaseQuery q;
  q.any_token = V{"name:张4"};
  CHECK(case_ids(ok(pg.list_cases(q))) == V{"case-4"});
  // New calls get new ids after the copied ones.
  auto more = make_commit("start-new", "case-new", 0, 1);
  more.outbox = {call("case-new/submit")};
  commit_ok(pg, more);
  CHECK(ok(pg.list_outbox("case-new", "", 10)).at(0).id > 12);
  auto contents = make_postgres_content_store(scratch.url());
  REQUIRE(contents);
  CHECK((*contents)->get(upload_hash).value() == std::optional<std::string>("%PDF-1.7 营业执照"));

  // A second migration into the same database is refused and changes nothing.
  auto again = migrate_sqlite_to_postgres(file, "", scratch.url());
  REQUIRE_FALSE(again);
  CHECK_THAT(again.error().message, Catch::Contains("already holds"));
  CaseQuery all;
  all.limit = 1000;
  CHECK(ok(pg.count_cases(all)) == 13);

  // The command line: the same copy into another schema, its figures on stdout.
  PostgresScratch second;
  const std::string command = std::string(ONEVISIT_CLI) + " migrate --from " + file + " --to '" + second.url() + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  const int status = ::pclose(pipe);
  INFO(output);
  CHECK(status == 0);
  CHECK_THAT(output, Catch::Contains("copied and verified") && Catch::Contains("cases 12;") && Catch::Contains("contents 1"));
  CHECK_THAT(output, Catch::Contains("checksum events sha256:" + report->checksums.at("events")));
}

namespace {

// Runs a command line, its stderr with its stdout; the exit status and what it printed.
std::pair<int, std::string> run_command(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  return {::pclose(pipe), output};
}

}  // namespace

TEST_CASE("database URLs: a password is masked wherever a URL is shown", "[store][secrets]") {
  CHECK(masked_database("postgresql://clerk:s3cret@db.example/onevisit") == "postgresql://clerk:***@db.example/onevisit");
  CHECK(masked_database("postgres://clerk:p%40ss@h1:5432,h2:5432/ov?target_session_attrs=read-write") ==
        "postgres://clerk:***@h1:5432,h2:5432/ov?target_session_attrs=read-write");
  CHECK(masked_database("postgresql://clerk@/ov?host=/run/pg&password=s3cret&sslmode=require") ==
        "postgresql://clerk@/ov?host=/run/pg&password=***&sslmode=require");
  CHECK(masked_database("host=db user=clerk password=s3cret dbname=ov") == "host=db user=clerk password=*** dbname=ov");
  CHECK(masked_database("host=db password = 'it\\'s secret' dbname=ov") == "host=db password = *** dbname=ov");
  CHECK(masked_database("postgresql://clerk@db/ov?password=a&passwordless=1&password=b") ==
        "postgresql://clerk@db/ov?password=***&passwordless=1&password=***");
  // Not a URL: an SQLite path stays as it is, whatever it is called.
  CHECK(masked_database("/var/lib/onevisit/password=1.db") == "/var/lib/onevisit/password=1.db");
  CHECK(masked_database("cases.db") == "cases.db");
}

TEST_CASE("PostgreSQL: the command line and the service's log never show the password of a database URL",
          "[store][postgres][secrets]") {
  PostgresScratch scratch;
  // The test cluster trusts local connections: the password is ignored, and must not show.
  std::string url = scratch.url();
  const std::string user = "postgresql://onevisit@";
  REQUIRE(url.starts_with(user));
  url = "postgresql://onevisit:s3cret-word@" + url.substr(user.size()) + "&password=s3cret-word";
  const std::string flow = std::string(ONEVISIT_SOURCE_DIR) + "/workflows/bundles/newborn.flow";

  auto [deployed, deploy_output] = run_command(std::string(ONEVISIT_CLI) + " deploy --db '" + url + "' " + flow);
  INFO(deploy_output);
  CHECK(deployed == 0);
  CHECK_THAT(deploy_output, Catch::Contains("versions in postgresql://onevisit:***@"));
  CHECK_THAT(deploy_output, !Catch::Contains("s3cret"));

  // The service logs where personal data lies unencrypted before it deploys its workflows on
  // an empty database (which fails here: there are none, so it exits).
  PostgresScratch empty;
  std::string empty_url = empty.url();
  empty_url = "postgresql://onevisit:s3cret-word@" + empty_url.substr(user.size()) + "&password=s3cret-word";
  ScratchDir dir;
  auto [served, serve_output] = run_command(std::string(ONEVISIT_CLI) + " serve --db '" + empty_url +
                                            "' --listen 127.0.0.1:0 --workflows " + dir.file("none"));
  INFO(serve_output);
  CHECK(served != 0);
  CHECK_THAT(serve_output, Catch::Contains("unencrypted") && Catch::Contains("password=***"));
  CHECK_THAT(serve_output, !Catch::Contains("s3cret"));

  // A server that cannot be reached: the error names the database, masked.
  auto [failed, failed_output] =
      run_command(std::string(ONEVISIT_CLI) + " case list --db 'postgresql://onevisit:s3cret-word@/postgres?host=" + dir.file("nowhere") + "'");
  INFO(failed_output);
  CHECK(failed != 0);
  CHECK_THAT(failed_output, Catch::Contains("onevisit:***@"));
  CHECK_THAT(failed_output, !Catch::Contains("s3cret"));
}
