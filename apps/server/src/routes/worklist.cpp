// GET /api/worklist: the open items to work on, soonest deadline first.
#include "routes/handlers.hpp"

#include <onevisit/views/work_views.hpp>

namespace onevisit::server::routes {

HttpResponse worklist(Exchange& x) {
  engine::CaseQuery query;
  if (auto bad = x.read_listing(query, 100, 1000, "the worklist")) return *bad;
  auto entries = x.engine.worklist(query);
  if (!entries) return x.engine_error(entries.error());
  json::array a;
  for (const auto& e : *entries) {
    // Titles from the newest version, for people (a renamed item keeps its id).
    const auto workflow = x.engine.workflow(e.bundle_id);
    a.push_back(views::worklist_entry_json(e, workflow.get()));
  }
  return json_response(200, json::object{{"entries", std::move(a)}});
}

}  // namespace onevisit::server::routes
