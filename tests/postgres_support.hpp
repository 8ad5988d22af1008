// The PostgreSQL test cluster for the tests tagged [postgres]: ctest starts it as the fixture
// onevisit_postgresql (scripts/pg_cluster.sh) and passes its URL in
// ONEVISIT_TEST_POSTGRES_URL; each test works in a schema of its own (PostgresScratch).
#pragma once

#include <catch2/catch.hpp>
#include <libpq-fe.h>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace onevisit::testing {

/// The test cluster's URL, or a failure that says why there is none.
inline std::string postgres_url() {
  const char* url = std::getenv("ONEVISIT_TEST_POSTGRES_URL");
  if (url == nullptr || *url == '\0') {
    FAIL("no PostgreSQL to test against: ONEVISIT_TEST_POSTGRES_URL is not set. ctest starts a throwaway cluster "
         "(the onevisit_postgresql fixture, scripts/pg_cluster.sh); to run this test binary by hand, start one with "
         "scripts/pg_cluster.sh start build/pg-cluster and set the variable to the URL it prints");
  }
  return url;
}

/// Runs `sql` on the test cluster outside any store (creating and dropping schemas,
/// damaging rows on purpose).
inline void postgres_sql(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  INFO("connecting to the PostgreSQL test cluster at " << url);
  REQUIRE(PQstatus(conn) == CONNECTION_OK);
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);  // "does not exist, skipping"
  PGresult* result = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK || PQresultStatus(result) == PGRES_TUPLES_OK;
  const std::string message = PQresultErrorMessage(result);
  PQclear(result);
  PQfinish(conn);
  INFO(sql << ": " << message);
  REQUIRE(ok);
}

/// A PostgreSQL store in a schema of its own (search_path set by the URL's options).
class PostgresScratch {
 public:
  PostgresScratch() : base_(postgres_url()) {
    static std::atomic<int> counter{0};
    schema_ = "contract_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    postgres_sql(base_, "DROP SCHEMA IF EXISTS " + schema_ + " CASCADE; CREATE SCHEMA " + schema_);
    url_ = base_ + (base_.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema_;
  }
  ~PostgresScratch() {
    PGconn* conn = PQconnectdb(base_.c_str());
    PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
    if (PQstatus(conn) == CONNECTION_OK) PQclear(PQexec(conn, ("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE").c_str()));
    PQfinish(conn);
  }
  PostgresScratch(const PostgresScratch&) = delete;
  PostgresScratch& operator=(const PostgresScratch&) = delete;

  const std::string& url() const { return url_; }
  const std::string& base() const { return base_; }
  const std::string& schema() const { return schema_; }

 private:
  std::string base_;
  std::string schema_;
  std::string url_;
};

/// The database a server test's service keeps everything in: an SQLite file in `dir`; or,
/// when ctest runs the test again as "postgresql: …" (the tests tagged [both-databases], with
/// ONEVISIT_TEST_SERVER_POSTGRES_URL set to the test cluster), a schema of its own there,
/// which lives as long as `scratch`.
inline std::string server_test_database(const std::filesystem::path& dir, std::optional<PostgresScratch>& scratch) {
  const char* url = std::getenv("ONEVISIT_TEST_SERVER_POSTGRES_URL");
  if (url == nullptr || *url == '\0') return (dir / "cases.db").string();
  ::setenv("ONEVISIT_TEST_POSTGRES_URL", url, 1);
  scratch.emplace();
  return scratch->url();
}

}  // namespace onevisit::testing
