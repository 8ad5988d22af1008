#include <onevisit/engine/figures.hpp>

#include <onevisit/dsl/identifiers.hpp>
#include <onevisit/dsl/personal_numbers.hpp>
#include <onevisit/engine/formats.hpp>
#include <onevisit/engine/runtime.hpp>

#include <boost/json.hpp>

#include <cmath>
#include <set>
#include <sstream>

namespace onevisit::engine {

using dsl::Value;
using dsl::ValueKind;

std::expected<Value, std::string> parse_field_value(const Workflow& workflow, std::string_view name, std::string_view text) {
  const auto index = workflow.find_field(name);
  if (!index) {
    std::vector<std::string_view> names;
    for (const auto& f : workflow.fields) names.push_back(f.name);
    std::string message = "「" + workflow.title + "」的表单没有“" + dsl::truncate_utf8(dsl::mask_personal_numbers(name), 64) + "”这一栏";
    if (auto guess = dsl::closest_name(name, names); !guess.empty()) {
      message += "，是否指「" + field_title(workflow.fields[*workflow.find_field(guess)]) + "」（" + guess + "）？";
    }
    return std::unexpected(message);
  }
  const FieldModel& field = workflow.fields[*index];
  const bool personal = field.value_type.base == dsl::BaseType::idcard || field.value_type.base == dsl::BaseType::uscc ||
                        field.value_type.base == dsl::BaseType::phone;
  // Identifiers are read as people type them: blanks around, full-width digits, a lower-case x.
  const std::string value = personal ? dsl::normalise_identifier(text) : std::string(text);
  // The value is repeated so people see what was read; a personal number never whole (a
  // number with a wrong check digit is no ID number to the masking, so these fields are
  // masked by position), and never longer than a line.
  const std::string shown = dsl::truncate_utf8(personal ? dsl::mask_applicant(value) : dsl::mask_personal_numbers(value), 64);
  auto bad = [&](std::string_view wanted) {
    return std::unexpected("「" + field_title(field) + "」应为" + std::string(wanted) + "，“" + shown + "”不是");
  };
  switch (field.value_type.base) {
    case dsl::BaseType::boolean:
      if (value == "true" || value == "yes" || value == "是") return Value::of_bool(true);
      if (value == "false" || value == "no" || value == "否") return Value::of_bool(false);
      return bad("是或否（true 或 false）");
    case dsl::BaseType::integer: {
      const auto d = dsl::Decimal::parse(value);
      if (!d || d->units % dsl::Decimal::kScale != 0) return bad("整数");
      return Value::of_int(d->units / dsl::Decimal::kScale);
    }
    case dsl::BaseType::decimal:
    case dsl::BaseType::money: {
      const auto d = dsl::Decimal::parse(value);
      if (!d) return bad("数字");
      return Value::of_decimal(*d);
    }
    case dsl::BaseType::date: {
      const auto d = dsl::parse_civil_date(value);
      if (!d) return bad("日期（年-月-日，如 2026-12-07）");
      return Value::of_date(dsl::days_from_civil(*d));
    }
    case dsl::BaseType::enumeration:
      if (auto problem = choice_problem(field, value); !problem.empty()) return std::unexpected(std::move(problem));
      return Value::of_text(value);
    case dsl::BaseType::list: {
      std::vector<Value> items;
      std::stringstream stream(value);
      std::string part;
      while (std::getline(stream, part, ',')) {
        if (auto problem = choice_problem(field, part); !problem.empty()) return std::unexpected(std::move(problem));
        items.push_back(Value::of_text(part));
      }
      return Value::of_list(std::move(items));
    }
    case dsl::BaseType::idcard:
      if (const auto problem = dsl::idcard_problem(value)) {
        return bad("有效的居民身份证号码（" + std::string(dsl::describe(*problem)) + "）");
      }
      return Value::of_text(value);
    case dsl::BaseType::uscc:
      if (const auto problem = dsl::uscc_problem(value)) {
        return bad("有效的统一社会信用代码（" + std::string(dsl::describe(*problem)) + "）");
      }
      return Value::of_text(value);
    default: return Value::of_text(value);
  }
}

std::vector<Value> situation_slots(const Workflow& workflow, const std::map<std::string, Value>& given, std::int64_t today) {
  std::vector<Value> slots(workflow.scope().slot_count());
  for (const auto& f : workflow.fields) {
    if (auto it = given.find(f.name); it != given.end()) {
      slots[f.slot] = it->second;
    } else if (f.default_value) {
      slots[f.slot] = *f.default_value;
    } else if (f.default_expression) {
      slots[f.slot] = f.default_expression->evaluate(dsl::Environment{slots, today, nullptr});
    }
  }
  return slots;
}

MaterialInfo material_info(const Workflow& workflow, MaterialIndex m) {
  const MaterialModel& material = workflow.materials[m];
  return MaterialInfo{m,
                      material.id,
                      material.title,
                      material.source,
                      material.secondary,
                      material.original,
                      material.formats,
                      accept_attribute(material)};
}

std::vector<MaterialInfo> situation_materials(const Workflow& workflow, const std::vector<Value>& slots, std::int64_t today) {
  const dsl::Environment environment{slots, today, nullptr};
  std::vector<bool> needed(workflow.materials.size(), false);
  for (const auto& item : workflow.items) {
    if (item.when && !item.when->holds(environment)) continue;
    for (const auto m : item.needs) needed[m] = true;
  }
  std::vector<MaterialInfo> out;
  for (MaterialIndex m = 0; m < workflow.materials.size(); ++m) {
    const auto& material = workflow.materials[m];
    // What an item of the bundle issues is not the applicant's to bring.
    if (!needed[m] || material.producer || (material.when && !material.when->holds(environment))) continue;
    out.push_back(material_info(workflow, m));
  }
  return out;
}

namespace {
double reduction(double separate, double bundled) {
  if (separate <= 0) return 0;
  return std::round((separate - bundled) / separate * 1000.0) / 10.0;
}
}  // namespace

BundleFigures compute_figures(const Workflow& workflow, const std::map<std::string, Value>& given, std::int64_t today_days) {
  BundleFigures f;
  f.bundle = workflow.bundle_id;
  f.version = workflow.version;
  const auto slots = situation_slots(workflow, given, today_days);
  const dsl::Environment env{slots, today_days, nullptr};

  std::vector<bool> applicable(workflow.items.size(), false);
  for (ItemIndex i = 0; i < workflow.items.size(); ++i) {
    applicable[i] = !workflow.items[i].when || workflow.items[i].when->holds(env);
    if (applicable[i]) f.applicable_items.push_back(i);
  }
  auto material_applies = [&](MaterialIndex m) {
    return !workflow.materials[m].when || workflow.materials[m].when->holds(env);
  };

  std::set<DepartmentIndex> departments;
  std::set<MaterialIndex> needed;
  dsl::Decimal separate_days;
  for (const auto i : f.applicable_items) {
    const ItemModel& item = workflow.items[i];
    departments.insert(item.department);
    // A joint item (联办) is handled by each of its departments: separately, each is a trip.
    departments.insert(item.joint.begin(), item.joint.end());
    for (const auto m : item.needs) {
      if (!material_applies(m)) continue;
      ++f.materials_separate;
      needed.insert(m);
    }
    const auto& limit = item.statutory ? item.statutory : item.catalog_promised ? item.catalog_promised : item.promised;
    if (limit) separate_days.units += limit->approximate_workdays().units;
    f.special_procedures += static_cast<int>(item.specials.size());
    dsl::Decimal outside;
    for (const auto& special : item.specials) {
      if (special.pauses_clock) outside.units += special.max.approximate_workdays().units;
    }
    if (outside.units > f.special_workdays_outside.units) f.special_workdays_outside = outside;
  }
  f.items = static_cast<int>(f.applicable_items.size());
  f.departments = static_cast<int>(departments.size());

  bool all_electronic = true;
  for (const auto m : needed) {
    const MaterialModel& material = workflow.materials[m];
    if (material.source == MaterialSource::elicense) continue;
    if (material.source == MaterialSource::produced && material.producer && applicable[*material.producer]) continue;
    ++f.materials_bundled;
    if (material.original) all_electronic = false;
  }
  f.visits_separate = f.departments;
  f.visits_bundled = f.items == 0 ? 0 : (all_electronic ? 0 : 1);

  const CriticalPath path = workflow.critical_path(applicable);
  f.critical_path = path.items;
  f.workdays_separate = separate_days;
  f.workdays_bundled = path.workdays;
  f.reduction_materials = reduction(f.materials_separate, f.materials_bundled);
  f.reduction_visits = reduction(f.visits_separate, f.visits_bundled);
  f.reduction_workdays = reduction(separate_days.to_double(), path.workdays.to_double());
  return f;
}

namespace {
// Figures are reported to one decimal, as the district's reports do.
std::string one_decimal(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", std::round(value * 10.0) / 10.0);
  std::string text = buffer;
  if (text.size() > 2 && text.ends_with(".0")) text.resize(text.size() - 2);
  return text;
}
}  // namespace

std::string figures_json(const BundleFigures& f) {
  // Written by hand rather than with Boost.JSON, whose serializer prints 54.5 as 5.45E1.
  std::string out = "{\"bundle\":" + boost::json::serialize(boost::json::value(f.bundle));
  auto field = [&](std::string_view key, const std::string& value) { out += ",\"" + std::string(key) + "\":" + value; };
  field("version", std::to_string(f.version));
  field("items", std::to_string(f.items));
  field("departments", std::to_string(f.departments));
  field("materials_separate", std::to_string(f.materials_separate));
  field("materials_bundled", std::to_string(f.materials_bundled));
  field("visits_separate", std::to_string(f.visits_separate));
  field("visits_bundled", std::to_string(f.visits_bundled));
  field("workdays_separate", one_decimal(f.workdays_separate.to_double()));
  field("workdays_bundled", one_decimal(f.workdays_bundled.to_double()));
  field("reduction_materials", one_decimal(f.reduction_materials));
  field("reduction_visits", one_decimal(f.reduction_visits));
  field("reduction_workdays", one_decimal(f.reduction_workdays));
  field("special_procedures", std::to_string(f.special_procedures));
  field("special_workdays_outside", one_decimal(f.special_workdays_outside.to_double()));
  return out + "}";
}

std::string figures_text(const BundleFigures& f, const Workflow& workflow) {
  auto percent = [](double p) { return one_decimal(p) + "%"; };
  std::ostringstream out;
  out << workflow.title << " (" << f.bundle << " v" << f.version << ")\n";
  out << "  items        " << f.items << "\n";
  out << "  departments  " << f.departments << "\n";
  out << "                 separately  in the bundle  reduction\n";
  auto row = [&](const char* name, const std::string& a, const std::string& b, double r) {
    out << "  " << name << std::string(15 - std::string_view(name).size(), ' ') << a << std::string(12 - a.size(), ' ') << b
        << std::string(15 - b.size(), ' ') << percent(r) << "\n";
  };
  row("materials", std::to_string(f.materials_separate), std::to_string(f.materials_bundled), f.reduction_materials);
  row("visits", std::to_string(f.visits_separate), std::to_string(f.visits_bundled), f.reduction_visits);
  row("workdays", one_decimal(f.workdays_separate.to_double()), one_decimal(f.workdays_bundled.to_double()), f.reduction_workdays);
  if (f.special_procedures > 0) {
    out << "  special procedures " << f.special_procedures << ", up to " << one_decimal(f.special_workdays_outside.to_double())
        << " workdays outside the limits\n";
  }
  if (!f.critical_path.empty()) {
    out << "  critical path:";
    for (std::size_t i = 0; i < f.critical_path.size(); ++i) out << (i ? " -> " : " ") << workflow.items[f.critical_path[i]].id;
    out << "\n";
  }
  return out.str();
}

}  // namespace onevisit::engine
