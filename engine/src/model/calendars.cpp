#include <onevisit/engine/calendars.hpp>

#include <onevisit/dsl/formatter.hpp>

#include "hash.hpp"

#include <boost/json.hpp>

#include <functional>
#include <map>
#include <optional>
#include <set>

namespace onevisit::engine {

namespace {

std::string date_text(std::int64_t day) { return dsl::to_string(dsl::Value::of_date(day)); }

std::string used_by(const std::vector<std::string>& bundles) {
  if (bundles.size() == 1) return "bundle '" + bundles.front() + "'";
  return std::to_string(bundles.size()) + " bundles, e.g. '" + bundles.front() + "'";
}

}  // namespace

std::expected<WorkCalendar, std::string> build_calendar(const dsl::resolved::Calendar* calendar) {
  if (!calendar) return WorkCalendar::weekdays();
  return WorkCalendar::from_declaration(*calendar);
}

std::expected<CalendarDefinition, std::string> calendar_definition(const dsl::Program& program, std::string_view name) {
  namespace json = boost::json;
  const dsl::ast::Calendar* declaration = nullptr;
  std::optional<std::size_t> index;
  for (std::size_t u = 0; u < program.units.size() && !declaration; ++u) {
    for (const auto& d : program.units[u].file.declarations) {
      if (d.calendar && d.calendar->id.text == name) {
        declaration = &*d.calendar;
        index = u;
        break;
      }
    }
  }
  if (!declaration) return std::unexpected("calendar '" + std::string(name) + "' not found");
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
  d.source = json::serialize(json::object{{"root", program.units[*index].path}, {"calendar", d.name}, {"files", std::move(files)}});
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
  // The checker resolves the calendar's includes, as for a bundle's calendar.
  const auto bound = dsl::bind(program);
  const std::string calendar(name->as_string());
  for (const auto& resolved : bound.document.calendars) {
    if (resolved->declaration->id.text != calendar) continue;
    auto built = build_calendar(resolved.get());
    if (!built) return std::unexpected("the stored calendar '" + calendar + "' no longer builds: " + built.error());
    return std::pair{std::move(*built), resolved->declaration->title ? resolved->declaration->title->value : calendar};
  }
  return std::unexpected("the stored calendar '" + calendar + "' no longer builds: it is not declared in its files");
}

std::vector<dsl::Diagnostic> calendar_coverage_warnings(const dsl::resolved::Document& document, std::int64_t today_days,
                                                        std::int64_t within_days) {
  std::vector<dsl::Diagnostic> warnings;
  std::map<const dsl::resolved::Calendar*, std::vector<std::string>> bundles_of;  // calendar -> bundles using it
  for (const auto& bundle : document.bundles) {
    if (bundle.calendar) bundles_of[bundle.calendar].push_back(bundle.declaration->id.text);
  }
  std::set<const dsl::resolved::Calendar*> seen;
  for (const auto& bundle : document.bundles) {
    if (!bundle.calendar || !seen.insert(bundle.calendar).second) continue;
    const auto calendar = build_calendar(bundle.calendar);
    if (!calendar || !calendar->declared_until()) continue;
    const std::int64_t until = *calendar->declared_until();
    if (until - today_days >= within_days) continue;
    const auto& declaration = *bundle.calendar->declaration;
    const std::int64_t distance = until < today_days ? today_days - until : until - today_days;
    const std::string when = std::to_string(distance) + (distance == 1 ? " day" : " days");
    warnings.push_back(dsl::Diagnostic{
        bundle.calendar->file, declaration.id.span, dsl::Severity::warning, "calendar-ending",
        "calendar '" + declaration.id.text + "' declares holidays only up to " + date_text(until) +
            (until < today_days ? " (" + when + " ago" : " (in " + when) +
            ", used by " + used_by(bundles_of[bundle.calendar]) + "); deadlines after that day count Monday to Friday without holidays "
            "and are marked provisional: add the next year's calendar from the State Council's holiday notice"});
  }
  return warnings;
}

}  // namespace onevisit::engine
