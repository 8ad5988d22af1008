#include <catch2/catch.hpp>

#include <onevisit/dsl/expr.hpp>
#include <onevisit/dsl/parser.hpp>

using namespace onevisit::dsl;

namespace {

struct Fixture {
  Scope scope;
  std::vector<Value> slots;
  DiagnosticSink sink{"expr"};

  Fixture() {
    add("n", ValueType::of(BaseType::integer), Value::of_int(7));
    add("price", ValueType::of(BaseType::money), Value::of_decimal(*Decimal::parse("12.50")));
    add("name", ValueType::of(BaseType::text), Value::of_text("张三丰"));
    add("flag", ValueType::of(BaseType::boolean), Value::of_bool(true));
    add("id", ValueType::of(BaseType::idcard), Value::of_text("11010519491231002X"));
    add("born", ValueType::of(BaseType::date), Value::of_date(days_from_civil({2000, 2, 29})));
    ast::Type enum_type;
    enum_type.kind = ast::TypeKind::enumeration;
    enum_type.values = {{{"veteran", {}}, std::nullopt}, {{"civilian", {}}, std::nullopt}};
    add("category", ValueType::from_ast(enum_type), Value::of_text("veteran"));
    add("missing", ValueType::of(BaseType::integer), Value::null_value());
  }

  void add(std::string name, ValueType type, Value value) {
    scope.add_variable(std::move(name), std::move(type));
    slots.push_back(std::move(value));
  }

  std::optional<CompiledExpression> compile(std::string_view text) {
    const auto parsed = parse_expression(text);
    REQUIRE(parsed.ok());
    return compile_expression(parsed.expr, scope, sink);
  }

  Value eval(std::string_view text) {
    auto compiled = compile(text);
    INFO(text);
    for (const auto& d : sink.diagnostics()) INFO(d.message);
    REQUIRE(compiled);
    return compiled->evaluate(Environment{slots, days_from_civil({2026, 11, 28}), nullptr});
  }

  std::string error(std::string_view text) {
    const auto before = sink.diagnostics().size();
    const auto compiled = compile(text);
    CHECK(!compiled);
    REQUIRE(sink.diagnostics().size() > before);
    return sink.diagnostics()[before].message;
  }
};

}  // namespace

TEST_CASE("expr: arithmetic and comparison", "[expr]") {
  Fixture f;
  CHECK(f.eval("1 + 2 * 3") == Value::of_int(7));
  CHECK(f.eval("(1 + 2) * 3") == Value::of_int(9));
  CHECK(f.eval("7 / 2") == Value::of_decimal(*Decimal::parse("3.5")));
  CHECK(f.eval("price * 2") == Value::of_decimal(*Decimal::parse("25")));
  CHECK(f.eval("0.1 + 0.2 == 0.3") == Value::of_bool(true));  // exact decimals
  CHECK(f.eval("n > 5 and n <= 7") == Value::of_bool(true));
  CHECK(f.eval("not flag or n == 7") == Value::of_bool(true));
  CHECK(f.eval("-n + 10") == Value::of_int(3));
  CHECK(f.eval("\"a\" + \"b\"") == Value::of_text("ab"));
  CHECK(f.eval("1 / 0").is_null());
  CHECK(f.eval("99999999999999 * 99999999999999").is_null());  // overflow is null, not UB
  CHECK(f.eval("missing + 1").is_null());
  CHECK(f.eval("missing > 1") == Value::of_bool(false));
  CHECK(f.eval("2 workdays + 3 workdays") == Value::of_duration(Decimal::from_int(5), ast::TimeUnit::workday));
}

TEST_CASE("expr: lists, in, enums, text", "[expr]") {
  Fixture f;
  CHECK(f.eval("n in [1, 7, 9]") == Value::of_bool(true));
  CHECK(f.eval("n not in [1, 2]") == Value::of_bool(true));
  CHECK(f.eval("category == \"veteran\"") == Value::of_bool(true));
  CHECK(f.eval("category in [\"civilian\"]") == Value::of_bool(false));
  CHECK(f.eval("\"三\" in name") == Value::of_bool(true));
  CHECK(f.eval("len(name)") == Value::of_int(3));  // characters, not bytes
  CHECK(f.eval("len([1, 2])") == Value::of_int(2));
  CHECK(f.eval("matches(name, \"^张\")") == Value::of_bool(true));
  CHECK(f.eval("contains(name, \"丰\")") == Value::of_bool(true));
}

TEST_CASE("expr: dates and identifiers", "[expr]") {
  Fixture f;
  CHECK(f.eval("age(id)") == Value::of_int(76));
  CHECK(f.eval("birth_date(id) == date(\"1949-12-31\")") == Value::of_bool(true));
  CHECK(f.eval("valid_idcard(id)") == Value::of_bool(true));
  CHECK(f.eval("valid_idcard(\"340524198001010013\")") == Value::of_bool(false));
  // Born after the evaluation's today (2026-11-28): not valid, and no (negative) age (issue 13).
  CHECK(f.eval("valid_idcard(\"110105202701010016\")") == Value::of_bool(false));
  CHECK(f.eval("age(\"110105202701010016\")").is_null());
  CHECK(f.eval("valid_uscc(\"91350100M000100Y43\")") == Value::of_bool(true));
  CHECK(f.eval("today() - born") == Value::of_int(days_from_civil({2026, 11, 28}) - days_from_civil({2000, 2, 29})));
  // 2026-11-27 (Fri) to 2026-11-30 (Mon): one weekday after the Friday.
  CHECK(f.eval("workdays_between(date(\"2026-11-27\"), date(\"2026-11-30\"))") == Value::of_int(1));
  CHECK(f.eval("workdays_between(date(\"2026-11-23\"), date(\"2026-11-30\"))") == Value::of_int(5));
}

TEST_CASE("expr: type errors are precise", "[expr]") {
  Fixture f;
  CHECK(f.error("n and flag") == "'and' needs bool operands, found int");
  CHECK(f.error("name > 3") ==
        "cannot order text and int (numbers, dates and durations only): the left side `name` is text, the right side `3` is int");
  // Which side is which, also when the sides are long expressions.
  CHECK(f.error("flag + (price * 2)").find("the left side `flag` is bool, the right side `price * 2` is money") != std::string::npos);
  CHECK(f.error("category == \"veteren\"").find("did you mean \"veteran\"?") != std::string::npos);
  CHECK(f.error("nn + 1") == "unknown name 'nn'; did you mean 'n'?");
  CHECK(f.error("lenn(name)") == "unknown function 'lenn'; did you mean 'len'?");
  CHECK(f.error("len(name, 1)") == "'len' takes 1 argument, found 2");
  CHECK(f.error("age(n)") == "'age' needs an idcard, found int");
  CHECK(f.error("[1, \"a\"]").find("list elements must share one type") != std::string::npos);
  CHECK(f.error("matches(name, \"(\")") == "not a valid regular expression");
  CHECK(f.error("date(\"2026-02-30\")").find("is not a real date") != std::string::npos);
  CHECK(f.error("flag - 1").find("cannot apply '-'") != std::string::npos);
}

TEST_CASE("expr: decision tables", "[expr][decisions]") {
  Fixture f;
  const auto parsed = parse(R"(
decide permits collect { when flag and n > 5 -> "fire", "liquor"; when flag -> "liquor" }
decide level first { when n > 10 -> "high"; when n > 5 -> "mid"; otherwise -> "low" }
decide only unique { when n > 5 -> 1; when n > 6 -> 2; otherwise -> 0 }
decide fee (area: decimal) first { when area > 500 -> 300; otherwise -> 100 }
)", "d.flow");
  REQUIRE(parsed.ok());
  for (const auto& d : parsed.file.declarations) {
    auto compiled = compile_decision(*d.decision, f.scope, f.sink);
    REQUIRE(compiled);
    f.scope.add_decision(d.decision->id.text, compiled);
  }
  CHECK(f.eval("permits") == Value::of_list({Value::of_text("fire"), Value::of_text("liquor"), Value::of_text("liquor")}));
  CHECK(f.eval("\"fire\" in permits") == Value::of_bool(true));
  CHECK(f.eval("level") == Value::of_text("mid"));
  CHECK(f.eval("only").is_null());  // two rules match a unique table
  CHECK(f.eval("fee(600)") == Value::of_int(300));
  CHECK(f.eval("fee(12.5)") == Value::of_int(100));
  CHECK(f.error("fee(\"big\")").find("argument 1 of 'fee' must be decimal") != std::string::npos);
  CHECK(f.error("fee").find("takes parameters") != std::string::npos);
}

TEST_CASE("expr: constants are recognised for folding", "[expr]") {
  Fixture f;
  CHECK(f.compile("1 + 2 > 2")->is_constant());
  CHECK(!f.compile("n > 2")->is_constant());
  CHECK(!f.compile("today() > date(\"2020-01-01\")")->is_constant());
}

TEST_CASE("expr: operations on constants are folded when compiled, to the value evaluation gives", "[expr]") {
  Fixture f;
  CHECK(f.compile("1 + 2 * 3")->node_count() == 1);
  CHECK(f.eval("1 + 2 * 3") == Value::of_int(7));
  CHECK(f.compile("n > 1 + 2 * 3")->node_count() == 3);  // n, 7 and the comparison
  CHECK(f.eval("n > 1 + 2 * 3") == Value::of_bool(false));
  CHECK(f.compile("1 / 0")->node_count() == 1);
  CHECK(f.eval("1 / 0").is_null());
  CHECK(f.compile("1 / 3")->node_count() == 1);
  CHECK(f.eval("1 / 3") == Value::of_decimal(*Decimal::parse("0.3333")));  // exact decimals, as evaluated
  CHECK(f.compile("0.1 + 0.2 == 0.3")->node_count() == 1);
  CHECK(f.eval("0.1 + 0.2 == 0.3") == Value::of_bool(true));
  CHECK(f.eval("2 > 1") == Value::of_bool(true));
  CHECK(f.eval("1 > 2") == Value::of_bool(false));
  CHECK(f.eval("\"a\" == \"b\"") == Value::of_bool(false));
  CHECK(f.eval("not (3 in [1, 2])") == Value::of_bool(true));
  CHECK(f.compile("n in [1, 7, 9]")->node_count() == 3);
  CHECK(f.eval("n in [1, 7, 9]") == Value::of_bool(true));
  CHECK(f.compile("len(\"张三\" + \"丰\") == 3")->node_count() == 1);
  CHECK(f.eval("len(\"张三\" + \"丰\") == 3") == Value::of_bool(true));
  // What reads the environment stays: today, the calendar, and what depends on today.
  CHECK(f.compile("today() > date(\"2020-01-01\")")->node_count() == 3);
  CHECK(f.compile("workdays_between(date(\"2026-01-05\"), date(\"2026-01-09\"))")->node_count() == 3);
  CHECK(f.compile("valid_idcard(\"11010519491231002X\")")->node_count() == 2);
  // The depth limit counts expressions as written, folded or not: a rule 150 levels deep
  // (one constant when folded) read under 60 `not`s is over the limit of 200.
  std::string rule = "1";
  for (int i = 0; i < 150; ++i) rule += " + 1";
  const auto parsed = parse("decide deep first { when " + rule + " > 0 -> true; otherwise -> false }", "d.flow");
  REQUIRE(parsed.ok());
  const auto deep = compile_decision(*parsed.file.declarations[0].decision, f.scope, f.sink);
  REQUIRE(deep);
  f.scope.add_decision("deep", deep);
  std::string reading = "deep";
  for (int i = 0; i < 60; ++i) reading = "not " + reading;
  CHECK(f.error(reading).find("nests too deeply") != std::string::npos);
  CHECK(to_string(f.eval("deep")) == "true");
  CHECK(to_string(f.eval("not deep")) == "false");
}

namespace {
// Counts how often an expression reads the calendar: an operand that is evaluated.
struct CountingCalendar final : WorkdayCounter {
  mutable int calls = 0;
  std::int64_t workdays_between(std::int64_t from_days, std::int64_t to_days) const override {
    ++calls;
    return to_days - from_days;
  }
};
}  // namespace

TEST_CASE("expr: and, or and decisions do not evaluate what the left side has decided", "[expr][decisions]") {
  Fixture f;
  CountingCalendar calendar;
  const Environment env{f.slots, days_from_civil({2026, 11, 28}), &calendar};
  const std::string right = "workdays_between(born, today()) > 0";
  auto holds = [&](const std::string& text) {
    INFO(text);
    auto compiled = f.compile(text);
    REQUIRE(compiled);
    return compiled->holds(env);
  };
  auto value = [&](const std::string& text) {
    auto compiled = f.compile(text);
    REQUIRE(compiled);
    return compiled->evaluate(env);
  };
  CHECK(!holds("not flag and " + right));
  CHECK(!holds("false and " + right));
  CHECK(!holds("missing > 1 and " + right));
  CHECK(holds("flag or " + right));
  CHECK(holds("true or " + right));
  CHECK(holds("n == 7 or (" + right + " and " + right + ")"));
  CHECK(value("not flag and " + right) == Value::of_bool(false));
  CHECK(value("flag or " + right) == Value::of_bool(true));
  CHECK(value("not (flag or " + right + ")") == Value::of_bool(false));
  CHECK(calendar.calls == 0);
  // Where the left side does not decide, the right side is read.
  CHECK(holds("flag and " + right));
  CHECK(calendar.calls == 1);
  CHECK(holds("not flag or " + right));
  CHECK(calendar.calls == 2);

  // A `first` table stops at the first rule that holds.
  const auto parsed = parse(R"(decide pick first { when n > 5 -> "early"; when workdays_between(born, today()) > 0 -> "late" })", "d.flow");
  REQUIRE(parsed.ok());
  const auto decision = compile_decision(*parsed.file.declarations[0].decision, f.scope, f.sink);
  REQUIRE(decision);
  CHECK(decision->evaluate(env) == Value::of_text("early"));
  CHECK(calendar.calls == 2);
}
