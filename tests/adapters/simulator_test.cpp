// Fault tests against the department-system simulator: departments that are down for a while,
// answer 500s, answer too late, answer twice; an engine killed with SIGKILL in the middle of
// delivering. Afterwards every call committed with a transition has taken effect exactly once
// (the simulator's counts prove it), and none for a transition that was rolled back.
#include "e2e/department_world.hpp"
#include "postgres_support.hpp"
#include "server/raw_http.hpp"

#include <onevisit/adapters/results.hpp>

#include <boost/json.hpp>

#include <csignal>
#include <fstream>
#include <random>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

using namespace onevisit;
using namespace onevisit::engine;
using onevisit::testing::date_at;
using onevisit::testing::DepartmentWorld;
using onevisit::testing::kMinuteMs;

namespace {

// Keeps delivering, with the clock moving on so retries come due, until nothing is pending.
void deliver_everything(DepartmentWorld& w) {
  for (int round = 0; round < 400; ++round) {
    w.settle();
    auto pending = w.engine().calls("", "pending", 1'000'000);
    REQUIRE(pending);
    if (pending->empty()) return;
    w.clock().advance(10 * kMinuteMs);
  }
  FAIL("calls still pending");
}

}  // namespace

TEST_CASE("simulator: 500s, late answers and duplicate receipts change each case once", "[adapters][simulator]") {
  deptsim::Behaviour flaky;
  flaky.error_rate = 0.3;
  flaky.hang_rate = 0.15;
  flaky.hang = std::chrono::milliseconds(600);  // the adapter gives up after 400 ms
  flaky.duplicate = true;
  DepartmentWorld w("workflows/bundles/enterprise_startup.flow", "enterprise_startup", date_at(2026, 3, 2, 9, 0), flaky);
  std::vector<std::string> cases;
  for (int n = 0; n < 4; ++n) cases.push_back(w.start_case(100 + n));
  for (int round = 0; round < 200; ++round) {
    bool running = false;
    for (const auto& id : cases) {
      if (w.view(id).state.status != CaseStatus::running) continue;
      running = true;
      w.advance_items(id);
    }
    w.settle();
    w.clock().advance(30 * kMinuteMs);
    REQUIRE(w.engine().fire_due_timers());
    if (!running) break;
  }
  deliver_everything(w);
  for (const auto& id : cases) {
    CHECK(w.view(id).state.status == CaseStatus::completed);
    w.check_calls_took_effect_once(id);
  }
  // The faults really happened: errors, late answers, repeats.
  std::uint64_t errors = 0, timeouts = 0, repeats = 0;
  for (const auto& [department, c] : w.simulator().counts()) {
    errors += c.errors;
    timeouts += c.timeouts;
  }
  for (const auto& [key, n] : w.simulator().received()) repeats += n - 1;
  CHECK(errors > 0);
  CHECK(timeouts > 0);
  CHECK(repeats > 0);
  // Every document came back once, though answers came twice (or more).
  for (const auto& id : cases) {
    auto history = w.engine().history(id);
    REQUIRE(history);
    std::map<std::string, int> attached;
    for (const auto& e : *history) {
      if (e.type == "MaterialAttached" && e.payload.find("\"elicense\":true") != std::string::npos) ++attached[e.payload];
    }
    for (const auto& [payload, n] : attached) CHECK(n == 1);
  }
}

TEST_CASE("simulator: a department down for a while opens its circuit, then gets every call once", "[adapters][simulator]") {
  DepartmentWorld w("workflows/bundles/newborn.flow", "newborn", date_at(2026, 3, 2, 9, 0));
  w.set_departments_down(true);
  const std::string id = w.start_case(7);
  w.run_to_completion(id);  // the engine goes on; the calls wait
  CHECK(w.view(id).state.status == CaseStatus::completed);
  auto pending = w.engine().calls(id, "pending", 1000);
  REQUIRE(pending);
  std::size_t department_calls = 0;
  for (const auto& p : *pending) department_calls += p.adapter != "notify";
  CHECK(department_calls > 0);
  bool some_circuit_open = false;
  for (const auto& d : w.workflow().departments) some_circuit_open = some_circuit_open || w.delivery().dispatcher().circuit_open(d.id, w.clock().now());
  CHECK(some_circuit_open);
  CHECK(w.simulator().effects().empty());
  std::uint64_t dropped = 0;
  for (const auto& [department, c] : w.simulator().counts()) dropped += c.dropped;
  CHECK(dropped > 0);

  // Back up: after the cool-down, a probe, then everything, once.
  w.set_departments_down(false);
  deliver_everything(w);
  w.check_calls_took_effect_once(id);
}

TEST_CASE("simulator: a transition that was rolled back sends nothing", "[adapters][simulator]") {
  DepartmentWorld w("workflows/bundles/newborn.flow", "newborn", date_at(2026, 3, 2, 9, 0));
  const std::string id = w.start_case(9);
  const auto before = w.view(id).state.version;
  // A commit with a stale expected version is refused whole: its outbox entry with it.
  CommitRequest stale;
  stale.command_id = "stale-command";
  stale.summary.case_id = id;
  stale.summary.bundle_id = "newborn";
  stale.summary.bundle_version = 1;
  stale.summary.status = "running";
  stale.summary.version = before + 1;
  stale.expected_version = before - 1;
  stale.snapshot = "{}";
  stale.events.push_back(StoredEvent{before, "CaseWithdrawn", R"({"reason":"ghost"})", w.clock().now()});
  OutboxRecord intent;
  intent.idempotency_key = id + "/ghost/1/0";
  intent.case_id = id;
  intent.department = "police";
  for (const auto& d : w.workflow().departments) {
    if (!d.adapter.empty()) intent.adapter = d.adapter;
  }
  intent.operation = "submit";
  intent.payload = "{}";
  stale.outbox.push_back(intent);
  auto committed = w.store().commit(stale);
  REQUIRE_FALSE(committed);
  // A command refused by decide commits nothing either.
  auto refused = w.engine().execute(id, FireEvent{w.workflow().items.front().id, "approve", {}}, {.command_id = "", .actor = "x", .role = "applicant"});
  REQUIRE_FALSE(refused);
  w.settle();
  CHECK(w.simulator().effects().count(intent.idempotency_key) == 0);
  auto calls = w.engine().calls(id, "", 1000);
  REQUIRE(calls);
  for (const auto& c : *calls) CHECK(c.idempotency_key != intent.idempotency_key);
  CHECK(w.view(id).state.version == before);
}

namespace {

pid_t spawn_dispatch(const std::string& db, const std::string& config) {
  const std::string program = ONEVISIT_CLI;
  std::vector<std::string> args{program, "--log-level", "off", "dispatch", "--db", db, "--config", config, "--interval-ms", "5"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(spawned == 0);
  return pid;
}

}  // namespace

TEST_CASE("simulator: the engine killed mid-delivery delivers the rest after restart, each once", "[adapters][simulator]") {
  namespace fs = std::filesystem;
  std::string pattern = (fs::temp_directory_path() / "onevisit-kill-XXXXXX").string();
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  const fs::path dir = pattern;
  const std::string db = (dir / "cases.db").string();

  deptsim::Options options;
  options.behaviours["*"].latency = std::chrono::milliseconds(10);  // delivery takes a while
  auto simulator = deptsim::Simulator::start(options);
  REQUIRE(simulator);

  // Cases approved while no dispatcher runs: their calls wait in the outbox.
  std::set<std::string> systems;
  {
    VirtualClock clock(date_at(2026, 3, 2, 9, 0));
    auto opened = Engine::open({.database = db, .clock = &clock});
    REQUIRE(opened);
    auto& engine = **opened;
    REQUIRE(engine.deploy({std::string(ONEVISIT_SOURCE_DIR) + "/workflows/bundles/enterprise_startup.flow"}));
    const auto wf = engine.workflow("enterprise_startup");
    for (const auto& d : wf->departments) {
      if (!d.adapter.empty()) systems.insert(d.adapter);
    }
    SimulationOptions sim{.bundle_id = "enterprise_startup", .cases = 40, .seed = 3, .correction_rate = 0, .step_minutes = 60};
    auto report = simulate(engine, clock, sim);
    REQUIRE(report);
    REQUIRE(report->cases_completed == 40);
  }
  const std::string config = (dir / "adapters.toml").string();
  {
    std::ofstream out(config);
    for (const auto& s : systems) out << "[systems." << s << "]\nkind = \"http\"\nurl = \"" << (*simulator)->url() << "/dept/" << s << "\"\n";
    out << "[systems.notify]\nkind = \"sms\"\nurl = \"" << (*simulator)->url() << "/sms\"\n";
    out << "[dispatch]\nworkers = 4\nfirst_backoff_ms = 10\n";
  }

  // Kill the dispatcher three times in the middle of its work, then let it finish.
  // Each kill comes once the dispatcher is delivering (new effects at the simulator), at a
  // random moment after that: however slow the build, it lands mid-delivery.
  std::mt19937 random(42);
  for (int kill = 0; kill < 3; ++kill) {
    const auto seen = (*simulator)->effects().size();
    const pid_t pid = spawn_dispatch(db, config);
    for (int wait = 0; wait < 2000 && (*simulator)->effects().size() == seen; ++wait) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 40)(random)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
  }
  const auto effects_before_finish = (*simulator)->effects().size();
  CHECK(effects_before_finish > 0);  // the kills really came mid-delivery ...
  {
    auto opened = open_sqlite_store(db);
    REQUIRE(opened);
    auto pending = (*opened)->list_outbox("", "pending", 1'000'000);
    REQUIRE(pending);
    CHECK(!pending->empty());  // ... with calls still to deliver
  }

  const pid_t last = spawn_dispatch(db, config);
  std::size_t pending_left = 1;
  for (int wait = 0; wait < 600 && pending_left; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto opened = open_sqlite_store(db);
    REQUIRE(opened);
    auto pending = (*opened)->list_outbox("", "pending", 1'000'000);
    REQUIRE(pending);
    pending_left = pending->size();
  }
  ::kill(last, SIGTERM);
  int status = 0;
  ::waitpid(last, &status, 0);
  REQUIRE(pending_left == 0);

  auto store = open_sqlite_store(db);
  REQUIRE(store);
  auto calls = (*store)->list_outbox("", "", 1'000'000);
  REQUIRE(calls);
  const auto effects = (*simulator)->effects();
  std::size_t department_calls = 0;
  std::set<std::string> committed;
  for (const auto& call : *calls) {
    committed.insert(call.idempotency_key);
    CHECK(call.status == "delivered");
    if (call.adapter == "notify") continue;
    ++department_calls;
    const auto it = effects.find(call.idempotency_key);
    INFO("call " << call.idempotency_key);
    REQUIRE(it != effects.end());
    CHECK(it->second == 1);
  }
  CHECK(department_calls >= 40);
  for (const auto& [key, n] : effects) CHECK(committed.contains(key));  // nothing that was not committed
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST_CASE("simulator: three dispatchers on one PostgreSQL database, one killed -9 five times, deliver every call, each once",
          "[adapters][simulator][postgres]") {
  onevisit::testing::PostgresScratch scratch;
  deptsim::Options options;
  options.behaviours["*"].latency = std::chrono::milliseconds(5);
  auto simulator = deptsim::Simulator::start(options);
  REQUIRE(simulator);
  std::set<std::string> systems;
  {
    VirtualClock clock(date_at(2026, 3, 2, 9, 0));
    auto opened = Engine::open({.database = scratch.url(), .clock = &clock});
    if (!opened) FAIL(opened.error().message);
    auto& engine = **opened;
    REQUIRE(engine.deploy({std::string(ONEVISIT_SOURCE_DIR) + "/workflows/bundles/enterprise_startup.flow"}));
    for (const auto& d : engine.workflow("enterprise_startup")->departments) {
      if (!d.adapter.empty()) systems.insert(d.adapter);
    }
    SimulationOptions sim{.bundle_id = "enterprise_startup", .cases = 40, .seed = 5, .correction_rate = 0, .step_minutes = 60};
    auto report = simulate(engine, clock, sim);
    REQUIRE(report);
    REQUIRE(report->cases_completed == 40);
  }
  onevisit::testing::ScratchDir folder;
  const std::string config = folder.file("adapters.toml");
  {
    std::ofstream out(config);
    for (const auto& s : systems) out << "[systems." << s << "]\nkind = \"http\"\nurl = \"" << (*simulator)->url() << "/dept/" << s << "\"\n";
    out << "[systems.notify]\nkind = \"sms\"\nurl = \"" << (*simulator)->url() << "/sms\"\n";
    // A short lease: a killed node's calls pass to the others soon.
    out << "[dispatch]\nworkers = 4\nfirst_backoff_ms = 10\nbatch = 8\nlease_ms = 500\n";
  }
  auto store = open_postgres_store(scratch.url());
  REQUIRE(store);
  const auto pending_calls = [&] {
    auto pending = (*store)->list_outbox("", "pending", 1'000'000);
    REQUIRE(pending);
    return pending->size();
  };
  REQUIRE(pending_calls() > 40);

  // Three nodes deliver at once; one of them is killed at random moments and started again.
  std::vector<pid_t> nodes{spawn_dispatch(scratch.url(), config), spawn_dispatch(scratch.url(), config),
                           spawn_dispatch(scratch.url(), config)};
  std::mt19937 random(7);
  int kills = 0;
  for (; kills < 5 && pending_calls() > 0; ++kills) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(20, 120)(random)));
    const auto victim = std::uniform_int_distribution<std::size_t>(0, nodes.size() - 1)(random);
    ::kill(nodes[victim], SIGKILL);
    int status = 0;
    ::waitpid(nodes[victim], &status, 0);
    nodes[victim] = spawn_dispatch(scratch.url(), config);
  }
  for (int wait = 0; wait < 600 && pending_calls() > 0; ++wait) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  for (const pid_t pid : nodes) {
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  REQUIRE(pending_calls() == 0);

  auto calls = (*store)->list_outbox("", "", 1'000'000);
  REQUIRE(calls);
  const auto effects = (*simulator)->effects();
  const auto received = (*simulator)->received();
  std::size_t department_calls = 0;
  std::uint64_t requests = 0;
  std::set<std::string> committed;
  std::map<std::string, std::size_t> calls_per_case;
  for (const auto& call : *calls) {
    committed.insert(call.idempotency_key);
    CHECK(call.status == "delivered");
    if (call.adapter == "notify") continue;
    ++department_calls;
    ++calls_per_case[call.case_id];
    INFO("call " << call.idempotency_key);
    const auto it = effects.find(call.idempotency_key);
    REQUIRE(it != effects.end());
    CHECK(it->second == 1);  // took effect once at the department
    const auto sent = received.find(call.idempotency_key);
    if (sent != received.end()) requests += sent->second;
  }
  CHECK(department_calls >= 40);
  for (const auto& [key, n] : effects) CHECK(committed.contains(key));
  // Each call was sent by one node: repeats come only from a killed node's round, whose
  // calls went out but whose outcomes were not yet recorded (at most `batch` cases' calls a
  // kill; three dispatchers without claims would send each call about three times).
  std::size_t most = 0;
  for (const auto& [case_id, n] : calls_per_case) most = std::max(most, n);
  INFO(kills << " kills, " << requests << " requests for " << department_calls << " calls");
  CHECK(kills == 5);
  CHECK(requests >= department_calls);
  CHECK(requests <= department_calls + static_cast<std::uint64_t>(kills) * 8 * most);
}

namespace {

// One request to the simulator, answered within the raw client's deadline.
onevisit::testing::RawResponse ask(unsigned short port, const std::string& request) {
  onevisit::testing::RawConnection connection(port);
  REQUIRE(connection.send(request));
  auto response = connection.read_response();
  REQUIRE(response);
  return *response;
}

std::string reader_get(const std::string& origin) {
  return "GET /idreader/read HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: " + origin + "\r\nConnection: close\r\n\r\n";
}

std::string reader_control(const std::string& body) {
  return "POST /idreader/control HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

TEST_CASE("simulator: the ID-card reader reads its card for the console's origin only, and fails as told", "[adapters][simulator][id_reader]") {
  const std::string console = "http://127.0.0.1:8080";
  SECTION("off unless asked for") {
    auto simulator = deptsim::Simulator::start(deptsim::Options{});
    REQUIRE(simulator);
    CHECK(ask((*simulator)->port(), reader_get(console)).status == 404);
  }
  deptsim::Options options;
  options.id_reader.enabled = true;
  options.id_reader.origins = {console};
  auto simulator = deptsim::Simulator::start(options);
  REQUIRE(simulator);
  const auto port = (*simulator)->port();

  SECTION("the card, with CORS for the console's origin") {
    const auto read = ask(port, reader_get(console));
    CHECK(read.status == 200);
    CHECK(read.header("access-control-allow-origin") == console);
    const auto card = boost::json::parse(read.body).as_object();
    CHECK(card.at("name").as_string() == "王小明");
    CHECK(card.at("id_number").as_string() == "330106199003070014");
    for (const auto* key : {"sex", "nation", "birth_date", "address", "issuer", "valid_from", "valid_to"}) CHECK(card.contains(key));
  }
  SECTION("another origin gets no CORS header, so its page cannot read the card") {
    CHECK(ask(port, reader_get("http://evil.example")).header("access-control-allow-origin").empty());
  }
  SECTION("the preflight of a page on a public address is answered for the console only") {
    const auto preflight = ask(port, "OPTIONS /idreader/read HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: " + console +
                                         "\r\nAccess-Control-Request-Method: GET\r\nAccess-Control-Request-Private-Network: true\r\n"
                                         "Connection: close\r\n\r\n");
    CHECK(preflight.status == 204);
    CHECK(preflight.header("access-control-allow-origin") == console);
    CHECK(preflight.header("access-control-allow-private-network") == "true");
  }
  SECTION("a configured card, then each failure with its code") {
    REQUIRE(ask(port, reader_control(R"({"card":{"name":"李晓红","sex":"女","id_number":"110105198506150022"}})")).status == 200);
    const auto card = boost::json::parse(ask(port, reader_get(console)).body).as_object();
    CHECK(card.at("name").as_string() == "李晓红");
    CHECK(card.at("id_number").as_string() == "110105198506150022");
    CHECK(card.at("nation").as_string() == "汉");  // not given: as it was
    for (const auto& [failure, status] : {std::pair{"no_reader", 503u}, {"no_card", 404u}, {"read_failed", 500u}}) {
      REQUIRE(ask(port, reader_control(std::string(R"({"failure":")") + failure + "\"}")).status == 200);
      const auto answer = ask(port, reader_get(console));
      CHECK(answer.status == status);
      CHECK(answer.header("access-control-allow-origin") == console);  // the page may read why
      CHECK(boost::json::parse(answer.body).as_object().at("error").as_string() == failure);
    }
    REQUIRE(ask(port, reader_control(R"({"failure":"offline"})")).status == 200);
    onevisit::testing::RawConnection connection(port);
    REQUIRE(connection.send(reader_get(console)));
    CHECK_FALSE(connection.read_response());  // closed without an answer
  }
  SECTION("bad control requests change nothing") {
    CHECK(ask(port, reader_control(R"({"failure":"on_fire"})")).status == 400);
    CHECK(ask(port, reader_control("not json")).status == 400);
    CHECK(ask(port, reader_get(console)).status == 200);
  }
}
