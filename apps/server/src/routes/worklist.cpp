// GET /api/worklist: the open items to work on, soonest deadline first; and the counts of the
// console's worklist tabs.
#include "routes/handlers.hpp"

#include <onevisit/views/format.hpp>
#include <onevisit/views/work_views.hpp>

namespace onevisit::server::routes {

namespace {

// A tab shows at most this many in its count ("1000+" beyond): counting stops there.
constexpr std::size_t kCountCap = 1000;

// `overdue=1`: only items past their deadline (已超期).
std::optional<HttpResponse> read_overdue(Exchange& x, engine::CaseQuery& query) {
  const auto overdue = x.query("overdue");
  if (!overdue) return std::nullopt;
  if (*overdue != "1") return x.error(400, "invalid_request", "查询参数 overdue 只能是 1（已超期）", json::object{{"parameter", "overdue"}});
  query.due_before = x.engine.now();
  return std::nullopt;
}

}  // namespace

HttpResponse worklist(Exchange& x) {
  engine::CaseQuery query;
  if (auto bad = x.read_listing(query, 100, 1000, "the worklist")) return *bad;
  if (auto bad = read_overdue(x, query)) return *bad;
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
  return json_response(200, json::object{{"entries", std::move(a)}, {"limit", query.limit}, {"offset", query.offset}});
}

// GET /api/worklist/counts: how many rows each tab of the console's worklist holds, for the
// caller (a reviewer: their department's), each counted up to kCountCap.
HttpResponse worklist_counts(Exchange& x) {
  engine::CaseQuery items;
  if (auto bad = x.read_listing(items, 100, 1000, "the worklist")) return *bad;
  items.limit = kCountCap;
  items.offset = 0;
  engine::CaseQuery cases = items;
  if (auto bad = read_case_scope(x, cases)) return *bad;
  json::object counts;
  const auto count_items = [&](const char* tab, engine::CaseQuery q) -> std::optional<HttpResponse> {
    auto n = x.engine.count_worklist(q);
    if (!n) return x.engine_error(n.error());
    counts[tab] = *n;
    return std::nullopt;
  };
  const auto count_cases = [&](const char* tab, engine::CaseQuery q) -> std::optional<HttpResponse> {
    if (x.authorizer.case_scope(x.principal()).owner) {
      counts[tab] = 0;
      return std::nullopt;
    }
    auto n = x.engine.count_cases(q);
    if (!n) return x.engine_error(n.error());
    counts[tab] = *n;
    return std::nullopt;
  };
  engine::CaseQuery overdue = items;
  overdue.due_before = x.engine.now();
  engine::CaseQuery done = cases;
  done.actor = x.user().name;
  engine::CaseQuery delivery = cases, rating = cases;
  delivery.status = "completed";
  rating.status = "delivered";
  for (auto bad : {count_items("mine", items), count_cases("done", done), count_cases("all", cases), count_items("overdue", overdue),
                   count_cases("delivery", delivery), count_cases("rating", rating)}) {
    if (bad) return *bad;
  }
  return json_response(200, json::object{{"counts", std::move(counts)}, {"cap", kCountCap}});
}

}  // namespace onevisit::server::routes
