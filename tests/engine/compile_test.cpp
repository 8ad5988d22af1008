#include <catch2/catch.hpp>

#include <algorithm>

#include <onevisit/dsl/expr.hpp>
#include <onevisit/engine/calendar.hpp>
#include <onevisit/engine/compile.hpp>
#include <onevisit/engine/engine.hpp>
#include <onevisit/engine/figures.hpp>
#include <onevisit/engine/graph_export.hpp>
#include <onevisit/engine/workflow.hpp>

#include "cli/commands.hpp"

#include "../test_support.hpp"
#include "engine_support.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

using namespace onevisit;
using namespace onevisit::engine;
using onevisit::testing::describe;

namespace {

using onevisit::testing::replace;

const std::int64_t kToday = dsl::days_from_civil({2026, 12, 7});

const std::string kLifecycle = R"(
lifecycle standard {
  state submitted initial; state accepted; state correcting pauses_clock; state approved final; state rejected final
  on accept: submitted -> accepted by clerk
  on request_correction: submitted, accepted -> correcting by clerk requires reason
  on corrected: correcting -> submitted by applicant
  on approve: accepted -> approved by reviewer when materials.verified do call(dept.submit)
  on reject: accepted -> rejected by reviewer requires reason
}
)";

// A small bundle whose figures are easy to count by hand.
const std::string kBundle = kLifecycle + R"(
department market "市场监管局"
department police "公安局"
department tax "税务局"
material id_card "身份证" from elicense "居民身份证"
material articles "公司章程" upload pdf
material lease "租赁合同" upload pdf original
material license "营业执照" produced_by registration
item registration "设立登记" by market { limit 1 workday statutory 15 workdays; needs id_card, articles, lease; produces license }
bundle startup "企业开办" version 1 {
  promise 3 workdays; lifecycle standard
  form { needs_invoice: bool default true; needs_seal: bool default true }
  use registration
  item seal "刻章" by police after registration when needs_seal { needs license, id_card; limit 0.5 workday statutory 3 workdays }
  item invoice "发票" by tax after registration when needs_invoice { needs license, id_card, articles; limit 1 workday statutory 10 workdays }
}
)";

dsl::Program load_main(const std::string& text) { return dsl::load_text("main.flow", text, testing::memory_reader({})); }

// Through the one entry point; the test fails on any error.
CompiledSet compile_text(const std::string& text) {
  auto c = check_and_compile(load_main(text));
  INFO(describe(c ? c->diagnostics : c.error()));
  REQUIRE(c);
  return std::move(*c);
}

// What the analysis adds to the checker's findings, for a text the checker accepts: every
// diagnostic of check_and_compile that dsl::check does not report.
std::vector<dsl::LocatedDiagnostic> findings(const std::string& text) {
  const auto program = load_main(text);
  const auto checked = program.located(dsl::check(program));
  INFO(describe(checked));
  REQUIRE(testing::error_count(checked) == 0);
  const auto c = check_and_compile(load_main(text));
  std::vector<dsl::LocatedDiagnostic> out;
  for (const auto& d : c ? c->diagnostics : c.error()) {
    const bool checker = std::any_of(checked.begin(), checked.end(), [&](const dsl::LocatedDiagnostic& x) {
      return x.diagnostic.code == d.diagnostic.code && x.diagnostic.message == d.diagnostic.message;
    });
    if (!checker) out.push_back(d);
  }
  return out;
}

}  // namespace

TEST_CASE("compile: the model of a small bundle", "[compile]") {
  auto c = compile_text(kBundle);
  REQUIRE(c.workflows.size() == 1);
  const Workflow& wf = *c.workflows[0];
  CHECK(wf.bundle_id == "startup");
  CHECK(wf.version == 1);
  CHECK(wf.source_hash.size() == 64);
  REQUIRE(wf.items.size() == 3);
  CHECK(wf.items[0].id == "registration");
  CHECK(wf.items[0].statutory->amount == dsl::Decimal::from_int(15));
  CHECK(wf.items[1].after == std::vector<ItemIndex>{0});
  CHECK(wf.items[0].dependents == std::vector<ItemIndex>{1, 2});
  CHECK(wf.topological_order.front() == 0);
  // Routing: every material knows where it comes from and who needs it.
  const auto license = wf.find_material("license");
  REQUIRE(license);
  CHECK(wf.materials[*license].source == MaterialSource::produced);
  CHECK(wf.materials[*license].producer == 0u);
  CHECK(wf.materials[*license].consumers == std::vector<ItemIndex>{1, 2});
  CHECK(wf.materials[*wf.find_material("id_card")].consumers.size() == 3);
  // The lifecycle is a graph.
  const auto& lc = wf.lifecycles[wf.items[0].lifecycle];
  CHECK(lc.transitions_from(*lc.find_state("accepted")).size() == 3);
  CHECK(lc.transitions[3].guard.has_value());
  const auto critical = wf.critical_path();
  CHECK(critical.workdays == dsl::Decimal::from_int(2));
  CHECK(critical.items == std::vector<ItemIndex>{0, 2});
}

TEST_CASE("compile: identity ignores layout and comments, not content", "[compile]") {
  const auto a = compile_text(kBundle);
  const auto b = compile_text("# a comment\n" + replace(kBundle, "promise 3 workdays;", "promise   3 workdays\n"));
  const auto c = compile_text(replace(kBundle, "promise 3 workdays;", "promise 4 workdays;"));
  CHECK(a.workflows[0]->source_hash == b.workflows[0]->source_hash);
  CHECK(a.workflows[0]->source_hash != c.workflows[0]->source_hash);
}

TEST_CASE("analysis: unreachable, dead-end and exiting final states", "[analysis]") {
  CHECK(findings(kBundle).empty());
  auto d = findings(replace(kBundle, "state rejected final", "state rejected final; state orphan final"));
  CHECK(testing::has_code(d, "unreachable-state"));
  d = findings(replace(kBundle, "state accepted;", "state accepted; state limbo;") +
               "lifecycle other { state a initial; state limbo2; state done final; on go: a -> limbo2; on end: a -> done }\n");
  CHECK(testing::has_code(d, "dead-end-state"));
  CHECK(describe(d).find("state 'limbo2' is not final") != std::string::npos);
  d = findings(replace(kBundle, "on reject: accepted -> rejected", "on reopen: approved -> accepted by clerk\n  on reject: accepted -> rejected"));
  CHECK(testing::has_code(d, "final-state-exits"));
}

TEST_CASE("analysis: guards that can never hold", "[analysis]") {
  auto d = findings(replace(kBundle, "when materials.verified", "when 1 > 2"));
  REQUIRE(testing::has_code(d, "guard-never-holds"));
  CHECK(findings(replace(kBundle, "when materials.verified", "when 1 < 2")).empty());
  // A guard reading a form field this bundle does not have.
  // A guard reading a form field this bundle does not have: the front end says so (it binds
  // the guard against the bundle's form), and the bundle is not compiled.
  const auto checked = testing::check_text(replace(kBundle, "when materials.verified", "when form.capital > 0"));
  CHECK(describe(checked).find("'form' has no member 'capital' (in a guard of lifecycle 'standard', used by bundle 'startup')") !=
        std::string::npos);
  CHECK(findings(replace(kBundle, "when materials.verified", "when form.needs_seal")).empty());
}

TEST_CASE("bind: dependency cycles are the binder's error, reported as a path before the bundle's not-compiled", "[analysis][bind]") {
  const auto text = replace(kBundle, "use registration", "use registration after invoice");
  const auto program = load_main(text);
  const auto bound = dsl::bind(program);
  CHECK(bound.document.bundles.empty());
  const auto checked = program.located(bound.diagnostics);
  REQUIRE(testing::has_code(checked, "dependency-cycle"));
  CHECK(describe(checked).find("registration -> invoice -> registration") != std::string::npos);
  const auto cycle = std::find_if(checked.begin(), checked.end(), [](const auto& d) { return d.diagnostic.code == "dependency-cycle"; });
  const auto follow_on = std::find_if(checked.begin(), checked.end(), [](const auto& d) { return d.diagnostic.code == "not-compiled"; });
  REQUIRE(follow_on != checked.end());
  CHECK(cycle < follow_on);
  // The one entry point refuses it too, and compiles no workflow for the bundle.
  CHECK_FALSE(check_and_compile(load_main(text)));
}

TEST_CASE("analysis: materials that come from nowhere or too late", "[analysis]") {
  // The producer is a catalog item the bundle does not use.
  auto d = findings(kLifecycle + R"(
department market "市场"
material license "执照" produced_by registration
item registration "登记" by market { needs license }
item other "其他" by market { needs license }
bundle b version 1 { lifecycle standard; use other }
)");
  CHECK(testing::has_code(d, "material-from-nowhere"));
  // The producer runs in parallel, not before.
  d = findings(replace(kBundle, "item seal \"刻章\" by police after registration", "item seal \"刻章\" by police"));
  REQUIRE(testing::has_code(d, "material-not-ready"));
  CHECK(describe(d).find("add 'after registration'") != std::string::npos);
}

TEST_CASE("analysis: a producer that may not run while its consumer does", "[analysis]") {
  auto text = replace(kBundle, "use registration", "use registration when needs_seal");
  auto d = findings(text);
  REQUIRE(testing::has_code(d, "material-may-be-missing"));
  CHECK(describe(d).find("e.g. when needs_invoice = true, needs_seal = false") != std::string::npos);
  // The consumer's condition implies the producer's: fine.
  text = replace(replace(kBundle, "use registration", "use registration when needs_seal or needs_invoice"), "", "");
  CHECK(!testing::has_code(findings(text), "material-may-be-missing"));
}

TEST_CASE("analysis: a critical path longer than the promise", "[analysis]") {
  const auto d = findings(replace(kBundle, "promise 3 workdays", "promise 1.5 workdays"));
  REQUIRE(testing::has_code(d, "promise-too-short"));
  CHECK(describe(d).find("critical path takes 2 workdays: registration (1 workday) -> invoice (1 workday)") != std::string::npos);
}

TEST_CASE("figures: counted by hand", "[figures]") {
  auto c = compile_text(kBundle);
  const Workflow& wf = *c.workflows[0];
  // All three items: needs 3 + 2 + 3 = 8 separately; bundled: id_card (e-license) and
  // license (produced inside) drop out, leaving articles and lease = 2. Three departments,
  // so three trips separately; lease must be shown in the original, so one window visit.
  // Working days: statutory 15 + 3 + 10 = 28 separately; critical path 1 + 1 = 2 bundled.
  auto f = compute_figures(wf, {}, kToday);
  CHECK(f.items == 3);
  CHECK(f.departments == 3);
  CHECK(f.materials_separate == 8);
  CHECK(f.materials_bundled == 2);
  CHECK(f.visits_separate == 3);
  CHECK(f.visits_bundled == 1);
  CHECK(f.workdays_separate == dsl::Decimal::from_int(28));
  CHECK(f.workdays_bundled == dsl::Decimal::from_int(2));
  CHECK(f.reduction_materials == Approx(75.0));
  CHECK(f.reduction_visits == Approx(66.7));
  CHECK(f.reduction_workdays == Approx(92.9));
  CHECK(figures_json(f) ==
        "{\"bundle\":\"startup\",\"version\":1,\"items\":3,\"departments\":3,\"materials_separate\":8,"
        "\"materials_bundled\":2,\"visits_separate\":3,\"visits_bundled\":1,\"workdays_separate\":28,"
        "\"workdays_bundled\":2,\"reduction_materials\":75,\"reduction_visits\":66.7,\"reduction_workdays\":92.9,"
        "\"special_procedures\":0,\"special_workdays_outside\":0}");
  // Without an invoice: needs 3 + 2 = 5, bundled 2; statutory 15 + 3; path 1 + 0.5.
  auto given = parse_field_value(wf, "needs_invoice", "false");
  REQUIRE(given);
  f = compute_figures(wf, {{"needs_invoice", *given}}, kToday);
  CHECK(f.items == 2);
  CHECK(f.materials_separate == 5);
  CHECK(f.workdays_separate == dsl::Decimal::from_int(18));
  CHECK(f.workdays_bundled == *dsl::Decimal::parse("1.5"));
  CHECK(!parse_field_value(wf, "needs_invoyce", "false"));
  CHECK(parse_field_value(wf, "needs_invoyce", "false").error().find("（needs_invoice）？") != std::string::npos);
  CHECK(!parse_field_value(wf, "needs_invoice", "maybe"));
}

TEST_CASE("graph: DOT that Graphviz accepts, Mermaid text", "[graph]") {
  auto c = compile_text(kBundle);
  const Workflow& wf = *c.workflows[0];
  const auto dot = bundle_dot(wf);
  CHECK(dot.find("subgraph cluster_0") != std::string::npos);
  CHECK(dot.find("市场监管局") != std::string::npos);
  CHECK(dot.find("#c0392b") != std::string::npos);  // the critical path is marked
  const auto mermaid = bundle_mermaid(wf);
  CHECK(mermaid.find("flowchart LR") != std::string::npos);
  CHECK(mermaid.find("class item_0 critical") != std::string::npos);
  CHECK(lifecycle_mermaid(wf.lifecycles[0]).find("[*] --> submitted") != std::string::npos);

  // Render through the CLI with Graphviz: every bundled workflow and lifecycle.
  for (const auto& path : testing::workflow_files()) {
    if (path.string().find("/bundles/") == std::string::npos) continue;
    INFO(path.string());
    std::ostringstream out, err;
    REQUIRE(cli::run_graph({path.string(), "", "", cli::GraphFormat::svg}, out, err) == 0);
    CHECK(out.str().find("<svg") != std::string::npos);
    CHECK(err.str().empty());
    std::ostringstream lc_out;
    CHECK(cli::run_graph({path.string(), "", "standard", cli::GraphFormat::svg}, lc_out, err) == 0);
    CHECK(lc_out.str().find("<svg") != std::string::npos);
  }
}

TEST_CASE("figures: the stats command", "[figures][cli]") {
  std::ostringstream out, err;
  const std::string newborn = std::string(ONEVISIT_SOURCE_DIR) + "/workflows/bundles/newborn.flow";
  REQUIRE(cli::run_stats({{newborn}, "", {"mother_hukou_local=true"}, cli::OutputFormat::json}, out, err) == 0);
  const std::string json = out.str();
  for (const char* key : {"bundle", "version", "items", "departments", "materials_separate", "materials_bundled",
                          "visits_separate", "visits_bundled", "workdays_separate", "workdays_bundled",
                          "reduction_materials", "reduction_visits", "reduction_workdays"}) {
    CHECK(json.find("\"" + std::string(key) + "\":") != std::string::npos);
  }
  std::ostringstream bad;
  CHECK(cli::run_stats({{newborn}, "", {"mother_hukou_local=perhaps"}, cli::OutputFormat::json}, out, bad) == 2);
  CHECK(bad.str().find("应为是或否") != std::string::npos);
}

// Issue 13: stats evaluated today() as 1970-01-01, so a 1980-born applicant was -10 years old
// and age conditions came out as if the applicant were a child.
TEST_CASE("figures: stats reads today's date, or --today", "[figures][cli]") {
  const std::string disability = std::string(ONEVISIT_SOURCE_DIR) + "/workflows/bundles/disability_services.flow";
  // The pension subsidy applies under 60: born 1970-01-01, 56 on 2026-12-07 and 60 on 2030-01-01.
  const std::vector<std::string> given = {"card_status=new", "severe_disability=true", "applicant_id=110105197001010011"};
  auto items_on = [&](const std::string& today) {
    std::ostringstream out, err;
    cli::StatsOptions options{{disability}, "", given, cli::OutputFormat::json, today};
    REQUIRE(cli::run_stats(options, out, err) == 0);
    const auto json = out.str();
    const auto at = json.find("\"items\":");
    REQUIRE(at != std::string::npos);
    return std::stoi(json.substr(at + 8));
  };
  // Without --today: the real date in the offices' time zone (UTC+8).
  const auto now_days = engine::day_of(engine::SystemClock().now() / 60'000);
  CHECK(items_on("") == items_on(dsl::to_string(dsl::Value::of_date(now_days))));
  CHECK(items_on("2026-12-07") == items_on("2030-01-01") + 1);
  std::ostringstream out, err;
  CHECK(cli::run_stats({{disability}, "", given, cli::OutputFormat::json, "2026-13-01"}, out, err) == 2);
  CHECK(err.str() == "onevisit stats: --today takes a date YYYY-MM-DD, not '2026-13-01'\n");
}

TEST_CASE("compile: a use body replaces the catalog's members of the same kind", "[compile]") {
  // The catalog item sends a field this bundle does not have; the bundle replaces `sends`.
  auto text = replace(kBundle, "use registration", "use registration { sends needs_seal; limit 0.5 workday }");
  text = replace(text, "produces license }", "produces license; sends company_name, nowhere }");
  auto c = compile_text(text);
  // The checker does not object to the catalog's sends when they are replaced...
  REQUIRE(c.workflows.size() == 1);  // ...and the bundle is not dropped.
  const Workflow& wf = *c.workflows[0];
  const auto& item = wf.items[0];
  REQUIRE(item.sends.size() == 1);
  CHECK(item.sends[0].name == "needs_seal");
  CHECK(item.promised->amount == *dsl::Decimal::parse("0.5"));
  CHECK(item.statutory->amount == dsl::Decimal::from_int(15));  // kept from the catalog
  CHECK(item.catalog_promised->amount == dsl::Decimal::from_int(1));
  // Separately the item runs at its statutory limit; in the bundle at the shortened one.
  const auto f = compute_figures(wf, {}, kToday);
  CHECK(f.workdays_separate == dsl::Decimal::from_int(28));
  CHECK(f.workdays_bundled == *dsl::Decimal::parse("1.5"));
}

TEST_CASE("analysis: a material needed only in some situations", "[analysis]") {
  // The licence is produced only when needs_seal, and needed by the invoice only then too.
  auto text = replace(kBundle, "use registration", "use registration when needs_seal");
  text = replace(text, "item invoice \"发票\" by tax after registration when needs_invoice { needs license, id_card, articles;",
                 "material invoice_license \"执照副本\" produced_by registration when needs_seal\n"
                 "  item invoice \"发票\" by tax after registration when needs_invoice { needs invoice_license, id_card, articles;");
  const auto d = findings(text);
  // The seal (needs license, runs when needs_seal) is fine; the invoice needs the copy only
  // when needs_seal, which is exactly when the producer runs.
  CHECK(!testing::has_code(d, "material-may-be-missing"));
}

// Issue 13, one entry point: `onevisit check` and the engine's deploy (what `serve`, `simulate`
// and the REST API use) went through different code: the deploy ran the checker and the
// compiler itself and never warned about a calendar running out of declared years. Both call
// check_and_compile now and report the same diagnostics.
TEST_CASE("compile: onevisit check and the engine's deploy report the same diagnostics", "[compile][cli]") {
  testing::ScratchDir dir;
  const auto file = dir.file("calendar.flow");
  {
    std::ofstream out(file);
    out << "calendar test_cal \"测试日历\" {\n  holiday 2031-10-01..2031-10-07 \"国庆节\"\n}\n"
           "lifecycle standard {\n  state submitted \"已提交\" initial; state approved \"已办结\" final\n"
           "  on approve: submitted -> approved by reviewer\n}\n"
           "department d \"部门\"\nitem x \"事项\" by d { limit 5 workdays }\n"
           "bundle b \"一件事\" version 1 {\n  promise 5 workdays; calendar test_cal; lifecycle standard\n  use x\n}\n";
  }
  std::ostringstream out, err;
  REQUIRE(cli::run_check({{file}, cli::OutputFormat::text, "2031-11-02"}, out, err) == 0);
  REQUIRE(out.str().find("warning[calendar-ending]") != std::string::npos);

  const engine::VirtualClock clock(testing::at(2031, 11, 2));
  auto engine = testing::open_engine(dir.path() / "cases.db", clock, nullptr);
  const auto report = engine->deploy({file});
  REQUIRE(report);
  std::string deployed;
  for (const auto& d : report->warnings) deployed += dsl::render_text(d);
  CHECK(deployed + "0 errors, 1 warning in 1 file\n" == out.str());
}

// Issue 13: the compiler runs the limits the checker compared (one merge): a body's statutory
// limit replaces the catalog's and keeps its promise; a body's promise keeps the catalog's
// statutory limit, also one written inside `limit ... statutory`.
TEST_CASE("compile: a use's limits are the checker's merge", "[compile]") {
  auto c = compile_text(replace(kBundle, "use registration", "use registration { statutory 20 workdays }"));
  CHECK(c.workflows[0]->items[0].promised->amount == dsl::Decimal::from_int(1));
  CHECK(c.workflows[0]->items[0].statutory->amount == dsl::Decimal::from_int(20));
  c = compile_text(replace(kBundle, "use registration", "use registration { immediate }"));
  CHECK(c.workflows[0]->items[0].immediate);
  CHECK(c.workflows[0]->items[0].promised->amount == dsl::Decimal{});
  CHECK(c.workflows[0]->items[0].statutory->amount == dsl::Decimal::from_int(15));
  CHECK(c.workflows[0]->items[0].catalog_promised->amount == dsl::Decimal::from_int(1));
}
