#include "kiosk.hpp"

#include <onevisit/dsl/compiled.hpp>

#include <boost/json.hpp>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace onevisit::server {

namespace json = boost::json;

namespace {

template <std::size_t N>
bool from_hex(std::string_view hex, std::array<unsigned char, N>& out) {
  if (hex.size() != 2 * N) return false;
  std::size_t length = 0;
  return sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &length, nullptr) == 0 && length == N;
}

}  // namespace

std::expected<CardRead, std::string> parse_card_read(std::string_view text) {
  if (text.size() > kMaxCardReadBytes) return std::unexpected("the card read is larger than " + std::to_string(kMaxCardReadBytes) + " bytes");
  boost::system::error_code ec;
  const auto value = json::parse(text, ec);
  if (ec || !value.is_object()) return std::unexpected("the card read is not a JSON object");
  const auto& o = value.as_object();
  const auto* version = o.if_contains("v");
  if (!version || !version->is_int64() || version->as_int64() != kCardReadVersion) {
    return std::unexpected("the card read is not of version " + std::to_string(kCardReadVersion));
  }
  CardRead read;
  for (auto [key, field] : {std::pair{"kiosk", &CardRead::kiosk}, {"nonce", &CardRead::nonce}, {"name", &CardRead::name},
                            {"id_number", &CardRead::id_number}, {"valid_from", &CardRead::valid_from}, {"valid_to", &CardRead::valid_to}}) {
    const auto* v = o.if_contains(key);
    if (!v || !v->is_string() || v->as_string().empty()) return std::unexpected(std::string("the card read has no ") + key);
    read.*field = std::string(v->as_string());
  }
  const auto* at = o.if_contains("read_at");
  if (!at || !at->is_int64()) return std::unexpected("the card read has no read_at (unix seconds)");
  read.read_at = at->as_int64();
  std::transform(read.id_number.begin(), read.id_number.end(), read.id_number.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return read;
}

bool card_read_signed_by(std::string_view text, std::string_view signature_hex, std::string_view public_key_hex) {
  std::array<unsigned char, crypto_sign_BYTES> signature{};
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> key{};
  if (!from_hex(signature_hex, signature) || !from_hex(public_key_hex, key)) return false;
  return crypto_sign_verify_detached(signature.data(), reinterpret_cast<const unsigned char*>(text.data()), text.size(), key.data()) == 0;
}

bool valid_public_key(std::string_view text) {
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> key{};
  if (!from_hex(text, key)) return false;
  // A key that is no point of the curve (or a small-order one) could never verify anything.
  std::array<unsigned char, crypto_scalarmult_curve25519_BYTES> montgomery{};
  return crypto_sign_ed25519_pk_to_curve25519(montgomery.data(), key.data()) == 0;
}

std::optional<std::string> card_problem(const CardRead& read, const dsl::CivilDate& today) {
  const auto day = dsl::days_from_civil(today);
  if (const auto problem = dsl::idcard_problem(read.id_number, day)) {
    return "身份证号码读取有误（" + std::string(dsl::describe(*problem)) + "），请重新放置身份证";
  }
  const auto from = dsl::parse_civil_date(read.valid_from);
  const auto to = read.valid_to == "长期" ? std::optional<dsl::CivilDate>(dsl::CivilDate{9999, 12, 31}) : dsl::parse_civil_date(read.valid_to);
  if (!from || !to) return "身份证有效期限读取有误，请重新放置身份证";
  if (dsl::days_from_civil(*from) > day) return "这张身份证尚未生效，请使用有效的身份证";
  // The last day of validity still counts.
  if (dsl::days_from_civil(*to) < day) return "这张身份证已过有效期，请使用有效的身份证或到窗口办理";
  return std::nullopt;
}

}  // namespace onevisit::server
