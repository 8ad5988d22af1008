// The syntax tree of a workflow file.
//
// Plain structs, one per construct of docs/grammar.md, every node carrying the byte span it
// was parsed from. Members of blocks keep their source order (the formatter prints them back
// in that order, and diagnostics point at each one). The parser fills these; nothing here
// knows about Spirit.
//
// Thread safety: plain values; share them read-only.
#pragma once

#include <onevisit/dsl/source.hpp>
#include <onevisit/dsl/vocabulary.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace onevisit::dsl::ast {

/// An identifier (ASCII) with its position.
struct Name {
  std::string text;
  Span span;
  friend bool operator==(const Name& a, const Name& b) { return a.text == b.text; }
};

/// A string literal, already unescaped.
struct Text {
  std::string value;
  Span span;
  friend bool operator==(const Text& a, const Text& b) { return a.value == b.value; }
};

/// A number as written (kept as text so 0.5 and 0.50 round-trip and no precision is lost).
struct Number {
  std::string text;
  Span span;
  friend bool operator==(const Number& a, const Number& b) { return a.text == b.text; }
};

using dsl::TimeUnit;

struct Duration {
  Number amount;
  TimeUnit unit = TimeUnit::workday;
  bool plural = true;  ///< `workdays` vs `workday`, kept for faithful formatting
  Span span;
  friend bool operator==(const Duration& a, const Duration& b) {
    return a.amount == b.amount && a.unit == b.unit && a.plural == b.plural;
  }
};

// ---------------------------------------------------------------------------------------
// Expressions

enum class ExprKind : std::uint8_t {
  number,    ///< text = digits; children empty; unit set when a duration literal
  string,    ///< text = value
  boolean,   ///< text = "true" / "false"
  null,
  name,      ///< text = identifier
  member,    ///< children[0] . text
  call,      ///< text = function name; children = arguments
  list,      ///< children = elements
  unary,     ///< op; children[0]
  binary,    ///< op; children[0] op children[1]
};

enum class Op : std::uint8_t {
  none, logical_or, logical_and, logical_not, eq, ne, lt, le, gt, ge, in, not_in,
  add, sub, mul, div, negate,
};

struct Expr {
  ExprKind kind = ExprKind::null;
  Op op = Op::none;
  std::optional<TimeUnit> unit;  ///< number literals written with a unit are durations
  bool unit_plural = true;
  std::string text;
  std::vector<Expr> children;
  Span span;
  /// Levels of the tree from this node down (1 for a leaf), set by the parser, which refuses
  /// trees taller than kMaxExpressionDepth (parser.hpp): that bound is what keeps every
  /// recursive pass over a parsed expression within a small stack. Not compared.
  std::uint32_t height = 1;
  friend bool operator==(const Expr& a, const Expr& b) {
    return a.kind == b.kind && a.op == b.op && a.unit == b.unit && a.text == b.text &&
           a.children == b.children;
  }
};

// ---------------------------------------------------------------------------------------
// Types and fields

using dsl::TypeKind;

struct EnumValue {
  Name name;
  std::optional<Text> title;
  friend bool operator==(const EnumValue&, const EnumValue&) = default;
};

struct Type {
  TypeKind kind = TypeKind::text;
  std::vector<EnumValue> values;  ///< enumeration only
  std::vector<Type> element;      ///< list only: exactly one element type
  Span span;
  friend bool operator==(const Type& a, const Type& b) {
    return a.kind == b.kind && a.values == b.values && a.element == b.element;
  }
};

enum class FieldOptionKind : std::uint8_t { required, default_value, min, max, pattern, when };

struct FieldOption {
  FieldOptionKind kind = FieldOptionKind::required;
  std::optional<Expr> expr;  ///< default/min/max/when
  std::optional<Text> text;  ///< pattern
  Span span;
  friend bool operator==(const FieldOption& a, const FieldOption& b) {
    return a.kind == b.kind && a.expr == b.expr && a.text == b.text;
  }
};

struct Field {
  Name name;
  std::optional<Text> title;
  Type type;
  std::vector<FieldOption> options;
  Span span;
  friend bool operator==(const Field& a, const Field& b) {
    return a.name == b.name && a.title == b.title && a.type == b.type && a.options == b.options;
  }
};

// ---------------------------------------------------------------------------------------
// Declarations

struct Import {
  Text path;
  Span span;
  friend bool operator==(const Import& a, const Import& b) { return a.path == b.path; }
};

enum class DepartmentKind : std::uint8_t { government, organisation };

struct Department {
  Name id;
  std::optional<Text> title;
  std::optional<Name> adapter;
  std::optional<DepartmentKind> kind;
  Span span;
  friend bool operator==(const Department& a, const Department& b) {
    return a.id == b.id && a.title == b.title && a.adapter == b.adapter && a.kind == b.kind;
  }
};

enum class MaterialOptionKind : std::uint8_t { upload, elicense, produced_by, original, secondary, when };

struct MaterialOption {
  MaterialOptionKind kind = MaterialOptionKind::upload;
  std::vector<Name> names;   ///< upload formats; produced_by item; elicense: the `of` field, if any
  std::optional<Text> text;  ///< e-license type
  std::optional<Expr> expr;  ///< when
  Span span;
  friend bool operator==(const MaterialOption& a, const MaterialOption& b) {
    return a.kind == b.kind && a.names == b.names && a.text == b.text && a.expr == b.expr;
  }
};

struct Material {
  Name id;
  std::optional<Text> title;
  std::vector<MaterialOption> options;
  Span span;
  friend bool operator==(const Material& a, const Material& b) {
    return a.id == b.id && a.title == b.title && a.options == b.options;
  }
};

enum class ItemMemberKind : std::uint8_t {
  code, kind, immediate, limit, statutory, needs, produces, sends, special, tolerant, lifecycle,
  joint,  ///< `joint all|any with dept, …` (联办/会签); names: the other departments
};

struct ItemMember {
  ItemMemberKind kind = ItemMemberKind::code;
  std::vector<Name> names;                ///< kind, needs, produces, sends, special id, lifecycle
  std::optional<Text> text;               ///< code; special title
  std::optional<Duration> duration;       ///< limit; statutory; special max
  std::optional<Duration> statutory;      ///< `limit X statutory Y`
  bool pauses_clock = false;              ///< special
  JointRule joint_rule = JointRule::all;  ///< joint
  Span span;
  friend bool operator==(const ItemMember& a, const ItemMember& b) {
    return a.kind == b.kind && a.names == b.names && a.text == b.text &&
           a.duration == b.duration && a.statutory == b.statutory &&
           a.pauses_clock == b.pauses_clock && a.joint_rule == b.joint_rule;
  }
};

/// `item` (a definition) or `use` (a catalog item placed in a bundle).
struct Item {
  bool is_use = false;
  Name id;                        ///< item id; for `use`, the catalog item referenced
  std::optional<Name> alias;      ///< `use X as alias`
  std::optional<Text> title;      ///< `item` only
  std::optional<Name> department; ///< `item` only (required there)
  std::vector<Name> after;
  std::optional<Expr> when;
  bool has_body = false;
  std::vector<ItemMember> members;
  Span span;
  /// The name this item is known by in its scope (alias for `use ... as`).
  const Name& local_name() const { return alias ? *alias : id; }
  friend bool operator==(const Item& a, const Item& b) {
    return a.is_use == b.is_use && a.id == b.id && a.alias == b.alias && a.title == b.title &&
           a.department == b.department && a.after == b.after && a.when == b.when &&
           a.has_body == b.has_body && a.members == b.members;
  }
};

struct Action {
  Name function;
  std::vector<Expr> arguments;
  Span span;
  friend bool operator==(const Action& a, const Action& b) {
    return a.function == b.function && a.arguments == b.arguments;
  }
};

/// `starts_clock` (never reorder: the formatter and the compiler switch over it) marks the
/// transition that starts the item's time limit, e.g. 受理; see docs/language.md.
enum class TransitionOptionKind : std::uint8_t { roles, guard, requires_fields, actions, after, starts_clock };

struct TransitionOption {
  TransitionOptionKind kind = TransitionOptionKind::roles;
  std::vector<Name> names;          ///< roles; required fields
  std::optional<Expr> expr;         ///< guard
  std::vector<Action> actions;      ///< do
  std::optional<Duration> duration; ///< after
  /// starts_clock: `from receipt`, the clock counts as started when the item entered the
  /// transition's source state (deemed acceptance dates back to the receipt of the materials).
  bool from_receipt = false;
  Span span;
  friend bool operator==(const TransitionOption& a, const TransitionOption& b) {
    return a.kind == b.kind && a.names == b.names && a.expr == b.expr && a.actions == b.actions &&
           a.duration == b.duration && a.from_receipt == b.from_receipt;
  }
};

enum class LifecycleMemberKind : std::uint8_t { state, transition, hook, warn };
/// `failed` marks a final state in which the item did not succeed (rejected, withdrawn): its
/// produced materials are not issued and the items that come after it cannot run.
enum class StateFlag : std::uint8_t { initial, final_state, pauses_clock, failed };

struct LifecycleMember {
  LifecycleMemberKind kind = LifecycleMemberKind::state;
  Name name;                        ///< state id; event; hook (warning/overdue)
  std::optional<Text> title;        ///< state; transition: the event's title (准予许可)
  std::vector<StateFlag> flags;     ///< state
  std::vector<Name> sources;        ///< transition
  std::optional<Name> target;       ///< transition
  std::vector<TransitionOption> options;  ///< transition
  std::vector<Action> actions;      ///< hook
  std::optional<Number> percent;    ///< warn at N%
  std::optional<Duration> left;     ///< warn at D left
  /// state: `pauses_clock as <kind>`; none when written without `as` (a correction).
  std::optional<ClockStop> clock_stop;
  Span span;
  friend bool operator==(const LifecycleMember& a, const LifecycleMember& b) {
    return a.kind == b.kind && a.name == b.name && a.title == b.title && a.flags == b.flags &&
           a.clock_stop == b.clock_stop &&
           a.sources == b.sources && a.target == b.target && a.options == b.options &&
           a.actions == b.actions && a.percent == b.percent && a.left == b.left;
  }
};

struct Lifecycle {
  Name id;
  std::optional<Text> title;
  std::vector<LifecycleMember> members;
  Span span;
  friend bool operator==(const Lifecycle& a, const Lifecycle& b) {
    return a.id == b.id && a.title == b.title && a.members == b.members;
  }
};

struct Date {
  int year = 0, month = 0, day = 0;
  Span span;
  friend bool operator==(const Date& a, const Date& b) {
    return a.year == b.year && a.month == b.month && a.day == b.day;
  }
  friend auto operator<=>(const Date& a, const Date& b) {
    if (auto c = a.year <=> b.year; c != 0) return c;
    if (auto c = a.month <=> b.month; c != 0) return c;
    return a.day <=> b.day;
  }
};

struct TimeOfDay {
  int hour = 0, minute = 0;
  friend bool operator==(const TimeOfDay&, const TimeOfDay&) = default;
  int minutes() const { return hour * 60 + minute; }
};

struct TimeRange {
  TimeOfDay from, to;
  Span span;
  friend bool operator==(const TimeRange& a, const TimeRange& b) {
    return a.from == b.from && a.to == b.to;
  }
};

enum class CalendarMemberKind : std::uint8_t { include, weekend, hours, holiday, workday };

struct CalendarMember {
  CalendarMemberKind kind = CalendarMemberKind::include;
  std::vector<Name> names;          ///< include: calendars; weekend: days
  std::vector<TimeRange> hours;
  std::optional<Date> from, to;     ///< holiday range (to optional); workday uses from
  std::optional<Text> title;
  Span span;
  friend bool operator==(const CalendarMember& a, const CalendarMember& b) {
    return a.kind == b.kind && a.names == b.names && a.hours == b.hours && a.from == b.from &&
           a.to == b.to && a.title == b.title;
  }
};

struct Calendar {
  Name id;
  std::optional<Text> title;
  std::vector<CalendarMember> members;
  Span span;
  friend bool operator==(const Calendar& a, const Calendar& b) {
    return a.id == b.id && a.title == b.title && a.members == b.members;
  }
};

using dsl::HitPolicy;

struct Parameter {
  Name name;
  Type type;
  friend bool operator==(const Parameter&, const Parameter&) = default;
};

struct DecisionRow {
  std::optional<Expr> condition;  ///< empty for `otherwise`
  std::vector<Expr> results;
  Span span;
  friend bool operator==(const DecisionRow& a, const DecisionRow& b) {
    return a.condition == b.condition && a.results == b.results;
  }
};

struct Decision {
  Name id;
  std::optional<Text> title;
  bool has_parameters = false;
  std::vector<Parameter> parameters;
  HitPolicy policy = HitPolicy::first;
  std::vector<DecisionRow> rows;
  Span span;
  friend bool operator==(const Decision& a, const Decision& b) {
    return a.id == b.id && a.title == b.title && a.has_parameters == b.has_parameters &&
           a.parameters == b.parameters && a.policy == b.policy && a.rows == b.rows;
  }
};

enum class RatingMemberKind : std::uint8_t { bad_at_most, rectify_within };

struct RatingMember {
  RatingMemberKind kind = RatingMemberKind::bad_at_most;
  std::optional<Number> level;
  std::optional<Duration> within;
  Span span;
  friend bool operator==(const RatingMember& a, const RatingMember& b) {
    return a.kind == b.kind && a.level == b.level && a.within == b.within;
  }
};

enum class BundleMemberKind : std::uint8_t {
  promise, calendar, lifecycle, lead, form, situation, stages, rating,
  department, material, item, decision, retain, check,
};

using dsl::RetentionUnit;

/// `retain 3 years personal mother_name, home_address`: how long a closed case keeps its
/// personal data, and the free-text fields that hold some (idcard and phone fields always do).
struct Retention {
  Number amount;
  RetentionUnit unit = RetentionUnit::year;
  bool plural = true;  ///< `years` vs `year`, kept for faithful formatting
  std::vector<Name> personal;
  Span span;
  friend bool operator==(const Retention& a, const Retention& b) {
    return a.amount == b.amount && a.unit == b.unit && a.plural == b.plural && a.personal == b.personal;
  }
};

/// One member of a bundle body. Which fields are set depends on `kind`.
struct BundleMember {
  BundleMemberKind kind = BundleMemberKind::promise;
  std::optional<Duration> duration;     ///< promise
  std::vector<Name> names;              ///< calendar, lifecycle, lead (one); stages (many)
  std::vector<Field> fields;            ///< form, situation
  std::vector<RatingMember> rating;     ///< rating
  std::optional<Department> department;
  std::optional<Material> material;
  std::optional<Item> item;
  std::optional<Decision> decision;
  std::optional<Retention> retention;   ///< retain
  std::optional<Expr> condition;        ///< check: the rule the form must keep
  std::optional<Text> message;          ///< check: what the applicant reads when it does not hold
  Span span;
  friend bool operator==(const BundleMember& a, const BundleMember& b) {
    return a.kind == b.kind && a.duration == b.duration && a.names == b.names &&
           a.fields == b.fields && a.rating == b.rating && a.department == b.department &&
           a.material == b.material && a.item == b.item && a.decision == b.decision &&
           a.retention == b.retention && a.condition == b.condition && a.message == b.message;
  }
};

struct Bundle {
  Name id;
  std::optional<Text> title;
  Number version;
  std::vector<BundleMember> members;
  Span span;
  friend bool operator==(const Bundle& a, const Bundle& b) {
    return a.id == b.id && a.title == b.title && a.version == b.version && a.members == b.members;
  }
};

enum class DeclarationKind : std::uint8_t {
  import, department, material, item, lifecycle, calendar, decision, bundle,
};

/// One top-level declaration. Exactly the optional matching `kind` is set.
struct Declaration {
  DeclarationKind kind = DeclarationKind::import;
  std::optional<Import> import;
  std::optional<Department> department;
  std::optional<Material> material;
  std::optional<Item> item;
  std::optional<Lifecycle> lifecycle;
  std::optional<Calendar> calendar;
  std::optional<Decision> decision;
  std::optional<Bundle> bundle;
  Span span;
  friend bool operator==(const Declaration& a, const Declaration& b) {
    return a.kind == b.kind && a.import == b.import && a.department == b.department &&
           a.material == b.material && a.item == b.item && a.lifecycle == b.lifecycle &&
           a.calendar == b.calendar && a.decision == b.decision && a.bundle == b.bundle;
  }
};

/// A comment (`# ...` to the end of line), kept for the formatter.
struct Comment {
  std::string text;  ///< including the leading '#', without the line break
  Span span;
  bool own_line = false;  ///< nothing but whitespace before it on its line
};

/// A parsed file. Equality compares the declarations only (not spans nor comments): two
/// files are the same program when their trees are equal.
struct File {
  std::vector<Declaration> declarations;
  std::vector<Comment> comments;
  friend bool operator==(const File& a, const File& b) { return a.declarations == b.declarations; }
};

}  // namespace onevisit::dsl::ast
