// Runtime figures (issue 4):
//   1. in memory: item transitions per second on one core (decide + apply)
//   2. case start latency on SQLite (WAL, each commit on disk before it returns) at a paced
//      1,000 cases/s: p50, p99, and next to it the floor of any durable commit: one 4 KiB
//      write + fdatasync, p50, p99
//   3. memory of 100,000 open cases in a running engine
//   4. with --postgres URL: commands (case starts) per second through the Engine from 8
//      threads on that PostgreSQL database, and on SQLite in the same run (docs/storage.md)
//
// Usage: onevisit_engine_bench [--cases-for-memory N] [--dir DIR] [--postgres URL]  (with --postgres: figure 4 only)
// Prints one line per figure. Run it through bench/run.sh for an optimised build.
#include <onevisit/engine/engine.hpp>
#include <onevisit/engine/runtime.hpp>
#include <onevisit/engine/simulate.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

using namespace onevisit;
using namespace onevisit::engine;
using Stopwatch = std::chrono::steady_clock;

namespace {

const char* kFlow = R"(
lifecycle standard {
  state submitted initial; state accepted; state correcting pauses_clock; state approved final; state rejected final failed
  on accept: submitted -> accepted by clerk when materials.complete
  on request_correction: submitted, accepted -> correcting by clerk requires reason
  on corrected: correcting -> accepted by applicant
  on approve: accepted -> approved by reviewer when materials.verified do call(dept.submit)
  on reject: accepted -> rejected by reviewer requires reason
  warn at 80%
  on overdue do escalate(supervisor)
}
department market "市场监管局" adapter market_registry
department police "公安局" adapter seal_system
department tax "税务局" adapter tax_gateway
material id_card "身份证" from elicense "居民身份证"
material articles "公司章程" upload pdf
material license "营业执照" produced_by registration
item registration "设立登记" by market { limit 1 workday statutory 15 workdays; needs id_card, articles; produces license }
bundle startup "企业开办" version 1 {
  promise 3 workdays; lifecycle standard
  form {
    company_name "企业名称": text required
    legal_rep_id "法定代表人身份证": idcard required
    legal_rep_phone "手机": phone required
    capital "注册资本": money required min 0
    category "类型": enum(company "公司", sole "个体") default "company"
    needs_invoice "申领发票": bool default true
  }
  use registration
  item seal "刻章" by police after registration { needs license, id_card; limit 0.5 workday }
  item invoice "发票" by tax after registration when needs_invoice { needs license; limit 1 workday }
}
)";

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

Timestamp monday_morning() { return (dsl::days_from_civil({2026, 3, 2}) * 24 * 60 + 9 * 60) * 60'000; }

std::map<std::string, dsl::Value> form(std::size_t n) {
  char phone[16];
  std::snprintf(phone, sizeof phone, "138%08zu", n % 100000000);
  return {{"company_name", dsl::Value::of_text("企业" + std::to_string(n))},
          {"legal_rep_id", dsl::Value::of_text("11010519491231002X")},
          {"legal_rep_phone", dsl::Value::of_text(phone)},
          {"capital", dsl::Value::of_decimal(dsl::Decimal::from_int(100000))}};
}

void transitions_in_memory(const Workflow& wf, const WorkCalendar& calendar) {
  Case c;
  c.id = "bench";
  auto apply_all = [&](std::variant<std::vector<Event>, Rejection> outcome) {
    if (auto* r = std::get_if<Rejection>(&outcome)) {
      std::cerr << "rejected: " << r->message << "\n";
      std::exit(1);
    }
    for (const auto& e : std::get<std::vector<Event>>(outcome)) apply(wf, c, e);
  };
  const DecideContext ctx{wf, calendar, monday_morning()};
  apply_all(decide(ctx, c, Command{"1", "bench", "u", "clerk", StartCase{form(1), ""}}));
  apply_all(decide(ctx, c, Command{"2", "bench", "u", "applicant", AttachMaterial{"id_card", "", "", true}}));
  apply_all(decide(ctx, c, Command{"3", "bench", "u", "applicant", AttachMaterial{"articles", "h", "a.pdf", false}}));
  apply_all(decide(ctx, c, Command{"4", "bench", "u", "clerk", FireEvent{"registration", "accept", {}}}));
  // The correction loop: accepted -> correcting -> accepted, two transitions a round.
  const Command correct{"5", "bench", "u", "clerk", FireEvent{"registration", "request_correction", {{"reason", "补正"}}}};
  const Command corrected{"6", "bench", "u", "applicant", FireEvent{"registration", "corrected", {}}};
  const std::size_t rounds = 1'000'000;
  const auto start = Stopwatch::now();
  for (std::size_t i = 0; i < rounds; ++i) {
    apply_all(decide(ctx, c, correct));
    apply_all(decide(ctx, c, corrected));
    c.items[0].pauses.clear();  // keep the state small: a real item is corrected a few times
  }
  const double seconds = std::chrono::duration<double>(Stopwatch::now() - start).count();
  std::printf("in-memory item transitions (decide + apply, one core): %.2f million/s (%zu transitions in %.2f s)\n",
              2.0 * rounds / seconds / 1e6, 2 * rounds, seconds);
}

void start_latency(const std::string& dir) {
  const auto db = dir + "/start-latency.db";
  std::filesystem::remove(db);
  std::filesystem::remove(db + "-wal");
  std::filesystem::remove(db + "-shm");
  VirtualClock clock(monday_morning());
  auto engine = Engine::open({db, &clock});
  if (!engine) {
    std::cerr << engine.error().message << "\n";
    std::exit(1);
  }
  if (!(*engine)->deploy_sources({{"bench.flow", kFlow}}, {"bench.flow"})) std::exit(1);
  // Paced arrivals: 1,000 cases a second for 5 seconds, from 4 client threads.
  const std::size_t total = 5000, threads = 4;
  const auto interval = std::chrono::microseconds(1000 * threads);
  std::vector<std::vector<double>> latencies(threads);
  const auto begin = Stopwatch::now();
  std::vector<std::thread> clients;
  for (std::size_t t = 0; t < threads; ++t) {
    clients.emplace_back([&, t] {
      auto next = begin + std::chrono::microseconds(1000 * t);
      for (std::size_t n = t; n < total; n += threads) {
        std::this_thread::sleep_until(next);
        next += interval;
        const auto s = Stopwatch::now();
        auto r = (*engine)->start_case("startup", form(n), "11010519491231002X", {"", "bench", "clerk"});
        const auto e = Stopwatch::now();
        if (!r) {
          std::cerr << r.error().message << "\n";
          std::exit(1);
        }
        latencies[t].push_back(std::chrono::duration<double, std::milli>(e - s).count());
      }
    });
  }
  for (auto& c : clients) c.join();
  const double seconds = std::chrono::duration<double>(Stopwatch::now() - begin).count();
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  std::printf("case start on SQLite (WAL, flushed before it returns) at 1,000/s: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu cases, %.0f/s achieved)\n",
              all[all.size() / 2], all[all.size() * 99 / 100], all.back(), all.size(), all.size() / seconds);
}

// The floor under any durable commit's latency: one 4 KiB write and fdatasync of a file on
// the same disk (overwriting, so no block is allocated; a WAL is reused the same way), 500/s
// from one thread at random moments (Poisson arrivals: on the development VM a flush ends on
// a 4 ms grid, and evenly spaced arrivals would all land at the same point of it). No
// database: what the disk's flush costs at this moment.
void flush_latency(const std::string& dir) {
  const auto path = dir + "/flush-latency.dat";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    std::perror(path.c_str());
    std::exit(1);
  }
  constexpr int kBlocks = 256;
  const std::string block(4096, 'f');
  for (int i = 0; i < kBlocks; ++i) {
    if (::pwrite(fd, block.data(), block.size(), static_cast<off_t>(i) * 4096) != 4096) std::exit(1);
  }
  ::fsync(fd);
  std::vector<double> latencies;
  std::mt19937 random(42);
  std::exponential_distribution<double> gap_us(1.0 / 2000);
  auto next = Stopwatch::now();
  for (int n = 0; n < 2500; ++n) {
    std::this_thread::sleep_until(next);
    next += std::chrono::microseconds(static_cast<std::int64_t>(gap_us(random)));
    const auto s = Stopwatch::now();
    if (::pwrite(fd, block.data(), block.size(), static_cast<off_t>(n % kBlocks) * 4096) != 4096 || ::fdatasync(fd) != 0) {
      std::perror("flush");
      std::exit(1);
    }
    latencies.push_back(std::chrono::duration<double, std::milli>(Stopwatch::now() - s).count());
  }
  ::close(fd);
  std::filesystem::remove(path);
  std::sort(latencies.begin(), latencies.end());
  std::printf("the floor: one 4 KiB write + fdatasync on the same disk, 500/s at random moments: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
              latencies[latencies.size() / 2], latencies[latencies.size() * 99 / 100], latencies.back());
}

void memory_of_open_cases(const std::string& dir, std::size_t cases) {
  const auto db = dir + "/memory.db";
  std::filesystem::remove(db);
  std::filesystem::remove(db + "-wal");
  std::filesystem::remove(db + "-shm");
  VirtualClock clock(monday_morning());
  auto engine = Engine::open({db, &clock});
  if (!engine || !(*engine)->deploy_sources({{"bench.flow", kFlow}}, {"bench.flow"})) std::exit(1);
  const std::size_t before = rss_bytes();
  const auto start = Stopwatch::now();
  std::vector<std::thread> workers;
  const std::size_t threads = 8;
  for (std::size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (std::size_t n = t; n < cases; n += threads) {
        if (!(*engine)->start_case("startup", form(n), "11010519491231002X", {"", "bench", "clerk"})) std::exit(1);
      }
    });
  }
  for (auto& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(Stopwatch::now() - start).count();
  const std::size_t after = rss_bytes();
  std::printf("open cases in a running engine (SQLite store): %zu cases, resident memory grew by %.1f MB (%.2f KB a case), total %.1f MB;"
              " started at %.0f cases/s from %zu threads\n",
              cases, (after - before) / 1e6, (after - before) / 1e3 / cases, after / 1e6, cases / seconds, threads);
}

// Case starts per second through the Engine from 8 threads, each start one command and one
// durable commit: the store's group commit at work.
void commands_per_second(const std::string& db, const char* label, std::size_t cases) {
  VirtualClock clock(monday_morning());
  auto engine = Engine::open({db, &clock});
  if (!engine || !(*engine)->deploy_sources({{"bench.flow", kFlow}}, {"bench.flow"})) {
    std::cerr << "cannot open " << label << ": " << (engine ? "deploy failed" : engine.error().message) << "\n";
    std::exit(1);
  }
  const std::size_t threads = 8;
  std::vector<std::thread> workers;
  const auto start = Stopwatch::now();
  for (std::size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (std::size_t n = t; n < cases; n += threads) {
        if (!(*engine)->start_case("startup", form(n), "11010519491231002X", {"", "bench", "clerk"})) std::exit(1);
      }
    });
  }
  for (auto& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(Stopwatch::now() - start).count();
  std::printf("commands through the Engine on %s, 8 threads: %.0f case starts/s (%zu in %.2f s)\n", label, cases / seconds, cases,
              seconds);
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);  // one log line per started case would drown the figures
  std::size_t memory_cases = 100'000;
  std::string dir = std::filesystem::temp_directory_path().string();
  std::string postgres;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--cases-for-memory") memory_cases = std::stoul(argv[i + 1]);
    if (flag == "--dir") dir = argv[i + 1];
    if (flag == "--postgres") postgres = argv[i + 1];
  }
  if (!postgres.empty()) {
    // Both stores in the same run, on the same machine and disk.
    commands_per_second(postgres, "PostgreSQL", 20'000);
    const auto db = dir + "/commands.db";
    for (const auto* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
    commands_per_second(db, "SQLite", 20'000);
    return 0;
  }
  VirtualClock clock(monday_morning());
  auto engine = Engine::open({":memory:", &clock});
  if (!engine || !(*engine)->deploy_sources({{"bench.flow", kFlow}}, {"bench.flow"})) {
    std::cerr << "cannot deploy the benchmark bundle\n";
    return 1;
  }
  const auto wf = (*engine)->workflow("startup");
  transitions_in_memory(*wf, (*engine)->calendar_of(*wf));
  start_latency(dir);
  flush_latency(dir);
  memory_of_open_cases(dir, memory_cases);
  return 0;
}
