// Upload formats by content (see formats.hpp).
#include <onevisit/engine/formats.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>

namespace onevisit::engine {

namespace {

bool starts_with(std::string_view content, std::string_view magic) { return content.substr(0, magic.size()) == magic; }

std::uint32_t little_endian(std::string_view bytes, std::size_t at, std::size_t width) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < width; ++i) value |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return value;
}

// The entry names of a ZIP archive, read from its central directory (found through the end
// record, which may be followed by a comment of up to 64 KiB). nullopt when the content is
// no well-formed archive: every offset and length is checked against the content's size.
std::optional<std::vector<std::string_view>> zip_entries(std::string_view content) {
  constexpr std::size_t kEndRecord = 22, kEntryHeader = 46;
  if (!starts_with(content, std::string_view("PK\x03\x04", 4)) && !starts_with(content, std::string_view("PK\x05\x06", 4))) {
    return std::nullopt;
  }
  if (content.size() < kEndRecord) return std::nullopt;
  const std::size_t lowest = content.size() >= kEndRecord + 0xFFFF ? content.size() - kEndRecord - 0xFFFF : 0;
  for (std::size_t end = content.size() - kEndRecord + 1; end-- > lowest;) {
    if (content.compare(end, 4, std::string_view("PK\x05\x06", 4)) != 0) continue;
    const std::size_t count = little_endian(content, end + 10, 2);
    const std::size_t size = little_endian(content, end + 12, 4);
    std::size_t at = little_endian(content, end + 16, 4);
    if (at > end || size > end - at) continue;
    std::vector<std::string_view> names;
    for (std::size_t i = 0; i < count; ++i) {
      if (at + kEntryHeader > end || content.compare(at, 4, std::string_view("PK\x01\x02", 4)) != 0) return std::nullopt;
      const std::size_t name = little_endian(content, at + 28, 2), extra = little_endian(content, at + 30, 2),
                        comment = little_endian(content, at + 32, 2);
      if (at + kEntryHeader + name > end) return std::nullopt;
      names.push_back(content.substr(at + kEntryHeader, name));
      at += kEntryHeader + name + extra + comment;
    }
    return names;
  }
  return std::nullopt;
}

bool zip_with(std::string_view content, std::string_view entry) {
  const auto names = zip_entries(content);
  return names && std::find(names->begin(), names->end(), entry) != names->end();
}

std::string_view canonical(std::string_view format) {
  if (format == "jpeg") return "jpg";
  if (format == "tiff") return "tif";
  return format;
}

struct FormatInfo {
  std::string_view name;
  std::string_view title;
  std::string_view mime;
  std::string_view extensions;  // comma-separated, with dots
};

constexpr std::array<FormatInfo, 11> kFormats{{
    {"pdf", "PDF 文档", "application/pdf", ".pdf"},
    {"ofd", "OFD 版式文档", "application/ofd", ".ofd"},
    {"jpg", "JPG 图片", "image/jpeg", ".jpg,.jpeg"},
    {"png", "PNG 图片", "image/png", ".png"},
    {"tif", "TIFF 图片", "image/tiff", ".tif,.tiff"},
    {"doc", "Word 97-2003 文档", "application/msword", ".doc"},
    {"xls", "Excel 97-2003 表格", "application/vnd.ms-excel", ".xls"},
    {"docx", "Word 文档", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"},
    {"xlsx", "Excel 表格", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"},
    {"zip", "ZIP 压缩包", "application/zip", ".zip"},
    {"exe", "可执行程序（exe）", "", ""},
}};

const FormatInfo* info(std::string_view format) {
  format = canonical(format);
  for (const auto& f : kFormats) {
    if (f.name == format) return &f;
  }
  return nullptr;
}

bool ole_compound(std::string_view content) { return starts_with(content, std::string_view("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8)); }

}  // namespace

bool content_is(std::string_view format, std::string_view content) {
  format = canonical(format);
  if (format == "pdf") return content.substr(0, 1024).find("%PDF") != std::string_view::npos;
  if (format == "ofd") return zip_with(content, "OFD.xml");
  if (format == "jpg") return starts_with(content, "\xFF\xD8\xFF");
  if (format == "png") return starts_with(content, std::string_view("\x89PNG\r\n\x1A\n", 8));
  if (format == "tif") return starts_with(content, std::string_view("II*\0", 4)) || starts_with(content, std::string_view("MM\0*", 4));
  if (format == "doc" || format == "xls") return ole_compound(content);
  if (format == "docx") return zip_with(content, "word/document.xml");
  if (format == "xlsx") return zip_with(content, "xl/workbook.xml");
  if (format == "zip") return zip_entries(content).has_value();
  return false;
}

std::string_view sniff_format(std::string_view content) {
  // The more specific first: an OFD, DOCX or XLSX file is a ZIP archive too.
  for (const std::string_view format : {"pdf", "ofd", "docx", "xlsx", "zip", "jpg", "png", "tif", "doc"}) {
    if (content_is(format, content)) return format;
  }
  if (starts_with(content, "MZ")) return "exe";
  if (starts_with(content, "\x7F" "ELF")) return "elf";
  return {};
}

bool accepts(const MaterialModel& material, std::string_view content) {
  if (material.formats.empty()) return true;
  return std::any_of(material.formats.begin(), material.formats.end(), [&](const std::string& f) { return content_is(f, content); });
}

std::string accept_attribute(const MaterialModel& material) {
  std::string out;
  std::vector<std::string_view> seen;
  for (const auto& format : material.formats) {
    const auto* f = info(format);
    if (!f || std::find(seen.begin(), seen.end(), f->name) != seen.end()) continue;
    seen.push_back(f->name);
    if (!out.empty()) out += ",";
    out += std::string(f->mime) + "," + std::string(f->extensions);
  }
  return out;
}

std::string format_title(std::string_view format) {
  if (format == "elf") return "可执行程序（ELF）";
  if (const auto* f = info(format)) return std::string(f->title);
  return std::string(format);
}

}  // namespace onevisit::engine
