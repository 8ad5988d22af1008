// Helpers shared by the test executables.
#pragma once

#include <onevisit/dsl/program.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace onevisit::testing {

/// A fresh directory under the system's temporary directory (unique: mkdtemp), removed with
/// everything in it when the test ends, passed or failed.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix = "onevisit-test") {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

/// Every .flow file below workflows/, sorted.
inline std::vector<std::filesystem::path> workflow_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(std::string(ONEVISIT_SOURCE_DIR) + "/workflows")) {
    if (entry.is_regular_file() && entry.path().extension() == ".flow") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

/// A FileReader over an in-memory map of path -> text.
inline dsl::FileReader memory_reader(std::map<std::string, std::string> files) {
  return [files = std::move(files)](const std::string& path, std::string& error) -> std::optional<std::string> {
    const auto it = files.find(path);
    if (it == files.end()) {
      error = "no such file";
      return std::nullopt;
    }
    return it->second;
  };
}

/// Loads and checks in-memory files; returns "line:col code" strings for easy matching.
inline std::vector<dsl::LocatedDiagnostic> check_files(std::map<std::string, std::string> files, std::string root = "main.flow") {
  return dsl::load_and_check({root}, memory_reader(std::move(files)));
}

inline std::vector<dsl::LocatedDiagnostic> check_text(std::string text) {
  return check_files({{"main.flow", std::move(text)}});
}

inline bool has_code(const std::vector<dsl::LocatedDiagnostic>& diagnostics, std::string_view code) {
  for (const auto& d : diagnostics) {
    if (d.diagnostic.code == code) return true;
  }
  return false;
}

inline std::size_t error_count(const std::vector<dsl::LocatedDiagnostic>& diagnostics) {
  std::size_t n = 0;
  for (const auto& d : diagnostics) n += d.diagnostic.severity == dsl::Severity::error;
  return n;
}

/// `text` with the first `from` replaced by `to`; the test fails when `from` is absent, so a
/// mutation that no longer applies cannot pass silently.
inline std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

inline std::string describe(const std::vector<dsl::LocatedDiagnostic>& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) out += dsl::render_text(d);
  return out;
}

}  // namespace onevisit::testing
