// Content-addressed storage of material files: each content is kept once, under its SHA-256.
//
// The case events record a material by its hash; the bytes live here. A folder store keeps
// one file per content (`ab/abcdef….bin`), written to a temporary name, fsynced and renamed,
// so a reader never sees half a file and a crash leaves at most an unreferenced file. Put the
// content before committing the command that refers to it: an orphan is harmless, a dangling
// hash is not.
//
// Thread safety: both implementations are safe to use from many threads.
#pragma once

#include <onevisit/engine/at_rest.hpp>
#include <onevisit/engine/store.hpp>

#include <cstddef>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace onevisit::engine {

/// Errors are StoreError values (store.hpp), whose kind says what a caller may do: `invalid`
/// for a malformed hash, `corrupt` for stored bytes that no longer match their hash (or do
/// not open), `locked` for a content sealed under a key this store was not given,
/// `unavailable` when the PostgreSQL database could not be reached (a retry may pass), `io`
/// for the rest.
class ContentStore {
 public:
  virtual ~ContentStore() = default;
  /// Stores `content` (once; a second put of the same bytes is a no-op) and returns its
  /// SHA-256 in lower-case hex.
  virtual std::expected<std::string, StoreError> put(std::string_view content) = 0;
  /// The content with that hash, or nullopt when there is none. An error when the hash is
  /// malformed or the stored bytes no longer match it (a damaged file is never served).
  virtual std::expected<std::optional<std::string>, StoreError> get(std::string_view sha256_hex) const = 0;
};

/// Keeps contents as files below `root` (created by the first put). An error when `root`
/// exists and is not a folder. With `keys` (at_rest.hpp), new files are sealed under the
/// current key, bound to their hash (docs/storage.md, Encryption at rest); files written in
/// clear stay readable, and a sealed file read without its key is an error, never garbage.
std::expected<std::unique_ptr<ContentStore>, std::string> make_folder_content_store(
    const std::filesystem::path& root, std::shared_ptr<const AtRestKeys> keys = nullptr);
/// Keeps contents in memory: for tests and in-memory engines.
std::unique_ptr<ContentStore> make_memory_content_store();

/// Contents in the PostgreSQL database of open_postgres_store (its tables must exist: open
/// the store first), shared by every node on it: chunked, sealed under the current key when
/// `keys` has one, checked against their hash on every get (docs/storage.md, PostgreSQL).
/// Thread safety: put and get may be called from any thread (one connection, serialised).
std::expected<std::unique_ptr<ContentStore>, std::string> make_postgres_content_store(
    const std::string& url, std::shared_ptr<const AtRestKeys> keys = nullptr);

/// True when `text` is 64 lower-case hex digits.
bool is_sha256_hex(std::string_view text);

}  // namespace onevisit::engine
