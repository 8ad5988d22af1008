#include <onevisit/dsl/expr.hpp>

#include <onevisit/dsl/formatter.hpp>
#include <onevisit/dsl/parser.hpp>
#include <onevisit/dsl/personal_numbers.hpp>

#include <boost/regex.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>

namespace onevisit::dsl {

// ---------------------------------------------------------------------------------------
// Types

ValueType ValueType::from_ast(const ast::Type& type) {
  switch (type.kind) {
    case ast::TypeKind::text: return of(BaseType::text);
    case ast::TypeKind::integer: return of(BaseType::integer);
    case ast::TypeKind::decimal: return of(BaseType::decimal);
    case ast::TypeKind::money: return of(BaseType::money);
    case ast::TypeKind::boolean: return of(BaseType::boolean);
    case ast::TypeKind::date: return of(BaseType::date);
    case ast::TypeKind::idcard: return of(BaseType::idcard);
    case ast::TypeKind::uscc: return of(BaseType::uscc);
    case ast::TypeKind::phone: return of(BaseType::phone);
    case ast::TypeKind::enumeration: {
      auto values = std::make_shared<std::vector<std::string>>();
      for (const auto& v : type.values) values->push_back(v.name.text);
      ValueType t = of(BaseType::enumeration);
      t.values = std::move(values);
      return t;
    }
    case ast::TypeKind::list: {
      const BaseType element = type.element.empty() ? BaseType::any : from_ast(type.element[0]).base;
      // Lists of enums and lists of lists are kept simple: elements are checked as text.
      return list_of(element == BaseType::enumeration || element == BaseType::list ? BaseType::text : element);
    }
  }
  return of(BaseType::any);
}

namespace {
std::string_view base_name(BaseType b) {
  switch (b) {
    case BaseType::any: return "any";
    case BaseType::null: return "null";
    case BaseType::boolean: return "bool";
    case BaseType::integer: return "int";
    case BaseType::decimal: return "decimal";
    case BaseType::money: return "money";
    case BaseType::text: return "text";
    case BaseType::date: return "date";
    case BaseType::duration: return "duration";
    case BaseType::list: return "list";
    case BaseType::enumeration: return "enum";
    case BaseType::idcard: return "idcard";
    case BaseType::uscc: return "uscc";
    case BaseType::phone: return "phone";
  }
  return "any";
}

bool is_numeric(BaseType b) {
  return b == BaseType::integer || b == BaseType::decimal || b == BaseType::money;
}
bool is_textual(BaseType b) {
  return b == BaseType::text || b == BaseType::idcard || b == BaseType::uscc ||
         b == BaseType::phone || b == BaseType::enumeration;
}
}  // namespace

std::string to_string(const ValueType& type) {
  if (type.base == BaseType::list) return "list(" + std::string(base_name(type.element)) + ")";
  return std::string(base_name(type.base));
}

// ---------------------------------------------------------------------------------------
// Values

std::optional<Decimal> Decimal::parse(std::string_view text) {
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  const auto dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view fraction = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole.empty() || fraction.size() > 4 || whole.size() > 14) return std::nullopt;
  std::int64_t units = 0;
  for (const char c : whole) {
    if (c < '0' || c > '9') return std::nullopt;
    units = units * 10 + (c - '0');
  }
  units *= kScale;
  std::int64_t scale = kScale / 10;
  for (const char c : fraction) {
    if (c < '0' || c > '9') return std::nullopt;
    units += (c - '0') * scale;
    scale /= 10;
  }
  return Decimal{negative ? -units : units};
}

std::string Decimal::to_string() const {
  const bool negative = units < 0;
  const std::uint64_t magnitude = negative ? static_cast<std::uint64_t>(-(units + 1)) + 1 : static_cast<std::uint64_t>(units);
  std::string out = (negative ? "-" : "") + std::to_string(magnitude / kScale);
  std::uint64_t fraction = magnitude % kScale;
  if (fraction != 0) {
    std::string digits = std::to_string(fraction + kScale).substr(1);
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
    out += "." + digits;
  }
  return out;
}

std::expected<Decimal, std::string> number_literal(std::string_view text) {
  if (const auto value = Decimal::parse(text)) return *value;
  return std::unexpected("number " + std::string(text) +
                         " is out of range: a number has at most 14 digits before the point "
                         "(up to 99999999999999.9999) and at most 4 decimals");
}

Decimal max_duration(ast::TimeUnit unit) {
  switch (unit) {
    case ast::TimeUnit::workday: return Decimal::from_int(25000);
    case ast::TimeUnit::day: return Decimal::from_int(36500);
    case ast::TimeUnit::hour: return Decimal::from_int(876000);
  }
  return Decimal::from_int(0);
}

std::expected<Decimal, std::string> duration_literal(std::string_view amount, ast::TimeUnit unit) {
  const auto value = Decimal::parse(amount);
  if (value && *value <= max_duration(unit)) return *value;
  const char* name = unit == ast::TimeUnit::workday ? " workdays"
                     : unit == ast::TimeUnit::day   ? " days"
                                                    : " hours";
  return std::unexpected("duration " + std::string(amount) + name +
                         " is out of range: a duration is at most " + max_duration(unit).to_string() + name +
                         " (100 years: 25000 workdays, 36500 days or 876000 hours), with at most 4 decimals");
}

std::expected<void, std::string> check_pattern_size(std::string_view pattern) {
  if (pattern.size() > kMaxPatternBytes) {
    return std::unexpected("the pattern is " + std::to_string(pattern.size()) + " bytes long; at most " +
                           std::to_string(kMaxPatternBytes) + " are allowed");
  }
  int depth = 0;
  bool in_class = false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\') {
      ++i;  // an escaped character opens nothing
    } else if (in_class) {
      in_class = c != ']';
    } else if (c == '[') {
      in_class = true;
    } else if (c == '(' && ++depth > kMaxPatternNesting) {
      return std::unexpected("the pattern nests groups more than " + std::to_string(kMaxPatternNesting) +
                             " deep");
    } else if (c == ')' && depth > 0) {
      --depth;
    }
  }
  return {};
}

std::optional<bool> pattern_matches(std::string_view text, std::string_view pattern) {
  if (!check_pattern_size(pattern)) return std::nullopt;
  try {
    const boost::regex compiled(pattern.begin(), pattern.end(), boost::regex::ECMAScript);
    return boost::regex_search(text.begin(), text.end(), compiled);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool operator==(const Value& a, const Value& b) {
  if (a.kind != b.kind) {
    const bool numeric_a = a.kind == ValueKind::integer || a.kind == ValueKind::decimal;
    const bool numeric_b = b.kind == ValueKind::integer || b.kind == ValueKind::decimal;
    return numeric_a && numeric_b && a.as_decimal() == b.as_decimal();
  }
  switch (a.kind) {
    case ValueKind::null: return true;
    case ValueKind::boolean: return a.boolean == b.boolean;
    case ValueKind::integer:
    case ValueKind::decimal:
    case ValueKind::date: return a.integer == b.integer;
    case ValueKind::duration: return a.integer == b.integer && a.unit == b.unit;
    case ValueKind::text: return a.text == b.text;
    case ValueKind::list: return a.list == b.list;
  }
  return false;
}

std::int64_t days_from_civil(const CivilDate& date) {
  using namespace std::chrono;
  const sys_days days{year{date.year} / month{static_cast<unsigned>(date.month)} / day{static_cast<unsigned>(date.day)}};
  return days.time_since_epoch().count();
}

CivilDate civil_from_days(std::int64_t days) {
  using namespace std::chrono;
  const year_month_day ymd{sys_days{std::chrono::days{days}}};
  return CivilDate{static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
                   static_cast<int>(static_cast<unsigned>(ymd.day()))};
}

std::optional<CivilDate> parse_civil_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  auto number = [&](std::size_t from, std::size_t count) {
    int v = 0;
    for (std::size_t i = from; i < from + count; ++i) {
      if (text[i] < '0' || text[i] > '9') return -1;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  const CivilDate d{number(0, 4), number(5, 2), number(8, 2)};
  if (d.year < 1 || !is_real_date(d.year, d.month, d.day)) return std::nullopt;
  return d;
}

std::string to_string(const Value& value) {
  switch (value.kind) {
    case ValueKind::null: return "null";
    case ValueKind::boolean: return value.boolean ? "true" : "false";
    case ValueKind::integer: return std::to_string(value.integer);
    case ValueKind::decimal: return Decimal{value.integer}.to_string();
    case ValueKind::text: return quote(value.text);
    case ValueKind::date: {
      const CivilDate d = civil_from_days(value.integer);
      char buffer[16];
      std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d", d.year, d.month, d.day);
      return buffer;
    }
    case ValueKind::duration: {
      const char* unit = value.unit == ast::TimeUnit::workday ? " workdays" : value.unit == ast::TimeUnit::day ? " days" : " hours";
      return Decimal{value.integer}.to_string() + unit;
    }
    case ValueKind::list: {
      std::string out = "[";
      for (std::size_t i = 0; i < value.list.size(); ++i) {
        if (i) out += ", ";
        out += to_string(value.list[i]);
      }
      return out + "]";
    }
  }
  return "null";
}

// ---------------------------------------------------------------------------------------
// Scope

std::size_t Scope::add_variable(std::string name, ValueType type) {
  const std::size_t slot = slot_names_.size();
  slot_names_.push_back(name);
  variables_.emplace(std::move(name), Variable{slot, std::move(type)});
  return slot;
}

void Scope::add_namespace(std::string name, std::vector<std::pair<std::string, ValueType>> members, bool open) {
  for (auto& [member, type] : members) add_variable(name + "." + member, std::move(type));
  namespaces_[std::move(name)] = open;
}

void Scope::add_decision(std::string name, std::shared_ptr<const CompiledDecision> decision) {
  decisions_[std::move(name)] = std::move(decision);
}

const Scope::Variable* Scope::find_variable(std::string_view name) const {
  const auto it = variables_.find(std::string(name));
  return it == variables_.end() ? nullptr : &it->second;
}

bool Scope::is_namespace(std::string_view name) const { return namespaces_.contains(std::string(name)); }

bool Scope::is_open_namespace(std::string_view name) const {
  const auto it = namespaces_.find(std::string(name));
  return it != namespaces_.end() && it->second;
}

std::shared_ptr<const CompiledDecision> Scope::find_decision(std::string_view name) const {
  const auto it = decisions_.find(std::string(name));
  return it == decisions_.end() ? nullptr : it->second;
}

const Scope::Variable& Scope::open_member(std::string_view ns, std::string_view member) {
  std::string full = std::string(ns) + "." + std::string(member);
  if (const auto* v = find_variable(full)) return *v;
  add_variable(full, ValueType::of(BaseType::any));
  return *find_variable(full);
}

std::vector<std::string_view> Scope::names() const {
  std::vector<std::string_view> out;
  for (const auto& [name, v] : variables_) {
    if (name.find('.') == std::string::npos) out.push_back(name);
  }
  for (const auto& [name, open] : namespaces_) out.push_back(name);
  for (const auto& [name, d] : decisions_) out.push_back(name);
  return out;
}

// ---------------------------------------------------------------------------------------
// Compiled form: a flat array of nodes, children before parents; the root is last.

enum class OpCode : std::uint8_t {
  constant, load, decision, call_decision, make_list,
  logical_and, logical_or, logical_not, negate,
  eq, ne, lt, le, gt, ge, in, not_in, add, sub, mul, div,
  fn_len, fn_matches, fn_today, fn_date, fn_workdays_between, fn_age, fn_birth_date,
  fn_valid_idcard, fn_valid_uscc, fn_contains,
};

struct ExprNode {
  OpCode code = OpCode::constant;
  std::vector<std::uint32_t> children;  ///< indices of earlier nodes
  std::size_t slot = 0;           ///< load; decision index
  Value constant;
  /// matches() with a literal pattern. Boost.Regex, not std::regex: libstdc++ matches by
  /// recursion, once per character of the text, so a long field value would overflow the
  /// stack; Boost's matcher keeps its state on the heap and gives up on runaway patterns.
  std::shared_ptr<const boost::regex> pattern;
  std::uint32_t lhs = 0, rhs = 0;  ///< children[0] and [1] again, where evaluation reads them
  /// A comparison or membership of a slot and a constant (`area >= 50`, `category == "shop"`,
  /// the usual rule): `slot` and `constant` hold both operands, read without visiting two
  /// nodes; `constant_first` when the constant was written on the left.
  bool slot_and_constant = false;
  bool constant_first = false;
};

struct CompiledExpression::Body {
  std::vector<ExprNode> nodes;
  std::vector<std::shared_ptr<const CompiledDecision>> decisions;
  std::uint32_t evaluation_depth = 0;  ///< nested evaluator calls, through decisions too
};

namespace {

struct FunctionSignature {
  std::string_view name;
  OpCode code;
  std::size_t arity;
};

constexpr FunctionSignature kFunctions[] = {
    {"len", OpCode::fn_len, 1},
    {"matches", OpCode::fn_matches, 2},
    {"today", OpCode::fn_today, 0},
    {"date", OpCode::fn_date, 1},
    {"workdays_between", OpCode::fn_workdays_between, 2},
    {"age", OpCode::fn_age, 1},
    {"birth_date", OpCode::fn_birth_date, 1},
    {"valid_idcard", OpCode::fn_valid_idcard, 1},
    {"valid_uscc", OpCode::fn_valid_uscc, 1},
    {"contains", OpCode::fn_contains, 2},
};

}  // namespace

std::vector<std::string_view> builtin_function_names() {
  std::vector<std::string_view> names;
  for (const auto& f : kFunctions) names.push_back(f.name);
  return names;
}

namespace {
// Evaluates one node of `body` (the evaluator is below; constant folding uses it).
Value evaluate_node(const CompiledExpression::Body& body, std::uint32_t index, const Environment& env);
}  // namespace

class ExpressionCompiler {
 public:
  ExpressionCompiler(Scope& scope, DiagnosticSink& sink) : scope_(scope), sink_(sink) {}

  std::optional<CompiledExpression> run(const ast::Expr& expr) {
    const std::size_t errors_before = error_count();
    const std::uint32_t root = compile(expr);
    if (error_count() == errors_before && levels_[root] > static_cast<std::uint32_t>(kMaxExpressionDepth)) {
      // Each level is small here, yet decisions that read decisions stack their rules'
      // expressions: evaluation would recurse through all of them.
      sink_.error(expr.span, "too-deep",
                  "expression nests too deeply (more than " + std::to_string(kMaxExpressionDepth) +
                      " levels, counting the decisions it reads and the decisions they read)");
    }
    if (error_count() != errors_before) return std::nullopt;
    body_.evaluation_depth = levels_[root];
    CompiledExpression out;
    out.type_ = types_[root];
    out.body_ = std::make_shared<const CompiledExpression::Body>(std::move(body_));
    return out;
  }

 private:
  Scope& scope_;
  DiagnosticSink& sink_;
  CompiledExpression::Body body_;
  std::vector<ValueType> types_;       ///< per node
  std::vector<std::uint32_t> levels_;  ///< per node: evaluator calls nested below and in it
  int depth_ = 0;                      ///< recursion of compile()
  bool too_deep_reported_ = false;

  std::size_t error_count() const {
    return static_cast<std::size_t>(std::count_if(sink_.diagnostics().begin(), sink_.diagnostics().end(),
                                                  [](const Diagnostic& d) { return d.severity == Severity::error; }));
  }

  std::uint32_t emit(ExprNode node, ValueType type) {
    std::uint32_t below = 0;
    for (const auto child : node.children) below = std::max(below, levels_[child]);
    if (node.code == OpCode::decision || node.code == OpCode::call_decision) {
      below = std::max(below, body_.decisions[node.slot]->evaluation_depth());
    }
    // The level stays that of the tree as written, folded or not: the depth limit is the
    // language's, and a folded expression must not pass where the unfolded one fails.
    if (!node.children.empty()) node.lhs = node.children[0];
    if (node.children.size() > 1) node.rhs = node.children[1];
    if (folds(node)) node = fold(std::move(node));
    if (compares(node.code) && node.children.size() == 2) {
      const ExprNode& left = body_.nodes[node.lhs];
      const ExprNode& right = body_.nodes[node.rhs];
      if (left.code == OpCode::load && right.code == OpCode::constant) {
        node.slot_and_constant = true;
        node.slot = left.slot;
        node.constant = right.constant;
      } else if (left.code == OpCode::constant && right.code == OpCode::load) {
        node.slot_and_constant = node.constant_first = true;
        node.slot = right.slot;
        node.constant = left.constant;
      }
    }
    levels_.push_back(below + 1);
    body_.nodes.push_back(std::move(node));
    types_.push_back(std::move(type));
    return static_cast<std::uint32_t>(body_.nodes.size() - 1);
  }

  static bool compares(OpCode code) {
    return code == OpCode::eq || code == OpCode::ne || code == OpCode::lt || code == OpCode::le || code == OpCode::gt ||
           code == OpCode::ge || code == OpCode::in || code == OpCode::not_in;
  }

  // Constant folding: an operation whose operands are all constants and which reads nothing
  // from the environment (no slot, decision, today or calendar) is computed once here, by the
  // evaluator itself, so its value is exactly the one evaluation would give (null for 1 / 0).
  bool folds(const ExprNode& node) const {
    switch (node.code) {
      case OpCode::constant:
      case OpCode::load:
      case OpCode::decision:
      case OpCode::call_decision:
      case OpCode::fn_today:
      case OpCode::fn_workdays_between:
      case OpCode::fn_age:
      case OpCode::fn_valid_idcard: return false;
      default: break;
    }
    return std::all_of(node.children.begin(), node.children.end(),
                       [&](std::uint32_t child) { return body_.nodes[child].code == OpCode::constant; });
  }

  ExprNode fold(ExprNode node) {
    const std::vector<std::uint32_t> children = node.children;
    body_.nodes.push_back(std::move(node));
    ExprNode folded;
    folded.constant = evaluate_node(body_, static_cast<std::uint32_t>(body_.nodes.size() - 1), Environment{});
    body_.nodes.pop_back();
    // The operands were the last nodes emitted; nothing else refers to them now.
    bool trailing = true;
    for (std::size_t i = 0; i < children.size(); ++i) {
      trailing = trailing && children[i] == body_.nodes.size() - children.size() + i;
    }
    if (trailing) {
      body_.nodes.resize(body_.nodes.size() - children.size());
      levels_.resize(body_.nodes.size());
      types_.resize(body_.nodes.size());
    }
    return folded;
  }

  std::uint32_t emit_any() { return emit(ExprNode{}, ValueType::of(BaseType::any)); }

  void mismatch(const ast::Expr& at, std::string message) {
    sink_.error(at.span, "type-mismatch", std::move(message));
  }

  static bool accepts(const ValueType& expected, const ValueType& actual) {
    const BaseType e = expected.base, a = actual.base;
    if (e == BaseType::any || a == BaseType::any || a == BaseType::null) return true;
    if (e == a) return e != BaseType::list || expected.element == actual.element ||
                       expected.element == BaseType::any || actual.element == BaseType::any ||
                       (is_numeric(expected.element) && is_numeric(actual.element)) ||
                       (is_textual(expected.element) && is_textual(actual.element));
    if (is_numeric(e) && is_numeric(a)) return a == BaseType::integer || e != BaseType::integer;
    if (e == BaseType::text && is_textual(a)) return true;
    if (is_textual(e) && a == BaseType::text) return true;  // checked further for enum literals
    return false;
  }

 public:
  static bool type_accepts(const ValueType& expected, const ValueType& actual) { return accepts(expected, actual); }

 private:
  // Checks that a string literal compared with an enum is one of its members.
  void check_enum_literal(const ValueType& enum_type, const ast::Expr& literal) {
    if (enum_type.base != BaseType::enumeration || !enum_type.values || literal.kind != ast::ExprKind::string) return;
    const auto& values = *enum_type.values;
    if (std::find(values.begin(), values.end(), literal.text) != values.end()) return;
    std::vector<std::string_view> candidates(values.begin(), values.end());
    std::string message = "\"" + literal.text + "\" is not a value of this enum (";
    for (std::size_t i = 0; i < values.size(); ++i) message += (i ? ", " : "") + values[i];
    message += ")";
    if (auto guess = closest_name(literal.text, candidates); !guess.empty()) message += "; did you mean \"" + guess + "\"?";
    sink_.error(literal.span, "unknown-enum-value", message);
  }

  // The parser never builds a tree deeper than kMaxExpressionDepth; a tree built in code
  // might be, so the recursion guards itself too.
  std::uint32_t compile(const ast::Expr& e) {
    if (depth_ >= kMaxExpressionDepth) {
      if (!too_deep_reported_) {
        too_deep_reported_ = true;
        sink_.error(e.span, "too-deep",
                    "expression nests too deeply (more than " + std::to_string(kMaxExpressionDepth) +
                        " levels)");
      }
      return emit_any();
    }
    ++depth_;
    const std::uint32_t index = compile_node(e);
    --depth_;
    return index;
  }

  std::uint32_t compile_node(const ast::Expr& e) {
    using ast::ExprKind;
    switch (e.kind) {
      case ExprKind::number: return number(e);
      case ExprKind::string: {
        ExprNode n;
        n.constant = Value::of_text(e.text);
        return emit(std::move(n), ValueType::of(BaseType::text));
      }
      case ExprKind::boolean: {
        ExprNode n;
        n.constant = Value::of_bool(e.text == "true");
        return emit(std::move(n), ValueType::of(BaseType::boolean));
      }
      case ExprKind::null: return emit(ExprNode{}, ValueType::of(BaseType::null));
      case ExprKind::name: return name(e);
      case ExprKind::member: return member(e);
      case ExprKind::call: return call(e);
      case ExprKind::list: return list(e);
      case ExprKind::unary: return unary(e);
      case ExprKind::binary: return binary(e);
    }
    return emit_any();
  }

  std::uint32_t number(const ast::Expr& e) {
    ExprNode n;
    const bool fractional = e.text.find('.') != std::string::npos;
    const auto value = e.unit ? duration_literal(e.text, *e.unit) : number_literal(e.text);
    if (!value) {
      sink_.error(e.span, "number-out-of-range", value.error());
      return emit_any();
    }
    if (e.unit) {
      n.constant = Value::of_duration(*value, *e.unit);
      return emit(std::move(n), ValueType::of(BaseType::duration));
    }
    if (fractional) {
      n.constant = Value::of_decimal(*value);
      return emit(std::move(n), ValueType::of(BaseType::decimal));
    }
    n.constant = Value::of_int(value->units / Decimal::kScale);
    return emit(std::move(n), ValueType::of(BaseType::integer));
  }

  void unknown_name(const ast::Expr& e, std::string_view what, std::vector<std::string_view> candidates) {
    std::string message = "unknown " + std::string(what) + " '" + e.text + "'";
    if (auto guess = closest_name(e.text, candidates); !guess.empty()) message += "; did you mean '" + guess + "'?";
    sink_.error(e.span, "unknown-name", message);
  }

  std::uint32_t name(const ast::Expr& e) {
    if (const auto* v = scope_.find_variable(e.text)) {
      ExprNode n;
      n.code = OpCode::load;
      n.slot = v->slot;
      return emit(std::move(n), v->type);
    }
    if (auto d = scope_.find_decision(e.text)) {
      if (d->has_parameters()) {
        sink_.error(e.span, "wrong-arity", "decision '" + e.text + "' takes parameters; call it as " + e.text + "(...)");
        return emit_any();
      }
      ExprNode n;
      n.code = OpCode::decision;
      n.slot = body_.decisions.size();
      body_.decisions.push_back(d);
      return emit(std::move(n), d->result_type());
    }
    if (scope_.is_namespace(e.text)) {
      sink_.error(e.span, "type-mismatch", "'" + e.text + "' is a namespace; use one of its members, e.g. " + e.text + ".x");
      return emit_any();
    }
    unknown_name(e, "name", scope_.names());
    return emit_any();
  }

  std::uint32_t member(const ast::Expr& e) {
    const ast::Expr& base = e.children[0];
    if (base.kind == ast::ExprKind::name && scope_.is_namespace(base.text)) {
      const std::string full = base.text + "." + e.text;
      const Scope::Variable* v = scope_.find_variable(full);
      if (!v && scope_.is_open_namespace(base.text)) v = &scope_.open_member(base.text, e.text);
      if (!v) {
        std::vector<std::string> members;
        for (const auto& slot : scope_.slot_names()) {
          if (slot.starts_with(base.text + ".")) members.push_back(slot.substr(base.text.size() + 1));
        }
        std::vector<std::string_view> candidates(members.begin(), members.end());
        std::string message = "'" + base.text + "' has no member '" + e.text + "'";
        if (auto guess = closest_name(e.text, candidates); !guess.empty()) message += "; did you mean '" + guess + "'?";
        sink_.error(e.span, "unknown-name", message);
        return emit_any();
      }
      ExprNode n;
      n.code = OpCode::load;
      n.slot = v->slot;
      return emit(std::move(n), v->type);
    }
    const std::uint32_t child = compile(base);
    if (types_[child].base != BaseType::any) {
      mismatch(e, "a " + to_string(types_[child]) + " value has no members");
    }
    return emit_any();
  }

  std::uint32_t list(const ast::Expr& e) {
    ExprNode n;
    n.code = OpCode::make_list;
    BaseType element = BaseType::any;
    for (const auto& child : e.children) {
      const std::uint32_t index = compile(child);
      n.children.push_back(index);
      const BaseType b = types_[index].base;
      if (b == BaseType::any || b == BaseType::null) continue;
      if (element == BaseType::any) {
        element = b;
      } else if (is_numeric(element) && is_numeric(b)) {
        if (b != BaseType::integer) element = BaseType::decimal;
      } else if (is_textual(element) && is_textual(b)) {
        element = BaseType::text;
      } else if (element != b) {
        mismatch(child, "list elements must share one type; found " + std::string(base_name(element)) + " and " +
                            std::string(base_name(b)));
      }
    }
    return emit(std::move(n), ValueType::list_of(element));
  }

  std::uint32_t unary(const ast::Expr& e) {
    const std::uint32_t operand = compile(e.children[0]);
    const ValueType& t = types_[operand];
    ExprNode n;
    n.children = {operand};
    if (e.op == ast::Op::logical_not) {
      if (!accepts(ValueType::of(BaseType::boolean), t)) mismatch(e.children[0], "'not' needs a bool, found " + to_string(t));
      n.code = OpCode::logical_not;
      return emit(std::move(n), ValueType::of(BaseType::boolean));
    }
    if (t.base != BaseType::any && !is_numeric(t.base) && t.base != BaseType::duration) {
      mismatch(e.children[0], "'-' needs a number or a duration, found " + to_string(t));
    }
    n.code = OpCode::negate;
    return emit(std::move(n), t.base == BaseType::any ? t : ValueType::of(t.base));
  }

  std::uint32_t binary(const ast::Expr& e) {
    using ast::Op;
    const std::uint32_t lhs = compile(e.children[0]);
    const std::uint32_t rhs = compile(e.children[1]);
    const ValueType lt = types_[lhs], rt = types_[rhs];
    ExprNode n;
    n.children = {lhs, rhs};
    const std::string op = std::string(e.op == Op::logical_and ? "and" : e.op == Op::logical_or ? "or" : "");
    auto result = [&](OpCode code, ValueType type) {
      n.code = code;
      return emit(std::move(n), std::move(type));
    };
    const ValueType boolean = ValueType::of(BaseType::boolean);
    switch (e.op) {
      case Op::logical_and:
      case Op::logical_or:
        if (!accepts(boolean, lt)) mismatch(e.children[0], "'" + op + "' needs bool operands, found " + to_string(lt));
        if (!accepts(boolean, rt)) mismatch(e.children[1], "'" + op + "' needs bool operands, found " + to_string(rt));
        return result(e.op == Op::logical_and ? OpCode::logical_and : OpCode::logical_or, boolean);
      case Op::eq:
      case Op::ne:
        if (!comparable(lt, rt)) {
          mismatch(e, "cannot compare " + to_string(lt) + " with " + to_string(rt) + ": " + sides(e, lt, rt));
        } else {
          check_enum_literal(lt, e.children[1]);
          check_enum_literal(rt, e.children[0]);
        }
        return result(e.op == Op::eq ? OpCode::eq : OpCode::ne, boolean);
      case Op::lt:
      case Op::le:
      case Op::gt:
      case Op::ge: {
        const bool ordered = (lt.base == BaseType::any || rt.base == BaseType::any) ||
                             (is_numeric(lt.base) && is_numeric(rt.base)) ||
                             (lt.base == BaseType::date && rt.base == BaseType::date) ||
                             (lt.base == BaseType::duration && rt.base == BaseType::duration);
        if (!ordered) {
          mismatch(e, "cannot order " + to_string(lt) + " and " + to_string(rt) + " (numbers, dates and durations only): " + sides(e, lt, rt));
        }
        const OpCode code = e.op == Op::lt ? OpCode::lt : e.op == Op::le ? OpCode::le : e.op == Op::gt ? OpCode::gt : OpCode::ge;
        return result(code, boolean);
      }
      case Op::in:
      case Op::not_in: {
        if (rt.base == BaseType::list) {
          if (!comparable(lt, ValueType::of(rt.element))) {
            mismatch(e, "cannot look for a " + to_string(lt) + " in a " + to_string(rt) + ": " + sides(e, lt, rt));
          } else if (lt.base == BaseType::enumeration) {
            for (const auto& element : e.children[1].children) check_enum_literal(lt, element);
          }
        } else if (is_textual(rt.base)) {
          if (!accepts(ValueType::of(BaseType::text), lt)) mismatch(e, "'in' on text needs text on the left, found " + to_string(lt));
        } else if (rt.base != BaseType::any) {
          mismatch(e.children[1], "'in' needs a list or a text on the right, found " + to_string(rt));
        }
        return result(e.op == Op::in ? OpCode::in : OpCode::not_in, boolean);
      }
      case Op::add:
      case Op::sub:
      case Op::mul:
      case Op::div:
        return arithmetic(e, std::move(n), lt, rt);
      default: break;
    }
    return emit_any();
  }

  // Which side has which type, for a message about a binary operator: "the left side `n` is
  // int, the right side `true` is bool" (each side as written, cut when long).
  static std::string sides(const ast::Expr& e, const ValueType& lt, const ValueType& rt) {
    const auto side = [](const ast::Expr& operand) {
      std::string text = format_expression(operand);
      if (text.size() > 40) text = truncate_utf8(text, 37) + "...";
      return "`" + text + "`";
    };
    return "the left side " + side(e.children[0]) + " is " + to_string(lt) + ", the right side " + side(e.children[1]) + " is " +
           to_string(rt);
  }

  static bool comparable(const ValueType& a, const ValueType& b) {
    if (a.base == BaseType::any || b.base == BaseType::any || a.base == BaseType::null || b.base == BaseType::null) return true;
    if (is_numeric(a.base) && is_numeric(b.base)) return true;
    if (is_textual(a.base) && is_textual(b.base)) return true;
    if (a.base == BaseType::list && b.base == BaseType::list) return true;
    return a.base == b.base;
  }

  std::uint32_t arithmetic(const ast::Expr& e, ExprNode n, const ValueType& lt, const ValueType& rt) {
    using ast::Op;
    const OpCode code = e.op == Op::add ? OpCode::add : e.op == Op::sub ? OpCode::sub : e.op == Op::mul ? OpCode::mul : OpCode::div;
    n.code = code;
    const BaseType a = lt.base, b = rt.base;
    if (a == BaseType::any || b == BaseType::any) return emit(std::move(n), ValueType::of(BaseType::any));
    if (is_numeric(a) && is_numeric(b)) {
      BaseType r = (a == BaseType::integer && b == BaseType::integer && code != OpCode::div) ? BaseType::integer
                   : (a == BaseType::money || b == BaseType::money)                        ? BaseType::money
                                                                                           : BaseType::decimal;
      return emit(std::move(n), ValueType::of(r));
    }
    if (code == OpCode::add && is_textual(a) && is_textual(b)) return emit(std::move(n), ValueType::of(BaseType::text));
    if (a == BaseType::date && b == BaseType::duration && (code == OpCode::add || code == OpCode::sub)) {
      return emit(std::move(n), ValueType::of(BaseType::date));
    }
    if (a == BaseType::date && b == BaseType::date && code == OpCode::sub) return emit(std::move(n), ValueType::of(BaseType::integer));
    if (a == BaseType::duration && b == BaseType::duration && (code == OpCode::add || code == OpCode::sub)) {
      return emit(std::move(n), ValueType::of(BaseType::duration));
    }
    if (a == BaseType::duration && is_numeric(b) && (code == OpCode::mul || code == OpCode::div)) {
      return emit(std::move(n), ValueType::of(BaseType::duration));
    }
    const char* symbol = code == OpCode::add ? "+" : code == OpCode::sub ? "-" : code == OpCode::mul ? "*" : "/";
    mismatch(e, std::string("cannot apply '") + symbol + "' to " + to_string(lt) + " and " + to_string(rt) + ": " + sides(e, lt, rt));
    return emit(std::move(n), ValueType::of(BaseType::any));
  }

  std::uint32_t call(const ast::Expr& e) {
    if (auto d = scope_.find_decision(e.text)) return call_decision(e, d);
    const FunctionSignature* signature = nullptr;
    for (const auto& f : kFunctions) {
      if (f.name == e.text) signature = &f;
    }
    if (!signature) {
      auto candidates = builtin_function_names();
      unknown_name(e, "function", candidates);
      for (const auto& child : e.children) compile(child);
      return emit_any();
    }
    if (e.children.size() != signature->arity) {
      sink_.error(e.span, "wrong-arity", "'" + e.text + "' takes " + std::to_string(signature->arity) +
                                             " argument" + (signature->arity == 1 ? "" : "s") + ", found " +
                                             std::to_string(e.children.size()));
      return emit_any();
    }
    ExprNode n;
    n.code = signature->code;
    std::vector<ValueType> args;
    for (const auto& child : e.children) {
      const std::uint32_t index = compile(child);
      n.children.push_back(index);
      args.push_back(types_[index]);
    }
    auto expect = [&](std::size_t i, bool ok, std::string_view wanted) {
      if (!ok && args[i].base != BaseType::any && args[i].base != BaseType::null) {
        mismatch(e.children[i], "'" + e.text + "' needs " + std::string(wanted) + ", found " + to_string(args[i]));
      }
    };
    const auto textual = [&](std::size_t i) { return is_textual(args[i].base); };
    ValueType type = ValueType::of(BaseType::boolean);
    switch (signature->code) {
      case OpCode::fn_len:
        expect(0, textual(0) || args[0].base == BaseType::list, "a text or a list");
        type = ValueType::of(BaseType::integer);
        break;
      case OpCode::fn_matches:
      case OpCode::fn_contains:
        expect(0, textual(0), "a text");
        expect(1, textual(1), "a text");
        if (signature->code == OpCode::fn_matches && e.children[1].kind == ast::ExprKind::string) {
          if (auto size = check_pattern_size(e.children[1].text); !size) {
            sink_.error(e.children[1].span, "invalid-pattern", size.error());
          } else {
            try {
              n.pattern = std::make_shared<const boost::regex>(e.children[1].text, boost::regex::ECMAScript);
            } catch (const std::exception&) {
              sink_.error(e.children[1].span, "invalid-pattern", "not a valid regular expression");
            }
          }
        }
        break;
      case OpCode::fn_today: type = ValueType::of(BaseType::date); break;
      case OpCode::fn_date:
        expect(0, textual(0), "a text YYYY-MM-DD");
        if (e.children[0].kind == ast::ExprKind::string && !parse_civil_date(e.children[0].text)) {
          sink_.error(e.children[0].span, "invalid-date", "\"" + e.children[0].text + "\" is not a real date YYYY-MM-DD");
        }
        type = ValueType::of(BaseType::date);
        break;
      case OpCode::fn_workdays_between:
        expect(0, args[0].base == BaseType::date, "a date");
        expect(1, args[1].base == BaseType::date, "a date");
        type = ValueType::of(BaseType::integer);
        break;
      case OpCode::fn_age:
      case OpCode::fn_birth_date:
        expect(0, args[0].base == BaseType::idcard || args[0].base == BaseType::text, "an idcard");
        type = ValueType::of(signature->code == OpCode::fn_age ? BaseType::integer : BaseType::date);
        break;
      case OpCode::fn_valid_idcard:
      case OpCode::fn_valid_uscc:
        expect(0, textual(0), "a text");
        break;
      default: break;
    }
    return emit(std::move(n), std::move(type));
  }

  std::uint32_t call_decision(const ast::Expr& e, const std::shared_ptr<const CompiledDecision>& d) {
    if (!d->has_parameters()) {
      sink_.error(e.span, "wrong-arity", "decision '" + e.text + "' takes no parameters; refer to it as " + e.text);
      return emit_any();
    }
    const auto& parameters = d->parameter_types();
    if (parameters.size() != e.children.size()) {
      sink_.error(e.span, "wrong-arity", "decision '" + e.text + "' takes " + std::to_string(parameters.size()) +
                                             " arguments, found " + std::to_string(e.children.size()));
      return emit_any();
    }
    ExprNode n;
    n.code = OpCode::call_decision;
    n.slot = body_.decisions.size();
    body_.decisions.push_back(d);
    for (std::size_t i = 0; i < e.children.size(); ++i) {
      const std::uint32_t index = compile(e.children[i]);
      if (!accepts(parameters[i], types_[index])) {
        mismatch(e.children[i], "argument " + std::to_string(i + 1) + " of '" + e.text + "' must be " +
                                    to_string(parameters[i]) + ", found " + to_string(types_[index]));
      }
      n.children.push_back(index);
    }
    return emit(std::move(n), d->result_type());
  }
};

std::optional<CompiledExpression> compile_expression(const ast::Expr& expr, Scope& scope, DiagnosticSink& sink) {
  return ExpressionCompiler(scope, sink).run(expr);
}

std::optional<CompiledExpression> compile_expression_as(const ast::Expr& expr, Scope& scope, const ValueType& expected,
                                                        std::string_view what, DiagnosticSink& sink) {
  auto compiled = compile_expression(expr, scope, sink);
  if (!compiled) return std::nullopt;
  if (!ExpressionCompiler::type_accepts(expected, compiled->type())) {
    sink.error(expr.span, "type-mismatch",
               std::string(what) + " must be " + to_string(expected) + ", found " + to_string(compiled->type()));
    return std::nullopt;
  }
  if (expected.base == BaseType::enumeration && expected.values && expr.kind == ast::ExprKind::string) {
    const auto& values = *expected.values;
    if (std::find(values.begin(), values.end(), expr.text) == values.end()) {
      std::vector<std::string_view> candidates(values.begin(), values.end());
      std::string message = "\"" + expr.text + "\" is not a value of this enum";
      if (auto guess = closest_name(expr.text, candidates); !guess.empty()) message += "; did you mean \"" + guess + "\"?";
      sink.error(expr.span, "unknown-enum-value", message);
      return std::nullopt;
    }
  }
  return compiled;
}

// ---------------------------------------------------------------------------------------
// Evaluation

namespace {


bool truthy(const Value& v) { return v.kind == ValueKind::boolean && v.boolean; }

// How a condition reads a value: null, true, or anything else (false, or not a boolean).
enum class Truth : std::uint8_t { null, other, yes };
Truth truth_of(const Value& v) { return v.is_null() ? Truth::null : truthy(v) ? Truth::yes : Truth::other; }

std::int64_t weekdays_between(std::int64_t from, std::int64_t to) {
  // Monday to Friday after `from` up to and including `to`. 1970-01-01 was a Thursday.
  auto count_upto = [](std::int64_t day) {  // weekdays in [epoch-ish, day], shifted to a Monday base
    const std::int64_t shifted = day + 3;  // day 0 (Thu) -> 3 (Mon-based index)
    const std::int64_t weeks = shifted >= 0 ? shifted / 7 : (shifted - 6) / 7;
    const std::int64_t rest = shifted - weeks * 7;  // 0..6, 0 = Monday
    return weeks * 5 + std::min<std::int64_t>(rest + 1, 5);
  };
  return count_upto(to) - count_upto(from);
}

int compare_values(const Value& a, const Value& b, bool& ok) {
  ok = true;
  const bool numeric_a = a.kind == ValueKind::integer || a.kind == ValueKind::decimal;
  const bool numeric_b = b.kind == ValueKind::integer || b.kind == ValueKind::decimal;
  if (numeric_a && numeric_b) {
    if (a.kind == ValueKind::integer && b.kind == ValueKind::integer) return (a.integer > b.integer) - (a.integer < b.integer);
    const auto x = a.as_decimal(), y = b.as_decimal();
    return (x > y) - (x < y);
  }
  if ((a.kind == ValueKind::date && b.kind == ValueKind::date) ||
      (a.kind == ValueKind::duration && b.kind == ValueKind::duration && a.unit == b.unit)) {
    return (a.integer > b.integer) - (a.integer < b.integer);
  }
  if (a.kind == ValueKind::text && b.kind == ValueKind::text) return a.text.compare(b.text);
  ok = false;
  return 0;
}

std::optional<std::int64_t> age_on(const std::string& id, std::int64_t today) {
  const auto birth = idcard_birth_date(id);
  // Nobody is born after today: such an ID number has no age (never a negative one).
  if (!birth || days_from_civil(*birth) > today) return std::nullopt;
  const CivilDate now = civil_from_days(today);
  int age = now.year - birth->year;
  if (now.month < birth->month || (now.month == birth->month && now.day < birth->day)) --age;
  return age;
}

__extension__ using Int128 = __int128;  // exact products of 4-place decimals

Value arithmetic(OpCode code, const Value& a, const Value& b) {
  if (a.is_null() || b.is_null()) return {};
  const bool numeric_a = a.kind == ValueKind::integer || a.kind == ValueKind::decimal;
  const bool numeric_b = b.kind == ValueKind::integer || b.kind == ValueKind::decimal;
  if (numeric_a && numeric_b) {
    if (a.kind == ValueKind::integer && b.kind == ValueKind::integer && code != OpCode::div) {
      std::int64_t r = 0;
      const bool overflow = code == OpCode::add   ? __builtin_add_overflow(a.integer, b.integer, &r)
                            : code == OpCode::sub ? __builtin_sub_overflow(a.integer, b.integer, &r)
                                                : __builtin_mul_overflow(a.integer, b.integer, &r);
      return overflow ? Value{} : Value::of_int(r);
    }
    const Int128 x = a.as_decimal().units, y = b.as_decimal().units;
    Int128 r = 0;
    switch (code) {
      case OpCode::add: r = x + y; break;
      case OpCode::sub: r = x - y; break;
      case OpCode::mul: r = x * y / Decimal::kScale; break;
      default:
        if (y == 0) return {};
        r = x * Decimal::kScale / y;
    }
    if (r > INT64_MAX || r < INT64_MIN) return {};
    return Value::of_decimal(Decimal{static_cast<std::int64_t>(r)});
  }
  if (a.kind == ValueKind::text && b.kind == ValueKind::text && code == OpCode::add) return Value::of_text(a.text + b.text);
  if (a.kind == ValueKind::date && b.kind == ValueKind::duration) {
    // Calendar arithmetic on whole days; working-day arithmetic belongs to the engine's calendar.
    const std::int64_t days = b.integer / Decimal::kScale * (b.unit == ast::TimeUnit::hour ? 0 : 1);
    return Value::of_date(code == OpCode::add ? a.integer + days : a.integer - days);
  }
  if (a.kind == ValueKind::date && b.kind == ValueKind::date && code == OpCode::sub) return Value::of_int(a.integer - b.integer);
  if (a.kind == ValueKind::duration && b.kind == ValueKind::duration && a.unit == b.unit) {
    return Value::of_duration(Decimal{code == OpCode::add ? a.integer + b.integer : a.integer - b.integer}, a.unit);
  }
  if (a.kind == ValueKind::duration && numeric_b) {
    const Value scaled = arithmetic(code, Value::of_decimal(Decimal{a.integer}), b);
    if (scaled.is_null()) return {};
    return Value::of_duration(scaled.as_decimal(), a.unit);
  }
  return {};
}

struct Evaluator {
  const std::vector<ExprNode>& nodes;
  const std::vector<std::shared_ptr<const CompiledDecision>>& decisions;
  const Environment& env;

  // An operand without a copy: constants and slots are read where they are (a copy of a
  // Value, with its text and list, was a third of a decision table's time); anything else
  // is evaluated into `scratch`.
  const Value& operand(std::uint32_t index, std::optional<Value>& scratch) const {
    static const Value kNull;
    const ExprNode& n = nodes[index];
    if (n.code == OpCode::constant) return n.constant;
    if (n.code == OpCode::load) return n.slot < env.slots.size() ? env.slots[n.slot] : kNull;
    return scratch.emplace(run(index));
  }

  // A comparison or membership of two values.
  static Truth test(OpCode code, const Value& left, const Value& right) {
    switch (code) {
      case OpCode::eq: return left == right ? Truth::yes : Truth::other;
      case OpCode::ne: return left == right ? Truth::other : Truth::yes;
      case OpCode::in:
      case OpCode::not_in: {
        bool found = false;
        if (right.kind == ValueKind::list) {
          found = std::find(right.list.begin(), right.list.end(), left) != right.list.end();
        } else if (right.kind == ValueKind::text && left.kind == ValueKind::text) {
          found = right.text.find(left.text) != std::string::npos;
        } else {
          return Truth::other;
        }
        return found == (code == OpCode::in) ? Truth::yes : Truth::other;
      }
      default: {
        bool ok = false;
        const int c = compare_values(left, right, ok);
        if (!ok) return Truth::other;
        const bool holds = code == OpCode::lt ? c < 0 : code == OpCode::le ? c <= 0 : code == OpCode::gt ? c > 0 : c >= 0;
        return holds ? Truth::yes : Truth::other;
      }
    }
  }

  // A boolean as `and`, `or`, `not` and conditions read it, without building a Value:
  // comparisons, membership and logic answer here directly, and `and`/`or` never evaluate
  // their right side once the left decides (a guard is read on every command).
  Truth truth(std::uint32_t index) const {
    const ExprNode& n = nodes[index];
    switch (n.code) {
      case OpCode::constant: return truth_of(n.constant);
      case OpCode::load: return n.slot < env.slots.size() ? truth_of(env.slots[n.slot]) : Truth::null;
      case OpCode::logical_and:
        return truth(n.lhs) == Truth::yes && truth(n.rhs) == Truth::yes ? Truth::yes : Truth::other;
      case OpCode::logical_or:
        return truth(n.lhs) == Truth::yes || truth(n.rhs) == Truth::yes ? Truth::yes : Truth::other;
      case OpCode::logical_not:
        switch (truth(n.lhs)) {
          case Truth::null: return Truth::null;
          case Truth::yes: return Truth::other;
          case Truth::other: return Truth::yes;
        }
        return Truth::null;
      case OpCode::eq:
      case OpCode::ne:
      case OpCode::lt:
      case OpCode::le:
      case OpCode::gt:
      case OpCode::ge:
      case OpCode::in:
      case OpCode::not_in: {
        if (n.slot_and_constant) {
          static const Value kNull;
          const Value& slot = n.slot < env.slots.size() ? env.slots[n.slot] : kNull;
          return n.constant_first ? test(n.code, n.constant, slot) : test(n.code, slot, n.constant);
        }
        std::optional<Value> a, b;
        return test(n.code, operand(n.lhs, a), operand(n.rhs, b));
      }
      default: return truth_of(run(index));
    }
  }

  Value run(std::uint32_t index) const {
    const ExprNode& n = nodes[index];
    switch (n.code) {
      case OpCode::constant: return n.constant;
      case OpCode::load: return n.slot < env.slots.size() ? env.slots[n.slot] : Value{};
      case OpCode::decision: return decisions[n.slot]->evaluate(env);
      case OpCode::call_decision: {
        std::vector<Value> args;
        args.reserve(n.children.size());
        for (const auto c : n.children) args.push_back(run(c));
        const Environment inner{args, env.today, env.calendar};
        return decisions[n.slot]->evaluate(inner);
      }
      case OpCode::make_list: {
        std::vector<Value> items;
        items.reserve(n.children.size());
        for (const auto c : n.children) items.push_back(run(c));
        return Value::of_list(std::move(items));
      }
      case OpCode::logical_and:
      case OpCode::logical_or:
      case OpCode::eq:
      case OpCode::ne:
      case OpCode::lt:
      case OpCode::le:
      case OpCode::gt:
      case OpCode::ge:
      case OpCode::in:
      case OpCode::not_in: return Value::of_bool(truth(index) == Truth::yes);
      case OpCode::logical_not: {
        const Truth t = truth(index);
        return t == Truth::null ? Value{} : Value::of_bool(t == Truth::yes);
      }
      case OpCode::negate: {
        Value v = run(n.children[0]);
        if (v.kind == ValueKind::integer || v.kind == ValueKind::decimal || v.kind == ValueKind::duration) {
          v.integer = -v.integer;
          return v;
        }
        return {};
      }
      case OpCode::add:
      case OpCode::sub:
      case OpCode::mul:
      case OpCode::div: {
        std::optional<Value> a, b;
        return arithmetic(n.code, operand(n.children[0], a), operand(n.children[1], b));
      }
      case OpCode::fn_len: {
        const Value v = run(n.children[0]);
        if (v.kind == ValueKind::text) return Value::of_int(static_cast<std::int64_t>(count_code_points(v.text)));
        if (v.kind == ValueKind::list) return Value::of_int(static_cast<std::int64_t>(v.list.size()));
        return {};
      }
      case OpCode::fn_matches: {
        const Value text = run(n.children[0]);
        if (text.kind != ValueKind::text) return {};
        // A pattern too complex for the text (Boost gives up rather than run for ever) or
        // not a pattern at all gives null, like every other runtime problem.
        if (n.pattern) {
          try {
            return Value::of_bool(boost::regex_search(text.text, *n.pattern));
          } catch (const std::exception&) {
            return {};
          }
        }
        const Value pattern = run(n.children[1]);
        if (pattern.kind != ValueKind::text) return {};
        const auto matched = pattern_matches(text.text, pattern.text);
        return matched ? Value::of_bool(*matched) : Value{};
      }
      case OpCode::fn_contains: {
        const Value a = run(n.children[0]), b = run(n.children[1]);
        if (a.kind != ValueKind::text || b.kind != ValueKind::text) return {};
        return Value::of_bool(a.text.find(b.text) != std::string::npos);
      }
      case OpCode::fn_today: return Value::of_date(env.today);
      case OpCode::fn_date: {
        const Value v = run(n.children[0]);
        if (v.kind != ValueKind::text) return {};
        const auto d = parse_civil_date(v.text);
        return d ? Value::of_date(days_from_civil(*d)) : Value{};
      }
      case OpCode::fn_workdays_between: {
        const Value a = run(n.children[0]), b = run(n.children[1]);
        if (a.kind != ValueKind::date || b.kind != ValueKind::date) return {};
        return Value::of_int(env.calendar ? env.calendar->workdays_between(a.integer, b.integer)
                                          : weekdays_between(a.integer, b.integer));
      }
      case OpCode::fn_age: {
        const Value v = run(n.children[0]);
        if (v.kind != ValueKind::text) return {};
        const auto age = age_on(v.text, env.today);
        return age ? Value::of_int(*age) : Value{};
      }
      case OpCode::fn_birth_date: {
        const Value v = run(n.children[0]);
        if (v.kind != ValueKind::text) return {};
        const auto birth = idcard_birth_date(v.text);
        return birth ? Value::of_date(days_from_civil(*birth)) : Value{};
      }
      case OpCode::fn_valid_idcard: {
        const Value v = run(n.children[0]);
        return Value::of_bool(v.kind == ValueKind::text && valid_idcard(v.text, env.today));
      }
      case OpCode::fn_valid_uscc: {
        const Value v = run(n.children[0]);
        return Value::of_bool(v.kind == ValueKind::text && valid_uscc(v.text));
      }
    }
    return {};
  }
};

Value evaluate_node(const CompiledExpression::Body& body, std::uint32_t index, const Environment& env) {
  return Evaluator{body.nodes, body.decisions, env}.run(index);
}

}  // namespace

Value CompiledExpression::evaluate(const Environment& env) const {
  if (!body_ || body_->nodes.empty()) return {};
  return Evaluator{body_->nodes, body_->decisions, env}.run(static_cast<std::uint32_t>(body_->nodes.size() - 1));
}

bool CompiledExpression::holds(const Environment& env) const {
  if (!body_ || body_->nodes.empty()) return false;
  return Evaluator{body_->nodes, body_->decisions, env}.truth(static_cast<std::uint32_t>(body_->nodes.size() - 1)) == Truth::yes;
}

std::size_t CompiledExpression::node_count() const { return body_ ? body_->nodes.size() : 0; }

std::uint32_t CompiledExpression::evaluation_depth() const { return body_ ? body_->evaluation_depth : 0; }

bool CompiledExpression::is_constant() const {
  if (!body_) return true;
  return std::none_of(body_->nodes.begin(), body_->nodes.end(), [](const ExprNode& n) {
    return n.code == OpCode::load || n.code == OpCode::decision || n.code == OpCode::call_decision || n.code == OpCode::fn_today;
  });
}

std::vector<std::size_t> CompiledExpression::referenced_slots() const {
  std::vector<std::size_t> out;
  if (!body_) return out;
  for (const auto& n : body_->nodes) {
    if (n.code == OpCode::load) out.push_back(n.slot);
  }
  for (const auto& d : body_->decisions) {
    if (d->has_parameters()) continue;  // reads only its arguments, which are counted above
    for (const auto slot : d->referenced_slots()) out.push_back(slot);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// ---------------------------------------------------------------------------------------
// Decisions

std::shared_ptr<const CompiledDecision> compile_decision(const ast::Decision& decision, Scope& outer,
                                                         DiagnosticSink& sink) {
  auto compiled = std::make_shared<CompiledDecision>();
  compiled->name_ = decision.id.text;
  compiled->policy_ = decision.policy;
  compiled->has_parameters_ = decision.has_parameters;
  Scope own;
  Scope& scope = decision.has_parameters ? own : outer;
  for (const auto& p : decision.parameters) {
    if (own.find_variable(p.name.text)) {
      sink.error(p.name.span, "duplicate-name", "parameter '" + p.name.text + "' is declared twice");
      continue;
    }
    compiled->parameter_types_.push_back(ValueType::from_ast(p.type));
    own.add_variable(p.name.text, ValueType::from_ast(p.type));
  }
  bool ok = true;
  std::optional<ValueType> row_type;
  for (std::size_t i = 0; i < decision.rows.size(); ++i) {
    const auto& row = decision.rows[i];
    CompiledDecision::Row compiled_row;
    if (row.condition) {
      compiled_row.condition = compile_expression_as(*row.condition, scope, ValueType::of(BaseType::boolean),
                                                     "a rule's condition", sink);
      ok = ok && compiled_row.condition.has_value();
    } else if (i + 1 != decision.rows.size()) {
      sink.error(row.span, "unreachable-rule", "'otherwise' must be the last rule: the rules after it never apply");
      ok = false;
    }
    for (const auto& result : row.results) {
      auto r = compile_expression(result, scope, sink);
      if (!r) {
        ok = false;
        continue;
      }
      ValueType t = row.results.size() == 1 ? r->type() : ValueType::list_of(r->type().base);
      if (row_type && !ExpressionCompiler::type_accepts(*row_type, r->type()) &&
          !ExpressionCompiler::type_accepts(ValueType::of(row_type->base == BaseType::list ? row_type->element : row_type->base),
                                            r->type())) {
        sink.error(result.span, "type-mismatch", "every rule must give results of one type: " + to_string(*row_type) +
                                                     " before, " + to_string(r->type()) + " here");
        ok = false;
      }
      if (!row_type) row_type = row.results.size() == 1 ? r->type() : ValueType::list_of(r->type().base);
      (void)t;
      compiled_row.results.push_back(std::move(*r));
    }
    compiled->rows_.push_back(std::move(compiled_row));
  }
  if (decision.rows.empty()) {
    sink.error(decision.id.span, "empty-decision", "decision '" + decision.id.text + "' has no rules");
    ok = false;
  }
  ValueType single = row_type.value_or(ValueType::of(BaseType::any));
  compiled->result_type_ = decision.policy == ast::HitPolicy::collect
                               ? ValueType::list_of(single.base == BaseType::list ? single.element : single.base)
                               : single;
  compiled->slot_count_ = scope.slot_count();
  for (const auto& row : compiled->rows_) compiled->result_count_ += row.results.size();
  std::uint32_t& depth = compiled->evaluation_depth_;
  for (const auto& row : compiled->rows_) {
    if (row.condition) depth = std::max(depth, row.condition->evaluation_depth() + 1);
    for (const auto& r : row.results) depth = std::max(depth, r.evaluation_depth() + 1);
  }
  if (!ok) return nullptr;
  return compiled;
}

std::vector<std::size_t> CompiledDecision::referenced_slots() const {
  std::vector<std::size_t> out;
  for (const auto& row : rows_) {
    if (row.condition) {
      for (const auto slot : row.condition->referenced_slots()) out.push_back(slot);
    }
    for (const auto& r : row.results) {
      for (const auto slot : r.referenced_slots()) out.push_back(slot);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Value CompiledDecision::evaluate(const Environment& env) const {
  auto row_value = [&](const Row& row) {
    if (row.results.size() == 1) return row.results[0].evaluate(env);
    std::vector<Value> items;
    for (const auto& r : row.results) items.push_back(r.evaluate(env));
    return Value::of_list(std::move(items));
  };
  if (policy_ == ast::HitPolicy::collect) {
    std::vector<Value> all;
    all.reserve(result_count_);  // one allocation, not one per doubling
    for (const auto& row : rows_) {
      if (row.condition && !row.condition->holds(env)) continue;
      for (const auto& r : row.results) all.push_back(r.evaluate(env));
    }
    return Value::of_list(std::move(all));
  }
  // `otherwise` applies only when no rule matched.
  const Row* hit = nullptr;
  const Row* fallback = nullptr;
  for (const auto& row : rows_) {
    if (!row.condition) {
      fallback = &row;
      continue;
    }
    if (!row.condition->holds(env)) continue;
    if (policy_ == ast::HitPolicy::first) return row_value(row);
    if (hit) return {};  // unique: more than one rule matched
    hit = &row;
  }
  if (hit) return row_value(*hit);
  return fallback ? row_value(*fallback) : Value{};
}

}  // namespace onevisit::dsl
