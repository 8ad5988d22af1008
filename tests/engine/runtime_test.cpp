// The pure core: given events, when a command, then events or a rejection, on a virtual
// clock and the real 2026 calendar.
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <onevisit/engine/compile.hpp>
#include <onevisit/engine/figures.hpp>
#include <onevisit/engine/runtime.hpp>

#include "../test_support.hpp"
#include "store/codec.hpp"  // white-box: the event's stored form

#include <set>

using namespace onevisit;
using namespace onevisit::engine;
using dsl::Value;

namespace {

const std::string kFlow = R"(
import "workflows/calendars/cn_mainland.flow"
lifecycle standard {
  state submitted "已提交" initial; state accepted "已受理"; state correcting "补正中" pauses_clock
  state approved "已办结" final; state rejected "不予许可" final failed
  on accept: submitted -> accepted by clerk when materials.complete
  on request_correction: submitted, accepted -> correcting by clerk requires reason do notify(applicant, "请补正")
  on corrected: correcting -> accepted by applicant
  on approve: accepted -> approved by reviewer when materials.verified do call(dept.submit)
  on reject: accepted -> rejected by reviewer requires reason
  on auto_accept: submitted -> accepted by system after 5 workdays
  warn at 80%
  on overdue do escalate(supervisor)
}
department market "市场监管局" adapter market_registry
department police "公安局" adapter seal_system
material id_card "身份证" from elicense "居民身份证"
material articles "公司章程" upload pdf
material lease "租赁合同" upload pdf secondary
material license "营业执照" produced_by registration
item registration "设立登记" by market { limit 5 workdays statutory 15 workdays; needs id_card, articles, lease; produces license; tolerant }
bundle startup "企业开办" version 1 {
  promise 6 workdays; calendar cn_mainland; lifecycle standard
  form {
    company_name "企业名称": text required
    legal_rep_id "法定代表人身份证": idcard required
    capital "注册资本": money required min 0
    category "类型": enum(company "公司", sole "个体") default "company"
    needs_seal "刻章": bool default true
    registry_code "登记编号": text pattern "^[A-Z0-9]*$"
    seals "刻制印章": list(enum(official "公章", finance "财务专用章")) default ["official"]
  }
  use registration
  item seal "刻章" by police after registration when needs_seal { needs license, id_card; limit 1 workday }
  rating { bad at most 2; rectify within 15 workdays }
}
)";

// 2026-02-12 (Thursday) 10:00 local, just before the Spring Festival holiday.
Timestamp at(int year, int month, int day, int hour = 10, int minute = 0) {
  return (dsl::days_from_civil({year, month, day}) * 24 * 60 + hour * 60 + minute) * 60'000;
}

std::string date_of(Timestamp t) {
  const auto minutes = t / 60'000;
  const auto d = dsl::civil_from_days(day_of(minutes));
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d %02lld:%02lld", d.year, d.month, d.day,
                static_cast<long long>((minutes % 1440) / 60), static_cast<long long>(minutes % 60));
  return buffer;
}

// Checks and compiles `flow` through the one entry point; the test fails on any error.
CompiledSet compiled_flow(const std::string& flow) {
  const std::string root = ONEVISIT_SOURCE_DIR;
  auto compiled = check_and_compile(dsl::load_text(root + "/startup.flow", flow, dsl::filesystem_reader()));
  INFO(testing::describe(compiled ? compiled->diagnostics : compiled.error()));
  REQUIRE(compiled);
  return std::move(*compiled);
}

struct World {
  std::shared_ptr<const Workflow> wf;
  WorkCalendar calendar = WorkCalendar::weekdays();
  Case state;
  Timestamp now = at(2026, 2, 12);
  std::vector<Event> history;

  World() {
    const auto compiled = compiled_flow(kFlow);
    wf = compiled.workflows.at(0);
    REQUIRE(compiled.calendars.at(0)->name() == "cn_mainland");
    calendar = *compiled.calendars.at(0);
    state.id = "case-1";
  }

  /// Runs on `flow` instead of kFlow (same calendar).
  void use_flow(const std::string& flow) {
    wf = compiled_flow(flow).workflows.at(0);
  }

  /// The actor's department for the commands that follow (a reviewer's).
  std::string department;

  std::variant<std::vector<Event>, Rejection> send(CommandBody body, std::string role = "clerk") {
    Command command{"cmd-" + std::to_string(history.size()), state.id, role + "-user", role, std::move(body), department};
    auto outcome = decide(DecideContext{*wf, calendar, now}, state, command);
    if (auto* events = std::get_if<std::vector<Event>>(&outcome)) {
      for (const auto& e : *events) {
        apply(*wf, state, e);
        history.push_back(e);
      }
    }
    return outcome;
  }

  std::vector<Event> ok(CommandBody body, std::string role = "clerk") {
    auto outcome = send(std::move(body), std::move(role));
    if (auto* r = std::get_if<Rejection>(&outcome)) FAIL("rejected: " << r->message);
    return std::get<std::vector<Event>>(outcome);
  }

  Rejection refused(CommandBody body, std::string role = "clerk") {
    const auto version = state.version;
    auto outcome = send(std::move(body), std::move(role));
    REQUIRE(std::holds_alternative<Rejection>(outcome));
    CHECK(state.version == version);  // nothing changed
    return std::get<Rejection>(outcome);
  }

  std::map<std::string, Value> form() const {
    return {{"company_name", Value::of_text("杭州一件事科技有限公司")},
            {"legal_rep_id", Value::of_text("11010519491231002X")},
            {"capital", Value::of_decimal(*dsl::Decimal::parse("100000"))}};
  }

  void start() { ok(StartCase{form(), "11010519491231002X"}, "clerk"); }
  ItemIndex item(std::string_view id) const { return *wf->find_item(id); }
  const ItemState& item_state(std::string_view id) const { return state.items[item(id)]; }
  std::string state_of(std::string_view id) const {
    const auto& s = item_state(id);
    return wf->lifecycles[wf->items[item(id)].lifecycle].states[s.state].id;
  }
  void supply_all() {
    ok(AttachMaterial{"id_card", "", "", true});
    ok(AttachMaterial{"articles", "sha-articles", "章程.pdf", false});
    ok(AttachMaterial{"lease", "sha-lease", "租赁合同.pdf", false});
    ok(VerifyMaterial{"articles", true, ""});
    ok(VerifyMaterial{"lease", true, ""});
  }
};

template <class T>
bool has_event(const std::vector<Event>& events) {
  return std::any_of(events.begin(), events.end(), [](const Event& e) { return std::holds_alternative<T>(e.body); });
}

}  // namespace

TEST_CASE("runtime: the form is validated and every problem reported at once", "[runtime]") {
  World w;
  auto form = w.form();
  form.erase("company_name");
  form["legal_rep_id"] = Value::of_text("340524198001010013");
  form["capital"] = Value::of_int(-5);
  form["category"] = Value::of_text("partnership");
  form["captial"] = Value::of_int(1);
  const auto r = w.refused(StartCase{form, ""});
  CHECK(r.code == Rejection::Code::invalid_field);
  std::map<std::string, std::string> errors;
  for (const auto& e : r.field_errors) errors[e.field] = e.message;
  CHECK(errors.size() == 5);
  CHECK(errors["company_name"] == "请填写「企业名称」");
  CHECK(errors["legal_rep_id"] == "「法定代表人身份证」不是有效的居民身份证号码：末位校验码不符（GB 11643），请核对后重新填写");
  CHECK(errors["capital"] == "「注册资本」不能小于 0");
  CHECK(errors["category"] == "「类型」没有“partnership”这一项，请从以下选项中选择：公司（company）、个体（sole）");
  CHECK(errors["captial"] == "「企业开办」的表单没有“captial”这一栏，是否指「注册资本」（capital）？");
  CHECK(w.state.version == 0);
}

// Issue 13: a future birth date and an unknown province passed; typed variants were stored as typed.
TEST_CASE("runtime: ID numbers are checked against today and the province, and stored canonical", "[runtime][form]") {
  World w;  // today is 2026-02-12
  auto form = w.form();
  for (const auto& [id, problem] : std::initializer_list<std::pair<const char*, const char*>>{
           {"110105202701010016", "出生日期晚于今天"},  // valid check character, born 2027-01-01
           {"990105194912310023", "前两位的省级行政区划代码不存在"},
           {"1101051949123100", "应为 18 位"}}) {
    form["legal_rep_id"] = Value::of_text(id);
    const auto r = w.refused(StartCase{form, ""});
    REQUIRE(r.field_errors.size() == 1);
    CHECK(r.field_errors[0].message == std::string("「法定代表人身份证」不是有效的居民身份证号码：") + problem + "，请核对后重新填写");
    CHECK(r.field_errors[0].message.find(id) == std::string::npos);
  }
  CHECK(w.state.version == 0);
  // Full-width digits, a lower-case x and blanks around: accepted, stored as the standard writes it.
  form["legal_rep_id"] = Value::of_text(" \xEF\xBC\x91\xEF\xBC\x91" "0105194912310 02x\xE3\x80\x80");
  CHECK(w.refused(StartCase{form, ""}).field_errors.size() == 1);  // an inner blank is not forgiven
  form["legal_rep_id"] = Value::of_text(" \xEF\xBC\x91\xEF\xBC\x91" "010519491231002x\xE3\x80\x80");
  w.ok(StartCase{form, ""});
  CHECK(w.state.slots[w.wf->fields[*w.wf->find_field("legal_rep_id")].slot].text == "11010519491231002X");
}

// Issue 14: a list(enum(...)) field took any text; enums are choices, wherever values enter.
TEST_CASE("runtime: enum and list(enum) values outside the declared choices are refused", "[runtime][form]") {
  World w;
  auto form = w.form();
  form["category"] = Value::of_text("partnership");
  form["seals"] = Value::of_list({Value::of_text("official"), Value::of_text("stamp")});
  const auto r = w.refused(StartCase{form, ""});
  CHECK(r.code == Rejection::Code::invalid_field);
  std::map<std::string, std::string> errors;
  for (const auto& e : r.field_errors) errors[e.field] = e.message;
  REQUIRE(errors.size() == 2);
  // The field's title, the value given and every choice with its title and value.
  CHECK(errors["seals"] == "「刻制印章」没有“stamp”这一项，请从以下选项中选择：公章（official）、财务专用章（finance）");
  CHECK(errors["category"] == "「类型」没有“partnership”这一项，请从以下选项中选择：公司（company）、个体（sole）");
  form["seals"] = Value::of_list({Value::of_text("official"), Value::of_int(7)});
  form["category"] = Value::of_text("sole");
  const auto number = w.refused(StartCase{form, ""});
  REQUIRE(number.field_errors.size() == 1);
  CHECK(number.field_errors[0].message.find("「刻制印章」没有“7”这一项") == 0);
  form["seals"] = Value::of_list({Value::of_text("official"), Value::of_text("finance")});
  w.ok(StartCase{form, ""});
  CHECK(w.state.slots[w.wf->fields[*w.wf->find_field("seals")].slot].list.size() == 2);
}

// The server and the CLI read form values as text: the same choices hold there.
TEST_CASE("runtime: form text outside an enum's choices is refused when parsed", "[runtime][form]") {
  World w;
  const auto seals = parse_field_value(*w.wf, "seals", "official,stamp");
  REQUIRE(!seals);
  CHECK(seals.error() == "「刻制印章」没有“stamp”这一项，请从以下选项中选择：公章（official）、财务专用章（finance）");
  const auto parsed = parse_field_value(*w.wf, "seals", "official,finance");
  REQUIRE(parsed);
  CHECK(parsed->list.size() == 2);
  CHECK(!parse_field_value(*w.wf, "category", "partnership"));
  CHECK(parse_field_value(*w.wf, "category", "sole"));
}

// Issue 14: a 422 for a bad ID number echoed the full number (a number whose check digit is
// wrong is no ID number to the masking, so it passed through whole).
TEST_CASE("runtime: a bad ID number is never repeated in full in a form error", "[runtime][form]") {
  World w;
  const std::string bad = "340524198001010013";  // the check digit should be 'X'... any wrong one
  const auto parsed = parse_field_value(*w.wf, "legal_rep_id", bad);
  REQUIRE(!parsed);
  CHECK(parsed.error().find(bad) == std::string::npos);
  CHECK(parsed.error().find("340*************13") != std::string::npos);
  CHECK(parsed.error().find("「法定代表人身份证」") != std::string::npos);
  auto form = w.form();
  form["legal_rep_id"] = Value::of_text(bad);
  const auto r = w.refused(StartCase{form, ""});
  REQUIRE(r.field_errors.size() == 1);
  CHECK(r.field_errors[0].message.find(bad) == std::string::npos);
  CHECK(r.message.find(bad) == std::string::npos);
}

// Issue 17: std::regex matched by recursion, one frame per character, so a long value for a
// field with a pattern crashed the engine (a segfault at case start, over HTTP too).
TEST_CASE("runtime: a long value for a field with a pattern is checked without exhausting the stack", "[runtime]") {
  World w;
  auto form = w.form();
  form["registry_code"] = Value::of_text(std::string(300'000, 'A'));
  w.ok(StartCase{form, ""});
  CHECK(w.state.version > 0);
  World other;
  auto bad = other.form();
  bad["registry_code"] = Value::of_text(std::string(300'000, 'A') + "-");
  const auto r = other.refused(StartCase{bad, ""});
  REQUIRE(r.field_errors.size() == 1);
  CHECK(r.field_errors[0].field == "registry_code");
  CHECK(r.field_errors[0].message.find("的格式不符合要求") != std::string::npos);
}

TEST_CASE("runtime: starting a case activates the items that can run", "[runtime]") {
  World w;
  w.start();
  CHECK(w.state.status == CaseStatus::running);
  CHECK(w.state.applicant_masked == "110*************2X");
  CHECK(w.item_state("registration").phase == ItemPhase::active);
  CHECK(w.state_of("registration") == "submitted");
  CHECK(w.item_state("seal").phase == ItemPhase::waiting);
  // A situation that leaves the seal out.
  World w2;
  auto form = w2.form();
  form["needs_seal"] = Value::of_bool(false);
  w2.ok(StartCase{form, ""});
  CHECK(w2.item_state("seal").phase == ItemPhase::not_applicable);
}

TEST_CASE("runtime: rejections say why and change nothing", "[runtime]") {
  World w;
  w.start();
  std::vector<Rejection> all;
  const auto refuse = [&](CommandBody command, std::string role = "clerk") {
    all.push_back(w.refused(std::move(command), std::move(role)));
    return all.back();
  };
  auto r = refuse(FireEvent{"registration", "accept", {}}, "applicant");
  CHECK(r.code == Rejection::Code::role_not_allowed);
  CHECK(r.detail == "Expected role 'clerk' for 'accept', but the role is 'applicant'");
  CHECK(r.message == "「设立登记」的「受理」由综窗人员办理，申请人不能办理。请转交综窗人员。");
  CHECK(r.reason == "role_not_allowed");
  CHECK(r.details["roles"] == std::vector<std::string>{"clerk"});
  r = refuse(FireEvent{"registration", "accept", {}});
  CHECK(r.code == Rejection::Code::guard_false);
  CHECK(r.detail == "Expected 'materials.complete' for 'accept', but it is false (materials.complete = false)");
  // Issue 14: the missing materials by title, and what to do; their ids for programs.
  CHECK(r.message == "还缺以下材料：身份证、公司章程、租赁合同。请先收取或调取这些材料，再受理「设立登记」。");
  CHECK(r.reason == "materials_incomplete");
  CHECK(r.details["materials"] == std::vector<std::string>{"id_card", "articles", "lease"});
  CHECK(r.details["item"] == std::vector<std::string>{"registration"});
  r = refuse(FireEvent{"registration", "approve", {}}, "reviewer");
  CHECK(r.code == Rejection::Code::wrong_state);
  CHECK(r.detail == "Expected item 'registration' in 'accepted' for 'approve', but it is in 'submitted'");
  CHECK(r.message == "「设立登记」现在是「已提交」，不能「审批通过」（只有「已受理」时可以）。现在可以：「受理」、「要求补正」、「自动受理」。");
  CHECK(r.reason == "item_state");
  r = refuse(FireEvent{"registraton", "accept", {}});
  CHECK(r.code == Rejection::Code::not_found);
  CHECK(r.detail.find("did you mean 'registration'?") != std::string::npos);
  CHECK(r.message == "「企业开办」没有这个事项（registraton）。是否指「设立登记」？");
  r = refuse(FireEvent{"registration", "acept", {}});
  CHECK(r.detail.find("from 'submitted': 'accept', 'request_correction', 'auto_accept'") != std::string::npos);
  CHECK(r.message == "「设立登记」没有“acept”这个操作。它在「已提交」状态下可以：「受理」、「要求补正」、「自动受理」。");
  r = refuse(FireEvent{"registration", "request_correction", {}});
  CHECK(r.code == Rejection::Code::missing_field);
  CHECK(r.message == "「要求补正」「设立登记」时请填写原因。");
  CHECK(r.details["fields"] == std::vector<std::string>{"reason"});
  r = refuse(FireEvent{"seal", "accept", {}});
  CHECK(r.detail == "Expected item 'seal' to be active, but it is waiting");
  CHECK(r.message == "「刻章」还在等待前置事项办结，前置事项办结后才能办理。");
  r = refuse(VerifyMaterial{"articles", true, ""});
  CHECK(r.detail == "Expected material 'articles' to be submitted, but it is missing");
  CHECK(r.message == "「公司章程」当前未提交，只能核验已提交的材料。请先收取或调取该材料。");
  r = refuse(AttachMaterial{"license", "sha", "x.pdf", false});
  CHECK(r.detail.find("produced by an item") != std::string::npos);
  CHECK(r.message == "「营业执照」由本件中的事项办结后出具，不需要申请人提交；办结后由部门系统送达。");
  r = refuse(Deliver{"window"});
  CHECK(r.code == Rejection::Code::wrong_state);
  CHECK(r.message == "办件办理中，只有全部事项办结后才能出件。");
  r = refuse(PauseClock{"", ""});
  CHECK(r.message == "暂停计时请写明原因（如现场踏勘、专家评审）。");
  r = refuse(ResumeClock{""});
  CHECK(r.message == "计时没有被暂停，无需恢复。");
  r = refuse(TolerantIntake{"registration", {"articles"}, "accept", {}});
  CHECK(r.message == "「公司章程」是主审要件，不能容缺，请先收取该材料。");
  CHECK(r.details["materials"] == std::vector<std::string>{"articles"});
  r = refuse(Withdraw{"x"}, "reviewer");
  CHECK(r.message == "撤回由申请人或综窗人员办理，部门审批人员不能撤回。");
  // Every refusal has its three readers' parts; no message for people is English.
  REQUIRE(all.size() == 14);
  for (const auto& refusal : all) {
    INFO(refusal.detail);
    CHECK(!refusal.reason.empty());
    CHECK(!refusal.detail.empty());
    CHECK(refusal.message.find("Expected") == std::string::npos);
    CHECK(std::any_of(refusal.message.begin(), refusal.message.end(), [](unsigned char c) { return c >= 0x80; }));  // Chinese
  }
}

// Issue 14: a material supplied but not checked is named as one to verify, not to supply.
TEST_CASE("runtime: approving with materials not yet verified names them and says to verify them", "[runtime][messages]") {
  World w;
  w.start();
  w.ok(AttachMaterial{"id_card", "", "", true});
  w.ok(AttachMaterial{"articles", "sha-articles", "章程.pdf", false});
  w.ok(AttachMaterial{"lease", "sha-lease", "租赁合同.pdf", false});
  w.ok(FireEvent{"registration", "accept", {}});
  auto r = w.refused(FireEvent{"registration", "approve", {}}, "reviewer");
  CHECK(r.code == Rejection::Code::guard_false);
  CHECK(r.reason == "materials_unverified");
  CHECK(r.message == "以下材料尚未核验：公司章程、租赁合同。请先核验这些材料，再审批通过「设立登记」。");
  CHECK(r.details["unverified"] == std::vector<std::string>{"articles", "lease"});
  w.ok(VerifyMaterial{"articles", false, "缺少股东签字页"});
  r = w.refused(FireEvent{"registration", "approve", {}}, "reviewer");
  CHECK(r.message == "还缺以下材料：公司章程。以下材料尚未核验：租赁合同。请先收取或调取缺少的材料，并核验已提交的材料，再审批通过「设立登记」。");
  w.ok(Withdraw{"申请人撤回"});
  r = w.refused(FireEvent{"registration", "approve", {}}, "reviewer");
  CHECK(r.reason == "case_closed");
  CHECK(r.message == "办件case-1已撤回，不能再办理。如需继续办理，请重新受理一件新的申请。");
}

TEST_CASE("runtime: a case from intake to rating", "[runtime]") {
  World w;
  w.start();
  w.supply_all();
  w.ok(FireEvent{"registration", "accept", {}});
  auto events = w.ok(FireEvent{"registration", "approve", {}}, "reviewer");
  // Approval issues the licence, which lets the seal start.
  CHECK(has_event<MaterialProduced>(events));
  CHECK(has_event<ItemActivated>(events));
  CHECK(w.state.materials[*w.wf->find_material("license")].status == MaterialStatus::verified);
  CHECK(w.item_state("seal").phase == ItemPhase::active);
  // The outbox gets the department call, keyed the same on every retry.
  const auto outbox = outbox_for(*w.wf, w.state, events, w.state.version - events.size() + 1);
  REQUIRE(outbox.size() == 1);
  CHECK(outbox[0].adapter == "market_registry");
  CHECK(outbox[0].operation == "submit");
  CHECK(outbox[0].idempotency_key.starts_with("case-1/registration/"));
  w.ok(FireEvent{"seal", "accept", {}});
  events = w.ok(FireEvent{"seal", "approve", {}}, "reviewer");
  CHECK(has_event<CaseCompleted>(events));
  CHECK(w.state.status == CaseStatus::completed);
  w.ok(Deliver{"electronic"}, "clerk");
  w.now = at(2026, 3, 2);
  auto rated = w.ok(Rate{1, "等了太久"}, "applicant");
  const auto& r = std::get<CaseRated>(rated.at(0).body);
  REQUIRE(r.rectification_due);
  // 15 working days from Monday 2026-03-02: Mar 3..6 (4), 9..13 (9), 16..20 (14), 23 (15).
  CHECK(date_of(*r.rectification_due) == "2026-03-23 17:30");
  CHECK(w.state.status == CaseStatus::rated);
  // Replaying the history reproduces the state.
  Case replayed;
  replayed.id = w.state.id;
  for (const auto& e : w.history) apply(*w.wf, replayed, e);
  CHECK(replayed.version == w.state.version);
  CHECK(replayed.status == w.state.status);
  CHECK(replayed.rating == w.state.rating);
  for (ItemIndex i = 0; i < replayed.items.size(); ++i) {
    CHECK(replayed.items[i].phase == w.state.items[i].phase);
    CHECK(replayed.items[i].state == w.state.items[i].state);
  }
}

TEST_CASE("runtime: deadlines across the Spring Festival, and corrections stop the clock", "[runtime][calendar]") {
  World w;
  w.start();  // Thursday 2026-02-12 10:00
  // 5 working days counted from the next day: Fri 13, make-up Sat 14, then after the
  // holiday (15th to 23rd) Tue 24, Wed 25, Thu 26 -> due Thursday 26 February at close.
  CHECK(date_of(due_at(*w.wf, w.calendar, w.state, w.item("registration"))) == "2026-02-26 17:30");
  // A correction from Friday 13 10:00 to Tuesday 24 10:00 stops the clock: the working
  // time in between (Fri 13 10:00-12:00 and 13:30-17:30 = 360 min, make-up Sat 14 = 420
  // min, Tue 24 09:00-10:00 = 60 min: 840 min) moves the deadline 840 working minutes on.
  w.now = at(2026, 2, 13, 10);
  w.ok(FireEvent{"registration", "request_correction", {{"reason", "章程缺少签字"}}});
  CHECK(w.item_state("registration").corrections == 1);
  CHECK(due_at(*w.wf, w.calendar, w.state, w.item("registration")) == 0);  // paused: no deadline
  w.now = at(2026, 2, 24, 10);
  w.ok(FireEvent{"registration", "corrected", {}}, "applicant");
  // From Thu 26 17:30, 840 working minutes: Fri 27 (420) and the make-up Saturday 28 (420).
  CHECK(date_of(due_at(*w.wf, w.calendar, w.state, w.item("registration"))) == "2026-02-28 17:30");
}

TEST_CASE("runtime: at the window a clerk records the applicant's correction for them, and only that", "[runtime]") {
  // Issue 14: after 补正 the item's only way on was the applicant's `corrected`, which no one
  // at the window could fire.
  World w;
  w.start();
  w.ok(FireEvent{"registration", "request_correction", {{"reason", "章程缺少签字"}}});
  REQUIRE(w.state_of("registration") == "correcting");
  // Without saying so, the clerk is not the applicant.
  auto r = w.refused(FireEvent{"registration", "corrected", {}});
  CHECK(r.reason == "role_not_allowed");
  // A reviewer never acts for an applicant; nor does anyone fire a non-applicant event "for" them.
  r = w.refused(FireEvent{"registration", "corrected", {}, true}, "reviewer");
  CHECK(r.reason == "role_not_allowed");
  CHECK(r.message.find("综窗") != std::string::npos);
  r = w.refused(FireEvent{"registration", "request_correction", {{"reason", "x"}}, true});
  CHECK(r.reason == "not_an_applicant_event");
  // The clerk takes in the corrected materials and records 已补正 for the applicant.
  const auto events = w.ok(FireEvent{"registration", "corrected", {}, true});
  CHECK(w.state_of("registration") == "accepted");
  CHECK(w.item_state("registration").corrections == 1);
  const ItemTransitioned* transitioned = nullptr;
  for (const auto& e : events) {
    if (const auto* t = std::get_if<ItemTransitioned>(&e.body)) transitioned = t;
  }
  REQUIRE(transitioned);
  CHECK(transitioned->for_applicant);
  CHECK(events.front().actor == "clerk-user");
  // It survives the store's encoding.
  const Event& stored = *std::find_if(events.begin(), events.end(), [](const Event& e) { return std::holds_alternative<ItemTransitioned>(e.body); });
  const auto decoded = codec::decode_event(event_type(stored.body), codec::encode_event_payload(stored), stored.at);
  REQUIRE(decoded);
  CHECK(std::get<ItemTransitioned>(decoded->body).for_applicant);
}

TEST_CASE("runtime: National Day 2026 with its make-up days", "[runtime][calendar]") {
  World w;
  w.now = at(2026, 9, 30, 16);  // Wednesday before the holiday (10-01 to 10-07; make-up Sat 10-10)
  w.start();
  // Next day counting: Oct 1-7 holiday, Thu 8 (1), Fri 9 (2), Sat 10 make-up (3), Mon 12 (4), Tue 13 (5).
  CHECK(date_of(due_at(*w.wf, w.calendar, w.state, w.item("registration"))) == "2026-10-13 17:30");
}

TEST_CASE("runtime: timers for warnings, overdue and timed transitions", "[runtime][timers]") {
  World w;
  w.start();
  auto timers = timers_for(*w.wf, w.calendar, w.state);
  std::map<std::string, Timestamp> by_id;
  for (const auto& t : timers) by_id[t.timer_id.substr(0, t.timer_id.find('@'))] = t.due_at;
  const auto reg = "i" + std::to_string(w.item("registration"));
  REQUIRE(by_id.contains(reg + ".overdue"));
  REQUIRE(by_id.contains(reg + ".warn"));
  REQUIRE(by_id.contains(reg + ".t5"));  // auto_accept after 5 workdays in submitted
  CHECK(by_id[reg + ".warn"] < by_id[reg + ".overdue"]);
  // Firing early does nothing; at the time, the light turns and the hook escalates.
  w.now = by_id[reg + ".warn"] - 60'000;
  CHECK(w.ok(TimerFired{reg + ".warn"}, "system").empty());
  w.now = by_id[reg + ".warn"];
  CHECK(has_event<ItemWarned>(w.ok(TimerFired{reg + ".warn"}, "system")));
  CHECK(w.item_state("registration").light == Light::yellow);
  // The timed transition fires by itself (the guard-free auto-accept).
  std::string timed;
  for (const auto& t : timers) {
    if (t.timer_id.starts_with(reg + ".t5")) timed = t.timer_id;
  }
  w.now = by_id[reg + ".t5"];
  auto events = w.ok(TimerFired{timed}, "system");
  CHECK(has_event<ItemTransitioned>(events));
  CHECK(w.state_of("registration") == "accepted");
  CHECK(w.ok(TimerFired{timed}, "system").empty());  // a stale timer is a no-op
  w.now = by_id[reg + ".overdue"];
  events = w.ok(TimerFired{reg + ".overdue"}, "system");
  REQUIRE(has_event<ItemOverdue>(events));
  CHECK(w.item_state("registration").light == Light::red);
  const auto outbox = outbox_for(*w.wf, w.state, events, w.state.version);
  REQUIRE(outbox.size() == 1);
  CHECK(outbox[0].operation == "escalate");
  CHECK(item_rows(*w.wf, w.calendar, w.state)[w.item("registration")].light == "red");
}

TEST_CASE("runtime: tolerant intake accepts with a secondary material pending", "[runtime]") {
  World w;
  w.start();
  w.ok(AttachMaterial{"id_card", "", "", true});
  w.ok(AttachMaterial{"articles", "sha-articles", "章程.pdf", false});
  auto r = w.refused(TolerantIntake{"registration", {"articles"}});
  CHECK(r.code == Rejection::Code::missing_material);  // a main material is never tolerated
  CHECK(r.detail.find("is a main material") != std::string::npos);
  r = w.refused(TolerantIntake{"registration", {}});
  CHECK(r.code == Rejection::Code::invalid);
  r = w.refused(TolerantIntake{"seal", {"lease"}});
  CHECK(r.detail.find("does not") != std::string::npos);  // the seal item is not tolerant
  w.ok(TolerantIntake{"registration", {"lease"}});
  CHECK(w.state_of("registration") == "accepted");
  CHECK(w.state.materials[*w.wf->find_material("lease")].status == MaterialStatus::tolerated);
  // Approval waits for the pending material: materials.verified is false.
  w.ok(VerifyMaterial{"articles", true, ""});
  r = w.refused(FireEvent{"registration", "approve", {}}, "reviewer");
  CHECK(r.code == Rejection::Code::guard_false);
  w.ok(AttachMaterial{"lease", "sha-lease", "租赁合同.pdf", false});
  w.ok(VerifyMaterial{"lease", true, ""});
  w.ok(FireEvent{"registration", "approve", {}}, "reviewer");
}

TEST_CASE("runtime: a rejected item cancels what comes after it", "[runtime]") {
  World w;
  w.start();
  w.supply_all();
  w.ok(FireEvent{"registration", "accept", {}});
  auto events = w.ok(FireEvent{"registration", "reject", {{"reason", "名称不合规"}}}, "reviewer");
  CHECK(has_event<ItemCancelled>(events));
  CHECK(has_event<CaseCompleted>(events));
  CHECK(w.item_state("seal").phase == ItemPhase::cancelled);
  CHECK(w.state.materials[*w.wf->find_material("license")].status == MaterialStatus::missing);
}

TEST_CASE("runtime: withdrawal, pauses by a clerk", "[runtime]") {
  World w;
  w.start();
  auto r = w.refused(PauseClock{"registration", ""});
  CHECK(r.code == Rejection::Code::missing_field);
  w.ok(PauseClock{"registration", "现场核查"});
  CHECK(due_at(*w.wf, w.calendar, w.state, w.item("registration")) == 0);
  w.refused(PauseClock{"registration", "again"});
  w.now = at(2026, 2, 13, 10);
  w.ok(ResumeClock{"registration"});
  // Paused Thu 12 10:00 to Fri 13 10:00: 360 + 60 = 420 working minutes, one working day.
  CHECK(date_of(due_at(*w.wf, w.calendar, w.state, w.item("registration"))) == "2026-02-27 17:30");
  r = w.refused(Withdraw{"不办了"}, "reviewer");
  CHECK(r.code == Rejection::Code::role_not_allowed);
  w.ok(Withdraw{"不办了"}, "applicant");
  CHECK(w.state.status == CaseStatus::withdrawn);
  w.refused(FireEvent{"registration", "accept", {}});
}

TEST_CASE("runtime: a warning counted back from the deadline", "[runtime][timers]") {
  World w;
  // Same bundle, but the lifecycle warns when one working day is left.
  std::string flow = kFlow;
  flow.replace(flow.find("warn at 80%"), 11, "warn at 1 workday left");
  w.wf = compiled_flow(flow).workflows.at(0);
  w.start();  // Thu 2026-02-12 10:00; due Thu 2026-02-26 17:30
  bool found = false;
  for (const auto& t : timers_for(*w.wf, w.calendar, w.state)) {
    if (t.timer_id == "i" + std::to_string(w.item("registration")) + ".warn") {
      found = true;
      CHECK(date_of(t.due_at) == "2026-02-25 17:30");  // one working day (420 min) before
    }
  }
  CHECK(found);
}

// Issue 14: a page lists the situation's materials from the engine, each with what its file
// chooser accepts (the declared formats).
TEST_CASE("runtime: the situation's materials with their accepted formats", "[runtime][formats]") {
  World w;
  const auto materials = situation_materials(*w.wf, situation_slots(*w.wf, {}));
  std::vector<std::string> ids;
  for (const auto& m : materials) ids.push_back(m.id);
  CHECK(ids == std::vector<std::string>{"id_card", "articles", "lease"});  // the licence is issued inside
  CHECK(materials[0].source == MaterialSource::elicense);
  CHECK(materials[0].accept.empty());
  CHECK(materials[1].title == "公司章程");
  CHECK(materials[1].formats == std::vector<std::string>{"pdf"});
  CHECK(materials[1].accept == "application/pdf,.pdf");
  CHECK(materials[2].secondary);
}

// ---------------------------------------------------------------------------------------
// Issue 13: the clock starts at acceptance; special procedures run; who may stop a clock.

namespace {

// kFlow with the standard lifecycle's clock rule (starts_clock on 受理, deemed acceptance
// dating back to the receipt), corrections going back to 已提交 as in workflows/, and two
// special procedures on the registration.
std::string clock_flow() {
  std::string flow = kFlow;
  auto swap = [&](std::string_view from, std::string_view to) {
    const auto at = flow.find(from);
    REQUIRE(at != std::string::npos);
    flow.replace(at, from.size(), to);
  };
  swap("on accept: submitted -> accepted by clerk when materials.complete",
       "on accept: submitted -> accepted by clerk when materials.complete starts_clock");
  swap("on auto_accept: submitted -> accepted by system after 5 workdays",
       "on auto_accept: submitted -> accepted by system after 5 workdays starts_clock from receipt");
  swap("on corrected: correcting -> accepted by applicant", "on corrected: correcting -> submitted by applicant");
  swap("on overdue do escalate(supervisor)",
       "on warning do notify(clerk, \"办件已用去80%的承诺时限\")\n  on overdue do escalate(supervisor)");
  swap("needs id_card, articles, lease; produces license; tolerant }",
       "needs id_card, articles, lease; produces license; tolerant\n"
       "  special site_inspection \"现场踏勘\" max 3 workdays pauses_clock\n"
       "  special public_notice \"公示\" max 5 workdays }");
  return flow;
}

std::map<std::string, Timestamp> timers_by_id(const World& w) {
  std::map<std::string, Timestamp> by_id;
  for (const auto& t : timers_for(*w.wf, w.calendar, w.state)) by_id[t.timer_id.substr(0, t.timer_id.find('@'))] = t.due_at;
  return by_id;
}

}  // namespace

TEST_CASE("runtime: the clock starts at acceptance, not at submission", "[runtime][clock]") {
  World w;
  w.use_flow(clock_flow());
  w.now = at(2026, 3, 2, 10);  // Monday: the materials are received
  w.start();
  w.supply_all();
  const auto reg = w.item("registration");
  // Not accepted yet: no deadline, no warning or overdue timers (the 5-day acceptance timer runs).
  CHECK(due_at(*w.wf, w.calendar, w.state, reg) == 0);
  auto timers = timers_by_id(w);
  CHECK_FALSE(timers.contains("i" + std::to_string(reg) + ".overdue"));
  CHECK_FALSE(timers.contains("i" + std::to_string(reg) + ".warn"));
  // Accepted two working days later, on Wednesday: 5 working days from Thursday 5 March
  // (5, 6, 9, 10, 11), two days later than counting from the receipt (due Monday 9 March).
  w.now = at(2026, 3, 4, 10);
  w.ok(FireEvent{"registration", "accept", {}});
  CHECK(w.item_state("registration").clock_started_at == at(2026, 3, 4, 10));
  CHECK(date_of(due_at(*w.wf, w.calendar, w.state, reg)) == "2026-03-11 17:30");
  CHECK(timers_by_id(w).contains("i" + std::to_string(reg) + ".overdue"));
  // item.elapsed counts from acceptance: nothing yet at the moment of acceptance.
  const auto slots = guard_slots(*w.wf, w.calendar, w.state, reg, w.now);
  CHECK(slots[4].integer == 0);
  // A replay through apply gives the same clock; so does a snapshot.
  Case replayed;
  replayed.id = w.state.id;
  for (const auto& e : w.history) apply(*w.wf, replayed, e);
  CHECK(replayed.items[reg].clock_started_at == at(2026, 3, 4, 10));
  const auto decoded = codec::decode_case(codec::encode_case(w.state), *w.wf);
  REQUIRE(decoded);
  CHECK(decoded->items[reg].clock_started_at == at(2026, 3, 4, 10));
}

TEST_CASE("runtime: deemed acceptance counts the limit from the receipt (行政许可法第三十二条)", "[runtime][clock]") {
  World w;
  w.use_flow(clock_flow());
  w.now = at(2026, 3, 2, 10);  // Monday
  w.start();
  const auto reg = w.item("registration");
  // No correction notice and no decision within 5 working days: deemed accepted on Monday
  // 9 March 10:00, and by law accepted "on the day the materials were received", so the 5
  // working days count from Tuesday 3 March: due Monday 9 March.
  std::string timed;
  for (const auto& t : timers_for(*w.wf, w.calendar, w.state)) {
    if (t.timer_id.starts_with("i" + std::to_string(reg) + ".t")) timed = t.timer_id;
  }
  REQUIRE_FALSE(timed.empty());
  w.now = at(2026, 3, 9, 10);
  w.ok(TimerFired{timed}, "system");
  CHECK(w.state_of("registration") == "accepted");
  CHECK(w.item_state("registration").clock_started_at == at(2026, 3, 2, 10));
  CHECK(date_of(due_at(*w.wf, w.calendar, w.state, reg)) == "2026-03-09 17:30");
}

TEST_CASE("runtime: a correction before acceptance does not move the deadline, which counts from acceptance", "[runtime][clock]") {
  World w;
  w.use_flow(clock_flow());
  w.now = at(2026, 3, 2, 10);
  w.start();
  w.now = at(2026, 3, 3, 10);
  w.ok(FireEvent{"registration", "request_correction", {{"reason", "章程缺少签字"}}});
  w.now = at(2026, 3, 6, 10);
  w.ok(FireEvent{"registration", "corrected", {}}, "applicant");
  CHECK(w.state_of("registration") == "submitted");
  w.supply_all();
  w.now = at(2026, 3, 9, 10);
  w.ok(FireEvent{"registration", "accept", {}});
  // From Tuesday 10 March: 10, 11, 12, 13, 16. The correction's days are not added on top.
  CHECK(date_of(due_at(*w.wf, w.calendar, w.state, w.item("registration"))) == "2026-03-16 17:30");
  CHECK(w.item_state("registration").pauses.empty());
}

TEST_CASE("runtime: a lifecycle without starts_clock counts from activation", "[runtime][clock]") {
  World w;  // kFlow names no starts_clock
  w.now = at(2026, 3, 2, 10);
  w.start();
  CHECK(w.item_state("registration").clock_started_at == at(2026, 3, 2, 10));
  CHECK(date_of(due_at(*w.wf, w.calendar, w.state, w.item("registration"))) == "2026-03-09 17:30");
}

TEST_CASE("runtime: a special procedure that pauses the clock, its warning, escalation and record", "[runtime][special]") {
  World w;
  w.use_flow(clock_flow());
  w.now = at(2026, 3, 2, 10);
  w.start();
  w.supply_all();
  w.ok(FireEvent{"registration", "accept", {}});
  const auto reg = w.item("registration");
  CHECK(date_of(due_at(*w.wf, w.calendar, w.state, reg)) == "2026-03-09 17:30");
  // The handling department's reviewer starts 现场踏勘 on Tuesday 10:00.
  w.now = at(2026, 3, 3, 10);
  w.department = "market";
  auto events = w.ok(StartSpecialProcedure{"registration", "site_inspection", "需现场核实经营场所"}, "reviewer");
  REQUIRE(has_event<SpecialProcedureStarted>(events));
  CHECK(events.front().actor == "reviewer-user");
  const auto& item = w.item_state("registration");
  REQUIRE(item.running_special);
  CHECK(due_at(*w.wf, w.calendar, w.state, reg) == 0);  // the clock stands still
  CHECK(item.corrections == 0);                         // not a correction
  // Its max (3 working days from Wednesday: Fri 6 March 17:30) and the lifecycle's 80%
  // warning: 80% of 1620 working minutes is 1296, Friday 10:36.
  const std::string special = "i" + std::to_string(reg) + ".s0.";
  auto timers = timers_by_id(w);
  REQUIRE(timers.contains(special + "overdue"));
  REQUIRE(timers.contains(special + "warn"));
  CHECK(date_of(timers[special + "overdue"]) == "2026-03-06 17:30");
  CHECK(date_of(timers[special + "warn"]) == "2026-03-06 10:36");
  CHECK_FALSE(timers.contains("i" + std::to_string(reg) + ".overdue"));  // paused: no item deadline
  w.now = timers[special + "warn"] - 60'000;
  CHECK(w.ok(TimerFired{special + "warn"}, "system").empty());
  w.now = timers[special + "warn"];
  events = w.ok(TimerFired{special + "warn"}, "system");
  REQUIRE(has_event<SpecialProcedureWarned>(events));
  CHECK(w.item_state("registration").specials[0].light == Light::yellow);
  auto outbox = outbox_for(*w.wf, w.state, events, w.state.version);
  REQUIRE(outbox.size() == 1);
  CHECK(outbox[0].operation == "notify");
  CHECK(outbox[0].payload.find("现场踏勘") != std::string::npos);
  // Past its max: escalation, as for an overdue item.
  w.now = timers[special + "overdue"];
  events = w.ok(TimerFired{special + "overdue"}, "system");
  REQUIRE(has_event<SpecialProcedureOverdue>(events));
  CHECK(w.item_state("registration").specials[0].light == Light::red);
  outbox = outbox_for(*w.wf, w.state, events, w.state.version);
  REQUIRE(outbox.size() == 1);
  CHECK(outbox[0].operation == "escalate");
  CHECK(timers_by_id(w).count(special + "overdue") == 0);  // fired once
  // Ended on Monday 9 March 10:00: paused 360 + 3 × 420 + 60 = 1680 working minutes (4 days).
  w.now = at(2026, 3, 9, 10);
  CHECK(w.refused(EndSpecialProcedure{"registration", "site_inspection", ""}, "reviewer").reason == "result_required");
  w.ok(EndSpecialProcedure{"registration", "site_inspection", "场所与申报一致"}, "reviewer");
  const auto& run = w.item_state("registration").specials.at(0);
  CHECK_FALSE(w.item_state("registration").running_special);
  CHECK(run.ended_at == at(2026, 3, 9, 10));
  CHECK(run.result == "场所与申报一致");
  CHECK(run.reason == "需现场核实经营场所");
  CHECK(special_minutes(w.calendar, run, w.now) == 1680);
  CHECK(date_of(due_at(*w.wf, w.calendar, w.state, reg)) == "2026-03-13 17:30");
  // Not a correction: the one correction notice is still there to send.
  CHECK(w.item_state("registration").corrections == 0);
  w.ok(FireEvent{"registration", "request_correction", {{"reason", "章程缺少签字"}}});
  CHECK(w.item_state("registration").corrections == 1);
  // The events survive the store's encoding, and a replay gives the same record.
  for (const auto& e : w.history) {
    const auto decoded = codec::decode_event(event_type(e.body), codec::encode_event_payload(e), e.at);
    REQUIRE(decoded);
    CHECK(decoded->body.index() == e.body.index());
  }
  Case replayed;
  replayed.id = w.state.id;
  for (const auto& e : w.history) apply(*w.wf, replayed, e);
  REQUIRE(replayed.items[reg].specials.size() == 1);
  CHECK(replayed.items[reg].specials[0].light == Light::red);
  CHECK(replayed.items[reg].specials[0].ended_at == at(2026, 3, 9, 10));
  const auto decoded = codec::decode_case(codec::encode_case(w.state), *w.wf);
  REQUIRE(decoded);
  REQUIRE(decoded->items[reg].specials.size() == 1);
  CHECK(decoded->items[reg].specials[0].result == "场所与申报一致");
}

// clock_flow with a state of each kind: waiting for the applicant's fee, a survey run as a
// special-procedure state, and the correction (one notice: `item.corrections == 0`).
std::string kinds_flow() {
  std::string flow = clock_flow();
  auto swap = [&](std::string_view from, std::string_view to) {
    const auto at = flow.find(from);
    REQUIRE(at != std::string::npos);
    flow.replace(at, from.size(), to);
  };
  swap("state correcting \"补正中\" pauses_clock",
       "state correcting \"补正中\" pauses_clock\n"
       "  state awaiting_fee \"待申请人缴费\" pauses_clock as waiting\n"
       "  state surveying \"现场踏勘中\" pauses_clock as special");
  swap("on request_correction: submitted, accepted -> correcting by clerk requires reason",
       "on request_correction: submitted, accepted -> correcting by clerk when item.corrections == 0 requires reason");
  swap("on approve: accepted",
       "on await_fee \"通知缴费\": accepted -> awaiting_fee by reviewer\n"
       "  on fee_paid \"已缴费\": awaiting_fee -> accepted by applicant, clerk\n"
       "  on survey \"现场踏勘\": accepted -> surveying by reviewer\n"
       "  on surveyed \"踏勘完成\": surveying -> accepted by reviewer\n"
       "  on approve: accepted");
  return flow;
}

TEST_CASE("runtime: clock-stopping states by kind: waiting and special stop the clock but are not corrections", "[runtime][clock]") {
  World w;
  w.use_flow(kinds_flow());
  const auto reg = w.item("registration");
  const auto& lc = w.wf->lifecycles[w.wf->items[reg].lifecycle];
  CHECK(lc.states[*lc.find_state("awaiting_fee")].clock_stop == dsl::ClockStop::waiting);
  CHECK(lc.states[*lc.find_state("surveying")].clock_stop == dsl::ClockStop::special);
  CHECK(lc.states[*lc.find_state("correcting")].clock_stop == dsl::ClockStop::correction);  // no `as`: as before
  w.now = at(2026, 3, 2, 10);  // Monday
  w.start();
  w.supply_all();
  w.ok(FireEvent{"registration", "accept", {}});
  CHECK(date_of(due_at(*w.wf, w.calendar, w.state, reg)) == "2026-03-09 17:30");
  // Tuesday to Wednesday waiting for the fee: the clock stands still one working day.
  w.department = "market";
  w.now = at(2026, 3, 3, 10);
  w.ok(FireEvent{"registration", "await_fee", {}}, "reviewer");
  CHECK(due_at(*w.wf, w.calendar, w.state, reg) == 0);
  CHECK(w.item_state("registration").corrections == 0);
  w.now = at(2026, 3, 4, 10);
  w.ok(FireEvent{"registration", "fee_paid", {}}, "applicant");
  CHECK(date_of(due_at(*w.wf, w.calendar, w.state, reg)) == "2026-03-10 17:30");
  // Wednesday to Friday in the survey: two working days more.
  w.ok(FireEvent{"registration", "survey", {}}, "reviewer");
  CHECK(due_at(*w.wf, w.calendar, w.state, reg) == 0);
  w.now = at(2026, 3, 6, 10);
  w.ok(FireEvent{"registration", "surveyed", {}}, "reviewer");
  CHECK(date_of(due_at(*w.wf, w.calendar, w.state, reg)) == "2026-03-12 17:30");
  // Neither used up the one correction notice.
  CHECK(w.item_state("registration").corrections == 0);
  w.ok(FireEvent{"registration", "request_correction", {{"reason", "章程缺少签字"}}});
  CHECK(w.item_state("registration").corrections == 1);
  w.now = at(2026, 3, 9, 10);
  w.ok(FireEvent{"registration", "corrected", {}}, "applicant");
  // The correction did: a second notice is refused by the guard.
  CHECK(w.refused(FireEvent{"registration", "request_correction", {{"reason", "再次补正"}}}).reason == "guard_false");
  // Each stay is recorded with its kind, and survives the snapshot and a replay.
  const std::vector<ClockStopStay> expected{{dsl::ClockStop::waiting, at(2026, 3, 3, 10), at(2026, 3, 4, 10)},
                                            {dsl::ClockStop::special, at(2026, 3, 4, 10), at(2026, 3, 6, 10)},
                                            {dsl::ClockStop::correction, at(2026, 3, 6, 10), at(2026, 3, 9, 10)}};
  CHECK(w.item_state("registration").stays == expected);
  const auto decoded = codec::decode_case(codec::encode_case(w.state), *w.wf);
  REQUIRE(decoded);
  CHECK(decoded->items[reg].stays == expected);
  Case replayed;
  replayed.id = w.state.id;
  for (const auto& e : w.history) apply(*w.wf, replayed, e);
  CHECK(replayed.items[reg] == w.state.items[reg]);
}

// 联办/会签: 城管 and 市政 decide the excavation permit together (all or any), 交警 alone.
std::string joint_flow(std::string_view rule) {
  std::string flow = R"(
import "workflows/calendars/cn_mainland.flow"
lifecycle standard {
  state submitted "已提交" initial; state accepted "已受理"; state approved "已办结" final; state rejected "不予许可" final failed
  on accept: submitted -> accepted by clerk starts_clock
  on approve "准予许可": accepted -> approved by reviewer when materials.verified do call(dept.submit)
  on reject: accepted -> rejected by reviewer requires reason
}
department urban "区城市管理局" adapter urban_system
department municipal "区市政工程管理处" adapter municipal_system
department traffic "区交警大队" adapter traffic_system
material plan "施工方案" upload pdf
bundle roadworks "涉路施工" version 1 {
  promise 6 workdays; calendar cn_mainland; lifecycle standard
  form { project "工程名称": text required }
  item excavation "城市道路挖掘许可" by urban { limit 5 workdays; needs plan; joint RULE with municipal }
  item traffic_review "交通安全审查" by traffic { limit 5 workdays; needs plan }
}
)";
  flow.replace(flow.find("RULE"), 4, rule);
  return flow;
}

struct JointWorld : World {
  explicit JointWorld(std::string_view rule) {
    use_flow(joint_flow(rule));
    now = at(2026, 3, 2, 10);
    ok(StartCase{{{"project", Value::of_text("文一路管线改造")}}, ""}, "clerk");
    ok(AttachMaterial{"plan", "sha-plan", "施工方案.pdf", false});
    ok(VerifyMaterial{"plan", true, ""});
    ok(FireEvent{"excavation", "accept", {}});
  }
  std::variant<std::vector<Event>, Rejection> part(const std::string& department, bool approve, const std::string& note = "",
                                                   const std::string& reviewer_department = "") {
    this->department = reviewer_department.empty() ? department : reviewer_department;
    return send(DecidePart{"excavation", department, approve, note}, "reviewer");
  }
};

TEST_CASE("runtime: a joint item (all) is approved once every department approved its part", "[runtime][joint]") {
  JointWorld w("all");
  const auto item = w.item("excavation");
  const auto& model = w.wf->items[item];
  REQUIRE(model.joint.size() == 2);
  CHECK(w.wf->departments[model.joint[0]].id == "urban");  // its own department first
  CHECK(w.wf->departments[model.joint[1]].id == "municipal");
  CHECK(model.joint_rule == dsl::JointRule::all);
  // Nobody approves a joint item alone, not even its own department's reviewer.
  w.department = "urban";
  CHECK(w.refused(FireEvent{"excavation", "approve", {}}, "reviewer").reason == "joint_item");
  // Each department decides its own part only.
  w.department = "traffic";
  CHECK(w.refused(DecidePart{"excavation", "municipal", true, ""}, "reviewer").reason == "other_department");
  CHECK(w.refused(DecidePart{"excavation", "municipal", true, ""}, "clerk").reason == "role_not_allowed");
  CHECK(w.refused(DecidePart{"excavation", "traffic", true, ""}, "reviewer").reason == "no_part");
  CHECK(w.refused(DecidePart{"traffic_review", "traffic", true, ""}, "reviewer").reason == "not_joint");
  // 城管 approves: the item waits for 市政; its part goes to 城管's own system.
  w.now = at(2026, 3, 3, 10);
  auto outcome = w.part("urban", true, "同意开挖");
  REQUIRE(std::holds_alternative<std::vector<Event>>(outcome));
  auto events = std::get<std::vector<Event>>(outcome);
  REQUIRE(events.size() == 1);
  CHECK(std::get<ItemPartDecided>(events[0].body).part == 0);
  CHECK(w.state_of("excavation") == "accepted");
  auto outbox = outbox_for(*w.wf, w.state, events, w.state.version);
  REQUIRE(outbox.size() == 1);
  CHECK(outbox[0].department == "urban");
  CHECK(outbox[0].adapter == "urban_system");
  CHECK(outbox[0].operation == "countersign");
  CHECK(outbox[0].payload.find("\"decision\":\"approved\"") != std::string::npos);
  // A part is decided once.
  w.department = "urban";
  CHECK(w.refused(DecidePart{"excavation", "urban", false, "改主意"}, "reviewer").reason == "part_decided");
  // 市政 approves: the item's own approval follows in the same command, with its call.
  w.now = at(2026, 3, 4, 10);
  outcome = w.part("municipal", true, "");
  REQUIRE(std::holds_alternative<std::vector<Event>>(outcome));
  events = std::get<std::vector<Event>>(outcome);
  REQUIRE(events.size() >= 2);
  CHECK(std::holds_alternative<ItemPartDecided>(events[0].body));
  CHECK(std::holds_alternative<ItemTransitioned>(events[1].body));
  CHECK(w.state_of("excavation") == "approved");
  const auto& parts = w.item_state("excavation").parts;
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].decision == PartDecision::approved);
  CHECK(parts[0].note == "同意开挖");
  CHECK(parts[0].by == "reviewer-user");
  CHECK(parts[1].decision == PartDecision::approved);
  CHECK(parts[1].at == at(2026, 3, 4, 10));
  outbox = outbox_for(*w.wf, w.state, events, w.state.version);
  std::set<std::string> called;
  for (const auto& o : outbox) called.insert(o.department + "/" + o.operation);
  CHECK(called == std::set<std::string>{"municipal/countersign", "urban/submit"});
  // The parts survive the snapshot and a replay.
  const auto decoded = codec::decode_case(codec::encode_case(w.state), *w.wf);
  REQUIRE(decoded);
  CHECK(decoded->items[item].parts == parts);
  Case replayed;
  replayed.id = w.state.id;
  for (const auto& e : w.history) {
    const auto stored = codec::decode_event(event_type(e.body), codec::encode_event_payload(e), e.at);
    REQUIRE(stored);
    Event again = *stored;
    again.actor = e.actor;
    apply(*w.wf, replayed, again);
  }
  CHECK(replayed.items[item] == w.state.items[item]);
}

TEST_CASE("runtime: a refusal by one department of an all-rule joint item refuses the item", "[runtime][joint]") {
  JointWorld w("all");
  w.department = "urban";
  CHECK(w.refused(DecidePart{"excavation", "urban", false, ""}, "reviewer").reason == "reason_required");
  REQUIRE(std::holds_alternative<std::vector<Event>>(w.part("urban", true)));
  REQUIRE(std::holds_alternative<std::vector<Event>>(w.part("municipal", false, "管线迁改方案未经产权单位同意")));
  CHECK(w.state_of("excavation") == "rejected");
  const auto last = std::find_if(w.history.rbegin(), w.history.rend(),
                                 [](const Event& e) { return std::holds_alternative<ItemTransitioned>(e.body); });
  REQUIRE(last != w.history.rend());
  const auto& transitioned = std::get<ItemTransitioned>(last->body);
  CHECK(transitioned.fields.at("reason").find("区市政工程管理处：管线迁改方案未经产权单位同意") != std::string::npos);
}

TEST_CASE("runtime: a joint item (any) is approved by the first approval, refused only when all refused", "[runtime][joint]") {
  {
    JointWorld w("any");
    REQUIRE(std::holds_alternative<std::vector<Event>>(w.part("municipal", true)));
    CHECK(w.state_of("excavation") == "approved");
  }
  JointWorld w("any");
  REQUIRE(std::holds_alternative<std::vector<Event>>(w.part("urban", false, "不符合规划")));
  CHECK(w.state_of("excavation") == "accepted");
  REQUIRE(std::holds_alternative<std::vector<Event>>(w.part("municipal", false, "管线冲突")));
  CHECK(w.state_of("excavation") == "rejected");
}

TEST_CASE("runtime: a joint part is decided only after acceptance", "[runtime][joint]") {
  World w;
  w.use_flow(joint_flow("all"));
  w.now = at(2026, 3, 2, 10);
  w.ok(StartCase{{{"project", Value::of_text("文一路管线改造")}}, ""}, "clerk");
  w.department = "urban";
  CHECK(w.refused(DecidePart{"excavation", "urban", true, ""}, "reviewer").reason == "item_state");
}

TEST_CASE("runtime: a special procedure without pauses_clock runs inside the limit", "[runtime][special]") {
  World w;
  w.use_flow(clock_flow());
  w.now = at(2026, 3, 2, 10);
  w.start();
  w.supply_all();
  w.ok(FireEvent{"registration", "accept", {}});
  const auto reg = w.item("registration");
  const auto due = due_at(*w.wf, w.calendar, w.state, reg);
  w.now = at(2026, 3, 3, 10);
  w.ok(StartSpecialProcedure{"registration", "public_notice", "拟准予许可，公示"});
  CHECK(due_at(*w.wf, w.calendar, w.state, reg) == due);
  w.now = at(2026, 3, 5, 10);
  w.ok(EndSpecialProcedure{"registration", "", "公示期满无异议"});
  CHECK(due_at(*w.wf, w.calendar, w.state, reg) == due);
  CHECK(special_minutes(w.calendar, w.item_state("registration").specials.at(0), w.now) == 2 * 420);
}

TEST_CASE("runtime: special procedures are refused with reasons: undeclared, one at a time, before acceptance", "[runtime][special]") {
  World w;
  w.use_flow(clock_flow());
  w.now = at(2026, 3, 2, 10);
  w.start();
  w.supply_all();
  auto r = w.refused(StartSpecialProcedure{"registration", "site_inspection", "核实场所"});
  CHECK(r.reason == "clock_not_started");
  CHECK(r.message == "「设立登记」尚未受理，受理后才能开始特别程序。");
  w.ok(FireEvent{"registration", "accept", {}});
  r = w.refused(StartSpecialProcedure{"registration", "hearing", "听证"});
  CHECK(r.code == Rejection::Code::not_found);
  CHECK(r.reason == "no_special_procedure");
  CHECK(r.message == "「设立登记」没有“hearing”这一特别程序。它规定的特别程序有：「现场踏勘」、「公示」。");
  CHECK(r.details["procedures"] == std::vector<std::string>{"site_inspection", "public_notice"});
  r = w.refused(StartSpecialProcedure{"registration", "site_inspection", ""});
  CHECK(r.reason == "reason_required");
  r = w.refused(EndSpecialProcedure{"registration", "", "完成"});
  CHECK(r.reason == "no_special_running");
  w.ok(StartSpecialProcedure{"registration", "site_inspection", "核实场所"});
  r = w.refused(StartSpecialProcedure{"registration", "public_notice", "公示"});
  CHECK(r.reason == "special_running");
  CHECK(r.message == "「设立登记」的特别程序「现场踏勘」正在进行，结束后才能开始另一项。");
  r = w.refused(EndSpecialProcedure{"registration", "public_notice", "完成"});
  CHECK(r.reason == "other_special_running");
  w.ok(EndSpecialProcedure{"registration", "site_inspection", "一致"});
  r = w.refused(StartSpecialProcedure{"registration", "site_inspection", "再看一次"});
  CHECK(r.reason == "special_done");
  // An item that declares none.
  w.ok(FireEvent{"registration", "approve", {}}, "reviewer");
  r = w.refused(StartSpecialProcedure{"seal", "site_inspection", "核实"});
  CHECK(r.message == "「刻章」没有规定特别程序，不能开始特别程序。");
}

TEST_CASE("runtime: who may stop a clock: the item's staff roles and its own department's reviewer", "[runtime][clock]") {
  World w;
  w.use_flow(clock_flow());
  w.start();
  w.supply_all();
  w.ok(FireEvent{"registration", "accept", {}});
  // The applicant never stops the agency's clock.
  auto r = w.refused(PauseClock{"registration", "我想暂停"}, "applicant");
  CHECK(r.code == Rejection::Code::role_not_allowed);
  CHECK(r.reason == "role_not_allowed");
  r = w.refused(PauseClock{"", "我想暂停"}, "applicant");
  CHECK(r.reason == "role_not_allowed");
  r = w.refused(StartSpecialProcedure{"registration", "site_inspection", "核实"}, "applicant");
  CHECK(r.reason == "role_not_allowed");
  // A role the lifecycle gives nothing to (the supervisor urges; it does not handle items).
  r = w.refused(PauseClock{"registration", "督办暂停"}, "supervisor");
  CHECK(r.reason == "role_not_allowed");
  // A reviewer of another department: neither the item named nor "every item".
  w.department = "police";
  r = w.refused(PauseClock{"registration", "现场核查"}, "reviewer");
  CHECK(r.reason == "other_department");
  CHECK(r.message == "「设立登记」由市场监管局办理，只有该部门的审批人员可以掌握它的计时。");
  r = w.refused(PauseClock{"", "现场核查"}, "reviewer");
  CHECK(r.reason == "other_department");
  r = w.refused(StartSpecialProcedure{"registration", "site_inspection", "核实"}, "reviewer");
  CHECK(r.reason == "other_department");
  // The item's own department's reviewer may; so may the window clerk.
  w.department = "market";
  w.ok(PauseClock{"", "现场核查"}, "reviewer");
  r = w.refused(ResumeClock{"registration"}, "applicant");
  CHECK(r.reason == "role_not_allowed");
  w.department = "police";
  CHECK(w.refused(ResumeClock{"registration"}, "reviewer").reason == "other_department");
  w.department.clear();
  w.ok(ResumeClock{"registration"}, "clerk");
}

TEST_CASE("runtime: an event's title in the lifecycle is what messages and the model say", "[runtime][titles]") {
  World w;
  // approve is titled 准予许可 on one of its transitions; site_visit is the designer's own event.
  w.use_flow(testing::replace(testing::replace(kFlow, "  on approve: accepted -> approved by reviewer",
                                               "  on site_visit \"现场踏勘\": accepted -> accepted by reviewer\n"
                                               "  on approve \"准予许可\": accepted -> approved by reviewer"),
                              "  on reject:", "  on approve: submitted -> approved by reviewer when materials.pending > 100\n  on reject:"));
  const auto& lc = w.wf->lifecycles[w.wf->items[w.item("registration")].lifecycle];
  CHECK(lc.event_title("approve") == "准予许可");
  CHECK(lc.event_title("site_visit") == "现场踏勘");
  CHECK(lc.event_title("accept") == "受理");  // built-in, not written
  for (const auto& t : lc.transitions) {
    if (t.event == "approve") CHECK(t.title == "准予许可");  // titled once, titled on every transition
  }
  w.start();
  auto r = w.refused(FireEvent{"registration", "approve", {}}, "clerk");
  CHECK(r.message.find("「准予许可」") != std::string::npos);
  CHECK(r.message.find("审批通过") == std::string::npos);
  r = w.refused(FireEvent{"registration", "no_such_event", {}}, "clerk");
  INFO(r.message);
  CHECK(r.message.find("「受理」") != std::string::npos);
}

TEST_CASE("runtime: a bundle's checks across fields refuse a form with their own message, shown at the first field they read", "[runtime][form][checks]") {
  World w;
  // A strict bound (`min 0` lets 0 through: bounds are inclusive) and a rule across two fields.
  w.use_flow(testing::replace(kFlow, "  use registration\n",
                              "  check capital > 0 \"注册资本应大于0\"\n"
                              "  check category == \"company\" or capital <= 1000000 \"个体的注册资本不超过100万元\"\n"
                              "  use registration\n"));
  REQUIRE(w.wf->rules.size() == 2);
  CHECK(w.wf->rules[0].text == "capital > 0");
  auto form = w.form();
  form["capital"] = Value::of_int(0);  // min 0 holds (inclusive), the check does not
  auto r = w.refused(StartCase{form, ""});
  REQUIRE(r.field_errors.size() == 1);
  CHECK(r.field_errors[0].field == "capital");
  CHECK(r.field_errors[0].message == "注册资本应大于0");
  // The rule across fields is shown at the first field it reads (category).
  form["capital"] = Value::of_decimal(*dsl::Decimal::parse("2000000"));
  form["category"] = Value::of_text("sole");
  r = w.refused(StartCase{form, ""});
  REQUIRE(r.field_errors.size() == 1);
  CHECK(r.field_errors[0].field == "category");
  CHECK(r.field_errors[0].message == "个体的注册资本不超过100万元");
  // A field that is wrong on its own is reported as such; the checks reading it wait for it.
  form["capital"] = Value::of_text("很多");
  r = w.refused(StartCase{form, ""});
  REQUIRE(r.field_errors.size() == 1);
  CHECK(r.field_errors[0].message == "「注册资本」应为数字");
  form["capital"] = Value::of_decimal(*dsl::Decimal::parse("500000"));
  w.ok(StartCase{form, ""});
}

// Event payloads are written as text member by member, not through a JSON tree
// (docs/performance.md): the text must be what boost::json writes for the same object, every
// string escaped, and decode back to the same event.
TEST_CASE("codec: every event's payload is the JSON boost::json writes, and decodes to the same event", "[runtime][codec]") {
  const std::string awkward = "引号\"、反斜杠\\、换行\n、制表\t、控制\x01字符";
  const std::vector<EventBody> bodies{
      CaseStarted{"newborn", 3, {dsl::Value::of_text(awkward), dsl::Value::of_int(-7), dsl::Value{}}, "110***2X", "mobile"},
      MaterialAttached{2, "ab12", awkward, true},
      MaterialVerified{1},
      MaterialRejected{1, awkward},
      MaterialProduced{4, 2},
      MaterialTolerated{3, 1},
      ItemActivated{2, 1},
      ItemNotApplicable{5},
      ItemCancelled{6, 2},
      ItemTransitioned{1, 4, 2, 3, {{"reason", awkward}, {"note", ""}}, true},
      ItemTransitioned{1, 4, 2, 3, {}, false},
      ClockPaused{1, awkward},
      ClockResumed{1},
      ItemWarned{2},
      ItemOverdue{2},
      CaseCompleted{},
      CaseWithdrawn{awkward},
      CaseDelivered{"mail"},
      CaseRated{2, awkward, 1'772'000'000'000},
      CaseRated{5, "", std::nullopt},
      PersonalDataErased{{0, 3}, "retain 3 years"},
      SpecialProcedureStarted{1, 0, awkward},
      SpecialProcedureEnded{1, 0, awkward},
      SpecialProcedureWarned{1, 0},
      SpecialProcedureOverdue{1, 0},
      ItemUrged{2, awkward},
      DeliveryChosen{"mail", awkward, "13900139000", awkward},
      DeliveryChosen{"window", "", "", ""},
      RectificationAnswered{awkward},
      ItemPartDecided{1, 1, false, awkward},
      ItemPartDecided{1, 0, true, ""},
  };
  for (const auto& body : bodies) {
    const Event e{1'772'000'000'000, awkward, body};
    const auto payload = codec::encode_event_payload(e);
    INFO(event_type(body) << ": " << payload);
    boost::system::error_code ec;
    const auto parsed = boost::json::parse(payload, ec);
    REQUIRE(!ec);
    CHECK(boost::json::serialize(parsed) == payload);
    CHECK(parsed.as_object().at("actor").as_string() == awkward);
    const auto decoded = codec::decode_event(event_type(body), payload, e.at);
    REQUIRE(decoded);
    CHECK(decoded->actor == awkward);
    CHECK(codec::encode_event_payload(*decoded) == payload);
  }
}
