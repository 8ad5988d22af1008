// Private to the server: the REST API and the console's static files, as a function from a
// plain HttpRequest to an HttpResponse (no Beast here). The routes are a table (routes.hpp),
// their handlers one file per resource (routes/), and every route asks the Authorizer
// (authorizer.hpp). docs/api.md documents every route.
//
// Every response carries X-Request-Id. Callers authenticate with a session cookie (and the
// X-CSRF-Token header on state-changing requests) or an API token (Authorization: Bearer);
// applicants, on the routes under /api/applicant/ only, with their own session cookie and
// CSRF token (docs/applicant.md), which no other route takes.
// Every state-changing request and every denied attempt is appended to the audit trail;
// refusals of requests without authentication are counted per address and minute
// (refusal_log.hpp). Password hashing runs on a small pool of its own (bounded_pool.hpp),
// logins are throttled by user name and address (login_throttle.hpp).
//
// Thread safety: handle() may be called from many threads at once.
#pragma once

#include "accounts.hpp"
#include "authorizer.hpp"
#include "bounded_pool.hpp"
#include "code_throttle.hpp"
#include "http_server.hpp"
#include "login_throttle.hpp"
#include "refusal_log.hpp"

#include <onevisit/adapters/elicense.hpp>
#include <onevisit/adapters/identity.hpp>
#include <onevisit/adapters/results.hpp>
#include <onevisit/adapters/sms.hpp>
#include <onevisit/engine/engine.hpp>

#include <filesystem>
#include <optional>
#include <string>

namespace onevisit::server {

struct RequestRecord;

struct ApiOptions {
  std::size_t max_json_bytes = 1024 * 1024;
  std::size_t max_material_bytes = 8 * 1024 * 1024;
  /// The body limit for a caller who is not authenticated (a login needs well under this).
  std::size_t max_unauthenticated_body_bytes = 8 * 1024;
  Timestamp session_lifetime = 8LL * 3600 * 1000;
  std::filesystem::path console_dir;  ///< static files of the web console (empty: none)
  /// The applicant's pages, served under /m/ (empty: none).
  std::filesystem::path applicant_dir;
  bool secure_cookies = false;        ///< mark cookies Secure (the service is reached over HTTPS)
  adapters::ResultMapping result_mapping;  ///< how departments' answers become lifecycle events
  LoginThrottleOptions login_throttle;
  /// Password hashing (login, creating a user, changing a password): its threads, and how
  /// many more jobs may wait for them before the service answers 503. Keep the sum below
  /// the HTTP request threads, so that some are always free for other requests.
  std::size_t hashing_threads = 1;
  std::size_t hashing_queue = 1;
  /// Audit records younger than this cannot be pruned. Default: 180 days, the six months the
  /// Cybersecurity Law (网络安全法, art. 21) asks network logs to be kept.
  Timestamp audit_retention = 180LL * 24 * 3600 * 1000;
  /// The e-license library (电子证照库) materials `from elicense` are fetched from; null: none is
  /// configured, and the clerk is told to upload them instead.
  std::shared_ptr<adapters::ElicenseLibrary> elicense;
  /// The service's address as applicants reach it (through a proxy, say), printed as the QR code
  /// on notices; empty: taken from the request's Host header.
  std::string public_url;
  /// Days the service's clock runs ahead of the real one (training; ServiceOptions), shown to
  /// staff with their session so that nobody takes a training room for the real service.
  int clock_offset_days = 0;
  // The applicant channel (docs/applicant.md): the SMS gateway login codes go by and the
  // identity platform (each null: that way of logging in is not offered), the lifetime of
  // applicants' sessions and codes, and how often codes may be asked for and tried.
  std::shared_ptr<adapters::SmsGateway> sms;
  std::shared_ptr<adapters::OidcProvider> oidc;
  Timestamp applicant_session_lifetime = 2LL * 3600 * 1000;
  Timestamp login_code_lifetime = 5LL * 60 * 1000;
  int login_code_attempts = 5;
  CodeThrottleOptions code_throttle;
  /// The kiosk's login (docs/applicant.md, "The kiosk"): how long a nonce handed to a kiosk
  /// may be signed into a card read, and how long the session a card read opens lasts (the
  /// kiosk's page ends it sooner, after the applicant leaves).
  Timestamp kiosk_nonce_lifetime = 60LL * 1000;
  Timestamp kiosk_session_lifetime = 30LL * 60 * 1000;
};

class Api {
 public:
  Api(engine::Engine& engine, AccountStore& accounts, ApiOptions options);
  HttpResponse handle(const HttpRequest& request);
  /// The server's BodyLimit (http_server.hpp): the larger of the JSON and material limits for
  /// a valid API token or session cookie, max_unauthenticated_body_bytes for anyone else.
  std::size_t body_limit(const HttpRequest& head);
  /// Writes the audit records of refusals counted in minutes that have ended (handle() does
  /// it too; the service's timer calls it for quiet times).
  void flush_refusals();
  /// Writes every counted refusal (at shutdown, after the last request).
  void flush_all_refusals();

 private:
  HttpResponse route(const HttpRequest& request, RequestRecord& record);
  HttpResponse serve_static(const HttpRequest& request, RequestRecord& record);
  /// Sets record.caller from the API token or the session (and checks CSRF); the error
  /// response when that fails. `session_token` gets the session cookie.
  std::optional<HttpResponse> authenticate(const HttpRequest& request, RequestRecord& record, std::string& session_token);
  /// The same for the applicant channel's routes (/api/applicant/…): only an applicant's
  /// session cookie, never a staff session or an API token.
  std::optional<HttpResponse> authenticate_applicant(const HttpRequest& request, RequestRecord& record, std::string& session_token);

  engine::Engine& engine_;
  AccountStore& accounts_;
  ApiOptions options_;
  LoginThrottle throttle_;
  CodeThrottle code_throttle_;
  Authorizer authorizer_;
  RefusalLog refusals_;
  BoundedPool hashing_;  ///< last: its threads end before the members their jobs use
};

}  // namespace onevisit::server
