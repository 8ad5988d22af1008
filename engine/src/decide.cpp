// decide: commands to events (or rejections), and the effects derived from a case.
#include <onevisit/engine/runtime.hpp>

#include <onevisit/dsl/identifiers.hpp>
#include <onevisit/dsl/personal_numbers.hpp>

#include <boost/json.hpp>

#include <algorithm>

namespace onevisit::engine {

using dsl::Value;

namespace {

constexpr Timestamp kMillisPerMinute = 60'000;
Minutes minutes_of(Timestamp t) { return t / kMillisPerMinute; }
Timestamp timestamp_of(Minutes m) { return m * kMillisPerMinute; }

Rejection reject(Rejection::Code code, std::string message) { return Rejection{code, std::move(message), {}}; }

using Outcome = std::variant<std::vector<Event>, Rejection>;

std::string names(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& s : list) out += (out.empty() ? "'" : ", '") + s + "'";
  return out;
}

class Decider {
 public:
  Decider(const DecideContext& ctx, const Case& state, const Command& command)
      : ctx_(ctx), wf_(ctx.workflow), state_(state), command_(command) {}

  Outcome run() {
    return std::visit([this](const auto& body) { return decide(body); }, command_.body);
  }

 private:
  const DecideContext& ctx_;
  const Workflow& wf_;
  const Case& state_;
  const Command& command_;
  std::vector<Event> events_;

  Event event(EventBody body) const { return Event{ctx_.now, command_.actor, std::move(body)}; }

  bool running() const { return state_.version > 0 && state_.status == CaseStatus::running; }

  std::optional<Rejection> require_running() const {
    if (state_.version == 0) return reject(Rejection::Code::not_found, "Expected case '" + command_.case_id + "' to exist, but it does not");
    if (state_.status != CaseStatus::running) {
      return reject(Rejection::Code::wrong_state, "Expected case '" + state_.id + "' to be running, but it is " +
                                                      std::string(to_string(state_.status)));
    }
    return std::nullopt;
  }

  std::optional<ItemIndex> item_index(std::string_view id, Rejection& why) const {
    if (auto i = wf_.find_item(id)) return i;
    std::vector<std::string_view> all;
    for (const auto& item : wf_.items) all.push_back(item.id);
    why = reject(Rejection::Code::not_found, "Expected an item of bundle '" + wf_.bundle_id + "', but there is no item '" +
                                                 std::string(id) + "'");
    if (auto guess = dsl::closest_name(id, all); !guess.empty()) why.message += "; did you mean '" + guess + "'?";
    return std::nullopt;
  }

  std::optional<MaterialIndex> material_index(std::string_view id, Rejection& why) const {
    if (auto m = wf_.find_material(id)) return m;
    std::vector<std::string_view> all;
    for (const auto& m : wf_.materials) all.push_back(m.id);
    why = reject(Rejection::Code::not_found, "Expected a material of bundle '" + wf_.bundle_id + "', but there is no material '" +
                                                 std::string(id) + "'");
    if (auto guess = dsl::closest_name(id, all); !guess.empty()) why.message += "; did you mean '" + guess + "'?";
    return std::nullopt;
  }

  // --- follow-ups: after events that finish items, activate, cancel, produce, complete ---

  // Applies the decided events to a scratch copy and appends the consequences until nothing
  // more follows. Only needed when items may have started or finished.
  void settle(Case scratch) {
    for (const auto& e : events_) apply(wf_, scratch, e);
    for (bool changed = true; changed;) {
      changed = false;
      std::vector<Event> more;
      for (ItemIndex i : wf_.topological_order) {
        const ItemState& item = scratch.items[i];
        if (item.phase != ItemPhase::waiting) continue;
        const ItemModel& model = wf_.items[i];
        if (model.when && !model.when->holds(dsl::Environment{scratch.slots, day_of(minutes_of(ctx_.now)), &ctx_.calendar})) {
          more.push_back(event(ItemNotApplicable{i}));
          continue;
        }
        std::optional<ItemIndex> failed;
        bool ready = true;
        for (const auto before : model.after) {
          const ItemState& b = scratch.items[before];
          if (b.phase == ItemPhase::cancelled) failed = before;
          if (b.phase == ItemPhase::done) {
            const auto& lc = wf_.lifecycles[wf_.items[before].lifecycle];
            if (lc.states[b.state].failed) failed = before;
          }
          if (b.phase == ItemPhase::waiting || b.phase == ItemPhase::active) ready = false;
        }
        if (failed) {
          more.push_back(event(ItemCancelled{i, *failed}));
        } else if (ready) {
          more.push_back(event(ItemActivated{i, *wf_.lifecycles[model.lifecycle].initial}));
        }
      }
      // Materials produced by items that finished successfully.
      for (ItemIndex i = 0; i < wf_.items.size(); ++i) {
        const ItemState& item = scratch.items[i];
        if (item.phase != ItemPhase::done) continue;
        if (wf_.lifecycles[wf_.items[i].lifecycle].states[item.state].failed) continue;
        for (const auto m : wf_.items[i].produces) {
          if (scratch.materials[m].status != MaterialStatus::verified) more.push_back(event(MaterialProduced{m, i}));
        }
      }
      if (more.empty() && scratch.status == CaseStatus::running) {
        const bool all_final = std::all_of(scratch.items.begin(), scratch.items.end(), [](const ItemState& s) {
          return s.phase == ItemPhase::done || s.phase == ItemPhase::not_applicable || s.phase == ItemPhase::cancelled;
        });
        if (all_final) more.push_back(event(CaseCompleted{}));
      }
      for (auto& e : more) {
        apply(wf_, scratch, e);
        events_.push_back(std::move(e));
        changed = true;
      }
    }
  }

  // --- commands ---

  Outcome decide(const StartCase& cmd) {
    if (state_.version != 0) return reject(Rejection::Code::wrong_state, "Expected a new case, but case '" + state_.id + "' exists");
    auto errors = validate_form(wf_, cmd.form, ctx_.now);
    if (!errors.empty()) {
      Rejection r = reject(Rejection::Code::invalid_field, "Expected a valid application form, but " +
                                                                std::to_string(errors.size()) + " field" +
                                                                (errors.size() == 1 ? " has a problem" : "s have problems"));
      r.field_errors = std::move(errors);
      return r;
    }
    CaseStarted started;
    started.bundle_id = wf_.bundle_id;
    started.bundle_version = wf_.version;
    started.slots.assign(wf_.scope().slot_count(), Value{});
    const std::int64_t today = day_of(minutes_of(ctx_.now));
    for (const auto& f : wf_.fields) {
      if (auto it = cmd.form.find(f.name); it != cmd.form.end()) {
        started.slots[f.slot] = it->second;
      } else if (f.default_value) {
        started.slots[f.slot] = *f.default_value;
      } else if (f.default_expression) {
        started.slots[f.slot] = f.default_expression->evaluate(dsl::Environment{started.slots, today, &ctx_.calendar});
      }
    }
    started.applicant_masked = dsl::mask_applicant(cmd.applicant);
    events_.push_back(event(std::move(started)));
    Case empty;
    empty.id = command_.case_id;
    settle(std::move(empty));
    return std::move(events_);
  }

  Outcome decide(const AttachMaterial& cmd) {
    // A department's issued document may arrive after the case completed (or was delivered):
    // the call that asks for it goes out with the final transition.
    const bool issued_document = command_.role == "system" && state_.version != 0 &&
                                 (state_.status == CaseStatus::completed || state_.status == CaseStatus::delivered ||
                                  state_.status == CaseStatus::rated);
    if (!issued_document) {
      if (auto r = require_running()) return *r;
    }
    Rejection why;
    const auto m = material_index(cmd.material, why);
    if (!m) return why;
    const bool issued_by_an_item = wf_.materials[*m].producer.has_value();
    if (issued_document && !issued_by_an_item) {
      if (auto r = require_running()) return *r;
    }
    if (cmd.content_hash.empty() && !cmd.from_elicense) return reject(Rejection::Code::invalid, "Expected the material's content, but none was given");
    // The document an item issues comes from the department's own system (its result); it
    // is verified at once, like an e-license, and replaces an older one (a changed licence).
    if (issued_by_an_item && command_.role == "system") {
      if (cmd.content_hash.empty()) return reject(Rejection::Code::invalid, "Expected the issued document's content, but none was given");
      if (state_.materials[*m].content_hash == cmd.content_hash) {
        return reject(Rejection::Code::wrong_state, "Expected a new document for material '" + cmd.material + "', but it has this one already");
      }
      events_.push_back(event(MaterialAttached{*m, cmd.content_hash, cmd.file_name, true}));
      return std::move(events_);
    }
    if (wf_.materials[*m].source == MaterialSource::produced) {
      return reject(Rejection::Code::role_not_allowed, "Expected a material the applicant supplies, but '" + cmd.material +
                                                           "' is produced by an item of the bundle and only its department's system delivers it");
    }
    if (state_.materials[*m].status == MaterialStatus::verified) {
      return reject(Rejection::Code::wrong_state, "Expected material '" + cmd.material + "' to be missing or refused, but it is already verified");
    }
    events_.push_back(event(MaterialAttached{*m, cmd.content_hash, cmd.file_name, cmd.from_elicense}));
    return std::move(events_);
  }

  Outcome decide(const VerifyMaterial& cmd) {
    if (auto r = require_running()) return *r;
    Rejection why;
    const auto m = material_index(cmd.material, why);
    if (!m) return why;
    if (state_.materials[*m].status != MaterialStatus::submitted) {
      return reject(Rejection::Code::wrong_state, "Expected material '" + cmd.material + "' to be submitted, but it is " +
                                                      std::string(to_string(state_.materials[*m].status)));
    }
    if (command_.role == "applicant") return reject(Rejection::Code::role_not_allowed, "Expected a clerk to verify materials, but the role is applicant");
    if (cmd.accept) {
      events_.push_back(event(MaterialVerified{*m}));
    } else {
      if (cmd.reason.empty()) return reject(Rejection::Code::missing_field, "Expected a reason for refusing the material, but none was given");
      events_.push_back(event(MaterialRejected{*m, cmd.reason}));
    }
    return std::move(events_);
  }

  // Finds the transition `event_name` from the item's state that the role may fire and whose
  // guard holds; otherwise says precisely why not.
  std::variant<TransitionIndex, Rejection> choose_transition(const Case& c, ItemIndex i, const std::string& event_name,
                                                             const std::map<std::string, std::string>& fields,
                                                             const std::string& role) const {
    const ItemModel& model = wf_.items[i];
    const ItemState& item = c.items[i];
    if (item.phase != ItemPhase::active) {
      return reject(Rejection::Code::wrong_state, "Expected item '" + model.id + "' to be active, but it is " +
                                                      std::string(to_string(item.phase)));
    }
    const LifecycleModel& lc = wf_.lifecycles[model.lifecycle];
    std::vector<TransitionIndex> candidates;
    std::vector<std::string> allowed_from;
    bool known = false;
    for (TransitionIndex t = 0; t < lc.transitions.size(); ++t) {
      const auto& tr = lc.transitions[t];
      if (tr.event != event_name) continue;
      known = true;
      for (const auto s : tr.sources) allowed_from.push_back(lc.states[s].id);
      if (std::find(tr.sources.begin(), tr.sources.end(), item.state) != tr.sources.end()) candidates.push_back(t);
    }
    if (!known) {
      std::vector<std::string> available;
      for (const auto t : lc.transitions_from(item.state)) available.push_back(lc.transitions[t].event);
      return reject(Rejection::Code::not_found, "Expected an event of lifecycle '" + lc.id + "', but there is no event '" +
                                                    event_name + "' (from '" + lc.states[item.state].id + "': " +
                                                    (available.empty() ? "none" : names(available)) + ")");
    }
    if (candidates.empty()) {
      std::sort(allowed_from.begin(), allowed_from.end());
      allowed_from.erase(std::unique(allowed_from.begin(), allowed_from.end()), allowed_from.end());
      return reject(Rejection::Code::wrong_state, "Expected item '" + model.id + "' in " + names(allowed_from) + " for '" + event_name +
                                                      "', but it is in '" + lc.states[item.state].id + "'");
    }
    std::optional<Rejection> first_problem;
    for (const auto t : candidates) {
      const auto& tr = lc.transitions[t];
      if (!tr.roles.empty() && role != "system" && std::find(tr.roles.begin(), tr.roles.end(), role) == tr.roles.end()) {
        if (!first_problem) {
          first_problem = reject(Rejection::Code::role_not_allowed, "Expected role " + names(tr.roles) + " for '" + event_name +
                                                                        "', but the role is '" + role + "'");
        }
        continue;
      }
      if (tr.guard) {
        const auto slots = guard_slots(wf_, ctx_.calendar, c, i, ctx_.now);
        const dsl::Environment env{slots, day_of(minutes_of(ctx_.now)), &ctx_.calendar};
        if (!tr.guard->holds(env)) {
          if (!first_problem || first_problem->code == Rejection::Code::role_not_allowed) {
            std::string values;
            const auto& scope_names = wf_.guard_scope().slot_names();
            for (const auto slot : tr.guard->referenced_slots()) {
              values += (values.empty() ? "" : ", ") + scope_names[slot] + " = " + dsl::to_string(slots[slot]);
            }
            first_problem = reject(Rejection::Code::guard_false, "Expected '" + tr.guard_text + "' for '" + event_name +
                                                                     "', but it is false (" + values + ")");
          }
          continue;
        }
      }
      for (const auto& required : tr.required_fields) {
        const auto it = fields.find(required);
        if (it == fields.end() || it->second.empty()) {
          return reject(Rejection::Code::missing_field, "Expected '" + required + "' for '" + event_name + "', but none was given");
        }
      }
      return t;
    }
    return *first_problem;
  }

  Outcome fire(const Case& c, ItemIndex i, const std::string& event_name, const std::map<std::string, std::string>& fields,
               const std::string& role) {
    auto chosen = choose_transition(c, i, event_name, fields, role);
    if (auto* r = std::get_if<Rejection>(&chosen)) return std::move(*r);
    const auto t = std::get<TransitionIndex>(chosen);
    const auto& lc = wf_.lifecycles[wf_.items[i].lifecycle];
    const auto& tr = lc.transitions[t];
    events_.push_back(event(ItemTransitioned{i, t, c.items[i].state, tr.target, fields}));
    if (lc.states[tr.target].final) settle(state_);
    return std::move(events_);
  }

  Outcome decide(const FireEvent& cmd) {
    if (auto r = require_running()) return *r;
    Rejection why;
    const auto i = item_index(cmd.item, why);
    if (!i) return why;
    return fire(state_, *i, cmd.event, cmd.fields, command_.role);
  }

  Outcome decide(const TolerantIntake& cmd) {
    if (auto r = require_running()) return *r;
    Rejection why;
    const auto i = item_index(cmd.item, why);
    if (!i) return why;
    const ItemModel& model = wf_.items[*i];
    if (!model.tolerant) return reject(Rejection::Code::invalid, "Expected an item that allows tolerant intake (容缺), but '" + model.id + "' does not");
    if (cmd.pending.empty()) return reject(Rejection::Code::invalid, "Expected the materials to accept as pending, but none were named");
    Case scratch = state_;
    for (const auto& name : cmd.pending) {
      const auto m = material_index(name, why);
      if (!m) return why;
      if (std::find(model.needs.begin(), model.needs.end(), *m) == model.needs.end()) {
        return reject(Rejection::Code::invalid, "Expected a material item '" + model.id + "' needs, but it does not need '" + name + "'");
      }
      if (!wf_.materials[*m].secondary) {
        return reject(Rejection::Code::missing_material, "Expected a secondary material (非主审要件) to accept as pending, but '" + name +
                                                             "' is a main material and must be supplied");
      }
      const auto status = state_.materials[*m].status;
      if (status != MaterialStatus::missing && status != MaterialStatus::rejected) {
        return reject(Rejection::Code::wrong_state, "Expected material '" + name + "' to be missing, but it is " + std::string(to_string(status)));
      }
      events_.push_back(event(MaterialTolerated{*m, *i}));
      apply(wf_, scratch, events_.back());
    }
    auto chosen = choose_transition(scratch, *i, cmd.event, cmd.fields, command_.role);
    if (auto* r = std::get_if<Rejection>(&chosen)) return std::move(*r);
    const auto t = std::get<TransitionIndex>(chosen);
    const auto& tr = wf_.lifecycles[model.lifecycle].transitions[t];
    events_.push_back(event(ItemTransitioned{*i, t, scratch.items[*i].state, tr.target, cmd.fields}));
    if (wf_.lifecycles[model.lifecycle].states[tr.target].final) settle(state_);
    return std::move(events_);
  }

  std::variant<std::vector<ItemIndex>, Rejection> clock_items(const std::string& item_id) const {
    std::vector<ItemIndex> out;
    if (!item_id.empty()) {
      Rejection why;
      const auto i = item_index(item_id, why);
      if (!i) return why;
      if (state_.items[*i].phase != ItemPhase::active) {
        return reject(Rejection::Code::wrong_state, "Expected item '" + item_id + "' to be active, but it is " +
                                                        std::string(to_string(state_.items[*i].phase)));
      }
      out.push_back(*i);
      return out;
    }
    for (ItemIndex i = 0; i < state_.items.size(); ++i) {
      if (state_.items[i].phase == ItemPhase::active) out.push_back(i);
    }
    return out;
  }

  Outcome decide(const PauseClock& cmd) {
    if (auto r = require_running()) return *r;
    if (cmd.reason.empty()) return reject(Rejection::Code::missing_field, "Expected a reason for stopping the clock, but none was given");
    auto items = clock_items(cmd.item);
    if (auto* r = std::get_if<Rejection>(&items)) return std::move(*r);
    for (const auto i : std::get<std::vector<ItemIndex>>(items)) {
      if (!state_.items[i].paused_by_clerk) events_.push_back(event(ClockPaused{i, cmd.reason}));
    }
    if (events_.empty()) return reject(Rejection::Code::wrong_state, "Expected a running clock, but every clock named is already stopped");
    return std::move(events_);
  }

  Outcome decide(const ResumeClock& cmd) {
    if (auto r = require_running()) return *r;
    auto items = clock_items(cmd.item);
    if (auto* r = std::get_if<Rejection>(&items)) return std::move(*r);
    for (const auto i : std::get<std::vector<ItemIndex>>(items)) {
      if (state_.items[i].paused_by_clerk) events_.push_back(event(ClockResumed{i}));
    }
    if (events_.empty()) return reject(Rejection::Code::wrong_state, "Expected a clock stopped by a clerk, but none is");
    return std::move(events_);
  }

  Outcome decide(const Withdraw& cmd) {
    if (auto r = require_running()) return *r;
    if (command_.role != "applicant" && command_.role != "clerk" && command_.role != "system") {
      return reject(Rejection::Code::role_not_allowed, "Expected the applicant or a window clerk to withdraw, but the role is '" + command_.role + "'");
    }
    events_.push_back(event(CaseWithdrawn{cmd.reason}));
    return std::move(events_);
  }

  Outcome decide(const Deliver& cmd) {
    if (state_.version == 0) return reject(Rejection::Code::not_found, "Expected case '" + command_.case_id + "' to exist, but it does not");
    if (state_.status != CaseStatus::completed) {
      return reject(Rejection::Code::wrong_state, "Expected a completed case to deliver, but it is " + std::string(to_string(state_.status)));
    }
    static const std::vector<std::string> kChannels{"window", "mail", "electronic"};
    if (std::find(kChannels.begin(), kChannels.end(), cmd.channel) == kChannels.end()) {
      return reject(Rejection::Code::invalid, "Expected a delivery channel (window, mail or electronic), but got '" + cmd.channel + "'");
    }
    events_.push_back(event(CaseDelivered{cmd.channel}));
    return std::move(events_);
  }

  Outcome decide(const Rate& cmd) {
    if (state_.version == 0) return reject(Rejection::Code::not_found, "Expected case '" + command_.case_id + "' to exist, but it does not");
    if (state_.status != CaseStatus::delivered) {
      return reject(Rejection::Code::wrong_state, "Expected a delivered case to rate, but it is " + std::string(to_string(state_.status)));
    }
    if (cmd.level < 1 || cmd.level > 5) return reject(Rejection::Code::invalid, "Expected a rating from 1 to 5, but got " + std::to_string(cmd.level));
    CaseRated rated{cmd.level, cmd.comment, std::nullopt};
    if (cmd.level <= wf_.rating.bad_at_most) {
      // 差评整改: a rectification task due within the bundle's limit, in working days.
      const auto day = ctx_.calendar.due_day_for_limit(day_of(minutes_of(ctx_.now)), wf_.rating.rectify_within.amount);
      const auto hours = ctx_.calendar.hours();
      rated.rectification_due = timestamp_of(at_time(day) + (hours.empty() ? 17 * 60 + 30 : hours.back().to));
      if (cmd.comment.empty()) return reject(Rejection::Code::missing_field, "Expected a comment with a bad rating, but none was given");
    }
    events_.push_back(event(std::move(rated)));
    return std::move(events_);
  }

  Outcome decide(const ErasePersonalData&) {
    if (state_.version == 0) return reject(Rejection::Code::not_found, "Expected case '" + command_.case_id + "' to exist, but it does not");
    if (command_.role != "system" && command_.role != "admin") {
      return reject(Rejection::Code::role_not_allowed, "Expected the retention run (system) or an admin to erase personal data, but the role is '" + command_.role + "'");
    }
    if (!wf_.retention) {
      return reject(Rejection::Code::wrong_state, "Expected bundle " + wf_.bundle_id + " to retain personal data for a set time ('retain ...'), but it sets none");
    }
    if (state_.personal_data_erased_at != 0) {
      return reject(Rejection::Code::wrong_state, "Expected a case with personal data to erase, but case '" + command_.case_id + "' was erased already");
    }
    if (state_.status == CaseStatus::running) {
      return reject(Rejection::Code::wrong_state, "Expected a closed case, but case '" + command_.case_id + "' is running (an open case is never erased)");
    }
    const auto ends = retention_ends(wf_, state_);
    if (!ends || ctx_.now < *ends) {
      return reject(Rejection::Code::wrong_state,
                    "Expected the case's retention (" + wf_.retention->text + " after its last change) to have ended, but it has not");
    }
    events_.push_back(event(PersonalDataErased{wf_.retention->personal, wf_.retention->text}));
    return std::move(events_);
  }

  Outcome decide(const TimerFired& cmd) {
    // Timer ids: i<item>.warn, i<item>.overdue, i<item>.t<transition>@<entered_at>
    if (!running()) return std::move(events_);  // nothing to do for a finished case
    const auto& id = cmd.timer_id;
    if (id.size() < 2 || id[0] != 'i') return reject(Rejection::Code::invalid, "Expected a timer id, but got '" + id + "'");
    const auto dot = id.find('.');
    if (dot == std::string::npos) return reject(Rejection::Code::invalid, "Expected a timer id, but got '" + id + "'");
    ItemIndex i = 0;
    try {
      i = static_cast<ItemIndex>(std::stoul(id.substr(1, dot - 1)));
    } catch (...) {
      return reject(Rejection::Code::invalid, "Expected a timer id, but got '" + id + "'");
    }
    if (i >= state_.items.size() || state_.items[i].phase != ItemPhase::active) return std::move(events_);
    const ItemState& item = state_.items[i];
    const std::string kind = id.substr(dot + 1);
    if (kind == "warn" || kind == "overdue") {
      const Timestamp due = due_at(wf_, ctx_.calendar, state_, i);
      if (!due) return std::move(events_);  // paused meanwhile
      if (kind == "overdue") {
        if (ctx_.now >= due && item.light != Light::red) events_.push_back(event(ItemOverdue{i}));
      } else if (item.light == Light::none) {
        const auto instant = warn_instant(i);
        if (instant && ctx_.now >= *instant) events_.push_back(event(ItemWarned{i}));
      }
      return std::move(events_);
    }
    if (kind.size() > 1 && kind[0] == 't') {
      const auto at = kind.find('@');
      if (at == std::string::npos) return reject(Rejection::Code::invalid, "Expected a timer id, but got '" + id + "'");
      TransitionIndex t = 0;
      Timestamp entered = 0;
      try {
        t = static_cast<TransitionIndex>(std::stoul(kind.substr(1, at - 1)));
        entered = std::stoll(kind.substr(at + 1));
      } catch (...) {
        return reject(Rejection::Code::invalid, "Expected a timer id, but got '" + id + "'");
      }
      const auto& lc = wf_.lifecycles[wf_.items[i].lifecycle];
      if (t >= lc.transitions.size() || item.state_entered_at != entered) return std::move(events_);  // the item moved on
      const auto& tr = lc.transitions[t];
      if (std::find(tr.sources.begin(), tr.sources.end(), item.state) == tr.sources.end()) return std::move(events_);
      if (tr.guard) {
        const auto slots = guard_slots(wf_, ctx_.calendar, state_, i, ctx_.now);
        if (!tr.guard->holds(dsl::Environment{slots, day_of(minutes_of(ctx_.now)), &ctx_.calendar})) return std::move(events_);
      }
      events_.push_back(event(ItemTransitioned{i, t, item.state, tr.target, {}}));
      if (lc.states[tr.target].final) settle(state_);
      return std::move(events_);
    }
    return reject(Rejection::Code::invalid, "Expected a timer id, but got '" + id + "'");
  }

  std::optional<Timestamp> warn_instant(ItemIndex i) const { return warning_time(wf_, ctx_.calendar, state_, i); }

 public:
  static std::optional<Timestamp> warning_time(const Workflow& wf, const WorkCalendar& calendar, const Case& c, ItemIndex i) {
    const Timestamp due = due_at(wf, calendar, c, i);
    if (!due) return std::nullopt;
    const auto& lc = wf.lifecycles[wf.items[i].lifecycle];
    const ItemState& item = c.items[i];
    if (lc.warn_percent) {
      // The share of the working time between start and deadline (pauses excluded).
      const Minutes start = minutes_of(item.started_at);
      std::int64_t paused = 0;
      for (const auto& [from, to] : item.pauses) paused += calendar.working_minutes_between(minutes_of(from), minutes_of(to));
      const std::int64_t total = calendar.working_minutes_between(start, minutes_of(due)) - paused;
      const std::int64_t share = total * lc.warn_percent->units / (100 * dsl::Decimal::kScale);
      return timestamp_of(calendar.add_working_minutes(start, share + paused));
    }
    if (lc.warn_left) {
      // Counted back from the deadline: the instant when this much working time is left.
      const std::int64_t left = lc.warn_left->unit == dsl::ast::TimeUnit::hour
                                    ? lc.warn_left->amount.units * 60 / dsl::Decimal::kScale
                                    : lc.warn_left->approximate_workdays().units * calendar.working_minutes_per_day() / dsl::Decimal::kScale;
      const Minutes start = minutes_of(item.started_at);
      const std::int64_t total = calendar.working_minutes_between(start, minutes_of(due));
      return timestamp_of(calendar.add_working_minutes(start, std::max<std::int64_t>(0, total - left)));
    }
    return std::nullopt;
  }
};

}  // namespace

std::variant<std::vector<Event>, Rejection> decide(const DecideContext& context, const Case& state, const Command& command) {
  return Decider(context, state, command).run();
}

// ---------------------------------------------------------------------------------------
// Effects

std::vector<TimerRecord> timers_for(const Workflow& wf, const WorkCalendar& calendar, const Case& c) {
  std::vector<TimerRecord> timers;
  if (c.status != CaseStatus::running) return timers;
  for (ItemIndex i = 0; i < c.items.size(); ++i) {
    const ItemState& item = c.items[i];
    if (item.phase != ItemPhase::active) continue;
    const std::string prefix = "i" + std::to_string(i) + ".";
    if (const Timestamp due = due_at(wf, calendar, c, i)) {
      if (item.light != Light::red) timers.push_back(TimerRecord{c.id, prefix + "overdue", due, "{}"});
      if (item.light == Light::none) {
        if (auto warn = Decider::warning_time(wf, calendar, c, i)) timers.push_back(TimerRecord{c.id, prefix + "warn", *warn, "{}"});
      }
    }
    const auto& lc = wf.lifecycles[wf.items[i].lifecycle];
    for (const auto t : lc.transitions_from(item.state)) {
      const auto& tr = lc.transitions[t];
      if (!tr.after) continue;
      Minutes at = minutes_of(item.state_entered_at);
      switch (tr.after->unit) {
        case dsl::ast::TimeUnit::workday: at = calendar.add_working_time(at, tr.after->amount); break;
        case dsl::ast::TimeUnit::day: at += tr.after->amount.units * kMinutesPerDay / dsl::Decimal::kScale; break;
        case dsl::ast::TimeUnit::hour: at = calendar.add_working_minutes(at, tr.after->amount.units * 60 / dsl::Decimal::kScale); break;
      }
      timers.push_back(TimerRecord{c.id, prefix + "t" + std::to_string(t) + "@" + std::to_string(item.state_entered_at),
                                   timestamp_of(at), "{}"});
    }
  }
  return timers;
}

std::vector<ItemRow> item_rows(const Workflow& wf, const WorkCalendar& calendar, const Case& c) {
  std::vector<ItemRow> rows;
  rows.reserve(c.items.size());
  for (ItemIndex i = 0; i < c.items.size(); ++i) {
    const ItemState& item = c.items[i];
    const ItemModel& model = wf.items[i];
    const auto& lc = wf.lifecycles[model.lifecycle];
    ItemRow row;
    row.item_id = model.id;
    row.department = wf.departments[model.department].id;
    row.state = item.phase == ItemPhase::active || item.phase == ItemPhase::done ? lc.states[item.state].id
                                                                                  : std::string(to_string(item.phase));
    row.final = item.phase != ItemPhase::active;
    row.due_at = due_at(wf, calendar, c, i);
    row.light = item.light == Light::red ? "red" : item.light == Light::yellow ? "yellow" : "";
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<OutboxRecord> outbox_for(const Workflow& wf, const Case& c, const std::vector<Event>& events,
                                     std::uint64_t first_sequence) {
  std::vector<OutboxRecord> out;
  auto add = [&](const ActionModel& action, ItemIndex i, std::uint64_t sequence, std::size_t index) {
    const ItemModel& model = wf.items[i];
    OutboxRecord r;
    r.case_id = c.id;
    r.idempotency_key = c.id + "/" + model.id + "/" + std::to_string(sequence) + "/" + std::to_string(index);
    if (action.kind == ActionModel::Kind::call) {
      const auto& dept = action.department == "dept" ? wf.departments[model.department] : [&]() -> const DepartmentModel& {
        for (const auto& d : wf.departments) {
          if (d.id == action.department) return d;
        }
        return wf.departments[model.department];
      }();
      r.department = dept.id;
      r.adapter = dept.adapter;
      r.operation = action.operation;
    } else {
      r.department = wf.departments[model.department].id;
      r.adapter = "notify";
      r.operation = action.kind == ActionModel::Kind::notify ? "notify" : "escalate";
    }
    // The department receives just what the item `sends`: form values as the applicant gave
    // them, materials as their content hash and status (collected once, reused by many).
    boost::json::object payload{{"case", c.id}, {"item", model.id}, {"item_code", model.code}, {"bundle", wf.bundle_id}};
    if (!action.role.empty()) payload["role"] = action.role;
    if (!action.message.empty()) payload["message"] = action.message;
    // A notice to the applicant needs an address: the first mobile number on the form.
    if (action.kind == ActionModel::Kind::notify && action.role == "applicant") {
      for (const auto& f : wf.fields) {
        const auto& value = c.slots[f.slot];
        if (f.value_type.base == dsl::BaseType::phone && value.kind == dsl::ValueKind::text && !value.text.empty()) {
          payload["phone"] = value.text;
          break;
        }
      }
    }
    boost::json::object fields, materials;
    for (const auto& sent : model.sends) {
      if (sent.kind == SentValue::Kind::field) {
        const auto& value = c.slots[wf.fields[sent.index].slot];
        if (value.is_null()) continue;
        fields[sent.name] = value.kind == dsl::ValueKind::text ? boost::json::value(value.text) : boost::json::value(dsl::to_string(value));
      } else {
        const auto& m = c.materials[sent.index];
        materials[sent.name] = boost::json::object{{"status", std::string(to_string(m.status))}, {"sha256", m.content_hash}, {"file", m.file_name}};
      }
    }
    payload["fields"] = std::move(fields);
    payload["materials"] = std::move(materials);
    // The documents the department is to issue for this item (it answers with them).
    if (action.kind == ActionModel::Kind::call && !model.produces.empty()) {
      boost::json::array produces;
      for (const auto m : model.produces) produces.push_back(boost::json::string(wf.materials[m].id));
      payload["produces"] = std::move(produces);
    }
    r.payload = boost::json::serialize(payload);
    out.push_back(std::move(r));
  };
  for (std::size_t k = 0; k < events.size(); ++k) {
    const std::uint64_t sequence = first_sequence + k;
    if (const auto* t = std::get_if<ItemTransitioned>(&events[k].body)) {
      const auto& tr = wf.lifecycles[wf.items[t->item].lifecycle].transitions[t->transition];
      for (std::size_t a = 0; a < tr.actions.size(); ++a) add(tr.actions[a], t->item, sequence, a);
    } else if (const auto* w = std::get_if<ItemWarned>(&events[k].body)) {
      const auto& lc = wf.lifecycles[wf.items[w->item].lifecycle];
      for (std::size_t a = 0; a < lc.on_warning.size(); ++a) add(lc.on_warning[a], w->item, sequence, a);
    } else if (const auto* o = std::get_if<ItemOverdue>(&events[k].body)) {
      const auto& lc = wf.lifecycles[wf.items[o->item].lifecycle];
      for (std::size_t a = 0; a < lc.on_overdue.size(); ++a) add(lc.on_overdue[a], o->item, sequence, a);
    }
  }
  return out;
}

}  // namespace onevisit::engine
