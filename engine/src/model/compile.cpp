// Compiling the checker's resolved document into Workflow models, and the static analysis on
// top of them.
#include <onevisit/engine/workflow.hpp>

#include <onevisit/dsl/resolved.hpp>
#include <onevisit/engine/calendars.hpp>
#include <onevisit/engine/compile.hpp>
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

Limit limit_of(const dsl::resolved::Duration& d) { return Limit{d.amount, d.unit}; }

std::optional<Limit> limit_of(const std::optional<dsl::resolved::Duration>& d) {
  if (!d) return std::nullopt;
  return limit_of(*d);
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

// The states and transitions of a resolved lifecycle (the graph is built by the caller).
LifecycleModel lifecycle_of(const dsl::resolved::Lifecycle& resolved) {
  const Lifecycle& l = *resolved.declaration;
  const std::string& file = resolved.file;
  LifecycleModel model;
  model.id = l.id.text;
  model.title = l.title ? l.title->value : l.id.text;
  model.source_ref = SourceRef{file, l.id.span};
  for (const auto* m : resolved.states) {
    StateModel s;
    s.id = m->name.text;
    s.title = m->title ? m->title->value : m->name.text;
    for (const auto flag : m->flags) {
      s.initial = s.initial || flag == StateFlag::initial;
      s.final = s.final || flag == StateFlag::final_state;
      s.pauses_clock = s.pauses_clock || flag == StateFlag::pauses_clock;
      s.failed = s.failed || flag == StateFlag::failed;
    }
    if (m->clock_stop) s.clock_stop = *m->clock_stop;
    s.source_ref = SourceRef{file, m->name.span};
    model.states.push_back(std::move(s));
  }
  if (resolved.initial) model.initial = static_cast<StateIndex>(*resolved.initial);
  for (const auto& rt : resolved.transitions) {
    const LifecycleMember& m = *rt.declaration;
    TransitionModel t;
    t.event = m.name.text;
    t.title = rt.title;
    t.source_ref = SourceRef{file, m.name.span};
    for (const auto source : rt.sources) t.sources.push_back(static_cast<StateIndex>(source));
    t.target = static_cast<StateIndex>(rt.target);
    t.guard = rt.guard;
    t.guard_text = rt.guard_text;
    for (const auto& o : m.options) {
      switch (o.kind) {
        case TransitionOptionKind::roles:
          for (const auto& r : o.names) t.roles.push_back(r.text);
          break;
        case TransitionOptionKind::guard: break;  // compiled by the checker
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
  }
  for (const auto& m : l.members) {
    if (m.kind == LifecycleMemberKind::hook) {
      for (const auto& a : m.actions) (m.name.text == "warning" ? model.on_warning : model.on_overdue).push_back(action_of(a));
    } else if (m.kind == LifecycleMemberKind::warn) {
      if (m.percent) model.warn_percent = Decimal::parse(m.percent->text);
      if (m.left) model.warn_left = limit_of(*m.left);
    }
  }
  return model;
}

// The checker's scope, shared with the workflow (the compiled expressions were made against it).
std::shared_ptr<dsl::Scope> scope_or_empty(const std::shared_ptr<dsl::Scope>& scope) {
  return scope ? scope : std::make_shared<dsl::Scope>();
}

}  // namespace

// ---------------------------------------------------------------------------------------
// The compiler: from the resolved document to the runtime model. It reads the references
// the checker resolved; it never looks a name up, merges a `use` or compiles an expression.

class WorkflowCompiler {
 public:
  WorkflowCompiler(const dsl::resolved::Document& document, std::vector<Diagnostic>& findings)
      : document_(document), findings_(findings) {}

  std::shared_ptr<const Workflow> compile(const dsl::resolved::Bundle& rb) {
    const Bundle& bundle = *rb.declaration;
    bundle_ = &rb;
    wf_ = std::make_shared<Workflow>();
    ancestors_ = Ancestors{};

    wf_->bundle_id = bundle.id.text;
    wf_->title = bundle.title ? bundle.title->value : bundle.id.text;
    wf_->version = static_cast<int>(Decimal::parse(bundle.version.text).value_or(Decimal::from_int(1)).units / Decimal::kScale);
    wf_->source_ref = SourceRef{rb.file, bundle.id.span};
    wf_->source_hash = normalised_hash(rb);
    wf_->scope_ = scope_or_empty(rb.scope);
    wf_->guard_scope_ = scope_or_empty(rb.guard_scope);
    wf_->promise = limit_of(rb.promise);
    if (rb.calendar) wf_->calendar = rb.calendar->declaration->id.text;

    for (const auto& m : bundle.members) {
      switch (m.kind) {
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
        default: break;
      }
    }
    if (wf_->stages.empty()) wf_->stages = {"intake", "items", "delivery", "rating"};

    compile_fields(rb);
    compile_rules(rb);
    if (rb.lead) wf_->lead = static_cast<DepartmentIndex>(*rb.lead);
    for (const auto& m : bundle.members) {
      if (m.kind == BundleMemberKind::retain) wf_->retention = retention_of(*m.retention);
    }
    for (const auto& d : rb.departments) {
      DepartmentModel model;
      model.id = d.declaration->id.text;
      model.title = d.declaration->title ? d.declaration->title->value : d.declaration->id.text;
      model.adapter = d.declaration->adapter ? d.declaration->adapter->text : std::string();
      model.organisation = d.declaration->kind == DepartmentKind::organisation;
      wf_->departments.push_back(std::move(model));
    }
    for (const auto& m : rb.materials) wf_->materials.push_back(material_of(m));
    for (const auto& l : rb.lifecycles) {
      wf_->lifecycles.push_back(lifecycle_of(l));
      wf_->lifecycles.back().build_graph();
    }
    compile_items(rb);
    compile_material_routing();
    if (!order_items()) return wf_;  // a dependency cycle: reported, and nothing after it can be analysed
    analyse_materials();
    analyse_promise(bundle);
    return wf_;
  }

 private:
  const dsl::resolved::Document& document_;
  std::vector<Diagnostic>& findings_;
  const dsl::resolved::Bundle* bundle_ = nullptr;
  std::shared_ptr<Workflow> wf_;

  void finding(Severity severity, const SourceRef& at, std::string code, std::string message) {
    findings_.push_back(Diagnostic{at.file, at.span, severity, std::move(code), std::move(message)});
  }

  // Hash of everything the bundle sees, formatted canonically without comments (the checker
  // formatted each file once): the hash of the hashes of each file's normalised text, in
  // visibility order. Files are hashed once per program however many bundles import them.
  std::string normalised_hash(const dsl::resolved::Bundle& rb) {
    std::string hashes;
    for (const auto u : rb.source_units) {
      auto it = unit_hashes_.find(u);
      if (it == unit_hashes_.end()) it = unit_hashes_.emplace(u, sha256_hex(document_.canonical_sources.at(u))).first;
      hashes += it->second;
    }
    return sha256_hex(hashes);
  }
  std::map<std::size_t, std::string> unit_hashes_;

  MaterialModel material_of(const dsl::resolved::Material& resolved) {
    const Material* m = resolved.declaration;
    MaterialModel model;
    model.id = m->id.text;
    model.title = m->title ? m->title->value : m->id.text;
    model.source_ref = SourceRef{resolved.file, m->id.span};
    model.when = resolved.when;
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
        case MaterialOptionKind::when: break;  // compiled by the checker
      }
    }
    if (resolved.producer) model.producer = static_cast<ItemIndex>(*resolved.producer);
    // Fields are compiled in the resolved bundle's order, so its index is the FieldIndex.
    if (resolved.holder) model.holder = static_cast<FieldIndex>(*resolved.holder);
    return model;
  }

  // `check condition "message"` members, as the checker compiled them.
  void compile_rules(const dsl::resolved::Bundle& rb) {
    for (const auto& r : rb.rules) {
      FormRule rule{r.condition, r.declaration->message->value, r.text, {}, SourceRef{rb.file, r.declaration->span}};
      for (const auto f : r.fields) rule.fields.push_back(static_cast<FieldIndex>(f));
      wf_->rules.push_back(std::move(rule));
    }
  }

  void compile_fields(const dsl::resolved::Bundle& rb) {
    const dsl::Environment constants{};
    for (const auto& f : rb.fields) {
      const Field& declaration = *f.declaration;
      FieldModel model;
      model.name = declaration.name.text;
      model.title = declaration.title ? declaration.title->value : declaration.name.text;
      model.kind = declaration.type.kind;
      const dsl::ast::Type* choices = &declaration.type;
      if (choices->kind == TypeKind::list && !choices->element.empty()) choices = &choices->element.front();
      if (choices->kind == TypeKind::enumeration) {
        for (const auto& v : choices->values) model.choices.push_back(FieldChoice{v.name.text, v.title ? v.title->value : std::string()});
      }
      model.value_type = f.type;
      model.situation = f.situation;
      model.required = f.required;
      model.slot = f.slot;
      model.source_ref = SourceRef{rb.file, declaration.name.span};
      if (f.default_value) {
        if (f.default_value->is_constant()) {
          model.default_value = f.default_value->evaluate(constants);
        } else {
          model.default_expression = f.default_value;
        }
      }
      const auto bound = [&](const std::optional<dsl::CompiledExpression>& e, std::optional<dsl::Value>& value,
                             std::optional<dsl::CompiledExpression>& expression) {
        if (!e) return;
        if (e->is_constant()) {
          value = e->evaluate(constants);
        } else {
          expression = e;
        }
      };
      bound(f.min, model.min, model.min_expression);
      bound(f.max, model.max, model.max_expression);
      for (const auto& o : declaration.options) {
        if (o.kind == FieldOptionKind::pattern) model.pattern = o.text->value;
      }
      model.when = f.when;
      wf_->fields.push_back(std::move(model));
    }
  }

  void compile_items(const dsl::resolved::Bundle& rb) {
    for (const auto& ri : rb.items) {
      ItemModel item;
      item.id = ri.id;
      item.catalog_id = ri.catalog_id;
      item.title = ri.title;
      item.code = ri.code;
      item.kind = ri.kind;
      item.department = static_cast<DepartmentIndex>(ri.department);
      item.immediate = ri.immediate;
      item.promised = limit_of(ri.promised);
      item.statutory = limit_of(ri.statutory);
      item.catalog_promised = limit_of(ri.catalog_promised);
      for (const auto m : ri.needs) item.needs.push_back(static_cast<MaterialIndex>(m));
      for (const auto m : ri.produces) item.produces.push_back(static_cast<MaterialIndex>(m));
      for (const auto& sent : ri.sends) {
        item.sends.push_back(SentValue{sent.kind == dsl::resolved::Sent::Kind::field ? SentValue::Kind::field : SentValue::Kind::material,
                                       static_cast<std::uint32_t>(sent.index), sent.name});
      }
      for (const auto& special : ri.specials) {
        const ItemMember& m = *special.declaration;
        item.specials.push_back(SpecialProcedure{m.names[0].text, m.text ? m.text->value : m.names[0].text, limit_of(special.max),
                                                 m.pauses_clock});
      }
      item.tolerant = ri.tolerant;
      for (const auto d : ri.joint) item.joint.push_back(static_cast<DepartmentIndex>(d));
      item.joint_rule = ri.joint_rule;
      item.lifecycle = static_cast<LifecycleIndex>(ri.lifecycle);
      for (const auto a : ri.after) item.after.push_back(static_cast<ItemIndex>(a));
      item.when = ri.when;
      item.source_ref = SourceRef{rb.file, ri.site->local_name().span};
      wf_->items.push_back(std::move(item));
    }
    for (ItemIndex i = 0; i < wf_->items.size(); ++i) {
      for (const auto before : wf_->items[i].after) wf_->items[before].dependents.push_back(i);
    }
  }

  void compile_material_routing() {
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

  bool order_items() {
    const ItemGraph graph = item_graph(*wf_);
    const auto result = topological_order_or_cycle(graph);
    if (!result.cycle.empty()) {
      std::string path;
      for (const auto i : result.cycle) path += wf_->items[i].id + " -> ";
      path += wf_->items[result.cycle.front()].id;
      finding(Severity::error, wf_->items[result.cycle.front()].source_ref, "dependency-cycle",
              "items of bundle '" + wf_->bundle_id + "' depend on each other in a cycle: " + path);
      return false;
    }
    wf_->topological_order = result.order;
    ancestors_ = ancestors(graph, result.order);
    return true;
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
      const bool by_type = field.kind == TypeKind::idcard || field.kind == TypeKind::phone;
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

void analyse_lifecycle(const dsl::resolved::Lifecycle& resolved, std::vector<Diagnostic>& findings) {
  const std::string& file = resolved.file;
  LifecycleModel model = lifecycle_of(resolved);
  for (std::size_t t = 0; t < resolved.transitions.size(); ++t) {
    const auto& guard = resolved.transitions[t].guard;
    if (guard && guard->is_constant() && !guard->holds(dsl::Environment{})) {
      const LifecycleMember& m = *resolved.transitions[t].declaration;
      const auto option = std::find_if(m.options.begin(), m.options.end(),
                                       [](const TransitionOption& o) { return o.kind == TransitionOptionKind::guard; });
      findings.push_back(Diagnostic{file, option->expr->span, Severity::error, "guard-never-holds",
                                    "this guard is always false, so transition '" + m.name.text + "' can never happen"});
    }
  }
  model.build_graph();
  if (!model.initial) return;  // the checker reported it
  const auto reached = model.reachable_from_initial();
  for (StateIndex s = 0; s < model.states.size(); ++s) {
    const auto& state = model.states[s];
    const auto& span = resolved.states[s]->name.span;
    const auto out = model.transitions_from(s);
    if (!reached[s]) {
      findings.push_back(Diagnostic{file, span, Severity::warning, "unreachable-state",
                                    "state '" + state.id + "' cannot be reached from initial state '" +
                                        model.states[*model.initial].id + "'"});
    }
    if (state.final && !out.empty()) {
      findings.push_back(Diagnostic{file, span, Severity::error, "final-state-exits",
                                    "final state '" + state.id + "' has transitions out of it ('" +
                                        resolved.transitions[out.front()].declaration->name.text + "'); a final state ends the item"});
    }
    if (!state.final && out.empty()) {
      findings.push_back(Diagnostic{file, span, Severity::error, "dead-end-state",
                                    "state '" + state.id + "' is not final and has no transition out of it, so items stop there forever"});
    }
  }
}

}  // namespace

CompileResult compile(const dsl::resolved::Document& document) {
  CompileResult result;
  WorkflowCompiler compiler(document, result.diagnostics);
  for (const auto& lifecycle : document.lifecycles) analyse_lifecycle(lifecycle, result.diagnostics);
  for (const auto& bundle : document.bundles) result.workflows.push_back(compiler.compile(bundle));
  // Drop exact repeats.
  std::set<std::tuple<std::string, std::uint32_t, std::string>> seen;
  std::vector<Diagnostic> unique;
  for (auto& d : result.diagnostics) {
    if (seen.emplace(d.file, d.span.begin, d.message).second) unique.push_back(std::move(d));
  }
  result.diagnostics = std::move(unique);
  return result;
}


// ---------------------------------------------------------------------------------------
// The one entry point

bool CompiledSet::named(const Workflow& workflow) const {
  const auto unit = program->find(workflow.source_ref.file);
  return unit && program->units[*unit].is_root;
}

std::expected<CompiledSet, std::vector<dsl::LocatedDiagnostic>> check_and_compile(dsl::Program program,
                                                                                  const CheckOptions& options) {
  CompiledSet set;
  auto shared = std::make_shared<const dsl::Program>(std::move(program));
  set.program = shared;
  std::vector<Diagnostic> all = shared->diagnostics;
  auto bound = dsl::bind(*shared);
  all.insert(all.end(), std::make_move_iterator(bound.diagnostics.begin()), std::make_move_iterator(bound.diagnostics.end()));
  auto compiled = compile(bound.document);
  all.insert(all.end(), compiled.diagnostics.begin(), compiled.diagnostics.end());
  std::set<const dsl::resolved::Calendar*> reported;
  for (std::size_t i = 0; i < compiled.workflows.size(); ++i) {
    const auto* calendar = bound.document.bundles[i].calendar;
    auto built = build_calendar(calendar);
    if (!built) {
      // Included calendars that disagree, a week without working days …: the calendar cannot
      // count, so neither can the bundles that name it.
      if (reported.insert(calendar).second) {
        all.push_back(Diagnostic{calendar->file, calendar->declaration->id.span, Severity::error, "invalid-calendar", built.error()});
      }
      continue;
    }
    set.workflows.push_back(compiled.workflows[i]);
    set.calendars.push_back(std::make_shared<const WorkCalendar>(std::move(*built)));
  }
  if (options.today_days) {
    auto warnings = calendar_coverage_warnings(bound.document, *options.today_days, options.calendar_warning_days);
    all.insert(all.end(), warnings.begin(), warnings.end());
  }
  set.diagnostics = shared->located(all);
  const bool errors = std::any_of(set.diagnostics.begin(), set.diagnostics.end(),
                                  [](const dsl::LocatedDiagnostic& d) { return d.diagnostic.severity == Severity::error; });
  if (errors) return std::unexpected(std::move(set.diagnostics));
  return set;
}

}  // namespace onevisit::engine
