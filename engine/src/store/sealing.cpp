#include "store/sealing.hpp"

#include <onevisit/engine/sealed_text.hpp>

#include <sodium.h>

#include <algorithm>
#include <cstring>

namespace onevisit::engine {

namespace {

void init_sodium() {
  static const bool initialised = sodium_init() >= 0;  // thread-safe, idempotent
  (void)initialised;
}

bool valid_key_id(std::string_view id) {
  if (id.empty() || id.size() > 32) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

}  // namespace

AtRestKeys::~AtRestKeys() {
  for (auto& key : keys_) sodium_memzero(key.secret.data(), key.secret.size());
}

std::expected<AtRestKeys, std::string> AtRestKeys::from_base64(const std::string& current,
                                                               const std::map<std::string, std::string>& keys) {
  init_sodium();
  AtRestKeys out;
  for (const auto& [id, text] : keys) {
    if (!valid_key_id(id)) {
      return std::unexpected("key id '" + id + "' must be 1-32 letters, digits, '_', '.' or '-'");
    }
    AtRestKey key;
    key.id = id;
    std::size_t length = 0;
    const int variant = text.find('=') == std::string::npos ? sodium_base64_VARIANT_ORIGINAL_NO_PADDING
                                                            : sodium_base64_VARIANT_ORIGINAL;
    if (sodium_base642bin(key.secret.data(), key.secret.size(), text.data(), text.size(), " \t\r\n", &length, nullptr,
                          variant) != 0 ||
        length != AtRestKey::kBytes) {
      sodium_memzero(key.secret.data(), key.secret.size());
      return std::unexpected("key '" + id + "' is not the base64 of 32 bytes (make one with `onevisit store new-key`)");
    }
    out.keys_.push_back(std::move(key));
  }
  if (out.keys_.empty()) return out;
  const auto it = std::find_if(out.keys_.begin(), out.keys_.end(), [&](const AtRestKey& k) { return k.id == current; });
  if (it == out.keys_.end()) {
    return std::unexpected(current.empty() ? std::string("no current key: set key = \"<id>\" to one of the keys")
                                           : "the current key '" + current + "' is not among the keys");
  }
  out.current_ = static_cast<std::size_t>(it - out.keys_.begin());
  return out;
}

std::string AtRestKeys::generate_base64() {
  init_sodium();
  std::array<unsigned char, AtRestKey::kBytes> secret{};
  randombytes_buf(secret.data(), secret.size());
  std::string text(sodium_base64_ENCODED_LEN(secret.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(text.data(), text.size(), secret.data(), secret.size(), sodium_base64_VARIANT_ORIGINAL);
  sodium_memzero(secret.data(), secret.size());
  text.resize(std::strlen(text.c_str()));
  return text;
}

const AtRestKey* AtRestKeys::find(std::string_view id) const {
  for (const auto& key : keys_) {
    if (key.id == id) return &key;
  }
  return nullptr;
}

std::string AtRestKeys::check_value(const AtRestKey& key) {
  init_sodium();
  static constexpr std::string_view kLabel = "onevisit at-rest key check v1";
  unsigned char digest[16];
  crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(kLabel.data()), kLabel.size(),
                     key.secret.data(), key.secret.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

namespace sealing {

namespace {

constexpr std::string_view kMagic{"\0ov1", 4};
constexpr std::size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(AtRestKey::kBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

bool is_sealed(std::string_view stored) { return stored.starts_with(kMagic); }

std::string_view key_id(std::string_view stored) {
  if (!is_sealed(stored) || stored.size() <= kMagic.size()) return {};
  const auto length = static_cast<unsigned char>(stored[kMagic.size()]);
  if (stored.size() < kMagic.size() + 1 + length + kNonce + kTag) return {};
  return stored.substr(kMagic.size() + 1, length);
}

std::string prefix(std::string_view key_id) {
  std::string out(kMagic);
  out.push_back(static_cast<char>(key_id.size()));
  out.append(key_id);
  return out;
}

std::string seal(const AtRestKey& key, std::string_view clear, std::string_view place) {
  init_sodium();
  std::string out = prefix(key.id);
  const auto header = out.size();
  out.resize(header + kNonce + clear.size() + kTag);
  auto* nonce = reinterpret_cast<unsigned char*>(out.data() + header);
  randombytes_buf(nonce, kNonce);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + kNonce, &written, bytes(clear), clear.size(), bytes(place),
                                             place.size(), nullptr, nonce, key.secret.data());
  out.resize(header + kNonce + static_cast<std::size_t>(written));
  return out;
}

std::expected<std::string, OpenError> open(const AtRestKeys& keys, std::string_view stored, std::string_view place) {
  if (!is_sealed(stored)) return std::string(stored);
  const auto id = key_id(stored);
  if (id.empty()) return std::unexpected(OpenError{OpenError::Kind::malformed, {}});
  const AtRestKey* key = keys.find(id);
  if (key == nullptr) return std::unexpected(OpenError{OpenError::Kind::unknown_key, std::string(id)});
  const auto body = stored.substr(kMagic.size() + 1 + id.size());
  const auto* nonce = bytes(body);
  const auto cipher = body.substr(kNonce);
  std::string clear(cipher.size() - kTag, '\0');
  unsigned long long length = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(clear.data()), &length, nullptr,
                                                 bytes(cipher), cipher.size(), bytes(place), place.size(), nonce,
                                                 key->secret.data()) != 0) {
    return std::unexpected(OpenError{OpenError::Kind::malformed, std::string(id)});
  }
  clear.resize(static_cast<std::size_t>(length));
  return clear;
}

IndexKey random_index_key() {
  init_sodium();
  IndexKey key{};
  randombytes_buf(key.data(), key.size());
  return key;
}

std::string blind_hash(const IndexKey& key, std::string_view token) {
  init_sodium();
  unsigned char digest[16];
  crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(token.data()), token.size(), key.data(),
                     key.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

}  // namespace sealing

namespace {
constexpr std::string_view kSealedText = "sealed:";
}

std::string seal_text(const AtRestKeys& keys, std::string_view clear, std::string_view place) {
  init_sodium();
  const std::string sealed = sealing::seal(keys.current(), clear, place);
  std::string text(sodium_base64_ENCODED_LEN(sealed.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(text.data(), text.size(), reinterpret_cast<const unsigned char*>(sealed.data()), sealed.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  text.resize(std::strlen(text.c_str()));
  return std::string(kSealedText) + text;
}

std::expected<std::string, std::string> open_text(const AtRestKeys& keys, std::string_view stored, std::string_view place) {
  if (!stored.starts_with(kSealedText)) return std::string(stored);
  init_sodium();
  const std::string_view text = stored.substr(kSealedText.size());
  std::string sealed(text.size(), '\0');
  std::size_t length = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(sealed.data()), sealed.size(), text.data(), text.size(), nullptr, &length,
                        nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return std::unexpected("a sealed value is damaged (not base64)");
  }
  sealed.resize(length);
  auto clear = sealing::open(keys, sealed, place);
  if (clear) return std::move(*clear);
  if (clear.error().kind == sealing::OpenError::Kind::unknown_key) {
    return std::unexpected("a value is sealed under key '" + clear.error().key_id + "', which was not given ([storage.keys] of the configuration)");
  }
  return std::unexpected("a sealed value does not open: damaged, or copied from another place");
}

}  // namespace onevisit::engine
