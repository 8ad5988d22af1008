// Plain formatting shared by every view: times as people read them at the offices.
//
// Thread safety: pure functions.
#pragma once

#include <onevisit/engine/store.hpp>

#include <string>

namespace onevisit::views {

/// "YYYY-MM-DD HH:MM" in the offices' local time, or "-" for 0 (no time).
std::string format_time(engine::Timestamp t);

}  // namespace onevisit::views
