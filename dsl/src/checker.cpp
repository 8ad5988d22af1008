// Semantic checks of a loaded program (see program.hpp for the contract).
//
// The checker walks each file's own declarations in the scope of what that file sees (its
// imports, transitively). It never stops at the first problem: every finding is recorded
// with its span and checking goes on with what is known.
#include <onevisit/dsl/program.hpp>

#include <onevisit/dsl/expr.hpp>
#include <onevisit/dsl/formatter.hpp>
#include <onevisit/dsl/resolved.hpp>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <unordered_map>
#include <utility>

namespace onevisit::dsl {
namespace {

using namespace ast;
namespace fs = std::filesystem;

template <class T>
struct Ref {
  const T* node = nullptr;
  std::size_t unit = 0;
};

// Every top-level declaration of one kind in the whole program, by name. Which of them a
// file may use depends on its imports: `visible` marks the units the current file sees.
// Built once per program, so checking many files that share catalogs stays linear.
template <class T>
class SymbolTable {
 public:
  void add(const std::string& name, const T* node, std::size_t unit) { by_name_[name].push_back(Ref<T>{node, unit}); }
  void set_visibility(const std::vector<char>* visible) { visible_ = visible; }

  /// The first declaration of `name` the current file sees, or null.
  const Ref<T>* find(std::string_view name) const {
    const auto it = by_name_.find(name);
    if (it == by_name_.end()) return nullptr;
    for (const auto& ref : it->second) {
      if ((*visible_)[ref.unit]) return &ref;
    }
    return nullptr;
  }
  bool contains(std::string_view name) const { return find(name) != nullptr; }

  /// Names the current file sees (for suggestions; only used on error paths).
  std::vector<std::string_view> names() const {
    std::vector<std::string_view> out;
    for (const auto& [name, refs] : by_name_) {
      if (std::any_of(refs.begin(), refs.end(), [&](const Ref<T>& r) { return (*visible_)[r.unit]; })) out.push_back(name);
    }
    return out;
  }
  const std::map<std::string, std::vector<Ref<T>>, std::less<>>& all() const { return by_name_; }

 private:
  std::map<std::string, std::vector<Ref<T>>, std::less<>> by_name_;
  const std::vector<char>* visible_ = nullptr;
};

template <class T>
std::vector<std::string_view> keys(const SymbolTable<T>& table) {
  return table.names();
}

struct Symbols {
  SymbolTable<Department> departments;
  SymbolTable<Material> materials;
  SymbolTable<Item> items;
  SymbolTable<Lifecycle> lifecycles;
  SymbolTable<Calendar> calendars;
  SymbolTable<Decision> decisions;
  SymbolTable<Bundle> bundles;

  void set_visibility(const std::vector<char>* visible) {
    departments.set_visibility(visible);
    materials.set_visibility(visible);
    items.set_visibility(visible);
    lifecycles.set_visibility(visible);
    calendars.set_visibility(visible);
    decisions.set_visibility(visible);
    bundles.set_visibility(visible);
  }
};

template <class Map>
std::vector<std::string_view> keys(const Map& map) {
  std::vector<std::string_view> out;
  out.reserve(map.size());
  for (const auto& [k, v] : map) out.push_back(k);
  return out;
}

constexpr std::string_view kRoles[] = {"applicant", "clerk", "reviewer", "supervisor", "system", "designer", "admin"};
constexpr std::string_view kItemKinds[] = {"licensing", "confirmation", "payment", "benefit", "levy", "reward",
                                           "adjudication", "filing", "service", "inspection", "other"};
constexpr std::string_view kUploadFormats[] = {"pdf", "ofd", "jpg", "jpeg", "png", "tif", "tiff",
                                               "doc", "docx", "xls", "xlsx", "zip"};
constexpr std::string_view kStages[] = {"intake", "pre_review", "items", "delivery", "rating"};
constexpr std::string_view kActions[] = {"call", "notify", "escalate"};

template <std::size_t N>
bool contains(const std::string_view (&list)[N], std::string_view word) {
  return std::find(std::begin(list), std::end(list), word) != std::end(list);
}
template <std::size_t N>
std::vector<std::string_view> as_vector(const std::string_view (&list)[N]) {
  return {std::begin(list), std::end(list)};
}

/// Amount of a duration in 1/10000 units (limits are compared in the same unit only).
std::int64_t amount_of(const Duration& d) {
  const auto value = Decimal::parse(d.amount.text);
  return value ? value->units : 0;
}

std::string_view unit_name(TimeUnit u) {
  return u == TimeUnit::workday ? "workdays" : u == TimeUnit::day ? "days" : "hours";
}

// Effective attributes of an item placed in a bundle: `use` body members override the
// catalog item's members of the same kind.
struct EffectiveItem {
  const Item* site = nullptr;     ///< the declaration in the bundle (item or use)
  const Item* catalog = nullptr;  ///< for `use`: the catalog item
  std::size_t catalog_unit = 0;
  std::vector<const ItemMember*> members;

  const ItemMember* find(ItemMemberKind kind) const {
    for (const auto* m : members) {
      if (m->kind == kind) return m;
    }
    return nullptr;
  }
  std::vector<const Name*> names_of(ItemMemberKind kind) const {
    std::vector<const Name*> out;
    for (const auto* m : members) {
      if (m->kind == kind) {
        for (const auto& n : m->names) out.push_back(&n);
      }
    }
    return out;
  }
};

// The limits of an item placed in a bundle: the catalog's, then the `use` body's member by
// member. A promised limit in the body (`limit` or `immediate`) replaces the catalog's promised
// limit but keeps the catalog's statutory limit — also one written inside `limit ... statutory`
// — unless the body states a statutory limit itself. The checker compares these and the
// compiler runs them: there is no other merge.
struct MergedLimits {
  const Duration* promised = nullptr;   ///< none for an immediate item (0) or an item without one
  bool immediate = false;
  const Duration* statutory = nullptr;
  const Duration* catalog_promised = nullptr;  ///< the catalog's own promised limit
  bool catalog_immediate = false;
  bool promised_from_site = false;
  bool statutory_from_site = false;
};

MergedLimits merged_limits(const Item& site, const Item* catalog) {
  MergedLimits out;
  bool site_promised = false, site_statutory = false;
  for (const auto& m : site.members) {
    site_promised = site_promised || m.kind == ItemMemberKind::limit || m.kind == ItemMemberKind::immediate;
    site_statutory = site_statutory || m.kind == ItemMemberKind::statutory || (m.kind == ItemMemberKind::limit && m.statutory);
  }
  const auto apply = [&](const ItemMember& m, bool from_site) {
    switch (m.kind) {
      case ItemMemberKind::limit:
        out.promised = &*m.duration;
        out.immediate = false;
        out.promised_from_site = from_site;
        if (m.statutory) {
          out.statutory = &*m.statutory;
          out.statutory_from_site = from_site;
        }
        break;
      case ItemMemberKind::immediate:
        out.promised = nullptr;
        out.immediate = true;
        out.promised_from_site = from_site;
        break;
      case ItemMemberKind::statutory:
        out.statutory = &*m.duration;
        out.statutory_from_site = from_site;
        break;
      default: break;
    }
  };
  if (catalog) {
    for (const auto& m : catalog->members) {
      if (m.kind == ItemMemberKind::limit) out.catalog_promised = &*m.duration;
      if (m.kind == ItemMemberKind::immediate) out.catalog_immediate = true;
      const bool promised = m.kind == ItemMemberKind::limit || m.kind == ItemMemberKind::immediate;
      if (promised && site_promised) {
        if (m.kind == ItemMemberKind::limit && m.statutory && !site_statutory) out.statutory = &*m.statutory;
        continue;
      }
      if (m.kind == ItemMemberKind::statutory && site_statutory) continue;
      // A catalog `limit X statutory Y` under a body's own statutory limit keeps X only.
      if (m.kind == ItemMemberKind::limit && site_statutory) {
        out.promised = &*m.duration;
        out.immediate = false;
        continue;
      }
      apply(m, false);
    }
  }
  for (const auto& m : site.members) apply(m, true);
  if (!catalog) {
    out.catalog_promised = out.promised;
    out.catalog_immediate = out.immediate;
  }
  return out;
}

EffectiveItem effective(const Item& site, const Item* catalog, std::size_t catalog_unit) {
  EffectiveItem e{&site, catalog, catalog_unit, {}};
  std::set<ItemMemberKind> overridden;
  for (const auto& m : site.members) {
    overridden.insert(m.kind);
    e.members.push_back(&m);
  }
  if (catalog) {
    for (const auto& m : catalog->members) {
      // `limit` and `immediate` both set the promised limit, so either overrides the other.
      const bool promised_overridden =
          (m.kind == ItemMemberKind::limit || m.kind == ItemMemberKind::immediate) &&
          (overridden.contains(ItemMemberKind::limit) || overridden.contains(ItemMemberKind::immediate));
      if (!overridden.contains(m.kind) && !promised_overridden) e.members.push_back(&m);
    }
  }
  return e;
}

class Checker {
 public:
  explicit Checker(const Program& program) : program_(program) {}

  Bound run() {
    index_declarations();
    bind_calendars();
    for (std::size_t u = 0; u < program_.units.size(); ++u) check_unit(u);
    bind_lifecycles();
    canonical_sources();
    // The same duplicate can be seen from several files; report each finding once.
    std::vector<Diagnostic> unique;
    std::set<std::tuple<std::string, std::uint32_t, std::uint32_t, std::string, std::string>> seen;
    for (auto& d : out_) {
      if (seen.emplace(d.file, d.span.begin, d.span.end, d.code, d.message).second) unique.push_back(std::move(d));
    }
    for (auto& d : follow_ons_) unique.push_back(std::move(d));
    return Bound{std::move(unique), std::move(doc_)};
  }

 private:
  const Program& program_;
  std::vector<Diagnostic> out_;
  std::size_t unit_ = 0;
  Symbols symbols_;
  std::vector<char> visible_;  ///< units the current file sees
  resolved::Document doc_;
  std::map<const Expr*, CompiledExpression> compiled_;  ///< what the checks compiled, by expression
  std::map<const Calendar*, resolved::Calendar*> calendar_refs_;
  std::vector<Diagnostic> follow_ons_;  ///< not-compiled: after every other finding

  const std::string& file() const { return program_.units[unit_].path; }

  void error(Span span, std::string code, std::string message) {
    out_.push_back(Diagnostic{file(), span, Severity::error, std::move(code), std::move(message)});
  }
  void warning(Span span, std::string code, std::string message) {
    out_.push_back(Diagnostic{file(), span, Severity::warning, std::move(code), std::move(message)});
  }
  std::string where(std::size_t unit, Span span) const {
    const auto& u = program_.units[unit];
    const auto lc = u.index->locate(span.begin);
    return u.path + ":" + std::to_string(lc.line) + ":" + std::to_string(lc.column);
  }

  // A loaded file the current one does not import that declares `name` as a `what`: the
  // name is unknown only because an import is missing.
  template <class T>
  std::optional<std::size_t> unimported(const SymbolTable<T>& table, std::string_view name) const {
    const auto it = table.all().find(name);
    if (it == table.all().end()) return std::nullopt;
    for (const auto& ref : it->second) {
      if (!visible_[ref.unit]) return ref.unit;
    }
    return std::nullopt;
  }
  std::optional<std::size_t> declared_unimported(std::string_view name, std::string_view what) const {
    if (what == "material") return unimported(symbols_.materials, name);
    if (what == "department") return unimported(symbols_.departments, name);
    if (what == "lifecycle") return unimported(symbols_.lifecycles, name);
    if (what == "calendar") return unimported(symbols_.calendars, name);
    if (what == "item" || what == "catalog item") return unimported(symbols_.items, name);
    if (what == "field or material") return unimported(symbols_.materials, name);
    return std::nullopt;
  }

  void unknown(const Name& name, std::string_view what, const std::vector<std::string_view>& candidates,
               std::string_view hint = {}) {
    std::string message = "unknown " + std::string(what) + " '" + name.text + "'";
    if (const auto unit = declared_unimported(name.text, what)) {
      const auto& declaring = program_.units[*unit].path;
      const auto relative = fs::path(declaring).lexically_relative(fs::path(file()).parent_path()).generic_string();
      message += ": it is declared in " + declaring + ", which this file does not import; add import \"" +
                 (relative.empty() ? declaring : relative) + "\"";
      error(name.span, "unknown-name", std::move(message));
      return;
    }
    if (auto guess = closest_name(name.text, candidates); !guess.empty()) message += "; did you mean '" + guess + "'?";
    if (!hint.empty()) message += " (" + std::string(hint) + ")";
    error(name.span, "unknown-name", std::move(message));
  }

  // Runs an expression check, routing its diagnostics into this file's list.
  template <class F>
  auto with_sink(F&& f) {
    DiagnosticSink sink(file());
    auto result = f(sink);
    for (auto& d : sink.take()) out_.push_back(std::move(d));
    return result;
  }

  // ------------------------------------------------------------------------------------
  // Symbols visible from a file

  void index_declarations() {
    for (std::size_t u = 0; u < program_.units.size(); ++u) {
      for (const auto& d : program_.units[u].file.declarations) {
        switch (d.kind) {
          case DeclarationKind::department: symbols_.departments.add(d.department->id.text, &*d.department, u); break;
          case DeclarationKind::material: symbols_.materials.add(d.material->id.text, &*d.material, u); break;
          case DeclarationKind::item: symbols_.items.add(d.item->id.text, &*d.item, u); break;
          case DeclarationKind::lifecycle: symbols_.lifecycles.add(d.lifecycle->id.text, &*d.lifecycle, u); break;
          case DeclarationKind::calendar: symbols_.calendars.add(d.calendar->id.text, &*d.calendar, u); break;
          case DeclarationKind::decision: symbols_.decisions.add(d.decision->id.text, &*d.decision, u); break;
          case DeclarationKind::bundle: symbols_.bundles.add(d.bundle->id.text, &*d.bundle, u); break;
          case DeclarationKind::import: break;
        }
      }
    }
    symbols_.set_visibility(&visible_);
  }

  // Two declarations of one name that one file sees: reported at the later of the two in
  // that file's view (its own declarations first, then its imports in order).
  template <class T>
  void report_duplicates(const SymbolTable<T>& table, const std::vector<std::size_t>& order, std::string_view what) {
    std::vector<std::size_t> rank(program_.units.size(), SIZE_MAX);
    for (std::size_t i = 0; i < order.size(); ++i) rank[order[i]] = i;
    for (const auto& [name, refs] : table.all()) {
      if (refs.size() < 2) continue;
      std::vector<const Ref<T>*> seen;
      for (const auto& r : refs) {
        if (visible_[r.unit]) seen.push_back(&r);
      }
      if (seen.size() < 2) continue;
      std::stable_sort(seen.begin(), seen.end(), [&](const Ref<T>* a, const Ref<T>* b) {
        if (rank[a->unit] != rank[b->unit]) return rank[a->unit] < rank[b->unit];
        return a->node->id.span.begin < b->node->id.span.begin;
      });
      for (std::size_t i = 1; i < seen.size(); ++i) {
        const std::size_t saved = unit_;
        unit_ = seen[i]->unit;
        error(seen[i]->node->id.span, "duplicate-name", std::string(what) + " '" + name + "' is already declared at " +
                                                            where(seen[0]->unit, seen[0]->node->id.span));
        unit_ = saved;
      }
    }
  }

  void build_symbols(std::size_t unit) {
    const auto order = program_.visible_from(unit);
    visible_.assign(program_.units.size(), 0);
    for (const auto u : order) visible_[u] = 1;
    report_duplicates(symbols_.departments, order, "department");
    report_duplicates(symbols_.materials, order, "material");
    report_duplicates(symbols_.items, order, "item");
    report_duplicates(symbols_.lifecycles, order, "lifecycle");
    report_duplicates(symbols_.calendars, order, "calendar");
    report_duplicates(symbols_.decisions, order, "decision");
    report_duplicates(symbols_.bundles, order, "bundle");
  }

  void check_unit(std::size_t unit) {
    unit_ = unit;
    build_symbols(unit);
    for (const auto& d : program_.units[unit].file.declarations) {
      check_durations(d);
      switch (d.kind) {
        case DeclarationKind::import: break;
        case DeclarationKind::department: break;
        case DeclarationKind::material: check_material(*d.material, nullptr); break;
        case DeclarationKind::item: check_catalog_item(*d.item); break;
        case DeclarationKind::lifecycle: check_lifecycle(*d.lifecycle); break;
        case DeclarationKind::calendar: check_calendar(*d.calendar); break;
        case DeclarationKind::decision: {
          Scope empty;
          with_sink([&](DiagnosticSink& sink) { return compile_decision(*d.decision, empty, sink); });
          break;
        }
        case DeclarationKind::bundle: check_bundle(*d.bundle); break;
      }
    }
  }

  // ------------------------------------------------------------------------------------
  // Durations: every one the grammar allows, wherever it is, is in range (amount_of() reads
  // an out-of-range amount as 0, which must never pass silently). Numbers inside
  // expressions are checked by the expression compiler.

  void check_duration(const Duration& d) {
    if (auto amount = duration_literal(d.amount.text, d.unit); !amount) {
      error(d.amount.span, "number-out-of-range", std::move(amount.error()));
    }
  }

  void check_item_durations(const Item& item) {
    for (const auto& m : item.members) {
      if (m.duration) check_duration(*m.duration);
      if (m.statutory) check_duration(*m.statutory);
    }
  }

  void check_durations(const Declaration& d) {
    if (d.item) check_item_durations(*d.item);
    if (d.lifecycle) {
      for (const auto& m : d.lifecycle->members) {
        if (m.left) check_duration(*m.left);
        for (const auto& o : m.options) {
          if (o.duration) check_duration(*o.duration);
        }
      }
    }
    if (d.bundle) {
      for (const auto& m : d.bundle->members) {
        if (m.duration) check_duration(*m.duration);
        for (const auto& r : m.rating) {
          if (r.within) check_duration(*r.within);
        }
        if (m.item) check_item_durations(*m.item);
      }
    }
  }

  // ------------------------------------------------------------------------------------
  // Bundle context: what names mean inside one bundle

  struct BundleContext {
    const Bundle* bundle = nullptr;
    Scope scope;
    std::map<std::string, const Department*, std::less<>> departments;
    std::map<std::string, const Material*, std::less<>> materials;
    std::map<std::string, EffectiveItem, std::less<>> items;          ///< by local name
    std::map<std::string, std::string, std::less<>> item_by_catalog;  ///< catalog id -> local name
    std::set<std::string, std::less<>> field_names;
    std::vector<resolved::Field> fields;  ///< in slot order
  };

  bool department_exists(std::string_view name, const BundleContext* ctx) const {
    return symbols_.departments.contains(name) || (ctx && ctx->departments.contains(name));
  }
  std::vector<std::string_view> department_names(const BundleContext* ctx) const {
    auto names = keys(symbols_.departments);
    if (ctx) {
      for (const auto& [k, v] : ctx->departments) names.push_back(k);
    }
    return names;
  }
  bool material_exists(std::string_view name, const BundleContext* ctx) const {
    return symbols_.materials.contains(name) || (ctx && ctx->materials.contains(name));
  }
  std::vector<std::string_view> material_names(const BundleContext* ctx) const {
    auto names = keys(symbols_.materials);
    if (ctx) {
      for (const auto& [k, v] : ctx->materials) names.push_back(k);
    }
    return names;
  }

  void check_material_names(const std::vector<Name>& names, const BundleContext* ctx) {
    for (const auto& n : names) {
      if (!material_exists(n.text, ctx)) unknown(n, "material", material_names(ctx));
    }
  }

  // ------------------------------------------------------------------------------------
  // Materials

  void check_material(const Material& m, BundleContext* ctx) {
    std::map<MaterialOptionKind, const MaterialOption*> seen;
    for (const auto& o : m.options) {
      if (auto [it, inserted] = seen.emplace(o.kind, &o); !inserted) {
        error(o.span, "duplicate-option", "this option is already given for material '" + m.id.text + "'");
        continue;
      }
      switch (o.kind) {
        case MaterialOptionKind::upload:
          for (const auto& f : o.names) {
            if (!contains(kUploadFormats, f.text)) unknown(f, "upload format", as_vector(kUploadFormats));
          }
          break;
        case MaterialOptionKind::elicense:
          if (o.text && o.text->value.empty()) error(o.text->span, "empty-text", "the e-license type is empty");
          break;
        case MaterialOptionKind::produced_by:
          for (const auto& n : o.names) {
            const bool found = ctx ? (ctx->items.contains(n.text) || ctx->item_by_catalog.contains(n.text))
                                   : symbols_.items.contains(n.text);
            if (!found) {
              std::vector<std::string_view> candidates;
              if (ctx) {
                for (const auto& [k, v] : ctx->items) candidates.push_back(k);
              } else {
                candidates = keys(symbols_.items);
              }
              unknown(n, "item", candidates, ctx ? "produced_by names an item of this bundle" : "");
            }
          }
          break;
        case MaterialOptionKind::when:
          if (!ctx) {
            error(o.span, "misplaced", "'when' on a material is only allowed inside a bundle, where the form's fields exist");
          } else {
            remember(*o.expr, with_sink([&](DiagnosticSink& sink) {
              return compile_expression_as(*o.expr, ctx->scope, ValueType::of(BaseType::boolean), "a material's condition", sink);
            }));
          }
          break;
        case MaterialOptionKind::original:
        case MaterialOptionKind::secondary: break;
      }
    }
    if (seen.contains(MaterialOptionKind::produced_by) && seen.contains(MaterialOptionKind::elicense)) {
      error(seen[MaterialOptionKind::produced_by]->span, "conflicting-source",
            "material '" + m.id.text + "' comes either from an e-license or from an item's result, not both");
    }
  }

  // ------------------------------------------------------------------------------------
  // Items

  // Checks the members of one item declaration (catalog or bundle).
  void check_item_members(const Item& item, const BundleContext* ctx) {
    std::map<ItemMemberKind, const ItemMember*> singles;
    std::set<std::string> specials;
    const ItemMember* limit = nullptr;
    const ItemMember* statutory = nullptr;
    const ItemMember* immediate = nullptr;
    for (const auto& m : item.members) {
      const bool single = m.kind == ItemMemberKind::code || m.kind == ItemMemberKind::kind ||
                          m.kind == ItemMemberKind::immediate || m.kind == ItemMemberKind::limit ||
                          m.kind == ItemMemberKind::statutory || m.kind == ItemMemberKind::tolerant ||
                          m.kind == ItemMemberKind::lifecycle || m.kind == ItemMemberKind::joint;
      if (single && !singles.emplace(m.kind, &m).second) {
        error(m.span, "duplicate-member", "this is already set for item '" + item.local_name().text + "'");
        continue;
      }
      switch (m.kind) {
        case ItemMemberKind::code:
          if (m.text->value.empty()) error(m.text->span, "empty-text", "the item code is empty");
          break;
        case ItemMemberKind::kind:
          if (!contains(kItemKinds, m.names[0].text)) unknown(m.names[0], "item kind", as_vector(kItemKinds));
          break;
        case ItemMemberKind::immediate: immediate = &m; break;
        case ItemMemberKind::limit:
          limit = &m;
          if (m.statutory) statutory = &m;
          break;
        case ItemMemberKind::statutory:
          if (statutory) {
            error(m.span, "duplicate-member", "the statutory limit is already set with 'limit ... statutory ...'");
          }
          statutory = &m;
          break;
        case ItemMemberKind::needs:
        case ItemMemberKind::produces: check_material_names(m.names, ctx); break;
        case ItemMemberKind::sends:
          if (ctx) check_sends(m.names, *ctx, nullptr);
          break;
        case ItemMemberKind::special:
          if (!specials.insert(m.names[0].text).second) {
            error(m.names[0].span, "duplicate-name", "special procedure '" + m.names[0].text + "' is declared twice");
          }
          if (amount_of(*m.duration) <= 0) error(m.duration->span, "invalid-limit", "a special procedure's maximum must be above zero");
          break;
        case ItemMemberKind::tolerant: break;
        case ItemMemberKind::lifecycle:
          if (!symbols_.lifecycles.contains(m.names[0].text)) unknown(m.names[0], "lifecycle", keys(symbols_.lifecycles));
          break;
        case ItemMemberKind::joint: {
          // 联办: the item's own department and each one named decide it; each at most once.
          std::set<std::string> seen;
          if (item.department) seen.insert(item.department->text);
          for (const auto& n : m.names) {
            if (!department_exists(n.text, ctx)) {
              unknown(n, "department", department_names(ctx));
            } else if (!seen.insert(n.text).second) {
              error(n.span, "duplicate-name",
                    "department '" + n.text + "' already decides item '" + item.local_name().text +
                        "' (its own department takes part in a joint item without being named)");
            }
          }
          break;
        }
      }
    }
    if (immediate && limit) {
      error(limit->span, "conflicting-limit", "an immediate item (即办件) has no promised limit; remove 'immediate' or 'limit'");
    }
    check_limits(limit ? &*limit->duration : nullptr,
                 statutory ? (statutory->statutory ? &*statutory->statutory : &*statutory->duration) : nullptr,
                 item.local_name().text, limit ? limit->duration->span : Span{});
  }

  // `at`: where to report, in the current file (the promised limit, or the `use` that merged it).
  void check_limits(const Duration* promised, const Duration* statutory, const std::string& item, Span at) {
    if (promised && amount_of(*promised) < 0) error(promised->span, "invalid-limit", "a limit cannot be negative");
    if (!promised || !statutory) return;
    // N working days span at least N calendar days, so a promise in working days above a
    // statutory limit in calendar days is surely too long; other unit pairs depend on the
    // calendar and are not compared.
    const bool comparable = promised->unit == statutory->unit ||
                            (promised->unit == TimeUnit::workday && statutory->unit == TimeUnit::day);
    if (!comparable) return;
    if (amount_of(*promised) > amount_of(*statutory)) {
      error(at, "limit-exceeds-statutory",
            "item '" + item + "' promises " + promised->amount.text + " " + std::string(unit_name(promised->unit)) +
                ", more than its statutory limit of " + statutory->amount.text + " " +
                std::string(unit_name(statutory->unit)) + " (the promised limit must not exceed the statutory one)");
    }
  }

  void check_catalog_item(const Item& item) {
    if (item.department && !department_exists(item.department->text, nullptr)) {
      unknown(*item.department, "department", department_names(nullptr));
    }
    if (!item.after.empty()) {
      error(item.after.front().span, "misplaced", "'after' is only allowed on items inside a bundle");
    }
    if (item.when) error(item.when->span, "misplaced", "'when' is only allowed on items inside a bundle");
    check_item_members(item, nullptr);
  }

  // `sends` names a form field, a situation answer or a material of the bundle.
  void check_sends(const std::vector<Name>& names, const BundleContext& ctx, const Item* use_site) {
    for (const auto& n : names) {
      if (ctx.field_names.contains(n.text) || material_exists(n.text, &ctx)) continue;
      std::vector<std::string_view> candidates(ctx.field_names.begin(), ctx.field_names.end());
      if (use_site) {
        std::string message = "catalog item '" + use_site->id.text + "' sends '" + n.text +
                              "', which is neither a field nor a material of bundle '" + ctx.bundle->id.text + "'";
        if (auto guess = closest_name(n.text, candidates); !guess.empty()) message += "; did you mean '" + guess + "'?";
        error(use_site->id.span, "unknown-name", message);
      } else {
        unknown(n, "field or material", candidates, "sends names form fields and materials");
      }
    }
  }

  // ------------------------------------------------------------------------------------
  // Lifecycles

  void check_action(const Action& a, std::string_view where_text) {
    const std::string& f = a.function.text;
    if (!contains(kActions, f)) {
      unknown(a.function, "action", as_vector(kActions));
      return;
    }
    auto arity = [&](std::size_t lo, std::size_t hi) {
      if (a.arguments.size() < lo || a.arguments.size() > hi) {
        error(a.span, "wrong-arity", "'" + f + "' takes " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + " or " + std::to_string(hi)) +
                                         " argument" + (hi == 1 ? "" : "s") + ", found " + std::to_string(a.arguments.size()));
        return false;
      }
      return true;
    };
    auto role_argument = [&](const Expr& e) {
      if (e.kind != ExprKind::name || !contains(kRoles, e.text)) {
        std::string message = "expected a role (applicant, clerk, reviewer, supervisor, system)";
        if (e.kind == ExprKind::name) {
          if (auto guess = closest_name(e.text, as_vector(kRoles)); !guess.empty()) message += "; did you mean '" + guess + "'?";
        }
        error(e.span, "unknown-name", message);
      }
    };
    if (f == "call") {
      if (!arity(1, 1)) return;
      const Expr& target = a.arguments[0];
      const bool shape = target.kind == ExprKind::member && target.children[0].kind == ExprKind::name;
      if (!shape) {
        error(target.span, "invalid-action", "call needs department.operation, e.g. call(dept.submit) for the item's own department");
        return;
      }
      const std::string& dept = target.children[0].text;
      if (dept != "dept" && !symbols_.departments.contains(dept)) {
        Name n{dept, target.children[0].span};
        unknown(n, "department", department_names(nullptr), "use 'dept' for the item's own department");
      }
    } else if (f == "notify") {
      if (!arity(1, 2)) return;
      role_argument(a.arguments[0]);
      if (a.arguments.size() == 2 && a.arguments[1].kind != ExprKind::string) {
        error(a.arguments[1].span, "type-mismatch", "the notification message must be a string");
      }
    } else if (f == "escalate") {
      if (!arity(1, 1)) return;
      role_argument(a.arguments[0]);
    }
    (void)where_text;
  }

  static Scope lifecycle_scope() {
    Scope scope;
    scope.add_namespace("materials", {{"complete", ValueType::of(BaseType::boolean)},
                                      {"verified", ValueType::of(BaseType::boolean)},
                                      {"pending", ValueType::of(BaseType::integer)}});
    scope.add_namespace("item", {{"corrections", ValueType::of(BaseType::integer)},
                                 {"elapsed", ValueType::of(BaseType::duration)},
                                 {"remaining", ValueType::of(BaseType::duration)}});
    scope.add_namespace("form", {}, /*open=*/true);
    return scope;
  }

  void check_lifecycle(const Lifecycle& l) {
    std::map<std::string, const LifecycleMember*, std::less<>> states;
    const LifecycleMember* initial = nullptr;
    bool has_final = false;
    for (const auto& m : l.members) {
      if (m.kind != LifecycleMemberKind::state) continue;
      if (auto [it, inserted] = states.emplace(m.name.text, &m); !inserted) {
        error(m.name.span, "duplicate-name", "state '" + m.name.text + "' is already declared in lifecycle '" + l.id.text + "'");
        continue;
      }
      const bool is_initial = std::count(m.flags.begin(), m.flags.end(), StateFlag::initial) > 0;
      const bool is_final = std::count(m.flags.begin(), m.flags.end(), StateFlag::final_state) > 0;
      if (is_initial && is_final) error(m.name.span, "invalid-state", "a state cannot be both initial and final");
      if (std::count(m.flags.begin(), m.flags.end(), StateFlag::failed) > 0 && !is_final) {
        error(m.name.span, "invalid-state", "only a final state can be 'failed' (mark it 'final failed')");
      }
      // A final state ends the item and its clock: stopping the clock there would say nothing.
      if (is_final && std::count(m.flags.begin(), m.flags.end(), StateFlag::pauses_clock) > 0) {
        error(m.name.span, "invalid-state", "a final state cannot pause the clock: the item's clock ends there (drop 'pauses_clock')");
      }
      if (is_initial) {
        if (initial) {
          error(m.name.span, "several-initial-states", "lifecycle '" + l.id.text + "' already has initial state '" +
                                                           initial->name.text + "'");
        } else {
          initial = &m;
        }
      }
      has_final = has_final || is_final;
    }
    if (!initial) error(l.id.span, "no-initial-state", "lifecycle '" + l.id.text + "' has no initial state (mark one state 'initial')");
    if (!has_final && !states.empty()) warning(l.id.span, "no-final-state", "lifecycle '" + l.id.text + "' has no final state, so its items never finish");

    Scope scope = lifecycle_scope();
    auto state_names = keys(states);
    std::set<std::pair<std::string, std::string>> unguarded;  // (event, source)
    std::set<std::string> hooks;
    // Each event's title, from the first transition that gives one; every event needs one to show.
    std::map<std::string, const LifecycleMember*> event_titles;
    std::map<std::string, const LifecycleMember*> untitled_events;
    for (const auto& m : l.members) {
      switch (m.kind) {
        case LifecycleMemberKind::state: break;
        case LifecycleMemberKind::transition: {
          if (m.title) {
            const auto [first, inserted] = event_titles.emplace(m.name.text, &m);
            if (!inserted && first->second->title->value != m.title->value) {
              error(m.title->span, "conflicting-event-title",
                    "event '" + m.name.text + "' is already titled \"" + first->second->title->value +
                        "\" in this lifecycle; one event has one title (give it once, or the same on every transition)");
            }
          } else {
            untitled_events.emplace(m.name.text, &m);
          }
          for (const auto& s : m.sources) {
            if (!states.contains(s.text)) unknown(s, "state", state_names, "declare it with 'state'");
          }
          if (m.target && !states.contains(m.target->text)) unknown(*m.target, "state", state_names, "declare it with 'state'");
          // `request_correction` sends the one correction notice (一次性告知): a target that stops
          // the clock as something else would neither use the notice up nor count as a correction.
          if (m.name.text == "request_correction" && m.target && states.contains(m.target->text)) {
            const auto* target = states.at(m.target->text);
            const bool pauses = std::count(target->flags.begin(), target->flags.end(), StateFlag::pauses_clock) > 0;
            if (!pauses || target->clock_stop.value_or(ClockStop::correction) != ClockStop::correction) {
              error(m.target->span, "clock-stop-kind",
                    "'request_correction' leads to state '" + m.target->text + "', which " +
                        (pauses ? std::string("pauses the clock as ") +
                                      (target->clock_stop == ClockStop::waiting ? "waiting" : "special")
                                : std::string("does not pause the clock")) +
                        "; a correction's state is 'pauses_clock' (as correction): the notice is used up and the clock stops");
            }
          }
          bool guarded = false;
          std::set<TransitionOptionKind> seen;
          for (const auto& o : m.options) {
            if (o.kind != TransitionOptionKind::actions && !seen.insert(o.kind).second) {
              error(o.span, "duplicate-option", "this option is already given for transition '" + m.name.text + "'");
              continue;
            }
            switch (o.kind) {
              case TransitionOptionKind::roles:
                for (const auto& r : o.names) {
                  if (!contains(kRoles, r.text)) unknown(r, "role", as_vector(kRoles));
                }
                break;
              case TransitionOptionKind::guard:
                guarded = true;
                remember(*o.expr, with_sink([&](DiagnosticSink& sink) {
                  return compile_expression_as(*o.expr, scope, ValueType::of(BaseType::boolean), "a guard", sink);
                }));
                break;
              case TransitionOptionKind::requires_fields: break;
              case TransitionOptionKind::actions:
                for (const auto& a : o.actions) check_action(a, "transition");
                break;
              case TransitionOptionKind::after:
                if (amount_of(*o.duration) <= 0) error(o.duration->span, "invalid-limit", "a timed transition needs a delay above zero");
                break;
              case TransitionOptionKind::starts_clock:
                // An item in a final state has no time limit left to count.
                if (m.target && states.contains(m.target->text) &&
                    std::count(states.at(m.target->text)->flags.begin(), states.at(m.target->text)->flags.end(),
                               StateFlag::final_state) > 0) {
                  error(o.span, "no-effect", "'starts_clock' on a transition into final state '" + m.target->text +
                                                 "' has no effect; put it on the transition that accepts the item");
                }
                break;
            }
          }
          if (!guarded) {
            for (const auto& s : m.sources) {
              if (!unguarded.emplace(m.name.text, s.text).second) {
                error(m.name.span, "ambiguous-transition", "event '" + m.name.text + "' already leaves state '" + s.text +
                                                               "' without a guard; add a 'when' to tell them apart");
              }
            }
          }
          break;
        }
        case LifecycleMemberKind::hook:
          if (!hooks.insert(m.name.text).second) {
            error(m.name.span, "duplicate-member", "'on " + m.name.text + "' is already declared in lifecycle '" + l.id.text + "'");
          }
          for (const auto& a : m.actions) check_action(a, "hook");
          break;
        case LifecycleMemberKind::warn:
          if (m.percent) {
            const auto p = Decimal::parse(m.percent->text);
            if (!p || *p <= Decimal::from_int(0) || *p >= Decimal::from_int(100)) {
              error(m.percent->span, "invalid-warning", "the warning percentage must be between 0 and 100 (exclusive)");
            }
          } else if (m.left && amount_of(*m.left) <= 0) {
            error(m.left->span, "invalid-warning", "the time left at the warning must be above zero");
          }
          break;
      }
    }
    for (const auto& [event, m] : untitled_events) {
      if (event_titles.contains(event) || !builtin_event_title(event).empty()) continue;
      warning(m->name.span, "untitled-event",
              "event '" + event + "' has no title, so the console's button and the case history show '" + event +
                  "'; give it one: on " + event + " \"办理\": …");
    }
  }

  // ------------------------------------------------------------------------------------
  // Calendars

  void check_calendar(const Calendar& c) {
    std::set<CalendarMemberKind> singles;
    std::map<std::int64_t, const CalendarMember*> holidays;  // day -> member
    std::vector<std::string> weekend;
    bool weekend_given = false;
    for (const auto& m : c.members) {
      if ((m.kind == CalendarMemberKind::weekend || m.kind == CalendarMemberKind::hours) && !singles.insert(m.kind).second) {
        error(m.span, "duplicate-member", "calendar '" + c.id.text + "' already sets this");
        continue;
      }
      switch (m.kind) {
        case CalendarMemberKind::include:
          for (const auto& n : m.names) {
            if (n.text == c.id.text) {
              error(n.span, "include-cycle", "calendar '" + c.id.text + "' includes itself");
            } else if (!symbols_.calendars.contains(n.text)) {
              unknown(n, "calendar", keys(symbols_.calendars));
            } else if (includes(n.text, c.id.text)) {
              error(n.span, "include-cycle", "calendars '" + c.id.text + "' and '" + n.text + "' include each other");
            }
          }
          break;
        case CalendarMemberKind::weekend: {
          weekend_given = true;
          std::set<std::string> days;
          for (const auto& d : m.names) {
            if (!days.insert(d.text).second) warning(d.span, "duplicate-name", "day '" + d.text + "' is listed twice");
            weekend.push_back(d.text);
          }
          if (days.size() == 7) error(m.span, "no-working-days", "a calendar with every day off has no working days");
          break;
        }
        case CalendarMemberKind::hours: {
          int previous_end = -1;
          for (const auto& r : m.hours) {
            if (r.from.minutes() >= r.to.minutes()) {
              error(r.span, "invalid-hours", "working hours must end after they start");
            } else if (r.from.minutes() < previous_end) {
              error(r.span, "invalid-hours", "working hour ranges must be in order and must not overlap");
            }
            previous_end = r.to.minutes();
          }
          break;
        }
        case CalendarMemberKind::holiday: {
          const auto from = days_from_civil({m.from->year, m.from->month, m.from->day});
          const auto to = m.to ? days_from_civil({m.to->year, m.to->month, m.to->day}) : from;
          if (to < from) {
            error(m.to->span, "invalid-range", "the holiday ends before it starts");
            break;
          }
          if (to - from > 366) {
            error(m.span, "invalid-range", "a holiday longer than a year is surely a typo");
            break;
          }
          for (auto day = from; day <= to; ++day) {
            if (auto [it, inserted] = holidays.emplace(day, &m); !inserted) {
              warning(m.span, "overlapping-holidays", "this holiday overlaps another holiday of calendar '" + c.id.text + "'");
              break;
            }
          }
          break;
        }
        case CalendarMemberKind::workday: break;
      }
    }
    if (!weekend_given) weekend = {"sat", "sun"};
    for (const auto& m : c.members) {
      if (m.kind != CalendarMemberKind::workday) continue;
      const auto day = days_from_civil({m.from->year, m.from->month, m.from->day});
      if (holidays.contains(day)) {
        error(m.from->span, "conflicting-day", "this date is both a holiday and a make-up working day");
        continue;
      }
      static constexpr std::string_view kDays[] = {"thu", "fri", "sat", "sun", "mon", "tue", "wed"};  // 1970-01-01 was a Thursday
      const auto weekday = kDays[((day % 7) + 7) % 7];
      if (std::find(weekend.begin(), weekend.end(), weekday) == weekend.end()) {
        warning(m.from->span, "redundant-workday", "make-up working day falls on a " + std::string(weekday) +
                                                       ", which is a working day anyway");
      }
    }
  }

  // Does calendar `from` include `target`, directly or through others?
  bool includes(std::string_view from, std::string_view target) const {
    std::set<std::string_view> seen;
    std::vector<std::string_view> todo{from};
    while (!todo.empty()) {
      const auto name = todo.back();
      todo.pop_back();
      if (!seen.insert(name).second) continue;
      const auto* ref = symbols_.calendars.find(name);
      if (!ref) continue;
      for (const auto& m : ref->node->members) {
        if (m.kind != CalendarMemberKind::include) continue;
        for (const auto& n : m.names) {
          if (n.text == target) return true;
          todo.push_back(n.text);
        }
      }
    }
    return false;
  }

  // ------------------------------------------------------------------------------------
  // Bundles

  void check_fields(const BundleMember& block, BundleContext& ctx) {
    for (const auto& f : block.fields) {
      if (f.type.kind == TypeKind::enumeration) {
        std::set<std::string> values;
        for (const auto& v : f.type.values) {
          if (!values.insert(v.name.text).second) error(v.name.span, "duplicate-name", "enum value '" + v.name.text + "' is listed twice");
        }
      }
      const ValueType type = ValueType::from_ast(f.type);
      std::set<FieldOptionKind> seen;
      std::optional<Value> min_value, max_value;
      for (const auto& o : f.options) {
        if (!seen.insert(o.kind).second) {
          error(o.span, "duplicate-option", "this option is already given for field '" + f.name.text + "'");
          continue;
        }
        switch (o.kind) {
          case FieldOptionKind::required: break;
          case FieldOptionKind::default_value: {
            auto compiled = with_sink([&](DiagnosticSink& sink) {
              return compile_expression_as(*o.expr, ctx.scope, type, "the default of '" + f.name.text + "'", sink);
            });
            remember(*o.expr, compiled);
            if (compiled && !compiled->is_constant()) {
              // Defaults are filled before anything else is known, except today().
              bool uses_today = o.expr->kind == ExprKind::call && o.expr->text == "today";
              if (!uses_today) error(o.expr->span, "not-constant", "a default must be a constant value (or today())");
            }
            if (compiled && compiled->is_constant() && type.base == BaseType::idcard) {
              const Value v = compiled->evaluate(Environment{});
              if (v.kind == ValueKind::text && !valid_idcard(v.text)) error(o.expr->span, "invalid-default", "the default is not a valid ID number");
            }
            break;
          }
          case FieldOptionKind::min:
          case FieldOptionKind::max: {
            const bool ordered = type.base == BaseType::integer || type.base == BaseType::decimal ||
                                 type.base == BaseType::money || type.base == BaseType::date;
            if (!ordered) {
              error(o.span, "type-mismatch", std::string(o.kind == FieldOptionKind::min ? "min" : "max") +
                                                 " applies to int, decimal, money and date fields, not " + to_string(type));
              break;
            }
            auto compiled = with_sink([&](DiagnosticSink& sink) {
              return compile_expression_as(*o.expr, ctx.scope, type, "the bound of '" + f.name.text + "'", sink);
            });
            remember(*o.expr, compiled);
            if (compiled && compiled->is_constant()) {
              (o.kind == FieldOptionKind::min ? min_value : max_value) = compiled->evaluate(Environment{});
            }
            break;
          }
          case FieldOptionKind::pattern: {
            const bool textual = type.base == BaseType::text || type.base == BaseType::phone;
            if (!textual) {
              error(o.span, "type-mismatch", "pattern applies to text and phone fields, not " + to_string(type));
              break;
            }
            if (auto size = check_pattern_size(o.text->value); !size) {
              error(o.text->span, "invalid-pattern", size.error());
              break;
            }
            try {
              std::regex re(o.text->value, std::regex::ECMAScript);
            } catch (const std::regex_error&) {
              error(o.text->span, "invalid-pattern", "not a valid regular expression");
            }
            break;
          }
          case FieldOptionKind::when:
            remember(*o.expr, with_sink([&](DiagnosticSink& sink) {
              return compile_expression_as(*o.expr, ctx.scope, ValueType::of(BaseType::boolean),
                                           "the condition of '" + f.name.text + "'", sink);
            }));
            break;
        }
      }
      if (min_value && max_value && !min_value->is_null() && !max_value->is_null()) {
        bool bad = false;
        if (min_value->kind == ValueKind::date || max_value->kind == ValueKind::date) {
          bad = min_value->integer > max_value->integer;
        } else {
          bad = min_value->as_decimal() > max_value->as_decimal();
        }
        if (bad) error(f.name.span, "invalid-range", "field '" + f.name.text + "' has min above max");
      }
    }
  }

  // `check condition "message"`: a rule across the form's fields, a bool that reads at least one
  // field (a rule of constants would refuse every application, or none), with a message.
  void check_rule(const BundleMember& m, BundleContext& ctx) {
    const auto compiled = with_sink([&](DiagnosticSink& sink) {
      return compile_expression_as(*m.condition, ctx.scope, ValueType::of(BaseType::boolean), "a check", sink);
    });
    remember(*m.condition, compiled);
    if (compiled && compiled->referenced_slots().empty()) {
      error(m.condition->span, "check-reads-no-field",
            "this check reads no field of the form, so it would refuse every application or none; name the fields it compares");
    }
    if (m.message->value.empty()) {
      error(m.message->span, "empty-message", "a check needs the message the applicant reads when it does not hold");
    }
  }

  // `retain N years|months|days personal a, b`: a whole, positive period of at most a
  // century (erasure dates stay far inside the calendar), naming text fields of the form.
  void check_retention(const Retention& r, const BundleMember* form) {
    const auto amount = Decimal::parse(r.amount.text);
    static constexpr std::int64_t kMaxima[] = {36500, 1200, 100};  // days, months, years
    if (!amount || r.amount.text.find('.') != std::string::npos || *amount < Decimal::from_int(1) ||
        *amount > Decimal::from_int(kMaxima[static_cast<int>(r.unit)])) {
      error(r.amount.span, "invalid-retention", "a retention is a whole number from 1 to 100 years (1200 months, 36500 days)");
    }
    std::set<std::string_view> seen;
    for (const auto& n : r.personal) {
      const Field* field = nullptr;
      if (form != nullptr) {
        for (const auto& f : form->fields) {
          if (f.name.text == n.text) field = &f;
        }
      }
      if (field == nullptr) {
        std::vector<std::string_view> candidates;
        if (form != nullptr) {
          for (const auto& f : form->fields) candidates.push_back(f.name.text);
        }
        unknown(n, "form field", candidates, "'personal' names fields of the bundle's form");
      } else if (field->type.kind != TypeKind::text && field->type.kind != TypeKind::idcard && field->type.kind != TypeKind::phone) {
        error(n.span, "invalid-personal", "field '" + n.text + "' is not text; only text fields are erased as personal");
      } else if (!seen.insert(n.text).second) {
        error(n.span, "duplicate-name", "field '" + n.text + "' is already named personal");
      }
    }
  }


  // ------------------------------------------------------------------------------------
  // Binding: the resolved document (resolved.hpp). Built from what the checks above looked
  // up and compiled, so the compiler consumes exactly what was checked.

  void remember(const Expr& e, const std::optional<CompiledExpression>& compiled) {
    if (compiled) compiled_.insert_or_assign(&e, *compiled);
  }
  std::optional<CompiledExpression> compiled_of(const Expr& e) const {
    const auto it = compiled_.find(&e);
    return it == compiled_.end() ? std::nullopt : std::optional<CompiledExpression>(it->second);
  }

  // Only the view of `unit`, without reporting duplicates (build_symbols does that once).
  void set_view(std::size_t unit) {
    visible_.assign(program_.units.size(), 0);
    for (const auto u : program_.visible_from(unit)) visible_[u] = 1;
  }

  // Every calendar, its includes resolved in its own file's view.
  void bind_calendars() {
    std::map<const Calendar*, resolved::Calendar*> by_node;
    std::vector<std::size_t> units;
    for (std::size_t u = 0; u < program_.units.size(); ++u) {
      for (const auto& d : program_.units[u].file.declarations) {
        if (d.kind != DeclarationKind::calendar) continue;
        auto c = std::make_unique<resolved::Calendar>();
        c->declaration = &*d.calendar;
        c->file = program_.units[u].path;
        by_node.emplace(&*d.calendar, c.get());
        doc_.calendars.push_back(std::move(c));
        units.push_back(u);
      }
    }
    for (std::size_t i = 0; i < doc_.calendars.size(); ++i) {
      auto& c = doc_.calendars[i];
      set_view(units[i]);
      for (const auto& m : c->declaration->members) {
        if (m.kind != CalendarMemberKind::include) continue;
        for (const auto& n : m.names) {
          const auto* ref = symbols_.calendars.find(n.text);
          c->includes.push_back(ref ? by_node.at(ref->node) : nullptr);
        }
      }
    }
    calendar_refs_ = std::move(by_node);
  }

  // States and transitions by reference; guards from `guard` (typed by the caller's scope).
  // Transitions naming an unknown state are left out; `guards_ok` turns false when a guard
  // did not compile (that transition then has none).
  template <class Guard>
  resolved::Lifecycle bind_lifecycle(const Lifecycle& l, const std::string& file, Guard&& guard, bool& guards_ok) {
    resolved::Lifecycle out;
    out.declaration = &l;
    out.file = file;
    std::map<std::string, std::size_t, std::less<>> index;
    for (const auto& m : l.members) {
      if (m.kind != LifecycleMemberKind::state || index.contains(m.name.text)) continue;
      index.emplace(m.name.text, out.states.size());
      if (!out.initial && std::count(m.flags.begin(), m.flags.end(), StateFlag::initial) > 0) out.initial = out.states.size();
      out.states.push_back(&m);
    }
    std::map<std::string, std::string, std::less<>> titles;  // event -> the title given on any transition
    for (const auto& m : l.members) {
      if (m.kind == LifecycleMemberKind::transition && m.title) titles.emplace(m.name.text, m.title->value);
    }
    guards_ok = true;
    for (const auto& m : l.members) {
      if (m.kind != LifecycleMemberKind::transition) continue;
      resolved::Transition t;
      t.declaration = &m;
      bool known = m.target && index.contains(m.target->text);
      for (const auto& source : m.sources) known = known && index.contains(source.text);
      if (!known) continue;
      for (const auto& source : m.sources) t.sources.push_back(index.at(source.text));
      t.target = index.at(m.target->text);
      for (const auto& o : m.options) {
        if (o.kind != TransitionOptionKind::guard) continue;
        t.guard = guard(*o.expr);
        t.guard_text = format_expression(*o.expr);
        guards_ok = guards_ok && t.guard.has_value();
      }
      if (const auto title = titles.find(m.name.text); title != titles.end()) {
        t.title = title->second;
      } else {
        const auto builtin = builtin_event_title(m.name.text);
        t.title = builtin.empty() ? m.name.text : std::string(builtin);
      }
      out.transitions.push_back(std::move(t));
    }
    return out;
  }

  // Every lifecycle declared, with the guards the lifecycle check compiled (form.* open):
  // what the lifecycle analysis reads.
  void bind_lifecycles() {
    for (std::size_t u = 0; u < program_.units.size(); ++u) {
      for (const auto& d : program_.units[u].file.declarations) {
        if (d.kind != DeclarationKind::lifecycle) continue;
        bool guards_ok = true;  // a guard that did not compile is reported already; the states are analysed anyway
        doc_.lifecycles.push_back(
            bind_lifecycle(*d.lifecycle, program_.units[u].path, [&](const Expr& e) { return compiled_of(e); }, guards_ok));
      }
    }
  }

  void canonical_sources() {
    for (const auto& unit : program_.units) {
      // Calendars are deployed and versioned on their own (a new year's holidays reach the
      // running cases, docs/runtime.md): they are not part of a bundle version's identity.
      File copy;
      for (const auto& declaration : unit.file.declarations) {
        if (!declaration.calendar) copy.declarations.push_back(declaration);
      }
      doc_.canonical_sources.push_back(format(copy, ""));
    }
  }

  static std::optional<resolved::Duration> duration_of(const Duration* d) {
    if (!d) return std::nullopt;
    return resolved::Duration{Decimal::parse(d->amount.text).value_or(Decimal{}), d->unit};
  }

  // One bundle: every reference the checks above resolved, in the order the runtime model
  // numbers them (departments, materials and lifecycles by first use). A reference that does
  // not resolve leaves the bundle out, with a follow-on error that says so.
  class BundleBinder {
   public:
    BundleBinder(Checker& checker, const Bundle& b, BundleContext& ctx) : c_(checker), ctx_(ctx) {
      out_.declaration = &b;
      out_.unit = c_.unit_;
      out_.file = c_.file();
      out_.source_units = c_.program_.visible_from(c_.unit_);
    }

    std::optional<resolved::Bundle> bind() {
      const Bundle& b = *out_.declaration;
      std::optional<std::string> default_lifecycle;
      for (const auto& m : b.members) {
        switch (m.kind) {
          case BundleMemberKind::promise: out_.promise = duration_of(&*m.duration); break;
          case BundleMemberKind::calendar:
            if (const auto* ref = c_.symbols_.calendars.find(m.names[0].text)) {
              out_.calendar = c_.calendar_refs_.at(ref->node);
            } else {
              fail("unknown calendar '" + m.names[0].text + "'");
            }
            break;
          case BundleMemberKind::lifecycle: default_lifecycle = m.names[0].text; break;
          default: break;
        }
      }
      bind_fields();
      bind_rules();
      out_.guard_scope = guard_scope();
      for (const auto& m : b.members) {
        if (m.kind == BundleMemberKind::lead) out_.lead = department(m.names[0].text);
      }
      bind_items(default_lifecycle);
      if (failure_) {
        c_.follow_ons_.push_back(Diagnostic{out_.file, b.id.span, Severity::error, "not-compiled",
                                            "bundle '" + b.id.text + "' cannot be compiled: " + *failure_, true});
        return std::nullopt;
      }
      out_.scope = std::make_shared<Scope>(std::move(ctx_.scope));
      return std::move(out_);
    }

   private:
    Checker& c_;
    BundleContext& ctx_;
    resolved::Bundle out_;
    std::optional<std::string> failure_;
    std::map<std::string, std::size_t, std::less<>> departments_, materials_, lifecycles_;

    void fail(std::string why) {
      if (!failure_) failure_ = std::move(why);
    }

    std::optional<std::size_t> department(const std::string& name) {
      if (const auto it = departments_.find(name); it != departments_.end()) return it->second;
      resolved::Department d;
      if (const auto local = ctx_.departments.find(name); local != ctx_.departments.end()) {
        d = {local->second, out_.file};
      } else if (const auto* ref = c_.symbols_.departments.find(name)) {
        d = {ref->node, c_.program_.units[ref->unit].path};
      } else {
        fail("unknown department '" + name + "'");
        return std::nullopt;
      }
      out_.departments.push_back(std::move(d));
      return departments_[name] = out_.departments.size() - 1;
    }

    std::optional<std::size_t> material(const std::string& name) {
      if (const auto it = materials_.find(name); it != materials_.end()) return it->second;
      resolved::Material m;
      if (const auto local = ctx_.materials.find(name); local != ctx_.materials.end()) {
        m = {local->second, out_.file, {}, {}};
      } else if (const auto* ref = c_.symbols_.materials.find(name)) {
        m = {ref->node, c_.program_.units[ref->unit].path, {}, {}};
      } else {
        fail("'" + name + "' is neither a field nor a material it knows");
        return std::nullopt;
      }
      for (const auto& o : m.declaration->options) {
        if (o.kind == MaterialOptionKind::elicense && !o.names.empty()) {
          // The checks above reported an unknown or non-identifier field; this only binds it.
          const auto& field = o.names[0].text;
          const auto it = std::find_if(out_.fields.begin(), out_.fields.end(),
                                       [&](const resolved::Field& f) { return f.declaration->name.text == field; });
          const auto base = it == out_.fields.end() ? BaseType::any : it->type.base;
          if (base != BaseType::idcard && base != BaseType::uscc) {
            fail("material '" + name + "' takes the e-license of '" + field + "', which is not an idcard or uscc field");
          } else {
            m.holder = static_cast<std::size_t>(it - out_.fields.begin());
          }
        }
        if (o.kind != MaterialOptionKind::when) continue;
        m.when = c_.compiled_of(*o.expr);
        if (!m.when) fail("the condition of material '" + name + "' does not compile");
      }
      out_.materials.push_back(std::move(m));
      return materials_[name] = out_.materials.size() - 1;
    }

    std::optional<std::size_t> lifecycle(const std::string& name) {
      if (const auto it = lifecycles_.find(name); it != lifecycles_.end()) return it->second;
      const auto* ref = c_.symbols_.lifecycles.find(name);
      if (!ref) {
        fail("unknown lifecycle '" + name + "'");
        return std::nullopt;
      }
      const std::string& file = c_.program_.units[ref->unit].path;
      const Lifecycle& l = *ref->node;
      bool guards_ok = true;
      auto bound = c_.bind_lifecycle(l, file, [&](const Expr& e) {
        DiagnosticSink sink(file);
        auto guard = compile_expression(e, *out_.guard_scope, sink);
        for (auto& d : sink.take()) {
          // The guard reads a form field this bundle does not have.
          c_.out_.push_back(Diagnostic{file, d.span, Severity::error, d.code,
                                       d.message + " (in a guard of lifecycle '" + l.id.text + "', used by bundle '" +
                                           out_.declaration->id.text + "')"});
        }
        return guard;
      }, guards_ok);
      if (!guards_ok) {
        fail("a guard of lifecycle '" + name + "' reads what its form does not have");
        return std::nullopt;
      }
      if (!bound.initial || bound.transitions.size() != static_cast<std::size_t>(std::count_if(
                                 l.members.begin(), l.members.end(),
                                 [](const LifecycleMember& m) { return m.kind == LifecycleMemberKind::transition; }))) {
        fail("lifecycle '" + name + "' names a state it does not declare, or has no initial state");
        return std::nullopt;
      }
      out_.lifecycles.push_back(std::move(bound));
      return lifecycles_[name] = out_.lifecycles.size() - 1;
    }

    void bind_fields() {
      for (auto& f : ctx_.fields) {
        for (const auto& o : f.declaration->options) {
          switch (o.kind) {
            case FieldOptionKind::required: f.required = true; break;
            case FieldOptionKind::default_value: f.default_value = c_.compiled_of(*o.expr); break;
            case FieldOptionKind::min: f.min = c_.compiled_of(*o.expr); break;
            case FieldOptionKind::max: f.max = c_.compiled_of(*o.expr); break;
            case FieldOptionKind::when: f.when = c_.compiled_of(*o.expr); break;
            case FieldOptionKind::pattern: break;
          }
        }
      }
      out_.fields = ctx_.fields;
    }

    void bind_rules() {
      for (const auto& m : out_.declaration->members) {
        if (m.kind != BundleMemberKind::check) continue;
        auto condition = c_.compiled_of(*m.condition);
        if (!condition) {
          fail("a check reads what the form does not have");
          continue;
        }
        resolved::Rule rule{&m, std::move(*condition), format_expression(*m.condition), {}};
        // The fields in the order they are written: names anywhere in the tree, depth first.
        const auto visit = [&](const auto& self, const Expr& e) -> void {
          if (e.kind == ExprKind::name) {
            for (std::size_t f = 0; f < out_.fields.size(); ++f) {
              if (out_.fields[f].declaration->name.text == e.text &&
                  std::find(rule.fields.begin(), rule.fields.end(), f) == rule.fields.end()) {
                rule.fields.push_back(f);
              }
            }
          }
          for (const auto& child : e.children) self(self, child);
        };
        visit(visit, *m.condition);
        out_.rules.push_back(std::move(rule));
      }
    }

    // The scope of lifecycle guards: the running item's figures, then the fields as form.*.
    std::shared_ptr<Scope> guard_scope() const {
      auto scope = std::make_shared<Scope>();
      scope->add_namespace("materials", {{"complete", ValueType::of(BaseType::boolean)},
                                         {"verified", ValueType::of(BaseType::boolean)},
                                         {"pending", ValueType::of(BaseType::integer)}});
      scope->add_namespace("item", {{"corrections", ValueType::of(BaseType::integer)},
                                    {"elapsed", ValueType::of(BaseType::duration)},
                                    {"remaining", ValueType::of(BaseType::duration)}});
      std::vector<std::pair<std::string, ValueType>> members;
      for (const auto& f : out_.fields) members.emplace_back(f.declaration->name.text, f.type);
      scope->add_namespace("form", std::move(members));
      return scope;
    }

    // The members of one declaration, applied over what came before (needs, produces, sends
    // and specials replace the earlier list; the limits come from merged_limits).
    void apply_members(resolved::Item& item, const std::vector<const ItemMember*>& members) {
      bool needs_set = false, produces_set = false, sends_set = false, specials_set = false;
      for (const auto* m : members) {
        switch (m->kind) {
          case ItemMemberKind::code: item.code = m->text->value; break;
          case ItemMemberKind::kind: item.kind = m->names[0].text; break;
          case ItemMemberKind::needs:
            if (!std::exchange(needs_set, true)) item.needs.clear();
            for (const auto& n : m->names) {
              if (const auto i = material(n.text)) item.needs.push_back(*i);
            }
            break;
          case ItemMemberKind::produces:
            if (!std::exchange(produces_set, true)) item.produces.clear();
            for (const auto& n : m->names) {
              if (const auto i = material(n.text)) item.produces.push_back(*i);
            }
            break;
          case ItemMemberKind::sends:
            if (!std::exchange(sends_set, true)) item.sends.clear();
            for (const auto& n : m->names) {
              const auto field = std::find_if(out_.fields.begin(), out_.fields.end(),
                                              [&](const resolved::Field& f) { return f.declaration->name.text == n.text; });
              if (field != out_.fields.end()) {
                item.sends.push_back({resolved::Sent::Kind::field, static_cast<std::size_t>(field - out_.fields.begin()), n.text});
              } else if (const auto i = material(n.text)) {
                item.sends.push_back({resolved::Sent::Kind::material, *i, n.text});
              }
            }
            break;
          case ItemMemberKind::special:
            if (!std::exchange(specials_set, true)) item.specials.clear();
            item.specials.push_back({m, *duration_of(&*m->duration)});
            break;
          case ItemMemberKind::tolerant: item.tolerant = true; break;
          case ItemMemberKind::joint:
            item.joint.assign(1, item.department);  // its own department decides the first part
            item.joint_rule = m->joint_rule;
            for (const auto& n : m->names) {
              if (const auto d = department(n.text); d && *d != item.department) item.joint.push_back(*d);
            }
            break;
          case ItemMemberKind::immediate:
          case ItemMemberKind::limit:
          case ItemMemberKind::statutory:
          case ItemMemberKind::lifecycle: break;
        }
      }
    }

    // Items that come `after` each other in a circle never start: the binder finds the circle
    // (as a path from an item through those waiting for it back to itself) and leaves the
    // bundle out, so the compiler orders only bundles whose items can be ordered.
    bool items_in_order() {
      const std::size_t n = out_.items.size();
      std::vector<std::vector<std::size_t>> waiting(n);  // item -> the items that come after it
      for (std::size_t j = 0; j < n; ++j) {
        for (const auto a : out_.items[j].after) waiting[a].push_back(j);
      }
      enum class Mark : std::uint8_t { unseen, open, done };
      std::vector<Mark> mark(n, Mark::unseen);
      std::vector<std::size_t> path;
      std::vector<std::size_t> cycle;
      const auto visit = [&](const auto& self, std::size_t i) -> bool {
        mark[i] = Mark::open;
        path.push_back(i);
        for (const auto next : waiting[i]) {
          if (mark[next] == Mark::open) {
            cycle.assign(std::find(path.begin(), path.end(), next), path.end());
            return true;
          }
          if (mark[next] == Mark::unseen && self(self, next)) return true;
        }
        path.pop_back();
        mark[i] = Mark::done;
        return false;
      };
      for (std::size_t i = 0; i < n && cycle.empty(); ++i) {
        if (mark[i] == Mark::unseen) visit(visit, i);
      }
      if (cycle.empty()) return true;
      std::string circle;
      for (const auto i : cycle) circle += out_.items[i].id + " -> ";
      circle += out_.items[cycle.front()].id;
      c_.out_.push_back(Diagnostic{out_.file, out_.items[cycle.front()].site->local_name().span, Severity::error, "dependency-cycle",
                                   "items of bundle '" + out_.declaration->id.text + "' depend on each other in a cycle: " + circle +
                                       " (none of them can start; remove one 'after')"});
      fail("its items depend on each other in a cycle");
      return false;
    }

    void bind_items(const std::optional<std::string>& default_lifecycle) {
      std::map<std::string, std::size_t, std::less<>> by_name;
      std::vector<const EffectiveItem*> effective;
      for (const auto& m : out_.declaration->members) {
        if (m.kind != BundleMemberKind::item) continue;
        const auto found = ctx_.items.find(m.item->local_name().text);
        if (found == ctx_.items.end() || found->second.site != &*m.item) continue;  // a duplicate, reported
        by_name.emplace(found->first, effective.size());
        effective.push_back(&found->second);
      }
      out_.items.resize(effective.size());
      for (std::size_t index = 0; index < effective.size(); ++index) {
        const EffectiveItem& e = *effective[index];
        const Item& site = *e.site;
        resolved::Item& item = out_.items[index];
        if (site.is_use && !e.catalog) {
          fail("unknown catalog item '" + site.id.text + "'");
          return;
        }
        const Item& definition = e.catalog ? *e.catalog : site;
        item.site = &site;
        item.catalog = e.catalog;
        item.id = site.local_name().text;
        item.catalog_id = site.id.text;
        item.title = definition.title ? definition.title->value : definition.id.text;
        const auto dept = department(definition.department->text);
        if (!dept) return;
        item.department = *dept;
        // The catalog's members the body does not replace, then the body's.
        std::vector<const ItemMember*> catalog_members, site_members;
        for (const auto* m : e.members) {
          const bool own = std::any_of(site.members.begin(), site.members.end(), [&](const ItemMember& x) { return &x == m; });
          (own ? site_members : catalog_members).push_back(m);
        }
        apply_members(item, catalog_members);
        apply_members(item, site_members);
        const MergedLimits limits = merged_limits(site, e.catalog);
        item.immediate = limits.immediate;
        item.promised = limits.immediate ? std::optional<resolved::Duration>(resolved::Duration{Decimal{}, TimeUnit::workday})
                                         : duration_of(limits.promised);
        item.statutory = duration_of(limits.statutory);
        item.catalog_promised = limits.catalog_immediate ? std::optional<resolved::Duration>(resolved::Duration{Decimal{}, TimeUnit::workday})
                                                         : duration_of(limits.catalog_promised);
        const ItemMember* own_lifecycle = e.find(ItemMemberKind::lifecycle);
        const std::optional<std::string> lifecycle_name = own_lifecycle ? own_lifecycle->names[0].text : default_lifecycle;
        if (!lifecycle_name) {
          fail("item '" + item.id + "' runs no lifecycle");
          return;
        }
        const auto lc = lifecycle(*lifecycle_name);
        if (!lc) return;
        item.lifecycle = *lc;
        // The parts decide a joint item through its lifecycle's `approve` and `reject`.
        if (!item.joint.empty()) {
          std::set<std::string> events;
          for (const auto& t : out_.lifecycles[*lc].transitions) events.insert(t.declaration->name.text);
          if (!events.contains("approve") || !events.contains("reject")) {
            c_.out_.push_back(Diagnostic{out_.file, site.local_name().span, Severity::error, "joint-lifecycle",
                                         "joint item '" + item.id + "' runs lifecycle '" + *lifecycle_name +
                                             "', which has no 'approve' and 'reject' events: its departments' decisions "
                                             "approve or refuse the item through them"});
            fail("joint item '" + item.id + "' cannot be decided by its lifecycle");
            return;
          }
        }
        for (const auto& a : site.after) {
          const auto it = by_name.find(a.text);
          if (it == by_name.end() || it->second == index) {
            fail("item '" + item.id + "' comes after '" + a.text + "', which is not another item of it");
            return;
          }
          item.after.push_back(it->second);
        }
        if (site.when) {
          item.when = c_.compiled_of(*site.when);
          if (!item.when) fail("the condition of item '" + item.id + "' does not compile");
        }
      }
      if (!items_in_order()) return;
      // `produced_by` names an item of the bundle, by its name here or the catalog item it uses.
      for (auto& m : out_.materials) {
        for (const auto& o : m.declaration->options) {
          if (o.kind != MaterialOptionKind::produced_by || o.names.empty()) continue;
          std::string name = o.names[0].text;
          if (const auto it = ctx_.item_by_catalog.find(name); it != ctx_.item_by_catalog.end() && !by_name.contains(name)) {
            name = it->second;
          }
          if (const auto it = by_name.find(name); it != by_name.end()) m.producer = it->second;
        }
      }
    }
  };

  // `from elicense "类型" of field` fetches the license of whoever that form field names. A
  // catalog material reaches many bundles through `needs`, so its field is resolved here, in
  // each bundle that needs it; the errors point at the bundle, where the fix (a field, or a
  // field's name) usually is. Two e-licenses of one type where one has no `of` would fetch
  // the first holder's license for both (the wrong person's ID card on a birth registration):
  // that guess is an error too.
  void check_elicense_holders(const Bundle& b, const BundleContext& ctx,
                              const std::map<std::string, const Field*, std::less<>>& fields,
                              const std::set<std::string, std::less<>>& needed) {
    struct Use {
      std::string material;
      const Name* holder = nullptr;
    };
    std::map<std::string, std::vector<Use>> by_type;  // e-license type -> materials of it
    for (const auto& name : needed) {
      const Material* m = nullptr;
      if (const auto local = ctx.materials.find(name); local != ctx.materials.end()) {
        m = local->second;
      } else if (const auto* ref = symbols_.materials.find(name)) {
        m = ref->node;
      }
      if (!m) continue;  // unknown, reported at the `needs`
      for (const auto& o : m->options) {
        if (o.kind != MaterialOptionKind::elicense || !o.text) continue;
        const Name* holder = o.names.empty() ? nullptr : &o.names[0];
        by_type[o.text->value].push_back({name, holder});
        if (!holder) continue;
        const auto f = fields.find(holder->text);
        const auto of = "material '" + name + "' takes the e-license of '" + holder->text + "' (`of`)";
        std::vector<std::string_view> identifiers;
        for (const auto& [k, field] : fields) {
          const auto base = ValueType::from_ast(field->type).base;
          if (base == BaseType::idcard || base == BaseType::uscc) identifiers.push_back(k);
        }
        if (f == fields.end()) {
          std::string message = of + ", which is not a field of bundle '" + b.id.text + "'";
          if (auto guess = closest_name(holder->text, identifiers); !guess.empty()) message += "; did you mean '" + guess + "'?";
          error(b.id.span, "unknown-name", std::move(message));
          continue;
        }
        const auto type = ValueType::from_ast(f->second->type);
        if (type.base != BaseType::idcard && type.base != BaseType::uscc) {
          std::string message = of + ", but in bundle '" + b.id.text + "' that field is " + to_string(type) +
                                 ", not idcard or uscc: the library finds licenses by ID number or credit code";
          if (!identifiers.empty()) {
            message += " (idcard and uscc fields:";
            for (const auto& i : identifiers) message += " " + std::string(i);
            message += ")";
          }
          error(b.id.span, "type-mismatch", std::move(message));
        }
      }
    }
    for (const auto& [type, uses] : by_type) {
      if (uses.size() < 2) continue;
      const bool guessed = std::any_of(uses.begin(), uses.end(), [](const Use& u) { return u.holder == nullptr; });
      if (!guessed) continue;
      std::string list;
      for (const auto& u : uses) list += (list.empty() ? "'" : ", '") + u.material + "'";
      error(b.id.span, "ambiguous-holder",
            "bundle '" + b.id.text + "' fetches materials " + list + " all from the e-license library as \"" + type +
                "\": say whose license each is with `of <field>` (an idcard or uscc field of the form), or the first " +
                "holder's is fetched for every one of them");
    }
  }

  void check_bundle(const Bundle& b) {
    BundleContext ctx;
    ctx.bundle = &b;
    {
      // The engine keeps versions in an int.
      const auto version = Decimal::parse(b.version.text);
      if (!version || b.version.text.find('.') != std::string::npos || *version < Decimal::from_int(1) ||
          *version > Decimal::from_int(std::numeric_limits<std::int32_t>::max())) {
        error(b.version.span, "invalid-version", "a bundle version is a whole number from 1 to 2147483647");
      }
    }
    // Singletons
    std::map<BundleMemberKind, const BundleMember*> singles;
    for (const auto& m : b.members) {
      const bool single = m.kind != BundleMemberKind::department && m.kind != BundleMemberKind::material &&
                          m.kind != BundleMemberKind::item && m.kind != BundleMemberKind::decision &&
                          m.kind != BundleMemberKind::check;
      if (single && !singles.emplace(m.kind, &m).second) {
        error(m.span, "duplicate-member", "bundle '" + b.id.text + "' already has this (only one is allowed)");
      }
    }
    if (!singles.contains(BundleMemberKind::promise)) {
      warning(b.id.span, "no-promise", "bundle '" + b.id.text + "' promises no time limit ('promise N workdays')");
    }
    if (!singles.contains(BundleMemberKind::calendar)) {
      warning(b.id.span, "no-calendar", "bundle '" + b.id.text + "' names no calendar, so working days skip no holidays");
    }

    // Fields first: every condition in the bundle reads them.
    std::map<std::string, const Field*, std::less<>> fields;
    for (const auto& m : b.members) {
      if (m.kind != BundleMemberKind::form && m.kind != BundleMemberKind::situation) continue;
      if (singles[m.kind] != &m) continue;
      for (const auto& f : m.fields) {
        if (auto [it, inserted] = fields.emplace(f.name.text, &f); !inserted) {
          error(f.name.span, "duplicate-name", "field '" + f.name.text + "' is already declared in this bundle");
          continue;
        }
        ctx.field_names.insert(f.name.text);
        resolved::Field field;
        field.declaration = &f;
        field.situation = m.kind == BundleMemberKind::situation;
        field.type = ValueType::from_ast(f.type);
        field.slot = ctx.scope.add_variable(f.name.text, field.type);
        ctx.fields.push_back(std::move(field));
      }
    }
    // Decisions: top-level ones are callable, bundle ones see the fields.
    for (const auto& [name, refs] : symbols_.decisions.all()) {
      const auto* ref = symbols_.decisions.find(name);
      if (!ref) continue;
      DiagnosticSink ignored(file());  // checked in their own file
      Scope empty;
      if (auto d = compile_decision(*ref->node, ref->node->has_parameters ? empty : ctx.scope, ignored)) {
        ctx.scope.add_decision(name, std::move(d));
      }
    }
    for (const auto& m : b.members) {
      if (m.kind != BundleMemberKind::decision) continue;
      const Decision& d = *m.decision;
      if (ctx.scope.find_variable(d.id.text)) {
        error(d.id.span, "duplicate-name", "'" + d.id.text + "' is already a field of this bundle");
        continue;
      }
      auto compiled = with_sink([&](DiagnosticSink& sink) { return compile_decision(d, ctx.scope, sink); });
      if (compiled) ctx.scope.add_decision(d.id.text, std::move(compiled));
    }
    for (const auto& m : b.members) {
      if ((m.kind == BundleMemberKind::form || m.kind == BundleMemberKind::situation) && singles[m.kind] == &m) {
        check_fields(m, ctx);
      }
    }

    // Local departments and materials
    for (const auto& m : b.members) {
      if (m.kind == BundleMemberKind::department) {
        const Department& d = *m.department;
        if (const auto* ref = symbols_.departments.find(d.id.text)) {
          error(d.id.span, "duplicate-name", "department '" + d.id.text + "' is already declared at " +
                                                 where(ref->unit, ref->node->id.span));
        } else if (!ctx.departments.emplace(d.id.text, &d).second) {
          error(d.id.span, "duplicate-name", "department '" + d.id.text + "' is already declared in this bundle");
        }
      } else if (m.kind == BundleMemberKind::material) {
        const Material& mat = *m.material;
        if (const auto* ref = symbols_.materials.find(mat.id.text)) {
          error(mat.id.span, "duplicate-name", "material '" + mat.id.text + "' is already declared at " +
                                                   where(ref->unit, ref->node->id.span));
        } else if (!ctx.materials.emplace(mat.id.text, &mat).second) {
          error(mat.id.span, "duplicate-name", "material '" + mat.id.text + "' is already declared in this bundle");
        }
      }
    }

    // Items: gather local names first so `after` and `produced_by` can point forward.
    for (const auto& m : b.members) {
      if (m.kind != BundleMemberKind::item) continue;
      const Item& it = *m.item;
      const Item* catalog = nullptr;
      std::size_t catalog_unit = 0;
      if (it.is_use) {
        if (const auto* found = symbols_.items.find(it.id.text)) {
          catalog = found->node;
          catalog_unit = found->unit;
        } else {
          unknown(it.id, "catalog item", keys(symbols_.items), "'use' places an item declared at top level, usually in a catalog file");
        }
      }
      const std::string& local = it.local_name().text;
      if (ctx.items.contains(local)) {
        error(it.local_name().span, "duplicate-name", "item '" + local + "' is already in this bundle" +
                                                          (it.is_use && !it.alias ? "; use 'as' to give it another name" : ""));
        continue;
      }
      ctx.items.emplace(local, effective(it, catalog, catalog_unit));
      if (it.is_use) ctx.item_by_catalog.emplace(it.id.text, local);
    }

    // Bundle-level settings
    for (const auto& m : b.members) {
      switch (m.kind) {
        case BundleMemberKind::promise:
          if (amount_of(*m.duration) < 0) error(m.duration->span, "invalid-limit", "a promise cannot be negative");
          break;
        case BundleMemberKind::calendar:
          if (!symbols_.calendars.contains(m.names[0].text)) unknown(m.names[0], "calendar", keys(symbols_.calendars));
          break;
        case BundleMemberKind::lifecycle:
          if (!symbols_.lifecycles.contains(m.names[0].text)) unknown(m.names[0], "lifecycle", keys(symbols_.lifecycles));
          break;
        case BundleMemberKind::lead:
          if (!department_exists(m.names[0].text, &ctx)) unknown(m.names[0], "department", department_names(&ctx));
          break;
        case BundleMemberKind::stages: {
          std::set<std::string> seen;
          for (const auto& s : m.names) {
            if (!contains(kStages, s.text)) {
              unknown(s, "stage", as_vector(kStages));
            } else if (!seen.insert(s.text).second) {
              error(s.span, "duplicate-name", "stage '" + s.text + "' is listed twice");
            }
          }
          if (!seen.contains("items")) error(m.span, "missing-stage", "the stages must include 'items', where the items run");
          break;
        }
        case BundleMemberKind::rating: {
          std::set<RatingMemberKind> seen;
          for (const auto& r : m.rating) {
            if (!seen.insert(r.kind).second) {
              error(r.span, "duplicate-member", "this rating setting is already given");
              continue;
            }
            if (r.kind == RatingMemberKind::bad_at_most) {
              const auto level = Decimal::parse(r.level->text);
              if (!level || r.level->text.find('.') != std::string::npos || *level < Decimal::from_int(1) ||
                  *level > Decimal::from_int(4)) {
                error(r.level->span, "invalid-rating", "ratings run from 1 to 5, so 'bad at most' takes 1 to 4");
              }
            } else if (amount_of(*r.within) <= 0) {
              error(r.within->span, "invalid-limit", "the rectification limit must be above zero");
            }
          }
          break;
        }
        case BundleMemberKind::material: check_material(*m.material, &ctx); break;
        case BundleMemberKind::retain: check_retention(*m.retention, singles[BundleMemberKind::form]); break;
        case BundleMemberKind::check: check_rule(m, ctx); break;
        default: break;
      }
    }

    const bool has_default_lifecycle = singles.contains(BundleMemberKind::lifecycle);
    std::set<std::string, std::less<>> needed_materials;
    std::set<std::string, std::less<>> used_departments;
    if (singles.contains(BundleMemberKind::lead)) used_departments.insert(singles[BundleMemberKind::lead]->names[0].text);
    for (const auto& m : b.members) {
      if (m.kind != BundleMemberKind::item) continue;
      const Item& it = *m.item;
      const auto found = ctx.items.find(it.local_name().text);
      if (found == ctx.items.end() || found->second.site != &it) continue;  // duplicate, reported
      const EffectiveItem& e = found->second;
      if (!it.is_use) {
        if (it.department && !department_exists(it.department->text, &ctx)) {
          unknown(*it.department, "department", department_names(&ctx));
        }
        if (it.department) used_departments.insert(it.department->text);
      } else if (e.catalog && e.catalog->department) {
        used_departments.insert(e.catalog->department->text);
      }
      for (const auto& a : it.after) {
        if (a.text == it.local_name().text) {
          error(a.span, "self-dependency", "item '" + a.text + "' cannot come after itself");
        } else if (!ctx.items.contains(a.text)) {
          std::vector<std::string_view> candidates;
          for (const auto& [k, v] : ctx.items) candidates.push_back(k);
          std::string hint;
          if (auto c = ctx.item_by_catalog.find(a.text); c != ctx.item_by_catalog.end()) hint = "it is used here as '" + c->second + "'";
          unknown(a, "item", candidates, hint);
        }
      }
      if (it.when) {
        remember(*it.when, with_sink([&](DiagnosticSink& sink) {
          return compile_expression_as(*it.when, ctx.scope, ValueType::of(BaseType::boolean), "an item's condition", sink);
        }));
      }
      check_item_members(it, &ctx);
      if (e.catalog) {
        // The catalog item's own sends are checked against this bundle's fields, and its
        // limits against the overrides placed here.
        for (const auto* member : e.members) {
          if (member->kind == ItemMemberKind::sends && std::find_if(it.members.begin(), it.members.end(), [&](const ItemMember& x) {
                return &x == member;
              }) == it.members.end()) {
            check_sends(member->names, ctx, &it);
          }
        }
        // Only re-check when this site overrides one side (the catalog checked its own pair),
        // on the limits the compiler will run: one merge (merged_limits) for both.
        const bool overrides = std::any_of(it.members.begin(), it.members.end(), [](const ItemMember& x) {
          return x.kind == ItemMemberKind::limit || x.kind == ItemMemberKind::statutory;
        });
        const MergedLimits limits = merged_limits(it, e.catalog);
        if (overrides) {
          check_limits(limits.promised, limits.statutory, it.local_name().text,
                       limits.promised_from_site ? limits.promised->span : it.id.span);
        }
      }
      if (!has_default_lifecycle && !e.find(ItemMemberKind::lifecycle)) {
        error(it.local_name().span, "no-lifecycle", "item '" + it.local_name().text +
                                                        "' runs no lifecycle: set 'lifecycle' on the bundle or on the item");
      }
      for (const auto* n : e.names_of(ItemMemberKind::needs)) needed_materials.insert(n->text);
    }
    check_elicense_holders(b, ctx, fields, needed_materials);
    for (const auto& [name, material] : ctx.materials) {
      if (!needed_materials.contains(name)) {
        warning(material->id.span, "unused-material", "material '" + name + "' is not needed by any item of bundle '" + b.id.text + "'");
      }
    }
    for (const auto& [name, department] : ctx.departments) {
      if (!used_departments.contains(name)) {
        warning(department->id.span, "unused-department", "department '" + name + "' handles no item of bundle '" + b.id.text + "'");
      }
    }
    if (auto bound = BundleBinder(*this, b, ctx).bind()) doc_.bundles.push_back(std::move(*bound));
  }
};

}  // namespace

Bound bind(const Program& program) { return Checker(program).run(); }

std::vector<Diagnostic> check(const Program& program) {
  auto diagnostics = bind(program).diagnostics;
  std::erase_if(diagnostics, [](const Diagnostic& d) { return d.follow_on; });
  return diagnostics;
}

}  // namespace onevisit::dsl
