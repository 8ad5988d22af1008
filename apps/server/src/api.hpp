// Private to the server: the REST API and the console's static files, as a function from a
// plain HttpRequest to an HttpResponse (no Beast here). docs/api.md documents every route.
//
// Every response carries X-Request-Id. Callers authenticate with a session cookie (and the
// X-CSRF-Token header on state-changing requests) or an API token (Authorization: Bearer).
// Every state-changing request and every denied attempt is appended to the audit trail.
//
// Thread safety: handle() may be called from many threads at once.
#pragma once

#include "accounts.hpp"
#include "http_server.hpp"

#include <onevisit/adapters/elicense.hpp>
#include <onevisit/adapters/results.hpp>
#include <onevisit/engine/engine.hpp>

#include <deque>
#include <filesystem>
#include <map>
#include <mutex>

namespace onevisit::server {

/// Everything a caller may try; the permission matrix maps roles to these.
enum class Action {
  read_cases,         ///< list, show, history, download materials
  start_case,
  attach_material,
  verify_material,
  fire_event,
  tolerant_intake,
  pause_clock,        ///< pause and resume
  withdraw,
  deliver,
  rate,
  read_worklist,
  list_workflows,
  deploy_workflows,
  read_timers,
  fire_timers,
  manage_users,
  read_audit,
  read_report,
  read_calls,         ///< the adapter calls of cases (the outbox)
  settle_calls,       ///< retry or resolve a parked call
  post_receipts,      ///< a department's system answers a call (its result, documents); department_system only
};

/// Whether `role` may perform `action` at all (reviewers and department systems further only
/// on their department; department systems only with an API token).
bool role_may(Role role, Action action);

struct ApiOptions {
  std::size_t max_json_bytes = 1024 * 1024;
  std::size_t max_material_bytes = 8 * 1024 * 1024;
  Timestamp session_lifetime = 8LL * 3600 * 1000;
  std::filesystem::path console_dir;  ///< static files of the web console (empty: none)
  bool secure_cookies = false;        ///< mark cookies Secure (the service is reached over HTTPS)
  adapters::ResultMapping result_mapping;  ///< how departments' answers become lifecycle events
  /// The e-license library (电子证照库) materials `from elicense` are fetched from; null: none is
  /// configured, and the clerk is told to upload them instead.
  std::shared_ptr<adapters::ElicenseLibrary> elicense;
  int max_failures_per_user = 5;      ///< login failures per window before 429
  int max_failures_per_address = 20;
  Timestamp failure_window = 15LL * 60 * 1000;
};

/// Too many failed logins: per user name and per remote address, in a sliding window.
class LoginThrottle {
 public:
  LoginThrottle(int per_user, int per_address, Timestamp window) : per_user_(per_user), per_address_(per_address), window_(window) {}
  /// Milliseconds until the next attempt is allowed, 0 when it is allowed now.
  Timestamp blocked_for(const std::string& user, const std::string& address, Timestamp now);
  void failed(const std::string& user, const std::string& address, Timestamp now);
  void succeeded(const std::string& user);

 private:
  Timestamp blocked(std::deque<Timestamp>& failures, int limit, Timestamp now);
  std::mutex mutex_;
  int per_user_;
  int per_address_;
  Timestamp window_;
  std::map<std::string, std::deque<Timestamp>> by_user_, by_address_;
};

class Api {
 public:
  Api(engine::Engine& engine, AccountStore& accounts, ApiOptions options);
  HttpResponse handle(const HttpRequest& request);

 private:
  struct Context;
  struct Exchange;
  HttpResponse route(const HttpRequest& request, Context& context);
  HttpResponse serve_static(const HttpRequest& request, Context& context);

  engine::Engine& engine_;
  AccountStore& accounts_;
  ApiOptions options_;
  LoginThrottle throttle_;
};

}  // namespace onevisit::server
