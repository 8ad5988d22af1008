// Personal values sealed at rest outside the engine's own tables (the service's applicant
// drafts and sessions, docs/storage.md "The applicant channel's tables"), with the engine's
// keys and layout (docs/storage.md, Encryption at rest), written as text so that a TEXT column
// of either database holds them.
//
// Thread safety: pure functions.
#pragma once

#include <onevisit/engine/at_rest.hpp>

#include <expected>
#include <string>
#include <string_view>

namespace onevisit::engine {

/// Seals `clear` under the keys' current key, bound to `place` (a value opened at another
/// place fails): "sealed:" and the base64 of the sealed value. REQUIRES: !keys.empty().
std::string seal_text(const AtRestKeys& keys, std::string_view clear, std::string_view place);

/// The clear text of what seal_text made for `place`; text that is not sealed comes back as it
/// is (written before keys were configured). Errors name the key id, never the key.
std::expected<std::string, std::string> open_text(const AtRestKeys& keys, std::string_view stored, std::string_view place);

}  // namespace onevisit::engine
