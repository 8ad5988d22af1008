// Bad input of every kind gets diagnostics: never a crash, a hang or a stack overflow.
#include <catch2/catch.hpp>

#include <onevisit/dsl/formatter.hpp>
#include <onevisit/dsl/parser.hpp>

#include "../test_support.hpp"

#include <chrono>
#include <random>

using namespace onevisit::dsl;
using namespace onevisit::testing;

namespace {

// Parses and checks `text`; whatever it is, the run must end with a result. When it parses
// cleanly, formatting must round-trip.
std::vector<LocatedDiagnostic> survive(const std::string& text, const std::map<std::string, std::string>& others = {}) {
  auto files = others;
  files["main.flow"] = text;
  const auto diagnostics = check_files(files);
  const auto parsed = parse(text, "main.flow");
  if (parsed.ok()) {
    const auto formatted = format(parsed.file, text);
    const auto again = parse(formatted, "formatted");
    REQUIRE(again.ok());
    REQUIRE(again.file == parsed.file);
  }
  return diagnostics;
}

bool mentions(const std::vector<LocatedDiagnostic>& d, std::string_view words) {
  return describe(d).find(words) != std::string::npos;
}

}  // namespace

TEST_CASE("robustness: empty and blank files", "[robustness]") {
  CHECK(survive("").empty());
  CHECK(survive("\n\n   \t\n# only a comment").empty());
}

TEST_CASE("robustness: invalid UTF-8 is reported where it is", "[robustness]") {
  const auto d = survive("department d \"市场\"\ndepartment e \"\xff\xfe\"\n");
  REQUIRE(d.size() == 1);
  CHECK(d[0].diagnostic.code == "invalid-utf8");
  CHECK(d[0].start.line == 2);
  CHECK(d[0].start.column == 15);
  CHECK(has_code(survive("\xc3"), "invalid-utf8"));           // truncated sequence
  CHECK(has_code(survive("\xed\xa0\x80"), "invalid-utf8"));   // surrogate
  CHECK(has_code(survive("\xc0\xaf"), "invalid-utf8"));       // overlong
}

TEST_CASE("robustness: 100,000-deep nesting does not overflow the stack", "[robustness]") {
  const std::size_t depth = 100000;
  for (const auto& [open, close] : std::vector<std::pair<std::string, std::string>>{
           {"(", ")"}, {"[", "]"}, {"not ", ""}, {"-", ""}, {"f(", ")"}}) {
    std::string nested;
    for (std::size_t i = 0; i < depth; ++i) nested += open;
    nested += "1";
    for (std::size_t i = 0; i < depth; ++i) nested += close;
    INFO(open);
    const auto d = survive("bundle b version 1 { form { a: int default " + nested + " } }\n");
    CHECK(mentions(d, "nests too deeply"));
  }
  std::string braces(depth, '{');
  CHECK(!survive(braces).empty());
  CHECK(!survive(std::string(depth, '}')).empty());
  CHECK(!survive("bundle b version 1 " + braces).empty());
}

TEST_CASE("robustness: a 10 MB line", "[robustness]") {
  const std::size_t size = 10u << 20;
  const auto start = std::chrono::steady_clock::now();
  CHECK(survive("# " + std::string(size, 'x') + "\ndepartment d\n").empty());
  CHECK(survive("department d \"" + std::string(size, 'y') + "\"\n").empty());
  CHECK(!survive(std::string(size, '!')).empty());
  CHECK(mentions(survive("bundle b version " + std::string(size, '9') + " {}"), "too long"));
  CHECK(!survive("department " + std::string(size, 'a') + " adapter").empty());
  const auto d = survive("department d \"" + std::string(size, 'z'));  // unterminated
  CHECK(mentions(d, "unterminated string"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(60));
}

TEST_CASE("robustness: NUL bytes and control characters", "[robustness]") {
  CHECK(!survive(std::string("department d\0\0 x", 16)).empty());
  CHECK(!survive("\x01\x02\x03").empty());
}

TEST_CASE("robustness: every prefix-truncation of the bundled workflows", "[robustness]") {
  for (const auto& path : workflow_files()) {
    const std::string text = read_file(path);
    const std::size_t step = std::max<std::size_t>(1, text.size() / 150);
    for (std::size_t cut = 0; cut < text.size(); cut += step) {
      INFO(path.string() << " cut at " << cut);
      survive(text.substr(0, cut));
    }
  }
}

TEST_CASE("robustness: randomised mutations of the bundled workflows", "[robustness][mutation]") {
  // Deterministic: the same seed gives the same mutants, so a failure can be replayed.
  std::mt19937_64 random(20261128);
  const std::vector<std::string> tokens = {"{", "}", "(", ")", "\"", "#", ",", ";", ":", "->", "..", "%", "item", "use",
                                           "bundle", "when", "and", "not", "1", "0.5", "2026-02-30", "\xe5\xb8\x82", "\n"};
  const auto files = workflow_files();
  REQUIRE(!files.empty());
  std::map<std::string, std::string> originals;
  for (const auto& p : files) originals[p.string()] = read_file(p);
  int mutants = 0;
  for (int round = 0; round < 1500; ++round) {
    const auto& path = files[random() % files.size()];
    std::string text = originals[path.string()];
    const int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const std::size_t at = random() % text.size();
      switch (random() % 5) {
        case 0: text.erase(at, 1 + random() % 20); break;
        case 1: text.insert(at, tokens[random() % tokens.size()]); break;
        case 2: text[at] = static_cast<char>(random() % 256); break;
        case 3: {  // duplicate a chunk
          const std::size_t length = std::min<std::size_t>(text.size() - at, 1 + random() % 80);
          text.insert(random() % text.size(), text.substr(at, length));
          break;
        }
        default: text.resize(at); break;
      }
    }
    INFO("round " << round << " on " << path.string());
    survive(text);
    ++mutants;
  }
  CHECK(mutants == 1500);
}

TEST_CASE("robustness: a file of a few bytes is located in its own text", "[robustness]") {
  // Regression (fuzz target flow, tests/fuzz-regressions/flow/short-file-line-index.flow):
  // a file's LineIndex viewed the loader's local copy of the text; a text short enough for
  // std::string's inline buffer moved away from it, and locating read a dead stack frame.
  const auto d = check_files({{"main.flow", "import \"é\""}});
  REQUIRE(d.size() == 1);
  CHECK(d[0].diagnostic.code == "import-not-found");
  CHECK(d[0].start.line == 1);
  CHECK(d[0].start.column == 8);
  CHECK(render_text(d[0]).find("import \"é\"") != std::string::npos);
}
