#include "code_throttle.hpp"

#include <algorithm>

namespace onevisit::server {

namespace {
constexpr Timestamp kHour = 3600'000;
}

Timestamp CodeThrottle::wait(Times& times, int limit, Timestamp now) {
  while (!times.empty() && times.front() <= now - kHour) times.pop_front();
  if (static_cast<int>(times.size()) < limit) return 0;
  return times.front() + kHour - now;
}

void CodeThrottle::forget_old(Timestamp now) {
  // Counters whose last event is over an hour old count nothing: dropped, so that a flood of
  // numbers or addresses does not grow the maps without end. Swept once they are large.
  for (auto* counters : {&sends_by_number_, &sends_by_address_, &failures_by_address_}) {
    if (counters->size() < kSweepAt) continue;
    std::erase_if(*counters, [&](const auto& entry) { return entry.second.empty() || entry.second.back() <= now - kHour; });
  }
}

Timestamp CodeThrottle::reserve_send(const std::string& phone, const std::string& address, Timestamp now) {
  std::lock_guard lock(mutex_);
  forget_old(now);
  auto& by_number = sends_by_number_[phone];
  auto& by_address = sends_by_address_[address];
  Timestamp longest = std::max(wait(by_number, options_.sends_per_number, now), wait(by_address, options_.sends_per_address, now));
  if (!by_number.empty()) longest = std::max(longest, by_number.back() + options_.resend_after - now);
  if (longest > 0) return longest;
  by_number.push_back(now);
  by_address.push_back(now);
  return 0;
}

Timestamp CodeThrottle::may_try(const std::string& address, Timestamp now) {
  std::lock_guard lock(mutex_);
  return wait(failures_by_address_[address], options_.failures_per_address, now);
}

void CodeThrottle::failed(const std::string& address, Timestamp now) {
  std::lock_guard lock(mutex_);
  forget_old(now);
  failures_by_address_[address].push_back(now);
}

}  // namespace onevisit::server
