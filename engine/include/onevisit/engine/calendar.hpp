// The working-day calendar: which days are working days, when offices are open, and how
// time limits (时限) are counted on them.
//
// A WorkCalendar is the compiled form of one `calendar` declaration (docs/language.md §9,
// docs/grammar.md › Calendars) with everything it `include`s merged in. It answers the
// questions every deadline, warning light and `workdays_between` expression asks: is this
// day a working day, what is the N-th working day after acceptance, how much working time
// lies between two instants, and when has a given amount of working time elapsed.
//
// Time model. The engine works in local civil time (the offices' time zone, without DST in
// mainland China) and keeps two plain integers:
//   - a day is the number of days since 1970-01-01 (dsl::days_from_civil converts);
//   - an instant (`Minutes`) is the number of minutes since 1970-01-01 00:00.
// Working hours are half-open periods [from, to) in minutes after midnight, so a working day
// of `hours 09:00-12:00 13:30-17:30` has 420 working minutes.
//
// Counting rules (sources: /work/shared/domain/time-limits.md §3.1; 行政许可法 第八十二条):
//   - Limits in working days (`workdays`) follow the legal day-based rule: counting starts on
//     the day AFTER acceptance, and an N-workday limit ends at the close of the N-th working
//     day after the acceptance day (due_day_for_limit). Holidays (法定节假日) are skipped and
//     make-up working days (调休上班) count.
//   - Limits in calendar days (`days`) count from the day after as well; when the last day is
//     not a working day the limit ends on the next working day (due_day_for_calendar_days;
//     rule of 民法典 第二百零三条, see there).
//   - Durations below a day (`0.5 workday`, `hours`, elapsed time, paused time) are counted
//     in working minutes: only working hours on working days (add_working_time,
//     working_minutes_between). Half a workday is half of this calendar's working minutes
//     per day.
//
// Merging (from_declaration). A calendar's own `weekend` and `hours` win over those of the calendars
// it includes; when it sets none, the included calendars must agree (or leave it unset),
// and when none sets it the defaults apply: weekend sat sun, hours 09:00-12:00 13:30-17:30.
// Holidays and make-up working days are the union over all included calendars. When a date
// is a holiday in one place and a make-up working day in another, the calendar's own
// statement wins over included ones; two included calendars that disagree are an error.
// Days outside every declared holiday or make-up day follow the weekly pattern, so years
// without a holiday file count as ordinary weeks.
//
// Thread safety: a WorkCalendar is immutable after construction. Every member function is
// const, allocates nothing and touches no shared state, so one calendar may be queried from
// any number of threads at once. from_declaration and weekdays are reentrant (no global state).
//
// Cost: is_working_day and workdays_between are O(log H), where H is the number of declared
// days that differ from the weekly pattern (about 25 a year); next_working_day,
// due_day_for_limit and add_working_time are O(log H · log L) for a limit spanning L days.
// Nothing loops over days or minutes.
#pragma once

#include <onevisit/dsl/compiled.hpp>

#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace onevisit::dsl::resolved {
struct Calendar;  // resolved.hpp: a calendar declaration with its includes resolved
}  // namespace onevisit::dsl::resolved

namespace onevisit::engine {

/// An instant: minutes since 1970-01-01 00:00 local time.
using Minutes = std::int64_t;

inline constexpr Minutes kMinutesPerDay = 24 * 60;

/// Limits are clamped to this many working (or calendar) days, about four centuries: far
/// beyond any real limit, small enough that no computation can overflow.
inline constexpr std::int64_t kMaxLimitDays = 100'000;

/// The day an instant falls on (rounds towards the past, also before 1970).
constexpr std::int64_t day_of(Minutes instant) {
  return instant >= 0 ? instant / kMinutesPerDay : -((-instant + kMinutesPerDay - 1) / kMinutesPerDay);
}

/// The instant `hour:minute` on `day`.
constexpr Minutes at_time(std::int64_t day, int hour = 0, int minute = 0) {
  return day * kMinutesPerDay + hour * 60 + minute;
}

/// One office-hours period of a working day: [from, to) in minutes after midnight.
struct WorkingPeriod {
  int from = 0;
  int to = 0;
  friend bool operator==(const WorkingPeriod&, const WorkingPeriod&) = default;
};

/// The working-day calendar a bundle counts its limits on. A value type (copyable,
/// movable); build it once per deployed workflow and share it by const reference or
/// shared_ptr<const WorkCalendar>.
///
/// REQUIRES for every query: days within ±10^9 and instants within ±10^12 minutes (far
/// beyond any civil date the language can write); outside that, results may overflow.
class WorkCalendar final : public dsl::WorkdayCounter {
 public:
  /// Builds the calendar declared by `root`, merging what it includes (recursively, through
  /// the references the checker resolved: no name is looked up here) by the rules in the
  /// header comment. Returns a readable error, naming
  /// the calendar, for: an unknown included calendar, an include cycle (also a calendar
  /// including itself), includes nested deeper than 64, included calendars that disagree on
  /// weekend, hours or a date, a date that one calendar declares both a holiday and a
  /// make-up working day, `weekend`/`hours` set twice in one calendar, an unknown day
  /// name, invalid or overlapping hours, an invalid date, a holiday range that ends before
  /// it starts or is longer than 366 days, and a week without working days. Never throws
  /// for bad input and does not require the program to have been checked first.
  static std::expected<WorkCalendar, std::string> from_declaration(const dsl::resolved::Calendar& root);

  /// Monday to Friday, default hours (09:00-12:00 13:30-17:30), no holidays: the calendar
  /// of a bundle that names none, and the same count as `workdays_between` without one.
  static WorkCalendar weekdays();

  /// The id of the root calendar ("weekdays" for weekdays()).
  const std::string& name() const { return name_; }

  /// The last day the calendar's declarations cover: 31 December of the latest year in which
  /// it (or a calendar it includes) declares a holiday or a make-up working day. Later days
  /// count the weekly pattern alone, as if that year had no holidays, so a deadline after it
  /// is provisional (docs/runtime.md). None for a calendar that declares no dates at all
  /// (weekdays(), or a calendar that is a weekly pattern on purpose).
  std::optional<std::int64_t> declared_until() const { return declared_until_; }

  /// True for a deadline on `due_day` after declared_until(): counted without that year's
  /// holidays, so it may move when the year is declared.
  bool provisional(std::int64_t due_day) const { return declared_until_ && due_day > *declared_until_; }

  // ---- Days ----------------------------------------------------------------------------

  /// True when `day` is a working day: not a weekend day nor a holiday, or a make-up day.
  bool is_working_day(std::int64_t day) const;

  /// The first working day strictly after `day`.
  std::int64_t next_working_day(std::int64_t day) const;

  /// Working days after `from_day` up to and including `to_day`; negative (the count of
  /// working days after `to_day` up to and including `from_day`) when `to_day` < `from_day`.
  /// This is what the expression `workdays_between(a, b)` evaluates to on this calendar.
  std::int64_t workdays_between(std::int64_t from_day, std::int64_t to_day) const override;

  /// The last day of a limit of `workdays` working days for a case accepted on
  /// `accepted_day` (time-limits.md §3.1, "from the day after the documents are received"):
  /// the N-th working day after the acceptance day, where N is `workdays` rounded up to a
  /// whole day. The limit runs until that day's close of business. 0 workdays (即办件) is
  /// the acceptance day itself, whatever day that is. Negative amounts count as 0; amounts
  /// above kMaxLimitDays are clamped.
  std::int64_t due_day_for_limit(std::int64_t accepted_day, dsl::Decimal workdays) const;

  /// The last day of a limit of `days` calendar days (日) starting the day after `day`:
  /// `day + N` (N rounded up to a whole day), moved on to the next working day when it is a
  /// holiday or weekend day (民法典 第二百零三条: “期间的最后一日是法定休假日的，以法定休假日结束的
  /// 次日为期间的最后一日”; rest days moved by 调休 follow the actual calendar). 0 days is `day`
  /// itself. Negative amounts count as 0; amounts above kMaxLimitDays are clamped.
  std::int64_t due_day_for_calendar_days(std::int64_t day, dsl::Decimal days) const;

  // ---- Instants ------------------------------------------------------------------------

  /// Working minutes in one working day (420 for 09:00-12:00 13:30-17:30).
  Minutes working_minutes_per_day() const { return minutes_per_day_; }

  /// The office hours of a working day, in order, not overlapping.
  std::span<const WorkingPeriod> hours() const { return hours_; }

  /// True when `instant` lies inside office hours of a working day (the start of a period
  /// is inside, its end is not).
  bool is_working_time(Minutes instant) const;

  /// Working minutes in [a, b): only office hours of working days count. Negative (minus
  /// the working minutes in [b, a)) when b < a. Used for `item.elapsed` and for the time an
  /// item spent paused.
  Minutes working_minutes_between(Minutes a, Minutes b) const;

  /// The earliest instant at which `minutes` working minutes have elapsed since `start`.
  /// When `start` is outside office hours, counting begins with the next working period.
  /// The result may be the end of a period (12:00, 17:30) rather than the start of the next
  /// one: the work is done by then. 0 (or less) returns `start` unchanged.
  Minutes add_working_minutes(Minutes start, Minutes minutes) const;

  /// add_working_minutes for an amount in working days: `workdays` ×
  /// working_minutes_per_day(), rounded up to a whole minute (so 0.5 workday on the default
  /// hours is 210 minutes). Negative amounts count as 0; amounts above kMaxLimitDays are
  /// clamped. For statutory limits in whole working days prefer due_day_for_limit, which
  /// applies the legal day-based rule.
  Minutes add_working_time(Minutes start, dsl::Decimal workdays) const;

 private:
  /// `days`: declared dates, sorted by day; true for a make-up working day, false for a
  /// holiday. REQUIRES: at least one working weekday; hours non-empty, ordered, disjoint.
  WorkCalendar(std::string name, std::uint8_t weekend_mask, std::vector<WorkingPeriod> hours,
               std::span<const std::pair<std::int64_t, bool>> days);

  bool weekly_working(std::int64_t day) const;
  /// Working days in (anchor, day] minus a constant: only differences are meaningful.
  std::int64_t working_days_upto(std::int64_t day) const;
  /// The smallest day d > after with working_days_upto(d) >= target.
  /// REQUIRES: working_days_upto(after) < target.
  std::int64_t first_day_reaching(std::int64_t after, std::int64_t target) const;
  /// Working minutes before `instant`, minus a constant.
  Minutes working_minutes_upto(Minutes instant) const;
  /// Working minutes in [00:00, minute) of a working day.
  Minutes minutes_into_day(Minutes minute_of_day) const;

  std::string name_;
  std::uint8_t weekend_mask_ = 0;     ///< bit i set: weekday i (0 = Monday) is a rest day
  int week_working_days_ = 0;         ///< working weekdays per week, 1..7
  std::int64_t week_prefix_[8] = {};  ///< working weekdays among Monday-based days [0, i)
  std::vector<WorkingPeriod> hours_;
  Minutes minutes_per_day_ = 0;
  /// Days whose status differs from the weekly pattern (holidays on would-be working
  /// days, make-up days on would-be rest days), sorted ascending.
  std::vector<std::int64_t> exception_days_;
  /// exception_prefix_[i]: sum of the first i exceptions' effects on the working-day count
  /// (+1 for a make-up day, -1 for a holiday). One longer than exception_days_.
  std::vector<std::int64_t> exception_prefix_;
  std::optional<std::int64_t> declared_until_;
};

}  // namespace onevisit::engine
