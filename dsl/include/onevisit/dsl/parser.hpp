// Parsing workflow text into a syntax tree.
//
// The parser reports every independent syntax error in one run: after an error it skips to
// the end of the broken statement (a declaration or a block member) and goes on. Any byte
// sequence is accepted as input; the result is a tree of what could be parsed plus
// diagnostics, never a crash, a hang or a stack overflow: brackets and the like nest at most
// kMaxNesting levels, and expression trees are at most kMaxExpressionDepth levels deep.
//
// Thread safety: parse() is reentrant; it keeps no global state.
#pragma once

#include <onevisit/dsl/ast.hpp>
#include <onevisit/dsl/diagnostic.hpp>

#include <string_view>
#include <vector>

namespace onevisit::dsl {

/// How deep the parser recurses: brackets, calls, lists, `not`, unary `-` and `list(...)`
/// types open at most this many levels at once. Each level of brackets costs the parser
/// about 2.4 KB of stack, so 64 levels fit a 256 KiB stack with room for everything else.
inline constexpr int kMaxNesting = 64;

/// How deep an expression tree may be: every later pass (check, compile, evaluate, format)
/// recurses once per level. A chain `a and b and c` is one level per operator, although the
/// parser builds it in a loop.
inline constexpr int kMaxExpressionDepth = 200;

struct ParseResult {
  ast::File file;
  std::vector<Diagnostic> diagnostics;
  bool ok() const;  ///< no errors (warnings allowed)
};

/// Parses one file. `file_name` is only used to label diagnostics.
ParseResult parse(std::string_view text, std::string_view file_name);

/// Parses a single expression (for tests, the REPL-like `onevisit eval`, and tools).
struct ExpressionParseResult {
  ast::Expr expr;
  std::vector<Diagnostic> diagnostics;
  bool ok() const;
};
ExpressionParseResult parse_expression(std::string_view text, std::string_view file_name = "<expr>");

}  // namespace onevisit::dsl
