#include "cli/files.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace onevisit::cli {

namespace fs = std::filesystem;

std::optional<std::vector<std::string>> expand_flow_paths(const std::vector<std::string>& arguments,
                                                          std::string& error) {
  std::vector<std::string> out;
  for (const auto& argument : arguments) {
    std::error_code ec;
    if (fs::is_directory(argument, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(argument, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec) && it->path().extension() == ".flow") found.push_back(it->path().generic_string());
      }
      if (ec) {
        error = "cannot list '" + argument + "': " + ec.message();
        return std::nullopt;
      }
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (fs::exists(argument, ec)) {
      out.push_back(argument);
    } else {
      error = "no such file or directory: '" + argument + "'";
      return std::nullopt;
    }
  }
  return out;
}

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
