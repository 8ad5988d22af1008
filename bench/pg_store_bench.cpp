// Benchmark of the PostgreSQL store's group commit against plain PostgreSQL (issue 16;
// docs/performance.md, PostgreSQL).
//
//   onevisit_pg_store_bench URL [seconds per thread count]
//
// For 8 and for 32 client threads, alternating rounds of
//   (b) the store's commit from N threads, each on its own cases (the typical transition of
//       transition_rows.hpp, as the SQLite benchmark commits), and
//   (a) plain PostgreSQL on one connection inserting the same event rows into a table shaped
//       like the store's `events`, in transactions as large as the store's average group in
//       that round, with the same durability (synchronous_commit on: each COMMIT waits for
//       its WAL flush, as the store's group transactions do).
// Rounds alternate because a WAL flush's cost varies by a factor of several on a shared
// machine; both sides then see the same disk. Prints commits/s of both and the ratio
// (target: the store reaches at least 50% of plain PostgreSQL).
//
// Each run works in a schema of its own (dropped at the end); the database's
// synchronous_commit and fsync are printed, since figures with either off mean nothing.
#include "store/postgres/store.hpp"  // group-commit counters (private header)
#include "transition_rows.hpp"

#include <onevisit/engine/store.hpp>

#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace onevisit::bench;
using onevisit::engine::Store;

constexpr int kCasesPerThread = 20;
constexpr int kCommitsPerThreadPerRound = 25;

// One libpq connection; statements that fail end the run with their message.
class Connection {
 public:
  explicit Connection(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) fail("connecting", PQerrorMessage(conn_));
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  }
  ~Connection() { PQfinish(conn_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs `sql`; the first column of the first row, when there is one.
  std::string exec(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    check(r, sql);
    std::string value = PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
    return value;
  }
  void prepare(const char* name, const char* sql) { check(PQprepare(conn_, name, sql, 0, nullptr), sql, true); }
  void run_prepared(const char* name, const std::vector<std::string>& values) {
    std::vector<const char*> pointers;
    for (const auto& v : values) pointers.push_back(v.c_str());
    check(PQexecPrepared(conn_, name, static_cast<int>(values.size()), pointers.data(), nullptr, nullptr, 0), name, true);
  }

 private:
  [[noreturn]] static void fail(const std::string& what, const std::string& message) {
    std::fprintf(stderr, "pg_store_bench: %s: %s\n", what.c_str(), message.c_str());
    std::exit(1);
  }
  void check(PGresult* r, const std::string& what, bool free_it = false) {
    const auto status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      const std::string message = PQresultErrorMessage(r);
      PQclear(r);
      fail(what, message);
    }
    if (free_it) PQclear(r);
  }
  PGconn* conn_;
};

// The URL with the session's search_path set to `schema`.
std::string in_schema(const std::string& url, const std::string& schema) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema;
}

/// The store with `threads` writers, each owning kCasesPerThread cases.
struct StoreRig {
  std::unique_ptr<Store> store;
  std::vector<std::vector<std::uint64_t>> versions;
  std::atomic<int> failures{0};

  StoreRig(const std::string& url, int threads) : versions(static_cast<std::size_t>(threads), std::vector<std::uint64_t>(kCasesPerThread, 0)) {
    auto opened = onevisit::engine::open_postgres_store(url);
    if (!opened) {
      std::fprintf(stderr, "pg_store_bench: cannot open the store: %s\n", opened.error().message.c_str());
      std::exit(1);
    }
    store = std::move(*opened);
  }

  /// Every thread commits kCommitsPerThreadPerRound transitions; the seconds taken.
  double round(int thread_tag) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (std::size_t t = 0; t < versions.size(); ++t) {
      workers.emplace_back([&, t] {
        auto& mine = versions[t];
        for (int i = 0; i < kCommitsPerThreadPerRound; ++i) {
          const auto c = static_cast<std::size_t>(i % kCasesPerThread);
          const auto r = transition(case_name(thread_tag * 1000 + static_cast<int>(t), static_cast<int>(c)), mine[c]);
          if (auto result = store->commit(r); result && !result->duplicate) {
            mine[c] += 1;
          } else {
            if (!result && failures == 0) std::fprintf(stderr, "pg_store_bench: commit failed: %s\n", result.error().message.c_str());
            ++failures;
          }
        }
      });
    }
    for (auto& w : workers) w.join();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  std::size_t commits_per_round() const { return versions.size() * kCommitsPerThreadPerRound; }
};

/// One connection inserting the same event rows as the store, in transactions of `batch`.
/// Consecutive rows go to the cases of different threads, as the store's groups hold one
/// commit of each waiting thread.
struct PlainRig {
  Connection conn;
  std::vector<std::string> case_ids;
  std::vector<std::uint64_t> versions;
  std::size_t next = 0;

  PlainRig(const std::string& url, int threads, int thread_tag) : conn(url) {
    for (int c = 0; c < kCasesPerThread; ++c) {
      for (int t = 0; t < threads; ++t) case_ids.push_back(case_name(thread_tag * 1000 + t, c));
    }
    versions.assign(case_ids.size(), 0);
    const std::string table = "plain_events_" + std::to_string(thread_tag);
    conn.exec("CREATE TABLE " + table +
              " (case_id TEXT NOT NULL, sequence BIGINT NOT NULL, type TEXT NOT NULL, payload BYTEA NOT NULL, "
              "recorded_at BIGINT NOT NULL, PRIMARY KEY (case_id, sequence))");
    conn.prepare("insert", ("INSERT INTO " + table + " VALUES ($1, $2::bigint, $3, $4::bytea, $5::bigint)").c_str());
  }

  /// Inserts `rows` event rows in transactions of `batch`; the seconds taken.
  double round(std::size_t rows, std::size_t batch) {
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t done = 0; done < rows;) {
      conn.exec("BEGIN");
      for (std::size_t i = 0; i < batch && done < rows; ++i, ++done) {
        const auto slot = next++ % case_ids.size();
        conn.run_prepared("insert", {case_ids[slot], std::to_string(++versions[slot]), "ItemTransitioned", event_payload(),
                                     std::to_string(kNow)});
      }
      conn.exec("COMMIT");
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
};

}  // namespace

int main(int argc, char** argv) {
  const char* from_env = std::getenv("ONEVISIT_BENCH_POSTGRES_URL");
  if (argc < 2 && from_env == nullptr) {
    std::fprintf(stderr, "usage: %s postgresql://… [seconds per thread count]  (or set ONEVISIT_BENCH_POSTGRES_URL)\n", argv[0]);
    return 2;
  }
  const std::string base = argc >= 2 ? argv[1] : from_env;
  const double seconds = argc >= 3 ? std::atof(argv[2]) : 10.0;
  const std::string schema = "store_bench_" + std::to_string(::getpid());
  const std::string url = in_schema(base, schema);
  {
    Connection admin(base);
    admin.exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE; CREATE SCHEMA " + schema);
    std::printf("synchronous_commit = %s, fsync = %s, server %s\n", admin.exec("SHOW synchronous_commit").c_str(),
                admin.exec("SHOW fsync").c_str(), admin.exec("SHOW server_version").c_str());
  }
  for (const int threads : {8, 32}) {
    StoreRig store(url, threads);
    PlainRig plain(url, threads, threads);
    double store_seconds = 0, plain_seconds = 0;
    std::size_t rows = 0;
    auto before = onevisit::engine::postgres_store_stats(*store.store).value_or(onevisit::engine::PostgresStoreStats{});
    const auto first = before;
    while (store_seconds + plain_seconds < seconds) {
      store_seconds += store.round(threads);
      const auto after = onevisit::engine::postgres_store_stats(*store.store).value_or(onevisit::engine::PostgresStoreStats{});
      const auto transactions = std::max<std::uint64_t>(1, after.transactions - before.transactions);
      const auto batch = std::max<std::size_t>(
          1, static_cast<std::size_t>(std::lround(static_cast<double>(after.writes - before.writes) / static_cast<double>(transactions))));
      before = after;
      plain_seconds += plain.round(store.commits_per_round(), batch);
      rows += store.commits_per_round();
    }
    if (store.failures > 0) {
      std::fprintf(stderr, "pg_store_bench: %d commits failed\n", store.failures.load());
      return 1;
    }
    const double store_rate = static_cast<double>(rows) / store_seconds;
    const double plain_rate = static_cast<double>(rows) / plain_seconds;
    const auto writes = before.writes - first.writes;
    const auto transactions = std::max<std::uint64_t>(1, before.transactions - first.transactions);
    std::printf("\n%d threads, %zu commits each side\n", threads, rows);
    std::printf("PostgreSQL store commit: %.0f commits/s (%.1f commits per transaction, largest %llu)\n", store_rate,
                static_cast<double>(writes) / static_cast<double>(transactions), static_cast<unsigned long long>(before.largest_batch));
    std::printf("plain PostgreSQL, same event rows in transactions of the same size: %.0f commits/s\n", plain_rate);
    std::printf("ratio store / plain: %.0f%% (target >= 50%%)\n", 100.0 * store_rate / plain_rate);
  }
  Connection admin(base);
  // What a transition costs on disk, for the sizing note (docs/operations.md): the store's
  // tables and indexes (the plain tables left out) over its commits.
  const std::string store_bytes = admin.exec(
      "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = '" + schema + "' AND c.relkind = 'r' AND c.relname NOT LIKE 'plain_events_%'");
  const std::string commits = admin.exec("SELECT COUNT(*) FROM " + schema + ".events");
  std::printf("\nstore tables and indexes: %s bytes for %s events (%.0f bytes per committed transition)\n", store_bytes.c_str(),
              commits.c_str(), std::atof(store_bytes.c_str()) / std::max(1.0, std::atof(commits.c_str())));
  admin.exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
  return 0;
}
