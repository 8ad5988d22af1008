// The clerk service over real HTTP on loopback: sessions, CSRF, permissions by role and
// department, bad input, the audit trail. Each test starts its own service on an ephemeral
// port with a small workflow and a virtual clock.
#include "postgres_support.hpp"
#include "server/http_client.hpp"

#include <catch2/catch.hpp>

#include "deptsim/simulator.hpp"

#include <onevisit/adapters/adapter.hpp>
#include <onevisit/adapters/elicense.hpp>
#include <onevisit/adapters/results.hpp>
#include <onevisit/server/server.hpp>

#include "server/raw_http.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>
#include <tuple>

using namespace onevisit;
namespace fs = std::filesystem;
namespace json = boost::json;
namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using testing::Client;
using testing::Reply;

namespace {

// A small bundle: registration by market (needs an e-license and an upload), then a seal by
// police. Weekday calendar, so the test needs no other file.
const std::string kFlow = R"(
lifecycle standard {
  state submitted initial; state accepted; state correcting pauses_clock
  state approved final; state rejected final failed
  on accept: submitted -> accepted by clerk when materials.complete
  on request_correction: submitted, accepted -> correcting by clerk, reviewer requires reason do notify(applicant, "请补正")
  on corrected: correcting -> accepted by applicant
  on approve: accepted -> approved by reviewer when materials.verified do call(dept.submit)
  on reject: accepted -> rejected by reviewer requires reason
  warn at 80%
  on overdue do escalate(supervisor)
}
department market "市场监管局" adapter market_registry
department police "公安局" adapter seal_system
material id_card "身份证" from elicense "居民身份证"
material articles "公司章程" upload pdf
material license "营业执照" produced_by registration
item registration "设立登记" by market { limit 5 workdays statutory 15 workdays; needs id_card, articles; produces license
  special site_inspection "现场踏勘" max 3 workdays pauses_clock }
bundle startup "企业开办" version 1 {
  promise 6 workdays; lifecycle standard
  form {
    company_name "企业名称": text required
    legal_rep_id "法定代表人身份证": idcard required
    capital "注册资本": money required min 0
  }
  use registration
  item seal "刻章" by police after registration { needs license, id_card; sends company_name; limit 1 workday }
}
)";

bool has_cjk(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) >= 0xE4 && static_cast<unsigned char>(c) <= 0xE9; });
}

engine::Timestamp at(int year, int month, int day, int hour = 10) {
  return (dsl::days_from_civil({year, month, day}) * 24 * 60 + hour * 60) * 60'000;
}

const std::string kPassword = "correct horse battery";

// What the service's e-license library is: the department simulator's (the default), the
// simulator's with no resident ID cards in it, or none configured.
enum class Library { simulator, simulator_without_id_cards, none };

// Every system the test workflows name logs its calls (as an unconfigured service does).
const std::string kLogSystems =
    "[systems.market_registry]\nkind = \"log\"\n[systems.seal_system]\nkind = \"log\"\n[systems.notify]\nkind = \"log\"\n";

// A running service with one user per role (two reviewers: market and police).
struct Fixture {
  fs::path dir;
  std::optional<onevisit::testing::PostgresScratch> scratch;  ///< the database, when the test runs on PostgreSQL
  engine::VirtualClock clock{at(2026, 3, 2)};
  std::unique_ptr<deptsim::Simulator> simulator;  ///< plays the e-license library
  std::unique_ptr<server::Service> service;
  std::string admin_password;

  explicit Fixture(std::size_t max_material_bytes = 64 * 1024, std::string adapter_config = kLogSystems, bool secure_cookies = false,
                   Library library = Library::simulator) {
    if (library != Library::none) {
      deptsim::Options sim;
      if (library == Library::simulator_without_id_cards) sim.missing_licenses = {"居民身份证"};
      auto started = deptsim::Simulator::start(sim);
      if (!started) FAIL(started.error());
      simulator = std::move(*started);
      adapter_config += "[elicense]\nurl = \"" + simulator->url() + "/elicense\"\ntimeout_ms = 2000\n";
    }
    static int counter = 0;
    dir = fs::temp_directory_path() / ("onevisit-server-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    fs::remove_all(dir);
    fs::create_directories(dir / "workflows");
    fs::create_directories(dir / "console" / "js");
    std::ofstream(dir / "workflows" / "startup.flow") << kFlow;
    std::ofstream(dir / "console" / "index.html") << "<!doctype html><title>onevisit</title>";
    std::ofstream(dir / "console" / "js" / "app.js") << "export const app = 1;";
    std::ofstream(dir / "secret.txt") << "outside the console";
    server::ServiceOptions options;
    options.database = onevisit::testing::server_test_database(dir, scratch);
    options.workflows = (dir / "workflows").string();
    options.listen = "127.0.0.1:0";
    options.threads = 2;
    options.max_material_bytes = max_material_bytes;
    options.max_json_bytes = 16 * 1024;
    options.console_dir = dir / "console";
    options.secure_cookies = secure_cookies;
    if (!adapter_config.empty()) {
      std::ofstream(dir / "deploy.toml") << adapter_config;
      options.adapter_config = (dir / "deploy.toml").string();
    }
    options.clock = &clock;
    options.cheap_password_hashing = true;
    options.timer_interval = std::chrono::milliseconds(50);
    options.dispatch_interval = std::chrono::milliseconds(50);
    auto started = server::Service::start(options);
    if (!started) FAIL(started.error());
    service = std::move(*started);
    REQUIRE(service->initial_admin_password());
    admin_password = *service->initial_admin_password();
    Client admin = client();
    REQUIRE(admin.login("admin", admin_password).status == 200);
    for (const auto& [name, role, department] : std::vector<std::tuple<std::string, std::string, std::string>>{
             {"clerk", "window_clerk", ""},
             {"market", "reviewer", "market"},
             {"police", "reviewer", "police"},
             {"boss", "supervisor", ""},
             {"designer", "designer", ""}}) {
      auto created = admin.post("/api/users", json::object{{"name", name}, {"role", role}, {"department", department}, {"password", kPassword}});
      INFO(created.body);
      REQUIRE(created.status == 201);
    }
  }
  ~Fixture() {
    service.reset();
    if (simulator) simulator->stop();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  Client client() { return Client(service->port()); }
  Client as(const std::string& name) {
    Client c = client();
    const auto reply = c.login(name, name == "admin" ? admin_password : kPassword);
    INFO(reply.body);
    REQUIRE(reply.status == 200);
    return c;
  }
  std::uint64_t case_version(const std::string& case_id) {
    auto view = service->engine().get_case(case_id);
    REQUIRE(view);
    return view->state.version;
  }
};

json::object startup_form() {
  return json::object{{"company_name", "杭州一件事科技有限公司"}, {"legal_rep_id", "11010519491231002X"}, {"capital", 100000}};
}

// Starts a case as the clerk and makes registration ready for the reviewer's approval.
std::string case_ready_for_approval(Fixture& f, Client& clerk, const std::string& case_id = "C1") {
  auto started = clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"case_id", case_id}, {"form", startup_form()},
                                                        {"applicant", "11010519491231002X"}});
  INFO(started.body);
  REQUIRE(started.status == 201);
  REQUIRE(clerk.post("/api/cases/" + case_id + "/materials/id_card/elicense", json::object{}).status == 200);
  auto uploaded = clerk.send("PUT", "/api/cases/" + case_id + "/materials/articles", "%PDF-1.4 articles", {{"Content-Type", "application/pdf"}, {"X-File-Name", "articles.pdf"}});
  INFO(uploaded.body);
  REQUIRE(uploaded.status == 200);
  REQUIRE(clerk.post("/api/cases/" + case_id + "/materials/articles/verify", json::object{{"accept", true}}).status == 200);
  auto accepted = clerk.post("/api/cases/" + case_id + "/items/registration/events/accept", json::object{});
  INFO(accepted.body);
  REQUIRE(accepted.status == 200);
  (void)f;
  return case_id;
}

std::string item_state(Client& c, const std::string& case_id, const std::string& item) {
  auto reply = c.get("/api/cases/" + case_id);
  REQUIRE(reply.status == 200);
  const auto body = reply.json();
  for (const auto& i : body.at("items").as_array()) {
    if (i.at("item").as_string() == item) return std::string(i.at("state").as_string());
  }
  FAIL("no item " << item);
  return {};
}

}  // namespace

TEST_CASE("server: first start deploys the workflows and creates the admin once", "[server]") {
  Fixture f;
  Client admin = f.as("admin");
  auto workflows = admin.get("/api/workflows");
  REQUIRE(workflows.status == 200);
  REQUIRE(workflows.json().at("workflows").as_array().size() == 1);
  CHECK(workflows.json().at("workflows").as_array()[0].at("bundle").as_string() == "startup");
  // Every response carries a request id; a sane one given by the client is kept.
  CHECK(workflows.header("x-request-id").size() == 16);
  CHECK(admin.send("GET", "/api/workflows", {}, {{"X-Request-Id", "trace-42"}}).header("x-request-id") == "trace-42");

  // A second start on the same database creates no second admin and deploys nothing again.
  const auto database = (f.dir / "cases.db").string();
  f.service.reset();
  server::ServiceOptions options;
  options.database = database;
  options.workflows = (f.dir / "workflows").string();
  options.listen = "127.0.0.1:0";
  options.cheap_password_hashing = true;
  options.clock = &f.clock;
  auto again = server::Service::start(options);
  REQUIRE(again);
  CHECK_FALSE((*again)->initial_admin_password());
  Client c((*again)->port());
  CHECK(c.login("admin", f.admin_password).status == 200);
  CHECK(c.login("admin", "wrong password").status == 401);

  // A lost admin password: --reset-admin-password generates a new one; the old one is dead.
  again->reset();
  options.reset_admin_password = true;
  auto reset = server::Service::start(options);
  REQUIRE(reset);
  REQUIRE((*reset)->initial_admin_password());
  CHECK(*(*reset)->initial_admin_password() != f.admin_password);
  Client r((*reset)->port());
  CHECK(r.login("admin", f.admin_password).status == 401);
  CHECK(r.login("admin", *(*reset)->initial_admin_password()).status == 200);
}

TEST_CASE("server: the demo staff set gives every department of the bundled workflows a reviewer, once", "[server]") {
  // The README's tour walks a restaurant case through the fire and housing departments too:
  // --demo-staff makes the people it needs in one step.
  const auto dir = fs::temp_directory_path() / ("onevisit-demo-staff-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  server::ServiceOptions options;
  options.database = (dir / "cases.db").string();
  options.workflows = std::string(ONEVISIT_SOURCE_DIR) + "/workflows";
  options.listen = "127.0.0.1:0";
  options.cheap_password_hashing = true;
  options.demo_staff = true;
  auto first = server::Service::start(options);
  REQUIRE(first);
  const auto staff = (*first)->demo_accounts();
  std::set<std::string> departments;
  const auto deployed = (*first)->engine().workflows();
  REQUIRE(deployed);
  for (const auto& record : *deployed) {
    for (const auto& department : (*first)->engine().workflow(record.bundle_id, record.version)->departments) departments.insert(department.id);
  }
  REQUIRE(departments.size() > 5);
  REQUIRE(staff.size() == departments.size() + 2);
  Client c((*first)->port());
  for (const auto& account : staff) {
    INFO(account.name);
    CHECK(account.password.size() == 16);
    auto login = c.login(account.name, account.password);
    REQUIRE(login.status == 200);
    const auto body = login.json();
    const auto& user = body.at("user");
    CHECK(user.at("role").as_string() == account.role);
    if (account.role == "reviewer") {
      CHECK(departments.contains(std::string(user.at("department").as_string())));
      CHECK(account.name == std::string(user.at("department").as_string()) + "_reviewer");
      CHECK(!account.department.empty());
    }
  }
  CHECK(std::count_if(staff.begin(), staff.end(), [](const auto& a) { return a.name == "wang" && a.role == "window_clerk"; }) == 1);
  CHECK(std::count_if(staff.begin(), staff.end(), [](const auto& a) { return a.name == "zhao" && a.role == "supervisor"; }) == 1);
  // Started again with the flag: everyone exists, nobody is made again, the passwords hold.
  first->reset();
  auto again = server::Service::start(options);
  REQUIRE(again);
  CHECK((*again)->demo_accounts().empty());
  Client d((*again)->port());
  CHECK(d.login(staff.front().name, staff.front().password).status == 200);
  again->reset();
  fs::remove_all(dir);
}

TEST_CASE("server: log in, who am I, log out, the session ends", "[server][both-databases]") {
  Fixture f;
  Client clerk = f.client();
  CHECK(clerk.get("/api/session").status == 401);
  auto bad = clerk.login("clerk", "not the password");
  CHECK(bad.status == 401);
  CHECK(bad.code() == "bad_credentials");
  auto ok = clerk.login("clerk", kPassword);
  REQUIRE(ok.status == 200);
  CHECK(ok.json().at("user").at("role").as_string() == "window_clerk");
  // The session cookie is HttpOnly and SameSite=Strict; the CSRF cookie is readable.
  bool http_only = false;
  for (auto [it, end] = ok.headers.equal_range("set-cookie"); it != end; ++it) {
    if (it->second.rfind("ov_session=", 0) == 0) http_only = it->second.find("HttpOnly") != std::string::npos && it->second.find("SameSite=Strict") != std::string::npos;
  }
  CHECK(http_only);
  CHECK(ok.header("set-cookie").find("Secure") == std::string::npos);  // plain HTTP by default
  auto me = clerk.get("/api/session");
  REQUIRE(me.status == 200);
  CHECK(me.json().at("user").at("name").as_string() == "clerk");
  CHECK(clerk.send("DELETE", "/api/session").status == 200);
  auto after = clerk.get("/api/session");
  CHECK(after.status == 401);
  CHECK(after.code() == "session_expired");
}

TEST_CASE("server: a window clerk starts a case, the market reviewer approves, the police reviewer cannot", "[server][both-databases]") {
  Fixture f;
  Client clerk = f.as("clerk");
  const auto case_id = case_ready_for_approval(f, clerk);
  CHECK(item_state(clerk, case_id, "registration") == "accepted");

  // The police reviewer neither sees the market's item nor may act on it.
  Client police = f.as("police");
  const auto before = f.case_version(case_id);
  auto denied = police.post("/api/cases/" + case_id + "/items/registration/events/approve", json::object{});
  CHECK(denied.status == 403);
  CHECK(denied.code() == "forbidden");
  CHECK(f.case_version(case_id) == before);

  Client market = f.as("market");
  auto worklist = market.get("/api/worklist");
  REQUIRE(worklist.status == 200);
  REQUIRE(worklist.json().at("entries").as_array().size() == 1);
  CHECK(worklist.json().at("entries").as_array()[0].at("item").as_string() == "registration");
  CHECK(worklist.json().at("entries").as_array()[0].at("item_title").as_string() == "设立登记");
  CHECK(worklist.json().at("entries").as_array()[0].at("bundle_title").as_string() == "企业开办");
  auto approved = market.post("/api/cases/" + case_id + "/items/registration/events/approve", json::object{});
  INFO(approved.body);
  REQUIRE(approved.status == 200);
  CHECK(item_state(market, case_id, "registration") == "approved");
  // The seal is the police's now: it shows in their worklist, not in the market's.
  CHECK(police.get("/api/worklist").json().at("entries").as_array().size() == 1);
  CHECK(market.get("/api/worklist").json().at("entries").as_array().empty());
  CHECK(market.get("/api/worklist?department=police").status == 403);

  // The police reviewer's view of the case: the seal, the materials it needs, and only the
  // form field it sends to the police; nothing of the market's item, no ID number anywhere.
  auto police_view = police.get("/api/cases/" + case_id);
  REQUIRE(police_view.status == 200);
  const auto seen = police_view.json();
  REQUIRE(seen.at("items").as_array().size() == 1);
  CHECK(seen.at("items").as_array()[0].at("item").as_string() == "seal");
  CHECK(seen.at("form").as_object().size() == 1);
  CHECK(seen.at("form").as_object().contains("company_name"));
  CHECK(seen.at("materials").as_array().size() == 2);  // license, id_card
  auto police_history = police.get("/api/cases/" + case_id + "/history");
  REQUIRE(police_history.status == 200);
  CHECK(police_history.body.find("articles") == std::string::npos);
  for (const auto* body : {&police_view.body, &police_history.body}) CHECK(body->find("11010519491231002X") == std::string::npos);
  CHECK(clerk.get("/api/cases/" + case_id + "/history").body.find("11010519491231002X") == std::string::npos);

  // History shows the approval; the audit trail records who did it from where.
  auto history = clerk.get("/api/cases/" + case_id + "/history");
  REQUIRE(history.status == 200);
  bool transitioned = false;
  const auto events = history.json();
  for (const auto& e : events.at("events").as_array()) transitioned |= e.at("type").as_string() == "ItemTransitioned";
  CHECK(transitioned);
  Client boss = f.as("boss");
  auto audit = boss.get("/api/audit?target=" + case_id);
  REQUIRE(audit.status == 200);
  bool approval = false, denial = false;
  const auto records = audit.json();
  for (const auto& r : records.at("records").as_array()) {
    const std::string action(r.at("action").as_string());
    if (action.find("/events/approve") == std::string::npos) continue;
    CHECK(r.at("remote_address").as_string() == "127.0.0.1");
    if (r.at("actor").as_string() == "market" && r.at("outcome").as_string() == "ok") approval = true;
    if (r.at("actor").as_string() == "police" && r.at("outcome").as_string() == "forbidden") denial = true;
  }
  CHECK(approval);
  CHECK(denial);
}

// The timeline said "提交材料" ten times: the history is a view people read (docs/api.md), not
// the storage encoding: who acted by display name, which item and material, the states before
// and after by title, the reason.
TEST_CASE("server: the case history says who did what to which item and material, from which state to which", "[server][history]") {
  Fixture f;
  Client admin = f.as("admin");
  REQUIRE(admin.send("PATCH", "/api/users/clerk", json::serialize(json::object{{"display_name", "王窗口"}})).status == 200);
  Client clerk = f.as("clerk");
  const auto case_id = case_ready_for_approval(f, clerk);
  Client market = f.as("market");
  auto correction = market.post("/api/cases/" + case_id + "/items/registration/events/request_correction",
                                json::object{{"fields", json::object{{"reason", "章程缺少签字，请致电 13812345678"}}}});
  INFO(correction.body);
  REQUIRE(correction.status == 200);

  auto reply = clerk.get("/api/cases/" + case_id + "/history");
  REQUIRE(reply.status == 200);
  const auto body = reply.json();
  const auto& events = body.at("events").as_array();
  REQUIRE(events.size() >= 6);
  const json::object* upload = nullptr;
  const json::object* accept = nullptr;
  const json::object* correct = nullptr;
  for (const auto& e : events) {
    const auto& o = e.as_object();
    // Every entry: when, what (kind and its Chinese title), who; the storage payload never.
    CHECK(o.at("at").as_string().size() == 16);
    CHECK_FALSE(o.at("title").as_string().empty());
    CHECK(o.at("kind") == o.at("type"));
    CHECK(o.at("actor").as_object().contains("display_name"));
    CHECK_FALSE(o.contains("payload"));  // the storage encoding's leftover is gone
    if (o.at("kind") == "MaterialAttached" && o.at("material").at("id") == "articles") upload = &o;
    if (o.at("kind") == "ItemTransitioned" && o.at("event") == "accept") accept = &o;
    if (o.at("kind") == "ItemTransitioned" && o.at("event") == "request_correction") correct = &o;
  }
  REQUIRE(upload != nullptr);
  CHECK(upload->at("title") == "提交材料");
  CHECK(upload->at("material") == json::value(json::object{{"id", "articles"}, {"title", "公司章程"}}));
  CHECK(upload->at("actor") == json::value(json::object{{"kind", "user"}, {"name", "clerk"}, {"display_name", "王窗口"}}));
  CHECK(upload->at("note") == "articles.pdf");
  REQUIRE(accept != nullptr);
  CHECK(accept->at("item") == json::value(json::object{{"id", "registration"}, {"title", "设立登记"}}));
  CHECK(accept->at("from").at("id") == "submitted");
  CHECK(accept->at("to").at("id") == "accepted");
  CHECK(accept->at("event_title") == "受理");
  CHECK(accept->at("actor").at("display_name") == "王窗口");
  REQUIRE(correct != nullptr);
  CHECK(correct->at("from").at("id") == "accepted");
  CHECK(correct->at("to").at("id") == "correcting");
  CHECK(correct->at("actor").at("name") == "market");  // no display name: the account's name
  CHECK(correct->at("reason") == "章程缺少签字，请致电 138******78");
  // Nothing of the storage encoding: no content hashes, no raw form slots, no full numbers.
  for (const std::string stored : {"\"hash\"", "\"slots\"", "\"transition\"", "13812345678", "11010519491231002X"}) {
    INFO(stored);
    CHECK(reply.body.find(stored) == std::string::npos);
  }
}

TEST_CASE("server: after 补正 the clerk records the applicant's corrected materials at the window and the item goes on", "[server][history]") {
  // Issue 14: the item's only exit from 补正 was the applicant's `corrected`, which nobody could fire.
  Fixture f;
  Client clerk = f.as("clerk");
  const auto case_id = case_ready_for_approval(f, clerk);
  Client market = f.as("market");
  const std::string events = "/api/cases/" + case_id + "/items/registration/events/";
  REQUIRE(market.post(events + "request_correction", json::object{{"fields", json::object{{"reason", "章程缺少签字"}}}}).status == 200);
  // Without for_applicant the clerk is not the applicant; a reviewer may never act for one.
  auto refused = clerk.post(events + "corrected", json::object{});
  CHECK(refused.status == 403);
  CHECK(refused.json().at("reason") == "role_not_allowed");
  CHECK(market.post(events + "corrected", json::object{{"for_applicant", true}}).status == 403);
  CHECK(clerk.post(events + "approve", json::object{{"for_applicant", true}}).json().at("reason") == "not_an_applicant_event");
  CHECK(clerk.post(events + "corrected", json::object{{"for_applicant", "yes"}}).status == 400);
  auto done = clerk.post(events + "corrected", json::object{{"for_applicant", true}});
  INFO(done.body);
  REQUIRE(done.status == 200);
  auto view = clerk.get("/api/cases/" + case_id).json();
  bool accepted = false;
  for (const auto& item : view.at("items").as_array()) {
    if (item.at("item") == "registration") accepted = item.at("state") == "accepted";
  }
  CHECK(accepted);
  const auto history = clerk.get("/api/cases/" + case_id + "/history").json();
  const auto& last = history.at("events").as_array().back().as_object();
  CHECK(last.at("event") == "corrected");
  CHECK(last.at("actor").at("name") == "clerk");
  CHECK(last.at("note") == "窗口代申请人办理");
}

TEST_CASE("server: the engine's refusals map to HTTP statuses and change nothing", "[server]") {
  Fixture f;
  Client clerk = f.as("clerk");
  auto started = clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"case_id", "C2"}, {"form", startup_form()}});
  REQUIRE(started.status == 201);
  const auto version = f.case_version("C2");
  // accept needs complete materials: a guard -> 409
  auto guard = clerk.post("/api/cases/C2/items/registration/events/accept", json::object{});
  CHECK(guard.status == 409);
  CHECK(guard.code() == "guard_false");
  // approve leaves only `accepted`: the item is still `submitted` -> 409
  auto state = clerk.post("/api/cases/C2/items/registration/events/approve", json::object{});
  CHECK(state.status == 409);
  CHECK(state.code() == "wrong_state");
  // an unknown event / item / case -> 404
  CHECK(clerk.post("/api/cases/C2/items/registration/events/explode", json::object{}).status == 404);
  CHECK(clerk.post("/api/cases/C2/items/nothing/events/accept", json::object{}).status == 404);
  CHECK(clerk.get("/api/cases/NOPE").status == 404);
  // a required reason missing -> 422
  auto reason = clerk.post("/api/cases/C2/items/registration/events/request_correction", json::object{});
  CHECK(reason.status == 422);
  CHECK(f.case_version("C2") == version);
  // invalid form values -> 422 with every field
  auto invalid = clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"form", json::object{{"company_name", "x"}, {"legal_rep_id", "110105194912310021"}, {"capital", -5}}}});
  CHECK(invalid.status == 422);
  CHECK_FALSE(invalid.json().at("details").at("fields").as_array().empty());
  CHECK(clerk.get("/api/cases").json().at("cases").as_array().size() == 1);
  // a case id that exists -> refused, the case stays as it was
  auto twice = clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"case_id", "C2"}, {"form", startup_form()}});
  CHECK(twice.status == 409);
  CHECK(f.case_version("C2") == version);
}

TEST_CASE("server: an Idempotency-Key applies a command once", "[server][both-databases]") {
  Fixture f;
  Client clerk = f.as("clerk");
  const json::object body{{"bundle", "startup"}, {"form", startup_form()}};
  auto first = clerk.send("POST", "/api/cases", json::serialize(body), {{"Idempotency-Key", "intake-7"}});
  REQUIRE(first.status == 201);
  auto second = clerk.send("POST", "/api/cases", json::serialize(body), {{"Idempotency-Key", "intake-7"}});
  REQUIRE(second.status == 201);
  CHECK(second.json().at("case_id") == first.json().at("case_id"));
  CHECK(second.json().at("duplicate").as_bool());
  CHECK(clerk.get("/api/cases").json().at("cases").as_array().size() == 1);
  CHECK(clerk.send("POST", "/api/cases", json::serialize(body), {{"Idempotency-Key", "bad key with spaces"}}).status == 400);
}

TEST_CASE("server: materials upload, download and size limit", "[server][both-databases]") {
  Fixture f(1024);
  Client clerk = f.as("clerk");
  REQUIRE(clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"case_id", "M1"}, {"form", startup_form()}}).status == 201);
  const std::string content = "%PDF-1.4 章程 " + std::string(100, 'x');
  REQUIRE(clerk.send("PUT", "/api/cases/M1/materials/articles", content, {{"Content-Type", "application/pdf"}}).status == 200);
  auto download = clerk.get("/api/cases/M1/materials/articles");
  REQUIRE(download.status == 200);
  CHECK(download.body == content);
  CHECK(download.header("x-content-sha256") == engine::Engine::content_hash(content));
  const auto version = f.case_version("M1");
  auto too_big = clerk.send("PUT", "/api/cases/M1/materials/articles", std::string(4096, 'y'), {{"Content-Type", "application/pdf"}});
  CHECK(too_big.status == 413);
  CHECK(too_big.code() == "body_too_large");
  CHECK(f.case_version("M1") == version);
  CHECK(clerk.get("/api/cases/M1/materials/articles").body == content);
  CHECK(clerk.send("PUT", "/api/cases/M1/materials/no_such", "x", {{"Content-Type", "application/pdf"}}).status == 404);
  // The reviewer of a department no item of which needs the material cannot verify it.
  Client police = f.as("police");
  CHECK(police.post("/api/cases/M1/materials/articles/verify", json::object{{"accept", true}}).status == 403);
  CHECK(f.case_version("M1") == version);
}

TEST_CASE("server: bad input gets the right status and changes nothing", "[server]") {
  Fixture f;
  Client clerk = f.as("clerk");
  REQUIRE(clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"case_id", "B1"}, {"form", startup_form()}}).status == 201);
  const auto version = f.case_version("B1");
  auto count_cases = [&] { return clerk.get("/api/cases").json().at("cases").as_array().size(); };

  SECTION("malformed JSON") {
    auto r = clerk.send("POST", "/api/cases", "{\"bundle\": \"startup\", ");
    CHECK(r.status == 400);
    CHECK(r.code() == "malformed_json");
    CHECK(r.json().at("details").at("request_id").as_string() == r.header("x-request-id"));
    CHECK(clerk.send("POST", "/api/cases", "[1,2]").status == 400);
    CHECK(count_cases() == 1);
  }
  SECTION("wrong types") {
    auto r = clerk.post("/api/cases", json::object{{"bundle", 7}, {"form", "not an object"}});
    CHECK(r.status == 400);
    CHECK(r.json().at("details").at("fields").as_array().size() == 2);
    CHECK(clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"form", json::object{{"company_name", json::array{1}}}}}).status == 400);
    CHECK(clerk.post("/api/cases/B1/materials/articles/verify", json::object{{"accept", "yes"}}).status == 400);
    CHECK(clerk.post("/api/cases/B1/items/registration/events/request_correction", json::object{{"fields", json::array{}}}).status == 400);
    CHECK(count_cases() == 1);
    CHECK(f.case_version("B1") == version);
  }
  SECTION("oversized JSON bodies") {
    json::object form = startup_form();
    form["company_name"] = std::string(20 * 1024, 'a');
    auto r = clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"form", form}});
    CHECK(r.status == 413);
    CHECK(count_cases() == 1);
  }
  SECTION("unknown routes") {
    auto r = clerk.get("/api/nothing/here");
    CHECK(r.status == 404);
    CHECK(r.code() == "no_route");
    // A path of the route table with another method: 405, and Allow lists the methods it takes.
    auto wrong_method = clerk.send("DELETE", "/api/cases/B1");
    CHECK(wrong_method.status == 405);
    CHECK(wrong_method.code() == "method_not_allowed");
    CHECK(wrong_method.header("allow") == "GET");
    CHECK(clerk.send("PUT", "/api/session").header("allow") == "POST, GET, DELETE");
    CHECK(clerk.send("GET", "/api/cases/B1/pause").header("allow") == "POST");
    // Strangers learn nothing of the routes: 401 before 404 and 405.
    Client anonymous = f.client();
    CHECK(anonymous.send("DELETE", "/api/cases/B1").status == 401);
    CHECK(anonymous.get("/api/nothing/here").status == 401);
    CHECK(f.case_version("B1") == version);
  }
  SECTION("path traversal on static files") {
    Client anonymous = f.client();
    CHECK(anonymous.get("/").status == 200);
    CHECK(anonymous.get("/js/app.js").header("content-type").find("javascript") != std::string::npos);
    for (const std::string target : {"/../secret.txt", "/js/../../secret.txt", "/%2e%2e/secret.txt", "/js/%2e%2e/%2e%2e/secret.txt",
                                     "/..%2fsecret.txt", "/.hidden", "/js/..\\..\\secret.txt", "/js/missing.js"}) {
      auto r = anonymous.get(target);
      INFO(target);
      CHECK(r.status == 404);
      CHECK(r.body.find("outside the console") == std::string::npos);
    }
  }
  SECTION("expired sessions") {
    f.clock.advance(9LL * 3600 * 1000);  // sessions last 8 hours
    auto r = clerk.post("/api/cases/B1/items/registration/events/request_correction", json::object{{"fields", json::object{{"reason", "x"}}}});
    CHECK(r.status == 401);
    CHECK(r.code() == "session_expired");
    CHECK(f.case_version("B1") == version);
  }
  SECTION("forged or missing CSRF token") {
    const json::object correction{{"fields", json::object{{"reason", "缺少签字"}}}};
    const auto target = "/api/cases/B1/items/registration/events/request_correction";
    const std::string real = clerk.csrf();
    clerk.csrf() = "forged";
    auto forged = clerk.post(target, correction);
    CHECK(forged.status == 403);
    CHECK(forged.code() == "csrf");
    clerk.csrf() = "";
    CHECK(clerk.post(target, correction).status == 403);
    // The header matches the cookie but not the session's token (a cookie planted by a
    // sibling site): refused too.
    clerk.csrf() = "0123456789abcdef0123456789abcdef";
    CHECK(clerk.post(target, correction).status == 403);
    CHECK(f.case_version("B1") == version);
    clerk.csrf() = real;
    CHECK(clerk.post(target, correction).status == 200);
    CHECK(f.case_version("B1") > version);
  }
  SECTION("no credentials at all") {
    Client anonymous = f.client();
    CHECK(anonymous.post("/api/cases", json::object{{"bundle", "startup"}, {"form", startup_form()}}).status == 401);
    CHECK(count_cases() == 1);
  }
}

TEST_CASE("server: login throttling per user", "[server]") {
  Fixture f;
  Client c = f.client();
  for (int i = 0; i < 5; ++i) CHECK(c.login("clerk", "wrong password " + std::to_string(i)).status == 401);
  auto blocked = c.login("clerk", kPassword);
  CHECK(blocked.status == 429);
  CHECK_FALSE(blocked.header("retry-after").empty());
  // Other users are not blocked; after the window the user may try again.
  CHECK(f.client().login("market", kPassword).status == 200);
  f.clock.advance(16LL * 60 * 1000);
  CHECK(c.login("clerk", kPassword).status == 200);
}

TEST_CASE("server: API tokens are scoped and revocable", "[server][both-databases]") {
  Fixture f;
  Client clerk = f.as("clerk");
  auto read = clerk.post("/api/tokens", json::object{{"name", "reporting"}, {"scope", "read"}});
  REQUIRE(read.status == 201);
  auto write = clerk.post("/api/tokens", json::object{{"name", "intake backend"}, {"scope", "write"}});
  REQUIRE(write.status == 201);
  CHECK(clerk.post("/api/tokens", json::object{{"name", "x"}, {"scope", "write"}, {"user", "admin"}}).status == 403);

  Client backend = f.client();
  backend.use_token(std::string(read.json().at("token").as_string()));
  CHECK(backend.get("/api/cases").status == 200);
  auto refused = backend.post("/api/cases", json::object{{"bundle", "startup"}, {"form", startup_form()}});
  CHECK(refused.status == 403);
  CHECK(refused.code() == "token_scope");

  backend.use_token(std::string(write.json().at("token").as_string()));
  CHECK(backend.post("/api/cases", json::object{{"bundle", "startup"}, {"form", startup_form()}}).status == 201);  // no CSRF for tokens
  const auto id = write.json().at("id").as_int64();
  Client police = f.as("police");
  CHECK(police.send("DELETE", "/api/tokens/" + std::to_string(id)).status == 404);  // not theirs
  CHECK(clerk.send("DELETE", "/api/tokens/" + std::to_string(id)).status == 200);
  CHECK(backend.get("/api/cases").status == 401);
  backend.use_token("ovt_not_a_token");
  CHECK(backend.get("/api/cases").status == 401);
}

TEST_CASE("server: permission matrix, every role by every action", "[server]") {
  Fixture f;
  // The expected matrix, written independently of the server's table.
  enum Who { clerk_, market_, police_, boss_, designer_, admin_ };
  struct Row {
    std::string action;
    std::set<Who> allowed;
  };
  const std::vector<Row> matrix = {
      {"list cases", {clerk_, market_, police_, boss_}},
      {"show case", {clerk_, market_, police_, boss_}},  // police: the seal, waiting, is theirs
      {"start case", {clerk_}},
      {"attach material", {clerk_}},
      {"verify material", {clerk_, market_}},
      {"fire event", {clerk_, market_}},  // request_correction on the market's item; see the supervisor below
      {"pause clock", {clerk_, market_}},  // the lifecycle names no supervisor; police has no running item here
      {"withdraw", {clerk_}},
      {"worklist", {clerk_, market_, police_, boss_}},
      {"list workflows", {clerk_, market_, police_, boss_, designer_, admin_}},
      {"deploy workflows", {designer_}},
      {"read timers", {boss_, admin_}},
      {"fire timers", {boss_, admin_}},
      {"manage users", {admin_}},
      {"read audit", {boss_, admin_}},
      {"read report", {boss_, admin_}},
      {"list calls", {clerk_, market_, police_, boss_}},
      {"download material", {clerk_, market_, boss_}},  // police: no police item needs the articles
  };
  const std::vector<std::pair<Who, std::string>> people = {{clerk_, "clerk"}, {market_, "market"}, {police_, "police"},
                                                          {boss_, "boss"},   {designer_, "designer"}, {admin_, "admin"}};
  Client clerk_client = f.as("clerk");
  int case_number = 0;
  for (const auto& [who, name] : people) {
    Client c = f.as(name);
    for (const auto& row : matrix) {
      // A fresh case per check, so one allowed command does not change what the next sees.
      const std::string case_id = "P" + std::to_string(++case_number);
      REQUIRE(clerk_client.post("/api/cases", json::object{{"bundle", "startup"}, {"case_id", case_id}, {"form", startup_form()}}).status == 201);
      REQUIRE(clerk_client.send("PUT", "/api/cases/" + case_id + "/materials/articles", "%PDF", {{"Content-Type", "application/pdf"}}).status == 200);
      const auto version = f.case_version(case_id);
      const std::string base = "/api/cases/" + case_id;
      Reply r;
      bool changes_case = false;
      if (row.action == "list cases") r = c.get("/api/cases");
      else if (row.action == "show case") r = c.get(base);
      else if (row.action == "start case") r = c.post("/api/cases", json::object{{"bundle", "startup"}, {"form", startup_form()}});
      else if (row.action == "attach material") changes_case = true, r = c.post(base + "/materials/id_card/elicense", json::object{});
      else if (row.action == "verify material") changes_case = true, r = c.post(base + "/materials/articles/verify", json::object{{"accept", true}});
      else if (row.action == "fire event") {
        changes_case = true;
        r = c.post(base + "/items/registration/events/request_correction", json::object{{"fields", json::object{{"reason", "缺页"}}}});
      } else if (row.action == "pause clock") changes_case = true, r = c.post(base + "/pause", json::object{{"reason", "现场核查"}});
      else if (row.action == "withdraw") changes_case = true, r = c.post(base + "/withdraw", json::object{{"reason", "申请人撤回"}});
      else if (row.action == "worklist") r = c.get("/api/worklist");
      else if (row.action == "list workflows") r = c.get("/api/workflows");
      else if (row.action == "deploy workflows") r = c.post("/api/workflows", json::object{{"files", json::object{{"startup.flow", kFlow}}}});
      else if (row.action == "read timers") r = c.get("/api/timers");
      else if (row.action == "fire timers") r = c.post("/api/timers/fire", json::object{});
      else if (row.action == "manage users") r = c.get("/api/users");
      else if (row.action == "read audit") r = c.get("/api/audit");
      else if (row.action == "read report") r = c.get("/api/report");
      else if (row.action == "list calls") r = c.get(base + "/calls");
      else if (row.action == "download material") r = c.get(base + "/materials/articles");
      const bool expected = row.allowed.count(who) > 0;
      INFO(name << " -> " << row.action << ": " << r.status << " " << r.body);
      if (row.action == "fire event" && who == boss_) {
        // The service lets supervisors fire events; the lifecycle does not list them for
        // request_correction, so the engine refuses: still 403, and nothing changes.
        CHECK(r.status == 403);
        CHECK(r.code() == "role_not_allowed");
        CHECK(f.case_version(case_id) == version);
        continue;
      }
      if (expected) {
        CHECK(r.status < 300);
      } else {
        CHECK(r.status == 403);
        if (r.status == 403) CHECK((r.code() == "forbidden" || r.code() == "role_not_allowed"));
        if (changes_case) CHECK(f.case_version(case_id) == version);
      }
    }
  }
}

TEST_CASE("server: admins manage users, a disabled user's session ends", "[server][both-databases]") {
  Fixture f;
  Client admin = f.as("admin");
  Client clerk = f.as("clerk");
  CHECK(admin.post("/api/users", json::object{{"name", "clerk"}, {"role", "window_clerk"}, {"password", kPassword}}).status == 409);
  CHECK(admin.post("/api/users", json::object{{"name", "r2"}, {"role", "reviewer"}, {"password", kPassword}}).status == 422);  // no department
  CHECK(admin.post("/api/users", json::object{{"name", "x"}, {"role", "emperor"}, {"password", kPassword}}).status == 422);
  CHECK(admin.post("/api/users", json::object{{"name", "short"}, {"role", "designer"}, {"password", "123"}}).status == 422);
  auto users = admin.get("/api/users");
  REQUIRE(users.status == 200);
  CHECK(users.json().at("users").as_array().size() == 6);
  CHECK(users.body.find("argon2") == std::string::npos);  // hashes never leave the server
  REQUIRE(admin.send("PATCH", "/api/users/clerk", json::serialize(json::object{{"disabled", true}})).status == 200);
  CHECK(clerk.get("/api/cases").status == 401);
  CHECK(f.client().login("clerk", kPassword).status == 401);
  CHECK(admin.send("PATCH", "/api/users/nobody", json::serialize(json::object{{"disabled", true}})).status == 404);
}

TEST_CASE("server: stop() lets an in-flight request answer and refuses new connections", "[server]") {
  Fixture f;
  Client clerk = f.as("clerk");
  REQUIRE(clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"case_id", "S1"}, {"form", startup_form()}}).status == 201);
  const auto port = f.service->port();
  std::vector<std::thread> callers;
  std::mutex mutex;
  std::vector<unsigned> statuses;
  for (int i = 0; i < 4; ++i) {
    callers.emplace_back([&] {
      try {
        const auto status = clerk.get("/api/cases/S1").status;
        std::lock_guard lock(mutex);
        statuses.push_back(status);
      } catch (const std::exception&) {
        // refused or closed before the request was read: allowed
      }
    });
  }
  f.service->stop();
  for (auto& t : callers) t.join();
  // Nothing half-done: a request that was read got its full answer.
  for (const auto status : statuses) CHECK(status == 200);
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  CHECK(ec);  // nobody listens any more
}

TEST_CASE("server: parked adapter calls are listed, retried and resolved by hand", "[server]") {
  // Only `notify` is configured: the market's submit call has no adapter and is parked.
  Fixture f(64 * 1024, "[systems.notify]\nkind = \"log\"\n");
  Client clerk = f.as("clerk");
  const auto case_id = case_ready_for_approval(f, clerk);
  Client market = f.as("market");
  REQUIRE(market.post("/api/cases/" + case_id + "/items/registration/events/approve", json::object{}).status == 200);

  auto parked_call = [&]() -> json::value {
    for (int i = 0; i < 100; ++i) {
      auto calls = clerk.get("/api/calls?status=parked");
      REQUIRE(calls.status == 200);
      const auto body = calls.json();
      if (!body.at("calls").as_array().empty()) return body.at("calls").as_array()[0];
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL("no call was parked");
    return nullptr;
  };
  const auto call = parked_call();
  CHECK(call.at("department").as_string() == "market");
  CHECK(call.at("system").as_string() == "market_registry");
  const std::string id = std::to_string(call.at("id").as_int64());
  const std::string base = "/api/cases/" + case_id + "/calls/" + id;

  // The police reviewer sees none of the market's calls and may not settle them.
  Client police = f.as("police");
  CHECK(police.get("/api/calls?status=parked").json().at("calls").as_array().empty());
  CHECK(police.post(base + "/retry", json::object{}).status == 403);
  Client designer = f.as("designer");
  CHECK(designer.get("/api/calls").status == 403);

  // Resolving needs a note; retrying puts the call back to pending (and, still without an
  // adapter, it parks again); resolving closes it.
  CHECK(clerk.post(base + "/resolve", json::object{}).status == 400);
  auto retried = market.post(base + "/retry", json::object{});
  INFO(retried.body);
  REQUIRE(retried.status == 200);
  CHECK(retried.json().at("status").as_string() == "pending");
  parked_call();
  auto resolved = clerk.post(base + "/resolve", json::object{{"note", "已电话确认，部门线下办理"}});
  REQUIRE(resolved.status == 200);
  CHECK(resolved.json().at("status").as_string() == "delivered");
  CHECK(clerk.post(base + "/resolve", json::object{{"note", "again"}}).status == 409);
  CHECK(clerk.post("/api/cases/" + case_id + "/calls/999999/retry", json::object{}).status == 404);
  auto listed = clerk.get("/api/cases/" + case_id + "/calls");
  REQUIRE(listed.status == 200);
  CHECK(listed.body.find("resolved by hand") != std::string::npos);
}

TEST_CASE("server: a case to delivery and rating, and the supervisor's figures", "[server][both-databases]") {
  Fixture f;
  Client clerk = f.as("clerk");
  const auto case_id = case_ready_for_approval(f, clerk);
  Client market = f.as("market");
  Client police = f.as("police");
  REQUIRE(market.post("/api/cases/" + case_id + "/items/registration/events/approve", json::object{}).status == 200);
  // The seal: a pause and resume of its clock, then accept and approve.
  CHECK(clerk.post("/api/cases/" + case_id + "/pause", json::object{}).status == 400);  // a reason is required
  REQUIRE(clerk.post("/api/cases/" + case_id + "/pause", json::object{{"item", "seal"}, {"reason", "现场核查"}}).status == 200);
  REQUIRE(clerk.post("/api/cases/" + case_id + "/resume", json::object{{"item", "seal"}}).status == 200);
  REQUIRE(clerk.post("/api/cases/" + case_id + "/items/seal/events/accept", json::object{}).status == 200);
  CHECK(clerk.post("/api/cases/" + case_id + "/rate", json::object{{"level", 5}}).status == 409);  // not delivered yet
  REQUIRE(police.post("/api/cases/" + case_id + "/items/seal/events/approve", json::object{}).status == 200);
  CHECK(clerk.get("/api/cases/" + case_id).json().at("status").as_string() == "completed");
  CHECK(clerk.post("/api/cases/" + case_id + "/deliver", json::object{{"channel", 3}}).status == 400);
  REQUIRE(clerk.post("/api/cases/" + case_id + "/deliver", json::object{{"channel", "window"}}).status == 200);
  CHECK(clerk.post("/api/cases/" + case_id + "/rate", json::object{{"level", 9}}).status == 422);
  REQUIRE(clerk.post("/api/cases/" + case_id + "/rate", json::object{{"level", 4}, {"comment", "很方便"}}).status == 200);

  Client boss = f.as("boss");
  auto report = boss.get("/api/report");
  INFO(report.body);
  REQUIRE(report.status == 200);
  const auto figures = report.json().at("overall");
  CHECK(figures.at("cases_started").to_number<std::int64_t>() == 1);
  CHECK(figures.at("cases_completed").to_number<std::int64_t>() == 1);
  CHECK(figures.at("ratings").as_array()[3].to_number<std::int64_t>() == 1);
  CHECK(figures.at("good_rating_rate").as_double() == Approx(100.0));
  CHECK(figures.at("average_visits").as_double() == Approx(2.0));  // intake + delivery at the window
  CHECK(boss.get("/api/report?from=2027-01-01").json().at("overall").at("cases_started").to_number<std::int64_t>() == 0);
  CHECK(boss.get("/api/report?from=yesterday").status == 400);
  CHECK(clerk.get("/api/report").status == 403);
}

TEST_CASE("server: a designer deploys a bundle, tolerant intake on it", "[server]") {
  Fixture f;
  Client designer = f.as("designer");
  std::string flow = kFlow;
  const auto at_bundle = flow.find("bundle startup");
  REQUIRE(at_bundle != std::string::npos);
  // A second bundle: registration tolerates a missing lease (a secondary material).
  std::string tolerant = flow.substr(0, at_bundle);
  tolerant.replace(tolerant.find("needs id_card, articles;"), 24, "needs id_card, articles, lease; tolerant;");
  tolerant.insert(tolerant.find("material license"), "material lease \"租赁合同\" upload pdf secondary\n");
  tolerant += "bundle tolerant_startup \"容缺开办\" version 1 {\n  promise 6 workdays; lifecycle standard\n"
              "  form { company_name \"企业名称\": text required\n legal_rep_id \"法定代表人身份证\": idcard required }\n  use registration\n}\n";
  auto deployed = designer.post("/api/workflows", json::object{{"files", json::object{{"tolerant.flow", tolerant}}}});
  INFO(deployed.body);
  REQUIRE(deployed.status == 200);
  CHECK(deployed.json().at("bundles").as_array()[0].at("bundle").as_string() == "tolerant_startup");

  // A broken file: 422 with the designer's diagnostics, nothing deployed.
  auto broken = designer.post("/api/workflows", json::object{{"files", json::object{{"broken.flow", "bundle b \"x\" version 1 { use nothing }"}}}});
  CHECK(broken.status == 422);
  CHECK(broken.code() == "invalid_workflow");
  CHECK_FALSE(broken.json().at("details").at("diagnostics").as_array().empty());
  // Imports resolve only among the files sent: nothing is read from the server's disk.
  auto reads_disk = designer.post("/api/workflows", json::object{{"files", json::object{{"x.flow", "import \"/etc/passwd\"\n"}}}});
  CHECK(reads_disk.status == 422);
  CHECK(reads_disk.body.find("root:") == std::string::npos);
  CHECK(designer.get("/api/workflows").json().at("workflows").as_array().size() == 2);
  auto fields = designer.get("/api/workflows/tolerant_startup");
  REQUIRE(fields.status == 200);
  CHECK(fields.json().at("fields").as_array().size() == 2);
  CHECK(designer.get("/api/workflows/nothing").status == 404);

  Client clerk = f.as("clerk");
  REQUIRE(clerk.post("/api/cases", json::object{{"bundle", "tolerant_startup"}, {"case_id", "T1"},
                                          {"form", json::object{{"company_name", "小馆"}, {"legal_rep_id", "11010519491231002X"}}}}).status == 201);
  REQUIRE(clerk.post("/api/cases/T1/materials/id_card/elicense", json::object{}).status == 200);
  REQUIRE(clerk.send("PUT", "/api/cases/T1/materials/articles", "%PDF", {{"Content-Type", "application/pdf"}}).status == 200);
  const auto version = f.case_version("T1");
  // articles is a main material: it cannot be pending.
  auto main_material = clerk.post("/api/cases/T1/items/registration/tolerant-intake", json::object{{"pending", json::array{"articles"}}});
  INFO(main_material.body);
  CHECK(main_material.status == 409);
  CHECK(main_material.code() == "missing_material");
  CHECK(clerk.post("/api/cases/T1/items/registration/tolerant-intake", json::object{{"pending", "lease"}}).status == 400);
  CHECK(f.case_version("T1") == version);
  auto accepted = clerk.post("/api/cases/T1/items/registration/tolerant-intake", json::object{{"pending", json::array{"lease"}}});
  INFO(accepted.body);
  REQUIRE(accepted.status == 200);
  CHECK(item_state(clerk, "T1", "registration") == "accepted");
  const auto view = clerk.get("/api/cases/T1").json();
  for (const auto& m : view.at("materials").as_array()) {
    if (m.at("material").as_string() == "lease") CHECK(m.at("status").as_string() == "tolerated");
  }
}

TEST_CASE("server: --secure-cookies marks both cookies Secure", "[server]") {
  Fixture f(64 * 1024, kLogSystems, true);
  auto reply = f.client().login("clerk", kPassword);
  REQUIRE(reply.status == 200);
  int secure = 0;
  for (auto [it, end] = reply.headers.equal_range("set-cookie"); it != end; ++it) secure += it->second.find("; Secure") != std::string::npos;
  CHECK(secure == 2);
}

namespace {

// The test bundle plus a fire department whose item issues the fire permit: what the
// forged-certificate attack of issue 17 replaced.
// Deploys `declarations` (bundles, departments ...) on top of kFlow's lifecycle, departments,
// materials and items, as a designer would.
void deploy_on_shared_catalog(Fixture& f, const std::string& file, const std::string& declarations) {
  Client designer = f.as("designer");
  const std::string flow = kFlow.substr(0, kFlow.find("bundle startup")) + declarations;
  auto deployed = designer.post("/api/workflows", json::object{{"files", json::object{{file, flow}}}});
  INFO(deployed.body);
  REQUIRE(deployed.status == 200);
}

void deploy_fire_bundle(Fixture& f) {
  deploy_on_shared_catalog(f, "fire.flow",
                           "department fire \"消防救援大队\" adapter fire_supervision\n"
                           "bundle shop_fire \"开店(含消防)\" version 1 {\n  promise 10 workdays; lifecycle standard\n"
                           "  form { company_name \"企业名称\": text required\n legal_rep_id \"法定代表人身份证\": idcard required }\n"
                           "  material fire_permit \"消防安全检查合格证\" upload pdf\n"
                           "  use registration\n"
                           "  item fire_check \"消防安全检查\" by fire after registration { needs id_card; produces fire_permit; limit 5 workdays }\n}\n");
}

std::string start_fire_case(Client& clerk, const std::string& case_id) {
  auto started = clerk.post("/api/cases", json::object{{"bundle", "shop_fire"}, {"case_id", case_id},
                                                        {"form", json::object{{"company_name", "小馆"}, {"legal_rep_id", "11010519491231002X"}}}});
  INFO(started.body);
  REQUIRE(started.status == 201);
  return case_id;
}

// A department system's account (admins create it) and a client holding its API token.
Client department_system(Fixture& f, Client& admin, const std::string& name, const std::string& department) {
  auto created = admin.post("/api/users", json::object{{"name", name}, {"role", "department_system"}, {"department", department}});
  INFO(created.body);
  REQUIRE(created.status == 201);
  auto token = admin.post("/api/tokens", json::object{{"name", name + " gateway"}, {"scope", "write"}, {"user", name}});
  INFO(token.body);
  REQUIRE(token.status == 201);
  Client system = f.client();
  system.use_token(std::string(token.json().at("token").as_string()));
  return system;
}

std::string history_text(Fixture& f, const std::string& case_id) {
  auto history = f.service->engine().history(case_id);
  REQUIRE(history);
  std::string text;
  for (const auto& h : *history) text += h.type + " " + h.payload + "\n";
  return text;
}

json::object fire_permit_document(const std::string& bytes) {
  return json::object{{"material", "fire_permit"}, {"file", "permit.ofd"}, {"content_base64", adapters::encode_base64(bytes)}};
}

std::string material_status(Client& c, const std::string& case_id, const std::string& material) {
  auto reply = c.get("/api/cases/" + case_id);
  REQUIRE(reply.status == 200);
  const auto body = reply.json();
  for (const auto& m : body.at("materials").as_array()) {
    if (m.at("material").as_string() == material) return std::string(m.at("status").as_string());
  }
  FAIL("no material " << material);
  return {};
}

}  // namespace

// Issue 17 #1: a market reviewer posted a receipt for their own item, "from" the fire
// department, with a document for the fire department's permit: 200, the permit replaced,
// the history naming system:fire_supervision. Reviewers no longer post receipts at all.
TEST_CASE("server: a reviewer cannot post a forged certificate as another department (issue 17 #1)", "[server][receipts]") {
  Fixture f;
  deploy_fire_bundle(f);
  Client clerk = f.as("clerk");
  const auto case_id = start_fire_case(clerk, "F1");
  Client market = f.as("market");
  auto created = market.post("/api/tokens", json::object{{"name", "market reviewer's script"}, {"scope", "write"}});
  REQUIRE(created.status == 201);
  Client forger = f.client();
  forger.use_token(std::string(created.json().at("token").as_string()));
  const json::object forged{{"request_id", case_id + "/registration/9/0"}, {"case", case_id}, {"item", "registration"},
                            {"from", "fire_supervision"}, {"status", "APPROVED"},
                            {"documents", json::array{fire_permit_document("伪造的消防许可")}}};
  const auto version = f.case_version(case_id);
  const auto history = history_text(f, case_id);
  for (Client* c : {&forger, &market}) {
    auto refused = c->post("/api/receipts", forged);
    INFO(refused.body);
    CHECK(refused.status == 403);
  }
  CHECK(f.case_version(case_id) == version);
  CHECK(history_text(f, case_id) == history);
  CHECK(history.find("system:fire_supervision") == std::string::npos);
  // Not issued: the case page does not list the fire permit at all (issue 14).
  const auto page = clerk.get("/api/cases/" + case_id).json();
  for (const auto& m : page.at("materials").as_array()) CHECK(m.at("material") != "fire_permit");
}

TEST_CASE("server: a department's system answers only its department's items, with what they produce", "[server][receipts]") {
  Fixture f;
  deploy_fire_bundle(f);
  Client clerk = f.as("clerk");
  const auto case_id = start_fire_case(clerk, "F2");
  Client admin = f.as("admin");
  Client market_system = department_system(f, admin, "market_gateway", "market");
  Client fire_system = department_system(f, admin, "fire_gateway", "fire");

  // A department system's account works with its token only, and is bound to a department.
  CHECK(f.client().login("fire_gateway", kPassword).status == 401);  // its password is random, known to no one
  REQUIRE(admin.post("/api/users", json::object{{"name", "police_gateway"}, {"role", "department_system"}, {"department", "police"},
                                                {"password", kPassword}}).status == 201);
  CHECK(f.client().login("police_gateway", kPassword).status == 403);  // even with a password it never logs in
  CHECK(admin.post("/api/users", json::object{{"name", "loose_system"}, {"role", "department_system"}}).status == 422);
  CHECK(fire_system.get("/api/cases").status == 403);
  CHECK(fire_system.post("/api/cases", json::object{{"bundle", "shop_fire"}, {"form", json::object{}}}).status == 403);
  CHECK(fire_system.post("/api/tokens", json::object{{"name", "another"}, {"scope", "write"}}).status == 403);

  const auto version = f.case_version(case_id);
  const auto history = history_text(f, case_id);
  auto refused = [&](Client& c, const json::object& receipt, const std::string& why) {
    auto r = c.post("/api/receipts", receipt);
    INFO(why << ": " << r.body);
    CHECK(r.status == 403);
    CHECK(r.code() == "forbidden");
    CHECK(f.case_version(case_id) == version);
    CHECK(history_text(f, case_id) == history);
  };
  const json::object registration{{"request_id", case_id + "/registration/9/0"}, {"case", case_id}, {"item", "registration"},
                                  {"from", "market_registry"}, {"status", "APPROVED"}};
  json::object fire{{"request_id", case_id + "/fire_check/9/0"}, {"case", case_id}, {"item", "fire_check"},
                    {"from", "fire_supervision"}, {"status", "APPROVED"}, {"documents", json::array{fire_permit_document("消防许可")}}};

  // The forged attack by a department system: "from" another department's system.
  json::object claims_fire = registration;
  claims_fire["from"] = "fire_supervision";
  refused(market_system, claims_fire, "a body 'from' that disagrees with the token");
  // Its own item, with a document the item does not produce (the fire permit).
  json::object foreign_document = registration;
  foreign_document["documents"] = json::array{fire_permit_document("伪造的消防许可")};
  refused(market_system, foreign_document, "a material the answering item does not produce");
  // Another department's item.
  refused(market_system, fire, "the market's system answering the fire department's item");
  refused(fire_system, registration, "the fire department's system answering the market's item");
  // An item id in the body that disagrees with the request it answers.
  json::object mismatched = fire;
  mismatched["request_id"] = case_id + "/registration/9/0";
  refused(fire_system, mismatched, "request for registration, body names fire_check");
  // The license the registration issues is not the fire department's to attach.
  json::object fire_license = fire;
  fire_license["documents"] = json::array{json::object{{"material", "license"}, {"file", "l.ofd"}, {"content_base64", adapters::encode_base64("x")}}};
  refused(fire_system, fire_license, "a material another item produces");
  CHECK(clerk.post("/api/receipts", fire).status == 403);  // clerks do not answer for departments

  // Bad input: 400, nothing changed.
  CHECK(fire_system.send("POST", "/api/receipts", "{\"status\": ").status == 400);
  CHECK(fire_system.post("/api/receipts", json::object{{"request_id", "x"}, {"case", case_id}, {"status", "MAYBE"}}).status == 400);
  CHECK(f.case_version(case_id) == version);

  // The happy path: the fire department's system issues its permit; the actor is the
  // account that authenticated.
  auto applied = fire_system.post("/api/receipts", fire);
  INFO(applied.body);
  REQUIRE(applied.status == 200);
  CHECK(applied.json().at("commands").as_array() == json::array{"attach fire_permit"});
  CHECK(material_status(clerk, case_id, "fire_permit") == "verified");
  const auto after = history_text(f, case_id);
  CHECK(after.find("\"actor\":\"system:fire_gateway\"") != std::string::npos);
  auto permit = clerk.get("/api/cases/" + case_id + "/materials/fire_permit");
  REQUIRE(permit.status == 200);
  CHECK(permit.body == "消防许可");
  // The same answer again changes nothing.
  const auto applied_version = f.case_version(case_id);
  auto again = fire_system.post("/api/receipts", fire);
  REQUIRE(again.status == 200);
  CHECK(again.json().at("commands").as_array().empty());
  CHECK(f.case_version(case_id) == applied_version);
}

// An item may call another department (`call(police.check)`): that department's system may
// answer the call it received about the item, and only that call.
TEST_CASE("server: a department called about another department's item answers that call only", "[server][receipts]") {
  Fixture f;
  deploy_on_shared_catalog(f, "consult.flow",
                           "lifecycle consult {\n  state submitted initial; state approved final\n"
                           "  on approve: submitted -> approved by reviewer do call(police.check)\n}\n"
                           "bundle consult_startup \"征询开办\" version 1 {\n  promise 6 workdays; lifecycle consult\n"
                           "  form { company_name \"企业名称\": text required }\n  item permit \"许可\" by market { limit 5 workdays }\n"
                           "  item police_filing \"备案\" by police after permit { limit 1 workday }\n}\n");
  Client clerk = f.as("clerk");
  REQUIRE(clerk.post("/api/cases", json::object{{"bundle", "consult_startup"}, {"case_id", "K1"}, {"form", json::object{{"company_name", "小馆"}}}})
              .status == 201);
  REQUIRE(f.as("market").post("/api/cases/K1/items/permit/events/approve", json::object{}).status == 200);
  auto calls = f.service->engine().calls("K1", "", 10);
  REQUIRE(calls);
  std::string key;
  for (const auto& c : *calls) {
    if (c.department == "police") key = c.idempotency_key;
  }
  REQUIRE_FALSE(key.empty());

  adapters::Receipt answer;
  answer.request_id = key;
  answer.case_id = "K1";
  answer.item = "permit";
  answer.status = adapters::Receipt::Status::approved;
  const adapters::ReceiptSender police{"seal_system", ""};
  auto applied = adapters::apply_result(f.service->engine(), answer, police);
  INFO((applied ? std::string("applied") : applied.error().message));
  CHECK(applied);
  // Not a call it received: refused.
  answer.request_id = "K1/permit/999/0";
  auto refused = adapters::apply_result(f.service->engine(), answer, police);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().not_allowed);
  // The market's system was not called, but owns the item.
  CHECK(adapters::apply_result(f.service->engine(), answer, adapters::ReceiptSender{"market_registry", ""}));
  // Another system, called about nothing here: refused.
  answer.request_id = key;
  auto stranger = adapters::apply_result(f.service->engine(), answer, adapters::ReceiptSender{"fire_supervision", ""});
  REQUIRE_FALSE(stranger);
  CHECK(stranger.error().not_allowed);
}

TEST_CASE("server: the case page lists the materials of the case's own situation", "[server]") {
  // Issue 14: the case page listed every material of the bundle whatever the situation.
  Fixture f;
  deploy_on_shared_catalog(f, "rented.flow",
                           "bundle rented \"租赁开店\" version 1 {\n  promise 10 workdays; lifecycle standard\n"
                           "  situation { rents \"是否租赁\": bool default false }\n"
                           "  form { company_name \"企业名称\": text required }\n"
                           "  material lease \"租赁合同\" upload pdf when rents\n"
                           "  item shop \"开店登记\" by market { needs articles, lease; limit 5 workdays }\n"
                           "  item rented_extra \"租赁备案\" by market when rents { needs id_card; limit 5 workdays }\n}\n");
  Client clerk = f.as("clerk");
  const auto listed = [&](const std::string& case_id) {
    std::set<std::string> ids;
    const auto body = clerk.get("/api/cases/" + case_id).json();
    for (const auto& m : body.at("materials").as_array()) ids.insert(std::string(m.at("material").as_string()));
    return ids;
  };
  for (const bool rents : {false, true}) {
    const std::string id = rents ? "R1" : "O1";
    auto started = clerk.post("/api/cases", json::object{{"bundle", "rented"}, {"case_id", id},
                                                          {"form", json::object{{"company_name", "小馆"}, {"rents", rents}}}});
    INFO(started.body);
    REQUIRE(started.status == 201);
  }
  CHECK(listed("O1") == std::set<std::string>{"articles"});
  CHECK(listed("R1") == std::set<std::string>{"articles", "id_card", "lease"});
}

TEST_CASE("server: the market's system approves its item with a receipt", "[server][receipts]") {
  Fixture f;
  Client clerk = f.as("clerk");
  const auto case_id = case_ready_for_approval(f, clerk);
  Client admin = f.as("admin");
  Client market_system = department_system(f, admin, "market_gateway", "market");
  // Issue 14: the case page lists a document an item produces only once it is issued.
  const auto listed = [&] {
    std::set<std::string> ids;
    const auto body = clerk.get("/api/cases/" + case_id).json();
    for (const auto& m : body.at("materials").as_array()) ids.insert(std::string(m.at("material").as_string()));
    return ids;
  };
  CHECK(listed() == std::set<std::string>{"articles", "id_card"});
  const json::object receipt{{"request_id", case_id + "/registration/7/0"}, {"case", case_id}, {"item", "registration"},
                             {"status", "APPROVED"},
                             {"documents", json::array{json::object{{"material", "license"}, {"file", "营业执照.ofd"},
                                                                    {"content_base64", adapters::encode_base64("营业执照电子版")}}}}};
  auto applied = market_system.post("/api/receipts", receipt);
  INFO(applied.body);
  REQUIRE(applied.status == 200);
  CHECK(item_state(clerk, case_id, "registration") == "approved");
  CHECK(material_status(clerk, case_id, "license") == "verified");
  CHECK(listed() == std::set<std::string>{"articles", "id_card", "license"});
  CHECK(history_text(f, case_id).find("\"actor\":\"system:market_gateway\"") != std::string::npos);
}

// Issue 15: the history named a department's system by its adapter id, "部门系统（market_registry）".
TEST_CASE("server: the history names a department's system by the department's title, and no line shows an id", "[server][history][receipts]") {
  Fixture f;
  Client clerk = f.as("clerk");
  Client admin = f.as("admin");
  // What people read in each entry: every title, name, reason and note.
  const auto shown_texts = [&](const std::string& case_id) {
    const auto history = clerk.get("/api/cases/" + case_id + "/history");
    REQUIRE(history.status == 200);
    std::vector<std::string> texts;
    const auto document = history.json();  // a value: the loop reads inside it
    for (const auto& e : document.at("events").as_array()) {
      const auto& entry = e.as_object();
      texts.emplace_back(entry.at("actor").at("display_name").as_string());
      texts.emplace_back(entry.at("title").as_string());
      for (const auto* key : {"reason", "note", "event_title"}) {
        if (const auto* v = entry.if_contains(key)) texts.emplace_back(v->as_string());
      }
      for (const auto* key : {"item", "material", "from", "to"}) {
        if (const auto* v = entry.if_contains(key)) texts.emplace_back(v->at("title").as_string());
      }
    }
    return texts;
  };
  const std::regex identifier("[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+|system:");
  const auto check_no_ids = [&](const std::vector<std::string>& texts) {
    for (const auto& text : texts) {
      INFO(text);
      CHECK_FALSE(std::regex_search(text, identifier));
    }
  };
  // The market's own system (its adapter) answers through the dispatcher's result path.
  const auto by_adapter = case_ready_for_approval(f, clerk, "H1");
  adapters::Receipt answer;
  answer.request_id = by_adapter + "/registration/7/0";
  answer.case_id = by_adapter;
  answer.item = "registration";
  answer.status = adapters::Receipt::Status::approved;
  const auto applied = adapters::apply_result(f.service->engine(), answer, adapters::ReceiptSender{"market_registry", ""});
  INFO((applied ? std::string("applied") : applied.error().message));
  REQUIRE(applied);
  auto texts = shown_texts(by_adapter);
  CHECK(std::find(texts.begin(), texts.end(), "部门系统（市场监管局）") != texts.end());
  check_no_ids(texts);
  // A department system's account with an API token: its department's title, not the account's name.
  Client market_system = department_system(f, admin, "market_gateway", "market");
  const auto by_account = case_ready_for_approval(f, clerk, "H2");
  const json::object receipt{{"request_id", by_account + "/registration/7/0"}, {"case", by_account}, {"item", "registration"},
                             {"status", "APPROVED"}};
  REQUIRE(market_system.post("/api/receipts", receipt).status == 200);
  texts = shown_texts(by_account);
  CHECK(std::find(texts.begin(), texts.end(), "部门系统（市场监管局）") != texts.end());
  for (const auto& text : texts) CHECK(text.find("market_gateway") == std::string::npos);
  check_no_ids(texts);
}

// Issue 17 #10: the e-license route marked a material verified without asking the library.
TEST_CASE("server: e-licenses come from the configured library, or the clerk is told to upload", "[server][elicense]") {
  SECTION("the simulator's library holds the license: fetched, stored, verified") {
    Fixture f;
    Client clerk = f.as("clerk");
    REQUIRE(clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"case_id", "E1"}, {"form", startup_form()}}).status == 201);
    auto fetched = clerk.post("/api/cases/E1/materials/id_card/elicense", json::object{});
    INFO(fetched.body);
    REQUIRE(fetched.status == 200);
    CHECK(material_status(clerk, "E1", "id_card") == "verified");
    auto content = clerk.get("/api/cases/E1/materials/id_card");
    REQUIRE(content.status == 200);
    CHECK(content.body.rfind("电子证照 居民身份证 ", 0) == 0);
    CHECK_FALSE(content.header("x-content-sha256").empty());
    // Fetched once: asking again is refused by the engine (already verified).
    CHECK(clerk.post("/api/cases/E1/materials/id_card/elicense", json::object{}).status == 409);

    // Only materials declared `from elicense`: not uploads, not what the bundle's items issue.
    const auto version = f.case_version("E1");
    for (const char* material : {"articles", "license"}) {
      auto refused = clerk.post(std::string("/api/cases/E1/materials/") + material + "/elicense", json::object{});
      INFO(material << ": " << refused.body);
      CHECK(refused.status == 422);
      CHECK(refused.code() == "invalid");
      CHECK(has_cjk(refused.message()));
      CHECK(refused.message().find(material) == std::string::npos);
    }
    CHECK(clerk.post("/api/cases/E1/materials/nothing/elicense", json::object{}).status == 404);
    CHECK(f.case_version("E1") == version);
    CHECK(material_status(clerk, "E1", "articles") == "missing");
  }
  SECTION("the library does not hold it: upload instead, nothing changed") {
    Fixture f(64 * 1024, kLogSystems, false, Library::simulator_without_id_cards);
    Client clerk = f.as("clerk");
    REQUIRE(clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"case_id", "E2"}, {"form", startup_form()}}).status == 201);
    const auto version = f.case_version("E2");
    auto refused = clerk.post("/api/cases/E2/materials/id_card/elicense", json::object{});
    INFO(refused.body);
    CHECK(refused.status == 409);
    CHECK(refused.code() == "upload_instead");
    // The clerk reads what to do, in Chinese and by titles; the English detail is the log's.
    CHECK(refused.message().find("请改为上传「身份证」") != std::string::npos);
    CHECK(refused.message().find("upload") == std::string::npos);
    CHECK(f.case_version("E2") == version);
    CHECK(material_status(clerk, "E2", "id_card") == "missing");
  }
  SECTION("no library is configured: upload instead, nothing changed") {
    Fixture f(64 * 1024, kLogSystems, false, Library::none);
    Client clerk = f.as("clerk");
    REQUIRE(clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"case_id", "E3"}, {"form", startup_form()}}).status == 201);
    const auto version = f.case_version("E3");
    auto refused = clerk.post("/api/cases/E3/materials/id_card/elicense", json::object{});
    INFO(refused.body);
    CHECK(refused.status == 409);
    CHECK(refused.code() == "upload_instead");
    CHECK(refused.message().find("未接入电子证照库") != std::string::npos);
    CHECK(f.case_version("E3") == version);
    CHECK(material_status(clerk, "E3", "id_card") == "missing");
  }
}

TEST_CASE("server: the intake's material list follows the situation answers", "[server]") {
  Fixture f;
  Client designer = f.as("designer");
  std::string flow = kFlow;
  const auto at_bundle = flow.find("bundle startup");
  REQUIRE(at_bundle != std::string::npos);
  // A bundle where a situation question brings a material and an item.
  std::string situational = flow.substr(0, at_bundle);
  situational.insert(situational.find("material license"), "material lease \"租赁合同\" upload pdf secondary\n");
  situational += "bundle shop \"开店\" version 1 {\n  promise 6 workdays; lifecycle standard\n"
                 "  form { company_name \"企业名称\": text required }\n"
                 "  situation { rents_premises \"租用经营场所\": bool default false }\n"
                 "  material lease_record \"租赁备案\" upload pdf when rents_premises\n"
                 "  use registration\n"
                 "  item seal \"刻章\" by police after registration when rents_premises { needs license, lease_record; limit 1 workday }\n}\n";
  auto deployed = designer.post("/api/workflows", json::object{{"files", json::object{{"shop.flow", situational}}}});
  INFO(deployed.body);
  REQUIRE(deployed.status == 200);

  Client clerk = f.as("clerk");
  auto list = [&](json::object form) {
    auto r = clerk.post("/api/workflows/shop/materials", json::object{{"form", std::move(form)}});
    INFO(r.body);
    REQUIRE(r.status == 200);
    std::vector<std::string> out;
    const auto answer = r.json();
    for (const auto& m : answer.at("materials").as_array()) out.push_back(std::string(m.at("material").as_string()));
    return out;
  };
  using V = std::vector<std::string>;
  CHECK(list({}) == V{"id_card", "articles"});  // the license is issued inside the bundle
  CHECK(list({{"rents_premises", "true"}}) == V{"id_card", "articles", "lease_record"});
  CHECK(list({{"rents_premises", "false"}}) == V{"id_card", "articles"});
  CHECK(list({{"rents_premises", "not a bool"}}) == V{"id_card", "articles"});  // not parsed: not answered
  CHECK(clerk.post("/api/workflows/nothing/materials", json::object{{"form", json::object{}}}).status == 404);
  CHECK(clerk.post("/api/workflows/shop/materials", json::object{{"form", json::array{}}}).status == 400);
  CHECK(f.as("market").post("/api/workflows/shop/materials", json::object{{"form", json::object{}}}).status == 403);
}

TEST_CASE("server: a caller who is not logged in cannot make the server read a large body", "[server]") {
  Fixture f;  // materials up to 64 KiB
  onevisit::testing::RawConnection stranger(f.service->port());
  // The head alone: the answer must not wait for 60,000 body bytes that never come.
  REQUIRE(stranger.send(
      "PUT /api/cases/X/materials/articles HTTP/1.1\r\nHost: t\r\nContent-Type: application/pdf\r\n"
      "Content-Length: 60000\r\n\r\n"));
  const auto refused = stranger.read_response(false, std::chrono::seconds(3));
  REQUIRE(refused);
  CHECK(refused->status == 413);
  CHECK(refused->body.find("\"limit_bytes\":8192") != std::string::npos);
  CHECK(stranger.closed_by_server());
  // A login fits; a logged-in clerk's large upload is read and answered by its route.
  Client clerk = f.as("clerk");
  REQUIRE(clerk
              .post("/api/cases",
                    json::object{{"bundle", "startup"}, {"case_id", "B1"}, {"form", startup_form()}})
              .status == 201);
  CHECK(clerk
            .send("PUT", "/api/cases/B1/materials/articles", "%PDF-1.7\n" + std::string(60000, 'x'),
                  {{"Content-Type", "application/pdf"}})
            .status == 200);
  // So is an API token's.
  const auto token = clerk.post("/api/tokens", json::object{{"name", "intake"}, {"scope", "write"}});
  INFO(token.body);
  REQUIRE(token.status == 201);
  Client backend = f.client();
  backend.use_token(std::string(token.json().at("token").as_string()));
  CHECK(backend
            .send("PUT", "/api/cases/B1/materials/articles", "%PDF-1.7\n" + std::string(50000, 'y'),
                  {{"Content-Type", "application/pdf"}})
            .status == 200);
}

// Issue 17: a client-chosen case id shows in lists, URLs, the audit trail and log lines; a
// phone or ID number as case id is refused by the engine, and the answer does not repeat it.
TEST_CASE("server: a case id that is a phone, ID or credit-code number is refused and nothing starts", "[server][personal]") {
  Fixture f;
  Client clerk = f.as("clerk");
  for (const std::string id : {"13812345678", "8613812345678", "C13812345678", "11010519491231002X", "010-65529988", "91350100M000100Y43"}) {
    INFO(id);
    auto refused = clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"case_id", id}, {"form", startup_form()}});
    CHECK(refused.status == 422);
    CHECK(refused.code() == "invalid");
    CHECK(refused.json().at("reason") == "personal_case_id");
    CHECK(refused.json().at("details").at("field") == "case_id");
    CHECK(std::string(refused.json().at("message").as_string()).find("个人信息") != std::string::npos);
    CHECK(refused.body.find(id) == std::string::npos);
  }
  CHECK(clerk.get("/api/cases").json().at("cases").as_array().empty());
  CHECK(clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"case_id", "C20261207-0001"}, {"form", startup_form()}}).status == 201);
  Client boss = f.as("boss");
  auto audit = boss.get("/api/audit");
  REQUIRE(audit.status == 200);
  for (const std::string id : {"13812345678", "11010519491231002X", "65529988"}) CHECK(audit.body.find(id) == std::string::npos);
}

// Issue 17: full ID and phone numbers showed in free-text form fields, material notes, file
// names, history (phones written +86 …, with separators or full-width digits) and, typed as
// a user name at the login, in the audit trail. One detector masks them in every view.
TEST_CASE("server: personal numbers typed as free text are masked in the case, its history and the audit trail", "[server][personal][both-databases]") {
  Fixture f;
  Client clerk = f.as("clerk");
  json::object form = startup_form();
  form["company_name"] = "杭州一件事科技有限公司（联系人 +86 138 1234 5678）";
  auto started = clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"case_id", "P1"}, {"form", form}, {"applicant", "张三丰"}});
  INFO(started.body);
  REQUIRE(started.status == 201);
  // A file name of more than 200 bytes is cut to 200: never in the middle of a character.
  std::string file_name = "身份证11010519491231002X-";
  for (int i = 0; i < 70; ++i) file_name += "章";
  std::string encoded;
  for (const unsigned char c : file_name + ".pdf") {
    static constexpr char kHex[] = "0123456789ABCDEF";
    if (c < 0x80 && c != '%') encoded += static_cast<char>(c);
    else encoded += std::string{'%', kHex[c >> 4], kHex[c & 15]};
  }
  auto uploaded = clerk.send("PUT", "/api/cases/P1/materials/articles", "%PDF-1.4", {{"Content-Type", "application/pdf"}, {"X-File-Name", encoded}});
  INFO(uploaded.body);
  REQUIRE(uploaded.status == 200);
  auto refused = clerk.post("/api/cases/P1/materials/articles/verify",
                            json::object{{"accept", false}, {"reason", "章程上的电话１３９１２３４５６７８与申请表不符"}});
  INFO(refused.body);
  REQUIRE(refused.status == 200);
  auto correction = clerk.post("/api/cases/P1/items/registration/events/request_correction",
                               json::object{{"fields", json::object{{"reason", "请致电 0571-8765-4321 或 86 139 1234 5678，身份证 110105491231002"}}}});
  INFO(correction.body);
  REQUIRE(correction.status == 200);

  const std::vector<std::string> full_numbers = {"1234 5678", "11010519491231002X", "１２３４５６７８", "8765-4321", "110105491231002"};
  auto shown = clerk.get("/api/cases/P1");
  REQUIRE(shown.status == 200);
  const auto view = shown.json();  // parses: valid UTF-8
  CHECK(view.at("form").at("company_name").as_string() == "杭州一件事科技有限公司（联系人 +86 138 **** **78）");
  CHECK(view.at("applicant").as_string() == "张**");
  bool articles = false;
  for (const auto& m : view.at("materials").as_array()) {
    if (m.at("material").as_string() != "articles") continue;
    articles = true;
    CHECK(m.at("note").as_string() == "章程上的电话１３９******７８与申请表不符");
    std::string expected = "身份证110*************2X-";
    for (int i = 0; i < 57; ++i) expected += "章";
    CHECK(m.at("file_name").as_string() == expected);
  }
  CHECK(articles);
  auto history = clerk.get("/api/cases/P1/history");
  REQUIRE(history.status == 200);
  (void)history.json();
  CHECK(history.body.find("057*-****-**21") != std::string::npos);
  CHECK(history.body.find("86 139 **** **78") != std::string::npos);
  for (const auto& number : full_numbers) {
    INFO(number);
    CHECK(shown.body.find(number) == std::string::npos);
    CHECK(history.body.find(number) == std::string::npos);
  }

  // A phone or ID number typed as the user name at the login: refused, audited masked.
  Client stranger = f.client();
  CHECK(stranger.login("13912345678", "guess").status == 401);
  CHECK(stranger.login("11010519491231002X", "guess").status == 401);
  // Refusals without authentication are counted per address and minute: written when it ends.
  f.clock.advance(60'000);
  Client boss = f.as("boss");
  auto audit = boss.get("/api/audit?limit=1000");
  REQUIRE(audit.status == 200);
  bool masked_login = false;
  const auto records = audit.json();
  for (const auto& r : records.at("records").as_array()) {
    masked_login |= std::string_view(r.at("detail").as_string()).find("139******78 (1)") != std::string_view::npos;
  }
  CHECK(masked_login);
  for (const std::string number : {"13912345678", "11010519491231002X", "1234 5678", "8765-4321"}) {
    INFO(number);
    CHECK(audit.body.find(number) == std::string::npos);
  }
}

// Issue 14: the channel a case came in by (办理渠道) is what 全程网办率 counts from; the API
// takes it at intake and shows it in the case and the case list.
TEST_CASE("server: a case records the channel it came in by, and a channel that is none is refused in Chinese", "[server][channel]") {
  Fixture f;
  Client clerk = f.as("clerk");
  auto kiosk = clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"case_id", "K1"}, {"form", startup_form()}, {"channel", "kiosk"}});
  INFO(kiosk.body);
  REQUIRE(kiosk.status == 201);
  REQUIRE(clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"case_id", "W1"}, {"form", startup_form()}}).status == 201);
  CHECK(clerk.get("/api/cases/K1").json().at("channel") == "kiosk");
  CHECK(clerk.get("/api/cases/W1").json().at("channel") == "window");
  std::map<std::string, std::string> listed;
  const auto cases = clerk.get("/api/cases").json();
  for (const auto& c : cases.at("cases").as_array()) {
    listed[std::string(c.at("case_id").as_string())] = std::string(c.at("channel").as_string());
  }
  CHECK(listed == std::map<std::string, std::string>{{"K1", "kiosk"}, {"W1", "window"}});

  auto fax = clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"case_id", "F1"}, {"form", startup_form()}, {"channel", "fax"}});
  CHECK(fax.status == 422);
  CHECK(fax.code() == "invalid");
  CHECK(fax.json().at("reason") == "unknown_channel");
  CHECK(fax.json().at("details").at("choices").as_array().size() == 4);
  CHECK(std::string(fax.json().at("message").as_string()).find("办理渠道") != std::string::npos);
  CHECK(clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"form", startup_form()}, {"channel", 3}}).status == 400);
  CHECK(clerk.get("/api/cases").json().at("cases").as_array().size() == 2);
  CHECK(clerk.get("/api/cases/F1").status == 404);
}

namespace {
// A bundle with choices, a list of choices, a question asked only in one situation and a
// material with upload formats that must be shown in the original.
const std::string kChoicesBundle = R"(
bundle shop "开店" version 1 {
  promise 6 workdays; lifecycle standard
  situation { rents "是否租赁经营场所": bool default false }
  form {
    company_name "企业名称": text required
    company_type "企业类型": enum(limited "有限责任公司", joint_stock "股份有限公司")
    seal_types "刻制印章": list(enum(official "公章", finance "财务专用章"))
    landlord "出租人": text when rents
  }
  material lease "租赁合同" upload pdf, jpg original when rents
  use registration
  item seal "刻章" by police after registration { needs license, lease; limit 1 workday }
}
)";

void deploy_shop(Fixture& f) {
  Client designer = f.as("designer");
  std::string flow = kFlow.substr(0, kFlow.find("bundle startup")) + kChoicesBundle;
  auto deployed = designer.post("/api/workflows", json::object{{"files", json::object{{"shop.flow", flow}}}});
  INFO(deployed.body);
  REQUIRE(deployed.status == 200);
}

const json::object& by_key(const json::array& list, std::string_view key, std::string_view value) {
  for (const auto& e : list) {
    if (e.at(key).as_string() == value) return e.as_object();
  }
  FAIL("no " << key << " " << value);
  static const json::object none;
  return none;
}
}  // namespace

// Issue 14: choices were free text and file choosers accepted anything; the intake page reads
// them from the API (the engine's, not a copy of its logic).
TEST_CASE("server: bundles, the situation's materials and the case carry choices, formats, accept and the questions asked", "[server][choices]") {
  Fixture f;
  deploy_shop(f);
  Client clerk = f.as("clerk");
  auto wf = clerk.get("/api/workflows/shop");
  REQUIRE(wf.status == 200);
  const auto bundle = wf.json();
  const auto& company_type = by_key(bundle.at("fields").as_array(), "name", "company_type");
  CHECK(company_type.at("type") == "enum");
  CHECK(company_type.at("options") == json::value(json::array{json::object{{"value", "limited"}, {"title", "有限责任公司"}},
                                                              json::object{{"value", "joint_stock"}, {"title", "股份有限公司"}}}));
  const auto& seals = by_key(bundle.at("fields").as_array(), "name", "seal_types");
  CHECK(seals.at("type") == "list(enum)");
  CHECK(seals.at("values") == json::value(json::array{"official", "finance"}));
  CHECK(seals.at("options").as_array()[1] == json::value(json::object{{"value", "finance"}, {"title", "财务专用章"}}));
  CHECK_FALSE(by_key(bundle.at("fields").as_array(), "name", "company_name").contains("options"));
  const auto& lease = by_key(bundle.at("materials").as_array(), "material", "lease");
  CHECK(lease.at("formats") == json::value(json::array{"pdf", "jpg"}));
  CHECK(std::string(lease.at("accept").as_string()).find(".jpg") != std::string::npos);
  CHECK(lease.at("original") == true);
  CHECK(by_key(bundle.at("materials").as_array(), "material", "id_card").at("formats").as_array().empty());

  auto preview = [&](json::object form) {
    auto r = clerk.post("/api/workflows/shop/materials", json::object{{"form", std::move(form)}});
    INFO(r.body);
    REQUIRE(r.status == 200);
    return r.json();
  };
  const auto plain = preview({});
  CHECK(plain.at("asked") == json::value(json::array{"rents", "company_name", "company_type", "seal_types"}));
  const auto renting = preview({{"rents", "true"}});
  CHECK(renting.at("asked") == json::value(json::array{"rents", "company_name", "company_type", "seal_types", "landlord"}));
  const auto& listed_lease = by_key(renting.at("materials").as_array(), "material", "lease");
  CHECK(listed_lease.at("formats") == json::value(json::array{"pdf", "jpg"}));
  CHECK(listed_lease.at("original") == true);
  CHECK_FALSE(std::string(listed_lease.at("accept").as_string()).empty());

  // A list of choices as a JSON array (and still as a comma string); a value outside them is refused.
  auto started = clerk.post("/api/cases", json::object{{"bundle", "shop"}, {"case_id", "S1"},
                                                        {"form", json::object{{"company_name", "某某公司"}, {"seal_types", json::array{"official", "finance"}}}}});
  INFO(started.body);
  REQUIRE(started.status == 201);
  CHECK(clerk.get("/api/cases/S1").json().at("form").at("seal_types").as_string().find("finance") != std::string::npos);
  CHECK(clerk.post("/api/cases", json::object{{"bundle", "shop"}, {"case_id", "S2"},
                                              {"form", json::object{{"company_name", "某某公司"}, {"seal_types", "official"}}}})
            .status == 201);
  auto outside = clerk.post("/api/cases", json::object{{"bundle", "shop"}, {"form", json::object{{"company_name", "某某公司"}, {"seal_types", json::array{"official", "gold"}}}}});
  CHECK(outside.status == 422);
  CHECK(outside.code() == "invalid_field");
  CHECK(clerk.post("/api/cases", json::object{{"bundle", "shop"}, {"form", json::object{{"seal_types", json::array{1, 2}}}}}).status == 400);

  // The case page: each material's formats, accept and original; each event's title and
  // whether it ends the item as a failure (irreversible).
  const auto page = clerk.get("/api/cases/S1").json();
  const auto& case_lease = by_key(page.at("materials").as_array(), "material", "articles");
  CHECK(case_lease.at("formats") == json::value(json::array{"pdf"}));
  CHECK(case_lease.at("accept").as_string().find("application/pdf") != std::string::npos);
  CHECK(case_lease.at("original") == false);
  const auto& registration = by_key(page.at("items").as_array(), "item", "registration");
  const auto& accept = by_key(registration.at("events").as_array(), "event", "accept");
  CHECK(accept.at("title") == "受理");
  CHECK(accept.at("final_failed") == false);
}

TEST_CASE("server: an event that ends an item as a failure says so, with its title", "[server][choices]") {
  Fixture f;
  Client clerk = f.as("clerk");
  const auto case_id = case_ready_for_approval(f, clerk);
  const auto page = clerk.get("/api/cases/" + case_id).json();
  const auto& registration = by_key(page.at("items").as_array(), "item", "registration");
  const auto& reject = by_key(registration.at("events").as_array(), "event", "reject");
  CHECK(reject.at("final_failed") == true);
  CHECK_FALSE(std::string(reject.at("title").as_string()).empty());
  CHECK(by_key(registration.at("events").as_array(), "event", "approve").at("final_failed") == false);
}

// Issue 14: messages were English developer text. Programs read codes, reasons and details;
// people read Chinese.
TEST_CASE("server: every error a clerk can see is Chinese, with machine-readable codes, reasons and details", "[server][errors]") {
  Fixture f;
  Client clerk = f.as("clerk");
  REQUIRE(clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"case_id", "E1"}, {"form", startup_form()}}).status == 201);
  const auto chinese = [](const Reply& r) {
    INFO(r.body);
    const std::string message(r.json().at("message").as_string());
    CHECK(has_cjk(message));
    CHECK(message.find("Expected") == std::string::npos);
  };
  // An engine refusal: the rejection's reason and its facts (ids), the English detail only in the log.
  auto guard = clerk.post("/api/cases/E1/items/registration/events/accept", json::object{});
  CHECK(guard.status == 409);
  chinese(guard);
  CHECK_FALSE(guard.json().at("reason").as_string().empty());
  CHECK(guard.json().at("details").at("facts").at("item") == json::value(json::array{"registration"}));
  auto reason = clerk.post("/api/cases/E1/items/registration/events/request_correction", json::object{});
  CHECK(reason.status == 422);
  chinese(reason);
  CHECK(reason.json().as_object().contains("reason"));
  // The server's own: malformed bodies and fields, unknown routes and methods, logins, conflicts.
  auto malformed = clerk.send("POST", "/api/cases", "{not json");
  CHECK(malformed.code() == "malformed_json");
  chinese(malformed);
  auto fields = clerk.post("/api/cases", json::object{{"form", 5}});
  CHECK(fields.code() == "invalid_request");
  chinese(fields);
  const auto answer = fields.json();
  const auto& problems = answer.at("details").at("fields").as_array();
  CHECK(by_key(problems, "field", "bundle").at("problem") == "required");
  CHECK(by_key(problems, "field", "form").at("expected") == "object");
  for (const auto& p : problems) CHECK(has_cjk(std::string(p.at("message").as_string())));
  auto no_route = clerk.get("/api/nothing");
  CHECK(no_route.code() == "no_route");
  chinese(no_route);
  auto method = clerk.send("DELETE", "/api/cases", "");
  CHECK(method.status == 405);
  chinese(method);
  auto no_bundle = clerk.post("/api/cases", json::object{{"bundle", "nothing"}, {"form", json::object{}}});
  CHECK(no_bundle.code() == "not_found");
  chinese(no_bundle);
  chinese(clerk.post("/api/cases/E1/items/nothing/events/accept", json::object{}));
  chinese(clerk.get("/api/cases/E1/materials/articles"));
  Client stranger = f.client();
  auto login = stranger.login("clerk", "not the password");
  CHECK(login.code() == "bad_credentials");
  chinese(login);
  auto anonymous = stranger.get("/api/cases");
  CHECK(anonymous.status == 401);
  chinese(anonymous);
  Client admin = f.as("admin");
  auto twice = admin.post("/api/users", json::object{{"name", "clerk"}, {"role", "window_clerk"}, {"password", kPassword}});
  CHECK(twice.code() == "conflict");
  chinese(twice);
  auto short_password = admin.post("/api/users", json::object{{"name", "newbie"}, {"role", "window_clerk"}, {"password", "short"}});
  CHECK(short_password.code() == "invalid");
  chinese(short_password);
  auto role = admin.post("/api/users", json::object{{"name", "newbie"}, {"role", "boss"}, {"password", kPassword}});
  CHECK(role.json().at("details").at("field") == "role");
  chinese(role);
  chinese(clerk.get("/api/cases?limit=0"));
}

// Issue 14: 全程网办率 and 按时办结率 misled; each bar of the dashboard leads to its cases.
TEST_CASE("server: the report counts channels and overdue running items, and each figure's filter lists its cases", "[server][report]") {
  Fixture f;
  Client clerk = f.as("clerk");
  for (const auto& [id, channel] : std::vector<std::pair<std::string, std::string>>{{"R1", "window"}, {"R2", "online"}, {"R3", "online"}}) {
    REQUIRE(clerk.post("/api/cases", json::object{{"bundle", "startup"}, {"case_id", id}, {"form", startup_form()}, {"channel", channel}}).status == 201);
  }
  f.clock.advance(20LL * 24 * 60 * 60'000);  // every item past its deadline
  REQUIRE(f.service->engine().fire_due_timers());
  Client boss = f.as("boss");
  auto reply = boss.get("/api/report");
  INFO(reply.body);
  REQUIRE(reply.status == 200);
  const auto report = reply.json();
  const auto& overall = report.at("overall");
  CHECK(overall.at("cases_by_channel") == json::value(json::object{{"online", 2}, {"window", 1}}));
  CHECK(overall.at("items_overdue_running").as_int64() == 3);
  const auto& filters = overall.at("filters");
  auto listed = [&](const json::value& filter) {
    std::string target = "/api/cases?limit=500";
    for (const auto& [name, value] : filter.as_object()) {
      target += "&" + std::string(name) + "=" + (value.is_string() ? std::string(value.as_string()) : json::serialize(value));
    }
    auto r = boss.get(target);
    INFO(target << " " << r.body);
    REQUIRE(r.status == 200);
    std::set<std::string> ids;
    const auto answer = r.json();
    for (const auto& c : answer.at("cases").as_array()) ids.insert(std::string(c.at("case_id").as_string()));
    return ids;
  };
  using S = std::set<std::string>;
  CHECK(listed(filters.at("cases")) == S{"R1", "R2", "R3"});
  CHECK(listed(filters.at("channels").at("online")) == S{"R2", "R3"});
  CHECK(listed(filters.at("channels").at("window")) == S{"R1"});
  CHECK(listed(filters.at("overdue_departments").at("market")) == S{"R1", "R2", "R3"});
  // The case list's filters one by one.
  CHECK(listed(json::object{{"channel", "online"}}) == S{"R2", "R3"});
  CHECK(listed(json::object{{"status", "running"}, {"channel", "window"}}) == S{"R1"});
  CHECK(listed(json::object{{"started_from", at(2026, 3, 3)}}).empty());
  CHECK(listed(json::object{{"started_before", at(2026, 3, 3)}}) == S{"R1", "R2", "R3"});
  CHECK(boss.get("/api/cases?channel=fax").code() == "invalid_request");
  CHECK(boss.get("/api/cases?started_from=yesterday").code() == "invalid_request");
}

TEST_CASE("server: the console may call the window PC's ID-card reader, and the built-in admin is 系统管理员", "[server]") {
  Fixture f;
  Client anonymous = f.client();
  const auto page = anonymous.get("/");
  REQUIRE(page.status == 200);
  CHECK(page.header("content-security-policy").find("connect-src 'self' http://127.0.0.1:* http://localhost:*") != std::string::npos);
  CHECK(page.header("content-security-policy").find("default-src 'self'") != std::string::npos);
  Client admin = f.as("admin");
  CHECK(admin.get("/api/session").json().at("user").at("display_name") == "系统管理员");
}

// Issue 14, pre-fill: at intake the clerk types the credit code and the company's registration
// comes from the e-license library (the simulator's), filling only the bundle's own fields.
TEST_CASE("server: a company's registration pre-fills the intake form by credit code, from the e-license library", "[server][prefill]") {
  SECTION("a registered company: the bundle's fields, the code as typed at the window") {
    Fixture f;
    Client clerk = f.as("clerk");
    // Lower case and spaces are the same code (the library is asked for 91330106MA2H00010C).
    auto found = clerk.post("/api/workflows/startup/registration", json::object{{"uscc", " 91330106ma2h00010c "}});
    INFO(found.body);
    REQUIRE(found.status == 200);
    const auto fields = found.json().at("fields").as_object();
    CHECK(fields.at("company_name").as_string() == "杭州一件事科技有限公司");
    CHECK(fields.at("capital").as_string() == "100");
    // The startup bundle declares no legal representative, address or scope: nothing else.
    CHECK(fields.size() == 2);
    // The answer never repeats the full code.
    CHECK(found.body.find("91330106MA2H00010C") == std::string::npos);

    // A code whose check character is wrong is refused before the library is asked.
    auto wrong = clerk.post("/api/workflows/startup/registration", json::object{{"uscc", "91330106MA2H00010D"}});
    CHECK(wrong.status == 422);
    CHECK(wrong.code() == "invalid_field");
    CHECK(wrong.json().at("details").at("fields").as_array()[0].at("field").as_string() == "uscc");
    CHECK(has_cjk(wrong.message()));
    // A valid code the library does not know: say so, in Chinese.
    auto unknown = clerk.post("/api/workflows/startup/registration", json::object{{"uscc", "91110000MA0000000H"}});
    CHECK(unknown.status == 404);
    CHECK(unknown.json().at("reason").as_string() == "no_registration");
    CHECK(has_cjk(unknown.message()));
    CHECK(clerk.post("/api/workflows/startup/registration", json::object{}).status == 400);
    CHECK(clerk.post("/api/workflows/nothing/registration", json::object{{"uscc", "91330106MA2H00010C"}}).status == 404);
    // Only those who start cases: a reviewer is refused.
    Client market = f.as("market");
    CHECK(market.post("/api/workflows/startup/registration", json::object{{"uscc", "91330106MA2H00010C"}}).status == 403);
  }
  SECTION("no library configured: the clerk types the data") {
    Fixture f(64 * 1024, kLogSystems, false, Library::none);
    Client clerk = f.as("clerk");
    auto refused = clerk.post("/api/workflows/startup/registration", json::object{{"uscc", "91330106MA2H00010C"}});
    CHECK(refused.status == 404);
    CHECK(refused.json().at("reason").as_string() == "no_library");
  }
  SECTION("the restaurant bundle's form: name, legal representative and address") {
    adapters::CompanyRegistration registration{"91350100M000100Y43", "杭州小馆餐饮管理有限公司", "张三", "文三路1号", "limited", "50",
                                               "餐饮服务", "2025-06-18"};
    auto opened = engine::Engine::open({":memory:"});
    REQUIRE(opened);
    const fs::path root = fs::path(ONEVISIT_SOURCE_DIR) / "workflows";
    std::map<std::string, std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      if (entry.path().extension() != ".flow") continue;
      std::ifstream in(entry.path());
      files[fs::relative(entry.path(), root).string()] = std::string(std::istreambuf_iterator<char>(in), {});
    }
    REQUIRE((*opened)->deploy_sources(files, {"bundles/restaurant_opening.flow"}));
    const auto wf = (*opened)->workflow("restaurant_opening");
    REQUIRE(wf);
    const auto filled = adapters::registration_prefill(*wf, registration);
    CHECK(filled == std::map<std::string, std::string>{{"business_address", "文三路1号"}, {"company_name", "杭州小馆餐饮管理有限公司"},
                                                       {"legal_rep_name", "张三"}, {"uscc", "91350100M000100Y43"}});
  }
}

// Issue 14, 容缺受理 and clock pause in the console: the case page and the worklist say since
// when a clock stands still and who stopped it; the case page says which items allow 容缺.
TEST_CASE("server: the case page and the worklist say since when a clock is paused, and which items allow tolerant intake", "[server][pause]") {
  Fixture f;
  Client clerk = f.as("clerk");
  const auto case_id = case_ready_for_approval(f, clerk, "P1");
  auto item_of = [&](Client& c, const std::string& id) {
    auto reply = c.get("/api/cases/" + case_id);
    REQUIRE(reply.status == 200);
    const auto body = reply.json();
    for (const auto& i : body.at("items").as_array()) {
      if (i.at("item").as_string() == id) return i.as_object();
    }
    FAIL("no item " << id);
    return json::object{};
  };
  auto registration = item_of(clerk, "registration");
  CHECK_FALSE(registration.contains("paused_since"));
  CHECK(registration.at("paused_by_clerk").as_bool() == false);
  CHECK(registration.at("tolerant").as_bool() == false);
  CHECK(registration.at("needs") == json::array{"id_card", "articles"});

  auto paused = clerk.post("/api/cases/" + case_id + "/pause", json::object{{"item", "registration"}, {"reason", "现场核查"}});
  INFO(paused.body);
  REQUIRE(paused.status == 200);
  registration = item_of(clerk, "registration");
  REQUIRE(registration.contains("paused_since"));
  CHECK(registration.at("paused_since").as_string() == "2026-03-02 10:00");
  CHECK(registration.at("paused_by_clerk").as_bool() == true);

  Client market = f.as("market");
  auto worklist = market.get("/api/worklist");
  REQUIRE(worklist.status == 200);
  const auto listed = worklist.json();
  const auto& entries = listed.at("entries").as_array();
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].at("paused_since").as_string() == "2026-03-02 10:00");
  CHECK(entries[0].at("paused_by_clerk").as_bool() == true);

  REQUIRE(clerk.post("/api/cases/" + case_id + "/resume", json::object{{"item", "registration"}}).status == 200);
  registration = item_of(clerk, "registration");
  CHECK_FALSE(registration.contains("paused_since"));
  CHECK(registration.at("paused_by_clerk").as_bool() == false);
  const auto again = market.get("/api/worklist").json();
  CHECK_FALSE(again.at("entries").as_array()[0].as_object().contains("paused_since"));
}

// Issue 14, the correction round in the console: the reviewer finds a verified scan unusable.
// It is refused (退回, with the reason) so that the window can take the corrected one; before,
// only a material waiting for verification could be refused, and a verified one was stuck.
TEST_CASE("server: a reviewer refuses a material already verified, and the window takes the corrected one", "[server][correction]") {
  Fixture f;
  Client clerk = f.as("clerk");
  const auto case_id = case_ready_for_approval(f, clerk, "R1");
  REQUIRE(material_status(clerk, case_id, "articles") == "verified");
  Client market = f.as("market");
  auto refused = market.post("/api/cases/" + case_id + "/materials/articles/verify", json::object{{"accept", false}, {"reason", "章程缺少签字页"}});
  INFO(refused.body);
  REQUIRE(refused.status == 200);
  CHECK(material_status(clerk, case_id, "articles") == "rejected");
  // Refusing needs a reason; accepting again what is verified is refused (nothing to verify).
  auto version = f.case_version(case_id);
  REQUIRE(market.post("/api/cases/" + case_id + "/materials/id_card/verify", json::object{{"accept", false}}).status == 422);
  REQUIRE(market.post("/api/cases/" + case_id + "/materials/id_card/verify", json::object{{"accept", true}}).status == 409);
  CHECK(f.case_version(case_id) == version);
  auto uploaded = clerk.send("PUT", "/api/cases/" + case_id + "/materials/articles", "%PDF-1.4 signed articles",
                             {{"Content-Type", "application/pdf"}, {"X-File-Name", "articles-signed.pdf"}});
  INFO(uploaded.body);
  REQUIRE(uploaded.status == 200);
  CHECK(material_status(clerk, case_id, "articles") == "submitted");
  REQUIRE(clerk.post("/api/cases/" + case_id + "/materials/articles/verify", json::object{{"accept", true}}).status == 200);
  CHECK(material_status(clerk, case_id, "articles") == "verified");
}

// Issue 13: clock control follows the lifecycle's roles and the reviewer's department, the
// same as in the core; special procedures run over REST and show in the case and its history.
TEST_CASE("server: who may stop a clock, and special procedures over REST", "[server][special]") {
  Fixture f;
  Client clerk = f.as("clerk");
  const auto case_id = case_ready_for_approval(f, clerk);
  const std::string base = "/api/cases/" + case_id;
  Client market = f.as("market");
  Client police = f.as("police");
  Client boss = f.as("boss");
  auto registration = [&](Client& c) {
    auto reply = c.get(base);
    REQUIRE(reply.status == 200);
    const auto body = reply.json();
    for (const auto& i : body.at("items").as_array()) {
      if (i.at("item").as_string() == "registration") return i.as_object();
    }
    FAIL("no registration");
    return json::object{};
  };
  auto version = f.case_version(case_id);
  // The supervisor is named by no transition of the lifecycle: it stopped every clock before.
  auto r = boss.post(base + "/pause", json::object{{"reason", "督办暂停"}});
  INFO(r.body);
  CHECK(r.status == 403);
  CHECK(r.code() == "role_not_allowed");
  CHECK(f.case_version(case_id) == version);
  // Another department's reviewer: neither its item named, nor "every item".
  CHECK(police.post(base + "/pause", json::object{{"item", "registration"}, {"reason", "现场核查"}}).status == 403);
  r = police.post(base + "/pause", json::object{{"reason", "现场核查"}});
  CHECK(r.status == 403);
  CHECK(r.json().at("message").as_string() == "「设立登记」由市场监管局办理，只有该部门的审批人员可以掌握它的计时。");
  CHECK(f.case_version(case_id) == version);
  // The item's own department's reviewer may pause and resume it.
  REQUIRE(market.post(base + "/pause", json::object{{"reason", "现场核查"}}).status == 200);
  CHECK(registration(market).at("due").as_string() == "-");
  REQUIRE(market.post(base + "/resume", json::object{{"item", "registration"}}).status == 200);

  // Special procedures: declared ones only, with a reason, one at a time, the department's.
  const std::string special = base + "/items/registration/special-procedures/";
  version = f.case_version(case_id);
  r = market.post(special + "hearing/start", json::object{{"reason", "听证"}});
  CHECK(r.status == 404);
  CHECK(r.json().at("message").as_string() == "「设立登记」没有“hearing”这一特别程序。它规定的特别程序有：「现场踏勘」。");
  CHECK(market.post(special + "site_inspection/start", json::object{}).status == 400);  // a reason is required
  CHECK(police.post(special + "site_inspection/start", json::object{{"reason", "核实"}}).status == 403);
  CHECK(f.case_version(case_id) == version);
  r = market.post(special + "site_inspection/start", json::object{{"reason", "需现场核实经营场所"}});
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(clerk.post(special + "site_inspection/start", json::object{{"reason", "again"}}).status == 409);
  auto item = registration(clerk);
  CHECK(item.at("due").as_string() == "-");  // pauses_clock: the item's clock stands still
  REQUIRE(item.contains("running_special_procedure"));
  const auto running = item.at("running_special_procedure").as_object();
  CHECK(running.at("title").as_string() == "现场踏勘");
  CHECK(running.at("max").as_string() == "3个工作日");
  CHECK(running.at("reason").as_string() == "需现场核实经营场所");
  CHECK(running.at("light").as_string() == "");
  CHECK(item.at("special_procedures").as_array().size() == 1);
  // Past its max (Thursday 5 March 17:30), the scheduler escalates: the red light.
  f.clock.set(at(2026, 3, 6, 10));
  clerk = f.as("clerk");  // the sessions of four days ago have expired
  market = f.as("market");
  boss = f.as("boss");
  REQUIRE(boss.post("/api/timers/fire", json::object{}).status == 200);
  item = registration(clerk);
  CHECK(item.at("running_special_procedure").at("light").as_string() == "red");
  CHECK(item.at("running_special_procedure").at("workdays_used").as_string() == "4");  // Mon 10:00 to Fri 10:00: 1680 working minutes
  // Ended with its result by the department.
  CHECK(market.post(special + "site_inspection/end", json::object{}).status == 400);  // a result is required
  REQUIRE(market.post(special + "site_inspection/end", json::object{{"result", "场所与申报一致"}}).status == 200);
  item = registration(clerk);
  CHECK_FALSE(item.contains("running_special_procedure"));
  CHECK(item.at("special_procedure_runs").as_array().at(0).at("result").as_string() == "场所与申报一致");
  // The history says who started and ended which, with the reason and the result.
  auto history = clerk.get(base + "/history");
  REQUIRE(history.status == 200);
  std::vector<std::string> titles;
  const auto events = history.json();
  for (const auto& e : events.at("events").as_array()) {
    const auto title = std::string(e.at("title").as_string());
    if (title.find("特别程序") == std::string::npos) continue;
    titles.push_back(title);
    if (e.at("kind").as_string() == "SpecialProcedureStarted") {
      CHECK(e.at("reason").as_string() == "需现场核实经营场所");
      CHECK(e.at("actor").at("name").as_string() == "market");
    }
    if (e.at("kind").as_string() == "SpecialProcedureEnded") CHECK(e.at("note").as_string() == "结果：场所与申报一致");
  }
  CHECK(titles == std::vector<std::string>{"开始特别程序「现场踏勘」", "特别程序即将到达最长时限「现场踏勘」", "特别程序超过最长时限「现场踏勘」",
                                           "结束特别程序「现场踏勘」"});
  // The report counts it apart: one special procedure, past its max, no correction, no visit.
  auto report = boss.get("/api/report");
  REQUIRE(report.status == 200);
  const auto figures = report.json().at("overall");
  CHECK(figures.at("special_procedures").to_number<std::int64_t>() == 1);
  CHECK(figures.at("special_procedures_overdue").to_number<std::int64_t>() == 1);
  CHECK(figures.at("corrections").to_number<std::int64_t>() == 0);
  CHECK(figures.at("average_visits").as_double() == Approx(1.0));  // the intake at the window only
}

namespace {

// Starts a startup case with a generated case number as the clerk; its id.
std::string start_numbered(Client& clerk, const std::string& company, const std::string& legal_rep_id) {
  auto started = clerk.post("/api/cases", json::object{{"bundle", "startup"},
                                                        {"form", json::object{{"company_name", company}, {"legal_rep_id", legal_rep_id}, {"capital", 1000}}},
                                                        {"applicant", legal_rep_id}});
  INFO(started.body);
  REQUIRE(started.status == 201);
  return std::string(started.json().at("case_id").as_string());
}

std::vector<std::string> listed_ids(const Reply& reply) {
  INFO(reply.body);
  REQUIRE(reply.status == 200);
  std::vector<std::string> ids;
  const auto body = reply.json();
  for (const auto& c : body.at("cases").as_array()) ids.emplace_back(c.at("case_id").as_string());
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::string urlencode(std::string_view text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
      out.push_back(static_cast<char>(c));
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("server: a completed case stays findable: search by name, ID digits and case number, tabs with counts", "[server][search][both-databases]") {
  Fixture f;
  Client clerk = f.as("clerk");
  Client market = f.as("market");
  Client police = f.as("police");
  const auto done = start_numbered(clerk, "杭州一件事科技有限公司", "11010519491231002X");
  const auto open = start_numbered(clerk, "宁波四海贸易有限公司", "110105194912310046");
  CHECK(done == "20260302-0001");
  // The first case runs to its end.
  REQUIRE(clerk.post("/api/cases/" + done + "/materials/id_card/elicense", json::object{}).status == 200);
  REQUIRE(clerk.send("PUT", "/api/cases/" + done + "/materials/articles", "%PDF-1.4 articles", {{"Content-Type", "application/pdf"}}).status == 200);
  REQUIRE(clerk.post("/api/cases/" + done + "/materials/articles/verify", json::object{{"accept", true}}).status == 200);
  REQUIRE(clerk.post("/api/cases/" + done + "/items/registration/events/accept", json::object{}).status == 200);
  REQUIRE(market.post("/api/cases/" + done + "/items/registration/events/approve", json::object{}).status == 200);
  REQUIRE(clerk.post("/api/cases/" + done + "/items/seal/events/accept", json::object{}).status == 200);
  REQUIRE(police.post("/api/cases/" + done + "/items/seal/events/approve", json::object{}).status == 200);
  REQUIRE(clerk.get("/api/cases/" + done).json().at("status").as_string() == "completed");

  const std::vector<std::string> only_done{done}, only_open{open};
  CHECK(listed_ids(clerk.get("/api/cases?q=" + urlencode("杭州一件事"))) == only_done);
  CHECK(listed_ids(clerk.get("/api/cases?q=" + urlencode("宁波四海贸易有限公司"))) == only_open);
  CHECK(listed_ids(clerk.get("/api/cases?q=002x")) == only_done);
  CHECK(listed_ids(clerk.get("/api/cases?q=310046")) == only_open);
  CHECK(listed_ids(clerk.get("/api/cases?q=11010519491231002X")) == only_done);
  CHECK(listed_ids(clerk.get("/api/cases?q=" + done)) == only_done);
  CHECK(listed_ids(clerk.get("/api/cases?q=2")) == only_open);
  CHECK(listed_ids(clerk.get("/api/cases?q=" + urlencode("张三"))).empty());
  // A reviewer still finds the finished case of their department: it has no open item left.
  CHECK(listed_ids(police.get("/api/cases")) == std::vector<std::string>{done, open});
  CHECK(listed_ids(police.get("/api/cases?q=002X")) == only_done);
  // 我办过的: the market reviewer approved only the first one.
  CHECK(listed_ids(market.get("/api/cases?done_by=me")) == only_done);
  CHECK(listed_ids(clerk.get("/api/cases?status=completed")) == only_done);
  auto page = clerk.get("/api/cases?count=1&limit=1");
  REQUIRE(page.status == 200);
  CHECK(page.json().at("total").to_number<std::int64_t>() == 2);
  CHECK(page.json().at("cases").as_array().size() == 1);

  auto counts = clerk.get("/api/worklist/counts");
  INFO(counts.body);
  REQUIRE(counts.status == 200);
  const auto counted = counts.json();
  const auto& c = counted.at("counts").as_object();
  CHECK(c.at("all").to_number<std::int64_t>() == 2);
  CHECK(c.at("done").to_number<std::int64_t>() == 2);
  CHECK(c.at("delivery").to_number<std::int64_t>() == 1);
  CHECK(c.at("rating").to_number<std::int64_t>() == 0);
  CHECK(c.at("overdue").to_number<std::int64_t>() == 0);
  CHECK(c.at("mine").to_number<std::int64_t>() == 1);  // the open case's registration (its seal waits)
  auto market_counts = market.get("/api/worklist/counts");
  REQUIRE(market_counts.status == 200);
  CHECK(market_counts.json().at("counts").at("done").to_number<std::int64_t>() == 1);
  CHECK(market_counts.json().at("counts").at("mine").to_number<std::int64_t>() == 1);

  // Unusable queries: a Chinese 422 that never repeats a number typed.
  for (const std::string bad : {"%E6%9D%8E", "1234567890", "12345678901234", "a%21%21", "%20"}) {
    auto reply = clerk.get("/api/cases?q=" + bad);
    INFO(bad << ": " << reply.body);
    CHECK(reply.status == 422);
    CHECK(reply.code() == "invalid_query");
    CHECK(has_cjk(reply.json().at("message").as_string()));
    CHECK(reply.body.find("1234567890") == std::string::npos);
  }
  CHECK(clerk.get("/api/cases?done_by=someone").status == 400);
  CHECK(clerk.get("/api/worklist?overdue=yes").status == 400);
}

TEST_CASE("server: a supervisor urges (督办) an overdue item with a note, the department sees the mark, the history says who", "[server][urge]") {
  Fixture f;
  Client clerk = f.as("clerk");
  Client boss = f.as("boss");
  Client market = f.as("market");
  const auto case_id = case_ready_for_approval(f, clerk);
  const std::string urge = "/api/cases/" + case_id + "/items/registration/urge";
  // Not late yet.
  auto early = boss.post(urge, json::object{{"note", "请尽快办理"}});
  INFO(early.body);
  CHECK(early.status == 409);
  CHECK(early.json().at("reason").as_string() == "not_late");

  // Weeks later (sessions have expired meanwhile): the service's timers made the item overdue.
  f.clock.set(at(2026, 3, 20));
  boss = f.as("boss");
  market = f.as("market");
  clerk = f.as("clerk");
  Reply overdue;
  for (int i = 0; i < 100; ++i) {
    overdue = market.get("/api/worklist?overdue=1");
    if (overdue.status == 200 && !overdue.json().at("entries").as_array().empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  INFO(overdue.body);
  REQUIRE(overdue.status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the overdue timer too, not only the warning
  REQUIRE(overdue.json().at("entries").as_array().size() == 1);
  CHECK(overdue.json().at("entries").as_array()[0].at("urged").as_bool() == false);

  const auto version = f.case_version(case_id);
  auto by_clerk = clerk.post(urge, json::object{{"note", "请尽快办理"}});
  CHECK(by_clerk.status == 403);
  CHECK(boss.post(urge, json::object{}).status == 400);  // the note is required
  CHECK(f.case_version(case_id) == version);
  auto urged = boss.post(urge, json::object{{"note", "已超期，请今日办结"}});
  INFO(urged.body);
  REQUIRE(urged.status == 200);

  auto marked = market.get("/api/worklist?overdue=1");
  REQUIRE(marked.status == 200);
  CHECK(marked.json().at("entries").as_array()[0].at("urged").as_bool());
  auto page = market.get("/api/cases/" + case_id);
  REQUIRE(page.status == 200);
  const auto shown = page.json();
  const auto& item = shown.at("items").as_array()[0].as_object();
  CHECK(item.at("urged").as_bool());
  CHECK(item.at("urge_note").as_string() == "已超期，请今日办结");
  auto history = market.get("/api/cases/" + case_id + "/history");
  REQUIRE(history.status == 200);
  const auto told = history.json();
  const auto& last = told.at("events").as_array().back().as_object();
  CHECK(last.at("title").as_string() == "督办");
  CHECK(std::string(last.at("note").as_string()).find("已超期，请今日办结") != std::string::npos);
  CHECK(history.body.find("boss") != std::string::npos);
  // The department is notified through the notification system.
  auto calls = boss.get("/api/cases/" + case_id + "/calls");
  REQUIRE(calls.status == 200);
  INFO(calls.body);
  const auto called = calls.json();
  const auto& entries = called.at("calls").as_array();
  CHECK(std::any_of(entries.begin(), entries.end(), [](const json::value& call) {
    return call.at("operation").as_string() == "notify" && call.at("department").as_string() == "market";
  }));

  // The reviewer acts: the item moves on and the mark is gone.
  REQUIRE(market.post("/api/cases/" + case_id + "/items/registration/events/approve", json::object{}).status == 200);
  auto after = market.get("/api/cases/" + case_id);
  CHECK(after.json().at("items").as_array()[0].at("urged").as_bool() == false);
}

TEST_CASE("server: a notice's QR code takes the applicant to the case's page at the service's public address", "[server][notices]") {
  Fixture f;
  Client clerk = f.as("clerk");
  const auto case_id = case_ready_for_approval(f, clerk);
  const std::string route = "/api/cases/" + case_id + "/follow-code";
  // Without --public-url: the address the request came to.
  auto reply = clerk.send("GET", route, {}, {{"Host", "zwfw.example.gov.cn:8443"}});
  INFO(reply.body);
  REQUIRE(reply.status == 200);
  auto body = reply.json();
  CHECK(body.at("url").as_string() == "http://zwfw.example.gov.cn:8443/m/cases/" + case_id);
  const std::string svg(body.at("svg").as_string());
  CHECK(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  CHECK(svg.find("<path fill=\"#000\" d=\"M") != std::string::npos);
  // A Host that is no host name cannot make the notice point elsewhere.
  auto forged = clerk.send("GET", route, {}, {{"Host", "evil.example/phish?x="}});
  CHECK(forged.status == 422);
  // The code is for whoever may see the case, no one else.
  for (const std::string& who : std::vector<std::string>{"police", "designer"}) {
    Client other = f.as(who);
    INFO(who);
    CHECK(other.get(route).status == other.get("/api/cases/" + case_id).status);
  }
  CHECK(f.as("designer").get(route).status == 403);
  CHECK(clerk.get("/api/cases/NO-SUCH-CASE/follow-code").status == 404);

  // With --public-url (the address applicants reach through the proxy) the Host is ignored.
  const auto database = (f.dir / "cases.db").string();
  f.service.reset();
  server::ServiceOptions options;
  options.database = database;
  options.listen = "127.0.0.1:0";
  options.cheap_password_hashing = true;
  options.clock = &f.clock;
  options.public_url = "https://zwfw.example.gov.cn/";
  auto again = server::Service::start(options);
  REQUIRE(again);
  Client c((*again)->port());
  REQUIRE(c.login("clerk", kPassword).status == 200);
  auto configured = c.send("GET", route, {}, {{"Host", "10.0.0.7:8080"}});
  REQUIRE(configured.status == 200);
  CHECK(configured.json().at("url").as_string() == "https://zwfw.example.gov.cn/m/cases/" + case_id);
  again->reset();
  for (const std::string& bad : std::vector<std::string>{"zwfw.example.gov.cn", "ftp://zwfw.example.gov.cn", "https://zwfw.example.gov.cn/a b", "https://x/\"><script>"}) {
    options.public_url = bad;
    auto refused = server::Service::start(options);
    INFO(bad);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().find("--public-url") != std::string::npos);
  }
}

TEST_CASE("server: a training service's clock runs the days ahead it is given, and says so to staff", "[server]") {
  const auto dir = fs::temp_directory_path() / ("onevisit-training-clock-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  server::ServiceOptions options;
  options.database = (dir / "cases.db").string();
  options.listen = "127.0.0.1:0";
  options.cheap_password_hashing = true;
  options.clock_offset_days = 30;
  auto started = server::Service::start(options);
  REQUIRE(started);
  const auto real_now = engine::SystemClock().now();
  const auto service_now = (*started)->engine().now();
  constexpr engine::Timestamp kDay = 24LL * 3600 * 1000;
  CHECK(service_now - real_now > 30 * kDay - 60'000);
  CHECK(service_now - real_now < 30 * kDay + 60'000);
  Client c((*started)->port());
  const std::string admin_password = *(*started)->initial_admin_password();
  auto login = c.login("admin", admin_password);
  REQUIRE(login.status == 200);
  CHECK(login.json().at("training_clock_days").as_int64() == 30);
  CHECK(c.get("/api/session").json().at("training_clock_days").as_int64() == 30);
  started->reset();
  // A real service says nothing of the kind.
  options.clock_offset_days = 0;
  auto real = server::Service::start(options);
  REQUIRE(real);
  Client r((*real)->port());
  auto plain = r.login("admin", admin_password);
  REQUIRE(plain.status == 200);
  CHECK_FALSE(plain.json().as_object().contains("training_clock_days"));
  real->reset();
  options.clock_offset_days = 4000;
  auto refused = server::Service::start(options);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().find("--clock-offset-days") != std::string::npos);
  fs::remove_all(dir);
}

// Issue 13, joint handling (联办/会签) in every department's worklist: on the road-works bundle
// 城管 handles the excavation permit and 市政 decides its part. 市政's reviewer finds the permit
// in 我的待办 (the worklist and its count) as a part, decides it from there, and it leaves;
// 城管's reviewer still has the item itself.
TEST_CASE("server: a joint item is in the worklist of each department taking part until it decides its part", "[server][joint]") {
  auto simulator = deptsim::Simulator::start({});
  if (!simulator) FAIL(simulator.error());
  const auto dir = fs::temp_directory_path() / ("onevisit-joint-worklist-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string config = "[elicense]\nurl = \"" + (*simulator)->url() + "/elicense\"\ntimeout_ms = 2000\n";
  for (const char* system : {"urban_management_system", "municipal_roads_system", "traffic_police_system", "notify"}) {
    config += std::string("[systems.") + system + "]\nkind = \"log\"\n";
  }
  std::ofstream(dir / "deploy.toml") << config;
  engine::VirtualClock clock{at(2026, 11, 2)};
  server::ServiceOptions options;
  options.database = (dir / "cases.db").string();
  options.workflows = std::string(ONEVISIT_SOURCE_DIR) + "/workflows";
  options.adapter_config = (dir / "deploy.toml").string();
  options.listen = "127.0.0.1:0";
  options.clock = &clock;
  options.cheap_password_hashing = true;
  options.demo_staff = true;
  auto service = server::Service::start(options);
  if (!service) FAIL(service.error());
  const auto staff = (*service)->demo_accounts();
  const auto as = [&](const std::string& name) {
    Client c((*service)->port());
    const auto account = std::find_if(staff.begin(), staff.end(), [&](const auto& a) { return a.name == name; });
    REQUIRE(account != staff.end());
    REQUIRE(c.login(account->name, account->password).status == 200);
    return c;
  };
  Client clerk = as("wang");
  Client municipal = as("municipal_roads_reviewer");
  Client urban = as("urban_management_reviewer");

  const json::object form{{"company_name", "杭州路桥建设有限公司"}, {"uscc", "91350100M000100Y43"}, {"legal_rep_name", "张三"},
                          {"legal_rep_id", "11010519491231002X"}, {"applicant_phone", "13800138000"}, {"project_name", "文三路给水管改造"},
                          {"works_address", "文三路（学院路至教工路）"}, {"works_length_m", 120}, {"works_start", "2026-11-20"},
                          {"works_end", "2026-12-20"}};
  auto started = clerk.post("/api/cases", json::object{{"bundle", "road_works"}, {"case_id", "R1"}, {"form", form},
                                                        {"applicant", "11010519491231002X"}});
  INFO(started.body);
  REQUIRE(started.status == 201);
  for (const char* license : {"business_license", "legal_rep_id_card"}) {
    auto fetched = clerk.post(std::string("/api/cases/R1/materials/") + license + "/elicense", json::object{});
    INFO(fetched.body);
    REQUIRE(fetched.status == 200);
  }
  for (const char* upload : {"road_works_scheme", "road_restoration_pledge", "traffic_organisation_plan"}) {
    auto uploaded = clerk.send("PUT", std::string("/api/cases/R1/materials/") + upload, "%PDF-1.4 road works",
                               {{"Content-Type", "application/pdf"}, {"X-File-Name", "file.pdf"}});
    INFO(uploaded.body);
    REQUIRE(uploaded.status == 200);
    REQUIRE(clerk.post(std::string("/api/cases/R1/materials/") + upload + "/verify", json::object{{"accept", true}}).status == 200);
  }
  const auto worklist = [&](Client& c) {
    auto reply = c.get("/api/worklist");
    INFO(reply.body);
    REQUIRE(reply.status == 200);
    return reply.json().at("entries").as_array();
  };
  const auto mine = [&](Client& c) {
    auto reply = c.get("/api/worklist/counts");
    INFO(reply.body);
    REQUIRE(reply.status == 200);
    return reply.json().at("counts").at("mine").as_int64();
  };
  // Before 受理 there is nothing for 市政 to decide.
  CHECK(worklist(municipal).empty());
  auto accepted = clerk.post("/api/cases/R1/items/excavation/events/accept", json::object{});
  INFO(accepted.body);
  REQUIRE(accepted.status == 200);

  auto entries = worklist(municipal);
  REQUIRE(entries.size() == 1);
  const auto& part = entries[0].as_object();
  CHECK(part.at("case_id").as_string() == "R1");
  CHECK(part.at("item").as_string() == "excavation");
  CHECK(part.at("item_title").as_string() == "城市道路占用、挖掘许可");
  CHECK(part.at("department").as_string() == "urban_management");
  CHECK(part.at("part").as_string() == "municipal_roads");
  CHECK(part.at("part_title").as_string() == "区市政工程管理处");
  CHECK(part.at("state").as_string() == "accepted");
  CHECK(part.at("due_at").as_int64() > 0);
  CHECK(mine(municipal) == 1);
  // 城管 has the item itself, once, not as a part.
  entries = worklist(urban);
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].as_object().at("item").as_string() == "excavation");
  CHECK_FALSE(entries[0].as_object().contains("part"));

  // 市政 agrees: its part leaves its worklist; the permit waits for 城管.
  auto decided = municipal.post("/api/cases/R1/items/excavation/parts/municipal_roads", json::object{{"approve", true}, {"note", "同意"}});
  INFO(decided.body);
  REQUIRE(decided.status == 200);
  CHECK(worklist(municipal).empty());
  CHECK(mine(municipal) == 0);
  CHECK(worklist(urban).size() == 1);
  // Deciding again is refused, and changes nothing.
  auto again = municipal.post("/api/cases/R1/items/excavation/parts/municipal_roads", json::object{{"approve", true}});
  CHECK(again.status == 409);
  CHECK(again.json().at("reason").as_string() == "part_decided");

  service->reset();
  (*simulator)->stop();
  fs::remove_all(dir);
}
