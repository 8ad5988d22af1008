// A deployed bundle as the intake page needs it: its form fields (types, choices, defaults),
// materials and items with their departments.
//
// Thread safety: pure functions of their arguments.
#pragma once

#include <onevisit/engine/workflow.hpp>

#include <boost/json/object.hpp>

namespace onevisit::views {

/// {"bundle","version","title","fields":[…],"materials":[…],"items":[…]} (docs/api.md).
boost::json::object workflow_json(const engine::Workflow& workflow);

}  // namespace onevisit::views
