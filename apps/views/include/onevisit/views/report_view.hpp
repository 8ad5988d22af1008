// The service figures (docs/figures.md) as JSON, for `onevisit report` and GET /api/report.
//
// Thread safety: pure functions of their arguments.
#pragma once

#include <onevisit/engine/report.hpp>

#include <boost/json/object.hpp>

namespace onevisit::views {

/// {"overall": {...}, "bundles": [{...}]}.
boost::json::object report_json(const engine::ServiceReport& report);

}  // namespace onevisit::views
