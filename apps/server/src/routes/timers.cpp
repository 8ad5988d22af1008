// /api/timers: the timers due, and firing them now.
#include "routes/handlers.hpp"

#include <onevisit/views/work_views.hpp>

namespace onevisit::server::routes {

HttpResponse list_timers(Exchange& x) {
  std::int64_t limit = 100;
  engine::Timestamp before = x.engine.now();
  if (auto bad = x.query_number("limit", limit, 1, 1000)) return *bad;
  if (auto bad = x.query_number("before", before, 0, kMaxTimestamp)) return *bad;
  auto timers = x.engine.due_timers(before, static_cast<std::size_t>(limit));
  if (!timers) return x.engine_error(timers.error());
  json::array a;
  for (const auto& t : *timers) a.push_back(views::timer_json(t));
  return json_response(200, json::object{{"timers", std::move(a)}});
}

HttpResponse fire_timers(Exchange& x) {
  auto fired = x.engine.fire_due_timers();
  if (!fired) return x.engine_error(fired.error());
  return json_response(200, json::object{{"fired", *fired}});
}

}  // namespace onevisit::server::routes
