#include "cli/files.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace onevisit::cli {

namespace fs = std::filesystem;

std::optional<std::string> write_file_atomically(const std::string& path, const std::string& text) {
  const fs::path target(path);
  const fs::path temporary = target.parent_path() / ("." + target.filename().string() + ".tmp" + std::to_string(::getpid()));
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) return "cannot write '" + temporary.string() + "': " + std::strerror(errno);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) {
      std::error_code ignored;
      fs::remove(temporary, ignored);
      return "cannot write '" + temporary.string() + "'";
    }
  }
  std::error_code ec;
  // Keep the original file's permissions.
  if (const auto status = fs::status(target, ec); !ec) fs::permissions(temporary, status.permissions(), ec);
  fs::rename(temporary, target, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    return "cannot replace '" + path + "': " + ec.message();
  }
  return std::nullopt;
}

}  // namespace onevisit::cli
