#include <catch2/catch.hpp>

#include "cli/case_commands.hpp"
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

// Issue 13: a calendar running out of declared years counted the next year as plain weekdays
// without a word. The calendar is made for the test: years are written only from the notice.
TEST_CASE("cli: check warns when a bundle's calendar ends within 60 days", "[cli][calendar]") {
  const auto file = scratch("calendar.flow");
  write(file,
        "calendar test_cal \"测试日历\" {\n  holiday 2031-10-01..2031-10-07 \"国庆节\"\n}\n"
        "lifecycle standard {\n  state submitted \"已提交\" initial; state approved \"已办结\" final\n"
        "  on approve: submitted -> approved by reviewer\n}\n"
        "department d \"部门\"\nitem x \"事项\" by d { limit 5 workdays }\n"
        "bundle b \"一件事\" version 1 {\n  promise 5 workdays; calendar test_cal; lifecycle standard\n  use x\n}\n");
  auto check_on = [&](const std::string& today) {
    std::ostringstream out, err;
    cli::CheckOptions options{{file.string()}, cli::OutputFormat::text, today};
    CHECK(cli::run_check(options, out, err) == 0);  // a warning, not an error
    return out.str();
  };
  CHECK(check_on("2031-11-01").find("ok: 0 errors, 0 warnings") != std::string::npos);  // 61 days left
  const auto near = check_on("2031-11-02");                                             // 59 days left
  CHECK(near.find("calendar.flow:1:10: warning[calendar-ending]: calendar 'test_cal' declares holidays only up to 2031-12-31 (in 59 days, used by bundle 'b')") !=
        std::string::npos);
  CHECK(check_on("2032-01-15").find("(15 days ago, used by bundle 'b')") != std::string::npos);
  std::ostringstream out, err;
  CHECK(cli::run_check({{file.string()}, cli::OutputFormat::text, "15.1.2032"}, out, err) == 2);
  CHECK(err.str() == "onevisit check: --today takes a date YYYY-MM-DD, not '15.1.2032'\n");
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

// Issue 17: the engine refuses a phone or ID number as a client-chosen case id, so the CLI
// does too; what the CLI prints (errors, the case, its history) shows no full number.
TEST_CASE("cli: case start refuses a personal number as case id, and show, history and errors mask numbers", "[cli][personal]") {
  const auto flow = scratch("personal.flow");
  write(flow, R"(
lifecycle standard {
  state submitted initial; state accepted; state correcting pauses_clock; state approved final
  on accept: submitted -> accepted by clerk
  on request_correction: submitted, accepted -> correcting by clerk requires reason
  on corrected: correcting -> accepted by applicant
  on approve: accepted -> approved by reviewer
}
department market "市场监管局" adapter market_registry
item registration "设立登记" by market { limit 5 workdays }
bundle personal "个人信息" version 1 {
  promise 5 workdays; lifecycle standard
  form { company_name "企业名称": text required }
  use registration
}
)");
  const auto db = scratch("personal.db").string();
  std::ostringstream out, err;
  REQUIRE(cli::run_deploy({db, {flow.string()}}, out, err) == 0);
  auto run = [&](cli::CaseOptions o, std::string& printed) {
    o.database = db;
    std::ostringstream o_out, o_err;
    const int code = cli::run_case(o, o_out, o_err);
    printed = o_out.str() + o_err.str();
    return code;
  };
  std::string printed;
  cli::CaseOptions start;
  start.action = "start";
  start.bundle = "personal";
  start.fields = {"company_name=某某公司"};
  for (const std::string id : {"13812345678", "+86 138 1234 5678", "11010519491231002X"}) {
    INFO(id);
    start.case_id = id;
    CHECK(run(start, printed) == 1);
    CHECK(printed.find("含有个人信息") != std::string::npos);
    CHECK(printed.find("personal_case_id") != std::string::npos);
    CHECK(printed.find(id) == std::string::npos);
  }
  cli::CaseOptions list;
  list.action = "list";
  REQUIRE(run(list, printed) == 0);
  CHECK(printed.empty());
  // An unknown case named by a phone number: the error does not repeat it.
  cli::CaseOptions missing;
  missing.action = "show";
  missing.case_id = "13812345678";
  CHECK(run(missing, printed) == 1);
  CHECK(printed.find("13812345678") == std::string::npos);

  start.case_id = "P1";
  start.applicant = "张三丰";
  start.fields = {"company_name=某某公司（联系人 +86 138 1234 5678）"};
  REQUIRE(run(start, printed) == 0);
  cli::CaseOptions correction;
  correction.action = "fire";
  correction.case_id = "P1";
  correction.item = "registration";
  correction.event = "request_correction";
  correction.reason = "请致电 0571-8765-4321 或 １３９１２３４５６７８";
  REQUIRE(run(correction, printed) == 0);
  cli::CaseOptions show;
  show.action = "show";
  show.case_id = "P1";
  show.format = cli::OutputFormat::json;
  REQUIRE(run(show, printed) == 0);
  CHECK(printed.find("+86 138 **** **78") != std::string::npos);
  CHECK(printed.find("张**") != std::string::npos);
  cli::CaseOptions history;
  history.action = "history";
  history.case_id = "P1";
  std::string shown_history;
  REQUIRE(run(history, shown_history) == 0);
  CHECK(shown_history.find("057*-****-**21") != std::string::npos);
  for (const std::string number : {"1234 5678", "8765-4321", "１２３４５６７８"}) {
    INFO(number);
    CHECK(printed.find(number) == std::string::npos);
    CHECK(shown_history.find(number) == std::string::npos);
  }
}

// Issue 14: a case records the channel it came in by; `case start --channel` sets it and the
// case and the case list show it.
TEST_CASE("cli: case start --channel records how the case came in", "[cli][channel]") {
  const auto flow = scratch("channel.flow");
  write(flow, R"(
lifecycle simple {
  state submitted initial; state approved final
  on approve: submitted -> approved by reviewer
}
department market "市场监管局" adapter market_registry
item registration "设立登记" by market { limit 5 workdays }
bundle channels "渠道" version 1 {
  promise 5 workdays; lifecycle simple
  form { company_name "企业名称": text required }
  use registration
}
)");
  const auto db = scratch("channel.db").string();
  std::ostringstream out, err;
  REQUIRE(cli::run_deploy({db, {flow.string()}}, out, err) == 0);
  auto run = [&](cli::CaseOptions o) {
    o.database = db;
    o.format = cli::OutputFormat::json;
    std::ostringstream o_out, o_err;
    const int code = cli::run_case(o, o_out, o_err);
    INFO(o_err.str());
    CHECK(code == 0);
    return o_out.str() + o_err.str();
  };
  cli::CaseOptions start;
  start.action = "start";
  start.bundle = "channels";
  start.fields = {"company_name=某某公司"};
  start.case_id = "M1";
  start.intake_channel = "mobile";
  run(start);
  start.case_id = "W1";
  start.intake_channel = "window";
  run(start);
  cli::CaseOptions show;
  show.action = "show";
  show.case_id = "M1";
  CHECK(run(show).find(R"("channel":"mobile")") != std::string::npos);
  cli::CaseOptions list;
  list.action = "list";
  const auto listed = run(list);
  CHECK(listed.find(R"("case_id":"M1","bundle":"channels","bundle_version":1,"status":"running","channel":"mobile")") != std::string::npos);
  CHECK(listed.find(R"("channel":"window")") != std::string::npos);
  start.case_id = "X1";
  start.intake_channel = "fax";
  start.database = db;
  std::ostringstream o_out, o_err;
  CHECK(cli::run_case(start, o_out, o_err) == 1);
  CHECK(o_err.str().find("办理渠道") != std::string::npos);
}

// Issue 13: on the command line too, clock control follows the lifecycle's roles and the
// reviewer's department (the applicant paused any item before), and special procedures run.
TEST_CASE("cli: who may stop a clock, and special procedures", "[cli][clock]") {
  const auto flow = scratch("clock.flow");
  write(flow, R"(
lifecycle standard {
  state submitted initial; state accepted; state approved final
  on accept: submitted -> accepted by clerk starts_clock
  on approve: accepted -> approved by reviewer
}
department market "市场监管局" adapter market_registry
department police "公安局" adapter seal_system
item registration "设立登记" by market { limit 5 workdays; special site_inspection "现场踏勘" max 3 workdays pauses_clock }
bundle clock "计时" version 1 {
  promise 5 workdays; lifecycle standard
  form { company_name "企业名称": text required }
  use registration
}
)");
  const auto db = scratch("clock.db").string();
  std::ostringstream out, err;
  REQUIRE(cli::run_deploy({db, {flow.string()}}, out, err) == 0);
  auto run = [&](cli::CaseOptions o, std::string& printed) {
    o.database = db;
    o.case_id = "K1";
    std::ostringstream o_out, o_err;
    const int code = cli::run_case(o, o_out, o_err);
    printed = o_out.str() + o_err.str();
    return code;
  };
  std::string printed;
  cli::CaseOptions start;
  start.action = "start";
  start.bundle = "clock";
  start.fields = {"company_name=杭州一件事科技有限公司"};
  REQUIRE(run(start, printed) == 0);
  cli::CaseOptions accept;
  accept.action = "fire";
  accept.item = "registration";
  accept.event = "accept";
  REQUIRE(run(accept, printed) == 0);

  cli::CaseOptions pause;
  pause.action = "pause";
  pause.reason = "现场核查";
  pause.role = "applicant";
  CHECK(run(pause, printed) != 0);
  CHECK(printed.find("申请人不能办理") != std::string::npos);
  pause.role = "reviewer";
  pause.department = "police";
  CHECK(run(pause, printed) != 0);
  CHECK(printed.find("只有该部门的审批人员可以掌握它的计时") != std::string::npos);
  pause.department = "market";
  CHECK(run(pause, printed) == 0);
  cli::CaseOptions resume = pause;
  resume.action = "resume";
  CHECK(run(resume, printed) == 0);

  cli::CaseOptions special;
  special.action = "special-start";
  special.item = "registration";
  special.procedure = "hearing";
  special.reason = "核实经营场所";
  special.role = "reviewer";
  special.department = "market";
  CHECK(run(special, printed) != 0);
  CHECK(printed.find("没有“hearing”这一特别程序") != std::string::npos);
  special.procedure = "site_inspection";
  CHECK(run(special, printed) == 0);
  cli::CaseOptions show;
  show.action = "show";
  REQUIRE(run(show, printed) == 0);
  CHECK(printed.find("special procedure site_inspection running since") != std::string::npos);
  cli::CaseOptions end = special;
  end.action = "special-end";
  end.procedure.clear();
  end.reason.clear();
  end.result = "场所与申报一致";
  CHECK(run(end, printed) == 0);
  REQUIRE(run(show, printed) == 0);
  CHECK(printed.find("running since") == std::string::npos);
}

// Issue 13, joint handling: `case countersign` decides a department's part of a joint item
// (会签) and refuses, in the core's words, what is not that reviewer's to decide; the
// department's worklist lists the part until it is decided.
TEST_CASE("cli: case countersign decides a department's part of a joint item", "[cli][joint]") {
  const auto flow = scratch("joint.flow");
  write(flow, R"(
lifecycle standard {
  state submitted initial; state accepted; state approved final; state rejected final failed
  on accept: submitted -> accepted by clerk starts_clock
  on approve: accepted -> approved by reviewer
  on reject: accepted -> rejected by reviewer requires reason
}
department market "市场监管局" adapter market_registry
department police "公安局" adapter seal_system
item registration "设立登记" by market { limit 5 workdays; joint all with police }
item seal "刻章" by police { limit 1 workday }
bundle joint "联办" version 1 {
  promise 5 workdays; lifecycle standard
  form { company_name "企业名称": text required }
  use registration
  use seal
}
)");
  const auto db = scratch("joint.db").string();
  std::ostringstream out, err;
  REQUIRE(cli::run_deploy({db, {flow.string()}}, out, err) == 0);
  auto run = [&](cli::CaseOptions o, std::string& printed) {
    o.database = db;
    o.case_id = "J1";
    std::ostringstream o_out, o_err;
    const int code = cli::run_case(o, o_out, o_err);
    printed = o_out.str() + o_err.str();
    return code;
  };
  std::string printed;
  cli::CaseOptions start;
  start.action = "start";
  start.bundle = "joint";
  start.fields = {"company_name=杭州一件事科技有限公司"};
  REQUIRE(run(start, printed) == 0);
  cli::CaseOptions worklist;
  worklist.action = "worklist";
  worklist.department = "police";
  cli::CaseOptions countersign;
  countersign.action = "countersign";
  countersign.item = "registration";
  countersign.part = "police";
  countersign.approve = true;
  countersign.role = "reviewer";
  countersign.department = "police";
  // Before 受理 there is nothing to decide, and nothing in 公安局's worklist but its own item.
  CHECK(run(countersign, printed) != 0);
  CHECK(printed.find("还不能会签") != std::string::npos);
  for (const char* item : {"registration", "seal"}) {
    cli::CaseOptions accept;
    accept.action = "fire";
    accept.item = item;
    accept.event = "accept";
    REQUIRE(run(accept, printed) == 0);
  }
  REQUIRE(run(worklist, printed) == 0);
  CHECK(printed.find("registration  accepted  market  countersign by police") != std::string::npos);
  CHECK(printed.find("seal  accepted  police\n") != std::string::npos);

  cli::CaseOptions refused = countersign;
  refused.item = "seal";  // not a joint item
  CHECK(run(refused, printed) != 0);
  CHECK(printed.find("不是联办事项") != std::string::npos);
  refused = countersign;
  refused.department = "market";  // another department's reviewer
  CHECK(run(refused, printed) != 0);
  CHECK(printed.find("会签只能由该部门的审批人员办理") != std::string::npos);
  refused = countersign;
  refused.role = "clerk";
  CHECK(run(refused, printed) != 0);
  CHECK(printed.find("审批人员办理") != std::string::npos);
  refused = countersign;
  refused.approve = false;  // neither agrees nor refuses
  CHECK(run(refused, printed) == 2);
  CHECK(printed.find("--approve or --refuse") != std::string::npos);

  countersign.note = "同意刻章备案";
  REQUIRE(run(countersign, printed) == 0);
  CHECK(printed.find("ItemPartDecided") != std::string::npos);
  REQUIRE(run(worklist, printed) == 0);
  CHECK(printed.find("countersign by police") == std::string::npos);
  CHECK(run(countersign, printed) != 0);  // once
  CHECK(printed.find("已对「设立登记」作出会签意见") != std::string::npos);

  // 市场监管局 refuses its part: under `all` the item is refused with that reason.
  cli::CaseOptions refuse = countersign;
  refuse.part = "market";
  refuse.department = "market";
  refuse.approve = false;
  refuse.note.clear();
  refuse.refuse = "经营范围不符";
  REQUIRE(run(refuse, printed) == 0);
  cli::CaseOptions show;
  show.action = "show";
  REQUIRE(run(show, printed) == 0);
  CHECK(printed.find("registration  rejected") != std::string::npos);
}

// Issue 13, diagnostics: a name unknown only because an import is missing says which file
// declares it, and the follow-on error (the bundle cannot be compiled) comes after its cause.
TEST_CASE("cli: check names the file that declares a name a missing import hides, and follow-on errors come last", "[cli][diagnostics]") {
  fs::create_directories(scratch("imports/catalog"));
  const auto catalog = scratch("imports/catalog/materials.flow");
  const auto main = scratch("imports/main.flow");
  write(catalog, "material lease \"租赁合同\" upload pdf\n");
  write(main,
        "department market \"市场监管局\"\n"
        "lifecycle simple { state a \"待办\" initial; state b \"已办结\" final; on accept: a -> b by clerk }\n"
        "bundle b \"测试\" version 1 {\n  promise 2 workdays; lifecycle simple\n"
        "  item x \"事项\" by market { needs lease; limit 1 workday }\n}\n");
  std::ostringstream out, err;
  CHECK(cli::run_check({{main.string(), catalog.string()}, cli::OutputFormat::text}, out, err) == 1);
  const auto text = out.str();
  INFO(text);
  const auto unknown = text.find("error[unknown-name]: unknown material 'lease': it is declared in");
  REQUIRE(unknown != std::string::npos);
  CHECK(text.find("materials.flow, which this file does not import; add import \"catalog/materials.flow\"") != std::string::npos);
  const auto follow_on = text.find("error[not-compiled]");
  REQUIRE(follow_on != std::string::npos);
  CHECK(unknown < follow_on);  // the bundle's line comes first in the file, its cause first in the list
}
