// JSON views of cases shared by `onevisit case --format json` and the server's REST API, so a
// case reads the same on the command line and over HTTP. ID and phone numbers are masked.
#pragma once

#include <onevisit/engine/engine.hpp>
#include <onevisit/engine/report.hpp>

#include <boost/json/object.hpp>

#include <string>

namespace onevisit::cli {

/// "YYYY-MM-DD HH:MM" in the offices' local time, or "-" for 0 (no time).
std::string format_time(engine::Timestamp t);

/// A case: status, applicant (masked), form (typed ID and phone fields masked whole, and every
/// personal number the detector finds in the other values), materials (notes masked likewise)
/// and items with their states, deadlines and lights.
boost::json::object case_json(const engine::CaseView& view);

/// An event's payload as it may be shown: CaseStarted's raw form values are left out (the
/// case view shows the form, masked) and ID and phone numbers in every text are masked.
/// A payload that is not JSON comes back as null.
boost::json::value history_payload_json(std::string_view type, std::string_view payload);

/// The service figures as JSON: {"overall": {...}, "bundles": [{...}]} (docs/figures.md).
boost::json::object report_json(const engine::ServiceReport& report);

}  // namespace onevisit::cli
