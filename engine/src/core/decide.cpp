// decide: commands to events (or rejections), and the effects derived from a case.
#include <onevisit/engine/runtime.hpp>

#include <onevisit/dsl/identifiers.hpp>
#include <onevisit/dsl/personal_numbers.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <span>

namespace onevisit::engine {

using dsl::Value;

namespace {

constexpr Timestamp kMillisPerMinute = 60'000;
Minutes minutes_of(Timestamp t) { return t / kMillisPerMinute; }
Timestamp timestamp_of(Minutes m) { return m * kMillisPerMinute; }

using Details = std::map<std::string, std::vector<std::string>>;

// A refusal (runtime.hpp): `message` for people, `reason` and `details` for programs,
// `detail` for logs.
Rejection reject(Rejection::Code code, std::string reason, std::string message, std::string detail, Details details = {}) {
  Rejection r;
  r.code = code;
  r.message = std::move(message);
  r.detail = std::move(detail);
  r.reason = std::move(reason);
  r.details = std::move(details);
  return r;
}

// 「title」: how messages for people name an item, a material, a state or a field.
std::string quoted(std::string_view title) { return "「" + std::string(title) + "」"; }

std::string joined(const std::vector<std::string>& titles) {
  std::string out;
  for (const auto& t : titles) out += (out.empty() ? "" : "、") + t;
  return out;
}

std::string state_title(const LifecycleModel& lc, StateIndex s) {
  return quoted(lc.states[s].title.empty() ? lc.states[s].id : lc.states[s].title);
}

// Client-given text repeated in a message: one line at most, personal numbers masked.
std::string shown(std::string_view text) { return dsl::truncate_utf8(dsl::mask_personal_numbers(text), 64); }

using Outcome = std::variant<std::vector<Event>, Rejection>;

// A limit as people read it: 3个工作日, 5天, 2小时.
std::string limit_text(const Limit& limit) {
  switch (limit.unit) {
    case dsl::TimeUnit::workday: return limit.amount.to_string() + "个工作日";
    case dsl::TimeUnit::day: return limit.amount.to_string() + "天";
    case dsl::TimeUnit::hour: return limit.amount.to_string() + "小时";
  }
  return limit.amount.to_string();
}

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
    if (state_.version == 0) return no_case();
    if (state_.status != CaseStatus::running) {
      return reject(Rejection::Code::wrong_state, "case_closed",
                    "办件" + state_.id + std::string(title_of(state_.status)) + "，不能再办理。如需继续办理，请重新受理一件新的申请。",
                    "Expected case '" + state_.id + "' to be running, but it is " + std::string(to_string(state_.status)),
                    {{"status", {std::string(to_string(state_.status))}}});
    }
    return std::nullopt;
  }

  Rejection no_case() const {
    return reject(Rejection::Code::not_found, "no_case", "没有找到办件" + shown(command_.case_id) + "，请核对办件编号。",
                  "Expected case '" + command_.case_id + "' to exist, but it does not");
  }

  std::string item_title(ItemIndex i) const { return quoted(wf_.items[i].title); }
  std::string material_title(MaterialIndex m) const { return quoted(wf_.materials[m].title); }

  Rejection item_not_active(ItemIndex i, ItemPhase phase) const {
    std::string why;
    switch (phase) {
      case ItemPhase::waiting: why = "还在等待前置事项办结，前置事项办结后才能办理。"; break;
      case ItemPhase::not_applicable: why = "按本件的情形不需要办理。"; break;
      case ItemPhase::done: why = "已经办结。"; break;
      case ItemPhase::cancelled: why = "因前置事项未通过已取消，不能再办理。"; break;
      case ItemPhase::active: break;
    }
    return reject(Rejection::Code::wrong_state, "item_not_active", item_title(i) + why,
                  "Expected item '" + wf_.items[i].id + "' to be active, but it is " + std::string(to_string(phase)),
                  {{"item", {wf_.items[i].id}}, {"phase", {std::string(to_string(phase))}}});
  }

  // Why a guard is false, for people: the materials it waits for by title (to supply, or to
  // verify), else the condition as written.
  Rejection guard_refusal(const Case& c, ItemIndex i, const TransitionModel& tr, const std::string& event_name,
                          const std::vector<Value>& slots) const {
    const auto& scope_names = wf_.guard_scope().slot_names();
    bool wants_complete = false, wants_verified = false;
    for (const auto slot : tr.guard->referenced_slots()) {
      const bool unmet = slots[slot].kind == dsl::ValueKind::boolean && !slots[slot].boolean;
      wants_complete = wants_complete || (unmet && scope_names[slot] == "materials.complete");
      wants_verified = wants_verified || (unmet && scope_names[slot] == "materials.verified");
    }
    std::vector<std::string> missing, missing_titles, unverified, unverified_titles;
    for (const auto m : wf_.items[i].needs) {
      if (!material_applies(wf_, c, m)) continue;
      const auto status = c.materials[m].status;
      const bool supplied = status == MaterialStatus::submitted || status == MaterialStatus::verified ||
                            (status == MaterialStatus::tolerated && !wants_verified);
      if ((wants_complete || wants_verified) && !supplied) {
        missing.push_back(wf_.materials[m].id);
        missing_titles.push_back(wf_.materials[m].title);
      } else if (wants_verified && status == MaterialStatus::submitted) {
        unverified.push_back(wf_.materials[m].id);
        unverified_titles.push_back(wf_.materials[m].title);
      }
    }
    const std::string action = tr.title;
    if (!missing.empty() || !unverified.empty()) {
      std::string message;
      if (!missing.empty()) message += "还缺以下材料：" + joined(missing_titles) + "。";
      if (!unverified.empty()) message += "以下材料尚未核验：" + joined(unverified_titles) + "。";
      message += "请先";
      if (!missing.empty()) message += unverified.empty() ? "收取或调取这些材料" : "收取或调取缺少的材料";
      if (!unverified.empty()) message += missing.empty() ? "核验这些材料" : "，并核验已提交的材料";
      message += "，再" + action + item_title(i) + "。";
      return reject(Rejection::Code::guard_false, missing.empty() ? "materials_unverified" : "materials_incomplete", message, "",
                    {{"item", {wf_.items[i].id}}, {"materials", missing}, {"unverified", unverified}});
    }
    return reject(Rejection::Code::guard_false, "guard_false",
                  item_title(i) + "现在不能" + quoted(action) + "：办理条件（" + tr.guard_text + "）不满足。", "",
                  {{"item", {wf_.items[i].id}}, {"event", {event_name}}});
  }

  Rejection bad_timer(const std::string& id) const {
    return reject(Rejection::Code::invalid, "bad_timer", "计时器编号无效（" + shown(id) + "）。", "Expected a timer id, but got '" + id + "'");
  }

  std::optional<ItemIndex> item_index(std::string_view id, Rejection& why) const {
    if (auto i = wf_.find_item(id)) return i;
    std::vector<std::string_view> all;
    for (const auto& item : wf_.items) all.push_back(item.id);
    why = reject(Rejection::Code::not_found, "no_item", quoted(wf_.title) + "没有这个事项（" + shown(id) + "）。",
                 "Expected an item of bundle '" + wf_.bundle_id + "', but there is no item '" + std::string(id) + "'",
                 {{"item", {std::string(id)}}});
    if (auto guess = dsl::closest_name(id, all); !guess.empty()) {
      why.detail += "; did you mean '" + guess + "'?";
      why.message += "是否指" + item_title(*wf_.find_item(guess)) + "？";
    }
    return std::nullopt;
  }

  std::optional<MaterialIndex> material_index(std::string_view id, Rejection& why) const {
    if (auto m = wf_.find_material(id)) return m;
    std::vector<std::string_view> all;
    for (const auto& m : wf_.materials) all.push_back(m.id);
    why = reject(Rejection::Code::not_found, "no_material", quoted(wf_.title) + "没有这项材料（" + shown(id) + "）。",
                 "Expected a material of bundle '" + wf_.bundle_id + "', but there is no material '" + std::string(id) + "'",
                 {{"material", {std::string(id)}}});
    if (auto guess = dsl::closest_name(id, all); !guess.empty()) {
      why.detail += "; did you mean '" + guess + "'?";
      why.message += "是否指" + material_title(*wf_.find_material(guess)) + "？";
    }
    return std::nullopt;
  }

  // --- follow-ups: after events that finish items, activate, cancel, produce, complete ---

  // Applies the decided events to a scratch copy and appends the consequences until nothing
  // more follows. Only needed when items may have started or finished.
  void settle(Case&& scratch) {
    for (const auto& e : events_) apply(wf_, scratch, e);
    settle_applied(scratch, scratch.slots);
  }

  // The same from the current state, on a scratch copy of only what settling reads (items,
  // materials, status): the form's values are read from `from` itself, and the texts are
  // left out — a whole copy was a fifth of a command's time. Events that write the form's
  // values (the start, an erasure) get a whole copy.
  void settle(const Case& from) {
    const bool writes_form = std::any_of(events_.begin(), events_.end(), [](const Event& e) {
      return std::holds_alternative<CaseStarted>(e.body) || std::holds_alternative<PersonalDataErased>(e.body);
    });
    if (writes_form) return settle(Case(from));
    Case scratch;
    scratch.version = from.version;
    scratch.status = from.status;
    scratch.started_at = from.started_at;
    scratch.updated_at = from.updated_at;
    scratch.bundle_version = from.bundle_version;
    scratch.calendar_version = from.calendar_version;
    scratch.materials = from.materials;
    scratch.items = from.items;
    for (const auto& e : events_) apply(wf_, scratch, e);
    settle_applied(scratch, from.slots);
  }

  void settle_applied(Case& scratch, std::span<const dsl::Value> form) {
    for (bool changed = true; changed;) {
      changed = false;
      std::vector<Event> more;
      for (ItemIndex i : wf_.topological_order) {
        const ItemState& item = scratch.items[i];
        if (item.phase != ItemPhase::waiting) continue;
        const ItemModel& model = wf_.items[i];
        if (model.when && !model.when->holds(dsl::Environment{form, day_of(minutes_of(ctx_.now)), &ctx_.calendar})) {
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
    if (state_.version != 0) {
      return reject(Rejection::Code::wrong_state, "case_exists", "办件编号" + state_.id + "已被使用，请换一个编号，或不填由系统生成。",
                    "Expected a new case, but case '" + state_.id + "' exists");
    }
    if (std::find(std::begin(kChannels), std::end(kChannels), cmd.channel) == std::end(kChannels)) {
      return reject(Rejection::Code::invalid, "unknown_channel",
                    "办理渠道只能是窗口（window）、网上（online）、移动端（mobile）或自助终端（kiosk），“" + shown(cmd.channel) + "”不是。",
                    "Expected a channel (window, online, mobile or kiosk), but got '" + shown(cmd.channel) + "'",
                    {{"channels", {std::begin(kChannels), std::end(kChannels)}}});
    }
    // Identifiers are stored as the standard writes them, however they were typed.
    const std::map<std::string, Value> form = normalise_identifiers(wf_, cmd.form);
    auto errors = validate_form(wf_, form, ctx_.now);
    if (!errors.empty()) {
      std::vector<std::string> fields;
      for (const auto& e : errors) fields.push_back(e.field);
      Rejection r = reject(Rejection::Code::invalid_field, "form_invalid",
                           "申请表有 " + std::to_string(errors.size()) + " 处需要修改：" + errors.front().message +
                               (errors.size() > 1 ? "等。" : "。") + "请修改后再提交。",
                           "Expected a valid application form, but " + std::to_string(errors.size()) + " field" +
                               (errors.size() == 1 ? " has a problem" : "s have problems"),
                           {{"fields", std::move(fields)}});
      r.field_errors = std::move(errors);
      return r;
    }
    CaseStarted started;
    started.bundle_id = wf_.bundle_id;
    started.bundle_version = wf_.version;
    started.calendar_version = cmd.calendar_version;
    started.slots.assign(wf_.scope().slot_count(), Value{});
    const std::int64_t today = day_of(minutes_of(ctx_.now));
    for (const auto& f : wf_.fields) {
      if (auto it = form.find(f.name); it != form.end()) {
        started.slots[f.slot] = it->second;
      } else if (f.default_value) {
        started.slots[f.slot] = *f.default_value;
      } else if (f.default_expression) {
        started.slots[f.slot] = f.default_expression->evaluate(dsl::Environment{started.slots, today, &ctx_.calendar});
      }
    }
    started.applicant_masked = dsl::mask_applicant(cmd.applicant);
    started.channel = cmd.channel;
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
    if (cmd.content_hash.empty() && !cmd.from_elicense) {
      return reject(Rejection::Code::invalid, "no_content", material_title(*m) + "没有收到文件内容，请重新选择文件上传。",
                    "Expected the material's content, but none was given", {{"material", {cmd.material}}});
    }
    // The document an item issues comes from the department's own system (its result); it
    // is verified at once, like an e-license, and replaces an older one (a changed licence).
    if (issued_by_an_item && command_.role == "system") {
      if (cmd.content_hash.empty()) {
        return reject(Rejection::Code::invalid, "no_content", material_title(*m) + "没有收到文件内容。",
                      "Expected the issued document's content, but none was given", {{"material", {cmd.material}}});
      }
      if (state_.materials[*m].content_hash == cmd.content_hash) {
        return reject(Rejection::Code::wrong_state, "same_document", material_title(*m) + "已是这份文件，无需再次送达。",
                      "Expected a new document for material '" + cmd.material + "', but it has this one already",
                      {{"material", {cmd.material}}});
      }
      events_.push_back(event(MaterialAttached{*m, cmd.content_hash, cmd.file_name, true}));
      return std::move(events_);
    }
    if (wf_.materials[*m].source == MaterialSource::produced) {
      return reject(Rejection::Code::role_not_allowed, "material_produced",
                    material_title(*m) + "由本件中的事项办结后出具，不需要申请人提交；办结后由部门系统送达。",
                    "Expected a material the applicant supplies, but '" + cmd.material +
                        "' is produced by an item of the bundle and only its department's system delivers it",
                    {{"material", {cmd.material}}});
    }
    if (state_.materials[*m].status == MaterialStatus::verified) {
      return reject(Rejection::Code::wrong_state, "material_verified",
                    material_title(*m) + "已核验通过，不需要再提交。如需更换，请先退回该材料。",
                    "Expected material '" + cmd.material + "' to be missing or refused, but it is already verified",
                    {{"material", {cmd.material}}});
    }
    events_.push_back(event(MaterialAttached{*m, cmd.content_hash, cmd.file_name, cmd.from_elicense}));
    return std::move(events_);
  }

  Outcome decide(const VerifyMaterial& cmd) {
    if (auto r = require_running()) return *r;
    Rejection why;
    const auto m = material_index(cmd.material, why);
    if (!m) return why;
    // A verified material may still be refused (退回) when a reviewer finds it unusable: the
    // window then takes the corrected one in its place (AttachMaterial refuses a verified one).
    // A document an item issues is the department's, never refused here.
    const bool refusing_verified = !cmd.accept && state_.materials[*m].status == MaterialStatus::verified &&
                                   !wf_.materials[*m].producer && wf_.materials[*m].source != MaterialSource::produced;
    if (state_.materials[*m].status != MaterialStatus::submitted && !refusing_verified) {
      const auto status = state_.materials[*m].status;
      return reject(Rejection::Code::wrong_state, "material_not_submitted",
                    material_title(*m) + "当前" + std::string(title_of(status)) + "，只能核验已提交的材料。" +
                        (status == MaterialStatus::missing || status == MaterialStatus::rejected || status == MaterialStatus::tolerated
                             ? "请先收取或调取该材料。"
                             : ""),
                    "Expected material '" + cmd.material + "' to be submitted, but it is " + std::string(to_string(status)),
                    {{"material", {cmd.material}}, {"status", {std::string(to_string(status))}}});
    }
    if (command_.role == "applicant") {
      return reject(Rejection::Code::role_not_allowed, "role_not_allowed", "材料由工作人员核验，申请人不能核验。",
                    "Expected a clerk to verify materials, but the role is applicant", {{"roles", {"clerk", "reviewer"}}});
    }
    if (cmd.accept) {
      events_.push_back(event(MaterialVerified{*m}));
    } else {
      if (cmd.reason.empty()) {
        return reject(Rejection::Code::missing_field, "reason_required", "退回" + material_title(*m) + "时请写明原因，申请人将据此补正。",
                      "Expected a reason for refusing the material, but none was given", {{"fields", {"reason"}}});
      }
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
      return item_not_active(i, item.phase);
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
      std::vector<std::string> titles;
      for (const auto& a : available) titles.push_back(quoted(lc.event_title(a)));
      return reject(Rejection::Code::not_found, "no_event",
                    item_title(i) + "没有“" + shown(event_name) + "”这个操作。" +
                        (titles.empty() ? "它在" + state_title(lc, item.state) + "状态下没有可做的操作。"
                                        : "它在" + state_title(lc, item.state) + "状态下可以：" + joined(titles) + "。"),
                    "Expected an event of lifecycle '" + lc.id + "', but there is no event '" + event_name + "' (from '" +
                        lc.states[item.state].id + "': " + (available.empty() ? "none" : names(available)) + ")",
                    {{"item", {model.id}}, {"event", {event_name}}, {"events", available}});
    }
    if (candidates.empty()) {
      std::sort(allowed_from.begin(), allowed_from.end());
      allowed_from.erase(std::unique(allowed_from.begin(), allowed_from.end()), allowed_from.end());
      std::vector<std::string> titles;
      for (const auto& from : allowed_from) titles.push_back(state_title(lc, *lc.find_state(from)));
      std::vector<std::string> available;
      for (const auto t : lc.transitions_from(item.state)) available.push_back(quoted(lc.transitions[t].title));
      return reject(Rejection::Code::wrong_state, "item_state",
                    item_title(i) + "现在是" + state_title(lc, item.state) + "，不能" + quoted(lc.event_title(event_name)) + "（只有" +
                        joined(titles) + "时可以）。" + (available.empty() ? "" : "现在可以：" + joined(available) + "。"),
                    "Expected item '" + model.id + "' in " + names(allowed_from) + " for '" + event_name + "', but it is in '" +
                        lc.states[item.state].id + "'",
                    {{"item", {model.id}}, {"state", {lc.states[item.state].id}}, {"states", allowed_from}});
    }
    std::optional<Rejection> first_problem;
    for (const auto t : candidates) {
      const auto& tr = lc.transitions[t];
      if (!tr.roles.empty() && role != "system" && std::find(tr.roles.begin(), tr.roles.end(), role) == tr.roles.end()) {
        if (!first_problem) {
          std::vector<std::string> titles;
          for (const auto& r : tr.roles) titles.push_back(std::string(role_title(r)));
          first_problem = reject(Rejection::Code::role_not_allowed, "role_not_allowed",
                                 item_title(i) + "的" + quoted(lc.event_title(event_name)) + "由" + joined(titles) + "办理，" +
                                     std::string(role_title(role)) + "不能办理。请转交" + joined(titles) + "。",
                                 "Expected role " + names(tr.roles) + " for '" + event_name + "', but the role is '" + role + "'",
                                 {{"item", {model.id}}, {"roles", tr.roles}});
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
            first_problem = guard_refusal(c, i, tr, event_name, slots);
            first_problem->detail = "Expected '" + tr.guard_text + "' for '" + event_name + "', but it is false (" + values + ")";
          }
          continue;
        }
      }
      for (const auto& required : tr.required_fields) {
        const auto it = fields.find(required);
        if (it == fields.end() || it->second.empty()) {
          return reject(Rejection::Code::missing_field, required == "reason" ? "reason_required" : "field_required",
                        quoted(lc.event_title(event_name)) + item_title(i) + "时请填写" +
                            (required == "reason" ? std::string("原因") : quoted(required)) + "。",
                        "Expected '" + required + "' for '" + event_name + "', but none was given",
                        {{"item", {model.id}}, {"fields", {required}}});
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
    // A joint item is approved or refused by its departments' parts (DecidePart), never by one.
    if (!wf_.items[*i].joint.empty() && (cmd.event == "approve" || cmd.event == "reject")) {
      return reject(Rejection::Code::wrong_state, "joint_item",
                    item_title(*i) + "由" + joint_titles(*i) + "联办，请各部门分别会签，按会签结果办结。",
                    "Expected a single-department item for '" + cmd.event + "', but '" + wf_.items[*i].id +
                        "' is decided by its departments' parts (DecidePart)",
                    {{"item", {wf_.items[*i].id}}, {"departments", joint_ids(*i)}});
    }
    if (!cmd.for_applicant) return fire(state_, *i, cmd.event, cmd.fields, command_.role);
    // At the window the clerk acts for the applicant who is there: only the applicant's own
    // events, and only a window clerk (a reviewer never acts for an applicant).
    if (command_.role != "clerk") {
      return reject(Rejection::Code::role_not_allowed, "role_not_allowed",
                    "只有综窗人员可以代申请人办理，" + std::string(role_title(command_.role)) + "不能代办。",
                    "Expected a window clerk to act for the applicant, but the role is '" + command_.role + "'",
                    {{"roles", {"clerk"}}});
    }
    const auto& lc = wf_.lifecycles[wf_.items[*i].lifecycle];
    bool applicants_event = false;
    for (const auto& tr : lc.transitions) {
      if (tr.event == cmd.event && std::find(tr.roles.begin(), tr.roles.end(), "applicant") != tr.roles.end()) applicants_event = true;
    }
    if (!applicants_event) {
      return reject(Rejection::Code::role_not_allowed, "not_an_applicant_event",
                    quoted(lc.event_title(cmd.event)) + "不是申请人办理的环节，不能代申请人办理；请直接办理。",
                    "Expected an event the lifecycle gives the applicant to fire for them, but '" + cmd.event + "' is not one",
                    {{"item", {wf_.items[*i].id}}, {"event", {cmd.event}}});
    }
    auto outcome = fire(state_, *i, cmd.event, cmd.fields, "applicant");
    if (auto* events = std::get_if<std::vector<Event>>(&outcome)) {
      for (auto& e : *events) {
        // The event's own transition (what settles after it was nobody's doing).
        if (auto* transitioned = std::get_if<ItemTransitioned>(&e.body); transitioned && transitioned->item == *i) {
          transitioned->for_applicant = true;
          break;
        }
      }
    }
    return outcome;
  }

  Outcome decide(const TolerantIntake& cmd) {
    if (auto r = require_running()) return *r;
    Rejection why;
    const auto i = item_index(cmd.item, why);
    if (!i) return why;
    const ItemModel& model = wf_.items[*i];
    if (!model.tolerant) {
      return reject(Rejection::Code::invalid, "not_tolerant", item_title(*i) + "不允许容缺受理，材料齐全后才能受理。",
                    "Expected an item that allows tolerant intake (容缺), but '" + model.id + "' does not", {{"item", {model.id}}});
    }
    if (cmd.pending.empty()) {
      return reject(Rejection::Code::invalid, "no_pending_materials", "容缺受理请选择容缺（后补）的材料。",
                    "Expected the materials to accept as pending, but none were named", {{"item", {model.id}}});
    }
    Case scratch = state_;
    for (const auto& name : cmd.pending) {
      const auto m = material_index(name, why);
      if (!m) return why;
      if (std::find(model.needs.begin(), model.needs.end(), *m) == model.needs.end()) {
        return reject(Rejection::Code::invalid, "material_not_needed", item_title(*i) + "不需要" + material_title(*m) + "，不能对它容缺。",
                      "Expected a material item '" + model.id + "' needs, but it does not need '" + name + "'",
                      {{"item", {model.id}}, {"material", {name}}});
      }
      if (!wf_.materials[*m].secondary) {
        return reject(Rejection::Code::missing_material, "main_material",
                      material_title(*m) + "是主审要件，不能容缺，请先收取该材料。",
                      "Expected a secondary material (非主审要件) to accept as pending, but '" + name +
                          "' is a main material and must be supplied",
                      {{"item", {model.id}}, {"materials", {name}}});
      }
      const auto status = state_.materials[*m].status;
      if (status != MaterialStatus::missing && status != MaterialStatus::rejected) {
        return reject(Rejection::Code::wrong_state, "material_present",
                      material_title(*m) + "当前" + std::string(title_of(status)) + "，不需要容缺。",
                      "Expected material '" + name + "' to be missing, but it is " + std::string(to_string(status)),
                      {{"material", {name}}, {"status", {std::string(to_string(status))}}});
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

  std::vector<std::string> joint_ids(ItemIndex i) const {
    std::vector<std::string> ids;
    for (const auto d : wf_.items[i].joint) ids.push_back(wf_.departments[d].id);
    return ids;
  }
  std::string joint_titles(ItemIndex i) const {
    std::vector<std::string> titles;
    for (const auto d : wf_.items[i].joint) titles.push_back(quoted(wf_.departments[d].title));
    return joined(titles);
  }

  // 会签: one department's part of a joint item. When the parts decide the item by its rule,
  // the lifecycle's `approve` (or `reject`, with the refusing departments' reasons) follows in
  // the same command, through the same transition choice as a FireEvent (its guard included).
  Outcome decide(const DecidePart& cmd) {
    if (auto r = require_running()) return *r;
    Rejection why;
    const auto i = item_index(cmd.item, why);
    if (!i) return why;
    const ItemModel& model = wf_.items[*i];
    if (model.joint.empty()) {
      return reject(Rejection::Code::invalid, "not_joint", item_title(*i) + "不是联办事项，没有会签，请直接办理。",
                    "Expected a joint item, but '" + model.id + "' is decided by one department", {{"item", {model.id}}});
    }
    std::optional<std::uint32_t> part;
    for (std::uint32_t p = 0; p < model.joint.size(); ++p) {
      if (wf_.departments[model.joint[p]].id == cmd.department) part = p;
    }
    if (!part) {
      return reject(Rejection::Code::not_found, "no_part",
                    item_title(*i) + "的联办部门是" + joint_titles(*i) + "，没有“" + shown(cmd.department) + "”。",
                    "Expected one of the item's joint departments, but got '" + cmd.department + "'",
                    {{"item", {model.id}}, {"department", {cmd.department}}, {"departments", joint_ids(*i)}});
    }
    const std::string department_title = quoted(wf_.departments[model.joint[*part]].title);
    // Each department's reviewer decides their own part only.
    if (command_.role != "reviewer") {
      return reject(Rejection::Code::role_not_allowed, "role_not_allowed",
                    "会签由" + department_title + "的审批人员办理，" + std::string(role_title(command_.role)) + "不能办理。",
                    "Expected a reviewer of department '" + cmd.department + "', but the role is '" + command_.role + "'",
                    {{"item", {model.id}}, {"roles", {"reviewer"}}});
    }
    if (command_.department != cmd.department) {
      return reject(Rejection::Code::role_not_allowed, "other_department",
                    item_title(*i) + "中" + department_title + "的会签只能由该部门的审批人员办理。",
                    "Expected a reviewer of department '" + cmd.department + "', but the reviewer's department is '" +
                        command_.department + "'",
                    {{"item", {model.id}}, {"department", {cmd.department}}});
    }
    const ItemState& item = state_.items[*i];
    if (item.phase != ItemPhase::active) return item_not_active(*i, item.phase);
    const auto& lc = wf_.lifecycles[model.lifecycle];
    const auto leaves_by = [&](std::string_view event_name) {
      for (const auto t : lc.transitions_from(item.state)) {
        if (lc.transitions[t].event == event_name) return true;
      }
      return false;
    };
    if (!leaves_by("approve")) {
      return reject(Rejection::Code::wrong_state, "item_state",
                    item_title(*i) + "现在是" + state_title(lc, item.state) + "，还不能会签（" + quoted(lc.event_title("approve")) +
                        "之前才能会签）。",
                    "Expected item '" + model.id + "' in a state 'approve' leaves, but it is in '" + lc.states[item.state].id + "'",
                    {{"item", {model.id}}, {"state", {lc.states[item.state].id}}});
    }
    if (*part < item.parts.size() && item.parts[*part].decision != PartDecision::pending) {
      return reject(Rejection::Code::wrong_state, "part_decided", department_title + "已对" + item_title(*i) + "作出会签意见，不能再改。",
                    "Expected department '" + cmd.department + "' to decide its part once, but it has decided it",
                    {{"item", {model.id}}, {"department", {cmd.department}}});
    }
    if (!cmd.approve && cmd.note.empty()) {
      return reject(Rejection::Code::missing_field, "reason_required", "不同意时请填写理由。",
                    "Expected a reason for refusing a part, but none was given", {{"item", {model.id}}, {"fields", {"note"}}});
    }
    events_.push_back(event(ItemPartDecided{*i, *part, cmd.approve, cmd.note}));
    Case scratch = state_;
    apply(wf_, scratch, events_.back());
    std::size_t approved = 0;
    std::vector<std::string> refusals;
    for (std::uint32_t p = 0; p < model.joint.size(); ++p) {
      const auto& decided = scratch.items[*i].parts.at(p);
      if (decided.decision == PartDecision::approved) ++approved;
      if (decided.decision == PartDecision::refused) refusals.push_back(wf_.departments[model.joint[p]].title + "：" + decided.note);
    }
    const bool all = model.joint_rule == dsl::JointRule::all;
    std::string follows;
    if (all ? !refusals.empty() : refusals.size() == model.joint.size()) follows = "reject";
    else if (all ? approved == model.joint.size() : approved > 0) follows = "approve";
    if (follows.empty()) return std::move(events_);  // the other departments still decide
    std::map<std::string, std::string> fields;
    if (follows == "reject") {
      std::string reason;
      for (const auto& r : refusals) reason += (reason.empty() ? "" : "；") + r;
      fields["reason"] = "联办部门不同意（" + reason + "）";
    }
    // The parts were checked above; the item's own transition still needs its guard.
    auto chosen = choose_transition(scratch, *i, follows, fields, "system");
    if (auto* r = std::get_if<Rejection>(&chosen)) return std::move(*r);
    const auto t = std::get<TransitionIndex>(chosen);
    const auto& tr = lc.transitions[t];
    events_.push_back(event(ItemTransitioned{*i, t, item.state, tr.target, fields}));
    if (lc.states[tr.target].final) settle(state_);
    return std::move(events_);
  }

  // The active item `item_id`, when the actor may control its clock (pause, special procedures).
  std::variant<ItemIndex, Rejection> controlled_item(const std::string& item_id) const {
    Rejection why;
    const auto i = item_index(item_id, why);
    if (!i) return why;
    if (state_.items[*i].phase != ItemPhase::active) return item_not_active(*i, state_.items[*i].phase);
    if (auto refused = clock_control_refusal(wf_, *i, command_.role, command_.department)) return std::move(*refused);
    return *i;
  }

  // The active items a clock command names: the one given, or every one the actor may
  // control (a reviewer: their department's); refused when the actor may control none.
  std::variant<std::vector<ItemIndex>, Rejection> clock_items(const std::string& item_id) const {
    std::vector<ItemIndex> out;
    if (!item_id.empty()) {
      auto chosen = controlled_item(item_id);
      if (auto* r = std::get_if<Rejection>(&chosen)) return std::move(*r);
      out.push_back(std::get<ItemIndex>(chosen));
      return out;
    }
    std::optional<Rejection> refused;
    for (ItemIndex i = 0; i < state_.items.size(); ++i) {
      if (state_.items[i].phase != ItemPhase::active) continue;
      if (auto r = clock_control_refusal(wf_, i, command_.role, command_.department)) {
        if (!refused) refused = std::move(r);
        continue;
      }
      out.push_back(i);
    }
    if (out.empty() && refused) return std::move(*refused);
    return out;
  }

  // The special procedure `name` the item declares, or why not (with the ones it declares).
  std::variant<std::uint32_t, Rejection> special_index(ItemIndex i, const std::string& name) const {
    const ItemModel& model = wf_.items[i];
    std::vector<std::string> ids, titles;
    for (std::uint32_t p = 0; p < model.specials.size(); ++p) {
      if (model.specials[p].id == name) return p;
      ids.push_back(model.specials[p].id);
      titles.push_back(quoted(model.specials[p].title));
    }
    return reject(Rejection::Code::not_found, "no_special_procedure",
                  ids.empty() ? item_title(i) + "没有规定特别程序，不能开始特别程序。"
                              : item_title(i) + "没有“" + shown(name) + "”这一特别程序。它规定的特别程序有：" + joined(titles) + "。",
                  "Expected a special procedure declared by item '" + model.id + "', but there is no '" + name + "' (declared: " +
                      (ids.empty() ? "none" : names(ids)) + ")",
                  {{"item", {model.id}}, {"procedure", {name}}, {"procedures", ids}});
  }

  std::string special_title(ItemIndex i, std::uint32_t p) const { return quoted(wf_.items[i].specials[p].title); }

  Outcome decide(const StartSpecialProcedure& cmd) {
    if (auto r = require_running()) return *r;
    auto chosen = controlled_item(cmd.item);
    if (auto* r = std::get_if<Rejection>(&chosen)) return std::move(*r);
    const ItemIndex i = std::get<ItemIndex>(chosen);
    const ItemState& item = state_.items[i];
    auto found = special_index(i, cmd.procedure);
    if (auto* r = std::get_if<Rejection>(&found)) return std::move(*r);
    const auto p = std::get<std::uint32_t>(found);
    const std::string& id = wf_.items[i].id;
    if (!item.clock_started_at) {
      return reject(Rejection::Code::wrong_state, "clock_not_started", item_title(i) + "尚未受理，受理后才能开始特别程序。",
                    "Expected item '" + id + "' to be accepted (its clock started), but its clock has not started",
                    {{"item", {id}}});
    }
    if (item.running_special) {
      const auto running = item.specials[*item.running_special].procedure;
      return reject(Rejection::Code::wrong_state, "special_running",
                    item_title(i) + "的特别程序" + special_title(i, running) + "正在进行，结束后才能开始另一项。",
                    "Expected no special procedure running on item '" + id + "', but '" + wf_.items[i].specials[running].id +
                        "' is",
                    {{"item", {id}}, {"procedure", {wf_.items[i].specials[running].id}}});
    }
    // `max` bounds the procedure, not each attempt: ending and starting it again would escape it.
    for (const auto& run : item.specials) {
      if (run.procedure == p) {
        return reject(Rejection::Code::wrong_state, "special_done",
                      item_title(i) + "的特别程序" + special_title(i, p) + "已经进行过，同一特别程序只进行一次。",
                      "Expected special procedure '" + cmd.procedure + "' of item '" + id + "' not to have run, but it has",
                      {{"item", {id}}, {"procedure", {cmd.procedure}}});
      }
    }
    if (cmd.reason.empty()) {
      return reject(Rejection::Code::missing_field, "reason_required",
                    "开始特别程序" + special_title(i, p) + "请写明原因（将书面告知申请人）。",
                    "Expected a reason for starting a special procedure, but none was given", {{"fields", {"reason"}}});
    }
    events_.push_back(event(SpecialProcedureStarted{i, p, cmd.reason}));
    return std::move(events_);
  }

  Outcome decide(const EndSpecialProcedure& cmd) {
    if (auto r = require_running()) return *r;
    auto chosen = controlled_item(cmd.item);
    if (auto* r = std::get_if<Rejection>(&chosen)) return std::move(*r);
    const ItemIndex i = std::get<ItemIndex>(chosen);
    const ItemState& item = state_.items[i];
    const std::string& id = wf_.items[i].id;
    if (!item.running_special) {
      return reject(Rejection::Code::wrong_state, "no_special_running", item_title(i) + "没有正在进行的特别程序。",
                    "Expected a special procedure running on item '" + id + "', but none is", {{"item", {id}}});
    }
    const auto p = item.specials[*item.running_special].procedure;
    const std::string& running = wf_.items[i].specials[p].id;
    if (!cmd.procedure.empty() && cmd.procedure != running) {
      return reject(Rejection::Code::wrong_state, "other_special_running",
                    item_title(i) + "正在进行的特别程序是" + special_title(i, p) + "，不是“" + shown(cmd.procedure) + "”。",
                    "Expected special procedure '" + cmd.procedure + "' to be running on item '" + id + "', but '" + running + "' is",
                    {{"item", {id}}, {"procedure", {running}}});
    }
    if (cmd.result.empty()) {
      return reject(Rejection::Code::missing_field, "result_required", "结束特别程序" + special_title(i, p) + "请填写结果（如踏勘结论）。",
                    "Expected the result of the special procedure, but none was given", {{"fields", {"result"}}});
    }
    events_.push_back(event(SpecialProcedureEnded{i, p, cmd.result}));
    return std::move(events_);
  }

  Outcome decide(const PauseClock& cmd) {
    if (auto r = require_running()) return *r;
    if (cmd.reason.empty()) {
      return reject(Rejection::Code::missing_field, "reason_required", "暂停计时请写明原因（如现场踏勘、专家评审）。",
                    "Expected a reason for stopping the clock, but none was given", {{"fields", {"reason"}}});
    }
    auto items = clock_items(cmd.item);
    if (auto* r = std::get_if<Rejection>(&items)) return std::move(*r);
    for (const auto i : std::get<std::vector<ItemIndex>>(items)) {
      if (!state_.items[i].paused_by_clerk) events_.push_back(event(ClockPaused{i, cmd.reason}));
    }
    if (events_.empty()) {
      return reject(Rejection::Code::wrong_state, "clock_stopped", "计时已经暂停，无需再次暂停。",
                    "Expected a running clock, but every clock named is already stopped");
    }
    return std::move(events_);
  }

  Outcome decide(const ResumeClock& cmd) {
    if (auto r = require_running()) return *r;
    auto items = clock_items(cmd.item);
    if (auto* r = std::get_if<Rejection>(&items)) return std::move(*r);
    for (const auto i : std::get<std::vector<ItemIndex>>(items)) {
      if (state_.items[i].paused_by_clerk) events_.push_back(event(ClockResumed{i}));
    }
    if (events_.empty()) {
      return reject(Rejection::Code::wrong_state, "clock_running", "计时没有被暂停，无需恢复。",
                    "Expected a clock stopped by a clerk, but none is");
    }
    return std::move(events_);
  }

  Outcome decide(const UrgeItem& cmd) {
    if (auto r = require_running()) return *r;
    if (command_.role != "supervisor") {
      return reject(Rejection::Code::role_not_allowed, "role_not_allowed",
                    "督办由监管人员办理，" + std::string(role_title(command_.role)) + "不能督办。",
                    "Expected a supervisor to urge, but the role is '" + command_.role + "'", {{"roles", {"supervisor"}}});
    }
    Rejection why;
    const auto i = item_index(cmd.item, why);
    if (!i) return why;
    const ItemState& item = state_.items[*i];
    if (item.phase != ItemPhase::active) return item_not_active(*i, item.phase);
    if (item.light == Light::none) {
      return reject(Rejection::Code::wrong_state, "not_late", item_title(*i) + "尚未预警或超时，暂不需要督办。",
                    "Expected an item with a yellow or red light to urge, but '" + cmd.item + "' has none",
                    {{"items", {cmd.item}}});
    }
    if (cmd.note.empty()) {
      return reject(Rejection::Code::missing_field, "note_required", "督办请写明督办意见（如“请于明日办结并回复”）。",
                    "Expected a note with the urging, but none was given", {{"fields", {"note"}}});
    }
    events_.push_back(event(ItemUrged{*i, cmd.note}));
    return std::move(events_);
  }

  Outcome decide(const Withdraw& cmd) {
    if (auto r = require_running()) return *r;
    if (command_.role != "applicant" && command_.role != "clerk" && command_.role != "system") {
      return reject(Rejection::Code::role_not_allowed, "role_not_allowed",
                    "撤回由申请人或综窗人员办理，" + std::string(role_title(command_.role)) + "不能撤回。",
                    "Expected the applicant or a window clerk to withdraw, but the role is '" + command_.role + "'",
                    {{"roles", {"applicant", "clerk"}}});
    }
    events_.push_back(event(CaseWithdrawn{cmd.reason}));
    return std::move(events_);
  }

  Outcome decide(const Deliver& cmd) {
    if (state_.version == 0) return no_case();
    if (state_.status != CaseStatus::completed) {
      return reject(Rejection::Code::wrong_state, "not_completed",
                    "办件" + std::string(title_of(state_.status)) + "，只有全部事项办结后才能出件。",
                    "Expected a completed case to deliver, but it is " + std::string(to_string(state_.status)),
                    {{"status", {std::string(to_string(state_.status))}}});
    }
    static const std::vector<std::string> kDeliveries{"window", "mail", "electronic"};
    if (std::find(kDeliveries.begin(), kDeliveries.end(), cmd.channel) == kDeliveries.end()) {
      return reject(Rejection::Code::invalid, "unknown_delivery",
                    "出件方式只能是窗口领取（window）、邮寄（mail）或电子送达（electronic），“" + shown(cmd.channel) + "”不是。",
                    "Expected a delivery channel (window, mail or electronic), but got '" + shown(cmd.channel) + "'",
                    {{"channels", kDeliveries}});
    }
    events_.push_back(event(CaseDelivered{cmd.channel}));
    return std::move(events_);
  }

  Outcome decide(const ChooseDelivery& cmd) {
    if (state_.version == 0) return no_case();
    if (command_.role != "applicant" && command_.role != "clerk" && command_.role != "system") {
      return reject(Rejection::Code::role_not_allowed, "role_not_allowed",
                    "送达方式由申请人选择（或综窗人员代为登记），" + std::string(role_title(command_.role)) + "不能选择。",
                    "Expected the applicant or a window clerk to choose the delivery, but the role is '" + command_.role + "'",
                    {{"roles", {"applicant", "clerk"}}});
    }
    if (state_.status != CaseStatus::completed) {
      return reject(Rejection::Code::wrong_state, "not_completed",
                    "办件" + std::string(title_of(state_.status)) + "，全部事项办结后才能选择送达方式。",
                    "Expected a completed case to choose its delivery, but it is " + std::string(to_string(state_.status)),
                    {{"status", {std::string(to_string(state_.status))}}});
    }
    if (!state_.delivery_choice.method.empty()) {
      return reject(Rejection::Code::wrong_state, "delivery_chosen",
                    std::string("已选择") + (state_.delivery_choice.method == "mail" ? "邮寄送达" : "窗口领取") + "，如需更改请联系办事窗口。",
                    "Expected a case whose delivery is not chosen yet, but it is '" + state_.delivery_choice.method + "'", {});
    }
    if (cmd.method != "window" && cmd.method != "mail") {
      return reject(Rejection::Code::invalid, "unknown_delivery", "送达方式只能是窗口领取（window）或邮寄送达（mail）。",
                    "Expected a delivery method (window or mail), but got '" + shown(cmd.method) + "'", {{"methods", {"window", "mail"}}});
    }
    if (cmd.method == "window") {
      events_.push_back(event(DeliveryChosen{"window", "", "", ""}));
      return std::move(events_);
    }
    const auto blank = [](const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; };
    if (blank(cmd.recipient) || cmd.recipient.size() > 60) {
      return reject(Rejection::Code::invalid_field, "recipient", "请填写收件人姓名（不超过 20 个字）。",
                    "Expected a recipient of at most 60 bytes", {{"fields", {"recipient"}}});
    }
    if (!dsl::valid_mobile_phone(cmd.mobile)) {
      return reject(Rejection::Code::invalid_field, "mobile", "请填写收件人的 11 位手机号码。", "Expected an 11-digit mobile number",
                    {{"fields", {"mobile"}}});
    }
    if (blank(cmd.address) || cmd.address.size() < 12 || cmd.address.size() > 300) {
      return reject(Rejection::Code::invalid_field, "address", "请填写详细的邮寄地址（省、市、区县、街道和门牌号）。",
                    "Expected an address of 12 to 300 bytes", {{"fields", {"address"}}});
    }
    events_.push_back(event(DeliveryChosen{"mail", cmd.recipient, cmd.mobile, cmd.address}));
    return std::move(events_);
  }

  Outcome decide(const Rate& cmd) {
    if (state_.version == 0) return no_case();
    if (state_.status != CaseStatus::delivered) {
      return reject(Rejection::Code::wrong_state, "not_delivered",
                    state_.status == CaseStatus::rated ? std::string("办件已评价过，每件只能评价一次。")
                                                       : "办件" + std::string(title_of(state_.status)) + "，出件后才能评价。",
                    "Expected a delivered case to rate, but it is " + std::string(to_string(state_.status)),
                    {{"status", {std::string(to_string(state_.status))}}});
    }
    if (cmd.level < 1 || cmd.level > 5) {
      return reject(Rejection::Code::invalid, "rating_out_of_range", "评价请选择 1 到 5 级（非常不满意到非常满意）。",
                    "Expected a rating from 1 to 5, but got " + std::to_string(cmd.level));
    }
    CaseRated rated{cmd.level, cmd.comment, std::nullopt};
    if (cmd.level <= wf_.rating.bad_at_most) {
      // 差评整改: a rectification task due within the bundle's limit, in working days.
      const auto day = ctx_.calendar.due_day_for_limit(day_of(minutes_of(ctx_.now)), wf_.rating.rectify_within.amount);
      const auto hours = ctx_.calendar.hours();
      rated.rectification_due = timestamp_of(at_time(day) + (hours.empty() ? 17 * 60 + 30 : hours.back().to));
      if (cmd.comment.empty()) {
        return reject(Rejection::Code::missing_field, "comment_required", "差评请写明不满意的原因，以便整改。",
                      "Expected a comment with a bad rating, but none was given", {{"fields", {"comment"}}});
      }
    }
    events_.push_back(event(std::move(rated)));
    return std::move(events_);
  }

  Outcome decide(const AdoptCalendar& cmd) {
    if (auto r = require_running()) return *r;
    if (command_.role != "system") {
      return reject(Rejection::Code::role_not_allowed, "role_not_allowed", "工作日历由系统在部署新版本时更新，" + std::string(role_title(command_.role)) + "不能更新。",
                    "Expected the calendar deploy (system) to adopt a calendar, but the role is '" + command_.role + "'", {{"roles", {"system"}}});
    }
    if (!cmd.calendar || cmd.version <= state_.calendar_version) {
      return reject(Rejection::Code::wrong_state, "calendar_current", "办件" + state_.id + "已按该版本或更新版本的工作日历计算期限。",
                    "Expected a calendar version after the case's " + std::to_string(state_.calendar_version) + ", but got " +
                        std::to_string(cmd.version));
    }
    // Each open item's deadline counted on the case's calendar and on the new one: what moved
    // is recorded, so the history says why a deadline changed (nothing is edited in place).
    CalendarAdopted adopted{cmd.calendar->name(), cmd.version, cmd.title, {}};
    for (ItemIndex i = 0; i < state_.items.size(); ++i) {
      const ItemState& item = state_.items[i];
      if (item.phase != ItemPhase::active) continue;
      const Timestamp before = deadline_of(wf_, ctx_.calendar, item, i);
      const Timestamp after = deadline_of(wf_, *cmd.calendar, item, i);
      if (before != after) adopted.moves.push_back({i, before, after});
    }
    events_.push_back(event(std::move(adopted)));
    return std::move(events_);
  }

  Outcome decide(const AnswerRectification& cmd) {
    if (state_.version == 0) return no_case();
    if (command_.role != "supervisor" && command_.role != "reviewer" && command_.role != "system") {
      return reject(Rejection::Code::role_not_allowed, "role_not_allowed",
                    "差评整改由监督人员或承办部门答复，" + std::string(role_title(command_.role)) + "不能答复。",
                    "Expected a supervisor or a reviewer to answer the rectification, but the role is '" + command_.role + "'",
                    {{"roles", {"supervisor", "reviewer"}}});
    }
    if (!state_.rectification_due) {
      return reject(Rejection::Code::wrong_state, "no_rectification", "这个办件没有差评整改，无需答复。",
                    "Expected a case with a bad rating's rectification, but it has none", {});
    }
    if (state_.rectification_answered_at != 0) {
      return reject(Rejection::Code::wrong_state, "rectification_answered", "这项差评整改已经答复过，每件只答复一次。",
                    "Expected an unanswered rectification, but it was answered", {});
    }
    if (cmd.answer.find_first_not_of(" \t\r\n") == std::string::npos) {
      return reject(Rejection::Code::missing_field, "answer_required", "请写明整改答复：查明的情况和采取的措施。",
                    "Expected an answer, but none was given", {{"fields", {"answer"}}});
    }
    events_.push_back(event(RectificationAnswered{cmd.answer}));
    return std::move(events_);
  }

  Outcome decide(const ErasePersonalData&) {
    if (state_.version == 0) return no_case();
    if (command_.role != "system" && command_.role != "admin") {
      return reject(Rejection::Code::role_not_allowed, "role_not_allowed", "个人信息只能由系统按保存期限删除，或由管理员删除。",
                    "Expected the retention run (system) or an admin to erase personal data, but the role is '" + command_.role + "'",
                    {{"roles", {"system", "admin"}}});
    }
    if (!wf_.retention) {
      return reject(Rejection::Code::wrong_state, "no_retention", quoted(wf_.title) + "没有规定个人信息的保存期限，不能删除。",
                    "Expected bundle " + wf_.bundle_id + " to retain personal data for a set time ('retain ...'), but it sets none");
    }
    if (state_.personal_data_erased_at != 0) {
      return reject(Rejection::Code::wrong_state, "erased_already", "办件" + state_.id + "的个人信息已经删除。",
                    "Expected a case with personal data to erase, but case '" + command_.case_id + "' was erased already");
    }
    if (state_.status == CaseStatus::running) {
      return reject(Rejection::Code::wrong_state, "case_running", "办件" + state_.id + "还在办理中，办理中的办件不删除个人信息。",
                    "Expected a closed case, but case '" + command_.case_id + "' is running (an open case is never erased)");
    }
    const auto ends = retention_ends(wf_, state_);
    if (!ends || ctx_.now < *ends) {
      return reject(Rejection::Code::wrong_state, "retention_running", "办件" + state_.id + "的个人信息保存期限（" + wf_.retention->text + "）未满，不能删除。",
                    "Expected the case's retention (" + wf_.retention->text + " after its last change) to have ended, but it has not");
    }
    events_.push_back(event(PersonalDataErased{wf_.retention->personal, wf_.retention->text}));
    return std::move(events_);
  }

  Outcome decide(const TimerFired& cmd) {
    // Timer ids: i<item>.warn, i<item>.overdue, i<item>.t<transition>@<entered_at>
    if (!running()) return std::move(events_);  // nothing to do for a finished case
    const auto& id = cmd.timer_id;
    if (id.size() < 2 || id[0] != 'i') return bad_timer(id);
    const auto dot = id.find('.');
    if (dot == std::string::npos) return bad_timer(id);
    ItemIndex i = 0;
    try {
      i = static_cast<ItemIndex>(std::stoul(id.substr(1, dot - 1)));
    } catch (...) {
      return bad_timer(id);
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
    if (kind.size() > 1 && kind[0] == 's') {
      // i<item>.s<run>.warn / .overdue: the running special procedure's own lights.
      const auto dot2 = kind.find('.');
      if (dot2 == std::string::npos) return bad_timer(id);
      std::size_t run = 0;
      try {
        run = std::stoul(kind.substr(1, dot2 - 1));
      } catch (...) {
        return bad_timer(id);
      }
      const std::string what = kind.substr(dot2 + 1);
      if (what != "warn" && what != "overdue") return bad_timer(id);
      if (!item.running_special || *item.running_special != run) return std::move(events_);  // ended meanwhile
      const auto& r = item.specials[run];
      if (what == "overdue") {
        if (ctx_.now >= special_due_at(wf_, ctx_.calendar, i, r) && r.light != Light::red) {
          events_.push_back(event(SpecialProcedureOverdue{i, r.procedure}));
        }
      } else if (r.light == Light::none) {
        const auto instant = special_warning_time(wf_, ctx_.calendar, i, r);
        if (instant && ctx_.now >= *instant) events_.push_back(event(SpecialProcedureWarned{i, r.procedure}));
      }
      return std::move(events_);
    }
    if (kind.size() > 1 && kind[0] == 't') {
      const auto at = kind.find('@');
      if (at == std::string::npos) return bad_timer(id);
      TransitionIndex t = 0;
      Timestamp entered = 0;
      try {
        t = static_cast<TransitionIndex>(std::stoul(kind.substr(1, at - 1)));
        entered = std::stoll(kind.substr(at + 1));
      } catch (...) {
        return bad_timer(id);
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
    return bad_timer(id);
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
      const Minutes start = minutes_of(item.clock_started_at);
      std::int64_t paused = 0;
      for (const auto& [from, to] : item.pauses) paused += calendar.working_minutes_between(minutes_of(from), minutes_of(to));
      const std::int64_t total = calendar.working_minutes_between(start, minutes_of(due)) - paused;
      const std::int64_t share = total * lc.warn_percent->units / (100 * dsl::Decimal::kScale);
      return timestamp_of(calendar.add_working_minutes(start, share + paused));
    }
    if (lc.warn_left) {
      // Counted back from the deadline: the instant when this much working time is left.
      const std::int64_t left = lc.warn_left->unit == dsl::TimeUnit::hour
                                    ? lc.warn_left->amount.units * 60 / dsl::Decimal::kScale
                                    : lc.warn_left->approximate_workdays().units * calendar.working_minutes_per_day() / dsl::Decimal::kScale;
      const Minutes start = minutes_of(item.clock_started_at);
      const std::int64_t total = calendar.working_minutes_between(start, minutes_of(due));
      return timestamp_of(calendar.add_working_minutes(start, std::max<std::int64_t>(0, total - left)));
    }
    return std::nullopt;
  }

  /// The yellow light of a running special procedure: the lifecycle's `warn` applied to the
  /// span from its start to its `max`.
  static std::optional<Timestamp> special_warning_time(const Workflow& wf, const WorkCalendar& calendar, ItemIndex i,
                                                       const SpecialProcedureRun& run) {
    const auto& lc = wf.lifecycles[wf.items[i].lifecycle];
    const Minutes start = minutes_of(run.started_at);
    const std::int64_t total = calendar.working_minutes_between(start, minutes_of(special_due_at(wf, calendar, i, run)));
    if (lc.warn_percent) {
      return timestamp_of(calendar.add_working_minutes(start, total * lc.warn_percent->units / (100 * dsl::Decimal::kScale)));
    }
    if (lc.warn_left) {
      const std::int64_t left = lc.warn_left->unit == dsl::TimeUnit::hour
                                    ? lc.warn_left->amount.units * 60 / dsl::Decimal::kScale
                                    : lc.warn_left->approximate_workdays().units * calendar.working_minutes_per_day() / dsl::Decimal::kScale;
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

void item_timers(const Workflow& wf, const WorkCalendar& calendar, const Case& c, ItemIndex i, std::vector<TimerRecord>& timers) {
  if (c.status != CaseStatus::running) return;
  const ItemState& item = c.items[i];
  if (item.phase != ItemPhase::active) return;
  const std::string prefix = "i" + std::to_string(i) + ".";
  if (const Timestamp due = due_at(wf, calendar, c, i)) {
    if (item.light != Light::red) timers.push_back(TimerRecord{c.id, prefix + "overdue", due, "{}"});
    if (item.light == Light::none) {
      if (auto warn = Decider::warning_time(wf, calendar, c, i)) timers.push_back(TimerRecord{c.id, prefix + "warn", *warn, "{}"});
    }
  }
  if (item.running_special) {
    const auto& run = item.specials[*item.running_special];
    const std::string special = prefix + "s" + std::to_string(*item.running_special) + ".";
    if (run.light != Light::red) timers.push_back(TimerRecord{c.id, special + "overdue", special_due_at(wf, calendar, i, run), "{}"});
    if (run.light == Light::none) {
      if (auto warn = Decider::special_warning_time(wf, calendar, i, run)) timers.push_back(TimerRecord{c.id, special + "warn", *warn, "{}"});
    }
  }
  const auto& lc = wf.lifecycles[wf.items[i].lifecycle];
  for (const auto t : lc.transitions_from(item.state)) {
    const auto& tr = lc.transitions[t];
    if (!tr.after) continue;
    Minutes at = minutes_of(item.state_entered_at);
    switch (tr.after->unit) {
      case dsl::TimeUnit::workday: at = calendar.add_working_time(at, tr.after->amount); break;
      case dsl::TimeUnit::day: at += tr.after->amount.units * kMinutesPerDay / dsl::Decimal::kScale; break;
      case dsl::TimeUnit::hour: at = calendar.add_working_minutes(at, tr.after->amount.units * 60 / dsl::Decimal::kScale); break;
    }
    timers.push_back(TimerRecord{c.id, prefix + "t" + std::to_string(t) + "@" + std::to_string(item.state_entered_at),
                                 timestamp_of(at), "{}"});
  }
}

std::vector<TimerRecord> timers_for(const Workflow& wf, const WorkCalendar& calendar, const Case& c) {
  std::vector<TimerRecord> timers;
  for (ItemIndex i = 0; i < c.items.size(); ++i) item_timers(wf, calendar, c, i, timers);
  return timers;
}

ItemRow item_row(const Workflow& wf, const WorkCalendar& calendar, const Case& c, ItemIndex i) {
  const ItemState& item = c.items[i];
  const ItemModel& model = wf.items[i];
  const auto& lc = wf.lifecycles[model.lifecycle];
  ItemRow row;
  row.item_id = model.id;
  row.department = wf.departments[model.department].id;
  row.state = item.phase == ItemPhase::active || item.phase == ItemPhase::done ? lc.states[item.state].id
                                                                                : std::string(to_string(item.phase));
  // A withdrawn case's running items are nobody's work any more (its timers stop too).
  row.final = item.phase != ItemPhase::active || c.status == CaseStatus::withdrawn;
  row.due_at = due_at(wf, calendar, c, i);
  row.light = item.light == Light::red ? "red" : item.light == Light::yellow ? "yellow" : "";
  row.urged = item.urged_at != 0 && !row.final;
  // 会签: the other departments' pending parts are their work while the item waits where
  // `approve` leaves (before that, or once decided, there is nothing for them to do).
  row.joint = !model.joint.empty();
  if (row.joint && !row.final && item.phase == ItemPhase::active) {
    const auto transitions = lc.transitions_from(item.state);
    const bool decidable = std::any_of(transitions.begin(), transitions.end(),
                                       [&](const auto t) { return lc.transitions[t].event == "approve"; });
    for (std::size_t p = 0; decidable && p < model.joint.size(); ++p) {
      const bool pending = p >= item.parts.size() || item.parts[p].decision == PartDecision::pending;
      if (pending && model.joint[p] != model.department) row.parts.push_back(wf.departments[model.joint[p]].id);
    }
  }
  return row;
}

std::vector<ItemRow> item_rows(const Workflow& wf, const WorkCalendar& calendar, const Case& c) {
  std::vector<ItemRow> rows;
  rows.reserve(c.items.size());
  for (ItemIndex i = 0; i < c.items.size(); ++i) rows.push_back(item_row(wf, calendar, c, i));
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
    if (const auto* pd = std::get_if<ItemPartDecided>(&events[k].body)) {
      // 会签: the part's decision goes to that department's own system (operation countersign).
      const ItemModel& model = wf.items[pd->item];
      if (pd->part >= model.joint.size()) continue;
      ActionModel call{ActionModel::Kind::call, wf.departments[model.joint[pd->part]].id, "countersign", "", ""};
      add(call, pd->item, sequence, 0);
      auto payload = boost::json::parse(out.back().payload).as_object();
      payload.erase("produces");  // the documents come with the item's own call, once
      payload["decision"] = pd->approved ? "approved" : "refused";
      payload["note"] = pd->note;
      out.back().payload = boost::json::serialize(payload);
      continue;
    }
    if (const auto* t = std::get_if<ItemTransitioned>(&events[k].body)) {
      const auto& tr = wf.lifecycles[wf.items[t->item].lifecycle].transitions[t->transition];
      for (std::size_t a = 0; a < tr.actions.size(); ++a) add(tr.actions[a], t->item, sequence, a);
    } else if (const auto* w = std::get_if<ItemWarned>(&events[k].body)) {
      const auto& lc = wf.lifecycles[wf.items[w->item].lifecycle];
      for (std::size_t a = 0; a < lc.on_warning.size(); ++a) add(lc.on_warning[a], w->item, sequence, a);
    } else if (const auto* o = std::get_if<ItemOverdue>(&events[k].body)) {
      const auto& lc = wf.lifecycles[wf.items[o->item].lifecycle];
      for (std::size_t a = 0; a < lc.on_overdue.size(); ++a) add(lc.on_overdue[a], o->item, sequence, a);
    } else if (const auto* sw = std::get_if<SpecialProcedureWarned>(&events[k].body)) {
      // The lifecycle's warning actions, saying it is the special procedure's maximum that nears.
      const auto& lc = wf.lifecycles[wf.items[sw->item].lifecycle];
      const auto& special = wf.items[sw->item].specials[sw->procedure];
      for (std::size_t a = 0; a < lc.on_warning.size(); ++a) {
        ActionModel action = lc.on_warning[a];
        if (action.kind == ActionModel::Kind::notify) {
          action.message = "特别程序「" + special.title + "」即将达到最长时限（" + limit_text(special.max) + "）";
        }
        add(action, sw->item, sequence, a);
      }
    } else if (const auto* so = std::get_if<SpecialProcedureOverdue>(&events[k].body)) {
      const auto& lc = wf.lifecycles[wf.items[so->item].lifecycle];
      const auto& special = wf.items[so->item].specials[so->procedure];
      for (std::size_t a = 0; a < lc.on_overdue.size(); ++a) {
        ActionModel action = lc.on_overdue[a];
        action.message = "特别程序「" + special.title + "」已超过最长时限（" + limit_text(special.max) + "）";
        add(action, so->item, sequence, a);
      }
    } else if (const auto* u = std::get_if<ItemUrged>(&events[k].body)) {
      // 督办 reaches the department's reviewers through the notification system, as the
      // lifecycle's own notices do (docs/adapters.md).
      ActionModel urge;
      urge.kind = ActionModel::Kind::notify;
      urge.role = "reviewer";
      urge.message = "督办：" + u->note;
      add(urge, u->item, sequence, 0);
    } else if (const auto* answered = std::get_if<RectificationAnswered>(&events[k].body)) {
      // The applicant hears the answer as they hear the case's notices: a text message to the
      // form's first mobile number, through the notify system.
      OutboxRecord r;
      r.case_id = c.id;
      r.idempotency_key = c.id + "/rectification/" + std::to_string(sequence) + "/0";
      r.department = wf.items.empty() ? std::string() : wf.departments[wf.items.front().department].id;
      r.adapter = "notify";
      r.operation = "notify";
      boost::json::object payload{{"case", c.id}, {"bundle", wf.bundle_id}, {"role", "applicant"},
                                  {"message", "您对办件" + c.id + "的评价已有整改答复：" + answered->answer}};
      for (const auto& f : wf.fields) {
        const auto& value = c.slots[f.slot];
        if (f.value_type.base == dsl::BaseType::phone && value.kind == dsl::ValueKind::text && !value.text.empty()) {
          payload["phone"] = value.text;
          break;
        }
      }
      r.payload = boost::json::serialize(payload);
      out.push_back(std::move(r));
    } else if (const auto* chosen = std::get_if<DeliveryChosen>(&events[k].body); chosen && chosen->method == "mail") {
      // The post office's order (寄件下单): the system `post` of the deployment, delivered
      // with retries like any department call; the results it carries are the documents the
      // items issued.
      OutboxRecord r;
      r.case_id = c.id;
      r.idempotency_key = c.id + "/delivery/" + std::to_string(sequence) + "/0";
      r.department = "post";
      r.adapter = "post";
      r.operation = "deliver";
      boost::json::array documents;
      for (MaterialIndex m = 0; m < wf.materials.size(); ++m) {
        if (wf.materials[m].producer && c.materials[m].status != MaterialStatus::missing) {
          documents.push_back(boost::json::object{{"material", wf.materials[m].id}, {"title", wf.materials[m].title}});
        }
      }
      r.payload = boost::json::serialize(boost::json::object{{"case", c.id}, {"bundle", wf.bundle_id}, {"bundle_title", wf.title},
                                                            {"recipient", chosen->recipient}, {"mobile", chosen->mobile},
                                                            {"address", chosen->address}, {"documents", std::move(documents)}});
      out.push_back(std::move(r));
    }
  }
  return out;
}

}  // namespace onevisit::engine
