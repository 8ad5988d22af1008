// POST, GET and DELETE /api/session: log in, who am I, log out.
#include "routes/handlers.hpp"

#include <spdlog/spdlog.h>

namespace onevisit::server::routes {

json::object user_json(const User& u) {
  return json::object{{"name", u.name},
                      {"display_name", u.display_name},
                      {"role", std::string(to_string(u.role))},
                      {"department", u.department},
                      {"disabled", u.disabled}};
}

namespace {

// A session as login and who-am-I answer it; a training service says how far its clock runs ahead.
json::object session_json(const Exchange& x, const User& user, const std::string& csrf_token) {
  json::object o{{"user", user_json(user)}, {"csrf_token", csrf_token}};
  if (x.options.clock_offset_days != 0) o["training_clock_days"] = x.options.clock_offset_days;
  return o;
}

}  // namespace

HttpResponse log_in(Exchange& x) {
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto name = reader.text("name", true);
  const auto password = reader.text("password", true);
  if (!reader.ok()) return x.bad_fields(reader);
  x.record.attempted_user = safe_token(*name, 64) ? *name : "?";
  x.record.target = x.record.attempted_user;
  // Reserved before the password is checked: attempts in parallel, on any node, see each other.
  const auto now = x.engine.now();
  const auto reserved = x.throttle.reserve(*name, x.request.remote_address, now);
  if (!reserved) return x.account_error(reserved.error());
  if (!reserved->attempt) {
    const auto seconds = (reserved->wait + 999) / 1000;
    auto r = x.error(429, "too_many_attempts", "登录失败次数太多，请 " + std::to_string(seconds) + " 秒后再试",
                     json::object{{"retry_after_seconds", seconds}});
    r.headers.emplace_back("Retry-After", std::to_string(seconds));
    return r;
  }
  const auto& attempt = *reserved->attempt;
  // The throttle's bookkeeping after the check: when its tables cannot be written the
  // answer stands (the attempt stays counted as a failure, the safe side) and the log says so.
  const auto note = [&](const std::expected<void, AccountError>& kept) {
    if (!kept) spdlog::warn("request {}: the login throttle could not record the attempt: {}", x.record.request_id, masked(kept.error().message));
  };
  auto checked = x.hashing.run([&] { return x.accounts.authenticate(*name, *password); });
  if (!checked) {
    note(x.throttle.released(attempt, x.engine.now()));
    return x.hashing_busy();
  }
  auto& user = *checked;
  if (!user) {
    note(x.throttle.released(attempt, x.engine.now()));
    return x.account_error(user.error());
  }
  if (!*user) {
    note(x.throttle.failed(attempt, x.engine.now()));
    return x.error(401, "bad_credentials", "用户名或密码不正确");
  }
  note(x.throttle.succeeded(attempt, x.engine.now()));
  if ((*user)->role == Role::department_system) {
    return x.error(403, "forbidden", "部门系统账户不能登录页面，请使用管理员为它创建的 API 令牌");
  }
  auto session = x.accounts.create_session((*user)->name, x.engine.now(), x.options.session_lifetime);
  if (!session) return x.account_error(session.error());
  x.record.caller = Caller{**user, false, "write", session->csrf_token};
  const auto max_age = std::to_string(x.options.session_lifetime / 1000) + (x.options.secure_cookies ? "; Secure" : "");
  auto r = json_response(200, session_json(x, **user, session->csrf_token));
  r.headers.emplace_back("Set-Cookie", "ov_session=" + session->token + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + max_age);
  r.headers.emplace_back("Set-Cookie", "ov_csrf=" + session->csrf_token + "; Path=/; SameSite=Strict; Max-Age=" + max_age);
  return r;
}

HttpResponse who_am_i(Exchange& x) {
  return json_response(200, session_json(x, x.user(), x.record.caller->csrf_token));
}

HttpResponse log_out(Exchange& x) {
  if (!x.session_token.empty()) {
    if (auto ok = x.accounts.delete_session(x.session_token); !ok) return x.account_error(ok.error());
  }
  auto r = json_response(200, json::object{{"logged_out", true}});
  const std::string secure = x.options.secure_cookies ? "; Secure" : "";
  r.headers.emplace_back("Set-Cookie", "ov_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" + secure);
  r.headers.emplace_back("Set-Cookie", "ov_csrf=; Path=/; SameSite=Strict; Max-Age=0" + secure);
  return r;
}

}  // namespace onevisit::server::routes
