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

json::object command_json(const engine::CommandResult& r) {
  json::array events;
  for (const auto& e : r.events) events.push_back(json::string(e));
  return json::object{{"case_id", r.case_id}, {"version", r.version}, {"duplicate", r.duplicate}, {"events", std::move(events)}};
}

// ---------------------------------------------------------------------------------------
// BodyReader

std::optional<std::string> BodyReader::text(std::string_view key, bool required) {
  const auto* v = find(key, required, "a string");
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) return wrong(key, "a string");
  return std::string(v->as_string());
}

std::optional<std::int64_t> BodyReader::integer(std::string_view key, bool required) {
  const auto* v = find(key, required, "an integer");
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(v->as_uint64());
  return wrong(key, "an integer");
}

std::optional<bool> BodyReader::boolean(std::string_view key, bool required) {
  const auto* v = find(key, required, "true or false");
  if (v == nullptr) return std::nullopt;
  if (!v->is_bool()) return wrong(key, "true or false");
  return v->as_bool();
}

std::optional<std::vector<std::string>> BodyReader::strings(std::string_view key, bool required) {
  const auto* v = find(key, required, "a list of strings");
  if (v == nullptr) return std::nullopt;
  if (!v->is_array()) return wrong(key, "a list of strings");
  std::vector<std::string> out;
  for (const auto& e : v->as_array()) {
    if (!e.is_string()) return wrong(key, "a list of strings");
    out.emplace_back(e.as_string());
  }
  return out;
}

std::optional<std::map<std::string, std::string>> BodyReader::scalars(std::string_view key, bool required) {
  const auto* v = find(key, required, "an object");
  if (v == nullptr) return std::nullopt;
  if (!v->is_object()) return wrong(key, "an object");
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

json::array BodyReader::problems() const {
  json::array a;
  for (const auto& [field, message] : problems_) a.push_back(json::object{{"field", field}, {"message", message}});
  return a;
}

const json::value* BodyReader::find(std::string_view key, bool required, std::string_view what) {
  const auto* v = object_.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (required) problems_.push_back({std::string(key), "required: expected " + std::string(what)});
    return nullptr;
  }
  return v;
}

std::nullopt_t BodyReader::wrong(std::string_view key, std::string_view what) {
  problems_.push_back({std::string(key), "expected " + std::string(what)});
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
  return Principal::staff(caller.user, caller.via_token, caller.scope);
}

HttpResponse Exchange::error(unsigned status, std::string code, std::string message, json::object details) {
  record.outcome = code;
  record.detail = message;
  details["request_id"] = record.request_id;
  return json_response(status, json::object{{"code", std::move(code)}, {"message", masked(message)}, {"details", std::move(details)}});
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
      spdlog::error("request {}: {}", record.request_id, masked(e.message));
      return error(500, "internal", "the case store failed; the request id is in the server log");
  }
}

HttpResponse Exchange::account_error(const AccountError& e) {
  switch (e.kind) {
    case AccountError::Kind::not_found: return error(404, "not_found", e.message);
    case AccountError::Kind::conflict: return error(409, "conflict", e.message);
    case AccountError::Kind::invalid: return error(422, "invalid", e.message);
    default:
      spdlog::error("request {}: {}", record.request_id, masked(e.message));
      return error(500, "internal", "the account store failed; the request id is in the server log");
  }
}

std::optional<json::object> Exchange::body() {
  if (request.body.size() > options.max_json_bytes) {
    failure = error(413, "body_too_large", "a JSON body is at most " + std::to_string(options.max_json_bytes) + " bytes");
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

HttpResponse Exchange::bad_fields(const BodyReader& reader) {
  return error(400, "invalid_request", "the body has fields of the wrong type or misses required ones",
               json::object{{"fields", reader.problems()}});
}

std::optional<engine::CommandOptions> Exchange::command_options() {
  const User& caller = user();
  engine::CommandOptions o;
  o.actor = caller.name;
  o.role = std::string(engine_role(caller.role));
  const std::string key = request.header("idempotency-key");
  if (!key.empty()) {
    if (!safe_token(key, 100)) return std::nullopt;
    // Scoped by user: two callers cannot collide, or replay each other's results.
    o.command_id = "http:" + caller.name + ":" + key;
  }
  return o;
}

HttpResponse Exchange::bad_key() { return error(400, "invalid_request", "Idempotency-Key is 1 to 100 of A-Z a-z 0-9 - _ . :"); }

Target case_target(const engine::CaseView& view) {
  std::vector<std::string> departments;
  for (const auto& row : view.items) departments.push_back(row.department);
  // Cases have no applicant account yet (issue 15 adds it): no applicant owns one.
  return Target::a_case(view.state.id, std::move(departments), "");
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
  auto r = error(503, "try_again", "the service is checking many passwords at the moment; try again in a second");
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
                 std::string(name) + " is a whole number from " + std::to_string(min) + " to " + std::to_string(max) + ", not '" +
                     text.substr(0, 40) + "'",
                 json::object{{"parameter", std::string(name)}, {"min", min}, {"max", max}});
  }
  value = parsed;
  return std::nullopt;
}

std::optional<std::string> Exchange::query(const std::string& name) const {
  const auto it = request.query.find(name);
  if (it == request.query.end()) return std::nullopt;
  return it->second;
}

}  // namespace onevisit::server
