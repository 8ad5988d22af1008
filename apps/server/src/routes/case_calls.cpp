// /api/cases/{id}/calls: the case's adapter calls; parked ones retried or resolved by hand.
// Reviewers see and settle only their department's calls.
#include "routes/handlers.hpp"

#include <onevisit/views/work_views.hpp>

#include <charconv>

namespace onevisit::server::routes {

namespace {

Target call_target(const engine::OutboxRecord& call) {
  return Target::department(call.department, "call " + std::to_string(call.id) + " to department " + call.department);
}

// Retry or resolve: the call must be the case's, the caller's department's, and parked.
HttpResponse settle(Exchange& x, bool retry) {
  const std::string& case_id = x.param("id");
  const std::string& call_text = x.param("call");
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto note = reader.text("note", !retry);
  if (!reader.ok()) return x.bad_fields(reader);
  if (!x.load_case(case_id)) return *x.failure;
  std::uint64_t call_id = 0;
  const auto [end, ec] = std::from_chars(call_text.data(), call_text.data() + call_text.size(), call_id);
  auto calls = x.engine.calls(case_id, "", 1000);
  if (!calls) return x.engine_error(calls.error());
  const auto it = std::find_if(calls->begin(), calls->end(), [&](const engine::OutboxRecord& r) { return r.id == call_id; });
  if (ec != std::errc() || end != call_text.data() + call_text.size() || it == calls->end()) {
    return x.error(404, "not_found", "该办件没有这个部门系统调用：" + call_text);
  }
  if (auto denied = x.authorize(call_target(*it))) return *denied;
  auto settled = retry ? x.engine.retry_call(case_id, call_id) : x.engine.resolve_call(case_id, call_id, *note);
  if (!settled) return x.engine_error(settled.error());
  x.record.detail = std::string(retry ? "retry" : "resolve") + " call " + call_text + (note ? ": " + *note : std::string());
  return json_response(200, views::call_json(*settled));
}

}  // namespace

HttpResponse case_calls(Exchange& x) {
  const std::string& case_id = x.param("id");
  if (!x.load_case(case_id)) return *x.failure;
  auto calls = x.engine.calls(case_id, "", 1000);
  if (!calls) return x.engine_error(calls.error());
  json::array a;
  for (const auto& r : *calls) {
    if (x.allowed(call_target(r))) a.push_back(views::call_json(r));
  }
  return json_response(200, json::object{{"calls", std::move(a)}});
}

HttpResponse retry_call(Exchange& x) { return settle(x, true); }
HttpResponse resolve_call(Exchange& x) { return settle(x, false); }

}  // namespace onevisit::server::routes
