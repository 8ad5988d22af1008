// /api/applicant/bundles…: what an applicant may apply for (docs/applicant.md): the 一件事 for
// individuals and for companies with search, one bundle's form, and 情形引导 — the situation
// questions one at a time, only those that apply, with the one material list for the answers
// so far.
#include "routes/handlers.hpp"

#include <onevisit/dsl/source.hpp>
#include <onevisit/engine/calendar.hpp>
#include <onevisit/engine/figures.hpp>
#include <onevisit/views/workflow_view.hpp>

#include <algorithm>
#include <set>

namespace onevisit::server::routes {

namespace {

// A bundle is for companies when its form asks a credit code (统一社会信用代码).
bool for_companies(const engine::Workflow& wf) {
  return std::any_of(wf.fields.begin(), wf.fields.end(), [](const engine::FieldModel& f) {
    return !f.situation && f.value_type.base == dsl::BaseType::uscc;
  });
}

std::shared_ptr<const engine::Workflow> bundle_or_error(Exchange& x, std::optional<HttpResponse>& failure) {
  auto wf = x.engine.workflow(x.param("bundle"));
  if (!wf) failure = x.error(404, "not_found", "没有这一件事，或它已停止网上办理", json::object{{"bundle", x.param("bundle")}});
  return wf;
}

}  // namespace

HttpResponse applicant_bundles(Exchange& x) {
  const auto audience = x.query("for");
  if (audience && *audience != "individual" && *audience != "company") {
    return x.error(400, "invalid_request", "查询参数 for 只能是 individual（个人办事）或 company（企业办事）", json::object{{"parameter", "for"}});
  }
  const std::string q = x.query("q").value_or("");
  if (!is_utf8(q) || q.size() > 100) return x.error(400, "invalid_request", "搜索内容太长或不是有效的文字", json::object{{"parameter", "q"}});
  auto deployed = x.engine.workflows();
  if (!deployed) return x.engine_error(deployed.error());
  std::set<std::string> seen;
  json::array bundles;
  for (const auto& record : *deployed) {
    if (!seen.insert(record.bundle_id).second) continue;
    const auto wf = x.engine.workflow(record.bundle_id);  // the newest version: what new cases use
    if (!wf) continue;
    const bool company = for_companies(*wf);
    if (audience && (*audience == "company") != company) continue;
    // Search in the title and the items' titles (一件事 are known by what they contain too).
    bool match = q.empty() || wf->title.find(q) != std::string::npos;
    json::array items;
    for (const auto& item : wf->items) {
      items.push_back(json::string(item.title));
      match = match || item.title.find(q) != std::string::npos;
    }
    if (!match) continue;
    bundles.push_back(json::object{{"bundle", wf->bundle_id},
                                   {"version", wf->version},
                                   {"title", wf->title},
                                   {"for", company ? "company" : "individual"},
                                   {"items", std::move(items)},
                                   {"has_questions", std::any_of(wf->fields.begin(), wf->fields.end(), [](const auto& f) { return f.situation; })}});
  }
  return json_response(200, json::object{{"bundles", std::move(bundles)}});
}

HttpResponse applicant_bundle(Exchange& x) {
  std::optional<HttpResponse> failure;
  const auto wf = bundle_or_error(x, failure);
  if (!wf) return *failure;
  auto j = views::workflow_json(*wf);
  j["for"] = for_companies(*wf) ? "company" : "individual";
  return json_response(200, j);
}

HttpResponse applicant_guide(Exchange& x) {
  std::optional<HttpResponse> failure;
  const auto wf = bundle_or_error(x, failure);
  if (!wf) return *failure;
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto typed = reader.scalars("answers", false, true);
  if (!reader.ok()) return x.bad_fields(reader);
  const auto answers = typed.value_or(std::map<std::string, std::string>{});
  std::map<std::string, dsl::Value> given;
  json::array problems;
  for (const auto& [name, text] : answers) {
    const auto field = wf->find_field(name);
    if (!field || !wf->fields[*field].situation) {
      problems.push_back(json::object{{"field", name}, {"message", "这一件事没有这个问题"}});
      continue;
    }
    if (text.empty()) continue;
    auto value = engine::parse_field_value(*wf, name, text);
    if (!value) problems.push_back(json::object{{"field", name}, {"message", masked(value.error())}});
    else given[name] = std::move(*value);
  }
  if (!problems.empty()) return x.error(422, "invalid_field", "回答有不正确的地方，请按提示修改", json::object{{"fields", std::move(problems)}});
  const auto today = engine::day_of(x.engine.now() / 60'000);
  const auto slots = engine::situation_slots(*wf, given, today);
  const dsl::Environment environment{slots, today, nullptr};
  // The next question: the first one not answered yet whose `when` holds for the answers.
  const auto all = views::workflow_json(*wf).at("fields").as_array();
  json::value next = nullptr;
  json::array answered;
  std::size_t applicable = 0;
  for (std::size_t i = 0; i < wf->fields.size(); ++i) {
    const auto& f = wf->fields[i];
    if (!f.situation || (f.when && !f.when->holds(environment))) continue;
    ++applicable;
    if (given.count(f.name)) answered.push_back(json::string(f.name));
    else if (next.is_null()) next = all[i];
  }
  json::array materials;
  for (const auto m : x.engine.situation_materials(*wf, answers)) materials.push_back(views::material_json(engine::material_info(*wf, m)));
  return json_response(200, json::object{{"bundle", wf->bundle_id},
                                         {"version", wf->version},
                                         {"question", std::move(next)},
                                         {"answered", std::move(answered)},
                                         {"questions", applicable},
                                         {"done", next.is_null()},
                                         {"materials", std::move(materials)}});
}

}  // namespace onevisit::server::routes
