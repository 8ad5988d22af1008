// Fuzz target `config_toml`: a deployment configuration (adapters/config.hpp) through
// parse_adapter_config, toml++ inside. Whatever it accepts names its systems in order.
//
// Texts that mention `plugin` are skipped: a plugin system makes the parser dlopen() the path
// the text names, and a fuzzer must not load the machine's libraries. (A kind spelled with
// \u escapes still gets through; it can only name a library, which then fails the ABI check.)
#include "fuzz_support.hpp"

#include <onevisit/adapters/config.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace onevisit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (text.find("plugin") != std::string_view::npos) return 0;
  if (const auto config = adapters::parse_adapter_config(text, "fuzz.toml")) {
    fuzz::require(std::is_sorted(config->systems.begin(), config->systems.end()), "configured systems are listed sorted");
    fuzz::require(config->dispatch.workers >= 1 && config->dispatch.workers <= 256, "dispatch.workers stays in 1..256");
  }
  return 0;
}
