#include "cli/commands.hpp"

#include "cli/files.hpp"

#include <onevisit/dsl/formatter.hpp>
#include <onevisit/dsl/parser.hpp>
#include <onevisit/dsl/program.hpp>

#include <algorithm>
#include <iostream>
#include <iterator>
#include <sstream>

namespace onevisit::cli {

int run_check(const CheckOptions& options, std::ostream& out, std::ostream& err) {
  std::string error;
  const auto paths = expand_flow_paths(options.paths, error);
  if (!paths) {
    err << "onevisit check: " << error << "\n";
    return 2;
  }
  if (paths->empty()) {
    err << "onevisit check: no .flow files found\n";
    return 2;
  }
  const auto diagnostics = dsl::load_and_check(*paths, dsl::filesystem_reader());
  const auto errors = std::count_if(diagnostics.begin(), diagnostics.end(), [](const dsl::LocatedDiagnostic& d) {
    return d.diagnostic.severity == dsl::Severity::error;
  });
  const auto warnings = std::count_if(diagnostics.begin(), diagnostics.end(), [](const dsl::LocatedDiagnostic& d) {
    return d.diagnostic.severity == dsl::Severity::warning;
  });
  if (options.format == OutputFormat::json) {
    out << dsl::render_json(diagnostics) << "\n";
  } else {
    for (const auto& d : diagnostics) out << dsl::render_text(d);
    out << (errors == 0 && warnings == 0 ? "ok: " : "") << errors << (errors == 1 ? " error" : " errors") << ", " << warnings
        << (warnings == 1 ? " warning" : " warnings") << " in " << paths->size() << (paths->size() == 1 ? " file" : " files")
        << "\n";
  }
  return errors > 0 ? 1 : 0;
}

namespace {

// Formats one text; returns nothing (and prints diagnostics) when it does not parse.
std::optional<std::string> format_text(const std::string& text, const std::string& name, std::ostream& err) {
  const auto parsed = dsl::parse(text, name);
  if (!parsed.ok()) {
    const dsl::LineIndex index(text);
    for (const auto& d : parsed.diagnostics) err << dsl::render_text(dsl::locate(d, index));
    return std::nullopt;
  }
  return dsl::format(parsed.file, text);
}

}  // namespace

int run_fmt(const FormatOptions& options, std::istream& in, std::ostream& out, std::ostream& err) {
  int status = 0;
  std::vector<std::string> files;
  for (const auto& p : options.paths) {
    if (p == "-") {
      const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      const auto formatted = format_text(text, "<stdin>", err);
      if (!formatted) return 1;
      if (options.check_only) {
        if (*formatted != text) {
          out << "<stdin>\n";
          status = 1;
        }
      } else {
        out << *formatted;
      }
      continue;
    }
    std::string error;
    const auto expanded = expand_flow_paths({p}, error);
    if (!expanded) {
      err << "onevisit fmt: " << error << "\n";
      return 2;
    }
    files.insert(files.end(), expanded->begin(), expanded->end());
  }
  const auto reader = dsl::filesystem_reader();
  for (const auto& file : files) {
    std::string error;
    const auto text = reader(file, error);
    if (!text) {
      err << "onevisit fmt: cannot read '" << file << "': " << error << "\n";
      status = std::max(status, 2);
      continue;
    }
    const auto formatted = format_text(*text, file, err);
    if (!formatted) {
      status = std::max(status, 1);
      continue;
    }
    if (*formatted == *text) continue;
    if (options.check_only) {
      out << file << "\n";
      status = std::max(status, 1);
    } else if (auto failure = write_file_atomically(file, *formatted)) {
      err << "onevisit fmt: " << *failure << "\n";
      status = 2;
    } else {
      out << "formatted " << file << "\n";
    }
  }
  return status;
}

}  // namespace onevisit::cli
