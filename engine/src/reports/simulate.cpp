#include <onevisit/engine/simulate.hpp>

#include <onevisit/dsl/identifiers.hpp>

#include <chrono>
#include <deque>
#include <random>
#include <set>

namespace onevisit::engine {

using dsl::Value;

namespace {

constexpr Timestamp kMinute = 60'000;

std::string valid_idcard(std::uint64_t n) {
  // Area 330106 (Hangzhou, Xihu), birth 1980-1999, sequence from n.
  char first17[18];
  const int year = 1980 + static_cast<int>(n % 20);
  const int month = 1 + static_cast<int>((n / 20) % 12);
  const int day = 1 + static_cast<int>((n / 240) % 28);
  std::snprintf(first17, sizeof first17, "330106%04d%02d%02d%03d", year, month, day, static_cast<int>(n % 1000));
  return std::string(first17) + *dsl::idcard_check_character(first17);
}

std::string valid_uscc(std::uint64_t n) {
  char first17[18];
  std::snprintf(first17, sizeof first17, "91330106%09llu", static_cast<unsigned long long>(n % 1000000000ULL));
  return std::string(first17) + *dsl::uscc_check_character(first17);
}

// The smallest whole number at or above `d`, and the largest at or below it.
std::int64_t whole_at_least(dsl::Decimal d) {
  const std::int64_t q = d.units / dsl::Decimal::kScale;
  return d.units % dsl::Decimal::kScale > 0 ? q + 1 : q;
}
std::int64_t whole_at_most(dsl::Decimal d) {
  const std::int64_t q = d.units / dsl::Decimal::kScale;
  return d.units % dsl::Decimal::kScale < 0 ? q - 1 : q;
}

// A pattern that cannot be checked is no reason to discard a synthetic value.
bool fits_pattern(const std::string& pattern, const std::string& text) { return dsl::pattern_matches(text, pattern).value_or(true); }

// Values worth trying for a field a check reads: around today for dates, small and large
// amounts, every choice.
std::vector<Value> candidates_for(const FieldModel& f, std::int64_t today) {
  std::vector<Value> out;
  switch (f.value_type.base) {
    case dsl::BaseType::date:
      for (const int offset : {-365, -60, -30, -1, 0, 1, 30, 60, 365}) out.push_back(Value::of_date(today + offset));
      break;
    case dsl::BaseType::integer:
      for (const int n : {0, 1, 2, 10, 100, 1000, 100000}) out.push_back(Value::of_int(n));
      break;
    case dsl::BaseType::decimal:
    case dsl::BaseType::money:
      for (const int n : {0, 1, 100, 10000, 100000, 1000000, 100000000}) out.push_back(Value::of_decimal(dsl::Decimal::from_int(n)));
      break;
    case dsl::BaseType::boolean: out = {Value::of_bool(true), Value::of_bool(false)}; break;
    case dsl::BaseType::enumeration:
      for (const auto& v : *f.value_type.values) out.push_back(Value::of_text(v));
      break;
    default: break;
  }
  for (const auto* bound : {&f.min, &f.max}) {
    if (*bound && !(*bound)->is_null()) out.push_back(**bound);
  }
  return out;
}

// The first check the form breaks, or null.
const FormRule* broken_rule(const Workflow& wf, const std::map<std::string, Value>& form, Timestamp now) {
  if (wf.rules.empty()) return nullptr;
  const auto errors = validate_form(wf, form, now);
  for (const auto& rule : wf.rules) {
    const std::string shown_at = rule.fields.empty() ? std::string() : wf.fields[rule.fields.front()].name;
    const bool broken = std::any_of(errors.begin(), errors.end(), [&](const Rejection::FieldError& e) {
      return e.field == shown_at && e.message == rule.message;
    });
    if (broken) return &rule;
  }
  return nullptr;
}

// Checks across fields (an end date after the start date): for each broken one, other values
// for the fields it reads — one field, then two at a time — until the form keeps every rule
// and bound; otherwise say which check cannot be kept.
std::expected<void, std::string> keep_rules(const Workflow& wf, std::map<std::string, Value>& form, Timestamp now) {
  const std::int64_t today = day_of(now / kMinute);
  for (std::size_t round = 0; round < wf.rules.size() * 2 + 1; ++round) {
    const FormRule* rule = broken_rule(wf, form, now);
    if (!rule) return {};
    // A try counts when the form breaks fewer rules and bounds than before it.
    const std::size_t problems = validate_form(wf, form, now).size();
    const auto clean = [&] { return validate_form(wf, form, now).size() < problems; };
    bool kept = false;
    for (std::size_t a = 0; a < rule->fields.size() && !kept; ++a) {
      const auto& fa = wf.fields[rule->fields[a]];
      const Value before_a = form.count(fa.name) ? form[fa.name] : Value::null_value();
      for (const auto& va : candidates_for(fa, today)) {
        form[fa.name] = va;
        if (clean()) {
          kept = true;
          break;
        }
        for (std::size_t b = a + 1; b < rule->fields.size() && !kept; ++b) {
          const auto& fb = wf.fields[rule->fields[b]];
          const Value before_b = form.count(fb.name) ? form[fb.name] : Value::null_value();
          for (const auto& vb : candidates_for(fb, today)) {
            form[fb.name] = vb;
            if (clean()) {
              kept = true;
              break;
            }
          }
          if (!kept) form[fb.name] = before_b;
        }
        if (kept) break;
      }
      if (!kept) form[fa.name] = before_a;
    }
    if (!kept) {
      return std::unexpected("模拟表单无法满足「" + wf.title + "」的检查“" + rule->message + "”（" + rule->text + "）");
    }
  }
  if (const FormRule* rule = broken_rule(wf, form, now)) {
    return std::unexpected("模拟表单无法满足「" + wf.title + "」的检查“" + rule->message + "”（" + rule->text + "）");
  }
  return {};
}

}  // namespace

std::expected<std::map<std::string, Value>, std::string> synthetic_form(const Workflow& wf, Timestamp now, std::uint64_t seed) {
  std::map<std::string, Value> form;
  const std::int64_t today = day_of(now / kMinute);
  for (const auto& f : wf.fields) {
    if (f.default_value && !f.required) continue;  // let defaults speak
    Value v;
    switch (f.value_type.base) {
      case dsl::BaseType::boolean: v = f.default_value ? *f.default_value : Value::of_bool(true); break;
      case dsl::BaseType::integer: v = f.min && f.min->kind == dsl::ValueKind::integer ? *f.min : Value::of_int(1); break;
      case dsl::BaseType::decimal:
      case dsl::BaseType::money:
        v = f.min && !f.min->is_null() ? Value::of_decimal(f.min->as_decimal()) : Value::of_decimal(dsl::Decimal::from_int(100000));
        if (f.max && !f.max->is_null() && v.as_decimal() > f.max->as_decimal()) v = Value::of_decimal(f.max->as_decimal());
        break;
      case dsl::BaseType::date: v = Value::of_date(today - 30); break;
      case dsl::BaseType::idcard: v = Value::of_text(valid_idcard(seed * 7919 + form.size())); break;
      case dsl::BaseType::uscc: v = Value::of_text(valid_uscc(seed * 104729 + form.size())); break;
      case dsl::BaseType::phone: {
        char phone[16];
        std::snprintf(phone, sizeof phone, "138%08llu", static_cast<unsigned long long>((seed * 7 + form.size()) % 100000000ULL));
        v = Value::of_text(phone);
        break;
      }
      case dsl::BaseType::enumeration:
        v = f.default_value ? *f.default_value : Value::of_text(f.value_type.values->front());
        break;
      case dsl::BaseType::list: v = f.default_value ? *f.default_value : Value::of_list({}); break;
      default: {
        std::string text = f.title + "(模拟)";
        if (!f.pattern.empty()) {
          for (const char* candidate : {"6222020200112233445", "330106000001", "A123456", "123456", "applicant@example.cn",
                                        "0571-88888888", "2026-01-01", "310000", "模拟"}) {
            if (fits_pattern(f.pattern, candidate)) {
              text = candidate;
              break;
            }
          }
        }
        v = Value::of_text(text);
      }
    }
    form[f.name] = std::move(v);
  }
  // Bounds may read today() and other fields (an end date after the start date), which may in
  // turn be bounded: move each value into its bounds, with every other value in view, until
  // nothing moves (a chain of n bounded fields settles in n passes).
  for (std::size_t pass = 0; pass <= wf.fields.size(); ++pass) {
    std::vector<Value> slots(wf.scope().slot_count());
    for (const auto& f : wf.fields) {
      if (auto it = form.find(f.name); it != form.end()) {
        slots[f.slot] = it->second;
      } else if (f.default_value) {
        slots[f.slot] = *f.default_value;
      }
    }
    const dsl::Environment env{slots, today, nullptr};
    bool moved = false;
    for (const auto& f : wf.fields) {
      auto it = form.find(f.name);
      if (it == form.end()) continue;
      Value& v = it->second;
      std::optional<Value> min = f.min, max = f.max;
      if (f.min_expression) min = f.min_expression->evaluate(env);
      if (f.max_expression) max = f.max_expression->evaluate(env);
      const auto clamp_to = [&](const std::optional<Value>& bound, bool lower) {
        if (!bound || bound->is_null()) return;
        if (v.kind == dsl::ValueKind::date && bound->kind == dsl::ValueKind::date) {
          if (lower ? v.integer < bound->integer : v.integer > bound->integer) v.integer = bound->integer, moved = true;
        } else if (v.kind == dsl::ValueKind::integer && (bound->kind == dsl::ValueKind::integer || bound->kind == dsl::ValueKind::decimal)) {
          const auto whole = lower ? whole_at_least(bound->as_decimal()) : whole_at_most(bound->as_decimal());
          if (lower ? v.integer < whole : v.integer > whole) v.integer = whole, moved = true;
        } else if (v.kind == dsl::ValueKind::decimal && (bound->kind == dsl::ValueKind::integer || bound->kind == dsl::ValueKind::decimal)) {
          const auto limit = bound->as_decimal();
          if (lower ? v.as_decimal() < limit : v.as_decimal() > limit) v = Value::of_decimal(limit), moved = true;
        }
      };
      clamp_to(min, true);
      clamp_to(max, false);
    }
    if (!moved) break;
  }
  if (auto kept = keep_rules(wf, form, now); !kept) return std::unexpected(kept.error());
  // What still fails cannot be satisfied by moving values (a minimum above the maximum, a
  // pattern no sample fits): say which field and why, rather than start cases that fail.
  if (const auto errors = validate_form(wf, form, now); !errors.empty()) {
    return std::unexpected("模拟表单无法满足「" + wf.title + "」的规则：" + errors.front().message + "（字段 " + errors.front().field + "）");
  }
  return form;
}

// The shortest path of transitions from `from` to a successful final state, ignoring guards
// (the driver satisfies them by supplying materials) and timed transitions.
std::vector<TransitionIndex> path_to_success(const LifecycleModel& lc, StateIndex from) {
  std::vector<std::optional<std::pair<StateIndex, TransitionIndex>>> previous(lc.states.size());
  std::vector<bool> seen(lc.states.size(), false);
  std::deque<StateIndex> queue{from};
  seen[from] = true;
  while (!queue.empty()) {
    const StateIndex s = queue.front();
    queue.pop_front();
    if (lc.states[s].final && !lc.states[s].failed) {
      std::vector<TransitionIndex> path;
      for (StateIndex at = s; previous[at]; at = previous[at]->first) path.push_back(previous[at]->second);
      std::reverse(path.begin(), path.end());
      return path;
    }
    for (const auto t : lc.transitions_from(s)) {
      const auto& tr = lc.transitions[t];
      if (tr.after) continue;
      if (lc.states[tr.target].pauses_clock) continue;
      if (!seen[tr.target]) {
        seen[tr.target] = true;
        previous[tr.target] = std::make_pair(s, t);
        queue.push_back(tr.target);
      }
    }
  }
  return {};
}

std::optional<TransitionIndex> correction_from(const LifecycleModel& lc, StateIndex from) {
  for (const auto t : lc.transitions_from(from)) {
    const auto& target = lc.states[lc.transitions[t].target];
    // A correction round is a correction, not a wait for the applicant or a special procedure.
    if (!lc.transitions[t].after && target.pauses_clock && target.clock_stop == dsl::ClockStop::correction) return t;
  }
  return std::nullopt;
}

std::map<std::string, std::string> fields_for(const TransitionModel& tr) {
  std::map<std::string, std::string> fields;
  for (const auto& f : tr.required_fields) fields[f] = "模拟:" + f;
  return fields;
}

std::string role_for(const TransitionModel& tr) { return tr.roles.empty() ? "clerk" : tr.roles.front(); }

std::expected<SimulationReport, EngineError> simulate(Engine& engine, VirtualClock& clock, const SimulationOptions& options) {
  SimulationReport report;
  const auto wf = engine.workflow(options.bundle_id);
  if (!wf) return std::unexpected(EngineError{EngineError::Kind::not_found, "no bundle '" + options.bundle_id + "' is deployed", {}, {}});
  std::mt19937_64 random(options.seed);
  std::uniform_real_distribution<double> chance(0.0, 1.0);
  const auto started_wall = std::chrono::steady_clock::now();
  double total_workdays = 0;
  const WorkCalendar& calendar = engine.calendar_of(*wf);

  auto note = [&](const EngineError& e) {
    ++report.rejected_commands;
    if (!report.first_problem.empty()) return;
    report.first_problem = e.message;
    if (e.rejection) {
      for (const auto& f : e.rejection->field_errors) report.first_problem += "; " + f.field + " " + f.message;
    }
  };

  for (std::size_t n = 0; n < options.cases; ++n) {
    const auto synthetic = synthetic_form(*wf, clock.now(), options.seed * 1000003 + n);
    if (!synthetic) return std::unexpected(EngineError{EngineError::Kind::invalid, synthetic.error(), {}, {}});
    const auto& form = *synthetic;
    std::string applicant;
    for (const auto& f : wf->fields) {
      if (f.value_type.base == dsl::BaseType::idcard && form.contains(f.name)) {
        applicant = form.at(f.name).text;
        break;
      }
    }
    auto started = engine.start_case(options.bundle_id, form, applicant, {"", "sim-window", "clerk"});
    ++report.commands;
    if (!started) {
      note(started.error());
      continue;
    }
    ++report.cases_started;
    const std::string id = started->case_id;
    std::set<ItemIndex> corrected;
    for (int round = 0; round < 200; ++round) {
      auto view = engine.get_case(id);
      if (!view) return std::unexpected(view.error());
      const Case& c = view->state;
      if (c.status != CaseStatus::running) break;
      bool acted = false;
      for (ItemIndex i = 0; i < c.items.size() && !acted; ++i) {
        if (c.items[i].phase != ItemPhase::active) continue;
        const auto& model = wf->items[i];
        // Supply what the item needs.
        for (const auto m : model.needs) {
          const auto& material = wf->materials[m];
          const auto status = c.materials[m].status;
          if (material.source == MaterialSource::produced) continue;
          if (status == MaterialStatus::missing || status == MaterialStatus::rejected) {
            const bool elicense = material.source == MaterialSource::elicense;
            const std::string content = "simulated " + material.id + " for " + id;
            auto r = engine.execute(id, AttachMaterial{material.id, elicense ? "" : Engine::content_hash(content), material.id + ".pdf", elicense},
                                    {"", "sim-applicant", "applicant"});
            ++report.commands;
            if (!r) note(r.error());
            acted = true;
          } else if (status == MaterialStatus::submitted) {
            auto r = engine.execute(id, VerifyMaterial{material.id, true, ""}, {"", "sim-clerk", "clerk"});
            ++report.commands;
            if (!r) note(r.error());
            acted = true;
          }
        }
        if (acted) break;
        const auto& lc = wf->lifecycles[model.lifecycle];
        const StateIndex state = c.items[i].state;
        auto fire = [&](TransitionIndex t) {
          const auto& tr = lc.transitions[t];
          // A joint item is approved by its departments' parts (会签), each by its own reviewer.
          if (!model.joint.empty() && tr.event == "approve") {
            bool all_taken = true;
            for (std::size_t p = 0; p < model.joint.size(); ++p) {
              if (p < c.items[i].parts.size() && c.items[i].parts[p].decision != PartDecision::pending) continue;
              const std::string& department = wf->departments[model.joint[p]].id;
              CommandOptions reviewer{"", "sim-" + department, "reviewer"};
              reviewer.department = department;
              auto r = engine.execute(id, DecidePart{model.id, department, true, ""}, reviewer);
              ++report.commands;
              if (!r) note(r.error());
              all_taken = all_taken && r.has_value();
              if (!r) break;
            }
            acted = true;
            return all_taken;
          }
          auto r = engine.execute(id, FireEvent{model.id, tr.event, fields_for(tr)}, {"", "sim", role_for(tr)});
          ++report.commands;
          if (!r) note(r.error());
          acted = true;
          return r.has_value();
        };
        // Each item is picked for a correction round once, with the given chance; the
        // applicant answers it by the shortest way back.
        const bool first_look = corrected.insert(i).second;
        const auto correction = correction_from(lc, state);
        if (!lc.states[state].pauses_clock && first_look && correction && chance(random) < options.correction_rate) {
          report.corrections += fire(*correction);
          break;
        }
        const auto path = path_to_success(lc, state);
        if (!path.empty()) fire(path.front());
      }
      clock.advance(options.step_minutes * kMinute);
      auto fired = engine.fire_due_timers();
      if (fired) report.timers_fired += *fired;
      if (!acted) break;
    }
    auto view = engine.get_case(id);
    if (!view) return std::unexpected(view.error());
    const Case& c = view->state;
    if (c.status == CaseStatus::completed) {
      ++report.cases_completed;
      total_workdays += static_cast<double>(calendar.working_minutes_between(c.started_at / kMinute, c.updated_at / kMinute)) /
                        static_cast<double>(std::max<Minutes>(1, calendar.working_minutes_per_day()));
    }
    for (ItemIndex i = 0; i < c.items.size(); ++i) {
      if (c.items[i].phase != ItemPhase::done) continue;
      ++report.items_finished;
      report.items_on_time += c.items[i].light != Light::red;
    }
  }
  report.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_wall).count();
  report.commands_per_second = report.wall_seconds > 0 ? static_cast<double>(report.commands) / report.wall_seconds : 0;
  report.average_workdays = report.cases_completed ? total_workdays / static_cast<double>(report.cases_completed) : 0;
  report.on_time_rate = report.items_finished ? 100.0 * static_cast<double>(report.items_on_time) / static_cast<double>(report.items_finished) : 0;
  return report;
}

}  // namespace onevisit::engine
