#include "routes.hpp"

#include "routes/handlers.hpp"

#include <algorithm>

namespace onevisit::server {

const std::vector<Route>& route_table() {
  using A = Action;
  namespace r = routes;
  static const std::vector<Route> table = {
      // sessions.cpp
      {"POST", "/api/session", std::nullopt, r::log_in},
      {"GET", "/api/session", A::read_session, r::who_am_i},
      {"DELETE", "/api/session", A::end_session, r::log_out},
      // cases.cpp
      {"GET", "/api/cases", A::read_cases, r::list_cases},
      {"POST", "/api/cases", A::start_case, r::start_case},
      {"GET", "/api/cases/{id}", A::read_cases, r::show_case},
      {"GET", "/api/cases/{id}/history", A::read_cases, r::case_history},
      // follow.cpp
      {"GET", "/api/cases/{id}/follow-code", A::read_cases, r::follow_code},
      // materials.cpp
      {"PUT", "/api/cases/{id}/materials/{material}", A::attach_material, r::upload_material},
      {"GET", "/api/cases/{id}/materials/{material}", A::read_cases, r::download_material},
      {"POST", "/api/cases/{id}/materials/{material}/elicense", A::attach_material, r::fetch_elicense},
      {"POST", "/api/cases/{id}/materials/{material}/verify", A::verify_material, r::verify_material},
      // items.cpp
      {"POST", "/api/cases/{id}/items/{item}/events/{event}", A::fire_event, r::fire_event},
      {"POST", "/api/cases/{id}/items/{item}/tolerant-intake", A::tolerant_intake, r::tolerant_intake},
      {"POST", "/api/cases/{id}/items/{item}/parts/{department}", A::fire_event, r::decide_part},
      {"POST", "/api/cases/{id}/items/{item}/special-procedures/{procedure}/start", A::pause_clock, r::start_special_procedure},
      {"POST", "/api/cases/{id}/items/{item}/special-procedures/{procedure}/end", A::pause_clock, r::end_special_procedure},
      // urge.cpp
      {"POST", "/api/cases/{id}/items/{item}/urge", A::urge, r::urge_item},
      // case_commands.cpp
      {"POST", "/api/cases/{id}/pause", A::pause_clock, r::pause_clock},
      {"POST", "/api/cases/{id}/resume", A::pause_clock, r::resume_clock},
      {"POST", "/api/cases/{id}/withdraw", A::withdraw, r::withdraw},
      {"POST", "/api/cases/{id}/deliver", A::deliver, r::deliver},
      {"POST", "/api/cases/{id}/delivery-choice", A::deliver, r::choose_delivery},
      {"POST", "/api/cases/{id}/rectification", A::answer_rectification, r::answer_rectification},
      {"POST", "/api/cases/{id}/rate", A::rate, r::rate},
      // case_calls.cpp
      {"GET", "/api/cases/{id}/calls", A::read_calls, r::case_calls},
      {"POST", "/api/cases/{id}/calls/{call}/retry", A::settle_calls, r::retry_call},
      {"POST", "/api/cases/{id}/calls/{call}/resolve", A::settle_calls, r::resolve_call},
      // calls.cpp, receipts.cpp
      {"GET", "/api/calls", A::read_calls, r::list_calls},
      {"POST", "/api/receipts", A::post_receipts, r::post_receipt},
      // worklist.cpp
      {"GET", "/api/worklist", A::read_worklist, r::worklist},
      {"GET", "/api/worklist/counts", A::read_worklist, r::worklist_counts},
      // workflows.cpp
      {"GET", "/api/workflows", A::list_workflows, r::list_workflows},
      {"POST", "/api/workflows", A::deploy_workflows, r::deploy_workflows},
      {"GET", "/api/workflows/{bundle}", A::list_workflows, r::show_workflow},
      {"POST", "/api/workflows/{bundle}/materials", A::start_case, r::situation_materials},
      {"POST", "/api/workflows/{bundle}/registration", A::start_case, r::company_registration},
      // timers.cpp
      {"GET", "/api/timers", A::read_timers, r::list_timers},
      {"POST", "/api/timers/fire", A::fire_timers, r::fire_timers},
      // users.cpp
      {"GET", "/api/users", A::manage_users, r::list_users},
      {"POST", "/api/users", A::manage_users, r::create_user},
      {"PATCH", "/api/users/{name}", A::manage_users, r::update_user},
      // tokens.cpp
      {"GET", "/api/tokens", A::read_tokens, r::list_tokens},
      {"POST", "/api/tokens", A::create_token, r::create_token},
      {"DELETE", "/api/tokens/{id}", A::revoke_token, r::revoke_token},
      // kiosks.cpp: self-service kiosks are the admin's, as accounts are
      {"GET", "/api/kiosks", A::manage_users, r::list_kiosks},
      {"POST", "/api/kiosks", A::manage_users, r::register_kiosk},
      {"DELETE", "/api/kiosks/{kiosk}", A::manage_users, r::revoke_kiosk},
      // reports.cpp, audit.cpp
      {"GET", "/api/report", A::read_report, r::report},
      {"GET", "/api/audit", A::read_audit, r::audit},
      {"POST", "/api/audit/prune", A::prune_audit, r::prune_audit},
      // The applicant channel (docs/applicant.md): applicant_sessions.cpp, applicant_cases.cpp
      {"POST", "/api/applicant/sms-codes", std::nullopt, r::send_login_code},
      {"POST", "/api/applicant/session", std::nullopt, r::applicant_log_in},
      {"GET", "/api/applicant/oidc/start", std::nullopt, r::oidc_start},
      {"GET", "/api/applicant/oidc/callback", std::nullopt, r::oidc_callback},
      {"POST", "/api/applicant/kiosk/nonce", std::nullopt, r::kiosk_nonce},
      {"POST", "/api/applicant/kiosk/session", std::nullopt, r::kiosk_log_in},
      {"GET", "/api/applicant/session", A::read_session, r::applicant_who_am_i},
      {"DELETE", "/api/applicant/session", A::end_session, r::applicant_log_out},
      {"POST", "/api/applicant/company", A::act_for_company, r::act_for_company},
      {"GET", "/api/applicant/bundles", A::apply, r::applicant_bundles},
      {"GET", "/api/applicant/bundles/{bundle}", A::apply, r::applicant_bundle},
      {"POST", "/api/applicant/bundles/{bundle}/guide", A::apply, r::applicant_guide},
      {"GET", "/api/applicant/drafts", A::apply, r::applicant_drafts},
      {"GET", "/api/applicant/drafts/{draft}", A::apply, r::applicant_draft},
      {"PUT", "/api/applicant/drafts/{draft}", A::apply, r::save_applicant_draft},
      {"DELETE", "/api/applicant/drafts/{draft}", A::apply, r::delete_applicant_draft},
      {"POST", "/api/applicant/drafts/{draft}/prefill", A::apply, r::prefill_applicant_draft},
      {"GET", "/api/applicant/cases", A::read_cases, r::my_cases},
      {"POST", "/api/applicant/cases", A::apply, r::applicant_submit},
      {"GET", "/api/applicant/cases/{id}", A::read_cases, r::my_case},
      {"PUT", "/api/applicant/cases/{id}/materials/{material}", A::attach_material, r::applicant_upload},
      {"GET", "/api/applicant/cases/{id}/materials/{material}", A::read_cases, r::download_material},
      {"GET", "/api/applicant/cases/{id}/follow-code", A::read_cases, r::follow_code},
      {"POST", "/api/applicant/cases/{id}/items/{item}/events/{event}", A::fire_event, r::fire_event},
      {"POST", "/api/applicant/cases/{id}/withdraw", A::withdraw, r::applicant_withdraw},
      {"POST", "/api/applicant/cases/{id}/delivery", A::deliver, r::choose_delivery},
      {"POST", "/api/applicant/cases/{id}/rate", A::rate, r::rate},
  };
  return table;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  std::size_t at = 0;
  while (at < path.size()) {
    const auto slash = path.find('/', at);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    if (end > at) parts.emplace_back(path.substr(at, end - at));
    at = end + 1;
  }
  return parts;
}

namespace {

// A pattern split once: literal segments, and parameter names where `{name}` stood.
struct CompiledRoute {
  const Route* route;
  std::vector<std::string> segments;
  std::vector<bool> parameter;
};

const std::vector<CompiledRoute>& compiled_routes() {
  static const std::vector<CompiledRoute> compiled = [] {
    std::vector<CompiledRoute> out;
    for (const auto& route : route_table()) {
      CompiledRoute c{&route, {}, {}};
      for (auto& segment : split_path(route.pattern)) {
        const bool is_parameter = segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
        c.parameter.push_back(is_parameter);
        c.segments.push_back(is_parameter ? segment.substr(1, segment.size() - 2) : std::move(segment));
      }
      out.push_back(std::move(c));
    }
    return out;
  }();
  return compiled;
}

}  // namespace

RouteMatch match_route(std::string_view method, std::string_view path) {
  const auto parts = split_path(path);
  RouteMatch match;
  for (const auto& c : compiled_routes()) {
    if (c.segments.size() != parts.size()) continue;
    std::map<std::string, std::string> parameters;
    bool fits = true;
    for (std::size_t i = 0; i < parts.size() && fits; ++i) {
      if (c.parameter[i]) parameters[c.segments[i]] = parts[i];
      else fits = c.segments[i] == parts[i];
    }
    if (!fits) continue;
    // HEAD is GET without the body (the HTTP server drops it), as RFC 9110 asks.
    if (c.route->method == method || (method == "HEAD" && c.route->method == "GET")) {
      match.route = c.route;
      match.parameters = std::move(parameters);
      match.allowed_methods.clear();
      return match;
    }
    const std::string other(c.route->method);
    if (std::find(match.allowed_methods.begin(), match.allowed_methods.end(), other) == match.allowed_methods.end()) {
      match.allowed_methods.push_back(other);
    }
  }
  return match;
}

}  // namespace onevisit::server
