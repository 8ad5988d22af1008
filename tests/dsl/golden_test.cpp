// Diagnostics as the designer sees them, compared with golden files in tests/golden/.
// Each case is NAME.flow (possibly importing others in the folder) and NAME.expected, the
// text `onevisit check` prints for it. Set ONEVISIT_UPDATE_GOLDEN=1 to rewrite them.
#include <catch2/catch.hpp>

#include "../test_support.hpp"

#include <cstdlib>
#include <fstream>

using namespace onevisit::dsl;
using namespace onevisit::testing;

TEST_CASE("golden diagnostics", "[golden][diagnostics]") {
  namespace fs = std::filesystem;
  const fs::path dir = ONEVISIT_GOLDEN_DIR;
  const bool update = std::getenv("ONEVISIT_UPDATE_GOLDEN") != nullptr;
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".flow" || entry.path().stem().string().starts_with("_")) continue;
    ++cases;
    // Run from the golden folder so paths in the output are short and stable.
    const auto cwd = fs::current_path();
    fs::current_path(dir);
    const auto diagnostics = load_and_check({entry.path().filename().string()}, filesystem_reader());
    fs::current_path(cwd);
    const std::string actual = describe(diagnostics);
    fs::path expected_path = entry.path();
    expected_path.replace_extension(".expected");
    if (update) {
      std::ofstream(expected_path, std::ios::binary) << actual;
      continue;
    }
    INFO(entry.path().string());
    REQUIRE(fs::exists(expected_path));
    CHECK(actual == read_file(expected_path));
  }
  CHECK(cases >= 3);
}
