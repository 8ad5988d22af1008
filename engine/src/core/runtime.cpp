// decide and apply (see runtime.hpp). Appliers are the only code that changes a Case.
#include <onevisit/engine/runtime.hpp>

#include <onevisit/dsl/formatter.hpp>
#include <onevisit/dsl/identifiers.hpp>
#include <onevisit/dsl/personal_numbers.hpp>
#include <onevisit/dsl/program.hpp>

#include <regex>

#include <algorithm>

namespace onevisit::engine {

using dsl::Value;
using dsl::ValueKind;

std::string_view to_string(CaseStatus status) {
  switch (status) {
    case CaseStatus::running: return "running";
    case CaseStatus::completed: return "completed";
    case CaseStatus::withdrawn: return "withdrawn";
    case CaseStatus::delivered: return "delivered";
    case CaseStatus::rated: return "rated";
  }
  return "running";
}

std::string_view to_string(ItemPhase phase) {
  switch (phase) {
    case ItemPhase::waiting: return "waiting";
    case ItemPhase::not_applicable: return "not_applicable";
    case ItemPhase::active: return "active";
    case ItemPhase::done: return "done";
    case ItemPhase::cancelled: return "cancelled";
  }
  return "waiting";
}

std::string_view to_string(MaterialStatus status) {
  switch (status) {
    case MaterialStatus::missing: return "missing";
    case MaterialStatus::submitted: return "submitted";
    case MaterialStatus::verified: return "verified";
    case MaterialStatus::rejected: return "rejected";
    case MaterialStatus::tolerated: return "tolerated";
  }
  return "missing";
}

std::string_view title_of(CaseStatus status) {
  switch (status) {
    case CaseStatus::running: return "办理中";
    case CaseStatus::completed: return "已办结";
    case CaseStatus::withdrawn: return "已撤回";
    case CaseStatus::delivered: return "已出件";
    case CaseStatus::rated: return "已评价";
  }
  return "办理中";
}

std::string_view title_of(ItemPhase phase) {
  switch (phase) {
    case ItemPhase::waiting: return "等待前置事项";
    case ItemPhase::not_applicable: return "本情形不涉及";
    case ItemPhase::active: return "办理中";
    case ItemPhase::done: return "已办结";
    case ItemPhase::cancelled: return "已取消";
  }
  return "等待前置事项";
}

std::string_view title_of(MaterialStatus status) {
  switch (status) {
    case MaterialStatus::missing: return "未提交";
    case MaterialStatus::submitted: return "已提交待核验";
    case MaterialStatus::verified: return "已核验";
    case MaterialStatus::rejected: return "已退回";
    case MaterialStatus::tolerated: return "容缺后补";
  }
  return "未提交";
}

std::string_view role_title(std::string_view role) {
  static constexpr std::pair<std::string_view, std::string_view> kRoles[] = {
      {"clerk", "综窗人员"},   {"reviewer", "部门审批人员"}, {"supervisor", "督办人员"},
      {"applicant", "申请人"}, {"system", "系统"},           {"admin", "管理员"}};
  for (const auto& [name, title] : kRoles) {
    if (name == role) return title;
  }
  return role;
}

std::string_view event_title(std::string_view event) {
  const auto title = dsl::builtin_event_title(event);
  return title.empty() ? event : title;
}

std::string_view to_string(Rejection::Code code) {
  switch (code) {
    case Rejection::Code::not_found: return "not_found";
    case Rejection::Code::wrong_state: return "wrong_state";
    case Rejection::Code::guard_false: return "guard_false";
    case Rejection::Code::role_not_allowed: return "role_not_allowed";
    case Rejection::Code::missing_material: return "missing_material";
    case Rejection::Code::missing_field: return "missing_field";
    case Rejection::Code::invalid_field: return "invalid_field";
    case Rejection::Code::invalid: return "invalid";
  }
  return "invalid";
}

std::string_view event_type(const EventBody& body) {
  static constexpr std::string_view kNames[] = {
      "CaseStarted",   "MaterialAttached", "MaterialVerified", "MaterialRejected", "MaterialProduced", "MaterialTolerated",
      "ItemActivated", "ItemNotApplicable", "ItemCancelled",   "ItemTransitioned", "ClockPaused",      "ClockResumed",
      "ItemWarned",    "ItemOverdue",      "CaseCompleted",    "CaseWithdrawn",    "CaseDelivered",    "CaseRated",
      "PersonalDataErased", "SpecialProcedureStarted", "SpecialProcedureEnded", "SpecialProcedureWarned",
      "SpecialProcedureOverdue", "ItemUrged", "CalendarAdopted", "DeliveryChosen", "RectificationAnswered",
      "ItemPartDecided"};
  static_assert(std::size(kNames) == std::variant_size_v<EventBody>, "a name for every event");
  return kNames[body.index()];
}

namespace {

constexpr Timestamp kMillisPerMinute = 60'000;

Minutes minutes_of(Timestamp t) { return t / kMillisPerMinute; }
Timestamp timestamp_of(Minutes m) { return m * kMillisPerMinute; }

bool clock_stopped(const Workflow& wf, const ItemState& item, ItemIndex index) {
  const auto& model = wf.items[index];
  const auto& lc = wf.lifecycles[model.lifecycle];
  const bool special_pauses = item.running_special && model.specials[item.specials[*item.running_special].procedure].pauses_clock;
  return item.paused_by_clerk || lc.states[item.state].pauses_clock || special_pauses;
}

// The end of a limit counted from `start`: the legal day rule for whole working days, working
// minutes for fractions and hours, calendar days for `days`.
Minutes limit_end(const Limit& limit, const WorkCalendar& calendar, Minutes start) {
  switch (limit.unit) {
    case dsl::TimeUnit::workday: {
      if (limit.amount.units % dsl::Decimal::kScale == 0) {
        const auto day = calendar.due_day_for_limit(day_of(start), limit.amount);
        const auto hours = calendar.hours();
        return at_time(day) + (hours.empty() ? 17 * 60 + 30 : hours.back().to);
      }
      return calendar.add_working_time(start, limit.amount);
    }
    case dsl::TimeUnit::day: {
      const auto day = calendar.due_day_for_calendar_days(day_of(start), limit.amount);
      const auto hours = calendar.hours();
      return at_time(day) + (hours.empty() ? 17 * 60 + 30 : hours.back().to);
    }
    case dsl::TimeUnit::hour:
      return calendar.add_working_minutes(start, limit.amount.units * 60 / dsl::Decimal::kScale);
  }
  return start;
}

// The item's deadline before pauses.
Minutes base_due(const ItemModel& model, const WorkCalendar& calendar, Minutes start) {
  return limit_end(*model.promised, calendar, start);
}

// Working minutes the item's clock stood still in closed pauses.
std::int64_t closed_pause_minutes(const ItemState& item, const WorkCalendar& calendar) {
  std::int64_t total = 0;
  for (const auto& [from, to] : item.pauses) total += calendar.working_minutes_between(minutes_of(from), minutes_of(to));
  return total;
}

// ... and including the pause still running at `now`.
std::int64_t paused_minutes(const ItemState& item, const WorkCalendar& calendar, Timestamp now) {
  std::int64_t total = closed_pause_minutes(item, calendar);
  if (item.paused_since) total += calendar.working_minutes_between(minutes_of(item.paused_since), minutes_of(now));
  return total;
}

}  // namespace

bool material_applies(const Workflow& wf, const Case& c, MaterialIndex m) {
  const auto& when = wf.materials[m].when;
  return !when || when->holds(dsl::Environment{c.slots, 0, nullptr});
}

// ---------------------------------------------------------------------------------------
// Deadlines and guard values

Timestamp due_at(const Workflow& wf, const WorkCalendar& calendar, const Case& c, ItemIndex i) {
  const ItemState& item = c.items[i];
  if (item.phase != ItemPhase::active || item.paused_since) return 0;
  return deadline_of(wf, calendar, item, i);
}

Timestamp deadline_of(const Workflow& wf, const WorkCalendar& calendar, const ItemState& item, ItemIndex i) {
  const ItemModel& model = wf.items[i];
  if (!model.promised || !item.clock_started_at) return 0;
  const Minutes base = base_due(model, calendar, minutes_of(item.clock_started_at));
  return timestamp_of(calendar.add_working_minutes(base, closed_pause_minutes(item, calendar)));
}

Timestamp special_due_at(const Workflow& wf, const WorkCalendar& calendar, ItemIndex i, const SpecialProcedureRun& run) {
  return timestamp_of(limit_end(wf.items[i].specials[run.procedure].max, calendar, minutes_of(run.started_at)));
}

std::int64_t special_minutes(const WorkCalendar& calendar, const SpecialProcedureRun& run, Timestamp now) {
  const Timestamp end = run.ended_at ? run.ended_at : now;
  return end > run.started_at ? calendar.working_minutes_between(minutes_of(run.started_at), minutes_of(end)) : 0;
}

std::optional<Rejection> clock_control_refusal(const Workflow& wf, ItemIndex i, const std::string& role, const std::string& department) {
  if (role == "system") return std::nullopt;
  const ItemModel& model = wf.items[i];
  const auto& lc = wf.lifecycles[model.lifecycle];
  static const std::vector<std::string> kStaff{"clerk", "reviewer", "supervisor"};
  // The staff who act on the item in its lifecycle; the handling department's reviewer always.
  std::vector<std::string> roles{"reviewer"};
  for (const auto& tr : lc.transitions) {
    for (const auto& r : tr.roles.empty() ? kStaff : tr.roles) {
      if (std::find(kStaff.begin(), kStaff.end(), r) != kStaff.end() && std::find(roles.begin(), roles.end(), r) == roles.end()) {
        roles.push_back(r);
      }
    }
  }
  std::sort(roles.begin(), roles.end());
  const std::string title = "「" + model.title + "」";
  const std::string& own = wf.departments[model.department].id;
  Rejection r;
  r.code = Rejection::Code::role_not_allowed;
  if (std::find(roles.begin(), roles.end(), role) == roles.end()) {
    std::string titles;
    for (const auto& x : roles) titles += (titles.empty() ? "" : "、") + std::string(role_title(x));
    r.reason = "role_not_allowed";
    r.message = title + "的计时（暂停、恢复、特别程序）由" + titles + "掌握，" + std::string(role_title(role)) + "不能办理。";
    r.detail = "Expected one of the item's staff roles to control the clock of '" + model.id + "', but the role is '" + role + "'";
    r.details = {{"item", {model.id}}, {"roles", roles}};
    return r;
  }
  if (role == "reviewer" && department != own) {
    r.reason = "other_department";
    r.message = title + "由" + wf.departments[model.department].title + "办理，只有该部门的审批人员可以掌握它的计时。";
    r.detail = "Expected a reviewer of department '" + own + "' to control the clock of '" + model.id + "', but the reviewer's department is '" +
               department + "'";
    r.details = {{"item", {model.id}}, {"department", {own}}};
    return r;
  }
  return std::nullopt;
}

std::vector<Value> guard_slots(const Workflow& wf, const WorkCalendar& calendar, const Case& c, ItemIndex i, Timestamp now) {
  const ItemModel& model = wf.items[i];
  const ItemState& item = c.items[i];
  bool complete = true, verified = true;
  std::int64_t pending = 0;
  for (const auto m : model.needs) {
    if (!material_applies(wf, c, m)) continue;
    const auto status = c.materials[m].status;
    complete = complete && (status == MaterialStatus::submitted || status == MaterialStatus::verified ||
                            status == MaterialStatus::tolerated);
    verified = verified && status == MaterialStatus::verified;
    pending += status == MaterialStatus::tolerated;
  }
  const auto per_day = std::max<Minutes>(1, calendar.working_minutes_per_day());
  auto workdays = [&](std::int64_t minutes) {
    return Value::of_duration(dsl::Decimal{minutes * dsl::Decimal::kScale / per_day}, dsl::TimeUnit::workday);
  };
  std::vector<Value> slots;
  slots.reserve(wf.guard_scope().slot_count());
  slots.push_back(Value::of_bool(complete));
  slots.push_back(Value::of_bool(verified));
  slots.push_back(Value::of_int(pending));
  slots.push_back(Value::of_int(item.corrections));
  const std::int64_t elapsed =
      item.clock_started_at ? calendar.working_minutes_between(minutes_of(item.clock_started_at), minutes_of(now)) - paused_minutes(item, calendar, now)
                      : 0;
  slots.push_back(workdays(std::max<std::int64_t>(0, elapsed)));
  const Timestamp due = due_at(wf, calendar, c, i);
  slots.push_back(due ? workdays(calendar.working_minutes_between(minutes_of(now), minutes_of(due))) : Value{});
  for (const auto& field : wf.fields) slots.push_back(field.slot < c.slots.size() ? c.slots[field.slot] : Value{});
  slots.resize(std::max(slots.size(), wf.guard_scope().slot_count()));
  return slots;
}

// ---------------------------------------------------------------------------------------
// Form validation

const std::vector<FieldChoice>* field_choices(const FieldModel& field) {
  return field.choices.empty() ? nullptr : &field.choices;
}

std::string field_title(const FieldModel& field) { return field.title.empty() ? field.name : field.title; }

std::string choice_problem(const FieldModel& field, std::string_view value) {
  const auto* choices = field_choices(field);
  if (!choices) return {};
  if (std::any_of(choices->begin(), choices->end(), [&](const auto& c) { return c.name == value; })) return {};
  std::string listed;
  for (const auto& c : *choices) {
    if (!listed.empty()) listed += "、";
    listed += !c.title.empty() ? c.title + "（" + c.name + "）" : c.name;
  }
  // The value is what someone typed: never longer than a line, never a whole personal number.
  return "「" + field_title(field) + "」没有“" + dsl::truncate_utf8(dsl::mask_personal_numbers(value), 64) +
         "”这一项，请从以下选项中选择：" + listed;
}

std::map<std::string, Value> normalise_identifiers(const Workflow& workflow, const std::map<std::string, Value>& form) {
  std::map<std::string, Value> out = form;
  for (auto& [name, value] : out) {
    const auto index = workflow.find_field(name);
    if (!index || value.kind != ValueKind::text) continue;
    const auto base = workflow.fields[*index].value_type.base;
    if (base == dsl::BaseType::idcard || base == dsl::BaseType::uscc || base == dsl::BaseType::phone) {
      value = Value::of_text(dsl::normalise_identifier(value.text));
    }
  }
  return out;
}

std::vector<Rejection::FieldError> validate_form(const Workflow& wf, const std::map<std::string, Value>& form, Timestamp now) {
  std::vector<Rejection::FieldError> errors;
  for (const auto& [name, value] : form) {
    if (!wf.find_field(name)) {
      std::vector<std::string_view> names;
      for (const auto& f : wf.fields) names.push_back(f.name);
      std::string message = "「" + wf.title + "」的表单没有“" + dsl::truncate_utf8(dsl::mask_personal_numbers(name), 64) + "”这一栏";
      if (auto guess = dsl::closest_name(name, names); !guess.empty()) {
        message += "，是否指「" + field_title(wf.fields[*wf.find_field(guess)]) + "」（" + guess + "）？";
      }
      errors.push_back({name, message});
    }
  }
  // Values with defaults filled in, so `when` conditions read what the case will hold.
  std::vector<Value> slots(wf.scope().slot_count());
  for (const auto& f : wf.fields) {
    if (auto it = form.find(f.name); it != form.end()) {
      slots[f.slot] = it->second;
    } else if (f.default_value) {
      slots[f.slot] = *f.default_value;
    }
  }
  const dsl::Environment env{slots, day_of(minutes_of(now)), nullptr};
  for (const auto& f : wf.fields) {
    const auto it = form.find(f.name);
    const bool asked = !f.when || f.when->holds(env);
    const bool given = it != form.end() && !it->second.is_null();
    if (!given) {
      if (asked && f.required && !f.default_value && !f.default_expression) errors.push_back({f.name, "请填写「" + field_title(f) + "」"});
      continue;
    }
    const Value& v = it->second;
    // Messages are for people: Chinese, naming the field's title; they never repeat a value
    // that may be personal (an ID number with a wrong check digit is not recognised as one).
    const std::string title = "「" + field_title(f) + "」";
    auto fail = [&](std::string message) { errors.push_back({f.name, std::move(message)}); };
    switch (f.value_type.base) {
      case dsl::BaseType::boolean:
        if (v.kind != ValueKind::boolean) fail(title + "应为是或否");
        break;
      case dsl::BaseType::integer:
        if (v.kind != ValueKind::integer) fail(title + "应为整数");
        break;
      case dsl::BaseType::decimal:
      case dsl::BaseType::money:
        if (v.kind != ValueKind::integer && v.kind != ValueKind::decimal) fail(title + "应为数字");
        if (f.value_type.base == dsl::BaseType::money && v.kind == ValueKind::decimal && v.integer % 100 != 0) {
          fail(title + "是金额，最多两位小数");
        }
        break;
      case dsl::BaseType::date:
        if (v.kind != ValueKind::date) fail(title + "应为日期（年-月-日）");
        break;
      case dsl::BaseType::idcard:
        // Says which check failed (length, characters, date, region, check character).
        if (v.kind != ValueKind::text) {
          fail(title + "应为 18 位居民身份证号码");
        } else if (const auto problem = dsl::idcard_problem(v.text, env.today)) {
          fail(title + "不是有效的居民身份证号码：" + std::string(dsl::describe(*problem)) + "，请核对后重新填写");
        }
        break;
      case dsl::BaseType::uscc:
        if (v.kind != ValueKind::text) {
          fail(title + "应为 18 位统一社会信用代码");
        } else if (const auto problem = dsl::uscc_problem(v.text)) {
          fail(title + "不是有效的统一社会信用代码：" + std::string(dsl::describe(*problem)) + "，请核对后重新填写");
        }
        break;
      case dsl::BaseType::phone: {
        static const std::regex kLandline("^0[0-9]{2,3}-?[0-9]{7,8}$");
        if (v.kind != ValueKind::text || !(dsl::valid_mobile_phone(v.text) || std::regex_match(v.text, kLandline))) {
          fail(title + "不是有效的电话号码（11 位手机号，或带区号的固定电话如 0571-88888888）");
        }
        break;
      }
      case dsl::BaseType::enumeration:
        if (auto problem = choice_problem(f, v.kind == ValueKind::text ? v.text : dsl::to_string(v)); !problem.empty()) {
          fail(std::move(problem));
        }
        break;
      case dsl::BaseType::list:
        if (v.kind != ValueKind::list) {
          fail(title + "应为多选（列表）");
          break;
        }
        // A multiple choice: every element one of the choices (the first one that is not is named).
        for (const auto& element : v.list) {
          if (auto problem = choice_problem(f, element.kind == ValueKind::text ? element.text : dsl::to_string(element));
              !problem.empty()) {
            fail(std::move(problem));
            break;
          }
        }
        break;
      default:
        if (v.kind != ValueKind::text) fail(title + "应为文字");
        break;
    }
    if (!errors.empty() && errors.back().field == f.name) continue;
    std::optional<Value> min = f.min, max = f.max;
    if (f.min_expression) min = f.min_expression->evaluate(env);
    if (f.max_expression) max = f.max_expression->evaluate(env);
    if (min || max) {
      auto compare = [&](const Value& bound) {
        if (v.kind == ValueKind::date) return (v.integer > bound.integer) - (v.integer < bound.integer);
        const auto a = v.as_decimal(), b = bound.as_decimal();
        return (a > b) - (a < b);
      };
      if (min && !min->is_null() && compare(*min) < 0) fail(title + "不能小于 " + dsl::to_string(*min));
      if (max && !max->is_null() && compare(*max) > 0) fail(title + "不能大于 " + dsl::to_string(*max));
    }
    if (!f.pattern.empty() && v.kind == ValueKind::text) {
      const auto matched = dsl::pattern_matches(v.text, f.pattern);
      if (!matched) {
        fail(title + "无法按规定格式校验（格式规则有误或内容过长），请联系业务配置人员");
      } else if (!*matched) {
        fail(title + "的格式不符合要求（" + f.pattern + "）");
      }
    }
  }
  // The bundle's checks across fields, once each field they read is valid on its own. A rule
  // whose value is null (a field it reads was not given) does not apply: null is not false.
  for (const auto& rule : wf.rules) {
    const bool readable = std::none_of(rule.fields.begin(), rule.fields.end(), [&](FieldIndex f) {
      return std::any_of(errors.begin(), errors.end(), [&](const Rejection::FieldError& e) { return e.field == wf.fields[f].name; });
    });
    if (!readable) continue;
    const Value held = rule.condition.evaluate(env);
    if (held.kind == ValueKind::boolean && !held.boolean) {
      errors.push_back({rule.fields.empty() ? std::string() : wf.fields[rule.fields.front()].name, rule.message});
    }
  }
  return errors;
}

// ---------------------------------------------------------------------------------------
// apply: one applier per event

namespace {

struct Applier {
  const Workflow& wf;
  Case& c;
  const Event& e;

  void stop_clock(ItemState& item) {
    if (!item.paused_since) item.paused_since = e.at;
  }
  void restart_clock(ItemState& item, ItemIndex i) {
    if (item.paused_since && !clock_stopped(wf, item, i)) {
      item.pauses.emplace_back(item.paused_since, e.at);
      item.paused_since = 0;
    }
  }

  // Stays in clock-stopping states, by kind: leaving one closes it, entering one opens one.
  void leave_stay(ItemState& item) {
    if (!item.stays.empty() && item.stays.back().to == 0) item.stays.back().to = e.at;
  }
  void enter_stay(ItemState& item, const StateModel& state) {
    if (state.pauses_clock && !state.final) item.stays.push_back(ClockStopStay{state.clock_stop, e.at, 0});
  }

  void operator()(const CaseStarted& x) {
    c.bundle_id = x.bundle_id;
    c.bundle_version = x.bundle_version;
    c.slots = x.slots;
    c.applicant_masked = x.applicant_masked;
    c.channel = x.channel;
    c.calendar_version = x.calendar_version;
    c.started_at = e.at;
    c.status = CaseStatus::running;
    c.materials.assign(wf.materials.size(), MaterialState{});
    c.items.assign(wf.items.size(), ItemState{});
  }
  void operator()(const MaterialAttached& x) {
    auto& m = c.materials.at(x.material);
    m.status = x.from_elicense ? MaterialStatus::verified : MaterialStatus::submitted;
    m.content_hash = x.content_hash;
    m.file_name = x.file_name;
    // A department's system (actor "system:<department>") delivering what its item issued.
    const bool issued = wf.materials.at(x.material).producer && e.actor.starts_with("system:");
    m.note = !x.from_elicense ? "" : issued ? "issued by the department's system" : "e-license";
  }
  void operator()(const MaterialVerified& x) { c.materials.at(x.material).status = MaterialStatus::verified; }
  void operator()(const MaterialRejected& x) {
    auto& m = c.materials.at(x.material);
    m.status = MaterialStatus::rejected;
    m.note = x.reason;
  }
  void operator()(const MaterialProduced& x) {
    auto& m = c.materials.at(x.material);
    m.status = MaterialStatus::verified;
    m.note = "produced by " + wf.items.at(x.by).id;
  }
  void operator()(const MaterialTolerated& x) {
    auto& m = c.materials.at(x.material);
    m.status = MaterialStatus::tolerated;
    m.note = "pending (容缺) for " + wf.items.at(x.item).id;
  }
  void operator()(const ItemActivated& x) {
    auto& item = c.items.at(x.item);
    item.phase = ItemPhase::active;
    item.state = x.state;
    item.started_at = e.at;
    item.state_entered_at = e.at;
    // A lifecycle that names no `starts_clock` transition counts from activation.
    if (!wf.lifecycles[wf.items[x.item].lifecycle].clock_starts_on_transition) item.clock_started_at = e.at;
    enter_stay(item, wf.lifecycles[wf.items[x.item].lifecycle].states[x.state]);
    item.parts.assign(wf.items[x.item].joint.size(), JointPart{});
    if (clock_stopped(wf, item, x.item)) stop_clock(item);
  }
  // The time limit starts at `start`: stops before it (a correction before acceptance) do not
  // extend the deadline.
  static void start_clock(ItemState& item, Timestamp start) {
    item.clock_started_at = start;
    std::vector<std::pair<Timestamp, Timestamp>> kept;
    for (auto [from, to] : item.pauses) {
      if (to > start) kept.emplace_back(std::max(from, start), to);
    }
    item.pauses = std::move(kept);
    if (item.paused_since && item.paused_since < start) item.paused_since = start;
  }
  void end_running_special(ItemState& item) {
    if (!item.running_special) return;
    auto& run = item.specials[*item.running_special];
    run.ended_at = e.at;
    run.ended_by = e.actor;
    item.running_special.reset();
  }
  void operator()(const ItemNotApplicable& x) { c.items.at(x.item).phase = ItemPhase::not_applicable; }
  void operator()(const ItemCancelled& x) {
    auto& item = c.items.at(x.item);
    item.phase = ItemPhase::cancelled;
    item.finished_at = e.at;
  }
  void operator()(const ItemTransitioned& x) {
    auto& item = c.items.at(x.item);
    const auto& lc = wf.lifecycles[wf.items[x.item].lifecycle];
    const auto is_correction = [](const StateModel& s) { return s.pauses_clock && s.clock_stop == dsl::ClockStop::correction; };
    const bool was_correcting = is_correction(lc.states[x.from]);
    const Timestamp received_at = item.state_entered_at;
    if (x.transition < lc.transitions.size() && !item.clock_started_at) {
      switch (lc.transitions[x.transition].starts_clock) {
        case ClockStart::none: break;
        case ClockStart::now: start_clock(item, e.at); break;
        case ClockStart::from_receipt: start_clock(item, received_at); break;
      }
    }
    item.state = x.to;
    item.state_entered_at = e.at;
    // The item moved on: the urging is answered.
    item.urged_at = 0;
    item.urged_by.clear();
    item.urge_note.clear();
    // Only a correction uses up the notice and counts; waiting and special stops do not.
    if (is_correction(lc.states[x.to]) && !was_correcting) ++item.corrections;
    leave_stay(item);
    enter_stay(item, lc.states[x.to]);
    if (lc.states[x.to].final) {
      end_running_special(item);
      item.phase = ItemPhase::done;
      item.finished_at = e.at;
      if (item.paused_since) {
        item.pauses.emplace_back(item.paused_since, e.at);
        item.paused_since = 0;
      }
      item.light = Light::none;
      return;
    }
    if (clock_stopped(wf, item, x.item)) {
      stop_clock(item);
    } else {
      restart_clock(item, x.item);
    }
  }
  void operator()(const ClockPaused& x) {
    auto& item = c.items.at(x.item);
    item.paused_by_clerk = true;
    stop_clock(item);
  }
  void operator()(const ClockResumed& x) {
    auto& item = c.items.at(x.item);
    item.paused_by_clerk = false;
    restart_clock(item, x.item);
  }
  void operator()(const SpecialProcedureStarted& x) {
    auto& item = c.items.at(x.item);
    if (x.procedure >= wf.items.at(x.item).specials.size()) return;  // not this workflow's (never written so)
    SpecialProcedureRun run;
    run.procedure = x.procedure;
    run.started_at = e.at;
    run.started_by = e.actor;
    run.reason = x.reason;
    item.specials.push_back(std::move(run));
    item.running_special = item.specials.size() - 1;
    // Not a correction: `corrections` stays, and the clock stops only for `pauses_clock`.
    if (clock_stopped(wf, item, x.item)) stop_clock(item);
  }
  void operator()(const SpecialProcedureEnded& x) {
    auto& item = c.items.at(x.item);
    if (!item.running_special) return;
    item.specials[*item.running_special].result = x.result;
    end_running_special(item);
    restart_clock(item, x.item);
  }
  void operator()(const SpecialProcedureWarned& x) {
    auto& item = c.items.at(x.item);
    if (item.running_special && item.specials[*item.running_special].light == Light::none) {
      item.specials[*item.running_special].light = Light::yellow;
    }
  }
  void operator()(const SpecialProcedureOverdue& x) {
    auto& item = c.items.at(x.item);
    if (item.running_special) item.specials[*item.running_special].light = Light::red;
  }
  void operator()(const ItemWarned& x) {
    auto& item = c.items.at(x.item);
    if (item.light == Light::none) item.light = Light::yellow;
  }
  void operator()(const ItemOverdue& x) { c.items.at(x.item).light = Light::red; }
  void operator()(const ItemUrged& x) {
    auto& item = c.items.at(x.item);
    item.urged_at = e.at;
    item.urged_by = e.actor;
    item.urge_note = x.note;
  }
  // The deadlines follow from the case's calendar; the event keeps what they were.
  void operator()(const CalendarAdopted& x) { c.calendar_version = x.version; }
  void operator()(const CaseCompleted&) { c.status = CaseStatus::completed; }
  void operator()(const CaseWithdrawn&) { c.status = CaseStatus::withdrawn; }
  void operator()(const RectificationAnswered& x) {
    c.rectification_answer = x.answer;
    c.rectification_answered_at = e.at;
  }
  void operator()(const ItemPartDecided& x) {
    auto& item = c.items.at(x.item);
    const auto parts = wf.items.at(x.item).joint.size();
    if (x.part >= parts) return;  // not this workflow's (never written so)
    if (item.parts.size() < parts) item.parts.resize(parts);
    auto& part = item.parts[x.part];
    part.decision = x.approved ? PartDecision::approved : PartDecision::refused;
    part.at = e.at;
    part.by = e.actor;
    part.note = x.note;
  }
  void operator()(const DeliveryChosen& x) { c.delivery_choice = {x.method, x.recipient, x.mobile, x.address}; }
  void operator()(const CaseDelivered& x) {
    c.status = CaseStatus::delivered;
    c.delivery_channel = x.channel;
  }
  void operator()(const CaseRated& x) {
    c.status = CaseStatus::rated;
    c.rating = x.level;
    c.rating_comment = x.comment;
    c.rectification_due = x.rectification_due;
  }
  void operator()(const PersonalDataErased& x) {
    // The stored history was rewritten in the same commit (Engine::run); here the state.
    for (const auto f : x.fields) {
      if (f >= wf.fields.size()) continue;
      auto& slot = c.slots.at(wf.fields[f].slot);
      if (slot.kind == dsl::ValueKind::text) slot = dsl::Value::of_text(std::string(kErasedValue));
    }
    c.applicant_masked.clear();
    c.personal_data_erased_at = e.at;
  }
};

}  // namespace

std::optional<Timestamp> retention_ends(const Workflow& workflow, const Case& state) {
  if (!workflow.retention || state.version == 0 || state.status == CaseStatus::running || state.personal_data_erased_at != 0) {
    return std::nullopt;
  }
  using dsl::RetentionUnit;
  constexpr Timestamp kMillisPerDay = 24 * 60 * kMillisPerMinute;
  const auto& r = *workflow.retention;
  const std::int64_t day = state.updated_at >= 0 ? state.updated_at / kMillisPerDay : (state.updated_at - kMillisPerDay + 1) / kMillisPerDay;
  const Timestamp time_of_day = state.updated_at - day * kMillisPerDay;
  if (r.unit == RetentionUnit::day) return (day + r.amount) * kMillisPerDay + time_of_day;
  auto date = dsl::civil_from_days(day);
  const std::int64_t months = (date.year * 12 + (date.month - 1)) + (r.unit == RetentionUnit::year ? 12 * r.amount : r.amount);
  date.year = static_cast<int>(months / 12);
  date.month = static_cast<int>(months % 12) + 1;
  // 29 February + 1 year is 28 February; 31 March + 1 month is 30 April.
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (date.year % 4 == 0 && date.year % 100 != 0) || date.year % 400 == 0;
  const int last = kDays[date.month - 1] + (date.month == 2 && leap ? 1 : 0);
  date.day = std::min(date.day, last);
  return dsl::days_from_civil(date) * kMillisPerDay + time_of_day;
}

std::vector<std::string> personal_values(const Workflow& workflow, const Case& state) {
  std::vector<std::string> values;
  if (workflow.retention) {
    for (const auto f : workflow.retention->personal) {
      if (f >= workflow.fields.size() || workflow.fields[f].slot >= state.slots.size()) continue;
      const auto& v = state.slots[workflow.fields[f].slot];
      if (v.kind == dsl::ValueKind::text && !v.text.empty() && v.text != kErasedValue) values.push_back(v.text);
    }
  }
  if (!state.applicant_masked.empty()) values.push_back(state.applicant_masked);
  // Where the results were posted to is the applicant's too.
  for (const auto* v : {&state.delivery_choice.recipient, &state.delivery_choice.mobile, &state.delivery_choice.address}) {
    if (!v->empty() && *v != kErasedValue) values.push_back(*v);
  }
  return values;
}

void apply(const Workflow& workflow, Case& state, const Event& event) {
  std::visit(Applier{workflow, state, event}, event.body);
  ++state.version;
  state.updated_at = event.at;
}

}  // namespace onevisit::engine
