#include <catch2/catch.hpp>

#include <onevisit/adapters/config.hpp>
#include <onevisit/engine/engine.hpp>

#include "cli/case_commands.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace onevisit;
namespace fs = std::filesystem;

TEST_CASE("adapters: deployment configuration", "[adapters][config]") {
  auto config = adapters::parse_adapter_config(R"(
[systems.market_registry]
kind = "xml-exchange"
folder = "/tmp/exchange/market"

[systems.notify]
kind = "log"

[dispatch]
max_attempts = 5
first_backoff_ms = 200
)");
  REQUIRE(config);
  CHECK(config->systems == std::vector<std::string>{"market_registry", "notify"});
  CHECK(config->registry.find("market_registry") != nullptr);
  CHECK(config->registry.find("tax_gateway") == nullptr);
  CHECK(config->dispatch.max_attempts == 5);
  CHECK(config->dispatch.first_backoff == std::chrono::milliseconds(200));

  auto bad = adapters::parse_adapter_config("[systems.x]\nkind = \"carrier-pigeon\"\n", "site.toml");
  REQUIRE(!bad);
  CHECK(bad.error().find("site.toml:1:") != std::string::npos);
  CHECK(bad.error().find("unknown kind 'carrier-pigeon'") != std::string::npos);
  bad = adapters::parse_adapter_config("[systems.x]\nkind = \"xml-exchange\"\n");
  REQUIRE(!bad);
  CHECK(bad.error().find("needs folder") != std::string::npos);
  bad = adapters::parse_adapter_config("[systems.x\nkind=", "broken.toml");
  REQUIRE(!bad);
  CHECK(bad.error().starts_with("broken.toml:"));
  bad = adapters::parse_adapter_config("[dispatch]\nmax_attempts = -1\n[systems.n]\nkind=\"log\"\n");
  REQUIRE(!bad);
  CHECK(bad.error().find("positive") != std::string::npos);
  CHECK(!adapters::load_adapter_config("/nonexistent/deploy.toml"));
}

TEST_CASE("adapters: onevisit dispatch delivers a case's calls into the exchange folder", "[adapters][cli]") {
  const fs::path root = fs::temp_directory_path() / ("onevisit-dispatch-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  const std::string flow = R"(
lifecycle standard {
  state submitted initial; state approved final
  on approve: submitted -> approved by clerk do call(dept.submit)
}
department tax "税务局" adapter tax_gateway
bundle b "发票" version 1 { lifecycle standard; item invoice "发票申领" by tax { limit 1 workday } }
)";
  const auto db = (root / "cases.db").string();
  {
    auto engine = engine::Engine::open({db, nullptr});
    REQUIRE(engine);
    REQUIRE((*engine)->deploy_sources({{"b.flow", flow}}, {"b.flow"}));
    auto started = (*engine)->start_case("b", {}, "", {"s", "u", "clerk"});
    REQUIRE(started);
    REQUIRE((*engine)->execute(started->case_id, engine::FireEvent{"invoice", "approve", {}}, {"a", "u", "clerk"}));
  }
  std::ofstream(root / "deploy.toml") << "[systems.tax_gateway]\nkind = \"xml-exchange\"\nfolder = \"" << (root / "tax").string() << "\"\n";
  std::ostringstream out, err;
  REQUIRE(cli::run_dispatch({db, (root / "deploy.toml").string(), true, 10}, out, err) == 0);
  CHECK(out.str() == "delivered 1, to retry 0, parked 0, held by open circuits 0; answers applied 0, receipts quarantined 0\n");
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(root / "tax" / "out")) files += e.path().extension() == ".xml";
  CHECK(files == 1);
  // Nothing left to deliver the second time.
  std::ostringstream again;
  REQUIRE(cli::run_dispatch({db, (root / "deploy.toml").string(), true, 10}, again, err) == 0);
  CHECK(again.str() == "delivered 0, to retry 0, parked 0, held by open circuits 0; answers applied 0, receipts quarantined 0\n");
}
