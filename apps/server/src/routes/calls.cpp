// GET /api/calls: adapter calls across cases (e.g. every parked one).
#include "routes/handlers.hpp"

#include <onevisit/views/work_views.hpp>

namespace onevisit::server::routes {

HttpResponse list_calls(Exchange& x) {
  std::int64_t limit = 100;
  if (auto bad = x.query_number("limit", limit, 1, 1000)) return *bad;
  auto calls = x.engine.calls("", x.query("status").value_or(""), static_cast<std::size_t>(limit));
  if (!calls) return x.engine_error(calls.error());
  json::array a;
  for (const auto& r : *calls) {
    if (x.allowed(Target::department(r.department, "call " + std::to_string(r.id)))) a.push_back(views::call_json(r));
  }
  return json_response(200, json::object{{"calls", std::move(a)}});
}

}  // namespace onevisit::server::routes
