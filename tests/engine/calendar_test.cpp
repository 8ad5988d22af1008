// Tests of the working-day calendar (engine/calendar.hpp) on the real calendar files under
// workflows/calendars/, on small calendars written inline, and against a day-by-day and
// minute-by-minute oracle.
#include <catch2/catch.hpp>

#include <onevisit/dsl/expr.hpp>
#include <onevisit/dsl/parser.hpp>
#include <onevisit/dsl/resolved.hpp>
#include <onevisit/engine/calendar.hpp>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

using onevisit::engine::Minutes;
using onevisit::engine::WorkCalendar;
namespace dsl = onevisit::dsl;
namespace engine = onevisit::engine;

std::int64_t day(int y, int m, int d) { return dsl::days_from_civil({y, m, d}); }
Minutes at(int y, int m, int d, int hour, int minute) { return engine::at_time(day(y, m, d), hour, minute); }
dsl::Decimal amount(std::string_view text) { return *dsl::Decimal::parse(text); }
dsl::Decimal whole(std::int64_t n) { return dsl::Decimal::from_int(n); }

std::string two(int n) { return (n < 10 ? "0" : "") + std::to_string(n); }

/// "2026-02-26": failures print dates rather than day numbers.
std::string iso(std::int64_t days) {
  const auto d = dsl::civil_from_days(days);
  return std::to_string(d.year) + "-" + two(d.month) + "-" + two(d.day);
}

/// "2026-02-26 17:30".
std::string stamp(Minutes t) {
  const auto d = engine::day_of(t);
  const auto minute = static_cast<int>(t - d * engine::kMinutesPerDay);
  return iso(d) + " " + two(minute / 60) + ":" + two(minute % 60);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

/// Parsed files and the calendars they declare, each include bound to the calendar of that
/// name in any of the files (what the checker resolves in a file's view).
class Library {
 public:
  void add_text(std::string_view text, std::string_view name) {
    auto parsed = dsl::parse(text, name);
    REQUIRE(parsed.ok());
    files_.push_back(std::make_unique<dsl::ast::File>(std::move(parsed.file)));
    for (const auto& d : files_.back()->declarations) {
      if (d.calendar) calendars_[d.calendar->id.text] = &*d.calendar;
    }
  }
  void add_file(const std::string& relative) {
    add_text(read_text(std::string(ONEVISIT_SOURCE_DIR) + "/" + relative), relative);
  }
  std::expected<WorkCalendar, std::string> build(std::string_view name) const {
    std::map<std::string, std::unique_ptr<dsl::resolved::Calendar>, std::less<>> bound;
    for (const auto& [id, declaration] : calendars_) {
      bound[id] = std::make_unique<dsl::resolved::Calendar>(dsl::resolved::Calendar{declaration, "", {}});
    }
    for (auto& [id, calendar] : bound) {
      for (const auto& m : calendar->declaration->members) {
        if (m.kind != dsl::ast::CalendarMemberKind::include) continue;
        for (const auto& n : m.names) {
          const auto it = bound.find(n.text);
          calendar->includes.push_back(it == bound.end() ? nullptr : it->second.get());
        }
      }
    }
    const auto it = bound.find(name);
    REQUIRE(it != bound.end());
    return WorkCalendar::from_declaration(*it->second);
  }

 private:
  std::vector<std::unique_ptr<dsl::ast::File>> files_;
  std::map<std::string, const dsl::ast::Calendar*, std::less<>> calendars_;
};

const Library& real_files() {
  static const Library library = [] {
    Library l;
    l.add_file("workflows/calendars/cn_2025.flow");
    l.add_file("workflows/calendars/cn_2026.flow");
    l.add_file("workflows/calendars/cn_mainland.flow");
    return l;
  }();
  return library;
}

WorkCalendar real(std::string_view name) {
  auto calendar = real_files().build(name);
  INFO((calendar ? std::string() : calendar.error()));
  REQUIRE(calendar.has_value());
  return std::move(*calendar);
}

const WorkCalendar& mainland() {
  static const WorkCalendar calendar = real("cn_mainland");
  return calendar;
}

std::string build_error(std::string_view text, std::string_view root) {
  Library l;
  l.add_text(text, "inline.flow");
  const auto calendar = l.build(root);
  return calendar ? std::string("(no error)") : calendar.error();
}

}  // namespace

TEST_CASE("calendar: 2025 and 2026 each have 248 working days", "[calendar]") {
  for (const auto name : {"cn_2025", "cn_mainland"}) {
    INFO(name);
    CHECK(real(name).workdays_between(day(2024, 12, 31), day(2025, 12, 31)) == 248);
  }
  for (const auto name : {"cn_2026", "cn_mainland"}) {
    INFO(name);
    CHECK(real(name).workdays_between(day(2025, 12, 31), day(2026, 12, 31)) == 248);
  }
  CHECK(mainland().workdays_between(day(2024, 12, 31), day(2026, 12, 31)) == 2 * 248);
  // Reversed ranges count negatively.
  CHECK(mainland().workdays_between(day(2026, 12, 31), day(2025, 12, 31)) == -248);
  // The same count, one day at a time.
  std::int64_t counted = 0;
  for (auto d = day(2025, 1, 1); d <= day(2025, 12, 31); ++d) counted += mainland().is_working_day(d);
  CHECK(counted == 248);
  // Outside the declared years the calendar is ordinary weeks: 2027 has 261 weekdays.
  CHECK(mainland().workdays_between(day(2026, 12, 31), day(2027, 12, 31)) == 261);
  CHECK(mainland().name() == "cn_mainland");
}

TEST_CASE("calendar: Spring Festival 2026 (holiday 02-15..02-23, make-up Sat 02-14 and 02-28)",
          "[calendar]") {
  const auto& cal = mainland();
  CHECK(cal.is_working_day(day(2026, 2, 13)));  // Fri
  CHECK(cal.is_working_day(day(2026, 2, 14)));  // Sat, make-up working day
  for (int d = 15; d <= 23; ++d) CHECK_FALSE(cal.is_working_day(day(2026, 2, d)));
  CHECK(cal.is_working_day(day(2026, 2, 24)));       // Tue, first day back
  CHECK(cal.is_working_day(day(2026, 2, 28)));       // Sat, make-up working day
  CHECK_FALSE(cal.is_working_day(day(2026, 3, 1)));  // an ordinary Sunday
  CHECK(iso(cal.next_working_day(day(2026, 2, 14))) == "2026-02-24");
  CHECK(iso(cal.next_working_day(day(2026, 2, 13))) == "2026-02-14");

  // Accepted Thu 2026-02-12, 5 workdays. Counting starts the day after acceptance:
  //   Fri 02-13 (1), Sat 02-14 make-up day (2), 02-15..02-23 holiday (not counted),
  //   Tue 02-24 (3), Wed 02-25 (4), Thu 02-26 (5)  =>  due at the close of Thu 2026-02-26.
  CHECK(iso(cal.due_day_for_limit(day(2026, 2, 12), whole(5))) == "2026-02-26");
  CHECK(cal.workdays_between(day(2026, 2, 12), day(2026, 2, 26)) == 5);
  CHECK(cal.workdays_between(day(2026, 2, 26), day(2026, 2, 12)) == -5);
  // 10 workdays: … Thu 02-26 (5), Fri 02-27 (6), Sat 02-28 make-up (7), Mon 03-02 (8),
  // Tue 03-03 (9), Wed 03-04 (10).
  CHECK(iso(cal.due_day_for_limit(day(2026, 2, 12), whole(10))) == "2026-03-04");
  // 1 workday from Friday 02-13 ends on the make-up Saturday.
  CHECK(iso(cal.due_day_for_limit(day(2026, 2, 13), whole(1))) == "2026-02-14");
  // Accepted on a holiday (the engine's clock may accept online): counting starts on 02-24.
  CHECK(iso(cal.due_day_for_limit(day(2026, 2, 18), whole(1))) == "2026-02-24");
  // 0 workdays (即办件) is the acceptance day itself; fractions round up to whole days.
  CHECK(iso(cal.due_day_for_limit(day(2026, 2, 12), whole(0))) == "2026-02-12");
  CHECK(iso(cal.due_day_for_limit(day(2026, 2, 12), amount("0.5"))) == "2026-02-13");
  CHECK(iso(cal.due_day_for_limit(day(2026, 2, 12), amount("4.25"))) == "2026-02-26");

  // cn_2025 alone knows nothing of 2026: ordinary weeks, so Fri 13, Mon 16 … Thu 19.
  CHECK(iso(real("cn_2025").due_day_for_limit(day(2026, 2, 12), whole(5))) == "2026-02-19");
}

TEST_CASE("calendar: National Day 2025 (10-01..10-08, make-up Sun 09-28 and Sat 10-11)", "[calendar]") {
  const auto& cal = mainland();
  CHECK(cal.is_working_day(day(2025, 9, 28)));  // Sun, make-up
  for (int d = 1; d <= 8; ++d) CHECK_FALSE(cal.is_working_day(day(2025, 10, d)));
  CHECK(cal.is_working_day(day(2025, 10, 11)));  // Sat, make-up
  CHECK_FALSE(cal.is_working_day(day(2025, 10, 12)));
  // Accepted Fri 09-26, 3 workdays: Sun 09-28 make-up (1), Mon 09-29 (2), Tue 09-30 (3).
  CHECK(iso(cal.due_day_for_limit(day(2025, 9, 26), whole(3))) == "2025-09-30");
  // Accepted Tue 09-30, 3 workdays: the holiday runs to Wed 10-08, then Thu 10-09 (1),
  // Fri 10-10 (2), Sat 10-11 make-up (3).
  CHECK(iso(cal.due_day_for_limit(day(2025, 9, 30), whole(3))) == "2025-10-11");
  CHECK(iso(cal.due_day_for_limit(day(2025, 9, 30), whole(1))) == "2025-10-09");
  CHECK(cal.workdays_between(day(2025, 9, 26), day(2025, 10, 12)) == 6);  // 28, 29, 30, 9, 10, 11
}

TEST_CASE("calendar: National Day 2026 (Mid-Autumn 09-25..27, 10-01..10-07, make-up Sun 09-20 and Sat 10-10)",
          "[calendar]") {
  const auto& cal = mainland();
  CHECK(cal.is_working_day(day(2026, 9, 20)));        // Sun, make-up
  CHECK_FALSE(cal.is_working_day(day(2026, 9, 25)));  // Fri, 中秋节
  for (int d = 1; d <= 7; ++d) CHECK_FALSE(cal.is_working_day(day(2026, 10, d)));
  CHECK(cal.is_working_day(day(2026, 10, 8)));
  CHECK(cal.is_working_day(day(2026, 10, 10)));  // Sat, make-up
  // Accepted Fri 09-18, 5 workdays: Sun 09-20 make-up (1), Mon 21 (2), Tue 22 (3),
  // Wed 23 (4), Thu 24 (5).
  CHECK(iso(cal.due_day_for_limit(day(2026, 9, 18), whole(5))) == "2026-09-24");
  // Accepted Thu 09-24, 3 workdays: 09-25..27 are 中秋节, then Mon 28 (1), Tue 29 (2), Wed 30 (3).
  CHECK(iso(cal.due_day_for_limit(day(2026, 9, 24), whole(3))) == "2026-09-30");
  // Accepted Wed 09-30, 3 workdays: Thu 10-08 (1), Fri 10-09 (2), Sat 10-10 make-up (3).
  CHECK(iso(cal.due_day_for_limit(day(2026, 9, 30), whole(3))) == "2026-10-10");
}

TEST_CASE("calendar: calendar-day limits end on a working day", "[calendar]") {
  const auto& cal = mainland();
  // 7 days after Thu 2026-09-24 is Thu 10-01, inside 国庆节; the limit runs to the day after
  // the holiday ends (民法典 第二百零三条), Thu 10-08.
  CHECK(iso(cal.due_day_for_calendar_days(day(2026, 9, 24), whole(7))) == "2026-10-08");
  // An ordinary Saturday moves to Monday; a make-up Saturday is a working day and stays.
  CHECK(iso(cal.due_day_for_calendar_days(day(2026, 3, 2), whole(5))) == "2026-03-09");
  CHECK(iso(cal.due_day_for_calendar_days(day(2026, 2, 4), whole(10))) == "2026-02-14");
  // 15 days (社会保险法第五十七条's 十五日) from Mon 2026-03-02: Tue 03-17.
  CHECK(iso(cal.due_day_for_calendar_days(day(2026, 3, 2), whole(15))) == "2026-03-17");
  CHECK(iso(cal.due_day_for_calendar_days(day(2026, 2, 15), whole(0))) == "2026-02-15");
  CHECK(iso(cal.due_day_for_calendar_days(day(2026, 3, 2), amount("0.5"))) == "2026-03-03");
}

TEST_CASE("calendar: fractions of a workday count office minutes (09:00-12:00 13:30-17:30)", "[calendar]") {
  const auto& cal = mainland();
  REQUIRE(cal.working_minutes_per_day() == 420);
  REQUIRE(cal.hours().size() == 2);
  // Mon 2026-03-02. Half a day is 210 minutes: 180 in the morning, 30 after lunch.
  CHECK(stamp(cal.add_working_time(at(2026, 3, 2, 9, 0), amount("0.5"))) == "2026-03-02 14:00");
  CHECK(stamp(cal.add_working_time(at(2026, 3, 2, 10, 0), amount("0.5"))) == "2026-03-02 15:00");
  CHECK(stamp(cal.add_working_time(at(2026, 3, 2, 13, 30), amount("0.5"))) == "2026-03-02 17:00");
  CHECK(stamp(cal.add_working_time(at(2026, 3, 2, 9, 0), amount("0.25"))) == "2026-03-02 10:45");
  // A whole day from opening ends at closing the same day, not the next morning.
  CHECK(stamp(cal.add_working_time(at(2026, 3, 2, 9, 0), whole(1))) == "2026-03-02 17:30");
  // Ending exactly at the lunch break gives 12:00, the earliest instant the time has passed.
  CHECK(stamp(cal.add_working_minutes(at(2026, 3, 2, 9, 0), 180)) == "2026-03-02 12:00");
  CHECK(stamp(cal.add_working_time(at(2026, 3, 2, 14, 0), amount("0.5"))) == "2026-03-02 17:30");
  // Running over the close continues next working morning: 90 minutes Monday, 120 Tuesday.
  CHECK(stamp(cal.add_working_time(at(2026, 3, 2, 16, 0), amount("0.5"))) == "2026-03-03 11:00");
  // 0.3333 × 420 = 139.99 minutes, rounded up to 140.
  CHECK(stamp(cal.add_working_time(at(2026, 3, 2, 9, 0), amount("0.3333"))) == "2026-03-02 11:20");
  // Nothing to add: the start itself, even outside office hours.
  CHECK(stamp(cal.add_working_time(at(2026, 3, 7, 10, 0), whole(0))) == "2026-03-07 10:00");
  CHECK(stamp(cal.add_working_time(at(2026, 3, 7, 10, 0), amount("-1"))) == "2026-03-07 10:00");
  // Hours (a `2 hours` warning): minutes directly.
  CHECK(stamp(cal.add_working_minutes(at(2026, 3, 2, 11, 0), 120)) == "2026-03-02 14:30");
}

TEST_CASE("calendar: counting starts at the next working period when started outside hours", "[calendar]") {
  const auto& cal = mainland();
  // Before opening, in the lunch break, on Friday evening, on a Saturday.
  CHECK(stamp(cal.add_working_time(at(2026, 3, 2, 7, 30), amount("0.5"))) == "2026-03-02 14:00");
  CHECK(stamp(cal.add_working_time(at(2026, 3, 2, 12, 15), amount("0.5"))) == "2026-03-02 17:00");
  CHECK(stamp(cal.add_working_time(at(2026, 3, 6, 18, 0), amount("0.5"))) == "2026-03-09 14:00");
  CHECK(stamp(cal.add_working_time(at(2026, 3, 7, 10, 0), whole(1))) == "2026-03-09 17:30");
  // Fri 2026-02-13 17:00: 30 minutes Friday, then the make-up Saturday 09:00-12:00.
  CHECK(stamp(cal.add_working_time(at(2026, 2, 13, 17, 0), amount("0.5"))) == "2026-02-14 12:00");
  // After closing on the make-up Saturday: the next working period is after the holiday.
  CHECK(stamp(cal.add_working_time(at(2026, 2, 14, 17, 45), amount("0.5"))) == "2026-02-24 14:00");
  // Two working days from Friday 2026-02-13 16:00: 90 + 420 (Sat 02-14) + 330 on Tue 02-24.
  CHECK(stamp(cal.add_working_time(at(2026, 2, 13, 16, 0), whole(2))) == "2026-02-24 16:00");

  CHECK(cal.is_working_time(at(2026, 3, 2, 9, 0)));
  CHECK_FALSE(cal.is_working_time(at(2026, 3, 2, 12, 0)));
  CHECK(cal.is_working_time(at(2026, 3, 2, 13, 30)));
  CHECK_FALSE(cal.is_working_time(at(2026, 3, 2, 17, 30)));
  CHECK(cal.is_working_time(at(2026, 2, 14, 10, 0)));        // make-up Saturday
  CHECK_FALSE(cal.is_working_time(at(2026, 2, 16, 10, 0)));  // Spring Festival Monday
}

TEST_CASE("calendar: working minutes between instants skip nights, weekends and holidays", "[calendar]") {
  const auto& cal = mainland();
  // Fri 2026-03-06 16:00 to Mon 03-09 10:00: 90 + 60.
  CHECK(cal.working_minutes_between(at(2026, 3, 6, 16, 0), at(2026, 3, 9, 10, 0)) == 150);
  CHECK(cal.working_minutes_between(at(2026, 3, 9, 10, 0), at(2026, 3, 6, 16, 0)) == -150);
  // Fri 2026-02-13 16:00 to Tue 02-24 10:00: 90 Friday, 420 on the make-up Saturday, no
  // minutes in the Spring Festival, 60 on Tuesday.
  CHECK(cal.working_minutes_between(at(2026, 2, 13, 16, 0), at(2026, 2, 24, 10, 0)) == 570);
  // National Day 2025: Tue 09-30 17:00 to Thu 10-09 09:30 is 30 + 30.
  CHECK(cal.working_minutes_between(at(2025, 9, 30, 17, 0), at(2025, 10, 9, 9, 30)) == 60);
  CHECK(cal.working_minutes_between(at(2026, 3, 2, 12, 10), at(2026, 3, 2, 13, 0)) == 0);
  CHECK(cal.working_minutes_between(at(2026, 3, 2, 11, 0), at(2026, 3, 2, 11, 0)) == 0);
  // A whole working week is five working days' minutes.
  CHECK(cal.working_minutes_between(at(2026, 3, 2, 0, 0), at(2026, 3, 9, 0, 0)) == 5 * 420);

  // Adding and measuring are inverse: every start on a 15-minute grid around the Spring
  // Festival, several amounts.
  for (Minutes start = at(2026, 2, 12, 0, 0); start < at(2026, 2, 16, 0, 0); start += 15) {
    for (const Minutes m : {1, 179, 180, 181, 420, 421, 1000, 5000}) {
      const Minutes end = cal.add_working_minutes(start, m);
      INFO(stamp(start) << " + " << m);
      CHECK(cal.working_minutes_between(start, end) == m);
      CHECK(cal.working_minutes_between(start, end - 1) == m - 1);  // the earliest such instant
    }
  }
}

TEST_CASE("calendar: include merging — own weekend and hours win, dates are the union", "[calendar]") {
  Library l;
  l.add_text(R"(
calendar base "基础" {
  weekend sat sun
  hours 09:00-12:00 13:30-17:30
  holiday 2026-03-10 "甲"
  workday 2026-03-14 "乙"
}
calendar extra "补充" {
  holiday 2026-03-12 "丙"
}
calendar hall "大厅" {
  include base, extra
  weekend sun
  hours 08:00-12:00 14:00-18:00
  holiday 2026-03-14 "本级优先"
}
calendar plain "默认" {
  include extra
}
calendar inherits "继承" {
  include base
}
calendar diamond "菱形" {
  include hall, inherits
  weekend sun
  hours 08:00-12:00
}
)",
             "inline.flow");
  const auto hall = l.build("hall");
  REQUIRE(hall.has_value());
  CHECK(hall->working_minutes_per_day() == 480);
  CHECK(hall->hours()[0] == engine::WorkingPeriod{8 * 60, 12 * 60});
  CHECK(hall->is_working_day(day(2026, 3, 7)));         // Saturday: only Sunday is weekend
  CHECK_FALSE(hall->is_working_day(day(2026, 3, 8)));   // Sunday
  CHECK_FALSE(hall->is_working_day(day(2026, 3, 10)));  // base's holiday
  CHECK_FALSE(hall->is_working_day(day(2026, 3, 12)));  // extra's holiday
  CHECK_FALSE(hall->is_working_day(day(2026, 3, 14)));  // own holiday beats base's make-up day

  const auto plain = l.build("plain");  // nobody sets weekend or hours: the defaults
  REQUIRE(plain.has_value());
  CHECK(plain->working_minutes_per_day() == 420);
  CHECK_FALSE(plain->is_working_day(day(2026, 3, 7)));
  CHECK_FALSE(plain->is_working_day(day(2026, 3, 12)));

  const auto inherits = l.build("inherits");
  REQUIRE(inherits.has_value());
  CHECK(inherits->is_working_day(day(2026, 3, 14)));  // base's make-up Saturday

  // hall and inherits disagree on 2026-03-14, but diamond is silent about it: an error.
  CHECK_THAT(l.build("diamond").error(), Catch::Contains("disagree on 2026-03-14"));
}

TEST_CASE("calendar: include cycles, unknown includes and bad declarations are errors", "[calendar]") {
  CHECK_THAT(build_error("calendar a { include b }\ncalendar b { include a }", "a"),
             Catch::Contains("include cycle a -> b -> a"));
  CHECK_THAT(build_error("calendar a { include a }", "a"), Catch::Contains("include cycle a -> a"));
  CHECK_THAT(build_error("calendar a { include b }\ncalendar b { include c }\ncalendar c { include b }", "a"),
             Catch::Contains("include cycle b -> c -> b"));
  CHECK_THAT(
      build_error("calendar cn { include cn_2025, cn_2027 }\ncalendar cn_2025 { holiday 2025-01-01 }", "cn"),
      Catch::Contains("calendar 'cn': includes unknown calendar 'cn_2027'"));
  CHECK_THAT(build_error("calendar a { include b, c }\ncalendar b { hours 09:00-17:00 }\n"
                         "calendar c { hours 08:00-16:00 }",
                         "a"),
             Catch::Contains("disagree; say 'hours' in 'a'"));
  CHECK_THAT(
      build_error("calendar a { include b, c }\ncalendar b { weekend sun }\ncalendar c { weekend sat sun }",
                  "a"),
      Catch::Contains("disagree; say 'weekend' in 'a'"));
  CHECK(build_error("calendar a { include b, c; weekend sun }\ncalendar b { weekend sun }\n"
                    "calendar c { weekend sat sun }",
                    "a") == "(no error)");
  CHECK_THAT(build_error("calendar a { holiday 2026-02-14; workday 2026-02-14 }", "a"),
             Catch::Contains("2026-02-14 is both a holiday and a make-up working day"));
  CHECK_THAT(build_error("calendar a { holiday 2026-02-23..2026-02-15 }", "a"),
             Catch::Contains("ends before it starts"));
  CHECK_THAT(build_error("calendar a { hours 12:00-09:00 }", "a"),
             Catch::Contains("must end after they start"));
  CHECK_THAT(build_error("calendar a { hours 09:00-12:00 11:00-17:00 }", "a"),
             Catch::Contains("must not overlap"));
  CHECK_THAT(build_error("calendar a { weekend mon tue wed thu fri sat sun }", "a"),
             Catch::Contains("no working days"));
  CHECK_THAT(build_error("calendar a { weekend sun\n weekend sat }", "a"),
             Catch::Contains("sets 'weekend' twice"));

  // Hand-built trees the parser would refuse still give errors, not crashes.
  dsl::ast::Calendar odd;
  odd.id.text = "odd";
  dsl::ast::CalendarMember weekend;
  weekend.kind = dsl::ast::CalendarMemberKind::weekend;
  weekend.names.push_back({"funday", {}});
  odd.members.push_back(weekend);
  const dsl::resolved::Calendar unbound{&odd, "", {}};  // no includes resolved: every include is unknown
  CHECK_THAT(WorkCalendar::from_declaration(unbound).error(), Catch::Contains("'funday' is not a day of the week"));
  odd.members[0].kind = dsl::ast::CalendarMemberKind::holiday;
  odd.members[0].from = dsl::ast::Date{2026, 2, 30, {}};
  CHECK_THAT(WorkCalendar::from_declaration(unbound).error(), Catch::Contains("is not a date"));
  odd.members[0].kind = dsl::ast::CalendarMemberKind::include;
  CHECK_THAT(WorkCalendar::from_declaration(unbound).error(),
             Catch::Contains("includes unknown calendar 'funday'"));

  // A long include chain is fine; one past the nesting limit is refused.
  std::string chain;
  for (int i = 0; i < 200; ++i)
    chain += "calendar c" + std::to_string(i) + " { include c" + std::to_string(i + 1) + " }\n";
  chain += "calendar c200 { holiday 2026-03-04 }\n";
  CHECK_THAT(build_error(chain, "c0"), Catch::Contains("nest deeper than"));
  CHECK(build_error(chain, "c150") == "(no error)");
}

TEST_CASE("calendar: weekdays() counts Monday to Friday like the language's default", "[calendar]") {
  const auto cal = WorkCalendar::weekdays();
  CHECK(cal.name() == "weekdays");
  CHECK(cal.working_minutes_per_day() == 420);
  CHECK(cal.is_working_day(day(2026, 2, 16)));  // a Spring Festival Monday is just a Monday
  CHECK_FALSE(cal.is_working_day(day(2026, 2, 14)));
  CHECK(cal.workdays_between(day(2025, 12, 31), day(2026, 12, 31)) == 261);
  CHECK(iso(cal.due_day_for_limit(day(2026, 2, 12), whole(5))) == "2026-02-19");
  CHECK(iso(cal.next_working_day(day(2026, 3, 6))) == "2026-03-09");
  // Around and before 1970-01-01 (a Thursday): Mon 12-29, 12-30, 12-31, Thu 1, Fri 2, Mon 5.
  CHECK(cal.workdays_between(day(1969, 12, 26), day(1970, 1, 5)) == 6);
  CHECK(cal.is_working_day(day(1969, 12, 31)));
  CHECK(stamp(cal.add_working_time(at(1969, 12, 31, 16, 0), whole(1))) == "1970-01-01 16:00");
  CHECK(cal.working_minutes_between(at(1969, 12, 31, 16, 0), at(1970, 1, 1, 16, 0)) == 420);

  // The language's own count (no calendar in the environment) and weekdays() agree, and a
  // WorkCalendar plugs into expressions as their WorkdayCounter.
  dsl::Scope scope;
  scope.add_variable("a", dsl::ValueType::of(dsl::BaseType::date));
  scope.add_variable("b", dsl::ValueType::of(dsl::BaseType::date));
  dsl::DiagnosticSink sink("calendar");
  const auto parsed = dsl::parse_expression("workdays_between(a, b)");
  REQUIRE(parsed.ok());
  const auto expression = dsl::compile_expression(parsed.expr, scope, sink);
  REQUIRE(expression.has_value());
  for (auto a = day(2026, 2, 1); a < day(2026, 2, 15); ++a) {
    for (auto b = a - 20; b < a + 20; ++b) {
      const std::vector<dsl::Value> slots{dsl::Value::of_date(a), dsl::Value::of_date(b)};
      const auto by_default = expression->evaluate({slots, a, nullptr});
      const auto by_weekdays = expression->evaluate({slots, a, &cal});
      REQUIRE(by_default.kind == dsl::ValueKind::integer);
      CHECK(by_default.integer == by_weekdays.integer);
    }
  }
  const std::vector<dsl::Value> festival{dsl::Value::of_date(day(2026, 2, 12)),
                                         dsl::Value::of_date(day(2026, 2, 26))};
  CHECK(expression->evaluate({festival, 0, &mainland()}).integer == 5);
}

TEST_CASE("calendar: agrees with counting day by day and minute by minute", "[calendar]") {
  const auto& cal = mainland();
  const auto first = day(2024, 12, 1), last = day(2027, 1, 31);
  // Day queries against a walk over the days.
  for (auto from = first; from <= last; ++from) {
    auto next = from + 1;
    while (!cal.is_working_day(next)) ++next;
    REQUIRE(cal.next_working_day(from) == next);
    auto due = from;
    for (int n = 1; n <= 25; ++n) {
      due = cal.next_working_day(due);
      REQUIRE(cal.due_day_for_limit(from, whole(n)) == due);
      REQUIRE(cal.workdays_between(from, due) == n);
    }
  }
  std::int64_t running = 0;
  for (auto d = first + 1; d <= last; ++d) {
    running += cal.is_working_day(d);
    REQUIRE(cal.workdays_between(first, d) == running);
  }
  // Minute queries against a minute-by-minute walk over a fortnight around the festival.
  const Minutes begin = at(2026, 2, 9, 0, 0), end = at(2026, 3, 2, 0, 0);
  std::vector<Minutes> elapsed;  // working minutes in [begin, t)
  elapsed.push_back(0);
  for (Minutes t = begin; t < end; ++t) elapsed.push_back(elapsed.back() + cal.is_working_time(t));
  for (Minutes a = begin; a < end; a += 97) {
    for (Minutes b = a; b <= end; b += 1013) {
      REQUIRE(cal.working_minutes_between(a, b) == elapsed[b - begin] - elapsed[a - begin]);
    }
  }
}

TEST_CASE("calendar: long limits take microseconds", "[calendar]") {
  const auto& cal = mainland();
  const auto start = std::chrono::steady_clock::now();
  std::int64_t checksum = 0;
  for (int i = 0; i < 10'000; ++i) {
    const auto accepted = day(2025, 1, 1) + i % 500;
    checksum += cal.due_day_for_limit(accepted, whole(200));
    checksum += cal.add_working_time(engine::at_time(accepted, 10, 17), whole(200));
    checksum += cal.workdays_between(accepted, accepted + 400);
  }
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(checksum != 0);
  CHECK(seconds < 1.0);  // typically a few milliseconds; loose for a shared, sanitized build
  // Spot check of a 200-workday limit: from 2026-01-05 it spans the festival and 10-01.
  const auto due = cal.due_day_for_limit(day(2026, 1, 5), whole(200));
  CHECK(cal.workdays_between(day(2026, 1, 5), due) == 200);
  CHECK(cal.is_working_day(due));
  CHECK(cal.workdays_between(day(2026, 1, 5), due - 1) == 199);
  // Absurd amounts are clamped, not looped over.
  const auto far = cal.due_day_for_limit(day(2026, 1, 5), amount("99999999999"));
  CHECK(cal.workdays_between(day(2026, 1, 5), far) == engine::kMaxLimitDays);
  CHECK(cal.due_day_for_limit(day(2026, 1, 5), amount("-3")) == day(2026, 1, 5));
}
