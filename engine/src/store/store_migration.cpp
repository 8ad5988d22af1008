// `onevisit migrate`: an SQLite file into a PostgreSQL database (store_migration.hpp).
//
// The copy reads the SQLite tables in one read transaction and writes the PostgreSQL ones in
// one transaction, rows as stored (sealed values byte for byte: both stores bind a sealed
// value to the same "column/case" place). The SQLite schema's event chain becomes the
// PostgreSQL events' (case_id, sequence) key, and the idempotency records kept on events
// become rows of `commands` scoped to their case (docs/storage.md, PostgreSQL). Before the
// COMMIT every table is counted on both sides and the events, idempotency records and outbox
// are hashed on both sides in one order; a difference rolls everything back.
#include <onevisit/engine/content_store.hpp>
#include <onevisit/engine/store_migration.hpp>

#include "store/postgres/connection.hpp"
#include "store/sqlite/connection.hpp"

#include <sodium.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <variant>

namespace onevisit::engine {
namespace {

using Kind = StoreError::Kind;
using store_common::fail;
using store_common::make_error;

// How a column is read from SQLite and sent to PostgreSQL.
enum class Type { integer, text, bytes };

// A table's copy: the SQLite query (its columns in the PostgreSQL insert's order) and the
// PostgreSQL insert's head.
struct TableCopy {
  std::string name;     // how the report names it
  std::string select;   // SQLite
  std::string insert;   // PostgreSQL, up to VALUES
  std::vector<Type> types;
};

const std::vector<TableCopy>& tables() {
  static const std::vector<TableCopy> kTables = {
      {"workflows", "SELECT bundle_id, version, source_hash, source, deployed_at FROM workflows",
       "INSERT INTO workflows (bundle_id, version, source_hash, source, deployed_at)",
       {Type::text, Type::integer, Type::text, Type::text, Type::integer}},
      {"cases",
       "SELECT case_id, bundle_id, bundle_version, status, applicant, started_at, updated_at, version, channel, indexed FROM cases",
       "INSERT INTO cases (case_id, bundle_id, bundle_version, status, applicant, started_at, updated_at, version, channel, indexed)",
       {Type::text, Type::text, Type::integer, Type::text, Type::text, Type::integer, Type::integer, Type::integer, Type::text,
        Type::integer}},
      {"snapshots", "SELECT case_id, version, snapshot FROM snapshots", "INSERT INTO snapshots (case_id, version, snapshot)",
       {Type::text, Type::integer, Type::bytes}},
      {"events", "SELECT case_id, sequence, type, payload, recorded_at FROM events",
       "INSERT INTO events (case_id, sequence, type, payload, recorded_at)",
       {Type::text, Type::integer, Type::text, Type::bytes, Type::integer}},
      // Records of case starts, commits without events and from before schema 5: by id alone.
      {"commands", "SELECT '', command_id, case_id, version, result FROM commands",
       "INSERT INTO commands (scope, command_id, case_id, version, result)",
       {Type::text, Type::text, Type::text, Type::integer, Type::text}},
      // Records kept on a command's last event: found in their case.
      {"commands (on events)",
       "SELECT case_id, command_id, case_id, sequence, result FROM events WHERE command_id IS NOT NULL",
       "INSERT INTO commands (scope, command_id, case_id, version, result)",
       {Type::text, Type::text, Type::text, Type::integer, Type::text}},
      {"case_items", "SELECT case_id, item_id, department, state, final, due_at, light, urged FROM case_items",
       "INSERT INTO case_items (case_id, item_id, department, state, final, due_at, light, urged)",
       {Type::text, Type::text, Type::text, Type::text, Type::integer, Type::integer, Type::text, Type::integer}},
      {"case_item_parts", "SELECT case_id, item_id, department, due_at FROM case_item_parts",
       "INSERT INTO case_item_parts (case_id, item_id, department, due_at)", {Type::text, Type::text, Type::text, Type::integer}},
      {"timers", "SELECT case_id, timer_id, due_at, payload FROM timers", "INSERT INTO timers (case_id, timer_id, due_at, payload)",
       {Type::text, Type::text, Type::integer, Type::text}},
      {"outbox",
       "SELECT id, idempotency_key, case_id, department, adapter, operation, payload, attempts, next_attempt_at, status, "
       "last_error FROM outbox",
       "INSERT INTO outbox (id, idempotency_key, case_id, department, adapter, operation, payload, attempts, next_attempt_at, "
       "status, last_error) OVERRIDING SYSTEM VALUE",
       {Type::integer, Type::text, Type::text, Type::text, Type::text, Type::text, Type::bytes, Type::integer, Type::integer,
        Type::text, Type::text}},
      {"case_sequences", "SELECT day, last FROM case_sequences", "INSERT INTO case_sequences (day, last)",
       {Type::integer, Type::integer}},
      {"search_tokens", "SELECT token, case_id FROM search_tokens", "INSERT INTO search_tokens (token, case_id)",
       {Type::text, Type::text}},
      {"case_actors", "SELECT actor, case_id FROM case_actors", "INSERT INTO case_actors (actor, case_id)", {Type::text, Type::text}},
      // The search index's key and the at-rest keys' check values: the copied tokens and
      // sealed values are only usable with them.
      {"meta (keys)", "SELECT key, value FROM meta WHERE key = 'search_key' OR key LIKE 'key:%'",
       "INSERT INTO meta (key, value)", {Type::text, Type::bytes}},
  };
  return kTables;
}

// What is counted on both sides after the copy (SQLite query, PostgreSQL query).
struct Count {
  std::string name;
  std::string sqlite;
  std::string postgres;
};
const std::vector<Count>& counts() {
  static const std::vector<Count> kCounts = {
      {"workflows", "SELECT COUNT(*) FROM workflows", "SELECT COUNT(*) FROM workflows"},
      {"cases", "SELECT COUNT(*) FROM cases", "SELECT COUNT(*) FROM cases"},
      {"snapshots", "SELECT COUNT(*) FROM snapshots", "SELECT COUNT(*) FROM snapshots"},
      {"events", "SELECT COUNT(*) FROM events", "SELECT COUNT(*) FROM events"},
      {"commands",
       "SELECT (SELECT COUNT(*) FROM commands) + (SELECT COUNT(*) FROM events WHERE command_id IS NOT NULL)",
       "SELECT COUNT(*) FROM commands"},
      {"case_items", "SELECT COUNT(*) FROM case_items", "SELECT COUNT(*) FROM case_items"},
      {"case_item_parts", "SELECT COUNT(*) FROM case_item_parts", "SELECT COUNT(*) FROM case_item_parts"},
      {"timers", "SELECT COUNT(*) FROM timers", "SELECT COUNT(*) FROM timers"},
      {"outbox", "SELECT COUNT(*) FROM outbox", "SELECT COUNT(*) FROM outbox"},
      {"case_sequences", "SELECT COUNT(*) FROM case_sequences", "SELECT COUNT(*) FROM case_sequences"},
      {"search_tokens", "SELECT COUNT(*) FROM search_tokens", "SELECT COUNT(*) FROM search_tokens"},
      {"case_actors", "SELECT COUNT(*) FROM case_actors", "SELECT COUNT(*) FROM case_actors"},
  };
  return kCounts;
}

// What is hashed on both sides, row by row in one order (PostgreSQL sorts text by bytes
// with COLLATE "C", as SQLite does), every value length-prefixed.
struct Checksum {
  std::string name;
  std::string sqlite;
  std::string postgres;
  std::vector<Type> types;
};
const std::vector<Checksum>& checksums() {
  static const std::vector<Checksum> kChecksums = {
      {"events", "SELECT case_id, sequence, type, payload, recorded_at FROM events ORDER BY case_id, sequence",
       "SELECT case_id, sequence, type, payload, recorded_at FROM events ORDER BY case_id COLLATE \"C\", sequence",
       {Type::text, Type::integer, Type::text, Type::bytes, Type::integer}},
      {"commands",
       "SELECT command_id, case_id, version, COALESCE(result, '') FROM (SELECT command_id, case_id, version, result FROM commands "
       "UNION ALL SELECT command_id, case_id, sequence, result FROM events WHERE command_id IS NOT NULL) "
       "ORDER BY command_id, case_id, version",
       "SELECT command_id, case_id, version, result FROM commands ORDER BY command_id COLLATE \"C\", case_id COLLATE \"C\", version",
       {Type::text, Type::text, Type::integer, Type::text}},
      {"outbox",
       "SELECT id, idempotency_key, case_id, payload, attempts, next_attempt_at, status FROM outbox ORDER BY id",
       "SELECT id, idempotency_key, case_id, payload, attempts, next_attempt_at, status FROM outbox ORDER BY id",
       {Type::integer, Type::text, Type::text, Type::bytes, Type::integer, Type::integer, Type::text}},
  };
  return kChecksums;
}

class Hasher {
 public:
  Hasher() { crypto_hash_sha256_init(&state_); }
  void add(std::string_view value) {
    const auto n = static_cast<std::uint64_t>(value.size());
    unsigned char length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(n >> (8 * i));
    crypto_hash_sha256_update(&state_, length, sizeof length);
    crypto_hash_sha256_update(&state_, reinterpret_cast<const unsigned char*>(value.data()), value.size());
  }
  void add(std::int64_t value) { add(std::to_string(value)); }
  std::string hex() {
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&state_, digest);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (const unsigned char b : digest) {
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    }
    return out;
  }

 private:
  crypto_hash_sha256_state state_;
};

constexpr std::size_t kRowsPerInsert = 200;

// One value read from SQLite (NULL reads as empty text: no column copied holds one).
using Value = std::variant<std::int64_t, std::string>;

std::expected<void, StoreError> copy_table(sqlite::Connection& from, pg::Connection& to, const TableCopy& table,
                                           std::uint64_t& copied) {
  auto stmt = from.prepare(table.select);
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<std::vector<Value>> rows;
  const auto flush = [&]() -> std::expected<void, StoreError> {
    if (rows.empty()) return {};
    std::string sql = table.insert + " VALUES ";
    pg::Params p;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      sql += r == 0 ? "(" : ", (";
      for (std::size_t c = 0; c < table.types.size(); ++c) {
        const auto& v = rows[r][c];
        if (table.types[c] == Type::integer) {
          p.add(std::get<std::int64_t>(v));
        } else if (table.types[c] == Type::bytes) {
          p.add(store_common::SealedBytes{std::get<std::string>(v)});
        } else {
          p.add(std::get<std::string>(v));
        }
        sql += (c == 0 ? "$" : ", $") + std::to_string(p.size());
      }
      sql += ")";
    }
    auto done = to.run(sql, p);
    if (!done) return std::unexpected(make_error(done.error().error.kind, "copying " + table.name + ": " + done.error().error.message));
    copied += rows.size();
    rows.clear();
    return {};
  };
  for (;;) {
    auto row = stmt->next();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    std::vector<Value> values;
    for (std::size_t c = 0; c < table.types.size(); ++c) {
      const int column = static_cast<int>(c);
      if (table.types[c] == Type::integer) {
        values.emplace_back(stmt->int64(column));
      } else {
        values.emplace_back(std::string(stmt->bytes(column)));
      }
    }
    rows.push_back(std::move(values));
    if (rows.size() == kRowsPerInsert) {
      if (auto done = flush(); !done) return done;
    }
  }
  return flush();
}

std::expected<std::string, StoreError> sqlite_checksum(sqlite::Connection& c, const Checksum& what) {
  auto stmt = c.prepare(what.sqlite);
  if (!stmt) return std::unexpected(stmt.error());
  Hasher hash;
  for (;;) {
    auto row = stmt->next();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    for (std::size_t i = 0; i < what.types.size(); ++i) {
      if (what.types[i] == Type::integer) {
        hash.add(stmt->int64(static_cast<int>(i)));
      } else {
        hash.add(stmt->bytes(static_cast<int>(i)));
      }
    }
  }
  return hash.hex();
}

std::expected<std::string, StoreError> postgres_checksum(pg::Connection& c, const Checksum& what) {
  auto rows = c.run(what.postgres, pg::Params{});
  if (!rows) return std::unexpected(rows.error().error);
  Hasher hash;
  for (int r = 0; r < rows->rows(); ++r) {
    for (std::size_t i = 0; i < what.types.size(); ++i) {
      if (what.types[i] == Type::integer) {
        hash.add(rows->int64(r, static_cast<int>(i)));
      } else {
        hash.add(rows->bytes(r, static_cast<int>(i)));
      }
    }
  }
  return hash.hex();
}

std::expected<MigrationReport, StoreError> copy_all(sqlite::Connection& from, pg::Connection& to, const std::string& to_name) {
  MigrationReport report;
  auto existing = to.run("SELECT COUNT(*) FROM cases", pg::Params{});
  if (!existing) return std::unexpected(existing.error().error);
  if (existing->int64(0, 0) > 0) {
    return fail(Kind::invalid, to_name + " already holds " + std::to_string(existing->int64(0, 0)) +
                                   " cases; migrate into an empty database (or schema)");
  }
  // The target's own search key and key check values give way to the file's.
  if (auto done = to.run("DELETE FROM meta WHERE key = 'search_key' OR key LIKE 'key:%'", pg::Params{}); !done) {
    return std::unexpected(done.error().error);
  }
  for (const auto& table : tables()) {
    std::uint64_t copied = 0;
    if (auto done = copy_table(from, to, table, copied); !done) return std::unexpected(done.error());
    report.rows[table.name] = copied;
  }
  if (auto done = to.run("SELECT setval(pg_get_serial_sequence('outbox', 'id'), GREATEST((SELECT MAX(id) FROM outbox), 1))",
                         pg::Params{});
      !done) {
    return std::unexpected(done.error().error);
  }
  // Verification: counts, then checksums.
  for (const auto& count : counts()) {
    auto source = from.query_int(count.sqlite.c_str());
    if (!source) return std::unexpected(source.error());
    auto target = to.run(count.postgres, pg::Params{});
    if (!target) return std::unexpected(target.error().error);
    if (target->int64(0, 0) != *source) {
      return fail(Kind::corrupt, "the copy does not match: " + count.name + " has " + std::to_string(*source) + " rows in the file and " +
                                     std::to_string(target->int64(0, 0)) + " in " + to_name);
    }
  }
  for (const auto& what : checksums()) {
    auto source = sqlite_checksum(from, what);
    if (!source) return std::unexpected(source.error());
    auto target = postgres_checksum(to, what);
    if (!target) return std::unexpected(target.error());
    if (*source != *target) {
      return fail(Kind::corrupt, "the copy does not match: the checksum of " + what.name + " differs (" + source->substr(0, 16) +
                                     "… in the file, " + target->substr(0, 16) + "… in " + to_name + ")");
    }
    report.checksums[what.name] = *source;
  }
  return report;
}

}  // namespace

std::expected<MigrationReport, StoreError> migrate_sqlite_to_postgres(const std::string& from, const std::string& contents,
                                                                      const std::string& to, std::shared_ptr<const AtRestKeys> keys) {
  try {
    if (!is_postgres_url(to)) return fail(Kind::invalid, "--to names a PostgreSQL database (postgresql://…)");
    // Opening each store checks it and brings its schema up to date (the file: migrated
    // forward; the target: created), so both sides have the schema this build reads.
    {
      SqliteOptions sqlite_options;
      sqlite_options.create = false;
      sqlite_options.keys = keys;
      auto source = open_sqlite_store(from, sqlite_options);
      if (!source) return std::unexpected(source.error());
      auto target = open_postgres_store(to);
      if (!target) return std::unexpected(target.error());
    }
    const std::string to_name = "PostgreSQL database " + pg::Connection::redacted(to);
    auto source = sqlite::Connection::open(from, SQLITE_OPEN_READONLY, 5000);
    if (!source) return std::unexpected(source.error());
    auto target = pg::Connection::open(to);
    if (!target) return std::unexpected(target.error());
    if (auto begun = (*source)->exec("BEGIN"); !begun) return std::unexpected(begun.error());
    if (auto begun = (*target)->simple("BEGIN"); !begun) return std::unexpected(begun.error().error);
    auto report = copy_all(**source, **target, to_name);
    (*source)->exec("COMMIT");
    if (!report) {
      (*target)->simple("ROLLBACK");
      return report;
    }
    if (auto committed = (*target)->simple("COMMIT"); !committed) return std::unexpected(committed.error().error);
    // Uploaded contents: from the folder into the database, each checked against its hash on
    // the way out (get) and stored again there (put hashes it again).
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!contents.empty() && fs::is_directory(contents, ec)) {
      auto folder = make_folder_content_store(contents, keys);
      if (!folder) return fail(Kind::io, folder.error());
      auto shared = make_postgres_content_store(to, keys);
      if (!shared) return fail(Kind::io, shared.error());
      for (const auto& entry : fs::recursive_directory_iterator(contents, ec)) {
        const auto name = entry.path().filename().string();
        if (!entry.is_regular_file() || !name.ends_with(".bin")) continue;
        const auto hash = name.substr(0, name.size() - 4);
        if (!is_sha256_hex(hash)) continue;
        auto content = (*folder)->get(hash);
        if (!content) return std::unexpected(content.error());
        if (!*content) continue;
        auto put = (*shared)->put(**content);
        if (!put) return std::unexpected(put.error());
        if (*put != hash) return fail(Kind::corrupt, "content " + hash + " changed on its way into " + to_name);
        ++report->contents;
      }
      if (ec) return fail(Kind::io, "cannot read " + contents + ": " + ec.message());
    }
    return report;
  } catch (const std::exception& e) {
    return fail(Kind::io, std::string("migration failed: ") + e.what());
  }
}

}  // namespace onevisit::engine
