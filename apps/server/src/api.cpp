#include "api.hpp"

#include <onevisit/views/case_view.hpp>
#include <onevisit/views/format.hpp>
#include <onevisit/views/history_view.hpp>
#include <onevisit/views/report_view.hpp>
#include <onevisit/views/work_views.hpp>
#include <onevisit/views/workflow_view.hpp>

#include <onevisit/adapters/adapter.hpp>
#include <onevisit/adapters/elicense.hpp>
#include <onevisit/dsl/diagnostic.hpp>
#include <onevisit/dsl/personal_numbers.hpp>
#include <onevisit/dsl/source.hpp>
#include <onevisit/engine/figures.hpp>
#include <onevisit/engine/report.hpp>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

namespace onevisit::server {

namespace json = boost::json;
using engine::EngineError;
using engine::Rejection;

bool role_may(Role role, Action action) {
  switch (action) {
    case Action::read_cases:
    case Action::read_worklist:
    case Action::fire_event:
      return role == Role::window_clerk || role == Role::reviewer || role == Role::supervisor;
    case Action::verify_material:
      return role == Role::window_clerk || role == Role::reviewer;
    case Action::start_case:
    case Action::attach_material:
    case Action::tolerant_intake:
    case Action::withdraw:
    case Action::deliver:
    case Action::rate:
      return role == Role::window_clerk;
    case Action::pause_clock:
      return role == Role::window_clerk || role == Role::supervisor;
    case Action::list_workflows:
      return role != Role::department_system;
    case Action::deploy_workflows:
      return role == Role::designer;
    case Action::read_timers:
    case Action::fire_timers:
    case Action::read_audit:
      return role == Role::supervisor || role == Role::admin;
    case Action::manage_users:
      return role == Role::admin;
    case Action::read_report:
      return role == Role::supervisor || role == Role::admin;
    case Action::read_calls:
    case Action::settle_calls:
      return role == Role::window_clerk || role == Role::reviewer || role == Role::supervisor;
    case Action::post_receipts:
      // Only a department's own system, authenticated as such; people never post receipts.
      return role == Role::department_system;
    case Action::prune_audit:
      return role == Role::admin;
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Request context and responses

struct Caller {
  User user;
  bool via_token = false;
  std::string scope = "write";
  std::string csrf_token;  ///< of the session
};

struct Api::Context {
  std::string request_id;
  std::optional<Caller> caller;
  std::string attempted_user;  ///< for login audit records
  std::string target;          ///< what the request concerns (case id, user name ...)
  std::string outcome = "ok";
  std::string detail;
  bool audited = false;  ///< the route wrote its own audit record (in its transaction)
};

namespace {

constexpr std::string_view kJson = "application/json; charset=utf-8";
constexpr std::string_view kRoleChoices = "role is one of window_clerk, reviewer, supervisor, designer, admin, department_system";

HttpResponse json_response(unsigned status, const json::value& body) {
  return HttpResponse{status, std::string(kJson), {}, json::serialize(body)};
}

std::string masked(std::string_view text) { return adapters::mask_identifiers(text); }
// Masked, then cut to `max_bytes` at a character boundary (a cut number stays masked).
std::string masked(std::string_view text, std::size_t max_bytes) {
  return dsl::truncate_utf8(masked(text), max_bytes);
}

bool safe_token(std::string_view text, std::size_t max) {
  if (text.empty() || text.size() > max) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':';
  });
}

bool is_utf8(std::string_view text) { return dsl::find_invalid_utf8(text) == std::string_view::npos; }

// Every part of the target the routes read (the decoded path, query names and values) is UTF-8;
// anything else would reach JSON answers, the audit trail and the log as broken text.
bool target_is_utf8(const HttpRequest& request) {
  if (!is_utf8(request.path)) return false;
  return std::all_of(request.query.begin(), request.query.end(),
                     [](const auto& parameter) { return is_utf8(parameter.first) && is_utf8(parameter.second); });
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

std::string cookie(const HttpRequest& request, std::string_view name) {
  const std::string header = request.header("cookie");
  std::string_view rest = header;
  while (!rest.empty()) {
    const auto semi = rest.find(';');
    auto pair = rest.substr(0, semi);
    rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
  }
  return {};
}

// Reads typed members of a JSON object, collecting every problem (wrong type, missing).
class BodyReader {
 public:
  explicit BodyReader(const json::object& object) : object_(object) {}

  std::optional<std::string> text(std::string_view key, bool required = false) {
    const auto* v = find(key, required, "a string");
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) return wrong(key, "a string");
    return std::string(v->as_string());
  }
  std::optional<std::int64_t> integer(std::string_view key, bool required = false) {
    const auto* v = find(key, required, "an integer");
    if (v == nullptr) return std::nullopt;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(v->as_uint64());
    wrong(key, "an integer");
    return std::nullopt;
  }
  std::optional<bool> boolean(std::string_view key, bool required = false) {
    const auto* v = find(key, required, "true or false");
    if (v == nullptr) return std::nullopt;
    if (!v->is_bool()) {
      wrong(key, "true or false");
      return std::nullopt;
    }
    return v->as_bool();
  }
  std::optional<std::vector<std::string>> strings(std::string_view key, bool required = false) {
    const auto* v = find(key, required, "a list of strings");
    if (v == nullptr) return std::nullopt;
    if (!v->is_array()) {
      wrong(key, "a list of strings");
      return std::nullopt;
    }
    std::vector<std::string> out;
    for (const auto& e : v->as_array()) {
      if (!e.is_string()) {
        wrong(key, "a list of strings");
        return std::nullopt;
      }
      out.emplace_back(e.as_string());
    }
    return out;
  }
  /// A flat object of scalars (strings, numbers, booleans; null skipped), as text.
  std::optional<std::map<std::string, std::string>> scalars(std::string_view key, bool required = false) {
    const auto* v = find(key, required, "an object");
    if (v == nullptr) return std::nullopt;
    if (!v->is_object()) {
      wrong(key, "an object");
      return std::nullopt;
    }
    std::map<std::string, std::string> out;
    for (const auto& [name, value] : v->as_object()) {
      const std::string field = std::string(key) + "." + std::string(name);
      if (value.is_string()) out[std::string(name)] = std::string(value.as_string());
      else if (value.is_bool()) out[std::string(name)] = value.as_bool() ? "true" : "false";
      else if (value.is_int64()) out[std::string(name)] = std::to_string(value.as_int64());
      else if (value.is_uint64()) out[std::string(name)] = std::to_string(value.as_uint64());
      else if (value.is_double()) out[std::string(name)] = json::serialize(value);
      else if (!value.is_null()) problems_.push_back({field, "expected a string, number or boolean"});
    }
    return out;
  }

  bool ok() const { return problems_.empty(); }
  json::array problems() const {
    json::array a;
    for (const auto& [field, message] : problems_) a.push_back(json::object{{"field", field}, {"message", message}});
    return a;
  }

 private:
  const json::value* find(std::string_view key, bool required, std::string_view what) {
    const auto* v = object_.if_contains(key);
    if (v == nullptr || v->is_null()) {
      if (required) problems_.push_back({std::string(key), "required: expected " + std::string(what)});
      return nullptr;
    }
    return v;
  }
  std::nullopt_t wrong(std::string_view key, std::string_view what) {
    problems_.push_back({std::string(key), "expected " + std::string(what)});
    return std::nullopt;
  }

  const json::object& object_;
  std::vector<std::pair<std::string, std::string>> problems_;
};

std::string_view rejection_http_code(Rejection::Code code, unsigned& status) {
  switch (code) {
    case Rejection::Code::not_found: status = 404; return "not_found";
    case Rejection::Code::wrong_state: status = 409; return "wrong_state";
    case Rejection::Code::guard_false: status = 409; return "guard_false";
    case Rejection::Code::role_not_allowed: status = 403; return "role_not_allowed";
    case Rejection::Code::missing_material: status = 409; return "missing_material";
    case Rejection::Code::missing_field: status = 422; return "missing_field";
    case Rejection::Code::invalid_field: status = 422; return "invalid_field";
    case Rejection::Code::invalid: status = 422; return "invalid";
  }
  status = 422;
  return "invalid";
}

bool is_get(const HttpRequest& r) { return r.method == "GET" || r.method == "HEAD"; }

// Bounds of numbers in queries: beyond them a number is a mistake (or an attack), never a
// page to answer.
constexpr std::int64_t kMaxOffset = 1'000'000'000;
constexpr std::int64_t kMaxTimestamp = 253'402'300'799'999;  // 9999-12-31 23:59:59.999 UTC, in ms

std::string content_type_for(const std::filesystem::path& path) {
  const auto ext = path.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json") return "application/json; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  return "application/octet-stream";
}

json::object command_json(const engine::CommandResult& r) {
  json::array events;
  for (const auto& e : r.events) events.push_back(json::string(e));
  return json::object{{"case_id", r.case_id}, {"version", r.version}, {"duplicate", r.duplicate}, {"events", std::move(events)}};
}

// Events about another department's item or a material it cannot see are left out;
// case-level events stay.
bool shows_event(const views::DepartmentScope& scope, const json::value& payload) {
  const auto* object = payload.if_object();
  if (object == nullptr) return true;
  auto visible = [&](std::string_view key, const std::vector<bool>& shown) {
    const auto* index = object->if_contains(key);
    if (index == nullptr || !index->is_number()) return true;
    const auto i = index->to_number<std::int64_t>();
    return i >= 0 && static_cast<std::size_t>(i) < shown.size() && shown[static_cast<std::size_t>(i)];
  };
  return visible("item", scope.items) && visible("material", scope.materials);
}

json::object user_json(const User& u) {
  return json::object{{"name", u.name},
                      {"display_name", u.display_name},
                      {"role", std::string(to_string(u.role))},
                      {"department", u.department},
                      {"disabled", u.disabled}};
}

// Records written before the trail masked what people typed are masked when shown.
json::object audit_json(const AuditRecord& r) {
  return json::object{{"sequence", r.sequence}, {"at", views::format_time(r.at)}, {"actor", masked(r.actor)}, {"role", r.role},
                      {"remote_address", r.remote_address}, {"action", masked(r.action)}, {"target", masked(r.target)},
                      {"outcome", r.outcome}, {"detail", masked(r.detail)}, {"count", r.count},
                      {"last_at", views::format_time(r.last_at == 0 ? r.at : r.last_at)},
                      {"last_action", masked(r.last_action.empty() ? r.action : r.last_action)}};
}

json::object token_json(const ApiToken& t) {
  return json::object{{"id", t.id}, {"user", t.user}, {"name", t.name}, {"scope", t.scope}, {"created_at", views::format_time(t.created_at)},
                      {"revoked", t.revoked_at != 0}};
}

}  // namespace

Api::Api(engine::Engine& engine, AccountStore& accounts, ApiOptions options)
    : engine_(engine),
      accounts_(accounts),
      options_(std::move(options)),
      throttle_(options_.login_throttle),
      refusals_(accounts_),
      hashing_(std::max<std::size_t>(1, options_.hashing_threads), options_.hashing_queue) {}

void Api::flush_refusals() { refusals_.flush_ended(engine_.now()); }
void Api::flush_all_refusals() { refusals_.flush_all(); }

std::size_t Api::body_limit(const HttpRequest& head) {
  // Only whether the credentials are valid matters here; handle() checks them again with
  // CSRF and role. A store error counts as a stranger (the request then fails there anyway).
  const std::string authorization = head.header("authorization");
  bool known = false;
  if (authorization.rfind("Bearer ", 0) == 0) {
    const auto found = accounts_.find_token(authorization.substr(7));
    known = found && *found;
  } else if (const auto session = cookie(head, "ov_session"); !session.empty()) {
    const auto found = accounts_.find_session(session, engine_.now());
    known = found && *found;
  }
  return known ? std::max(options_.max_json_bytes, options_.max_material_bytes)
               : options_.max_unauthenticated_body_bytes;
}

HttpResponse Api::handle(const HttpRequest& request) {
  Context context;
  refusals_.flush_ended(engine_.now());
  const std::string given_id = request.header("x-request-id");
  context.request_id = safe_token(given_id, 64) ? given_id : random_hex(8);
  HttpResponse response;
  const bool utf8 = target_is_utf8(request);
  try {
    response = utf8 ? route(request, context)
                    : json_response(400, json::object{{"code", "invalid_request"},
                                                      {"message", "the request target is not UTF-8 once percent-decoded"},
                                                      {"details", json::object{}}});
  } catch (const std::exception& e) {
    // A bug, not bad input (bad input is answered by route); one request must not take the
    // service down, and the log ties it to the request id.
    spdlog::error("request {}: {} {}: unexpected exception: {}", context.request_id, request.method,
                  masked(request.path), masked(e.what()));
    context.outcome = "internal";
    response = json_response(500, json::object{{"code", "internal"}, {"message", "internal error; the request id is in the server log"},
                                               {"details", json::object{{"request_id", context.request_id}}}});
  }
  response.headers.emplace_back("X-Request-Id", context.request_id);
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Cache-Control", "no-store");

  // Every state-changing request and every denied attempt goes to the audit trail; those
  // without authentication (all refused) counted per address and minute.
  const bool denied = response.status == 401 || response.status == 403 || response.status == 429;
  const bool api = request.path.rfind("/api/", 0) == 0;
  if (api && (!is_get(request) || denied) && !context.audited) {
    AuditRecord record;
    record.at = engine_.now();
    // What a person typed (the user name at a login, a case id, a path, a message) may hold an
    // ID or phone number: the trail keeps it masked, for it is never deleted.
    record.actor = masked(context.caller ? context.caller->user.name
                                         : (context.attempted_user.empty() ? "-" : context.attempted_user));
    record.role = context.caller ? std::string(to_string(context.caller->user.role)) : "";
    record.remote_address = request.remote_address;
    record.action = request.method + " " + (utf8 ? masked(request.path, 300) : std::string("(a target that is not UTF-8)"));
    record.target = masked(context.target);
    record.outcome = response.status < 400 ? "ok" : context.outcome;
    record.detail = masked(context.detail, 500);
    if (!context.caller) {
      record.target = "";  // the user name tried is in the actor
      refusals_.add(record);
    } else if (auto ok = accounts_.append_audit(record); !ok) {
      // The command has happened (or was refused) already; answering 500 now would make the
      // client believe otherwise. The log keeps the record instead.
      spdlog::error("audit trail: cannot append ({}); request {}: {} {} by {} from {} -> {}", ok.error().message, context.request_id,
                    record.action, record.target, record.actor, record.remote_address, record.outcome);
    }
  }
  spdlog::debug("{} {} {} -> {} ({})", context.request_id, request.method, utf8 ? masked(request.path) : "(not UTF-8)", response.status,
                context.outcome);
  return response;
}

// One request being answered: what it asks, who asks, and the helpers every route uses.
// The route groups return nullopt for a request that is not theirs.
struct Api::Exchange {
  Exchange(Api& api, const HttpRequest& request, Context& context)
      : engine_(api.engine_),
        accounts_(api.accounts_),
        options_(api.options_),
        throttle_(api.throttle_),
        api(api),
        request(request),
        context(context),
        parts(split_path(request.path)),
        n(parts.size()),
        method(request.method) {}

  HttpResponse answer();

  // The service, named as in Api so that routes read the same in both.
  engine::Engine& engine_;
  AccountStore& accounts_;
  const ApiOptions& options_;
  LoginThrottle& throttle_;

  Api& api;
  const HttpRequest& request;
  Context& context;
  const std::vector<std::string> parts;  ///< the path's segments; parts[0] == "api"
  const std::size_t n;
  const std::string& method;
  std::optional<HttpResponse> failure;  ///< why body() returned nothing
  std::string session_token;            ///< the session cookie, when the caller has one

  HttpResponse error(unsigned status, std::string code, std::string message, json::object details = {});
  HttpResponse engine_error(const EngineError& e);
  HttpResponse account_error(const AccountError& e);
  /// The request is `verb` on a path of exactly these segments ("*" matches any).
  bool is(std::initializer_list<std::string_view> pattern, std::string_view verb) const;
  /// Parses the JSON body (an object); nullopt with `failure` set when it is not one.
  std::optional<json::object> body();
  HttpResponse bad_fields(const BodyReader& reader);
  HttpResponse forbidden(std::string message);
  /// nullopt when the caller's role may do `action`, else the 403.
  std::optional<HttpResponse> require(Action action);
  /// The engine's command options for the caller; nullopt for a malformed Idempotency-Key.
  std::optional<engine::CommandOptions> command_options();
  HttpResponse bad_key();
  /// Loads a case the caller may see: reviewers only cases with an item of their department.
  std::optional<engine::CaseView> load_case(const std::string& case_id, std::optional<HttpResponse>& denied);
  HttpResponse run_command(const std::string& case_id, engine::CommandBody command);

  HttpResponse login();
  /// 503 with Retry-After: every password hashing thread is busy and its queue full.
  HttpResponse hashing_busy();
  /// Reads the query parameter `name` into `value` (left as it is when absent): digits
  /// only, from `min` to `max`. The 400 naming the parameter and its range otherwise.
  std::optional<HttpResponse> query_number(std::string_view name, std::int64_t& value, std::int64_t min, std::int64_t max);
  /// Sets context.caller from the API token or the session (and checks CSRF); the error
  /// response when that fails.
  std::optional<HttpResponse> authenticate();
  std::optional<HttpResponse> session_routes();
  std::optional<HttpResponse> case_routes();
  // The routes below /api/cases/{id}/ (case_routes hands them on).
  std::optional<HttpResponse> case_view_routes();
  std::optional<HttpResponse> material_routes();
  std::optional<HttpResponse> item_routes();
  std::optional<HttpResponse> case_call_routes();
  std::optional<HttpResponse> case_command_routes();
  std::optional<HttpResponse> call_routes();
  std::optional<HttpResponse> worklist_routes();
  std::optional<HttpResponse> workflow_routes();
  std::optional<HttpResponse> timer_routes();
  std::optional<HttpResponse> user_routes();
  std::optional<HttpResponse> token_routes();
  std::optional<HttpResponse> report_routes();
  std::optional<HttpResponse> audit_routes();
};

HttpResponse Api::Exchange::error(unsigned status, std::string code, std::string message, json::object details) {
  context.outcome = code;
  context.detail = message;
  details["request_id"] = context.request_id;
  return json_response(status, json::object{{"code", std::move(code)}, {"message", masked(message)}, {"details", std::move(details)}});
}

HttpResponse Api::Exchange::engine_error(const EngineError& e) {
  if (e.kind == EngineError::Kind::rejected && e.rejection) {
    unsigned status = 422;
    const auto code = rejection_http_code(e.rejection->code, status);
    json::array fields;
    for (const auto& f : e.rejection->field_errors) fields.push_back(json::object{{"field", f.field}, {"message", masked(f.message)}});
    return error(status, std::string(code), e.message, json::object{{"fields", std::move(fields)}});
  }
  switch (e.kind) {
    case EngineError::Kind::not_found: return error(404, "not_found", e.message);
    case EngineError::Kind::invalid_workflow: {
      json::array diagnostics;
      for (const auto& d : e.diagnostics) diagnostics.push_back(json::string(dsl::render_text(d)));
      return error(422, "invalid_workflow", e.message, json::object{{"diagnostics", std::move(diagnostics)}});
    }
    case EngineError::Kind::invalid: return error(422, "invalid", e.message);
    default:
      spdlog::error("request {}: {}", context.request_id, masked(e.message));
      return error(500, "internal", "the case store failed; the request id is in the server log");
  }
}

HttpResponse Api::Exchange::account_error(const AccountError& e) {
  switch (e.kind) {
    case AccountError::Kind::not_found: return error(404, "not_found", e.message);
    case AccountError::Kind::conflict: return error(409, "conflict", e.message);
    case AccountError::Kind::invalid: return error(422, "invalid", e.message);
    default:
      spdlog::error("request {}: {}", context.request_id, masked(e.message));
      return error(500, "internal", "the account store failed; the request id is in the server log");
  }
}

bool Api::Exchange::is(std::initializer_list<std::string_view> pattern, std::string_view verb) const {
  if (method != verb || pattern.size() != n) return false;
  std::size_t i = 0;
  for (const auto p : pattern) {
    if (p != "*" && p != parts[i]) return false;
    ++i;
  }
  return true;
}

std::optional<json::object> Api::Exchange::body() {
  if (request.body.size() > options_.max_json_bytes) {
    failure = error(413, "body_too_large", "a JSON body is at most " + std::to_string(options_.max_json_bytes) + " bytes");
    return std::nullopt;
  }
  if (request.body.empty()) return json::object{};
  boost::system::error_code ec;
  auto parsed = json::parse(request.body, ec);
  if (ec) {
    failure = error(400, "malformed_json", "the body is not JSON: " + ec.message());
    return std::nullopt;
  }
  if (!parsed.is_object()) {
    failure = error(400, "invalid_request", "the body must be a JSON object");
    return std::nullopt;
  }
  return std::move(parsed.as_object());
}

HttpResponse Api::Exchange::bad_fields(const BodyReader& reader) {
  return error(400, "invalid_request", "the body has fields of the wrong type or misses required ones",
               json::object{{"fields", reader.problems()}});
}

HttpResponse Api::Exchange::forbidden(std::string message) { return error(403, "forbidden", std::move(message)); }

std::optional<HttpResponse> Api::Exchange::require(Action action) {
  const User& user = context.caller->user;
  // A department system is no person at a browser: it acts only with the tokens an admin made.
  if (user.role == Role::department_system && !context.caller->via_token) {
    return forbidden("a department system acts only with its API token");
  }
  if (role_may(user.role, action)) return std::nullopt;
  return forbidden("the role " + std::string(to_string(user.role)) + " may not do this");
}

std::optional<engine::CommandOptions> Api::Exchange::command_options() {
  const User& user = context.caller->user;
  engine::CommandOptions o;
  o.actor = user.name;
  o.role = std::string(engine_role(user.role));
  const std::string key = request.header("idempotency-key");
  if (!key.empty()) {
    if (!safe_token(key, 100)) return std::nullopt;
    // Scoped by user: two callers cannot collide, or replay each other's results.
    o.command_id = "http:" + user.name + ":" + key;
  }
  return o;
}

HttpResponse Api::Exchange::bad_key() { return error(400, "invalid_request", "Idempotency-Key is 1 to 100 of A-Z a-z 0-9 - _ . :"); }

std::optional<engine::CaseView> Api::Exchange::load_case(const std::string& case_id, std::optional<HttpResponse>& denied) {
  const User& user = context.caller->user;
  context.target = case_id;
  auto view = engine_.get_case(case_id);
  if (!view) {
    denied = engine_error(view.error());
    return std::nullopt;
  }
  if (bound_to_department(user.role)) {
    const bool mine = std::any_of(view->items.begin(), view->items.end(), [&](const engine::ItemRow& r) { return r.department == user.department; });
    if (!mine) {
      denied = forbidden("case " + case_id + " has no item of department " + user.department);
      return std::nullopt;
    }
  }
  return std::move(*view);
}

HttpResponse Api::Exchange::run_command(const std::string& case_id, engine::CommandBody command) {
  auto options = command_options();
  if (!options) return bad_key();
  auto result = engine_.execute(case_id, std::move(command), *options);
  if (!result) return engine_error(result.error());
  return json_response(200, command_json(*result));
}

HttpResponse Api::Exchange::answer() {
  if (request.body_too_large) {
    return error(
        413, "body_too_large", "the request body is larger than the server accepts",
        json::object{{"limit_bytes", request.body_limit ? request.body_limit : options_.max_material_bytes}});
  }
  if (request.path.rfind("/api/", 0) != 0 && request.path != "/api") return api.serve_static(request, context);
  if (is({"api", "session"}, "POST")) return login();
  if (auto refused = authenticate()) return *refused;
  for (const auto routes : {&Exchange::session_routes, &Exchange::case_routes, &Exchange::call_routes, &Exchange::worklist_routes,
                            &Exchange::workflow_routes, &Exchange::timer_routes, &Exchange::user_routes, &Exchange::token_routes,
                            &Exchange::report_routes, &Exchange::audit_routes}) {
    if (auto answered = (this->*routes)()) return std::move(*answered);
  }
  return error(404, "no_route", "no route " + method + " " + dsl::truncate_utf8(request.path, 200));
}

HttpResponse Api::Exchange::login() {
  auto object = body();
  if (!object) return *failure;
  BodyReader reader(*object);
  const auto name = reader.text("name", true);
  const auto password = reader.text("password", true);
  if (!reader.ok()) return bad_fields(reader);
  context.attempted_user = safe_token(*name, 64) ? *name : "?";
  context.target = context.attempted_user;
  // Reserved before the password is checked: attempts in parallel see each other.
  const auto attempt = throttle_.reserve(*name, request.remote_address, engine_.now());
  if (!attempt) {
    const auto seconds = (attempt.error() + 999) / 1000;
    auto r = error(429, "too_many_attempts", "too many failed logins; try again in " + std::to_string(seconds) + " s",
                   json::object{{"retry_after_seconds", seconds}});
    r.headers.emplace_back("Retry-After", std::to_string(seconds));
    return r;
  }
  auto checked = api.hashing_.run([&] { return accounts_.authenticate(*name, *password); });
  if (!checked) {
    throttle_.released(*attempt);
    return hashing_busy();
  }
  auto& user = *checked;
  if (!user) {
    throttle_.released(*attempt);
    return account_error(user.error());
  }
  if (!*user) {
    throttle_.failed(*attempt, engine_.now());
    return error(401, "bad_credentials", "unknown user or wrong password");
  }
  throttle_.succeeded(*attempt, engine_.now());
  if ((*user)->role == Role::department_system) {
    return forbidden("a department system does not log in; it acts with the API token an admin created for it");
  }
  const auto now = engine_.now();
  auto session = accounts_.create_session((*user)->name, now, options_.session_lifetime);
  if (!session) return account_error(session.error());
  context.caller = Caller{**user, false, "write", session->csrf_token};
  const auto max_age = std::to_string(options_.session_lifetime / 1000) + (options_.secure_cookies ? "; Secure" : "");
  auto r = json_response(200, json::object{{"user", user_json(**user)}, {"csrf_token", session->csrf_token}});
  r.headers.emplace_back("Set-Cookie", "ov_session=" + session->token + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + max_age);
  r.headers.emplace_back("Set-Cookie", "ov_csrf=" + session->csrf_token + "; Path=/; SameSite=Strict; Max-Age=" + max_age);
  return r;
}

HttpResponse Api::Exchange::hashing_busy() {
  auto r = error(503, "try_again", "the service is checking many passwords at the moment; try again in a second");
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

std::optional<HttpResponse> Api::Exchange::query_number(std::string_view name, std::int64_t& value, std::int64_t min, std::int64_t max) {
  const auto it = request.query.find(std::string(name));
  if (it == request.query.end()) return std::nullopt;
  const std::string& text = it->second;
  std::int64_t parsed = 0;
  // from_chars alone would take a leading '-'; digits only, and overflow is an error.
  const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (!digits || ec != std::errc() || end != text.data() + text.size() || parsed < min || parsed > max) {
    return error(400, "invalid_request",
                 std::string(name) + " is a whole number from " + std::to_string(min) + " to " + std::to_string(max) + ", not '" +
                     text.substr(0, 40) + "'",
                 json::object{{"parameter", std::string(name)}, {"min", min}, {"max", max}});
  }
  value = parsed;
  return std::nullopt;
}

std::optional<HttpResponse> Api::Exchange::authenticate() {
  const std::string authorization = request.header("authorization");
  if (authorization.rfind("Bearer ", 0) == 0) {
    auto found = accounts_.find_token(authorization.substr(7));
    if (!found) return account_error(found.error());
    if (!*found) return error(401, "unauthenticated", "the API token is unknown or revoked");
    context.caller = Caller{(*found)->first, true, (*found)->second.scope, ""};
  } else {
    session_token = cookie(request, "ov_session");
    if (session_token.empty()) return error(401, "unauthenticated", "log in first (POST /api/session) or send an API token");
    auto found = accounts_.find_session(session_token, engine_.now());
    if (!found) return account_error(found.error());
    if (!*found) return error(401, "session_expired", "the session has expired or ended; log in again");
    context.caller = Caller{(*found)->user, false, "write", (*found)->csrf_token};
  }
  Caller& caller = *context.caller;
  if (!is_get(request)) {
    if (caller.via_token && caller.scope != "write") return error(403, "token_scope", "this API token may only read (scope read)");
    if (!caller.via_token) {
      // Double submit: the header must repeat the readable cookie, and both must be this
      // session's token (a cookie planted by another site cannot match).
      const std::string header = request.header("x-csrf-token");
      if (header.empty() || header != cookie(request, "ov_csrf") || header != caller.csrf_token) {
        return error(403, "csrf", "missing or wrong X-CSRF-Token header");
      }
    }
  }
  return std::nullopt;
}

std::optional<HttpResponse> Api::Exchange::session_routes() {
  [[maybe_unused]] Caller& caller = *context.caller;
  [[maybe_unused]] const User& user = caller.user;
  // ---- who am I, log out
  if (is({"api", "session"}, "GET")) {
    return json_response(200, json::object{{"user", user_json(user)}, {"csrf_token", caller.csrf_token}});
  }
  if (is({"api", "session"}, "DELETE")) {
    if (!session_token.empty()) {
      if (auto ok = accounts_.delete_session(session_token); !ok) return account_error(ok.error());
    }
    auto r = json_response(200, json::object{{"logged_out", true}});
    const std::string secure = options_.secure_cookies ? "; Secure" : "";
    r.headers.emplace_back("Set-Cookie", "ov_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" + secure);
    r.headers.emplace_back("Set-Cookie", "ov_csrf=; Path=/; SameSite=Strict; Max-Age=0" + secure);
    return r;
  }

  return std::nullopt;
}

std::optional<HttpResponse> Api::Exchange::case_routes() {
  [[maybe_unused]] Caller& caller = *context.caller;
  [[maybe_unused]] const User& user = caller.user;
  // ---- cases
  if (is({"api", "cases"}, "GET")) {
    if (auto denied = require(Action::read_cases)) return *denied;
    engine::CaseQuery query;
    std::int64_t limit = 50, offset = 0;
    if (auto bad = query_number("limit", limit, 1, 500)) return *bad;
    if (auto bad = query_number("offset", offset, 0, kMaxOffset)) return *bad;
    query.limit = static_cast<std::size_t>(limit);
    query.offset = static_cast<std::size_t>(offset);
    if (auto it = request.query.find("bundle"); it != request.query.end()) query.bundle_id = it->second;
    if (auto it = request.query.find("status"); it != request.query.end()) query.status = it->second;
    if (auto it = request.query.find("department"); it != request.query.end()) query.department = it->second;
    if (request.query.count("due_before")) {
      std::int64_t due = 0;
      if (auto bad = query_number("due_before", due, 0, kMaxTimestamp)) return *bad;
      query.due_before = due;
    }
    if (user.role == Role::reviewer) {
      if (query.department && *query.department != user.department) return forbidden("reviewers see only their department's cases");
      query.department = user.department;
    }
    auto cases = engine_.list_cases(query);
    if (!cases) return engine_error(cases.error());
    json::array a;
    for (const auto& c : *cases) {
      a.push_back(views::case_summary_json(c));
    }
    return json_response(200, json::object{{"cases", std::move(a)}, {"limit", query.limit}, {"offset", query.offset}});
  }
  if (is({"api", "cases"}, "POST")) {
    if (auto denied = require(Action::start_case)) return *denied;
    auto object = body();
    if (!object) return *failure;
    BodyReader reader(*object);
    const auto bundle = reader.text("bundle", true);
    const auto form = reader.scalars("form", true);
    const auto applicant = reader.text("applicant");
    const auto case_id = reader.text("case_id");
    if (!reader.ok()) return bad_fields(reader);
    if (case_id && !safe_token(*case_id, 64)) return error(400, "invalid_request", "case_id is 1 to 64 of A-Z a-z 0-9 - _ . :");
    const auto workflow = engine_.workflow(*bundle);
    if (!workflow) return error(404, "not_found", "no bundle '" + *bundle + "' is deployed");
    std::map<std::string, dsl::Value> values;
    json::array problems;
    for (const auto& [name, text] : *form) {
      auto value = engine::parse_field_value(*workflow, name, text);
      if (!value) problems.push_back(json::object{{"field", name}, {"message", masked(value.error())}});
      else values[name] = std::move(*value);
    }
    if (!problems.empty()) return error(422, "invalid_field", "some form values do not fit their fields", json::object{{"fields", std::move(problems)}});
    auto options = command_options();
    if (!options) return bad_key();
    auto started = engine_.start_case(*bundle, values, applicant.value_or(""), *options, case_id.value_or(""));
    if (!started) return engine_error(started.error());
    context.target = started->case_id;
    auto r = json_response(201, command_json(*started));
    r.headers.emplace_back("Location", "/api/cases/" + started->case_id);
    return r;
  }
  if (n >= 3 && parts[1] == "cases") {
    context.target = parts[2];
    for (const auto routes : {&Exchange::case_view_routes, &Exchange::material_routes, &Exchange::item_routes,
                              &Exchange::case_call_routes, &Exchange::case_command_routes}) {
      if (auto answered = (this->*routes)()) return answered;
    }
  }

  return std::nullopt;
}

// A case as the console shows it, and its history.
std::optional<HttpResponse> Api::Exchange::case_view_routes() {
  [[maybe_unused]] const User& user = context.caller->user;
  const std::string& case_id = parts[2];
  [[maybe_unused]] std::optional<HttpResponse> denied;
  if (is({"api", "cases", "*"}, "GET")) {
    if (auto d = require(Action::read_cases)) return *d;
    auto view = load_case(case_id, denied);
    if (!view) return *denied;
    std::optional<views::DepartmentScope> scope;
    if (user.role == Role::reviewer) scope = views::DepartmentScope::of(*view->workflow, user.department);
    return json_response(200, views::case_page_json(*view, scope ? &*scope : nullptr));
  }
  if (is({"api", "cases", "*", "history"}, "GET")) {
    if (auto d = require(Action::read_cases)) return *d;
    auto view = load_case(case_id, denied);
    if (!view) return *denied;
    auto history = engine_.history(case_id);
    if (!history) return engine_error(history.error());
    std::optional<views::DepartmentScope> scope;
    if (user.role == Role::reviewer) scope = views::DepartmentScope::of(*view->workflow, user.department);
    json::array a;
    for (const auto& h : *history) {
      auto payload = views::history_payload_json(h.type, h.payload);
      if (scope && !shows_event(*scope, payload)) continue;
      a.push_back(json::object{{"sequence", h.sequence}, {"type", h.type}, {"at", views::format_time(h.at)}, {"payload", std::move(payload)}});
    }
    return json_response(200, json::object{{"case_id", case_id}, {"events", std::move(a)}});
  }
  return std::nullopt;
}

// Materials: upload, e-license, download, verify or refuse.
std::optional<HttpResponse> Api::Exchange::material_routes() {
  [[maybe_unused]] const User& user = context.caller->user;
  const std::string& case_id = parts[2];
  [[maybe_unused]] std::optional<HttpResponse> denied;
  if (n == 5 && parts[3] == "materials") {
    const std::string& material = parts[4];
    if (method == "PUT") {
      if (auto d = require(Action::attach_material)) return *d;
      if (request.body.size() > options_.max_material_bytes) {
        return error(413, "body_too_large", "a material is at most " + std::to_string(options_.max_material_bytes) + " bytes");
      }
      if (request.body.empty()) return error(400, "invalid_request", "the body is the material's content; it is empty");
      auto view = load_case(case_id, denied);
      if (!view) return *denied;
      if (!view->workflow->find_material(material)) return error(404, "not_found", "no material '" + material + "' in this bundle");
      // Percent-encoded by browsers (header values are ASCII); kept as sent when malformed.
      std::string file_name = request.header("x-file-name");
      bool decoded_ok = true;
      if (auto decoded = percent_decode(file_name, decoded_ok); decoded_ok) file_name = std::move(decoded);
      if (!is_utf8(file_name)) return error(400, "invalid_request", "X-File-Name is not UTF-8 once percent-decoded");
      file_name = dsl::truncate_utf8(file_name, 200);
      auto options = command_options();
      if (!options) return bad_key();
      // The engine stores the bytes (content-addressed) before the command commits.
      auto result = engine_.attach_content(case_id, material, request.body, file_name, *options);
      if (!result) return engine_error(result.error());
      return json_response(200, command_json(*result));
    }
    if (method == "GET") {
      if (auto d = require(Action::read_cases)) return *d;
      auto view = load_case(case_id, denied);
      if (!view) return *denied;
      const auto m = view->workflow->find_material(material);
      if (!m) return error(404, "not_found", "no material '" + material + "' in this bundle");
      if (user.role == Role::reviewer && !views::DepartmentScope::of(*view->workflow, user.department).materials[*m]) {
        return forbidden("no item of department " + user.department + " needs or produces material " + material);
      }
      const auto& hash = view->state.materials[*m].content_hash;
      if (hash.empty()) return error(404, "not_found", "material '" + material + "' has no stored content");
      auto content = engine_.contents().get(hash);
      if (!content) {
        spdlog::error("request {}: material {} of case {}: {}", context.request_id, material, masked(case_id),
                      content.error());
        return error(500, "internal", "the material's content cannot be read; the request id is in the server log");
      }
      if (!*content) return error(404, "not_found", "the content of material '" + material + "' is not stored here");
      HttpResponse r{200, "application/octet-stream", {}, std::move(**content)};
      r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + material + "\"");
      r.headers.emplace_back("X-Content-SHA256", hash);
      return r;
    }
  }
  if (n == 6 && parts[3] == "materials" && method == "POST") {
    const std::string& material = parts[4];
    if (parts[5] == "elicense") {
      if (auto d = require(Action::attach_material)) return *d;
      if (!load_case(case_id, denied)) return *denied;
      auto options = command_options();
      if (!options) return bad_key();
      // Verified only because the library holds it: the library is asked, its document stored.
      auto fetched = adapters::fetch_elicense(engine_, case_id, material, options_.elicense.get(), *options);
      if (!fetched) {
        const auto& e = fetched.error();
        switch (e.kind) {
          case adapters::ElicenseError::Kind::not_an_elicense: return error(422, "invalid", e.message);
          case adapters::ElicenseError::Kind::not_held: return error(409, "upload_instead", e.message);
          case adapters::ElicenseError::Kind::library:
            spdlog::warn("request {}: e-license {} of case {}: {}", context.request_id, material, masked(case_id), e.message);
            return error(503, "try_again", e.message);
          case adapters::ElicenseError::Kind::engine:
            if (e.engine_error) return engine_error(*e.engine_error);
            break;
        }
        return error(500, "internal", "the e-license could not be fetched; the request id is in the server log");
      }
      return json_response(200, command_json(*fetched));
    }
    if (parts[5] == "verify") {
      if (auto d = require(Action::verify_material)) return *d;
      auto object = body();
      if (!object) return *failure;
      BodyReader reader(*object);
      const auto accept = reader.boolean("accept", true);
      const auto reason = reader.text("reason");
      if (!reader.ok()) return bad_fields(reader);
      auto view = load_case(case_id, denied);
      if (!view) return *denied;
      const auto m = view->workflow->find_material(material);
      if (!m) return error(404, "not_found", "no material '" + material + "' in this bundle");
      if (user.role == Role::reviewer) {
        const auto& wf = *view->workflow;
        const auto& consumers = wf.materials[*m].consumers;
        const bool mine = std::any_of(consumers.begin(), consumers.end(),
                                      [&](engine::ItemIndex i) { return wf.departments[wf.items[i].department].id == user.department; });
        if (!mine) return forbidden("no item of department " + user.department + " needs material " + material);
      }
      return run_command(case_id, engine::VerifyMaterial{material, *accept, reason.value_or("")});
    }
  }
  return std::nullopt;
}

// Item events and tolerant intake.
std::optional<HttpResponse> Api::Exchange::item_routes() {
  [[maybe_unused]] const User& user = context.caller->user;
  const std::string& case_id = parts[2];
  [[maybe_unused]] std::optional<HttpResponse> denied;
  if (n == 7 && parts[3] == "items" && parts[5] == "events" && method == "POST") {
    if (auto d = require(Action::fire_event)) return *d;
    auto object = body();
    if (!object) return *failure;
    BodyReader reader(*object);
    const auto fields = reader.scalars("fields");
    if (!reader.ok()) return bad_fields(reader);
    auto view = load_case(case_id, denied);
    if (!view) return *denied;
    const auto item = view->workflow->find_item(parts[4]);
    if (!item) return error(404, "not_found", "no item '" + parts[4] + "' in this bundle");
    if (user.role == Role::reviewer && view->items[*item].department != user.department) {
      return forbidden("item " + parts[4] + " belongs to department " + view->items[*item].department + ", not " + user.department);
    }
    return run_command(case_id, engine::FireEvent{parts[4], parts[6], fields.value_or(std::map<std::string, std::string>{})});
  }
  if (n == 6 && parts[3] == "items" && parts[5] == "tolerant-intake" && method == "POST") {
    if (auto d = require(Action::tolerant_intake)) return *d;
    auto object = body();
    if (!object) return *failure;
    BodyReader reader(*object);
    const auto pending = reader.strings("pending", true);
    const auto event = reader.text("event");
    const auto fields = reader.scalars("fields");
    if (!reader.ok()) return bad_fields(reader);
    if (!load_case(case_id, denied)) return *denied;
    return run_command(case_id, engine::TolerantIntake{parts[4], *pending, event.value_or("accept"), fields.value_or(std::map<std::string, std::string>{})});
  }
  return std::nullopt;
}

// The case's adapter calls; parked ones retried or resolved by hand.
std::optional<HttpResponse> Api::Exchange::case_call_routes() {
  [[maybe_unused]] const User& user = context.caller->user;
  const std::string& case_id = parts[2];
  [[maybe_unused]] std::optional<HttpResponse> denied;
  // Adapter calls of the case; parked ones can be retried or resolved by hand. Reviewers
  // see and settle only their department's calls.
  if (is({"api", "cases", "*", "calls"}, "GET")) {
    if (auto d = require(Action::read_calls)) return *d;
    if (!load_case(case_id, denied)) return *denied;
    auto calls = engine_.store().list_outbox(case_id, "", 1000);
    if (!calls) return engine_error(EngineError::from(calls.error()));
    json::array a;
    for (const auto& r : *calls) {
      if (user.role != Role::reviewer || r.department == user.department) a.push_back(views::call_json(r));
    }
    return json_response(200, json::object{{"calls", std::move(a)}});
  }
  if (n == 6 && parts[3] == "calls" && method == "POST" && (parts[5] == "retry" || parts[5] == "resolve")) {
    if (auto d = require(Action::settle_calls)) return *d;
    auto object = body();
    if (!object) return *failure;
    BodyReader reader(*object);
    const auto note = reader.text("note", parts[5] == "resolve");
    if (!reader.ok()) return bad_fields(reader);
    if (!load_case(case_id, denied)) return *denied;
    auto calls = engine_.store().list_outbox(case_id, "", 1000);
    if (!calls) return engine_error(EngineError::from(calls.error()));
    const auto it = std::find_if(calls->begin(), calls->end(), [&](const engine::OutboxRecord& r) { return std::to_string(r.id) == parts[4]; });
    if (it == calls->end()) return error(404, "not_found", "case " + case_id + " has no call " + parts[4]);
    if (user.role == Role::reviewer && it->department != user.department) {
      return forbidden("call " + parts[4] + " goes to department " + it->department + ", not " + user.department);
    }
    if (it->status != "parked") return error(409, "wrong_state", "call " + parts[4] + " is " + it->status + ", not parked");
    auto settled = parts[5] == "retry" ? adapters::retry_parked(engine_.store(), *it, engine_.now())
                                       : adapters::resolve_parked(engine_.store(), *it, *note);
    if (!settled) {
      if (settled.error().kind == engine::StoreError::Kind::invalid) return error(422, "invalid", settled.error().message);
      return engine_error(EngineError::from(settled.error()));
    }
    context.detail = parts[5] + " call " + parts[4] + (note ? ": " + *note : std::string());
    auto updated = engine_.store().list_outbox(case_id, "", 1000);
    if (!updated) return engine_error(EngineError::from(updated.error()));
    for (const auto& r : *updated) {
      if (r.id == it->id) return json_response(200, views::call_json(r));
    }
    return error(500, "internal", "the call vanished after it was updated");
  }
  return std::nullopt;
}

// Pause and resume, withdraw, deliver, rate.
std::optional<HttpResponse> Api::Exchange::case_command_routes() {
  [[maybe_unused]] const User& user = context.caller->user;
  const std::string& case_id = parts[2];
  [[maybe_unused]] std::optional<HttpResponse> denied;
  if (n == 4 && method == "POST") {
    const std::string& verb = parts[3];
    auto object = body();
    if (!object) return *failure;
    BodyReader reader(*object);
    if (verb == "pause" || verb == "resume") {
      if (auto d = require(Action::pause_clock)) return *d;
      const auto item = reader.text("item");
      const auto reason = reader.text("reason", verb == "pause");
      if (!reader.ok()) return bad_fields(reader);
      if (!load_case(case_id, denied)) return *denied;
      if (verb == "pause") return run_command(case_id, engine::PauseClock{item.value_or(""), *reason});
      return run_command(case_id, engine::ResumeClock{item.value_or("")});
    }
    if (verb == "withdraw") {
      if (auto d = require(Action::withdraw)) return *d;
      const auto reason = reader.text("reason");
      if (!reader.ok()) return bad_fields(reader);
      if (!load_case(case_id, denied)) return *denied;
      return run_command(case_id, engine::Withdraw{reason.value_or("")});
    }
    if (verb == "deliver") {
      if (auto d = require(Action::deliver)) return *d;
      const auto channel = reader.text("channel", true);
      if (!reader.ok()) return bad_fields(reader);
      if (!load_case(case_id, denied)) return *denied;
      return run_command(case_id, engine::Deliver{*channel});
    }
    if (verb == "rate") {
      if (auto d = require(Action::rate)) return *d;
      const auto level = reader.integer("level", true);
      const auto comment = reader.text("comment");
      if (!reader.ok()) return bad_fields(reader);
      if (*level < 1 || *level > 5) return error(422, "invalid", "a rating level is 1 to 5");
      if (!load_case(case_id, denied)) return *denied;
      return run_command(case_id, engine::Rate{static_cast<int>(*level), comment.value_or("")});
    }
  }
  return std::nullopt;
}

std::optional<HttpResponse> Api::Exchange::call_routes() {
  [[maybe_unused]] Caller& caller = *context.caller;
  [[maybe_unused]] const User& user = caller.user;
  // ---- adapter calls across cases (e.g. every parked one)
  if (is({"api", "calls"}, "GET")) {
    if (auto denied = require(Action::read_calls)) return *denied;
    std::int64_t limit = 100;
    if (auto bad = query_number("limit", limit, 1, 1000)) return *bad;
    const std::string status = request.query.count("status") ? request.query.at("status") : "";
    auto calls = engine_.store().list_outbox("", status, static_cast<std::size_t>(limit));
    if (!calls) return engine_error(EngineError::from(calls.error()));
    json::array a;
    for (const auto& r : *calls) {
      if (user.role != Role::reviewer || r.department == user.department) a.push_back(views::call_json(r));
    }
    return json_response(200, json::object{{"calls", std::move(a)}});
  }

  return std::nullopt;
}

std::optional<HttpResponse> Api::Exchange::worklist_routes() {
  [[maybe_unused]] Caller& caller = *context.caller;
  [[maybe_unused]] const User& user = caller.user;
  // ---- a department's answer to a call, posted by its system (docs/adapters.md §3), which
  // authenticates with the API token of its department_system account
  if (is({"api", "receipts"}, "POST")) {
    if (auto denied = require(Action::post_receipts)) return *denied;
    if (request.body.size() > options_.max_material_bytes) {
      return error(413, "body_too_large", "a receipt is at most " + std::to_string(options_.max_material_bytes) + " bytes");
    }
    auto receipt = adapters::parse_receipt_json(request.body);
    if (!receipt) return error(400, "invalid_request", "not a receipt: " + receipt.error());
    std::optional<HttpResponse> denied;
    if (!load_case(receipt->case_id, denied)) return *denied;
    // The sender is the account that authenticated, bound to its department; the shared apply
    // path decides what it may answer and attach (the exchange folders' receipts obey the same).
    const adapters::ReceiptSender sender{user.name, user.department};
    auto applied = adapters::apply_result(engine_, *receipt, sender, options_.result_mapping);
    if (!applied) {
      if (applied.error().not_allowed) return forbidden(applied.error().message);
      if (applied.error().permanent) return error(422, "invalid", applied.error().message);
      return error(503, "try_again", applied.error().message);
    }
    json::array commands, notes;
    for (const auto& c : applied->commands) commands.push_back(json::string(c));
    for (const auto& note : applied->notes) notes.push_back(json::string(masked(note)));
    context.detail = std::to_string(applied->commands.size()) + " commands from system:" + user.name;
    return json_response(200, json::object{{"case_id", receipt->case_id}, {"commands", std::move(commands)}, {"notes", std::move(notes)}});
  }

  // ---- worklist
  if (is({"api", "worklist"}, "GET")) {
    if (auto denied = require(Action::read_worklist)) return *denied;
    engine::CaseQuery query;
    std::int64_t limit = 100, offset = 0;
    if (auto bad = query_number("limit", limit, 1, 1000)) return *bad;
    if (auto bad = query_number("offset", offset, 0, kMaxOffset)) return *bad;
    query.limit = static_cast<std::size_t>(limit);
    query.offset = static_cast<std::size_t>(offset);
    if (auto it = request.query.find("bundle"); it != request.query.end()) query.bundle_id = it->second;
    if (auto it = request.query.find("department"); it != request.query.end()) query.department = it->second;
    if (user.role == Role::reviewer) {
      if (query.department && *query.department != user.department) return forbidden("reviewers see only their department's worklist");
      query.department = user.department;
    }
    auto entries = engine_.worklist(query);
    if (!entries) return engine_error(entries.error());
    json::array a;
    for (const auto& e : *entries) {
      // Titles from the newest version, for people (a renamed item keeps its id).
      const auto wf = engine_.workflow(e.bundle_id);
      a.push_back(views::worklist_entry_json(e, wf.get()));
    }
    return json_response(200, json::object{{"entries", std::move(a)}});
  }

  return std::nullopt;
}

std::optional<HttpResponse> Api::Exchange::workflow_routes() {
  [[maybe_unused]] Caller& caller = *context.caller;
  [[maybe_unused]] const User& user = caller.user;
  // ---- workflows
  if (is({"api", "workflows"}, "GET")) {
    if (auto denied = require(Action::list_workflows)) return *denied;
    auto list = engine_.workflows();
    if (!list) return engine_error(list.error());
    json::array a;
    for (const auto& w : *list) {
      const auto wf = engine_.workflow(w.bundle_id, w.version);
      a.push_back(json::object{{"bundle", w.bundle_id}, {"version", w.version}, {"title", wf ? wf->title : std::string()},
                               {"source_hash", w.source_hash}, {"deployed_at", views::format_time(w.deployed_at)}, {"cases", w.cases}});
    }
    return json_response(200, json::object{{"workflows", std::move(a)}});
  }
  if (is({"api", "workflows", "*"}, "GET")) {
    if (auto denied = require(Action::list_workflows)) return *denied;
    const auto wf = engine_.workflow(parts[2]);
    if (!wf) return error(404, "not_found", "no bundle '" + parts[2] + "' is deployed");
    return json_response(200, views::workflow_json(*wf));
  }
  // The one material list for a situation: what the intake page shows as the clerk types.
  if (is({"api", "workflows", "*", "materials"}, "POST")) {
    if (auto denied = require(Action::start_case)) return *denied;
    const auto wf = engine_.workflow(parts[2]);
    if (!wf) return error(404, "not_found", "no bundle '" + parts[2] + "' is deployed");
    auto object = body();
    if (!object) return *failure;
    BodyReader reader(*object);
    const auto form = reader.scalars("form", false);
    if (!reader.ok()) return bad_fields(reader);
    // A preview case: the answers given so far (values that do not parse yet are left out)
    // and the defaults; conditions on questions not answered yet do not hold.
    engine::Case preview;
    preview.slots.assign(wf->scope().slot_count(), dsl::Value{});
    for (const auto& f : wf->fields) {
      if (f.default_value) preview.slots[f.slot] = *f.default_value;
      if (!form) continue;
      if (const auto it = form->find(f.name); it != form->end() && !it->second.empty()) {
        if (auto value = engine::parse_field_value(*wf, f.name, it->second)) preview.slots[f.slot] = std::move(*value);
      }
    }
    const auto& calendar = engine_.calendar_of(*wf);
    const dsl::Environment environment{preview.slots, engine::day_of(engine_.now() / 60'000), &calendar};
    std::vector<bool> needed(wf->materials.size(), false);
    for (const auto& item : wf->items) {
      if (item.when && !item.when->holds(environment)) continue;
      for (const auto m : item.needs) needed[m] = true;
    }
    json::array materials;
    for (engine::MaterialIndex m = 0; m < wf->materials.size(); ++m) {
      const auto& material = wf->materials[m];
      // What an item of the bundle issues is not the applicant's to bring.
      if (!needed[m] || material.producer || !engine::material_applies(*wf, preview, m)) continue;
      materials.push_back(json::object{{"material", material.id}, {"title", material.title}, {"secondary", material.secondary},
                                       {"original", material.original},
                                       {"source", material.source == engine::MaterialSource::elicense ? "elicense" : "upload"}});
    }
    return json_response(200, json::object{{"bundle", wf->bundle_id}, {"materials", std::move(materials)}});
  }
  if (is({"api", "workflows"}, "POST")) {
    if (auto denied = require(Action::deploy_workflows)) return *denied;
    auto object = body();
    if (!object) return *failure;
    BodyReader reader(*object);
    const auto files = reader.scalars("files", true);
    const auto roots = reader.strings("roots");
    if (!reader.ok()) return bad_fields(reader);
    if (files->empty()) return error(422, "invalid", "files is empty: send every workflow file (path -> text)");
    std::vector<std::string> root_list;
    if (roots) root_list = *roots;
    else for (const auto& [path, text] : *files) root_list.push_back(path);
    context.target = "workflows";
    auto report = engine_.deploy_sources(std::map<std::string, std::string>(files->begin(), files->end()), root_list);
    if (!report) return engine_error(report.error());
    json::array bundles, warnings;
    for (const auto& b : report->bundles) {
      bundles.push_back(json::object{{"bundle", b.bundle_id}, {"version", b.version}, {"source_hash", b.source_hash}, {"new_version", b.new_version}});
    }
    for (const auto& w : report->warnings) warnings.push_back(json::string(dsl::render_text(w)));
    context.detail = std::to_string(report->bundles.size()) + " bundles";
    return json_response(200, json::object{{"bundles", std::move(bundles)}, {"warnings", std::move(warnings)}});
  }

  return std::nullopt;
}

std::optional<HttpResponse> Api::Exchange::timer_routes() {
  [[maybe_unused]] Caller& caller = *context.caller;
  [[maybe_unused]] const User& user = caller.user;
  // ---- timers
  if (is({"api", "timers"}, "GET")) {
    if (auto denied = require(Action::read_timers)) return *denied;
    std::int64_t limit = 100;
    Timestamp before = engine_.now();
    if (auto bad = query_number("limit", limit, 1, 1000)) return *bad;
    if (auto bad = query_number("before", before, 0, kMaxTimestamp)) return *bad;
    auto timers = engine_.store().due_timers(before, static_cast<std::size_t>(limit));
    if (!timers) return engine_error(EngineError::from(timers.error()));
    json::array a;
    for (const auto& t : *timers) {
      a.push_back(views::timer_json(t));
    }
    return json_response(200, json::object{{"timers", std::move(a)}});
  }
  if (is({"api", "timers", "fire"}, "POST")) {
    if (auto denied = require(Action::fire_timers)) return *denied;
    auto fired = engine_.fire_due_timers();
    if (!fired) return engine_error(fired.error());
    return json_response(200, json::object{{"fired", *fired}});
  }

  return std::nullopt;
}

std::optional<HttpResponse> Api::Exchange::user_routes() {
  [[maybe_unused]] Caller& caller = *context.caller;
  [[maybe_unused]] const User& user = caller.user;
  // ---- users
  if (is({"api", "users"}, "GET")) {
    if (auto denied = require(Action::manage_users)) return *denied;
    auto users = accounts_.users();
    if (!users) return account_error(users.error());
    json::array a;
    for (const auto& u : *users) a.push_back(user_json(u));
    return json_response(200, json::object{{"users", std::move(a)}});
  }
  if (is({"api", "users"}, "POST")) {
    if (auto denied = require(Action::manage_users)) return *denied;
    auto object = body();
    if (!object) return *failure;
    BodyReader reader(*object);
    const auto name = reader.text("name", true);
    const auto display_name = reader.text("display_name");
    const auto role_text = reader.text("role", true);
    const auto department = reader.text("department");
    const auto password = reader.text("password");
    if (!reader.ok()) return bad_fields(reader);
    const auto role = parse_role(*role_text);
    if (!role) return error(422, "invalid", std::string(kRoleChoices));
    // A department system never logs in: without a password given, it gets a random one no one knows.
    if (!password && *role != Role::department_system) {
      return error(400, "invalid_request", "the body has fields of the wrong type or misses required ones",
                   json::object{{"fields", json::array{json::object{{"field", "password"}, {"message", "required: expected a string"}}}}});
    }
    context.target = *name;
    auto hashed = api.hashing_.run([&] {
      return accounts_.create_user(User{*name, display_name.value_or(""), *role, department.value_or(""), false, 0},
                                   password ? *password : random_hex(32), engine_.now());
    });
    if (!hashed) return hashing_busy();
    auto& created = *hashed;
    if (!created) return account_error(created.error());
    return json_response(201, user_json(*created));
  }
  if (is({"api", "users", "*"}, "PATCH")) {
    if (auto denied = require(Action::manage_users)) return *denied;
    auto object = body();
    if (!object) return *failure;
    BodyReader reader(*object);
    AccountStore::UserChange change;
    change.display_name = reader.text("display_name");
    const auto role_text = reader.text("role");
    change.department = reader.text("department");
    change.password = reader.text("password");
    change.disabled = reader.boolean("disabled");
    if (!reader.ok()) return bad_fields(reader);
    if (role_text) {
      change.role = parse_role(*role_text);
      if (!change.role) return error(422, "invalid", std::string(kRoleChoices));
    }
    context.target = parts[2];
    // A new password is hashed on the hashing pool; other changes need no hashing.
    auto hashed = change.password ? api.hashing_.run([&] { return accounts_.update_user(parts[2], change); })
                                  : std::optional(accounts_.update_user(parts[2], change));
    if (!hashed) return hashing_busy();
    auto& updated = *hashed;
    if (!updated) return account_error(updated.error());
    return json_response(200, user_json(*updated));
  }

  return std::nullopt;
}

std::optional<HttpResponse> Api::Exchange::token_routes() {
  [[maybe_unused]] Caller& caller = *context.caller;
  [[maybe_unused]] const User& user = caller.user;
  // ---- API tokens: everyone manages their own; admins everyone's
  if (is({"api", "tokens"}, "GET")) {
    auto tokens = accounts_.tokens(user.role == Role::admin ? std::nullopt : std::optional(user.name));
    if (!tokens) return account_error(tokens.error());
    json::array a;
    for (const auto& t : *tokens) a.push_back(token_json(t));
    return json_response(200, json::object{{"tokens", std::move(a)}});
  }
  if (is({"api", "tokens"}, "POST")) {
    auto object = body();
    if (!object) return *failure;
    BodyReader reader(*object);
    const auto name = reader.text("name", true);
    const auto scope = reader.text("scope", true);
    const auto for_user = reader.text("user");
    if (!reader.ok()) return bad_fields(reader);
    const std::string owner = for_user.value_or(user.name);
    if (owner != user.name && user.role != Role::admin) return forbidden("only admins create tokens for other users");
    if (user.role == Role::department_system) return forbidden("an admin creates a department system's tokens");
    if (caller.via_token) return forbidden("an API token cannot create tokens");
    context.target = owner;
    auto created = accounts_.create_token(owner, *name, *scope, engine_.now());
    if (!created) return account_error(created.error());
    auto j = token_json(created->first);
    j["token"] = created->second;
    return json_response(201, j);
  }
  if (is({"api", "tokens", "*"}, "DELETE")) {
    std::int64_t id = 0;
    const auto [end, ec] = std::from_chars(parts[2].data(), parts[2].data() + parts[2].size(), id);
    if (ec != std::errc() || end != parts[2].data() + parts[2].size()) return error(400, "invalid_request", "a token id is a number");
    auto token = accounts_.token(id);
    if (!token) return account_error(token.error());
    if (!*token || ((*token)->user != user.name && user.role != Role::admin)) return error(404, "not_found", "no token " + parts[2]);
    context.target = (*token)->user;
    if (auto ok = accounts_.revoke_token(id, engine_.now()); !ok) return account_error(ok.error());
    return json_response(200, json::object{{"revoked", id}});
  }

  return std::nullopt;
}

std::optional<HttpResponse> Api::Exchange::report_routes() {
  [[maybe_unused]] Caller& caller = *context.caller;
  [[maybe_unused]] const User& user = caller.user;
  // ---- service figures (the supervisor's dashboard)
  if (is({"api", "report"}, "GET")) {
    if (auto denied = require(Action::read_report)) return *denied;
    engine::ReportPeriod period;
    for (const auto& [key, bound, next_day] : {std::tuple{"from", &period.from, false}, std::tuple{"to", &period.to, true}}) {
      const auto it = request.query.find(key);
      if (it == request.query.end() || it->second.empty()) continue;
      const auto date = dsl::parse_civil_date(it->second);
      if (!date) return error(400, "invalid_request", std::string(key) + " is a date YYYY-MM-DD");
      *bound = (dsl::days_from_civil(*date) + (next_day ? 1 : 0)) * 24 * 60 * 60'000;
    }
    auto report = engine::service_report(engine_, period);
    if (!report) return engine_error(report.error());
    return json_response(200, views::report_json(*report));
  }

  return std::nullopt;
}

std::optional<HttpResponse> Api::Exchange::audit_routes() {
  [[maybe_unused]] Caller& caller = *context.caller;
  [[maybe_unused]] const User& user = caller.user;
  // ---- audit trail
  if (is({"api", "audit"}, "GET")) {
    if (auto denied = require(Action::read_audit)) return *denied;
    std::int64_t limit = 100, offset = 0;
    if (auto bad = query_number("limit", limit, 1, 1000)) return *bad;
    if (auto bad = query_number("offset", offset, 0, kMaxOffset)) return *bad;
    std::optional<std::string> target;
    if (auto it = request.query.find("target"); it != request.query.end()) target = it->second;
    auto records = accounts_.audit(static_cast<std::size_t>(limit), static_cast<std::size_t>(offset), target);
    if (!records) return account_error(records.error());
    json::array a;
    for (const auto& r : *records) a.push_back(audit_json(r));
    return json_response(200, json::object{{"records", std::move(a)}});
  }
  // Records past their retention go; the pruning itself is a record, which this call cannot
  // remove (it is younger than any cutoff allowed).
  if (is({"api", "audit", "prune"}, "POST")) {
    if (auto denied = require(Action::prune_audit)) return *denied;
    auto object = body();
    if (!object) return *failure;
    BodyReader reader(*object);
    const auto before_text = reader.text("before", true);
    if (!reader.ok()) return bad_fields(reader);
    context.target = "audit";
    const auto date = dsl::parse_civil_date(*before_text);
    if (!date) return error(400, "invalid_request", "before is a date YYYY-MM-DD");
    const Timestamp before = dsl::days_from_civil(*date) * 24 * 60 * 60'000;
    const Timestamp now = engine_.now();
    // Whole days: the latest `before` allowed is the day on which the retention ends.
    const auto latest_day = (now - options_.audit_retention) / (24 * 60 * 60'000);
    if (dsl::days_from_civil(*date) > latest_day) {
      const auto latest = dsl::civil_from_days(latest_day);
      char text[16];
      std::snprintf(text, sizeof text, "%04d-%02d-%02d", latest.year, latest.month, latest.day);
      return error(422, "invalid",
                   "the audit trail keeps records for " + std::to_string(options_.audit_retention / (24 * 60 * 60'000)) +
                       " days: before is " + text + " at the latest",
                   json::object{{"latest_before", text}});
    }
    std::int64_t removed = 0;
    auto pruned = accounts_.prune_audit(before, [&](const PrunedAudit& what) {
      removed = what.count;
      AuditRecord record;
      record.at = now;
      record.actor = user.name;
      record.role = std::string(to_string(user.role));
      record.remote_address = request.remote_address;
      record.action = "POST /api/audit/prune";
      record.target = "audit";
      record.outcome = "ok";
      record.detail = "pruned " + std::to_string(what.count) + " records before " + *before_text +
                      (what.count > 0 ? " (recorded " + views::format_time(what.first_at) + " to " + views::format_time(what.last_at) + ")" : "");
      return record;
    });
    if (!pruned) return account_error(pruned.error());
    context.audited = true;
    return json_response(200, json::object{{"pruned", removed}, {"record", audit_json(*pruned)}});
  }

  return std::nullopt;
}

HttpResponse Api::route(const HttpRequest& request, Context& context) {
  Exchange exchange(*this, request, context);
  return exchange.answer();
}

HttpResponse Api::serve_static(const HttpRequest& request, Context& context) {
  auto error = [&](unsigned status, std::string code, std::string message) {
    context.outcome = code;
    return json_response(status, json::object{{"code", code}, {"message", message}, {"details", json::object{{"request_id", context.request_id}}}});
  };
  if (!is_get(request)) return error(404, "no_route", "no route " + request.method + " " + dsl::truncate_utf8(request.path, 200));
  if (options_.console_dir.empty()) return error(404, "not_found", "no web console is installed");
  // Only plain names: no "..", no ".", no backslashes, no NUL. Then the resolved path must
  // still lie inside the console folder (symlinks included).
  const auto parts = split_path(request.path);
  for (const auto& p : parts) {
    if (p == ".." || p == "." || p.find('\\') != std::string::npos || p.find('\0') != std::string::npos || p.front() == '.') {
      return error(404, "not_found", "no such file");
    }
  }
  std::filesystem::path relative;
  for (const auto& p : parts) relative /= p;
  if (parts.empty()) relative = "index.html";
  std::error_code ec;
  const auto root = std::filesystem::weakly_canonical(options_.console_dir, ec);
  auto path = std::filesystem::weakly_canonical(root / relative, ec);
  if (ec) return error(404, "not_found", "no such file");
  const auto [root_end, path_it] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  if (root_end != root.end()) return error(404, "not_found", "no such file");
  if (std::filesystem::is_directory(path, ec)) path /= "index.html";
  if (!std::filesystem::is_regular_file(path, ec)) {
    // The console is one page: unknown paths without an extension get index.html.
    if (relative.has_extension()) return error(404, "not_found", "no such file");
    path = root / "index.html";
    if (!std::filesystem::is_regular_file(path, ec)) return error(404, "not_found", "no such file");
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  HttpResponse r{200, content_type_for(path), {}, buffer.str()};
  r.headers.emplace_back("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'");
  return r;
}

}  // namespace onevisit::server
