// /api/cases: list and start cases; a case as the console shows it, and its history.
#include "routes/handlers.hpp"

#include <onevisit/engine/figures.hpp>
#include <onevisit/views/case_view.hpp>
#include <onevisit/views/format.hpp>
#include <onevisit/views/history_view.hpp>

namespace onevisit::server::routes {

HttpResponse list_cases(Exchange& x) {
  engine::CaseQuery query;
  std::int64_t limit = 50, offset = 0;
  if (auto bad = x.query_number("limit", limit, 1, 500)) return *bad;
  if (auto bad = x.query_number("offset", offset, 0, kMaxOffset)) return *bad;
  query.limit = static_cast<std::size_t>(limit);
  query.offset = static_cast<std::size_t>(offset);
  query.bundle_id = x.query("bundle");
  query.status = x.query("status");
  query.department = x.query("department");
  if (x.query("due_before")) {
    std::int64_t due = 0;
    if (auto bad = x.query_number("due_before", due, 0, kMaxTimestamp)) return *bad;
    query.due_before = due;
  }
  if (query.department) {
    if (auto denied = x.authorize(Target::department(*query.department, "the cases of department " + *query.department))) return *denied;
  }
  if (auto own = x.only_department()) query.department = *own;
  auto cases = x.engine.list_cases(query);
  if (!cases) return x.engine_error(cases.error());
  json::array a;
  for (const auto& c : *cases) a.push_back(views::case_summary_json(c));
  return json_response(200, json::object{{"cases", std::move(a)}, {"limit", query.limit}, {"offset", query.offset}});
}

HttpResponse start_case(Exchange& x) {
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto bundle = reader.text("bundle", true);
  const auto form = reader.scalars("form", true);
  const auto applicant = reader.text("applicant");
  const auto case_id = reader.text("case_id");
  if (!reader.ok()) return x.bad_fields(reader);
  if (case_id && !safe_token(*case_id, 64)) return x.error(400, "invalid_request", "case_id is 1 to 64 of A-Z a-z 0-9 - _ . :");
  const auto workflow = x.engine.workflow(*bundle);
  if (!workflow) return x.error(404, "not_found", "no bundle '" + *bundle + "' is deployed");
  std::map<std::string, dsl::Value> values;
  json::array problems;
  for (const auto& [name, text] : *form) {
    auto value = engine::parse_field_value(*workflow, name, text);
    if (!value) problems.push_back(json::object{{"field", name}, {"message", masked(value.error())}});
    else values[name] = std::move(*value);
  }
  if (!problems.empty()) return x.error(422, "invalid_field", "some form values do not fit their fields", json::object{{"fields", std::move(problems)}});
  auto options = x.command_options();
  if (!options) return x.bad_key();
  auto started = x.engine.start_case(*bundle, values, applicant.value_or(""), *options, case_id.value_or(""));
  if (!started) return x.engine_error(started.error());
  x.record.target = started->case_id;
  auto r = json_response(201, command_json(*started));
  r.headers.emplace_back("Location", "/api/cases/" + started->case_id);
  return r;
}

HttpResponse show_case(Exchange& x) {
  auto view = x.load_case(x.param("id"));
  if (!view) return *x.failure;
  // A reviewer sees their department's items, the materials those need or produce and the
  // form fields they send to the department; nothing of the other departments'.
  std::optional<views::DepartmentScope> scope;
  if (auto own = x.only_department()) scope = views::DepartmentScope::of(*view->workflow, *own);
  return json_response(200, views::case_page_json(*view, scope ? &*scope : nullptr));
}

namespace {
// Events about another department's item or a material it cannot see are left out;
// case-level events stay.
bool shows_event(const views::DepartmentScope& scope, const json::value& payload) {
  const auto* object = payload.if_object();
  if (object == nullptr) return true;
  auto visible = [&](std::string_view key, const std::vector<bool>& shown) {
    const auto* index = object->if_contains(key);
    if (index == nullptr || !index->is_number()) return true;
    const auto i = index->to_number<std::int64_t>();
    return i >= 0 && static_cast<std::size_t>(i) < shown.size() && shown[static_cast<std::size_t>(i)];
  };
  return visible("item", scope.items) && visible("material", scope.materials);
}
}  // namespace

HttpResponse case_history(Exchange& x) {
  const std::string& case_id = x.param("id");
  auto view = x.load_case(case_id);
  if (!view) return *x.failure;
  auto history = x.engine.history(case_id);
  if (!history) return x.engine_error(history.error());
  std::optional<views::DepartmentScope> scope;
  if (auto own = x.only_department()) scope = views::DepartmentScope::of(*view->workflow, *own);
  json::array a;
  for (const auto& h : *history) {
    auto payload = views::history_payload_json(h.type, h.payload);
    if (scope && !shows_event(*scope, payload)) continue;
    a.push_back(json::object{{"sequence", h.sequence}, {"type", h.type}, {"at", views::format_time(h.at)}, {"payload", std::move(payload)}});
  }
  return json_response(200, json::object{{"case_id", case_id}, {"events", std::move(a)}});
}

}  // namespace onevisit::server::routes
