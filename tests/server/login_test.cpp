// Logins, the audit trail and query numbers of the clerk service, over real HTTP on loopback
// (issue 17, items 6-8): login timing and throttling, password hashing off the request
// threads, aggregated refusals in the audit trail, pruning it past its retention, and
// numbers in queries. Each test starts its own service (no workflows: these routes need
// none) with a virtual clock; clients connect from several loopback addresses.
#include "server/http_client.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <onevisit/server/server.hpp>

#include <boost/json.hpp>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

using namespace onevisit;
namespace json = boost::json;
using testing::Client;
using testing::Reply;

namespace {

const std::string kPassword = "correct horse battery";
constexpr engine::Timestamp kDay = 24LL * 3600 * 1000;

struct LoginOptions {
  std::size_t threads = 2;
  bool real_hashing = false;  ///< the interactive argon2id cost, as in production
  int audit_retention_days = 180;
};

// A running service with an admin, a clerk, a supervisor and a disabled user.
struct LoginFixture {
  testing::ScratchDir dir{"onevisit-login-test"};
  engine::VirtualClock clock{(dsl::days_from_civil({2026, 3, 2}) * 24 + 10) * 3600'000LL};
  server::ServiceOptions options;
  std::unique_ptr<server::Service> service;
  std::string admin_password;

  explicit LoginFixture(LoginOptions o = {}) {
    options.database = dir.file("cases.db");
    options.listen = "127.0.0.1:0";
    options.threads = o.threads;
    options.clock = &clock;
    options.cheap_password_hashing = !o.real_hashing;
    options.audit_retention_days = o.audit_retention_days;
    options.timer_interval = std::chrono::milliseconds(50);
    options.dispatch_interval = std::chrono::milliseconds(50);
    start();
    admin_password = *service->initial_admin_password();
    Client admin = as("admin");
    for (const auto& [name, role] : {std::pair{"clerk", "window_clerk"}, std::pair{"boss", "supervisor"}, std::pair{"gone", "window_clerk"}}) {
      auto created = admin.post("/api/users", json::object{{"name", name}, {"role", role}, {"password", kPassword}});
      INFO(created.body);
      REQUIRE(created.status == 201);
    }
    REQUIRE(admin.send("PATCH", "/api/users/gone", R"({"disabled":true})").status == 200);
  }
  void start() {
    auto started = server::Service::start(options);
    if (!started) FAIL(started.error());
    service = std::move(*started);
  }

  Client client(const std::string& from = "127.0.0.1") { return Client(service->port(), from); }
  Client as(const std::string& name, const std::string& from = "127.0.0.1") {
    Client c = client(from);
    const auto reply = c.login(name, name == "admin" ? admin_password : kPassword);
    INFO(reply.body);
    REQUIRE(reply.status == 200);
    return c;
  }
};

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> values) {
  REQUIRE_FALSE(values.empty());
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double percentile(std::vector<double> values, double p) {
  REQUIRE_FALSE(values.empty());
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<std::size_t>(p * static_cast<double>(values.size())))];
}

int retry_after(const Reply& r) {
  const auto text = r.header("retry-after");
  REQUIRE_FALSE(text.empty());
  return std::stoi(text);
}

}  // namespace

// ---- item 6: logins

TEST_CASE("server: an unknown or disabled user is refused as slowly as a wrong password (no user enumeration)", "[server][login]") {
  LoginFixture f({.real_hashing = true});
  // Alternated, so that a passing load on the machine falls on every kind alike.
  std::vector<double> unknown, disabled, wrong;
  for (int round = 0; round < 5; ++round) {
    for (auto [name, times] : {std::pair{"nobody", &unknown}, std::pair{"gone", &disabled}, std::pair{"clerk", &wrong}}) {
      const auto start = std::chrono::steady_clock::now();
      const auto reply = f.client().login(name, "not the password");
      times->push_back(milliseconds_since(start));
      CHECK(reply.status == 401);
      CHECK(reply.code() == "bad_credentials");
    }
  }
  std::printf("login refusals, median ms: unknown user %.1f, disabled user %.1f, wrong password %.1f\n", median(unknown),
              median(disabled), median(wrong));
  // The fastest of each kind: a load on the shared machine only ever adds time, so the fastest
  // refusal is the work itself (the medians of three rounds once failed under a parallel
  // build). Before, an unknown user took 1-7 ms against 188-300 ms; with the same argon2id
  // work both take the same time.
  const auto fastest = [](const std::vector<double>& times) { return *std::min_element(times.begin(), times.end()); };
  CHECK(fastest(unknown) > 0.5 * fastest(wrong));
  CHECK(fastest(disabled) > 0.5 * fastest(wrong));
}

TEST_CASE("server: wrong passwords delay the next attempt, growing and capped, and the right one gets in after the delay", "[server][login]") {
  LoginFixture f;
  Client c = f.client("127.0.0.2");
  for (int i = 0; i < 5; ++i) CHECK(c.login("clerk", "wrong password " + std::to_string(i)).status == 401);
  // The sixth attempt waits a second, even with the right password; then it gets in.
  auto delayed = c.login("clerk", kPassword);
  REQUIRE(delayed.status == 429);
  CHECK(delayed.code() == "too_many_attempts");
  CHECK(retry_after(delayed) == 1);
  f.clock.advance(1000);
  CHECK(c.login("clerk", kPassword).status == 200);

  // Failures after that start over at no delay; past the free ones each doubles the wait,
  // up to 15 minutes.
  for (int i = 0; i < 5; ++i) CHECK(c.login("clerk", "wrong again").status == 401);
  int last_wait = 0;
  for (int i = 0; i < 14; ++i) {
    auto refused = c.login("clerk", "wrong again");
    REQUIRE(refused.status == 429);
    const int wait = retry_after(refused);
    CHECK(wait >= last_wait);
    CHECK(wait <= 15 * 60);
    last_wait = wait;
    f.clock.advance(wait * 1000LL);
    CHECK(c.login("clerk", "wrong again").status == 401);
  }
  CHECK(last_wait == 15 * 60);
}

TEST_CASE("server: strangers cannot lock a user, admin included, out of an address they logged in from", "[server][login]") {
  LoginFixture f;
  // The clerk and the admin have logged in from 127.0.0.1 before (the admin in the fixture).
  (void)f.as("clerk");
  // Guessing from many addresses, a few tries from each.
  for (int address = 10; address < 40; ++address) {
    for (const std::string name : {"clerk", "admin"}) {
      Client stranger = f.client("127.0.0." + std::to_string(address));
      for (int i = 0; i < 3; ++i) {
        const auto status = stranger.login(name, "guess " + std::to_string(i)).status;
        CHECK((status == 401 || status == 429));
      }
    }
  }
  // And hammering from one.
  Client hammer = f.client("127.0.0.9");
  for (int i = 0; i < 50; ++i) (void)hammer.login("admin", "guess");
  // Their own address still lets them in at once; an address the account never used waits.
  CHECK(f.client().login("clerk", kPassword).status == 200);
  CHECK(f.client().login("admin", f.admin_password).status == 200);
  auto elsewhere = f.client("127.0.0.99").login("admin", f.admin_password);
  CHECK(elsewhere.status == 429);
  CHECK(retry_after(elsewhere) > 0);
  // Waiting out the delay lets the right password in from anywhere.
  f.clock.advance(retry_after(elsewhere) * 1000LL);
  CHECK(f.client("127.0.0.99").login("admin", f.admin_password).status == 200);
}

TEST_CASE("server: 40 parallel wrong passwords get no more attempts evaluated than the limit", "[server][login]") {
  // Real hashing cost and many request threads, so that the hashing pool admits 8 at once
  // (more than the limit): each of them must see the others' reservations.
  LoginFixture f({.threads = 16, .real_hashing = true});
  std::atomic<int> evaluated{0}, throttled{0}, busy{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 40; ++i) {
    threads.emplace_back([&, i] {
      const auto status = f.client("127.0.0.5").login("clerk", "parallel guess " + std::to_string(i)).status;
      (status == 401 ? evaluated : status == 429 ? throttled : status == 503 ? busy : other)++;
    });
  }
  for (auto& t : threads) t.join();
  std::printf("40 parallel wrong passwords: %d evaluated (401), %d throttled (429), %d busy (503)\n", evaluated.load(), throttled.load(),
              busy.load());
  CHECK(evaluated.load() > 0);
  CHECK(evaluated.load() <= 5);
  CHECK(other.load() == 0);
}

TEST_CASE("server: a login flood does not slow other requests: hashing beyond its pool answers 503 at once", "[server][login]") {
  LoginFixture f({.threads = 4, .real_hashing = true});
  Client boss = f.as("boss");
  // One login alone, for scale.
  std::vector<double> alone;
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(f.client().login("clerk", kPassword).status == 200);
    alone.push_back(milliseconds_since(start));
  }
  std::vector<double> quiet;
  for (int i = 0; i < 20; ++i) {
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(boss.get("/api/session").status == 200);
    quiet.push_back(milliseconds_since(start));
  }

  std::atomic<bool> flooding{true};
  std::atomic<int> logins{0}, busy{0}, busy_without_retry_after{0};
  std::vector<std::thread> flood;
  for (int i = 0; i < 12; ++i) {
    flood.emplace_back([&] {
      while (flooding.load()) {
        const auto reply = f.client().login("clerk", kPassword);
        if (reply.status == 200) logins++;
        if (reply.status == 503) {
          busy++;
          if (reply.header("retry-after").empty()) busy_without_retry_after++;
        }
        // Refused at once (503, or 429 while the parallel attempts are pending): again soon.
        if (reply.status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::vector<double> during;
  for (int i = 0; i < 30; ++i) {
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(boss.get("/api/session").status == 200);
    during.push_back(milliseconds_since(start));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  flooding = false;
  for (auto& t : flood) t.join();
  std::printf("login flood (12 clients, 4 request threads): one login %.1f ms; GET /api/session quiet p50 %.1f ms, "
              "during the flood p50 %.1f ms p90 %.1f ms max %.1f ms; %d logins, %d answered 503\n",
              median(alone), median(quiet), median(during), percentile(during, 0.9), percentile(during, 1.0), logins.load(), busy.load());
  CHECK(logins.load() > 0);
  CHECK(busy.load() > 0);
  CHECK(busy_without_retry_after.load() == 0);
  // Loose (the machine is shared): before, other requests waited behind the hashing, about
  // a login's time or more each. The sanitizer build is several times slower at everything
  // but the hashing (libsodium is not instrumented), hence its factor.
  CHECK(median(during) < std::max(25.0 * testing::kSanitizerFactor, median(alone) / 4));
}

// ---- item 7: refusals of unauthenticated requests, aggregated

TEST_CASE("server: 500 unauthenticated requests from one address make one audit row with count 500", "[server][audit]") {
  LoginFixture f;
  Client boss = f.as("boss");
  f.clock.advance(60'000);  // a minute of its own
  Client anonymous = f.client("127.0.0.7");
  for (int i = 0; i < 500; ++i) {
    const auto status = i % 2 == 0 ? anonymous.get("/api/cases").status : anonymous.post("/api/cases", json::object{}).status;
    REQUIRE(status == 401);
  }
  // Written when the minute ends.
  f.clock.advance(60'000);
  auto audit = boss.get("/api/audit?limit=1000");
  REQUIRE(audit.status == 200);
  std::vector<json::object> rows;
  const auto records = audit.json();
  for (const auto& r : records.at("records").as_array()) {
    if (r.at("remote_address").as_string() == "127.0.0.7") rows.push_back(r.as_object());
  }
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].at("count").as_int64() == 500);
  CHECK(rows[0].at("action").as_string() == "GET /api/cases");
  CHECK(rows[0].at("last_action").as_string() == "POST /api/cases");
  CHECK(rows[0].at("outcome").as_string() == "unauthenticated");

  // A denial of an authenticated user stays one row of its own.
  Client clerk = f.as("clerk");
  CHECK(clerk.get("/api/audit").status == 403);
  CHECK(clerk.get("/api/audit").status == 403);
  std::size_t denials = 0;
  const auto after = boss.get("/api/audit?limit=1000").json();
  for (const auto& r : after.at("records").as_array()) {
    if (r.at("actor").as_string() == "clerk" && r.at("outcome").as_string() == "forbidden") {
      ++denials;
      CHECK(r.at("count").as_int64() == 1);
    }
  }
  CHECK(denials == 2);
}

TEST_CASE("server: refusals still pending when the service stops are written", "[server][audit]") {
  LoginFixture f;
  Client anonymous = f.client("127.0.0.8");
  for (int i = 0; i < 3; ++i) REQUIRE(anonymous.get("/api/users").status == 401);
  REQUIRE(anonymous.login("nobody", "guess").status == 401);
  f.service.reset();
  f.options.reset_admin_password = false;
  f.start();
  auto audit = f.as("admin").get("/api/audit?limit=1000");
  REQUIRE(audit.status == 200);
  std::int64_t count = 0;
  const auto records = audit.json();
  for (const auto& r : records.at("records").as_array()) {
    if (r.at("remote_address").as_string() == "127.0.0.8") count += r.at("count").as_int64();
  }
  CHECK(count == 4);
}

// ---- item 8: numbers in queries

TEST_CASE("server: out-of-range or malformed numbers in queries get 400 naming the parameter and its range", "[server][query]") {
  LoginFixture f;
  Client clerk = f.as("clerk");
  Client boss = f.as("boss");
  const std::vector<std::string> bad = {"18446744073709551615", "18446744073709551616", "99999999999999999999999", "-1", "1e3",
                                        "0x10", "+5", " 5", "5 ", "abc", "", "9223372036854775808"};
  struct Parameter {
    Client* client;
    std::string route;
    std::string name;
  };
  const std::vector<Parameter> parameters = {
      {&clerk, "/api/cases", "offset"},   {&clerk, "/api/cases", "limit"},   {&clerk, "/api/cases", "due_before"},
      {&clerk, "/api/worklist", "offset"}, {&clerk, "/api/worklist", "limit"}, {&clerk, "/api/calls", "limit"},
      {&boss, "/api/audit", "offset"},    {&boss, "/api/audit", "limit"},    {&boss, "/api/timers", "limit"},
      {&boss, "/api/timers", "before"}};
  for (const auto& p : parameters) {
    for (const auto& value : bad) {
      const std::string target = p.route + "?" + p.name + "=" + (value == " 5" ? "%205" : value == "5 " ? "5%20" : value == "+5" ? "%2B5" : value);
      INFO(target);
      const auto reply = p.client->get(target);
      CHECK(reply.status == 400);
      if (reply.status != 400) continue;
      CHECK(reply.code() == "invalid_request");
      // Codes and details for programs: which parameter, and its range.
      const auto details = reply.json().at("details");
      CHECK(details.at("parameter").as_string() == p.name);
      CHECK(details.at("max").as_int64() > details.at("min").as_int64());
    }
    // The largest allowed value passes.
    INFO(p.route << "?" << p.name);
    const auto reply = p.client->get(p.route + "?" + p.name + "=" + (p.name == "limit" ? "500" : "1000"));
    CHECK(reply.status == 200);
  }
  for (const std::string date : {"2026-13-01", "99999-01-01", "2026-1-1", ""}) {
    INFO(date);
    if (date.empty()) continue;  // an empty date means no bound
    CHECK(boss.get("/api/report?from=" + date).status == 400);
    CHECK(boss.get("/api/report?to=" + date).status == 400);
  }
}

// ---- the audit trail past its retention

namespace {

// Runs `sql` on the database file through a connection of its own (not the service's).
std::string raw_sql_error(const std::string& database, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(database.c_str(), &db) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  std::string error = rc == SQLITE_OK ? std::string() : std::string(message ? message : "error");
  sqlite3_free(message);
  sqlite3_close(db);
  return error;
}

std::int64_t raw_count(const std::string& database, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(database.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  const auto count = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return count;
}

}  // namespace

TEST_CASE("server: an admin prunes the audit trail past its retention, and the pruning is a record no pruning removes", "[server][audit]") {
  LoginFixture f;  // 2026-03-02: the admin's login, the users created
  const auto& database = f.options.database;
  const auto first_day = raw_count(database, "SELECT COUNT(*) FROM server_audit");
  REQUIRE(first_day > 0);
  const engine::Timestamp cutoff = dsl::days_from_civil({2026, 3, 3}) * kDay;

  f.clock.advance(200 * kDay);  // 2026-09-18: the first day is past 180 days
  Client admin = f.as("admin");
  // Younger than the retention: refused, nothing removed.
  auto young = admin.post("/api/audit/prune", json::object{{"before", "2026-04-01"}});
  CHECK(young.status == 422);
  CHECK(young.json().at("details").at("latest_before").as_string() == "2026-03-22");
  CHECK(raw_count(database, "SELECT COUNT(*) FROM server_audit WHERE at < " + std::to_string(cutoff)) == first_day);
  // Only admins prune; a malformed date is refused.
  CHECK(f.as("boss").post("/api/audit/prune", json::object{{"before", "2026-03-03"}}).status == 403);
  CHECK(admin.post("/api/audit/prune", json::object{{"before", "2026-3-3"}}).status == 400);
  CHECK(admin.post("/api/audit/prune", json::object{}).status == 400);

  auto pruned = admin.post("/api/audit/prune", json::object{{"before", "2026-03-03"}});
  INFO(pruned.body);
  REQUIRE(pruned.status == 200);
  CHECK(pruned.json().at("pruned").as_int64() == first_day);
  CHECK(raw_count(database, "SELECT COUNT(*) FROM server_audit WHERE at < " + std::to_string(cutoff)) == 0);
  // Who pruned what is a record of its own, younger than any cutoff allowed: a second
  // pruning removes nothing, and adds its own record.
  auto again = admin.post("/api/audit/prune", json::object{{"before", "2026-03-22"}});
  REQUIRE(again.status == 200);
  CHECK(again.json().at("pruned").as_int64() == 0);
  const auto records = admin.get("/api/audit?target=audit").json();
  std::vector<std::string> details;
  for (const auto& r : records.at("records").as_array()) {
    if (r.at("action").as_string() != "POST /api/audit/prune" || r.at("outcome").as_string() != "ok") continue;
    CHECK(r.at("actor").as_string() == "admin");
    details.emplace_back(r.at("detail").as_string());
  }
  REQUIRE(details.size() == 2);
  CHECK(details[1].find("pruned " + std::to_string(first_day) + " records before 2026-03-03") == 0);
  CHECK(details[0].find("pruned 0 records before 2026-03-22") == 0);

  // Anything else stays append-only, whichever connection asks.
  const auto total = raw_count(database, "SELECT COUNT(*) FROM server_audit");
  CHECK_FALSE(raw_sql_error(database, "DELETE FROM server_audit").empty());
  CHECK_FALSE(raw_sql_error(database, "DELETE FROM server_audit WHERE at < " + std::to_string(f.clock.now())).empty());
  CHECK_FALSE(raw_sql_error(database, "UPDATE server_audit SET detail = 'rewritten'").empty());
  CHECK(raw_count(database, "SELECT COUNT(*) FROM server_audit") == total);
}

TEST_CASE("server: the audit retention is configurable, and never under 180 days", "[server][audit]") {
  SECTION("under 180 days the service does not start") {
    testing::ScratchDir dir{"onevisit-retention-test"};
    server::ServiceOptions options;
    options.database = dir.file("cases.db");
    options.listen = "127.0.0.1:0";
    options.cheap_password_hashing = true;
    options.audit_retention_days = 179;
    auto started = server::Service::start(options);
    REQUIRE_FALSE(started);
    CHECK(started.error().find("--audit-retention-days is at least 180") != std::string::npos);
  }
  SECTION("a year: records of 200 days ago stay") {
    LoginFixture f({.audit_retention_days = 365});
    f.clock.advance(200 * kDay);
    auto refused = f.as("admin").post("/api/audit/prune", json::object{{"before", "2026-03-03"}});
    CHECK(refused.status == 422);
    CHECK(refused.code() == "invalid");
    CHECK(refused.json().at("details").at("latest_before").as_string().size() == 10);
  }
}

TEST_CASE("server: an audit trail from before migration 2 keeps its records, and they become prunable", "[server][audit]") {
  testing::ScratchDir dir{"onevisit-audit-migration-test"};
  const auto database = dir.file("cases.db");
  // The engine's tables, and the server's as migration 1 left them, with one record of
  // 2025-01-02.
  REQUIRE(engine::Engine::open({database}));
  const engine::Timestamp old_at = dsl::days_from_civil({2025, 1, 2}) * kDay;
  REQUIRE(raw_sql_error(database, R"(
    CREATE TABLE server_schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
    INSERT INTO server_schema_migrations VALUES (1, 0);
    CREATE TABLE server_users (
      name TEXT PRIMARY KEY, display_name TEXT NOT NULL, role TEXT NOT NULL,
      department TEXT NOT NULL DEFAULT '', password_hash TEXT NOT NULL,
      disabled INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);
    CREATE TABLE server_sessions (
      token_hash TEXT PRIMARY KEY, user_name TEXT NOT NULL REFERENCES server_users(name),
      csrf_token TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
    CREATE TABLE server_api_tokens (
      id INTEGER PRIMARY KEY AUTOINCREMENT, user_name TEXT NOT NULL REFERENCES server_users(name),
      name TEXT NOT NULL, scope TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
      created_at INTEGER NOT NULL, revoked_at INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE server_audit (
      sequence INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL,
      role TEXT NOT NULL, remote_address TEXT NOT NULL, action TEXT NOT NULL,
      target TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL);
    CREATE INDEX server_audit_by_target ON server_audit(target, sequence);
    CREATE TRIGGER server_audit_no_update BEFORE UPDATE ON server_audit
      BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    CREATE TRIGGER server_audit_no_delete BEFORE DELETE ON server_audit
      BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    INSERT INTO server_audit (at, actor, role, remote_address, action, target, outcome, detail)
      VALUES ()" + std::to_string(old_at) + R"(, 'wang', 'window_clerk', '10.0.0.1', 'POST /api/cases', 'C1', 'ok', '');)")
              .empty());

  engine::VirtualClock clock{dsl::days_from_civil({2025, 9, 1}) * kDay};
  server::ServiceOptions options;
  options.database = database;
  options.listen = "127.0.0.1:0";
  options.clock = &clock;
  options.cheap_password_hashing = true;
  auto started = server::Service::start(options);
  if (!started) FAIL(started.error());
  Client admin((*started)->port());
  REQUIRE(admin.login("admin", *(*started)->initial_admin_password()).status == 200);
  const auto records = admin.get("/api/audit?target=C1").json();
  REQUIRE(records.at("records").as_array().size() == 1);
  const auto& old = records.at("records").as_array()[0];
  CHECK(old.at("count").as_int64() == 1);
  CHECK(old.at("last_action").as_string() == "POST /api/cases");
  CHECK(old.at("last_at") == old.at("at"));
  auto pruned = admin.post("/api/audit/prune", json::object{{"before", "2025-02-01"}});
  INFO(pruned.body);
  REQUIRE(pruned.status == 200);
  CHECK(pruned.json().at("pruned").as_int64() == 1);
  CHECK(raw_count(database, "SELECT COUNT(*) FROM server_audit WHERE target = 'C1'") == 0);
}
