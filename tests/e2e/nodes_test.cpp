// Several `onevisit serve` nodes on one PostgreSQL database, as real processes (issue 16):
// clients start cases and fire item events through the REST API with idempotency keys while
// one node at a time is killed with SIGKILL and started again; a client whose request fails
// retries it on another node with the same key. Afterwards every acknowledged command is in
// the database once, no case is half-applied, every timer fired once and every department
// call took effect once at the department simulator.
#include "../postgres_support.hpp"
#include "../test_support.hpp"
#include "deptsim/simulator.hpp"
#include "server/http_client.hpp"

#include <onevisit/engine/engine.hpp>
#include <onevisit/engine/store.hpp>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

namespace json = boost::json;
using onevisit::testing::Client;
using onevisit::testing::PostgresScratch;
using onevisit::testing::Reply;
using onevisit::testing::ScratchDir;

// One item with a one-working-day limit: accepting it sets its warning and overdue timers,
// approving it calls the market's system (and ends its timers).
const std::string kFlow = R"(
lifecycle quick {
  state submitted initial; state accepted; state approved final
  on accept: submitted -> accepted by clerk
  on approve: accepted -> approved by reviewer do call(dept.submit)
  warn at 80%
  on overdue do escalate(supervisor)
}
department market "市场监管局" adapter market_registry
item registration "设立登记" by market { limit 1 workday }
bundle quick "快办" version 1 {
  promise 1 workday; lifecycle quick
  form { company_name "企业名称": text required }
  use registration
}
)";

const std::string kPassword = "correct horse battery";

// Catch's assertions are for the test's own thread; the clients and the killer run on others
// and throw this instead, which run_load collects.
void expect(bool holds, const std::string& what) {
  if (!holds) throw std::runtime_error(what);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The nodes: `onevisit serve` processes on one database, each on a port of its own.
class Cluster {
 public:
  Cluster(std::string database, std::string workflows, std::string config, std::string logs)
      : database_(std::move(database)), workflows_(std::move(workflows)), config_(std::move(config)), logs_(std::move(logs)) {}
  ~Cluster() {
    for (auto& node : nodes_) stop(node, SIGTERM);
  }

  /// Starts node `index` (a new one at the end when index == size()) and waits until it listens.
  void start(std::size_t index, int clock_offset_days = 0) {
    const std::string log = logs_ + "/node-" + std::to_string(index) + "-" + std::to_string(started_++) + ".log";
    std::vector<std::string> args{ONEVISIT_CLI, "serve", "--db", database_, "--workflows", workflows_, "--config", config_,
                                  "--listen", "127.0.0.1:0", "--threads", "4"};
    if (clock_offset_days != 0) {
      args.push_back("--clock-offset-days");
      args.push_back(std::to_string(clock_offset_days));
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = 0;
    const int spawned = posix_spawn(&pid, ONEVISIT_CLI, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    expect(spawned == 0, "cannot start onevisit serve");
    const std::regex listening(R"(listening on http://127\.0\.0\.1:(\d+)/)");
    std::smatch match;
    std::string output;
    for (int wait = 0; wait < 600; ++wait) {
      output = read_file(log);
      if (std::regex_search(output, match, listening)) break;
      int status = 0;
      expect(::waitpid(pid, &status, WNOHANG) != pid, "node " + std::to_string(index) + " exited: " + output);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    expect(match.size() == 2, "node " + std::to_string(index) + " did not start listening: " + output);
    std::smatch password;
    if (std::regex_search(output, password, std::regex(R"(password ([0-9a-f]{24}))"))) admin_password_ = password[1];
    std::lock_guard lock(mutex_);
    const Node node{pid, static_cast<unsigned short>(std::stoi(match[1]))};
    if (index == nodes_.size()) nodes_.push_back(node);
    else nodes_[index] = node;
  }

  /// Kills node `index` with `signal` and waits for it.
  void kill(std::size_t index, int signal) {
    Node node;
    {
      std::lock_guard lock(mutex_);
      node = nodes_[index];
      nodes_[index].port = 0;  // clients skip it until it is back
    }
    stop(node, signal);
  }

  /// Stops node `index` (SIGSTOP) without closing its connections: requests sent to it wait.
  void freeze(std::size_t index) {
    std::lock_guard lock(mutex_);
    ::kill(nodes_[index].pid, SIGSTOP);
  }

  /// The port of node `index` (0 while it is down).
  unsigned short port(std::size_t index) const {
    std::lock_guard lock(mutex_);
    return nodes_[index].port;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return nodes_.size();
  }
  const std::string& admin_password() const { return admin_password_; }

 private:
  struct Node {
    pid_t pid = 0;
    unsigned short port = 0;
  };
  static void stop(Node& node, int signal) {
    if (node.pid <= 0) return;
    ::kill(node.pid, signal);
    int status = 0;
    ::waitpid(node.pid, &status, 0);
    node.pid = 0;
  }

  std::string database_, workflows_, config_, logs_;
  std::vector<Node> nodes_;
  int started_ = 0;
  std::string admin_password_;
  mutable std::mutex mutex_;
};

// A client's session, used on whichever node answers: a request that fails (the node died,
// or it answered 5xx) goes to the next node with the same Idempotency-Key.
struct Caller {
  std::string session, csrf;

  Reply send(Cluster& cluster, std::mt19937& random, const std::string& method, const std::string& path, const json::value& body,
             const std::string& key, int& retries, int& unavailable) {
    std::size_t node = std::uniform_int_distribution<std::size_t>(0, cluster.size() - 1)(random);
    for (int attempt = 0; attempt < 400; ++attempt, node = (node + 1) % cluster.size()) {
      const unsigned short port = cluster.port(node);
      if (port == 0) continue;
      Client client(port);
      client.session() = session;
      client.csrf() = csrf;
      try {
        Reply reply = client.send(method, path, json::serialize(body), {{"Idempotency-Key", key}});
        if (reply.status < 500) return reply;
        // The database was out of reach: said so, with when to try again.
        if (reply.status == 503 && reply.header("retry-after") == "1" && reply.body.find("\"unavailable\"") != std::string::npos) ++unavailable;
      } catch (const std::exception&) {
        // the node died under the request: its outcome is unknown until the retry answers
      }
      ++retries;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("no node answered " + method + " " + path);
  }
};

Caller log_in(unsigned short port, const std::string& name, const std::string& password) {
  Client client(port);
  const auto reply = client.login(name, password);
  INFO(reply.body);
  REQUIRE(reply.status == 200);
  return Caller{client.session(), client.csrf()};
}

std::size_t count_of(const std::vector<onevisit::engine::StoredEvent>& events, const std::string& type) {
  return static_cast<std::size_t>(std::count_if(events.begin(), events.end(), [&](const auto& e) { return e.type == type; }));
}

// The world of a test: the department simulator, the workflow and configuration, the nodes.
struct World {
  ScratchDir dir{"onevisit-nodes"};
  std::unique_ptr<onevisit::deptsim::Simulator> simulator;
  std::unique_ptr<Cluster> cluster;
  Caller clerk, reviewer;

  explicit World(const std::string& database) {
    std::filesystem::create_directories(dir.path() / "workflows");
    std::ofstream(dir.file("workflows/quick.flow")) << kFlow;
    onevisit::deptsim::Options sim;
    sim.behaviours["*"].latency = std::chrono::milliseconds(5);
    auto started = onevisit::deptsim::Simulator::start(sim);
    if (!started) FAIL(started.error());
    simulator = std::move(*started);
    {
      std::ofstream config(dir.file("deploy.toml"));
      config << "[systems.market_registry]\nkind = \"http\"\nurl = \"" << simulator->url() << "/dept/market_registry\"\n"
             << "[systems.notify]\nkind = \"log\"\n"
             << "[dispatch]\nworkers = 2\nfirst_backoff_ms = 10\nbatch = 8\nlease_ms = 500\n";
    }
    cluster = std::make_unique<Cluster>(database, dir.file("workflows"), dir.file("deploy.toml"), dir.path().string());
    for (std::size_t i = 0; i < 3; ++i) cluster->start(i);  // the first deploys and makes the admin
    REQUIRE_FALSE(cluster->admin_password().empty());
    Client admin(cluster->port(1));  // another node than the one that made the admin
    REQUIRE(admin.login("admin", cluster->admin_password()).status == 200);
    for (const auto& [name, role, department] : {std::tuple{"clerk", "window_clerk", ""}, {"market", "reviewer", "market"}}) {
      const auto created = admin.post("/api/users", json::object{{"name", name}, {"role", role}, {"department", department}, {"password", kPassword}});
      INFO(created.body);
      REQUIRE(created.status == 201);
    }
    // Sessions made on one node serve on every node (they live in the database).
    clerk = log_in(cluster->port(2), "clerk", kPassword);
    reviewer = log_in(cluster->port(0), "market", kPassword);
  }
  ~World() {
    cluster.reset();
    if (simulator) simulator->stop();
  }
};

// What the clients were told: the acknowledged commands of each case.
struct Load {
  std::mutex mutex;
  std::vector<std::string> failures;                          // what went wrong on the other threads
  std::map<std::string, std::set<std::string>> acknowledged;  // case id -> commands
  std::atomic<int> commands{0};                               // acknowledged so far
  std::atomic<int> retries{0};                                // requests sent again to another node
  std::atomic<int> unavailable{0};                            // answered 503 unavailable with Retry-After
};

// Three clients, each starting `cases` cases, accepting each and approving every other one,
// while `meanwhile` runs (kills, a failover).
void run_load(World& world, int cases, Load& load, const std::function<void()>& meanwhile) {
  constexpr int kClients = 3;
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 random(100 + c);
      int tried_again = 0, unavailable = 0;
      try {
      for (int i = 0; i < cases; ++i) {
        const std::string case_id = "N" + std::to_string(c) + "-" + std::to_string(i);
        const auto command = [&](Caller who, const std::string& name, const std::string& path, const json::value& body,
                                 unsigned status) {
          auto reply = who.send(*world.cluster, random, "POST", path, body, name + "-" + case_id, tried_again, unavailable);
          expect(reply.status == status || (name == "start" && reply.status == 200),
                 name + " " + case_id + ": " + std::to_string(reply.status) + " " + reply.body);
          std::lock_guard lock(load.mutex);
          load.acknowledged[case_id].insert(name);
          ++load.commands;
        };
        command(world.clerk, "start", "/api/cases",
                json::object{{"bundle", "quick"}, {"case_id", case_id}, {"form", json::object{{"company_name", "节点测试" + case_id}}}}, 201);
        command(world.clerk, "accept", "/api/cases/" + case_id + "/items/registration/events/accept", json::object{}, 200);
        if (i % 2 == 0) command(world.reviewer, "approve", "/api/cases/" + case_id + "/items/registration/events/approve", json::object{}, 200);
      }
      } catch (const std::exception& e) {
        std::lock_guard lock(load.mutex);
        load.failures.push_back("client " + std::to_string(c) + ": " + e.what());
      }
      load.retries += tried_again;
      load.unavailable += unavailable;
    });
  }
  std::thread other([&] {
    try {
      meanwhile();
    } catch (const std::exception& e) {
      std::lock_guard lock(load.mutex);
      load.failures.push_back(std::string("meanwhile: ") + e.what());
    }
  });
  for (auto& t : clients) t.join();
  other.join();
  for (const auto& failure : load.failures) FAIL_CHECK(failure);
  REQUIRE(load.failures.empty());
  REQUIRE(load.acknowledged.size() == static_cast<std::size_t>(kClients * cases));
}

// Every timer comes due: the nodes start again with their clocks a month ahead (one killed
// on the way) and fire them; returns when none is due and no call is pending.
void fire_every_timer(World& world, onevisit::engine::Store& store, std::mt19937& random) {
  for (std::size_t i = 0; i < 3; ++i) {
    world.cluster->kill(i, SIGTERM);
    world.cluster->start(i, 30);
  }
  const auto month_ahead = onevisit::engine::SystemClock().now() + 31LL * 24 * 3600 * 1000;
  const auto settled = [&] {
    auto due = store.due_timers(month_ahead, 1000);
    auto pending = store.list_outbox("", "pending", 100000);
    REQUIRE(due);
    REQUIRE(pending);
    return due->empty() && pending->empty();
  };
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  world.cluster->kill(std::uniform_int_distribution<std::size_t>(0, 2)(random), SIGKILL);
  for (int wait = 0; wait < 600 && !settled(); ++wait) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(settled());
}

// Every acknowledged command in the database once, no case half-applied, every timer fired
// once, every department call delivered and taken effect once at the department.
void check_counts(World& world, onevisit::engine::Store& store, Load& load) {
  std::size_t approved_cases = 0;
  for (const auto& [case_id, commands] : load.acknowledged) {
    INFO("case " << case_id);
    auto stored = store.load_case(case_id);
    REQUIRE(stored);
    REQUIRE(stored->has_value());
    auto events = store.load_events(case_id);
    REQUIRE(events);
    CHECK(events->size() == (*stored)->summary.version);  // the case row and its history agree
    CHECK(count_of(*events, "CaseStarted") == 1);
    const bool approved = commands.contains("approve");
    approved_cases += approved ? 1 : 0;
    CHECK(count_of(*events, "ItemTransitioned") == (approved ? 2u : 1u));
    // An approved item's timers ended with it; an open one's each fired once.
    CHECK(count_of(*events, "ItemWarned") == (approved ? 0u : 1u));
    CHECK(count_of(*events, "ItemOverdue") == (approved ? 0u : 1u));
    CHECK((*stored)->summary.status == (approved ? "completed" : "running"));
  }
  auto calls = store.list_outbox("", "", 100000);
  REQUIRE(calls);
  const auto effects = world.simulator->effects();
  std::size_t department_calls = 0;
  for (const auto& call : *calls) {
    INFO("call " << call.idempotency_key << " " << call.status);
    CHECK(call.status == "delivered");
    if (call.adapter != "market_registry") continue;
    ++department_calls;
    const auto it = effects.find(call.idempotency_key);
    REQUIRE(it != effects.end());
    CHECK(it->second == 1);
  }
  CHECK(department_calls == approved_cases);
  CHECK(effects.size() == approved_cases);
}

}  // namespace

TEST_CASE("nodes: three serve processes on one PostgreSQL database, one killed -9 at random moments, apply every acknowledged "
          "command once, fire every timer once, make every department call once",
          "[e2e][postgres][nodes]") {
  PostgresScratch scratch;
  World world(scratch.url());
  Load load;
  std::mt19937 random(7);
  int kills = 0;
  // One node at a time is killed at a random moment and started again (on a new port).
  run_load(world, 40, load, [&] {
    for (; kills < 5; ++kills) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(20, 200)(random)));
      const auto victim = std::uniform_int_distribution<std::size_t>(0, 2)(random);
      // Frozen first for a moment, so that requests are caught inside it when it dies (a kill
      // between two requests would test nothing).
      world.cluster->freeze(victim);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      world.cluster->kill(victim, SIGKILL);
      world.cluster->start(victim);
    }
  });
  auto store = onevisit::engine::open_postgres_store(scratch.url());
  REQUIRE(store);
  fire_every_timer(world, **store, random);
  check_counts(world, **store, load);
  WARN(kills << " kills, " << load.retries.load() << " requests retried on another node");
  CHECK(kills == 5);
  CHECK(load.retries.load() > 0);  // the kills did land under requests
}

namespace {

// A primary and its synchronous standby of the test's own (scripts/pg_cluster.sh), beside
// the shared test cluster (which other tests use meanwhile: it is never stopped).
class ReplicatedDatabase {
 public:
  /// `with_standby`: false for a primary alone.
  explicit ReplicatedDatabase(bool with_standby = true) {
    const std::string shared = onevisit::testing::postgres_url();
    const auto host = shared.find("host=");
    REQUIRE(host != std::string::npos);
    const std::filesystem::path socket = shared.substr(host + 5, shared.find('&', host) - host - 5);
    dir_ = (socket.parent_path().parent_path() / ("pg-failover-" + std::to_string(::getpid()))).string();
    url_ = script("start");
    if (with_standby) url_ = script("standby");
    while (!url_.empty() && (url_.back() == '\n' || url_.back() == ' ')) url_.pop_back();
    if (with_standby) REQUIRE(url_.find("target_session_attrs=read-write") != std::string::npos);
  }
  ~ReplicatedDatabase() { (void)std::system(("bash " + script_path() + " stop " + dir_ + " >/dev/null 2>&1").c_str()); }
  ReplicatedDatabase(const ReplicatedDatabase&) = delete;
  ReplicatedDatabase& operator=(const ReplicatedDatabase&) = delete;

  const std::string& url() const { return url_; }
  /// Runs `scripts/pg_cluster.sh <action> <dir> [which]`; its output.
  std::string script(const std::string& action, const std::string& which = "") {
    FILE* pipe = ::popen(("bash " + script_path() + " " + action + " " + dir_ + " " + which + " 2>&1").c_str(), "r");
    expect(pipe != nullptr, "cannot run pg_cluster.sh");
    std::string output;
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
    const int status = ::pclose(pipe);
    expect(status == 0, "pg_cluster.sh " + action + " " + which + ": " + output);
    // `start` prints the primary's URL, `standby` the multi-host one: the last line.
    const auto last = output.find_last_of('\n', output.size() >= 2 ? output.size() - 2 : 0);
    return last == std::string::npos ? output : output.substr(last + 1);
  }

 private:
  static std::string script_path() { return std::string(ONEVISIT_SOURCE_DIR) + "/scripts/pg_cluster.sh"; }
  std::string dir_;
  std::string url_;
};

}  // namespace

TEST_CASE("nodes: the standby promoted under load, then the database stopped and started again under the nodes: every "
          "acknowledged command once, every timer once, every department call once",
          "[e2e][postgres][nodes][failover]") {
  ReplicatedDatabase database;
  World world(database.url());
  Load load;
  std::mt19937 random(11);
  constexpr int kCases = 14;  // per client: 3 x (14 starts, 14 accepts, 7 approvals) = 105 commands
  run_load(world, kCases, load, [&] {
    // The primary fails a third of the way in; its standby is promoted.
    while (load.commands < 35) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    database.script("halt", "primary");
    database.script("promote");
    // Two thirds in, the new primary stops and starts again a second later.
    while (load.commands < 70) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    database.script("halt", "standby");
    std::this_thread::sleep_for(std::chrono::seconds(1));
    database.script("resume", "standby");
  });
  auto store = onevisit::engine::open_postgres_store(database.url());
  REQUIRE(store);
  fire_every_timer(world, **store, random);
  check_counts(world, **store, load);
  WARN(load.retries.load() << " requests retried on another node, " << load.unavailable.load() << " of them answered 503 unavailable");
  CHECK(load.retries.load() > 0);  // the outages were felt,
  CHECK(load.unavailable.load() > 0);  // and answered with a retryable error
}

namespace {

// Two nodes on one database, no department simulator: for what one node must see of another.
struct TwoNodes {
  ScratchDir dir{"onevisit-two-nodes"};
  std::unique_ptr<Cluster> cluster;

  explicit TwoNodes(const std::string& database) {
    std::filesystem::create_directories(dir.path() / "workflows");
    std::ofstream(dir.file("workflows/quick.flow")) << kFlow;
    std::ofstream(dir.file("deploy.toml")) << "[systems.market_registry]\nkind = \"log\"\n[systems.notify]\nkind = \"log\"\n";
    cluster = std::make_unique<Cluster>(database, dir.file("workflows"), dir.file("deploy.toml"), dir.path().string());
    for (std::size_t i = 0; i < 2; ++i) cluster->start(i);
    REQUIRE_FALSE(cluster->admin_password().empty());
  }
};

}  // namespace

TEST_CASE("nodes: a wrong password on one node counts on the other (the login throttle lives in the database)",
          "[e2e][postgres][nodes][login]") {
  PostgresScratch scratch;
  TwoNodes nodes(scratch.url());
  Client admin(nodes.cluster->port(0));
  REQUIRE(admin.login("admin", nodes.cluster->admin_password()).status == 200);
  REQUIRE(admin.post("/api/users", json::object{{"name", "clerk"}, {"role", "window_clerk"}, {"password", kPassword}}).status == 201);
  // The free failures of one user name from one address (five), spent on node 0 ...
  for (int i = 0; i < 5; ++i) {
    Client guesser(nodes.cluster->port(0));
    const auto reply = guesser.login("clerk", "wrong password " + std::to_string(i));
    INFO(reply.body);
    REQUIRE(reply.status == 401);
  }
  // ... delay the next attempt on node 1, the right password too.
  Client elsewhere(nodes.cluster->port(1));
  const auto delayed = elsewhere.login("clerk", "wrong password 5");
  INFO(delayed.body);
  CHECK(delayed.status == 429);
  CHECK_FALSE(delayed.header("retry-after").empty());
  CHECK(elsewhere.login("clerk", kPassword).status == 429);
  // After the wait the right password gets in, on either node, and the user's counter starts over.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CHECK(Client(nodes.cluster->port(0)).login("clerk", kPassword).status == 200);
  CHECK(Client(nodes.cluster->port(1)).login("clerk", "wrong password 6").status == 401);
}

TEST_CASE("nodes: a deploy through one node serves on the other within the deploy check's second, its calendar too",
          "[e2e][postgres][nodes][deploy]") {
  PostgresScratch scratch;
  TwoNodes nodes(scratch.url());
  Client admin(nodes.cluster->port(0));
  REQUIRE(admin.login("admin", nodes.cluster->admin_password()).status == 200);
  for (const auto& [name, role] : {std::pair{"clerk", "window_clerk"}, {"designer", "designer"}}) {
    REQUIRE(admin.post("/api/users", json::object{{"name", name}, {"role", role}, {"password", kPassword}}).status == 201);
  }
  Client designer(nodes.cluster->port(0));  // deploys through node 0
  REQUIRE(designer.login("designer", kPassword).status == 200);
  Client other(nodes.cluster->port(1));  // a clerk on node 1
  REQUIRE(other.login("clerk", kPassword).status == 200);
  // Version 2 counts its days on a calendar of its own (a `calendar:cn` row of its own).
  std::string v2 = kFlow;
  v2.replace(v2.find("version 1 {\n  promise 1 workday;"), std::string("version 1 {\n  promise 1 workday;").size(),
             "version 2 {\n  promise 1 workday; calendar cn;");
  v2 = "calendar cn { weekend sat sun; holiday 2027-01-01 \"元旦\" }\n" + v2;
  const auto started_case = [&](Client& client, const std::string& case_id) {
    const auto started = client.post("/api/cases", json::object{{"bundle", "quick"}, {"case_id", case_id}, {"form", json::object{{"company_name", "部署测试"}}}});
    INFO(started.body);
    REQUIRE(started.status == 201);
    const auto shown = client.get("/api/cases/" + case_id);
    REQUIRE(shown.status == 200);
    return shown.json().as_object();
  };
  CHECK(started_case(other, "D-before").at("bundle_version").as_int64() == 1);

  const auto deployed = designer.post("/api/workflows", json::object{{"files", json::object{{"quick.flow", v2}}}});
  INFO(deployed.body);
  REQUIRE(deployed.status == 200);
  const auto since = std::chrono::steady_clock::now();
  // Node 1 starts the new version's cases within the documented bound (deploy_check_interval,
  // 1 s, plus compiling the new version); 3 s leaves room for a loaded test machine.
  json::object on_other;
  for (int i = 0; i < 60; ++i) {
    on_other = started_case(other, "D-after-" + std::to_string(i));
    if (on_other.at("bundle_version").as_int64() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since).count();
  WARN("node 1 started a case of the new version " << waited << " ms after the deploy on node 0 answered");
  CHECK(on_other.at("bundle_version").as_int64() == 2);
  CHECK(waited < 3000);
  // It counts on the deployed calendar: its holidays are declared to the end of 2027.
  REQUIRE(on_other.contains("calendar_declared_until"));
  CHECK(on_other.at("calendar_declared_until").as_string() == "2027-12-31");
}

namespace {

// A case with an uploaded material: the content store's own connection is then in use.
const std::string kFlowWithMaterial = R"(
lifecycle quick {
  state submitted initial; state accepted; state approved final
  on accept: submitted -> accepted by clerk
  on approve: accepted -> approved by reviewer
}
department market "市场监管局" adapter market_registry
material articles "公司章程" upload pdf
item registration "设立登记" by market { limit 1 workday; needs articles }
bundle quick "快办" version 1 {
  promise 1 workday; lifecycle quick
  form { company_name "企业名称": text required }
  use registration
}
)";

}  // namespace

TEST_CASE("nodes: while the database is down and just after it is back, every request is answered 503 unavailable with "
          "Retry-After, uploads and downloads of materials too, never 500",
          "[e2e][postgres][nodes][outage]") {
  ReplicatedDatabase database(false);
  ScratchDir dir("onevisit-outage");
  std::filesystem::create_directories(dir.path() / "workflows");
  std::ofstream(dir.file("workflows/quick.flow")) << kFlowWithMaterial;
  std::ofstream(dir.file("deploy.toml")) << "[systems.market_registry]\nkind = \"log\"\n[systems.notify]\nkind = \"log\"\n";
  Cluster cluster(database.url(), dir.file("workflows"), dir.file("deploy.toml"), dir.path().string());
  cluster.start(0);
  Client admin(cluster.port(0));
  REQUIRE(admin.login("admin", cluster.admin_password()).status == 200);
  REQUIRE(admin.post("/api/users", json::object{{"name", "clerk"}, {"role", "window_clerk"}, {"password", kPassword}}).status == 201);
  Client clerk(cluster.port(0));
  REQUIRE(clerk.login("clerk", kPassword).status == 200);
  REQUIRE(clerk.post("/api/cases", json::object{{"bundle", "quick"}, {"case_id", "O1"}, {"form", json::object{{"company_name", "停机测试"}}}}).status == 201);
  const std::string pdf = "%PDF-1.7 公司章程";
  const auto upload = [&](const std::string& key) {
    return clerk.send("PUT", "/api/cases/O1/materials/articles", pdf, {{"Content-Type", "application/pdf"}, {"Idempotency-Key", key}});
  };
  REQUIRE(upload("upload-1").status == 200);
  REQUIRE(clerk.get("/api/cases/O1/materials/articles").body == pdf);

  // Every kind of request the console and the department systems send: reads, commands,
  // uploads and downloads of contents, the login.
  const std::vector<std::pair<std::string, std::function<Reply()>>> requests{
      {"download", [&] { return clerk.get("/api/cases/O1/materials/articles"); }},
      {"upload", [&] { return upload("upload-2"); }},
      {"case", [&] { return clerk.get("/api/cases/O1"); }},
      {"cases", [&] { return clerk.get("/api/cases"); }},
      {"worklist", [&] { return clerk.get("/api/worklist"); }},
      {"workflows", [&] { return clerk.get("/api/workflows"); }},
      {"command", [&] { return clerk.send("POST", "/api/cases/O1/items/registration/events/accept", "{}", {{"Idempotency-Key", "accept-O1"}}); }},
      {"start", [&] { return clerk.send("POST", "/api/cases", R"({"bundle":"quick","case_id":"O2","form":{"company_name":"停机测试"}})", {{"Idempotency-Key", "start-O2"}}); }},
      {"audit", [&] { return admin.get("/api/audit"); }},
      {"timers", [&] { return admin.get("/api/timers"); }},
      {"login", [&] { return Client(cluster.port(0)).login("clerk", kPassword); }},
  };
  const auto is_unavailable = [](const Reply& reply) {
    return reply.status == 503 && reply.header("retry-after") == "1" && reply.body.find("\"unavailable\"") != std::string::npos;
  };

  database.script("halt", "primary");
  for (const auto& [name, request] : requests) {
    const auto reply = request();
    INFO(name << ": " << reply.status << " " << reply.body);
    CHECK(is_unavailable(reply));
  }
  database.script("resume", "primary");
  // Back: each connection finds out at its first use that the server it knew is gone (the
  // accounts', the store's, the contents'); a request that meets a lost one is answered 503
  // too, and sent again it passes.
  for (const auto& [name, request] : requests) {
    Reply reply;
    for (int attempt = 0; attempt < 30; ++attempt) {
      reply = request();
      if (reply.status < 500) break;
      INFO(name << ": " << reply.status << " " << reply.body);
      CHECK(is_unavailable(reply));
    }
    INFO(name << ": " << reply.status << " " << reply.body);
    CHECK(reply.status < 500);
  }
  CHECK(clerk.get("/api/cases/O1/materials/articles").body == pdf);
}
