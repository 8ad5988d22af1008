// /api/cases/{id}/items/{item}/…: fire a lifecycle event, tolerant intake (容缺受理), start and
// end a special procedure (特别程序).
#include "routes/handlers.hpp"

namespace onevisit::server::routes {

namespace {

// The answer refusing a command on item `item_id` of the case: the case or the item does not
// exist (404), or the caller may not act for the item's department (403). None when it may go on.
std::optional<HttpResponse> refuse_item(Exchange& x, const std::string& case_id, const std::string& item_id) {
  auto view = x.load_case(case_id);
  if (!view) return *x.failure;
  const auto item = view->workflow->find_item(item_id);
  if (!item) return x.error(404, "not_found", "这件事没有这个事项", json::object{{"item", item_id}});
  return x.authorize(Target::department(view->items[*item].department, "item " + item_id));
}

}  // namespace

HttpResponse fire_event(Exchange& x) {
  const std::string& case_id = x.param("id");
  const std::string& item_id = x.param("item");
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto fields = reader.scalars("fields");
  const auto for_applicant = reader.boolean("for_applicant");
  if (!reader.ok()) return x.bad_fields(reader);
  if (auto refused = refuse_item(x, case_id, item_id)) return *refused;
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

// 会签: a department's part of a joint item. The caller must act for that department (the
// part's, not the item's); the core checks the reviewer's department again.
HttpResponse decide_part(Exchange& x) {
  const std::string& case_id = x.param("id");
  const std::string& item_id = x.param("item");
  const std::string& department = x.param("department");
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto approve = reader.boolean("approve", true);
  const auto note = reader.text("note");
  if (!reader.ok()) return x.bad_fields(reader);
  auto view = x.load_case(case_id);
  if (!view) return *x.failure;
  if (!view->workflow->find_item(item_id)) return x.error(404, "not_found", "这件事没有这个事项", json::object{{"item", item_id}});
  if (auto denied = x.authorize(Target::department(department, "part of item " + item_id))) return *denied;
  return x.run_command(case_id, engine::DecidePart{item_id, department, *approve, note.value_or("")});
}

namespace {

// A special procedure's start or end: `note` (reason or result) is required; the item's
// department is authorised here, the roles and the reviewer's department again in the core.
template <typename Make>
HttpResponse special_procedure(Exchange& x, std::string_view note, Make make) {
  const std::string& case_id = x.param("id");
  const std::string& item_id = x.param("item");
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto text = reader.text(note, true);
  if (!reader.ok()) return x.bad_fields(reader);
  if (auto refused = refuse_item(x, case_id, item_id)) return *refused;
  return x.run_command(case_id, make(item_id, x.param("procedure"), *text));
}

}  // namespace

HttpResponse start_special_procedure(Exchange& x) {
  return special_procedure(x, "reason", [](const std::string& item, const std::string& procedure, const std::string& reason) {
    return engine::CommandBody{engine::StartSpecialProcedure{item, procedure, reason}};
  });
}

HttpResponse end_special_procedure(Exchange& x) {
  return special_procedure(x, "result", [](const std::string& item, const std::string& procedure, const std::string& result) {
    return engine::CommandBody{engine::EndSpecialProcedure{item, procedure, result}};
  });
}

}  // namespace onevisit::server::routes
