// A case's history as people read it: for each event when, who acted (display name), what
// happened (its kind and Chinese title), the item and material it concerns and the state
// before and after, by id and title, with the reason or note when there is one. Never the
// storage encoding: docs/api.md (GET /api/cases/{id}/history) documents every field.
// Every text that may hold an ID or phone number is masked.
//
// Thread safety: pure functions of their arguments (the lookup is called on the caller's
// thread).
#pragma once

#include <onevisit/engine/engine.hpp>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace onevisit::views {

struct DepartmentScope;

/// The display name of an account, for actors that are people (nullopt: no such account).
using DisplayNameLookup = std::function<std::optional<std::string>(const std::string& account)>;

/// The history entries of a case (docs/api.md). With a scope, events about another
/// department's item or a material it cannot see are left out (case-level events stay).
boost::json::array history_json(const engine::Workflow& workflow, const std::vector<engine::RecordedEvent>& events,
                                const DepartmentScope* scope, const DisplayNameLookup& display_name);

/// The Chinese title of an event kind ("ItemTransitioned" -> "事项流转"); the kind itself when unknown.
std::string_view event_title(std::string_view kind);

/// An event's payload as it may be shown: CaseStarted's raw form values are left out (the
/// case view shows the form, masked) and ID and phone numbers in every text are masked.
/// A payload that is not JSON comes back as null. (`onevisit case history` prints it.)
boost::json::value history_payload_json(std::string_view type, std::string_view payload);

}  // namespace onevisit::views
