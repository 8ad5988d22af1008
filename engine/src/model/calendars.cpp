#include <onevisit/engine/calendars.hpp>

#include <onevisit/dsl/formatter.hpp>

#include "hash.hpp"

#include <boost/json.hpp>

#include <functional>
#include <map>
#include <set>

namespace onevisit::engine {

namespace {

// The declaration of calendar `name` and the file it is in.
std::pair<const dsl::ast::Calendar*, const dsl::SourceUnit*> find_calendar(const dsl::Program& program, std::string_view name) {
  for (const auto& unit : program.units) {
    for (const auto& d : unit.file.declarations) {
      if (d.calendar && d.calendar->id.text == name) return {&*d.calendar, &unit};
    }
  }
  return {nullptr, nullptr};
}

std::string date_text(std::int64_t day) { return dsl::to_string(dsl::Value::of_date(day)); }

std::string used_by(const std::vector<std::string>& bundles) {
  if (bundles.size() == 1) return "bundle '" + bundles.front() + "'";
  return std::to_string(bundles.size()) + " bundles, e.g. '" + bundles.front() + "'";
}

}  // namespace

std::expected<WorkCalendar, std::string> build_calendar(const dsl::Program& program, const Workflow& workflow) {
  if (workflow.calendar.empty()) return WorkCalendar::weekdays();
  const WorkCalendar::Lookup lookup = [&](std::string_view name) { return find_calendar(program, name).first; };
  const auto* root = lookup(workflow.calendar);
  if (!root) return std::unexpected("calendar '" + workflow.calendar + "' not found");
  return WorkCalendar::from_ast(*root, lookup);
}

std::expected<WorkCalendar, std::string> build_calendar(const dsl::Program& program, std::string_view name) {
  const WorkCalendar::Lookup lookup = [&](std::string_view n) { return find_calendar(program, n).first; };
  const auto* root = lookup(name);
  if (!root) return std::unexpected("calendar '" + std::string(name) + "' not found");
  return WorkCalendar::from_ast(*root, lookup);
}

std::expected<CalendarDefinition, std::string> calendar_definition(const dsl::Program& program, std::string_view name) {
  namespace json = boost::json;
  const auto [declaration, unit] = find_calendar(program, name);
  if (!declaration) return std::unexpected("calendar '" + std::string(name) + "' not found");
  if (auto built = build_calendar(program, name); !built) return std::unexpected(built.error());
  const auto index = program.find(unit->path);
  if (!index) return std::unexpected("calendar '" + std::string(name) + "': its file is not in the program");
  CalendarDefinition d;
  d.name = std::string(name);
  d.title = declaration->title ? declaration->title->value : d.name;
  json::object files;
  std::string hashes;
  for (const auto u : program.visible_from(*index)) {
    const auto& visible = program.units[u];
    files[visible.path] = visible.text;
    dsl::ast::File calendars_only;
    for (const auto& decl : visible.file.declarations) {
      if (decl.calendar) calendars_only.declarations.push_back(decl);
    }
    hashes += sha256_hex(dsl::format(calendars_only, ""));
  }
  d.hash = sha256_hex(hashes + d.name);
  d.source = json::serialize(json::object{{"root", unit->path}, {"calendar", d.name}, {"files", std::move(files)}});
  return d;
}

std::expected<std::pair<WorkCalendar, std::string>, std::string> calendar_from_source(std::string_view source) {
  namespace json = boost::json;
  boost::system::error_code ec;
  const auto j = json::parse(source, ec);
  // Never trust the database: a damaged definition is an error, not an exception.
  const auto* o = !ec ? j.if_object() : nullptr;
  const auto* root = o ? o->if_contains("root") : nullptr;
  const auto* name = o ? o->if_contains("calendar") : nullptr;
  const auto* files = o ? o->if_contains("files") : nullptr;
  if (!root || !root->is_string() || !name || !name->is_string() || !files || !files->is_object()) {
    return std::unexpected(std::string("the stored calendar definition is damaged"));
  }
  std::map<std::string, std::string, std::less<>> texts;
  for (const auto& [path, text] : files->as_object()) {
    if (text.is_string()) texts[std::string(path)] = std::string(text.as_string());
  }
  const auto program = dsl::load({std::string(root->as_string())}, [&texts](const std::string& path, std::string& error) -> std::optional<std::string> {
    const auto it = texts.find(path);
    if (it == texts.end()) {
      error = "not in the stored calendar definition";
      return std::nullopt;
    }
    return it->second;
  });
  const std::string calendar(name->as_string());
  auto built = build_calendar(program, calendar);
  if (!built) return std::unexpected("the stored calendar '" + calendar + "' no longer builds: " + built.error());
  const auto* declaration = find_calendar(program, calendar).first;
  return std::pair{std::move(*built), declaration->title ? declaration->title->value : calendar};
}

std::vector<dsl::Diagnostic> calendar_coverage_warnings(const dsl::Program& program,
                                                        const std::vector<std::shared_ptr<const Workflow>>& workflows,
                                                        std::int64_t today_days, std::int64_t within_days) {
  std::vector<dsl::Diagnostic> warnings;
  std::map<std::string, std::vector<std::string>> bundles_of;  // calendar -> bundles using it
  for (const auto& workflow : workflows) {
    if (!workflow->calendar.empty()) bundles_of[workflow->calendar].push_back(workflow->bundle_id);
  }
  std::set<std::string> seen;
  for (const auto& workflow : workflows) {
    if (workflow->calendar.empty() || !seen.insert(workflow->calendar).second) continue;
    const auto calendar = build_calendar(program, *workflow);
    if (!calendar || !calendar->declared_until()) continue;
    const std::int64_t until = *calendar->declared_until();
    if (until - today_days >= within_days) continue;
    const auto [declaration, unit] = find_calendar(program, workflow->calendar);
    const std::int64_t distance = until < today_days ? today_days - until : until - today_days;
    const std::string when = std::to_string(distance) + (distance == 1 ? " day" : " days");
    warnings.push_back(dsl::Diagnostic{
        unit->path, declaration->id.span, dsl::Severity::warning, "calendar-ending",
        "calendar '" + workflow->calendar + "' declares holidays only up to " + date_text(until) +
            (until < today_days ? " (" + when + " ago" : " (in " + when) +
            ", used by " + used_by(bundles_of[workflow->calendar]) + "); deadlines after that day count Monday to Friday without holidays "
            "and are marked provisional: add the next year's calendar from the State Council's holiday notice"});
  }
  return warnings;
}

}  // namespace onevisit::engine
