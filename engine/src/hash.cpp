#include "hash.hpp"

#include <sodium.h>

namespace onevisit::engine {

std::string sha256_hex(std::string_view data) {
  static const bool initialised = sodium_init() >= 0;  // thread-safe, idempotent
  (void)initialised;
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * sizeof digest);
  for (const unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

}  // namespace onevisit::engine
