// WorkCalendar: merging calendar declarations, and counting working days and minutes.
//
// Counting works on one monotone function, working_days_upto(d): the number of working days
// up to and including day d, minus a constant. It is the weekly pattern counted
// arithmetically (whole weeks times working weekdays, plus a prefix of the last week) plus a
// prefix sum over the sorted days that differ from the pattern. Every query is a difference
// of that function, or a search for the first day where it reaches a value; minutes add the
// office hours of one day on top.
#include <onevisit/engine/calendar.hpp>

#include <onevisit/dsl/identifiers.hpp>
#include <onevisit/dsl/resolved.hpp>

#include <algorithm>
#include <array>
#include <cassert>
#include <chrono>
#include <map>
#include <optional>
#include <utility>

namespace onevisit::engine {

namespace ast = dsl::ast;

namespace {

constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

constexpr std::int64_t floor_mod(std::int64_t a, std::int64_t b) { return a - floor_div(a, b) * b; }

/// Monday-based weekday index (0 = Monday … 6 = Sunday). 1970-01-01 was a Thursday (3).
constexpr int weekday_of(std::int64_t day) { return static_cast<int>(floor_mod(day + 3, 7)); }

constexpr std::array<std::string_view, 7> kDayNames = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
constexpr std::uint8_t kDefaultWeekend = (1u << 5) | (1u << 6);  // sat sun
constexpr int kMaxIncludeDepth = 64;
constexpr std::int64_t kMaxHolidayLength = 366;

std::vector<WorkingPeriod> default_hours() { return {{9 * 60, 12 * 60}, {13 * 60 + 30, 17 * 60 + 30}}; }

/// Whole days in a Decimal amount, rounded up and clamped to [0, kMaxLimitDays].
std::int64_t whole_days(dsl::Decimal amount) {
  if (amount.units <= 0) return 0;
  const std::int64_t days = amount.units / dsl::Decimal::kScale + (amount.units % dsl::Decimal::kScale != 0);
  return std::min(days, kMaxLimitDays);
}

/// `n` with at least `width` digits (zero-padded).
std::string padded(int n, std::size_t width) {
  std::string digits = std::to_string(n);
  return digits.size() < width ? std::string(width - digits.size(), '0') + digits : digits;
}

std::string date_text(std::int64_t day) {
  const auto d = dsl::civil_from_days(day);
  return padded(d.year, 4) + "-" + padded(d.month, 2) + "-" + padded(d.day, 2);
}

std::string time_text(int minute_of_day) {
  return padded(minute_of_day / 60, 2) + ":" + padded(minute_of_day % 60, 2);
}

std::string weekend_text(std::uint8_t mask) {
  std::string out;
  for (int i = 0; i < 7; ++i) {
    if (mask & (1u << i)) out += (out.empty() ? "" : " ") + std::string(kDayNames[i]);
  }
  return out.empty() ? "none" : out;
}

std::string hours_text(const std::vector<WorkingPeriod>& hours) {
  std::string out;
  for (const auto& p : hours) out += (out.empty() ? "" : " ") + time_text(p.from) + "-" + time_text(p.to);
  return out;
}

// ---------------------------------------------------------------------------------------
// Merging declarations

/// What one calendar, with its includes, says: settings it makes (or inherits) and the
/// dates it declares. Unset settings leave the choice to whoever includes it.
struct Resolved {
  std::optional<std::uint8_t> weekend;
  std::string weekend_from;  ///< the calendar that set it, for messages
  std::optional<std::vector<WorkingPeriod>> hours;
  std::string hours_from;
  std::map<std::int64_t, bool> days;  ///< day -> true: make-up working day, false: holiday
};

class Resolver {
 public:
  std::expected<const Resolved*, std::string> resolve(const dsl::resolved::Calendar& calendar) {
    const std::string& name = calendar.declaration->id.text;
    if (const auto it = done_.find(name); it != done_.end()) return &it->second;
    if (std::find(stack_.begin(), stack_.end(), name) != stack_.end())
      return std::unexpected(cycle_error(name));
    if (stack_.size() >= kMaxIncludeDepth) {
      return std::unexpected("calendar '" + stack_.front() + "': includes nest deeper than " +
                             std::to_string(kMaxIncludeDepth) + " levels");
    }
    stack_.push_back(name);
    auto result = resolve_members(calendar);
    stack_.pop_back();
    if (!result) return std::unexpected(std::move(result.error()));
    return &done_.emplace(name, std::move(*result)).first->second;
  }

 private:
  std::string cycle_error(const std::string& again) const {
    std::string path;
    auto it = std::find(stack_.begin(), stack_.end(), again);
    for (; it != stack_.end(); ++it) path += *it + " -> ";
    return "calendar '" + stack_.back() + "': include cycle " + path + again;
  }

  static std::expected<std::int64_t, std::string> day_of_date(const ast::Date& date,
                                                              const std::string& calendar) {
    using namespace std::chrono;
    const year_month_day ymd{year{date.year}, month{static_cast<unsigned>(std::clamp(date.month, 0, 255))},
                             day{static_cast<unsigned>(std::clamp(date.day, 0, 255))}};
    if (date.year < 1 || date.year > 9999 || !ymd.ok()) {
      return std::unexpected("calendar '" + calendar + "': " + std::to_string(date.year) + "-" +
                             std::to_string(date.month) + "-" + std::to_string(date.day) + " is not a date");
    }
    return dsl::days_from_civil({date.year, date.month, date.day});
  }

  std::expected<Resolved, std::string> resolve_members(const dsl::resolved::Calendar& resolved) {
    const ast::Calendar& calendar = *resolved.declaration;
    const std::string& name = calendar.id.text;
    const auto fail = [&](std::string message) {
      return std::unexpected("calendar '" + name + "': " + std::move(message));
    };
    Resolved own;
    std::vector<std::pair<const ast::Name*, const dsl::resolved::Calendar*>> includes;  // as the checker resolved them

    // The calendar's own statements first: they win over anything included.
    for (const auto& m : calendar.members) {
      switch (m.kind) {
        case ast::CalendarMemberKind::include:
          for (const auto& n : m.names) {
            const std::size_t k = includes.size();
            includes.emplace_back(&n, k < resolved.includes.size() ? resolved.includes[k] : nullptr);
          }
          break;
        case ast::CalendarMemberKind::weekend: {
          if (own.weekend) return fail("sets 'weekend' twice");
          std::uint8_t mask = 0;
          for (const auto& n : m.names) {
            const auto it = std::find(kDayNames.begin(), kDayNames.end(), n.text);
            if (it == kDayNames.end()) return fail("'" + n.text + "' is not a day of the week (mon … sun)");
            mask |= static_cast<std::uint8_t>(1u << (it - kDayNames.begin()));
          }
          own.weekend = mask;
          own.weekend_from = name;
          break;
        }
        case ast::CalendarMemberKind::hours: {
          if (own.hours) return fail("sets 'hours' twice");
          std::vector<WorkingPeriod> periods;
          for (const auto& r : m.hours) {
            const auto valid = [](const ast::TimeOfDay& t) {
              return t.hour >= 0 && t.minute >= 0 && t.minute < 60 && t.minutes() <= kMinutesPerDay;
            };
            if (!valid(r.from) || !valid(r.to))
              return fail("working hours must be times of day (00:00 to 24:00)");
            const WorkingPeriod p{r.from.minutes(), r.to.minutes()};
            if (p.from >= p.to) return fail("working hours must end after they start");
            if (!periods.empty() && p.from < periods.back().to) {
              return fail("working hour ranges must be in order and must not overlap");
            }
            periods.push_back(p);
          }
          if (periods.empty()) return fail("'hours' lists no working hours");
          own.hours = std::move(periods);
          own.hours_from = name;
          break;
        }
        case ast::CalendarMemberKind::holiday: {
          if (!m.from) return fail("a holiday without a date");
          const auto from = day_of_date(*m.from, name);
          if (!from) return std::unexpected(from.error());
          auto to = from;
          if (m.to) {
            to = day_of_date(*m.to, name);
            if (!to) return std::unexpected(to.error());
          }
          if (*to < *from)
            return fail("the holiday " + date_text(*from) + ".." + date_text(*to) + " ends before it starts");
          if (*to - *from >= kMaxHolidayLength) {
            return fail("the holiday " + date_text(*from) + ".." + date_text(*to) + " is longer than a year");
          }
          for (auto day = *from; day <= *to; ++day) {
            if (const auto [it, inserted] = own.days.emplace(day, false); !inserted && it->second) {
              return fail(date_text(day) + " is both a holiday and a make-up working day");
            }
          }
          break;
        }
        case ast::CalendarMemberKind::workday: {
          if (!m.from) return fail("a make-up working day without a date");
          const auto day = day_of_date(*m.from, name);
          if (!day) return std::unexpected(day.error());
          if (const auto [it, inserted] = own.days.emplace(*day, true); !inserted && !it->second) {
            return fail(date_text(*day) + " is both a holiday and a make-up working day");
          }
          break;
        }
      }
    }

    // Then what the included calendars say, where the calendar itself is silent.
    Resolved result = own;
    std::map<std::int64_t, std::string> day_from;  // included day -> calendar it came from
    for (const auto& [n, target] : includes) {
      if (!target) return fail("includes unknown calendar '" + n->text + "'");
      if (std::find(stack_.begin(), stack_.end(), n->text) != stack_.end()) {
        return std::unexpected(cycle_error(n->text));
      }
      const auto included = resolve(*target);
      if (!included) return std::unexpected(included.error());
      const Resolved& r = **included;
      if (!own.weekend && r.weekend) {
        if (result.weekend && *result.weekend != *r.weekend) {
          return fail("included calendars '" + result.weekend_from + "' (weekend " +
                      weekend_text(*result.weekend) + ") and '" + r.weekend_from + "' (weekend " +
                      weekend_text(*r.weekend) + ") disagree; say 'weekend' in '" + name + "'");
        }
        result.weekend = r.weekend;
        result.weekend_from = r.weekend_from;
      }
      if (!own.hours && r.hours) {
        if (result.hours && *result.hours != *r.hours) {
          return fail("included calendars '" + result.hours_from + "' (hours " + hours_text(*result.hours) +
                      ") and '" + r.hours_from + "' (hours " + hours_text(*r.hours) +
                      ") disagree; say 'hours' in '" + name + "'");
        }
        result.hours = r.hours;
        result.hours_from = r.hours_from;
      }
      for (const auto& [day, workday] : r.days) {
        if (own.days.contains(day)) continue;
        const auto [it, inserted] = result.days.emplace(day, workday);
        if (inserted) {
          day_from.emplace(day, n->text);
        } else if (it->second != workday) {
          const std::string& other = day_from[day];
          return fail(
              "included calendars '" + other + "' and '" + n->text + "' disagree on " + date_text(day) +
              " (a holiday in one, a make-up working day in the other); declare it in '" + name + "'");
        }
      }
    }
    return result;
  }

  std::map<std::string, Resolved, std::less<>> done_;
  std::vector<std::string> stack_;
};

}  // namespace

// ---------------------------------------------------------------------------------------
// Construction

WorkCalendar::WorkCalendar(std::string name, std::uint8_t weekend_mask, std::vector<WorkingPeriod> hours,
                           std::span<const std::pair<std::int64_t, bool>> days)
    : name_(std::move(name)), weekend_mask_(weekend_mask), hours_(std::move(hours)) {
  for (int i = 0; i < 7; ++i) week_prefix_[i + 1] = week_prefix_[i] + ((weekend_mask_ & (1u << i)) ? 0 : 1);
  week_working_days_ = static_cast<int>(week_prefix_[7]);
  for (const auto& p : hours_) minutes_per_day_ += p.to - p.from;
  assert(week_working_days_ > 0 && minutes_per_day_ > 0);
  exception_prefix_.push_back(0);
  for (const auto& [day, workday] : days) {
    assert(exception_days_.empty() || exception_days_.back() < day);
    // A holiday on a rest day or a make-up day on a working day changes nothing.
    if (weekly_working(day) == workday) continue;
    exception_days_.push_back(day);
    exception_prefix_.push_back(exception_prefix_.back() + (workday ? 1 : -1));
  }
  if (!days.empty()) declared_until_ = dsl::days_from_civil({dsl::civil_from_days(days.back().first).year, 12, 31});
}

std::expected<WorkCalendar, std::string> WorkCalendar::from_declaration(const dsl::resolved::Calendar& root_calendar) {
  const ast::Calendar& root = *root_calendar.declaration;
  Resolver resolver;
  const auto resolved = resolver.resolve(root_calendar);
  if (!resolved) return std::unexpected(resolved.error());
  const Resolved& r = **resolved;
  const std::uint8_t weekend = r.weekend.value_or(kDefaultWeekend);
  if ((weekend & 0x7f) == 0x7f) {
    return std::unexpected("calendar '" + root.id.text +
                           "': every day of the week is a rest day, so it has no working days");
  }
  const std::vector<std::pair<std::int64_t, bool>> days(r.days.begin(), r.days.end());  // sorted: a std::map
  return WorkCalendar(root.id.text, weekend, r.hours.value_or(default_hours()), days);
}

WorkCalendar WorkCalendar::weekdays() {
  return WorkCalendar("weekdays", kDefaultWeekend, default_hours(), {});
}

// ---------------------------------------------------------------------------------------
// Days

bool WorkCalendar::weekly_working(std::int64_t day) const {
  return !(weekend_mask_ & (1u << weekday_of(day)));
}

std::int64_t WorkCalendar::working_days_upto(std::int64_t day) const {
  // Working weekdays from Monday 1969-12-29 (day -3) through `day`, by whole weeks…
  const std::int64_t shifted = day + 3;
  const std::int64_t weekly =
      floor_div(shifted, 7) * week_working_days_ + week_prefix_[floor_mod(shifted, 7) + 1];
  // …corrected by the declared days up to and including `day`.
  const auto after = std::upper_bound(exception_days_.begin(), exception_days_.end(), day);
  return weekly + exception_prefix_[static_cast<std::size_t>(after - exception_days_.begin())];
}

bool WorkCalendar::is_working_day(std::int64_t day) const {
  return weekly_working(day) != std::binary_search(exception_days_.begin(), exception_days_.end(), day);
}

std::int64_t WorkCalendar::first_day_reaching(std::int64_t after, std::int64_t target) const {
  // working_days_upto rises by at most one a day and, past the last declared day, by
  // week_working_days_ >= 1 a week, so doubling the window finds an upper bound quickly;
  // the first guess ignores holidays and is usually already enough.
  std::int64_t lo = after;
  std::int64_t needed = target - working_days_upto(after);
  assert(needed > 0);
  std::int64_t step = (needed + week_working_days_ - 1) / week_working_days_ * 7 + 7;
  std::int64_t hi = after + step;
  while (working_days_upto(hi) < target) {
    lo = hi;
    step *= 2;
    hi = after + step;
  }
  while (hi - lo > 1) {  // invariant: upto(lo) < target <= upto(hi)
    const std::int64_t mid = lo + (hi - lo) / 2;
    if (working_days_upto(mid) >= target) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return hi;
}

std::int64_t WorkCalendar::next_working_day(std::int64_t day) const {
  return first_day_reaching(day, working_days_upto(day) + 1);
}

std::int64_t WorkCalendar::workdays_between(std::int64_t from_day, std::int64_t to_day) const {
  return working_days_upto(to_day) - working_days_upto(from_day);
}

std::int64_t WorkCalendar::due_day_for_limit(std::int64_t accepted_day, dsl::Decimal workdays) const {
  const std::int64_t n = whole_days(workdays);
  if (n == 0) return accepted_day;
  return first_day_reaching(accepted_day, working_days_upto(accepted_day) + n);
}

std::int64_t WorkCalendar::due_day_for_calendar_days(std::int64_t day, dsl::Decimal days) const {
  const std::int64_t n = whole_days(days);
  if (n == 0) return day;
  const std::int64_t last = day + n;
  return is_working_day(last) ? last : next_working_day(last);
}

// ---------------------------------------------------------------------------------------
// Instants

Minutes WorkCalendar::minutes_into_day(Minutes minute_of_day) const {
  Minutes total = 0;
  for (const auto& p : hours_) {
    if (minute_of_day <= p.from) break;
    total += std::min<Minutes>(minute_of_day, p.to) - p.from;
  }
  return total;
}

Minutes WorkCalendar::working_minutes_upto(Minutes instant) const {
  const std::int64_t day = day_of(instant);
  const std::int64_t before = working_days_upto(day - 1);
  Minutes total = before * minutes_per_day_;
  if (working_days_upto(day) > before) total += minutes_into_day(instant - day * kMinutesPerDay);
  return total;
}

bool WorkCalendar::is_working_time(Minutes instant) const {
  const std::int64_t day = day_of(instant);
  if (!is_working_day(day)) return false;
  const Minutes minute = instant - day * kMinutesPerDay;
  return std::any_of(hours_.begin(), hours_.end(),
                     [&](const WorkingPeriod& p) { return p.from <= minute && minute < p.to; });
}

Minutes WorkCalendar::working_minutes_between(Minutes a, Minutes b) const {
  return working_minutes_upto(b) - working_minutes_upto(a);
}

Minutes WorkCalendar::add_working_minutes(Minutes start, Minutes minutes) const {
  if (minutes <= 0) return start;
  minutes = std::min(minutes, kMaxLimitDays * minutes_per_day_);
  // In "working minute" coordinates, working day number j (working_days_upto == j) covers
  // ((j-1)·per_day, j·per_day]. Find the day the target falls in, then the minute in it.
  const Minutes target = working_minutes_upto(start) + minutes;
  const std::int64_t j = -floor_div(-target, minutes_per_day_);  // ceil(target / per_day)
  Minutes remaining = target - (j - 1) * minutes_per_day_;       // in (0, per_day]
  // working_days_upto(day_of(start) - 1) < j because its minutes lie before `start`.
  const std::int64_t day = first_day_reaching(day_of(start) - 1, j);
  for (const auto& p : hours_) {
    if (remaining <= p.to - p.from) return day * kMinutesPerDay + p.from + remaining;
    remaining -= p.to - p.from;
  }
  assert(false && "remaining exceeds a working day");
  return day * kMinutesPerDay + hours_.back().to;
}

Minutes WorkCalendar::add_working_time(Minutes start, dsl::Decimal workdays) const {
  if (workdays.units <= 0) return start;
  const std::int64_t units = std::min(workdays.units, kMaxLimitDays * dsl::Decimal::kScale);
  // units · per_day / kScale, rounded up, without overflowing.
  const std::int64_t whole = units / dsl::Decimal::kScale, fraction = units % dsl::Decimal::kScale;
  const Minutes minutes = whole * minutes_per_day_ +
                          (fraction * minutes_per_day_ + dsl::Decimal::kScale - 1) / dsl::Decimal::kScale;
  return add_working_minutes(start, minutes);
}

}  // namespace onevisit::engine
