// Private to the engine (not installed, not part of the public API): instrumentation of the
// SQLite store for white-box tests and the storage benchmark. The public contract is
// open_sqlite_store in <onevisit/engine/store.hpp>.
#pragma once

#include <onevisit/engine/store.hpp>

#include <cstdint>
#include <optional>

namespace onevisit::engine {

/// Counters of the store's writer thread since the store was opened.
struct SqliteStoreStats {
  std::uint64_t writes = 0;         ///< write requests executed (commit, update_outbox, deploy)
  std::uint64_t transactions = 0;   ///< group transactions committed (one fsync of the WAL each)
  std::uint64_t largest_batch = 0;  ///< most write requests in one transaction
  /// Batches run a second time with a savepoint per request, because a request failed after
  /// it had written something (see Writer::run_batch).
  std::uint64_t savepoint_reruns = 0;
  std::uint64_t checkpoints = 0;  ///< PASSIVE checkpoints run by the checkpointer thread
  std::uint64_t wal_frames = 0;   ///< pages appended to the WAL by commits (4 KiB each)
};

/// The counters of a store made by open_sqlite_store; nullopt for any other Store.
/// Thread safety: may be called concurrently with every other member of the store.
std::optional<SqliteStoreStats> sqlite_store_stats(const Store& store);

}  // namespace onevisit::engine
