// The canonical formatter behind `onevisit fmt`.
//
// Prints a syntax tree back as text in one canonical layout: two-space indentation, one
// statement per line, no `;`, minimal parentheses, comments kept where they were (own-line
// comments before the statement that follows them, trailing comments at the end of their
// line) and at most one blank line where the source had blank lines.
//
// Guarantees (tested over every file in workflows/): parse(format(f)) has the same tree as
// f, and format is idempotent.
#pragma once

#include <onevisit/dsl/ast.hpp>

#include <string>
#include <string_view>

namespace onevisit::dsl {

/// Formats a parsed file. `source` is the text it was parsed from (used to keep blank lines);
/// pass an empty view for a tree built in code.
std::string format(const ast::File& file, std::string_view source);

/// Formats one expression with minimal parentheses. It recurses once per level of the tree:
/// REQUIRES a tree no deeper than the parser builds (kMaxExpressionDepth, parser.hpp), or one
/// compile_expression accepted. format() has the same requirement for the trees in a file.
std::string format_expression(const ast::Expr& expr);

/// Writes a string literal with the escapes the grammar knows.
std::string quote(std::string_view text);

}  // namespace onevisit::dsl
