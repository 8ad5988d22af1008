// /api/workflows: deployed bundles, deploying, one bundle for the intake page, the one
// material list of a situation, and the form pre-filled from a company's registration.
#include "routes/handlers.hpp"

#include <onevisit/adapters/elicense.hpp>
#include <onevisit/dsl/diagnostic.hpp>
#include <onevisit/dsl/identifiers.hpp>
#include <onevisit/dsl/personal_numbers.hpp>
#include <onevisit/engine/calendar.hpp>
#include <onevisit/engine/figures.hpp>
#include <onevisit/views/case_view.hpp>
#include <onevisit/views/format.hpp>
#include <onevisit/views/workflow_view.hpp>

#include <spdlog/spdlog.h>

#include <cctype>

namespace onevisit::server::routes {

HttpResponse list_workflows(Exchange& x) {
  auto list = x.engine.workflows();
  if (!list) return x.engine_error(list.error());
  json::array a;
  for (const auto& w : *list) {
    const auto wf = x.engine.workflow(w.bundle_id, w.version);
    a.push_back(json::object{{"bundle", w.bundle_id}, {"version", w.version}, {"title", wf ? wf->title : std::string()},
                             {"source_hash", w.source_hash}, {"deployed_at", views::format_time(w.deployed_at)}, {"cases", w.cases}});
  }
  return json_response(200, json::object{{"workflows", std::move(a)}});
}

HttpResponse show_workflow(Exchange& x) {
  const auto wf = x.engine.workflow(x.param("bundle"));
  if (!wf) return x.error(404, "not_found", "没有部署“" + dsl::truncate_utf8(x.param("bundle"), 64) + "”这一件事", json::object{{"bundle", x.param("bundle")}});
  return json_response(200, views::workflow_json(*wf));
}

HttpResponse situation_materials(Exchange& x) {
  const auto wf = x.engine.workflow(x.param("bundle"));
  if (!wf) return x.error(404, "not_found", "没有部署“" + dsl::truncate_utf8(x.param("bundle"), 64) + "”这一件事", json::object{{"bundle", x.param("bundle")}});
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto form = reader.scalars("form", false);
  if (!reader.ok()) return x.bad_fields(reader);
  const auto answers = form.value_or(std::map<std::string, std::string>{});
  json::array materials;
  for (const auto m : x.engine.situation_materials(*wf, answers)) materials.push_back(views::material_json(engine::material_info(*wf, m)));
  // The questions asked under these answers: those whose `when` holds (answers that do not
  // parse yet count as not given, as for the materials).
  std::map<std::string, dsl::Value> given;
  for (const auto& [name, text] : answers) {
    if (text.empty()) continue;
    if (auto value = engine::parse_field_value(*wf, name, text)) given[name] = std::move(*value);
  }
  const auto today = engine::day_of(x.engine.now() / 60'000);
  const auto slots = engine::situation_slots(*wf, given, today);
  const dsl::Environment environment{slots, today, nullptr};
  json::array asked;
  for (const auto& f : wf->fields) {
    if (!f.when || f.when->holds(environment)) asked.push_back(json::string(f.name));
  }
  return json_response(200, json::object{{"bundle", wf->bundle_id}, {"materials", std::move(materials)}, {"asked", std::move(asked)}});
}

HttpResponse company_registration(Exchange& x) {
  const auto wf = x.engine.workflow(x.param("bundle"));
  if (!wf) return x.error(404, "not_found", "没有部署“" + dsl::truncate_utf8(x.param("bundle"), 64) + "”这一件事", json::object{{"bundle", x.param("bundle")}});
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto typed = reader.text("uscc", true);
  if (!reader.ok()) return x.bad_fields(reader);
  // As typed at the window: surrounding spaces and lower-case letters are the same code.
  std::string uscc = *typed;
  while (!uscc.empty() && std::isspace(static_cast<unsigned char>(uscc.back()))) uscc.pop_back();
  uscc.erase(0, std::min(uscc.size(), uscc.find_first_not_of(" \t")));
  for (auto& c : uscc) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!dsl::valid_uscc(uscc)) {
    return x.error(422, "invalid_field", "统一社会信用代码校验不通过，请核对后再查询",
                   json::object{{"fields", json::array{json::object{{"field", "uscc"}, {"problem", "invalid"},
                                                                    {"message", "统一社会信用代码校验不通过，请核对"}}}}});
  }
  if (!x.options.elicense) {
    return with_reason(x.error(404, "not_found", "本中心未接入电子证照库，请手工填写企业信息"), "no_library");
  }
  auto found = x.options.elicense->registration(uscc);
  if (!found) {
    spdlog::warn("request {}: registration of {}: {}", x.record.request_id, masked(uscc), masked(found.error()));
    return x.error(503, "try_again", "电子证照库暂时无法访问，请稍后重试，或手工填写企业信息");
  }
  if (!*found) {
    spdlog::info("request {}: the e-license library holds no registration of {}", x.record.request_id, masked(uscc));
    return with_reason(x.error(404, "not_found", "电子证照库中没有这个统一社会信用代码的企业登记信息，请核对代码或手工填写"), "no_registration");
  }
  json::object fields;
  for (const auto& [name, value] : adapters::registration_prefill(*wf, **found)) fields[name] = masked(value);
  spdlog::info("request {}: registration of {} pre-fills {} field(s)", x.record.request_id, masked(uscc), fields.size());
  return json_response(200, json::object{{"bundle", wf->bundle_id}, {"uscc", masked(uscc)}, {"fields", std::move(fields)},
                                         {"established", (*found)->established}});
}

HttpResponse deploy_workflows(Exchange& x) {
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto files = reader.scalars("files", true);
  const auto roots = reader.strings("roots");
  if (!reader.ok()) return x.bad_fields(reader);
  if (files->empty()) return x.error(422, "invalid", "没有流程文件：请发送每个流程文件（路径 -> 内容）", json::object{{"field", "files"}, {"problem", "empty"}});
  std::vector<std::string> root_list;
  if (roots) root_list = *roots;
  else for (const auto& [path, text] : *files) root_list.push_back(path);
  x.record.target = "workflows";
  auto report = x.engine.deploy_sources(std::map<std::string, std::string>(files->begin(), files->end()), root_list);
  if (!report) return x.engine_error(report.error());
  json::array bundles, warnings;
  for (const auto& b : report->bundles) {
    bundles.push_back(json::object{{"bundle", b.bundle_id}, {"version", b.version}, {"source_hash", b.source_hash}, {"new_version", b.new_version}});
  }
  json::array calendars;
  for (const auto& c : report->calendars) {
    calendars.push_back(json::object{{"calendar", c.name}, {"version", c.version}, {"new_version", c.new_version},
                                     {"cases_recounted", c.cases_recounted}});
  }
  for (const auto& w : report->warnings) warnings.push_back(json::string(dsl::render_text(w)));
  x.record.detail = std::to_string(report->bundles.size()) + " bundles";
  return json_response(200, json::object{{"bundles", std::move(bundles)}, {"calendars", std::move(calendars)}, {"warnings", std::move(warnings)}});
}

}  // namespace onevisit::server::routes
