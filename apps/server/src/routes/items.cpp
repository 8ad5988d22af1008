// /api/cases/{id}/items/{item}/…: fire a lifecycle event, tolerant intake (容缺受理).
#include "routes/handlers.hpp"

namespace onevisit::server::routes {

HttpResponse fire_event(Exchange& x) {
  const std::string& case_id = x.param("id");
  const std::string& item_id = x.param("item");
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto fields = reader.scalars("fields");
  const auto for_applicant = reader.boolean("for_applicant");
  if (!reader.ok()) return x.bad_fields(reader);
  auto view = x.load_case(case_id);
  if (!view) return *x.failure;
  const auto item = view->workflow->find_item(item_id);
  if (!item) return x.error(404, "not_found", "这件事没有这个事项", json::object{{"item", item_id}});
  if (auto denied = x.authorize(Target::department(view->items[*item].department, "item " + item_id))) return *denied;
  return x.run_command(case_id, engine::FireEvent{item_id, x.param("event"), fields.value_or(std::map<std::string, std::string>{}),
                                                  for_applicant.value_or(false)});
}

HttpResponse tolerant_intake(Exchange& x) {
  const std::string& case_id = x.param("id");
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto pending = reader.strings("pending", true);
  const auto event = reader.text("event");
  const auto fields = reader.scalars("fields");
  if (!reader.ok()) return x.bad_fields(reader);
  if (!x.load_case(case_id)) return *x.failure;
  return x.run_command(case_id, engine::TolerantIntake{x.param("item"), *pending, event.value_or("accept"),
                                                       fields.value_or(std::map<std::string, std::string>{})});
}

}  // namespace onevisit::server::routes
