// Helpers for tests that open an Engine on a database file.
#pragma once

#include "../test_support.hpp"

#include <onevisit/engine/at_rest.hpp>
#include <onevisit/engine/engine.hpp>

#include <filesystem>
#include <map>
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

/// 10:00 (or `hour`) on a day, as an engine timestamp.
inline engine::Timestamp at(int year, int month, int day, int hour = 10) {
  return (dsl::days_from_civil({year, month, day}) * 24 * 60 + hour * 60) * 60'000;
}

/// At-rest keys from `id -> base64`, `current` the one that seals.
inline std::shared_ptr<const engine::AtRestKeys> keys(const std::string& current, const std::map<std::string, std::string>& all) {
  auto made = engine::AtRestKeys::from_base64(current, all);
  if (!made) FAIL(made.error());
  return std::make_shared<const engine::AtRestKeys>(std::move(*made));
}

/// Opens an engine on the database file `db` with the at-rest keys `with` (none: in clear).
inline std::unique_ptr<engine::Engine> open_engine(const std::filesystem::path& db, const engine::Clock& clock,
                                                   std::shared_ptr<const engine::AtRestKeys> with,
                                                   std::shared_ptr<engine::Store>* store = nullptr) {
  engine::EngineOptions options{db.string(), &clock};
  options.keys = std::move(with);
  return open_engine(std::move(options), store);
}

/// The newborn bundle (workflows/bundles/newborn.flow) and a form for it: the people a
/// copied database file must not show.
namespace newborn {
inline constexpr const char* kMotherId = "11010519491231002X";
inline constexpr const char* kFatherId = "440524188001010014";
inline constexpr const char* kPhone = "13812345678";
inline constexpr const char* kMotherName = "李梅";

inline std::string bundle() { return std::string(ONEVISIT_SOURCE_DIR) + "/workflows/bundles/newborn.flow"; }

inline std::map<std::string, dsl::Value> form(const std::string& mother = kMotherName, const std::string& mother_id = kMotherId,
                                              const std::string& phone = kPhone) {
  using dsl::Value;
  return {{"baby_name", Value::of_text("王小明")},
          {"baby_gender", Value::of_text("male")},
          {"baby_birth_date", Value::of_date(dsl::days_from_civil({2026, 2, 20}))},
          {"mother_name", Value::of_text(mother)},
          {"mother_id", Value::of_text(mother_id)},
          {"mother_phone", Value::of_text(phone)},
          {"father_name", Value::of_text("王强")},
          {"father_id", Value::of_text(kFatherId)},
          {"home_address", Value::of_text("杭州市西湖区文三路1号")},
          {"household_head_name", Value::of_text(mother)},
          {"insurance_address", Value::of_text("西湖区文新街道")},
          {"father_hukou_local", Value::of_bool(false)},
          {"mother_hukou_local", Value::of_bool(true)}};
}
}  // namespace newborn

}  // namespace onevisit::testing
