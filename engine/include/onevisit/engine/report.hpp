// Service figures (the supervisor's KPIs) computed from the cases a store holds: per bundle
// and overall, for the cases started in a period. `onevisit report` prints them and the
// server's dashboard shows them; docs/figures.md says exactly how each one counts.
//
// Thread safety: service_report reads through the Engine, which may be used concurrently.
#pragma once

#include <onevisit/engine/engine.hpp>

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace onevisit::engine {

/// Cases started at or after `from` and before `to` (either bound optional).
struct ReportPeriod {
  std::optional<Timestamp> from;
  std::optional<Timestamp> to;
};

struct ServiceFigures {
  std::string bundle_id;  ///< empty for the overall figures
  std::string title;
  std::size_t cases_started = 0;
  std::size_t cases_completed = 0;  ///< every item final: completed, delivered or rated
  std::size_t cases_withdrawn = 0;
  std::size_t items_finished = 0;   ///< items that reached a final state
  std::size_t items_on_time = 0;    ///< ... without ever turning red (no ItemOverdue)
  /// Items still running past their deadline now: not on time, though not finished.
  std::size_t items_overdue_running = 0;
  /// 按时办结率: percent of items_finished + items_overdue_running that finished on time.
  double on_time_rate = 0;
  double average_workdays = 0;      ///< working days from start to the last item's end, completed cases
  /// Cases that came in online, on the mobile app or at a kiosk and need no trip to a window
  /// (no original to show there, results not handed over there).
  std::size_t fully_online = 0;
  double fully_online_rate = 0;     ///< 全程网办率: percent of cases_started that are fully_online
  std::map<std::string, std::size_t> cases_by_channel;  ///< cases started by channel (kChannels)
  std::size_t materials_uploaded = 0;      ///< materials supplied as files (collected once per case)
  std::size_t materials_from_elicense = 0; ///< materials fetched from the e-license library instead
  std::size_t immediate_items = 0;  ///< finished items that are 即办件 (limit 0)
  double immediate_rate = 0;        ///< percent of items_finished (即办率)
  double average_visits = 0;        ///< per case: 1 intake + 1 per correction round + 1 for delivery at the window
  std::size_t corrections = 0;      ///< correction rounds (补正) over all items
  double corrections_per_case = 0;
  /// Working days items stood in correction states (补正: `pauses_clock`, `as correction`), a
  /// stay still open until now, on each bundle's calendar.
  double correction_workdays = 0;
  /// Working days items stood waiting for the applicant (`pauses_clock as waiting`): neither
  /// corrections nor visits.
  double waiting_workdays = 0;
  /// Special procedures (特别程序) started, counted apart: neither corrections nor visits. A
  /// stay in a `pauses_clock as special` state counts as one, its days with theirs.
  std::size_t special_procedures = 0;
  std::size_t special_procedures_overdue = 0;  ///< ... that went past their `max` (red)
  /// Working days spent in them (a running one until now), on each bundle's calendar.
  double special_procedure_workdays = 0;
  /// ... of which in procedures that stop the item's clock (`pauses_clock`: outside the limit).
  double special_procedure_workdays_paused = 0;
  std::array<std::size_t, 5> ratings{};  ///< 好差评: cases rated 1..5
  std::size_t rated = 0;
  double good_rating_rate = 0;      ///< percent of rated cases above the bundle's `bad at most`
  /// Cases with an item of the department running past its deadline now (what 督办 acts on).
  std::map<std::string, std::size_t> overdue_cases_by_department;

  /// Each bar leads to its cases: the case-list filter (Engine::list_cases) that lists exactly
  /// the cases a figure counts, for the same period. `cases`: these figures' cases (the
  /// bundle's, or all); per channel its cases; per department its overdue cases.
  CaseQuery cases;
  std::map<std::string, CaseQuery> cases_of_channel;
  std::map<std::string, CaseQuery> overdue_cases_of_department;
};

struct ServiceReport {
  std::vector<ServiceFigures> bundles;  ///< by bundle id
  ServiceFigures overall;
};

std::expected<ServiceReport, EngineError> service_report(Engine& engine, const ReportPeriod& period);

}  // namespace onevisit::engine
