#include <onevisit/engine/content_store.hpp>

#include "hash.hpp"
#include "store/sealing.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>

namespace onevisit::engine {

namespace fs = std::filesystem;

bool is_sha256_hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

namespace {

std::string errno_text() { return std::strerror(errno); }

std::unexpected<StoreError> fail(StoreError::Kind kind, std::string message) { return std::unexpected(StoreError{kind, std::move(message)}); }

// Writes all of `content` to `fd`; false on error.
bool write_all(int fd, std::string_view content) {
  while (!content.empty()) {
    const ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

class FolderContentStore final : public ContentStore {
 public:
  FolderContentStore(fs::path root, std::shared_ptr<const AtRestKeys> keys)
      : root_(std::move(root)), keys_(keys && !keys->empty() ? std::move(keys) : nullptr) {}

  std::expected<std::string, StoreError> put(std::string_view content) override {
    std::string hash = sha256_hex(content);
    const fs::path target = path_of(hash);
    std::error_code ec;
    if (fs::exists(target, ec)) return hash;
    fs::create_directories(target.parent_path(), ec);
    if (ec) return fail(StoreError::Kind::io, "cannot create '" + target.parent_path().string() + "': " + ec.message());
    // A unique temporary name: two threads putting the same content must not share one.
    thread_local std::mt19937_64 random{std::random_device{}()};
    const fs::path temporary = target.parent_path() / ("." + hash.substr(0, 16) + "." + std::to_string(random()) + ".tmp");
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) return fail(StoreError::Kind::io, "cannot create '" + temporary.string() + "': " + errno_text());
    // Sealed when there are keys: an uploaded ID card is personal data like the form's.
    const std::string sealed = keys_ ? sealing::seal(keys_->current(), content, place_of(hash)) : std::string();
    const bool written = write_all(fd, keys_ ? std::string_view(sealed) : content) && ::fsync(fd) == 0;
    const std::string write_error = written ? "" : errno_text();
    ::close(fd);
    if (!written) {
      fs::remove(temporary, ec);
      return fail(StoreError::Kind::io, "cannot write '" + temporary.string() + "': " + write_error);
    }
    fs::rename(temporary, target, ec);
    if (ec) {
      fs::remove(temporary, ec);
      return fail(StoreError::Kind::io, "cannot store content " + hash + ": " + ec.message());
    }
    // Make the rename itself durable.
    if (const int dir = ::open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
    return hash;
  }

  std::expected<std::optional<std::string>, StoreError> get(std::string_view hash) const override {
    if (!is_sha256_hex(hash)) return fail(StoreError::Kind::invalid, "'" + std::string(hash.substr(0, 80)) + "' is not a SHA-256 in hex");
    const fs::path path = path_of(hash);
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::optional<std::string>{};
    std::ostringstream bytes;
    bytes << in.rdbuf();
    std::string content = std::move(bytes).str();
    if (sealing::is_sealed(content)) {
      static const AtRestKeys kNone;
      auto clear = sealing::open(keys_ ? *keys_ : kNone, content, place_of(hash));
      if (!clear) {
        const bool unknown_key = clear.error().kind == sealing::OpenError::Kind::unknown_key;
        return fail(unknown_key ? StoreError::Kind::locked : StoreError::Kind::corrupt,
                    unknown_key ? "stored content '" + path.string() + "' is encrypted under key '" + clear.error().key_id +
                                         "', which this engine was not given ([storage.keys] of the configuration)"
                                   : "stored content '" + path.string() + "' is sealed but does not open: damaged or moved");
      }
      content = std::move(*clear);
    }
    if (sha256_hex(content) != hash) {
      return fail(StoreError::Kind::corrupt, "stored content '" + path.string() + "' is damaged: its bytes no longer match its hash");
    }
    return std::optional<std::string>(std::move(content));
  }

 private:
  fs::path path_of(std::string_view hash) const { return root_ / std::string(hash.substr(0, 2)) / (std::string(hash) + ".bin"); }
  static std::string place_of(std::string_view hash) { return "contents/" + std::string(hash); }
  fs::path root_;
  std::shared_ptr<const AtRestKeys> keys_;
};

class MemoryContentStore final : public ContentStore {
 public:
  std::expected<std::string, StoreError> put(std::string_view content) override {
    std::string hash = sha256_hex(content);
    std::lock_guard lock(mutex_);
    contents_.try_emplace(hash, content);
    return hash;
  }
  std::expected<std::optional<std::string>, StoreError> get(std::string_view hash) const override {
    if (!is_sha256_hex(hash)) return fail(StoreError::Kind::invalid, "'" + std::string(hash.substr(0, 80)) + "' is not a SHA-256 in hex");
    std::lock_guard lock(mutex_);
    const auto it = contents_.find(std::string(hash));
    if (it == contents_.end()) return std::optional<std::string>{};
    return std::optional<std::string>(it->second);
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string> contents_;
};

}  // namespace

std::expected<std::unique_ptr<ContentStore>, std::string> make_folder_content_store(const fs::path& root,
                                                                                   std::shared_ptr<const AtRestKeys> keys) {
  // Created by the first put: opening an engine to read (a report, a query) leaves no folder.
  std::error_code ec;
  if (fs::exists(root, ec) && !fs::is_directory(root, ec)) return std::unexpected("'" + root.string() + "' is not a folder");
  return std::make_unique<FolderContentStore>(root, std::move(keys));
}

std::unique_ptr<ContentStore> make_memory_content_store() { return std::make_unique<MemoryContentStore>(); }

}  // namespace onevisit::engine
