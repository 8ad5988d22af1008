// GET /api/worklist: the open items to work on, soonest deadline first.
#include "routes/handlers.hpp"

#include <onevisit/views/work_views.hpp>

namespace onevisit::server::routes {

HttpResponse worklist(Exchange& x) {
  engine::CaseQuery query;
  std::int64_t limit = 100, offset = 0;
  if (auto bad = x.query_number("limit", limit, 1, 1000)) return *bad;
  if (auto bad = x.query_number("offset", offset, 0, kMaxOffset)) return *bad;
  query.limit = static_cast<std::size_t>(limit);
  query.offset = static_cast<std::size_t>(offset);
  query.bundle_id = x.query("bundle");
  query.department = x.query("department");
  if (query.department) {
    if (auto denied = x.authorize(Target::department(*query.department, "the worklist of department " + *query.department))) return *denied;
  }
  if (auto own = x.only_department()) query.department = *own;
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
