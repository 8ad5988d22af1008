// Compiling a checked program into Workflow models, and the static analysis on top of them.
#include <onevisit/engine/workflow.hpp>

#include <onevisit/dsl/formatter.hpp>
#include <onevisit/engine/runtime.hpp>

#include "graphs.hpp"
#include "hash.hpp"


#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

namespace onevisit::engine {

using namespace dsl::ast;
using dsl::BaseType;
using dsl::Decimal;
using dsl::Diagnostic;
using dsl::Severity;
using dsl::ValueType;

// ---------------------------------------------------------------------------------------
// Small pieces

Decimal Limit::approximate_workdays() const {
  switch (unit) {
    case TimeUnit::workday: return amount;
    case TimeUnit::day: return Decimal{amount.units * 5 / 7};  // a calendar week has 5 working days
    case TimeUnit::hour: return Decimal{amount.units / 8};
  }
  return amount;
}

std::string Limit::to_string() const {
  const bool one = amount == Decimal::from_int(1);
  const char* name = unit == TimeUnit::workday ? (one ? " workday" : " workdays")
                     : unit == TimeUnit::day   ? (one ? " day" : " days")
                                               : (one ? " hour" : " hours");
  return amount.to_string() + name;
}

bool CompileResult::ok() const {
  return std::none_of(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& d) { return d.severity == Severity::error; });
}

std::optional<ItemIndex> Workflow::find_item(std::string_view item_id) const {
  for (ItemIndex i = 0; i < items.size(); ++i) {
    if (items[i].id == item_id) return i;
  }
  return std::nullopt;
}

std::optional<MaterialIndex> Workflow::find_material(std::string_view material_id) const {
  for (MaterialIndex i = 0; i < materials.size(); ++i) {
    if (materials[i].id == material_id) return i;
  }
  return std::nullopt;
}

std::optional<FieldIndex> Workflow::find_field(std::string_view name) const {
  for (FieldIndex i = 0; i < fields.size(); ++i) {
    if (fields[i].name == name) return i;
  }
  return std::nullopt;
}

CriticalPath Workflow::critical_path(const std::vector<bool>& applicable) const {
  auto counts = [&](ItemIndex i) { return applicable.empty() || (i < applicable.size() && applicable[i]); };
  const std::size_t n = items.size();
  std::vector<std::int64_t> best(n, 0);
  std::vector<std::optional<ItemIndex>> previous(n);
  CriticalPath path;
  std::optional<ItemIndex> end;
  std::int64_t end_length = -1;
  for (const auto i : topological_order) {
    const std::int64_t own = counts(i) && items[i].promised ? items[i].promised->approximate_workdays().units : 0;
    std::int64_t longest_before = 0;
    for (const auto before : items[i].after) {
      if (best[before] > longest_before || (best[before] == longest_before && !previous[i])) {
        longest_before = best[before];
        previous[i] = before;
      }
    }
    best[i] = longest_before + own;
    if (counts(i) && best[i] > end_length) {
      end_length = best[i];
      end = i;
    }
  }
  for (auto at = end; at; at = previous[*at]) {
    if (counts(*at)) path.items.push_back(*at);
  }
  std::reverse(path.items.begin(), path.items.end());
  path.workdays = Decimal{std::max<std::int64_t>(end_length, 0)};
  return path;
}

namespace {

Limit limit_of(const Duration& d) {
  return Limit{Decimal::parse(d.amount.text).value_or(Decimal{}), d.unit};
}

ActionModel action_of(const Action& a) {
  ActionModel m;
  const std::string& f = a.function.text;
  if (f == "call") {
    m.kind = ActionModel::Kind::call;
    if (!a.arguments.empty() && a.arguments[0].kind == ExprKind::member && !a.arguments[0].children.empty()) {
      m.department = a.arguments[0].children[0].text;
      m.operation = a.arguments[0].text;
    }
  } else {
    m.kind = f == "notify" ? ActionModel::Kind::notify : ActionModel::Kind::escalate;
    if (!a.arguments.empty()) m.role = a.arguments[0].text;
    if (a.arguments.size() > 1) m.message = a.arguments[1].text;
  }
  return m;
}

// Every top-level declaration of the program by kind and name, built once; `visible` marks
// the files the bundle being compiled sees (its own and its imports, transitively).
template <class T>
class Declarations {
 public:
  void add(std::string_view name, const T* node, std::size_t unit) { by_name_[name].emplace_back(node, unit); }
  /// A visible declaration of `name`, with the file it is in.
  std::optional<std::pair<const T*, std::size_t>> find(std::string_view name, const std::vector<char>& visible) const {
    const auto it = by_name_.find(name);
    if (it == by_name_.end()) return std::nullopt;
    for (const auto& entry : it->second) {
      if (visible[entry.second]) return entry;
    }
    return std::nullopt;
  }
  const std::unordered_map<std::string_view, std::vector<std::pair<const T*, std::size_t>>>& all() const { return by_name_; }

 private:
  std::unordered_map<std::string_view, std::vector<std::pair<const T*, std::size_t>>> by_name_;
};

struct ProgramIndex {
  Declarations<Department> departments;
  Declarations<Material> materials;
  Declarations<Item> items;
  Declarations<Lifecycle> lifecycles;
  Declarations<Decision> decisions;

  explicit ProgramIndex(const dsl::Program& program) {
    for (std::size_t u = 0; u < program.units.size(); ++u) {
      for (const auto& d : program.units[u].file.declarations) {
        switch (d.kind) {
          case DeclarationKind::department: departments.add(d.department->id.text, &*d.department, u); break;
          case DeclarationKind::material: materials.add(d.material->id.text, &*d.material, u); break;
          case DeclarationKind::item: items.add(d.item->id.text, &*d.item, u); break;
          case DeclarationKind::lifecycle: lifecycles.add(d.lifecycle->id.text, &*d.lifecycle, u); break;
          case DeclarationKind::decision: decisions.add(d.decision->id.text, &*d.decision, u); break;
          default: break;
        }
      }
    }
  }
};

// A lifecycle guard scope: the running item's figures, then the bundle's fields as form.*.
std::shared_ptr<dsl::Scope> make_guard_scope(const std::vector<FieldModel>* fields) {
  auto scope = std::make_shared<dsl::Scope>();
  scope->add_namespace("materials", {{"complete", ValueType::of(BaseType::boolean)},
                                     {"verified", ValueType::of(BaseType::boolean)},
                                     {"pending", ValueType::of(BaseType::integer)}});
  scope->add_namespace("item", {{"corrections", ValueType::of(BaseType::integer)},
                                {"elapsed", ValueType::of(BaseType::duration)},
                                {"remaining", ValueType::of(BaseType::duration)}});
  if (fields) {
    std::vector<std::pair<std::string, ValueType>> members;
    for (const auto& f : *fields) members.emplace_back(f.name, f.value_type);
    scope->add_namespace("form", std::move(members));
  } else {
    scope->add_namespace("form", {}, /*open=*/true);
  }
  return scope;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// The compiler

class WorkflowCompiler {
 public:
  WorkflowCompiler(const dsl::Program& program, std::vector<Diagnostic>& findings)
      : program_(program), findings_(findings), index_(program) {}

  std::shared_ptr<const Workflow> compile(const Bundle& bundle, std::size_t unit) {
    unit_ = unit;
    visible_.assign(program_.units.size(), 0);
    for (const auto u : program_.visible_from(unit)) visible_[u] = 1;
    wf_ = std::make_shared<Workflow>();
    local_departments_.clear();
    local_materials_.clear();
    department_index_.clear();
    material_index_.clear();
    lifecycle_index_.clear();
    local_by_catalog_.clear();
    item_sites_.clear();
    pending_producers_.clear();
    ancestors_ = Ancestors{};
    failed_ = false;

    wf_->bundle_id = bundle.id.text;
    wf_->title = bundle.title ? bundle.title->value : bundle.id.text;
    wf_->version = static_cast<int>(Decimal::parse(bundle.version.text).value_or(Decimal::from_int(1)).units / Decimal::kScale);
    wf_->source_ref = ref(bundle.id.span);
    wf_->source_hash = normalised_hash();
    wf_->scope_ = std::make_shared<dsl::Scope>();

    std::optional<std::string> default_lifecycle;
    for (const auto& m : bundle.members) {
      switch (m.kind) {
        case BundleMemberKind::promise: wf_->promise = limit_of(*m.duration); break;
        case BundleMemberKind::calendar: wf_->calendar = m.names[0].text; break;
        case BundleMemberKind::lifecycle: default_lifecycle = m.names[0].text; break;
        case BundleMemberKind::stages:
          for (const auto& n : m.names) wf_->stages.push_back(n.text);
          break;
        case BundleMemberKind::rating:
          for (const auto& r : m.rating) {
            if (r.kind == RatingMemberKind::bad_at_most) {
              wf_->rating.bad_at_most = static_cast<int>(Decimal::parse(r.level->text).value_or(Decimal::from_int(2)).units / Decimal::kScale);
            } else {
              wf_->rating.rectify_within = limit_of(*r.within);
            }
          }
          break;
        case BundleMemberKind::department: local_departments_.emplace(m.department->id.text, &*m.department); break;
        case BundleMemberKind::material: local_materials_.emplace(m.material->id.text, &*m.material); break;
        default: break;
      }
    }
    if (wf_->stages.empty()) wf_->stages = {"intake", "items", "delivery", "rating"};

    const auto fields = declare_fields(bundle);
    compile_decisions(bundle);  // decisions read fields; field conditions may read decisions
    compile_field_options(fields);
    compile_rules(bundle);
    wf_->guard_scope_ = make_guard_scope(&wf_->fields);
    for (const auto& m : bundle.members) {
      if (m.kind == BundleMemberKind::lead) wf_->lead = department(m.names[0]);
      if (m.kind == BundleMemberKind::retain) wf_->retention = retention_of(*m.retention);
    }
    compile_items(bundle, default_lifecycle);
    if (failed_) return nullptr;
    compile_material_routing();
    order_items();
    if (failed_) return nullptr;
    analyse_materials();
    analyse_promise(bundle);
    return wf_;
  }

 private:
  const dsl::Program& program_;
  std::vector<Diagnostic>& findings_;
  std::size_t unit_ = 0;
  ProgramIndex index_;
  std::vector<char> visible_;
  std::shared_ptr<Workflow> wf_;
  std::map<std::string, const Department*, std::less<>> local_departments_;
  std::map<std::string, const Material*, std::less<>> local_materials_;
  std::map<std::string, DepartmentIndex, std::less<>> department_index_;
  std::map<std::string, MaterialIndex, std::less<>> material_index_;
  std::map<std::string, LifecycleIndex, std::less<>> lifecycle_index_;
  std::map<std::string, std::string, std::less<>> local_by_catalog_;
  std::vector<const Item*> item_sites_;
  bool failed_ = false;

  SourceRef ref(dsl::Span span) const { return SourceRef{program_.units[unit_].path, span}; }

  void finding(Severity severity, const SourceRef& at, std::string code, std::string message) {
    findings_.push_back(Diagnostic{at.file, at.span, severity, std::move(code), std::move(message)});
  }

  // Hash of everything the bundle sees, formatted canonically without comments: the hash of
  // the hashes of each file's normalised text, in visibility order. Files are hashed once per
  // program however many bundles import them.
  std::string normalised_hash() {
    std::string hashes;
    for (const auto u : program_.visible_from(unit_)) {
      auto it = unit_hashes_.find(u);
      if (it == unit_hashes_.end()) {
        // Calendars are deployed and versioned on their own (a new year's holidays reach the
        // running cases, docs/runtime.md): they are not part of a bundle version's source.
        File copy;
        for (const auto& declaration : program_.units[u].file.declarations) {
          if (!declaration.calendar) copy.declarations.push_back(declaration);
        }
        it = unit_hashes_.emplace(u, sha256_hex(dsl::format(copy, ""))).first;
      }
      hashes += it->second;
    }
    return sha256_hex(hashes);
  }
  std::map<std::size_t, std::string> unit_hashes_;

  // A reference that does not resolve: the bundle cannot be compiled. The checker has
  // usually reported why; say it here too, so a bundle never vanishes silently.
  template <class T>
  std::optional<T> unresolved(std::string what = {}) {
    if (!failed_ && !what.empty()) {
      finding(Severity::error, wf_->source_ref, "not-compiled",
              "bundle '" + wf_->bundle_id + "' cannot be compiled: " + what);
      findings_.back().follow_on = true;  // after the checker's error that caused it
    }
    failed_ = true;
    return std::nullopt;
  }

  std::optional<DepartmentIndex> department(const Name& name) {
    if (auto it = department_index_.find(name.text); it != department_index_.end()) return it->second;
    const Department* d = nullptr;
    if (auto it = local_departments_.find(name.text); it != local_departments_.end()) d = it->second;
    if (!d) {
      if (auto found = index_.departments.find(name.text, visible_)) d = found->first;
    }
    if (!d) return unresolved<DepartmentIndex>("unknown department '" + name.text + "'");
    DepartmentModel model;
    model.id = d->id.text;
    model.title = d->title ? d->title->value : d->id.text;
    model.adapter = d->adapter ? d->adapter->text : std::string();
    model.organisation = d->kind == DepartmentKind::organisation;
    wf_->departments.push_back(std::move(model));
    const auto index = static_cast<DepartmentIndex>(wf_->departments.size() - 1);
    department_index_.emplace(name.text, index);
    return index;
  }

  std::optional<MaterialIndex> material(const Name& name) {
    if (auto it = material_index_.find(name.text); it != material_index_.end()) return it->second;
    const Material* m = nullptr;
    std::size_t declared_in = unit_;
    if (auto it = local_materials_.find(name.text); it != local_materials_.end()) {
      m = it->second;
    } else if (auto found = index_.materials.find(name.text, visible_)) {
      m = found->first;
      declared_in = found->second;
    }
    if (!m) return unresolved<MaterialIndex>("'" + name.text + "' is neither a field nor a material it knows");
    MaterialModel model;
    model.id = m->id.text;
    model.title = m->title ? m->title->value : m->id.text;
    model.source_ref = SourceRef{program_.units[declared_in].path, m->id.span};
    for (const auto& o : m->options) {
      switch (o.kind) {
        case MaterialOptionKind::upload:
          for (const auto& f : o.names) model.formats.push_back(f.text);
          break;
        case MaterialOptionKind::elicense:
          model.source = MaterialSource::elicense;
          model.elicense_type = o.text->value;
          break;
        case MaterialOptionKind::produced_by: model.source = MaterialSource::produced; break;
        case MaterialOptionKind::original: model.original = true; break;
        case MaterialOptionKind::secondary: model.secondary = true; break;
        case MaterialOptionKind::when: {
          dsl::DiagnosticSink sink(program_.units[unit_].path);
          model.when = dsl::compile_expression(*o.expr, *wf_->scope_, sink);
          if (!model.when) failed_ = true;
          break;
        }
      }
    }
    wf_->materials.push_back(std::move(model));
    const auto index = static_cast<MaterialIndex>(wf_->materials.size() - 1);
    material_index_.emplace(name.text, index);
    pending_producers_.emplace_back(index, m);
    return index;
  }
  std::vector<std::pair<MaterialIndex, const Material*>> pending_producers_;

  std::optional<LifecycleIndex> lifecycle(const std::string& name) {
    if (auto it = lifecycle_index_.find(name); it != lifecycle_index_.end()) return it->second;
    const auto found = index_.lifecycles.find(name, visible_);
    if (!found) return unresolved<LifecycleIndex>("unknown lifecycle '" + name + "'");
    const Lifecycle& l = *found->first;
    const std::string& file = program_.units[found->second].path;
    LifecycleModel model;
    model.id = l.id.text;
    model.title = l.title ? l.title->value : l.id.text;
    model.source_ref = SourceRef{file, l.id.span};
    for (const auto& m : l.members) {
      if (m.kind != LifecycleMemberKind::state) continue;
      StateModel s;
      s.id = m.name.text;
      s.title = m.title ? m.title->value : m.name.text;
      for (const auto flag : m.flags) {
        s.initial = s.initial || flag == StateFlag::initial;
        s.final = s.final || flag == StateFlag::final_state;
        s.pauses_clock = s.pauses_clock || flag == StateFlag::pauses_clock;
        s.failed = s.failed || flag == StateFlag::failed;
      }
      s.source_ref = SourceRef{file, m.name.span};
      if (s.initial && !model.initial) model.initial = static_cast<StateIndex>(model.states.size());
      model.states.push_back(std::move(s));
    }
    for (const auto& m : l.members) {
      switch (m.kind) {
        case LifecycleMemberKind::transition: {
          TransitionModel t;
          t.event = m.name.text;
          if (m.title) t.title = m.title->value;
          t.source_ref = SourceRef{file, m.name.span};
          for (const auto& s : m.sources) {
            auto index = model.find_state(s.text);
            if (!index) return unresolved<LifecycleIndex>();
            t.sources.push_back(*index);
          }
          auto target = m.target ? model.find_state(m.target->text) : std::nullopt;
          if (!target) return unresolved<LifecycleIndex>();
          t.target = *target;
          for (const auto& o : m.options) {
            switch (o.kind) {
              case TransitionOptionKind::roles:
                for (const auto& r : o.names) t.roles.push_back(r.text);
                break;
              case TransitionOptionKind::guard: {
                dsl::DiagnosticSink sink(file);
                t.guard = dsl::compile_expression(*o.expr, *wf_->guard_scope_, sink);
                t.guard_text = dsl::format_expression(*o.expr);
                for (auto& d : sink.take()) {
                  // The guard reads a form field this bundle does not have.
                  finding(Severity::error, SourceRef{file, d.span}, d.code,
                          d.message + " (in a guard of lifecycle '" + l.id.text + "', used by bundle '" + wf_->bundle_id + "')");
                }
                if (!t.guard) failed_ = true;
                break;
              }
              case TransitionOptionKind::requires_fields:
                for (const auto& r : o.names) t.required_fields.push_back(r.text);
                break;
              case TransitionOptionKind::actions:
                for (const auto& a : o.actions) t.actions.push_back(action_of(a));
                break;
              case TransitionOptionKind::after: t.after = limit_of(*o.duration); break;
              case TransitionOptionKind::starts_clock:
                t.starts_clock = o.from_receipt ? ClockStart::from_receipt : ClockStart::now;
                model.clock_starts_on_transition = true;
                break;
            }
          }
          model.transitions.push_back(std::move(t));
          break;
        }
        case LifecycleMemberKind::hook:
          for (const auto& a : m.actions) (m.name.text == "warning" ? model.on_warning : model.on_overdue).push_back(action_of(a));
          break;
        case LifecycleMemberKind::warn:
          if (m.percent) model.warn_percent = Decimal::parse(m.percent->text);
          if (m.left) model.warn_left = limit_of(*m.left);
          break;
        case LifecycleMemberKind::state: break;
      }
    }
    if (!model.initial) return unresolved<LifecycleIndex>();
    // An event titled on one of its transitions is titled on all (the checker keeps them equal).
    for (auto& t : model.transitions) {
      if (!t.title.empty()) continue;
      const auto titled = std::find_if(model.transitions.begin(), model.transitions.end(),
                                       [&](const TransitionModel& other) { return other.event == t.event && !other.title.empty(); });
      t.title = titled != model.transitions.end() ? titled->title : std::string(event_title(t.event));
    }
    model.build_graph();
    wf_->lifecycles.push_back(std::move(model));
    const auto index = static_cast<LifecycleIndex>(wf_->lifecycles.size() - 1);
    lifecycle_index_.emplace(name, index);
    return index;
  }

  // `check condition "message"` members, compiled against the form's scope.
  void compile_rules(const Bundle& bundle) {
    const std::string& file = program_.units[unit_].path;
    for (const auto& m : bundle.members) {
      if (m.kind != BundleMemberKind::check) continue;
      dsl::DiagnosticSink sink(file);
      auto condition = dsl::compile_expression(*m.condition, *wf_->scope_, sink);
      if (!condition) {
        unresolved<int>("a check reads what the form does not have");
        continue;
      }
      FormRule rule{std::move(*condition), m.message->value, dsl::format_expression(*m.condition), {}, SourceRef{file, m.span}};
      // The fields in the order they are written: names anywhere in the tree, depth first.
      std::vector<const dsl::ast::Expr*> names;
      const auto visit = [&](const auto& self, const dsl::ast::Expr& e) -> void {
        if (e.kind == dsl::ast::ExprKind::name) names.push_back(&e);
        for (const auto& child : e.children) self(self, child);
      };
      visit(visit, *m.condition);
      for (const auto* name : names) {
        const auto field = wf_->find_field(name->text);
        if (field && std::find(rule.fields.begin(), rule.fields.end(), *field) == rule.fields.end()) rule.fields.push_back(*field);
      }
      wf_->rules.push_back(std::move(rule));
    }
  }

  std::vector<std::pair<const Field*, bool>> declare_fields(const Bundle& bundle) {
    auto& scope = *wf_->scope_;
    std::vector<std::pair<const Field*, bool>> fields;
    for (const auto& m : bundle.members) {
      if (m.kind != BundleMemberKind::form && m.kind != BundleMemberKind::situation) continue;
      for (const auto& f : m.fields) {
        if (scope.find_variable(f.name.text)) continue;  // duplicate, reported by the checker
        FieldModel model;
        model.name = f.name.text;
        model.title = f.title ? f.title->value : f.name.text;
        model.type = f.type;
        model.value_type = ValueType::from_ast(f.type);
        model.situation = m.kind == BundleMemberKind::situation;
        model.source_ref = ref(f.name.span);
        model.slot = scope.add_variable(f.name.text, model.value_type);
        wf_->fields.push_back(std::move(model));
        fields.emplace_back(&f, model.situation);
      }
    }
    return fields;
  }

  void compile_field_options(const std::vector<std::pair<const Field*, bool>>& fields) {
    auto& scope = *wf_->scope_;
    dsl::DiagnosticSink sink(program_.units[unit_].path);
    const dsl::Environment constants{};
    for (std::size_t i = 0; i < fields.size(); ++i) {
      FieldModel& model = wf_->fields[i];
      for (const auto& o : fields[i].first->options) {
        switch (o.kind) {
          case FieldOptionKind::required: model.required = true; break;
          case FieldOptionKind::default_value: {
            auto e = dsl::compile_expression(*o.expr, scope, sink);
            if (!e) break;
            if (e->is_constant()) {
              model.default_value = e->evaluate(constants);
            } else {
              model.default_expression = std::move(e);
            }
            break;
          }
          case FieldOptionKind::min:
          case FieldOptionKind::max: {
            auto e = dsl::compile_expression(*o.expr, scope, sink);
            if (!e) break;
            if (e->is_constant()) {
              (o.kind == FieldOptionKind::min ? model.min : model.max) = e->evaluate(constants);
            } else {
              (o.kind == FieldOptionKind::min ? model.min_expression : model.max_expression) = std::move(e);
            }
            break;
          }
          case FieldOptionKind::pattern: model.pattern = o.text->value; break;
          case FieldOptionKind::when: model.when = dsl::compile_expression(*o.expr, scope, sink); break;
        }
      }
    }
  }

  void compile_decisions(const Bundle& bundle) {
    auto& scope = *wf_->scope_;
    dsl::DiagnosticSink sink(program_.units[unit_].path);
    for (const auto& [name, declarations] : index_.decisions.all()) {
      const auto found = index_.decisions.find(name, visible_);
      if (!found) continue;
      const Decision* decision = found->first;
      dsl::Scope empty;
      if (auto d = dsl::compile_decision(*decision, decision->has_parameters ? empty : scope, sink)) {
        scope.add_decision(std::string(name), d);
      }
    }
    for (const auto& m : bundle.members) {
      if (m.kind != BundleMemberKind::decision) continue;
      if (auto d = dsl::compile_decision(*m.decision, scope, sink)) scope.add_decision(m.decision->id.text, d);
    }
  }

  void compile_items(const Bundle& bundle, const std::optional<std::string>& default_lifecycle) {
    // Names first, so `after` may point forward.
    std::map<std::string, ItemIndex, std::less<>> by_name;
    for (const auto& m : bundle.members) {
      if (m.kind != BundleMemberKind::item) continue;
      const Item& site = *m.item;
      if (by_name.contains(site.local_name().text)) continue;
      by_name.emplace(site.local_name().text, static_cast<ItemIndex>(item_sites_.size()));
      item_sites_.push_back(&site);
      if (site.is_use) local_by_catalog_.emplace(site.id.text, site.local_name().text);
      wf_->items.emplace_back();
    }
    for (ItemIndex index = 0; index < item_sites_.size(); ++index) {
      const Item& site = *item_sites_[index];
      ItemModel& item = wf_->items[index];
      const Item* catalog = nullptr;
      if (site.is_use) {
        const auto found = index_.items.find(site.id.text, visible_);
        if (!found) {
          failed_ = true;
          return;
        }
        catalog = found->first;
      }
      const Item& definition = catalog ? *catalog : site;
      item.id = site.local_name().text;
      item.catalog_id = site.id.text;
      item.title = definition.title ? definition.title->value : definition.id.text;
      item.source_ref = ref(site.local_name().span);
      const auto dept = definition.department ? department(*definition.department) : std::nullopt;
      if (!dept) {
        failed_ = true;
        return;
      }
      item.department = *dept;
      if (catalog) {
        // A member in the `use` body replaces the catalog's member of the same kind (a
        // promised limit replaces `limit`/`immediate`, but keeps the catalog's statutory
        // limit unless the body gives one); the catalog's replaced members are not even
        // resolved, so a catalog `sends` naming fields this bundle lacks does no harm.
        std::set<ItemMemberKind> overridden;
        for (const auto& m : site.members) overridden.insert(m.kind);
        const bool promised_overridden = overridden.contains(ItemMemberKind::limit) || overridden.contains(ItemMemberKind::immediate);
        std::vector<ItemMember> kept;
        for (const auto& m : catalog->members) {
          const bool promised = m.kind == ItemMemberKind::limit || m.kind == ItemMemberKind::immediate;
          if (promised && promised_overridden) {
            if (m.kind == ItemMemberKind::limit && m.statutory && !overridden.contains(ItemMemberKind::statutory)) {
              ItemMember statutory;
              statutory.kind = ItemMemberKind::statutory;
              statutory.duration = m.statutory;
              kept.push_back(std::move(statutory));
            }
            continue;
          }
          if (!overridden.contains(m.kind)) kept.push_back(m);
        }
        // "Separately", the item runs at the catalog's own limits, not the bundle's shortened one.
        for (const auto& m : catalog->members) {
          if (m.kind == ItemMemberKind::limit) item.catalog_promised = limit_of(*m.duration);
          if (m.kind == ItemMemberKind::immediate) item.catalog_promised = Limit{Decimal{}, TimeUnit::workday};
        }
        apply_members(item, kept);
      }
      apply_members(item, site.members);
      if (!catalog) item.catalog_promised = item.promised;
      std::optional<std::string> lifecycle_name = default_lifecycle;
      for (const auto* members : {catalog ? &catalog->members : nullptr, &site.members}) {
        if (!members) continue;
        for (const auto& m : *members) {
          if (m.kind == ItemMemberKind::lifecycle) lifecycle_name = m.names[0].text;
        }
      }
      const auto lc = lifecycle_name ? lifecycle(*lifecycle_name) : std::nullopt;
      if (!lc) {
        failed_ = true;
        return;
      }
      item.lifecycle = *lc;
      for (const auto& a : site.after) {
        const auto it = by_name.find(a.text);
        if (it == by_name.end() || it->second == index) {
          failed_ = true;
          return;
        }
        item.after.push_back(it->second);
        wf_->items[it->second].dependents.push_back(index);
      }
      if (site.when) {
        dsl::DiagnosticSink sink(program_.units[unit_].path);
        item.when = dsl::compile_expression(*site.when, *wf_->scope_, sink);
        if (!item.when) failed_ = true;
      }
    }
  }

  // Applies one declaration's members; later calls override earlier ones member by member
  // (the promised and statutory limits separately).
  void apply_members(ItemModel& item, const std::vector<ItemMember>& members) {
    bool needs_set = false, produces_set = false, sends_set = false, specials_set = false;
    for (const auto& m : members) {
      switch (m.kind) {
        case ItemMemberKind::code: item.code = m.text->value; break;
        case ItemMemberKind::kind: item.kind = m.names[0].text; break;
        case ItemMemberKind::immediate:
          item.immediate = true;
          item.promised = Limit{Decimal{}, TimeUnit::workday};
          break;
        case ItemMemberKind::limit:
          item.immediate = false;
          item.promised = limit_of(*m.duration);
          if (m.statutory) item.statutory = limit_of(*m.statutory);
          break;
        case ItemMemberKind::statutory: item.statutory = limit_of(*m.duration); break;
        case ItemMemberKind::needs:
          if (!needs_set) item.needs.clear();
          needs_set = true;
          for (const auto& n : m.names) {
            if (auto i = material(n)) item.needs.push_back(*i);
          }
          break;
        case ItemMemberKind::produces:
          if (!produces_set) item.produces.clear();
          produces_set = true;
          for (const auto& n : m.names) {
            if (auto i = material(n)) item.produces.push_back(*i);
          }
          break;
        case ItemMemberKind::sends:
          if (!sends_set) item.sends.clear();
          sends_set = true;
          for (const auto& n : m.names) {
            if (const auto* v = wf_->scope_->find_variable(n.text)) {
              for (FieldIndex f = 0; f < wf_->fields.size(); ++f) {
                if (wf_->fields[f].slot == v->slot) item.sends.push_back(SentValue{SentValue::Kind::field, f, n.text});
              }
            } else if (auto i = material(n)) {
              item.sends.push_back(SentValue{SentValue::Kind::material, *i, n.text});
            }
          }
          break;
        case ItemMemberKind::special:
          if (!specials_set) item.specials.clear();
          specials_set = true;
          item.specials.push_back(SpecialProcedure{m.names[0].text, m.text ? m.text->value : m.names[0].text,
                                                   limit_of(*m.duration), m.pauses_clock});
          break;
        case ItemMemberKind::tolerant: item.tolerant = true; break;
        case ItemMemberKind::lifecycle: break;  // resolved by the caller
      }
    }
  }

  void compile_material_routing() {
    // Producers: `produced_by` names an item of the bundle (or the catalog item it uses).
    for (const auto& [index, material] : pending_producers_) {
      for (const auto& o : material->options) {
        if (o.kind != MaterialOptionKind::produced_by || o.names.empty()) continue;
        std::string name = o.names[0].text;
        if (auto it = local_by_catalog_.find(name); it != local_by_catalog_.end() && !wf_->find_item(name)) name = it->second;
        wf_->materials[index].producer = wf_->find_item(name);
      }
    }
    // An item that `produces` a material is its producer too.
    for (ItemIndex i = 0; i < wf_->items.size(); ++i) {
      for (const auto m : wf_->items[i].produces) {
        auto& material = wf_->materials[m];
        if (material.source == MaterialSource::upload && material.producer == std::nullopt) material.source = MaterialSource::produced;
        if (!material.producer) material.producer = i;
      }
    }
    for (ItemIndex i = 0; i < wf_->items.size(); ++i) {
      for (const auto m : wf_->items[i].needs) wf_->materials[m].consumers.push_back(i);
    }
  }

  void order_items() {
    const ItemGraph graph = item_graph(*wf_);
    const auto result = topological_order_or_cycle(graph);
    if (!result.cycle.empty()) {
      std::string path;
      for (const auto i : result.cycle) path += wf_->items[i].id + " -> ";
      path += wf_->items[result.cycle.front()].id;
      finding(Severity::error, wf_->items[result.cycle.front()].source_ref, "dependency-cycle",
              "items of bundle '" + wf_->bundle_id + "' depend on each other in a cycle: " + path);
      failed_ = true;
      return;
    }
    wf_->topological_order = result.order;
    ancestors_ = ancestors(graph, result.order);
  }
  Ancestors ancestors_;

  // Every material an item needs must come from somewhere before that item runs.
  void analyse_materials() {
    for (MaterialIndex m = 0; m < wf_->materials.size(); ++m) {
      const MaterialModel& material = wf_->materials[m];
      if (material.source != MaterialSource::produced) continue;
      for (const auto consumer : material.consumers) {
        const ItemModel& item = wf_->items[consumer];
        if (!material.producer) {
          finding(Severity::error, item.source_ref, "material-from-nowhere",
                  "item '" + item.id + "' needs '" + material.id + "', which is produced by an item that bundle '" +
                      wf_->bundle_id + "' does not run");
          continue;
        }
        const ItemIndex producer = *material.producer;
        if (producer == consumer) continue;  // an item renewing its own document
        if (!ancestors_.contains(consumer, producer)) {
          finding(Severity::error, item.source_ref, "material-not-ready",
                  "item '" + item.id + "' needs '" + material.id + "', produced by item '" + wf_->items[producer].id +
                      "', which does not run before it; add 'after " + wf_->items[producer].id + "'");
          continue;
        }
        check_condition_implies(item, wf_->items[producer], material);
      }
    }
  }

  // Whenever the consumer runs, the producer must have run: its `when` must hold too.
  void check_condition_implies(const ItemModel& consumer, const ItemModel& producer, const MaterialModel& material) {
    if (!producer.when) return;
    const auto& p = *producer.when;
    const dsl::CompiledExpression* c = consumer.when ? &*consumer.when : nullptr;
    // The consumer needs the material only where the material's own `when` holds.
    const dsl::CompiledExpression* needed = material.when ? &*material.when : nullptr;
    // Enumerate the finite fields both conditions read (bools and enums); other fields make
    // the conditions undecidable here, and then nothing is claimed.
    std::vector<std::size_t> slots = p.referenced_slots();
    if (c) {
      for (const auto s : c->referenced_slots()) slots.push_back(s);
    }
    if (needed) {
      for (const auto s : needed->referenced_slots()) slots.push_back(s);
    }
    std::sort(slots.begin(), slots.end());
    slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
    std::vector<std::vector<dsl::Value>> domains;
    std::size_t combinations = 1;
    for (const auto slot : slots) {
      const FieldModel* field = nullptr;
      for (const auto& f : wf_->fields) {
        if (f.slot == slot) field = &f;
      }
      if (!field) return;
      std::vector<dsl::Value> domain;
      if (field->value_type.base == BaseType::boolean) {
        domain = {dsl::Value::of_bool(true), dsl::Value::of_bool(false)};
      } else if (field->value_type.base == BaseType::enumeration && field->value_type.values) {
        for (const auto& v : *field->value_type.values) domain.push_back(dsl::Value::of_text(v));
      } else {
        return;
      }
      combinations *= domain.size();
      if (combinations > 4096) return;
      domains.push_back(std::move(domain));
    }
    std::vector<dsl::Value> values(wf_->scope_->slot_count());
    std::vector<std::size_t> pick(slots.size(), 0);
    for (std::size_t n = 0; n < combinations; ++n) {
      std::size_t rest = n;
      for (std::size_t k = 0; k < slots.size(); ++k) {
        values[slots[k]] = domains[k][rest % domains[k].size()];
        rest /= domains[k].size();
      }
      const dsl::Environment env{values, 0, nullptr};
      if ((!c || c->holds(env)) && (!needed || needed->holds(env)) && !p.holds(env)) {
        std::string example;
        for (std::size_t k = 0; k < slots.size(); ++k) {
          for (const auto& f : wf_->fields) {
            if (f.slot == slots[k]) example += (example.empty() ? "" : ", ") + f.name + " = " + dsl::to_string(values[slots[k]]);
          }
        }
        finding(Severity::error, consumer.source_ref, "material-may-be-missing",
                "item '" + consumer.id + "' needs '" + material.id + "' from item '" + producer.id +
                    "', which does not run in every case where '" + consumer.id + "' does (e.g. when " + example + ")");
        return;
      }
    }
  }

  // `retain`: the period, and the personal fields — every idcard and phone field of the
  // form, and the fields it names (the checker made sure they are text fields of the form).
  RetentionPolicy retention_of(const dsl::ast::Retention& r) const {
    RetentionPolicy policy;
    policy.amount = static_cast<int>(Decimal::parse(r.amount.text).value_or(Decimal{}).units / Decimal::kScale);
    policy.unit = r.unit;
    static constexpr std::string_view kUnits[][2] = {{"day", "days"}, {"month", "months"}, {"year", "years"}};
    policy.text = "retain " + r.amount.text + " " + std::string(kUnits[static_cast<int>(r.unit)][r.plural ? 1 : 0]);
    for (FieldIndex f = 0; f < wf_->fields.size(); ++f) {
      const auto& field = wf_->fields[f];
      const bool named = std::any_of(r.personal.begin(), r.personal.end(), [&](const dsl::ast::Name& n) { return n.text == field.name; });
      const bool by_type = field.type.kind == dsl::ast::TypeKind::idcard || field.type.kind == dsl::ast::TypeKind::phone;
      if (!field.situation && (named || by_type)) policy.personal.push_back(f);
    }
    return policy;
  }

  void analyse_promise(const Bundle&) {
    if (!wf_->promise) return;
    const CriticalPath path = wf_->critical_path();
    const Decimal promise = wf_->promise->approximate_workdays();
    if (path.workdays > promise) {
      std::string chain;
      for (const auto i : path.items) {
        chain += (chain.empty() ? "" : " -> ") + wf_->items[i].id + " (" +
                 (wf_->items[i].promised ? wf_->items[i].promised->to_string() : "no limit") + ")";
      }
      finding(Severity::error, wf_->source_ref, "promise-too-short",
              "bundle '" + wf_->bundle_id + "' promises " + wf_->promise->to_string() + ", but its critical path takes " +
                  path.workdays.to_string() + " workdays: " + chain);
    }
  }
};

// ---------------------------------------------------------------------------------------
// Lifecycle analysis (once per lifecycle, wherever it is used)

namespace {

void analyse_lifecycle(const Lifecycle& l, const std::string& file, std::vector<Diagnostic>& findings) {
  LifecycleModel model;
  std::map<std::string, StateIndex, std::less<>> index;
  std::vector<const LifecycleMember*> state_members;
  for (const auto& m : l.members) {
    if (m.kind != LifecycleMemberKind::state || index.contains(m.name.text)) continue;
    index.emplace(m.name.text, static_cast<StateIndex>(model.states.size()));
    StateModel s;
    s.id = m.name.text;
    for (const auto flag : m.flags) {
      s.initial = s.initial || flag == StateFlag::initial;
      s.final = s.final || flag == StateFlag::final_state;
    }
    if (s.initial && !model.initial) model.initial = static_cast<StateIndex>(model.states.size());
    model.states.push_back(std::move(s));
    state_members.push_back(&m);
  }
  auto guard_scope = make_guard_scope(nullptr);
  std::vector<const LifecycleMember*> transition_members;
  for (const auto& m : l.members) {
    if (m.kind != LifecycleMemberKind::transition) continue;
    TransitionModel t;
    bool resolved = m.target && index.contains(m.target->text);
    for (const auto& s : m.sources) {
      if (!index.contains(s.text)) resolved = false;
    }
    if (!resolved) continue;  // the checker reported it
    for (const auto& s : m.sources) t.sources.push_back(index.at(s.text));
    t.target = index.at(m.target->text);
    for (const auto& o : m.options) {
      if (o.kind != TransitionOptionKind::guard) continue;
      dsl::DiagnosticSink sink(file);
      t.guard = dsl::compile_expression(*o.expr, *guard_scope, sink);
      if (t.guard && t.guard->is_constant() && !t.guard->holds(dsl::Environment{})) {
        findings.push_back(Diagnostic{file, o.expr->span, Severity::error, "guard-never-holds",
                                      "this guard is always false, so transition '" + m.name.text + "' can never happen"});
      }
    }
    model.transitions.push_back(std::move(t));
    transition_members.push_back(&m);
  }
  model.build_graph();
  if (!model.initial) return;  // the checker reported it
  const auto reached = model.reachable_from_initial();
  for (StateIndex s = 0; s < model.states.size(); ++s) {
    const auto& state = model.states[s];
    const auto& span = state_members[s]->name.span;
    const auto out = model.transitions_from(s);
    if (!reached[s]) {
      findings.push_back(Diagnostic{file, span, Severity::warning, "unreachable-state",
                                    "state '" + state.id + "' cannot be reached from initial state '" +
                                        model.states[*model.initial].id + "'"});
    }
    if (state.final && !out.empty()) {
      findings.push_back(Diagnostic{file, span, Severity::error, "final-state-exits",
                                    "final state '" + state.id + "' has transitions out of it ('" +
                                        transition_members[out.front()]->name.text + "'); a final state ends the item"});
    }
    if (!state.final && out.empty()) {
      findings.push_back(Diagnostic{file, span, Severity::error, "dead-end-state",
                                    "state '" + state.id + "' is not final and has no transition out of it, so items stop there forever"});
    }
  }
}

}  // namespace

CompileResult compile(const dsl::Program& program) {
  CompileResult result;
  WorkflowCompiler compiler(program, result.diagnostics);
  for (std::size_t u = 0; u < program.units.size(); ++u) {
    for (const auto& d : program.units[u].file.declarations) {
      if (d.kind == DeclarationKind::lifecycle) analyse_lifecycle(*d.lifecycle, program.units[u].path, result.diagnostics);
    }
  }
  for (std::size_t u = 0; u < program.units.size(); ++u) {
    for (const auto& d : program.units[u].file.declarations) {
      if (d.kind != DeclarationKind::bundle) continue;
      if (auto wf = compiler.compile(*d.bundle, u)) result.workflows.push_back(std::move(wf));
    }
  }
  // A lifecycle guard that fails for several bundles is one finding per bundle; keep them,
  // but drop exact repeats.
  std::set<std::tuple<std::string, std::uint32_t, std::string>> seen;
  std::vector<Diagnostic> unique;
  for (auto& d : result.diagnostics) {
    if (seen.emplace(d.file, d.span.begin, d.message).second) unique.push_back(std::move(d));
  }
  result.diagnostics = std::move(unique);
  return result;
}

std::vector<dsl::Diagnostic> analyse(const dsl::Program& program) { return compile(program).diagnostics; }

}  // namespace onevisit::engine
