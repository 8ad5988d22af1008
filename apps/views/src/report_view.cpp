#include <onevisit/views/report_view.hpp>

#include <boost/json.hpp>

namespace onevisit::views {

namespace json = boost::json;

json::object case_query_json(const engine::CaseQuery& q) {
  json::object o;
  if (q.bundle_id) o["bundle"] = *q.bundle_id;
  if (q.status) o["status"] = *q.status;
  if (q.channel) o["channel"] = *q.channel;
  if (q.department) o["department"] = *q.department;
  if (q.due_before) o["due_before"] = *q.due_before;
  if (q.started_from) o["started_from"] = *q.started_from;
  if (q.started_before) o["started_before"] = *q.started_before;
  return o;
}

namespace {
json::object figures_json(const engine::ServiceFigures& f) {
  json::array ratings;
  for (const auto n : f.ratings) ratings.push_back(n);
  json::object overdue, by_channel, channel_filters, overdue_filters;
  for (const auto& [department, n] : f.overdue_cases_by_department) overdue[department] = n;
  for (const auto& [channel, n] : f.cases_by_channel) by_channel[channel] = n;
  for (const auto& [channel, q] : f.cases_of_channel) channel_filters[channel] = case_query_json(q);
  for (const auto& [department, q] : f.overdue_cases_of_department) overdue_filters[department] = case_query_json(q);
  json::object o{{"cases_started", f.cases_started},
                 {"cases_completed", f.cases_completed},
                 {"cases_withdrawn", f.cases_withdrawn},
                 {"items_finished", f.items_finished},
                 {"items_on_time", f.items_on_time},
                 {"items_overdue_running", f.items_overdue_running},
                 {"on_time_rate", f.on_time_rate},
                 {"average_workdays", f.average_workdays},
                 {"fully_online", f.fully_online},
                 {"fully_online_rate", f.fully_online_rate},
                 {"cases_by_channel", std::move(by_channel)},
                 {"materials_uploaded", f.materials_uploaded},
                 {"materials_from_elicense", f.materials_from_elicense},
                 {"immediate_items", f.immediate_items},
                 {"immediate_rate", f.immediate_rate},
                 {"average_visits", f.average_visits},
                 {"corrections", f.corrections},
                 {"corrections_per_case", f.corrections_per_case},
                 {"correction_workdays", f.correction_workdays},
                 {"waiting_workdays", f.waiting_workdays},
                 {"special_procedures", f.special_procedures},
                 {"special_procedures_overdue", f.special_procedures_overdue},
                 {"special_procedure_workdays", f.special_procedure_workdays},
                 {"special_procedure_workdays_paused", f.special_procedure_workdays_paused},
                 {"ratings", std::move(ratings)},
                 {"rated", f.rated},
                 {"good_rating_rate", f.good_rating_rate},
                 {"overdue_cases_by_department", std::move(overdue)},
                 {"filters", json::object{{"cases", case_query_json(f.cases)},
                                          {"channels", std::move(channel_filters)},
                                          {"overdue_departments", std::move(overdue_filters)}}}};
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
