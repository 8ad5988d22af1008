// Helpers for tests that open an Engine on a database file.
#pragma once

#include "../test_support.hpp"

#include <onevisit/engine/engine.hpp>

#include <filesystem>
#include <memory>
#include <string>

namespace onevisit::testing {

/// Opens an engine with `options`. `store`, when given, gets the store the engine keeps its
/// cases in (opened here and handed in, since the Engine does not give its store out).
inline std::unique_ptr<engine::Engine> open_engine(engine::EngineOptions options, std::shared_ptr<engine::Store>* store = nullptr) {
  if (store != nullptr) {
    auto opened = engine::open_store(options);
    if (!opened) FAIL(opened.error().message);
    *store = options.store = std::move(*opened);
  }
  auto opened = engine::Engine::open(options);
  if (!opened) FAIL(opened.error().message);
  return std::move(*opened);
}

/// Every byte of a SQLite database and its WAL, as a copy of the files would hold them.
inline std::string database_bytes(const std::filesystem::path& db) {
  std::string bytes = read_file(db);
  if (std::filesystem::exists(db.string() + "-wal")) bytes += read_file(db.string() + "-wal");
  return bytes;
}

}  // namespace onevisit::testing
