// Diagnostics: what is wrong with a workflow file and where.
//
// Every problem the parser, the checker or the loader finds in workflow text is a Diagnostic
// with a source span. They are collected, never thrown, so one run reports all independent
// problems. Renderers produce the text form (file:line:col, the source line, a caret) and
// the JSON form used by editors and CI.
#pragma once

#include <onevisit/dsl/source.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace onevisit::dsl {

enum class Severity { error, warning, note };

std::string_view to_string(Severity severity);

/// One finding. `file` is the path as the user gave it (or as resolved from an import).
struct Diagnostic {
  std::string file;
  Span span;
  Severity severity = Severity::error;
  std::string code;     ///< stable kebab-case identifier, e.g. "unknown-name"
  std::string message;  ///< one sentence, no trailing period
  /// Reported because of other problems (a bundle that cannot be compiled because of a name
  /// the checker found unknown): listed after every other diagnostic, never before its cause.
  bool follow_on = false;
};

/// A diagnostic with its positions resolved to lines and columns (1-based, columns in
/// code points; `end_column` is one past the last character).
struct LocatedDiagnostic {
  Diagnostic diagnostic;
  LineColumn start;
  LineColumn end;
  /// The text of the start line, for the caret display. Of a long line only a window around
  /// the start, with "..." where it was cut: a diagnostic never carries a 10 MB line.
  std::string source_line;
  /// Where the start falls in source_line (1-based code points); 0 means start.column.
  std::uint32_t source_column = 0;
};

/// Collects diagnostics for one file.
class DiagnosticSink {
 public:
  explicit DiagnosticSink(std::string file) : file_(std::move(file)) {}
  void report(Severity severity, Span span, std::string code, std::string message);
  void error(Span span, std::string code, std::string message) {
    report(Severity::error, span, std::move(code), std::move(message));
  }
  void warning(Span span, std::string code, std::string message) {
    report(Severity::warning, span, std::move(code), std::move(message));
  }
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }
  std::vector<Diagnostic> take() { return std::move(diagnostics_); }
  bool has_errors() const;
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<Diagnostic> diagnostics_;
};

/// Resolves spans against the text they point into. O(log lines) whatever the line's
/// length; a message longer than kMaxMessageBytes (one quoting a 5 MB name) is shortened in
/// the middle.
LocatedDiagnostic locate(const Diagnostic& diagnostic, const LineIndex& index);

inline constexpr std::size_t kMaxMessageBytes = 600;

/// `file:line:col: error[code]: message`, then the source line and a caret line
/// (`^~~~` under the span, in code-point columns; wide CJK characters count as two cells
/// so the caret lines up in a terminal).
std::string render_text(const LocatedDiagnostic& diagnostic);

/// A JSON array of {file, line, column, end_line, end_column, severity, code, message}.
std::string render_json(const std::vector<LocatedDiagnostic>& diagnostics);

/// Edit distance used for "did you mean" suggestions; returns the closest candidate within
/// a distance proportional to the name's length, or an empty string. Names longer than
/// kMaxSuggestedName get no suggestion (no one mistypes a name that long), so the work is
/// bounded: at most kMaxSuggestedName squared per candidate, less with the early exits.
std::string closest_name(std::string_view name, const std::vector<std::string_view>& candidates);

inline constexpr std::size_t kMaxSuggestedName = 64;

}  // namespace onevisit::dsl
