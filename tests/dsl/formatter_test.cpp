#include <catch2/catch.hpp>

#include <onevisit/dsl/formatter.hpp>
#include <onevisit/dsl/parser.hpp>

#include "../test_support.hpp"

using namespace onevisit::dsl;
using namespace onevisit::testing;

TEST_CASE("formatter: every bundled workflow round-trips and is idempotent", "[formatter]") {
  const auto files = workflow_files();
  REQUIRE(files.size() >= 5);
  for (const auto& path : files) {
    INFO(path.string());
    const std::string text = read_file(path);
    const auto parsed = parse(text, path.string());
    REQUIRE(parsed.ok());
    const std::string formatted = format(parsed.file, text);
    const auto reparsed = parse(formatted, "formatted");
    REQUIRE(reparsed.ok());
    CHECK(reparsed.file == parsed.file);                   // same tree
    CHECK(format(reparsed.file, formatted) == formatted);  // idempotent
    CHECK(reparsed.file.comments.size() == parsed.file.comments.size());  // no comment lost
  }
}

TEST_CASE("formatter: canonical layout", "[formatter]") {
  const std::string text =
      "# catalog\n\n\n"
      "department  d \"部门\"   adapter  sys # the system\n"
      "item i \"事项\" by d { code \"1\"; limit 1 workday statutory 15 workdays\n"
      "  # needs the card\n"
      "  needs a,b }\n"
      "decide x first { when (a or b) and c -> 1 ; when a - (b - c) > 2 * (3 + 4) -> 2 }\n";
  const auto parsed = parse(text, "t.flow");
  REQUIRE(parsed.ok());
  CHECK(format(parsed.file, text) ==
        "# catalog\n"
        "\n"
        "department d \"部门\" adapter sys  # the system\n"
        "item i \"事项\" by d {\n"
        "  code \"1\"\n"
        "  limit 1 workday statutory 15 workdays\n"
        "  # needs the card\n"
        "  needs a, b\n"
        "}\n"
        "decide x first {\n"
        "  when (a or b) and c -> 1\n"
        "  when a - (b - c) > 2 * (3 + 4) -> 2\n"
        "}\n");
}

TEST_CASE("formatter: a clock-stopping state keeps why it stops the clock", "[formatter]") {
  const std::string text =
      "lifecycle l {\n"
      "  state a initial\n"
      "  state b pauses_clock as waiting\n"
      "  state c pauses_clock as special\n"
      "  state d pauses_clock as correction\n"
      "  state e pauses_clock\n"
      "}\n"
      "item i \"事项\" by d {\n"
      "  joint any with e, f\n"
      "}\n";
  const auto parsed = parse(text, "t.flow");
  REQUIRE(parsed.ok());
  CHECK(format(parsed.file, text) == text);
}

TEST_CASE("formatter: minimal parentheses keep the tree", "[formatter][expr]") {
  for (const char* source : {"a or b or c", "a or (b or c)", "(a and b) or c", "not (a and b)", "not a == b",
                             "-(a + b)", "a - (b - c)", "(a - b) - c", "a / (b * c)", "(a == b) == c",
                             "x.y.z", "f(a, [1, 2], \"s\\\"q\")", "5 workdays", "not not a", "- -1"}) {
    INFO(source);
    const auto e = parse_expression(source);
    REQUIRE(e.ok());
    const std::string printed = format_expression(e.expr);
    const auto again = parse_expression(printed);
    REQUIRE(again.ok());
    CHECK(again.expr == e.expr);
  }
  CHECK(format_expression(parse_expression("(a + (b * c))").expr) == "a + b * c");
}

TEST_CASE("formatter: retain keeps its unit and its personal fields", "[formatter][retention]") {
  const std::string text = "bundle b version 1 {\n  retain   1 year personal  a,b\n  retain 6 months\n}\n";
  const auto parsed = parse(text, "t.flow");
  REQUIRE(parsed.ok());
  const std::string formatted = format(parsed.file, text);
  CHECK(formatted == "bundle b version 1 {\n  retain 1 year personal a, b\n  retain 6 months\n}\n");
  const auto reparsed = parse(formatted, "t.flow");
  REQUIRE(reparsed.ok());
  CHECK(reparsed.file == parsed.file);
}

TEST_CASE("formatter: an event's title follows its name", "[formatter][titles]") {
  const std::string text = "lifecycle l {\n  state a initial\n  state b final\n  on   approve   \"准予许可\" :  a -> b by reviewer\n}\n";
  const auto parsed = parse(text, "t.flow");
  REQUIRE(parsed.ok());
  const std::string formatted = format(parsed.file, text);
  CHECK(formatted == "lifecycle l {\n  state a initial\n  state b final\n  on approve \"准予许可\": a -> b by reviewer\n}\n");
  const auto reparsed = parse(formatted, "t.flow");
  REQUIRE(reparsed.ok());
  CHECK(reparsed.file == parsed.file);
}

TEST_CASE("formatter: a check keeps its condition and message", "[formatter][checks]") {
  const std::string text = "bundle b version 1 {\n  check   end_date>start_date   \"竣工日期应晚于开工日期\"\n}\n";
  const auto parsed = parse(text, "t.flow");
  REQUIRE(parsed.ok());
  const std::string formatted = format(parsed.file, text);
  CHECK(formatted == "bundle b version 1 {\n  check end_date > start_date \"竣工日期应晚于开工日期\"\n}\n");
  const auto reparsed = parse(formatted, "t.flow");
  REQUIRE(reparsed.ok());
  CHECK(reparsed.file == parsed.file);
}

TEST_CASE("formatter: `from elicense … of field` round-trips", "[formatter][elicense]") {
  const std::string text = "material father_card \"父亲身份证\" from elicense \"居民身份证\" of father_id secondary\n";
  const auto parsed = parse(text, "t.flow");
  REQUIRE(parsed.ok());
  const std::string formatted = format(parsed.file, text);
  CHECK(formatted == text);
  const auto reparsed = parse(formatted, "formatted");
  REQUIRE(reparsed.ok());
  CHECK(reparsed.file == parsed.file);
}
