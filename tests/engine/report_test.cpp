// Service figures from a store: three cases driven on a virtual clock, counted by hand.
#include <catch2/catch.hpp>

#include <onevisit/engine/report.hpp>

#include "cli/case_commands.hpp"

#include <boost/json.hpp>

#include <filesystem>
#include <set>
#include <sstream>

#include "../test_support.hpp"

using namespace onevisit;
using namespace onevisit::engine;
using dsl::Value;

namespace {

const std::string kFlow = R"(
lifecycle standard {
  state submitted initial; state accepted; state correcting pauses_clock
  state approved final; state rejected final failed
  on accept: submitted -> accepted by clerk
  on request_correction: submitted, accepted -> correcting by clerk requires reason
  on corrected: correcting -> submitted by applicant
  on approve: accepted -> approved by reviewer
  warn at 80%
  on overdue do escalate(supervisor)
}
lifecycle quick {
  state submitted initial; state approved final
  on approve: submitted -> approved by clerk
}
department market "市场监管局" adapter market_registry
department police "公安局" adapter seal_system
material id_card "身份证" from elicense "居民身份证"
material articles "公司章程" upload pdf original
item registration "设立登记" by market { limit 2 workdays; needs id_card, articles }
bundle startup "企业开办" version 1 {
  promise 3 workdays; lifecycle standard
  form { company_name "企业名称": text required }
  use registration
  item notice "告知" by police { immediate; lifecycle quick }
  rating { bad at most 2; rectify within 15 workdays }
}
)";

Timestamp at(int year, int month, int day, int hour = 10) {
  return (dsl::days_from_civil({year, month, day}) * 24 * 60 + hour * 60) * 60'000;
}

struct Office {
  VirtualClock clock{at(2026, 3, 2)};  // Monday
  std::unique_ptr<Engine> engine;

  explicit Office(const std::string& flow = kFlow) {
    auto opened = Engine::open({":memory:", &clock});
    REQUIRE(opened);
    engine = std::move(*opened);
    auto deployed = engine->deploy_sources({{"startup.flow", flow}}, {"startup.flow"});
    if (!deployed) FAIL(deployed.error().message << "\n" << testing::describe(deployed.error().diagnostics));
  }
  void start(const std::string& id, const std::string& channel = "window") {
    CommandOptions options{"", "clerk", "clerk", channel};
    auto r = engine->start_case("startup", {{"company_name", Value::of_text("杭州小馆")}}, "", options, id);
    if (!r) FAIL(r.error().message);
  }
  void send(const std::string& id, CommandBody body, const std::string& role) {
    auto r = engine->execute(id, std::move(body), {"", role, role});
    if (!r) FAIL(r.error().message);
  }
  void fire(const std::string& id, const std::string& item, const std::string& event, const std::string& role,
            std::map<std::string, std::string> fields = {}) {
    send(id, FireEvent{item, event, std::move(fields)}, role);
  }
};

}  // namespace

TEST_CASE("report: service figures per bundle and overall", "[report]") {
  Office office;
  // A: on time, one working day from start to the last item, delivered at the window, rated 5.
  office.start("A");
  office.send("A", AttachMaterial{"id_card", "", "", true}, "clerk");
  office.send("A", AttachMaterial{"articles", Engine::content_hash("%PDF"), "articles.pdf", false}, "clerk");
  office.fire("A", "notice", "approve", "clerk");
  office.fire("A", "registration", "accept", "clerk");
  office.clock.set(at(2026, 3, 3));
  office.fire("A", "registration", "approve", "reviewer");
  office.send("A", Deliver{"window"}, "clerk");
  office.send("A", Rate{5, ""}, "applicant");

  // B (next day): one correction round, the registration runs past its limit, delivered by
  // mail, rated 1.
  office.clock.set(at(2026, 3, 4));
  office.start("B");
  office.send("B", AttachMaterial{"id_card", "", "", true}, "clerk");
  office.fire("B", "notice", "approve", "clerk");
  office.fire("B", "registration", "request_correction", "clerk", {{"reason", "缺少签字"}});
  office.fire("B", "registration", "corrected", "applicant");
  office.fire("B", "registration", "accept", "clerk");
  office.clock.set(at(2026, 3, 12));
  REQUIRE(office.engine->fire_due_timers());
  office.fire("B", "registration", "approve", "reviewer");
  office.send("B", Deliver{"mail"}, "clerk");
  office.send("B", Rate{1, "太慢了"}, "applicant");

  // C: withdrawn at once.
  office.start("C");
  office.send("C", Withdraw{"申请人撤回"}, "clerk");

  auto report = service_report(*office.engine, {});
  REQUIRE(report);
  REQUIRE(report->bundles.size() == 1);
  const auto& f = report->overall;
  CHECK(report->bundles[0].bundle_id == "startup");
  CHECK(report->bundles[0].cases_started == f.cases_started);
  CHECK(f.cases_started == 3);
  CHECK(f.cases_completed == 2);
  CHECK(f.cases_withdrawn == 1);
  CHECK(f.items_finished == 4);
  CHECK(f.items_on_time == 3);
  CHECK(f.on_time_rate == Approx(75.0));
  CHECK(f.immediate_items == 2);
  CHECK(f.immediate_rate == Approx(50.0));
  CHECK(f.corrections == 1);
  CHECK(f.corrections_per_case == Approx(0.33));
  // A: intake + window delivery; B: intake + one correction; C: intake.
  CHECK(f.average_visits == Approx(5.0 / 3).epsilon(0.01));
  CHECK(f.ratings == std::array<std::size_t, 5>{1, 0, 0, 0, 1});
  CHECK(f.rated == 2);
  CHECK(f.good_rating_rate == Approx(50.0));
  // B's registration was overdue but has finished: no case is overdue now.
  CHECK(f.overdue_cases_by_department.empty());
  CHECK(f.items_overdue_running == 0);
  CHECK(f.average_workdays > 1.0);
  // Issue 14: every case was taken at a window, so none is fully online (it said 66.7%).
  CHECK(f.fully_online == 0);
  CHECK(f.fully_online_rate == Approx(0.0));
  CHECK(f.cases_by_channel == std::map<std::string, std::size_t>{{"window", 3}});
  CHECK(f.materials_uploaded == 1);
  CHECK(f.materials_from_elicense == 2);

  // The period picks cases by their start: only A started on Monday.
  auto monday = service_report(*office.engine, {at(2026, 3, 2, 0), at(2026, 3, 3, 0)});
  REQUIRE(monday);
  CHECK(monday->overall.cases_started == 1);
  CHECK(monday->overall.average_workdays == Approx(1.0));
  CHECK(monday->overall.on_time_rate == Approx(100.0));
  CHECK(monday->overall.average_visits == Approx(2.0));
  auto empty = service_report(*office.engine, {at(2027, 1, 1), std::nullopt});
  REQUIRE(empty);
  CHECK(empty->overall.cases_started == 0);
  CHECK(empty->bundles.empty());
  CHECK(empty->overall.on_time_rate == 0);
}

// Issue 14: 全程网办率 was 85.7% for cases all taken at a window, and 按时办结率 100% while
// items were overdue. The channel counts, and so do items running past their deadline.
TEST_CASE("report: time waiting for the applicant and in special-procedure states apart from corrections", "[report]") {
  std::string flow = testing::replace(kFlow, "state correcting pauses_clock",
                                      "state correcting pauses_clock\n"
                                      "  state awaiting_fee \"待申请人缴费\" pauses_clock as waiting\n"
                                      "  state surveying \"现场踏勘中\" pauses_clock as special");
  flow = testing::replace(flow, "  on approve: accepted -> approved by reviewer",
                          "  on await_fee \"通知缴费\": accepted -> awaiting_fee by reviewer\n"
                          "  on fee_paid \"已缴费\": awaiting_fee -> accepted by applicant\n"
                          "  on survey \"现场踏勘\": accepted -> surveying by reviewer\n"
                          "  on surveyed \"踏勘完成\": surveying -> accepted by reviewer\n"
                          "  on approve: accepted -> approved by reviewer");
  Office office(flow);
  office.start("A");
  office.fire("A", "registration", "accept", "clerk");
  office.fire("A", "registration", "await_fee", "reviewer");
  office.clock.set(at(2026, 3, 3));  // one working day waiting for the fee
  office.fire("A", "registration", "fee_paid", "applicant");
  office.fire("A", "registration", "survey", "reviewer");
  office.clock.set(at(2026, 3, 5));  // two in the survey
  office.fire("A", "registration", "surveyed", "reviewer");
  office.fire("A", "registration", "request_correction", "clerk", {{"reason", "缺少签字"}});
  office.clock.set(at(2026, 3, 6));  // one correcting
  office.fire("A", "registration", "corrected", "applicant");

  auto report = service_report(*office.engine, {});
  REQUIRE(report);
  const auto& f = report->overall;
  CHECK(f.waiting_workdays == Approx(1.0));
  CHECK(f.correction_workdays == Approx(1.0));
  CHECK(f.special_procedures == 1);
  CHECK(f.special_procedure_workdays == Approx(2.0));
  CHECK(f.special_procedure_workdays_paused == Approx(2.0));
  // Only the correction is one: one notice, one visit besides the intake at the window.
  CHECK(f.corrections == 1);
  CHECK(f.average_visits == Approx(2.0));
}

TEST_CASE("report: fully online counts the channel, overdue running items are not on time, each bar lists its cases",
          "[report][channel]") {
  Office office;
  // W at the window, O online, M on the mobile app, K at a kiosk; A from the web but with an
  // original to show at the window.
  for (const auto& [id, channel] : std::vector<std::pair<std::string, std::string>>{
           {"W", "window"}, {"O", "online"}, {"M", "mobile"}, {"K", "kiosk"}}) {
    office.start(id, channel);
    office.send(id, AttachMaterial{"id_card", "", "", true}, "clerk");
    office.fire(id, "notice", "approve", "clerk");
  }
  office.start("A", "online");
  office.send("A", AttachMaterial{"articles", Engine::content_hash("%PDF"), "articles.pdf", false}, "clerk");
  office.fire("A", "notice", "approve", "clerk");
  CHECK_FALSE(office.engine->start_case("startup", {{"company_name", Value::of_text("小馆")}}, "", {"", "clerk", "clerk", "fax"}));
  auto report = service_report(*office.engine, {});
  REQUIRE(report);
  auto f = report->overall;
  CHECK(f.cases_by_channel == std::map<std::string, std::size_t>{{"kiosk", 1}, {"mobile", 1}, {"online", 2}, {"window", 1}});
  CHECK(f.fully_online == 3);
  CHECK(f.fully_online_rate == Approx(60.0));
  CHECK(f.average_visits == Approx(1.0 / 5));  // W's intake at the window
  CHECK(f.items_finished == 5);                 // the notices (immediate), on time
  CHECK(f.on_time_rate == Approx(100.0));

  // Two weeks on, every registration runs past its 2 working days: they are not on time.
  office.clock.set(at(2026, 3, 16));
  report = service_report(*office.engine, {});
  REQUIRE(report);
  f = report->overall;
  CHECK(f.items_overdue_running == 5);
  CHECK(f.on_time_rate == Approx(50.0));  // 5 on time of 5 finished + 5 running late
  CHECK(f.overdue_cases_by_department == std::map<std::string, std::size_t>{{"market", 5}});

  // Each bar's filter lists exactly the cases it counts.
  const auto listed = [&](const CaseQuery& q) {
    std::set<std::string> ids;
    const auto cases = office.engine->list_cases(q);
    REQUIRE(cases);
    for (const auto& c : *cases) ids.insert(c.case_id);
    return ids;
  };
  CHECK(listed(f.cases).size() == 5);
  CHECK(listed(f.cases_of_channel.at("online")) == std::set<std::string>{"A", "O"});
  CHECK(listed(f.cases_of_channel.at("window")) == std::set<std::string>{"W"});
  CHECK(listed(f.overdue_cases_of_department.at("market")).size() == 5);
  office.fire("O", "registration", "accept", "clerk");
  office.fire("O", "registration", "approve", "reviewer");
  report = service_report(*office.engine, {});
  REQUIRE(report);
  // O's registration finished late (no scheduler fired its overdue timer): not on time either.
  CHECK(report->overall.items_finished == 6);
  CHECK(report->overall.items_on_time == 5);
  CHECK(report->overall.overdue_cases_by_department.at("market") == 4);
  CHECK(listed(report->overall.overdue_cases_of_department.at("market")).size() == 4);
  // A period's filter keeps to the period.
  auto later = service_report(*office.engine, {at(2026, 3, 10), std::nullopt});
  REQUIRE(later);
  CHECK(listed(later->overall.cases).empty());
}

TEST_CASE("report: onevisit report reads an SQLite file, in text and JSON", "[report]") {
  namespace fs = std::filesystem;
  const testing::ScratchDir scratch("onevisit-report-test");
  const fs::path& dir = scratch.path();
  const auto database = (dir / "cases.db").string();
  {
    VirtualClock clock(at(2026, 3, 2));
    auto opened = Engine::open({database, &clock});
    REQUIRE(opened);
    REQUIRE((*opened)->deploy_sources({{"startup.flow", kFlow}}, {"startup.flow"}));
    REQUIRE((*opened)->start_case("startup", {{"company_name", Value::of_text("杭州小馆")}}, "", {"", "clerk", "clerk"}, "R1"));
  }
  std::ostringstream out, err;
  REQUIRE(cli::run_report({database, "2026-03-01", "2026-03-02", cli::OutputFormat::json}, out, err) == 0);
  const auto report = boost::json::parse(out.str());
  CHECK(report.at("overall").at("cases_started").to_number<int>() == 1);
  CHECK(report.at("bundles").at(0).at("bundle").as_string() == "startup");
  std::ostringstream none;
  REQUIRE(cli::run_report({database, "2026-03-03", "", cli::OutputFormat::json}, none, err) == 0);
  CHECK(boost::json::parse(none.str()).at("overall").at("cases_started").to_number<int>() == 0);
  std::ostringstream text;
  REQUIRE(cli::run_report({database, "", "", cli::OutputFormat::text}, text, err) == 0);
  CHECK(text.str().find("startup  企业开办") != std::string::npos);
  std::ostringstream bad_out, bad_err;
  CHECK(cli::run_report({database, "March", "", cli::OutputFormat::text}, bad_out, bad_err) == 2);
  CHECK(bad_err.str().find("YYYY-MM-DD") != std::string::npos);
}
