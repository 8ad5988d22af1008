#include "cli/case_json.hpp"

#include <onevisit/adapters/adapter.hpp>
#include <onevisit/dsl/identifiers.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdio>

namespace onevisit::cli {

namespace json = boost::json;

std::string format_time(engine::Timestamp t) {
  if (t == 0) return "-";
  const auto minutes = t / 60'000;
  const auto d = dsl::civil_from_days(engine::day_of(minutes));
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d %02d:%02d", d.year, d.month, d.day, static_cast<int>((minutes % 1440) / 60),
                static_cast<int>(minutes % 60));
  return buffer;
}

json::object case_json(const engine::CaseView& view) {
  const auto& c = view.state;
  const auto& wf = *view.workflow;
  json::object o{{"case_id", c.id},
                 {"bundle", c.bundle_id},
                 {"bundle_version", c.bundle_version},
                 {"version", c.version},
                 {"status", std::string(engine::to_string(c.status))},
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
                                 {"light", row.light}});
  }
  o["items"] = std::move(items);
  return o;
}

namespace {
void mask_strings(json::value& value) {
  if (value.is_string()) {
    value = json::string(adapters::mask_identifiers(value.as_string()));
  } else if (value.is_array()) {
    for (auto& element : value.as_array()) mask_strings(element);
  } else if (value.is_object()) {
    for (auto& member : value.as_object()) mask_strings(member.value());
  }
}
}  // namespace

json::value history_payload_json(std::string_view type, std::string_view payload) {
  boost::system::error_code ec;
  json::value parsed = json::parse(payload, ec);
  if (ec) return nullptr;
  if (type == "CaseStarted" && parsed.is_object()) parsed.as_object().erase("slots");
  mask_strings(parsed);
  return parsed;
}

namespace {
json::object figures_json(const engine::ServiceFigures& f) {
  json::array ratings;
  for (const auto n : f.ratings) ratings.push_back(n);
  json::object overdue;
  for (const auto& [department, n] : f.overdue_cases_by_department) overdue[department] = n;
  json::object o{{"cases_started", f.cases_started},
                 {"cases_completed", f.cases_completed},
                 {"cases_withdrawn", f.cases_withdrawn},
                 {"items_finished", f.items_finished},
                 {"items_on_time", f.items_on_time},
                 {"on_time_rate", f.on_time_rate},
                 {"average_workdays", f.average_workdays},
                 {"fully_online", f.fully_online},
                 {"fully_online_rate", f.fully_online_rate},
                 {"materials_uploaded", f.materials_uploaded},
                 {"materials_from_elicense", f.materials_from_elicense},
                 {"immediate_items", f.immediate_items},
                 {"immediate_rate", f.immediate_rate},
                 {"average_visits", f.average_visits},
                 {"corrections", f.corrections},
                 {"corrections_per_case", f.corrections_per_case},
                 {"ratings", std::move(ratings)},
                 {"rated", f.rated},
                 {"good_rating_rate", f.good_rating_rate},
                 {"overdue_cases_by_department", std::move(overdue)}};
  if (!f.bundle_id.empty()) {
    o["bundle"] = f.bundle_id;
    o["title"] = f.title;
  }
  return o;
}
}  // namespace

json::object report_json(const engine::ServiceReport& report) {
  json::array bundles;
  for (const auto& b : report.bundles) bundles.push_back(figures_json(b));
  return json::object{{"overall", figures_json(report.overall)}, {"bundles", std::move(bundles)}};
}

}  // namespace onevisit::cli
