// Helpers shared by the test executables.
#pragma once

#include <onevisit/dsl/program.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace onevisit::testing {

/// How much more stack and time the sanitizer build (ONEVISIT_SANITIZE) needs: AddressSanitizer's
/// redzones make stack frames several times larger and the code a few times slower, so stack
/// sizes and time bounds in tests are multiplied by this.
#ifdef __SANITIZE_ADDRESS__
inline constexpr int kSanitizerFactor = 8;
#else
inline constexpr int kSanitizerFactor = 1;
#endif

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

namespace detail {
inline void put_le(std::string& out, std::uint32_t value, int width) {
  for (int i = 0; i < width; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}
inline std::uint32_t crc32(std::string_view data) {
  std::uint32_t crc = 0xFFFFFFFF;
  for (const unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320 & (0 - (crc & 1)));
  }
  return ~crc;
}
}  // namespace detail

/// A ZIP archive (stored, not compressed) holding `entries` (name -> content): a real one,
/// with local headers, a central directory and the end record.
inline std::string zip_archive(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out, directory;
  for (const auto& [name, content] : entries) {
    const auto offset = static_cast<std::uint32_t>(out.size());
    const auto crc = detail::crc32(content);
    out += std::string("PK\x03\x04", 4);
    detail::put_le(out, 20, 2);  // version needed
    detail::put_le(out, 0, 2);   // flags
    detail::put_le(out, 0, 2);   // stored
    detail::put_le(out, 0, 4);   // time, date
    detail::put_le(out, crc, 4);
    detail::put_le(out, static_cast<std::uint32_t>(content.size()), 4);
    detail::put_le(out, static_cast<std::uint32_t>(content.size()), 4);
    detail::put_le(out, static_cast<std::uint32_t>(name.size()), 2);
    detail::put_le(out, 0, 2);
    out += name + content;
    directory += std::string("PK\x01\x02", 4);
    detail::put_le(directory, 20, 2);
    detail::put_le(directory, 20, 2);
    detail::put_le(directory, 0, 2);
    detail::put_le(directory, 0, 2);
    detail::put_le(directory, 0, 4);
    detail::put_le(directory, crc, 4);
    detail::put_le(directory, static_cast<std::uint32_t>(content.size()), 4);
    detail::put_le(directory, static_cast<std::uint32_t>(content.size()), 4);
    detail::put_le(directory, static_cast<std::uint32_t>(name.size()), 2);
    detail::put_le(directory, 0, 2);  // extra
    detail::put_le(directory, 0, 2);  // comment
    detail::put_le(directory, 0, 2);  // disk
    detail::put_le(directory, 0, 2);  // internal attributes
    detail::put_le(directory, 0, 4);  // external attributes
    detail::put_le(directory, offset, 4);
    directory += name;
  }
  const auto directory_at = static_cast<std::uint32_t>(out.size());
  out += directory;
  out += std::string("PK\x05\x06", 4);
  detail::put_le(out, 0, 4);  // disk numbers
  detail::put_le(out, static_cast<std::uint32_t>(entries.size()), 2);
  detail::put_le(out, static_cast<std::uint32_t>(entries.size()), 2);
  detail::put_le(out, static_cast<std::uint32_t>(directory.size()), 4);
  detail::put_le(out, directory_at, 4);
  detail::put_le(out, 0, 2);  // comment
  return out;
}

/// A small file of an upload format (docs/language.md, `upload`) with `text` inside: what a
/// test uploads for a material that declares formats. Its header is the format's real one.
inline std::string sample_file(std::string_view format, const std::string& text) {
  if (format == "pdf") return "%PDF-1.7\n% " + text + "\n%%EOF\n";
  if (format == "jpg" || format == "jpeg") return std::string("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00", 11) + text;
  if (format == "png") return std::string("\x89PNG\r\n\x1A\n\x00\x00\x00\x0DIHDR", 16) + text;
  if (format == "tif" || format == "tiff") return std::string("II*\x00\x08\x00\x00\x00", 8) + text;
  if (format == "doc" || format == "xls") return std::string("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8) + text;
  if (format == "ofd") return zip_archive({{"OFD.xml", "<ofd:OFD/>"}, {"Doc_0/Document.xml", text}});
  if (format == "docx") return zip_archive({{"[Content_Types].xml", "<Types/>"}, {"word/document.xml", text}});
  if (format == "xlsx") return zip_archive({{"[Content_Types].xml", "<Types/>"}, {"xl/workbook.xml", text}});
  if (format == "zip") return zip_archive({{"readme.txt", text}});
  return text;
}

}  // namespace onevisit::testing
