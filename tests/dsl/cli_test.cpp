#include <catch2/catch.hpp>

#include "cli/commands.hpp"

#include <boost/json.hpp>

#include "../test_support.hpp"

#include <fstream>
#include <sstream>

using namespace onevisit;
namespace fs = std::filesystem;

namespace {
fs::path scratch(const std::string& name) {
  static const testing::ScratchDir dir("onevisit-cli-test");  // removed when the tests end
  return dir.path() / name;
}
void write(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }
}  // namespace

TEST_CASE("cli: check exit codes and formats", "[cli]") {
  const auto good = scratch("good.flow");
  const auto bad = scratch("bad.flow");
  write(good, "department d \"部门\"\n");
  write(bad, "department d \"部门\" adapter\n");
  std::ostringstream out, err;
  CHECK(cli::run_check({{good.string()}, cli::OutputFormat::text}, out, err) == 0);
  CHECK(out.str().find("ok: 0 errors, 0 warnings in 1 file") != std::string::npos);
  out.str("");
  CHECK(cli::run_check({{bad.string()}, cli::OutputFormat::text}, out, err) == 1);
  CHECK(out.str().find("bad.flow:1:26: error[syntax]: expected a name") != std::string::npos);
  out.str("");
  CHECK(cli::run_check({{bad.string()}, cli::OutputFormat::json}, out, err) == 1);
  const auto json = boost::json::parse(out.str()).as_array();
  REQUIRE(json.size() == 1);
  const auto& d = json[0].as_object();
  CHECK(d.at("line").as_int64() == 1);
  CHECK(d.at("column").as_int64() == 26);  // characters: "部门" is 2 characters, 6 bytes
  CHECK(d.at("end_line").as_int64() == 1);
  CHECK(d.at("severity").as_string() == "error");
  CHECK(d.at("code").as_string() == "syntax");
  CHECK(d.contains("file"));
  CHECK(d.contains("end_column"));
  CHECK(d.contains("message"));
  CHECK(cli::run_check({{scratch("nope.flow").string()}, cli::OutputFormat::text}, out, err) == 2);
}

TEST_CASE("cli: fmt rewrites, --check reports, bad files stay untouched", "[cli]") {
  const auto file = scratch("fmt.flow");
  write(file, "department  d   \"部门\"\n");
  std::istringstream in;
  std::ostringstream out, err;
  CHECK(cli::run_fmt({{file.string()}, true}, in, out, err) == 1);
  CHECK(testing::read_file(file) == "department  d   \"部门\"\n");
  CHECK(cli::run_fmt({{file.string()}, false}, in, out, err) == 0);
  CHECK(testing::read_file(file) == "department d \"部门\"\n");
  CHECK(cli::run_fmt({{file.string()}, true}, in, out, err) == 0);
  write(file, "department d \"open\n");
  CHECK(cli::run_fmt({{file.string()}, false}, in, out, err) == 1);
  CHECK(testing::read_file(file) == "department d \"open\n");
  std::istringstream stdin_text("item   x by d\n");
  std::ostringstream formatted;
  CHECK(cli::run_fmt({{"-"}, false}, stdin_text, formatted, err) == 0);
  CHECK(formatted.str() == "item x by d\n");
}
