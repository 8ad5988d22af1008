// /api/workflows: deployed bundles, deploying, one bundle for the intake page, and the one
// material list of a situation.
#include "routes/handlers.hpp"

#include <onevisit/dsl/diagnostic.hpp>
#include <onevisit/dsl/personal_numbers.hpp>
#include <onevisit/engine/calendar.hpp>
#include <onevisit/engine/figures.hpp>
#include <onevisit/views/case_view.hpp>
#include <onevisit/views/format.hpp>
#include <onevisit/views/workflow_view.hpp>

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
  for (const auto& w : report->warnings) warnings.push_back(json::string(dsl::render_text(w)));
  x.record.detail = std::to_string(report->bundles.size()) + " bundles";
  return json_response(200, json::object{{"bundles", std::move(bundles)}, {"warnings", std::move(warnings)}});
}

}  // namespace onevisit::server::routes
