// Source text and positions.
//
// A SourceFile owns the bytes of one workflow file. Positions inside it are byte offsets
// (Span); LineIndex turns an offset into a 1-based line and a 1-based column counted in
// Unicode code points, so a caret lines up under Chinese text the way an editor shows it.
//
// Thread safety: all types here are immutable after construction and safe to share.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace onevisit::dsl {

/// A half-open byte range [begin, end) inside one source file.
struct Span {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  friend bool operator==(const Span&, const Span&) = default;
};

/// Line and column of a position: both 1-based, the column in code points.
struct LineColumn {
  std::uint32_t line = 1;
  std::uint32_t column = 1;
};

/// Maps byte offsets of one text (it keeps a copy) to lines and columns. Building it is O(n); a lookup is
/// O(log lines), however long the line (a 10 MB line with 100,000 diagnostics must not
/// count its code points 100,000 times).
class LineIndex {
 public:
  explicit LineIndex(std::string_view text);
  LineColumn locate(std::uint32_t offset) const;
  /// The text of 1-based line `line`, without its line break.
  std::string_view line_text(std::uint32_t line) const;
  /// The byte offset where 1-based line `line` starts.
  std::uint32_t line_start(std::uint32_t line) const;
  std::uint32_t line_count() const { return static_cast<std::uint32_t>(line_starts_.size()); }

 private:
  /// Code points before `offset`.
  std::size_t code_points_before(std::uint32_t offset) const;

  static constexpr std::uint32_t kStride = 256;
  // A copy, not a view: the text a LineIndex is built from may move (a SourceUnit's text moves
  // with the unit, and a short std::string keeps its bytes inside the object).
  std::string text_;
  std::vector<std::uint32_t> line_starts_;
  std::vector<std::uint32_t> code_points_at_;  ///< code points before byte i * kStride
};

/// Number of code points in a UTF-8 string (invalid bytes count one each).
std::size_t count_code_points(std::string_view utf8);

/// The offset of the first byte that is not valid UTF-8, or npos when all of it is valid.
std::size_t find_invalid_utf8(std::string_view text);

}  // namespace onevisit::dsl
