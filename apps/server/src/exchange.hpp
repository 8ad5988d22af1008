// Private to the server: one request being answered, as every route handler sees it: what it
// asks (method, path parameters, query, body), who asks (the principal), and the helpers that
// turn engine and account errors, malformed bodies and denials into the API's JSON errors
// (docs/api.md, Conventions). Handlers live in routes/, one file per resource.
//
// Thread safety: an Exchange belongs to one request on one thread.
#pragma once

#include "accounts.hpp"
#include "api.hpp"
#include "applicant.hpp"
#include "authorizer.hpp"
#include "bounded_pool.hpp"
#include "code_throttle.hpp"
#include "http_server.hpp"
#include "login_throttle.hpp"

#include <onevisit/engine/engine.hpp>

#include <boost/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace onevisit::server {

namespace json = boost::json;

inline constexpr std::string_view kJsonContentType = "application/json; charset=utf-8";
// Bounds of numbers in queries: beyond them a number is a mistake (or an attack), never a
// page to answer.
inline constexpr std::int64_t kMaxOffset = 1'000'000'000;
inline constexpr std::int64_t kMaxTimestamp = 253'402'300'799'999;  // 9999-12-31 23:59:59.999 UTC, in ms

HttpResponse json_response(unsigned status, const json::value& body);
/// ID and phone numbers masked (adapters::mask_identifiers).
std::string masked(std::string_view text);
/// Masked, then cut to `max_bytes` at a character boundary (a cut number stays masked).
std::string masked(std::string_view text, std::size_t max_bytes);
/// 1 to `max` of A-Z a-z 0-9 - _ . :
bool safe_token(std::string_view text, std::size_t max);
bool is_utf8(std::string_view text);
std::string cookie(const HttpRequest& request, std::string_view name);
bool is_get(const HttpRequest& request);
/// Whether `text` holds Chinese characters (a message people can read at the window).
bool has_chinese(std::string_view text);
/// `message` when it is Chinese, else `otherwise`: an English message from below the API
/// (a store, an account check) goes to the log; the clerk reads `otherwise`.
std::string chinese_or(const std::string& message, std::string_view otherwise);
json::object command_json(const engine::CommandResult& result);
/// An error answer with a machine-readable `reason`, finer than its code (none when empty).
HttpResponse with_reason(HttpResponse response, std::string_view reason);
/// What a client is told when the database could not be reached (a failover, a restart;
/// `503 unavailable` with `Retry-After`): the request may be sent again, with its
/// Idempotency-Key a command still applies once.
inline std::string unavailable_message() { return "办件数据库暂时连不上（可能正在切换），请稍后重试；带同一个 Idempotency-Key 重试不会重复办理"; }

struct Expected;

// Reads typed members of a JSON object, collecting every problem (wrong type, missing): each
// with the member, `problem` (required, wrong_type) and `expected` (string, integer ...) for
// programs, and a Chinese `message`.
class BodyReader {
 public:
  explicit BodyReader(const json::object& object) : object_(object) {}

  std::optional<std::string> text(std::string_view key, bool required = false);
  std::optional<std::int64_t> integer(std::string_view key, bool required = false);
  std::optional<bool> boolean(std::string_view key, bool required = false);
  std::optional<std::vector<std::string>> strings(std::string_view key, bool required = false);
  /// A flat object of scalars (strings, numbers, booleans; null skipped), as text. With
  /// `lists`, an array of strings is taken too, as its elements joined by commas (how a
  /// list(enum) value reads as text).
  std::optional<std::map<std::string, std::string>> scalars(std::string_view key, bool required = false, bool lists = false);

  bool ok() const { return problems_.empty(); }
  json::array problems() const;

 private:
  struct Problem {
    std::string field;
    std::string problem;
    std::string expected;
    std::string message;
  };
  const json::value* find(std::string_view key, bool required, const Expected& what);
  std::nullopt_t wrong(std::string_view key, const Expected& what);

  const json::object& object_;
  std::vector<Problem> problems_;
};

/// The caller, once authenticated: a staff account (`user`), or an applicant on the applicant
/// channel (`applicant`; `user` then only carries their label as its name, for the audit trail).
struct Caller {
  User user;
  bool via_token = false;
  std::string scope = "write";
  std::string csrf_token;  ///< of the session
  std::optional<ApplicantIdentity> applicant;
};

/// What handle() records of a request for the audit trail and the log.
struct RequestRecord {
  std::string request_id;
  std::optional<Caller> caller;
  std::string attempted_user;  ///< for login audit records
  std::string target;          ///< what the request concerns (case id, user name ...)
  std::string outcome = "ok";
  std::string detail;
  bool audited = false;  ///< the route wrote its own audit record (in its transaction)
};

/// The service's parts a handler may use.
struct ApiParts {
  engine::Engine& engine;
  AccountStore& accounts;
  const ApiOptions& options;
  LoginThrottle& throttle;
  BoundedPool& hashing;
  const Authorizer& authorizer;
  CodeThrottle& code_throttle;
};

class Exchange {
 public:
  Exchange(const ApiParts& parts, const HttpRequest& request, RequestRecord& record, std::optional<Action> action,
           std::map<std::string, std::string> parameters)
      : engine(parts.engine),
        accounts(parts.accounts),
        options(parts.options),
        throttle(parts.throttle),
        hashing(parts.hashing),
        authorizer(parts.authorizer),
        code_throttle(parts.code_throttle),
        request(request),
        record(record),
        action(action),
        parameters_(std::move(parameters)) {}

  engine::Engine& engine;
  AccountStore& accounts;
  const ApiOptions& options;
  LoginThrottle& throttle;
  BoundedPool& hashing;
  const Authorizer& authorizer;
  CodeThrottle& code_throttle;
  const HttpRequest& request;
  RequestRecord& record;
  /// The route's; none for the login, the one route open to callers not authenticated (its
  /// handler asks the Authorizer nothing).
  const std::optional<Action> action;
  std::optional<HttpResponse> failure;  ///< why body() or load_case() returned nothing
  std::string session_token;            ///< the session cookie, when the caller has one

  /// A path parameter of the route's pattern ("id" for {id}).
  const std::string& param(const std::string& name) const { return parameters_.at(name); }
  const User& user() const { return record.caller->user; }
  /// The applicant on the applicant channel's routes (REQUIRES: an applicant caller).
  const ApplicantIdentity& applicant() const { return *record.caller->applicant; }
  Principal principal() const;

  HttpResponse error(unsigned status, std::string code, std::string message, json::object details = {});
  /// An engine error as the API answers it: a rejection's Chinese message, its `reason` and
  /// its details (`details.facts`); its English detail goes to the log and the audit trail.
  HttpResponse engine_error(const engine::EngineError& e);
  /// `response`, with `detail` (English, for developers) as what the audit trail and log record.
  HttpResponse logged(HttpResponse response, const std::string& detail);
  HttpResponse account_error(const AccountError& e);
  /// 503 unavailable with Retry-After: the database could not be reached; `why` is logged.
  HttpResponse unavailable(const std::string& why);
  HttpResponse deny(const Denial& denial);
  /// nullopt when the Authorizer allows the route's action on `target`, else its denial.
  std::optional<HttpResponse> authorize(const Target& target) { return authorize(action.value(), target); }
  std::optional<HttpResponse> authorize(Action other, const Target& target);
  /// Whether the Authorizer allows the route's action on `target` (to filter lists).
  bool allowed(const Target& target) const;
  /// The department the caller is kept to (Authorizer::only_department).
  std::optional<std::string> only_department() const { return authorizer.only_department(principal()); }
  /// Parses the JSON body (an object); nullopt with `failure` set when it is not one.
  std::optional<json::object> body();
  HttpResponse bad_fields(const BodyReader& reader);
  /// The engine's command options for the caller; nullopt for a malformed Idempotency-Key.
  std::optional<engine::CommandOptions> command_options();
  HttpResponse bad_key();
  /// Loads a case the caller may act on with the route's action; nullopt with `failure` set.
  std::optional<engine::CaseView> load_case(const std::string& case_id);
  HttpResponse run_command(const std::string& case_id, engine::CommandBody command);
  /// 503 with Retry-After: every password hashing thread is busy and its queue full.
  HttpResponse hashing_busy();
  /// Reads the query parameter `name` into `value` (left as it is when absent): digits
  /// only, from `min` to `max`. The 400 naming the parameter and its range otherwise.
  std::optional<HttpResponse> query_number(std::string_view name, std::int64_t& value, std::int64_t min, std::int64_t max);
  /// The query parameter, when given.
  std::optional<std::string> query(const std::string& name) const;
  /// What every listing of cases or items reads from the query: `limit` (1 to `max_limit`,
  /// default `default_limit`), `offset`, `bundle` and `department`. A department the caller
  /// may not see is refused; a caller kept to one department (a reviewer) gets it whatever was
  /// asked. `what` names the listing in a denial ("the worklist").
  std::optional<HttpResponse> read_listing(engine::CaseQuery& query, std::int64_t default_limit, std::int64_t max_limit,
                                           std::string_view what);

 private:
  std::map<std::string, std::string> parameters_;
};

/// The target of a loaded case: its items' departments.
Target case_target(const engine::CaseView& view);

}  // namespace onevisit::server
