#include "exchange.hpp"

#include <onevisit/adapters/adapter.hpp>
#include <onevisit/dsl/diagnostic.hpp>
#include <onevisit/dsl/personal_numbers.hpp>
#include <onevisit/dsl/source.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

namespace onevisit::server {

using engine::EngineError;
using engine::Rejection;

HttpResponse json_response(unsigned status, const json::value& body) {
  return HttpResponse{status, std::string(kJsonContentType), {}, json::serialize(body)};
}

std::string masked(std::string_view text) { return adapters::mask_identifiers(text); }
std::string masked(std::string_view text, std::size_t max_bytes) { return dsl::truncate_utf8(masked(text), max_bytes); }

bool safe_token(std::string_view text, std::size_t max) {
  if (text.empty() || text.size() > max) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':';
  });
}

bool is_utf8(std::string_view text) { return dsl::find_invalid_utf8(text) == std::string_view::npos; }

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

bool is_get(const HttpRequest& r) { return r.method == "GET" || r.method == "HEAD"; }

bool has_chinese(std::string_view text) {
  // Every CJK ideograph of the basic block starts with E4..E9 in UTF-8.
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b >= 0xE4 && b <= 0xE9;
  });
}

std::string chinese_or(const std::string& message, std::string_view otherwise) {
  return has_chinese(message) ? message : std::string(otherwise);
}

json::object command_json(const engine::CommandResult& r) {
  json::array events;
  for (const auto& e : r.events) events.push_back(json::string(e));
  return json::object{{"case_id", r.case_id}, {"version", r.version}, {"duplicate", r.duplicate}, {"events", std::move(events)}};
}

// ---------------------------------------------------------------------------------------
// BodyReader

// What a member should have been: a code for programs, words for the clerk.
struct Expected {
  std::string_view code;
  std::string_view words;
};

namespace {

constexpr Expected kText{"string", "文字"};
constexpr Expected kInteger{"integer", "整数"};
constexpr Expected kBoolean{"boolean", "是或否（true/false）"};
constexpr Expected kStrings{"strings", "文字列表"};
constexpr Expected kObject{"object", "对象"};
constexpr Expected kScalar{"scalar", "文字、数字或是否"};
constexpr Expected kScalarOrStrings{"scalar_or_strings", "文字、数字、是否或文字列表"};

}  // namespace

std::optional<std::string> BodyReader::text(std::string_view key, bool required) {
  const auto* v = find(key, required, kText);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) return wrong(key, kText);
  return std::string(v->as_string());
}

std::optional<std::int64_t> BodyReader::integer(std::string_view key, bool required) {
  const auto* v = find(key, required, kInteger);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(v->as_uint64());
  return wrong(key, kInteger);
}

std::optional<bool> BodyReader::boolean(std::string_view key, bool required) {
  const auto* v = find(key, required, kBoolean);
  if (v == nullptr) return std::nullopt;
  if (!v->is_bool()) return wrong(key, kBoolean);
  return v->as_bool();
}

std::optional<std::vector<std::string>> BodyReader::strings(std::string_view key, bool required) {
  const auto* v = find(key, required, kStrings);
  if (v == nullptr) return std::nullopt;
  if (!v->is_array()) return wrong(key, kStrings);
  std::vector<std::string> out;
  for (const auto& e : v->as_array()) {
    if (!e.is_string()) return wrong(key, kStrings);
    out.emplace_back(e.as_string());
  }
  return out;
}

std::optional<std::map<std::string, std::string>> BodyReader::scalars(std::string_view key, bool required, bool lists) {
  const auto* v = find(key, required, kObject);
  if (v == nullptr) return std::nullopt;
  if (!v->is_object()) return wrong(key, kObject);
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : v->as_object()) {
    const std::string field = std::string(key) + "." + std::string(name);
    if (value.is_string()) out[std::string(name)] = std::string(value.as_string());
    else if (value.is_bool()) out[std::string(name)] = value.as_bool() ? "true" : "false";
    else if (value.is_int64()) out[std::string(name)] = std::to_string(value.as_int64());
    else if (value.is_uint64()) out[std::string(name)] = std::to_string(value.as_uint64());
    else if (value.is_double()) out[std::string(name)] = json::serialize(value);
    else if (lists && value.is_array()) {
      // A list(enum) value as an array of its members' names; as text they read joined by commas.
      std::string joined;
      bool all_strings = true;
      for (const auto& element : value.as_array()) {
        if (!element.is_string()) all_strings = false;
        else joined += (joined.empty() ? "" : ",") + std::string(element.as_string());
      }
      if (all_strings) out[std::string(name)] = std::move(joined);
      else wrong(field, kScalarOrStrings);
    } else if (!value.is_null()) {
      wrong(field, lists ? kScalarOrStrings : kScalar);
    }
  }
  return out;
}

json::array BodyReader::problems() const {
  json::array a;
  for (const auto& p : problems_) {
    a.push_back(json::object{{"field", p.field}, {"problem", p.problem}, {"expected", p.expected}, {"message", p.message}});
  }
  return a;
}

const json::value* BodyReader::find(std::string_view key, bool required, const Expected& what) {
  const auto* v = object_.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (required) {
      problems_.push_back({std::string(key), "required", std::string(what.code),
                           "缺少必填项「" + std::string(key) + "」，应为" + std::string(what.words)});
    }
    return nullptr;
  }
  return v;
}

std::nullopt_t BodyReader::wrong(std::string_view key, const Expected& what) {
  problems_.push_back({std::string(key), "wrong_type", std::string(what.code), "「" + std::string(key) + "」应为" + std::string(what.words)});
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------
// Exchange

namespace {

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

}  // namespace

Principal Exchange::principal() const {
  const Caller& caller = *record.caller;
  if (caller.applicant) return Principal::applicant(caller.applicant->label(), caller.applicant->owner_keys());
  return Principal::staff(caller.user, caller.via_token, caller.scope);
}

HttpResponse Exchange::error(unsigned status, std::string code, std::string message, json::object details) {
  record.outcome = code;
  record.detail = message;
  details["request_id"] = record.request_id;
  return json_response(status, json::object{{"code", std::move(code)}, {"message", masked(message)}, {"details", std::move(details)}});
}

HttpResponse Exchange::logged(HttpResponse response, const std::string& detail) {
  record.detail = detail;
  return response;
}

HttpResponse with_reason(HttpResponse response, std::string_view reason) {
  if (reason.empty()) return response;
  auto body = json::parse(response.body).as_object();
  body["reason"] = reason;
  response.body = json::serialize(body);
  return response;
}

HttpResponse Exchange::deny(const Denial& denial) {
  auto response = error(denial.status, denial.code, denial.message);
  record.detail = denial.detail;  // English, for the audit trail and the log
  return response;
}

std::optional<HttpResponse> Exchange::authorize(Action other, const Target& target) {
  auto allowed = authorizer.may(principal(), other, target);
  if (allowed) return std::nullopt;
  return deny(allowed.error());
}

bool Exchange::allowed(const Target& target) const { return authorizer.may(principal(), action.value(), target).has_value(); }

HttpResponse Exchange::engine_error(const EngineError& e) {
  if (e.kind == EngineError::Kind::rejected && e.rejection) {
    const Rejection& r = *e.rejection;
    unsigned status = 422;
    const auto code = rejection_http_code(r.code, status);
    json::array fields;
    for (const auto& f : r.field_errors) fields.push_back(json::object{{"field", f.field}, {"message", masked(f.message)}});
    json::object facts;
    for (const auto& [name, ids] : r.details) {
      json::array values;
      for (const auto& id : ids) values.push_back(json::string(masked(id)));
      facts[name] = std::move(values);
    }
    // The English detail is for developers: the log and the audit trail, never the answer.
    if (!r.detail.empty()) spdlog::info("request {}: refused: {}", record.request_id, masked(r.detail));
    auto response = error(status, std::string(code), e.message, json::object{{"facts", std::move(facts)}, {"fields", std::move(fields)}});
    if (!r.detail.empty()) record.detail = r.detail;
    return with_reason(std::move(response), r.reason);
  }
  switch (e.kind) {
    case EngineError::Kind::unavailable: return unavailable(e.message);
    case EngineError::Kind::not_found: return logged(error(404, "not_found", chinese_or(e.message, "要找的办件或记录不存在")), e.message);
    case EngineError::Kind::invalid_workflow: {
      json::array diagnostics;
      for (const auto& d : e.diagnostics) diagnostics.push_back(json::string(dsl::render_text(d)));
      return error(422, "invalid_workflow", "流程文件有错误，未部署（详见 diagnostics）", json::object{{"diagnostics", std::move(diagnostics)}});
    }
    case EngineError::Kind::invalid: return logged(error(422, "invalid", chinese_or(e.message, "请求的内容不符合要求")), e.message);
    default:
      spdlog::error("request {}: {}", record.request_id, masked(e.message));
      return error(500, "internal", "办件数据库出错，请稍后再试；如仍出错，请把请求编号告诉管理员");
  }
}

HttpResponse Exchange::unavailable(const std::string& why) {
  spdlog::warn("request {}: the database is unavailable: {}", record.request_id, masked(why));
  auto response = logged(error(503, "unavailable", unavailable_message()), why);
  response.headers.emplace_back("Retry-After", "1");
  return response;
}

HttpResponse Exchange::account_error(const AccountError& e) {
  switch (e.kind) {
    case AccountError::Kind::unavailable: return unavailable(e.message);
    case AccountError::Kind::not_found: return logged(error(404, "not_found", chinese_or(e.message, "没有这个用户或令牌")), e.message);
    case AccountError::Kind::conflict: return logged(error(409, "conflict", chinese_or(e.message, "已有同名的用户或令牌")), e.message);
    case AccountError::Kind::invalid: return logged(error(422, "invalid", chinese_or(e.message, "用户信息不符合要求")), e.message);
    default:
      spdlog::error("request {}: {}", record.request_id, masked(e.message));
      return error(500, "internal", "账户数据库出错，请稍后再试；如仍出错，请把请求编号告诉管理员");
  }
}

std::optional<json::object> Exchange::body() {
  if (request.body.size() > options.max_json_bytes) {
    failure = error(413, "body_too_large", "请求内容太大：最多 " + std::to_string(options.max_json_bytes) + " 字节",
                    json::object{{"limit_bytes", options.max_json_bytes}});
    return std::nullopt;
  }
  if (request.body.empty()) return json::object{};
  boost::system::error_code ec;
  auto parsed = json::parse(request.body, ec);
  if (ec) {
    record.detail = "the body is not JSON: " + ec.message();
    failure = error(400, "malformed_json", "请求内容不是有效的 JSON");
    return std::nullopt;
  }
  if (!parsed.is_object()) {
    failure = error(400, "invalid_request", "请求内容应为 JSON 对象", json::object{{"problem", "not_an_object"}});
    return std::nullopt;
  }
  return std::move(parsed.as_object());
}

HttpResponse Exchange::bad_fields(const BodyReader& reader) {
  return error(400, "invalid_request", "请求内容有缺项或类型不对：见各项说明", json::object{{"fields", reader.problems()}});
}

std::optional<engine::CommandOptions> Exchange::command_options() {
  const User& caller = user();
  engine::CommandOptions o;
  o.actor = caller.name;
  o.role = std::string(engine_role(caller.role));
  // An applicant acts in the lifecycles' role `applicant`, recorded by their masked label.
  if (record.caller->applicant) o.role = "applicant";
  // The core keeps a reviewer's clock control to their department's items.
  if (bound_to_department(caller.role)) o.department = caller.department;
  const std::string key = request.header("idempotency-key");
  if (!key.empty()) {
    if (!safe_token(key, 100)) return std::nullopt;
    // Scoped by user: two callers cannot collide, or replay each other's results. An
    // applicant's label is masked (two could share it): their first key, hashed, scopes it.
    const std::string scope = record.caller->applicant ? "applicant-" + sha256_hex(principal().owner_keys.front()).substr(0, 24) : caller.name;
    o.command_id = "http:" + scope + ":" + key;
  }
  return o;
}

HttpResponse Exchange::bad_key() {
  return error(400, "invalid_request", "Idempotency-Key 应为 1 到 100 个字母、数字或 - _ . :",
               json::object{{"header", "Idempotency-Key"}, {"problem", "malformed"}});
}

Target case_target(const engine::CaseView& view) {
  std::vector<std::string> departments;
  for (const auto& row : view.items) departments.push_back(row.department);
  // The departments of a joint item's parts take part in the case as well (联办).
  for (const auto& item : view.workflow->items) {
    for (const auto d : item.joint) departments.push_back(view.workflow->departments[d].id);
  }
  // Its applicants: whoever proved a number its form names (applicant.hpp).
  return Target::a_case(view.state.id, std::move(departments), case_owner_keys(*view.workflow, view.state));
}

std::optional<engine::CaseView> Exchange::load_case(const std::string& case_id) {
  record.target = case_id;
  auto view = engine.get_case(case_id);
  if (!view) {
    failure = engine_error(view.error());
    return std::nullopt;
  }
  if (auto denied = authorize(case_target(*view))) {
    failure = std::move(denied);
    return std::nullopt;
  }
  return std::move(*view);
}

HttpResponse Exchange::run_command(const std::string& case_id, engine::CommandBody command) {
  auto options = command_options();
  if (!options) return bad_key();
  auto result = engine.execute(case_id, std::move(command), *options);
  if (!result) return engine_error(result.error());
  return json_response(200, command_json(*result));
}

HttpResponse Exchange::hashing_busy() {
  auto r = error(503, "try_again", "登录的人太多，请一秒后再试");
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

std::optional<HttpResponse> Exchange::query_number(std::string_view name, std::int64_t& value, std::int64_t min, std::int64_t max) {
  const auto it = request.query.find(std::string(name));
  if (it == request.query.end()) return std::nullopt;
  const std::string& text = it->second;
  std::int64_t parsed = 0;
  // from_chars alone would take a leading '-'; digits only, and overflow is an error.
  const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (!digits || ec != std::errc() || end != text.data() + text.size() || parsed < min || parsed > max) {
    return error(400, "invalid_request",
                 "查询参数 " + std::string(name) + " 应为 " + std::to_string(min) + " 到 " + std::to_string(max) + " 之间的整数",
                 json::object{{"parameter", std::string(name)}, {"min", min}, {"max", max}});
  }
  value = parsed;
  return std::nullopt;
}

std::optional<HttpResponse> Exchange::read_listing(engine::CaseQuery& query, std::int64_t default_limit, std::int64_t max_limit,
                                                   std::string_view what) {
  std::int64_t limit = default_limit, offset = 0;
  if (auto bad = query_number("limit", limit, 1, max_limit)) return bad;
  if (auto bad = query_number("offset", offset, 0, kMaxOffset)) return bad;
  query.limit = static_cast<std::size_t>(limit);
  query.offset = static_cast<std::size_t>(offset);
  query.bundle_id = this->query("bundle");
  query.department = this->query("department");
  if (query.department) {
    if (auto denied = authorize(Target::department(*query.department, std::string(what) + " of department " + *query.department))) return denied;
  }
  if (auto own = only_department()) query.department = *own;
  return std::nullopt;
}

std::optional<std::string> Exchange::query(const std::string& name) const {
  const auto it = request.query.find(name);
  if (it == request.query.end()) return std::nullopt;
  return it->second;
}

}  // namespace onevisit::server
