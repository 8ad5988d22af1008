// Private to the server: a self-service kiosk's signed card read (docs/applicant.md, "The
// kiosk"). The kiosk's local card-reader agent holds the device's Ed25519 secret key and signs
// each read; the server keeps only the public key of each registered kiosk. A read a browser
// sends is trusted only when its signature verifies with that key, its nonce is one the server
// handed to that kiosk (unused and unexpired) and its time is now.
//
// The signed bytes are the read itself, a JSON object sent as it was signed (a string in the
// request), so that neither side has to reproduce a canonical form:
//   {"v":1,"kiosk":"…","nonce":"…","read_at":<unix seconds>,"name":"…","id_number":"…",
//    "valid_from":"YYYY-MM-DD","valid_to":"YYYY-MM-DD" or "长期"}
//
// Thread safety: plain values and pure functions.
#pragma once

#include <onevisit/dsl/identifiers.hpp>

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace onevisit::server {

/// The version of the card-read format this server reads (`"v"`).
inline constexpr std::int64_t kCardReadVersion = 1;
/// How far a read's time may be from the server's real UTC time, in seconds, either way (the
/// kiosk's clock is not the server's).
inline constexpr std::int64_t kCardReadLeewaySeconds = 120;
/// The largest signed read taken (a read is a few hundred bytes).
inline constexpr std::size_t kMaxCardReadBytes = 4096;

/// What the card reader read, as signed.
struct CardRead {
  std::string kiosk;
  std::string nonce;
  std::int64_t read_at = 0;  ///< unix seconds, the kiosk's clock
  std::string name;
  std::string id_number;  ///< upper case
  std::string valid_from;  ///< YYYY-MM-DD
  std::string valid_to;    ///< YYYY-MM-DD, or 长期 (no end)
};

/// The read's JSON text as a CardRead; an English reason (for the log) when it is not one: not
/// JSON, another version, a member missing or of the wrong type.
std::expected<CardRead, std::string> parse_card_read(std::string_view text);

/// Whether `signature_hex` (128 hex digits) is the Ed25519 signature of exactly `text` by the
/// key `public_key_hex` (64 hex digits). False for anything malformed.
bool card_read_signed_by(std::string_view text, std::string_view signature_hex, std::string_view public_key_hex);

/// Whether `text` is an Ed25519 public key in hex (64 hex digits, a point libsodium accepts).
bool valid_public_key(std::string_view text);

/// Why the card itself does not open a session on `today`, in Chinese; none when it does: the
/// ID number must be valid and the card within its validity.
std::optional<std::string> card_problem(const CardRead& read, const dsl::CivilDate& today);

}  // namespace onevisit::server
