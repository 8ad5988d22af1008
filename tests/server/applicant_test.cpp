// The applicant channel (issue 15) over real HTTP on loopback: SMS-code and identity-platform
// logins against the department simulator (its SMS gateway, OpenID Connect provider and
// e-license library), sessions kept apart from staff sessions, the company an applicant acts
// for, and an applicant's own cases: apply, follow, correct, withdraw, rate; another
// applicant's case answers 404.
#include "postgres_support.hpp"
#include "server/http_client.hpp"

#include <catch2/catch.hpp>

#include "deptsim/simulator.hpp"

#include <onevisit/adapters/identity.hpp>
#include <onevisit/engine/at_rest.hpp>
#include <onevisit/server/server.hpp>

#include <boost/json.hpp>
#include <sodium.h>
#include <sqlite3.h>

#include <array>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

using namespace onevisit;
namespace fs = std::filesystem;
namespace json = boost::json;
using testing::Client;
using testing::Reply;

namespace {

const std::string kFlow = R"(
lifecycle standard {
  state submitted initial; state accepted; state correcting pauses_clock
  state approved final; state rejected final failed; state withdrawn final failed
  on accept: submitted -> accepted by clerk when materials.complete do notify(applicant, "您的申请已受理")
  on withdraw: submitted, accepted, correcting -> withdrawn by applicant
  on request_correction: submitted, accepted -> correcting by clerk, reviewer requires reason do notify(applicant, "请按一次性补正告知书补正材料")
  on corrected: correcting -> accepted by applicant
  on approve: accepted -> approved by reviewer do notify(applicant, "您的申请已办结")
  on reject: accepted -> rejected by reviewer requires reason
}
department health "卫生健康局" adapter health_system
department market "市场监管局" adapter market_registry
material birth_proof "出生医学证明" upload pdf
material articles "公司章程" upload pdf
material mother_card "母亲身份证" from elicense "居民身份证"
bundle newborn "新生儿出生一件事" version 1 {
  promise 5 workdays; lifecycle standard
  form {
    mother_name "母亲姓名": text required
    mother_id "母亲身份证号码": idcard required
    mother_phone "母亲手机号码": phone required
    helper_phone "其他联系人手机号码": phone
  }
  item birth "出生登记" by health { limit 5 workdays; needs birth_proof, mother_card }
}
bundle restaurant "开办餐饮店一件事" version 1 {
  promise 5 workdays; lifecycle standard
  form {
    company_name "企业名称": text required
    uscc "统一社会信用代码": uscc required
    legal_rep_name "法定代表人姓名": text
    legal_rep_id "法定代表人身份证号码": idcard
    contact_phone "联系电话": phone required
  }
  situation {
    sells_alcohol "经营酒类": bool required default false
    large_area "经营面积超过500平方米": bool default false when sells_alcohol
  }
  material liquor_pledge "酒类经营承诺书" upload pdf when sells_alcohol
  item food_license "食品经营许可" by market { limit 5 workdays; needs articles, liquor_pledge }
}
)";

const std::string kPassword = "correct horse battery";
const std::string kMother = "330106199003070014";  // 王小明, the simulated platform's person
const std::string kOther = "330102198506121231";
const std::string kRestaurant = "91350100M000100Y43";  // 王小明 is its authorised agent
const std::string kOtherCompany = "91330106MA2H00010C";
const std::string kPdf = "%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

engine::Timestamp at(int year, int month, int day, int hour = 10) {
  return (dsl::days_from_civil({year, month, day}) * 24 * 60 + hour * 60) * 60'000;
}

// A running service whose SMS gateway, identity platform and e-license library are the
// department simulator's; a clerk and a health reviewer.
struct ApplicantFixture {
  fs::path dir;
  std::optional<onevisit::testing::PostgresScratch> scratch;  ///< the database, when the test runs on PostgreSQL
  engine::VirtualClock clock{at(2026, 3, 2)};
  std::unique_ptr<deptsim::Simulator> simulator;
  std::unique_ptr<server::Service> service;

  /// `extra_flow`: another workflow file deployed beside kFlow (a test's own bundle);
  /// `extra_config`: more of the deployment configuration (e.g. [storage] keys).
  explicit ApplicantFixture(const std::string& extra_flow = "", const std::string& extra_config = "") {
    auto started_sim = deptsim::Simulator::start({});
    if (!started_sim) FAIL(started_sim.error());
    simulator = std::move(*started_sim);
    static int counter = 0;
    dir = fs::temp_directory_path() / ("onevisit-applicant-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    fs::remove_all(dir);
    fs::create_directories(dir / "workflows");
    std::ofstream(dir / "workflows" / "bundles.flow") << kFlow;
    if (!extra_flow.empty()) std::ofstream(dir / "workflows" / "extra.flow") << extra_flow;
    ::setenv("ONEVISIT_TEST_OIDC_SECRET", deptsim::IdentityPlatform{}.client_secret.c_str(), 1);
    const std::string sim = simulator->url();
    std::ofstream(dir / "deploy.toml") << "[systems.health_system]\nkind = \"log\"\n[systems.market_registry]\nkind = \"log\"\n"
                                       << "[systems.post]\nkind = \"http\"\nurl = \"" << sim << "/dept/post\"\ntimeout_ms = 2000\n"
                                       << "[systems.notify]\nkind = \"sms\"\nurl = \"" << sim << "/sms\"\n"
                                       << "[sms]\nurl = \"" << sim << "/sms\"\nsign = \"政务服务中心\"\ntimeout_ms = 2000\n"
                                       << "[elicense]\nurl = \"" << sim << "/elicense\"\ntimeout_ms = 2000\n"
                                       << "[oidc]\nissuer = \"https://id.example.gov.cn\"\nauthorize_url = \"" << sim << "/oidc/authorize\"\n"
                                       << "token_url = \"" << sim << "/oidc/token\"\nclient_id = \"onevisit\"\n"
                                       << "jwks_url = \"" << sim << "/oidc/jwks\"\njwks_refetch_seconds = 0\n"
                                       << "client_secret_env = \"ONEVISIT_TEST_OIDC_SECRET\"\n"
                                       << "redirect_uri = \"http://127.0.0.1/api/applicant/oidc/callback\"\n" << extra_config;
    server::ServiceOptions options;
    options.database = onevisit::testing::server_test_database(dir, scratch);
    options.workflows = (dir / "workflows").string();
    options.adapter_config = (dir / "deploy.toml").string();
    options.listen = "127.0.0.1:0";
    options.threads = 2;
    options.clock = &clock;
    options.cheap_password_hashing = true;
    options.timer_interval = std::chrono::milliseconds(50);
    options.dispatch_interval = std::chrono::milliseconds(50);
    fs::create_directories(dir / "applicant");
    std::ofstream(dir / "applicant" / "index.html") << "<!doctype html><title>申请人</title>";
    std::ofstream(dir / "applicant" / "app.js") << "render();";
    options.applicant_dir = dir / "applicant";
    auto started = server::Service::start(options);
    if (!started) FAIL(started.error());
    service = std::move(*started);
    Client admin(service->port());
    REQUIRE(admin.login("admin", *service->initial_admin_password()).status == 200);
    for (const auto& [name, role, department] : {std::tuple{"clerk", "window_clerk", ""}, {"health", "reviewer", "health"}}) {
      REQUIRE(admin.post("/api/users", json::object{{"name", name}, {"role", role}, {"department", department}, {"password", kPassword}}).status == 201);
    }
  }
  ~ApplicantFixture() {
    service.reset();
    simulator->stop();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  Client staff(const std::string& name) {
    Client c(service->port());
    REQUIRE(c.login(name, kPassword).status == 200);
    return c;
  }
  Client browser(const std::string& from = "127.0.0.1") { return Client::applicant(service->port(), from); }

  // The last login code sent to `phone`, read from the simulated gateway as a phone would.
  std::string last_code(const std::string& phone) {
    const auto texts = simulator->texts_to(phone);
    REQUIRE_FALSE(texts.empty());
    std::smatch m;
    REQUIRE(std::regex_search(texts.back().text, m, std::regex("验证码是 ([0-9]{6})")));
    return m[1];
  }

  // An applicant logged in with an SMS code.
  Client by_sms(const std::string& phone, const std::string& from = "127.0.0.1") {
    Client c = browser(from);
    const auto sent = c.post("/api/applicant/sms-codes", json::object{{"phone", phone}});
    INFO(sent.body);
    REQUIRE(sent.status == 202);
    const auto in = c.post("/api/applicant/session", json::object{{"phone", phone}, {"code", last_code(phone)}});
    INFO(in.body);
    REQUIRE(in.status == 200);
    c.keep_cookies(in);
    return c;
  }

  // The identity platform's redirect flow, followed as a browser follows it; returns the
  // service's answer to the callback.
  Reply platform_login(Client& c, const std::string& return_to = "/m/cases") {
    const auto start = c.get("/api/applicant/oidc/start?return_to=" + return_to);
    INFO(start.body);
    REQUIRE(start.status == 303);
    const std::string authorize = start.header("location");
    REQUIRE(authorize.rfind(simulator->url() + "/oidc/authorize?", 0) == 0);
    Client platform(simulator->port());
    const auto back = platform.get(authorize.substr(simulator->url().size()));
    REQUIRE(back.status == 302);
    const std::string callback = back.header("location");
    REQUIRE(callback.rfind("http://127.0.0.1/api/applicant/oidc/callback?", 0) == 0);
    last_callback = callback.substr(std::string("http://127.0.0.1").size());
    auto reply = c.get(last_callback);
    c.keep_cookies(reply);
    return reply;
  }
  std::string last_callback;

  void control_platform(const json::object& change) {
    Client platform(simulator->port());
    REQUIRE(platform.post("/oidc/control", change).status == 200);
  }
};

json::object newborn_form(const std::string& mother_id, const std::string& phone) {
  return json::object{{"mother_name", "王小明"}, {"mother_id", mother_id}, {"mother_phone", phone}};
}

}  // namespace

TEST_CASE("applicant: an SMS code logs in once, kept hashed, short-lived, a few tries, any number gets the same answer", "[server][applicant]") {
  ApplicantFixture f;
  Client c = f.browser();
  const auto sent = c.post("/api/applicant/sms-codes", json::object{{"phone", "138 0013 8000"}});
  INFO(sent.body);
  REQUIRE(sent.status == 202);
  const std::string code = f.last_code("13800138000");
  CHECK(f.simulator->texts_to("13800138000").back().text.rfind("【政务服务中心】", 0) == 0);
  // A number nobody used before gets the very same answer: nothing tells who has applied.
  Client stranger = f.browser("127.0.0.2");
  const auto other = stranger.post("/api/applicant/sms-codes", json::object{{"phone", "13900139000"}});
  CHECK(other.status == 202);
  CHECK(other.body == sent.body);
  // Not a mobile number: a clear message, nothing sent.
  const auto bad = c.post("/api/applicant/sms-codes", json::object{{"phone", "12345"}});
  CHECK(bad.status == 400);
  CHECK(bad.message() == "请输入 11 位手机号码");
  // The database keeps neither the code nor the number.
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2((f.dir / "cases.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT phone_hash || code_digest || code_key FROM server_applicant_codes", -1, &stmt, nullptr) == SQLITE_OK);
    int rows = 0;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      ++rows;
      const std::string row(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
      CHECK(row.find(code) == std::string::npos);
      CHECK(row.find("13800138000") == std::string::npos);
    }
    CHECK(rows == 2);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
  }
  // Asked again at once: wait a minute.
  const auto again = c.post("/api/applicant/sms-codes", json::object{{"phone", "13800138000"}});
  CHECK(again.status == 429);
  CHECK_FALSE(again.header("retry-after").empty());
  // Five wrong codes use it up: then even the right one fails.
  const std::string wrong = code == "000000" ? "111111" : "000000";
  for (int i = 0; i < 5; ++i) {
    const auto refused = c.post("/api/applicant/session", json::object{{"phone", "13800138000"}, {"code", wrong}});
    CHECK(refused.status == 401);
    CHECK(refused.code() == "bad_code");
  }
  CHECK(c.post("/api/applicant/session", json::object{{"phone", "13800138000"}, {"code", code}}).status == 401);
  // A new code expires after five minutes.
  f.clock.advance(61'000);
  REQUIRE(c.post("/api/applicant/sms-codes", json::object{{"phone", "13800138000"}}).status == 202);
  const std::string late = f.last_code("13800138000");
  f.clock.advance(5 * 60'000 + 1);
  CHECK(c.post("/api/applicant/session", json::object{{"phone", "13800138000"}, {"code", late}}).status == 401);
  // In time, the code logs in, once.
  REQUIRE(c.post("/api/applicant/sms-codes", json::object{{"phone", "13800138000"}}).status == 202);
  const std::string fresh = f.last_code("13800138000");
  const auto in = c.post("/api/applicant/session", json::object{{"phone", "13800138000"}, {"code", fresh}});
  INFO(in.body);
  REQUIRE(in.status == 200);
  CHECK(in.body.find("13800138000") == std::string::npos);
  CHECK(in.json().at("applicant").at("phone").as_string() == "138******00");
  CHECK(Client::applicant(f.service->port()).post("/api/applicant/session", json::object{{"phone", "13800138000"}, {"code", fresh}}).status == 401);
  c.keep_cookies(in);
  const auto me = c.get("/api/applicant/session");
  INFO(me.body);
  REQUIRE(me.status == 200);
  CHECK(me.json().at("applicant").at("real_name_verified").as_bool() == false);
  // The audit trail has the logins, with the number masked.
  Client admin(f.service->port());
  REQUIRE(admin.login("admin", *f.service->initial_admin_password()).status == 200);
  const auto audit = admin.get("/api/audit?limit=200");
  REQUIRE(audit.status == 200);
  CHECK(audit.body.find("13800138000") == std::string::npos);
  CHECK(audit.body.find("138******00") != std::string::npos);
  CHECK(audit.body.find("applicant") != std::string::npos);
  // Logged out, the session is gone.
  REQUIRE(c.send("DELETE", "/api/applicant/session").status == 200);
  CHECK(c.get("/api/applicant/session").status == 401);
}

TEST_CASE("applicant: many codes from one address or for one number are throttled", "[server][applicant][both-databases]") {
  ApplicantFixture f;
  Client c = f.browser("127.0.0.3");
  // One address asking codes for many numbers: the 21st in an hour waits.
  for (int i = 0; i < 20; ++i) {
    const auto r = c.post("/api/applicant/sms-codes", json::object{{"phone", "1380013" + std::to_string(8100 + i)}});
    REQUIRE(r.status == 202);
  }
  CHECK(c.post("/api/applicant/sms-codes", json::object{{"phone", "13800139999"}}).status == 429);
  // Guessing codes from one address: after 30 wrong ones in an hour, it waits too.
  Client guesser = f.browser("127.0.0.4");
  for (int i = 0; i < 30; ++i) {
    CHECK(guesser.post("/api/applicant/session", json::object{{"phone", "13700137000"}, {"code", "123456"}}).status == 401);
  }
  CHECK(guesser.post("/api/applicant/session", json::object{{"phone", "13700137000"}, {"code", "123456"}}).status == 429);
}

TEST_CASE("applicant: staff routes refuse an applicant's session and applicant routes a staff session", "[server][applicant]") {
  ApplicantFixture f;
  Client applicant = f.by_sms("13800138000");
  CHECK(applicant.get("/api/cases").status == 401);
  CHECK(applicant.get("/api/worklist").status == 401);
  CHECK(applicant.get("/api/session").status == 401);
  Client clerk = f.staff("clerk");
  CHECK(clerk.get("/api/applicant/cases").status == 401);
  CHECK(clerk.get("/api/applicant/session").status == 401);
  // Without the applicant's CSRF token nothing changes.
  Client forged = f.browser();
  forged.session() = applicant.session();
  forged.csrf() = "not-the-token";
  const auto refused = forged.post("/api/applicant/cases", json::object{{"bundle", "newborn"}, {"form", newborn_form(kMother, "13800138000")}});
  CHECK(refused.status == 403);
  CHECK(refused.code() == "csrf");
}

TEST_CASE("applicant: the identity platform's login verifies the ID token, a replayed or forged answer logs nobody in", "[server][applicant][oidc][both-databases]") {
  ApplicantFixture f;
  Client c = f.browser();
  const auto done = f.platform_login(c, "/m/cases/20260302-0001");
  INFO(done.body);
  REQUIRE(done.status == 303);
  CHECK(done.header("location") == "/m/cases/20260302-0001");
  const auto me = c.get("/api/applicant/session");
  REQUIRE(me.status == 200);
  CHECK(me.json().at("applicant").at("real_name_verified").as_bool());
  CHECK(me.json().at("applicant").at("name").as_string() == "王小明");
  CHECK(me.body.find(kMother) == std::string::npos);
  // The same answer again (a replay): the state was used; nobody is logged in by it.
  Client replay = f.browser();
  const auto replayed = replay.get(f.last_callback);
  CHECK(replayed.status == 303);
  CHECK(replayed.header("location") == "/m/login?error=oidc_expired");
  CHECK(replayed.headers.count("set-cookie") == 0);
  // A return address on another site is refused.
  CHECK(c.get("/api/applicant/oidc/start?return_to=//evil.example.com/").status == 400);
  // Tokens wrong in each way: signature, nonce, issuer, audience, alg none, expired.
  for (const std::string fault : {"signature", "nonce", "issuer", "audience", "alg_none"}) {
    INFO(fault);
    f.control_platform(json::object{{"fault", fault}});
    Client victim = f.browser();
    const auto answer = f.platform_login(victim);
    CHECK(answer.status == 303);
    CHECK(answer.header("location") == "/m/login?error=oidc_invalid");
    CHECK(victim.get("/api/applicant/session").status == 401);
  }
  f.control_platform(json::object{{"fault", ""}, {"token_lifetime_seconds", -3600}});
  Client late = f.browser();
  CHECK(f.platform_login(late).header("location") == "/m/login?error=oidc_invalid");
  // Every platform login is in the audit trail, the person's numbers masked.
  Client admin(f.service->port());
  REQUIRE(admin.login("admin", *f.service->initial_admin_password()).status == 200);
  const auto audit = admin.get("/api/audit?limit=200");
  REQUIRE(audit.status == 200);
  CHECK(audit.body.find("oidc_invalid") != std::string::npos);
  CHECK(audit.body.find("oidc_expired") != std::string::npos);
  CHECK(audit.body.find("330*************14") != std::string::npos);
  CHECK(audit.body.find(kMother) == std::string::npos);
}

TEST_CASE("applicant: RS256 ID tokens are verified with the platform's JWKS, fetched again for a new key id, and forged, unknown-key, none and HS256 tokens log nobody in", "[server][applicant][oidc][rs256]") {
  ApplicantFixture f;
  const auto fetches = [&]() {
    Client platform(f.simulator->port());
    return platform.get("/stats").json().at("jwks_fetches").as_int64();
  };
  Client first = f.browser();
  CHECK(f.platform_login(first).header("location") == "/m/cases");
  CHECK(first.get("/api/applicant/session").status == 200);
  CHECK(fetches() == 1);
  Client second = f.browser();
  CHECK(f.platform_login(second).header("location") == "/m/cases");
  CHECK(fetches() == 1);  // the keys are kept
  // The platform rotates its key: the new key id is not known, so the JWKS is fetched again.
  f.control_platform(json::object{{"rotate_key", true}});
  Client rotated = f.browser();
  CHECK(f.platform_login(rotated).header("location") == "/m/cases");
  CHECK(fetches() == 2);
  // A forged signature, a key the platform does not publish, alg none, and HS256 with the
  // public key as the secret (the algorithm confusion): refused, nobody logged in.
  for (const std::string fault : {"signature", "kid_unknown", "alg_none", "hs256_public_key"}) {
    INFO(fault);
    f.control_platform(json::object{{"fault", fault}});
    Client victim = f.browser();
    CHECK(f.platform_login(victim).header("location") == "/m/login?error=oidc_invalid");
    CHECK(victim.get("/api/applicant/session").status == 401);
  }
  // A token signed HS256 with the client secret, where the platform is configured for RS256.
  f.control_platform(json::object{{"fault", ""}, {"signing", "HS256"}});
  Client hs256 = f.browser();
  CHECK(f.platform_login(hs256).header("location") == "/m/login?error=oidc_invalid");
  CHECK(hs256.get("/api/applicant/session").status == 401);
}

TEST_CASE("applicant: made-up key ids fetch the JWKS at most once per jwks_refetch_seconds, and without jwks_url HS256 tokens verify", "[server][applicant][oidc][rs256]") {
  auto simulator = deptsim::Simulator::start({});
  REQUIRE(simulator);
  const deptsim::IdentityPlatform platform;
  const std::int64_t now = std::time(nullptr);
  const json::object claims{{"iss", platform.issuer}, {"aud", platform.client_id}, {"sub", "zj-1"}, {"iat", now}, {"exp", now + 300},
                            {"nonce", "n-1"}, {"name", "王小明"}, {"id_number", kMother}};
  const auto token = [&](const json::object& header, const auto& sign) {
    const std::string input = adapters::base64url_encode(json::serialize(header)) + "." + adapters::base64url_encode(json::serialize(claims));
    return input + "." + sign(input);
  };
  adapters::OidcSettings settings{platform.issuer, (*simulator)->url() + "/oidc/authorize", (*simulator)->url() + "/oidc/token",
                                  platform.client_id, platform.client_secret, "http://127.0.0.1/cb"};
  settings.jwks_url = (*simulator)->url() + "/oidc/jwks";
  settings.jwks_refetch_after = std::chrono::seconds(60);
  auto rs256 = adapters::OidcProvider::create(settings);
  REQUIRE(rs256);
  const auto stranger = adapters::RsaSigningKey::generate("made-up-1");
  REQUIRE(stranger);
  const auto fetches = [&]() {
    Client c((*simulator)->port());
    return c.get("/stats").json().at("jwks_fetches").as_int64();
  };
  for (const char* kid : {"made-up-1", "made-up-2", "made-up-3"}) {
    const auto refused = (*rs256)->verify(token(json::object{{"alg", "RS256"}, {"kid", kid}}, [&](const std::string& in) { return stranger->sign(in); }),
                                          "n-1", now);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == adapters::OidcError::Kind::bad_token);
  }
  CHECK(fetches() == 1);
  // Without jwks_url the platform's HS256 tokens (the client secret) verify, RS256 ones not.
  const auto accepted_by_hs256 = [&](const std::string& id_token) {
    adapters::OidcSettings hs = settings;
    hs.jwks_url.clear();
    auto provider = adapters::OidcProvider::create(hs);
    REQUIRE(provider);
    return (*provider)->verify(id_token, "n-1", now).has_value();
  };
  CHECK(accepted_by_hs256(token(json::object{{"alg", "HS256"}}, [&](const std::string& in) { return adapters::hs256_signature(in, platform.client_secret); })));
  CHECK_FALSE(accepted_by_hs256(token(json::object{{"alg", "RS256"}, {"kid", "made-up-1"}}, [&](const std::string& in) { return stranger->sign(in); })));
  (*simulator)->stop();
}

TEST_CASE("applicant: a company applicant acts for a company only as its legal representative or authorised agent", "[server][applicant][company]") {
  ApplicantFixture f;
  Client phone_only = f.by_sms("13800138000");
  CHECK(phone_only.post("/api/applicant/company", json::object{{"uscc", kRestaurant}}).code() == "real_name_required");
  Client agent = f.browser();
  REQUIRE(f.platform_login(agent).status == 303);
  const auto chosen = agent.post("/api/applicant/company", json::object{{"uscc", kRestaurant}});
  INFO(chosen.body);
  REQUIRE(chosen.status == 200);
  CHECK(chosen.json().at("applicant").at("company").at("role").as_string() == "agent");
  CHECK(chosen.json().at("applicant").at("company").at("name").as_string() == "杭州小馆餐饮管理有限公司");
  const auto not_theirs = agent.post("/api/applicant/company", json::object{{"uscc", kOtherCompany}});
  CHECK(not_theirs.status == 403);
  CHECK(not_theirs.code() == "not_representative");
  CHECK(agent.post("/api/applicant/company", json::object{{"uscc", "91350100M000100Y4X"}}).code() == "invalid_uscc");
  // Acting for the restaurant, they apply for it and see its case.
  const auto applied = agent.post("/api/applicant/cases", json::object{{"bundle", "restaurant"},
                                                                        {"form", json::object{{"company_name", "杭州小馆餐饮管理有限公司"},
                                                                                              {"uscc", kRestaurant},
                                                                                              {"contact_phone", "13600136000"}}}});
  INFO(applied.body);
  REQUIRE(applied.status == 201);
  const std::string id(applied.json().at("case_id").as_string());
  CHECK(agent.get("/api/applicant/cases/" + id).status == 200);
  // The other company's representative does not.
  f.control_platform(json::object{{"person", json::object{{"subject", "zj-2"}, {"name", "李四"}, {"id_number", "110101199003074477"}}}});
  Client other = f.browser();
  REQUIRE(f.platform_login(other).status == 303);
  REQUIRE(other.post("/api/applicant/company", json::object{{"uscc", kOtherCompany}}).status == 200);
  CHECK(other.get("/api/applicant/cases/" + id).status == 404);
}

TEST_CASE("applicant: an applicant applies, follows and acts on their own cases only, another's answers 404", "[server][applicant][cases][both-databases]") {
  ApplicantFixture f;
  Client mother = f.by_sms("13800138000");
  // A form that names someone else entirely is not theirs to file.
  const auto foreign = mother.post("/api/applicant/cases", json::object{{"bundle", "newborn"}, {"form", newborn_form(kOther, "13900139000")}});
  CHECK(foreign.status == 422);
  CHECK(foreign.code() == "not_own_application");
  // Submitted twice with one key (a draft sent again): one case.
  const json::object body{{"bundle", "newborn"}, {"form", newborn_form(kMother, "13800138000")}, {"channel", "mobile"}};
  const auto first = mother.send("POST", "/api/applicant/cases", json::serialize(body), {{"Idempotency-Key", "draft-1"}});
  INFO(first.body);
  REQUIRE(first.status == 201);
  const auto second = mother.send("POST", "/api/applicant/cases", json::serialize(body), {{"Idempotency-Key", "draft-1"}});
  REQUIRE(second.status == 200);
  const std::string id(first.json().at("case_id").as_string());
  CHECK(second.json().at("case_id").as_string() == id);
  auto view = f.service->engine().get_case(id);
  REQUIRE(view);
  CHECK(view->state.channel == "mobile");
  // A case a clerk took at the window with her number is hers too.
  Client clerk = f.staff("clerk");
  const auto window = clerk.post("/api/cases", json::object{{"bundle", "newborn"}, {"form", newborn_form(kOther, "13800138000")}});
  REQUIRE(window.status == 201);
  const std::string window_id(window.json().at("case_id").as_string());
  const auto list = mother.get("/api/applicant/cases");
  REQUIRE(list.status == 200);
  const auto listed = list.json();
  const auto& cases = listed.at("cases").as_array();
  REQUIRE(cases.size() == 2);
  for (const auto& c : cases) {
    CHECK(c.at("bundle_title").as_string() == "新生儿出生一件事");
    REQUIRE(c.at("items").as_array().size() == 1);
    CHECK_FALSE(c.at("items").as_array()[0].at("progress").as_string().empty());
  }
  CHECK(list.body.find(kMother) == std::string::npos);
  // Someone else: another number, another person. Every route answers 404 on her cases.
  Client stranger = f.by_sms("13900139000", "127.0.0.5");
  CHECK(stranger.get("/api/applicant/cases").json().at("cases").as_array().empty());
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/applicant/cases/" + id},
           {"GET", "/api/applicant/cases/" + id + "/materials/birth_proof"},
           {"POST", "/api/applicant/cases/" + id + "/withdraw"},
           {"POST", "/api/applicant/cases/" + id + "/rate"},
           {"POST", "/api/applicant/cases/" + id + "/items/birth/events/corrected"},
           {"GET", "/api/applicant/cases/20991231-0001"}}) {
    INFO(method << " " << path);
    const auto r = stranger.send(method, path, method == "POST" ? R"({"reason":"x","level":5})" : "");
    CHECK(r.status == 404);
    CHECK(r.code() == "not_found");
  }
  CHECK(stranger.send("PUT", "/api/applicant/cases/" + id + "/materials/birth_proof", kPdf, {{"Content-Type", "application/pdf"}}).status == 404);
  // A contact's number further down the form opens nothing: only the applicant's, the first.
  auto with_contact = newborn_form(kMother, "13800138000");
  with_contact["helper_phone"] = "13700137000";
  const auto contacted = mother.post("/api/applicant/cases", json::object{{"bundle", "newborn"}, {"form", with_contact}});
  REQUIRE(contacted.status == 201);
  const std::string contacted_id(contacted.json().at("case_id").as_string());
  Client contact = f.by_sms("13700137000", "127.0.0.6");
  CHECK(contact.get("/api/applicant/cases").json().at("cases").as_array().empty());
  CHECK(contact.get("/api/applicant/cases/" + contacted_id).status == 404);
  CHECK(mother.get("/api/applicant/cases/" + contacted_id).status == 200);
  const auto before = f.service->engine().get_case(id)->state.version;
  CHECK(f.service->engine().get_case(id)->state.version == before);
}

TEST_CASE("applicant: a correction round, the result, a bad rating, and withdrawing another case with a reason", "[server][applicant][cases]") {
  ApplicantFixture f;
  Client mother = f.by_sms("13800138000");
  const auto applied = mother.post("/api/applicant/cases", json::object{{"bundle", "newborn"}, {"form", newborn_form(kMother, "13800138000")}});
  REQUIRE(applied.status == 201);
  const std::string id(applied.json().at("case_id").as_string());
  const auto upload = [&](const std::string& content) {
    return mother.send("PUT", "/api/applicant/cases/" + id + "/materials/birth_proof", content,
                       {{"Content-Type", "application/pdf"}, {"X-File-Name", "proof.pdf"}});
  };
  // A program dressed as a PDF, and an empty file: refused in Chinese, nothing attached.
  // Just applied: nothing is asked of them yet, though the lifecycle lets them withdraw an item
  // (an event of theirs that is no correction).
  CHECK(mother.get("/api/applicant/cases/" + id).json().at("needs_from_me").as_array().empty());
  const auto version = f.service->engine().get_case(id)->state.version;
  const auto exe = upload(std::string("MZ\x90\x00\x03\x00\x00\x00", 8) + std::string(200, 'x'));
  CHECK(exe.status == 422);
  CHECK(exe.message().find("PDF") != std::string::npos);
  CHECK(upload("").status == 400);
  CHECK(f.service->engine().get_case(id)->state.version == version);
  REQUIRE(upload(kPdf).status == 200);
  // What they handed in (and, later, what departments issue) downloads from their case.
  const auto downloaded = mother.get("/api/applicant/cases/" + id + "/materials/birth_proof");
  REQUIRE(downloaded.status == 200);
  CHECK(downloaded.body == kPdf);
  // Handed in already: not theirs to replace now.
  CHECK(upload(kPdf).status == 409);
  // The clerk refuses it and asks for a correction.
  Client clerk = f.staff("clerk");
  REQUIRE(clerk.post("/api/cases/" + id + "/materials/birth_proof/verify", json::object{{"accept", false}, {"reason", "盖章不清晰"}}).status == 200);
  const auto asked = clerk.post("/api/cases/" + id + "/items/birth/events/request_correction", json::object{{"fields", json::object{{"reason", "出生医学证明盖章不清晰"}}}});
  INFO(asked.body);
  REQUIRE(asked.status == 200);
  auto page = mother.get("/api/applicant/cases/" + id).json();
  const auto needs = page.at("needs_from_me").as_array();
  REQUIRE(needs.size() == 1);
  CHECK(needs[0].at("kind").as_string() == "correction");
  REQUIRE(needs[0].at("materials").as_array().size() == 1);
  CHECK(needs[0].at("events").as_array().size() == 1);
  CHECK(needs[0].at("events").as_array()[0].at("event").as_string() == "corrected");
  CHECK(needs[0].at("materials").as_array()[0].at("material").as_string() == "birth_proof");
  CHECK(needs[0].at("materials").as_array()[0].at("reason").as_string() == "盖章不清晰");
  // The refused material again, then the correction is submitted (the lifecycle's `corrected`).
  REQUIRE(upload(kPdf + "% again\n").status == 200);
  const auto corrected = mother.post("/api/applicant/cases/" + id + "/items/birth/events/corrected", json::object{});
  INFO(corrected.body);
  REQUIRE(corrected.status == 200);
  CHECK(mother.get("/api/applicant/cases/" + id).json().at("needs_from_me").as_array().empty());
  // An event the lifecycle gives staff is refused to the applicant.
  CHECK(mother.post("/api/applicant/cases/" + id + "/items/birth/events/approve", json::object{}).status == 403);
  // The reviewer approves: the case completes, the clerk delivers, the applicant rates badly.
  Client health = f.staff("health");
  REQUIRE(clerk.post("/api/cases/" + id + "/materials/birth_proof/verify", json::object{{"accept", true}}).status == 200);
  const auto approved = health.post("/api/cases/" + id + "/items/birth/events/approve", json::object{});
  INFO(approved.body);
  REQUIRE(approved.status == 200);
  REQUIRE(clerk.post("/api/cases/" + id + "/deliver", json::object{{"channel", "window"}}).status == 200);
  page = mother.get("/api/applicant/cases/" + id).json();
  CHECK(page.at("needs_from_me").as_array()[0].at("kind").as_string() == "rating");
  CHECK(mother.post("/api/applicant/cases/" + id + "/rate", json::object{{"level", 1}}).code() == "missing_field");
  const auto rated = mother.post("/api/applicant/cases/" + id + "/rate", json::object{{"level", 1}, {"comment", "等待时间太长"}});
  INFO(rated.body);
  REQUIRE(rated.status == 200);
  // Text messages at acceptance of the correction round and the result went to her phone.
  bool result_text = false;
  for (const auto& t : f.simulator->texts_to("13800138000")) result_text = result_text || t.text.find("已办结") != std::string::npos;
  // Delivery of notices runs on the dispatcher's thread.
  for (int i = 0; i < 100 && !result_text; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (const auto& t : f.simulator->texts_to("13800138000")) result_text = result_text || t.text.find("已办结") != std::string::npos;
  }
  CHECK(result_text);
  // Withdrawing: a reason is required; then the case is withdrawn and offers nothing more.
  const auto other = mother.post("/api/applicant/cases", json::object{{"bundle", "newborn"}, {"form", newborn_form(kMother, "13800138000")}});
  REQUIRE(other.status == 201);
  const std::string other_id(other.json().at("case_id").as_string());
  CHECK(mother.post("/api/applicant/cases/" + other_id + "/withdraw", json::object{{"reason", " "}}).code() == "reason_required");
  REQUIRE(mother.post("/api/applicant/cases/" + other_id + "/withdraw", json::object{{"reason", "材料准备不全，重新申请"}}).status == 200);
  const auto withdrawn = mother.get("/api/applicant/cases/" + other_id).json();
  CHECK(withdrawn.at("status").as_string() == "withdrawn");
  CHECK_FALSE(withdrawn.at("can_withdraw").as_bool());
}

TEST_CASE("applicant: bundles for individuals and companies with search, the situation questions one at a time with the material list", "[server][applicant][guide]") {
  ApplicantFixture f;
  Client c = f.by_sms("13800138000");
  auto titles = [&](const std::string& query) {
    const auto r = c.get("/api/applicant/bundles" + query);
    INFO(r.body);
    REQUIRE(r.status == 200);
    std::vector<std::string> found;
    const auto answer = r.json();
    for (const auto& b : answer.at("bundles").as_array()) found.emplace_back(b.at("title").as_string());
    return found;
  };
  CHECK(titles("?for=individual") == std::vector<std::string>{"新生儿出生一件事"});
  CHECK(titles("?for=company") == std::vector<std::string>{"开办餐饮店一件事"});
  CHECK(titles("?q=%E5%87%BA%E7%94%9F") == std::vector<std::string>{"新生儿出生一件事"});      // 出生
  CHECK(titles("?q=%E9%A3%9F%E5%93%81") == std::vector<std::string>{"开办餐饮店一件事"});      // 食品: an item's title
  CHECK(c.get("/api/applicant/bundles?for=everyone").status == 400);
  auto guide = [&](const json::object& answers) {
    const auto r = c.post("/api/applicant/bundles/restaurant/guide", json::object{{"answers", answers}});
    INFO(r.body);
    REQUIRE(r.status == 200);
    return r.json();
  };
  auto materials = [](const json::value& g) {
    std::vector<std::string> ids;
    for (const auto& m : g.at("materials").as_array()) ids.emplace_back(m.at("material").as_string());
    return ids;
  };
  auto first = guide({});
  CHECK(first.at("question").at("name").as_string() == "sells_alcohol");
  CHECK(materials(first) == std::vector<std::string>{"articles"});
  auto second = guide({{"sells_alcohol", "true"}});
  CHECK(second.at("question").at("name").as_string() == "large_area");
  CHECK(materials(second) == std::vector<std::string>{"articles", "liquor_pledge"});
  CHECK(guide({{"sells_alcohol", "true"}, {"large_area", "false"}}).at("done").as_bool());
  // A question that does not apply is never asked.
  const auto no_alcohol = guide({{"sells_alcohol", "false"}});
  CHECK(no_alcohol.at("done").as_bool());
  CHECK(no_alcohol.at("questions").as_int64() == 1);
  const auto unknown = c.post("/api/applicant/bundles/restaurant/guide", json::object{{"answers", json::object{{"company_name", "x"}}}});
  CHECK(unknown.status == 422);
  CHECK(c.post("/api/applicant/bundles/nothing/guide", json::object{}).status == 404);
}

namespace {
// Every byte of the SQLite database (with its write-ahead log), to look for clear values.
std::string database_bytes(const fs::path& dir) {
  std::string all;
  for (const char* name : {"cases.db", "cases.db-wal"}) {
    std::ifstream in(dir / name, std::ios::binary);
    all += std::string(std::istreambuf_iterator<char>(in), {});
  }
  return all;
}
}  // namespace

TEST_CASE("applicant: with [storage] keys a draft's form values and a session's identity are sealed at rest, sessions kept by their hash", "[server][applicant][drafts][sealing]") {
  ApplicantFixture f("", "[storage]\nkey = \"k1\"\n[storage.keys]\nk1 = \"" + engine::AtRestKeys::generate_base64() + "\"\n");
  Client phone = f.by_sms("13800138000");
  REQUIRE(f.platform_login(phone).status == 303);  // the session now proves 王小明's ID number
  json::object form = newborn_form(kMother, "13800138000");
  form["helper_phone"] = "13900139000";
  const auto saved = phone.send("PUT", "/api/applicant/drafts/d-1", json::serialize(json::object{{"bundle", "newborn"}, {"form", form}}));
  INFO(saved.body);
  REQUIRE(saved.status == 200);
  // The draft and the session still work: read back (masked), submitted with the whole numbers.
  const auto resumed = phone.get("/api/applicant/drafts/d-1");
  REQUIRE(resumed.status == 200);
  CHECK(resumed.json().at("content").at("form").at("mother_name").as_string() == "王小明");
  CHECK(phone.get("/api/applicant/session").json().at("applicant").at("real_name_verified").as_bool());
  // The file holds no number of the draft or the session, no name, and no session token.
  const std::string bytes = database_bytes(f.dir);
  CHECK(bytes.find(kMother) == std::string::npos);
  CHECK(bytes.find("13900139000") == std::string::npos);
  CHECK(bytes.find("13800138000") == std::string::npos);
  CHECK(bytes.find("王小明") == std::string::npos);
  CHECK(bytes.find(phone.session()) == std::string::npos);
  CHECK(bytes.find("sealed:") != std::string::npos);
  const auto submitted = phone.post("/api/applicant/cases", json::object{{"draft", "d-1"}, {"channel", "online"}});
  INFO(submitted.body);
  REQUIRE(submitted.status == 201);
  const auto started = f.service->engine().get_case(std::string(submitted.json().at("case_id").as_string()));
  REQUIRE(started);
  const auto mother_id = started->workflow->find_field("mother_id");
  REQUIRE(mother_id);
  CHECK(started->state.slots[started->workflow->fields[*mother_id].slot].text == kMother);
}

TEST_CASE("applicant: a draft saved on one device is resumed on another, submitted twice it makes one case, an outdated draft is refused", "[server][applicant][drafts][both-databases]") {
  ApplicantFixture f;
  Client phone = f.by_sms("13800138000");
  json::object draft{{"bundle", "newborn"}, {"form", newborn_form(kMother, "13800138000")}};
  const auto saved = phone.send("PUT", "/api/applicant/drafts/d-1", json::serialize(draft));
  INFO(saved.body);
  REQUIRE(saved.status == 200);
  CHECK(phone.send("PUT", "/api/applicant/drafts/d-2", R"({"bundle":"newborn","form":{"no_such_field":"x"}})").status == 422);
  // Another device, the same person: the draft is there, with its answers.
  f.clock.advance(61'000);
  Client computer = f.by_sms("13800138000", "127.0.0.6");
  const auto listed = computer.get("/api/applicant/drafts").json();  // a value, not a reference
  REQUIRE(listed.at("drafts").as_array().size() == 1);
  CHECK(listed.at("drafts").as_array()[0].at("bundle_title").as_string() == "新生儿出生一件事");
  const auto resumed = computer.get("/api/applicant/drafts/d-1");
  REQUIRE(resumed.status == 200);
  CHECK(resumed.json().at("content").at("form").at("mother_name").as_string() == "王小明");
  // Its numbers come back masked (no answer holds a whole ID or phone number); saved back as
  // they came, they keep the numbers stored.
  CHECK(resumed.body.find(kMother) == std::string::npos);
  const auto masked_form = resumed.json().at("content").at("form");
  REQUIRE(computer.send("PUT", "/api/applicant/drafts/d-1", json::serialize(json::object{{"bundle", "newborn"}, {"form", masked_form}})).status == 200);
  // Submitted from both devices: one case.
  const auto first = computer.post("/api/applicant/cases", json::object{{"draft", "d-1"}, {"channel", "online"}});
  INFO(first.body);
  REQUIRE(first.status == 201);
  const auto second = phone.post("/api/applicant/cases", json::object{{"draft", "d-1"}, {"channel", "mobile"}});
  REQUIRE(second.status == 200);
  CHECK(second.json().at("case_id") == first.json().at("case_id"));
  CHECK(phone.get("/api/applicant/cases").json().at("cases").as_array().size() == 1);
  // The submitted application is no draft to edit.
  CHECK(phone.send("PUT", "/api/applicant/drafts/d-1", json::serialize(draft)).status == 409);
  // Another person does not see it.
  Client stranger = f.by_sms("13900139000", "127.0.0.7");
  CHECK(stranger.get("/api/applicant/drafts/d-1").status == 404);
  CHECK(stranger.get("/api/applicant/drafts").json().at("drafts").as_array().empty());
  // A draft of a version no longer the newest is refused, and kept.
  REQUIRE(phone.send("PUT", "/api/applicant/drafts/d-3", json::serialize(draft)).status == 200);
  std::string v2 = kFlow;
  v2.replace(v2.find("bundle newborn \"新生儿出生一件事\" version 1"), std::string("bundle newborn \"新生儿出生一件事\" version 1").size(),
             "bundle newborn \"新生儿出生一件事\" version 2");
  v2.erase(v2.find("bundle restaurant"));  // newborn alone, in a new version
  const auto deployed = f.service->engine().deploy_sources({{"v2.flow", v2}}, {"v2.flow"});
  INFO((deployed ? std::string() : deployed.error().message));
  REQUIRE(deployed);
  const auto outdated = phone.post("/api/applicant/cases", json::object{{"draft", "d-3"}});
  CHECK(outdated.status == 409);
  CHECK(outdated.code() == "draft_outdated");
  CHECK(phone.get("/api/applicant/drafts/d-3").json().at("outdated").as_bool());
  REQUIRE(phone.send("DELETE", "/api/applicant/drafts/d-3").status == 200);
  CHECK(phone.get("/api/applicant/drafts/d-3").status == 404);
}

TEST_CASE("applicant: the form is pre-filled from the verified identity and the company's registration, each field saying where from", "[server][applicant][prefill]") {
  ApplicantFixture f;
  // Logged in by SMS only: the mobile number is what is proved.
  Client phone = f.by_sms("13800138000");
  const auto by_phone = phone.post("/api/applicant/drafts/p-1/prefill", json::object{{"bundle", "newborn"}});
  INFO(by_phone.body);
  REQUIRE(by_phone.status == 200);
  CHECK(by_phone.json().at("content").at("form").at("mother_phone").as_string() == "138******00");
  CHECK(by_phone.json().at("prefilled").at("mother_phone").at("source").as_string() == "login_phone");
  CHECK_FALSE(by_phone.json().at("content").at("form").as_object().contains("mother_id"));
  CHECK(by_phone.body.find("13800138000") == std::string::npos);

  // Logged in by real name: the first person of the form is the applicant, numbers masked in
  // the answer and whole in the draft (the case started from it is theirs by that ID number).
  Client person = f.browser("127.0.0.3");
  REQUIRE(f.platform_login(person).status == 303);
  REQUIRE(person.send("PUT", "/api/applicant/drafts/p-2", R"({"bundle":"newborn","form":{"mother_name":"李红"}})").status == 200);
  const auto filled = person.post("/api/applicant/drafts/p-2/prefill", json::object{{"bundle", "newborn"}});
  INFO(filled.body);
  REQUIRE(filled.status == 200);
  const auto form = filled.json().at("content").at("form");
  CHECK(form.at("mother_name").as_string() == "李红");  // what the applicant wrote stays
  CHECK(form.at("mother_id").as_string() != kMother);
  CHECK(filled.body.find(kMother) == std::string::npos);
  const auto prefilled = filled.json().at("prefilled");
  CHECK(prefilled.at("mother_id").at("source").as_string() == "identity");
  CHECK(prefilled.at("mother_id").at("editable").as_bool());
  CHECK(prefilled.at("mother_name").at("source_title").as_string() == "来自统一身份认证平台（实名核验）");
  CHECK_FALSE(prefilled.as_object().contains("helper_phone"));
  // The page saves the masked values back (and a phone of its own): the numbers stay whole.
  json::object edited = form.as_object();
  edited["mother_phone"] = "13700137000";
  REQUIRE(person.send("PUT", "/api/applicant/drafts/p-2", json::serialize(json::object{{"bundle", "newborn"}, {"form", edited}})).status == 200);
  const auto started = person.post("/api/applicant/cases", json::object{{"draft", "p-2"}, {"channel", "online"}});
  INFO(started.body);
  REQUIRE(started.status == 201);
  CHECK(person.get("/api/applicant/cases/" + std::string(started.json().at("case_id").as_string())).status == 200);
  // A submitted draft is not filled again; a bundle that does not exist is named.
  CHECK(person.post("/api/applicant/drafts/p-2/prefill", json::object{{"bundle", "newborn"}}).status == 409);
  CHECK(person.post("/api/applicant/drafts/p-9/prefill", json::object{{"bundle", "no_such"}}).status == 404);

  // Acting for the restaurant: its registration fills the company's fields, not to be changed.
  REQUIRE(person.post("/api/applicant/company", json::object{{"uscc", kRestaurant}}).status == 200);
  const auto company = person.post("/api/applicant/drafts/p-3/prefill", json::object{{"bundle", "restaurant"}});
  INFO(company.body);
  REQUIRE(company.status == 200);
  const auto cform = company.json().at("content").at("form");
  CHECK(cform.at("company_name").as_string() == "杭州小馆餐饮管理有限公司");
  CHECK(cform.at("legal_rep_name").as_string() == "张三");
  CHECK(company.body.find("11010519491231002X") == std::string::npos);
  CHECK(company.body.find(kRestaurant) == std::string::npos);
  const auto cprefilled = company.json().at("prefilled");
  CHECK(cprefilled.at("company_name").at("source").as_string() == "registration");
  CHECK_FALSE(cprefilled.at("company_name").at("editable").as_bool());
  CHECK_FALSE(cprefilled.at("legal_rep_id").at("editable").as_bool());
  CHECK_FALSE(cprefilled.as_object().contains("mother_id"));  // the agent's own ID is not the company's
  // A changed registered fact is refused with the field named, and no case starts.
  const auto before = person.get("/api/applicant/cases").json().at("cases").as_array().size();
  const auto changed = person.post("/api/applicant/cases", json::object{{"bundle", "restaurant"},
                                                                         {"form", json::object{{"company_name", "别家餐馆"},
                                                                                               {"uscc", kRestaurant},
                                                                                               {"contact_phone", "13600136000"}}}});
  INFO(changed.body);
  CHECK(changed.status == 422);
  CHECK(changed.code() == "invalid_field");
  CHECK(changed.body.find("“企业名称”须与企业登记信息一致") != std::string::npos);
  CHECK(person.get("/api/applicant/cases").json().at("cases").as_array().size() == before);
  // As registered (the draft, masked values saved back as they came), it starts.
  json::object as_registered = cform.as_object();
  as_registered["contact_phone"] = "13600136000";
  REQUIRE(person.send("PUT", "/api/applicant/drafts/p-3", json::serialize(json::object{{"bundle", "restaurant"}, {"form", as_registered}})).status == 200);
  const auto restaurant = person.post("/api/applicant/cases", json::object{{"draft", "p-3"}});
  INFO(restaurant.body);
  CHECK(restaurant.status == 201);
}

TEST_CASE("applicant: after the result the applicant chooses pick-up or post, the choice is in the history and the post office's order goes out once, retried", "[server][applicant][delivery]") {
  ApplicantFixture f;
  Client mother = f.by_sms("13800138000");
  const auto apply = [&]() {
    const auto applied = mother.post("/api/applicant/cases", json::object{{"bundle", "newborn"}, {"form", newborn_form(kMother, "13800138000")}});
    REQUIRE(applied.status == 201);
    return std::string(applied.json().at("case_id").as_string());
  };
  const std::string id = apply();
  const auto choose = [&](const std::string& case_id, const json::object& choice) {
    return mother.post("/api/applicant/cases/" + case_id + "/delivery", choice);
  };
  const json::object by_post{{"method", "mail"}, {"recipient", "王小明"}, {"mobile", "139 0013 9000"}, {"address", "浙江省杭州市西湖区文三路1号3幢201室"}};
  // Before the result there is nothing to deliver.
  const auto early = choose(id, by_post);
  CHECK(early.status == 409);
  CHECK(early.message().find("办结后") != std::string::npos);
  // The result: proof uploaded and verified, accepted, approved.
  REQUIRE(mother.send("PUT", "/api/applicant/cases/" + id + "/materials/birth_proof", kPdf,
                      {{"Content-Type", "application/pdf"}, {"X-File-Name", "proof.pdf"}}).status == 200);
  Client clerk = f.staff("clerk");
  Client health = f.staff("health");
  REQUIRE(clerk.post("/api/cases/" + id + "/materials/birth_proof/verify", json::object{{"accept", true}}).status == 200);
  REQUIRE(clerk.post("/api/cases/" + id + "/items/birth/events/accept", json::object{}).status == 200);
  REQUIRE(health.post("/api/cases/" + id + "/items/birth/events/approve", json::object{}).status == 200);
  auto page = mother.get("/api/applicant/cases/" + id).json();
  REQUIRE(page.at("status").as_string() == "completed");
  CHECK(page.at("needs_from_me").as_array()[0].at("kind").as_string() == "delivery");
  CHECK(page.at("delivery_choice").is_null());
  CHECK(clerk.get("/api/cases?status=completed").json().at("cases").as_array().at(0).at("delivery_choice").is_null());
  // Bad choices: each named in Chinese, nothing recorded.
  const auto version = f.service->engine().get_case(id)->state.version;
  const auto unknown = choose(id, json::object{{"method", "drone"}});
  CHECK(unknown.status == 422);
  auto no_recipient = by_post;
  no_recipient["recipient"] = " ";
  CHECK(choose(id, no_recipient).message() == "请填写收件人姓名（不超过 20 个字）。");
  auto bad_mobile = by_post;
  bad_mobile["mobile"] = "1390013900";
  CHECK(choose(id, bad_mobile).message() == "请填写收件人的 11 位手机号码。");
  auto short_address = by_post;
  short_address["address"] = "文三路";
  CHECK(choose(id, short_address).message() == "请填写详细的邮寄地址（省、市、区县、街道和门牌号）。");
  CHECK(f.service->engine().get_case(id)->state.version == version);
  // The post office is down at first: the order is retried until it takes it, once.
  deptsim::Behaviour down;
  down.error_rate = 1;
  f.simulator->set_behaviour("post", down);
  const auto chosen = choose(id, by_post);
  INFO(chosen.body);
  REQUIRE(chosen.status == 200);
  CHECK(chosen.body.find("13900139000") == std::string::npos);
  page = mother.get("/api/applicant/cases/" + id).json();
  CHECK(page.at("delivery_choice").at("method_title").as_string() == "邮寄送达");
  CHECK(page.at("delivery_choice").at("mobile").as_string() == "139******00");
  // Chosen once: a second choice is refused.
  CHECK(choose(id, json::object{{"method", "window"}}).code() == "wrong_state");
  // The clerk sees the choice in the history, the mobile masked, and the order among the calls.
  const auto history = clerk.get("/api/cases/" + id + "/history");
  INFO(history.body);
  CHECK(history.body.find("DeliveryChosen") != std::string::npos);
  CHECK(history.body.find("邮寄送达：王小明，139******00，浙江省杭州市西湖区文三路1号3幢201室") != std::string::npos);
  CHECK(history.body.find("13900139000") == std::string::npos);
  // The clerk's 待送达 list (completed cases) says the choice on the case's row, masked.
  const auto waiting = clerk.get("/api/cases?status=completed");
  INFO(waiting.body);
  REQUIRE(waiting.status == 200);
  const auto listed = waiting.json();  // a value: `row` reads inside it
  const auto& row = listed.at("cases").as_array().at(0).as_object();
  CHECK(row.at("case_id").as_string() == id);
  CHECK(row.at("delivery_choice").at("method_title").as_string() == "邮寄送达");
  CHECK(row.at("delivery_choice").at("recipient").as_string() == "王小明");
  CHECK(row.at("delivery_choice").at("mobile").as_string() == "139******00");
  CHECK(row.at("delivery_choice").at("address").as_string() == "浙江省杭州市西湖区文三路1号3幢201室");
  CHECK(waiting.body.find("13900139000") == std::string::npos);
  for (int i = 0; i < 100 && f.simulator->counts()["post"].calls < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(f.simulator->counts()["post"].calls >= 1);
  CHECK(f.simulator->counts()["post"].effects == 0);
  // The post office is back; the retry comes due on the service's (virtual) clock.
  f.simulator->set_behaviour("post", deptsim::Behaviour{});
  std::string key;
  for (int i = 0; i < 200 && key.empty(); ++i) {
    f.clock.advance(15'000);
    for (const auto& [k, n] : f.simulator->effects()) {
      if (k.rfind(id + "/delivery/", 0) == 0) key = k;
    }
    if (key.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE_FALSE(key.empty());
  CHECK(f.simulator->effects()[key] == 1);
  CHECK(f.simulator->counts()["post"].errors >= 1);  // refused while away, then taken once
  CHECK(f.simulator->counts()["post"].effects == 1);
  const auto order = json::parse(f.simulator->payloads()[key]).as_object();
  CHECK(order.at("recipient").as_string() == "王小明");
  CHECK(order.at("mobile").as_string() == "13900139000");
  CHECK(order.at("address").as_string() == "浙江省杭州市西湖区文三路1号3幢201室");
  const auto calls = clerk.get("/api/cases/" + id + "/calls");
  INFO(calls.body);
  CHECK(calls.body.find("\"system\":\"post\"") != std::string::npos);
  // The clerk hands the parcel over: delivered by post; then the rating.
  REQUIRE(clerk.post("/api/cases/" + id + "/deliver", json::object{{"channel", "mail"}}).status == 200);
  CHECK(mother.get("/api/applicant/cases/" + id).json().at("needs_from_me").as_array()[0].at("kind").as_string() == "rating");
}

TEST_CASE("applicant: a stopped clock says why, as the clerk console does: 等待补正, 等待申请人, 特别程序 with its title, a clerk's pause", "[server][applicant][clock]") {
  ApplicantFixture f(R"(
lifecycle stops {
  state submitted initial; state accepted; state correcting pauses_clock
  state awaiting_fee "待申请人缴费" pauses_clock as waiting
  state surveying "现场踏勘中" pauses_clock as special
  state approved final
  on accept: submitted -> accepted by clerk
  on request_correction: accepted -> correcting by clerk requires reason
  on corrected: correcting -> accepted by applicant
  on ask_fee: accepted -> awaiting_fee by clerk
  on paid: awaiting_fee -> accepted by clerk
  on survey: accepted -> surveying by clerk
  on surveyed: surveying -> accepted by clerk
  on approve: accepted -> approved by reviewer
}
department civil "民政局" adapter health_system
bundle clock_demo "计时示例" version 1 {
  promise 5 workdays; lifecycle stops
  form {
    mother_name "姓名": text required
    mother_id "身份证号码": idcard required
    mother_phone "手机号码": phone required
  }
  item permit "许可" by civil { limit 5 workdays
    special site_inspection "现场踏勘" max 3 workdays pauses_clock }
}
)");
  Client mother = f.by_sms("13800138000");
  const auto applied = mother.post("/api/applicant/cases", json::object{{"bundle", "clock_demo"}, {"form", newborn_form(kMother, "13800138000")}});
  INFO(applied.body);
  REQUIRE(applied.status == 201);
  const std::string id(applied.json().at("case_id").as_string());
  Client clerk = f.staff("clerk");
  const auto progress = [&]() {
    const auto page = mother.get("/api/applicant/cases/" + id);
    REQUIRE(page.status == 200);
    return std::string(page.json().at("items").as_array().at(0).at("progress").as_string());
  };
  const auto fire = [&](const std::string& event, const json::object& body = {}) {
    const auto fired = clerk.post("/api/cases/" + id + "/items/permit/events/" + event, body);
    INFO(fired.body);
    REQUIRE(fired.status == 200);
  };
  fire("accept");
  CHECK(progress().rfind("承诺 ", 0) == 0);
  fire("request_correction", json::object{{"fields", json::object{{"reason", "请补充说明"}}}});
  CHECK(progress() == "暂停计时（等待补正，不计入办理时限）");
  REQUIRE(mother.post("/api/applicant/cases/" + id + "/items/permit/events/corrected", json::object{}).status == 200);
  fire("ask_fee");
  CHECK(progress() == "暂停计时（等待申请人，不计入办理时限）");
  fire("paid");
  fire("survey");
  CHECK(progress() == "暂停计时（特别程序：现场踏勘中，不计入办理时限）");
  fire("surveyed");
  // A declared special procedure running (the console's 特别程序 panel), then a clerk's pause.
  const auto started = clerk.post("/api/cases/" + id + "/items/permit/special-procedures/site_inspection/start", json::object{{"reason", "需现场核实"}});
  INFO(started.body);
  REQUIRE(started.status == 200);
  CHECK(progress() == "暂停计时（特别程序：现场踏勘，不计入办理时限）");
  REQUIRE(clerk.post("/api/cases/" + id + "/items/permit/special-procedures/site_inspection/end", json::object{{"result", "一致"}}).status == 200);
  CHECK(progress().rfind("承诺 ", 0) == 0);
  const auto paused = clerk.post("/api/cases/" + id + "/pause", json::object{{"item", "permit"}, {"reason", "等待上级部门意见"}});
  INFO(paused.body);
  REQUIRE(paused.status == 200);
  CHECK(progress() == "暂停计时（经办部门暂停计时，不计入办理时限）");
}

TEST_CASE("applicant: downloads what was uploaded and what was issued, not the e-license library's copy about whoever the form names, which clerks still see", "[server][applicant][downloads]") {
  ApplicantFixture f;
  Client mother = f.by_sms("13800138000");
  const auto applied = mother.post("/api/applicant/cases", json::object{{"bundle", "newborn"}, {"form", newborn_form(kMother, "13800138000")}});
  INFO(applied.body);
  REQUIRE(applied.status == 201);
  const std::string id(applied.json().at("case_id").as_string());
  REQUIRE(mother.send("PUT", "/api/applicant/cases/" + id + "/materials/birth_proof", kPdf,
                      {{"Content-Type", "application/pdf"}, {"X-File-Name", "proof.pdf"}}).status == 200);
  // The ID card came from the e-license library as the case was submitted: listed as fetched,
  // not offered; the upload is offered.
  const auto page = mother.get("/api/applicant/cases/" + id).json();
  for (const auto& m : page.at("materials").as_array()) {
    const auto& material = m.as_object();
    if (material.at("material").as_string() == "mother_card") {
      CHECK(material.at("fetched_from_library").as_bool());
      CHECK_FALSE(material.at("downloadable").as_bool());
    } else if (material.at("material").as_string() == "birth_proof") {
      CHECK(material.at("downloadable").as_bool());
      CHECK_FALSE(material.at("fetched_from_library").as_bool());
    }
  }
  // Asked for anyway: the same 404 as another applicant's case, no file.
  const auto card = mother.get("/api/applicant/cases/" + id + "/materials/mother_card");
  INFO(card.body);
  CHECK(card.status == 404);
  CHECK(card.code() == "not_found");
  CHECK(card.message() == "找不到该办件或资源，请核对编号");
  CHECK(card.header("x-content-sha256").empty());
  // What the applicant uploaded comes back to them; the clerk reads both.
  const auto proof = mother.get("/api/applicant/cases/" + id + "/materials/birth_proof");
  CHECK(proof.status == 200);
  CHECK(proof.body == kPdf);
  Client clerk = f.staff("clerk");
  const auto staff_card = clerk.get("/api/cases/" + id + "/materials/mother_card");
  CHECK(staff_card.status == 200);
  CHECK_FALSE(staff_card.body.empty());
  CHECK(clerk.get("/api/cases/" + id + "/materials/birth_proof").status == 200);
}

TEST_CASE("applicant: a bad rating's rectification is answered by the department, recorded, shown on the case and texted to the applicant", "[server][applicant][rectification]") {
  ApplicantFixture f;
  Client mother = f.by_sms("13800138000");
  const auto applied = mother.post("/api/applicant/cases", json::object{{"bundle", "newborn"}, {"form", newborn_form(kMother, "13800138000")}});
  REQUIRE(applied.status == 201);
  const std::string id(applied.json().at("case_id").as_string());
  REQUIRE(mother.send("PUT", "/api/applicant/cases/" + id + "/materials/birth_proof", kPdf,
                      {{"Content-Type", "application/pdf"}, {"X-File-Name", "proof.pdf"}}).status == 200);
  Client clerk = f.staff("clerk");
  Client health = f.staff("health");
  REQUIRE(clerk.post("/api/cases/" + id + "/materials/birth_proof/verify", json::object{{"accept", true}}).status == 200);
  REQUIRE(clerk.post("/api/cases/" + id + "/items/birth/events/accept", json::object{}).status == 200);
  REQUIRE(health.post("/api/cases/" + id + "/items/birth/events/approve", json::object{}).status == 200);
  // Nothing rated yet: nothing to answer.
  CHECK(health.post("/api/cases/" + id + "/rectification", json::object{{"answer", "已整改"}}).code() == "wrong_state");
  REQUIRE(clerk.post("/api/cases/" + id + "/deliver", json::object{{"channel", "window"}}).status == 200);
  REQUIRE(mother.post("/api/applicant/cases/" + id + "/rate", json::object{{"level", 1}, {"comment", "等待时间太长"}}).status == 200);
  auto page = mother.get("/api/applicant/cases/" + id).json();
  REQUIRE(page.at("rating").at("rectification").is_object());
  CHECK(page.at("rating").at("rectification").at("answer").is_null());
  // The window clerk does not answer it; an empty answer is refused; nothing changes.
  CHECK(clerk.post("/api/cases/" + id + "/rectification", json::object{{"answer", "已整改"}}).status == 403);
  const auto version = f.service->engine().get_case(id)->state.version;
  const auto empty = health.post("/api/cases/" + id + "/rectification", json::object{{"answer", "  "}});
  CHECK(empty.status == 422);
  CHECK(empty.message() == "请写明整改答复：查明的情况和采取的措施。");
  CHECK(f.service->engine().get_case(id)->state.version == version);
  // The department answers, once.
  const std::string answer = "经核查，当日窗口人手不足；已在高峰时段增开两个窗口，并对窗口人员进行了培训。";
  const auto answered = health.post("/api/cases/" + id + "/rectification", json::object{{"answer", answer}});
  INFO(answered.body);
  REQUIRE(answered.status == 200);
  CHECK(health.post("/api/cases/" + id + "/rectification", json::object{{"answer", "再次答复"}}).code() == "wrong_state");
  // The applicant reads it on the case; the clerk console's history has it.
  page = mother.get("/api/applicant/cases/" + id).json();
  CHECK(page.at("rating").at("rectification").at("answer").as_string() == answer);
  CHECK(clerk.get("/api/cases/" + id).json().at("rectification").at("answer").as_string() == answer);
  const auto history = clerk.get("/api/cases/" + id + "/history");
  CHECK(history.body.find("RectificationAnswered") != std::string::npos);
  // And by text message, at the form's mobile number.
  bool texted = false;
  for (int i = 0; i < 100 && !texted; ++i) {
    for (const auto& t : f.simulator->texts_to("13800138000")) texted = texted || t.text.find("整改答复：" + answer) != std::string::npos;
    if (!texted) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(texted);
}

TEST_CASE("applicant: the pages are served under /m/, a case's QR address included, nothing outside their folder", "[server][applicant][pages]") {
  ApplicantFixture f;
  Client c(f.service->port());
  const auto page = c.get("/m/cases/20260302-0001");  // what a printed notice's QR code opens
  REQUIRE(page.status == 200);
  CHECK(page.body.find("申请人") != std::string::npos);
  CHECK(page.header("content-type").find("text/html") == 0);
  CHECK(c.get("/m/").status == 200);
  const auto script = c.get("/m/app.js");
  CHECK(script.status == 200);
  CHECK(script.header("content-type").find("text/javascript") == 0);
  CHECK(c.get("/m/../deploy.toml").status == 404);
  CHECK(c.get("/m/%2e%2e/deploy.toml").status == 404);
  CHECK(c.get("/m/nothing.js").status == 404);
}

namespace {

// Whether a message holds a CJK ideograph (people read Chinese, not codes).
bool has_chinese_text(const std::string& text) {
  return std::regex_search(text, std::regex("[\xe4-\xe9][\x80-\xbf][\x80-\xbf]"));
}

// A kiosk's device key, as its card-reader agent holds it (the test plays the agent).
struct DeviceKey {
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> public_key{};
  std::array<unsigned char, crypto_sign_SECRETKEYBYTES> secret_key{};
  DeviceKey() {
    REQUIRE(sodium_init() >= 0);
    crypto_sign_keypair(public_key.data(), secret_key.data());
  }
  static std::string hex(const unsigned char* data, std::size_t size) {
    std::string out(size * 2 + 1, '\0');
    sodium_bin2hex(out.data(), out.size(), data, size);
    out.pop_back();
    return out;
  }
  std::string public_hex() const { return hex(public_key.data(), public_key.size()); }
  std::string sign(const std::string& text) const {
    std::array<unsigned char, crypto_sign_BYTES> signature{};
    crypto_sign_detached(signature.data(), nullptr, reinterpret_cast<const unsigned char*>(text.data()), text.size(), secret_key.data());
    return hex(signature.data(), signature.size());
  }
};

std::int64_t real_unix_seconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

// The card read a kiosk's agent signs (docs/applicant.md, "The kiosk").
std::string card_read(const std::string& kiosk, const std::string& nonce, std::int64_t read_at = real_unix_seconds(),
                      const std::string& id_number = kMother, const std::string& valid_to = "2040-05-01") {
  return json::serialize(json::object{{"v", 1}, {"kiosk", kiosk}, {"nonce", nonce}, {"read_at", read_at}, {"name", "王小明"},
                                      {"id_number", id_number}, {"valid_from", "2020-05-01"}, {"valid_to", valid_to}});
}

std::string kiosk_nonce(Client& page, const std::string& kiosk) {
  const auto r = page.post("/api/applicant/kiosk/nonce", json::object{{"kiosk", kiosk}});
  INFO(r.body);
  REQUIRE(r.status == 201);
  return std::string(r.json().at("nonce").as_string());
}

std::int64_t applicant_sessions(const fs::path& db_path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM server_applicant_sessions", -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  const auto n = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

Client admin_of(ApplicantFixture& f) {
  Client admin(f.service->port());
  REQUIRE(admin.login("admin", *f.service->initial_admin_password()).status == 200);
  return admin;
}

}  // namespace

TEST_CASE("applicant: an administrator registers a kiosk, and a card read its device key signed opens a session whose cases come in on the kiosk channel", "[server][applicant][kiosk]") {
  ApplicantFixture f;
  const DeviceKey device;
  Client admin = admin_of(f);
  const json::object registration{{"kiosk", "xh-01"}, {"title", "西湖区政务服务中心一楼大厅"}, {"public_key", device.public_hex()}};
  // Only an administrator registers a kiosk; a malformed key or id is refused, a second
  // registration of the id too.
  CHECK(f.staff("clerk").post("/api/kiosks", registration).status == 403);
  auto bad_key = registration;
  bad_key["public_key"] = "00ff";
  CHECK(admin.post("/api/kiosks", bad_key).status == 422);
  auto bad_id = registration;
  bad_id["kiosk"] = "西湖 01";
  CHECK(admin.post("/api/kiosks", bad_id).status == 422);
  const auto registered = admin.post("/api/kiosks", registration);
  INFO(registered.body);
  REQUIRE(registered.status == 201);
  CHECK(admin.post("/api/kiosks", registration).status == 409);
  const auto listed = admin.get("/api/kiosks");
  REQUIRE(listed.status == 200);
  REQUIRE(listed.json().at("kiosks").as_array().size() == 1);
  CHECK(listed.json().at("kiosks").as_array()[0].at("public_key").as_string() == device.public_hex());
  CHECK(listed.json().at("kiosks").as_array()[0].at("revoked").as_bool() == false);

  // The kiosk's page asks a nonce; its agent signs the card with it; the page sends the read.
  Client page = f.browser();
  const std::string nonce = kiosk_nonce(page, "xh-01");
  const std::string read = card_read("xh-01", nonce);
  const auto in = page.post("/api/applicant/kiosk/session", json::object{{"card_read", read}, {"signature", device.sign(read)}});
  INFO(in.body);
  REQUIRE(in.status == 200);
  CHECK(in.body.find(kMother) == std::string::npos);
  page.keep_cookies(in);
  const auto me = page.get("/api/applicant/session");
  REQUIRE(me.status == 200);
  const auto applicant = me.json().at("applicant");
  CHECK(applicant.at("name").as_string() == "王小明");
  CHECK(applicant.at("kiosk").as_string() == "xh-01");
  CHECK(applicant.at("real_name_verified").as_bool());
  CHECK(applicant.at("verified_by").as_array() == json::array{"id_card"});
  CHECK(applicant.at("id_number").as_string() == "330*************14");

  // Whatever channel the page names, the case comes in at the kiosk, and the device is in its history.
  const auto applied = page.post("/api/applicant/cases", json::object{{"bundle", "newborn"}, {"form", newborn_form(kMother, "13800138000")}, {"channel", "mobile"}});
  INFO(applied.body);
  REQUIRE(applied.status == 201);
  const std::string id(applied.json().at("case_id").as_string());
  const auto kiosk_case = f.service->engine().get_case(id);
  CHECK(kiosk_case->state.channel == "kiosk");
  // The e-license the case needs was fetched from the library as it was submitted.
  const auto card = kiosk_case->workflow->find_material("mother_card");
  REQUIRE(card);
  CHECK(kiosk_case->state.materials[*card].status == engine::MaterialStatus::verified);
  Client clerk = f.staff("clerk");
  const auto history = clerk.get("/api/cases/" + id + "/history");
  REQUIRE(history.status == 200);
  CHECK(history.body.find("自助终端 xh-01") != std::string::npos);
  CHECK(history.body.find(kMother) == std::string::npos);
  // The receipt's QR code, for the applicant's own case.
  const auto follow = page.get("/api/applicant/cases/" + id + "/follow-code");
  INFO(follow.body);
  REQUIRE(follow.status == 200);
  CHECK(follow.json().at("url").as_string().ends_with("/m/cases/" + id));
  CHECK(follow.json().at("svg").as_string().starts_with("<svg"));
  // The supervisor's figures count it: on the kiosk channel, fully online.
  const auto report = admin.get("/api/report");
  INFO(report.body);
  REQUIRE(report.status == 200);
  CHECK(report.json().at("overall").at("cases_by_channel").at("kiosk").as_int64() == 1);
  CHECK(report.json().at("overall").at("fully_online").as_int64() == 1);
  // Away from a kiosk, a page cannot claim the kiosk channel.
  Client phone = f.by_sms("13800138000", "127.0.0.7");
  const auto claimed = phone.post("/api/applicant/cases", json::object{{"bundle", "newborn"}, {"form", newborn_form(kMother, "13800138000")}, {"channel", "kiosk"}});
  CHECK(claimed.status == 422);
  CHECK(claimed.message().find("自助终端") != std::string::npos);
  // The registration and the login are in the audit trail, the ID number masked.
  const auto audit = admin.get("/api/audit?limit=200");
  REQUIRE(audit.status == 200);
  CHECK(audit.body.find("POST /api/kiosks") != std::string::npos);
  CHECK(audit.body.find("kiosk xh-01") != std::string::npos);
  CHECK(audit.body.find("POST /api/applicant/kiosk/session") != std::string::npos);
  CHECK(audit.body.find(kMother) == std::string::npos);
}

TEST_CASE("applicant: forged, unsigned, tampered, replayed, expired and stale card reads, a revoked or unknown kiosk open no session", "[server][applicant][kiosk]") {
  ApplicantFixture f;
  const DeviceKey device, other;
  Client admin = admin_of(f);
  for (const auto& [id, key] : {std::pair{"xh-01", device.public_hex()}, std::pair{"xh-02", other.public_hex()}}) {
    REQUIRE(admin.post("/api/kiosks", json::object{{"kiosk", id}, {"title", "大厅"}, {"public_key", key}}).status == 201);
  }
  Client page = f.browser();
  const auto sessions_before = applicant_sessions(f.dir / "cases.db");
  auto refused = [&](const std::string& read, const std::optional<std::string>& signature, unsigned status, const std::string& code) {
    json::object body{{"card_read", read}};
    if (signature) body["signature"] = *signature;
    const auto r = page.post("/api/applicant/kiosk/session", body);
    INFO(r.body);
    CHECK(r.status == status);
    CHECK(r.code() == code);
    CHECK(has_chinese_text(r.message()));
    CHECK(r.header("set-cookie").empty());
  };
  // A read nobody signed, signed by another kiosk's key, or altered after signing.
  const std::string nonce = kiosk_nonce(page, "xh-01");
  const std::string read = card_read("xh-01", nonce);
  refused(read, std::nullopt, 401, "card_read_unsigned");
  refused(read, "", 401, "card_read_unsigned");
  refused(read, other.sign(read), 401, "card_read_forged");
  refused(read, "zz", 401, "card_read_forged");
  const std::string altered = card_read("xh-01", nonce, real_unix_seconds(), kOther);
  refused(altered, device.sign(read), 401, "card_read_forged");
  // Not a read at all.
  refused("{\"v\":1}", device.sign("{\"v\":1}"), 400, "card_read_invalid");
  refused("not json", std::nullopt, 400, "card_read_invalid");
  // A nonce never handed out, or handed to another kiosk.
  const std::string invented = card_read("xh-01", "0123456789abcdef0123456789abcdef");
  refused(invented, device.sign(invented), 401, "card_read_expired");
  const std::string elsewhere = card_read("xh-01", kiosk_nonce(page, "xh-02"));
  refused(elsewhere, device.sign(elsewhere), 401, "card_read_expired");
  // The honest read opens one session (the failures above used nothing up); sent again, none.
  const auto in = page.post("/api/applicant/kiosk/session", json::object{{"card_read", read}, {"signature", device.sign(read)}});
  REQUIRE(in.status == 200);
  refused(read, device.sign(read), 401, "card_read_expired");
  // A nonce past its minute, a read dated an hour ago.
  const std::string late_nonce = kiosk_nonce(page, "xh-01");
  f.clock.advance(61'000);
  const std::string late = card_read("xh-01", late_nonce);
  refused(late, device.sign(late), 401, "card_read_expired");
  const std::string stale = card_read("xh-01", kiosk_nonce(page, "xh-01"), real_unix_seconds() - 3600);
  refused(stale, device.sign(stale), 401, "card_read_expired");
  // A card past its validity.
  const std::string expired_card = card_read("xh-01", kiosk_nonce(page, "xh-01"), real_unix_seconds(), kMother, "2025-01-01");
  refused(expired_card, device.sign(expired_card), 422, "card_invalid");
  // An unknown kiosk gets no nonce; a revoked one neither, and a read signed before with a
  // nonce handed out before the revocation opens nothing.
  CHECK(page.post("/api/applicant/kiosk/nonce", json::object{{"kiosk", "xh-99"}}).code() == "kiosk_not_registered");
  const std::string before_revocation = card_read("xh-01", kiosk_nonce(page, "xh-01"));
  CHECK(admin.send("DELETE", "/api/kiosks/xh-01").status == 200);
  CHECK(admin.get("/api/kiosks").json().at("kiosks").as_array()[0].at("revoked").as_bool());
  refused(before_revocation, device.sign(before_revocation), 403, "kiosk_not_registered");
  const auto no_nonce = page.post("/api/applicant/kiosk/nonce", json::object{{"kiosk", "xh-01"}});
  CHECK(no_nonce.status == 403);
  CHECK(no_nonce.code() == "kiosk_not_registered");
  CHECK(admin.send("DELETE", "/api/kiosks/xh-77").status == 404);
  // Of all these, only the honest read made a session.
  CHECK(applicant_sessions(f.dir / "cases.db") == sessions_before + 1);
}

TEST_CASE("applicant: a kiosk's nonces are limited per kiosk and per address, with a Chinese 429 that stores nothing", "[server][applicant][kiosk]") {
  ApplicantFixture f;
  const DeviceKey device;
  Client admin = admin_of(f);
  for (const auto* id : {"xh-01", "xh-02", "xh-03", "xh-04"}) {
    REQUIRE(admin.post("/api/kiosks", json::object{{"kiosk", id}, {"title", "大厅"}, {"public_key", device.public_hex()}}).status == 201);
  }
  const auto nonces_stored = [&]() {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2((f.dir / "cases.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM server_kiosk_nonces", -1, &stmt, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
    const auto n = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return n;
  };
  // Ten a minute for one kiosk; the eleventh waits, and nothing is stored for it.
  Client hall = f.browser("127.0.0.21");
  for (int i = 0; i < 10; ++i) kiosk_nonce(hall, "xh-01");
  const auto stored = nonces_stored();
  const auto flooded = hall.post("/api/applicant/kiosk/nonce", json::object{{"kiosk", "xh-01"}});
  INFO(flooded.body);
  CHECK(flooded.status == 429);
  CHECK(flooded.code() == "too_many_attempts");
  CHECK(flooded.message().find("读卡请求太频繁") != std::string::npos);
  CHECK_FALSE(flooded.header("retry-after").empty());
  CHECK(nonces_stored() == stored);
  // From another address too: the count is the kiosk's.
  Client elsewhere = f.browser("127.0.0.22");
  CHECK(elsewhere.post("/api/applicant/kiosk/nonce", json::object{{"kiosk", "xh-01"}}).status == 429);
  // Thirty a minute from one address, whatever the kiosks; made-up kiosk ids count too.
  for (int i = 0; i < 10; ++i) kiosk_nonce(hall, "xh-02");
  for (int i = 0; i < 9; ++i) kiosk_nonce(hall, "xh-03");
  CHECK(hall.post("/api/applicant/kiosk/nonce", json::object{{"kiosk", "xh-99"}}).code() == "kiosk_not_registered");
  CHECK(hall.post("/api/applicant/kiosk/nonce", json::object{{"kiosk", "xh-04"}}).status == 429);
  CHECK(hall.post("/api/applicant/kiosk/nonce", json::object{{"kiosk", "xh-98"}}).status == 429);
  CHECK(kiosk_nonce(elsewhere, "xh-04").size() == 32);
  // A minute later, each kiosk is served again.
  f.clock.advance(61'000);
  CHECK(kiosk_nonce(hall, "xh-01").size() == 32);
}

TEST_CASE("applicant: the simulator's kiosk card-reader agent signs reads its registered device key verifies", "[server][applicant][kiosk][simulator]") {
  ApplicantFixture f;
  deptsim::Options options;
  options.id_reader.enabled = true;
  options.id_reader.origins = {"*"};
  options.id_reader.kiosk = "sim-kiosk";
  auto started = deptsim::Simulator::start(options);
  REQUIRE(started);
  auto& agent_sim = **started;
  Client agent(agent_sim.port());
  const auto device = agent.get("/idreader/device");
  REQUIRE(device.status == 200);
  CHECK(device.json().at("kiosk").as_string() == "sim-kiosk");
  Client admin = admin_of(f);
  REQUIRE(admin.post("/api/kiosks", json::object{{"kiosk", "sim-kiosk"}, {"title", "模拟终端"}, {"public_key", device.json().at("public_key")}}).status == 201);
  Client page = f.browser();
  auto read_with = [&](const std::string& signing) {
    Client control(agent_sim.port());
    REQUIRE(control.post("/idreader/control", json::object{{"signing", signing}}).status == 200);
    const auto signed_read = agent.get("/idreader/signed-read?nonce=" + kiosk_nonce(page, "sim-kiosk"));
    REQUIRE(signed_read.status == 200);
    return page.post("/api/applicant/kiosk/session", signed_read.json());
  };
  CHECK(read_with("forged").code() == "card_read_forged");
  CHECK(read_with("unsigned").code() == "card_read_unsigned");
  CHECK(read_with("stale").code() == "card_read_expired");
  const auto in = read_with("");
  INFO(in.body);
  CHECK(in.status == 200);
  agent_sim.stop();
}
