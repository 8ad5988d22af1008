// Private to the SQLite store: its schema, the migrations that build it, and the checks made
// when a file is opened (docs/storage.md, Schema).
//
// Nothing is written to a file before it is known to be ours: the header, the application id,
// the schema version and PRAGMA quick_check are read first (inspect, check_ownership,
// quick_check); a file that fails any of them is refused and left as it was. Then the schema
// is migrated forward in one transaction (migrate), and the file's at-rest keys and search
// index key are checked or made (check_keys, load_index_key).
//
// Thread safety: each function uses the connection it is given, on the caller's thread.
#pragma once

#include "store/sqlite/connection.hpp"
#include "store/store_common.hpp"

#include <onevisit/engine/at_rest.hpp>

#include <cstdint>
#include <expected>
#include <optional>
#include <string>

namespace onevisit::engine::sqlite {

/// PRAGMA application_id of every onevisit database: "ONEV" in ASCII.
inline constexpr std::int64_t kApplicationId = 0x4F4E4556;
/// PRAGMA user_version: the schema version this build creates and reads (docs/storage.md).
inline constexpr std::int64_t kSchemaVersion = 9;

/// Per-connection settings of the write connections (the writer's and the checkpointer's).
/// synchronous=FULL: every COMMIT fsyncs the WAL before it returns. temp_store=MEMORY keeps
/// the statement journals of the per-request savepoints in memory (by default they spill to
/// a temporary file: measured 4.5 KB of extra disk writes per commit). journal_size_limit
/// truncates the WAL back to 64 MiB after a checkpoint, so a burst does not leave a large
/// file behind. secure_delete=FAST zeroes what an update or delete frees inside a page it
/// writes anyway (no extra I/O), so an outbox payload rewritten by a status change leaves no
/// old copy in the page's free space.
inline constexpr const char* kConfigureWriter =
    "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; "
    "PRAGMA journal_size_limit = 67108864; PRAGMA secure_delete = FAST;";

/// What a file says about itself before anything is written to it.
struct Inspection {
  std::int64_t application_id = 0;
  std::int64_t schema_version = 0;
  std::int64_t schema_objects = 0;
};
std::expected<Inspection, StoreError> inspect(Connection& c);

/// Refuses what is not an onevisit database this build can open. Reads only.
std::optional<StoreError> check_ownership(const Inspection& in, const std::string& path);

/// PRAGMA quick_check: a `corrupt` error naming the first problems, or nullopt.
std::optional<StoreError> quick_check(Connection& c);

/// Takes the file to kSchemaVersion in one transaction (checking ownership again inside it).
std::expected<void, StoreError> migrate(Connection& c);

/// The file's keys against the configured ones (docs/storage.md, Encryption at rest). `meta`
/// keeps a check value per key id that values were sealed under: every one must be given, and
/// be the same key; the current key's is recorded before anything is sealed under it.
std::expected<void, StoreError> check_keys(Connection& c, const AtRestKeys* keys);

/// The search index's key (docs/storage.md, Search index): 32 random bytes made at the first
/// open, kept in `meta` sealed under the current at-rest key (in clear hex without keys, where
/// the names themselves are in clear too). Rotation reseals it (Writer::retire_old_keys), so
/// the index never has to be rebuilt.
std::expected<sealing::IndexKey, StoreError> load_index_key(Connection& c, const store_common::Sealer& sealer);

}  // namespace onevisit::engine::sqlite
