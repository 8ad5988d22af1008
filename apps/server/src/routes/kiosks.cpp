// /api/kiosks: the self-service kiosks whose card reads may open applicant sessions
// (docs/applicant.md, "The kiosk"). Administrators register a kiosk with the public half of its
// device key and revoke it; like every change, each is in the audit trail.
#include "kiosk.hpp"
#include "routes/handlers.hpp"

#include <onevisit/views/format.hpp>

#include <algorithm>
#include <cctype>

namespace onevisit::server::routes {

namespace {

json::object kiosk_json(const Kiosk& k) {
  return json::object{{"kiosk", k.id},
                      {"title", k.title},
                      {"public_key", k.public_key},
                      {"registered_by", k.registered_by},
                      {"registered_at", views::format_time(k.registered_at)},
                      {"revoked", k.revoked_at != 0},
                      {"revoked_at", k.revoked_at ? json::value(views::format_time(k.revoked_at)) : json::value(nullptr)}};
}

}  // namespace

HttpResponse list_kiosks(Exchange& x) {
  auto kiosks = x.accounts.kiosks();
  if (!kiosks) return x.account_error(kiosks.error());
  json::array a;
  for (const auto& k : *kiosks) a.push_back(kiosk_json(k));
  return json_response(200, json::object{{"kiosks", std::move(a)}});
}

HttpResponse register_kiosk(Exchange& x) {
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto id = reader.text("kiosk", true);
  const auto title = reader.text("title", true);
  auto key = reader.text("public_key", true);
  if (!reader.ok()) return x.bad_fields(reader);
  x.record.target = "kiosk " + *id;
  if (!safe_token(*id, 64) || id->find(':') != std::string::npos) {
    return x.error(422, "invalid", "自助终端编号只能由 1 到 64 个字母、数字、-、_ 或 . 组成", json::object{{"field", "kiosk"}});
  }
  if (title->empty() || title->size() > 200 || !is_utf8(*title)) {
    return x.error(422, "invalid", "请填写自助终端的安放位置（最多 200 字节）", json::object{{"field", "title"}});
  }
  std::transform(key->begin(), key->end(), key->begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!valid_public_key(*key)) {
    return x.error(422, "invalid", "设备公钥应为 Ed25519 公钥的 64 位十六进制数字（读卡程序安装时显示）", json::object{{"field", "public_key"}});
  }
  auto registered = x.accounts.register_kiosk(Kiosk{*id, *title, *key, x.user().name, x.engine.now(), 0});
  if (!registered) return x.account_error(registered.error());
  return json_response(201, kiosk_json(*registered));
}

HttpResponse revoke_kiosk(Exchange& x) {
  const std::string& id = x.param("kiosk");
  x.record.target = "kiosk " + id;
  auto found = x.accounts.find_kiosk(id);
  if (!found) return x.account_error(found.error());
  if (!*found) return x.error(404, "not_found", "没有这台自助终端", json::object{{"kiosk", id}});
  if (auto ok = x.accounts.revoke_kiosk(id, x.engine.now()); !ok) return x.account_error(ok.error());
  auto revoked = x.accounts.find_kiosk(id);
  if (!revoked) return x.account_error(revoked.error());
  return json_response(200, kiosk_json(**revoked));
}

}  // namespace onevisit::server::routes
