#include <onevisit/engine/calendars.hpp>

#include <functional>
#include <map>
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
