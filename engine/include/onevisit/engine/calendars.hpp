// The calendars of workflows: built from the calendars the checker resolved, and checked for
// how far their declared years reach.
//
// A year's holidays are declared only from the State Council's notice, published each
// November; a deadline in a year no calendar file declares counts the weekly pattern alone.
// `onevisit check` warns ahead of that, and the runtime marks such deadlines provisional.
#pragma once

#include <onevisit/dsl/diagnostic.hpp>
#include <onevisit/dsl/program.hpp>
#include <onevisit/dsl/resolved.hpp>
#include <onevisit/engine/calendar.hpp>

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace onevisit::engine {

/// How many days before its declared years end `onevisit check` warns about a calendar.
inline constexpr std::int64_t kCalendarWarningDays = 60;

/// The calendar a bundle names, as the checker resolved it (Monday to Friday without holidays
/// for none). An error names the calendar.
std::expected<WorkCalendar, std::string> build_calendar(const dsl::resolved::Calendar* calendar);

/// A calendar as it is deployed and versioned (Engine::deploy; docs/runtime.md, New calendar
/// versions).
struct CalendarDefinition {
  std::string name;
  std::string title;   ///< its title, else its name
  std::string source;  ///< JSON: the files it is declared in (root, files, calendar)
  /// SHA-256 of its calendar declarations alone, formatted: comments, layout and the other
  /// declarations of its files do not make a new version; a changed day does.
  std::string hash;
};

/// The definition of calendar `name` in `program`, to be stored.
std::expected<CalendarDefinition, std::string> calendar_definition(const dsl::Program& program, std::string_view name);

/// The calendar and title a stored definition's source describes; an error when the source is
/// damaged or no longer builds.
std::expected<std::pair<WorkCalendar, std::string>, std::string> calendar_from_source(std::string_view source);

/// One warning (code `calendar-ending`, at the calendar's declaration) for each calendar used
/// by the document's bundles whose declared years end less than `within_days` days after
/// `today_days` (days since 1970-01-01), or have ended already. Calendars that declare no
/// dates, and those that cannot be built (check_and_compile reports those), give none.
std::vector<dsl::Diagnostic> calendar_coverage_warnings(const dsl::resolved::Document& document, std::int64_t today_days,
                                                        std::int64_t within_days = kCalendarWarningDays);

}  // namespace onevisit::engine
