#include <onevisit/engine/calendars.hpp>

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
