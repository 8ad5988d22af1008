#include <onevisit/dsl/source.hpp>

#include <algorithm>

namespace onevisit::dsl {

namespace {
// Length of the UTF-8 sequence starting at p, or 0 when it is not a valid sequence.
std::size_t utf8_sequence_length(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = *p;
  if (c < 0x80) return 1;
  std::size_t length = 0;
  std::uint32_t min = 0;
  std::uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) { length = 2; min = 0x80; cp = c & 0x1F; }
  else if ((c & 0xF0) == 0xE0) { length = 3; min = 0x800; cp = c & 0x0F; }
  else if ((c & 0xF8) == 0xF0) { length = 4; min = 0x10000; cp = c & 0x07; }
  else return 0;
  if (static_cast<std::size_t>(end - p) < length) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return length;
}
}  // namespace

std::size_t find_invalid_utf8(std::string_view text) {
  const auto* const begin = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = begin + text.size();
  const auto* p = begin;
  while (p != end) {
    // Fast path over ASCII, which is most of a workflow file.
    if (*p < 0x80) {
      ++p;
      continue;
    }
    const std::size_t length = utf8_sequence_length(p, end);
    if (length == 0) return static_cast<std::size_t>(p - begin);
    p += length;
  }
  return std::string_view::npos;
}

std::size_t count_code_points(std::string_view utf8) {
  std::size_t count = 0;
  for (const char c : utf8) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
  }
  return count;
}

LineIndex::LineIndex(std::string_view text) : text_(text) {
  line_starts_.push_back(0);
  code_points_at_.reserve(text.size() / kStride + 1);
  std::uint32_t code_points = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i % kStride == 0) code_points_at_.push_back(code_points);
    if (text[i] == '\n') line_starts_.push_back(static_cast<std::uint32_t>(i + 1));
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++code_points;
  }
  if (text.size() % kStride == 0) code_points_at_.push_back(code_points);  // for offset == size
}

std::size_t LineIndex::code_points_before(std::uint32_t offset) const {
  const std::uint32_t block = offset / kStride;  // REQUIRES: offset <= size, so block is there
  const std::uint32_t from = block * kStride;
  return code_points_at_[block] + count_code_points(std::string_view(text_).substr(from, offset - from));
}

LineColumn LineIndex::locate(std::uint32_t offset) const {
  offset = std::min<std::uint32_t>(offset, static_cast<std::uint32_t>(text_.size()));
  const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  const auto line = static_cast<std::uint32_t>(it - line_starts_.begin());  // 1-based
  const std::uint32_t start = line_starts_[line - 1];
  const auto column = code_points_before(offset) - code_points_before(start) + 1;
  return LineColumn{line, static_cast<std::uint32_t>(column)};
}

std::uint32_t LineIndex::line_start(std::uint32_t line) const {
  if (line == 0 || line > line_starts_.size()) return static_cast<std::uint32_t>(text_.size());
  return line_starts_[line - 1];
}

std::string_view LineIndex::line_text(std::uint32_t line) const {
  if (line == 0 || line > line_starts_.size()) return {};
  const std::uint32_t start = line_starts_[line - 1];
  std::uint32_t end = line < line_starts_.size() ? line_starts_[line] - 1
                                                 : static_cast<std::uint32_t>(text_.size());
  if (end > start && text_[end - 1] == '\r') --end;
  return std::string_view(text_).substr(start, end - start);
}

}  // namespace onevisit::dsl
