#include "api.hpp"

#include "exchange.hpp"
#include "routes.hpp"

#include <onevisit/dsl/personal_numbers.hpp>
#include <onevisit/dsl/source.hpp>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace onevisit::server {

namespace {

// Every part of the target the routes read (the decoded path, query names and values) is UTF-8;
// anything else would reach JSON answers, the audit trail and the log as broken text.
bool target_is_utf8(const HttpRequest& request) {
  if (!is_utf8(request.path)) return false;
  return std::all_of(request.query.begin(), request.query.end(),
                     [](const auto& parameter) { return is_utf8(parameter.first) && is_utf8(parameter.second); });
}

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

// An error answered before a route's handler runs (authentication, no route).
HttpResponse early_error(RequestRecord& record, unsigned status, std::string code, std::string message) {
  record.outcome = code;
  record.detail = message;
  return json_response(status, json::object{{"code", std::move(code)}, {"message", masked(message)},
                                            {"details", json::object{{"request_id", record.request_id}}}});
}

// The database could not be reached (a failover, a restart): 503, to be retried.
HttpResponse unavailable(RequestRecord& record, const std::string& why) {
  spdlog::warn("request {}: the database is unavailable: {}", record.request_id, masked(why));
  auto response = early_error(record, 503, "unavailable", unavailable_message());
  response.headers.emplace_back("Retry-After", "1");
  return response;
}

}  // namespace

Api::Api(engine::Engine& engine, AccountStore& accounts, ApiOptions options)
    : engine_(engine),
      accounts_(accounts),
      options_(std::move(options)),
      throttle_(options_.login_throttle, accounts_),
      code_throttle_(options_.code_throttle, accounts_),
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
  } else if (head.path.rfind("/api/applicant/", 0) == 0) {
    // An applicant uploads materials too.
    if (const auto session = cookie(head, "ov_applicant"); !session.empty()) {
      const auto found = accounts_.find_applicant_session(session, engine_.now());
      known = found && *found;
    }
  } else if (const auto session = cookie(head, "ov_session"); !session.empty()) {
    const auto found = accounts_.find_session(session, engine_.now());
    known = found && *found;
  }
  return known ? std::max(options_.max_json_bytes, options_.max_material_bytes)
               : options_.max_unauthenticated_body_bytes;
}

HttpResponse Api::handle(const HttpRequest& request) {
  RequestRecord context;
  refusals_.flush_ended(engine_.now());
  const std::string given_id = request.header("x-request-id");
  context.request_id = safe_token(given_id, 64) ? given_id : random_hex(8);
  HttpResponse response;
  const bool utf8 = target_is_utf8(request);
  try {
    response = utf8 ? route(request, context)
                    : json_response(400, json::object{{"code", "invalid_request"},
                                                      {"message", "请求地址不是有效的 UTF-8"},
                                                      {"details", json::object{}}});
  } catch (const std::exception& e) {
    // A bug, not bad input (bad input is answered by route); one request must not take the
    // service down, and the log ties it to the request id.
    spdlog::error("request {}: {} {}: unexpected exception: {}", context.request_id, request.method,
                  masked(request.path), masked(e.what()));
    context.outcome = "internal";
    response = json_response(500, json::object{{"code", "internal"}, {"message", "服务内部出错，请稍后再试；如仍出错，请把请求编号告诉管理员"},
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
    record.role = context.caller ? (context.caller->applicant ? std::string("applicant") : std::string(to_string(context.caller->user.role))) : "";
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

std::optional<HttpResponse> Api::authenticate(const HttpRequest& request, RequestRecord& record, std::string& session_token) {
  const std::string authorization = request.header("authorization");
  auto account_failure = [&](const AccountError& e) {
    if (e.kind == AccountError::Kind::unavailable) return unavailable(record, e.message);
    spdlog::error("request {}: {}", record.request_id, masked(e.message));
    return early_error(record, 500, "internal", "账户数据库出错，请稍后再试；如仍出错，请把请求编号告诉管理员");
  };
  if (authorization.rfind("Bearer ", 0) == 0) {
    auto found = accounts_.find_token(authorization.substr(7));
    if (!found) return account_failure(found.error());
    if (!*found) return early_error(record, 401, "unauthenticated", "API 令牌无效或已被撤销");
    record.caller = Caller{(*found)->first, true, (*found)->second.scope, ""};
    return std::nullopt;
  }
  session_token = cookie(request, "ov_session");
  if (session_token.empty()) return early_error(record, 401, "unauthenticated", "请先登录");
  auto found = accounts_.find_session(session_token, engine_.now());
  if (!found) return account_failure(found.error());
  if (!*found) return early_error(record, 401, "session_expired", "登录已过期或已退出，请重新登录");
  record.caller = Caller{(*found)->user, false, "write", (*found)->csrf_token};
  if (!is_get(request)) {
    // Double submit: the header must repeat the readable cookie, and both must be this
    // session's token (a cookie planted by another site cannot match).
    const std::string header = request.header("x-csrf-token");
    if (header.empty() || header != cookie(request, "ov_csrf") || header != record.caller->csrf_token) {
      return early_error(record, 403, "csrf", "页面的安全校验已失效，请刷新页面后再试");
    }
  }
  return std::nullopt;
}

std::optional<HttpResponse> Api::authenticate_applicant(const HttpRequest& request, RequestRecord& record, std::string& session_token) {
  session_token = cookie(request, "ov_applicant");
  if (session_token.empty()) return early_error(record, 401, "unauthenticated", "请先登录");
  auto found = accounts_.find_applicant_session(session_token, engine_.now());
  if (!found) {
    if (found.error().kind == AccountError::Kind::unavailable) return unavailable(record, found.error().message);
    spdlog::error("request {}: {}", record.request_id, masked(found.error().message));
    return early_error(record, 500, "internal", "账户数据库出错，请稍后再试；如仍出错，请把请求编号告诉工作人员");
  }
  if (!*found) return early_error(record, 401, "session_expired", "登录已过期或已退出，请重新登录");
  auto identity = ApplicantIdentity::from_json((*found)->identity_json);
  if (!identity) return early_error(record, 401, "session_expired", "登录已过期或已退出，请重新登录");
  Caller caller;
  caller.user.name = identity->label();
  caller.user.display_name = identity->name.empty() ? identity->label() : identity->name;
  caller.csrf_token = (*found)->csrf_token;
  caller.applicant = std::move(*identity);
  record.caller = std::move(caller);
  if (!is_get(request)) {
    // Double submit, with the applicant's own cookie: a staff page's token is no use here.
    const std::string header = request.header("x-csrf-token");
    if (header.empty() || header != cookie(request, "ov_applicant_csrf") || header != record.caller->csrf_token) {
      return early_error(record, 403, "csrf", "页面的安全校验已失效，请刷新页面后再试");
    }
  }
  return std::nullopt;
}

HttpResponse Api::route(const HttpRequest& request, RequestRecord& record) {
  if (request.body_too_large) {
    record.outcome = "body_too_large";
    record.detail = "the request body is larger than the server accepts";
    return json_response(413, json::object{{"code", "body_too_large"}, {"message", "请求内容太大，服务器不接收"},
                                           {"details", json::object{{"limit_bytes", request.body_limit ? request.body_limit : options_.max_material_bytes},
                                                                    {"request_id", record.request_id}}}});
  }
  if (request.path.rfind("/api/", 0) != 0 && request.path != "/api") return serve_static(request, record);
  auto match = match_route(request.method, request.path);
  const ApiParts parts{engine_, accounts_, options_, throttle_, hashing_, authorizer_, code_throttle_};
  if (match.route && !match.route->action) {
    Exchange open(parts, request, record, std::nullopt, std::move(match.parameters));
    return match.route->handler(open);
  }
  // Strangers learn nothing of the routes: authentication comes before 404 and 405.
  std::string session_token;
  const bool applicant_route = request.path.rfind("/api/applicant/", 0) == 0;
  if (auto refused = applicant_route ? authenticate_applicant(request, record, session_token) : authenticate(request, record, session_token)) {
    return *refused;
  }
  if (!match.route) {
    if (!match.allowed_methods.empty()) {
      std::string allow;
      for (const auto& m : match.allowed_methods) allow += (allow.empty() ? "" : ", ") + m;
      auto r = early_error(record, 405, "method_not_allowed", "这个接口不接受 " + request.method + "，只接受 " + allow);
      r.headers.emplace_back("Allow", allow);
      return r;
    }
    return early_error(record, 404, "no_route", "没有这个接口：" + request.method + " " + dsl::truncate_utf8(request.path, 200));
  }
  if (const auto id = match.parameters.find("id");
      id != match.parameters.end() && (match.route->pattern.starts_with("/api/cases/") || match.route->pattern.starts_with("/api/applicant/cases/"))) {
    record.target = id->second;
  }
  Exchange exchange(parts, request, record, *match.route->action, std::move(match.parameters));
  exchange.session_token = std::move(session_token);
  if (auto denied = exchange.authorize(Target::none())) return *denied;
  return match.route->handler(exchange);
}

HttpResponse Api::serve_static(const HttpRequest& request, RequestRecord& context) {
  auto error = [&](unsigned status, std::string code, std::string message) {
    context.outcome = code;
    return json_response(status, json::object{{"code", code}, {"message", message}, {"details", json::object{{"request_id", context.request_id}}}});
  };
  if (!is_get(request)) return error(404, "no_route", "没有这个接口：" + request.method + " " + dsl::truncate_utf8(request.path, 200));
  // The applicant's pages live under /m/ (a printed notice's QR code opens /m/cases/{case}),
  // the clerk console everywhere else.
  auto parts = split_path(request.path);
  const bool applicant_pages = !parts.empty() && parts.front() == "m";
  if (applicant_pages) parts.erase(parts.begin());
  const auto& folder = applicant_pages ? options_.applicant_dir : options_.console_dir;
  if (folder.empty()) return error(404, "not_found", applicant_pages ? "未安装申请人页面" : "未安装网页控制台");
  // Only plain names: no "..", no ".", no backslashes, no NUL. Then the resolved path must
  // still lie inside the folder (symlinks included).
  for (const auto& p : parts) {
    if (p == ".." || p == "." || p.find('\\') != std::string::npos || p.find('\0') != std::string::npos || p.front() == '.') {
      return error(404, "not_found", "没有这个文件");
    }
  }
  std::filesystem::path relative;
  for (const auto& p : parts) relative /= p;
  if (parts.empty()) relative = "index.html";
  std::error_code ec;
  const auto root = std::filesystem::weakly_canonical(folder, ec);
  auto path = std::filesystem::weakly_canonical(root / relative, ec);
  if (ec) return error(404, "not_found", "没有这个文件");
  const auto [root_end, path_it] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  if (root_end != root.end()) return error(404, "not_found", "没有这个文件");
  if (std::filesystem::is_directory(path, ec)) path /= "index.html";
  if (!std::filesystem::is_regular_file(path, ec)) {
    // The console is one page: unknown paths without an extension get index.html.
    if (relative.has_extension()) return error(404, "not_found", "没有这个文件");
    path = root / "index.html";
    if (!std::filesystem::is_regular_file(path, ec)) return error(404, "not_found", "没有这个文件");
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  HttpResponse r{200, content_type_for(path), {}, buffer.str()};
  // connect-src lets the page call the window PC's ID-card reader on loopback (docs/adapters.md §10).
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                         "connect-src 'self' http://127.0.0.1:* http://localhost:*");
  return r;
}

}  // namespace onevisit::server
