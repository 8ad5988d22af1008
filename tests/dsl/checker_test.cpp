#include <catch2/catch.hpp>

#include "../test_support.hpp"

using namespace onevisit::dsl;
using namespace onevisit::testing;

namespace {

using onevisit::testing::replace;

const std::string kCatalog = R"(
department market "市场监管局" adapter market_registry
material id_card "身份证" from elicense "居民身份证"
material articles "公司章程" upload pdf
material license "营业执照" produced_by company_registration
lifecycle standard {
  state submitted initial; state accepted; state correcting pauses_clock; state approved final; state rejected final
  on accept: submitted -> accepted by clerk
  on request_correction: submitted, accepted -> correcting by clerk requires reason
  on corrected: correcting -> submitted by applicant
  on approve: accepted -> approved by reviewer when materials.verified do call(dept.submit)
  on reject: accepted -> rejected by reviewer requires reason
  warn at 80%
  on overdue do escalate(supervisor)
}
calendar cn { weekend sat sun; holiday 2026-02-15..2026-02-23 "春节"; workday 2026-02-14 "调休" }
item company_registration "企业设立登记" by market {
  code "330217001000"; kind licensing; limit 1 workday statutory 15 workdays
  needs id_card, articles; produces license; sends company_name, capital
}
)";

const std::string kBundle = R"(
import "catalog.flow"
bundle startup "企业开办" version 1 {
  promise 2 workdays; calendar cn; lifecycle standard
  form {
    company_name "企业名称": text required
    capital: money required min 0
    needs_invoice: bool default true
    category: enum(company "公司", sole "个体") default "company"
  }
  department tax "税务局" adapter tax_gateway
  material invoice_form "发票申请表" upload pdf when needs_invoice
  use company_registration as registration
  item invoice "发票申领" by tax after registration when needs_invoice and category == "company" {
    needs license, invoice_form; limit 1 workday
  }
}
)";

std::vector<LocatedDiagnostic> check_bundle(const std::string& bundle, const std::string& catalog = kCatalog) {
  return check_files({{"catalog.flow", catalog}, {"main.flow", bundle}});
}

}  // namespace

TEST_CASE("checker: the reference bundle is clean", "[checker]") {
  const auto d = check_bundle(kBundle);
  INFO(describe(d));
  CHECK(d.empty());
}

TEST_CASE("checker: unknown names, with suggestions, across imports", "[checker]") {
  const auto d = check_bundle(replace(kBundle, "use company_registration", "use company_registraton"));
  REQUIRE(has_code(d, "unknown-name"));
  CHECK(describe(d).find("did you mean 'company_registration'?") != std::string::npos);
  const auto d2 = check_bundle(replace(kBundle, "calendar cn;", "calendar cm;"));
  CHECK(describe(d2).find("unknown calendar 'cm'; did you mean 'cn'?") != std::string::npos);
  // Not visible without the import.
  const auto d3 = check_bundle(replace(kBundle, "import \"catalog.flow\"", ""));
  CHECK(error_count(d3) >= 3);
}

TEST_CASE("checker: duplicate names", "[checker]") {
  const auto d = check_files({{"catalog.flow", kCatalog + "department market \"again\"\n"}, {"main.flow", kBundle}});
  REQUIRE(has_code(d, "duplicate-name"));
  CHECK(describe(d).find("already declared at catalog.flow:2:12") != std::string::npos);
  const auto d2 = check_bundle(replace(kBundle, "needs_invoice: bool", "capital: bool"));
  CHECK(has_code(d2, "duplicate-name"));
}

TEST_CASE("checker: type errors in expressions", "[checker][expr]") {
  auto d = check_bundle(replace(kBundle, "when needs_invoice and", "when capital and"));
  REQUIRE(has_code(d, "type-mismatch"));
  CHECK(describe(d).find("'and' needs bool operands, found money") != std::string::npos);
  d = check_bundle(replace(kBundle, "category == \"company\"", "category == \"compnay\""));
  REQUIRE(has_code(d, "unknown-enum-value"));
  CHECK(describe(d).find("did you mean \"company\"?") != std::string::npos);
  d = check_bundle(replace(kBundle, "min 0", "min \"zero\""));
  CHECK(has_code(d, "type-mismatch"));
  d = check_bundle(replace(kBundle, "default true", "default 3"));
  CHECK(has_code(d, "type-mismatch"));
}

TEST_CASE("checker: promised limit above the statutory one", "[checker]") {
  const auto d = check_bundle(kBundle, replace(kCatalog, "limit 1 workday statutory 15 workdays", "limit 20 workdays statutory 15 workdays"));
  REQUIRE(has_code(d, "limit-exceeds-statutory"));
  // An override in the bundle is checked against the catalog's statutory limit.
  const auto d2 = check_bundle(replace(kBundle, "use company_registration as registration",
                                       "use company_registration as registration { limit 16 workdays }"));
  CHECK(has_code(d2, "limit-exceeds-statutory"));
  const auto d3 = check_bundle(replace(kBundle, "use company_registration as registration",
                                       "use company_registration as registration { limit 0.5 workday }"));
  CHECK(!has_code(d3, "limit-exceeds-statutory"));
}

TEST_CASE("checker: clock-stopping states say why, and misuse is an error", "[checker]") {
  // Each kind is accepted; no `as` is a correction, as it always was.
  const auto kinds = replace(kCatalog, "state correcting pauses_clock;",
                             "state correcting pauses_clock as correction; state waiting pauses_clock as waiting; "
                             "state surveying pauses_clock as special;\n"
                             "  on await: accepted -> waiting by reviewer\n  on answered: waiting -> accepted by applicant\n"
                             "  on survey: accepted -> surveying by reviewer\n  on surveyed: surveying -> accepted by reviewer\n");
  auto d = check_bundle(kBundle, kinds);
  INFO(describe(d));
  CHECK(error_count(d) == 0);
  // The one correction notice cannot lead to a state that stops the clock for another reason ...
  d = check_bundle(kBundle, replace(kinds, "accepted -> correcting by clerk", "accepted -> waiting by clerk"));
  REQUIRE(has_code(d, "clock-stop-kind"));
  CHECK(describe(d).find("pauses the clock as waiting") != std::string::npos);
  // ... nor to one that does not stop it.
  d = check_bundle(kBundle, replace(kinds, "accepted -> correcting by clerk", "accepted -> accepted by clerk"));
  CHECK(has_code(d, "clock-stop-kind"));
  // A final state ends the clock; pausing it there is an error.
  d = check_bundle(kBundle, replace(kinds, "state approved final", "state approved final pauses_clock as special"));
  CHECK(has_code(d, "invalid-state"));
  // An unknown reason is a syntax error that names the three.
  d = check_bundle(kBundle, replace(kinds, "pauses_clock as waiting", "pauses_clock as holiday"));
  REQUIRE(error_count(d) > 0);
  CHECK(describe(d).find("correction, waiting or special") != std::string::npos);
}

TEST_CASE("checker: joint items name other departments, each once, and run a lifecycle with approve and reject", "[checker][joint]") {
  const std::string joint = replace(kBundle, "needs license, invoice_form; limit 1 workday", "needs license, invoice_form; limit 1 workday; joint all with market");
  auto d = check_bundle(joint);
  INFO(describe(d));
  CHECK(error_count(d) == 0);
  CHECK(error_count(check_bundle(replace(joint, "joint all with market", "joint any with market"))) == 0);
  d = check_bundle(replace(joint, "joint all with market", "joint all with markt"));
  CHECK(describe(d).find("markt") != std::string::npos);
  CHECK(error_count(d) > 0);
  d = check_bundle(replace(joint, "joint all with market", "joint all with market, tax"));
  CHECK(has_code(d, "duplicate-name"));
  d = check_bundle(replace(joint, "joint all with market", "joint every with market"));
  CHECK(describe(d).find("'all' or 'any'") != std::string::npos);
  // A lifecycle without `reject` cannot carry a department's refusal.
  d = check_bundle(replace(joint, "needs license, invoice_form;", "lifecycle quick; needs license, invoice_form;"),
                   kCatalog + "lifecycle quick { state submitted initial; state approved final\n  on approve: submitted -> approved by reviewer }\n");
  CHECK(has_code(d, "joint-lifecycle"));
}

TEST_CASE("checker: lifecycles", "[checker]") {
  auto d = check_bundle(kBundle, replace(kCatalog, "state submitted initial;", "state submitted;"));
  CHECK(has_code(d, "no-initial-state"));
  d = check_bundle(kBundle, replace(kCatalog, "on corrected: correcting -> submitted", "on corrected: corecting -> submitted"));
  REQUIRE(has_code(d, "unknown-name"));
  CHECK(describe(d).find("unknown state 'corecting'; did you mean 'correcting'?") != std::string::npos);
  d = check_bundle(kBundle, replace(kCatalog, "by clerk requires", "by clark requires"));
  CHECK(describe(d).find("unknown role 'clark'") != std::string::npos);
  d = check_bundle(kBundle, replace(kCatalog, "when materials.verified", "when materials.verifed"));
  CHECK(describe(d).find("did you mean 'verified'?") != std::string::npos);
  d = check_bundle(kBundle, replace(kCatalog, "call(dept.submit)", "cal(dept.submit)"));
  CHECK(describe(d).find("unknown action 'cal'; did you mean 'call'?") != std::string::npos);
  d = check_bundle(kBundle, replace(kCatalog, "warn at 80%", "warn at 120%"));
  CHECK(has_code(d, "invalid-warning"));
  d = check_bundle(kBundle, kCatalog + "lifecycle twice { state a initial; state b final; on go: a -> b; on go: a -> a }\n");
  CHECK(has_code(d, "ambiguous-transition"));
}

TEST_CASE("checker: calendars", "[checker]") {
  auto d = check_bundle(kBundle, replace(kCatalog, "workday 2026-02-14", "workday 2026-02-16"));
  CHECK(has_code(d, "conflicting-day"));
  d = check_bundle(kBundle, replace(kCatalog, "workday 2026-02-14", "workday 2026-02-13"));  // a Friday
  CHECK(has_code(d, "redundant-workday"));
  d = check_bundle(kBundle, replace(kCatalog, "2026-02-15..2026-02-23", "2026-02-23..2026-02-15"));
  CHECK(has_code(d, "invalid-range"));
  d = check_bundle(kBundle, kCatalog + "calendar a { include b }\ncalendar b { include a }\n");
  CHECK(has_code(d, "include-cycle"));
}

TEST_CASE("checker: unused materials and departments are warnings", "[checker]") {
  auto d = check_bundle(replace(kBundle, "needs license, invoice_form;", "needs license;"));
  REQUIRE(has_code(d, "unused-material"));
  CHECK(error_count(d) == 0);
  d = check_bundle(replace(kBundle, "department tax \"税务局\" adapter tax_gateway",
                           "department tax \"税务局\" adapter tax_gateway\n department police \"公安\""));
  CHECK(has_code(d, "unused-department"));
}

TEST_CASE("checker: catalog item sends checked against each bundle's form", "[checker]") {
  const auto d = check_bundle(replace(kBundle, "capital: money required min 0", "registered_capital: money required min 0"));
  REQUIRE(has_code(d, "unknown-name"));
  CHECK(describe(d).find("catalog item 'company_registration' sends 'capital'") != std::string::npos);
}

TEST_CASE("checker: items, dependencies, decisions and stages", "[checker]") {
  auto d = check_bundle(replace(kBundle, "after registration", "after company_registration"));
  CHECK(describe(d).find("it is used here as 'registration'") != std::string::npos);
  d = check_bundle(replace(kBundle, "after registration", "after invoice"));
  CHECK(has_code(d, "self-dependency"));
  d = check_bundle(replace(kBundle, "promise 2 workdays;", "promise 2 workdays; stages intake -> delivery;"));
  CHECK(has_code(d, "missing-stage"));
  d = check_bundle(replace(kBundle, "promise 2 workdays;", "promise 2 workdays; lifecycle standard;"));
  CHECK(has_code(d, "duplicate-member"));
  d = check_bundle(replace(kBundle, "promise 2 workdays;", "promise 2 workdays; decide extra first { otherwise -> 1; when capital > 5 -> 2 }"));
  CHECK(has_code(d, "unreachable-rule"));
  d = check_bundle(replace(kBundle, "when needs_invoice and", "when fees > 2 and"));
  CHECK(has_code(d, "unknown-name"));
  d = check_bundle(replace(replace(kBundle, "promise 2 workdays;",
                                   "promise 2 workdays; decide fees first { when capital > 100 -> 3; otherwise -> 1 }"),
                           "when needs_invoice and", "when fees > 2 and"));
  INFO(describe(d));
  CHECK(error_count(d) == 0);
  d = check_bundle(replace(kBundle, "lifecycle standard", ""));
  CHECK(has_code(d, "no-lifecycle"));
}

TEST_CASE("checker: import problems", "[checker][imports]") {
  auto d = check_files({{"main.flow", "import \"missing.flow\"\n"}});
  REQUIRE(has_code(d, "import-not-found"));
  CHECK(d[0].start.line == 1);
  CHECK(d[0].start.column == 8);
  d = check_files({{"main.flow", "import \"main.flow\"\n"}});
  CHECK(has_code(d, "import-cycle"));
  d = check_files({{"main.flow", "import \"a/b.flow\"\n"}, {"a/b.flow", "import \"../main.flow\"\n"}});
  REQUIRE(has_code(d, "import-cycle"));
  CHECK(describe(d).find("main.flow -> a/b.flow -> main.flow") != std::string::npos);
  // The same file through two paths is loaded once: no duplicate declarations.
  d = check_files({{"main.flow", "import \"a/b.flow\"\nimport \"./a/../a/b.flow\"\n"}, {"a/b.flow", "department d\n"}});
  CHECK(d.empty());
}

TEST_CASE("checker: every bundled workflow is clean", "[checker][workflows]") {
  std::vector<std::string> paths;
  for (const auto& p : workflow_files()) paths.push_back(p.string());
  const auto d = load_and_check(paths, filesystem_reader());
  INFO(describe(d));
  CHECK(error_count(d) == 0);
}

TEST_CASE("checker: retain sets how long closed cases keep personal data, naming text fields of the form", "[checker][retention]") {
  const auto ok = check_bundle(replace(kBundle, "promise 2 workdays;", "promise 2 workdays; retain 3 years personal company_name;"));
  INFO(describe(ok));
  CHECK(ok.empty());
  CHECK(check_bundle(replace(kBundle, "promise 2 workdays;", "promise 2 workdays; retain 1 month;")).empty());
  CHECK(check_bundle(replace(kBundle, "promise 2 workdays;", "promise 2 workdays; retain 180 days;")).empty());

  const auto zero = check_bundle(replace(kBundle, "promise 2 workdays;", "promise 2 workdays; retain 0 years;"));
  CHECK(has_code(zero, "invalid-retention"));
  const auto fraction = check_bundle(replace(kBundle, "promise 2 workdays;", "promise 2 workdays; retain 1.5 years;"));
  CHECK(has_code(fraction, "invalid-retention"));
  const auto century = check_bundle(replace(kBundle, "promise 2 workdays;", "promise 2 workdays; retain 101 years;"));
  CHECK(has_code(century, "invalid-retention"));
  const auto unknown = check_bundle(replace(kBundle, "promise 2 workdays;", "promise 2 workdays; retain 3 years personal company_nam;"));
  CHECK(describe(unknown).find("unknown form field 'company_nam'; did you mean 'company_name'?") != std::string::npos);
  const auto money = check_bundle(replace(kBundle, "promise 2 workdays;", "promise 2 workdays; retain 3 years personal capital;"));
  CHECK(has_code(money, "invalid-personal"));
  const auto twice = check_bundle(replace(kBundle, "promise 2 workdays;", "promise 2 workdays; retain 3 years; retain 2 years;"));
  CHECK(has_code(twice, "duplicate-member"));
  // Calendar units only: a retention is not counted in working days.
  const auto workdays = check_bundle(replace(kBundle, "promise 2 workdays;", "promise 2 workdays; retain 3 workdays;"));
  CHECK(describe(workdays).find("expected a unit (years, months or days)") != std::string::npos);
}

// Issue 13: where an item's clock starts is part of the lifecycle.
TEST_CASE("checker: starts_clock marks where the time limit counts from", "[checker][clock]") {
  auto d = check_bundle(kBundle, replace(kCatalog, "on accept: submitted -> accepted by clerk", "on accept: submitted -> accepted by clerk starts_clock"));
  INFO(describe(d));
  CHECK(d.empty());
  d = check_bundle(kBundle, replace(kCatalog, "on accept: submitted -> accepted by clerk",
                                    "on accept: submitted -> accepted by clerk starts_clock from receipt"));
  CHECK(d.empty());
  // On a transition into a final state it would start nothing.
  d = check_bundle(kBundle, replace(kCatalog, "on reject: accepted -> rejected by reviewer requires reason",
                                    "on reject: accepted -> rejected by reviewer requires reason starts_clock"));
  REQUIRE(has_code(d, "no-effect"));
  CHECK(describe(d).find("'starts_clock' on a transition into final state 'rejected' has no effect") != std::string::npos);
  d = check_bundle(kBundle, replace(kCatalog, "on accept: submitted -> accepted by clerk", "on accept: submitted -> accepted by clerk starts_clock starts_clock"));
  CHECK(has_code(d, "duplicate-option"));
  // `from` must be followed by `receipt`.
  d = check_bundle(kBundle, replace(kCatalog, "on accept: submitted -> accepted by clerk", "on accept: submitted -> accepted by clerk starts_clock from acceptance"));
  CHECK(error_count(d) >= 1);
}

TEST_CASE("checker: lifecycle events carry titles, one event has one title, an event without any is a warning", "[checker][titles]") {
  // Titled: clean, and the built-in events (accept, approve …) need none.
  auto d = check_bundle(kBundle, replace(kCatalog, "on approve: accepted", "on approve \"准予许可\": accepted"));
  CHECK_FALSE(has_code(d, "untitled-event"));
  CHECK_FALSE(has_code(d, "conflicting-event-title"));
  CHECK(error_count(d) == 0);
  // An event of the designer's own, with no title: the screens would show its name.
  const std::string site_visit = kCatalog + "lifecycle inspected { state a initial; state b final; on site_visit: a -> b by reviewer }\n";
  d = check_bundle(kBundle, site_visit);
  REQUIRE(has_code(d, "untitled-event"));
  CHECK(describe(d).find("event 'site_visit' has no title") != std::string::npos);
  CHECK(error_count(d) == 0);
  d = check_bundle(kBundle, replace(site_visit, "on site_visit:", "on site_visit \"现场踏勘\":"));
  CHECK_FALSE(has_code(d, "untitled-event"));
  // Titled on one of its transitions: titled on all.
  d = check_bundle(kBundle, kCatalog + "lifecycle two { state a initial; state b; state c final\n"
                                       "  on go \"前往\": a -> b when 1 > 0\n  on go: b -> c }\n");
  CHECK_FALSE(has_code(d, "untitled-event"));
  // Two titles for one event: which would the button show?
  d = check_bundle(kBundle, kCatalog + "lifecycle two { state a initial; state b; state c final\n"
                                       "  on go \"前往\": a -> b\n  on go \"出发\": b -> c }\n");
  REQUIRE(has_code(d, "conflicting-event-title"));
  CHECK(describe(d).find("already titled \"前往\"") != std::string::npos);
}

TEST_CASE("checker: a bundle's check is a bool over the form's fields with a message", "[checker][checks]") {
  const auto with = [&](const std::string& rule) { return check_bundle(replace(kBundle, "  department tax", "  " + rule + "\n  department tax")); };
  auto d = with("check capital > 0 \"注册资本应大于0\"\n  check capital < 100000000 \"注册资本应小于1亿元\"");
  INFO(describe(d));
  CHECK(error_count(d) == 0);  // a bundle has as many checks as it needs
  d = with("check capital \"注册资本应大于0\"");
  CHECK(has_code(d, "type-mismatch"));
  d = with("check 1 > 0 \"总是成立\"");
  CHECK(has_code(d, "check-reads-no-field"));
  d = with("check capital > 0 \"\"");
  CHECK(has_code(d, "empty-message"));
  d = with("check capitl > 0 \"注册资本应大于0\"");
  CHECK(describe(d).find("did you mean 'capital'?") != std::string::npos);
}

// Issue 13, one semantic front end. The checker merged a `use` with its catalog item in one
// way and the compiler in another; the checker's statutory re-check then reported a body's
// statutory limit below the catalog's promise at the catalog's span read in the bundle's file
// (main.flow:6:1, a place that is not the item). The one merge (merged_limits) reports it at
// the `use`, and it is the merge the compiler runs.
TEST_CASE("checker: a use whose statutory limit falls below the catalog's promise is reported at the use", "[checker][limits]") {
  const std::string catalog =
      "department market \"市场监管局\"\n"
      "lifecycle simple { state a \"待办\" initial; state b \"已办结\" final; on accept: a -> b by clerk }\n"
      "item reg \"登记\" by market { limit 3 workdays statutory 10 workdays }\n";
  const auto bundle = [](const std::string& body) {
    return "import \"cat.flow\"\nbundle b \"测试\" version 1 {\n  promise 20 workdays; lifecycle simple\n  use reg { " +
           body + " }\n}\n";
  };
  auto d = check_files({{"main.flow", bundle("statutory 2 workdays")}, {"cat.flow", catalog}});
  INFO(describe(d));
  const auto found = std::find_if(d.begin(), d.end(), [](const LocatedDiagnostic& x) { return x.diagnostic.code == "limit-exceeds-statutory"; });
  REQUIRE(found != d.end());
  CHECK(found->diagnostic.file == "main.flow");
  CHECK(found->start.line == 4);
  CHECK(found->start.column == 7);  // the catalog item the `use` places
  CHECK(found->diagnostic.message ==
        "item 'reg' promises 3 workdays, more than its statutory limit of 2 workdays (the promised limit must not exceed the statutory one)");
  // The body's own promise above the catalog's statutory limit: at the body's limit.
  d = check_files({{"main.flow", bundle("limit 12 workdays")}, {"cat.flow", catalog}});
  const auto own = std::find_if(d.begin(), d.end(), [](const LocatedDiagnostic& x) { return x.diagnostic.code == "limit-exceeds-statutory"; });
  REQUIRE(own != d.end());
  CHECK(own->start.line == 4);
  CHECK(own->start.column == 19);
  // A statutory limit raised in the body, and a promise lowered under the catalog's: fine.
  CHECK(!has_code(check_files({{"main.flow", bundle("statutory 12 workdays")}, {"cat.flow", catalog}}), "limit-exceeds-statutory"));
  CHECK(!has_code(check_files({{"main.flow", bundle("limit 5 workdays statutory 8 workdays")}, {"cat.flow", catalog}}),
                  "limit-exceeds-statutory"));
}

// Issue 13: the checker compiled a lifecycle's guards against a form that accepts any field, the
// compiler against the bundle's own form, so a guard reading a field the bundle lacks passed the
// checker and the compiler dropped the bundle. The checker binds guards per bundle now.
TEST_CASE("checker: a guard reading a field the bundle's form lacks is the checker's error", "[checker][bind]") {
  const std::string text =
      "department market \"市场监管局\"\n"
      "lifecycle simple { state a \"待办\" initial; state b \"已办结\" final\n"
      "  on accept: a -> b by clerk when form.capital > 0 }\n"
      "bundle b \"测试\" version 1 {\n  promise 2 workdays; lifecycle simple\n  form { name: text }\n"
      "  item x \"事项\" by market { limit 1 workday }\n}\n";
  const auto d = check_text(text);
  INFO(describe(d));
  CHECK(describe(d).find("main.flow:3:35: error[unknown-name]: 'form' has no member 'capital'") != std::string::npos);
  CHECK(describe(d).find("(in a guard of lifecycle 'simple', used by bundle 'b')") != std::string::npos);
  // With the field, the same lifecycle binds, and the bundle is in the resolved document.
  const auto program = load_text("main.flow", replace(text, "name: text", "name: text; capital: money"), memory_reader({}));
  const auto bound = bind(program);
  CHECK(error_count(program.located(bound.diagnostics)) == 0);
  REQUIRE(bound.document.bundles.size() == 1);
  const auto& b = bound.document.bundles[0];
  REQUIRE(b.items.size() == 1);
  CHECK(b.departments.at(b.items[0].department).declaration->id.text == "market");
  CHECK(b.lifecycles.at(b.items[0].lifecycle).transitions.at(0).guard.has_value());
}

// Bind once: a bundle that does not resolve is left out of the document with a follow-on error
// that names the bundle (never a silent drop), and everything else is in it.
TEST_CASE("bind: every bundle is in the resolved document or has a not-compiled error after its cause", "[checker][bind]") {
  const std::string text =
      "department market \"市场监管局\"\n"
      "lifecycle simple { state a \"待办\" initial; state b \"已办结\" final; on accept: a -> b by clerk }\n"
      "bundle good \"好\" version 1 {\n  promise 2 workdays; lifecycle simple\n  item x \"事项\" by market { limit 1 workday }\n}\n"
      "bundle bad \"坏\" version 1 {\n  promise 2 workdays; lifecycle simple\n  item x \"事项\" by nobody { limit 1 workday }\n}\n";
  const auto program = load_text("main.flow", text, memory_reader({}));
  const auto bound = bind(program);
  REQUIRE(bound.document.bundles.size() == 1);
  CHECK(bound.document.bundles[0].declaration->id.text == "good");
  const auto located = program.located(bound.diagnostics);
  INFO(describe(located));
  REQUIRE(located.size() >= 2);
  CHECK(located.back().diagnostic.code == "not-compiled");
  CHECK(located.back().diagnostic.message == "bundle 'bad' cannot be compiled: unknown department 'nobody'");
  // check() keeps the checker's own findings only.
  CHECK(!has_code(program.located(check(program)), "not-compiled"));
  // Every bundle in workflows/ resolves.
  std::vector<std::string> paths;
  for (const auto& f : workflow_files()) paths.push_back(f.string());
  const auto all = load(paths, filesystem_reader());
  std::size_t declared = 0;
  for (const auto& unit : all.units) {
    for (const auto& d : unit.file.declarations) declared += d.kind == ast::DeclarationKind::bundle;
  }
  CHECK(bind(all).document.bundles.size() == declared);
}

namespace {

// Two people's ID cards on one form: the birth registration's mother and father.
const std::string kHolderCatalog = kCatalog + R"(
material mother_card "母亲身份证" from elicense "居民身份证" of mother_id
material father_card "父亲身份证" from elicense "居民身份证" of father_id
item birth "出生登记" by market {
  code "330217002002"; kind licensing; limit 1 workday statutory 15 workdays
  needs mother_card, father_card
}
)";

const std::string kHolderBundle = R"(
import "catalog.flow"
bundle births "出生一件事" version 1 {
  promise 2 workdays; calendar cn; lifecycle standard
  form {
    mother_id "母亲身份证号码": idcard required
    father_id "父亲身份证号码": idcard required
    father_name "父亲姓名": text
  }
  use birth
}
)";

}  // namespace

TEST_CASE("checker: `of field` names an idcard or uscc field of every bundle that needs the material", "[checker][elicense]") {
  const auto clean = check_bundle(kHolderBundle, kHolderCatalog);
  INFO(describe(clean));
  CHECK(error_count(clean) == 0);

  // The catalog's field name resolved in the bundle: a typo there is the bundle's error.
  const auto unknown = check_bundle(replace(kHolderBundle, "father_id \"", "fathers_id \""), kHolderCatalog);
  REQUIRE(has_code(unknown, "unknown-name"));
  CHECK(describe(unknown).find("material 'father_card' takes the e-license of 'father_id' (`of`), which is not a field of bundle "
                               "'births'; did you mean 'fathers_id'?") != std::string::npos);

  const auto wrong = check_bundle(kHolderBundle, replace(kHolderCatalog, "of father_id", "of father_name"));
  REQUIRE(has_code(wrong, "type-mismatch"));
  CHECK(describe(wrong).find("that field is text, not idcard or uscc") != std::string::npos);
}

TEST_CASE("checker: two e-licenses of one type, one without `of`, are ambiguous", "[checker][elicense]") {
  // Regression: 新生儿出生 fetched the mother's ID card as the father's too.
  const auto d = check_bundle(kHolderBundle, replace(kHolderCatalog, " of father_id", ""));
  REQUIRE(has_code(d, "ambiguous-holder"));
  CHECK(describe(d).find("'father_card', 'mother_card' all from the e-license library as \"居民身份证\": say whose license each "
                         "is with `of <field>`") != std::string::npos);
  // id_card has no `of`: with the two that have one it is still a guess.
  const auto d2 = check_bundle(kHolderBundle, replace(kHolderCatalog, "needs mother_card, father_card", "needs id_card, mother_card, father_card"));
  CHECK(has_code(d2, "ambiguous-holder"));
  // One of a type needs no `of`: the reference bundle's id_card.
  CHECK_FALSE(has_code(check_bundle(kBundle), "ambiguous-holder"));
}
