// POST /api/cases/{id}/items/{item}/urge: 督办, a supervisor presses the department handling a
// late item, with a note (docs/api.md).
#include "routes/handlers.hpp"

#include <onevisit/dsl/personal_numbers.hpp>

namespace onevisit::server::routes {

HttpResponse urge_item(Exchange& x) {
  const std::string& case_id = x.param("id");
  const std::string& item_id = x.param("item");
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto note = reader.text("note", true);
  if (!reader.ok()) return x.bad_fields(reader);
  auto view = x.load_case(case_id);
  if (!view) return *x.failure;
  if (!view->workflow->find_item(item_id)) return x.error(404, "not_found", "这件事没有这个事项", json::object{{"item", item_id}});
  return x.run_command(case_id, engine::UrgeItem{item_id, dsl::truncate_utf8(*note, 1000)});
}

}  // namespace onevisit::server::routes
