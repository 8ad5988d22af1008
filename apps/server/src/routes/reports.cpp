// GET /api/report: the service figures (the supervisor's dashboard; docs/figures.md).
#include "routes/handlers.hpp"

#include <onevisit/dsl/expr.hpp>
#include <onevisit/engine/report.hpp>
#include <onevisit/views/report_view.hpp>

namespace onevisit::server::routes {

HttpResponse report(Exchange& x) {
  engine::ReportPeriod period;
  for (const auto& [key, bound, next_day] : {std::tuple{"from", &period.from, false}, std::tuple{"to", &period.to, true}}) {
    const auto text = x.query(key);
    if (!text || text->empty()) continue;
    const auto date = dsl::parse_civil_date(*text);
    if (!date) return x.error(400, "invalid_request", std::string(key) + " is a date YYYY-MM-DD");
    *bound = (dsl::days_from_civil(*date) + (next_day ? 1 : 0)) * 24 * 60 * 60'000;
  }
  auto report = engine::service_report(x.engine, period);
  if (!report) return x.engine_error(report.error());
  return json_response(200, views::report_json(*report));
}

}  // namespace onevisit::server::routes
