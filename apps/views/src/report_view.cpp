#include <onevisit/views/report_view.hpp>

#include <boost/json.hpp>

namespace onevisit::views {

namespace json = boost::json;

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

}  // namespace onevisit::views
