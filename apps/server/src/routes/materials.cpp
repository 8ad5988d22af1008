// /api/cases/{id}/materials/{material}: upload, download, fetch from the e-license library,
// verify or refuse.
#include "routes/handlers.hpp"

#include <onevisit/adapters/elicense.hpp>
#include <onevisit/dsl/personal_numbers.hpp>
#include <onevisit/dsl/source.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace onevisit::server::routes {

namespace {

// The departments whose items need (or, with `produced`, also produce) the material: a
// reviewer of one of them may see it (and verify it when it is needed).
Target material_target(const engine::Workflow& wf, engine::MaterialIndex m, bool produced) {
  std::vector<std::string> departments;
  for (const auto i : wf.materials[m].consumers) departments.push_back(wf.departments[wf.items[i].department].id);
  if (produced) {
    for (const auto& item : wf.items) {
      if (std::find(item.produces.begin(), item.produces.end(), m) != item.produces.end()) {
        departments.push_back(wf.departments[item.department].id);
      }
    }
  }
  return Target::any_department(std::move(departments), "material " + wf.materials[m].id);
}

}  // namespace

bool applicant_may_download(const engine::Workflow& wf, const engine::Case& state, engine::MaterialIndex m) {
  const auto& material = wf.materials[m];
  if (material.producer || material.source != engine::MaterialSource::elicense) return true;
  // An e-license material holds the library's copy (attached verified, noted "e-license"), or
  // a file uploaded in its place (submitted, no note): only the upload is the applicant's. A
  // refused one says nothing any more of where it came from: kept back too.
  const auto& held = state.materials[m];
  return held.note.empty() && (held.status == engine::MaterialStatus::submitted || held.status == engine::MaterialStatus::verified);
}

HttpResponse upload_material(Exchange& x) {
  const std::string& case_id = x.param("id");
  const std::string& material = x.param("material");
  if (x.request.body.size() > x.options.max_material_bytes) {
    return x.error(413, "body_too_large", "材料文件太大：最多 " + std::to_string(x.options.max_material_bytes) + " 字节", json::object{{"limit_bytes", x.options.max_material_bytes}});
  }
  if (x.request.body.empty()) return x.error(400, "invalid_request", "材料文件是空的，请重新选择文件");
  auto view = x.load_case(case_id);
  if (!view) return *x.failure;
  if (!view->workflow->find_material(material)) return x.error(404, "not_found", "这件事没有这份材料", json::object{{"material", material}});
  // Percent-encoded by browsers (header values are ASCII); kept as sent when malformed.
  std::string file_name = x.request.header("x-file-name");
  bool decoded_ok = true;
  if (auto decoded = percent_decode(file_name, decoded_ok); decoded_ok) file_name = std::move(decoded);
  if (!is_utf8(file_name)) return x.error(400, "invalid_request", "文件名不是有效的 UTF-8", json::object{{"header", "X-File-Name"}});
  file_name = dsl::truncate_utf8(file_name, 200);
  auto options = x.command_options();
  if (!options) return x.bad_key();
  // The engine stores the bytes (content-addressed) before the command commits.
  auto result = x.engine.attach_content(case_id, material, x.request.body, file_name, *options);
  if (!result) return x.engine_error(result.error());
  return json_response(200, command_json(*result));
}

HttpResponse download_material(Exchange& x) {
  const std::string& case_id = x.param("id");
  const std::string& material = x.param("material");
  auto view = x.load_case(case_id);
  if (!view) return *x.failure;
  const auto m = view->workflow->find_material(material);
  if (!m) return x.error(404, "not_found", "这件事没有这份材料", json::object{{"material", material}});
  auto target = material_target(*view->workflow, *m, true);
  target.not_the_applicants = !applicant_may_download(*view->workflow, view->state, *m);
  if (auto denied = x.authorize(target)) return *denied;
  const auto& hash = view->state.materials[*m].content_hash;
  if (hash.empty()) return x.error(404, "not_found", "这份材料还没有上传文件", json::object{{"material", material}});
  auto content = x.engine.contents().get(hash);
  if (!content) {
    // The database out of reach is 503 with Retry-After, as for commands; a damaged or
    // unreadable file is the administrator's.
    if (content.error().kind == engine::StoreError::Kind::unavailable) return x.engine_error(engine::EngineError::from(content.error()));
    spdlog::error("request {}: material {} of case {}: {}", x.record.request_id, material, masked(case_id), content.error().message);
    return x.error(500, "internal", "材料文件读取失败，请把请求编号告诉管理员");
  }
  if (!*content) return x.error(404, "not_found", "这份材料的文件不在本服务器上", json::object{{"material", material}});
  HttpResponse r{200, "application/octet-stream", {}, std::move(**content)};
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + material + "\"");
  r.headers.emplace_back("X-Content-SHA256", hash);
  return r;
}

HttpResponse fetch_elicense(Exchange& x) {
  const std::string& case_id = x.param("id");
  const std::string& material = x.param("material");
  if (!x.load_case(case_id)) return *x.failure;
  auto options = x.command_options();
  if (!options) return x.bad_key();
  // Verified only because the library holds it: the library is asked, its document stored.
  auto fetched = adapters::fetch_elicense(x.engine, case_id, material, x.options.elicense.get(), *options);
  if (!fetched) {
    const auto& e = fetched.error();
    switch (e.kind) {
      // The clerk reads the Chinese message; the English detail goes to the audit trail and log.
      case adapters::ElicenseError::Kind::not_an_elicense: return x.logged(x.error(422, "invalid", e.message), e.detail);
      case adapters::ElicenseError::Kind::not_held: return x.logged(x.error(409, "upload_instead", e.message), e.detail);
      case adapters::ElicenseError::Kind::library:
        spdlog::warn("request {}: e-license {} of case {}: {}", x.record.request_id, material, masked(case_id), masked(e.detail));
        return x.error(503, "try_again", e.message);
      case adapters::ElicenseError::Kind::engine:
        if (e.engine_error) return x.engine_error(*e.engine_error);
        break;
    }
    return x.error(500, "internal", "电子证照调取失败，请把请求编号告诉管理员");
  }
  return json_response(200, command_json(*fetched));
}

HttpResponse verify_material(Exchange& x) {
  const std::string& case_id = x.param("id");
  const std::string& material = x.param("material");
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto accept = reader.boolean("accept", true);
  const auto reason = reader.text("reason");
  if (!reader.ok()) return x.bad_fields(reader);
  auto view = x.load_case(case_id);
  if (!view) return *x.failure;
  const auto m = view->workflow->find_material(material);
  if (!m) return x.error(404, "not_found", "这件事没有这份材料", json::object{{"material", material}});
  if (auto denied = x.authorize(material_target(*view->workflow, *m, false))) return *denied;
  return x.run_command(case_id, engine::VerifyMaterial{material, *accept, reason.value_or("")});
}

}  // namespace onevisit::server::routes
