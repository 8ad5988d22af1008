#include <catch2/catch.hpp>

#include <onevisit/dsl/parser.hpp>

#include "../test_support.hpp"

using namespace onevisit::dsl;
using onevisit::testing::describe;

namespace {
std::vector<LocatedDiagnostic> located(const ParseResult& r, std::string_view text) {
  LineIndex index(text);
  std::vector<LocatedDiagnostic> out;
  for (const auto& d : r.diagnostics) out.push_back(locate(d, index));
  return out;
}
}  // namespace

TEST_CASE("parser: a catalog item with every member", "[parser]") {
  const std::string text = R"(
department market "区市场监督管理局" adapter market_registry
item company_registration "企业设立登记" by market {
  code "330217001000"; kind licensing; limit 1 workday statutory 15 workdays
  needs id_card, articles; produces license; sends company_name, capital
  special public_notice "公示" max 5 workdays pauses_clock
  tolerant
  lifecycle standard
}
)";
  const auto r = parse(text, "t.flow");
  REQUIRE(r.ok());
  REQUIRE(r.file.declarations.size() == 2);
  const auto& dept = *r.file.declarations[0].department;
  CHECK(dept.id.text == "market");
  CHECK(dept.title->value == "区市场监督管理局");
  CHECK(dept.adapter->text == "market_registry");
  const auto& item = *r.file.declarations[1].item;
  CHECK(item.id.text == "company_registration");
  CHECK(item.department->text == "market");
  REQUIRE(item.members.size() == 9);
  CHECK(item.members[0].kind == ast::ItemMemberKind::code);
  CHECK(item.members[2].kind == ast::ItemMemberKind::limit);
  CHECK(item.members[2].duration->amount.text == "1");
  CHECK(!item.members[2].duration->plural);
  CHECK(item.members[2].statutory->amount.text == "15");
  CHECK(item.members[3].names.size() == 2);
  CHECK(item.members[6].kind == ast::ItemMemberKind::special);
  CHECK(item.members[6].pauses_clock);
  CHECK(item.members[6].text->value == "公示");
  // Spans point at the source.
  CHECK(text.substr(item.id.span.begin, item.id.span.end - item.id.span.begin) == "company_registration");
}

TEST_CASE("parser: lifecycle, calendar, decision and bundle", "[parser]") {
  const std::string text = R"(
lifecycle standard "标准" {
  state submitted initial; state correcting pauses_clock; state done final
  on accept: submitted -> done by clerk, reviewer when materials.verified and not (item.corrections > 2) requires reason do call(dept.submit), notify(applicant, "ok")
  on auto: submitted -> done after 5 workdays
  on overdue do escalate(supervisor)
  warn at 80%
  warn at 1 workday left
}
calendar cn { include other; weekend sat sun; hours 09:00-12:00 13:30-17:30
  holiday 2026-02-15..2026-02-23 "春节"; workday 2026-02-14 "调休" }
decide fee "费用" (area: decimal, kind: enum(a, b "乙")) collect {
  when area > 500 -> "big", "fire"
  otherwise -> "small"
}
bundle b "一件事" version 3 {
  promise 2 workdays; calendar cn; lifecycle standard; lead market
  form { name "名称": text required pattern "^.+$"; n: int min 0 max 10 default 1; k: enum(x "甲", y) default "x"; l: list(text) }
  situation { local "本地": bool default true when n > 1 }
  department police "公安" adapter seal kind government
  material id_card "身份证" from elicense "居民身份证" secondary when local
  use company_registration as registration after x when n in [1, 2, 3] { limit 1 workday }
  item seal "刻章" by police after registration
  stages intake -> items -> delivery -> rating
  rating { bad at most 2; rectify within 15 workdays }
}
)";
  const auto r = parse(text, "t.flow");
  INFO(describe(located(r, text)));
  REQUIRE(r.ok());
  REQUIRE(r.file.declarations.size() == 4);
  // A statement's span ends with its last token, not with the blanks looked past.
  const auto& hours = r.file.declarations[1].calendar->members[2];
  CHECK(text.substr(hours.span.begin, hours.span.end - hours.span.begin) == "hours 09:00-12:00 13:30-17:30");
  const auto& lc = *r.file.declarations[0].lifecycle;
  REQUIRE(lc.members.size() == 8);
  const auto& accept = lc.members[3];
  CHECK(accept.kind == ast::LifecycleMemberKind::transition);
  CHECK(accept.sources.size() == 1);
  CHECK(accept.target->text == "done");
  REQUIRE(accept.options.size() == 4);
  CHECK(accept.options[3].actions.size() == 2);
  CHECK(lc.members[4].options[0].kind == ast::TransitionOptionKind::after);
  CHECK(lc.members[5].kind == ast::LifecycleMemberKind::hook);
  CHECK(lc.members[6].percent->text == "80");
  CHECK(lc.members[7].left->amount.text == "1");
  const auto& cal = *r.file.declarations[1].calendar;
  REQUIRE(cal.members.size() == 5);
  CHECK(cal.members[2].hours.size() == 2);
  CHECK(cal.members[3].to->day == 23);
  const auto& decision = *r.file.declarations[2].decision;
  CHECK(decision.policy == ast::HitPolicy::collect);
  CHECK(decision.parameters.size() == 2);
  CHECK(!decision.rows[1].condition);
  const auto& bundle = *r.file.declarations[3].bundle;
  CHECK(bundle.version.text == "3");
  REQUIRE(bundle.members.size() == 12);
  CHECK(bundle.members[4].fields.size() == 4);
  CHECK(bundle.members[4].fields[2].type.values.size() == 2);
  CHECK(bundle.members[8].item->is_use);
  CHECK(bundle.members[8].item->alias->text == "registration");
  CHECK(bundle.members[10].names.size() == 4);
}

TEST_CASE("parser: expression precedence", "[parser][expr]") {
  const auto r = parse_expression("a or b and not c == 1 + 2 * -3");
  REQUIRE(r.ok());
  const auto& e = r.expr;
  CHECK(e.op == ast::Op::logical_or);
  const auto& rhs = e.children[1];
  CHECK(rhs.op == ast::Op::logical_and);
  CHECK(rhs.children[1].op == ast::Op::logical_not);
  const auto& cmp = rhs.children[1].children[0];
  CHECK(cmp.op == ast::Op::eq);
  CHECK(cmp.children[1].op == ast::Op::add);
  CHECK(cmp.children[1].children[1].op == ast::Op::mul);
  CHECK(cmp.children[1].children[1].children[1].op == ast::Op::negate);
  CHECK(parse_expression("x not in [1, 2]").expr.op == ast::Op::not_in);
  CHECK(parse_expression("5 workdays").expr.unit == ast::TimeUnit::workday);
  CHECK(parse_expression("a - b").expr.op == ast::Op::sub);
}

TEST_CASE("parser: syntax errors say what was expected, where, in characters", "[parser][diagnostics]") {
  const std::string text = "department 市场 \"x\"\n";
  const auto r = parse(text, "t.flow");
  const auto d = located(r, text);
  REQUIRE(d.size() == 1);
  CHECK(d[0].start.line == 1);
  CHECK(d[0].start.column == 12);
  CHECK(d[0].diagnostic.message == "expected a name");

  const std::string chinese = "item x \"企业设立登记\" by market { limit 5 workdys }\n";
  const auto r2 = parse(chinese, "t.flow");
  const auto d2 = located(r2, chinese);
  REQUIRE(d2.size() == 1);
  CHECK(d2[0].start.column == 37);  // characters, not bytes (the title is 6 characters, 18 bytes)
  CHECK(d2[0].diagnostic.message == "expected a unit (workdays, days or hours)");
}

TEST_CASE("parser: recovers at statement boundaries and reports every error", "[parser][diagnostics]") {
  const std::string text = R"(department market "区市场" adapter
item x "中文标题" by market {
  code 123
  limit 5 workdys
  frobnicate 1
}
bundle b version 1 {
  promise 2
  form { a: int min (1 + ; b: text }
  item y by z when (a > 1 {  }
}
lifecycle l { state a initial; on go: a -> b by; }
}
item z by q
)";
  const auto r = parse(text, "t.flow");
  const auto d = located(r, text);
  std::vector<std::uint32_t> lines;
  for (const auto& x : d) lines.push_back(x.start.line);
  // A missing name at the end of line 1 is reported there, not on the next line.
  CHECK(lines == std::vector<std::uint32_t>{1, 3, 4, 5, 8, 9, 10, 12, 13});
  // What could be parsed is kept (the broken department is skipped whole).
  CHECK(r.file.declarations.size() == 4);
  CHECK(r.file.declarations.back().item->id.text == "z");
}

TEST_CASE("parser: strings, escapes and numbers", "[parser]") {
  auto r = parse("department d \"a \\\"b\\\" \\\\ c\"", "t.flow");
  REQUIRE(r.ok());
  CHECK(r.file.declarations[0].department->title->value == "a \"b\" \\ c");
  r = parse("department d \"open\n", "t.flow");
  REQUIRE(!r.ok());
  CHECK(r.diagnostics[0].message.find("unterminated string") != std::string::npos);
  r = parse("department d \"bad \\q\"", "t.flow");
  REQUIRE(!r.ok());
  CHECK(r.diagnostics[0].message.find("escape") != std::string::npos);
  r = parse("calendar c { holiday 2026-02-30 }", "t.flow");
  REQUIRE(!r.ok());
  CHECK(r.diagnostics[0].message.find("real calendar date") != std::string::npos);
  r = parse("calendar c { hours 25:00-26:00 }", "t.flow");
  REQUIRE(!r.ok());
}

TEST_CASE("parser: reserved words cannot be names", "[parser]") {
  auto r = parse("department and", "t.flow");
  CHECK(!r.ok());
  r = parse("department item", "t.flow");
  CHECK(!r.ok());
}

TEST_CASE("parser: comments are collected for the formatter", "[parser]") {
  const auto r = parse("# top\ndepartment d # trailing \"not a string\n# \"# in string\"\n", "t.flow");
  REQUIRE(r.ok());
  REQUIRE(r.file.comments.size() == 3);
  CHECK(r.file.comments[0].own_line);
  CHECK(!r.file.comments[1].own_line);
  CHECK(r.file.comments[1].text == "# trailing \"not a string");
}

TEST_CASE("parser: a unit word on the next line is not part of a number", "[parser]") {
  const auto r = parse("bundle b version 1 { form { n: int default 3\n days: int\n d: int default 2 days } }", "t.flow");
  REQUIRE(r.ok());
  const auto& fields = r.file.declarations[0].bundle->members[0].fields;
  REQUIRE(fields.size() == 3);
  CHECK(!fields[0].options[0].expr->unit);
  CHECK(fields[1].name.text == "days");
  CHECK(fields[2].options[0].expr->unit == ast::TimeUnit::day);
}
