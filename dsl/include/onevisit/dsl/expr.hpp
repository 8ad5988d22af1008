// The expression language's front end: compiling syntax (ast::Expr, ast::Decision) into the
// compiled form of compiled.hpp.
//
// An expression is compiled once against a Scope: every name is resolved to a slot, every
// operator and function is checked for types, and the result is a compact, immutable
// CompiledExpression (compiled.hpp), which is all the runtime keeps.
//
// Thread safety: the functions are reentrant; a Scope being compiled against is not shared.
#pragma once

#include <onevisit/dsl/ast.hpp>
#include <onevisit/dsl/compiled.hpp>
#include <onevisit/dsl/diagnostic.hpp>

#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace onevisit::dsl {

/// Compiles `expr` against `scope`, reporting problems (unknown names with suggestions, type
/// mismatches, wrong arity, enum members that do not exist) into `sink`. Returns nothing when
/// any error was reported. Open namespaces may add slots to `scope`.
std::optional<CompiledExpression> compile_expression(const ast::Expr& expr, Scope& scope,
                                                     DiagnosticSink& sink);

/// Like compile_expression, and also reports an error unless the type is `expected`
/// (int converts to decimal, text-like types to text).
std::optional<CompiledExpression> compile_expression_as(const ast::Expr& expr, Scope& scope,
                                                        const ValueType& expected,
                                                        std::string_view what, DiagnosticSink& sink);


/// Compiles a decision table. Without parameters its rows see `outer`; with parameters they
/// see only the parameters. Returns null when errors were reported.
std::shared_ptr<const CompiledDecision> compile_decision(const ast::Decision& decision, Scope& outer,
                                                         DiagnosticSink& sink);

/// The built-in functions, for documentation and suggestions.
std::vector<std::string_view> builtin_function_names();

}  // namespace onevisit::dsl
