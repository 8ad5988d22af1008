// The service figures (docs/figures.md) as JSON, for `onevisit report` and GET /api/report.
//
// Thread safety: pure functions of their arguments.
#pragma once

#include <onevisit/engine/report.hpp>

#include <boost/json/object.hpp>

namespace onevisit::views {

/// The query parameters of GET /api/cases that list exactly the cases of `query` (bundle,
/// status, channel, department, due_before, started_from, started_before; times in ms).
boost::json::object case_query_json(const engine::CaseQuery& query);

/// {"overall": {...}, "bundles": [{...}]}; each figures object carries `filters`: the case
/// list's query for its cases, per channel and per department with overdue cases, so each
/// dashboard bar leads to its cases.
boost::json::object report_json(const engine::ServiceReport& report);

}  // namespace onevisit::views
