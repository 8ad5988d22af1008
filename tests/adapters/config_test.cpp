#include <catch2/catch.hpp>

#include <onevisit/adapters/config.hpp>
#include <onevisit/engine/engine.hpp>

#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include "cli/case_commands.hpp"
#include "../test_support.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace onevisit;
namespace fs = std::filesystem;

TEST_CASE("adapters: deployment configuration", "[adapters][config]") {
  auto config = adapters::parse_adapter_config(R"(
[systems.market_registry]
kind = "xml-exchange"
folder = "/tmp/exchange/market"

[systems.notify]
kind = "log"

[dispatch]
max_attempts = 5
first_backoff_ms = 200
)");
  REQUIRE(config);
  CHECK(config->systems == std::vector<std::string>{"market_registry", "notify"});
  CHECK(config->registry.find("market_registry") != nullptr);
  CHECK(config->registry.find("tax_gateway") == nullptr);
  CHECK(config->dispatch.max_attempts == 5);
  CHECK(config->dispatch.first_backoff == std::chrono::milliseconds(200));

  auto bad = adapters::parse_adapter_config("[systems.x]\nkind = \"carrier-pigeon\"\n", "site.toml");
  REQUIRE(!bad);
  CHECK(bad.error().find("site.toml:1:") != std::string::npos);
  CHECK(bad.error().find("unknown kind 'carrier-pigeon'") != std::string::npos);
  bad = adapters::parse_adapter_config("[systems.x]\nkind = \"xml-exchange\"\n");
  REQUIRE(!bad);
  CHECK(bad.error().find("needs folder") != std::string::npos);
  bad = adapters::parse_adapter_config("[systems.x\nkind=", "broken.toml");
  REQUIRE(!bad);
  CHECK(bad.error().starts_with("broken.toml:"));
  bad = adapters::parse_adapter_config("[dispatch]\nmax_attempts = -1\n[systems.n]\nkind=\"log\"\n");
  REQUIRE(!bad);
  CHECK(bad.error().find("positive") != std::string::npos);
  CHECK(!adapters::load_adapter_config("/nonexistent/deploy.toml"));
}

TEST_CASE("adapters: onevisit dispatch delivers a case's calls into the exchange folder", "[adapters][cli]") {
  const onevisit::testing::ScratchDir scratch("onevisit-dispatch");
  const fs::path& root = scratch.path();
  const std::string flow = R"(
lifecycle standard {
  state submitted initial; state approved final
  on approve: submitted -> approved by clerk do call(dept.submit)
}
department tax "税务局" adapter tax_gateway
bundle b "发票" version 1 { lifecycle standard; item invoice "发票申领" by tax { limit 1 workday } }
)";
  const auto db = (root / "cases.db").string();
  {
    auto engine = engine::Engine::open({db, nullptr});
    REQUIRE(engine);
    REQUIRE((*engine)->deploy_sources({{"b.flow", flow}}, {"b.flow"}));
    auto started = (*engine)->start_case("b", {}, "", {"s", "u", "clerk"});
    REQUIRE(started);
    REQUIRE((*engine)->execute(started->case_id, engine::FireEvent{"invoice", "approve", {}}, {"a", "u", "clerk"}));
  }
  std::ofstream(root / "deploy.toml") << "[systems.tax_gateway]\nkind = \"xml-exchange\"\nfolder = \"" << (root / "tax").string() << "\"\n";
  std::ostringstream out, err;
  REQUIRE(cli::run_dispatch({db, (root / "deploy.toml").string(), true, 10}, out, err) == 0);
  CHECK(out.str() == "delivered 1, to retry 0, parked 0, held by open circuits 0; answers applied 0, receipts quarantined 0\n");
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(root / "tax" / "out")) files += e.path().extension() == ".xml";
  CHECK(files == 1);
  // Nothing left to deliver the second time.
  std::ostringstream again;
  REQUIRE(cli::run_dispatch({db, (root / "deploy.toml").string(), true, 10}, again, err) == 0);
  CHECK(again.str() == "delivered 0, to retry 0, parked 0, held by open circuits 0; answers applied 0, receipts quarantined 0\n");
}

TEST_CASE("adapters: a parked call is shown with the case, retried and resolved by hand", "[adapters][cli]") {
  const onevisit::testing::ScratchDir scratch("onevisit-parked");
  const fs::path& root = scratch.path();
  const std::string flow = R"(
lifecycle standard {
  state submitted initial; state approved final
  on approve: submitted -> approved by clerk do call(dept.submit)
}
department tax "税务局" adapter tax_gateway
department police "公安局" adapter police_exchange
bundle b "发票" version 1 {
  lifecycle standard
  item invoice "发票申领" by tax { limit 1 workday }
  item seal "刻章" by police { limit 1 workday }
}
)";
  const auto db = (root / "cases.db").string();
  std::string case_id;
  {
    auto engine = engine::Engine::open({db, nullptr});
    REQUIRE(engine);
    REQUIRE((*engine)->deploy_sources({{"b.flow", flow}}, {"b.flow"}));
    auto started = (*engine)->start_case("b", {}, "", {"s", "u", "clerk"});
    REQUIRE(started);
    case_id = started->case_id;
    REQUIRE((*engine)->execute(case_id, engine::FireEvent{"invoice", "approve", {}}, {"a1", "u", "clerk"}));
    REQUIRE((*engine)->execute(case_id, engine::FireEvent{"seal", "approve", {}}, {"a2", "u", "clerk"}));
  }
  // Only the tax system is configured: the police call is parked at once.
  std::ofstream(root / "deploy.toml") << "[systems.tax_gateway]\nkind = \"log\"\n";
  std::ostringstream out, err;
  REQUIRE(cli::run_dispatch({db, (root / "deploy.toml").string(), true, 10}, out, err) == 0);
  CHECK(out.str().starts_with("delivered 1, to retry 0, parked 1"));

  auto run = [&](cli::CaseOptions o, std::string& printed) {
    o.database = db;
    o.case_id = case_id;
    std::ostringstream o_out, o_err;
    const int code = cli::run_case(o, o_out, o_err);
    printed = o_out.str() + o_err.str();
    return code;
  };
  std::string printed;
  cli::CaseOptions calls;
  calls.action = "calls";
  REQUIRE(run(calls, printed) == 0);
  CHECK(printed.find("delivered  tax.submit via tax_gateway") != std::string::npos);
  CHECK(printed.find("parked  police.submit via police_exchange  attempts 1  未配置部门系统「police_exchange」的接口") != std::string::npos);
  CHECK(printed.find("（no_adapter）") != std::string::npos);
  const std::string parked_id = printed.substr(printed.find('\n') + 1, printed.find("  parked") - printed.find('\n') - 1);

  cli::CaseOptions resolve;
  resolve.action = "resolve-call";
  resolve.call_id = parked_id;
  CHECK(run(resolve, printed) == 1);  // a note is required
  CHECK(printed.find("needs a note") != std::string::npos);
  cli::CaseOptions retry;
  retry.action = "retry-call";
  retry.call_id = parked_id;
  REQUIRE(run(retry, printed) == 0);
  CHECK(printed == "call " + parked_id + " will be delivered again\n");
  CHECK(run(retry, printed) == 1);  // pending now, not parked
  // Parked again (still no adapter), then settled by hand.
  REQUIRE(cli::run_dispatch({db, (root / "deploy.toml").string(), true, 10}, out, err) == 0);
  resolve.note = "已电话通知公安分局，线下办结";
  REQUIRE(run(resolve, printed) == 0);
  REQUIRE(run(calls, printed) == 0);
  CHECK(printed.find("parked") == std::string::npos);
  CHECK(printed.find("resolved by hand: 已电话通知公安分局，线下办结 (by cli)") != std::string::npos);
  cli::CaseOptions unknown;
  unknown.action = "retry-call";
  unknown.call_id = "999999";
  CHECK(run(unknown, printed) == 1);
}

TEST_CASE("adapters: configuration text that toml++ 3.3 mishandles is refused with its place", "[adapters][config]") {
  // Regression (fuzz target config_toml, tests/fuzz-regressions/config_toml/): toml++ 3.3 reaches
  // __builtin_unreachable() on some non-ASCII characters outside strings (e.g. U+00E9, U+3001)
  // and on table headers without a name. Such text is never valid TOML (bare keys are ASCII),
  // so it is refused before toml++ sees it.
  for (const std::string& text : std::initializer_list<std::string>{"[syst\xc3\xa9ms.x]\nkind = \"log\"\n", "[systems.x]\nkind = \"log\" \xe3\x80\x81\n",
                                 "seed = 1B'B\xc7\x80'\n", "seed = 11[\"\xe2\xbb\x93\"\n",
                                 // a quote after a dot inside a value is part of a bad number, not a string (30-minute run)
                                 std::string("'('=[[9.'\xc5\x80\x00" "9", 13)}) {
    INFO(text);
    const auto config = adapters::parse_adapter_config(text, "site.toml");
    REQUIRE(!config);
    CHECK(config.error().find("outside quotes") != std::string::npos);
  }
  // Bytes that are not UTF-8 are refused wherever they stand.
  const auto not_utf8 = adapters::parse_adapter_config("\n[\xbe\xbe]\n", "site.toml");
  REQUIRE(!not_utf8);
  CHECK(not_utf8.error() == "site.toml:2:2: bytes that are not UTF-8; save the file as UTF-8");
  const auto bad = adapters::parse_adapter_config("[systems.x]\nkind = \"log\" \xe3\x80\x81\n", "site.toml");
  REQUIRE(!bad);
  CHECK(bad.error().find("site.toml:2:14:") == 0);
  // Control characters other than tab and line ends are refused wherever they stand (toml++ 3.3
  // reached __builtin_unreachable() on U+000E inside an array; 30-minute run).
  for (const std::string& text : std::initializer_list<std::string>{"'('=[9\x0esystem|k=[\"\xcc\x90\n\"\"=3.D0", "a = \"x\x01\"\n",
                                                                    "# \x7f\n", "a = 1\rb = 2\n", std::string("a = [\0]\n", 8)}) {
    INFO(text);
    const auto config = adapters::parse_adapter_config(text, "site.toml");
    REQUIRE(!config);
    CHECK(config.error().find("a control character (U+00") != std::string::npos);
  }
  const auto control = adapters::parse_adapter_config("[systems.x]\nkind = [1,\x0e]\n", "site.toml");
  REQUIRE(!control);
  CHECK(control.error().find("site.toml:2:11: a control character (U+000E)") == 0);
  // toml++ also assumes a table header starts with a key character or a quote.
  for (const std::string text : {"\n[\n[", "[=a]\n", "[[ =]]\n"}) {
    INFO(text);
    const auto config = adapters::parse_adapter_config(text, "site.toml");
    REQUIRE(!config);
    CHECK(config.error().find("a table header needs a name") != std::string::npos);
  }
  // Inside strings and comments any UTF-8 is fine; arrays of arrays may start a line.
  const auto fine = adapters::parse_adapter_config(
      "# 某某区\r\n[systems.notify]  # 短信\t\nkind = \"sms\"\nurl = \"http://10.1.2.9/sms\"\nsign = \"某某区政务服务中心\"\n"
      "note = '''\n多行 ' \"\n'''\nother = \"\"\"\n\\\"多行\\\"\"\"\"\nnested = [\n[1, 2],\n{ x = [3] },\n]\n[ \"systems\".log ]\nkind = \"log\"\n");
  INFO((fine ? std::string() : fine.error()));
  CHECK(fine);
}

TEST_CASE("adapters: toml++ is given configuration text as ASCII with the same meaning", "[adapters][config]") {
  // toml++ 3.3 reaches __builtin_unreachable() on non-ASCII bytes where it does not expect them
  // (tests/fuzz-regressions/config_toml/). ascii_toml hands it ASCII only; valid text keeps its
  // meaning, so the two parses agree.
  for (const std::string text :
       {"sign = '某某区 \"政务\" C:\\服务'\nnote = '''\n多行 ' \" \\ \n结尾''''\n", "[\"系统\".'区·log']  # 注释 ü\nkind = \"\\\"短信\\\" 😀\"\n",
        "a = \"\"\"\n多行\\\n  续\"\"\"\"\"\nb = ['甲', \"乙\", { c = '丙' }]\n", "'键' = 1\nplain = 'ascii only'\n"}) {
    INFO(text);
    const auto ascii = adapters::ascii_toml(text, "site.toml");
    REQUIRE(ascii);
    CHECK(std::ranges::none_of(ascii->text, [](char c) { return static_cast<unsigned char>(c) >= 0x80; }));
    auto original = toml::parse(text);
    REQUIRE(original);
    auto converted = toml::parse(ascii->text);
    INFO(ascii->text);
    REQUIRE(converted);
    CHECK(original.table() == converted.table());
  }
  // Errors toml++ reports in the ASCII text name the place in the original, in characters.
  const auto misplaced = adapters::parse_adapter_config("[systems.x]\nkind = '某某' x\n", "site.toml");
  REQUIRE(!misplaced);
  CHECK(misplaced.error().find("site.toml:2:13:") == 0);
  // The two inputs toml++ 3.3 still mishandled after the first pre-check (30-minute run).
  const auto three_quotes = adapters::ascii_toml("\n\"\"\"\n[s\\\xce\xbc*@", "site.toml");
  REQUIRE(!three_quotes);
  CHECK(three_quotes.error() == "site.toml:3:4: a backslash before a character that is no TOML escape (\\n, \\t, \\\", \\\\, \\uXXXX ...)");
  const auto not_utf8 = adapters::ascii_toml("a = '\xcf\x93\xa6'\n", "site.toml");
  REQUIRE(!not_utf8);
  CHECK(not_utf8.error() == "site.toml:1:7: bytes that are not UTF-8; save the file as UTF-8");
}
