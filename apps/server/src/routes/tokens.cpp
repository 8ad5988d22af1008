// /api/tokens: API tokens; everyone manages their own, admins everyone's.
#include "routes/handlers.hpp"

#include <onevisit/views/format.hpp>

#include <charconv>

namespace onevisit::server::routes {

namespace {
json::object token_json(const ApiToken& t) {
  return json::object{{"id", t.id}, {"user", t.user}, {"name", t.name}, {"scope", t.scope}, {"created_at", views::format_time(t.created_at)},
                      {"revoked", t.revoked_at != 0}};
}
}  // namespace

HttpResponse list_tokens(Exchange& x) {
  // Everyone's for whoever may manage another account's tokens (admins), else one's own.
  const bool everyone = x.authorizer.may(x.principal(), Action::read_tokens, Target::account("", "every token")).has_value();
  auto tokens = x.accounts.tokens(everyone ? std::nullopt : std::optional(x.user().name));
  if (!tokens) return x.account_error(tokens.error());
  json::array a;
  for (const auto& t : *tokens) a.push_back(token_json(t));
  return json_response(200, json::object{{"tokens", std::move(a)}});
}

HttpResponse create_token(Exchange& x) {
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto name = reader.text("name", true);
  const auto scope = reader.text("scope", true);
  const auto for_user = reader.text("user");
  if (!reader.ok()) return x.bad_fields(reader);
  const std::string owner = for_user.value_or(x.user().name);
  if (auto denied = x.authorize(Target::account(owner, "a token of " + owner))) return *denied;
  x.record.target = owner;
  auto created = x.accounts.create_token(owner, *name, *scope, x.engine.now());
  if (!created) return x.account_error(created.error());
  auto j = token_json(created->first);
  j["token"] = created->second;
  return json_response(201, j);
}

HttpResponse revoke_token(Exchange& x) {
  const std::string& text = x.param("id");
  std::int64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size()) return x.error(400, "invalid_request", "令牌编号应为数字");
  auto token = x.accounts.token(id);
  if (!token) return x.account_error(token.error());
  if (!*token) return x.error(404, "not_found", "没有这个令牌", json::object{{"token", text}});
  if (x.authorizer.may(x.principal(), Action::revoke_token, Target::account((*token)->user, "token " + text))) {
    x.record.target = (*token)->user;
    if (auto ok = x.accounts.revoke_token(id, x.engine.now()); !ok) return x.account_error(ok.error());
    return json_response(200, json::object{{"revoked", id}});
  }
  // Another account's token does not exist for the caller.
  return x.error(404, "not_found", "没有这个令牌", json::object{{"token", text}});
}

}  // namespace onevisit::server::routes
