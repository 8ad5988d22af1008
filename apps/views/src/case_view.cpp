#include <onevisit/views/case_view.hpp>
#include <onevisit/views/format.hpp>

#include <onevisit/adapters/adapter.hpp>
#include <onevisit/dsl/identifiers.hpp>
#include <onevisit/engine/figures.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>

namespace onevisit::views {

namespace json = boost::json;

namespace {

// A deadline after the last day the calendar declares holidays for (engine calendar.hpp).
bool provisional(const engine::CaseView& view, engine::Timestamp due_at) {
  return due_at != 0 && view.calendar_declared_until && engine::day_of(due_at / 60'000) > *view.calendar_declared_until;
}
std::string limit_title(const engine::Limit& limit);
void add_special_procedures(json::object& o, const engine::CaseView& view, engine::ItemIndex i);
}  // namespace

json::object case_json(const engine::CaseView& view) {
  const auto& c = view.state;
  const auto& wf = *view.workflow;
  json::object o{{"case_id", c.id},
                 {"bundle", c.bundle_id},
                 {"bundle_version", c.bundle_version},
                 {"version", c.version},
                 {"status", std::string(engine::to_string(c.status))},
                 {"channel", c.channel},
                 {"applicant", adapters::mask_identifiers(c.applicant_masked)},
                 {"started_at", format_time(c.started_at)},
                 {"updated_at", format_time(c.updated_at)}};
  json::object form;
  for (const auto& f : wf.fields) {
    const auto& v = c.slots[f.slot];
    if (v.is_null()) continue;
    // ID and phone numbers are masked in every output: typed ones whole, and those the
    // detector finds in any other value (free text, a credit code, a number).
    std::string text = v.kind == dsl::ValueKind::text ? v.text : dsl::to_string(v);
    if (text == engine::kErasedValue) {
      // Erased under the bundle's retention: nothing left to mask.
    } else if (f.value_type.base == dsl::BaseType::idcard) {
      text = dsl::mask_idcard(text);
    } else if (f.value_type.base == dsl::BaseType::phone) {
      text = dsl::mask_phone(text);
    } else {
      text = adapters::mask_identifiers(text);
    }
    form[f.name] = text;
  }
  o["form"] = std::move(form);
  // 差评整改: the rectification a bad rating opened (null without one), and its answer once given.
  if (c.rectification_due) {
    o["rectification"] = json::object{{"due", format_time(*c.rectification_due)},
                                      {"answer", c.rectification_answered_at ? json::value(adapters::mask_identifiers(c.rectification_answer)) : json::value(nullptr)}};
  } else {
    o["rectification"] = nullptr;
  }
  // How the results reach the applicant (ChooseDelivery): null until chosen.
  o["delivery_choice"] = delivery_choice_json(c.delivery_choice);
  json::array materials;
  for (std::size_t m = 0; m < wf.materials.size(); ++m) {
    materials.push_back(json::object{{"material", wf.materials[m].id},
                                     {"title", wf.materials[m].title},
                                     {"status", std::string(engine::to_string(c.materials[m].status))},
                                     {"note", adapters::mask_identifiers(c.materials[m].note)}});
  }
  o["materials"] = std::move(materials);
  json::array items;
  for (std::size_t i = 0; i < wf.items.size(); ++i) {
    const auto& row = view.items[i];
    json::object item{{"item", row.item_id},
                      {"title", wf.items[i].title},
                      {"department", row.department},
                      {"phase", std::string(engine::to_string(c.items[i].phase))},
                      {"state", row.state},
                      {"due", format_time(row.due_at)},
                      {"due_provisional", provisional(view, row.due_at)},
                      {"light", row.light},
                      {"clock_started_at", format_time(c.items[i].clock_started_at)},
                      {"urged", row.urged}};
    add_special_procedures(item, view, static_cast<engine::ItemIndex>(i));
    items.push_back(std::move(item));
  }
  o["items"] = std::move(items);
  return o;
}

namespace {

// A limit as people read it: 3个工作日.
std::string limit_title(const engine::Limit& limit) {
  const std::string amount = limit.amount.to_string();
  switch (limit.unit) {
    case dsl::TimeUnit::workday: return amount + "个工作日";
    case dsl::TimeUnit::day: return amount + "天";
    case dsl::TimeUnit::hour: return amount + "小时";
  }
  return amount;
}

void add_special_procedures(json::object& o, const engine::CaseView& view, engine::ItemIndex i) {
  const auto& model = view.workflow->items[i];
  json::array declared;
  for (const auto& special : model.specials) {
    declared.push_back(json::object{{"procedure", special.id},
                                    {"title", special.title},
                                    {"max", limit_title(special.max)},
                                    {"max_workdays", special.max.approximate_workdays().to_string()},
                                    {"pauses_clock", special.pauses_clock}});
  }
  o["special_procedures"] = std::move(declared);
  json::array runs;
  for (const auto& v : view.specials) {
    if (v.item != i || v.run >= view.state.items[i].specials.size() || v.procedure >= model.specials.size()) continue;
    const auto& run = view.state.items[i].specials[v.run];
    const auto& special = model.specials[v.procedure];
    json::object r{{"procedure", special.id},
                   {"title", special.title},
                   {"running", v.running},
                   {"pauses_clock", special.pauses_clock},
                   {"started_at", format_time(run.started_at)},
                   {"ended_at", format_time(run.ended_at)},
                   {"started_by", adapters::mask_identifiers(run.started_by)},
                   {"ended_by", adapters::mask_identifiers(run.ended_by)},
                   {"reason", adapters::mask_identifiers(run.reason)},
                   {"result", adapters::mask_identifiers(run.result)},
                   {"workdays_used", v.workdays_used.to_string()},
                   {"max", limit_title(special.max)},
                   {"max_workdays", special.max.approximate_workdays().to_string()},
                   {"due", format_time(v.due_at)},
                   {"light", v.light == engine::Light::red ? "red" : v.light == engine::Light::yellow ? "yellow" : ""}};
    if (v.running) o["running_special_procedure"] = r;
    runs.push_back(std::move(r));
  }
  o["special_procedure_runs"] = std::move(runs);
}

}  // namespace

json::value delivery_choice_json(const engine::Case::DeliveryChoice& d) {
  if (d.method.empty()) return nullptr;
  return json::object{{"method", d.method},
                      {"method_title", d.method == "mail" ? "邮寄送达" : "窗口领取"},
                      {"recipient", adapters::mask_identifiers(d.recipient)},
                      {"mobile", d.mobile.empty() ? std::string() : dsl::mask_phone(d.mobile)},
                      {"address", adapters::mask_identifiers(d.address)}};
}

json::object case_summary_json(const engine::CaseSummary& c) {
  return json::object{{"case_id", c.case_id},
                      {"bundle", c.bundle_id},
                      {"bundle_version", c.bundle_version},
                      {"status", c.status},
                      {"channel", c.channel},
                      {"applicant", adapters::mask_identifiers(c.applicant)},
                      {"started_at", format_time(c.started_at)},
                      {"updated_at", format_time(c.updated_at)},
                      {"version", c.version}};
}

void add_upload_facts(json::object& o, const engine::MaterialInfo& info) {
  json::array formats;
  for (const auto& f : info.formats) formats.push_back(json::string(f));
  o["original"] = info.original;
  o["formats"] = std::move(formats);
  o["accept"] = info.accept;
}

std::string_view material_source_name(engine::MaterialSource source) {
  switch (source) {
    case engine::MaterialSource::upload: return "upload";
    case engine::MaterialSource::elicense: return "elicense";
    default: return "produced";
  }
}

DepartmentScope DepartmentScope::of(const engine::Workflow& wf, const std::string& department) {
  DepartmentScope scope{std::vector<bool>(wf.items.size()), std::vector<bool>(wf.materials.size()), {}};
  for (std::size_t i = 0; i < wf.items.size(); ++i) {
    const auto& item = wf.items[i];
    // A joint item is each of its departments' (each sees and decides its own part).
    const bool takes_part = std::any_of(item.joint.begin(), item.joint.end(),
                                        [&](engine::DepartmentIndex d) { return wf.departments[d].id == department; });
    if (wf.departments[item.department].id != department && !takes_part) continue;
    scope.items[i] = true;
    for (const auto m : item.needs) scope.materials[m] = true;
    for (const auto m : item.produces) scope.materials[m] = true;
    for (const auto& sent : item.sends) {
      if (sent.kind == engine::SentValue::Kind::field) scope.fields.insert(wf.fields[sent.index].name);
    }
  }
  return scope;
}

json::object case_page_json(const engine::CaseView& view, const DepartmentScope* scope) {
  auto j = case_json(view);
  const auto& wf = *view.workflow;
  auto& materials = j["materials"].as_array();
  for (std::size_t m = 0; m < wf.materials.size() && m < materials.size(); ++m) {
    auto& o = materials[m].as_object();
    const auto& model = wf.materials[m];
    o["source"] = material_source_name(model.source);
    o["secondary"] = model.secondary;
    add_upload_facts(o, engine::material_info(wf, static_cast<engine::MaterialIndex>(m)));
    o["file_name"] = adapters::mask_identifiers(view.state.materials[m].file_name);
    o["has_content"] = !view.state.materials[m].content_hash.empty();
  }
  auto& items = j["items"].as_array();
  for (std::size_t i = 0; i < wf.items.size() && i < items.size(); ++i) {
    auto& o = items[i].as_object();
    o["due_at"] = view.items[i].due_at;
    // Past the calendar's declared years the deadline is counted without that year's holidays.
    o["due_provisional"] = provisional(view, view.items[i].due_at);
    const auto& state = view.state.items[i];
    // Whether its clock stands still, since when, and whether a clerk stopped it (a clerk
    // resumes only that; a pauses_clock state resumes when it is left). 容缺受理 is offered
    // only for an item that allows it.
    if (state.paused_since != 0) o["paused_since"] = format_time(state.paused_since);
    o["paused_by_clerk"] = state.paused_by_clerk;
    o["tolerant"] = wf.items[i].tolerant;
    // What it needs: 容缺 may leave only the item's own secondary materials pending.
    json::array needs;
    for (const auto m : wf.items[i].needs) needs.push_back(json::string(wf.materials[m].id));
    o["needs"] = std::move(needs);
    const auto& lifecycle = wf.lifecycles[wf.items[i].lifecycle];
    if (state.state < lifecycle.states.size()) o["state_title"] = lifecycle.states[state.state].title;
    // 联办/会签: each department's part, its decision and opinion (masked), by the department's title.
    if (!wf.items[i].joint.empty()) {
      o["joint_rule"] = wf.items[i].joint_rule == dsl::JointRule::any ? "any" : "all";
      json::array parts;
      for (std::size_t p = 0; p < wf.items[i].joint.size(); ++p) {
        const auto& d = wf.departments[wf.items[i].joint[p]];
        const engine::JointPart part = p < state.parts.size() ? state.parts[p] : engine::JointPart{};
        const char* decision = part.decision == engine::PartDecision::approved ? "approved"
                               : part.decision == engine::PartDecision::refused ? "refused"
                                                                                 : "pending";
        json::object o_part{{"department", d.id}, {"department_title", d.title}, {"decision", decision}};
        if (part.decision != engine::PartDecision::pending) {
          o_part["at"] = format_time(part.at);
          o_part["note"] = adapters::mask_identifiers(part.note);
        }
        parts.push_back(std::move(o_part));
      }
      o["parts"] = std::move(parts);
    }
    // Why its state stops the clock (`pauses_clock as …`): the console names it beside the pause.
    if (state.phase == engine::ItemPhase::active && state.state < lifecycle.states.size() && lifecycle.states[state.state].pauses_clock) {
      const auto kind = lifecycle.states[state.state].clock_stop;
      o["clock_stop"] = kind == dsl::ClockStop::waiting ? "waiting" : kind == dsl::ClockStop::special ? "special" : "correction";
    }
    // 督办 stays on the item until it moves on: when, and the supervisor's note (masked).
    if (view.items[i].urged) {
      o["urged_at"] = format_time(state.urged_at);
      o["urge_note"] = adapters::mask_identifiers(state.urge_note);
    }
    json::array events;
    if (state.phase == engine::ItemPhase::active) {
      for (const auto t : lifecycle.transitions_from(state.state)) {
        const auto& tr = lifecycle.transitions[t];
        if (tr.after) continue;  // timed transitions fire by themselves
        // A joint item's departments approve or refuse it through their parts, never directly.
        if (!wf.items[i].joint.empty() && (tr.event == "approve" || tr.event == "reject")) continue;
        json::array roles, fields;
        for (const auto& r : tr.roles) roles.push_back(json::string(r));
        for (const auto& f : tr.required_fields) fields.push_back(json::string(f));
        const auto& target = lifecycle.states[tr.target];
        events.push_back(json::object{{"event", tr.event},
                                      {"title", tr.title},
                                      {"to", target.id},
                                      {"final_failed", target.final && target.failed},
                                      {"roles", std::move(roles)},
                                      {"required_fields", std::move(fields)}});
      }
    }
    o["events"] = std::move(events);
    json::array after;
    for (const auto a : wf.items[i].after) after.push_back(json::string(wf.items[a].id));
    o["after"] = std::move(after);
  }
  // The case's own material list: what an item of its situation needs (items the situation
  // left out need nothing), and a document an item produces only once it has been issued.
  std::vector<bool> listed(wf.materials.size(), false);
  for (std::size_t i = 0; i < wf.items.size(); ++i) {
    if (view.state.items[i].phase == engine::ItemPhase::not_applicable) continue;
    for (const auto m : wf.items[i].needs) listed[m] = true;
  }
  const dsl::Environment answers{view.state.slots, 0, nullptr};
  for (std::size_t m = 0; m < wf.materials.size(); ++m) {
    const auto& model = wf.materials[m];
    const bool present = view.state.materials[m].status != engine::MaterialStatus::missing;
    if (model.producer) listed[m] = present;
    // A material asked for only in some situations (`when`), unless it was handed in anyway.
    else if (listed[m] && model.when && !present && !model.when->holds(answers)) listed[m] = false;
  }
  engine::Timestamp latest = 0;
  if (scope != nullptr) {
    json::array own_items, own_materials;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!scope->items[i]) continue;
      own_items.push_back(items[i]);
      latest = std::max(latest, view.items[i].due_at);
    }
    for (std::size_t m = 0; m < materials.size(); ++m) {
      if (scope->materials[m] && listed[m]) own_materials.push_back(materials[m]);
    }
    json::object own_form;
    for (const auto& [name, value] : j["form"].as_object()) {
      if (scope->fields.count(std::string(name))) own_form[name] = value;
    }
    j["items"] = std::move(own_items);
    j["materials"] = std::move(own_materials);
    j["form"] = std::move(own_form);
  } else {
    for (const auto& row : view.items) latest = std::max(latest, row.due_at);
    json::array own_materials;
    for (std::size_t m = 0; m < materials.size(); ++m) {
      if (listed[m]) own_materials.push_back(materials[m]);
    }
    j["materials"] = std::move(own_materials);
  }
  j["deadline_due"] = format_time(latest);
  j["deadline_provisional"] = provisional(view, latest);
  if (view.calendar_declared_until) j["calendar_declared_until"] = dsl::to_string(dsl::Value::of_date(*view.calendar_declared_until));
  return j;
}

}  // namespace onevisit::views
