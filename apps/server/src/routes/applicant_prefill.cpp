// /api/applicant/drafts/{draft}/prefill: the one form pre-filled from what is already proved
// (docs/applicant.md, "Pre-filled fields"): the verified identity (real name and ID number from
// the identity platform, the mobile number from the SMS login) and, for a company applicant,
// its registration in the e-license library. Each filled field says where it came from and
// whether the applicant may change it; a registered fact (the company's name, its code, its
// legal representative) is not theirs to change here, and a submission that changes it is
// refused (applicant_submit).
#include "routes/applicant_prefill.hpp"

#include "routes/handlers.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

namespace onevisit::server::routes {

namespace {

// What the page shows under a pre-filled field: where its value came from.
std::string_view source_title(std::string_view source) {
  if (source == "identity") return "来自统一身份认证平台（实名核验）";
  if (source == "registration") return "来自电子证照库的企业登记信息";
  return "来自登录时验证的手机号码";
}

// The registration's facts the applicant may not change on the form: changing them is a
// 变更登记 at the registration authority first, not a different value on an application.
bool registered_fact(std::string_view field) {
  return field == "uscc" || field == "company_name" || field == "legal_rep_name" || field == "legal_rep_id";
}

const engine::FieldModel* first_field(const engine::Workflow& wf, dsl::BaseType type) {
  for (const auto& f : wf.fields) {
    if (!f.situation && f.value_type.base == type) return &f;
  }
  return nullptr;
}

std::string normalised(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  text = text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

}  // namespace

std::optional<std::map<std::string, Prefilled>> prefill_values(Exchange& x, const engine::Workflow& wf) {
  std::map<std::string, Prefilled> filled;
  const ApplicantIdentity& who = x.applicant();
  // The applicant's own name and ID number go into the form's first person (its first ID
  // field and the `…_name` field beside its `…_id`), when they act for themselves; they may
  // correct it (a father applying where the form asks the mother first).
  if (!who.company && !who.id_number.empty()) {
    if (const auto* id = first_field(wf, dsl::BaseType::idcard)) {
      filled[id->name] = {who.id_number, "identity", true};
      if (id->name.size() > 3 && id->name.ends_with("_id")) {
        const std::string partner = id->name.substr(0, id->name.size() - 3) + "_name";
        if (const auto n = wf.find_field(partner); n && !wf.fields[*n].situation && wf.fields[*n].value_type.base == dsl::BaseType::text) {
          filled[partner] = {who.name, "identity", true};
        }
      }
    }
  }
  if (who.company && x.options.elicense) {
    auto registration = x.options.elicense->registration(who.company->uscc);
    if (!registration) {
      spdlog::warn("request {}: registration lookup for pre-filling: {}", x.record.request_id, masked(registration.error()));
      x.failure = x.error(503, "elicense_unavailable", "暂不能查询企业登记信息，请稍后再试");
      return std::nullopt;
    }
    if (*registration) {
      for (auto& [name, value] : adapters::registration_prefill(wf, **registration)) {
        filled[name] = {std::move(value), "registration", !registered_fact(name)};
      }
      // The legal representative's ID number is the registration's too (not a clerk's pre-fill).
      if (const auto f = wf.find_field("legal_rep_id"); f && !wf.fields[*f].situation &&
                                                         wf.fields[*f].value_type.base == dsl::BaseType::idcard &&
                                                         !(*registration)->legal_representative_id.empty()) {
        filled["legal_rep_id"] = {(*registration)->legal_representative_id, "registration", false};
      }
    }
  }
  // The first mobile number of a form is the applicant's (where the case's texts go).
  if (!who.phone.empty()) {
    if (const auto* phone = first_field(wf, dsl::BaseType::phone); phone && !filled.count(phone->name)) {
      filled[phone->name] = {who.phone, "login_phone", true};
    }
  }
  return filled;
}

json::object prefilled_json(const std::map<std::string, Prefilled>& filled) {
  json::object o;
  for (const auto& [name, p] : filled) {
    o[name] = json::object{{"source", p.source}, {"source_title", source_title(p.source)}, {"editable", p.editable}};
  }
  return o;
}

json::array changed_registered_facts(const engine::Workflow& wf, const std::map<std::string, Prefilled>& filled,
                                     const std::map<std::string, std::string>& form) {
  json::array problems;
  for (const auto& [name, p] : filled) {
    if (p.editable) continue;
    const auto given = form.find(name);
    // Left empty, the form's own `required` speaks when the case starts.
    if (given == form.end() || normalised(given->second).empty() || normalised(given->second) == normalised(p.value)) continue;
    const auto f = wf.find_field(name);
    const std::string title = f ? wf.fields[*f].title : name;
    problems.push_back(json::object{{"field", name},
                                    {"message", "“" + title + "”须与企业登记信息一致；登记信息有变化的，请先办理变更登记"}});
  }
  return problems;
}

HttpResponse prefill_applicant_draft(Exchange& x) {
  const std::string& id = x.param("draft");
  if (!safe_token(id, 64)) return x.error(400, "invalid_request", "草稿编号应为 1 到 64 个字母、数字或 - _ . :", json::object{{"draft", "malformed"}});
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto bundle = reader.text("bundle", true);
  if (!reader.ok()) return x.bad_fields(reader);
  const auto workflow = x.engine.workflow(*bundle);
  if (!workflow) return x.error(404, "not_found", "没有这一件事，或它已停止网上办理", json::object{{"bundle", *bundle}});
  auto existing = editable_draft(x, id);
  if (!existing) return existing.error();
  if (*existing && (*existing)->bundle != workflow->bundle_id) {
    return x.error(409, "wrong_state", "这份草稿是另一件事的申请，请重新开始填写", json::object{{"draft", id}});
  }
  auto filled = prefill_values(x, *workflow);
  if (!filled) return *x.failure;
  // What the draft holds stays as the applicant wrote it: only empty fields are filled.
  json::object content{{"answers", json::object{}}, {"form", json::object{}}};
  if (*existing) {
    boost::system::error_code ec;
    auto before = json::parse((*existing)->content, ec);
    if (!ec && before.is_object()) content = std::move(before.as_object());
    for (const char* part : {"answers", "form"}) {
      if (!content.contains(part) || !content.at(part).is_object()) content[part] = json::object{};
    }
  }
  auto& form = content["form"].as_object();
  std::size_t added = 0;
  for (const auto& [name, p] : *filled) {
    const auto* held = form.if_contains(name);
    if (held && held->is_string() && !held->as_string().empty()) continue;
    form[name] = p.value;
    ++added;
  }
  ApplicantDraft draft{id, workflow->bundle_id, workflow->version, json::serialize(content), x.engine.now(), ""};
  if (auto ok = x.accounts.save_draft(x.principal().owner_keys.front(), draft); !ok) return x.account_error(ok.error());
  spdlog::info("request {}: draft {} of {} pre-filled: {} field(s)", x.record.request_id, id, workflow->bundle_id, added);
  auto answer = draft_json(draft, x.engine);
  answer["prefilled"] = prefilled_json(*filled);
  return json_response(200, answer);
}

}  // namespace onevisit::server::routes
