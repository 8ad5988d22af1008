// GET /api/worklist: the open items to work on, soonest deadline first.
#include "routes/handlers.hpp"

#include <onevisit/views/format.hpp>
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
    auto entry = views::worklist_entry_json(e, workflow.get(), workflow ? &x.engine.calendar_of(*workflow) : nullptr);
    // An item whose clock stands still has no running deadline: the row says since when it
    // is paused. Only those cases are read, so the usual page stays one query.
    if (e.item.due_at == 0) {
      if (const auto view = x.engine.get_case(e.case_id)) {
        if (const auto i = view->workflow->find_item(e.item.item_id); i && view->state.items[*i].paused_since != 0) {
          entry["paused_since"] = views::format_time(view->state.items[*i].paused_since);
          entry["paused_by_clerk"] = view->state.items[*i].paused_by_clerk;
        }
      }
    }
    a.push_back(std::move(entry));
  }
  return json_response(200, json::object{{"entries", std::move(a)}});
}

}  // namespace onevisit::server::routes
