// Retention of personal data (docs/runtime.md, Retention): a closed case's personal values
// are replaced once its bundle's `retain` period has passed, recorded as an event, with the
// event chain intact; before that nothing changes, and an open case is never erased.
#include <onevisit/adapters/config.hpp>
#include <onevisit/engine/engine.hpp>

#include "engine_support.hpp"
#include "cli/case_commands.hpp"
#include "store/codec.hpp"  // white-box: compare whole case states

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

using namespace onevisit;
using namespace onevisit::engine;
using dsl::Value;
namespace fs = std::filesystem;

using testing::at;

namespace {

constexpr const char* kRetainedFlow = R"(
lifecycle standard {
  state submitted initial; state accepted; state approved final
  on accept: submitted -> accepted by clerk
  on approve: accepted -> approved by reviewer do call(dept.submit)
}
department market "市场监管局" adapter market_registry
item registration "设立登记" by market { limit 5 workdays; sends applicant_name, applicant_phone }
bundle retained "留存期限" version 1 {
  promise 5 workdays; lifecycle standard
  retain 3 years personal applicant_name, notes
  form {
    applicant_name "姓名": text required
    applicant_id "身份证号码": idcard required
    applicant_phone "手机号码": phone required
    notes "备注": text
    company_name "企业名称": text required
  }
  use registration
}
)";

struct Person {
  std::string name, id, phone;
};
const Person kClosed{"张三丰", "11010519491231002X", "13812345678"};
const Person kOpen{"李四", "440524188001010014", "13900001111"};

std::map<std::string, Value> form_of(const Person& p) {
  return {{"applicant_name", Value::of_text(p.name)},
          {"applicant_id", Value::of_text(p.id)},
          {"applicant_phone", Value::of_text(p.phone)},
          {"notes", Value::of_text("申请人" + p.name + "电话" + p.phone)},
          {"company_name", Value::of_text("某某科技有限公司")}};
}

bool holds(const std::string& haystack, const Person& p) {
  return haystack.find(p.id) != std::string::npos || haystack.find(p.phone) != std::string::npos ||
         haystack.find(p.name) != std::string::npos;
}

// Everything the store holds of a case, read through its interface: events, snapshot, outbox.
std::string stored_text(Store& store, const std::string& case_id) {
  std::string all;
  auto events = store.load_events(case_id);
  REQUIRE(events);
  for (const auto& e : *events) all += e.payload;
  auto loaded = store.load_case(case_id);
  REQUIRE(loaded);
  REQUIRE(*loaded);
  all += (*loaded)->snapshot + (*loaded)->summary.applicant;
  auto calls = store.list_outbox(case_id, "", 100);
  REQUIRE(calls);
  for (const auto& o : *calls) all += o.payload;
  return all;
}

}  // namespace

TEST_CASE("retention: a closed case's personal data is erased once its retention ends, never before, never an open case",
          "[retention][sqlite]") {
  testing::ScratchDir dir("onevisit-retention");
  const auto db = dir.path() / "cases.db";
  VirtualClock clock(at(2026, 3, 2));
  CommandOptions clerk{"", "clerk-1", "clerk"}, reviewer{"", "reviewer-1", "reviewer"};
  const CommandOptions retention{"", "system:retention", "system"};
  std::string closed_state;
  {
    std::shared_ptr<Store> store;
    auto engine = testing::open_engine({db.string(), &clock}, &store);
    REQUIRE(engine->deploy_sources({{"retained.flow", kRetainedFlow}}, {"retained.flow"}));
    auto closed = engine->start_case("retained", form_of(kClosed), kClosed.id, clerk, "closed-1");
    if (!closed) FAIL(closed.error().message);
    REQUIRE(engine->execute("closed-1", FireEvent{"registration", "accept", {}}, clerk));
    REQUIRE(engine->execute("closed-1", FireEvent{"registration", "approve", {}}, reviewer));
    auto open = engine->start_case("retained", form_of(kOpen), kOpen.id, clerk, "open-1");
    if (!open) FAIL(open.error().message);
    auto view = engine->get_case("closed-1");
    REQUIRE(view);
    REQUIRE(view->state.status == CaseStatus::completed);
    REQUIRE(holds(stored_text(*store, "closed-1"), kClosed));
    auto calls = (*store).list_outbox("closed-1", "", 10);
    REQUIRE(calls);
    REQUIRE(!calls->empty());  // the call that sends the name and phone

    // The day before the retention ends (three years after the case's last change): nothing.
    clock.set(at(2029, 3, 1));
    auto early = engine->apply_retention(retention);
    REQUIRE(early);
    CHECK(early->empty());
    auto refused = engine->execute("closed-1", ErasePersonalData{}, retention);
    REQUIRE(!refused);
    CHECK(refused.error().kind == EngineError::Kind::rejected);
    CHECK(holds(stored_text(*store, "closed-1"), kClosed));

    // On the day: erased, and only the closed case.
    clock.set(at(2029, 3, 2, 11));
    auto erased = engine->apply_retention(retention);
    REQUIRE(erased);
    CHECK(*erased == std::vector<std::string>{"closed-1"});
    CHECK(!holds(stored_text(*store, "closed-1"), kClosed));
    CHECK(holds(stored_text(*store, "open-1"), kOpen));
    auto opened_case = engine->execute("open-1", ErasePersonalData{}, retention);
    REQUIRE(!opened_case);
    CHECK(opened_case.error().rejection->detail.find("an open case is never erased") != std::string::npos);

    // The history says who, when and which policy; sequence and links stay intact.
    auto history = engine->history("closed-1");
    REQUIRE(history);
    REQUIRE(history->back().type == "PersonalDataErased");
    CHECK(history->back().at == at(2029, 3, 2, 11));
    CHECK(history->back().payload.find("\"actor\":\"system:retention\"") != std::string::npos);
    CHECK(history->back().payload.find("\"policy\":\"retain 3 years\"") != std::string::npos);
    for (std::size_t i = 0; i < history->size(); ++i) CHECK((*history)[i].sequence == i + 1);
    // The values read as erased; what is not personal stays.
    view = engine->get_case("closed-1");
    REQUIRE(view);
    closed_state = codec::encode_case(view->state);
    CHECK(closed_state.find("〔已删除〕") != std::string::npos);
    CHECK(closed_state.find("某某科技有限公司") != std::string::npos);
    CHECK(view->state.applicant_masked.empty());

    // A second run finds nothing left to erase.
    clock.set(at(2035, 1, 1));
    auto again = engine->apply_retention(retention);
    REQUIRE(again);
    CHECK(again->empty());
  }
  // The files: nothing of the erased case, the open one still there (the WAL is checkpointed
  // into the database on close).
  const auto bytes = testing::database_bytes(db);
  CHECK(!holds(bytes, kClosed));
  CHECK(holds(bytes, kOpen));
  // Restart and replay equals the live state, from the snapshot and from the events alone.
  std::shared_ptr<Store> store;
  auto engine = testing::open_engine({db.string(), &clock}, &store);
  auto view = engine->get_case("closed-1");
  REQUIRE(view);
  CHECK(codec::encode_case(view->state) == closed_state);
  auto events = (*store).load_events("closed-1");
  REQUIRE(events);
  Case replayed;
  replayed.id = "closed-1";
  for (const auto& e : *events) {
    auto event = codec::decode_event(e.type, e.payload, e.recorded_at);
    REQUIRE(event);
    apply(*view->workflow, replayed, *event);
  }
  CHECK(codec::encode_case(replayed) == closed_state);
}

TEST_CASE("retention: a withdrawn case counts from its withdrawal, a bundle without retain is never erased", "[retention]") {
  VirtualClock clock(at(2026, 1, 31));
  auto opened = Engine::open({":memory:", &clock});
  REQUIRE(opened);
  auto& engine = **opened;
  const std::string monthly = testing::replace(kRetainedFlow, "retain 3 years", "retain 1 month");
  const std::string kept = testing::replace(testing::replace(kRetainedFlow, "  retain 3 years personal applicant_name, notes\n", ""),
                                            "bundle retained \"留存期限\"", "bundle kept \"不设期限\"");
  REQUIRE(engine.deploy_sources({{"monthly.flow", monthly}}, {"monthly.flow"}));
  const CommandOptions clerk{"", "clerk-1", "clerk"}, retention{"", "system:retention", "system"};
  REQUIRE(engine.start_case("retained", form_of(kClosed), kClosed.id, clerk, "w-1"));
  REQUIRE(engine.execute("w-1", Withdraw{"申请人撤回"}, clerk));
  // 31 January + 1 month is 28 February (no 31st).
  const auto view = engine.get_case("w-1");
  REQUIRE(view);
  CHECK(retention_ends(*view->workflow, view->state) == at(2026, 2, 28));
  clock.set(at(2026, 2, 28) - 1);
  CHECK(engine.apply_retention(retention)->empty());
  clock.set(at(2026, 2, 28));
  CHECK(*engine.apply_retention(retention) == std::vector<std::string>{"w-1"});

  REQUIRE(engine.deploy_sources({{"kept.flow", kept}}, {"kept.flow"}));
  REQUIRE(engine.start_case("kept", form_of(kClosed), kClosed.id, clerk, "k-1"));
  REQUIRE(engine.execute("k-1", Withdraw{"申请人撤回"}, clerk));
  clock.set(at(2126, 1, 1));
  CHECK(engine.apply_retention(retention)->empty());
  auto refused = engine.execute("k-1", ErasePersonalData{}, retention);
  REQUIRE(!refused);
  CHECK(refused.error().rejection->detail.find("sets none") != std::string::npos);
}

TEST_CASE("retention: the commands — store new-key, --config for the keys, store reseal, retention", "[retention][cli]") {
  testing::ScratchDir dir("onevisit-retention-cli");
  const auto db = dir.path() / "cases.db";
  const auto config = dir.file("deploy.toml");
  std::ostringstream key, err;
  REQUIRE(cli::run_store({"new-key", "", ""}, key, err) == 0);
  std::ofstream(config) << "[storage]\nkey = \"k1\"\n[storage.keys]\nk1 = \"" << key.str().substr(0, key.str().size() - 1)
                        << "\"\n";
  auto keys = adapters::load_storage_keys(config);
  REQUIRE(keys);
  REQUIRE(*keys);
  // A case closed in 2020, long past its bundle's three years (the commands run on the system clock).
  VirtualClock clock(at(2020, 3, 2));
  {
    EngineOptions options{db.string(), &clock};
    options.keys = *keys;
    auto opened = Engine::open(options);
    REQUIRE(opened);
    REQUIRE((*opened)->deploy_sources({{"retained.flow", kRetainedFlow}}, {"retained.flow"}));
    REQUIRE((*opened)->start_case("retained", form_of(kClosed), kClosed.id, {"", "clerk-1", "clerk"}, "c-1"));
    REQUIRE((*opened)->execute("c-1", Withdraw{"撤回"}, {"", "clerk-1", "clerk"}));
  }
  cli::CaseOptions show;
  show.database = db.string();
  show.action = "show";
  show.case_id = "c-1";
  std::ostringstream shown, refused;
  CHECK(cli::run_case(show, shown, refused) == 2);
  CHECK_THAT(refused.str(), Catch::Contains("encrypted under key \"k1\", and no keys were given"));
  show.config = config;
  CHECK(cli::run_case(show, shown, refused) == 0);

  std::ostringstream resealed;
  REQUIRE(cli::run_store({"reseal", db.string(), config}, resealed, err) == 0);
  CHECK(resealed.str() == "sealed 0 values under the current key\n");  // all of it is under k1 already
  std::ostringstream erased;
  REQUIRE(cli::run_retention({db.string(), config, "admin"}, erased, err) == 0);
  CHECK(erased.str() == "erased the personal data of 1 closed case: c-1\n");
  EngineOptions options{db.string(), &clock};
  options.keys = *keys;
  auto opened = Engine::open(options);
  REQUIRE(opened);
  auto history = (*opened)->history("c-1");
  REQUIRE(history);
  CHECK(history->back().type == "PersonalDataErased");
  CHECK(history->back().payload.find("\"actor\":\"admin\"") != std::string::npos);
}
