#include <catch2/catch.hpp>

#include <onevisit/adapters/config.hpp>
#include <onevisit/adapters/plugin.hpp>

#include "../test_support.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace onevisit::adapters;
namespace fs = std::filesystem;

TEST_CASE("plugins: a C plugin loads through the ABI and delivers calls", "[adapters][plugin]") {
  const onevisit::testing::ScratchDir scratch("onevisit-plugin");
  const fs::path log = scratch.path() / "calls.log";
  auto adapter = load_plugin_adapter(ONEVISIT_EXAMPLE_PLUGIN, "{\"file\": \"" + log.string() + "\"}");
  if (!adapter) FAIL(adapter.error());
  const auto result = (*adapter)->submit({"C1/seal/4/0", "C1", "police", "seal_system", "submit", "{}", 2});
  CHECK(result.status == AdapterResult::Status::delivered);
  std::ifstream in(log);
  std::string line;
  std::getline(in, line);
  CHECK(line == "C1/seal/4/0\tC1\tpolice\tsubmit\t2");

  // Configured from TOML, with its own settings table.
  std::ostringstream toml;
  toml << "[systems.seal_system]\nkind = \"plugin\"\npath = \"" << ONEVISIT_EXAMPLE_PLUGIN << "\"\n[systems.seal_system.settings]\nfile = \""
       << log.string() << "\"\n";
  auto config = parse_adapter_config(toml.str());
  if (!config) FAIL(config.error());
  CHECK(config->registry.find("seal_system") != nullptr);
}

TEST_CASE("plugins: missing files, non-plugins and bad settings are refused clearly", "[adapters][plugin]") {
  auto missing = load_plugin_adapter("/nonexistent/plugin.so", "{}");
  REQUIRE(!missing);
  CHECK(missing.error().find("cannot load plugin") != std::string::npos);
  auto not_plugin = load_plugin_adapter("libm.so.6", "{}");
  REQUIRE(!not_plugin);
  CHECK(not_plugin.error().find("not an onevisit plugin") != std::string::npos);
  auto bad_settings = load_plugin_adapter(ONEVISIT_EXAMPLE_PLUGIN, "{}");
  REQUIRE(!bad_settings);
  CHECK(bad_settings.error().find("refused its settings") != std::string::npos);
}
