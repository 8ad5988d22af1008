// Private to the engine (not installed, not part of the public API): instrumentation of the
// PostgreSQL store for tests and benchmarks. The public contract is open_postgres_store in
// <onevisit/engine/store.hpp>.
#pragma once

#include <onevisit/engine/store.hpp>

#include <cstdint>
#include <optional>

namespace onevisit::engine {

/// Counters of the store's writer thread since the store was opened.
struct PostgresStoreStats {
  std::uint64_t writes = 0;         ///< write requests executed (commit, update_outbox, deploy, index_case)
  std::uint64_t transactions = 0;   ///< group transactions committed (one WAL flush each)
  std::uint64_t largest_batch = 0;  ///< most write requests in one transaction
  /// Round trips to the server on the writer's connection: each statement run on its own,
  /// each BEGIN, COMMIT and savepoint, and each pipeline of statements sent together.
  std::uint64_t round_trips = 0;
};

/// The counters of a store made by open_postgres_store; nullopt for any other Store.
/// Thread safety: may be called concurrently with every other member of the store.
std::optional<PostgresStoreStats> postgres_store_stats(const Store& store);

}  // namespace onevisit::engine
