// The province's unified identity platform (统一身份认证平台), spoken as OpenID Connect: the
// authorization-code flow with a confidential client (docs/applicant.md, "Real-name login").
//
// The service sends the browser to `authorize_url` with response_type=code, client_id,
// redirect_uri, scope "openid profile", a random `state` and `nonce`; the platform sends it
// back to redirect_uri with `code` and `state`. redeem() then posts the code to `token_url`
// (application/x-www-form-urlencoded, grant_type=authorization_code, client_secret_post) and
// verifies the ID token it answers before believing a word of it:
//  - a JWS in compact form, signed as configured: with `jwks_url`, RS256 (RFC 7518 §3.3,
//    OpenSSL 3's libcrypto) with the platform's key its header's `kid` names among those it
//    publishes there (fetched and kept; fetched again for a key id not seen before, at most
//    once per `jwks_refetch_after`); without it, HS256 with the client secret (RFC 7518 §3.2;
//    libsodium's HMAC-SHA-256, compared in constant time). Any other `alg` — "none", or HS256
//    where RS256 is configured (the public key used as an HMAC secret) — is refused;
//  - `iss` equals the configured issuer, `aud` is (or contains) the client id, `exp` is in
//    the future and `iat` not in it (with `leeway`), `nonce` equals the login's nonce;
//  - the claims named by `name_claim` and `id_number_claim` hold the verified real name and
//    an 18-character resident ID number.
// The platform redeems a code once; the service uses a `state` once (a replayed answer fails).
//
// Thread safety: a provider's settings are immutable after construction, its key cache is
// guarded by a mutex; redeem may be called from many threads.
#pragma once

#include <onevisit/adapters/http_adapter.hpp>

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>

namespace onevisit::adapters {

struct OidcSettings {
  std::string issuer;         ///< the `iss` of its ID tokens
  std::string authorize_url;  ///< where browsers are sent (http or https)
  std::string token_url;      ///< where codes are redeemed (http://; TLS in a local proxy)
  std::string client_id;
  std::string client_secret;  ///< read from the environment (client_secret_env), never the file
  std::string redirect_uri;   ///< the service's callback, as registered with the platform
  std::string name_claim = "name";
  std::string id_number_claim = "id_number";
  std::chrono::milliseconds timeout{5000};
  std::chrono::seconds leeway{60};  ///< clock difference allowed for exp and iat
  /// Where the platform publishes its RS256 keys (a JWKS, http://; TLS in a local proxy).
  /// Empty: ID tokens are HS256 with the client secret.
  std::string jwks_url;
  /// The least time between two fetches of the JWKS for key ids it did not hold.
  std::chrono::seconds jwks_refetch_after{60};
};

/// Who the platform says the person is, from a verified ID token.
struct VerifiedPerson {
  std::string subject;    ///< `sub`
  std::string name;       ///< the real name
  std::string id_number;  ///< resident ID number, upper case
};

/// Why a login did not give a verified person. `message` is English, for the log (masked).
struct OidcError {
  enum class Kind {
    refused,      ///< the platform refused the code (unknown, used, expired): log in again
    bad_token,    ///< the ID token failed verification (signature, iss, aud, exp, nonce, claims)
    unavailable,  ///< the platform cannot be reached or answers nonsense: try again later
  };
  Kind kind = Kind::unavailable;
  std::string message;
};

class HttpClient;

class OidcProvider {
 public:
  /// The error names what is wrong with the settings (an empty member, a bad URL).
  static std::expected<std::shared_ptr<OidcProvider>, std::string> create(OidcSettings settings);

  /// Where to send the browser for a login with this state and nonce.
  std::string authorization_url(const std::string& state, const std::string& nonce) const;
  /// Redeems the code and verifies the ID token against `nonce`; `now` is the real time
  /// (seconds since 1970, UTC), which ID tokens count in.
  std::expected<VerifiedPerson, OidcError> redeem(const std::string& code, const std::string& nonce, std::int64_t now) const;
  /// Verifies a compact ID token as redeem does (exposed for tests and for tokens received
  /// otherwise).
  std::expected<VerifiedPerson, OidcError> verify(const std::string& id_token, const std::string& nonce, std::int64_t now) const;
  const OidcSettings& settings() const { return settings_; }

 private:
  struct KeyCache;  // the platform's RS256 keys by key id (jwks.cpp)
  OidcProvider(OidcSettings settings, std::shared_ptr<HttpClient> client, std::string token_path, std::shared_ptr<KeyCache> keys)
      : settings_(std::move(settings)), client_(std::move(client)), token_path_(std::move(token_path)), keys_(std::move(keys)) {}
  static std::expected<std::shared_ptr<KeyCache>, std::string> key_cache(const OidcSettings& settings);
  std::expected<void, OidcError> verify_rs256_signature(const std::string& kid, std::string_view signing_input,
                                                        std::string_view signature) const;
  OidcSettings settings_;
  std::shared_ptr<HttpClient> client_;
  std::string token_path_;  ///< token_url's path below the client's endpoint
  std::shared_ptr<KeyCache> keys_;  ///< null: HS256
};

/// An RSA key that signs RS256 JWS, and its public half as a JWK: what an identity platform
/// holds (the department simulator plays one). Thread safety: immutable; share freely.
class RsaSigningKey {
 public:
  /// A new random key pair of `bits` bits, known by `kid`.
  static std::expected<RsaSigningKey, std::string> generate(std::string kid, int bits = 2048);
  const std::string& kid() const { return kid_; }
  /// RS256 over `signing_input`, base64url without padding (empty if OpenSSL fails).
  std::string sign(std::string_view signing_input) const;
  /// The public key as a JWK: {"kty":"RSA","kid","use":"sig","alg":"RS256","n","e"}.
  std::string jwk_json() const;

 private:
  struct Key;
  std::string kid_;
  std::shared_ptr<const Key> key_;
};

/// HS256 over `signing_input` with `secret`, base64url without padding (what a JWS carries).
/// The simulator signs with it; the provider verifies with it.
std::string hs256_signature(std::string_view signing_input, std::string_view secret);
/// Base64url without padding, and back (nullopt for text that is not base64url).
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace onevisit::adapters
