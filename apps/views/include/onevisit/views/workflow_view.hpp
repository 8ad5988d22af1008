// A deployed bundle as the intake page needs it: its form fields (types, choices, defaults),
// materials and items with their departments.
//
// Thread safety: pure functions of their arguments.
#pragma once

#include <onevisit/engine/figures.hpp>
#include <onevisit/engine/workflow.hpp>

#include <boost/json/object.hpp>

namespace onevisit::views {

/// {"bundle","version","title","fields":[…],"materials":[…],"items":[…]} (docs/api.md). A
/// field with choices (enum, list(enum)) carries `values` and `options` [{value, title}]; a
/// list of choices is typed "list(enum)".
boost::json::object workflow_json(const engine::Workflow& workflow);

/// A material as the intake page lists it: id, title, source, secondary, original, formats
/// and accept.
boost::json::object material_json(const engine::MaterialInfo& info);

}  // namespace onevisit::views
