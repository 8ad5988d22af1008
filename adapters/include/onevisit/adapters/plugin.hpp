// Loading third-party adapters from shared libraries through the C ABI in plugin_abi.h.
#pragma once

#include <onevisit/adapters/adapter.hpp>

#include <expected>
#include <memory>
#include <string>

namespace onevisit::adapters {

/// Loads the plugin at `path` (dlopen), checks its ABI version and creates an instance with
/// `settings_json`. The library stays loaded while the adapter lives.
std::expected<std::shared_ptr<Adapter>, std::string> load_plugin_adapter(const std::string& path, const std::string& settings_json);

}  // namespace onevisit::adapters
