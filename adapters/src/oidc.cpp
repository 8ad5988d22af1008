// The identity platform's OpenID Connect client (identity.hpp): the authorization URL, the
// code's redemption and the ID token's verification.
#include "http_client.hpp"

#include <onevisit/adapters/adapter.hpp>
#include <onevisit/adapters/identity.hpp>

#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace onevisit::adapters {

namespace json = boost::json;

std::string base64url_encode(std::string_view bytes) {
  const std::size_t length = sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  std::string out(length, '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(length - 1);  // the terminating NUL
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  std::string out(text.size(), '\0');
  std::size_t length = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr, &length, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(length);
  return out;
}

std::string hs256_signature(std::string_view signing_input, std::string_view secret) {
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size());
  std::array<unsigned char, crypto_auth_hmacsha256_BYTES> mac{};
  crypto_auth_hmacsha256_final(&state, mac.data());
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
}

std::expected<std::shared_ptr<OidcProvider>, std::string> OidcProvider::create(OidcSettings settings) {
  if (sodium_init() < 0) return std::unexpected(std::string("libsodium cannot start"));
  for (const auto& [value, name] : {std::pair{&settings.issuer, "issuer"}, {&settings.authorize_url, "authorize_url"},
                                    {&settings.token_url, "token_url"}, {&settings.client_id, "client_id"},
                                    {&settings.client_secret, "the client secret (client_secret_env)"},
                                    {&settings.redirect_uri, "redirect_uri"}}) {
    if (value->empty()) return std::unexpected(std::string("[oidc] needs ") + name);
  }
  // HS256 keys shorter than the hash are weak (RFC 7518 §3.2 asks for at least 256 bits).
  if (settings.client_secret.size() < 32) return std::unexpected(std::string("[oidc] the client secret must be at least 32 bytes (HS256)"));
  auto endpoint = HttpEndpoint::parse(settings.token_url);
  if (!endpoint) return std::unexpected("[oidc] token_url: " + endpoint.error());
  std::string path = endpoint->base_path.empty() ? "/" : "";
  auto client = std::make_shared<HttpClient>(std::move(*endpoint), settings.timeout);
  std::shared_ptr<KeyCache> keys;
  if (!settings.jwks_url.empty()) {
    auto cache = key_cache(settings);
    if (!cache) return std::unexpected(cache.error());
    keys = std::move(*cache);
  }
  return std::shared_ptr<OidcProvider>(new OidcProvider(std::move(settings), std::move(client), std::move(path), std::move(keys)));
}

namespace {
std::string encode(std::string_view text) { return boost::urls::encode(text, boost::urls::unreserved_chars); }

std::string text_of(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

OidcError bad_token(std::string message) { return OidcError{OidcError::Kind::bad_token, std::move(message)}; }
}  // namespace

std::string OidcProvider::authorization_url(const std::string& state, const std::string& nonce) const {
  const char separator = settings_.authorize_url.find('?') == std::string::npos ? '?' : '&';
  return settings_.authorize_url + separator + "response_type=code&client_id=" + encode(settings_.client_id) +
         "&redirect_uri=" + encode(settings_.redirect_uri) + "&scope=" + encode("openid profile") + "&state=" + encode(state) +
         "&nonce=" + encode(nonce);
}

std::expected<VerifiedPerson, OidcError> OidcProvider::redeem(const std::string& code, const std::string& nonce, std::int64_t now) const {
  const std::string body = "grant_type=authorization_code&code=" + encode(code) + "&redirect_uri=" + encode(settings_.redirect_uri) +
                           "&client_id=" + encode(settings_.client_id) + "&client_secret=" + encode(settings_.client_secret);
  auto response = client_->request("POST", token_path_, body,
                                   {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}});
  if (!response) return std::unexpected(OidcError{OidcError::Kind::unavailable, "the identity platform is unreachable: " + response.error()});
  boost::system::error_code ec;
  const auto answer = json::parse(response->body, ec);
  const json::object* o = !ec && answer.is_object() ? &answer.as_object() : nullptr;
  if (response->status == 400 || response->status == 401) {
    // invalid_grant: the code is unknown, used or expired (RFC 6749 §5.2).
    return std::unexpected(OidcError{OidcError::Kind::refused,
                                     "the identity platform refused the code: " + (o ? text_of(*o, "error") : std::to_string(response->status))});
  }
  if (response->status != 200 || !o) {
    return std::unexpected(OidcError{OidcError::Kind::unavailable, "the identity platform answered " + std::to_string(response->status)});
  }
  const std::string id_token = text_of(*o, "id_token");
  if (id_token.empty()) return std::unexpected(bad_token("the token answer has no id_token"));
  return verify(id_token, nonce, now);
}

std::expected<VerifiedPerson, OidcError> OidcProvider::verify(const std::string& id_token, const std::string& nonce, std::int64_t now) const {
  const auto first = id_token.find('.');
  const auto second = first == std::string::npos ? std::string::npos : id_token.find('.', first + 1);
  if (second == std::string::npos || id_token.find('.', second + 1) != std::string::npos) {
    return std::unexpected(bad_token("the ID token is not a compact JWS"));
  }
  const auto header_text = base64url_decode(std::string_view(id_token).substr(0, first));
  const auto claims_text = base64url_decode(std::string_view(id_token).substr(first + 1, second - first - 1));
  if (!header_text || !claims_text) return std::unexpected(bad_token("the ID token is not base64url"));
  boost::system::error_code ec;
  const auto header = json::parse(*header_text, ec);
  if (ec || !header.is_object()) return std::unexpected(bad_token("the ID token's header is not a JSON object"));
  // Only the algorithm configured: "none" or another one named by the token is an attack
  // (HS256 where RS256 is configured would take the public key for a secret).
  const std::string alg = text_of(header.as_object(), "alg");
  const std::string_view signing_input = std::string_view(id_token).substr(0, second);
  const std::string_view given = std::string_view(id_token).substr(second + 1);
  if (keys_) {
    if (alg != "RS256") return std::unexpected(bad_token("the ID token is signed with '" + alg + "', not RS256"));
    const auto signature = base64url_decode(given);
    if (!signature) return std::unexpected(bad_token("the ID token's signature is not base64url"));
    if (auto verified = verify_rs256_signature(text_of(header.as_object(), "kid"), signing_input, *signature); !verified) {
      return std::unexpected(verified.error());
    }
  } else {
    if (alg != "HS256") return std::unexpected(bad_token("the ID token is signed with '" + alg + "', not HS256"));
    const std::string expected = hs256_signature(signing_input, settings_.client_secret);
    if (given.size() != expected.size() || sodium_memcmp(given.data(), expected.data(), expected.size()) != 0) {
      return std::unexpected(bad_token("the ID token's signature is wrong"));
    }
  }
  const auto claims_value = json::parse(*claims_text, ec);
  if (ec || !claims_value.is_object()) return std::unexpected(bad_token("the ID token's claims are not a JSON object"));
  const auto& claims = claims_value.as_object();
  if (text_of(claims, "iss") != settings_.issuer) return std::unexpected(bad_token("the ID token's issuer is not " + settings_.issuer));
  bool audience = false;
  if (const auto* aud = claims.if_contains("aud")) {
    if (aud->is_string()) audience = aud->as_string() == settings_.client_id;
    if (aud->is_array()) {
      const auto& a = aud->as_array();
      audience = std::any_of(a.begin(), a.end(), [&](const json::value& v) { return v.is_string() && v.as_string() == settings_.client_id; });
    }
  }
  if (!audience) return std::unexpected(bad_token("the ID token is not for client " + settings_.client_id));
  auto seconds = [&](std::string_view key) -> std::optional<std::int64_t> {
    const auto* v = claims.if_contains(key);
    if (!v || !v->is_number()) return std::nullopt;
    return v->is_int64() ? v->as_int64() : static_cast<std::int64_t>(v->to_number<double>());
  };
  const auto exp = seconds("exp"), iat = seconds("iat");
  const auto leeway = settings_.leeway.count();
  if (!exp || *exp + leeway <= now) return std::unexpected(bad_token("the ID token has expired (or has no exp)"));
  if (iat && *iat - leeway > now) return std::unexpected(bad_token("the ID token was issued in the future"));
  const std::string token_nonce = text_of(claims, "nonce");
  if (token_nonce.empty() || token_nonce.size() != nonce.size() || sodium_memcmp(token_nonce.data(), nonce.data(), nonce.size()) != 0) {
    return std::unexpected(bad_token("the ID token's nonce is not this login's"));
  }
  VerifiedPerson person{text_of(claims, "sub"), text_of(claims, settings_.name_claim), text_of(claims, settings_.id_number_claim)};
  std::transform(person.id_number.begin(), person.id_number.end(), person.id_number.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (person.name.empty() || person.id_number.size() != 18) {
    return std::unexpected(bad_token("the ID token holds no real name or no 18-character ID number (claims " + settings_.name_claim + ", " +
                                     settings_.id_number_claim + ")"));
  }
  return person;
}

}  // namespace onevisit::adapters
