// Pictures of a workflow: the bundle's items (grouped by department, the critical path
// marked, parallel branches side by side) and each lifecycle's states, as Graphviz DOT
// (written by Boost.Graph's graphviz writer) or Mermaid text for Markdown documents.
#pragma once

#include <onevisit/engine/workflow.hpp>

#include <string>

namespace onevisit::engine {

std::string bundle_dot(const Workflow& workflow);
std::string bundle_mermaid(const Workflow& workflow);
std::string lifecycle_dot(const LifecycleModel& lifecycle);
std::string lifecycle_mermaid(const LifecycleModel& lifecycle);

}  // namespace onevisit::engine
