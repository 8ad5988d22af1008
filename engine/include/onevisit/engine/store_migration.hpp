// Moving a district from its SQLite file to a PostgreSQL database (`onevisit migrate`).
//
// Everything the SQLite store keeps is copied as stored: cases with their whole history
// (events, snapshots, item rows), idempotency records, timers, outbox calls, case-number
// sequences, the search index with its key, the check values of the at-rest keys, deployed
// workflows. Sealed values are copied byte for byte (they are bound to the same column and
// case on both stores), so the PostgreSQL database needs the same keys as the file. Uploaded
// contents move from the content folder into the database (opened with `keys`, sealed again
// chunk by chunk). Accounts, sessions and the audit trail of `onevisit serve` stay in the
// file (docs/operations.md).
//
// The copy is one PostgreSQL transaction: either all of it is there or none. It is refused
// when the target already holds cases. Afterwards both sides are counted table by table and
// the events, the idempotency records and the outbox are checksummed (SHA-256 over every row
// in a fixed order, as stored); any difference is an error and the copy is rolled back.
//
// Thread safety: one migration at a time per target; the source file may be in use by a
// store (the copy reads one committed state of it).
#pragma once

#include <onevisit/engine/at_rest.hpp>
#include <onevisit/engine/store.hpp>

#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <string>

namespace onevisit::engine {

struct MigrationReport {
  std::map<std::string, std::uint64_t> rows;       ///< rows copied, by table (as counted on both sides)
  std::map<std::string, std::string> checksums;    ///< SHA-256 (hex) by checked table, equal on both sides
  std::uint64_t contents = 0;                      ///< uploaded contents copied
};

/// Copies the SQLite database `from` (and its content folder `contents`, when it exists)
/// into the PostgreSQL database `to` and verifies the copy. `keys`: the at-rest keys of the
/// file, needed when its contents are sealed.
std::expected<MigrationReport, StoreError> migrate_sqlite_to_postgres(const std::string& from, const std::string& contents,
                                                                      const std::string& to,
                                                                      std::shared_ptr<const AtRestKeys> keys = nullptr);

}  // namespace onevisit::engine
