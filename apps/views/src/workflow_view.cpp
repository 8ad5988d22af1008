#include <onevisit/views/workflow_view.hpp>

#include <onevisit/views/case_view.hpp>

#include <onevisit/engine/figures.hpp>
#include <onevisit/engine/runtime.hpp>

#include <boost/json.hpp>

namespace onevisit::views {

namespace json = boost::json;

json::object material_json(const engine::MaterialInfo& info) {
  json::object o{{"material", info.id}, {"title", info.title}, {"secondary", info.secondary},
                 {"source", material_source_name(info.source)}};
  add_upload_facts(o, info);
  return o;
}

json::object workflow_json(const engine::Workflow& wf) {
  json::array fields, materials, items;
  for (const auto& f : wf.fields) {
    json::object o{{"name", f.name}, {"title", f.title}, {"type", dsl::to_string(f.value_type)}, {"required", f.required},
                   {"situation", f.situation}};
    if (const auto* choices = engine::field_choices(f)) {
      // A list of choices is typed list(enum) (its elements may read as text inside), so a
      // page offers checkboxes, not a text box.
      if (f.value_type.base == dsl::BaseType::list) o["type"] = "list(enum)";
      json::array values, options;
      for (const auto& choice : *choices) {
        values.push_back(json::string(choice.name));
        options.push_back(json::object{{"value", choice.name}, {"title", choice.title.empty() ? choice.name : choice.title}});
      }
      o["values"] = std::move(values);
      o["options"] = std::move(options);
    } else if (f.value_type.values) {
      json::array values;
      for (const auto& v : *f.value_type.values) values.push_back(json::string(v));
      o["values"] = std::move(values);
    }
    if (f.default_value) o["default"] = dsl::to_string(*f.default_value);
    if (!f.pattern.empty()) o["pattern"] = f.pattern;
    fields.push_back(std::move(o));
  }
  for (engine::MaterialIndex m = 0; m < wf.materials.size(); ++m) {
    materials.push_back(material_json(engine::material_info(wf, m)));
  }
  for (const auto& i : wf.items) {
    items.push_back(json::object{{"item", i.id}, {"title", i.title}, {"department", wf.departments[i.department].id},
                                 {"department_title", wf.departments[i.department].title}});
  }
  return json::object{{"bundle", wf.bundle_id}, {"version", wf.version},          {"title", wf.title},
                      {"fields", std::move(fields)}, {"materials", std::move(materials)}, {"items", std::move(items)}};
}

}  // namespace onevisit::views
