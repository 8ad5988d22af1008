// A case's history as it may be shown.
//
// Thread safety: pure functions of their arguments.
#pragma once

#include <boost/json/value.hpp>

#include <string_view>

namespace onevisit::views {

/// An event's payload as it may be shown: CaseStarted's raw form values are left out (the
/// case view shows the form, masked) and ID and phone numbers in every text are masked.
/// A payload that is not JSON comes back as null.
boost::json::value history_payload_json(std::string_view type, std::string_view payload);

}  // namespace onevisit::views
