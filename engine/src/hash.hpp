// SHA-256 as lowercase hex (libsodium). Private to the engine.
#pragma once

#include <string>
#include <string_view>

namespace onevisit::engine {

std::string sha256_hex(std::string_view data);

}  // namespace onevisit::engine
