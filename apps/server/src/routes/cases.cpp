// /api/cases: list and start cases; a case as the console shows it, and its history.
#include "routes/handlers.hpp"

#include <onevisit/engine/figures.hpp>
#include <onevisit/views/case_view.hpp>
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

HttpResponse case_history(Exchange& x) {
  const std::string& case_id = x.param("id");
  auto view = x.load_case(case_id);
  if (!view) return *x.failure;
  auto events = x.engine.events(case_id);
  if (!events) return x.engine_error(events.error());
  std::optional<views::DepartmentScope> scope;
  if (auto own = x.only_department()) scope = views::DepartmentScope::of(*view->workflow, *own);
  // Each account once per request; an account store failure shows the account's name.
  std::map<std::string, std::optional<std::string>> names;
  const views::DisplayNameLookup display_name = [&](const std::string& account) -> std::optional<std::string> {
    if (const auto it = names.find(account); it != names.end()) return it->second;
    auto found = x.accounts.find_user(account);
    std::optional<std::string> name;
    if (found && *found) name = (*found)->display_name;
    return names[account] = name;
  };
  return json_response(200, json::object{{"case_id", case_id},
                                         {"events", views::history_json(*view->workflow, *events, scope ? &*scope : nullptr, display_name)}});
}

}  // namespace onevisit::server::routes
