#include <onevisit/views/workflow_view.hpp>

#include <onevisit/views/case_view.hpp>

#include <boost/json.hpp>

namespace onevisit::views {

namespace json = boost::json;

json::object workflow_json(const engine::Workflow& wf) {
  json::array fields, materials, items;
  for (const auto& f : wf.fields) {
    json::object o{{"name", f.name}, {"title", f.title}, {"type", dsl::to_string(f.value_type)}, {"required", f.required},
                   {"situation", f.situation}};
    if (f.value_type.values) {
      json::array values;
      for (const auto& v : *f.value_type.values) values.push_back(json::string(v));
      o["values"] = std::move(values);
    }
    if (f.default_value) o["default"] = dsl::to_string(*f.default_value);
    if (!f.pattern.empty()) o["pattern"] = f.pattern;
    fields.push_back(std::move(o));
  }
  for (const auto& m : wf.materials) {
    materials.push_back(json::object{{"material", m.id}, {"title", m.title}, {"secondary", m.secondary},
                                     {"source", material_source_name(m.source)}});
  }
  for (const auto& i : wf.items) {
    items.push_back(json::object{{"item", i.id}, {"title", i.title}, {"department", wf.departments[i.department].id},
                                 {"department_title", wf.departments[i.department].title}});
  }
  return json::object{{"bundle", wf.bundle_id}, {"version", wf.version},          {"title", wf.title},
                      {"fields", std::move(fields)}, {"materials", std::move(materials)}, {"items", std::move(items)}};
}

}  // namespace onevisit::views
