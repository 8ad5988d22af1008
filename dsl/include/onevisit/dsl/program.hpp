// Loading workflow files with their imports, and checking them.
//
// A Program is the set of files reachable from the files a user names, each parsed once
// (imports are resolved relative to the importing file and normalised, so two paths to the
// same file load it once). File access goes through a FileReader so tests can load from
// memory and tools can load from anywhere.
//
// Thread safety: a Program is immutable after load(); check() only reads it.
#pragma once

#include <onevisit/dsl/ast.hpp>
#include <onevisit/dsl/diagnostic.hpp>
#include <onevisit/dsl/resolved.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onevisit::dsl {

/// The title of a lifecycle event the language knows without one being written (accept → 受理,
/// approve → 审批通过, request_correction → 要求补正 …); empty for any other event. A title written
/// in the lifecycle (`on approve "准予许可": …`) takes precedence.
std::string_view builtin_event_title(std::string_view event);

/// Reads a file's bytes; returns nothing and sets `error` when it cannot.
using FileReader = std::function<std::optional<std::string>(const std::string& path, std::string& error)>;

/// Reads from the local file system. Refuses directories and files over `max_bytes`.
FileReader filesystem_reader(std::size_t max_bytes = 64u << 20);

/// One loaded file.
struct SourceUnit {
  std::string path;  ///< normalised path, as used in diagnostics
  std::string text;
  ast::File file;
  std::unique_ptr<LineIndex> index;
  std::vector<std::size_t> imports;  ///< indices of the units this one imports directly
  bool is_root = false;              ///< named by the user, not only imported
};

/// A program loads at most this many files. Checking gives each file the view of everything
/// it imports, so the work grows with the square of a chain's length: 20,000 files took 44 s.
inline constexpr std::size_t kMaxFiles = 1000;

struct Program {
  std::vector<SourceUnit> units;
  std::vector<Diagnostic> diagnostics;  ///< parse and import problems

  /// Index of the unit with this normalised path.
  std::optional<std::size_t> find(std::string_view path) const;
  /// Units visible from `unit`: itself and everything it imports, transitively, in a
  /// stable order (itself first).
  std::vector<std::size_t> visible_from(std::size_t unit) const;
  /// Resolves every diagnostic to lines and columns, ordered by file and position.
  std::vector<LocatedDiagnostic> located(const std::vector<Diagnostic>& diagnostics) const;
};

/// Loads `paths` and everything they import. Missing files, unreadable files, import cycles,
/// more than kMaxFiles files and parse errors become diagnostics; loading always completes.
Program load(const std::vector<std::string>& paths, const FileReader& reader);

/// Loads one text held in memory (as file `name`), resolving its imports through `reader`.
Program load_text(std::string name, std::string text, const FileReader& reader);

/// What the front end makes of a loaded program (docs/language.md, The front end).
struct Bound {
  /// The checker's findings (errors and warnings), then one follow-on `not-compiled` error
  /// (Diagnostic::follow_on) for each bundle left out of the document.
  std::vector<Diagnostic> diagnostics;
  /// Every bundle that resolved; it points into `program`, so keep the program alive.
  resolved::Document document;
};

/// Checks and binds: semantic checks over a loaded program (names, types, limits,
/// lifecycles, calendars, decision tables, bundles) and, in the same pass, the resolved
/// document the engine compiles. The program's own parse diagnostics are not repeated.
Bound bind(const Program& program);

/// The checker's findings alone: bind(program).diagnostics without the follow-on errors.
std::vector<Diagnostic> check(const Program& program);

/// Every diagnostic of load + check, located and sorted: what `onevisit check` prints.
std::vector<LocatedDiagnostic> load_and_check(const std::vector<std::string>& paths, const FileReader& reader);

}  // namespace onevisit::dsl
