// The kiosk's login (docs/applicant.md, "The kiosk"): the page asks a nonce for its kiosk,
// the kiosk's card-reader agent signs the card it reads together with that nonce and the time,
// and the page sends the signed read here. Only a read signed by a registered kiosk that is
// not revoked, with a nonce handed to that kiosk (once, within a minute) and a time of now,
// opens an applicant session; its cases come in on the channel `kiosk`.
#include "kiosk.hpp"
#include "routes/handlers.hpp"

#include <onevisit/dsl/compiled.hpp>
#include <onevisit/dsl/personal_numbers.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

namespace onevisit::server::routes {

namespace {

std::int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The kiosk when it is registered and in service; else the answer (the same for both: a
// stranger learns nothing of which ids were ever registered).
std::expected<Kiosk, HttpResponse> kiosk_in_service(Exchange& x, const std::string& id) {
  auto found = x.accounts.find_kiosk(id);
  if (!found) return std::unexpected(x.account_error(found.error()));
  if (!*found || (*found)->revoked_at != 0) {
    return std::unexpected(x.logged(x.error(403, "kiosk_not_registered", "本自助终端未登记或已停用，暂不能办理，请联系现场工作人员"),
                                    "kiosk " + id + (*found ? " is revoked" : " is not registered")));
  }
  return **found;
}

}  // namespace

HttpResponse kiosk_nonce(Exchange& x) {
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto id = reader.text("kiosk", true);
  if (!reader.ok()) return x.bad_fields(reader);
  x.record.attempted_user = "kiosk " + dsl::truncate_utf8(*id, 64);
  // Counted before the kiosk is looked up: a flood of made-up kiosk ids waits as well.
  const auto wait = x.code_throttle.reserve_nonce(*id, x.request.remote_address, x.engine.now());
  if (!wait) return x.account_error(wait.error());
  if (*wait > 0) {
    const auto seconds = (*wait + 999) / 1000;
    auto r = x.logged(x.error(429, "too_many_attempts", "读卡请求太频繁，请 " + std::to_string(seconds) + " 秒后再把身份证放在读卡区",
                              json::object{{"retry_after_seconds", seconds}}),
                      "too many nonces for kiosk " + dsl::truncate_utf8(*id, 64) + " or from this address");
    r.headers.emplace_back("Retry-After", std::to_string(seconds));
    return r;
  }
  auto kiosk = kiosk_in_service(x, *id);
  if (!kiosk) return kiosk.error();
  const std::string nonce = random_hex(16);
  const auto now = x.engine.now();
  if (auto ok = x.accounts.store_kiosk_nonce(nonce, kiosk->id, now, now + x.options.kiosk_nonce_lifetime); !ok) return x.account_error(ok.error());
  return json_response(201, json::object{{"kiosk", kiosk->id}, {"nonce", nonce}, {"expires_in_seconds", x.options.kiosk_nonce_lifetime / 1000}});
}

HttpResponse kiosk_log_in(Exchange& x) {
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto text = reader.text("card_read", true);
  const auto signature = reader.text("signature");
  if (!reader.ok()) return x.bad_fields(reader);
  auto read = parse_card_read(*text);
  if (!read) {
    return x.logged(x.error(400, "card_read_invalid", "读卡信息不完整，请把身份证重新放在读卡区"), read.error());
  }
  x.record.attempted_user = "kiosk " + dsl::truncate_utf8(read->kiosk, 64);
  auto kiosk = kiosk_in_service(x, read->kiosk);
  if (!kiosk) return kiosk.error();
  // Before anything is used up: a read nobody signed, or signed by another key, changes nothing.
  if (!signature || signature->empty()) {
    return x.logged(x.error(401, "card_read_unsigned", "读卡信息没有本终端读卡器的签名，不能登录；请把身份证放在本机读卡区读取"),
                    "the card read from kiosk " + kiosk->id + " carries no signature");
  }
  if (!card_read_signed_by(*text, *signature, kiosk->public_key)) {
    return x.logged(x.error(401, "card_read_forged", "读卡信息校验未通过，不能登录；请把身份证放在本机读卡区重新读取"),
                    "the signature of the card read does not verify with kiosk " + kiosk->id + "'s key");
  }
  // The nonce: handed to this kiosk, unused, unexpired. Taken now, so a replay finds it used.
  auto given_to = x.accounts.take_kiosk_nonce(read->nonce, x.engine.now());
  if (!given_to) return x.account_error(given_to.error());
  const auto stale = std::llabs(unix_seconds() - read->read_at) > kCardReadLeewaySeconds;
  if (!*given_to || **given_to != kiosk->id || stale) {
    return x.logged(x.error(401, "card_read_expired", "读卡已超时或已使用过，请把身份证重新放在读卡区"),
                    !*given_to ? "the nonce is unknown, used or expired"
                               : **given_to != kiosk->id ? "the nonce was given to another kiosk"
                                                         : "the read's time is more than " + std::to_string(kCardReadLeewaySeconds) +
                                                               " s from now");
  }
  const auto today = dsl::civil_from_days(x.engine.now() / (24LL * 3600 * 1000));
  if (const auto problem = card_problem(*read, today)) {
    return x.logged(x.error(422, "card_invalid", *problem), "the card read does not open a session: " + masked(*problem));
  }
  ApplicantIdentity identity;
  identity.name = read->name;
  identity.id_number = read->id_number;
  identity.kiosk = kiosk->id;
  // The previous person's session, if the page kept one, ends here.
  if (const auto old = cookie(x.request, "ov_applicant"); !old.empty()) (void)x.accounts.delete_applicant_session(old);
  auto session = x.accounts.create_applicant_session(json::serialize(identity.to_json()), x.engine.now(), x.options.kiosk_session_lifetime);
  if (!session) return x.account_error(session.error());
  x.record.caller = Caller{User{identity.label(), identity.name, Role::window_clerk, "", false, 0}, false, "write", session->csrf_token, identity};
  x.record.detail = "logged in at kiosk " + kiosk->id + " with a signed card read";
  spdlog::info("request {}: {} logged in at kiosk {}", x.record.request_id, identity.label(), kiosk->id);
  auto r = json_response(200, json::object{{"applicant", identity.public_json()}, {"csrf_token", session->csrf_token}});
  // Lax as the other applicant cookies; a kiosk session lives minutes, not hours.
  const auto tail = "; Path=/; SameSite=Lax; Max-Age=" + std::to_string(std::max<Timestamp>(x.options.kiosk_session_lifetime / 1000, 1)) +
                    (x.options.secure_cookies ? "; Secure" : "");
  r.headers.emplace_back("Set-Cookie", "ov_applicant=" + session->token + "; HttpOnly" + tail);
  r.headers.emplace_back("Set-Cookie", "ov_applicant_csrf=" + session->csrf_token + tail);
  return r;
}

}  // namespace onevisit::server::routes
