// The Spirit X3 grammar of .flow files (docs/grammar.md), and its only instantiation.
//
// Design notes:
// - The grammar builds the public AST (ast.hpp) directly with semantic actions, so no
//   Fusion/variant machinery leaks into public headers and no intermediate tree is copied.
// - Statements start with a keyword. After a keyword the grammar commits with `>`, so an
//   error says what was expected right there; `>>` only where backtracking is meant.
// - Error recovery: each declaration and each block member is parsed under `recovering`,
//   which catches the expectation failure, records a diagnostic, rewinds to the start of the
//   statement and skips it (balanced braces, strings and comments respected). One run thus
//   reports every independent error.
// - Nesting (brackets, `not`, unary minus, calls, lists, list types) is guarded by a depth
//   counter (kMaxNesting), so hostile nesting cannot blow the parser's stack; and every
//   expression node records its height, so a flat chain of 15,000 `and` (built in a loop,
//   yet a tree 15,000 levels deep) is refused where it crosses kMaxExpressionDepth, before
//   any later pass recurses over it.
#include <onevisit/dsl/parser.hpp>

#include <onevisit/dsl/identifiers.hpp>

#include <boost/spirit/home/x3.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

namespace onevisit::dsl {
namespace {

namespace x3 = boost::spirit::x3;
using Iterator = const char*;
using Failure = x3::expectation_failure<Iterator>;

// ---------------------------------------------------------------------------------------
// Parse state shared through the X3 context.

struct ParseState {
  const char* base = nullptr;
  DiagnosticSink* sink = nullptr;
  int depth = 0;
  const char* last_error_at = nullptr;
  const char* token_end = nullptr;  ///< end of the last token consumed, for spans
  int errors = 0;

  // A file of garbage would otherwise yield one error per statement; past this many the
  // rest is noise, so parsing stops (kept linear on hostile input).
  static constexpr int kMaxErrors = 100;
  bool gave_up() const { return errors >= kMaxErrors; }
  void report(Span at, std::string message) {
    if (gave_up()) return;
    ++errors;
    sink->error(at, "syntax", std::move(message));
  }

  Span span(const char* from, const char* to) const {
    return Span{static_cast<std::uint32_t>(from - base), static_cast<std::uint32_t>(to - base)};
  }
};
struct state_tag;

template <class Context>
ParseState& state_of(const Context& ctx) {
  return x3::get<state_tag>(ctx).get();
}

// Messages in expectation failures: a leading '!' marks a complete sentence; anything else
// is the name of what was expected.
std::string failure_message(const std::string& which) {
  if (!which.empty() && which.front() == '!') return which.substr(1);
  return "expected " + which;
}

bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_ident_char(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Skips whitespace and comments.
const char* skip_blank(const char* p, const char* end) {
  while (p != end) {
    const char c = *p;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      ++p;
    } else if (c == '#') {
      while (p != end && *p != '\n') ++p;
    } else {
      break;
    }
  }
  return p;
}

// ---------------------------------------------------------------------------------------
// Primitive parsers (written by hand: faster than composed ones and with precise errors).

struct skipper_parser : x3::parser<skipper_parser> {
  using attribute_type = x3::unused_type;
  static bool const has_attribute = false;
  template <class It, class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const&, RCtx&, Attr&) const {
    It p = skip_blank(first, last);
    if (p == first) return false;
    first = p;
    return true;
  }
};
skipper_parser const skipper{};

// Operators and literals, plus the words that start declarations: reserving the latter turns
// a forgotten name (`adapter` at the end of a line) into a clear error instead of swallowing
// the next declaration.
constexpr std::array<std::string_view, 16> kReservedWords = {
    "and",  "or",        "not",      "in",   "true", "false",     "null",     "import",
    "department", "material", "item", "use", "lifecycle", "calendar", "decide", "bundle"};

bool is_reserved(std::string_view word) {
  return std::find(kReservedWords.begin(), kReservedWords.end(), word) != kReservedWords.end();
}

// A keyword: the exact word, not followed by an identifier character.
struct keyword_parser : x3::parser<keyword_parser> {
  using attribute_type = x3::unused_type;
  static bool const has_attribute = false;
  std::string_view word;
  constexpr explicit keyword_parser(std::string_view w) : word(w) {}
  template <class It, class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx&, Attr&) const {
    x3::skip_over(first, last, ctx);
    const auto available = static_cast<std::size_t>(last - first);
    if (available < word.size() || std::memcmp(first, word.data(), word.size()) != 0) return false;
    It after = first + word.size();
    if (after != last && is_ident_char(*after)) return false;
    first = after;
    state_of(ctx).token_end = after;
    return true;
  }
};
constexpr keyword_parser kw(std::string_view word) { return keyword_parser{word}; }


// A punctuation symbol such as '{' or "->" (records where it ends, for spans).
struct symbol_parser : x3::parser<symbol_parser> {
  using attribute_type = x3::unused_type;
  static bool const has_attribute = false;
  std::string_view text;
  template <class It, class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx&, Attr&) const {
    x3::skip_over(first, last, ctx);
    if (static_cast<std::size_t>(last - first) < text.size() || std::memcmp(first, text.data(), text.size()) != 0) return false;
    first += text.size();
    state_of(ctx).token_end = first;
    return true;
  }
};
constexpr symbol_parser sym(std::string_view text) { return symbol_parser{{}, text}; }

// An identifier that is not a reserved word.
struct identifier_parser : x3::parser<identifier_parser> {
  using attribute_type = ast::Name;
  template <class It, class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx&, Attr& attr) const {
    x3::skip_over(first, last, ctx);
    if (first == last || !is_ident_start(*first)) return false;
    It p = first + 1;
    while (p != last && is_ident_char(*p)) ++p;
    std::string_view word(first, static_cast<std::size_t>(p - first));
    if (is_reserved(word)) return false;
    if constexpr (!std::is_same_v<Attr, x3::unused_type>) {
      attr.text.assign(word);
      attr.span = state_of(ctx).span(first, p);
    }
    first = p;
    state_of(ctx).token_end = p;
    return true;
  }
};
identifier_parser const identifier{};

// An identifier from a fixed set of words (day names, units, policies ...).
struct word_set_parser : x3::parser<word_set_parser> {
  using attribute_type = ast::Name;
  std::initializer_list<std::string_view> words;
  std::string_view description;
  template <class It, class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx& rctx, Attr& attr) const {
    It p = first;
    ast::Name name;
    ParseState& st = state_of(ctx);
    const char* const token_end = st.token_end;
    if (!identifier.parse(p, last, ctx, rctx, name)) return false;
    if (std::find(words.begin(), words.end(), name.text) == words.end()) {
      st.token_end = token_end;  // not consumed after all
      return false;
    }
    if constexpr (!std::is_same_v<Attr, x3::unused_type>) attr = std::move(name);
    first = p;
    state_of(ctx).token_end = p;
    return true;
  }
};

// A string literal on one line, with escapes \" \\ \n \t.
struct string_parser : x3::parser<string_parser> {
  using attribute_type = ast::Text;
  template <class It, class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx&, Attr& attr) const {
    x3::skip_over(first, last, ctx);
    if (first == last || *first != '"') return false;
    std::string value;
    It p = first + 1;
    for (;;) {
      if (p == last || *p == '\n' || *p == '\r') {
        boost::throw_exception(Failure(first, "!unterminated string literal (a string ends on its own line)"));
      }
      const char c = *p;
      if (c == '"') break;
      if (c == '\\') {
        if (p + 1 == last) continue;  // reported as unterminated on the next turn
        switch (p[1]) {
          case '"': value.push_back('"'); break;
          case '\\': value.push_back('\\'); break;
          case 'n': value.push_back('\n'); break;
          case 't': value.push_back('\t'); break;
          default:
            boost::throw_exception(Failure(p, "!unknown escape sequence in string (use \\\" \\\\ \\n or \\t)"));
        }
        p += 2;
        continue;
      }
      value.push_back(c);
      ++p;
    }
    ++p;  // closing quote
    if constexpr (!std::is_same_v<Attr, x3::unused_type>) {
      attr.value = std::move(value);
      attr.span = state_of(ctx).span(first, p);
    }
    first = p;
    state_of(ctx).token_end = p;
    return true;
  }
};
string_parser const string_literal{};

// An unsigned number: digits, optionally '.' digits.
struct number_parser : x3::parser<number_parser> {
  using attribute_type = ast::Number;
  template <class It, class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx&, Attr& attr) const {
    x3::skip_over(first, last, ctx);
    It p = first;
    while (p != last && is_digit(*p)) ++p;
    if (p == first) return false;
    if (p != last && *p == '.' && p + 1 != last && is_digit(p[1])) {
      p += 2;
      while (p != last && is_digit(*p)) ++p;
    }
    if (p != last && is_ident_start(*p)) return false;  // 12abc is not a number
    if (p - first > 30) boost::throw_exception(Failure(first, "!number is too long"));
    if constexpr (!std::is_same_v<Attr, x3::unused_type>) {
      attr.text.assign(first, p);
      attr.span = state_of(ctx).span(first, p);
    }
    first = p;
    state_of(ctx).token_end = p;
    return true;
  }
};
number_parser const number{};

bool read_digits(const char*& p, const char* last, int count, int& out) {
  out = 0;
  for (int i = 0; i < count; ++i) {
    if (p == last || !is_digit(*p)) return false;
    out = out * 10 + (*p - '0');
    ++p;
  }
  return true;
}

// YYYY-MM-DD, a real date.
struct date_parser : x3::parser<date_parser> {
  using attribute_type = ast::Date;
  template <class It, class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx&, Attr& attr) const {
    x3::skip_over(first, last, ctx);
    It p = first;
    int y = 0, m = 0, d = 0;
    if (!read_digits(p, last, 4, y) || p == last || *p != '-') return false;
    ++p;
    if (!read_digits(p, last, 2, m) || p == last || *p != '-') return false;
    ++p;
    if (!read_digits(p, last, 2, d)) return false;
    if (p != last && is_ident_char(*p)) return false;
    if (y < 1900 || y > 2999 || !onevisit::dsl::is_real_date(y, m, d)) {
      boost::throw_exception(
          Failure(first, "!not a real calendar date (expected YYYY-MM-DD from 1900-01-01 to 2999-12-31)"));
    }
    if constexpr (!std::is_same_v<Attr, x3::unused_type>) {
      attr.year = y;
      attr.month = m;
      attr.day = d;
      attr.span = state_of(ctx).span(first, p);
    }
    first = p;
    state_of(ctx).token_end = p;
    return true;
  }
};
date_parser const date_literal{};

// HH:MM, 00:00 to 24:00.
struct time_parser : x3::parser<time_parser> {
  using attribute_type = ast::TimeOfDay;
  template <class It, class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx&, Attr& attr) const {
    x3::skip_over(first, last, ctx);
    It p = first;
    int h = 0, m = 0;
    if (!read_digits(p, last, 2, h) || p == last || *p != ':') return false;
    ++p;
    if (!read_digits(p, last, 2, m)) return false;
    if (h > 24 || m > 59 || (h == 24 && m != 0)) {
      boost::throw_exception(Failure(first, "!not a time of day (expected HH:MM from 00:00 to 24:00)"));
    }
    if constexpr (!std::is_same_v<Attr, x3::unused_type>) {
      attr.hour = h;
      attr.minute = m;
    }
    first = p;
    state_of(ctx).token_end = p;
    return true;
  }
};
time_parser const time_literal{};

// Always fails with an expectation failure naming what was expected.
struct expected_parser : x3::parser<expected_parser> {
  using attribute_type = x3::unused_type;
  static bool const has_attribute = false;
  std::string_view what;
  template <class It, class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx&, Attr&) const {
    x3::skip_over(first, last, ctx);
    boost::throw_exception(Failure(first, std::string(what)));
  }
};
constexpr expected_parser expected(std::string_view what) { return expected_parser{{}, what}; }

// Skips the rest of a broken statement: at least one character, then up to and including
// the end of the line or a ';' (outside braces), stopping before an unmatched '}'. Braces
// opened on the way are skipped with their whole block.
const char* skip_statement(const char* p, const char* last) {
  int braces = 0;
  bool consumed = false;
  while (p != last) {
    const char c = *p;
    if (c == '"') {
      ++p;
      while (p != last && *p != '"' && *p != '\n') p += (*p == '\\' && p + 1 != last) ? 2 : 1;
      if (p != last && *p == '"') ++p;
    } else if (c == '#') {
      while (p != last && *p != '\n') ++p;
    } else if (c == '{') {
      ++braces;
      ++p;
    } else if (c == '}') {
      if (braces == 0) {
        if (consumed) return p;
        return p + 1;  // a stray '}' is itself the broken statement
      }
      --braces;
      ++p;
      if (braces == 0) return p;
    } else if ((c == '\n' || c == ';') && braces == 0 && consumed) {
      return p + 1;
    } else {
      ++p;
    }
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') consumed = true;
  }
  return p;
}

// recovering(what)[subject]: parse subject; on failure record a diagnostic and skip the
// statement. Succeeds unless at end of input or before a closing brace.
template <class Subject>
struct recovering_directive : x3::unary_parser<Subject, recovering_directive<Subject>> {
  using base_type = x3::unary_parser<Subject, recovering_directive<Subject>>;
  static bool const has_attribute = false;
  using attribute_type = x3::unused_type;
  std::string_view what;
  recovering_directive(Subject const& subject, std::string_view w) : base_type(subject), what(w) {}

  template <class It, class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx& rctx, Attr&) const {
    x3::skip_over(first, last, ctx);
    ParseState& st = state_of(ctx);
    if (first == last || *first == '}' || st.gave_up()) return false;
    const It start = first;
    const int depth = st.depth;
    try {
      if (this->subject.parse(first, last, ctx, rctx, x3::unused)) return true;
      record(st, start, last, "expected " + std::string(what));
    } catch (const Failure& failure) {
      // Point at the next token, unless the expected thing is missing at the end of a line:
      // then point just after the previous token, where it should have been.
      const char* at = skip_blank(failure.where(), last);
      const char* previous = st.token_end && st.token_end >= start && st.token_end <= at ? st.token_end : at;
      if (std::find(previous, at, '\n') != at) at = previous;
      record(st, at, last, failure_message(failure.which()));
    }
    st.depth = depth;
    first = skip_statement(start, last);
    return true;
  }

  static void record(ParseState& st, const char* at, const char* last, std::string message) {
    if (at == st.last_error_at) return;  // one error per spot is enough
    st.last_error_at = at;
    const char* end = at;
    while (end != last && is_ident_char(*end)) ++end;
    if (end == at && at != last && *at != '\n' && *at != '\r') end = at + 1;
    st.report(st.span(at, end), std::move(message));
  }
};

struct recovering_gen {
  std::string_view what;
  template <class Subject>
  recovering_directive<typename x3::extension::as_parser<Subject>::value_type> operator[](
      Subject const& subject) const {
    return {x3::as_parser(subject), what};
  }
};
constexpr recovering_gen recovering(std::string_view what) { return {what}; }

// spanned[subject]: sets the enclosing rule's attribute `.span` to what subject consumed.
template <class Subject>
struct spanned_directive : x3::unary_parser<Subject, spanned_directive<Subject>> {
  using base_type = x3::unary_parser<Subject, spanned_directive<Subject>>;
  static bool const is_pass_through_unary = true;
  explicit spanned_directive(Subject const& subject) : base_type(subject) {}
  template <class It, class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx& rctx, Attr& attr) const {
    x3::skip_over(first, last, ctx);
    const It start = first;
    if (!this->subject.parse(first, last, ctx, rctx, attr)) return false;
    // `first` may have moved past blanks where an optional part was looked for and not
    // found; the span ends with the last token actually consumed.
    const ParseState& st = state_of(ctx);
    const It end = st.token_end && st.token_end >= start && st.token_end <= first ? st.token_end : first;
    rctx.span = st.span(start, end);
    return true;
  }
};
struct spanned_gen {
  template <class Subject>
  spanned_directive<typename x3::extension::as_parser<Subject>::value_type> operator[](
      Subject const& subject) const {
    return spanned_directive<typename x3::extension::as_parser<Subject>::value_type>(
        x3::as_parser(subject));
  }
};
constexpr spanned_gen spanned{};

std::string too_deep(std::string_view what, int limit) {
  return "!" + std::string(what) + " nests too deeply (more than " + std::to_string(limit) + " levels)";
}

// depth_guarded[subject]: counts nesting; refuses to go deeper than kMaxNesting.
// `what` names the construct in the message ("expression", "type").
template <class Subject>
struct depth_directive : x3::unary_parser<Subject, depth_directive<Subject>> {
  using base_type = x3::unary_parser<Subject, depth_directive<Subject>>;
  static bool const is_pass_through_unary = true;
  std::string_view what;
  depth_directive(Subject const& subject, std::string_view w) : base_type(subject), what(w) {}
  template <class It, class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx& rctx, Attr& attr) const {
    ParseState& st = state_of(ctx);
    if (st.depth >= kMaxNesting) {
      x3::skip_over(first, last, ctx);
      boost::throw_exception(Failure(first, too_deep(what, kMaxNesting)));
    }
    ++st.depth;
    const bool ok = this->subject.parse(first, last, ctx, rctx, attr);
    --st.depth;
    return ok;
  }
};
struct depth_gen {
  std::string_view what;
  template <class Subject>
  depth_directive<typename x3::extension::as_parser<Subject>::value_type> operator[](
      Subject const& subject) const {
    return depth_directive<typename x3::extension::as_parser<Subject>::value_type>(
        x3::as_parser(subject), what);
  }
};
constexpr depth_gen depth_guarded{"expression"};
constexpr depth_gen type_depth_guarded{"type"};

// ---------------------------------------------------------------------------------------
// Semantic action helpers.

using x3::_attr;
using x3::_val;

template <auto Member>
constexpr auto set = [](auto& ctx) { _val(ctx).*Member = std::move(_attr(ctx)); };

template <auto Member>
constexpr auto push = [](auto& ctx) { (_val(ctx).*Member).push_back(std::move(_attr(ctx))); };

template <auto Member, auto Value>
constexpr auto set_to = [](auto& ctx) { _val(ctx).*Member = Value; };

template <auto Member, auto Value>
constexpr auto push_value = [](auto& ctx) { (_val(ctx).*Member).push_back(Value); };

constexpr auto set_val = [](auto& ctx) { _val(ctx) = std::move(_attr(ctx)); };

}  // namespace
}  // namespace onevisit::dsl

namespace boost::spirit::x3 {
template <class Subject, class Action>
struct get_info<action<Subject, Action>> {
  using result_type = std::string;
  std::string operator()(action<Subject, Action> const& p) const { return what(p.subject); }
};
template <class Subject>
struct get_info<optional<Subject>> {
  using result_type = std::string;
  std::string operator()(optional<Subject> const& p) const { return what(p.subject); }
};
template <>
struct get_info<onevisit::dsl::keyword_parser> {
  using result_type = std::string;
  std::string operator()(onevisit::dsl::keyword_parser const& p) const {
    return "'" + std::string(p.word) + "'";
  }
};
template <>
struct get_info<onevisit::dsl::symbol_parser> {
  using result_type = std::string;
  std::string operator()(onevisit::dsl::symbol_parser const& p) const { return "'" + std::string(p.text) + "'"; }
};
template <>
struct get_info<onevisit::dsl::identifier_parser> {
  using result_type = std::string;
  std::string operator()(onevisit::dsl::identifier_parser const&) const { return "a name"; }
};
template <>
struct get_info<onevisit::dsl::word_set_parser> {
  using result_type = std::string;
  std::string operator()(onevisit::dsl::word_set_parser const& p) const {
    return std::string(p.description);
  }
};
template <>
struct get_info<onevisit::dsl::string_parser> {
  using result_type = std::string;
  std::string operator()(onevisit::dsl::string_parser const&) const { return "a string \"...\""; }
};
template <>
struct get_info<onevisit::dsl::number_parser> {
  using result_type = std::string;
  std::string operator()(onevisit::dsl::number_parser const&) const { return "a number"; }
};
template <>
struct get_info<onevisit::dsl::date_parser> {
  using result_type = std::string;
  std::string operator()(onevisit::dsl::date_parser const&) const { return "a date YYYY-MM-DD"; }
};
template <>
struct get_info<onevisit::dsl::time_parser> {
  using result_type = std::string;
  std::string operator()(onevisit::dsl::time_parser const&) const { return "a time HH:MM"; }
};
}  // namespace boost::spirit::x3

namespace onevisit::dsl {
namespace {

using namespace onevisit::dsl::ast;

// ---------------------------------------------------------------------------------------
// Rules. Names are what "expected ..." messages say.

x3::rule<class name_list_r, std::vector<Name>> const name_list = "a name";
x3::rule<class duration_r, Duration> const duration = "a duration (e.g. 5 workdays)";

x3::rule<class expr_r, Expr> const expr = "an expression";
x3::rule<class or_r, Expr> const or_expr = "an expression";
x3::rule<class and_r, Expr> const and_expr = "an expression";
x3::rule<class not_r, Expr> const not_expr = "an expression";
x3::rule<class cmp_r, Expr> const cmp_expr = "an expression";
x3::rule<class sum_r, Expr> const sum_expr = "an expression";
x3::rule<class product_r, Expr> const product_expr = "an expression";
x3::rule<class unary_r, Expr> const unary_expr = "an expression";
x3::rule<class postfix_r, Expr> const postfix_expr = "an expression";
x3::rule<class primary_r, Expr> const primary_expr = "a value, a name or '('";
x3::rule<class list_lit_r, Expr> const list_literal = "a list";
x3::rule<class args_r, std::vector<Expr>> const arguments = "arguments";

x3::rule<class type_r, Type> const type = "a type (text, int, decimal, money, bool, date, idcard, uscc, phone, enum(...), list(...))";
x3::rule<class enum_value_r, EnumValue> const enum_value = "an enum value";
x3::rule<class field_r, Field> const field = "a field (name \"title\": type)";
x3::rule<class field_option_r, FieldOption> const field_option = "a field option";

x3::rule<class import_r, Import> const import_decl = "import";
x3::rule<class department_r, Department> const department_decl = "department";
x3::rule<class material_r, Material> const material_decl = "material";
x3::rule<class material_option_r, MaterialOption> const material_option = "a material option";
x3::rule<class item_r, Item> const item_decl = "item";
x3::rule<class use_r, Item> const use_decl = "use";
x3::rule<class item_member_r, ItemMember> const item_member = "an item member";
x3::rule<class action_r, Action> const action = "an action such as call(dept.submit)";
x3::rule<class action_list_r, std::vector<Action>> const action_list = "an action";
x3::rule<class transition_option_r, TransitionOption> const transition_option = "a transition option";
x3::rule<class lifecycle_member_r, LifecycleMember> const lifecycle_member = "a lifecycle member";
x3::rule<class lifecycle_r, Lifecycle> const lifecycle_decl = "lifecycle";
x3::rule<class time_range_r, TimeRange> const time_range = "a time range HH:MM-HH:MM";
x3::rule<class calendar_member_r, CalendarMember> const calendar_member = "a calendar member";
x3::rule<class calendar_r, Calendar> const calendar_decl = "calendar";
x3::rule<class parameter_r, Parameter> const parameter = "a parameter (name: type)";
x3::rule<class row_r, DecisionRow> const decision_row = "a rule ('when' condition -> result)";
x3::rule<class decision_r, Decision> const decision_decl = "decide";
x3::rule<class rating_member_r, RatingMember> const rating_member = "a rating setting";
x3::rule<class retention_r, Retention> const retention = "a retention (e.g. 3 years)";
x3::rule<class bundle_member_r, BundleMember> const bundle_member = "a bundle member";
x3::rule<class bundle_r, Bundle> const bundle_decl = "bundle";
x3::rule<class declaration_r, Declaration> const declaration = "a declaration";
x3::rule<class file_r, File> const file = "a workflow file";

// ---------------------------------------------------------------------------------------
// Shared pieces

word_set_parser const time_unit{{}, {"workdays", "workday", "days", "day", "hours", "hour"},
                                "a unit (workdays, days or hours)"};

constexpr auto apply_unit = [](Duration& d, const Name& unit) {
  const std::string& u = unit.text;
  d.plural = u.back() == 's';
  d.unit = u.starts_with("workday") ? TimeUnit::workday
           : u.starts_with("day")   ? TimeUnit::day
                                    : TimeUnit::hour;
};

auto const name_list_def = identifier % ',';
auto const duration_def = spanned[number[set<&Duration::amount>] >
                                  time_unit[([](auto& ctx) { apply_unit(_val(ctx), _attr(ctx)); })]];

// ---------------------------------------------------------------------------------------
// Expressions

Span join(const Span& a, const Span& b) { return Span{a.begin, b.end}; }

// Sets a new node's height from its children's. A tree taller than the limit is refused at
// `at` (the operator, bracket or name that made it so): the chains the grammar folds in a
// loop are as deep as they are long, and every later pass (check, compile, evaluate,
// format, even the destructor) recurses once per level.
void set_height(Expr& e, const char* at) {
  std::uint32_t tallest = 0;
  for (const auto& child : e.children) tallest = std::max(tallest, child.height);
  e.height = tallest + 1;
  if (e.height > static_cast<std::uint32_t>(kMaxExpressionDepth)) {
    boost::throw_exception(Failure(at, too_deep("expression", kMaxExpressionDepth) +
                                           "; a chain of 'and', 'or', '+' ... is one level per operator"));
  }
}

// Where a node's first child starts: the operand of `not`, the first argument of a call.
template <class Context>
const char* first_child(const Context& ctx, const Expr& e) {
  return state_of(ctx).base + (e.children.empty() ? e.span.begin : e.children.front().span.begin);
}

template <class Context>
void fold(const Context& ctx, Op op, Expr rhs) {
  const ParseState& st = state_of(ctx);
  // The operator sits between the operands, after blanks, comments and the closing
  // brackets of the left one (whose span leaves them out).
  const char* const rhs_at = st.base + rhs.span.begin;
  const char* op_at = skip_blank(st.base + _val(ctx).span.end, rhs_at);
  while (op_at < rhs_at && *op_at == ')') op_at = skip_blank(op_at + 1, rhs_at);
  Expr e;
  e.kind = ExprKind::binary;
  e.op = op;
  e.span = join(_val(ctx).span, rhs.span);
  e.children.reserve(2);
  e.children.push_back(std::move(_val(ctx)));
  e.children.push_back(std::move(rhs));
  set_height(e, op_at);
  _val(ctx) = std::move(e);
}

template <Op O>
constexpr auto fold_binary = [](auto& ctx) { fold(ctx, O, std::move(_attr(ctx))); };
constexpr auto fold_binary_op = [](auto& ctx) {
  auto& attr = _attr(ctx);
  fold(ctx, boost::fusion::at_c<0>(attr), std::move(boost::fusion::at_c<1>(attr)));
};

struct comparison_ops_ : x3::symbols<Op> {
  comparison_ops_() {
    add("==", Op::eq)("!=", Op::ne)("<=", Op::le)(">=", Op::ge)("<", Op::lt)(">", Op::gt);
  }
} const comparison_ops;

x3::rule<class comparison_op_r, Op> const comparison_op = "a comparison";
x3::rule<class sum_op_r, Op> const sum_op = "'+' or '-'";
x3::rule<class product_op_r, Op> const product_op = "'*' or '/'";
auto const minus_op = sym("-") >> !sym(">");
auto const comparison_op_def = comparison_ops | (kw("not") >> kw("in") >> x3::attr(Op::not_in)) |
                               (kw("in") >> x3::attr(Op::in));
auto const sum_op_def = (sym("+") >> x3::attr(Op::add)) | (minus_op >> x3::attr(Op::sub));
auto const product_op_def = (sym("*") >> x3::attr(Op::mul)) | (sym("/") >> x3::attr(Op::div));

auto const expr_def = depth_guarded[or_expr[set_val]];
auto const or_expr_def = and_expr[set_val] >> *(kw("or") > and_expr)[fold_binary<Op::logical_or>];
auto const and_expr_def = not_expr[set_val] >> *(kw("and") > not_expr)[fold_binary<Op::logical_and>];

constexpr auto make_not = [](auto& ctx) {
  Expr& e = _val(ctx);
  e.kind = ExprKind::unary;
  e.op = Op::logical_not;
  e.children.push_back(std::move(_attr(ctx)));
  set_height(e, first_child(ctx, e));
};
// `not in` belongs to the comparison, so `not` here must not be followed by `in`.
auto const not_expr_def = spanned[(kw("not") >> !kw("in")) > depth_guarded[not_expr][make_not]] |
                          cmp_expr[set_val];
auto const cmp_expr_def = sum_expr[set_val] >> -(comparison_op > sum_expr)[fold_binary_op];
auto const sum_expr_def = product_expr[set_val] >> *(sum_op > product_expr)[fold_binary_op];
auto const product_expr_def = unary_expr[set_val] >> *(product_op > unary_expr)[fold_binary_op];

constexpr auto make_negate = [](auto& ctx) {
  Expr& e = _val(ctx);
  e.kind = ExprKind::unary;
  e.op = Op::negate;
  e.children.push_back(std::move(_attr(ctx)));
  set_height(e, first_child(ctx, e));
};
auto const unary_expr_def = spanned[minus_op > depth_guarded[unary_expr][make_negate]] |
                            postfix_expr[set_val];

constexpr auto make_member = [](auto& ctx) {
  Expr& base = _val(ctx);
  Name& name = _attr(ctx);
  Expr e;
  e.kind = ExprKind::member;
  e.text = std::move(name.text);
  e.span = Span{base.span.begin, name.span.end};
  e.children.push_back(std::move(base));
  set_height(e, state_of(ctx).base + name.span.begin);
  base = std::move(e);
};
auto const postfix_expr_def = primary_expr[set_val] >> *(sym(".") > identifier)[make_member];

constexpr auto number_expr = [](auto& ctx) {
  Expr& e = _val(ctx);
  e.kind = ExprKind::number;
  e.text = std::move(_attr(ctx).text);
};
constexpr auto number_unit = [](auto& ctx) {
  Duration d;
  apply_unit(d, _attr(ctx));
  _val(ctx).unit = d.unit;
  _val(ctx).unit_plural = d.plural;
};
constexpr auto string_expr = [](auto& ctx) {
  Expr& e = _val(ctx);
  e.kind = ExprKind::string;
  e.text = std::move(_attr(ctx).value);
};
template <bool Value>
constexpr auto bool_expr = [](auto& ctx) {
  _val(ctx).kind = ExprKind::boolean;
  _val(ctx).text = Value ? "true" : "false";
};
constexpr auto null_expr = [](auto& ctx) { _val(ctx).kind = ExprKind::null; };
constexpr auto name_expr = [](auto& ctx) {
  _val(ctx).kind = ExprKind::name;
  _val(ctx).text = std::move(_attr(ctx).text);
};
constexpr auto to_call = [](auto& ctx) {
  _val(ctx).kind = ExprKind::call;
  _val(ctx).children = std::move(_attr(ctx));
  set_height(_val(ctx), first_child(ctx, _val(ctx)));
};
constexpr auto list_expr = [](auto& ctx) {
  _val(ctx).kind = ExprKind::list;
  _val(ctx).children = std::move(_attr(ctx));
  set_height(_val(ctx), first_child(ctx, _val(ctx)));
};
constexpr auto nested_expr = [](auto& ctx) {
  const Span outer = _val(ctx).span;
  _val(ctx) = std::move(_attr(ctx));
  (void)outer;  // parentheses are not kept in the tree; the formatter adds what it needs
};

auto const arguments_def = -(expr % ',');
auto const list_literal_def = spanned[sym("[") > arguments[list_expr] > sym("]")];
// In an expression a unit word belongs to the number only on the same line, so a field
// named `days` on the next line is not swallowed (`default 3` / `days: int`).
struct same_line_parser : x3::parser<same_line_parser> {
  using attribute_type = x3::unused_type;
  static bool const has_attribute = false;
  template <class It, class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const&, RCtx&, Attr&) const {
    for (It p = first; p != last; ++p) {
      if (*p == '\n') return false;
      if (*p != ' ' && *p != '\t' && *p != '\r') return true;
    }
    return true;
  }
};
same_line_parser const same_line{};

auto const primary_expr_def =
    spanned[number[number_expr] >> -(x3::no_skip[same_line] >> time_unit[number_unit])] |
    spanned[string_literal[string_expr]] | spanned[kw("true")[bool_expr<true>]] |
    spanned[kw("false")[bool_expr<false>]] | spanned[kw("null")[null_expr]] | list_literal[set_val] |
    spanned[identifier[name_expr] >> -((sym("(") > arguments > sym(")"))[to_call])] |
    // `item` is a declaration keyword, yet guards read the running item's figures (item.corrections).
    spanned[kw("item")[([](auto& ctx) {
      _val(ctx).kind = ExprKind::name;
      _val(ctx).text = "item";
    })]] |
    (sym("(") > expr[nested_expr] > sym(")"));

// ---------------------------------------------------------------------------------------
// Types and fields

constexpr auto type_kind_of = [](const std::string& word) {
  if (word == "text") return TypeKind::text;
  if (word == "int") return TypeKind::integer;
  if (word == "decimal") return TypeKind::decimal;
  if (word == "money") return TypeKind::money;
  if (word == "bool") return TypeKind::boolean;
  if (word == "date") return TypeKind::date;
  if (word == "idcard") return TypeKind::idcard;
  if (word == "uscc") return TypeKind::uscc;
  return TypeKind::phone;
};
word_set_parser const simple_type_word{
    {}, {"text", "int", "decimal", "money", "bool", "date", "idcard", "uscc", "phone"}, "a type"};

auto const enum_value_def = identifier[set<&EnumValue::name>] >> -string_literal[set<&EnumValue::title>];
auto const type_def = spanned[
    simple_type_word[([](auto& ctx) { _val(ctx).kind = type_kind_of(_attr(ctx).text); })] |
    (kw("enum")[set_to<&Type::kind, TypeKind::enumeration>] > sym("(") >
     (enum_value % ',')[set<&Type::values>] > sym(")")) |
    (kw("list")[set_to<&Type::kind, TypeKind::list>] > sym("(") >
     type_depth_guarded[type][push<&Type::element>] > sym(")"))];

// An option keyword must not be the start of the next field (`min: int`).
auto const option_word = [](std::string_view w) { return kw(w) >> !sym(":"); };

auto const field_option_def = spanned[
    option_word("required")[set_to<&FieldOption::kind, FieldOptionKind::required>] |
    (option_word("default")[set_to<&FieldOption::kind, FieldOptionKind::default_value>] > expr[set<&FieldOption::expr>]) |
    (option_word("min")[set_to<&FieldOption::kind, FieldOptionKind::min>] > expr[set<&FieldOption::expr>]) |
    (option_word("max")[set_to<&FieldOption::kind, FieldOptionKind::max>] > expr[set<&FieldOption::expr>]) |
    (option_word("pattern")[set_to<&FieldOption::kind, FieldOptionKind::pattern>] > string_literal[set<&FieldOption::text>]) |
    (option_word("when")[set_to<&FieldOption::kind, FieldOptionKind::when>] > expr[set<&FieldOption::expr>])];

auto const field_def = spanned[identifier[set<&Field::name>] > -string_literal[set<&Field::title>] >
                               sym(":") > type[set<&Field::type>] > *field_option[push<&Field::options>]];

constexpr std::string_view kFieldWhat = "a field (name \"title\": type) or '}'";

// A block of fields: `{ field ... }`
template <auto Member>
auto field_block() {
  return sym("{") > *(recovering(kFieldWhat)[field[push<Member>]] >> -sym(";")) > sym("}");
}

// ---------------------------------------------------------------------------------------
// Declarations

auto const import_decl_def = spanned[kw("import") > string_literal[set<&Import::path>]];

auto const department_decl_def = spanned[
    kw("department") > identifier[set<&Department::id>] > -string_literal[set<&Department::title>] >
    *((kw("adapter") > identifier[set<&Department::adapter>]) |
      (kw("kind") > (kw("government")[set_to<&Department::kind, DepartmentKind::government>] |
                     kw("organisation")[set_to<&Department::kind, DepartmentKind::organisation>] |
                     expected("'government' or 'organisation'"))))];

auto const material_option_def = spanned[
    (kw("upload")[set_to<&MaterialOption::kind, MaterialOptionKind::upload>] > name_list[set<&MaterialOption::names>]) |
    (kw("from")[set_to<&MaterialOption::kind, MaterialOptionKind::elicense>] > kw("elicense") >
     string_literal[set<&MaterialOption::text>] > -(kw("of") > identifier[push<&MaterialOption::names>])) |
    (kw("produced_by")[set_to<&MaterialOption::kind, MaterialOptionKind::produced_by>] >
     identifier[push<&MaterialOption::names>]) |
    kw("original")[set_to<&MaterialOption::kind, MaterialOptionKind::original>] |
    kw("secondary")[set_to<&MaterialOption::kind, MaterialOptionKind::secondary>] |
    (kw("when")[set_to<&MaterialOption::kind, MaterialOptionKind::when>] > expr[set<&MaterialOption::expr>])];

auto const material_decl_def = spanned[kw("material") > identifier[set<&Material::id>] >
                                       -string_literal[set<&Material::title>] >
                                       *material_option[push<&Material::options>]];

template <ItemMemberKind K>
constexpr auto member_kind = set_to<&ItemMember::kind, K>;

auto const item_member_def = spanned[
    (kw("code")[member_kind<ItemMemberKind::code>] > string_literal[set<&ItemMember::text>]) |
    (kw("kind")[member_kind<ItemMemberKind::kind>] > identifier[push<&ItemMember::names>]) |
    kw("immediate")[member_kind<ItemMemberKind::immediate>] |
    (kw("limit")[member_kind<ItemMemberKind::limit>] > duration[set<&ItemMember::duration>] >
     -(kw("statutory") > duration[set<&ItemMember::statutory>])) |
    (kw("statutory")[member_kind<ItemMemberKind::statutory>] > duration[set<&ItemMember::duration>]) |
    (kw("needs")[member_kind<ItemMemberKind::needs>] > name_list[set<&ItemMember::names>]) |
    (kw("produces")[member_kind<ItemMemberKind::produces>] > name_list[set<&ItemMember::names>]) |
    (kw("sends")[member_kind<ItemMemberKind::sends>] > name_list[set<&ItemMember::names>]) |
    (kw("special")[member_kind<ItemMemberKind::special>] > identifier[push<&ItemMember::names>] >
     -string_literal[set<&ItemMember::text>] > kw("max") > duration[set<&ItemMember::duration>] >
     -kw("pauses_clock")[set_to<&ItemMember::pauses_clock, true>]) |
    kw("tolerant")[member_kind<ItemMemberKind::tolerant>] |
    (kw("lifecycle")[member_kind<ItemMemberKind::lifecycle>] > identifier[push<&ItemMember::names>]) |
    (kw("joint")[member_kind<ItemMemberKind::joint>] >
     (kw("all")[set_to<&ItemMember::joint_rule, JointRule::all>] | kw("any")[set_to<&ItemMember::joint_rule, JointRule::any>] |
      expected("'all' or 'any' (which departments must approve)")) >
     kw("with") > name_list[set<&ItemMember::names>])];

constexpr std::string_view kItemMemberWhat =
    "an item member (code, kind, immediate, limit, statutory, needs, produces, sends, special, "
    "tolerant, lifecycle, joint) or '}'";

auto const item_tail = -(kw("after") > name_list[set<&Item::after>]) >
                       -(kw("when") > expr[set<&Item::when>]) >
                       -(sym("{")[set_to<&Item::has_body, true>] >
                         *(recovering(kItemMemberWhat)[item_member[push<&Item::members>]] >> -sym(";")) >
                         sym("}"));

auto const item_decl_def = spanned[kw("item") > identifier[set<&Item::id>] >
                                   -string_literal[set<&Item::title>] > kw("by") >
                                   identifier[set<&Item::department>] > item_tail];

auto const use_decl_def = spanned[kw("use")[set_to<&Item::is_use, true>] > identifier[set<&Item::id>] >
                                  -(kw("as") > identifier[set<&Item::alias>]) > item_tail];

// Lifecycles

auto const action_def = spanned[identifier[set<&Action::function>] >> sym("(") >
                                arguments[set<&Action::arguments>] > sym(")")];
auto const action_list_def = action % ',';

auto const transition_option_def = spanned[
    (kw("by")[set_to<&TransitionOption::kind, TransitionOptionKind::roles>] > name_list[set<&TransitionOption::names>]) |
    (kw("when")[set_to<&TransitionOption::kind, TransitionOptionKind::guard>] > expr[set<&TransitionOption::expr>]) |
    (kw("requires")[set_to<&TransitionOption::kind, TransitionOptionKind::requires_fields>] >
     name_list[set<&TransitionOption::names>]) |
    (kw("do")[set_to<&TransitionOption::kind, TransitionOptionKind::actions>] > action_list[set<&TransitionOption::actions>]) |
    (kw("after")[set_to<&TransitionOption::kind, TransitionOptionKind::after>] > duration[set<&TransitionOption::duration>]) |
    (kw("starts_clock")[set_to<&TransitionOption::kind, TransitionOptionKind::starts_clock>] >
     -(kw("from") > kw("receipt"))[set_to<&TransitionOption::from_receipt, true>])];

word_set_parser const hook_name{{}, {"warning", "overdue"}, "'warning' or 'overdue'"};

// `pauses_clock as <kind>`: why the state stops the clock (dsl::ClockStop).
word_set_parser const clock_stop_word{{}, {"correction", "waiting", "special"}, "'correction', 'waiting' or 'special'"};
auto const clock_stop_kind = clock_stop_word[([](auto& ctx) {
  const std::string& word = _attr(ctx).text;
  _val(ctx).clock_stop = word == "waiting" ? ClockStop::waiting : word == "special" ? ClockStop::special : ClockStop::correction;
})];

auto const state_flag = kw("initial")[push_value<&LifecycleMember::flags, StateFlag::initial>] |
                        kw("final")[push_value<&LifecycleMember::flags, StateFlag::final_state>] |
                        (kw("pauses_clock")[push_value<&LifecycleMember::flags, StateFlag::pauses_clock>] >
                         -(kw("as") > (clock_stop_kind | expected("why the clock stops: correction, waiting or special")))) |
                        kw("failed")[push_value<&LifecycleMember::flags, StateFlag::failed>];

auto const hook_tail = hook_name[set<&LifecycleMember::name>] >> kw("do") >
                       action_list[([](auto& ctx) {
                         _val(ctx).kind = LifecycleMemberKind::hook;
                         _val(ctx).actions = std::move(_attr(ctx));
                       })];
auto const transition_tail =
    identifier[set<&LifecycleMember::name>] > -string_literal[set<&LifecycleMember::title>] > sym(":") >
    name_list[set<&LifecycleMember::sources>] >
    sym("->") > identifier[([](auto& ctx) {
      _val(ctx).kind = LifecycleMemberKind::transition;
      _val(ctx).target = std::move(_attr(ctx));
    })] > *transition_option[push<&LifecycleMember::options>];

auto const lifecycle_member_def = spanned[
    (kw("state")[set_to<&LifecycleMember::kind, LifecycleMemberKind::state>] >
     identifier[set<&LifecycleMember::name>] > -string_literal[set<&LifecycleMember::title>] > *state_flag) |
    (kw("on") > (hook_tail | transition_tail)) |
    (kw("warn")[set_to<&LifecycleMember::kind, LifecycleMemberKind::warn>] > kw("at") >
     ((number >> sym("%"))[set<&LifecycleMember::percent>] |
      (duration > kw("left"))[set<&LifecycleMember::left>] |
      expected("a percentage (80%) or a duration (1 workday left)")))];

constexpr std::string_view kLifecycleMemberWhat =
    "a lifecycle member (state, on, warn) or '}'";

auto const lifecycle_decl_def = spanned[
    kw("lifecycle") > identifier[set<&Lifecycle::id>] > -string_literal[set<&Lifecycle::title>] > sym("{") >
    *(recovering(kLifecycleMemberWhat)[lifecycle_member[push<&Lifecycle::members>]] >> -sym(";")) > sym("}")];

// Calendars

word_set_parser const day_name{{}, {"mon", "tue", "wed", "thu", "fri", "sat", "sun"},
                               "a day (mon tue wed thu fri sat sun)"};

auto const time_range_def = spanned[time_literal[([](auto& ctx) { _val(ctx).from = _attr(ctx); })] >
                                    sym("-") > time_literal[([](auto& ctx) { _val(ctx).to = _attr(ctx); })]];

template <CalendarMemberKind K>
constexpr auto calendar_kind = set_to<&CalendarMember::kind, K>;

auto const calendar_member_def = spanned[
    (kw("include")[calendar_kind<CalendarMemberKind::include>] > name_list[set<&CalendarMember::names>]) |
    (kw("weekend")[calendar_kind<CalendarMemberKind::weekend>] > +day_name[push<&CalendarMember::names>]) |
    (kw("hours")[calendar_kind<CalendarMemberKind::hours>] > +time_range[push<&CalendarMember::hours>]) |
    (kw("holiday")[calendar_kind<CalendarMemberKind::holiday>] > date_literal[set<&CalendarMember::from>] >
     -(sym("..") > date_literal[set<&CalendarMember::to>]) > -string_literal[set<&CalendarMember::title>]) |
    (kw("workday")[calendar_kind<CalendarMemberKind::workday>] > date_literal[set<&CalendarMember::from>] >
     -string_literal[set<&CalendarMember::title>])];

constexpr std::string_view kCalendarMemberWhat =
    "a calendar member (include, weekend, hours, holiday, workday) or '}'";

auto const calendar_decl_def = spanned[
    kw("calendar") > identifier[set<&Calendar::id>] > -string_literal[set<&Calendar::title>] > sym("{") >
    *(recovering(kCalendarMemberWhat)[calendar_member[push<&Calendar::members>]] >> -sym(";")) > sym("}")];

// Decision tables

word_set_parser const hit_policy{{}, {"first", "unique", "collect"}, "a hit policy (first, unique or collect)"};

auto const parameter_def = identifier[set<&Parameter::name>] > sym(":") > type[set<&Parameter::type>];

auto const decision_row_def = spanned[((kw("when") > expr[set<&DecisionRow::condition>]) | kw("otherwise")) >
                                      sym("->") > (expr % ',')[set<&DecisionRow::results>]];

constexpr std::string_view kRowWhat = "a rule ('when' condition -> result, or 'otherwise' -> result) or '}'";

auto const decision_decl_def = spanned[
    kw("decide") > identifier[set<&Decision::id>] > -string_literal[set<&Decision::title>] >
    -(sym("(")[set_to<&Decision::has_parameters, true>] > (parameter % ',')[set<&Decision::parameters>] > sym(")")) >
    hit_policy[([](auto& ctx) {
      const std::string& w = _attr(ctx).text;
      _val(ctx).policy = w == "first" ? HitPolicy::first : w == "unique" ? HitPolicy::unique : HitPolicy::collect;
    })] >
    sym("{") > *(recovering(kRowWhat)[decision_row[push<&Decision::rows>]] >> -sym(";")) > sym("}")];

// Bundles

auto const rating_member_def = spanned[
    (kw("bad")[set_to<&RatingMember::kind, RatingMemberKind::bad_at_most>] > kw("at") > kw("most") >
     number[set<&RatingMember::level>]) |
    (kw("rectify")[set_to<&RatingMember::kind, RatingMemberKind::rectify_within>] > kw("within") >
     duration[set<&RatingMember::within>])];

// `retain 3 years personal mother_name, home_address`: calendar units, not working days.
word_set_parser const retention_unit{{}, {"years", "year", "months", "month", "days", "day"},
                                     "a unit (years, months or days)"};

auto const retention_def = spanned[
    number[set<&Retention::amount>] > retention_unit[([](auto& ctx) {
      const std::string& u = _attr(ctx).text;
      Retention& r = _val(ctx);
      r.plural = u.back() == 's';
      r.unit = u.starts_with("year") ? RetentionUnit::year : u.starts_with("month") ? RetentionUnit::month : RetentionUnit::day;
    })] >
    -(kw("personal") > name_list[set<&Retention::personal>])];

constexpr std::string_view kRatingWhat = "a rating setting (bad at most N, rectify within D) or '}'";

template <BundleMemberKind K>
constexpr auto bundle_kind = set_to<&BundleMember::kind, K>;

template <BundleMemberKind K, auto Member>
constexpr auto nested_declaration = [](auto& ctx) {
  BundleMember& m = _val(ctx);
  m.kind = K;
  m.*Member = std::move(_attr(ctx));
};

auto const bundle_member_def = spanned[
    (kw("promise")[bundle_kind<BundleMemberKind::promise>] > duration[set<&BundleMember::duration>]) |
    (kw("calendar")[bundle_kind<BundleMemberKind::calendar>] > identifier[push<&BundleMember::names>]) |
    (kw("lifecycle")[bundle_kind<BundleMemberKind::lifecycle>] > identifier[push<&BundleMember::names>]) |
    (kw("lead")[bundle_kind<BundleMemberKind::lead>] > identifier[push<&BundleMember::names>]) |
    (kw("form")[bundle_kind<BundleMemberKind::form>] > field_block<&BundleMember::fields>()) |
    (kw("situation")[bundle_kind<BundleMemberKind::situation>] > field_block<&BundleMember::fields>()) |
    (kw("stages")[bundle_kind<BundleMemberKind::stages>] > identifier[push<&BundleMember::names>] >
     *(sym("->") > identifier[push<&BundleMember::names>])) |
    (kw("rating")[bundle_kind<BundleMemberKind::rating>] > sym("{") >
     *(recovering(kRatingWhat)[rating_member[push<&BundleMember::rating>]] >> -sym(";")) > sym("}")) |
    (kw("retain")[bundle_kind<BundleMemberKind::retain>] > retention[set<&BundleMember::retention>]) |
    (kw("check")[bundle_kind<BundleMemberKind::check>] > expr[set<&BundleMember::condition>] >
     string_literal[set<&BundleMember::message>]) |
    department_decl[nested_declaration<BundleMemberKind::department, &BundleMember::department>] |
    material_decl[nested_declaration<BundleMemberKind::material, &BundleMember::material>] |
    item_decl[nested_declaration<BundleMemberKind::item, &BundleMember::item>] |
    use_decl[nested_declaration<BundleMemberKind::item, &BundleMember::item>] |
    decision_decl[nested_declaration<BundleMemberKind::decision, &BundleMember::decision>]];

constexpr std::string_view kBundleMemberWhat =
    "a bundle member (promise, calendar, lifecycle, lead, form, situation, stages, rating, "
    "retain, check, department, material, item, use, decide) or '}'";

auto const bundle_decl_def = spanned[
    kw("bundle") > identifier[set<&Bundle::id>] > -string_literal[set<&Bundle::title>] > kw("version") >
    number[set<&Bundle::version>] > sym("{") >
    *(recovering(kBundleMemberWhat)[bundle_member[push<&Bundle::members>]] >> -sym(";")) > sym("}")];

template <DeclarationKind K, auto Member>
constexpr auto top_declaration = [](auto& ctx) {
  Declaration& d = _val(ctx);
  d.kind = K;
  d.*Member = std::move(_attr(ctx));
};

auto const declaration_def = spanned[
    import_decl[top_declaration<DeclarationKind::import, &Declaration::import>] |
    department_decl[top_declaration<DeclarationKind::department, &Declaration::department>] |
    material_decl[top_declaration<DeclarationKind::material, &Declaration::material>] |
    item_decl[top_declaration<DeclarationKind::item, &Declaration::item>] |
    lifecycle_decl[top_declaration<DeclarationKind::lifecycle, &Declaration::lifecycle>] |
    calendar_decl[top_declaration<DeclarationKind::calendar, &Declaration::calendar>] |
    decision_decl[top_declaration<DeclarationKind::decision, &Declaration::decision>] |
    bundle_decl[top_declaration<DeclarationKind::bundle, &Declaration::bundle>]];

constexpr std::string_view kDeclarationWhat =
    "a declaration (import, department, material, item, lifecycle, calendar, decide, bundle)";

auto const file_def =
    *((recovering(kDeclarationWhat)[declaration[push<&File::declarations>]] >> -sym(";")) |
      x3::omit[x3::raw[sym("}")][([](auto& ctx) {
        ParseState& st = state_of(ctx);
        const auto& range = _attr(ctx);
        st.report(st.span(range.begin(), range.end()), "unmatched '}'");
      })]]) >
    x3::eoi;

BOOST_SPIRIT_DEFINE(name_list, duration, comparison_op, sum_op, product_op, expr, or_expr, and_expr, not_expr, cmp_expr, sum_expr,
                    product_expr, unary_expr, postfix_expr, primary_expr, list_literal, arguments,
                    type, enum_value, field, field_option, import_decl, department_decl,
                    material_decl, material_option, item_decl, use_decl, item_member, action,
                    action_list, transition_option, lifecycle_member, lifecycle_decl, time_range,
                    calendar_member, calendar_decl, parameter, decision_row, decision_decl,
                    rating_member, retention, bundle_member, bundle_decl, declaration, file)

// ---------------------------------------------------------------------------------------
// Comments are not in the grammar (the skipper drops them); the formatter wants them back,
// so one linear scan collects them, skipping string literals.

std::vector<Comment> collect_comments(std::string_view text) {
  std::vector<Comment> comments;
  const char* const begin = text.data();
  const char* const end = begin + text.size();
  const char* p = begin;
  bool line_blank = true;
  while (p != end) {
    const char c = *p;
    if (c == '\n') {
      line_blank = true;
      ++p;
    } else if (c == '"') {
      line_blank = false;
      ++p;
      while (p != end && *p != '"' && *p != '\n') p += (*p == '\\' && p + 1 != end) ? 2 : 1;
      if (p != end && *p == '"') ++p;
    } else if (c == '#') {
      const char* start = p;
      while (p != end && *p != '\n') ++p;
      const char* stop = p;
      while (stop != start && (stop[-1] == '\r' || stop[-1] == ' ' || stop[-1] == '\t')) --stop;
      comments.push_back(Comment{std::string(start, stop),
                                 Span{static_cast<std::uint32_t>(start - begin),
                                      static_cast<std::uint32_t>(stop - begin)},
                                 line_blank});
    } else {
      if (c != ' ' && c != '\t' && c != '\r') line_blank = false;
      ++p;
    }
  }
  return comments;
}

bool check_input(std::string_view text, DiagnosticSink& sink) {
  if (text.size() >= std::numeric_limits<std::uint32_t>::max()) {
    sink.error(Span{0, 0}, "file-too-large", "file is larger than 4 GiB");
    return false;
  }
  if (const auto bad = find_invalid_utf8(text); bad != std::string_view::npos) {
    const auto at = static_cast<std::uint32_t>(bad);
    sink.error(Span{at, at + 1}, "invalid-utf8",
               "file is not valid UTF-8 (save it as UTF-8; the first bad byte is here)");
    return false;
  }
  return true;
}

}  // namespace

bool ParseResult::ok() const {
  return std::none_of(diagnostics.begin(), diagnostics.end(),
                      [](const Diagnostic& d) { return d.severity == Severity::error; });
}

bool ExpressionParseResult::ok() const {
  return std::none_of(diagnostics.begin(), diagnostics.end(),
                      [](const Diagnostic& d) { return d.severity == Severity::error; });
}

ParseResult parse(std::string_view text, std::string_view file_name) {
  ParseResult result;
  DiagnosticSink sink{std::string(file_name)};
  if (check_input(text, sink)) {
    ParseState state;
    state.base = text.data();
    state.sink = &sink;
    const char* first = text.data();
    const char* const last = text.data() + text.size();
    auto const parser = x3::with<state_tag>(std::ref(state))[file];
    try {
      x3::phrase_parse(first, last, parser, skipper, result.file);
    } catch (const Failure& failure) {
      // Only `> eoi` can throw here: after too many errors, or (never seen) when the loop
      // above stops early; keep a clear message rather than trusting that.
      const char* at = skip_blank(failure.where(), last);
      if (state.gave_up()) {
        sink.report(Severity::note, state.span(at, at), "too-many-errors",
                    "too many syntax errors; stopped here (fix the ones above first)");
      } else {
        sink.error(state.span(at, at), "syntax", failure_message(failure.which()));
      }
    }
    result.file.comments = collect_comments(text);
  }
  result.diagnostics = sink.take();
  return result;
}

ExpressionParseResult parse_expression(std::string_view text, std::string_view file_name) {
  ExpressionParseResult result;
  DiagnosticSink sink{std::string(file_name)};
  if (check_input(text, sink)) {
    ParseState state;
    state.base = text.data();
    state.sink = &sink;
    const char* first = text.data();
    const char* const last = text.data() + text.size();
    auto const parser = x3::with<state_tag>(std::ref(state))[expr > x3::eoi];
    try {
      if (!x3::phrase_parse(first, last, parser, skipper, result.expr)) {
        const char* at = skip_blank(first, last);
        sink.error(state.span(at, at), "syntax", "expected an expression");
      }
    } catch (const Failure& failure) {
      const char* at = skip_blank(failure.where(), last);
      sink.error(state.span(at, at + (at != last ? 1 : 0)), "syntax",
                 failure.which() == "end of input" || failure.which() == "eoi"
                     ? "unexpected text after the expression"
                     : failure_message(failure.which()));
    }
  }
  result.diagnostics = sink.take();
  return result;
}

}  // namespace onevisit::dsl
