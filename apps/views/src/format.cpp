#include <onevisit/views/format.hpp>

#include <onevisit/dsl/identifiers.hpp>
#include <onevisit/engine/calendar.hpp>

#include <cstdio>

namespace onevisit::views {

std::string format_time(engine::Timestamp t) {
  if (t == 0) return "-";
  const auto minutes = t / 60'000;
  const auto d = dsl::civil_from_days(engine::day_of(minutes));
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d %02d:%02d", d.year, d.month, d.day, static_cast<int>((minutes % 1440) / 60),
                static_cast<int>(minutes % 60));
  return buffer;
}

}  // namespace onevisit::views
