// The compiled workflow model: what the runtime executes.
//
// compile() turns the checker's resolved document (dsl/resolved.hpp) into one immutable
// Workflow per bundle: items with their effective limits (the checker's one merge of a
// catalog item and the bundle's `use`),
// material routing (for every material, where it comes from and which items need it), the
// form's fields with their compiled rules, each lifecycle as a state graph, and the item
// dependency graph with its topological order and critical path. Every condition and guard
// arrives compiled (by the checker); nothing here needs the syntax tree. Checking and
// compiling files goes through one entry point, check_and_compile (engine/compile.hpp).
//
// A Workflow's identity is its bundle id, version and a SHA-256 of its normalised source (the
// canonical formatting, without comments, of the bundle's file and everything it imports), so
// reformatting or commenting a file does not make a new version.
//
// Thread safety: a Workflow is immutable; share it as std::shared_ptr<const Workflow> between
// threads freely.
#pragma once

#include <onevisit/dsl/compiled.hpp>
#include <onevisit/dsl/diagnostic.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace onevisit::dsl::resolved {
struct Document;  // dsl/resolved.hpp: what the checker hands to compile()
}  // namespace onevisit::dsl::resolved

namespace onevisit::engine {

using ItemIndex = std::uint32_t;
using MaterialIndex = std::uint32_t;
using DepartmentIndex = std::uint32_t;
using StateIndex = std::uint32_t;
using TransitionIndex = std::uint32_t;
using LifecycleIndex = std::uint32_t;
using FieldIndex = std::uint32_t;

/// Where something was declared, for findings and for tools that jump to the source.
struct SourceRef {
  std::string file;
  dsl::Span span;
};

/// A time limit: an amount in working days, calendar days or hours.
struct Limit {
  dsl::Decimal amount;
  dsl::TimeUnit unit = dsl::TimeUnit::workday;
  /// Working days, when the unit allows a calendar-free conversion (hours count 8 to the day
  /// only for figures; the runtime uses the bundle's calendar).
  dsl::Decimal approximate_workdays() const;
  std::string to_string() const;
};

struct DepartmentModel {
  std::string id;
  std::string title;
  std::string adapter;        ///< system name; deployment maps it to an adapter
  bool organisation = false;  ///< a hospital, bank or utility rather than a government body
};

enum class MaterialSource : std::uint8_t {
  upload,    ///< the applicant uploads it (or brings it); the default
  elicense,  ///< fetched from the e-license library (电子证照)
  produced,  ///< issued by an item of the bundle
};

struct MaterialModel {
  std::string id;
  std::string title;
  MaterialSource source = MaterialSource::upload;
  std::string elicense_type;           ///< for elicense
  /// For elicense with `of field`: the idcard/uscc field whose holder's license is fetched.
  /// None: the first holder on the form who has one (the checker allows that only when no
  /// other e-license material of the bundle has the same type).
  std::optional<FieldIndex> holder;
  std::optional<ItemIndex> producer;   ///< for produced
  std::vector<std::string> formats;    ///< accepted upload formats (empty: any)
  bool secondary = false;              ///< may be pending at tolerant intake (容缺)
  bool original = false;               ///< the original must be shown at the window
  std::optional<dsl::CompiledExpression> when;
  std::vector<ItemIndex> consumers;    ///< routing: every item that needs it
  SourceRef source_ref;
};

struct ActionModel {
  enum class Kind : std::uint8_t { call, notify, escalate };
  Kind kind = Kind::call;
  std::string department;  ///< call: "dept" means the item's own department
  std::string operation;   ///< call
  std::string role;        ///< notify, escalate
  std::string message;     ///< notify
};

struct StateModel {
  std::string id;
  std::string title;
  bool initial = false;
  bool final = false;
  bool pauses_clock = false;
  /// Why it pauses the clock (`pauses_clock as …`); correction when written without `as`.
  /// Only a correction counts in `item.corrections` and uses up the one correction notice.
  dsl::ClockStop clock_stop = dsl::ClockStop::correction;
  bool failed = false;  ///< a final state in which the item did not succeed
  SourceRef source_ref;
};

/// Whether a transition starts the item's clock (`starts_clock`): the time limit counts from
/// the working day after it (docs/runtime.md, When the clock starts).
enum class ClockStart : std::uint8_t {
  none,          ///< the transition leaves the clock as it is
  now,           ///< `starts_clock`: from the transition (受理)
  from_receipt,  ///< `starts_clock from receipt`: from when the item entered the source state (deemed acceptance)
};

struct TransitionModel {
  std::string event;
  /// What people read for the event: its title in the lifecycle (`on approve "准予许可": …`, given
  /// on any of the event's transitions), else the built-in title, else the event's name.
  std::string title;
  std::vector<StateIndex> sources;
  StateIndex target = 0;
  std::vector<std::string> roles;  ///< empty: any role
  std::optional<dsl::CompiledExpression> guard;
  std::string guard_text;          ///< the guard as written (formatted), for messages
  std::vector<std::string> required_fields;
  std::vector<ActionModel> actions;
  std::optional<Limit> after;      ///< a timed transition
  ClockStart starts_clock = ClockStart::none;
  SourceRef source_ref;
};

class LifecycleGraph;  // Boost.Graph inside; see lifecycle.cpp

/// One lifecycle as a state machine. States and transitions are addressed by index; the
/// graph behind them answers reachability.
class LifecycleModel {
 public:
  LifecycleModel();
  ~LifecycleModel();
  LifecycleModel(LifecycleModel&&) noexcept;
  LifecycleModel& operator=(LifecycleModel&&) noexcept;

  std::string id;
  std::string title;
  std::vector<StateModel> states;
  std::vector<TransitionModel> transitions;
  std::optional<StateIndex> initial;
  std::optional<dsl::Decimal> warn_percent;   ///< yellow light at this share of the limit
  std::optional<Limit> warn_left;             ///< or when this much time is left
  std::vector<ActionModel> on_warning;
  std::vector<ActionModel> on_overdue;
  /// Some transition `starts_clock`; otherwise the clock starts when the item becomes active.
  bool clock_starts_on_transition = false;
  SourceRef source_ref;

  std::optional<StateIndex> find_state(std::string_view id) const;
  /// The title of `event` in this lifecycle (TransitionModel::title); for an event it does not
  /// have, the built-in title or the name.
  std::string_view event_title(std::string_view event) const;
  /// Transitions leaving `state` (in declaration order).
  std::vector<TransitionIndex> transitions_from(StateIndex state) const;
  /// States reachable from the initial state (the initial state included).
  std::vector<bool> reachable_from_initial() const;

  /// Builds the graph; called once by compile() after states and transitions are set.
  void build_graph();

 private:
  std::unique_ptr<LifecycleGraph> graph_;
};

struct SpecialProcedure {
  std::string id;
  std::string title;
  Limit max;
  bool pauses_clock = false;
};

/// What an item sends to its department: a form field or a material.
struct SentValue {
  enum class Kind : std::uint8_t { field, material };
  Kind kind = Kind::field;
  std::uint32_t index = 0;  ///< FieldIndex or MaterialIndex
  std::string name;
};

struct ItemModel {
  std::string id;          ///< the name in the bundle (alias for `use ... as`)
  std::string catalog_id;  ///< the catalog item, or the same as id for bundle-local items
  std::string title;
  std::string code;
  std::string kind;
  DepartmentIndex department = 0;
  bool immediate = false;
  std::optional<Limit> promised;   ///< 0 for immediate items
  std::optional<Limit> statutory;
  std::optional<Limit> catalog_promised;  ///< the catalog's own promised limit (before `use` overrides)
  std::vector<MaterialIndex> needs;
  std::vector<MaterialIndex> produces;
  std::vector<SentValue> sends;
  std::vector<SpecialProcedure> specials;
  /// 联办/会签: the departments that decide the item together, its own department first (each
  /// a part: ItemState::parts); empty when its department decides alone. docs/runtime.md,
  /// Joint handling.
  std::vector<DepartmentIndex> joint;
  dsl::JointRule joint_rule = dsl::JointRule::all;
  bool tolerant = false;
  LifecycleIndex lifecycle = 0;
  std::vector<ItemIndex> after;       ///< must be done before this one starts
  std::vector<ItemIndex> dependents;  ///< the reverse of `after`
  std::optional<dsl::CompiledExpression> when;
  SourceRef source_ref;
};

/// One choice of an enum field: its value and what people read (empty: the value itself).
struct FieldChoice {
  std::string name;
  std::string title;
};

struct FieldModel {
  std::string name;
  std::string title;
  dsl::TypeKind kind = dsl::TypeKind::text;  ///< as declared: a list of choices is a list
  std::vector<FieldChoice> choices;          ///< an enum's values, or those of a list's enum
  dsl::ValueType value_type;
  bool situation = false;  ///< a 情形 question rather than a form field
  bool required = false;
  std::optional<dsl::Value> default_value;
  std::optional<dsl::CompiledExpression> default_expression;  ///< e.g. today()
  std::optional<dsl::Value> min, max;
  std::optional<dsl::CompiledExpression> min_expression, max_expression;  ///< bounds that read today()
  std::string pattern;
  std::optional<dsl::CompiledExpression> when;  ///< asked only when
  std::size_t slot = 0;                        ///< its slot in scope()
  SourceRef source_ref;
};

struct RatingPolicy {
  int bad_at_most = 2;                                          ///< 好差评: 1..5; bad is <= this
  Limit rectify_within{dsl::Decimal::from_int(15), dsl::TimeUnit::workday};  ///< 整改 due
};

/// `retain N years|months|days`: a closed case keeps its personal data this long after its
/// last change, then the retention run erases it (docs/runtime.md, Retention).
struct RetentionPolicy {
  int amount = 0;
  dsl::RetentionUnit unit = dsl::RetentionUnit::year;
  std::vector<FieldIndex> personal;  ///< idcard and phone fields, and those marked personal
  std::string text;                  ///< as written, e.g. "retain 3 years": named in the history
};

/// The longest chain of promised limits through the dependency graph.
struct CriticalPath {
  std::vector<ItemIndex> items;  ///< in order
  dsl::Decimal workdays;
};

/// `check condition "message"`: a rule across the form's fields, kept at every case start.
struct FormRule {
  dsl::CompiledExpression condition;  ///< a bool over the form's slots
  std::string message;                ///< what the applicant reads when it is false
  std::string text;                   ///< the condition as written (formatted), for logs and tools
  /// The fields it reads, in the order written; the refusal is shown at the first of them.
  std::vector<FieldIndex> fields;
  SourceRef source_ref;
};

/// One bundle version, compiled. Immutable.
class Workflow {
 public:
  std::string bundle_id;
  std::string title;
  int version = 1;
  std::string source_hash;  ///< SHA-256 (hex) of the normalised source
  std::optional<Limit> promise;
  std::string calendar;     ///< the calendar's name; empty: Monday to Friday
  std::vector<std::string> stages;
  RatingPolicy rating;
  std::optional<RetentionPolicy> retention;  ///< none: personal data is kept until erased otherwise
  std::optional<DepartmentIndex> lead;
  std::vector<DepartmentModel> departments;
  std::vector<MaterialModel> materials;
  std::vector<ItemModel> items;
  std::vector<FieldModel> fields;
  std::vector<FormRule> rules;  ///< `check`s, in declaration order
  std::vector<LifecycleModel> lifecycles;
  std::vector<ItemIndex> topological_order;  ///< items, every one after those it comes after
  SourceRef source_ref;

  /// The scope every condition of this bundle was compiled against: one slot per field
  /// (field i in slot fields[i].slot), then the decisions.
  const dsl::Scope& scope() const { return *scope_; }
  /// The scope lifecycle guards were compiled against: materials.complete,
  /// materials.verified, materials.pending, item.corrections, item.elapsed,
  /// item.remaining, then form.<field> for every field, in that slot order.
  const dsl::Scope& guard_scope() const { return *guard_scope_; }
  /// The critical path among the items for which `applicable[i]` is true (all when empty).
  CriticalPath critical_path(const std::vector<bool>& applicable = {}) const;

  std::optional<ItemIndex> find_item(std::string_view id) const;
  std::optional<MaterialIndex> find_material(std::string_view id) const;
  std::optional<FieldIndex> find_field(std::string_view name) const;

 private:
  friend class WorkflowCompiler;
  std::shared_ptr<dsl::Scope> scope_;
  std::shared_ptr<dsl::Scope> guard_scope_;
};

struct CompileResult {
  std::vector<std::shared_ptr<const Workflow>> workflows;
  /// Findings of the static analysis (errors and warnings), with their source places.
  std::vector<dsl::Diagnostic> diagnostics;
  bool ok() const;
};

/// Compiles every bundle of the checker's resolved document and analyses it (dependency
/// cycles, materials that are not ready, promises shorter than the critical path, states no
/// transition reaches …). Every bundle in the document becomes a Workflow: the compiler
/// looks no name up and drops nothing (a bundle that cannot be compiled is not in the
/// document, and the checker said why). REQUIRES: the Program the document points into is
/// alive. Most callers want check_and_compile (engine/compile.hpp), which loads, checks and
/// compiles in one step.
CompileResult compile(const dsl::resolved::Document& document);

}  // namespace onevisit::engine
