// Benchmark of the SQLite store's group commit against plain SQLite (docs/storage.md).
//
//   BM_StoreCommit/threads:1   SqliteStore::commit from one thread: one fsync per commit.
//   BM_SealedVsClear           the cost of encryption at rest: for 1 and 8 client threads,
//                              alternating rounds of the same transitions into a store with a
//                              key (event payloads and snapshots sealed) and one without;
//                              commits/s and CPU per commit of each.
//   BM_FindCommandInCase       find_command of a command recorded on a case's events (a walk
//                              of the case's chain) for cases of 16, 64 and 256 events.
//   BM_GroupCommitVsPlain      for 8 and for 32 client threads, alternating rounds of
//                              (b) SqliteStore::commit from N threads, each on its own cases
//                                  (a typical transition: one event, one of three items changes
//                                  state and deadline, its timer moves; a snapshot every 16
//                                  events), and
//                              (a) plain SQLite on one connection appending the same event rows,
//                                  WAL and synchronous=FULL (each transaction on disk before
//                                  COMMIT returns, as the store's commits), in transactions as
//                                  large as the store's average group in that round:
//                                  the cost of the fsyncs alone, the floor of any durable design,
//                              (c) the same plus what the Store contract needs at the least per
//                                  command (check and move the case's version, record the
//                                  command id and result on its event): the floor of any store
//                                  keeping the contract.
// The summary at the end prints commits/s for both and the ratio (target: the store reaches
// at least 50% of plain SQLite). Rounds alternate because an fsync's cost varies by a factor
// of several on a shared machine; both sides then see the same disk.
//
// The databases live under $TMPDIR (default /tmp), which must be a real disk: on tmpfs an
// fsync costs nothing and the figures mean nothing (a warning is printed).
#include <onevisit/engine/store.hpp>

#include "store/sqlite/store.hpp"  // group-commit counters (private header)
#include "transition_rows.hpp"

#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/vfs.h>

namespace {

namespace fs = std::filesystem;
using namespace onevisit::engine;

constexpr int kCasesPerThread = 20;
using namespace onevisit::bench;

/// CPU seconds (user + system, every thread) the process has used so far: the figure that
/// does not depend on what an fsync costs at the moment.
double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}
constexpr int kCommitsPerThreadPerIteration = 50;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "onevisit-store-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::exit(1);
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

/// A store with `threads` writers, each owning kCasesPerThread cases.
struct StoreRig {
  TempDir dir;
  std::unique_ptr<Store> store;
  std::vector<std::vector<std::uint64_t>> versions;
  int failures = 0;

  explicit StoreRig(int threads, std::shared_ptr<const AtRestKeys> keys = nullptr)
      : versions(static_cast<std::size_t>(threads), std::vector<std::uint64_t>(kCasesPerThread, 0)) {
    SqliteOptions options;
    options.keys = std::move(keys);
    auto opened = open_sqlite_store(dir.file("bench.db"), options);
    if (opened) store = std::move(*opened);
  }

  /// Every thread commits kCommitsPerThreadPerIteration transitions; returns the seconds taken.
  double round() {
    std::atomic<int> failed{0};
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (std::size_t t = 0; t < versions.size(); ++t) {
      workers.emplace_back([&, t] {
        auto& mine = versions[t];
        for (int i = 0; i < kCommitsPerThreadPerIteration; ++i) {
          const auto c = static_cast<std::size_t>(i % kCasesPerThread);
          const auto r = transition(case_name(static_cast<int>(t), static_cast<int>(c)), mine[c]);
          if (auto result = store->commit(r); result && !result->duplicate) {
            mine[c] += 1;
          } else {
            ++failed;
          }
        }
      });
    }
    for (auto& w : workers) w.join();
    failures += failed;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  std::size_t commits_per_round() const { return versions.size() * kCommitsPerThreadPerIteration; }
};

/// One connection appending the same event rows as the store, in transactions of `batch`.
///
/// With `contract`, each row also does the least that any store keeping the Store contract
/// must do per command: check and move the case's version in one statement (optimistic
/// concurrency), and record the command id with its result on the event row (idempotency, as
/// the store does since schema 5). No items, timers, outbox, snapshot, thread hand-off or
/// savepoints: the floor of the contract on SQLite, measured in the same rounds.
struct PlainRig {
  TempDir dir;
  const bool contract;
  sqlite3* db = nullptr;
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* begin = nullptr;
  sqlite3_stmt* commit = nullptr;
  sqlite3_stmt* move_case = nullptr;
  std::vector<std::string> case_ids;
  std::vector<std::uint64_t> versions;
  std::size_t next = 0;
  std::uint64_t frames = 0;      // WAL pages appended by commits
  std::uint64_t wal_frames = 0;  // pages in the WAL now
  std::string error;

  explicit PlainRig(int threads, bool with_contract = false) : contract(with_contract) {
    // Consecutive rows (one transaction) go to the cases of different threads, as the store's
    // batches hold one commit of each waiting thread: their keys are as far apart in the
    // index. (One thread's neighbouring cases in a row would share index pages the store's
    // batches never share.)
    for (int c = 0; c < kCasesPerThread; ++c) {
      for (int t = 0; t < threads; ++t) case_ids.push_back(case_name(t, c));
    }
    versions.assign(case_ids.size(), 0);
    std::string setup =
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
        "CREATE TABLE events (case_id TEXT NOT NULL, sequence BIGINT NOT NULL, type TEXT NOT NULL, "
        "payload TEXT NOT NULL, recorded_at BIGINT NOT NULL, command_id TEXT, result TEXT, "
        "PRIMARY KEY (case_id, sequence));";
    if (contract) setup += "CREATE TABLE cases (case_id TEXT PRIMARY KEY, version BIGINT NOT NULL);";
    const auto prepare = [&](const char* sql, sqlite3_stmt** stmt) {
      return sqlite3_prepare_v2(db, sql, -1, stmt, nullptr) == SQLITE_OK;
    };
    if (sqlite3_open(dir.file("plain.db").c_str(), &db) != SQLITE_OK ||
        sqlite3_exec(db, setup.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK ||
        !prepare("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", &insert) ||
        !prepare("BEGIN IMMEDIATE", &begin) || !prepare("COMMIT", &commit) ||
        (contract &&
         !prepare("INSERT INTO cases VALUES (?1, ?2) ON CONFLICT (case_id) DO UPDATE SET version = "
                  "excluded.version WHERE cases.version = ?2 - 1",
                  &move_case))) {
      error = sqlite3_errmsg(db);
    }
    // Counts WAL pages like the store does, and checkpoints as SQLite's automatic checkpoint
    // would (which this hook replaces): PASSIVE, once the WAL holds 1000 pages.
    sqlite3_wal_hook(
        db,
        [](void* self, sqlite3* handle, const char* name, int n) {
          auto* rig = static_cast<PlainRig*>(self);
          const auto now = static_cast<std::uint64_t>(n);
          rig->frames += now >= rig->wal_frames ? now - rig->wal_frames : now;
          rig->wal_frames = now;
          if (n >= 1000) sqlite3_wal_checkpoint(handle, name);
          return SQLITE_OK;
        },
        this);
  }
  ~PlainRig() {
    for (auto* stmt : {insert, begin, commit, move_case}) {
      sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
  }

  bool step(sqlite3_stmt* stmt) {
    const int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return true;
    error = sqlite3_errmsg(db);
    return false;
  }

  /// Appends `rows` event rows in transactions of `batch`; returns the seconds taken.
  double round(std::size_t rows, std::size_t batch) {
    const auto start = std::chrono::steady_clock::now();
    std::string command_id;
    for (std::size_t done = 0; error.empty() && done < rows;) {
      if (!step(begin)) break;
      for (std::size_t i = 0; i < batch && done < rows; ++i, ++done) {
        const auto slot = next++ % case_ids.size();
        const auto sequence = ++versions[slot];
        const auto& case_id = case_ids[slot];
        if (contract) {
          command_id = case_id + "-v" + std::to_string(sequence - 1);
          sqlite3_bind_text(move_case, 1, case_id.c_str(), -1, SQLITE_STATIC);
          sqlite3_bind_int64(move_case, 2, static_cast<sqlite3_int64>(sequence));
          if (!step(move_case)) break;
          if (sqlite3_changes(db) != 1) {
            error = "the floor's case " + case_id + " was not at version " + std::to_string(sequence - 1);
            break;
          }
        }
        sqlite3_bind_text(insert, 1, case_id.c_str(), -1, SQLITE_STATIC);
        sqlite3_bind_int64(insert, 2, static_cast<sqlite3_int64>(sequence));
        sqlite3_bind_text(insert, 3, "ItemTransitioned", -1, SQLITE_STATIC);
        sqlite3_bind_text(insert, 4, event_payload().c_str(), static_cast<int>(event_payload().size()),
                          SQLITE_STATIC);
        sqlite3_bind_int64(insert, 5, kNow);
        if (contract) {
          sqlite3_bind_text(insert, 6, command_id.c_str(), -1, SQLITE_STATIC);
          sqlite3_bind_text(insert, 7, "{\"ok\":true}", -1, SQLITE_STATIC);
        } else {
          sqlite3_bind_null(insert, 6);
          sqlite3_bind_null(insert, 7);
        }
        if (!step(insert)) break;
      }
      if (!step(commit)) break;
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
};

struct Figures {
  double store_commits_per_second = 0;
  double plain_commits_per_second = 0;
  double average_batch = 0;  // commits per transaction (one fsync each)
  std::uint64_t largest_batch = 0;
  double store_cpu_us_per_commit = 0;
  double store_frames_per_commit = 0;
  double plain_cpu_us_per_commit = 0;
  double plain_frames_per_commit = 0;
  double contract_commits_per_second = 0;
  double contract_cpu_us_per_commit = 0;
  double contract_frames_per_commit = 0;
};
std::mutex figures_mutex;
std::map<std::string, Figures> figures;

void record(const std::string& name, Figures f) {
  std::lock_guard lock(figures_mutex);
  figures[name] = f;
}

// SqliteStore::commit from N threads, alone.
void BM_StoreCommit(benchmark::State& state) {
  StoreRig rig(static_cast<int>(state.range(0)));
  if (!rig.store) {
    state.SkipWithError("cannot open the store");
    return;
  }
  double seconds = 0;
  std::size_t commits = 0;
  for (auto _ : state) {
    seconds += rig.round();
    commits += rig.commits_per_round();
  }
  if (rig.failures > 0) state.SkipWithError("commits failed");
  const auto stats = sqlite_store_stats(*rig.store).value_or(SqliteStoreStats{});
  Figures f;
  f.store_commits_per_second = seconds > 0 ? static_cast<double>(commits) / seconds : 0;
  f.average_batch = stats.transactions > 0 ? static_cast<double>(stats.writes) / static_cast<double>(stats.transactions) : 0;
  f.largest_batch = stats.largest_batch;
  state.counters["commits_per_s"] = f.store_commits_per_second;
  state.counters["avg_batch"] = f.average_batch;
  record("store/" + std::to_string(state.range(0)), f);
}
BENCHMARK(BM_StoreCommit)->ArgName("threads")->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);

// Encryption at rest: the same transitions into a store with a key and into one without, in
// alternating rounds (both see the same disk). Sealing costs CPU on the writer thread; the
// figure to watch is CPU per commit, as commits/s is set by the fsyncs.
void BM_SealedVsClear(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  auto keys = AtRestKeys::from_base64("bench", {{"bench", AtRestKeys::generate_base64()}});
  if (!keys) {
    state.SkipWithError(keys.error().c_str());
    return;
  }
  StoreRig clear(threads);
  StoreRig sealed(threads, std::make_shared<const AtRestKeys>(std::move(*keys)));
  if (!clear.store || !sealed.store) {
    state.SkipWithError("cannot open the stores");
    return;
  }
  double clear_seconds = 0, sealed_seconds = 0, clear_cpu = 0, sealed_cpu = 0;
  std::size_t rows = 0;
  for (auto _ : state) {
    const double cpu0 = cpu_seconds();
    clear_seconds += clear.round();
    const double cpu1 = cpu_seconds();
    sealed_seconds += sealed.round();
    const double cpu2 = cpu_seconds();
    clear_cpu += cpu1 - cpu0;
    sealed_cpu += cpu2 - cpu1;
    rows += clear.commits_per_round();
  }
  if (clear.failures > 0 || sealed.failures > 0) {
    state.SkipWithError("commits failed");
    return;
  }
  Figures f;
  f.store_commits_per_second = static_cast<double>(rows) / clear_seconds;
  f.store_cpu_us_per_commit = 1e6 * clear_cpu / static_cast<double>(rows);
  f.plain_commits_per_second = static_cast<double>(rows) / sealed_seconds;  // here: the sealed store
  f.plain_cpu_us_per_commit = 1e6 * sealed_cpu / static_cast<double>(rows);
  state.counters["clear_commits_per_s"] = f.store_commits_per_second;
  state.counters["sealed_commits_per_s"] = f.plain_commits_per_second;
  state.counters["clear_cpu_us"] = f.store_cpu_us_per_commit;
  state.counters["sealed_cpu_us"] = f.plain_cpu_us_per_commit;
  record("sealed/" + std::to_string(threads), f);
}
BENCHMARK(BM_SealedVsClear)->ArgName("threads")->Arg(1)->Arg(8)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(4.0);

// find_command on a case whose commands are recorded on its events (schema 5): the look-up
// walks the case's chain back from its latest event. An id that is not there (a new command:
// what the engine looks up before nearly every keyed command) walks all of it; the id of the
// case's first command too. Cases of 16, 64 and 256 events, each event a keyed command.
void BM_FindCommandInCase(benchmark::State& state) {
  const auto events = static_cast<std::uint64_t>(state.range(0));
  TempDir dir;
  auto opened = open_sqlite_store(dir.file("find.db"));
  if (!opened) {
    state.SkipWithError("cannot open the store");
    return;
  }
  auto& store = **opened;
  const std::string case_id = "case-find";
  for (std::uint64_t v = 0; v < events; ++v) {
    if (!store.commit(transition(case_id, v))) {
      state.SkipWithError("commit failed");
      return;
    }
  }
  const std::string first = transition(case_id, 1).command_id;  // recorded on the second event
  bool missing_ok = true, first_ok = true;
  for (auto _ : state) {
    const auto missing = store.find_command(case_id, "never-sent");
    const auto found = store.find_command(case_id, first);
    missing_ok = missing_ok && missing && !missing->has_value();
    first_ok = first_ok && found && found->has_value();
  }
  if (!missing_ok || !first_ok) state.SkipWithError("find_command answered wrongly");
  state.counters["lookups_per_s"] =
      benchmark::Counter(2.0 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FindCommandInCase)->ArgName("events")->Arg(16)->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);

// The comparison: rounds of the store (N threads) and of plain SQLite alternate, so both see
// the same disk (an fsync's cost varies by a factor of several on a shared machine). Each
// plain round appends as many event rows as the store round committed, in transactions as
// large as the store's average group in that round (one fsync per transaction on both sides).
void BM_GroupCommitVsPlain(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  StoreRig store(threads);
  PlainRig plain(threads);
  PlainRig contract(threads, true);
  if (!store.store || !plain.error.empty() || !contract.error.empty()) {
    state.SkipWithError("cannot open the databases");
    return;
  }
  double store_seconds = 0, plain_seconds = 0, store_cpu = 0, plain_cpu = 0;
  double contract_seconds = 0, contract_cpu = 0;
  std::size_t rows = 0;
  SqliteStoreStats before = sqlite_store_stats(*store.store).value_or(SqliteStoreStats{});
  for (auto _ : state) {
    const double cpu0 = cpu_seconds();
    store_seconds += store.round();
    const double cpu1 = cpu_seconds();
    store_cpu += cpu1 - cpu0;
    const auto after = sqlite_store_stats(*store.store).value_or(SqliteStoreStats{});
    // One fsync per store transaction (synchronous=FULL), as per plain transaction.
    const auto transactions = std::max<std::uint64_t>(1, after.transactions - before.transactions);
    const auto batch = std::max<std::size_t>(
        1, static_cast<std::size_t>(std::lround(static_cast<double>(after.writes - before.writes) /
                                                static_cast<double>(transactions))));
    before = after;
    plain_seconds += plain.round(store.commits_per_round(), batch);
    const double cpu2 = cpu_seconds();
    plain_cpu += cpu2 - cpu1;
    contract_seconds += contract.round(store.commits_per_round(), batch);
    contract_cpu += cpu_seconds() - cpu2;
    rows += store.commits_per_round();
  }
  if (store.failures > 0 || !plain.error.empty() || !contract.error.empty()) {
    state.SkipWithError(!plain.error.empty() ? plain.error.c_str() : !contract.error.empty() ? contract.error.c_str() : "commits failed");
    return;
  }
  const auto stats = sqlite_store_stats(*store.store).value_or(SqliteStoreStats{});
  Figures f;
  f.store_commits_per_second = static_cast<double>(rows) / store_seconds;
  f.plain_commits_per_second = static_cast<double>(rows) / plain_seconds;
  f.average_batch = static_cast<double>(stats.writes) / static_cast<double>(std::max<std::uint64_t>(1, stats.transactions));
  f.largest_batch = stats.largest_batch;
  f.store_cpu_us_per_commit = 1e6 * store_cpu / static_cast<double>(rows);
  f.store_frames_per_commit = static_cast<double>(stats.wal_frames) / static_cast<double>(std::max<std::uint64_t>(1, stats.writes));
  f.plain_cpu_us_per_commit = 1e6 * plain_cpu / static_cast<double>(rows);
  f.plain_frames_per_commit = static_cast<double>(plain.frames) / static_cast<double>(rows);
  f.contract_commits_per_second = static_cast<double>(rows) / contract_seconds;
  f.contract_cpu_us_per_commit = 1e6 * contract_cpu / static_cast<double>(rows);
  f.contract_frames_per_commit = static_cast<double>(contract.frames) / static_cast<double>(rows);
  state.counters["store_commits_per_s"] = f.store_commits_per_second;
  state.counters["plain_commits_per_s"] = f.plain_commits_per_second;
  state.counters["ratio"] = f.store_commits_per_second / f.plain_commits_per_second;
  state.counters["avg_batch"] = f.average_batch;
  record("vs/" + std::to_string(threads), f);
}
BENCHMARK(BM_GroupCommitVsPlain)
    ->ArgName("threads")
    ->Arg(8)
    ->Arg(32)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(6.0);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  {
    TempDir probe;
    struct statfs info {};
    std::printf("database directory: %s\n", probe.path().parent_path().c_str());
    if (::statfs(probe.path().c_str(), &info) == 0 && info.f_type == TMPFS_MAGIC) {
      std::printf(
          "WARNING: this is tmpfs; fsync costs nothing here, set TMPDIR to a directory on a real disk\n");
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  std::lock_guard lock(figures_mutex);
  std::printf("\n");
  if (const auto one = figures.find("store/1"); one != figures.end()) {
    std::printf("SqliteStore::commit, 1 thread:  %.0f commits/s (one fsync each)\n",
                one->second.store_commits_per_second);
  }
  for (const auto& [name, f] : figures) {
    if (!name.starts_with("sealed/")) continue;
    std::printf("\nencryption at rest, %s threads: clear %.0f commits/s, %.0f us CPU per commit; sealed %.0f commits/s, "
                "%.0f us CPU per commit (%+.0f us)\n",
                name.substr(7).c_str(), f.store_commits_per_second, f.store_cpu_us_per_commit, f.plain_commits_per_second,
                f.plain_cpu_us_per_commit, f.plain_cpu_us_per_commit - f.store_cpu_us_per_commit);
  }
  for (const auto& [name, f] : figures) {
    if (!name.starts_with("vs/")) continue;
    std::printf("\nSqliteStore::commit, %s threads: %.0f commits/s (%.1f commits per transaction, largest %llu)\n",
                name.substr(3).c_str(), f.store_commits_per_second, f.average_batch,
                static_cast<unsigned long long>(f.largest_batch));
    std::printf("plain SQLite, same event rows in transactions of the same size: %.0f commits/s\n",
                f.plain_commits_per_second);
    std::printf("ratio store / plain: %.0f%% (target >= 50%%)\n",
                100 * f.store_commits_per_second / f.plain_commits_per_second);
    std::printf(
        "the contract's floor: plain SQLite doing per row only the case version check and move and the "
        "command record on the event besides the event: %.0f commits/s, %.0f%% of plain\n",
        f.contract_commits_per_second, 100 * f.contract_commits_per_second / f.plain_commits_per_second);
    std::printf("CPU per commit (all threads, user + system): store %.0f us, plain %.0f us, floor %.0f us\n",
                f.store_cpu_us_per_commit, f.plain_cpu_us_per_commit, f.contract_cpu_us_per_commit);
    std::printf("WAL pages written per commit: store %.2f, plain %.2f, floor %.2f\n", f.store_frames_per_commit,
                f.plain_frames_per_commit, f.contract_frames_per_commit);
  }
  return 0;
}
