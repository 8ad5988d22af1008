// Engine speed figures of issue 18, one table row per line (docs/performance.md):
//
//   pure      an 11-command case lifecycle through decide + apply, 100,000 live cases
//   switch    the same lifecycle as a hand-written switch machine (the peer row)
//   memory    the same through Engine on the in-memory store
//   starts    case starts whose items an 8-rule `decide … collect` table chooses, in memory
//   table     that 8-rule table evaluated alone
//   durable   the lifecycle through Engine on SQLite (WAL, synchronous=FULL) from 8 and 32
//             client threads, beside plain SQLite appending rows 100 per commit
//
// Each lifecycle row runs interleaved (every case takes its first command, then every case
// its second, ...: all cases live at once) and sequential (one case after the other).
// A lifecycle is 11 commands: the start, four items submitted and approved (the first item,
// then three in parallel after it), the delivery and the rating; a transition below is one
// command. Every line prints the rate, CPU% (user + system time over wall time), bytes per
// live case where it means something, and the ratio to the issue's target (>= 1 is met).
//
// Usage: onevisit_lifecycle_bench [--cases N] [--durable-cases N,M] [--seconds S]
//                                  [--only pure,switch,memory,starts,table,durable] [--dir DIR]
#include <onevisit/engine/engine.hpp>
#include <onevisit/engine/runtime.hpp>

#include "store/sqlite/store.hpp"  // the writer's counters (private header)

#include <sqlite3.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <malloc.h>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

using namespace onevisit;
using namespace onevisit::engine;

namespace {

using Clock = std::chrono::steady_clock;

// Four items with the standard shape: a limit (so deadlines, warnings and overdue timers
// run), an outbox call on approval, the first item before three parallel ones.
const char* kLifecycleFlow = R"(
lifecycle review {
  state received initial; state submitted; state approved final
  on submit: received -> submitted by clerk
  on approve: submitted -> approved by reviewer do call(dept.submit)
  warn at 80%
  on overdue do escalate(supervisor)
}
department market "市场监管局" adapter market_registry
department police "公安局" adapter seal_system
department tax "税务局" adapter tax_gateway
department hrss "人社局" adapter hrss_gateway
bundle startup "企业开办" version 1 {
  promise 3 workdays; lifecycle review
  form {
    company_name "企业名称": text required
    legal_rep_phone "手机": phone required
    capital "注册资本": money required min 0
  }
  item registration "设立登记" by market { limit 1 workday }
  item seal "刻章" by police after registration { limit 1 workday }
  item invoice "发票" by tax after registration { limit 1 workday }
  item insurance "社保登记" by hrss after registration { limit 1 workday }
}
)";

// Eight rules choose which of eight items a case needs.
const char* kDecisionFlow = R"(
lifecycle review {
  state received initial; state submitted; state approved final
  on submit: received -> submitted by clerk
  on approve: submitted -> approved by reviewer
}
department market "市场监管局" adapter market_registry
bundle chooser "开办餐饮店" version 1 {
  promise 5 workdays; lifecycle review
  form {
    company_name "企业名称": text required
    area "经营面积": decimal required
    seats "座位数": int required
    sells_tobacco "卷烟零售": bool default false
    category "类型": enum(restaurant "餐馆", shop "商店", cafe "饮品店") default "restaurant"
    employees "员工人数": int default 0
    capital "注册资本": money required min 0
  }
  decide needed "需要的事项" collect {
    when area >= 50 -> "fire"
    when seats >= 200 -> "crowd"
    when sells_tobacco -> "tobacco"
    when category == "restaurant" -> "food"
    when employees > 0 -> "insurance"
    when capital >= 1000000 -> "audit"
    when area >= 500 and seats >= 100 -> "large"
    when not sells_tobacco and category != "restaurant" -> "retail"
  }
  item licence "营业执照" by market { limit 1 workday }
  item fire "消防检查" by market after licence when "fire" in needed { limit 1 workday }
  item crowd "人员密集场所预案" by market after licence when "crowd" in needed { limit 1 workday }
  item tobacco "烟草专卖零售许可" by market after licence when "tobacco" in needed { limit 1 workday }
  item food "食品经营许可" by market after licence when "food" in needed { limit 1 workday }
  item insurance "社保登记" by market after licence when "insurance" in needed { limit 1 workday }
  item audit "验资" by market after licence when "audit" in needed { limit 1 workday }
  item large "大型餐饮备案" by market after licence when "large" in needed { limit 1 workday }
  item retail "零售备案" by market after licence when "retail" in needed { limit 1 workday }
}
)";

constexpr const char* kItems[] = {"registration", "seal", "invoice", "insurance"};
constexpr std::size_t kCommandsPerCase = 11;

// The issue's targets (transitions or cases a second; bytes).
constexpr double kTargetPure = 5e6, kTargetEngine = 1e6, kTargetStartsMemory = 200e3, kTargetStartsDurable = 20e3,
                 kTargetTable = 5e6, kTargetDurable = 50e3, kTargetStoreBytes = 2048, kTargetCachedBytes = 1024,
                 kTargetBytesPerDurableCommand = 4096;

Timestamp monday_morning() { return (dsl::days_from_civil({2026, 3, 2}) * 24 * 60 + 9 * 60) * 60'000; }

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// Bytes this process caused to be written to storage (the kernel's count: WAL, database
// file and checkpoints alike).
std::uint64_t write_bytes() {
  std::ifstream io("/proc/self/io");
  std::string key;
  std::uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "write_bytes:") return value;
  }
  return 0;
}

std::size_t heap_in_use() { return mallinfo2().uordblks + mallinfo2().hblkhd; }

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Wall time and CPU time of one measured stretch.
class Measure {
 public:
  Measure() : wall_(Clock::now()), cpu_(cpu_seconds()) {}
  double seconds() const { return std::chrono::duration<double>(Clock::now() - wall_).count(); }
  double cpu_percent() const { return 100.0 * (cpu_seconds() - cpu_) / seconds(); }

 private:
  Clock::time_point wall_;
  double cpu_;
};

// One line of the table. `rate` is per second of wall time; on a machine shared with other
// work the rate per CPU-second (rate / CPU share) is what one core of this code does, and
// the target's ratio is taken of it.
void row(const std::string& work, const std::string& mode, double rate, const char* unit, double cpu_percent,
         const std::string& memory, double target, bool one_core = true) {
  // Durable rows wait for the disk from many threads: their wall rate is the figure.
  const double per_cpu_second = one_core && cpu_percent > 0 ? rate * 100.0 / std::min(100.0, cpu_percent) : rate;
  std::printf("%-42s %-12s %11.0f %-14s CPU %4.0f%%  %11.0f per CPU-s  target %5.2fx  %s\n", work.c_str(), mode.c_str(), rate, unit,
              cpu_percent, per_cpu_second, per_cpu_second / target, memory.c_str());
  std::fflush(stdout);
}

std::string bytes_text(const char* what, double bytes, double target) {
  char text[96];
  std::snprintf(text, sizeof text, "%s %.0f B (target %.2fx)", what, bytes, target / bytes);
  return text;
}

std::map<std::string, dsl::Value> lifecycle_form(std::size_t n) {
  char phone[16];
  std::snprintf(phone, sizeof phone, "138%08zu", n % 100000000);
  return {{"company_name", dsl::Value::of_text("企业" + std::to_string(n))},
          {"legal_rep_phone", dsl::Value::of_text(phone)},
          {"capital", dsl::Value::of_decimal(dsl::Decimal::from_int(100000))}};
}

std::map<std::string, dsl::Value> decision_form(std::size_t n) {
  static const char* kCategories[] = {"restaurant", "shop", "cafe"};
  return {{"company_name", dsl::Value::of_text("餐饮" + std::to_string(n))},
          {"area", dsl::Value::of_decimal(dsl::Decimal::from_int(static_cast<std::int64_t>(n % 700)))},
          {"seats", dsl::Value::of_int(static_cast<std::int64_t>(n % 300))},
          {"sells_tobacco", dsl::Value::of_bool(n % 3 == 0)},
          {"category", dsl::Value::of_text(kCategories[n % 3])},
          {"employees", dsl::Value::of_int(static_cast<std::int64_t>(n % 5))},
          {"capital", dsl::Value::of_decimal(dsl::Decimal::from_int(static_cast<std::int64_t>(n % 7) * 400000))}};
}

// The k-th command of a lifecycle (0: the start), with its actor's role.
CommandBody lifecycle_step(std::size_t k, std::size_t n, std::string& role) {
  if (k == 0) {
    role = "clerk";
    return StartCase{lifecycle_form(n), "11010519491231002X", "window"};
  }
  if (k <= 8) {
    const bool submit = (k - 1) % 2 == 0;
    role = submit ? "clerk" : "reviewer";
    return FireEvent{kItems[(k - 1) / 2], submit ? "submit" : "approve", {}, false};
  }
  if (k == 9) {
    role = "clerk";
    return Deliver{"window"};
  }
  role = "applicant";
  return Rate{5, ""};
}

// ---------------------------------------------------------------------------------------
// The pure core and its peer

struct PureRun {
  const Workflow& wf;
  const WorkCalendar& calendar;
  std::vector<Case> cases;
  std::vector<Command> commands;  ///< built before the clock starts: only decide + apply are timed

  void step(std::size_t n, std::size_t k) {
    Case& c = cases[n];
    const auto& command = commands[k];
    auto outcome = decide(DecideContext{wf, calendar, monday_morning()}, c, command);
    if (auto* r = std::get_if<Rejection>(&outcome)) {
      std::cerr << "pure core: command " << k << " of case " << n << " refused: " << r->detail << "\n";
      std::exit(1);
    }
    for (const auto& e : std::get<std::vector<Event>>(outcome)) apply(wf, c, e);
  }
};

void pure_core(const Workflow& wf, const WorkCalendar& calendar, std::size_t cases) {
  for (const bool interleaved : {true, false}) {
    PureRun run{wf, calendar, {}, {}};
    for (std::size_t k = 0; k < kCommandsPerCase; ++k) {
      std::string role;
      auto body = lifecycle_step(k, 1, role);
      run.commands.push_back(Command{"", "case", "bench", role, std::move(body), ""});
    }
    const std::size_t heap_before = heap_in_use();
    run.cases.resize(cases);
    for (std::size_t n = 0; n < cases; ++n) run.cases[n].id = "case-" + std::to_string(n);
    std::size_t peak_state = 0;
    const Measure measure;
    if (interleaved) {
      for (std::size_t k = 0; k < kCommandsPerCase; ++k) {
        for (std::size_t n = 0; n < cases; ++n) run.step(n, k);
        // The state of a live case at its largest: every item decided, before its delivery.
        if (k == 8) peak_state = heap_in_use() - heap_before;
      }
    } else {
      for (std::size_t n = 0; n < cases; ++n) {
        for (std::size_t k = 0; k < kCommandsPerCase; ++k) run.step(n, k);
      }
    }
    const double seconds = measure.seconds();
    const double rate = static_cast<double>(cases * kCommandsPerCase) / seconds;
    if (interleaved) {
      const double per_case = static_cast<double>(peak_state) / cases;
      row("lifecycle, pure decide + apply", "interleaved", rate, "transitions/s", measure.cpu_percent(),
          bytes_text("case state", per_case, kTargetCachedBytes), kTargetPure);
    } else {
      row("lifecycle, pure decide + apply", "sequential", rate, "transitions/s", measure.cpu_percent(), "", kTargetPure);
    }
  }
}

// The peer: the same lifecycle hand-written, one byte of state per item.
struct SwitchCase {
  std::uint8_t status = 0;  // 0 none, 1 running, 2 completed, 3 delivered, 4 rated
  std::uint8_t items[4] = {};  // 0 waiting, 1 received, 2 submitted, 3 approved
};

bool switch_step(SwitchCase& c, std::size_t k) {
  switch (k) {
    case 0:
      if (c.status != 0) return false;
      c.status = 1;
      c.items[0] = 1;
      return true;
    case 9:
      if (c.status != 2) return false;
      c.status = 3;
      return true;
    case 10:
      if (c.status != 3) return false;
      c.status = 4;
      return true;
    default: {
      const std::size_t item = (k - 1) / 2;
      const bool submit = (k - 1) % 2 == 0;
      auto& s = c.items[item];
      if (s != (submit ? 1 : 2)) return false;
      s = submit ? 2 : 3;
      if (!submit && item == 0) c.items[1] = c.items[2] = c.items[3] = 1;
      if (!submit && c.items[0] == 3 && c.items[1] == 3 && c.items[2] == 3 && c.items[3] == 3) c.status = 2;
      return true;
    }
  }
}

void switch_machine(std::size_t cases) {
  for (const bool interleaved : {true, false}) {
    std::vector<SwitchCase> all(cases);
    std::size_t refused = 0;
    const Measure measure;
    // Repeated: one pass is too short to time.
    constexpr int kRounds = 20;
    for (int round = 0; round < kRounds; ++round) {
      std::fill(all.begin(), all.end(), SwitchCase{});
      if (interleaved) {
        for (std::size_t k = 0; k < kCommandsPerCase; ++k) {
          for (auto& c : all) refused += !switch_step(c, k);
        }
      } else {
        for (auto& c : all) {
          for (std::size_t k = 0; k < kCommandsPerCase; ++k) refused += !switch_step(c, k);
        }
      }
    }
    const double seconds = measure.seconds();
    if (refused != 0) std::exit(1);
    row("lifecycle, hand-written switch machine", interleaved ? "interleaved" : "sequential",
        static_cast<double>(cases * kCommandsPerCase * kRounds) / seconds, "transitions/s", measure.cpu_percent(),
        bytes_text("case state", sizeof(SwitchCase), kTargetCachedBytes), kTargetPure);
  }
}

// ---------------------------------------------------------------------------------------
// Through Engine

std::unique_ptr<Engine> open_engine(const std::string& database, VirtualClock& clock, const char* flow,
                                    std::shared_ptr<Store> store = nullptr) {
  EngineOptions options{database, &clock};
  options.store = std::move(store);
  auto engine = Engine::open(options);
  if (!engine) {
    std::cerr << "cannot open the engine: " << engine.error().message << "\n";
    std::exit(1);
  }
  if (auto deployed = (*engine)->deploy_sources({{"bench.flow", flow}}, {"bench.flow"}); !deployed) {
    std::cerr << "cannot deploy the benchmark bundle: " << deployed.error().message << "\n";
    for (const auto& d : deployed.error().diagnostics) {
      std::cerr << "  line " << d.start.line << ": " << d.diagnostic.message << "\n    " << d.source_line << "\n";
    }
    std::exit(1);
  }
  return std::move(*engine);
}

// The k-th command of the n-th case through the engine; the start sets `id`, the generated
// case id, and the others act on it.
void engine_step(Engine& engine, std::string& id, std::size_t n, std::size_t k) {
  std::string role;
  auto body = lifecycle_step(k, n, role);
  // Every command carries an id, as every command through the API does (retries are safe).
  CommandOptions options{"c" + std::to_string(n) + "-" + std::to_string(k), "bench", role};
  std::expected<CommandResult, EngineError> done;
  if (k == 0) {
    done = engine.start_case("startup", std::get<StartCase>(body).form, "11010519491231002X", options);
    if (done) id = done->case_id;
  } else {
    done = engine.execute(id, std::move(body), options);
  }
  if (!done) {
    std::cerr << "engine: command " << k << " of case " << n << " failed: " << done.error().message << "\n";
    std::exit(1);
  }
}

void engine_in_memory(std::size_t cases) {
  for (const bool interleaved : {true, false}) {
    VirtualClock clock(monday_morning());
    auto engine = open_engine(":memory:", clock, kLifecycleFlow);
    std::vector<std::string> ids(cases);
    malloc_trim(0);
    const std::size_t rss_before = rss_bytes();
    std::size_t peak = 0;
    const Measure measure;
    if (interleaved) {
      for (std::size_t k = 0; k < kCommandsPerCase; ++k) {
        for (std::size_t n = 0; n < cases; ++n) engine_step(*engine, ids[n], n, k);
        if (k == 8) peak = rss_bytes() - rss_before;
      }
    } else {
      for (std::size_t n = 0; n < cases; ++n) {
        for (std::size_t k = 0; k < kCommandsPerCase; ++k) engine_step(*engine, ids[n], n, k);
      }
    }
    const double seconds = measure.seconds();
    const double rate = static_cast<double>(cases * kCommandsPerCase) / seconds;
    if (interleaved) {
      // Store and cache together, every case live and every item decided.
      row("lifecycle, Engine on the in-memory store", "interleaved", rate, "transitions/s", measure.cpu_percent(),
          bytes_text("per live case", static_cast<double>(peak) / cases, kTargetStoreBytes + kTargetCachedBytes), kTargetEngine);
    } else {
      row("lifecycle, Engine on the in-memory store", "sequential", rate, "transitions/s", measure.cpu_percent(), "", kTargetEngine);
    }
  }
}

void case_starts_in_memory(std::size_t cases) {
  VirtualClock clock(monday_morning());
  auto engine = open_engine(":memory:", clock, kDecisionFlow);
  std::vector<std::map<std::string, dsl::Value>> forms;
  forms.reserve(cases);
  for (std::size_t n = 0; n < cases; ++n) forms.push_back(decision_form(n));
  malloc_trim(0);
  const std::size_t rss_before = rss_bytes();
  const Measure measure;
  for (std::size_t n = 0; n < cases; ++n) {
    if (auto r = engine->start_case("chooser", forms[n], "11010519491231002X", {"s" + std::to_string(n), "bench", "clerk"}); !r) {
      std::cerr << "start: " << r.error().message << "\n";
      std::exit(1);
    }
  }
  const double seconds = measure.seconds();
  row("case start, 8-rule decide … collect", "in memory", static_cast<double>(cases) / seconds, "cases/s", measure.cpu_percent(),
      bytes_text("per case", static_cast<double>(rss_bytes() - rss_before) / cases, kTargetStoreBytes + kTargetCachedBytes),
      kTargetStartsMemory);
}

void table_alone(std::size_t evaluations) {
  VirtualClock clock(monday_morning());
  auto engine = open_engine(":memory:", clock, kDecisionFlow);
  const auto wf = engine->workflow("chooser");
  const auto decision = wf->scope().find_decision("needed");
  if (!decision) std::exit(1);
  // The form's slots for a spread of answers, as a case holds them.
  std::vector<std::vector<dsl::Value>> slots;
  for (std::size_t n = 0; n < 64; ++n) {
    std::vector<dsl::Value> s(wf->scope().slot_count());
    for (const auto& [name, value] : decision_form(n)) {
      if (const auto* v = wf->scope().find_variable(name)) s[v->slot] = value;
    }
    slots.push_back(std::move(s));
  }
  const std::int64_t today = monday_morning() / 60'000 / 1440;
  std::size_t chosen = 0;
  const Measure measure;
  for (std::size_t i = 0; i < evaluations; ++i) {
    const dsl::Environment env{slots[i % slots.size()], today, nullptr};
    chosen += decision->evaluate(env).list.size();
  }
  const double seconds = measure.seconds();
  if (chosen == 0) std::exit(1);
  row("8-rule decide … collect table alone", "", static_cast<double>(evaluations) / seconds, "evaluations/s", measure.cpu_percent(),
      "", kTargetTable);
}

// ---------------------------------------------------------------------------------------
// Durable

// Plain SQLite with the same durability: rows of an event's size appended 100 per commit.
double plain_sqlite(const std::string& dir, std::size_t rows) {
  const auto path = dir + "/plain.db";
  for (const auto* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) std::exit(1);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
               "CREATE TABLE events(id INTEGER PRIMARY KEY, case_id TEXT, type TEXT, payload TEXT, at INTEGER);",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO events(case_id, type, payload, at) VALUES (?, ?, ?, ?)", -1, &insert, nullptr);
  const std::string payload(200, 'p');
  const Measure measure;
  for (std::size_t i = 0; i < rows; i += 100) {
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (std::size_t j = i; j < i + 100; ++j) {
      const std::string case_id = "20260302-" + std::to_string(j % 100000);
      sqlite3_bind_text(insert, 1, case_id.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(insert, 2, "ItemTransitioned", -1, SQLITE_STATIC);
      sqlite3_bind_text(insert, 3, payload.c_str(), static_cast<int>(payload.size()), SQLITE_STATIC);
      sqlite3_bind_int64(insert, 4, static_cast<sqlite3_int64>(j));
      sqlite3_step(insert);
      sqlite3_reset(insert);
    }
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) std::exit(1);
  }
  const double rate = static_cast<double>(rows) / measure.seconds();
  sqlite3_finalize(insert);
  sqlite3_close(db);
  for (const auto* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  return rate;
}

// Which tables and indexes the pages in the WAL belong to: the frames of every commit since
// the WAL last started from its beginning (the last stretch of the row before), each mapped
// to its B-tree through sqlite3's dbstat. Prints the shares, largest first, and the frames a
// transaction wrote.
void wal_pages_by_table(const std::string& path) {
  std::ifstream wal(path + "-wal", std::ios::binary);
  unsigned char header[32];
  if (!wal.read(reinterpret_cast<char*>(header), sizeof header)) return;
  const auto be32 = [](const unsigned char* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
  };
  const std::uint32_t page_size = be32(header + 8), salt1 = be32(header + 16), salt2 = be32(header + 20);
  std::map<std::uint32_t, std::size_t> frames_of_page;
  std::size_t frames = 0, commits = 0, counted = 0;
  std::vector<char> page(page_size);
  for (unsigned char frame[24]; wal.read(reinterpret_cast<char*>(frame), sizeof frame) && wal.read(page.data(), page_size);) {
    if (be32(frame + 8) != salt1 || be32(frame + 12) != salt2) break;  // a frame of an earlier pass
    ++frames_of_page[be32(frame)];
    ++frames;
    if (be32(frame + 4) != 0) {  // the commit frame: what came before it is durable
      ++commits;
      counted = frames;
    }
  }
  if (commits == 0) return;
  sqlite3* db = nullptr;
  std::map<std::uint32_t, std::string> owner;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT pageno, name FROM dbstat", -1, &stmt, nullptr) == SQLITE_OK) {
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        owner[static_cast<std::uint32_t>(sqlite3_column_int64(stmt, 0))] =
            reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1));
      }
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  std::map<std::string, std::size_t> by_name;
  for (const auto& [pageno, n] : frames_of_page) {
    const auto it = owner.find(pageno);
    by_name[it == owner.end() ? "(free or new)" : it->second] += n;
  }
  std::vector<std::pair<std::size_t, std::string>> sorted;
  for (const auto& [name, n] : by_name) sorted.emplace_back(n, name);
  std::sort(sorted.rbegin(), sorted.rend());
  std::printf("  WAL since its last restart: %zu frames in %zu transactions (%.1f a transaction), %zu distinct pages\n", counted,
              commits, static_cast<double>(counted) / commits, frames_of_page.size());
  for (const auto& [n, name] : sorted) {
    std::printf("    %-34s %5.1f %%  %8zu frames\n", name.c_str(), 100.0 * n / frames, n);
  }
  std::fflush(stdout);
}

// `live` cases started and moved on to every stage of their lifecycle (not timed), then for
// each count of client threads, `seconds` of commands: each client owns every threads-th case
// and moves them on in turn; a case that is rated is replaced by a new one, so the number of
// live cases stays.
void durable(const std::string& dir, std::size_t live, const std::vector<std::size_t>& thread_counts, double seconds,
             double plain_rate) {
  const auto path = dir + "/durable.db";
  const auto remove_files = [&] {
    for (const auto* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    std::filesystem::remove_all(path + ".contents");
  };
  remove_files();
  VirtualClock clock(monday_morning());
  // Opened here to read the writer's counters: WAL frames and transactions per command.
  auto store = engine::open_store(EngineOptions{path, &clock});
  if (!store) {
    std::cerr << "cannot open the store: " << store.error().message << "\n";
    std::exit(1);
  }
  auto engine = open_engine(path, clock, kLifecycleFlow, *store);
  std::vector<std::string> ids(live);
  std::vector<std::size_t> step(live, 0), serial(live);
  {
    const std::size_t populate_threads = 32;
    std::vector<std::thread> clients;
    for (std::size_t t = 0; t < populate_threads; ++t) {
      clients.emplace_back([&, t] {
        for (std::size_t n = t; n < live; n += populate_threads) {
          serial[n] = n;
          const std::size_t stage = n % 8;  // live cases at every stage, as in a district
          for (std::size_t k = 0; k <= stage; ++k) engine_step(*engine, ids[n], serial[n], k);
          step[n] = stage + 1;
        }
      });
    }
    for (auto& c : clients) c.join();
  }
  for (const auto threads : thread_counts) {
    std::atomic<bool> stop{false};
    std::atomic<std::size_t> done{0};
    const std::uint64_t written_before = write_bytes();
    const SqliteStoreStats stats_before = sqlite_store_stats(**store).value_or(SqliteStoreStats{});
    const Measure measure;
    std::vector<std::thread> clients;
    for (std::size_t t = 0; t < threads; ++t) {
      clients.emplace_back([&, t] {
        while (!stop.load(std::memory_order_relaxed)) {
          for (std::size_t n = t; n < live && !stop.load(std::memory_order_relaxed); n += threads) {
            engine_step(*engine, ids[n], serial[n], step[n]);
            done.fetch_add(1, std::memory_order_relaxed);
            if (++step[n] == kCommandsPerCase) {
              step[n] = 0;
              serial[n] += live;  // the next case in this place
            }
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& c : clients) c.join();
    const double elapsed = measure.seconds();
    const double cpu = measure.cpu_percent();
    const double commands = static_cast<double>(done.load());
    const double per_command = static_cast<double>(write_bytes() - written_before) / commands;
    const double rate = commands / elapsed;
    std::error_code ec;
    const auto wal = std::filesystem::file_size(path + "-wal", ec);
    char memory[200];
    std::snprintf(memory, sizeof memory, "%.0f B written a command (target %.2fx), WAL %.0f MB, %.3fx of plain SQLite", per_command,
                  kTargetBytesPerDurableCommand / per_command, ec ? 0.0 : static_cast<double>(wal) / 1e6, rate / plain_rate);
    row("lifecycle, Engine on SQLite, " + std::to_string(live) + " live", std::to_string(threads) + " threads", rate, "transitions/s",
        cpu, memory, kTargetDurable, false);
    const SqliteStoreStats stats = sqlite_store_stats(**store).value_or(SqliteStoreStats{});
    const auto transactions = static_cast<double>(stats.transactions - stats_before.transactions);
    std::printf("  %.2f WAL frames (4 KiB pages) a command, %.1f commands a transaction, %llu checkpoints\n",
                static_cast<double>(stats.wal_frames - stats_before.wal_frames) / commands,
                transactions > 0 ? static_cast<double>(stats.writes - stats_before.writes) / transactions : 0.0,
                static_cast<unsigned long long>(stats.checkpoints - stats_before.checkpoints));
    wal_pages_by_table(path);
  }
  engine.reset();
  store->reset();
  remove_files();
}

void durable_starts(const std::string& dir, std::size_t cases, std::size_t threads) {
  const auto path = dir + "/starts.db";
  for (const auto* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  std::filesystem::remove_all(path + ".contents");
  VirtualClock clock(monday_morning());
  auto engine = open_engine(path, clock, kDecisionFlow);
  const Measure measure;
  std::vector<std::thread> clients;
  for (std::size_t t = 0; t < threads; ++t) {
    clients.emplace_back([&, t] {
      for (std::size_t n = t; n < cases; n += threads) {
        if (!engine->start_case("chooser", decision_form(n), "11010519491231002X", {"s" + std::to_string(n), "bench", "clerk"})) std::exit(1);
      }
    });
  }
  for (auto& c : clients) c.join();
  row("case start, 8-rule decide … collect", "SQLite " + std::to_string(threads) + "t", static_cast<double>(cases) / measure.seconds(),
      "cases/s", measure.cpu_percent(), "", kTargetStartsDurable, false);
  engine.reset();
  for (const auto* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  std::filesystem::remove_all(path + ".contents");
}

std::vector<std::size_t> numbers(const std::string& text) {
  std::vector<std::size_t> out;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) out.push_back(std::stoul(part));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);  // a log line per started case would drown the figures
  std::size_t cases = 100'000;
  std::vector<std::size_t> durable_cases{1'000, 100'000};
  double seconds = 10;
  std::set<std::string> only;
  std::string dir = std::filesystem::temp_directory_path().string();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--cases") cases = std::stoul(value);
    else if (flag == "--durable-cases") durable_cases = numbers(value);
    else if (flag == "--seconds") seconds = std::stod(value);
    else if (flag == "--dir") dir = value;
    else if (flag == "--only") {
      std::stringstream in(value);
      for (std::string part; std::getline(in, part, ',');) only.insert(part);
    } else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  const auto wanted = [&](const char* name) { return only.empty() || only.contains(name); };
  std::printf("%zu live cases; a lifecycle is %zu commands (transitions)\n", cases, kCommandsPerCase);
  if (wanted("pure") || wanted("switch")) {
    VirtualClock clock(monday_morning());
    auto engine = open_engine(":memory:", clock, kLifecycleFlow);
    const auto wf = engine->workflow("startup");
    if (wanted("pure")) pure_core(*wf, engine->calendar_of(*wf), cases);
    if (wanted("switch")) switch_machine(cases);
  }
  if (wanted("memory")) engine_in_memory(cases);
  if (wanted("starts")) case_starts_in_memory(cases);
  if (wanted("table")) table_alone(10'000'000);
  if (wanted("durable")) {
    const Measure measure;
    const double plain = plain_sqlite(dir, 200'000);
    row("plain SQLite, rows appended 100 per commit", "", plain, "rows/s", measure.cpu_percent(), "", 1, false);
    for (const auto live : durable_cases) durable(dir, live, {8, 32}, seconds, plain);
    durable_starts(dir, 20'000, 32);
  }
  return 0;
}
