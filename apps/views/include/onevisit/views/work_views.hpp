// JSON views of the work around cases: worklist entries, adapter calls (the outbox), timers.
// Last errors and anything a person typed are masked.
//
// Thread safety: pure functions of their arguments.
#pragma once

#include <onevisit/engine/engine.hpp>

#include <boost/json/object.hpp>

namespace onevisit::views {

/// A worklist entry: case, bundle, item, department, state, deadline (`due`, `due_at`) and
/// light, with the bundle's, item's and state's titles from `workflow` (the newest version:
/// a renamed item keeps its id) when it is given, and `due_provisional` (a deadline past the
/// declared years of `calendar`, the bundle's) when that is given. A department's part of a
/// joint item (会签, WorklistEntry::part) has `part` and `part_title` besides the item's own
/// department.
boost::json::object worklist_entry_json(const engine::WorklistEntry& entry, const engine::Workflow* workflow,
                                        const engine::WorkCalendar* calendar = nullptr);

/// An adapter call of a case: id, case, key, department, system, operation, status,
/// attempts, next attempt and the last error (masked).
boost::json::object call_json(const engine::OutboxRecord& call);

/// A timer: case, timer id, due time (text and ms).
boost::json::object timer_json(const engine::TimerRecord& timer);

}  // namespace onevisit::views
