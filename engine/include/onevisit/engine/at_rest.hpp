// Keys that encrypt personal data at rest (docs/storage.md, Encryption at rest).
//
// The SQLite store seals the columns that hold form values and free text — event payloads,
// snapshots, outbox payloads — with XChaCha20-Poly1305 (libsodium) under the *current* key;
// every sealed value names the key it was sealed under, so values sealed under an older key
// stay readable while it is configured, and `onevisit store reseal` moves them all to the
// current one. Keys come from the deployment configuration (adapters/config.hpp, [storage]).
//
// An empty AtRestKeys means "no encryption": the store writes clear JSON (the embedded
// default) and refuses a file that holds sealed values.
//
// Thread safety: an AtRestKeys is immutable after construction; share it freely.
#pragma once

#include <array>
#include <cstddef>
#include <expected>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace onevisit::engine {

/// One 256-bit key and the id that sealed values carry to name it.
struct AtRestKey {
  static constexpr std::size_t kBytes = 32;
  std::string id;  ///< 1-32 characters of [A-Za-z0-9_.-]
  std::array<unsigned char, kBytes> secret{};
};

class AtRestKeys {
 public:
  AtRestKeys() = default;
  ~AtRestKeys();
  AtRestKeys(const AtRestKeys&) = default;
  AtRestKeys& operator=(const AtRestKeys&) = default;
  AtRestKeys(AtRestKeys&&) = default;
  AtRestKeys& operator=(AtRestKeys&&) = default;

  /// Builds a key set from `id -> base64 of 32 bytes` (standard alphabet, with or without
  /// padding). `current` must be one of the ids. Errors name the id and say what is wrong;
  /// they never repeat the key text.
  static std::expected<AtRestKeys, std::string> from_base64(const std::string& current,
                                                            const std::map<std::string, std::string>& keys);
  /// A new random key in base64 (`onevisit store new-key`).
  static std::string generate_base64();

  bool empty() const { return keys_.empty(); }
  /// The key new values are sealed under. REQUIRES: !empty().
  const AtRestKey& current() const { return keys_.at(current_); }
  /// The key with this id, or nullptr.
  const AtRestKey* find(std::string_view id) const;
  const std::vector<AtRestKey>& all() const { return keys_; }

  /// A keyed hash (BLAKE2b, 16 bytes, hex) that tells whether a key is the one a database was
  /// sealed with, without revealing it: the store keeps one per key id in its `meta` table.
  static std::string check_value(const AtRestKey& key);

 private:
  std::vector<AtRestKey> keys_;
  std::size_t current_ = 0;
};

}  // namespace onevisit::engine
