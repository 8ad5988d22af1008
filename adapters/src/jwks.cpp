// RS256 for the identity platform (identity.hpp): the platform's public keys from its JWKS
// (RFC 7517), kept by key id and fetched again for a key id not seen before, and RSASSA-PKCS1
// v1.5 with SHA-256 (RFC 7518 §3.3) verified with OpenSSL 3's libcrypto. The simulator's
// signing key lives here too, so that OpenSSL stays private to this file.
#include "http_client.hpp"

#include <onevisit/adapters/identity.hpp>

#include <boost/json.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <map>
#include <memory>
#include <mutex>

namespace onevisit::adapters {

namespace json = boost::json;

namespace {

using PublicKey = std::shared_ptr<EVP_PKEY>;
constexpr int kMinimumBits = 2048;  // RFC 7518 §3.3: 2048 bits or larger

PublicKey own(EVP_PKEY* key) { return PublicKey(key, EVP_PKEY_free); }

std::string text_of(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// An RSA public key from a JWK's modulus and exponent (base64url, big-endian).
std::expected<PublicKey, std::string> rsa_public_key(const json::object& jwk) {
  const auto n = base64url_decode(text_of(jwk, "n"));
  const auto e = base64url_decode(text_of(jwk, "e"));
  if (!n || !e || n->empty() || e->empty()) return std::unexpected(std::string("its n or e is not base64url"));
  std::unique_ptr<BIGNUM, decltype(&BN_free)> modulus(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr),
                                                      BN_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> exponent(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr),
                                                       BN_free);
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> build(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
  if (!modulus || !exponent || !build || !OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) ||
      !OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get())) {
    return std::unexpected(std::string("its numbers cannot be read"));
  }
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(build.get()), OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> context(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* key = nullptr;
  if (!params || !context || EVP_PKEY_fromdata_init(context.get()) <= 0 ||
      EVP_PKEY_fromdata(context.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    return std::unexpected(std::string("it is not an RSA public key"));
  }
  auto owned = own(key);
  if (EVP_PKEY_get_bits(key) < kMinimumBits) return std::unexpected("its key has " + std::to_string(EVP_PKEY_get_bits(key)) + " bits, fewer than 2048");
  return owned;
}

bool verify_rs256(EVP_PKEY* key, std::string_view signing_input, std::string_view signature) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!context || EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key) != 1) return false;
  EVP_PKEY_CTX* key_context = EVP_MD_CTX_get_pkey_ctx(context.get());
  if (!key_context || EVP_PKEY_CTX_set_rsa_padding(key_context, RSA_PKCS1_PADDING) <= 0) return false;
  return EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
}

// The big-endian bytes of a key's RSA parameter (n or e), base64url.
std::string rsa_parameter(EVP_PKEY* key, const char* name) {
  BIGNUM* number = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &number) != 1) return {};
  std::string bytes(static_cast<std::size_t>(BN_num_bytes(number)), '\0');
  BN_bn2bin(number, reinterpret_cast<unsigned char*>(bytes.data()));
  BN_free(number);
  return base64url_encode(bytes);
}

}  // namespace

// The platform's keys by key id: replaced whole by each fetch of the JWKS.
struct OidcProvider::KeyCache {
  std::shared_ptr<HttpClient> client;
  std::string path;
  std::chrono::seconds refetch_after{60};
  std::mutex mutex;
  std::map<std::string, PublicKey> keys;
  std::optional<std::chrono::steady_clock::time_point> fetched_at;
};

std::expected<std::shared_ptr<OidcProvider::KeyCache>, std::string> OidcProvider::key_cache(const OidcSettings& settings) {
  auto endpoint = HttpEndpoint::parse(settings.jwks_url);
  if (!endpoint) return std::unexpected("[oidc] jwks_url: " + endpoint.error());
  auto cache = std::make_shared<KeyCache>();
  cache->path = endpoint->base_path.empty() ? "/" : "";
  cache->client = std::make_shared<HttpClient>(std::move(*endpoint), settings.timeout);
  cache->refetch_after = settings.jwks_refetch_after;
  return cache;
}

std::expected<void, OidcError> OidcProvider::verify_rs256_signature(const std::string& kid, std::string_view signing_input,
                                                                   std::string_view signature) const {
  if (kid.empty()) return std::unexpected(OidcError{OidcError::Kind::bad_token, "the RS256 ID token names no key (kid)"});
  KeyCache& cache = *keys_;
  PublicKey key;
  {
    std::lock_guard lock(cache.mutex);
    const auto known = cache.keys.find(kid);
    const auto now = std::chrono::steady_clock::now();
    // A key id not seen before: the platform may have rotated its keys, so the JWKS is fetched
    // again, but not more often than refetch_after (made-up key ids must not hammer it).
    if (known == cache.keys.end() && (!cache.fetched_at || now - *cache.fetched_at >= cache.refetch_after)) {
      auto response = cache.client->request("GET", cache.path, "", {{"Accept", "application/json"}});
      if (!response || response->status != 200) {
        return std::unexpected(OidcError{OidcError::Kind::unavailable,
                                         "the identity platform's JWKS cannot be fetched: " +
                                             (response ? "it answered " + std::to_string(response->status) : response.error())});
      }
      boost::system::error_code ec;
      const auto document = json::parse(response->body, ec);
      const auto* listed = !ec && document.is_object() ? document.as_object().if_contains("keys") : nullptr;
      if (!listed || !listed->is_array()) {
        return std::unexpected(OidcError{OidcError::Kind::unavailable, "the identity platform's JWKS is not a JSON object with keys"});
      }
      std::map<std::string, PublicKey> keys;
      for (const auto& entry : listed->as_array()) {
        if (!entry.is_object()) continue;
        const auto& jwk = entry.as_object();
        const std::string id = text_of(jwk, "kid"), use = text_of(jwk, "use"), alg = text_of(jwk, "alg");
        // Only RSA signing keys meant for RS256 (or saying nothing of it); others are skipped.
        if (id.empty() || text_of(jwk, "kty") != "RSA" || (!use.empty() && use != "sig") || (!alg.empty() && alg != "RS256")) continue;
        if (auto parsed = rsa_public_key(jwk)) keys[id] = std::move(*parsed);
      }
      cache.keys = std::move(keys);
      cache.fetched_at = now;
    }
    if (const auto found = cache.keys.find(kid); found != cache.keys.end()) key = found->second;
  }
  if (!key) return std::unexpected(OidcError{OidcError::Kind::bad_token, "the ID token names key '" + kid + "', which the platform's JWKS does not hold"});
  if (!verify_rs256(key.get(), signing_input, signature)) {
    return std::unexpected(OidcError{OidcError::Kind::bad_token, "the ID token's RS256 signature is wrong"});
  }
  return {};
}

struct RsaSigningKey::Key {
  PublicKey pair;
};

std::expected<RsaSigningKey, std::string> RsaSigningKey::generate(std::string kid, int bits) {
  EVP_PKEY* pair = EVP_RSA_gen(static_cast<unsigned>(bits));
  if (!pair) return std::unexpected(std::string("OpenSSL cannot make an RSA key"));
  RsaSigningKey key;
  key.kid_ = std::move(kid);
  key.key_ = std::make_shared<Key>(Key{own(pair)});
  return key;
}

std::string RsaSigningKey::sign(std::string_view signing_input) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t length = 0;
  if (!context || EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key_->pair.get()) != 1 ||
      EVP_DigestSign(context.get(), nullptr, &length, reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) != 1) {
    return {};
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) != 1) {
    return {};
  }
  signature.resize(length);
  return base64url_encode(signature);
}

std::string RsaSigningKey::jwk_json() const {
  return json::serialize(json::object{{"kty", "RSA"},
                                      {"kid", kid_},
                                      {"use", "sig"},
                                      {"alg", "RS256"},
                                      {"n", rsa_parameter(key_->pair.get(), OSSL_PKEY_PARAM_RSA_N)},
                                      {"e", rsa_parameter(key_->pair.get(), OSSL_PKEY_PARAM_RSA_E)}});
}

}  // namespace onevisit::adapters
