#include <onevisit/views/work_views.hpp>

#include <onevisit/adapters/adapter.hpp>
#include <onevisit/views/format.hpp>

#include <boost/json.hpp>

namespace onevisit::views {

namespace json = boost::json;

json::object worklist_entry_json(const engine::WorklistEntry& e, const engine::Workflow* wf, const engine::WorkCalendar* calendar) {
  json::object entry{{"case_id", e.case_id}, {"bundle", e.bundle_id}, {"item", e.item.item_id}, {"department", e.item.department},
                     {"state", e.item.state}, {"due", format_time(e.item.due_at)}, {"due_at", e.item.due_at},
                     {"light", e.item.light}, {"urged", e.item.urged}};
  // 会签: the row is a department's part of a joint item, not the item's own.
  if (!e.part.empty()) entry["part"] = e.part;
  if (calendar != nullptr) entry["due_provisional"] = e.item.due_at != 0 && calendar->provisional(engine::day_of(e.item.due_at / 60'000));
  if (wf == nullptr) return entry;
  entry["bundle_title"] = wf->title;
  if (const auto i = wf->find_item(e.item.item_id)) {
    entry["item_title"] = wf->items[*i].title;
    const auto& lifecycle = wf->lifecycles[wf->items[*i].lifecycle];
    if (const auto state = lifecycle.find_state(e.item.state)) entry["state_title"] = lifecycle.states[*state].title;
  }
  if (!e.part.empty()) {
    for (const auto& department : wf->departments) {
      if (department.id == e.part) entry["part_title"] = department.title;
    }
  }
  return entry;
}

json::object call_json(const engine::OutboxRecord& r) {
  return json::object{{"id", r.id},
                      {"case_id", r.case_id},
                      {"idempotency_key", r.idempotency_key},
                      {"department", r.department},
                      {"system", r.adapter},
                      {"operation", r.operation},
                      {"status", r.status},
                      {"attempts", r.attempts},
                      {"next_attempt", format_time(r.next_attempt_at)},
                      {"last_error", adapters::mask_identifiers(r.last_error)}};
}

json::object timer_json(const engine::TimerRecord& t) {
  return json::object{{"case_id", t.case_id}, {"timer", t.timer_id}, {"due", format_time(t.due_at)}, {"due_at", t.due_at}};
}

}  // namespace onevisit::views
