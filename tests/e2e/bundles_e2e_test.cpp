// End to end, for every bundle: a case from intake to rating through the real engine on a
// virtual clock, with the department systems played by the simulator (HTTP and exchange
// folders), e-licenses from the library, notices through the SMS gateway.
//
//   happy path:   intake on Monday 2026-09-28, deadlines across the National Day holiday,
//                 every call taken effect once, each department received exactly what its
//                 item sends, issued documents come back as materials, delivery, rating.
//   correction:   one correction round stops the item's clock; the deadline moves by the
//                 working time it stood still; a bad rating opens a rectification due in
//                 15 working days.
//   rejection:    a reviewer refuses an item; no department call goes out for it, the items
//                 after it are cancelled, the applicant is told by text message.
#include "e2e/department_world.hpp"

#include <onevisit/engine/report.hpp>
#include <onevisit/views/case_view.hpp>
#include <onevisit/views/history_view.hpp>

#include <boost/json.hpp>

#include <algorithm>

using namespace onevisit;
using namespace onevisit::engine;
using onevisit::testing::date_at;
using onevisit::testing::DepartmentWorld;
using onevisit::testing::kMinuteMs;

namespace {

const Timestamp kIntake = date_at(2026, 9, 28, 9, 30);  // Monday; National Day is Oct 1–7
const std::int64_t kNationalDayEnd = date_at(2026, 10, 7) / kMinuteMs / kMinutesPerDay;

std::string flow_of(const std::string& bundle) { return "workflows/bundles/" + bundle + ".flow"; }

const ItemRow* row_of(const CaseView& v, const std::string& item) {
  for (const auto& r : v.items) {
    if (r.item_id == item) return &r;
  }
  return nullptr;
}

// What each department received is what its item `sends`: those fields (when given) and
// those materials, nothing else.
void check_payloads(DepartmentWorld& w, const std::string& id) {
  const auto payloads = w.simulator().payloads();
  auto calls = w.engine().calls(id, "", 100'000);
  REQUIRE(calls);
  const auto v = w.view(id);
  std::size_t checked = 0;
  for (const auto& call : *calls) {
    if (call.adapter == "notify") continue;
    const auto it = payloads.find(call.idempotency_key);
    REQUIRE(it != payloads.end());
    boost::system::error_code ec;
    const auto payload = boost::json::parse(it->second, ec);
    REQUIRE(!ec);
    const auto& o = payload.as_object();
    const auto& item = w.workflow().items[w.item_index(std::string(o.at("item").as_string()))];
    std::set<std::string> expected_fields, expected_materials, got_fields, got_materials;
    for (const auto& sent : item.sends) {
      if (sent.kind == SentValue::Kind::field) {
        if (!v.state.slots[w.workflow().fields[sent.index].slot].is_null()) expected_fields.insert(sent.name);
      } else {
        expected_materials.insert(sent.name);
      }
    }
    for (const auto& [k, value] : o.at("fields").as_object()) got_fields.insert(std::string(k));
    for (const auto& [k, value] : o.at("materials").as_object()) {
      got_materials.insert(std::string(k));
      // A material the item needs reaches the department verified, with its content hash.
      const auto& m = value.as_object();
      if (!m.at("sha256").as_string().empty()) CHECK(m.at("sha256").as_string().size() == 64);
    }
    INFO("call " << call.idempotency_key);
    CHECK(got_fields == expected_fields);
    CHECK(got_materials == expected_materials);
    ++checked;
  }
  CHECK(checked > 0);
}

void happy_path(const std::string& bundle) {
  DepartmentWorld w(flow_of(bundle), bundle, kIntake);
  const std::string id = w.start_case(11);
  const auto& wf = w.workflow();

  // E-licenses came from the library: the applicant uploads none of them.
  {
    const auto v = w.view(id);
    for (MaterialIndex m = 0; m < wf.materials.size(); ++m) {
      if (wf.materials[m].source != MaterialSource::elicense || !material_applies(wf, v.state, m)) continue;
      INFO("e-license " << wf.materials[m].id);
      CHECK(v.state.materials[m].status == MaterialStatus::verified);
      CHECK(v.state.materials[m].note == "e-license");
    }
  }

  // A few steps in, the running deadlines skip the National Day holiday.
  for (int step = 0; step < 3; ++step) {
    w.advance_items(id);
    w.settle();
  }
  {
    const auto v = w.view(id);
    for (ItemIndex i = 0; i < wf.items.size(); ++i) {
      const auto* row = row_of(v, wf.items[i].id);
      REQUIRE(row);
      if (!row->due_at) continue;
      const std::int64_t due_day = row->due_at / kMinuteMs / kMinutesPerDay;
      INFO("item " << wf.items[i].id << " due day " << due_day);
      CHECK(w.calendar().is_working_day(due_day));
      const auto& limit = wf.items[i].promised;
      // The limit counts from acceptance (the clock's start), not from activation.
      const std::int64_t started_day = v.state.items[i].clock_started_at / kMinuteMs / kMinutesPerDay;
      if (limit && limit->unit == dsl::TimeUnit::workday && limit->amount >= dsl::Decimal::from_int(3) &&
          started_day < kNationalDayEnd - 7) {
        CHECK(due_day > kNationalDayEnd);
      }
    }
  }

  w.run_to_completion(id);
  auto v = w.view(id);
  REQUIRE(v.state.status == CaseStatus::completed);
  w.check_calls_took_effect_once(id);
  check_payloads(w, id);

  // Documents issued by the departments are the case's materials now, with their bytes.
  std::size_t issued = 0;
  for (MaterialIndex m = 0; m < wf.materials.size(); ++m) {
    const auto& material = wf.materials[m];
    if (!material.producer) continue;
    const auto& producer = v.state.items[*material.producer];
    if (producer.phase != ItemPhase::done) continue;
    INFO("issued document " << material.id);
    CHECK(v.state.materials[m].status == MaterialStatus::verified);
    const auto& system = wf.departments[wf.items[*material.producer].department].adapter;
    if (system.empty()) continue;
    ++issued;
    CHECK(v.state.materials[m].note == "issued by the department's system");
    REQUIRE(v.state.materials[m].content_hash.size() == 64);
    auto content = w.engine().contents().get(v.state.materials[m].content_hash);
    REQUIRE(content);
    REQUIRE(*content);
    CHECK((*content)->find("签发") != std::string::npos);
  }

  UNSCOPED_INFO(bundle << ": " << issued << " documents issued by departments");
  REQUIRE(w.engine().execute(id, Deliver{"window"}, {.command_id = "", .actor = "window-1", .role = "clerk"}));
  REQUIRE(w.engine().execute(id, Rate{5, "一次办好"}, {.command_id = "", .actor = "applicant", .role = "applicant"}));
  CHECK(w.view(id).state.status == CaseStatus::rated);
  CHECK(!w.view(id).state.rectification_due);
}

void correction_round(const std::string& bundle) {
  DepartmentWorld w(flow_of(bundle), bundle, kIntake);
  const std::string id = w.start_case(12);
  const auto& wf = w.workflow();
  // The first active item with a running deadline that can ask for a correction does so
  // (immediate items are done on the spot: the case moves on until one is there).
  CaseView v = w.view(id);
  std::optional<ItemIndex> corrected;
  for (int round = 0; round < 100 && !corrected; ++round) {
    while (w.supply_materials(id)) {
    }
    w.settle();
    v = w.view(id);
    for (ItemIndex i = 0; i < wf.items.size() && !corrected; ++i) {
      if (v.state.items[i].phase != ItemPhase::active || !row_of(v, wf.items[i].id)->due_at) continue;
      const auto& lc = wf.lifecycles[wf.items[i].lifecycle];
      if (correction_from(lc, v.state.items[i].state)) corrected = i;
    }
    if (!corrected) REQUIRE(w.advance_items(id));
  }
  REQUIRE(corrected);
  const std::string item = wf.items[*corrected].id;
  const auto& lc = wf.lifecycles[wf.items[*corrected].lifecycle];
  const Timestamp due_before = row_of(v, item)->due_at;
  REQUIRE(due_before > 0);
  const auto texts_before = w.simulator().text_messages();
  w.fire(id, *corrected, *correction_from(lc, v.state.items[*corrected].state), {{"reason", "营业执照副本不清晰"}});
  const Timestamp paused_at = w.clock().now();
  w.settle();
  v = w.view(id);
  CHECK(v.state.items[*corrected].paused_since == paused_at);
  CHECK(row_of(v, item)->due_at == 0);                      // no running deadline while correcting
  CHECK(w.simulator().text_messages() == texts_before + 1);  // 《一次性补正告知书》 by text message

  // The applicant answers after three calendar days (across the holiday's eve).
  w.clock().advance(3 * 24 * 60 * kMinuteMs);
  const auto back = path_to_success(lc, v.state.items[*corrected].state);
  REQUIRE(!back.empty());
  w.fire(id, *corrected, back.front());
  const Timestamp resumed_at = w.clock().now();
  v = w.view(id);
  const Timestamp due_after = row_of(v, item)->due_at;
  const Minutes stood_still = w.calendar().working_minutes_between(paused_at / kMinuteMs, resumed_at / kMinuteMs);
  CHECK(stood_still > 0);
  CHECK(due_after > due_before);
  CHECK(w.calendar().working_minutes_between(due_before / kMinuteMs, due_after / kMinuteMs) == stood_still);
  CHECK(v.state.items[*corrected].corrections == 1);

  w.run_to_completion(id);
  REQUIRE(w.view(id).state.status == CaseStatus::completed);
  w.check_calls_took_effect_once(id);

  // A bad rating opens a rectification, due 15 working days later.
  REQUIRE(w.engine().execute(id, Deliver{"mail"}, {.command_id = "", .actor = "window-1", .role = "clerk"}));
  const Timestamp rated_at = w.clock().now();
  REQUIRE(w.engine().execute(id, Rate{2, "补正后等待时间较长"}, {.command_id = "", .actor = "applicant", .role = "applicant"}));
  v = w.view(id);
  REQUIRE(v.state.rectification_due);
  const std::int64_t due_day = *v.state.rectification_due / kMinuteMs / kMinutesPerDay;
  CHECK(w.calendar().is_working_day(due_day));
  const std::int64_t rated_day = rated_at / kMinuteMs / kMinutesPerDay;
  std::int64_t working_days = 0;
  for (std::int64_t d = rated_day + 1; d <= due_day; ++d) working_days += w.calendar().is_working_day(d);
  CHECK(working_days == 15);
}

void rejection(const std::string& bundle) {
  DepartmentWorld w(flow_of(bundle), bundle, kIntake);
  const std::string id = w.start_case(13);
  const auto& wf = w.workflow();
  // Drive until some active item can be refused for good by its reviewer.
  std::optional<ItemIndex> refused;
  for (int round = 0; round < 100 && !refused; ++round) {
    w.settle();
    const auto v = w.view(id);
    for (ItemIndex i = 0; i < wf.items.size() && !refused; ++i) {
      if (v.state.items[i].phase != ItemPhase::active) continue;
      const auto& lc = wf.lifecycles[wf.items[i].lifecycle];
      for (const auto t : lc.transitions_from(v.state.items[i].state)) {
        const auto& tr = lc.transitions[t];
        if (tr.event == "reject" && lc.states[tr.target].failed && !refused) {
          w.fire(id, i, t, {{"reason", "经审查不符合法定条件"}});
          refused = i;
        }
      }
    }
    if (!refused) REQUIRE(w.advance_items(id));
  }
  REQUIRE(refused);
  const auto texts_before = w.simulator().text_messages();
  w.settle();
  CHECK(w.simulator().text_messages() == texts_before + 1);  // 《不予许可决定书》
  w.run_to_completion(id);
  const auto v = w.view(id);
  CHECK(v.state.status == CaseStatus::completed);
  const auto& item = v.state.items[*refused];
  CHECK(item.phase == ItemPhase::done);
  CHECK(wf.lifecycles[wf.items[*refused].lifecycle].states[item.state].failed);
  // Nothing went to the department for the refused item (a joint item's refusing part is told
  // to that department's system: countersign); what came after it was cancelled.
  auto calls = w.engine().calls(id, "", 100'000);
  REQUIRE(calls);
  for (const auto& call : *calls) {
    if (call.adapter != "notify" && call.operation != "countersign") CHECK(call.idempotency_key.find("/" + wf.items[*refused].id + "/") == std::string::npos);
  }
  for (const auto dependent : wf.items[*refused].dependents) {
    if (v.state.items[dependent].phase == ItemPhase::not_applicable) continue;
    INFO("dependent " << wf.items[dependent].id);
    CHECK(v.state.items[dependent].phase == ItemPhase::cancelled);
  }
  w.check_calls_took_effect_once(id);
}

const std::vector<std::string> kBundles = {"enterprise_startup", "restaurant_opening", "newborn",          "employee_hiring",
                                           "retirement",         "disability_services", "veteran_services", "bankruptcy_check",
                                           "utility_connection", "company_change",     "transport_company", "home_transfer",
                                           "posthumous",         "road_works"};

}  // namespace

TEST_CASE("e2e: every bundle in workflows/bundles has its end-to-end tests", "[e2e]") {
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(ONEVISIT_SOURCE_DIR) + "/workflows/bundles")) {
    if (entry.path().extension() == ".flow") found.push_back(entry.path().stem().string());
  }
  std::sort(found.begin(), found.end());
  auto listed = kBundles;
  std::sort(listed.begin(), listed.end());
  CHECK(found == listed);
}

#define ONEVISIT_E2E(bundle)                                                                                 \
  TEST_CASE("e2e " #bundle ": happy path across National Day", "[e2e]") { happy_path(#bundle); }            \
  TEST_CASE("e2e " #bundle ": one correction round stops the clock", "[e2e]") { correction_round(#bundle); } \
  TEST_CASE("e2e " #bundle ": a rejection", "[e2e]") { rejection(#bundle); }

ONEVISIT_E2E(enterprise_startup)
ONEVISIT_E2E(restaurant_opening)
ONEVISIT_E2E(newborn)
ONEVISIT_E2E(employee_hiring)
ONEVISIT_E2E(retirement)
ONEVISIT_E2E(disability_services)
ONEVISIT_E2E(veteran_services)
ONEVISIT_E2E(bankruptcy_check)
ONEVISIT_E2E(utility_connection)
ONEVISIT_E2E(company_change)
ONEVISIT_E2E(transport_company)
ONEVISIT_E2E(home_transfer)
ONEVISIT_E2E(posthumous)
ONEVISIT_E2E(road_works)

// Issue 13 on a real bundle: the restaurant's food licence and tobacco licence, from Monday
// 2 November 2026 (no holiday near). The clock starts at acceptance (the food licence,
// accepted on Wednesday) or, deemed accepted after 5 working days, from the receipt (the
// tobacco licence); the food licence's 现场核查 (pauses_clock, max 5 workdays) stops its clock,
// warns, escalates past its max and is no correction; the tobacco licence's 实地核查 runs
// inside its limit.
TEST_CASE("e2e restaurant_opening: the clock starts at acceptance, and special procedures run", "[e2e][special]") {
  DepartmentWorld w(flow_of("restaurant_opening"), "restaurant_opening", date_at(2026, 11, 2, 9, 30),
                    {}, {});
  const std::string id = w.start_case(31, {{"sells_tobacco", dsl::Value::of_bool(true)}});
  const auto& wf = w.workflow();
  const ItemIndex food = w.item_index("food_license");
  const ItemIndex tobacco = w.item_index("tobacco_license");
  // The licence check is done on the spot; the licences then wait for acceptance.
  for (int round = 0; round < 20 && w.view(id).state.items[food].phase != ItemPhase::active; ++round) {
    REQUIRE(w.advance_items(id));
    w.settle();
  }
  REQUIRE(w.view(id).state.items[food].phase == ItemPhase::active);
  REQUIRE(w.view(id).state.items[tobacco].phase == ItemPhase::active);
  while (w.supply_materials(id)) {
  }
  auto v = w.view(id);
  CHECK(row_of(v, "food_license")->due_at == 0);  // not accepted yet: no deadline
  CHECK(v.state.items[food].clock_started_at == 0);

  // Accepted on Wednesday 4 November: 5 working days from Thursday 5 (5, 6, 9, 10, 11).
  // Counted from the receipt on Monday it would be Monday 9 November: two days earlier.
  w.clock().set(date_at(2026, 11, 4, 10));
  REQUIRE(w.engine().execute(id, FireEvent{"food_license", "accept", {}}, {.command_id = "", .actor = "window-1", .role = "clerk"}));
  v = w.view(id);
  CHECK(row_of(v, "food_license")->due_at == date_at(2026, 11, 11, 17, 30));

  // Nobody decides on the tobacco licence: on Monday 9 November (5 working days after the
  // receipt on Monday 2, 09:30) it is deemed accepted, and by law accepted on the day of
  // receipt: 5 working days from Tuesday 3 November, due Monday 9 November.
  w.clock().set(date_at(2026, 11, 9, 10));
  REQUIRE(w.engine().fire_due_timers());
  w.settle();
  v = w.view(id);
  CHECK(wf.lifecycles[wf.items[tobacco].lifecycle].states[v.state.items[tobacco].state].id == "accepted");
  CHECK(v.state.items[tobacco].clock_started_at == date_at(2026, 11, 2, 9, 30));
  CHECK(row_of(v, "tobacco_license")->due_at == date_at(2026, 11, 9, 17, 30));

  // The market's reviewer starts 现场核查 on the food licence; the tobacco office 实地核查.
  const std::string market = wf.departments[wf.items[food].department].id;
  const std::string tobacco_office = wf.departments[wf.items[tobacco].department].id;
  auto refused = w.engine().execute(id, StartSpecialProcedure{"food_license", "site_inspection", "核实经营场所布局"},
                                    {.command_id = "", .actor = "tobacco-1", .role = "reviewer", .department = tobacco_office});
  REQUIRE_FALSE(refused);  // another department's item
  REQUIRE(w.engine().execute(id, StartSpecialProcedure{"food_license", "site_inspection", "核实经营场所布局"},
                             {.command_id = "", .actor = "market-1", .role = "reviewer", .department = market}));
  REQUIRE(w.engine().execute(id, StartSpecialProcedure{"tobacco_license", "site_inspection", "核实经营场所"},
                             {.command_id = "", .actor = "tobacco-1", .role = "reviewer", .department = tobacco_office}));
  v = w.view(id);
  CHECK(row_of(v, "food_license")->due_at == 0);                                 // pauses_clock: stands still
  CHECK(row_of(v, "tobacco_license")->due_at == date_at(2026, 11, 9, 17, 30));  // inside the limit

  // Past the food inspection's max (5 working days from Tuesday 10: Monday 16 November
  // 17:30) the scheduler warns and escalates to the supervisor.
  w.clock().set(date_at(2026, 11, 17, 10));
  REQUIRE(w.engine().fire_due_timers());
  w.settle();
  v = w.view(id);
  REQUIRE(v.state.items[food].running_special);
  CHECK(v.state.items[food].specials.at(0).light == Light::red);
  auto calls = w.engine().calls(id, "", 100'000);
  REQUIRE(calls);
  bool escalated = false, warned = false;
  for (const auto& call : *calls) {
    if (call.idempotency_key.find("/food_license/") == std::string::npos) continue;
    escalated = escalated || call.operation == "escalate";
    warned = warned || (call.operation == "notify" && call.payload.find("现场核查") != std::string::npos);
  }
  CHECK(escalated);
  CHECK(warned);

  // Ended on Tuesday 17 November 10:00: the clock stood still 360 + 4 × 420 + 420 + 60 = 2520
  // working minutes (6 days): due Thursday 19 November instead of Wednesday 11.
  REQUIRE(w.engine().execute(id, EndSpecialProcedure{"food_license", "site_inspection", "布局与申报一致"},
                             {.command_id = "", .actor = "market-1", .role = "reviewer", .department = market}));
  v = w.view(id);
  CHECK(row_of(v, "food_license")->due_at == date_at(2026, 11, 19, 17, 30));
  CHECK(v.state.items[food].corrections == 0);  // not a correction
  const auto food_run = std::find_if(v.specials.begin(), v.specials.end(), [&](const SpecialProcedureView& s) { return s.item == food; });
  REQUIRE(food_run != v.specials.end());
  CHECK(food_run->minutes_used == 2520);
  CHECK(food_run->workdays_used == dsl::Decimal::from_int(6));

  // The report counts them apart: two special procedures, both past their max by Tuesday 17
  // (the tobacco 实地核查 also had 5 working days from Tuesday 10), no correction.
  auto report = service_report(w.engine(), {});
  REQUIRE(report);
  CHECK(report->overall.special_procedures == 2);
  CHECK(report->overall.special_procedures_overdue == 2);
  CHECK(report->overall.corrections == 0);
  CHECK(report->overall.special_procedure_workdays_paused == Approx(6.0));

  w.run_to_completion(id);
  CHECK(w.view(id).state.status == CaseStatus::completed);
  w.check_calls_took_effect_once(id);
}

// 涉路施工一件事 (issue 13): from Monday 2 November 2026 (no holiday near). 城管 and 市政 decide
// the excavation permit jointly (both must agree), 交警 reviews traffic safety in parallel,
// 现场踏勘 (at most 3 working days) stands the permit's clock still, the green-space permit
// runs only when declared.
namespace {

const Timestamp kRoadIntake = date_at(2026, 11, 2, 9, 30);

CommandOptions staff(const std::string& role, const std::string& department = "") {
  return {.command_id = "", .actor = department.empty() ? role + "-1" : department + "-1", .role = role, .department = department};
}

// Starts a road-works case, supplies and verifies its materials, and accepts every active item
// on Tuesday 3 November 10:00: due Tuesday 10 November (5 working days from Wednesday 4).
std::string accepted_road_case(DepartmentWorld& w, std::uint64_t seed, bool green_space) {
  std::map<std::string, dsl::Value> answers{{"occupies_green_space", dsl::Value::of_bool(green_space)}};
  if (green_space) answers["green_area_m2"] = dsl::Value::of_decimal(dsl::Decimal::from_int(120));
  const std::string id = w.start_case(seed, answers);
  while (w.supply_materials(id)) {
  }
  w.clock().set(date_at(2026, 11, 3, 10));
  const auto v = w.view(id);
  for (ItemIndex i = 0; i < w.workflow().items.size(); ++i) {
    if (v.state.items[i].phase != ItemPhase::active) continue;
    auto r = w.engine().execute(id, FireEvent{w.workflow().items[i].id, "accept", {}}, staff("clerk"));
    INFO(w.workflow().items[i].id << ": " << (r ? "" : r.error().message));
    REQUIRE(r);
  }
  w.settle();
  return id;
}

std::string history_text(DepartmentWorld& w, const std::string& id) {
  auto events = w.engine().events(id);
  REQUIRE(events);
  return boost::json::serialize(views::history_json(w.workflow(), *events, nullptr, {}));
}

}  // namespace

TEST_CASE("e2e road_works: 城管 and 市政 approve jointly, 交警 in parallel, 现场踏勘 stands the clock still", "[e2e][joint]") {
  DepartmentWorld w(flow_of("road_works"), "road_works", kRoadIntake);
  const auto& wf = w.workflow();
  const ItemIndex excavation = w.item_index("excavation");
  const ItemIndex green = w.item_index("green_space");
  REQUIRE(wf.items[excavation].joint.size() == 2);
  const std::string id = accepted_road_case(w, 41, false);
  auto v = w.view(id);
  // No green space declared: no green-space permit.
  CHECK(v.state.items[green].phase == ItemPhase::not_applicable);
  CHECK(row_of(v, "excavation")->due_at == date_at(2026, 11, 10, 17, 30));
  CHECK(row_of(v, "traffic_review")->due_at == date_at(2026, 11, 10, 17, 30));

  // 现场踏勘 from Wednesday 4 November 10:00 to Friday 6 10:00, by 城管's reviewer: the permit's
  // clock stands still two working days, the traffic review's runs on; not a correction.
  w.clock().set(date_at(2026, 11, 4, 10));
  REQUIRE(w.engine().execute(id, StartSpecialProcedure{"excavation", "site_survey", "核实施工路段及管线位置"},
                             staff("reviewer", "urban_management")));
  v = w.view(id);
  CHECK(row_of(v, "excavation")->due_at == 0);
  CHECK(row_of(v, "traffic_review")->due_at == date_at(2026, 11, 10, 17, 30));
  w.clock().set(date_at(2026, 11, 6, 10));
  REQUIRE(w.engine().execute(id, EndSpecialProcedure{"excavation", "site_survey", "施工路段与申报一致"},
                             staff("reviewer", "urban_management")));
  v = w.view(id);
  CHECK(row_of(v, "excavation")->due_at == date_at(2026, 11, 12, 17, 30));
  CHECK(v.state.items[excavation].corrections == 0);

  // 交警 approves its own item; it may not decide the joint permit's parts.
  REQUIRE(w.engine().execute(id, FireEvent{"traffic_review", "approve", {}}, staff("reviewer", "traffic_police")));
  REQUIRE_FALSE(w.engine().execute(id, DecidePart{"excavation", "municipal_roads", true, ""}, staff("reviewer", "traffic_police")));
  // Nobody approves the permit alone.
  REQUIRE_FALSE(w.engine().execute(id, FireEvent{"excavation", "approve", {}}, staff("reviewer", "urban_management")));
  // 城管 agrees: the permit waits for 市政, in whose worklist it is as 市政's part (会签).
  w.decide_part(id, excavation, "urban_management", true, "同意占用挖掘");
  CaseQuery municipal;
  municipal.department = "municipal_roads";
  auto parts = w.engine().worklist(municipal);
  REQUIRE(parts);
  REQUIRE(parts->size() == 1);
  CHECK((*parts)[0].item.item_id == "excavation");
  CHECK((*parts)[0].part == "municipal_roads");
  CHECK(*w.engine().count_worklist(municipal) == 1);
  v = w.view(id);
  CHECK(wf.lifecycles[wf.items[excavation].lifecycle].states[v.state.items[excavation].state].id == "accepted");
  // The case page shows each department's part by its title.
  const auto page = boost::json::serialize(views::case_page_json(v, nullptr));
  CHECK(page.find("\"department_title\":\"区综合行政执法局(城市管理)\",\"decision\":\"approved\"") != std::string::npos);
  CHECK(page.find("\"department_title\":\"区市政工程管理处\",\"decision\":\"pending\"") != std::string::npos);
  // 市政 agrees: the permit is granted, and leaves 市政's worklist.
  w.decide_part(id, excavation, "municipal_roads", true, "");
  CHECK(w.engine().worklist(municipal)->empty());
  CHECK(*w.engine().count_worklist(municipal) == 0);
  v = w.view(id);
  CHECK(v.state.items[excavation].phase == ItemPhase::done);
  CHECK_FALSE(wf.lifecycles[wf.items[excavation].lifecycle].states[v.state.items[excavation].state].failed);

  w.run_to_completion(id);
  CHECK(w.view(id).state.status == CaseStatus::completed);
  // Each part reached its department's own system once, the permit's own call too.
  w.check_calls_took_effect_once(id);
  auto calls = w.engine().calls(id, "", 100'000);
  REQUIRE(calls);
  std::set<std::string> countersigned;
  for (const auto& call : *calls) {
    if (call.operation == "countersign") countersigned.insert(call.adapter);
  }
  CHECK(countersigned == std::set<std::string>{"urban_management_system", "municipal_roads_system"});
  // The history records each department's decision with its title.
  const auto history = history_text(w, id);
  CHECK(history.find("区综合行政执法局(城市管理)同意：同意占用挖掘") != std::string::npos);
  CHECK(history.find("区市政工程管理处同意") != std::string::npos);
  // The report counts the survey as a special procedure, not a correction.
  auto report = service_report(w.engine(), {});
  REQUIRE(report);
  CHECK(report->overall.special_procedures == 1);
  CHECK(report->overall.special_procedure_workdays_paused == Approx(2.0));
  CHECK(report->overall.corrections == 0);
}

TEST_CASE("e2e road_works: the green-space permit runs when the works occupy a green space", "[e2e][joint]") {
  DepartmentWorld w(flow_of("road_works"), "road_works", kRoadIntake);
  const ItemIndex green = w.item_index("green_space");
  const std::string id = accepted_road_case(w, 42, true);
  auto v = w.view(id);
  REQUIRE(v.state.items[green].phase == ItemPhase::active);
  CHECK(row_of(v, "green_space")->due_at == date_at(2026, 11, 10, 17, 30));
  w.run_to_completion(id);
  v = w.view(id);
  CHECK(v.state.status == CaseStatus::completed);
  CHECK(v.state.items[green].phase == ItemPhase::done);
  CHECK(v.state.materials[*w.workflow().find_material("green_space_license")].status == MaterialStatus::verified);
  w.check_calls_took_effect_once(id);
}

TEST_CASE("e2e road_works: a refusal by one of the joint departments refuses the excavation permit", "[e2e][joint]") {
  DepartmentWorld w(flow_of("road_works"), "road_works", kRoadIntake);
  const auto& wf = w.workflow();
  const ItemIndex excavation = w.item_index("excavation");
  const std::string id = accepted_road_case(w, 43, false);
  w.decide_part(id, excavation, "urban_management", true, "");
  const auto texts_before = w.simulator().text_messages();
  w.decide_part(id, excavation, "municipal_roads", false, "该路段为新建道路，五年内不得挖掘");
  w.settle();
  auto v = w.view(id);
  CHECK(v.state.items[excavation].phase == ItemPhase::done);
  CHECK(wf.lifecycles[wf.items[excavation].lifecycle].states[v.state.items[excavation].state].failed);
  CHECK(w.simulator().text_messages() == texts_before + 1);  // 《不予许可决定书》
  // No permit call for the refused item; the refusal names the department and its reason.
  auto calls = w.engine().calls(id, "", 100'000);
  REQUIRE(calls);
  for (const auto& call : *calls) {
    if (call.idempotency_key.find("/excavation/") != std::string::npos) CHECK(call.operation != "submit");
  }
  const auto history = history_text(w, id);
  CHECK(history.find("区市政工程管理处不同意：该路段为新建道路，五年内不得挖掘") != std::string::npos);
  CHECK(history.find("联办部门不同意（区市政工程管理处：该路段为新建道路，五年内不得挖掘）") != std::string::npos);
  w.run_to_completion(id);
  CHECK(w.view(id).state.status == CaseStatus::completed);
  w.check_calls_took_effect_once(id);
}
