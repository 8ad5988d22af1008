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
    items.push_back(json::object{{"item", row.item_id},
                                 {"title", wf.items[i].title},
                                 {"department", row.department},
                                 {"phase", std::string(engine::to_string(c.items[i].phase))},
                                 {"state", row.state},
                                 {"due", format_time(row.due_at)},
                                 {"light", row.light},
                                 {"urged", row.urged}});
  }
  o["items"] = std::move(items);
  return o;
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
    if (wf.departments[item.department].id != department) continue;
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
    const auto& state = view.state.items[i];
    const auto& lifecycle = wf.lifecycles[wf.items[i].lifecycle];
    if (state.state < lifecycle.states.size()) o["state_title"] = lifecycle.states[state.state].title;
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
        json::array roles, fields;
        for (const auto& r : tr.roles) roles.push_back(json::string(r));
        for (const auto& f : tr.required_fields) fields.push_back(json::string(f));
        const auto& target = lifecycle.states[tr.target];
        events.push_back(json::object{{"event", tr.event},
                                      {"title", engine::event_title(tr.event)},
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
  return j;
}

}  // namespace onevisit::views
