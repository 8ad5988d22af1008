// Sealed values: personal data encrypted at rest (docs/storage.md, Encryption at rest).
// Private to the engine; the SQLite store seals and opens its personal columns with these.
//
// A sealed value is bytes (stored as a BLOB):
//
//   "\0ov1" | key id length (1 byte) | key id | nonce (24 bytes) | ciphertext + tag (16 bytes)
//
// XChaCha20-Poly1305 (IETF) with the key named by the id. The associated data is the value's
// place, e.g. "events.payload/<case id>": a sealed value copied into another case or column
// fails to open instead of being read as that case's data. Clear JSON never starts with a
// NUL byte, so sealed and clear values tell themselves apart (a file written without a key
// and later given one holds both until `onevisit store reseal`).
//
// Thread safety: pure functions.
#pragma once

#include <onevisit/engine/at_rest.hpp>

#include <array>
#include <expected>
#include <string>
#include <string_view>

namespace onevisit::engine::sealing {

/// True when `stored` is a sealed value (it starts with the magic).
bool is_sealed(std::string_view stored);
/// The id of the key a sealed value names; empty when `stored` is not a well-formed sealed value.
std::string_view key_id(std::string_view stored);
/// The first bytes of every value sealed under `key_id`: magic, length and id.
std::string prefix(std::string_view key_id);

/// Seals `clear` under `key`, bound to `place`.
std::string seal(const AtRestKey& key, std::string_view clear, std::string_view place);

struct OpenError {
  enum class Kind {
    unknown_key,  ///< sealed under a key id `keys` does not hold
    malformed,    ///< too short, or fails authentication (damaged, moved, or another key under that id)
  };
  Kind kind;
  std::string key_id;
};
/// The clear text of a sealed value; a value that is not sealed is returned as it is.
std::expected<std::string, OpenError> open(const AtRestKeys& keys, std::string_view stored, std::string_view place);

/// The key of a search index (docs/storage.md, Search index): 32 random bytes.
using IndexKey = std::array<unsigned char, 32>;
IndexKey random_index_key();
/// A search token's keyed hash: BLAKE2b-128 (libsodium crypto_generichash) keyed with the
/// index key, in hex. Equal tokens give equal hashes; without the key a hash tells nothing.
std::string blind_hash(const IndexKey& key, std::string_view token);

}  // namespace onevisit::engine::sealing
