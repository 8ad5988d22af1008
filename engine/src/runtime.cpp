// decide and apply (see runtime.hpp). Appliers are the only code that changes a Case.
#include <onevisit/engine/runtime.hpp>

#include <onevisit/dsl/formatter.hpp>
#include <onevisit/dsl/identifiers.hpp>

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
      "PersonalDataErased"};
  static_assert(std::size(kNames) == std::variant_size_v<EventBody>, "a name for every event");
  return kNames[body.index()];
}

namespace {

constexpr Timestamp kMillisPerMinute = 60'000;

Minutes minutes_of(Timestamp t) { return t / kMillisPerMinute; }
Timestamp timestamp_of(Minutes m) { return m * kMillisPerMinute; }

template <class T>
std::string join(const std::vector<T>& items, std::string_view separator = ", ") {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

bool clock_stopped(const Workflow& wf, const ItemState& item, ItemIndex index) {
  const auto& lc = wf.lifecycles[wf.items[index].lifecycle];
  return item.paused_by_clerk || lc.states[item.state].pauses_clock;
}

// The item's deadline before pauses: the legal day rule for whole working days, working
// minutes for fractions and hours, calendar days for `days`.
Minutes base_due(const ItemModel& model, const WorkCalendar& calendar, Minutes start) {
  const Limit& limit = *model.promised;
  switch (limit.unit) {
    case dsl::ast::TimeUnit::workday: {
      if (limit.amount.units % dsl::Decimal::kScale == 0) {
        const auto day = calendar.due_day_for_limit(day_of(start), limit.amount);
        const auto hours = calendar.hours();
        return at_time(day) + (hours.empty() ? 17 * 60 + 30 : hours.back().to);
      }
      return calendar.add_working_time(start, limit.amount);
    }
    case dsl::ast::TimeUnit::day: {
      const auto day = calendar.due_day_for_calendar_days(day_of(start), limit.amount);
      const auto hours = calendar.hours();
      return at_time(day) + (hours.empty() ? 17 * 60 + 30 : hours.back().to);
    }
    case dsl::ast::TimeUnit::hour:
      return calendar.add_working_minutes(start, limit.amount.units * 60 / dsl::Decimal::kScale);
  }
  return start;
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
  const ItemModel& model = wf.items[i];
  if (item.phase != ItemPhase::active || item.paused_since || !model.promised) return 0;
  const Minutes base = base_due(model, calendar, minutes_of(item.started_at));
  return timestamp_of(calendar.add_working_minutes(base, closed_pause_minutes(item, calendar)));
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
    return Value::of_duration(dsl::Decimal{minutes * dsl::Decimal::kScale / per_day}, dsl::ast::TimeUnit::workday);
  };
  std::vector<Value> slots;
  slots.reserve(wf.guard_scope().slot_count());
  slots.push_back(Value::of_bool(complete));
  slots.push_back(Value::of_bool(verified));
  slots.push_back(Value::of_int(pending));
  slots.push_back(Value::of_int(item.corrections));
  const std::int64_t elapsed =
      item.started_at ? calendar.working_minutes_between(minutes_of(item.started_at), minutes_of(now)) - paused_minutes(item, calendar, now)
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

std::vector<Rejection::FieldError> validate_form(const Workflow& wf, const std::map<std::string, Value>& form, Timestamp now) {
  std::vector<Rejection::FieldError> errors;
  for (const auto& [name, value] : form) {
    if (!wf.find_field(name)) {
      std::vector<std::string_view> names;
      for (const auto& f : wf.fields) names.push_back(f.name);
      std::string message = "is not a field of bundle '" + wf.bundle_id + "'";
      if (auto guess = dsl::closest_name(name, names); !guess.empty()) message += "; did you mean '" + guess + "'?";
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
      if (asked && f.required && !f.default_value && !f.default_expression) errors.push_back({f.name, "is required"});
      continue;
    }
    const Value& v = it->second;
    auto fail = [&](std::string message) { errors.push_back({f.name, std::move(message)}); };
    switch (f.value_type.base) {
      case dsl::BaseType::boolean:
        if (v.kind != ValueKind::boolean) fail("must be true or false");
        break;
      case dsl::BaseType::integer:
        if (v.kind != ValueKind::integer) fail("must be a whole number");
        break;
      case dsl::BaseType::decimal:
      case dsl::BaseType::money:
        if (v.kind != ValueKind::integer && v.kind != ValueKind::decimal) fail("must be a number");
        if (f.value_type.base == dsl::BaseType::money && v.kind == ValueKind::decimal && v.integer % 100 != 0) {
          fail("money has at most 2 decimals");
        }
        break;
      case dsl::BaseType::date:
        if (v.kind != ValueKind::date) fail("must be a date YYYY-MM-DD");
        break;
      case dsl::BaseType::idcard:
        if (v.kind != ValueKind::text || !dsl::valid_idcard(v.text)) fail("is not a valid resident ID number (GB 11643 check failed)");
        break;
      case dsl::BaseType::uscc:
        if (v.kind != ValueKind::text || !dsl::valid_uscc(v.text)) fail("is not a valid unified social credit code (GB 32100 check failed)");
        break;
      case dsl::BaseType::phone: {
        static const std::regex kLandline("^0[0-9]{2,3}-?[0-9]{7,8}$");
        if (v.kind != ValueKind::text || !(dsl::valid_mobile_phone(v.text) || std::regex_match(v.text, kLandline))) {
          fail("is not a phone number (11-digit mobile or 0xx-xxxxxxxx)");
        }
        break;
      }
      case dsl::BaseType::enumeration: {
        const auto& values = *f.value_type.values;
        if (v.kind != ValueKind::text || std::find(values.begin(), values.end(), v.text) == values.end()) {
          fail("must be one of: " + join(values));
        }
        break;
      }
      case dsl::BaseType::list:
        if (v.kind != ValueKind::list) fail("must be a list");
        break;
      default:
        if (v.kind != ValueKind::text) fail("must be text");
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
      if (min && !min->is_null() && compare(*min) < 0) fail("must be at least " + dsl::to_string(*min));
      if (max && !max->is_null() && compare(*max) > 0) fail("must be at most " + dsl::to_string(*max));
    }
    if (!f.pattern.empty() && v.kind == ValueKind::text) {
      const auto matched = dsl::pattern_matches(v.text, f.pattern);
      if (!matched) {
        fail("cannot be checked against the pattern " + f.pattern + " (the pattern is invalid, or too complex for this value)");
      } else if (!*matched) {
        fail("does not match the pattern " + f.pattern);
      }
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

  void operator()(const CaseStarted& x) {
    c.bundle_id = x.bundle_id;
    c.bundle_version = x.bundle_version;
    c.slots = x.slots;
    c.applicant_masked = x.applicant_masked;
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
    if (clock_stopped(wf, item, x.item)) stop_clock(item);
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
    const bool was_paused_state = lc.states[x.from].pauses_clock;
    item.state = x.to;
    item.state_entered_at = e.at;
    if (lc.states[x.to].pauses_clock && !was_paused_state) ++item.corrections;
    if (lc.states[x.to].final) {
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
  void operator()(const ItemWarned& x) {
    auto& item = c.items.at(x.item);
    if (item.light == Light::none) item.light = Light::yellow;
  }
  void operator()(const ItemOverdue& x) { c.items.at(x.item).light = Light::red; }
  void operator()(const CaseCompleted&) { c.status = CaseStatus::completed; }
  void operator()(const CaseWithdrawn&) { c.status = CaseStatus::withdrawn; }
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
  using dsl::ast::RetentionUnit;
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
  return values;
}

void apply(const Workflow& workflow, Case& state, const Event& event) {
  std::visit(Applier{workflow, state, event}, event.body);
  ++state.version;
  state.updated_at = event.at;
}

}  // namespace onevisit::engine
