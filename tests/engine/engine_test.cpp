// The embedding API end to end, on the in-memory store and on SQLite files.

#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <onevisit/dsl/expr.hpp>
#include <onevisit/dsl/personal_numbers.hpp>
#include <onevisit/dsl/source.hpp>
#include <onevisit/engine/engine.hpp>
#include <onevisit/engine/simulate.hpp>
#include <onevisit/views/case_view.hpp>
#include <onevisit/views/history_view.hpp>
#include <boost/json.hpp>
#include <regex>
#include <set>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sstream>
#include <thread>
#include <tuple>

#include "../spy_store.hpp"
#include "../test_support.hpp"
#include "store/codec.hpp"  // white-box: compare whole case states
#include "district_generator.hpp"

using namespace onevisit;
using namespace onevisit::engine;
using dsl::Value;
namespace fs = std::filesystem;

namespace {

Timestamp at(int year, int month, int day, int hour = 10) {
  return (dsl::days_from_civil({year, month, day}) * 24 * 60 + hour * 60) * 60'000;
}

std::vector<std::string> bundled_workflows() {
  std::vector<std::string> paths;
  for (const auto& p : testing::workflow_files()) {
    if (p.string().find("/bundles/") != std::string::npos) paths.push_back(p.string());
  }
  return paths;
}

fs::path temp_db(const std::string& name) {
  static const testing::ScratchDir dir("onevisit-engine-test");  // removed when the tests end
  const auto path = dir.path() / name;
  fs::remove(path);
  fs::remove(path.string() + "-wal");
  fs::remove(path.string() + "-shm");
  return path;
}

std::map<std::string, Value> newborn_form() {
  return {{"baby_name", Value::of_text("王小明")},
          {"baby_gender", Value::of_text("male")},
          {"baby_birth_date", Value::of_date(dsl::days_from_civil({2026, 2, 20}))},
          {"mother_name", Value::of_text("李梅")},
          {"mother_id", Value::of_text("11010519491231002X")},
          {"mother_phone", Value::of_text("13812345678")},
          {"father_name", Value::of_text("王强")},
          {"father_id", Value::of_text("440524188001010014")},
          {"home_address", Value::of_text("杭州市西湖区文三路1号")},
          {"household_head_name", Value::of_text("李梅")},
          {"insurance_address", Value::of_text("西湖区文新街道")},
          {"father_hukou_local", Value::of_bool(false)},
          {"mother_hukou_local", Value::of_bool(true)}};
}

}  // namespace

// Issue 16: after each deploy, every node listed the workflows with a count of the cases of
// each version (a scan of the case table as it grows) to find the version it lacked.
TEST_CASE("engine: a node loads another node's deploy from the stored keys and that version's source, counting no cases",
          "[engine][deploy]") {
  VirtualClock clock(at(2026, 3, 2));
  std::shared_ptr<Store> shared = make_memory_store();
  auto spy = std::make_shared<testing::SpyStore>(shared);
  auto first = Engine::open({.database = ":memory:", .clock = &clock, .store = shared});
  auto second = Engine::open({.database = ":memory:", .clock = &clock, .store = spy});
  REQUIRE(first);
  REQUIRE(second);
  auto report = (*first)->deploy(bundled_workflows());
  REQUIRE(report);
  auto loaded = (*second)->refresh_deployed();
  REQUIRE(loaded);
  CHECK(*loaded >= report->bundles.size());
  for (const auto& b : report->bundles) CHECK((*second)->workflow(b.bundle_id, b.version) != nullptr);
  CHECK(spy->list_workflows_calls == 0);
  // Nothing new, nothing loaded; a deploy through the second node counts no cases either.
  CHECK((*second)->refresh_deployed() == std::size_t{0});
  REQUIRE((*second)->deploy(bundled_workflows()));
  CHECK(spy->list_workflows_calls == 0);
}

TEST_CASE("engine: deploy, versions and identity", "[engine]") {
  VirtualClock clock(at(2026, 3, 2));
  auto engine = Engine::open({":memory:", &clock});
  REQUIRE(engine);
  auto report = (*engine)->deploy(bundled_workflows());
  if (!report) FAIL(report.error().message << "\n" << testing::describe(report.error().diagnostics));
  CHECK(report->bundles.size() == bundled_workflows().size());
  CHECK(std::all_of(report->bundles.begin(), report->bundles.end(), [](const auto& b) { return b.new_version; }));
  // The same source again is a no-op.
  report = (*engine)->deploy(bundled_workflows());
  REQUIRE(report);
  CHECK(std::none_of(report->bundles.begin(), report->bundles.end(), [](const auto& b) { return b.new_version; }));
  // A changed source under the same version is refused; under a new version it deploys.
  const std::string root = ONEVISIT_SOURCE_DIR;
  const auto path = root + "/workflows/bundles/restaurant_opening.flow";
  std::string text = testing::read_file(path);
  const auto promise = text.find("promise ");
  REQUIRE(promise != std::string::npos);
  std::map<std::string, std::string> files;
  for (const auto& p : testing::workflow_files()) files[p.lexically_normal().generic_string()] = testing::read_file(p);
  std::string changed = text;
  changed.replace(promise, 8, "promise 1 + ");  // not valid: a promise is a duration
  files[fs::path(path).lexically_normal().generic_string()] = changed;
  auto bad = (*engine)->deploy_sources(files, {fs::path(path).lexically_normal().generic_string()});
  REQUIRE(!bad);
  CHECK(bad.error().kind == EngineError::Kind::invalid_workflow);
  CHECK(!bad.error().diagnostics.empty());
  changed = text;
  changed.insert(promise + 8, "1");  // promise 6 workdays -> promise 16 workdays
  files[fs::path(path).lexically_normal().generic_string()] = changed;
  auto refused = (*engine)->deploy_sources(files, {fs::path(path).lexically_normal().generic_string()});
  REQUIRE(!refused);
  CHECK(refused.error().message.find("raise its version") != std::string::npos);
}

TEST_CASE("engine: a case through the engine, idempotent commands, subscriptions", "[engine]") {
  VirtualClock clock(at(2026, 3, 2));
  auto opened = Engine::open({":memory:", &clock});
  REQUIRE(opened);
  auto& engine = **opened;
  REQUIRE(engine.deploy(bundled_workflows()));
  std::vector<std::string> seen;
  const auto id = engine.subscribe([&](const std::string&, const Event& e) { seen.emplace_back(event_type(e.body)); });

  auto bad = engine.start_case("newborn", {{"mother_name", Value::of_int(3)}}, "", {"", "clerk-1", "clerk"});
  REQUIRE(!bad);
  CHECK(bad.error().kind == EngineError::Kind::rejected);
  CHECK(!bad.error().rejection->field_errors.empty());

  auto started = engine.start_case("newborn", newborn_form(), "11010519491231002X", {"start-1", "clerk-1", "clerk"});
  if (!started) {
    std::string why = started.error().message;
    if (started.error().rejection) {
      for (const auto& f : started.error().rejection->field_errors) why += "\n" + f.field + ": " + f.message;
    }
    FAIL(why);
  }
  CHECK(started->events.front() == "CaseStarted");
  CHECK(seen.front() == "CaseStarted");
  // The same command id again: the first result, nothing applied.
  auto again = engine.start_case("newborn", newborn_form(), "11010519491231002X", {"start-1", "clerk-1", "clerk"});
  REQUIRE(again);
  CHECK(again->duplicate);
  CHECK(again->case_id == started->case_id);
  CHECK(again->version == started->version);

  auto view = engine.get_case(started->case_id);
  REQUIRE(view);
  CHECK(view->state.status == CaseStatus::running);
  CHECK(view->state.applicant_masked == "110*************2X");
  auto worklist = engine.worklist(CaseQuery{});
  REQUIRE(worklist);
  CHECK(!worklist->empty());
  auto listed = engine.list_cases(CaseQuery{.bundle_id = "newborn"});
  REQUIRE(listed);
  CHECK(listed->size() == 1);
  auto history = engine.history(started->case_id);
  REQUIRE(history);
  CHECK(history->size() == started->version);
  engine.unsubscribe(id);
  auto workflows = engine.workflows();
  REQUIRE(workflows);
  for (const auto& w : *workflows) CHECK(w.cases == (w.bundle_id == "newborn" ? 1u : 0u));

  auto nope = engine.execute("no-such-case", FireEvent{"x", "y", {}}, {"", "u", "clerk"});
  REQUIRE(!nope);
  CHECK(nope.error().kind == EngineError::Kind::not_found);
}

TEST_CASE("engine: durable on SQLite, recovers after a restart, timers due while down fire", "[engine][sqlite]") {
  const auto db = temp_db("restart.db");
  VirtualClock clock(at(2026, 3, 2));
  std::string case_id;
  {
    auto opened = Engine::open({db.string(), &clock});
    if (!opened) FAIL(opened.error().message);
    REQUIRE((*opened)->deploy(bundled_workflows()));
    auto started = (*opened)->start_case("newborn", newborn_form(), "11010519491231002X", {"s", "clerk-1", "clerk"});
    if (!started) {
    std::string why = started.error().message;
    if (started.error().rejection) {
      for (const auto& f : started.error().rejection->field_errors) why += "\n" + f.field + ": " + f.message;
    }
    FAIL(why);
  }
    case_id = started->case_id;
  }
  // A month later the engine starts again: the case is there, and its overdue timers fire.
  clock.set(at(2026, 4, 2));
  auto opened = Engine::open({db.string(), &clock});
  if (!opened) FAIL(opened.error().message);
  auto view = (*opened)->get_case(case_id);
  REQUIRE(view);
  CHECK(view->state.status == CaseStatus::running);
  auto fired = (*opened)->fire_due_timers();
  REQUIRE(fired);
  CHECK(*fired > 0);
  // The items nobody accepted were deemed accepted on the first round (their limits count
  // from the receipt, a month ago): their overdue timers are due at once and fire on the next.
  for (int round = 0; round < 5 && *fired > 0; ++round) {
    fired = (*opened)->fire_due_timers();
    REQUIRE(fired);
  }
  view = (*opened)->get_case(case_id);
  REQUIRE(view);
  const bool any_red = std::any_of(view->state.items.begin(), view->state.items.end(), [](const ItemState& s) { return s.light == Light::red; });
  CHECK(any_red);
  // Firing again finds nothing left to do.
  fired = (*opened)->fire_due_timers();
  REQUIRE(fired);
  CHECK(*fired == 0);
}

TEST_CASE(
    "engine: one command id sent at once from many threads and by two engines on one file is applied once",
    "[engine][sqlite]") {
  // Every sender must get the first result: a retry decided again on the state after the
  // first commit would be refused (the material is verified already), and one decided on the
  // stale state of the other engine conflicts. The engine looks the id up under the case's
  // lock, and again after a conflict.
  const auto db = temp_db("retries.db");
  VirtualClock clock(at(2026, 3, 2));
  auto first = Engine::open({db.string(), &clock});
  auto second = Engine::open({db.string(), &clock});
  if (!first || !second) FAIL("cannot open the engines");
  REQUIRE((*first)->deploy(bundled_workflows()));
  REQUIRE((*second)->deploy(bundled_workflows()));
  auto started =
      (*first)->start_case("newborn", newborn_form(), "11010519491231002X", {"start", "clerk-1", "clerk"});
  REQUIRE(started);
  const auto case_id = started->case_id;
  REQUIRE((*second)->get_case(case_id));  // the second engine holds the case in memory too

  const auto attachments = [&] {
    auto history = (*first)->history(case_id);
    REQUIRE(history);
    return std::count_if(history->begin(), history->end(),
                         [](const HistoryEntry& e) { return e.type == "MaterialAttached"; });
  };
  const auto before = attachments();
  constexpr int kThreads = 8;
  std::atomic<int> applied{0}, duplicates{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Engine& engine = t % 2 == 0 ? **first : **second;
      auto r = engine.execute(case_id, AttachMaterial{"birth_certificate", "", "", true},
                              {"attach-1", "clerk-1", "clerk"});
      if (!r)
        ++failed;
      else if (r->duplicate)
        ++duplicates;
      else
        ++applied;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failed == 0);
  CHECK(applied == 1);
  CHECK(duplicates == kThreads - 1);
  CHECK(attachments() == before + 1);
  // The same command under a new id is refused: a retry that was not recognised would be too.
  auto fresh = (*first)->execute(case_id, AttachMaterial{"birth_certificate", "", "", true},
                                 {"attach-2", "clerk-1", "clerk"});
  REQUIRE_FALSE(fresh);
  CHECK(fresh.error().kind == EngineError::Kind::rejected);
  // Late, from either engine: still the first result.
  for (auto* engine : {&**first, &**second}) {
    auto late = engine->execute(case_id, AttachMaterial{"birth_certificate", "", "", true},
                                {"attach-1", "clerk-1", "clerk"});
    REQUIRE(late);
    CHECK(late->duplicate);
  }
  CHECK(attachments() == before + 1);
}

TEST_CASE("engine: a damaged database file is refused clearly", "[engine][sqlite]") {
  const auto db = temp_db("garbage.db");
  { std::ofstream(db) << "this is not a database, just text\n"; }
  auto opened = Engine::open({db.string(), nullptr});
  REQUIRE(!opened);
  CHECK(opened.error().kind == EngineError::Kind::store);
  CHECK(testing::read_file(db) == "this is not a database, just text\n");
}

// Issue 13: simulate evaluated bounds without the other fields, so a bound such as "the end at
// least a day after the start" failed every synthetic case.
TEST_CASE("engine: synthetic forms keep bounds that read other fields, or say which cannot be kept", "[engine][simulate]") {
  const std::string root = ONEVISIT_SOURCE_DIR;
  const auto path = fs::path(root + "/workflows/bundles/restaurant_opening.flow").lexically_normal().generic_string();
  std::map<std::string, std::string> files;
  for (const auto& p : testing::workflow_files()) files[p.lexically_normal().generic_string()] = testing::read_file(p);
  const std::string original = files.at(path);
  // `fields` go into the form, `rules` (checks) just before it.
  auto with_fields = [&](const std::string& fields, const std::string& rules) {
    std::string text = original;
    const auto form = text.find("form {");
    REQUIRE(form != std::string::npos);
    text.insert(form + 6, "\n" + fields + "\n");
    text.insert(form, rules);
    return text;
  };
  auto synthetic = [&](const std::string& fields, const std::string& rules = "") {
    VirtualClock clock(at(2026, 9, 28, 9));
    auto opened = Engine::open({":memory:", &clock});
    REQUIRE(opened);
    files[path] = with_fields(fields, rules);
    auto deployed = (*opened)->deploy_sources(files, {path});
    if (!deployed) FAIL(deployed.error().message << "\n" << testing::describe(deployed.error().diagnostics));
    const auto wf = (*opened)->workflow(deployed->bundles.at(0).bundle_id);
    REQUIRE(wf);
    return synthetic_form(*wf, clock.now(), 7);
  };
  // The end date is bounded by the start date, which is bounded by today(); the staff count by
  // the tables.
  const auto form = synthetic(
      "    works_start \"开工日期\": date required min today() + 3 days\n"
      "    works_end \"竣工日期\": date required min works_start + 1 day max works_start + 30 days\n"
      "    tables \"餐桌数\": int required min 12\n"
      "    staff \"从业人员数\": int required min tables + 2");
  REQUIRE(form);
  const auto today = dsl::days_from_civil({2026, 9, 28});
  CHECK(form->at("works_start").integer >= today + 3);
  CHECK(form->at("works_end").integer >= form->at("works_start").integer + 1);
  CHECK(form->at("works_end").integer <= form->at("works_start").integer + 30);
  CHECK(form->at("staff").integer >= form->at("tables").integer + 2);
  // A minimum above the maximum cannot be kept: the error names the field and the rule.
  const auto impossible = synthetic(
      "    works_start \"开工日期\": date required\n"
      "    works_end \"竣工日期\": date required min works_start + 40 days max works_start + 30 days");
  REQUIRE(!impossible);
  CHECK(impossible.error().find("「竣工日期」不能") != std::string::npos);
  CHECK(impossible.error().find("works_end") != std::string::npos);
  // Checks across fields are kept too: the end moves after the start (both start at the same
  // synthetic date), the deposit below the rent's twelvefold.
  const auto checked = synthetic(
      "    works_start \"开工日期\": date required\n"
      "    works_end \"竣工日期\": date required\n"
      "    rent \"月租金\": money required min 1\n"
      "    deposit \"押金\": money required",
      "check works_end > works_start \"竣工日期应晚于开工日期\"\n"
      "  check deposit <= rent * 12 and deposit > 0 \"押金应大于0且不超过12个月租金\"\n  ");
  REQUIRE(checked);
  CHECK(checked->at("works_end").integer > checked->at("works_start").integer);
  CHECK(checked->at("deposit").as_decimal() > dsl::Decimal::from_int(0));
  CHECK(checked->at("deposit").as_decimal().units <= checked->at("rent").as_decimal().units * 12);
  // A check no values can keep is named with its message.
  const auto never = synthetic("    works_start \"开工日期\": date required",
                               "check works_start < works_start \"开工日期应早于自己\"\n  ");
  REQUIRE(!never);
  CHECK(never.error().find("开工日期应早于自己") != std::string::npos);
}

TEST_CASE("engine: simulated cases of every bundled workflow complete without a refused command", "[engine][simulate]") {
  for (const auto& path : bundled_workflows()) {
    INFO(path);
    VirtualClock clock(at(2026, 9, 28, 9));  // runs into the National Day holiday
    auto opened = Engine::open({":memory:", &clock});
    REQUIRE(opened);
    auto deployed = (*opened)->deploy({path});
    REQUIRE(deployed);
    auto report = simulate(**opened, clock, {deployed->bundles.at(0).bundle_id, 30, 7, 0.3, 90});
    REQUIRE(report);
    INFO(report->first_problem);
    CHECK(report->rejected_commands == 0);
    CHECK(report->cases_started == 30);
    CHECK(report->cases_completed == 30);
    CHECK(report->corrections > 0);
  }
}

TEST_CASE("engine: the generated district loads, checks clean and runs", "[engine][district]") {
  std::map<std::string, std::string> files;
  std::vector<std::string> bundles;
  for (auto& f : onevisit::bench::generate_district({})) {
    if (f.path.starts_with("bundles/")) bundles.push_back(f.path);
    files.emplace(f.path, std::move(f.text));
  }
  REQUIRE(bundles.size() == 58);
  VirtualClock clock(at(2026, 9, 28, 9));
  auto opened = Engine::open({":memory:", &clock});
  REQUIRE(opened);
  auto deployed = (*opened)->deploy_sources(files, bundles);
  if (!deployed) FAIL(deployed.error().message << "\n" << testing::describe(deployed.error().diagnostics));
  CHECK(deployed->bundles.size() == 58);
  std::size_t items = 0;
  for (const auto& b : deployed->bundles) items += (*opened)->workflow(b.bundle_id)->items.size();
  CHECK(items > 500);
  // A few cases of every fifth bundle, through the whole engine.
  for (std::size_t i = 0; i < deployed->bundles.size(); i += 5) {
    INFO(deployed->bundles[i].bundle_id);
    auto report = simulate(**opened, clock, {deployed->bundles[i].bundle_id, 3, i + 1, 0.2, 90});
    REQUIRE(report);
    INFO(report->first_problem);
    CHECK(report->rejected_commands == 0);
    CHECK(report->cases_completed == 3);
  }
}

TEST_CASE("engine: a damaged stored workflow source is refused at open", "[engine][sqlite]") {
  const auto db = temp_db("damaged-source.db");
  {
    auto store = open_sqlite_store(db.string());
    REQUIRE(store);
    for (const char* source : {"not json", R"({"files": 3, "root": "x.flow"})", R"({"files": {}})"}) {
      REQUIRE((*store)->deploy(DeployedWorkflow{"b" + std::to_string(std::strlen(source)), 1, "h", source, 0, 0}));
    }
  }
  auto opened = Engine::open({db.string(), nullptr});
  REQUIRE(!opened);
  CHECK(opened.error().kind == EngineError::Kind::store);
  CHECK(opened.error().message.find("is damaged") != std::string::npos);
}

namespace {

// How often each construct of the language appears, per unit it belongs to (bundles, items,
// materials, departments), in a set of workflow texts with comments removed.
std::map<std::string, double> construct_rates(const std::vector<std::string>& texts) {
  std::string all;
  for (const auto& t : texts) all += std::regex_replace(t, std::regex("#[^\n]*"), "") + "\n";
  auto count = [&](const char* pattern) {
    const std::regex re(pattern, std::regex::multiline);
    return static_cast<double>(std::distance(std::sregex_iterator(all.begin(), all.end(), re), std::sregex_iterator()));
  };
  const double bundles = count(R"(\bbundle \w+ ")"), uses = count(R"(\buse \w+)"), materials = count(R"(^\s*material \w+)"),
               departments = count(R"(^department \w+)");
  return {
      {"when (per bundle)", count(R"(\bwhen\b)") / bundles},
      {"situation (per bundle)", count(R"(\bsituation\s*\{)") / bundles},
      {"decide (per bundle)", count(R"(\bdecide \w+)") / bundles},
      {"rating (per bundle)", count(R"(\brating\b)") / bundles},
      {"enum fields (per bundle)", count(R"(enum\()") / bundles},
      {"after (per item used)", count(R"(\bafter \w)") / uses},
      {"use ... as (per item used)", count(R"(\buse \w+ as)") / uses},
      {"produces (per item used)", count(R"(\bproduces\b)") / uses},
      {"tolerant (per item used)", count(R"(\btolerant\b)") / uses},
      {"special procedures (per item used)", count(R"(\bspecial\b)") / uses},
      {"immediate (per item used)", count(R"(\bimmediate\b)") / uses},
      {"sends (per item used)", count(R"(\bsends\b)") / uses},
      {"calendar-day limits (per item used)", count(R"(\b\d+ days\b)") / uses},
      {"e-license materials", count(R"(from elicense)") / materials},
      {"secondary materials", count(R"(\bsecondary\b)") / materials},
      {"originals shown", count(R"(\boriginal\b)") / materials},
      {"organisations (per department)", count(R"(kind organisation)") / departments},
  };
}

}  // namespace

TEST_CASE("engine: the generated district uses every construct the real bundles use, in similar proportions", "[engine][district]") {
  std::vector<std::string> real, generated;
  for (const auto& path : onevisit::testing::workflow_files()) real.push_back(onevisit::testing::read_file(path));
  for (auto& f : onevisit::bench::generate_district({})) generated.push_back(std::move(f.text));
  const auto ours = construct_rates(real), district = construct_rates(generated);
  for (const auto& [construct, rate] : ours) {
    INFO(construct << ": real bundles " << rate << ", generated district " << district.at(construct));
    REQUIRE(rate > 0);  // the real bundles use it
    CHECK(district.at(construct) > 0);
    // Within a factor of four either way: the benchmarks measure the same kind of work.
    CHECK(district.at(construct) >= rate / 4);
    CHECK(district.at(construct) <= rate * 4);
  }
}

namespace {

// A bundle whose one item can go round the correction loop as often as a test likes.
constexpr const char* kCorrectionFlow = R"(
lifecycle standard {
  state submitted initial; state accepted; state correcting pauses_clock; state approved final
  on accept: submitted -> accepted by clerk
  on request_correction: submitted, accepted -> correcting by clerk requires reason
  on corrected: correcting -> accepted by applicant
  on approve: accepted -> approved by reviewer
  warn at 80%
}
department market "市场监管局" adapter market_registry
item registration "设立登记" by market { limit 5 workdays }
bundle loop "补正" version 1 {
  promise 5 workdays; lifecycle standard
  form { company_name "企业名称": text required }
  use registration
}
)";

// The calendar-version tests' files: a calendar made for the test (never a real year's
// holidays), with or without its 2032, and kCorrectionFlow's bundle counting on it.
std::string calendar_test_calendars(bool with_2032) {
  const std::string year_2031 = "calendar test_2031 \"测试2031年\" {\n  holiday 2031-10-01..2031-10-07 \"测试假日\"\n}\n";
  const std::string year_2032 = "calendar test_2032 \"测试2032年\" {\n  holiday 2032-01-01..2032-01-02 \"测试假日\"\n}\n";
  return year_2031 + (with_2032 ? year_2032 : "") + "calendar test_cal \"测试日历\" {\n  include test_2031" +
         (with_2032 ? ", test_2032" : "") + "\n}\n";
}
std::string calendar_test_bundle() {
  return "import \"calendars.flow\"\n" +
         std::regex_replace(std::string(kCorrectionFlow), std::regex("promise 5 workdays; lifecycle standard"),
                            "promise 5 workdays; lifecycle standard; calendar test_cal");
}

}  // namespace

// The store keeps a snapshot every 16 events and the events after it; a restarted engine
// replays that tail through apply(). Whatever the version, it must equal the live state.
TEST_CASE("engine: a case restored from its latest snapshot and the events after it equals the live case", "[engine][sqlite]") {
  const auto db = temp_db("replay.db");
  VirtualClock clock(at(2026, 3, 2, 9));
  std::string case_id;
  std::vector<std::string> live;  // the encoded live state after each round
  {
    auto opened = Engine::open({db.string(), &clock});
    if (!opened) FAIL(opened.error().message);
    auto& engine = **opened;
    REQUIRE(engine.deploy_sources({{"loop.flow", kCorrectionFlow}}, {"loop.flow"}));
    // At a kiosk: the channel goes through snapshots too.
    auto started = engine.start_case("loop", {{"company_name", Value::of_text("某某公司")}}, "11010519491231002X",
                                     {"", "clerk-1", "clerk", "kiosk"});
    if (!started) FAIL(started.error().message);
    case_id = started->case_id;
    REQUIRE(engine.execute(case_id, FireEvent{"registration", "accept", {}}, {"", "clerk-1", "clerk"}));
    for (int round = 0; round < 12; ++round) {
      clock.advance(3'600'000);
      REQUIRE(engine.execute(case_id, FireEvent{"registration", "request_correction", {{"reason", "补正 " + std::to_string(round)}}},
                             {"", "clerk-1", "clerk"}));
      clock.advance(1'800'000);
      REQUIRE(engine.execute(case_id, FireEvent{"registration", "corrected", {}}, {"", "applicant", "applicant"}));
      auto view = engine.get_case(case_id);
      REQUIRE(view);
      live.push_back(codec::encode_case(view->state));
    }
  }
  auto opened = Engine::open({db.string(), &clock});
  if (!opened) FAIL(opened.error().message);
  auto restored = (*opened)->get_case(case_id);
  REQUIRE(restored);
  INFO("version " << restored->state.version);
  CHECK(restored->state.version > 16);
  CHECK(restored->state.version % 16 != 0);  // so that a tail of events is replayed
  CHECK(codec::encode_case(restored->state) == live.back());
  CHECK(restored->state.channel == "kiosk");
  // The restored case goes on as the live one would have.
  auto approved = (*opened)->execute(case_id, FireEvent{"registration", "approve", {}}, {"", "reviewer-1", "reviewer"});
  if (!approved) FAIL(approved.error().message);
  auto view = (*opened)->get_case(case_id);
  REQUIRE(view);
  CHECK(view->state.status == CaseStatus::completed);
  auto history = (*opened)->history(case_id);
  REQUIRE(history);
  CHECK(history->size() == view->state.version);
}

// start_case does not read the store before committing a new case; a taken case id must
// still be refused, from the cache or from the store.
TEST_CASE("engine: starting a case under an id that exists is rejected and changes nothing", "[engine][sqlite]") {
  const auto db = temp_db("taken.db");
  VirtualClock clock(at(2026, 3, 2, 9));
  const std::map<std::string, Value> form{{"company_name", Value::of_text("某某公司")}};
  {
    auto opened = Engine::open({db.string(), &clock});
    if (!opened) FAIL(opened.error().message);
    REQUIRE((*opened)->deploy_sources({{"loop.flow", kCorrectionFlow}}, {"loop.flow"}));
    auto first = (*opened)->start_case("loop", form, "11010519491231002X", {"cmd-1", "clerk-1", "clerk"}, "case-1");
    if (!first) FAIL(first.error().message);
    auto again = (*opened)->start_case("loop", form, "11010519491231002X", {"cmd-2", "clerk-1", "clerk"}, "case-1");
    REQUIRE_FALSE(again);
    CHECK(again.error().kind == EngineError::Kind::rejected);
  }
  auto opened = Engine::open({db.string(), &clock});  // nothing cached: the store says it exists
  if (!opened) FAIL(opened.error().message);
  auto again = (*opened)->start_case("loop", form, "11010519491231002X", {"cmd-3", "clerk-1", "clerk"}, "case-1");
  REQUIRE_FALSE(again);
  CHECK(again.error().kind == EngineError::Kind::rejected);
  auto view = (*opened)->get_case("case-1");
  REQUIRE(view);
  auto history = (*opened)->history("case-1");
  REQUIRE(history);
  CHECK(history->size() == view->state.version);
}

TEST_CASE("engine: material contents are stored once, created lazily, and never served damaged", "[engine]") {
  namespace fs = std::filesystem;
  const testing::ScratchDir scratch("onevisit-contents");
  const fs::path root = scratch.path() / "contents";
  auto store = make_folder_content_store(root);
  REQUIRE(store);
  CHECK_FALSE(fs::exists(root));  // nothing written, nothing created
  auto hash = (*store)->put("营业执照");
  REQUIRE(hash);
  CHECK(*(*store)->put("营业执照") == *hash);
  auto back = (*store)->get(*hash);
  REQUIRE(back);
  CHECK(**back == "营业执照");
  CHECK_FALSE((*store)->get("not-a-hash"));
  auto missing = (*store)->get(std::string(64, '0'));
  REQUIRE(missing);
  CHECK_FALSE(*missing);
  // A file changed on disk is an error, not content.
  std::ofstream(root / hash->substr(0, 2) / (*hash + ".bin"), std::ios::trunc) << "forged";
  auto damaged = (*store)->get(*hash);
  REQUIRE_FALSE(damaged);
  CHECK(damaged.error().message.find("damaged") != std::string::npos);
  CHECK(damaged.error().kind == StoreError::Kind::corrupt);
  // A root that is a file is refused at once.
  fs::remove_all(root);
  std::ofstream(root) << "x";
  CHECK_FALSE(make_folder_content_store(root));
}

// Issue 17: a client-chosen case id shows in lists, URLs, the audit trail and every log line
// about the case. A phone or ID number as case id would spread it everywhere, so the engine
// refuses one — the CLI, the REST API and embedders alike — and its error does not repeat it.
TEST_CASE("engine: a case id that looks like a phone, ID or credit-code number is refused", "[engine][personal]") {
  VirtualClock clock(at(2026, 3, 2, 9));
  auto opened = Engine::open({":memory:", &clock});
  REQUIRE(opened);
  auto& engine = **opened;
  REQUIRE(engine.deploy_sources({{"loop.flow", kCorrectionFlow}}, {"loop.flow"}));
  const std::map<std::string, Value> form{{"company_name", Value::of_text("某某公司")}};
  for (const std::string id : {"13812345678", "+86 138 1234 5678", "C13812345678", "case-13812345678", "11010519491231002X",
                               "110105491231002", "010-65529988", "91350100M000100Y43", "１３８１２３４５６７８"}) {
    INFO(id);
    auto refused = engine.start_case("loop", form, "", {"", "clerk-1", "clerk"}, id);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == EngineError::Kind::invalid);
    // Read at the window and in the CLI: Chinese, with the machine-readable reason kept.
    CHECK(refused.error().message.find("含有个人信息") != std::string::npos);
    CHECK(refused.error().message.find("personal_case_id") != std::string::npos);
    CHECK(refused.error().message.find(id) == std::string::npos);
  }
  auto listed = engine.list_cases({});
  REQUIRE(listed);
  CHECK(listed->empty());
  // Case numbers, dates and short numbers are fine.
  for (const std::string id : {"C1", "C20261207-0001", "2026-浙-0001", "intake.20261207.42"}) {
    INFO(id);
    CHECK(engine.start_case("loop", form, "", {"", "clerk-1", "clerk"}, id));
  }
}

// Issue 17 item 9: the applicant was masked by bytes, so a name came out as invalid UTF-8 in
// the case list, the history and the log line of the start. A name keeps its first character.
TEST_CASE("engine: an applicant given by name is masked by characters, in the state and the log", "[engine][utf8]") {
  VirtualClock clock(at(2026, 3, 2, 9));
  auto opened = Engine::open({":memory:", &clock});
  REQUIRE(opened);
  auto& engine = **opened;
  REQUIRE(engine.deploy_sources({{"loop.flow", kCorrectionFlow}}, {"loop.flow"}));
  std::ostringstream log;
  const auto previous = spdlog::default_logger();
  auto capture = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
  capture->set_level(spdlog::level::info);
  spdlog::set_default_logger(capture);
  auto started = engine.start_case("loop", {{"company_name", Value::of_text("某某公司")}}, "张三丰", {"", "clerk-1", "clerk"}, "C7");
  spdlog::set_default_logger(previous);
  REQUIRE(started);
  auto view = engine.get_case("C7");
  REQUIRE(view);
  CHECK(view->state.applicant_masked == "张**");
  auto listed = engine.list_cases({});
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().applicant == "张**");
  INFO(log.str());
  CHECK(log.str().find("for 张** by clerk-1") != std::string::npos);
  CHECK(dsl::find_invalid_utf8(log.str()) == std::string::npos);
}

// Issue 13: a deadline past the calendar's declared years was counted Monday to Friday without
// a word. The calendar is made for the test: a real year is written only from the notice.
TEST_CASE("engine: a deadline past the calendar's declared years is provisional, in the view and once in the log", "[engine][calendar]") {
  std::string flow = kCorrectionFlow;
  flow = std::regex_replace(flow, std::regex("promise 5 workdays; lifecycle standard"), "promise 5 workdays; lifecycle standard; calendar test_2031");
  flow = "calendar test_2031 \"测试日历\" {\n  holiday 2031-10-01..2031-10-07 \"国庆节\"\n}\n" + flow;
  VirtualClock clock(at(2031, 12, 22, 9));  // Monday: 5 working days end on Monday 29 December
  auto opened = Engine::open({":memory:", &clock});
  REQUIRE(opened);
  auto& engine = **opened;
  REQUIRE(engine.deploy_sources({{"loop.flow", flow}}, {"loop.flow"}));
  std::ostringstream log;
  const auto previous = spdlog::default_logger();
  auto capture = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
  spdlog::set_default_logger(capture);
  REQUIRE(engine.start_case("loop", {{"company_name", Value::of_text("甲公司")}}, "", {"", "clerk-1", "clerk"}, "C1"));
  clock.set(at(2031, 12, 26, 9));  // Friday: the fifth working day is Friday 2 January 2032
  REQUIRE(engine.start_case("loop", {{"company_name", Value::of_text("乙公司")}}, "", {"", "clerk-1", "clerk"}, "C2"));
  REQUIRE(engine.start_case("loop", {{"company_name", Value::of_text("丙公司")}}, "", {"", "clerk-1", "clerk"}, "C3"));
  spdlog::set_default_logger(previous);
  auto within = engine.get_case("C1");
  auto past = engine.get_case("C2");
  REQUIRE(within);
  REQUIRE(past);
  CHECK(past->calendar_declared_until == dsl::days_from_civil({2031, 12, 31}));
  const auto within_json = views::case_page_json(*within, nullptr);
  const auto past_json = views::case_page_json(*past, nullptr);
  CHECK(within_json.at("items").as_array()[0].at("due_provisional").as_bool() == false);
  CHECK(within_json.at("deadline_provisional").as_bool() == false);
  CHECK(past_json.at("items").as_array()[0].at("due_provisional").as_bool() == true);
  CHECK(past_json.at("deadline_provisional").as_bool() == true);
  CHECK(past_json.at("calendar_declared_until").as_string() == "2031-12-31");
  // The log says it once per calendar, not once per case.
  INFO(log.str());
  const auto warned = log.str().find("calendar 'test_2031' declares holidays only up to 2031-12-31");
  CHECK(warned != std::string::npos);
  CHECK(log.str().find("calendar 'test_2031'", warned + 1) == std::string::npos);
}

// Issue 13: a new year's calendar changed nothing for the cases already running (and a changed
// calendar file could not be deployed without raising every bundle's version). Now a calendar is
// deployed as a version of its own; each running case on it adopts the new version as a
// recorded event that says which deadline moved. The calendars are made for the test: a real
// year is written only from the State Council's notice.
TEST_CASE("engine: deploying a new calendar version recounts the running cases' deadlines, as recorded events", "[engine][calendar][sqlite]") {
  const auto db = temp_db("calendar-versions.db");
  const std::string bundle = calendar_test_bundle();
  const auto clerk = CommandOptions{"", "clerk-1", "clerk"};
  const auto minutes = [](int h, int m) { return static_cast<Timestamp>((h * 60 + m) * 60'000); };
  const Timestamp old_due = at(2032, 1, 2, 0) + minutes(17, 30);   // Friday: 5 working days, no 2032 holidays known
  const Timestamp new_due = at(2032, 1, 6, 0) + minutes(17, 30);   // 1 and 2 January are holidays now
  VirtualClock clock(at(2031, 12, 26, 9));
  {
    auto opened = Engine::open({db.string(), &clock});
    if (!opened) FAIL(opened.error().message);
    auto& engine = **opened;
    auto first = engine.deploy_sources({{"calendars.flow", calendar_test_calendars(false)}, {"loop.flow", bundle}}, {"loop.flow"});
    if (!first) FAIL(first.error().message);
    REQUIRE(first->calendars.size() == 1);
    CHECK(first->calendars[0].name == "test_cal");
    CHECK(first->calendars[0].version == 1);
    CHECK(first->calendars[0].new_version);
    REQUIRE(engine.start_case("loop", {{"company_name", Value::of_text("甲公司")}}, "", clerk, "OPEN"));
    REQUIRE(engine.start_case("loop", {{"company_name", Value::of_text("乙公司")}}, "", clerk, "DONE"));
    REQUIRE(engine.execute("DONE", FireEvent{"registration", "accept", {}}, clerk));
    REQUIRE(engine.execute("DONE", FireEvent{"registration", "approve", {}}, {"", "reviewer-1", "reviewer"}));
    auto open = engine.get_case("OPEN");
    REQUIRE(open);
    CHECK(open->items.at(0).due_at == old_due);
    CHECK(open->state.calendar_version == 1);

    // The calendar file gains 2032: the bundle is the same version, the calendar a new one.
    auto second = engine.deploy_sources({{"calendars.flow", calendar_test_calendars(true)}, {"loop.flow", bundle}}, {"loop.flow"});
    if (!second) FAIL(second.error().message);
    REQUIRE(second->bundles.size() == 1);
    CHECK_FALSE(second->bundles[0].new_version);
    REQUIRE(second->calendars.size() == 1);
    CHECK(second->calendars[0].version == 2);
    CHECK(second->calendars[0].new_version);
    CHECK(second->calendars[0].cases_recounted == 1);

    open = engine.get_case("OPEN");
    REQUIRE(open);
    CHECK(open->state.calendar_version == 2);
    CHECK(open->items.at(0).due_at == new_due);
    CHECK(open->calendar_declared_until == dsl::days_from_civil({2032, 12, 31}));
    auto events = engine.events("OPEN");
    REQUIRE(events);
    REQUIRE(events->back().type == "CalendarAdopted");
    const auto& adopted = std::get<CalendarAdopted>(events->back().event.body);
    CHECK(adopted.calendar == "test_cal");
    CHECK(adopted.version == 2);
    REQUIRE(adopted.moves.size() == 1);
    CHECK(adopted.moves[0] == DeadlineMove{0, old_due, new_due});
    // The history says why the deadline moved, in Chinese.
    const auto history = boost::json::serialize(views::history_json(*open->workflow, *events, nullptr, {}));
    INFO(history);
    CHECK(history.find("按「测试日历」第2版重新计算办理期限") != std::string::npos);
    CHECK(history.find("「设立登记」期限由2032-01-02 17:30改为2032-01-06 17:30") != std::string::npos);
    // The overdue timer moved with the deadline.
    auto timers = engine.due_timers(at(2032, 12, 31, 0), 100);
    REQUIRE(timers);
    const auto overdue = std::find_if(timers->begin(), timers->end(), [](const TimerRecord& t) { return t.case_id == "OPEN" && t.timer_id.ends_with(".overdue"); });
    REQUIRE(overdue != timers->end());
    CHECK(overdue->due_at == new_due);

    // A closed case keeps the calendar it was decided on; a new case counts on the new version.
    auto done = engine.events("DONE");
    REQUIRE(done);
    CHECK(std::none_of(done->begin(), done->end(), [](const RecordedEvent& e) { return e.type == "CalendarAdopted"; }));
    REQUIRE(engine.start_case("loop", {{"company_name", Value::of_text("丙公司")}}, "", clerk, "NEW"));
    auto fresh = engine.get_case("NEW");
    REQUIRE(fresh);
    CHECK(fresh->state.calendar_version == 2);
    CHECK(fresh->items.at(0).due_at == new_due);

    // The same calendar again (only a comment added): no version, nothing recounted.
    auto again = engine.deploy_sources({{"calendars.flow", "# 再次部署\n" + calendar_test_calendars(true)}, {"loop.flow", bundle}}, {"loop.flow"});
    if (!again) FAIL(again.error().message);
    REQUIRE(again->calendars.size() == 1);
    CHECK(again->calendars[0].version == 2);
    CHECK_FALSE(again->calendars[0].new_version);
    CHECK(again->calendars[0].cases_recounted == 0);
  }
  // After a restart the versions are loaded from the store: the same deadlines.
  auto reopened = Engine::open({db.string(), &clock});
  if (!reopened) FAIL(reopened.error().message);
  auto open = (*reopened)->get_case("OPEN");
  REQUIRE(open);
  CHECK(open->state.calendar_version == 2);
  CHECK(open->items.at(0).due_at == new_due);
  auto listed = (*reopened)->workflows();
  REQUIRE(listed);
  CHECK(listed->size() == 1);  // bundles only: the calendar versions are not bundles
}

// Two engines on one database (two nodes): the one that did not deploy meets a case already
// moved onto the new calendar version before its next look at the deployments. It must count
// on that version, not quietly on the older calendar it compiled the bundle with.
TEST_CASE("engine: a case on a calendar version another engine deployed counts on that version at once",
          "[engine][calendar][sqlite][nodes]") {
  const auto db = temp_db("calendar-versions-two-engines.db");
  const std::string bundle = calendar_test_bundle();
  const auto clerk = CommandOptions{"", "clerk-1", "clerk"};
  const Timestamp new_due = at(2032, 1, 6, 0) + static_cast<Timestamp>((17 * 60 + 30) * 60'000);  // 1 and 2 January are holidays
  VirtualClock clock(at(2031, 12, 26, 9));
  auto deploying = Engine::open({db.string(), &clock});
  if (!deploying) FAIL(deploying.error().message);
  REQUIRE((*deploying)->deploy_sources({{"calendars.flow", calendar_test_calendars(false)}, {"loop.flow", bundle}}, {"loop.flow"}));
  REQUIRE((*deploying)->start_case("loop", {{"company_name", Value::of_text("甲公司")}}, "", clerk, "OPEN"));
  auto other = Engine::open({db.string(), &clock});  // knows calendar version 1 only
  if (!other) FAIL(other.error().message);
  auto second = (*deploying)->deploy_sources({{"calendars.flow", calendar_test_calendars(true)}, {"loop.flow", bundle}}, {"loop.flow"});
  if (!second) FAIL(second.error().message);
  REQUIRE(second->calendars.size() == 1);
  REQUIRE(second->calendars[0].cases_recounted == 1);

  // The other engine accepts the case: the deadline it stores counts the new holidays.
  REQUIRE((*other)->execute("OPEN", FireEvent{"registration", "accept", {}}, clerk));
  CaseQuery query;
  query.department = "market";
  auto listed = (*other)->worklist(query);
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().item.due_at == new_due);
  auto seen = (*other)->get_case("OPEN");
  REQUIRE(seen);
  CHECK(seen->state.calendar_version == 2);
  CHECK(seen->items.at(0).due_at == new_due);
}

// Issue 14: generated case numbers came from an in-memory counter ("C20261207-2-…" twice after
// a restart) and refused starts used numbers up. Now: the day's sequence, durable, no gaps.
TEST_CASE("engine: case numbers count per day in the store, go on after a restart, and refused starts take none",
          "[engine][sqlite][case-numbers]") {
  const auto db = temp_db("numbers.db");
  VirtualClock clock(at(2026, 12, 7, 9));
  {
    auto opened = Engine::open({db.string(), &clock});
    if (!opened) FAIL(opened.error().message);
    REQUIRE((*opened)->deploy(bundled_workflows()));
    auto first = (*opened)->start_case("newborn", newborn_form(), "", {"a", "clerk-1", "clerk"});
    REQUIRE(first);
    CHECK(first->case_id == "20261207-0001");
    // A refused start (a bad form) and a bundle that does not exist take no number.
    CHECK(!(*opened)->start_case("newborn", {{"mother_name", Value::of_int(3)}}, "", {"b", "clerk-1", "clerk"}));
    CHECK(!(*opened)->start_case("newbron", newborn_form(), "", {"c", "clerk-1", "clerk"}));
    // A retried start is the same case under the same number.
    auto retried = (*opened)->start_case("newborn", newborn_form(), "", {"a", "clerk-1", "clerk"});
    REQUIRE(retried);
    CHECK(retried->duplicate);
    CHECK(retried->case_id == "20261207-0001");
    auto second = (*opened)->start_case("newborn", newborn_form(), "", {"d", "clerk-1", "clerk"});
    REQUIRE(second);
    CHECK(second->case_id == "20261207-0002");
    // A client's own id takes no number.
    REQUIRE((*opened)->start_case("newborn", newborn_form(), "", {"e", "clerk-1", "clerk"}, "intake-7"));
  }
  // After a restart the day goes on where it was; the next day starts at 1.
  auto opened = Engine::open({db.string(), &clock});
  if (!opened) FAIL(opened.error().message);
  auto third = (*opened)->start_case("newborn", newborn_form(), "", {"f", "clerk-1", "clerk"});
  REQUIRE(third);
  CHECK(third->case_id == "20261207-0003");
  clock.set(at(2026, 12, 8, 9));
  auto next_day = (*opened)->start_case("newborn", newborn_form(), "", {"g", "clerk-1", "clerk"});
  REQUIRE(next_day);
  CHECK(next_day->case_id == "20261208-0001");
  // Generated numbers are no personal numbers: logs and answers show them whole.
  CHECK(dsl::mask_personal_numbers(next_day->case_id) == next_day->case_id);
  CHECK(dsl::find_personal_numbers("20261208-0001", dsl::PersonalNumberScan::identifier).empty());
}

TEST_CASE("engine: concurrent case starts get distinct consecutive numbers", "[engine][sqlite][case-numbers]") {
  const auto db = temp_db("numbers-concurrent.db");
  VirtualClock clock(at(2026, 12, 7, 9));
  auto opened = Engine::open({db.string(), &clock});
  if (!opened) FAIL(opened.error().message);
  auto& engine = **opened;
  REQUIRE(engine.deploy(bundled_workflows()));
  constexpr int kThreads = 4, kEach = 10;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int n = 0; n < kEach; ++n) {
        // Every other start of thread 0 is refused: it must leave no hole.
        if (t == 0) (void)engine.start_case("newborn", {{"mother_name", Value::of_int(3)}}, "", {"", "clerk-1", "clerk"});
        auto started = engine.start_case("newborn", newborn_form(), "", {"", "clerk-" + std::to_string(t), "clerk"});
        if (started) ids[t].push_back(started->case_id);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& list : ids) all.insert(list.begin(), list.end());
  REQUIRE(all.size() == kThreads * kEach);
  int expected = 1;
  for (const auto& id : all) {
    char want[32];
    std::snprintf(want, sizeof want, "20261207-%04d", expected++);
    CHECK(id == want);
  }
}

// Issue 14: each case records its channel at the start; it survives a restart.
TEST_CASE("engine: a case's channel is recorded at its start and survives a restart", "[engine][sqlite][channel]") {
  const auto db = temp_db("channel.db");
  VirtualClock clock(at(2026, 12, 7, 9));
  std::string mobile_case, window_case;
  {
    auto opened = Engine::open({db.string(), &clock});
    if (!opened) FAIL(opened.error().message);
    REQUIRE((*opened)->deploy(bundled_workflows()));
    auto mobile = (*opened)->start_case("newborn", newborn_form(), "", {"m", "app", "applicant", "mobile"});
    REQUIRE(mobile);
    mobile_case = mobile->case_id;
    auto window = (*opened)->start_case("newborn", newborn_form(), "", {"w", "clerk-1", "clerk"});
    REQUIRE(window);
    window_case = window->case_id;
    auto fax = (*opened)->start_case("newborn", newborn_form(), "", {"f", "clerk-1", "clerk", "fax"});
    REQUIRE_FALSE(fax);
    CHECK(fax.error().rejection->reason == "unknown_channel");
  }
  auto opened = Engine::open({db.string(), &clock});
  if (!opened) FAIL(opened.error().message);
  auto mobile = (*opened)->get_case(mobile_case);
  REQUIRE(mobile);
  CHECK(mobile->state.channel == "mobile");
  CHECK((*opened)->get_case(window_case)->state.channel == "window");
  auto listed = (*opened)->list_cases(CaseQuery{.channel = "mobile"});
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().case_id == mobile_case);
  CHECK(listed->front().channel == "mobile");
}

// Issue 14: what a clerk reads when a case or bundle is not there is Chinese and says what to do.
TEST_CASE("engine: an unknown case or bundle is answered in Chinese with a guess by title", "[engine][messages]") {
  VirtualClock clock(at(2026, 12, 7, 9));
  auto opened = Engine::open({":memory:", &clock});
  REQUIRE(opened);
  REQUIRE((*opened)->deploy(bundled_workflows()));
  auto nope = (*opened)->get_case("20261207-0099");
  REQUIRE_FALSE(nope);
  CHECK(nope.error().kind == EngineError::Kind::not_found);
  CHECK(nope.error().message == "没有找到办件20261207-0099，请核对办件编号。");
  auto fired = (*opened)->execute("20261207-0099", Withdraw{"x"}, {"", "clerk-1", "clerk"});
  REQUIRE_FALSE(fired);
  CHECK(fired.error().message == "没有找到办件20261207-0099，请核对办件编号。");
  auto typo = (*opened)->start_case("newbron", newborn_form(), "", {"", "clerk-1", "clerk"});
  REQUIRE_FALSE(typo);
  CHECK(typo.error().message == "没有部署“newbron”这一件事，是否指「" + (*opened)->workflow("newborn")->title + "」（newborn）？");
}

TEST_CASE("engine: a withdrawn case's items leave every worklist, in memory and on SQLite", "[engine][sqlite][worklist]") {
  for (const std::string& database : {std::string(":memory:"), temp_db("withdrawn.db").string()}) {
    INFO(database);
    VirtualClock clock(at(2026, 3, 2));
    auto opened = Engine::open({database, &clock});
    REQUIRE(opened);
    auto& engine = **opened;
    REQUIRE(engine.deploy(bundled_workflows()));
    auto started = engine.start_case("newborn", newborn_form(), "11010519491231002X", {"", "clerk-1", "clerk"});
    REQUIRE(started);
    auto open = engine.worklist(CaseQuery{});
    REQUIRE(open);
    REQUIRE(!open->empty());
    REQUIRE(engine.count_worklist(CaseQuery{.limit = 100}).value() == open->size());
    auto withdrawn = engine.execute(started->case_id, Withdraw{"申请人不再办理"}, {"", "clerk-1", "clerk"});
    REQUIRE(withdrawn);
    auto after = engine.worklist(CaseQuery{});
    REQUIRE(after);
    CHECK(after->empty());
    CHECK(engine.count_worklist(CaseQuery{.limit = 100}).value() == 0);
    // The case itself is still found, as withdrawn.
    auto listed = engine.list_cases(CaseQuery{.bundle_id = "newborn"});
    REQUIRE(listed);
    REQUIRE(listed->size() == 1);
    CHECK(listed->front().status == "withdrawn");
  }
}

// The engine sends the store only the item rows and timers that changed (docs/performance.md):
// after every command, whatever it did, the store must hold exactly the rows and timers a
// recomputation from the whole case gives, on both stores.
TEST_CASE("engine: the stored item rows and timers equal those of the whole case after every command", "[engine][effects]") {
  const char* flow = R"(
lifecycle review {
  state received initial; state correcting pauses_clock; state submitted; state approved final; state refused final failed
  on submit: received -> submitted by clerk
  on request_correction: received -> correcting by clerk requires reason
  on corrected: correcting -> received by applicant
  on remind: submitted -> submitted after 1 workday
  on approve: submitted -> approved by reviewer do call(dept.submit)
  on refuse: submitted -> refused by reviewer requires reason
  warn at 50%
  on overdue do escalate(supervisor)
}
department market "市场监管局" adapter market_registry
department police "公安局" adapter seal_system
bundle effects "企业开办" version 1 {
  promise 5 workdays; lifecycle review
  form { company_name "企业名称": text required }
  item registration "设立登记" by market { limit 2 workdays }
  item seal "刻章" by police after registration { limit 1 workday }
  item invoice "发票" by police after registration { limit 1 workday }
  item later "后续" by market after seal { limit 1 workday }
}
)";
  for (const bool durable : {false, true}) {
    INFO((durable ? "SQLite" : "memory"));
    VirtualClock clock(at(2026, 3, 2, 9));
    EngineOptions options{durable ? temp_db("effects.db").string() : ":memory:", &clock};
    auto opened_store = open_store(options);
    REQUIRE(opened_store);
    const std::shared_ptr<Store> store = *opened_store;
    options.store = store;
    auto opened = Engine::open(options);
    REQUIRE(opened);
    auto& engine = *opened;
    REQUIRE(engine->deploy_sources({{"effects.flow", flow}}, {"effects.flow"}));
    const auto wf = engine->workflow("effects");
    const auto& calendar = engine->calendar_of(*wf);
    auto started = engine->start_case("effects", {{"company_name", Value::of_text("甲公司")}}, "", {"s", "clerk-1", "clerk"});
    REQUIRE(started);
    const std::string id = started->case_id;
    const auto check = [&](const std::string& step) {
      INFO(step);
      auto view = engine->get_case(id);
      REQUIRE(view);
      // Timers: every one the case needs, with its due time, and no other.
      std::set<std::pair<std::string, Timestamp>> wanted, stored;
      for (const auto& t : timers_for(*wf, calendar, view->state)) wanted.emplace(t.timer_id, t.due_at);
      auto due = store->due_timers(std::numeric_limits<Timestamp>::max(), 1000);
      REQUIRE(due);
      for (const auto& t : *due) {
        if (t.case_id == id) stored.emplace(t.timer_id, t.due_at);
      }
      CHECK(stored == wanted);
      // Rows: the worklist shows the open ones, as recomputed.
      std::vector<std::tuple<std::string, std::string, Timestamp, std::string, bool>> open, listed;
      for (const auto& r : item_rows(*wf, calendar, view->state)) {
        if (!r.final) open.emplace_back(r.item_id, r.state, r.due_at, r.light, r.urged);
      }
      auto worklist = store->worklist(CaseQuery{});
      REQUIRE(worklist);
      for (const auto& e : *worklist) {
        if (e.case_id == id) listed.emplace_back(e.item.item_id, e.item.state, e.item.due_at, e.item.light, e.item.urged);
      }
      std::sort(open.begin(), open.end());
      std::sort(listed.begin(), listed.end());
      CHECK(listed == open);
    };
    const auto run = [&](const std::string& step, CommandBody body, const std::string& role) {
      auto done = engine->execute(id, std::move(body), {"", "someone", role});
      if (!done) FAIL(step + ": " + done.error().message);
      check(step);
    };
    check("started");
    run("correction asked", FireEvent{"registration", "request_correction", {{"reason", "补正"}}}, "clerk");
    clock.advance(3 * 3600'000);
    run("corrected", FireEvent{"registration", "corrected", {}}, "applicant");
    run("submitted", FireEvent{"registration", "submit", {}}, "clerk");
    run("paused", PauseClock{"registration", "现场核查"}, "clerk");
    clock.advance(24 * 3600'000);
    run("resumed", ResumeClock{"registration"}, "clerk");
    // Warnings, an overdue item and the timed reminder fire and move the timers on.
    clock.advance(3 * 24 * 3600'000);
    REQUIRE(engine->fire_due_timers());
    check("timers fired");
    run("urged", UrgeItem{"registration", "请尽快办理"}, "supervisor");
    run("approved", FireEvent{"registration", "approve", {}}, "reviewer");
    run("seal submitted", FireEvent{"seal", "submit", {}}, "clerk");
    run("invoice submitted", FireEvent{"invoice", "submit", {}}, "clerk");
    run("seal refused", FireEvent{"seal", "refuse", {{"reason", "不符合"}}}, "reviewer");
    run("invoice approved", FireEvent{"invoice", "approve", {}}, "reviewer");
    run("delivered", Deliver{"window"}, "clerk");
  }
}
