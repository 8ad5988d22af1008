// The applicant channel's logins (docs/applicant.md): a one-time SMS code, the province's
// identity platform (OpenID Connect), the company an applicant acts for, who am I, log out.
// Applicants' sessions have cookies of their own (ov_applicant, ov_applicant_csrf), which
// only the routes under /api/applicant/ take.
#include "routes/handlers.hpp"

#include <onevisit/dsl/identifiers.hpp>
#include <onevisit/dsl/personal_numbers.hpp>

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace onevisit::server::routes {

namespace {

// Lax, not Strict: the identity platform sends the browser back here from its own site, and
// a printed notice's QR code opens a case page from outside; CSRF is the token's job.
void set_applicant_cookies(HttpResponse& r, const Exchange& x, const NewSession& session) {
  const auto lifetime = (session.expires_at - x.engine.now()) / 1000;
  const auto tail = "; Path=/; SameSite=Lax; Max-Age=" + std::to_string(std::max<Timestamp>(lifetime, 1)) +
                    (x.options.secure_cookies ? "; Secure" : "");
  r.headers.emplace_back("Set-Cookie", "ov_applicant=" + session.token + "; HttpOnly" + tail);
  r.headers.emplace_back("Set-Cookie", "ov_applicant_csrf=" + session.csrf_token + tail);
}

void clear_applicant_cookies(HttpResponse& r, const Exchange& x) {
  const std::string tail = "; Path=/; SameSite=Lax; Max-Age=0" + std::string(x.options.secure_cookies ? "; Secure" : "");
  r.headers.emplace_back("Set-Cookie", "ov_applicant=; HttpOnly" + tail);
  r.headers.emplace_back("Set-Cookie", "ov_applicant_csrf=" + tail);
}

HttpResponse too_many(Exchange& x, Timestamp wait_ms, const std::string& what) {
  const auto seconds = (wait_ms + 999) / 1000;
  auto r = x.error(429, "too_many_attempts", what + "，请 " + std::to_string(seconds) + " 秒后再试",
                   json::object{{"retry_after_seconds", seconds}});
  r.headers.emplace_back("Retry-After", std::to_string(seconds));
  return r;
}

// Only a path of this service: never another site (an open redirect would lend our name to
// a phishing page).
bool safe_return_path(const std::string& path) {
  return path.size() < 300 && path.starts_with("/") && !path.starts_with("//") && path.find('\\') == std::string::npos &&
         std::all_of(path.begin(), path.end(), [](char c) { return static_cast<unsigned char>(c) > 0x20 && c != 0x7f; });
}

HttpResponse see_other(const std::string& location) {
  HttpResponse r{303, "text/plain; charset=utf-8", {}, ""};
  r.headers.emplace_back("Location", location);
  return r;
}

std::int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A new session for `identity`, ending the one the browser had (a login never keeps a token
// someone else may have planted).
std::expected<NewSession, AccountError> start_session(Exchange& x, const ApplicantIdentity& identity) {
  if (const auto old = cookie(x.request, "ov_applicant"); !old.empty()) (void)x.accounts.delete_applicant_session(old);
  return x.accounts.create_applicant_session(json::serialize(identity.to_json()), x.engine.now(), x.options.applicant_session_lifetime);
}

}  // namespace

HttpResponse send_login_code(Exchange& x) {
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto typed = reader.text("phone", true);
  if (!reader.ok()) return x.bad_fields(reader);
  const auto phone = normalise_mobile(*typed);
  x.record.attempted_user = phone ? dsl::mask_applicant(*phone) : "?";
  if (!phone) return x.error(400, "invalid_phone", "请输入 11 位手机号码", json::object{{"field", "phone"}});
  if (!x.options.sms) return x.error(503, "sms_unavailable", "暂不能发送短信验证码，请使用统一身份认证登录或稍后再试");
  const auto wait = x.code_throttle.reserve_send(*phone, x.request.remote_address, x.engine.now());
  if (!wait) return x.account_error(wait.error());
  if (*wait > 0) return too_many(x, *wait, "获取验证码太频繁");
  // Six digits, uniformly drawn; only a keyed digest is stored.
  char digits[8];
  std::snprintf(digits, sizeof digits, "%06u", randombytes_uniform(1'000'000));
  const std::string code(digits);
  const auto minutes = x.options.login_code_lifetime / 60'000;
  if (auto ok = x.accounts.store_login_code(*phone, code, x.engine.now() + x.options.login_code_lifetime, x.options.login_code_attempts); !ok) {
    return x.account_error(ok.error());
  }
  auto sent = x.options.sms->send({*phone, "您的登录验证码是 " + code + "，" + std::to_string(minutes) + " 分钟内有效。请勿告诉他人。",
                                   "login-" + random_hex(12)});
  if (!sent) {
    spdlog::warn("request {}: login code to {}: {}", x.record.request_id, dsl::mask_applicant(*phone), masked(sent.error().message));
    return x.error(503, "sms_failed", "短信发送失败，请稍后再试");
  }
  // The same answer for every well-formed number: it tells nothing of who has applied before.
  return json_response(202, json::object{{"sent", true},
                                         {"expires_in_seconds", x.options.login_code_lifetime / 1000},
                                         {"resend_after_seconds", x.options.code_throttle.resend_after / 1000}});
}

HttpResponse applicant_log_in(Exchange& x) {
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto typed = reader.text("phone", true);
  const auto code = reader.text("code", true);
  if (!reader.ok()) return x.bad_fields(reader);
  const auto phone = normalise_mobile(*typed);
  x.record.attempted_user = phone ? dsl::mask_applicant(*phone) : "?";
  if (!phone) return x.error(400, "invalid_phone", "请输入 11 位手机号码", json::object{{"field", "phone"}});
  const auto wait = x.code_throttle.may_try(x.request.remote_address, x.engine.now());
  if (!wait) return x.account_error(wait.error());
  if (*wait > 0) return too_many(x, *wait, "验证码输错次数太多");
  const bool six_digits = code->size() == 6 && std::all_of(code->begin(), code->end(), [](char c) { return c >= '0' && c <= '9'; });
  auto checked = six_digits ? x.accounts.check_login_code(*phone, *code, x.engine.now()) : std::expected<CodeCheck, AccountError>(CodeCheck::wrong);
  if (!checked) return x.account_error(checked.error());
  if (*checked != CodeCheck::accepted) {
    if (auto counted = x.code_throttle.failed(x.request.remote_address, x.engine.now()); !counted) return x.account_error(counted.error());
    return x.error(401, "bad_code", "验证码不正确或已失效，请核对或重新获取");
  }
  ApplicantIdentity identity;
  identity.phone = *phone;
  // Logged in by the platform already in this browser: the session proves both.
  if (const auto old = cookie(x.request, "ov_applicant"); !old.empty()) {
    if (auto found = x.accounts.find_applicant_session(old, x.engine.now()); found && *found) {
      if (auto before = ApplicantIdentity::from_json((*found)->identity_json)) {
        identity.name = before->name;
        identity.id_number = before->id_number;
        identity.company = before->company;
        identity.kiosk = before->kiosk;
      }
    }
  }
  auto session = start_session(x, identity);
  if (!session) return x.account_error(session.error());
  x.record.caller = Caller{User{identity.label(), identity.label(), Role::window_clerk, "", false, 0}, false, "write", session->csrf_token, identity};
  auto r = json_response(200, json::object{{"applicant", identity.public_json()}, {"csrf_token", session->csrf_token}});
  set_applicant_cookies(r, x, *session);
  return r;
}

HttpResponse applicant_who_am_i(Exchange& x) {
  return json_response(200, json::object{{"applicant", x.applicant().public_json()}, {"csrf_token", x.record.caller->csrf_token}});
}

HttpResponse applicant_log_out(Exchange& x) {
  if (!x.session_token.empty()) {
    if (auto ok = x.accounts.delete_applicant_session(x.session_token); !ok) return x.account_error(ok.error());
  }
  auto r = json_response(200, json::object{{"logged_out", true}});
  clear_applicant_cookies(r, x);
  return r;
}

HttpResponse oidc_start(Exchange& x) {
  if (!x.options.oidc) return x.error(503, "oidc_unavailable", "暂未接入统一身份认证平台，请使用手机验证码登录");
  const std::string return_to = x.query("return_to").value_or("/m/");
  if (!safe_return_path(return_to)) {
    return x.error(400, "invalid_request", "登录后返回的页面只能是本站的页面", json::object{{"parameter", "return_to"}});
  }
  const std::string state = random_hex(16), nonce = random_hex(16);
  // Ten minutes to log in at the platform; the state is used once.
  if (auto ok = x.accounts.store_oidc_login(state, OidcLogin{nonce, return_to}, x.engine.now() + 10 * 60'000); !ok) {
    return x.account_error(ok.error());
  }
  return see_other(x.options.oidc->authorization_url(state, nonce));
}

namespace {

// The callback is a GET, which the service does not audit by itself: a login is, whether it
// succeeded or not (the actor masked).
void audit_platform_login(Exchange& x, const std::string& actor, const std::string& outcome, const std::string& detail) {
  AuditRecord record;
  record.at = x.engine.now();
  record.actor = masked(actor);
  record.role = "applicant";
  record.remote_address = x.request.remote_address;
  record.action = "GET /api/applicant/oidc/callback";
  record.outcome = outcome;
  record.detail = masked(detail, 500);
  if (auto ok = x.accounts.append_audit(record); !ok) {
    spdlog::error("request {}: audit trail: cannot append ({})", x.record.request_id, ok.error().message);
  }
  x.record.audited = true;
}

}  // namespace

HttpResponse oidc_callback(Exchange& x) {
  // Every failure sends the browser to the login page with a code the page explains.
  auto failed = [&](const std::string& code, const std::string& detail) {
    x.record.outcome = code;
    x.record.detail = detail;
    spdlog::info("request {}: identity platform login failed: {}", x.record.request_id, masked(detail));
    audit_platform_login(x, "-", code, detail);
    return see_other("/m/login?error=" + code);
  };
  if (!x.options.oidc) return failed("oidc_unavailable", "no identity platform is configured");
  const auto state = x.query("state"), code = x.query("code");
  if (!state || !code || state->empty() || code->empty()) return failed("oidc_cancelled", "the platform sent no code (" + x.query("error").value_or("") + ")");
  auto login = x.accounts.take_oidc_login(*state, x.engine.now());
  if (!login) return x.account_error(login.error());
  // Unknown, expired or used before: a replayed or forged answer changes nothing.
  if (!*login) return failed("oidc_expired", "the state is unknown, expired or used");
  auto person = x.options.oidc->redeem(*code, (*login)->nonce, unix_seconds());
  if (!person) {
    using Kind = adapters::OidcError::Kind;
    const auto& e = person.error();
    return failed(e.kind == Kind::refused ? "oidc_expired" : e.kind == Kind::bad_token ? "oidc_invalid" : "oidc_unavailable", e.message);
  }
  ApplicantIdentity identity;
  identity.name = person->name;
  identity.id_number = person->id_number;
  // Logged in by SMS already in this browser: the session proves both.
  if (const auto old = cookie(x.request, "ov_applicant"); !old.empty()) {
    if (auto found = x.accounts.find_applicant_session(old, x.engine.now()); found && *found) {
      if (auto before = ApplicantIdentity::from_json((*found)->identity_json)) identity.phone = before->phone;
    }
  }
  auto session = start_session(x, identity);
  if (!session) return x.account_error(session.error());
  x.record.caller = Caller{User{identity.label(), identity.name, Role::window_clerk, "", false, 0}, false, "write", session->csrf_token, identity};
  audit_platform_login(x, identity.label(), "ok", "logged in at the identity platform");
  auto r = see_other((*login)->return_to);
  set_applicant_cookies(r, x, *session);
  return r;
}

HttpResponse act_for_company(Exchange& x) {
  auto object = x.body();
  if (!object) return *x.failure;
  ApplicantIdentity identity = x.applicant();
  const auto* given = object->if_contains("uscc");
  if (given && given->is_null()) {
    identity.company.reset();  // acting for oneself again
  } else {
    BodyReader reader(*object);
    auto uscc = reader.text("uscc", true);
    if (!reader.ok()) return x.bad_fields(reader);
    std::transform(uscc->begin(), uscc->end(), uscc->begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (!dsl::valid_uscc(*uscc)) return x.error(422, "invalid_uscc", "统一社会信用代码不正确，请核对 18 位代码", json::object{{"field", "uscc"}});
    if (identity.id_number.empty()) {
      return x.error(403, "real_name_required", "代表企业办事须先通过统一身份认证实名登录");
    }
    if (!x.options.elicense) return x.error(503, "elicense_unavailable", "暂不能查询企业登记信息，请稍后再试");
    auto registration = x.options.elicense->registration(*uscc);
    if (!registration) {
      spdlog::warn("request {}: registration lookup: {}", x.record.request_id, masked(registration.error()));
      return x.error(503, "elicense_unavailable", "暂不能查询企业登记信息，请稍后再试");
    }
    // Whether the company exists or the applicant is not its representative: the same answer,
    // so that nobody learns of companies through this page.
    std::string role;
    if (*registration) {
      if ((*registration)->legal_representative_id == identity.id_number) role = "legal_representative";
      else if (std::find((*registration)->agents.begin(), (*registration)->agents.end(), identity.id_number) != (*registration)->agents.end()) role = "agent";
    }
    if (role.empty()) {
      return x.logged(x.error(403, "not_representative", "您不是该企业登记的法定代表人或授权代理人，不能代表该企业办事"),
                      "the applicant is neither the legal representative nor an agent of the company");
    }
    identity.company = ApplicantIdentity::Company{*uscc, (*registration)->name, role};
  }
  if (auto ok = x.accounts.update_applicant_session(x.session_token, json::serialize(identity.to_json())); !ok) return x.account_error(ok.error());
  x.record.caller->applicant = identity;
  return json_response(200, json::object{{"applicant", identity.public_json()}});
}

}  // namespace onevisit::server::routes
