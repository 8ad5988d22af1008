// Case search by a blind index, worklist tabs and 督办 (issue 14; docs/storage.md, Search
// index; docs/runtime.md, Urging).
#include <onevisit/engine/engine.hpp>
#include <onevisit/engine/search.hpp>

#include "engine_support.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <string>

using namespace onevisit;
using namespace onevisit::engine;
using dsl::Value;
namespace fs = std::filesystem;

using testing::at;
using testing::keys;
using testing::open_engine;
using testing::newborn::kFatherId;
using testing::newborn::kMotherId;
using testing::newborn::kMotherName;
using testing::newborn::kPhone;
namespace newborn = testing::newborn;

namespace {

// The ids of the cases a search finds.
std::vector<std::string> found(Engine& engine, std::string_view text, CaseQuery query = {}) {
  auto terms = parse_search_query(text);
  if (!terms) FAIL(terms.error());
  query.any_token = terms->tokens;
  if (!terms->case_id.empty()) query.case_id = terms->case_id;
  auto cases = engine.list_cases(query);
  if (!cases) FAIL(cases.error().message);
  std::vector<std::string> ids;
  for (const auto& c : *cases) ids.push_back(c.case_id);
  std::sort(ids.begin(), ids.end());
  auto counted = engine.count_cases(query);
  REQUIRE(counted);
  CHECK(*counted == ids.size());
  return ids;
}

void exec(const fs::path& db, const std::string& sql) {
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &handle) == SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(handle, sql.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) FAIL(std::string(error ? error : "?"));
  sqlite3_close(handle);
}

std::size_t count(const fs::path& db, const std::string& sql) {
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(handle, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  const auto n = static_cast<std::size_t>(sqlite3_column_int64(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(handle);
  return n;
}

}  // namespace

TEST_CASE("search: queries as typed at the window become tokens, unusable ones say what to type", "[search]") {
  auto tokens = [](std::string_view text) {
    auto terms = parse_search_query(text);
    if (!terms) FAIL(terms.error());
    return terms->tokens;
  };
  CHECK(tokens("李梅") == std::vector<std::string>{"n:李梅"});
  // Spaces, full-width digits and a lower-case x are what a clerk types; they normalise.
  CHECK(tokens(" 002x ") == std::vector<std::string>{"t:002X"});
  CHECK(tokens("００１２") == std::vector<std::string>{"c:12", "t:0012"});
  CHECK(tokens("12") == std::vector<std::string>{"c:12"});
  CHECK(tokens(kPhone) == std::vector<std::string>{std::string("t:") + kPhone});
  CHECK(tokens("杭州市西湖区某某餐饮管理有限公司") == std::vector<std::string>{"f:杭州市西湖区某某餐饮管理有限公司"});
  auto number = parse_search_query("20261207-0012");
  REQUIRE(number);
  CHECK(number->case_id == "20261207-0012");
  // A number in a log keeps only its last four characters.
  CHECK(parse_search_query(kMotherId)->masked == "**************002X");

  for (const char* bad : {"", "   ", "李", "0", "1234567890", "张三!", "<script>", "%%%%"}) {
    INFO(bad);
    auto terms = parse_search_query(bad);
    REQUIRE_FALSE(terms);
    CHECK_FALSE(terms.error().empty());
    // The message is the clerk's (Chinese) and never repeats what was typed.
    CHECK(terms.error().find(bad[0] ? bad : "\x01") == std::string::npos);
  }
}

TEST_CASE("search: a case is found by name, the last digits of an ID number, a phone and its case number, through keyed hashes only",
          "[search][sqlite][at_rest]") {
  testing::ScratchDir dir("onevisit-search");
  const auto db = dir.path() / "cases.db";
  VirtualClock clock(at(2026, 12, 7));
  auto engine = open_engine(db, clock, keys("k1", {{"k1", AtRestKeys::generate_base64()}}));
  REQUIRE(engine->deploy({newborn::bundle()}));
  auto first = engine->start_case("newborn", newborn::form(), kMotherId, {"s-1", "clerk-1", "clerk"});
  REQUIRE(first);
  auto second = engine->start_case("newborn", newborn::form("赵敏", "110105194912310046", "13900001234"), "110105194912310046",
                                   {"s-2", "clerk-2", "clerk"});
  REQUIRE(second);
  const std::string a = first->case_id, b = second->case_id;
  CHECK(a == "20261207-0001");

  CHECK(found(*engine, "李梅") == std::vector<std::string>{a});
  CHECK(found(*engine, "赵敏") == std::vector<std::string>{b});
  CHECK(found(*engine, "002X") == std::vector<std::string>{a});
  CHECK(found(*engine, "31002x") == std::vector<std::string>{a});
  CHECK(found(*engine, kMotherId) == std::vector<std::string>{a});
  CHECK(found(*engine, "5678") == std::vector<std::string>{a});
  CHECK(found(*engine, "13900001234") == std::vector<std::string>{b});
  // The father's number is on both forms.
  CHECK(found(*engine, "0014") == std::vector<std::string>{a, b});
  CHECK(found(*engine, "20261207-0002") == std::vector<std::string>{b});
  CHECK(found(*engine, "2") == std::vector<std::string>{b});
  CHECK(found(*engine, "0001") == std::vector<std::string>{a});
  CHECK(found(*engine, "张三").empty());
  CHECK(found(*engine, "9999").empty());

  // The index holds 32-hex hashes, and the file neither names nor numbers, nor tokens.
  CHECK(count(db, "SELECT COUNT(*) FROM search_tokens") > 10);
  CHECK(count(db, "SELECT COUNT(*) FROM search_tokens WHERE length(token) <> 32 OR token GLOB '*[^0-9a-f]*'") == 0);
  const auto bytes = testing::database_bytes(db);
  for (const char* secret : {kMotherId, kPhone, kMotherName, "赵敏", "n:李梅", "t:002X", "t:5678", "002X"}) {
    INFO(secret);
    CHECK(bytes.find(secret) == std::string::npos);
  }
}

TEST_CASE("search: a database from before the index gets it at the engine's first open, rotation keeps the index key", "[search][sqlite][at_rest]") {
  testing::ScratchDir dir("onevisit-search");
  const auto db = dir.path() / "cases.db";
  VirtualClock clock(at(2026, 12, 7));
  const auto first = AtRestKeys::generate_base64();
  const auto second = AtRestKeys::generate_base64();
  std::string case_id;
  {
    auto engine = open_engine(db, clock, keys("k1", {{"k1", first}}));
    REQUIRE(engine->deploy({newborn::bundle()}));
    auto started = engine->start_case("newborn", newborn::form(), kMotherId, {"s-1", "clerk-1", "clerk"});
    REQUIRE(started);
    case_id = started->case_id;
  }
  // As a version-6 file migrated to 7 looks: cases without tokens or actors, not indexed.
  exec(db, "DELETE FROM search_tokens; DELETE FROM case_actors; UPDATE cases SET indexed = 0;");
  {
    std::shared_ptr<Store> store;
    auto engine = open_engine(db, clock, keys("k2", {{"k1", first}, {"k2", second}}), &store);
    CHECK(count(db, "SELECT COUNT(*) FROM cases WHERE indexed = 0") == 0);
    CHECK(found(*engine, "李梅") == std::vector<std::string>{case_id});
    CaseQuery mine;
    mine.actor = "clerk-1";
    auto done = engine->list_cases(mine);
    REQUIRE(done);
    CHECK(done->size() == 1);
    auto report = reseal_sqlite_store(*store);
    REQUIRE(report);
    CHECK(report->retired == std::vector<std::string>{"k1"});
  }
  // The first key is gone; the index key was sealed again under the second.
  auto engine = open_engine(db, clock, keys("k2", {{"k2", second}}));
  CHECK(found(*engine, "002X") == std::vector<std::string>{case_id});
}

TEST_CASE("search: erasing a case's personal data takes its names and numbers out of the index", "[search]") {
  VirtualClock clock(at(2026, 12, 7));
  auto engine = Engine::open({":memory:", &clock});
  REQUIRE(engine);
  REQUIRE((*engine)->deploy({newborn::bundle()}));
  auto started = (*engine)->start_case("newborn", newborn::form(), kMotherId, {"s-1", "clerk-1", "clerk"});
  REQUIRE(started);
  REQUIRE(found(**engine, "李梅").size() == 1);
  auto withdrawn = (*engine)->execute(started->case_id, Withdraw{"申请人撤回"}, {"w-1", "clerk-1", "clerk"});
  REQUIRE(withdrawn);
  clock.set(at(2030, 12, 9));  // newborn keeps personal data three years
  auto erased = (*engine)->execute(started->case_id, ErasePersonalData{}, {"e-1", "system", "system"});
  if (!erased) FAIL(erased.error().message);
  CHECK(found(**engine, "李梅").empty());
  CHECK(found(**engine, "002X").empty());
  // The case number stays: it is no personal data.
  CHECK(found(**engine, "1") == std::vector<std::string>{started->case_id});
}

TEST_CASE("worklist tabs: done by me, every case of a department (finished ones too), counts", "[search][tabs]") {
  VirtualClock clock(at(2026, 12, 7));
  auto opened = Engine::open({":memory:", &clock});
  REQUIRE(opened);
  auto& engine = **opened;
  REQUIRE(engine.deploy({newborn::bundle()}));
  auto a = engine.start_case("newborn", newborn::form(), kMotherId, {"s-1", "clerk-1", "clerk"});
  auto b = engine.start_case("newborn", newborn::form("赵敏"), kMotherId, {"s-2", "clerk-2", "clerk"});
  REQUIRE(a);
  REQUIRE(b);
  CaseQuery mine;
  mine.actor = "clerk-1";
  auto done = engine.list_cases(mine);
  REQUIRE(done);
  REQUIRE(done->size() == 1);
  CHECK(done->front().case_id == a->case_id);
  REQUIRE(engine.execute(b->case_id, Withdraw{"申请人撤回"}, {"w-1", "clerk-2", "clerk"}));
  // A department whose items are all closed (waiting, not applicable) in these cases: the
  // open-item filter finds neither; the department's reviewers still see both.
  auto view = engine.get_case(b->case_id);
  REQUIRE(view);
  std::string department;
  for (const auto& row : view->items) {
    const bool all_final = std::all_of(view->items.begin(), view->items.end(),
                                       [&](const ItemRow& r) { return r.department != row.department || r.final; });
    if (all_final) department = row.department;
  }
  REQUIRE_FALSE(department.empty());
  CaseQuery open_items;
  open_items.department = department;
  CaseQuery scoped;
  scoped.scope_department = department;
  auto open_cases = engine.list_cases(open_items);
  auto all_cases = engine.list_cases(scoped);
  REQUIRE(open_cases);
  REQUIRE(all_cases);
  CHECK(open_cases->empty());
  CHECK(all_cases->size() == 2);
  CHECK(*engine.count_cases(scoped) == 2);
  CaseQuery withdrawn = scoped;
  withdrawn.status = "withdrawn";
  CHECK(*engine.count_cases(withdrawn) == 1);
  scoped.limit = 1;
  CHECK(*engine.count_cases(scoped) == 1);  // counting stops at the limit
  CaseQuery work;
  work.department = view->items.front().department;
  auto items = engine.worklist(work);
  REQUIRE(items);
  CHECK(*engine.count_worklist(work) == items->size());
  CHECK_FALSE(items->empty());
}

TEST_CASE("urging: a supervisor urges a late item with a note, the department is notified, the mark stays until the item moves on",
          "[urge]") {
  VirtualClock clock(at(2026, 12, 7));
  auto opened = Engine::open({":memory:", &clock});
  REQUIRE(opened);
  auto& engine = **opened;
  REQUIRE(engine.deploy({newborn::bundle()}));
  auto started = engine.start_case("newborn", newborn::form(), kMotherId, {"s-1", "clerk-1", "clerk"});
  REQUIRE(started);
  const std::string case_id = started->case_id;
  // Deadlines run from acceptance: the window takes the materials and accepts what it may.
  {
    auto view = engine.get_case(case_id);
    REQUIRE(view);
    const auto& wf = *view->workflow;
    for (const auto& material : wf.materials) {
      if (material.source == MaterialSource::produced) continue;
      const bool elicense = material.source == MaterialSource::elicense;
      const std::string content = "scan of " + material.id;
      REQUIRE(engine.execute(case_id, AttachMaterial{material.id, elicense ? "" : Engine::content_hash(content), material.id + ".pdf", elicense},
                             {"", "clerk-1", "clerk"}));
      if (!elicense) REQUIRE(engine.execute(case_id, VerifyMaterial{material.id, true, ""}, {"", "clerk-1", "clerk"}));
    }
    for (const auto& model : wf.items) (void)engine.execute(case_id, FireEvent{model.id, "accept", {}}, {"", "clerk-1", "clerk"});
  }
  auto entries = engine.worklist({});
  REQUIRE(entries);
  auto before = engine.get_case(case_id);
  REQUIRE(before);
  // An item with a deadline whose lifecycle lets the clerk ask for a correction (how it moves on below).
  const auto late = std::find_if(entries->begin(), entries->end(), [&](const WorklistEntry& e) {
    const auto i = before->workflow->find_item(e.item.item_id);
    const auto& lc = before->workflow->lifecycles[before->workflow->items[*i].lifecycle];
    return e.item.due_at > 0 && std::any_of(lc.transitions.begin(), lc.transitions.end(), [](const auto& t) { return t.event == "request_correction"; });
  });
  REQUIRE(late != entries->end());
  const std::string item = late->item.item_id;
  const CommandOptions supervisor{"", "sup-1", "supervisor"};

  // Not late yet: nothing to urge.
  auto early = engine.execute(case_id, UrgeItem{item, "请尽快办理"}, supervisor);
  REQUIRE_FALSE(early);
  CHECK(early.error().rejection->reason == "not_late");

  clock.set(late->item.due_at + 60'000);
  REQUIRE(engine.fire_due_timers());
  auto clerk = engine.execute(case_id, UrgeItem{item, "请尽快办理"}, {"", "clerk-1", "clerk"});
  REQUIRE_FALSE(clerk);
  CHECK(clerk.error().rejection->code == Rejection::Code::role_not_allowed);
  auto no_note = engine.execute(case_id, UrgeItem{item, ""}, supervisor);
  REQUIRE_FALSE(no_note);
  CHECK(no_note.error().rejection->reason == "note_required");

  auto urged = engine.execute(case_id, UrgeItem{item, "已超期，请今日办结"}, supervisor);
  REQUIRE(urged);
  CHECK(urged->events == std::vector<std::string>{"ItemUrged"});
  auto view = engine.get_case(case_id);
  REQUIRE(view);
  const auto index = *view->workflow->find_item(item);
  CHECK(view->items[index].urged);
  CHECK(view->state.items[index].urged_by == "sup-1");
  CHECK(view->state.items[index].urge_note == "已超期，请今日办结");
  auto listed = engine.worklist({});
  REQUIRE(listed);
  const auto row = std::find_if(listed->begin(), listed->end(), [&](const WorklistEntry& e) { return e.item.item_id == item; });
  REQUIRE(row != listed->end());
  CHECK(row->item.urged);
  // The department hears of it through the notification system.
  auto calls = engine.calls(case_id, "", 100);
  REQUIRE(calls);
  const auto notice = std::find_if(calls->begin(), calls->end(), [](const OutboxRecord& o) {
    return o.adapter == "notify" && o.payload.find("督办：已超期，请今日办结") != std::string::npos;
  });
  REQUIRE(notice != calls->end());
  CHECK(notice->department == row->item.department);
  // In the history: who urged, and the note.
  auto events = engine.events(case_id);
  REQUIRE(events);
  CHECK(events->back().type == "ItemUrged");
  CHECK(events->back().event.actor == "sup-1");

  // The item moves on: the mark is gone.
  auto moved = engine.execute(case_id, FireEvent{item, "request_correction", {{"reason", "请补正出生医学证明"}}}, {"", "clerk-1", "clerk"});
  if (!moved) FAIL(moved.error().message);
  view = engine.get_case(case_id);
  REQUIRE(view);
  CHECK_FALSE(view->items[index].urged);
  CHECK(view->state.items[index].urged_at == 0);
}
