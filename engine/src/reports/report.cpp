#include <onevisit/engine/report.hpp>

#include "store/codec.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace onevisit::engine {

namespace {

double percent(std::size_t part, std::size_t whole) {
  if (whole == 0) return 0;
  return std::round(1000.0 * static_cast<double>(part) / static_cast<double>(whole)) / 10.0;
}

double average(double sum, std::size_t count) {
  if (count == 0) return 0;
  return std::round(100.0 * sum / static_cast<double>(count)) / 100.0;
}

// Sums before the rates are derived.
struct Tally {
  ServiceFigures figures;
  double workdays = 0;
  std::size_t visits = 0;
  std::size_t good = 0;
  std::int64_t special_minutes = 0, special_minutes_paused = 0;
  std::int64_t correction_minutes = 0, waiting_minutes = 0;
  std::int64_t minutes_per_day = 0;  ///< of the calendars summed (all bundles share one in practice)

  void finish() {
    auto& f = figures;
    const double per_day = static_cast<double>(std::max<std::int64_t>(1, minutes_per_day));
    f.special_procedure_workdays = std::round(100.0 * static_cast<double>(special_minutes) / per_day) / 100.0;
    f.special_procedure_workdays_paused = std::round(100.0 * static_cast<double>(special_minutes_paused) / per_day) / 100.0;
    f.correction_workdays = std::round(100.0 * static_cast<double>(correction_minutes) / per_day) / 100.0;
    f.waiting_workdays = std::round(100.0 * static_cast<double>(waiting_minutes) / per_day) / 100.0;
    f.on_time_rate = percent(f.items_on_time, f.items_finished + f.items_overdue_running);
    f.immediate_rate = percent(f.immediate_items, f.items_finished);
    f.average_workdays = average(workdays, f.cases_completed);
    f.average_visits = average(static_cast<double>(visits), f.cases_started);
    f.corrections_per_case = average(static_cast<double>(f.corrections), f.cases_started);
    f.good_rating_rate = percent(good, f.rated);
    f.fully_online_rate = percent(f.fully_online, f.cases_started);
  }
};

}  // namespace

std::expected<ServiceReport, EngineError> service_report(Engine& engine, const ReportPeriod& period) {
  std::map<std::string, Tally> by_bundle;
  Tally overall;
  const Timestamp now = engine.now();
  constexpr std::size_t kPage = 500;
  for (std::size_t offset = 0;; offset += kPage) {
    CaseQuery query;
    query.limit = kPage;
    query.offset = offset;
    auto page = engine.list_cases(query);
    if (!page) return std::unexpected(page.error());
    for (const auto& summary : *page) {
      if (period.from && summary.started_at < *period.from) continue;
      if (period.to && summary.started_at >= *period.to) continue;
      auto view = engine.get_case(summary.case_id);
      if (!view) return std::unexpected(view.error());
      auto history = engine.history(summary.case_id);
      if (!history) return std::unexpected(history.error());
      const Case& c = view->state;
      const Workflow& wf = *view->workflow;
      const WorkCalendar& calendar = engine.calendar_of(wf, c);

      std::set<ItemIndex> overdue;
      for (const auto& h : *history) {
        if (h.type != "ItemOverdue") continue;
        auto event = codec::decode_event(h.type, h.payload, h.at);
        if (!event) return std::unexpected(EngineError{EngineError::Kind::store, "case " + c.id + ": " + event.error(), {}, {}});
        overdue.insert(std::get<ItemOverdue>(event->body).item);
      }

      for (Tally* tally : {&by_bundle[c.bundle_id], &overall}) {
        auto& f = tally->figures;
        if (tally != &overall && f.bundle_id.empty()) {
          f.bundle_id = c.bundle_id;
          f.title = wf.title;
        }
        ++f.cases_started;
        const bool completed = c.status == CaseStatus::completed || c.status == CaseStatus::delivered || c.status == CaseStatus::rated;
        if (c.status == CaseStatus::withdrawn) ++f.cases_withdrawn;
        std::size_t corrections = 0;
        Timestamp last_end = c.started_at;
        std::set<std::string> overdue_departments;
        for (std::size_t i = 0; i < wf.items.size(); ++i) {
          const auto& item = c.items[i];
          corrections += static_cast<std::size_t>(item.corrections);
          // Running past its deadline (as the item rows hold it, so the filter lists the same).
          const Timestamp due = c.status == CaseStatus::running ? due_at(wf, calendar, c, static_cast<ItemIndex>(i)) : 0;
          if (due != 0 && due <= now) {
            ++f.items_overdue_running;
            overdue_departments.insert(wf.departments[wf.items[i].department].id);
          }
          if (item.phase != ItemPhase::done) continue;
          ++f.items_finished;
          // On time: never overdue, also when no scheduler fired its timer in time.
          const Timestamp deadline = deadline_of(wf, calendar, item, static_cast<ItemIndex>(i));
          if (!overdue.count(static_cast<ItemIndex>(i)) && (deadline == 0 || item.finished_at <= deadline)) ++f.items_on_time;
          if (wf.items[i].immediate) ++f.immediate_items;
          last_end = std::max(last_end, item.finished_at);
        }
        for (const auto& d : overdue_departments) ++f.overdue_cases_by_department[d];
        // Special procedures apart from corrections and visits (CaseView counts their days).
        tally->minutes_per_day = calendar.working_minutes_per_day();
        for (const auto& run : view->specials) {
          ++f.special_procedures;
          if (run.light == Light::red) ++f.special_procedures_overdue;
          tally->special_minutes += run.minutes_used;
          if (wf.items[run.item].specials[run.procedure].pauses_clock) tally->special_minutes_paused += run.minutes_used;
        }
        // Stays in clock-stopping states, each kind apart: only corrections are visits.
        for (const auto& item : c.items) {
          for (const auto& stay : item.stays) {
            const auto minutes = calendar.working_minutes_between(stay.from / 60'000, (stay.to ? stay.to : now) / 60'000);
            switch (stay.kind) {
              case dsl::ClockStop::correction: tally->correction_minutes += minutes; break;
              case dsl::ClockStop::waiting: tally->waiting_minutes += minutes; break;
              case dsl::ClockStop::special:
                ++f.special_procedures;
                tally->special_minutes += minutes;
                tally->special_minutes_paused += minutes;
                break;
            }
          }
        }
        bool original_needed = false;
        for (std::size_t m = 0; m < wf.materials.size() && m < c.materials.size(); ++m) {
          const auto& material = c.materials[m];
          if (material.status == MaterialStatus::missing || material.status == MaterialStatus::tolerated) continue;
          if (wf.materials[m].source == MaterialSource::elicense) ++f.materials_from_elicense;
          else if (wf.materials[m].source == MaterialSource::upload) ++f.materials_uploaded;
          original_needed = original_needed || wf.materials[m].original;
        }
        ++f.cases_by_channel[c.channel];
        const bool at_window = c.channel == "window";
        if (!at_window && !original_needed && c.delivery_channel != "window") ++f.fully_online;
        f.corrections += corrections;
        tally->visits += (at_window ? 1 : 0) + corrections + (c.delivery_channel == "window" ? 1 : 0);
        if (completed) {
          ++f.cases_completed;
          const auto minutes = calendar.working_minutes_between(c.started_at / 60'000, last_end / 60'000);
          tally->workdays += static_cast<double>(minutes) / static_cast<double>(calendar.working_minutes_per_day());
        }
        if (c.rating && *c.rating >= 1 && *c.rating <= 5) {
          ++f.ratings[static_cast<std::size_t>(*c.rating - 1)];
          ++f.rated;
          if (*c.rating > wf.rating.bad_at_most) ++tally->good;
        }
      }
    }
    if (page->size() < kPage) break;
  }
  // The filters that list each figure's cases: the period, the bundle, then the bar's own.
  const auto filters = [&](ServiceFigures& f) {
    f.cases.started_from = period.from;
    f.cases.started_before = period.to;
    if (!f.bundle_id.empty()) f.cases.bundle_id = f.bundle_id;
    for (const auto& [channel, n] : f.cases_by_channel) {
      CaseQuery q = f.cases;
      q.channel = channel;
      f.cases_of_channel[channel] = q;
    }
    for (const auto& [department, n] : f.overdue_cases_by_department) {
      CaseQuery q = f.cases;
      q.status = std::string(to_string(CaseStatus::running));
      q.department = department;
      q.due_before = now;
      f.overdue_cases_of_department[department] = q;
    }
  };
  ServiceReport report;
  for (auto& [id, tally] : by_bundle) {
    tally.finish();
    filters(tally.figures);
    report.bundles.push_back(std::move(tally.figures));
  }
  overall.finish();
  filters(overall.figures);
  report.overall = std::move(overall.figures);
  return report;
}

}  // namespace onevisit::engine
