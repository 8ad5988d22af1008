// The resolved document: what the checker hands to the engine's compiler.
//
// The checker binds a loaded program once (docs/language.md, The front end). Every name a
// bundle uses is looked up there, in the scope of the file that declares the bundle, and
// becomes a reference here: an item's department, lifecycle, materials and predecessors are
// indices into the bundle's own lists, an included calendar is a pointer to its resolved
// calendar, a `use` is one merged item (the catalog's members with the site's overrides
// applied, by the one merge in the checker), and every condition, guard, bound and rule is
// a typed CompiledExpression against the bundle's scope. Nothing after the checker looks a
// name up again or merges again, so the checker and the compiler cannot disagree.
//
// A bundle is in the document only when all of it resolved: a bundle with an unknown name,
// an expression that does not type or a `use` of a missing item is left out, and the
// checker reports why, with a follow-on `not-compiled` error naming the bundle. Whatever is
// in the document compiles.
//
// Declarations are referenced, not copied: the document points into the Program's syntax
// trees (for titles, options and source places) and is valid while that Program lives.
//
// Thread safety: immutable once bind() returned; share it read-only.
#pragma once

#include <onevisit/dsl/ast.hpp>
#include <onevisit/dsl/compiled.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace onevisit::dsl::resolved {

/// A calendar with what it includes resolved, in the order it names them.
struct Calendar {
  const ast::Calendar* declaration = nullptr;
  std::string file;
  /// One per name of its `include` members, in order; never null (an unknown include is a
  /// checker error, and a bundle naming such a calendar is not in the document).
  std::vector<const Calendar*> includes;
};

struct Department {
  const ast::Department* declaration = nullptr;
  std::string file;
};

struct Material {
  const ast::Material* declaration = nullptr;
  std::string file;
  std::optional<CompiledExpression> when;  ///< `when`, against the bundle's scope
  /// The item `produced_by` names (by its name in the bundle, or the catalog item it uses).
  std::optional<std::size_t> producer;
  /// `from elicense "…" of field`: the idcard or uscc field (into Bundle::fields) whose
  /// holder's license is fetched; none: the first holder on the form who has one.
  std::optional<std::size_t> holder;
};

/// A transition with its states resolved and its guard compiled against the bundle's guard
/// scope (form.<field> typed by this bundle's form).
struct Transition {
  const ast::LifecycleMember* declaration = nullptr;
  std::vector<std::size_t> sources;  ///< indices into Lifecycle::states
  std::size_t target = 0;
  std::optional<CompiledExpression> guard;
  std::string guard_text;  ///< the guard as written (formatted), for messages
  /// What people read for the event: its title in the lifecycle (given on any of the event's
  /// transitions), else the built-in title, else the event's name.
  std::string title;
};

struct Lifecycle {
  const ast::Lifecycle* declaration = nullptr;
  std::string file;
  std::vector<const ast::LifecycleMember*> states;  ///< in declaration order
  std::vector<Transition> transitions;               ///< in declaration order
  /// Index into states of the first initial state; always set in a bundle's lifecycles.
  std::optional<std::size_t> initial;
};

/// A limit as written (`limit 3 workdays`): the amount is checked to be in range.
struct Duration {
  Decimal amount;
  TimeUnit unit = TimeUnit::workday;
};

/// What an item sends to its department: a form field or a material of the bundle.
struct Sent {
  enum class Kind : std::uint8_t { field, material };
  Kind kind = Kind::field;
  std::size_t index = 0;  ///< into Bundle::fields or Bundle::materials
  std::string name;
};

struct Special {
  const ast::ItemMember* declaration = nullptr;
  Duration max;
};

/// An item placed in a bundle: a bundle-local `item`, or a `use` of a catalog item merged
/// with the members its body overrides (each member replaces the catalog's of the same kind;
/// a promised limit — `limit` or `immediate` — replaces the catalog's promised limit and keeps
/// its statutory limit unless the body states one).
struct Item {
  const ast::Item* site = nullptr;     ///< the declaration in the bundle (`item` or `use`)
  const ast::Item* catalog = nullptr;  ///< for `use`: the catalog item
  std::string id;                      ///< the name in the bundle (the alias of `use ... as`)
  std::string catalog_id;              ///< the catalog item's id; id for a bundle-local item
  std::string title;
  std::string code;
  std::string kind;
  std::size_t department = 0;          ///< into Bundle::departments
  std::size_t lifecycle = 0;           ///< into Bundle::lifecycles
  bool immediate = false;
  std::optional<Duration> promised;    ///< 0 workdays for an immediate item
  std::optional<Duration> statutory;
  std::optional<Duration> catalog_promised;  ///< before the `use` overrides (the same for local items)
  std::vector<std::size_t> needs;      ///< into Bundle::materials
  std::vector<std::size_t> produces;   ///< into Bundle::materials
  std::vector<Sent> sends;
  std::vector<Special> specials;
  /// 联办/会签 (`joint all|any with …`): the departments deciding together, into
  /// Bundle::departments, the item's own first; empty for an item one department decides.
  std::vector<std::size_t> joint;
  JointRule joint_rule = JointRule::all;
  bool tolerant = false;
  std::vector<std::size_t> after;      ///< into Bundle::items
  std::optional<CompiledExpression> when;
};

struct Field {
  const ast::Field* declaration = nullptr;
  bool situation = false;  ///< a 情形 question rather than a form field
  ValueType type;
  std::size_t slot = 0;    ///< its slot in Bundle::scope
  bool required = false;
  /// `default`/`min`/`max` compiled; constants are folded by the compiler.
  std::optional<CompiledExpression> default_value, min, max, when;
};

/// `check condition "message"`.
struct Rule {
  const ast::BundleMember* declaration = nullptr;
  CompiledExpression condition;
  std::string text;                 ///< the condition as written (formatted)
  std::vector<std::size_t> fields;  ///< into Bundle::fields, in the order the condition reads them
};

struct Bundle {
  const ast::Bundle* declaration = nullptr;
  std::size_t unit = 0;  ///< the Program unit that declares it
  std::string file;
  std::optional<Duration> promise;
  const Calendar* calendar = nullptr;  ///< none: Monday to Friday
  std::optional<std::size_t> lead;     ///< into departments
  /// The scope of its conditions: one slot per field, then the decisions it sees.
  std::shared_ptr<Scope> scope;
  /// The scope of lifecycle guards: materials.*, item.*, then form.<field> for every field.
  std::shared_ptr<Scope> guard_scope;
  std::vector<Department> departments;  ///< those its items and `lead` name, in first-use order
  std::vector<Material> materials;      ///< those its items name, in first-use order
  std::vector<Item> items;              ///< in declaration order
  std::vector<Field> fields;            ///< form, then situation, in declaration order
  std::vector<Rule> rules;
  std::vector<Lifecycle> lifecycles;    ///< those its items run, in first-use order
  /// The units whose text makes up the bundle's identity: its file and everything it imports.
  std::vector<std::size_t> source_units;
};

/// The whole program, bound.
struct Document {
  std::vector<Bundle> bundles;  ///< every bundle that resolved, in program order
  /// Every calendar declared, resolved in its own file's view (pointers stay valid: the
  /// vector is filled once and never grows afterwards).
  std::vector<std::unique_ptr<Calendar>> calendars;
  /// Every lifecycle declared, its states and transitions resolved in its own file's view and
  /// its guards compiled against a form that accepts any field: what the lifecycle analysis
  /// (unreachable states, dead ends, guards that never hold) reads, used by a bundle or not.
  std::vector<Lifecycle> lifecycles;
  /// Per Program unit: the canonical formatting of its declarations but calendars, without
  /// comments (what a bundle's identity hashes, so layout and comments do not make a new
  /// version, and a calendar is versioned on its own: docs/runtime.md, New calendar versions).
  std::vector<std::string> canonical_sources;
};

}  // namespace onevisit::dsl::resolved
