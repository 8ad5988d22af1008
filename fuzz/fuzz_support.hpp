// Shared by the fuzz targets: how a target reports a broken property. A crash is the only
// signal a fuzzer sees, so a property that does not hold aborts with a message saying which.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace onevisit::fuzz {

[[noreturn]] inline void property_failed(std::string_view what) {
  std::fprintf(stderr, "fuzz property failed: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

inline void require(bool holds, std::string_view what) {
  if (!holds) property_failed(what);
}

}  // namespace onevisit::fuzz
