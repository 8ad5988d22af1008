// /api/cases: list and start cases; a case as the console shows it, and its history.
#include "routes/handlers.hpp"

#include <onevisit/dsl/personal_numbers.hpp>
#include <onevisit/engine/figures.hpp>
#include <onevisit/engine/search.hpp>
#include <onevisit/views/case_view.hpp>
#include <onevisit/views/history_view.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace onevisit::server::routes {

namespace {
bool is_channel(std::string_view channel) {
  return std::find(std::begin(engine::kChannels), std::end(engine::kChannels), channel) != std::end(engine::kChannels);
}

json::array channel_choices() {
  json::array a;
  for (const auto c : engine::kChannels) a.push_back(json::string(c));
  return a;
}
}  // namespace

HttpResponse list_cases(Exchange& x) {
  engine::CaseQuery query;
  if (auto bad = x.read_listing(query, 50, 500, "the cases")) return *bad;
  if (auto bad = read_case_scope(x, query)) return *bad;
  query.status = x.query("status");
  query.channel = x.query("channel");
  if (query.channel && !is_channel(*query.channel)) {
    return x.error(400, "invalid_request", "办理渠道只能是窗口、网上、移动端或自助终端",
                   json::object{{"parameter", "channel"}, {"choices", channel_choices()}});
  }
  // Times in ms, as the report's per-bar filters give them (views::case_query_json).
  for (const auto& [name, bound] : {std::pair{"due_before", &query.due_before}, std::pair{"started_from", &query.started_from},
                                    std::pair{"started_before", &query.started_before}}) {
    if (!x.query(name)) continue;
    std::int64_t at = 0;
    if (auto bad = x.query_number(name, at, 0, kMaxTimestamp)) return *bad;
    *bound = at;
  }
  const auto scope = x.authorizer.case_scope(x.principal());
  // An applicant lists only their own cases, and cases record no owner yet (issue 15).
  if (scope.owner) return json_response(200, json::object{{"cases", json::array{}}, {"limit", query.limit}, {"offset", query.offset}});
  auto cases = x.engine.list_cases(query);
  if (!cases) return x.engine_error(cases.error());
  json::array a;
  for (const auto& c : *cases) {
    auto summary = views::case_summary_json(c);
    // The bundle's title, for people (from its newest version, as the worklist).
    if (const auto workflow = x.engine.workflow(c.bundle_id)) summary["bundle_title"] = workflow->title;
    // A case waiting for its results to go out (the console's 待送达) says how the applicant
    // chose to receive them; the list index does not hold the choice, so only these rows
    // read their case.
    if (c.status == "completed") {
      auto view = x.engine.get_case(c.case_id);
      if (!view) return x.engine_error(view.error());
      summary["delivery_choice"] = views::delivery_choice_json(view->state.delivery_choice);
    }
    a.push_back(std::move(summary));
  }
  json::object answer{{"cases", std::move(a)}, {"limit", query.limit}, {"offset", query.offset}};
  if (x.query("count") == "1") {
    // Counted up to 10,000 (a page number further is no use at a window).
    engine::CaseQuery all = query;
    all.limit = 10'000;
    all.offset = 0;
    auto total = x.engine.count_cases(all);
    if (!total) return x.engine_error(total.error());
    answer["total"] = *total;
  }
  return json_response(200, answer);
}

std::optional<HttpResponse> read_case_scope(Exchange& x, engine::CaseQuery& query) {
  // read_listing kept a reviewer to the open items of their department; a case list shows
  // every case with an item of theirs, finished ones too (a completed case stays findable).
  // `department` asked for explicitly stays what it was: cases with an open item there.
  const auto scope = x.authorizer.case_scope(x.principal());
  query.scope_department = scope.department;
  query.department = x.query("department");
  if (const auto done_by = x.query("done_by")) {
    if (*done_by != "me") {
      return x.error(400, "invalid_request", "查询参数 done_by 只能是 me（我办过的）", json::object{{"parameter", "done_by"}});
    }
    query.actor = x.user().name;
  }
  if (const auto text = x.query("q")) {
    auto terms = engine::parse_search_query(*text);
    // The answer and the log never repeat what was typed: it may be a number.
    if (!terms) {
      return with_reason(x.logged(x.error(422, "invalid_query", terms.error(), json::object{{"parameter", "q"}}), "the search query is not usable"),
                         "invalid_query");
    }
    spdlog::info("request {}: search for {}", x.record.request_id, terms->masked);
    query.any_token = terms->tokens;
    if (!terms->case_id.empty()) query.case_id = terms->case_id;
  }
  return std::nullopt;
}

HttpResponse start_case(Exchange& x) {
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto bundle = reader.text("bundle", true);
  const auto form = reader.scalars("form", true, true);
  const auto applicant = reader.text("applicant");
  const auto case_id = reader.text("case_id");
  const auto channel = reader.text("channel");
  if (!reader.ok()) return x.bad_fields(reader);
  if (case_id && !safe_token(*case_id, 64)) {
    return x.error(400, "invalid_request", "办件编号应为 1 到 64 个字母、数字或 - _ . :", json::object{{"field", "case_id"}, {"problem", "malformed"}});
  }
  // A case id shows in lists, URLs, the audit trail and log lines: never a personal number
  // (the engine refuses it too; this answer is the clerk's, in Chinese).
  if (case_id) {
    if (const auto found = dsl::find_personal_numbers(*case_id, dsl::PersonalNumberScan::identifier); !found.empty()) {
      return with_reason(x.logged(x.error(422, "invalid", "办件编号不能含身份证号、手机号等个人信息，请换一个，或留空由系统生成",
                                          json::object{{"field", "case_id"}, {"kind", std::string(dsl::to_string(found.front().kind))}}),
                                  "the client's case id holds a personal number"),
                         "personal_case_id");
    }
  }
  if (channel && !is_channel(*channel)) {
    return with_reason(x.error(422, "invalid", "办理渠道只能是窗口（window）、网上（online）、移动端（mobile）或自助终端（kiosk）",
                               json::object{{"field", "channel"}, {"choices", channel_choices()}}),
                       "unknown_channel");
  }
  const auto workflow = x.engine.workflow(*bundle);
  if (!workflow) return x.error(404, "not_found", "没有部署“" + dsl::truncate_utf8(*bundle, 64) + "”这一件事", json::object{{"bundle", *bundle}});
  std::map<std::string, dsl::Value> values;
  json::array problems;
  for (const auto& [name, text] : *form) {
    auto value = engine::parse_field_value(*workflow, name, text);
    if (!value) problems.push_back(json::object{{"field", name}, {"message", masked(value.error())}});
    else values[name] = std::move(*value);
  }
  if (!problems.empty()) return x.error(422, "invalid_field", "表单有填写不正确的项目，请按各项提示修改", json::object{{"fields", std::move(problems)}});
  auto options = x.command_options();
  if (!options) return x.bad_key();
  if (channel) options->channel = *channel;
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
    // A department system's account is known by its department's title.
    if (found && *found && (*found)->role == Role::department_system) {
      for (const auto& d : view->workflow->departments) {
        if (d.id == (*found)->department) name = d.title;
      }
    }
    return names[account] = name;
  };
  return json_response(200, json::object{{"case_id", case_id},
                                         {"events", views::history_json(*view->workflow, *events, scope ? &*scope : nullptr, display_name)}});
}

}  // namespace onevisit::server::routes
