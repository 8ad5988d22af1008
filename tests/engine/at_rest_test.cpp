// Personal data at rest (docs/storage.md, Encryption at rest): a copied database file shows
// no ID number, phone or name; keys rotate; a missing or wrong key is a clear error.
#include <onevisit/adapters/config.hpp>
#include <onevisit/engine/engine.hpp>

#include "engine_support.hpp"
#include "store/codec.hpp"    // white-box: compare whole case states
#include "store/sealing.hpp"  // white-box: the sealed format

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <filesystem>
#include <string>

using namespace onevisit;
using namespace onevisit::engine;
using dsl::Value;
namespace fs = std::filesystem;

using testing::at;
using testing::keys;
using testing::open_engine;
using testing::newborn::kFatherId;
using testing::newborn::kMotherId;
using testing::newborn::kMotherName;
using testing::newborn::kPhone;
namespace newborn = testing::newborn;

namespace {

// Starts a newborn case: its first events hold the whole form.
std::string start_newborn(Engine& engine, const std::string& case_id) {
  auto started = engine.start_case("newborn", newborn::form(), kMotherId, {case_id + "-start", "clerk-1", "clerk"}, case_id);
  if (!started) FAIL(started.error().message);
  return started->case_id;
}

std::size_t count(const fs::path& db, const std::string& sql) {
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(handle, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  const auto n = static_cast<std::size_t>(sqlite3_column_int64(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(handle);
  return n;
}

void check_no_personal_data(const std::string& bytes) {
  CHECK(bytes.find(kMotherId) == std::string::npos);
  CHECK(bytes.find(kFatherId) == std::string::npos);
  CHECK(bytes.find(kPhone) == std::string::npos);
  CHECK(bytes.find(kMotherName) == std::string::npos);
}

}  // namespace

TEST_CASE("at rest: a copied database and its WAL show no ID number, phone or name, replay equals live state",
          "[at_rest][sqlite]") {
  testing::ScratchDir dir("onevisit-at-rest");
  const auto db = dir.path() / "cases.db";
  VirtualClock clock(at(2026, 3, 2));
  const auto k1 = keys("k1", {{"k1", AtRestKeys::generate_base64()}});
  std::string live;
  std::string case_id;
  {
    auto engine = open_engine(db, clock, k1);
    REQUIRE(engine->deploy({newborn::bundle()}));
    case_id = start_newborn(*engine, "nb-1");
    auto view = engine->get_case(case_id);
    REQUIRE(view);
    live = codec::encode_case(view->state);
    // The personal values are there to find.
    REQUIRE(live.find(kMotherId) != std::string::npos);
    // While the service runs: the file and its WAL.
    check_no_personal_data(testing::database_bytes(db));
  }
  // After a clean close everything is in the database file.
  check_no_personal_data(testing::database_bytes(db));
  CHECK(count(db, "SELECT COUNT(*) FROM events WHERE typeof(payload) <> 'blob'") == 0);

  auto engine = open_engine(db, clock, k1);
  auto replayed = engine->get_case(case_id);
  REQUIRE(replayed);
  CHECK(codec::encode_case(replayed->state) == live);
  auto history = engine->history(case_id);
  REQUIRE(history);
  CHECK(history->front().payload.find(kMotherId) != std::string::npos);
}

TEST_CASE("at rest: event payloads, snapshots and outbox payloads are sealed, and read back as written", "[at_rest][sqlite]") {
  testing::ScratchDir dir("onevisit-at-rest");
  const auto db = dir.path() / "cases.db";
  const std::string personal = std::string("{\"id\":\"") + kMotherId + "\",\"phone\":\"" + kPhone + "\"}";
  CommitRequest r;
  r.command_id = "c-1";
  r.case_id = "case-1";
  r.events = {StoredEvent{1, "CaseStarted", personal, 1000}, StoredEvent{2, "ItemActivated", "{}", 1000}};
  r.snapshot = personal;
  r.summary = CaseSummary{"case-1", "newborn", 1, "running", "1101**********002X", 1000, 1000, 2};
  r.outbox = {OutboxRecord{0, "case-1/x/1/0", "case-1", "health", "notify", "send", personal}};
  r.result = "{}";
  const auto k1 = keys("k1", {{"k1", AtRestKeys::generate_base64()}});
  {
    auto store = open_sqlite_store(db.string(), SqliteOptions{.keys = k1});
    REQUIRE(store);
    REQUIRE((*store)->commit(r));
    check_no_personal_data(testing::database_bytes(db));
    auto loaded = (*store)->load_case("case-1");
    REQUIRE(loaded);
    REQUIRE(*loaded);
    CHECK((*loaded)->snapshot == personal);
    auto events = (*store)->load_events("case-1");
    REQUIRE(events);
    REQUIRE(events->size() == 2);
    CHECK(events->front().payload == personal);
    CHECK(events->back().payload == "{}");
    auto pending = (*store)->pending_outbox(2000, 10);
    REQUIRE(pending);
    REQUIRE(pending->size() == 1);
    CHECK(pending->front().payload == personal);
    auto listed = (*store)->list_outbox("case-1", "", 10);
    REQUIRE(listed);
    REQUIRE(listed->size() == 1);
    CHECK(listed->front().payload == personal);
  }
  check_no_personal_data(testing::database_bytes(db));
  CHECK(count(db, "SELECT COUNT(*) FROM events WHERE typeof(payload) = 'blob'") == 2);
  CHECK(count(db, "SELECT COUNT(*) FROM snapshots WHERE typeof(snapshot) = 'blob'") == 1);
  CHECK(count(db, "SELECT COUNT(*) FROM outbox WHERE typeof(payload) = 'blob'") == 1);
}

TEST_CASE("at rest: a file with sealed values opened without its key, or with another key under its id, is refused as locked",
          "[at_rest][sqlite]") {
  testing::ScratchDir dir("onevisit-at-rest");
  const auto db = dir.path() / "cases.db";
  VirtualClock clock(at(2026, 3, 2));
  {
    auto engine = open_engine(db, clock, keys("k1", {{"k1", AtRestKeys::generate_base64()}}));
    REQUIRE(engine->deploy({newborn::bundle()}));
    start_newborn(*engine, "nb-1");
  }
  const auto before = testing::read_file(db);
  SECTION("no keys") {
    auto opened = open_sqlite_store(db.string());
    REQUIRE(!opened);
    CHECK(opened.error().kind == StoreError::Kind::locked);
    CHECK_THAT(opened.error().message, Catch::Contains("encrypted under key \"k1\", and no keys were given"));
  }
  SECTION("other key ids") {
    SqliteOptions options;
    options.keys = keys("k2", {{"k2", AtRestKeys::generate_base64()}});
    auto opened = open_sqlite_store(db.string(), options);
    REQUIRE(!opened);
    CHECK(opened.error().kind == StoreError::Kind::locked);
    CHECK_THAT(opened.error().message, Catch::Contains("which the configuration does not give"));
  }
  SECTION("another key under the same id") {
    SqliteOptions options;
    options.keys = keys("k1", {{"k1", AtRestKeys::generate_base64()}});
    auto opened = open_sqlite_store(db.string(), options);
    REQUIRE(!opened);
    CHECK(opened.error().kind == StoreError::Kind::locked);
    CHECK_THAT(opened.error().message, Catch::Contains("is not the key"));
  }
  CHECK(testing::read_file(db) == before);  // refused without a write
}

TEST_CASE("at rest: a sealed value copied into another case does not open: corrupt, never that case's data",
          "[at_rest][sqlite]") {
  testing::ScratchDir dir("onevisit-at-rest");
  const auto db = dir.path() / "cases.db";
  VirtualClock clock(at(2026, 3, 2));
  const auto k1 = keys("k1", {{"k1", AtRestKeys::generate_base64()}});
  {
    auto engine = open_engine(db, clock, k1);
    REQUIRE(engine->deploy({newborn::bundle()}));
    start_newborn(*engine, "nb-1");
    start_newborn(*engine, "nb-2");
  }
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &handle) == SQLITE_OK);
  REQUIRE(sqlite3_exec(handle,
                       "UPDATE events SET payload = (SELECT payload FROM events WHERE case_id = 'nb-1' AND sequence = 1) "
                       "WHERE case_id = 'nb-2' AND sequence = 1",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(handle);
  auto store = open_sqlite_store(db.string(), SqliteOptions{.keys = k1});
  REQUIRE(store);
  auto events = (*store)->load_events("nb-2");
  REQUIRE(!events);
  CHECK(events.error().kind == StoreError::Kind::corrupt);
  CHECK_THAT(events.error().message, Catch::Contains("does not open"));
  CHECK((*store)->load_events("nb-1"));
}

TEST_CASE("at rest: keys rotate, old values stay readable, reseal moves every value to the current key and retires the old one",
          "[at_rest][sqlite]") {
  testing::ScratchDir dir("onevisit-at-rest");
  const auto db = dir.path() / "cases.db";
  VirtualClock clock(at(2026, 3, 2));
  const auto first = AtRestKeys::generate_base64();
  const auto second = AtRestKeys::generate_base64();
  std::map<std::string, std::string> states;
  // A database begun without keys (the embedded default), then given one, then rotated.
  {
    auto engine = open_engine(db, clock, nullptr);
    REQUIRE(engine->deploy({newborn::bundle()}));
    start_newborn(*engine, "clear-1");
  }
  CHECK(testing::database_bytes(db).find(kMotherId) != std::string::npos);
  {
    auto engine = open_engine(db, clock, keys("2026-01", {{"2026-01", first}}));
    start_newborn(*engine, "k1-1");
  }
  {
    std::shared_ptr<Store> store;
    auto engine = open_engine(db, clock, keys("2026-12", {{"2026-01", first}, {"2026-12", second}}), &store);
    start_newborn(*engine, "k2-1");
    for (const char* id : {"clear-1", "k1-1", "k2-1"}) {
      auto view = engine->get_case(id);
      REQUIRE(view);
      states[id] = codec::encode_case(view->state);
      CHECK(states[id].find(kMotherId) != std::string::npos);
    }
    CHECK(count(db, "SELECT COUNT(*) FROM events WHERE typeof(payload) = 'text'") > 0);
    auto report = reseal_sqlite_store(*store);
    if (!report) FAIL(report.error().message);
    CHECK(report->resealed > 0);
    CHECK(report->retired == std::vector<std::string>{"2026-01"});
    CHECK(count(db, "SELECT COUNT(*) FROM events WHERE typeof(payload) = 'text'") == 0);
    auto again = reseal_sqlite_store(*store);
    REQUIRE(again);
    CHECK(again->resealed == 0);  // nothing left under another key
  }
  check_no_personal_data(testing::database_bytes(db));
  // The old key is no longer needed.
  auto engine = open_engine(db, clock, keys("2026-12", {{"2026-12", second}}));
  for (const auto& [id, state] : states) {
    auto view = engine->get_case(id);
    REQUIRE(view);
    CHECK(codec::encode_case(view->state) == state);
  }
}

TEST_CASE("at rest: [storage] keys in the configuration, errors name the key id, never the key", "[at_rest][config]") {
  const auto key = AtRestKeys::generate_base64();
  auto parsed = adapters::parse_storage_keys("[storage]\nkey = \"2026-12\"\n[storage.keys]\n2026-12 = \"" + key + "\"\n");
  REQUIRE(parsed);
  REQUIRE(*parsed);
  CHECK((*parsed)->current().id == "2026-12");
  auto none = adapters::parse_storage_keys("[dispatch]\nworkers = 2\n");
  REQUIRE(none);
  CHECK(*none == nullptr);
  auto short_key = adapters::parse_storage_keys("[storage]\nkey = \"a\"\n[storage.keys]\na = \"c2hvcnQ=\"\n");
  REQUIRE(!short_key);
  CHECK_THAT(short_key.error(), Catch::Contains("key 'a' is not the base64 of 32 bytes"));
  auto missing = adapters::parse_storage_keys("[storage]\nkey = \"b\"\n[storage.keys]\na = \"" + key + "\"\n");
  REQUIRE(!missing);
  CHECK_THAT(missing.error(), Catch::Contains("the current key 'b' is not among the keys"));
  CHECK(missing.error().find(key) == std::string::npos);
}

TEST_CASE("at rest: uploaded material contents are sealed in the content folder, without the key they are an error",
          "[at_rest]") {
  testing::ScratchDir dir("onevisit-at-rest");
  const auto k1 = keys("k1", {{"k1", AtRestKeys::generate_base64()}});
  const std::string scan = std::string("居民身份证 ") + kMotherName + " " + kMotherId;
  auto sealed = make_folder_content_store(dir.path() / "contents", k1);
  REQUIRE(sealed);
  auto hash = (*sealed)->put(scan);
  REQUIRE(hash);
  std::string files;
  for (const auto& entry : fs::recursive_directory_iterator(dir.path())) {
    if (entry.is_regular_file()) files += testing::read_file(entry.path());
  }
  REQUIRE(!files.empty());
  check_no_personal_data(files);
  auto read = (*sealed)->get(*hash);
  REQUIRE(read);
  CHECK(*read == scan);

  auto without = make_folder_content_store(dir.path() / "contents");
  REQUIRE(without);
  auto refused = (*without)->get(*hash);
  REQUIRE(!refused);
  CHECK_THAT(refused.error().message, Catch::Contains("encrypted under key 'k1'"));
  CHECK(refused.error().kind == StoreError::Kind::locked);
  // A content stored in clear before keys were configured stays readable with them.
  auto clear_hash = (*without)->put("营业执照");
  REQUIRE(clear_hash);
  auto clear = (*sealed)->get(*clear_hash);
  REQUIRE(clear);
  CHECK(*clear == std::optional<std::string>("营业执照"));
}
