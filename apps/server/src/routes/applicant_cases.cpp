// /api/applicant/cases…: an applicant's own cases (docs/applicant.md): apply, my cases with
// each item's progress and deadline in plain words and what is needed from me now, a case's
// page, the correction's uploads and withdrawing. Another applicant's case answers 404, as a
// case number never issued does (the Authorizer, on the case's owner keys).
#include "routes/handlers.hpp"

#include "routes/applicant_prefill.hpp"

#include <onevisit/adapters/elicense.hpp>
#include <onevisit/dsl/expr.hpp>
#include <onevisit/dsl/personal_numbers.hpp>
#include <onevisit/dsl/source.hpp>
#include <onevisit/engine/figures.hpp>
#include <onevisit/views/case_view.hpp>
#include <onevisit/views/format.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

namespace onevisit::server::routes {

namespace {

constexpr std::string_view kApplicantChannels[] = {"online", "mobile", "kiosk"};

// A timestamp's day as people say it: 12月10日.
std::string day_words(engine::Timestamp t) {
  const auto date = dsl::civil_from_days(t / (24LL * 3600 * 1000));
  return std::to_string(date.month) + "月" + std::to_string(date.day) + "日";
}

// Why an item's clock stands still, named as the clerk console names it: a special procedure
// running (特别程序：现场踏勘), the kind of the state it waits in (`pauses_clock as …`), or a
// clerk's pause.
std::string clock_stop_words(const engine::CaseView& view, std::size_t i) {
  // A title left out in the workflow is its id: never shown to the applicant.
  const auto special = [](const std::string& title, const std::string& id) {
    return title.empty() || title == id ? std::string("特别程序") : "特别程序：" + title;
  };
  const auto& state = view.state.items[i];
  const auto& model = view.workflow->items[i];
  if (state.running_special && *state.running_special < state.specials.size()) {
    const auto procedure = state.specials[*state.running_special].procedure;
    if (procedure < model.specials.size() && model.specials[procedure].pauses_clock) {
      return special(model.specials[procedure].title, model.specials[procedure].id);
    }
  }
  const auto& lifecycle = view.workflow->lifecycles[model.lifecycle];
  if (state.state < lifecycle.states.size() && lifecycle.states[state.state].pauses_clock) {
    const auto& waiting_in = lifecycle.states[state.state];
    switch (waiting_in.clock_stop) {
      case dsl::ClockStop::correction: return "等待补正";
      case dsl::ClockStop::waiting: return "等待申请人";
      case dsl::ClockStop::special: return special(waiting_in.title, waiting_in.id);
    }
  }
  return "经办部门暂停计时";
}

// Where an item stands, in the applicant's words.
std::string deadline_words(const engine::CaseView& view, std::size_t i, engine::Timestamp now) {
  const auto& state = view.state.items[i];
  const auto& row = view.items[i];
  switch (state.phase) {
    case engine::ItemPhase::not_applicable: return "您的情形无需办理此事项";
    case engine::ItemPhase::cancelled: return "前序事项未通过，此事项不再办理";
    case engine::ItemPhase::waiting: return "等待前一事项办结后开始办理";
    case engine::ItemPhase::done: {
      const auto& lifecycle = view.workflow->lifecycles[view.workflow->items[i].lifecycle];
      const bool failed = state.state < lifecycle.states.size() && lifecycle.states[state.state].failed;
      return failed ? "已办结（未通过）" : "已办结";
    }
    default: break;
  }
  if (state.paused_since != 0) return "暂停计时（" + clock_stop_words(view, i) + "，不计入办理时限）";
  if (row.due_at == 0) return "办理中";
  if (row.due_at < now) return "已超过承诺时限，已督促部门尽快办结";
  const auto days = (row.due_at - now) / (24LL * 3600 * 1000);
  return "承诺 " + day_words(row.due_at) + "前办结" + (days <= 1 ? "（即将到期）" : "");
}

// The applicant's view of a case: the console's page (masked, every item), with each item's
// progress in plain words and what is needed from the applicant now.
json::object applicant_case_json(const engine::CaseView& view, engine::Timestamp now) {
  auto j = views::case_page_json(view, nullptr);
  const auto& wf = *view.workflow;
  j["bundle_title"] = wf.title;
  j["status_title"] = std::string(engine::title_of(view.state.status));
  // The day by which every item still to do is promised done (the receipt prints it); empty
  // while one of them has no clock running yet.
  engine::Timestamp promised = 0;
  bool every_clock_runs = true;
  for (std::size_t i = 0; i < view.items.size() && i < view.state.items.size(); ++i) {
    const auto phase = view.state.items[i].phase;
    if (phase != engine::ItemPhase::active && phase != engine::ItemPhase::waiting) continue;
    if (view.items[i].due_at == 0) every_clock_runs = false;
    promised = std::max(promised, view.items[i].due_at);
  }
  // An item not accepted yet has no due day: the last day known would promise too early.
  if (!every_clock_runs) promised = 0;
  j["promised_by"] = promised ? day_words(promised) : std::string();
  // Before acceptance no clock runs: the bundle's promise in working days says how long then.
  j["promise_workdays"] = wf.promise && wf.promise->unit == dsl::TimeUnit::workday ? wf.promise->amount.to_string() : std::string();
  // Which files are the applicant's to download (applicant_may_download): uploads and results;
  // the e-license library's copies are listed as fetched, not offered.
  auto& materials = j["materials"].as_array();
  for (engine::MaterialIndex m = 0; m < wf.materials.size() && m < materials.size(); ++m) {
    auto& o = materials[m].as_object();
    const bool has_file = !view.state.materials[m].content_hash.empty();
    const bool own = applicant_may_download(wf, view.state, m);
    o["downloadable"] = has_file && own;
    o["fetched_from_library"] = has_file && !own;
  }
  json::array needs;
  auto& items = j["items"].as_array();
  for (std::size_t i = 0; i < wf.items.size() && i < items.size(); ++i) {
    auto& o = items[i].as_object();
    o["department_title"] = wf.departments[wf.items[i].department].title;
    o["progress"] = deadline_words(view, i, now);
    // The events the lifecycle gives the applicant here: theirs to fire. A correction is asked
    // of them while the item waits in a state that stops its clock (补正中) and one of those
    // events takes it on (已补正); an event that ends the item (an item's withdrawal, which
    // real lifecycles give the applicant in every running state) is no request to them.
    json::array mine, corrections;
    const auto& lifecycle = wf.lifecycles[wf.items[i].lifecycle];
    const auto at = view.state.items[i].state;
    const bool waiting_for_applicant = view.state.items[i].phase == engine::ItemPhase::active && at < lifecycle.states.size() &&
                                       lifecycle.states[at].pauses_clock;
    for (const auto& e : o["events"].as_array()) {
      const auto& roles = e.as_object().at("roles").as_array();
      if (std::none_of(roles.begin(), roles.end(), [](const json::value& r) { return r.as_string() == "applicant"; })) continue;
      mine.push_back(e);
      const auto* ends = e.as_object().if_contains("final_failed");
      if (waiting_for_applicant && !(ends && ends->is_bool() && ends->as_bool())) corrections.push_back(e);
    }
    if (!corrections.empty()) {
      json::array refused;
      for (const auto m : wf.items[i].needs) {
        if (view.state.materials[m].status == engine::MaterialStatus::rejected || view.state.materials[m].status == engine::MaterialStatus::missing) {
          refused.push_back(json::object{{"material", wf.materials[m].id},
                                         {"title", wf.materials[m].title},
                                         {"reason", masked(view.state.materials[m].note)}});
        }
      }
      needs.push_back(json::object{{"kind", "correction"},
                                   {"item", wf.items[i].id},
                                   {"item_title", wf.items[i].title},
                                   {"message", "请按一次性补正告知书补正“" + wf.items[i].title + "”的材料，然后提交补正"},
                                   {"materials", std::move(refused)},
                                   {"events", std::move(corrections)}});
    }
    o["applicant_events"] = std::move(mine);
  }
  const auto status = view.state.status;
  if (status == engine::CaseStatus::completed && view.state.delivery_choice.method.empty()) {
    needs.push_back(json::object{{"kind", "delivery"}, {"message", "办件已办结：请选择窗口领取或邮寄送达"}});
  }
  if (status == engine::CaseStatus::delivered) {
    needs.push_back(json::object{{"kind", "rating"}, {"message", "请对本次办事服务进行评价（好差评）"}});
  }
  j["needs_from_me"] = std::move(needs);
  j["can_withdraw"] = status == engine::CaseStatus::running;
  if (view.state.rating) {
    json::object rating{{"level", *view.state.rating}, {"comment", masked(view.state.rating_comment)}, {"rectification", nullptr}};
    if (view.state.rectification_due) {
      // The rectification a bad rating opened: its deadline, then the answer once given.
      json::object rectification{{"due", views::format_time(*view.state.rectification_due)}, {"answer", nullptr}};
      if (view.state.rectification_answered_at != 0) {
        rectification["answer"] = masked(view.state.rectification_answer);
        rectification["answered_at"] = views::format_time(view.state.rectification_answered_at);
      }
      rating["rectification"] = std::move(rectification);
    }
    j["rating"] = std::move(rating);
  }
  return j;
}

bool is_applicant_channel(std::string_view channel) {
  return std::find(std::begin(kApplicantChannels), std::end(kApplicantChannels), channel) != std::end(kApplicantChannels);
}

// The owner keys a new case's form would give it (case_owner_keys, before it exists).
std::vector<std::string> form_owner_keys(const engine::Workflow& wf, const std::map<std::string, dsl::Value>& values) {
  engine::Case probe;
  probe.slots.resize(wf.fields.empty() ? 0 : std::max_element(wf.fields.begin(), wf.fields.end(), [](const auto& a, const auto& b) {
                                                return a.slot < b.slot;
                                              })->slot + 1);
  for (const auto& f : wf.fields) {
    if (const auto it = values.find(f.name); it != values.end() && f.slot < probe.slots.size()) probe.slots[f.slot] = it->second;
  }
  return case_owner_keys(wf, probe);
}

}  // namespace

HttpResponse my_cases(Exchange& x) {
  const auto scope = x.authorizer.case_scope(x.principal());
  engine::CaseQuery query;
  // The applicant's whole numbers, as the search index holds them (search.hpp): then each
  // case found is checked against its form, the rule the Authorizer applies.
  std::vector<std::string> tokens;
  for (const auto& key : scope.owner_keys) tokens.push_back("t:" + key.substr(key.find(':') + 1));
  query.any_token = tokens;
  query.limit = 200;
  auto found = x.engine.list_cases(query);
  if (!found) return x.engine_error(found.error());
  json::array cases;
  for (const auto& summary : *found) {
    auto view = x.engine.get_case(summary.case_id);
    if (!view) continue;
    if (!x.allowed(case_target(*view))) continue;
    auto page = applicant_case_json(*view, x.engine.now());
    json::array items;
    for (const auto& item : page["items"].as_array()) {
      const auto& o = item.as_object();
      if (o.at("phase").as_string() == "not_applicable") continue;
      items.push_back(json::object{{"item", o.at("item")}, {"title", o.at("title")}, {"department_title", o.at("department_title")},
                                   {"state_title", o.contains("state_title") ? o.at("state_title") : json::value("")},
                                   {"progress", o.at("progress")}});
    }
    cases.push_back(json::object{{"case_id", summary.case_id},
                                 {"bundle_title", page.at("bundle_title")},
                                 {"status", page.at("status")},
                                 {"status_title", page.at("status_title")},
                                 {"channel", summary.channel},
                                 {"started_at", page.at("started_at")},
                                 {"items", std::move(items)},
                                 {"needs_from_me", page.at("needs_from_me")}});
  }
  return json_response(200, json::object{{"cases", std::move(cases)}});
}

HttpResponse my_case(Exchange& x) {
  auto view = x.load_case(x.param("id"));
  if (!view) return *x.failure;
  return json_response(200, applicant_case_json(*view, x.engine.now()));
}

namespace {

std::map<std::string, std::string> strings_of(const json::value* v) {
  std::map<std::string, std::string> out;
  if (!v || !v->is_object()) return out;
  for (const auto& [k, value] : v->as_object()) {
    if (value.is_string()) out[std::string(k)] = std::string(value.as_string());
  }
  return out;
}

}  // namespace

namespace {

// Fetches the e-licenses a new case needs: only those an item it runs needs (a marriage
// certificate for a household registration the case does not include is nobody's business),
// never one an item of the case issues (fetch_elicense refuses that: the department delivers
// it once the item is done).
void fetch_needed_elicenses(Exchange& x, const std::string& case_id, const engine::CommandOptions& options) {
  const auto view = x.engine.get_case(case_id);
  if (!view) return;
  const auto& wf = *view->workflow;
  for (engine::MaterialIndex m = 0; m < wf.materials.size(); ++m) {
    const auto& material = wf.materials[m];
    if (material.source != engine::MaterialSource::elicense || material.producer) continue;
    if (view->state.materials[m].status != engine::MaterialStatus::missing || !engine::material_applies(wf, view->state, m)) continue;
    const bool needed = std::any_of(material.consumers.begin(), material.consumers.end(), [&](engine::ItemIndex i) {
      const auto phase = view->state.items[i].phase;
      return phase != engine::ItemPhase::not_applicable && phase != engine::ItemPhase::cancelled;
    });
    if (!needed) continue;
    auto fetch = options;
    fetch.command_id = options.command_id.empty() ? "" : options.command_id + "/elicense/" + material.id;
    if (auto fetched = adapters::fetch_elicense(x.engine, case_id, material.id, x.options.elicense.get(), fetch); !fetched) {
      spdlog::info("request {}: e-license {} of case {} left to fetch or upload: {}", x.record.request_id, material.id, case_id,
                   masked(fetched.error().detail));
    }
  }
}

}  // namespace

HttpResponse applicant_submit(Exchange& x) {
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  auto bundle = reader.text("bundle");
  auto form = reader.scalars("form", false, true);
  const auto channel = reader.text("channel");
  const auto draft_id = reader.text("draft");
  if (!reader.ok()) return x.bad_fields(reader);
  if (channel && !is_applicant_channel(*channel)) {
    return x.error(422, "invalid", "办理渠道只能是网上（online）、移动端（mobile）或自助终端（kiosk）", json::object{{"field", "channel"}});
  }
  // The kiosk channel is proved by the kiosk's signed card read, never claimed by a page; a
  // session opened at a kiosk applies on it whatever the page says.
  if (channel == "kiosk" && x.applicant().kiosk.empty()) {
    return x.error(422, "invalid", "只有在自助终端上读取身份证登录后，才能经自助终端申请", json::object{{"field", "channel"}});
  }
  const auto owners = x.principal().owner_keys;
  std::optional<ApplicantDraft> draft;
  if (draft_id) {
    auto found = x.accounts.draft(owners, *draft_id);
    if (!found) return x.account_error(found.error());
    if (!*found) return x.error(404, "not_found", "没有这份草稿，它可能已被删除", json::object{{"draft", *draft_id}});
    draft = **found;
    // Submitted before (twice from two devices, or a retry): the one case it became.
    if (!draft->case_id.empty()) {
      return json_response(200, json::object{{"case_id", draft->case_id}, {"duplicate", true}, {"events", json::array{}}});
    }
    const auto newest = x.engine.workflow(draft->bundle);
    if (!newest || newest->version != draft->version) {
      return with_reason(x.error(409, "draft_outdated", "这一件事的申请要求已经更新，请按新的要求重新填写（草稿中的内容已为您保留）",
                                 json::object{{"draft", *draft_id}}),
                         "draft_outdated");
    }
    boost::system::error_code ec;
    const auto content = json::parse(draft->content, ec);
    const json::object empty;
    const auto& o = !ec && content.is_object() ? content.as_object() : empty;
    bundle = draft->bundle;
    std::map<std::string, std::string> merged = strings_of(o.if_contains("answers"));
    for (auto& [k, v] : strings_of(o.if_contains("form"))) merged[k] = std::move(v);
    form = std::move(merged);
  }
  if (!bundle || !form) return x.error(400, "invalid_request", "请选择要办的事并填写申请表", json::object{{"fields", json::array{"bundle", "form"}}});
  const auto workflow = x.engine.workflow(*bundle);
  if (!workflow) return x.error(404, "not_found", "没有这一件事，或它已停止网上办理", json::object{{"bundle", *bundle}});
  std::map<std::string, dsl::Value> values;
  json::array problems;
  for (const auto& [name, text] : *form) {
    if (text.empty()) continue;
    auto value = engine::parse_field_value(*workflow, name, text);
    if (!value) problems.push_back(json::object{{"field", name}, {"message", masked(value.error())}});
    else values[name] = std::move(*value);
  }
  if (!problems.empty()) return x.error(422, "invalid_field", "表单有填写不正确的项目，请按各项提示修改", json::object{{"fields", std::move(problems)}});
  // A company's registered facts (its name, code, legal representative) are as registered.
  if (x.applicant().company) {
    const auto filled = prefill_values(x, *workflow);
    if (!filled) return *x.failure;
    if (auto changed = changed_registered_facts(*workflow, *filled, *form); !changed.empty()) {
      return with_reason(x.error(422, "invalid_field", "企业信息须与电子证照库的企业登记信息一致，请按提示修改",
                                 json::object{{"fields", std::move(changed)}}),
                         "registered_fact_changed");
    }
  }
  // A case the applicant could not see afterwards is not theirs to start: the form must name
  // them (their ID number, their company's code or their mobile number).
  const auto keys = form_owner_keys(*workflow, values);
  if (std::none_of(keys.begin(), keys.end(), [&](const std::string& k) { return std::find(owners.begin(), owners.end(), k) != owners.end(); })) {
    return with_reason(x.error(422, "not_own_application",
                               x.applicant().company ? "申请表须填写所代表企业的统一社会信用代码，或您本人的身份证号码"
                                                     : "申请表须填写您本人的身份证号码或登录所用的手机号码"),
                       "not_own_application");
  }
  auto options = x.command_options();
  if (!options) return x.bad_key();
  // One draft is one case, from whichever device it is sent.
  if (draft) options->command_id = "http:draft-" + sha256_hex(owners.front() + "/" + draft->id).substr(0, 32);
  options->channel = !x.applicant().kiosk.empty() ? std::string("kiosk") : channel.value_or("online");
  const ApplicantIdentity& who = x.applicant();
  const std::string applicant = who.company ? who.company->uscc : !who.id_number.empty() ? who.id_number : who.phone;
  auto started = x.engine.start_case(*bundle, values, applicant, *options);
  if (!started) return x.engine_error(started.error());
  x.record.target = started->case_id;
  // The e-licenses the case needs are fetched now (the page promised 自动调取): what the library
  // holds is attached verified; what it does not have, or a library that is away, is left for
  // the window to fetch or for an upload, and the case stands either way.
  if (!started->duplicate && x.options.elicense) fetch_needed_elicenses(x, started->case_id, *options);
  if (draft) {
    if (auto ok = x.accounts.mark_draft_submitted(owners, draft->id, started->case_id); !ok) {
      spdlog::error("request {}: draft of case {}: {}", x.record.request_id, started->case_id, masked(ok.error().message));
    }
  }
  auto r = json_response(started->duplicate ? 200 : 201, command_json(*started));
  r.headers.emplace_back("Location", "/api/applicant/cases/" + started->case_id);
  return r;
}

// A draft as answered: its ID, credit-code and phone numbers masked, as every answer masks
// them; a page that saves a masked value back keeps the number stored (save_applicant_draft).
json::object draft_json(const ApplicantDraft& d, const engine::Engine& engine) {
  const auto newest = engine.workflow(d.bundle);
  boost::system::error_code ec;
  auto content = json::parse(d.content, ec);
  if (!ec && content.is_object()) {
    for (const char* part : {"answers", "form"}) {
      if (auto* values = content.as_object().if_contains(part); values && values->is_object()) {
        for (auto& [name, value] : values->as_object()) {
          if (value.is_string()) value = masked(value.as_string());
        }
      }
    }
  }
  json::object o{{"draft", d.id},
                 {"bundle", d.bundle},
                 {"bundle_title", newest ? newest->title : std::string()},
                 {"version", d.version},
                 {"outdated", !newest || newest->version != d.version},
                 {"updated_at", views::format_time(d.updated_at)},
                 {"case_id", d.case_id}};
  o["content"] = ec ? json::value(json::object{}) : std::move(content);
  return o;
}

HttpResponse applicant_drafts(Exchange& x) {
  auto found = x.accounts.drafts(x.principal().owner_keys);
  if (!found) return x.account_error(found.error());
  json::array drafts;
  for (const auto& d : *found) {
    auto o = draft_json(d, x.engine);
    o.erase("content");  // the list needs no answers
    drafts.push_back(std::move(o));
  }
  return json_response(200, json::object{{"drafts", std::move(drafts)}});
}

HttpResponse applicant_draft(Exchange& x) {
  auto found = x.accounts.draft(x.principal().owner_keys, x.param("draft"));
  if (!found) return x.account_error(found.error());
  if (!*found) return x.error(404, "not_found", "没有这份草稿，它可能已被删除", json::object{{"draft", x.param("draft")}});
  return json_response(200, draft_json(**found, x.engine));
}

std::expected<std::optional<ApplicantDraft>, HttpResponse> editable_draft(Exchange& x, const std::string& id) {
  auto found = x.accounts.draft(x.principal().owner_keys, id);
  if (!found) return std::unexpected(x.account_error(found.error()));
  if (*found && !(*found)->case_id.empty()) {
    return std::unexpected(with_reason(x.error(409, "wrong_state", "这份申请已经提交，不能再修改；如需补正，请按补正告知书办理",
                                               json::object{{"case_id", (*found)->case_id}}),
                                       "draft_submitted"));
  }
  return std::move(*found);
}

HttpResponse save_applicant_draft(Exchange& x) {
  const std::string& id = x.param("draft");
  if (!safe_token(id, 64)) return x.error(400, "invalid_request", "草稿编号应为 1 到 64 个字母、数字或 - _ . :", json::object{{"draft", "malformed"}});
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto bundle = reader.text("bundle", true);
  const auto answers = reader.scalars("answers", false, true);
  const auto form = reader.scalars("form", false, true);
  if (!reader.ok()) return x.bad_fields(reader);
  const auto workflow = x.engine.workflow(*bundle);
  if (!workflow) return x.error(404, "not_found", "没有这一件事，或它已停止网上办理", json::object{{"bundle", *bundle}});
  auto existing = editable_draft(x, id);
  if (!existing) return existing.error();
  // What the draft held: a value sent back exactly as it was answered (masked) keeps it.
  std::map<std::string, std::string> stored;
  if (*existing) {
    boost::system::error_code ec;
    const auto before = json::parse((*existing)->content, ec);
    if (!ec && before.is_object()) {
      for (const char* part : {"answers", "form"}) stored.merge(strings_of(before.as_object().if_contains(part)));
    }
  }
  json::object answers_json, form_json;
  json::array unknown;
  for (auto [values, out] : {std::pair{&answers, &answers_json}, std::pair{&form, &form_json}}) {
    for (const auto& [name, text] : values->value_or(std::map<std::string, std::string>{})) {
      if (!workflow->find_field(name)) unknown.push_back(json::string(name));
      const auto it = stored.find(name);
      (*out)[name] = it != stored.end() && text != it->second && text == masked(it->second) ? it->second : text;
    }
  }
  if (!unknown.empty()) return x.error(422, "invalid_field", "草稿中有这一件事没有的项目", json::object{{"fields", std::move(unknown)}});
  ApplicantDraft draft{id, *bundle, workflow->version,
                       json::serialize(json::object{{"answers", std::move(answers_json)}, {"form", std::move(form_json)}}), x.engine.now(), ""};
  if (auto ok = x.accounts.save_draft(x.principal().owner_keys.front(), draft); !ok) return x.account_error(ok.error());
  return json_response(200, draft_json(draft, x.engine));
}

HttpResponse delete_applicant_draft(Exchange& x) {
  if (auto ok = x.accounts.delete_draft(x.principal().owner_keys, x.param("draft")); !ok) return x.account_error(ok.error());
  return json_response(200, json::object{{"deleted", true}});
}

HttpResponse applicant_upload(Exchange& x) {
  auto view = x.load_case(x.param("id"));
  if (!view) return *x.failure;
  const auto m = view->workflow->find_material(x.param("material"));
  if (!m) return x.error(404, "not_found", "这件事没有这份材料", json::object{{"material", x.param("material")}});
  // What the applicant hands in: what is still missing or was refused (the correction
  // notice's list); an accepted material is not theirs to replace.
  const auto status = view->state.materials[*m].status;
  if (status != engine::MaterialStatus::missing && status != engine::MaterialStatus::rejected &&
      status != engine::MaterialStatus::tolerated) {
    return with_reason(x.error(409, "wrong_state", "“" + view->workflow->materials[*m].title + "”已提交，无需重新上传"), "material_not_open");
  }
  if (view->workflow->materials[*m].producer) {
    return with_reason(x.error(409, "wrong_state", "“" + view->workflow->materials[*m].title + "”由部门出具，无需上传"), "material_issued");
  }
  return upload_material(x);
}

HttpResponse applicant_withdraw(Exchange& x) {
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto reason = reader.text("reason", true);
  if (!reader.ok()) return x.bad_fields(reader);
  if (reason->find_first_not_of(" \t\r\n") == std::string::npos) {
    return x.error(422, "reason_required", "请写明撤回的原因", json::object{{"field", "reason"}});
  }
  return withdraw(x);
}

}  // namespace onevisit::server::routes
