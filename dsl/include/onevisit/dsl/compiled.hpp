// The compiled form of the language: value types, values, scopes, compiled expressions and
// decision tables — what the runtime evaluates.
//
// The front end (expr.hpp, the checker) compiles every expression of a workflow once against
// a Scope: names become slots, operators and functions are checked for types. The result,
// a CompiledExpression, is immutable; evaluating it reads slot values from an Environment and
// does no lookups by name, no allocation for scalar results, and no I/O: time comes from the
// environment (`today`), working days from a calendar the caller passes in. Nothing here
// needs the syntax tree, so the engine's runtime model includes this header, never ast.hpp.
//
// Thread safety: Scope is not thread-safe while being built. CompiledExpression and
// CompiledDecision are immutable and safe to evaluate from many threads at once.
#pragma once

#include <onevisit/dsl/identifiers.hpp>
#include <onevisit/dsl/vocabulary.hpp>

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace onevisit::dsl {

class DiagnosticSink;
namespace ast {
struct Type;
struct Decision;
}  // namespace ast

// ---------------------------------------------------------------------------------------
// Types

enum class BaseType : std::uint8_t {
  any,  ///< unknown (after an error, or an open namespace member): checks nothing
  null, boolean, integer, decimal, money, text, date, duration, list, enumeration,
  idcard, uscc, phone,
};

struct ValueType {
  BaseType base = BaseType::any;
  BaseType element = BaseType::any;                       ///< list element
  std::shared_ptr<const std::vector<std::string>> values;  ///< enumeration members

  static ValueType of(BaseType b) { return ValueType{b, BaseType::any, nullptr}; }
  static ValueType list_of(BaseType e) { return ValueType{BaseType::list, e, nullptr}; }
  /// The type a form field declares.
  static ValueType from_ast(const ast::Type& type);
};

std::string to_string(const ValueType& type);

// ---------------------------------------------------------------------------------------
// Values

/// Fixed-point decimal with 4 places: exact for money and the limits designers write.
struct Decimal {
  static constexpr std::int64_t kScale = 10000;
  std::int64_t units = 0;  ///< value * kScale
  static Decimal from_int(std::int64_t v) { return Decimal{v * kScale}; }
  /// Parses "12", "0.5", "-3.25" (at most 4 decimals; more are refused).
  static std::optional<Decimal> parse(std::string_view text);
  std::string to_string() const;
  double to_double() const { return static_cast<double>(units) / kScale; }
  friend auto operator<=>(const Decimal&, const Decimal&) = default;
};

enum class ValueKind : std::uint8_t { null, boolean, integer, decimal, text, date, duration, list };

/// A runtime value. Dates are days since 1970-01-01; durations carry their unit.
struct Value {
  ValueKind kind = ValueKind::null;
  bool boolean = false;
  std::int64_t integer = 0;  ///< integer; date (days); decimal and duration amount (Decimal units)
  TimeUnit unit = TimeUnit::workday;
  std::string text;
  std::vector<Value> list;

  static Value null_value() { return {}; }
  static Value of_bool(bool b) { Value v; v.kind = ValueKind::boolean; v.boolean = b; return v; }
  static Value of_int(std::int64_t i) { Value v; v.kind = ValueKind::integer; v.integer = i; return v; }
  static Value of_decimal(Decimal d) { Value v; v.kind = ValueKind::decimal; v.integer = d.units; return v; }
  static Value of_text(std::string s) { Value v; v.kind = ValueKind::text; v.text = std::move(s); return v; }
  static Value of_date(std::int64_t days) { Value v; v.kind = ValueKind::date; v.integer = days; return v; }
  static Value of_duration(Decimal amount, TimeUnit unit) {
    Value v; v.kind = ValueKind::duration; v.integer = amount.units; v.unit = unit; return v;
  }
  static Value of_list(std::vector<Value> items) { Value v; v.kind = ValueKind::list; v.list = std::move(items); return v; }

  bool is_null() const { return kind == ValueKind::null; }
  Decimal as_decimal() const { return kind == ValueKind::integer ? Decimal::from_int(integer) : Decimal{integer}; }
  friend bool operator==(const Value& a, const Value& b);
};

std::string to_string(const Value& value);

// ---------------------------------------------------------------------------------------
// Literal ranges (docs/language.md, "Numbers"). Out of range is an error, never a silent 0.

/// The value of a number literal: at most 14 digits before the point and 4 after it
/// (|value| <= 99999999999999.9999, what Decimal holds). The error says the allowed range.
std::expected<Decimal, std::string> number_literal(std::string_view text);

/// The longest duration a workflow may state, per unit: 100 years (25,000 workdays,
/// 36,500 days, 876,000 hours).
Decimal max_duration(TimeUnit unit);

/// The amount of a duration literal: a number literal of at most max_duration(unit). The
/// error says the allowed range.
std::expected<Decimal, std::string> duration_literal(std::string_view amount, TimeUnit unit);

/// A regular expression a workflow states (`pattern "..."`, `matches(x, "...")`) is at most
/// kMaxPatternBytes long with groups nested at most kMaxPatternNesting deep: compiling one
/// recurses once per group, and 1,000 nested groups overflow a small stack.
inline constexpr std::size_t kMaxPatternBytes = 1000;
inline constexpr int kMaxPatternNesting = 32;
/// Checks those bounds (not the syntax); the error says which one is exceeded.
std::expected<void, std::string> check_pattern_size(std::string_view pattern);

/// Whether `pattern` (ECMAScript syntax) matches somewhere in `text`, as `pattern "..."` on a
/// field and `matches()` check it. Boost.Regex keeps its state on the heap, so a long text
/// cannot exhaust the stack (std::regex recurses once per character); nullopt when the pattern
/// is not valid, exceeds check_pattern_size, or is too complex for the text (Boost gives up).
std::optional<bool> pattern_matches(std::string_view text, std::string_view pattern);

/// Days since 1970-01-01 for a civil date, and back.
std::int64_t days_from_civil(const CivilDate& date);
CivilDate civil_from_days(std::int64_t days);
/// Parses YYYY-MM-DD (a real date).
std::optional<CivilDate> parse_civil_date(std::string_view text);

/// Counts working days; the engine's calendars implement it. The default (nullptr in an
/// Environment) counts Monday to Friday.
class WorkdayCounter {
 public:
  virtual ~WorkdayCounter() = default;
  /// Working days after `from` up to and including `to` (negative when `to` < `from`).
  virtual std::int64_t workdays_between(std::int64_t from_days, std::int64_t to_days) const = 0;
};

/// What an evaluation reads: one value per slot of the scope it was compiled against.
struct Environment {
  std::span<const Value> slots;
  std::int64_t today = 0;  ///< days since 1970-01-01
  const WorkdayCounter* calendar = nullptr;
};

class CompiledDecision;

// ---------------------------------------------------------------------------------------
// Scopes

/// The names an expression may use. Variables get slots in declaration order.
class Scope {
 public:
  /// Declares a variable; returns its slot. REQUIRES: name not declared yet.
  std::size_t add_variable(std::string name, ValueType type);
  /// Declares a namespace `name` whose members are `name.member` variables with fixed
  /// types (e.g. materials.verified). With `open`, any member is accepted with type any.
  void add_namespace(std::string name, std::vector<std::pair<std::string, ValueType>> members,
                     bool open = false);
  /// Declares a decision table referenced by name (no parameters) or called (parameters).
  void add_decision(std::string name, std::shared_ptr<const CompiledDecision> decision);

  struct Variable {
    std::size_t slot;
    ValueType type;
  };
  const Variable* find_variable(std::string_view name) const;
  bool is_namespace(std::string_view name) const;
  bool is_open_namespace(std::string_view name) const;
  std::shared_ptr<const CompiledDecision> find_decision(std::string_view name) const;
  /// Slot for `ns.member` of an open namespace, declared on first use.
  const Variable& open_member(std::string_view ns, std::string_view member);

  std::size_t slot_count() const { return slot_names_.size(); }
  const std::vector<std::string>& slot_names() const { return slot_names_; }
  /// Every name visible here, for "did you mean" suggestions.
  std::vector<std::string_view> names() const;

 private:
  std::unordered_map<std::string, Variable> variables_;
  std::unordered_map<std::string, bool> namespaces_;  ///< name -> open
  std::unordered_map<std::string, std::shared_ptr<const CompiledDecision>> decisions_;
  std::vector<std::string> slot_names_;
};

// ---------------------------------------------------------------------------------------
// Compiled expressions

class CompiledExpression {
 public:
  struct Body;  ///< the compiled nodes (private to expr.cpp)
  CompiledExpression() = default;
  const ValueType& type() const { return type_; }
  /// Evaluates. A runtime problem (division by zero, a malformed date text, a null operand
  /// in arithmetic) yields null rather than a crash; `and`, `or` and comparisons treat null
  /// as false, so a guard over missing data simply does not hold.
  Value evaluate(const Environment& env) const;
  /// Convenience for guards and conditions: true only when the value is boolean true.
  bool holds(const Environment& env) const;
  bool is_constant() const;
  /// Operations in the compiled form. Operations on constants alone are folded into one
  /// constant when compiled (`1 + 2 * 3` is one node), except those that read the
  /// environment (`today()`, `workdays_between`, `age`, `valid_idcard`, decisions).
  std::size_t node_count() const;
  /// How deep evaluation recurses: the tree's height plus that of the decisions it reads.
  /// compile_expression refuses expressions deeper than kMaxExpressionDepth (parser.hpp).
  std::uint32_t evaluation_depth() const;
  /// The scope slots this expression reads (sorted, unique), decisions' reads included.
  std::vector<std::size_t> referenced_slots() const;

 private:
  friend class ExpressionCompiler;
  std::shared_ptr<const Body> body_;
  ValueType type_;
};

/// A decision table compiled against a scope (its parameters come first in a scope of its own).
class CompiledDecision {
 public:
  const std::string& name() const { return name_; }
  HitPolicy policy() const { return policy_; }
  /// collect: a list of every matching row's results; first: the first matching row's
  /// results; unique: the only matching row's results, null when several match.
  /// A row with several results yields a list; with one, the value itself.
  Value evaluate(const Environment& env) const;
  const ValueType& result_type() const { return result_type_; }
  const std::vector<ValueType>& parameter_types() const { return parameter_types_; }
  bool has_parameters() const { return has_parameters_; }
  /// Slots of the enclosing scope the rules read (empty for decisions with parameters).
  std::vector<std::size_t> referenced_slots() const;
  /// How deep evaluating it recurses (its deepest rule, plus one).
  std::uint32_t evaluation_depth() const { return evaluation_depth_; }

 private:
  friend std::shared_ptr<const CompiledDecision> compile_decision(const ast::Decision&, Scope&,
                                                                  DiagnosticSink&);
  struct Row {
    std::optional<CompiledExpression> condition;
    std::vector<CompiledExpression> results;
  };
  std::string name_;
  HitPolicy policy_ = HitPolicy::first;
  bool has_parameters_ = false;
  std::vector<ValueType> parameter_types_;
  std::vector<Row> rows_;
  ValueType result_type_;
  std::size_t slot_count_ = 0;
  std::size_t result_count_ = 0;  ///< results of all rows: the most `collect` can give
  std::uint32_t evaluation_depth_ = 1;
};

}  // namespace onevisit::dsl
