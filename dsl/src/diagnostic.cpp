#include <onevisit/dsl/diagnostic.hpp>

#include <boost/json.hpp>

#include <algorithm>

namespace onevisit::dsl {

std::string_view to_string(Severity severity) {
  switch (severity) {
    case Severity::error: return "error";
    case Severity::warning: return "warning";
    case Severity::note: return "note";
  }
  return "error";
}

void DiagnosticSink::report(Severity severity, Span span, std::string code, std::string message) {
  diagnostics_.push_back(Diagnostic{file_, span, severity, std::move(code), std::move(message)});
}

bool DiagnosticSink::has_errors() const {
  return std::any_of(diagnostics_.begin(), diagnostics_.end(),
                     [](const Diagnostic& d) { return d.severity == Severity::error; });
}

namespace {

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// `text` cut to at most `bytes` bytes at a code point boundary.
std::string_view cut_at_code_point(std::string_view text, std::size_t bytes) {
  if (text.size() <= bytes) return text;
  while (bytes > 0 && is_continuation(text[bytes])) --bytes;
  return text.substr(0, bytes);
}

// A message quoting a huge name keeps its beginning and its end.
std::string shorten_message(const std::string& message) {
  if (message.size() <= kMaxMessageBytes) return message;
  const std::string_view head = cut_at_code_point(message, kMaxMessageBytes * 2 / 3);
  std::size_t tail_from = message.size() - kMaxMessageBytes / 4;
  while (tail_from < message.size() && is_continuation(message[tail_from])) ++tail_from;
  return std::string(head) + "..." + message.substr(tail_from);
}

// Code points shown before and after the start on a line too long to show whole.
constexpr std::size_t kWindowBefore = 60;
constexpr std::size_t kWindowAfter = 100;
constexpr std::size_t kMaxShownLine = 200;

}  // namespace

LocatedDiagnostic locate(const Diagnostic& diagnostic, const LineIndex& index) {
  LocatedDiagnostic located;
  located.diagnostic = diagnostic;
  located.diagnostic.message = shorten_message(diagnostic.message);
  located.start = index.locate(diagnostic.span.begin);
  located.end = index.locate(std::max(diagnostic.span.end, diagnostic.span.begin));
  const std::string_view line = index.line_text(located.start.line);
  if (line.size() <= kMaxShownLine) {  // bytes, so certainly no more code points
    located.source_line = std::string(line);
    return located;
  }
  // A window around the start, found by stepping code points from it: the work does not
  // grow with the line.
  const std::uint32_t line_start = index.line_start(located.start.line);
  const std::size_t at =
      std::min<std::size_t>(diagnostic.span.begin - std::min(diagnostic.span.begin, line_start), line.size());
  std::size_t from = at, before = 0;
  while (from > 0 && before < kWindowBefore) {
    --from;
    while (from > 0 && is_continuation(line[from])) --from;
    ++before;
  }
  std::size_t to = at;
  for (std::size_t after = 0; to < line.size() && after < kWindowAfter; ++after) {
    ++to;
    while (to < line.size() && is_continuation(line[to])) ++to;
  }
  const std::string_view cut_before = from > 0 ? "..." : "";
  located.source_line =
      std::string(cut_before) + std::string(line.substr(from, to - from)) + (to < line.size() ? "..." : "");
  located.source_column = static_cast<std::uint32_t>(cut_before.size() + before + 1);
  return located;
}

namespace {

// Decodes one code point (input is valid UTF-8 by the time diagnostics are rendered, but
// be defensive: a stray byte counts as one narrow cell).
char32_t decode(std::string_view s, std::size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
  char32_t cp = extra == 3 ? (c & 0x07) : extra == 2 ? (c & 0x0F) : extra == 1 ? (c & 0x1F) : c;
  ++i;
  while (extra-- > 0 && i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) {
    cp = (cp << 6) | (static_cast<unsigned char>(s[i]) & 0x3F);
    ++i;
  }
  return cp;
}

// East Asian wide characters take two terminal cells.
bool is_wide(char32_t cp) {
  return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
         (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
         (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
         (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

// Display cells of the first `columns - 1` code points of a line, tabs kept as tabs so the
// caret line lines up under them.
std::string padding_for(std::string_view line, std::uint32_t column) {
  std::string pad;
  std::size_t i = 0;
  for (std::uint32_t c = 1; c < column && i < line.size(); ++c) {
    if (line[i] == '\t') {
      pad.push_back('\t');
      ++i;
      continue;
    }
    const char32_t cp = decode(line, i);
    pad.append(is_wide(cp) ? 2 : 1, ' ');
  }
  return pad;
}

std::size_t cells_between(std::string_view line, std::uint32_t from, std::uint32_t to) {
  std::size_t i = 0, cells = 0;
  for (std::uint32_t c = 1; c < to && i < line.size(); ++c) {
    const char32_t cp = decode(line, i);
    if (c >= from) cells += is_wide(cp) ? 2 : 1;
  }
  return cells;
}

}  // namespace

std::string render_text(const LocatedDiagnostic& located) {
  const Diagnostic& d = located.diagnostic;
  std::string out = d.file + ":" + std::to_string(located.start.line) + ":" +
                    std::to_string(located.start.column) + ": " + std::string(to_string(d.severity)) +
                    "[" + d.code + "]: " + d.message + "\n";
  std::string_view line = located.source_line;
  // locate() keeps only a window of a long line; one built otherwise may still be long.
  const std::uint32_t line_column = located.source_column ? located.source_column : located.start.column;
  std::uint32_t column = line_column;
  std::string prefix;
  if (count_code_points(line) > kMaxShownLine) {
    std::size_t i = 0;
    std::uint32_t c = 1;
    const std::uint32_t first_shown = column > 60 ? column - 60 : 1;
    while (c < first_shown && i < line.size()) {
      decode(line, i);
      ++c;
    }
    std::size_t j = i;
    for (std::uint32_t n = 0; n < 120 && j < line.size(); ++n) decode(line, j);
    line = line.substr(i, j - i);
    column = column - first_shown + 1;
    if (first_shown > 1) {
      prefix = "...";
      column += 3;
    }
  }
  const std::string shown = prefix + std::string(line);
  out += "  " + shown + "\n";
  std::size_t width = 1;
  if (located.end.line == located.start.line && located.end.column > located.start.column) {
    const std::uint32_t line_end_column = line_column + (located.end.column - located.start.column);
    width = std::max<std::size_t>(1, cells_between(located.source_line, line_column, line_end_column));
  }
  width = std::min<std::size_t>(width, 120);
  out += "  " + padding_for(shown, column) + "^" + std::string(width - 1, '~') + "\n";
  return out;
}

std::string render_json(const std::vector<LocatedDiagnostic>& diagnostics) {
  boost::json::array array;
  array.reserve(diagnostics.size());
  for (const auto& located : diagnostics) {
    const Diagnostic& d = located.diagnostic;
    array.push_back(boost::json::object{
        {"file", d.file},
        {"line", located.start.line},
        {"column", located.start.column},
        {"end_line", located.end.line},
        {"end_column", located.end.column},
        {"severity", to_string(d.severity)},
        {"code", d.code},
        {"message", d.message},
    });
  }
  return boost::json::serialize(array);
}

namespace {

// Optimal string alignment distance between a and b, or bound + 1 as soon as it is certain
// to exceed `bound`: when the lengths differ by more, or when a whole row of the table does
// (every alignment crosses each row, or skips one only by a transposition that costs at
// least that row's minimum).
std::size_t bounded_distance(std::string_view a, std::string_view b, std::size_t bound) {
  if ((a.size() > b.size() ? a.size() - b.size() : b.size() - a.size()) > bound) return bound + 1;
  std::vector<std::size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    std::size_t row_minimum = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
      row_minimum = std::min(row_minimum, current[j]);
    }
    if (row_minimum > bound) return bound + 1;
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return std::min(previous[b.size()], bound + 1);
}

}  // namespace

std::string closest_name(std::string_view name, const std::vector<std::string_view>& candidates) {
  if (name.size() > kMaxSuggestedName) return {};
  const std::size_t limit = std::max<std::size_t>(1, name.size() / 3);
  std::string best;
  std::size_t best_distance = limit + 1;
  for (const auto candidate : candidates) {
    if (candidate == name) continue;
    // Only a candidate closer than the best so far matters.
    const std::size_t dist = bounded_distance(name, candidate, best_distance - 1);
    if (dist < best_distance) {
      best_distance = dist;
      best = std::string(candidate);
    }
  }
  return best;
}

}  // namespace onevisit::dsl
