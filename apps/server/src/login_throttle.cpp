#include "login_throttle.hpp"

#include <algorithm>
#include <vector>

namespace onevisit::server {

namespace {

// Guessed user names must not grow the counters without bound.
constexpr std::size_t kMaxCounters = 50'000;
constexpr std::size_t kMaxKnownAddressesPerUser = 20;
// A user name is at most 64 bytes; longer ones name nobody and share one counter per prefix.
constexpr std::size_t kMaxUserKey = 64;

std::string pair_key(const std::string& user, const std::string& address) { return user + '\n' + address; }

}  // namespace

Timestamp LoginThrottle::wait(Counter& counter, int free, Timestamp now) const {
  if (counter.failures > 0 && now - counter.last >= options_.forget_after) counter = {};
  if (counter.failures < free) return 0;
  const int doublings = std::min(counter.failures - free, 40);
  const Timestamp delay = options_.first_delay > (options_.max_delay >> doublings) ? options_.max_delay
                                                                                   : std::min(options_.max_delay, options_.first_delay << doublings);
  return std::max<Timestamp>(0, counter.last + delay - now);
}

bool LoginThrottle::known(const std::string& user, const std::string& address, Timestamp now) const {
  const auto it = known_.find(user);
  if (it == known_.end()) return false;
  const auto at = it->second.find(address);
  return at != it->second.end() && now - at->second < options_.known_address_for;
}

void LoginThrottle::trim(Counters& counters, Timestamp now) {
  if (counters.size() < kMaxCounters) return;
  std::erase_if(counters, [&](const auto& entry) { return entry.second.failures == 0 || now - entry.second.last >= options_.forget_after; });
  if (counters.size() < kMaxCounters) return;
  // Still full within the hour (a flood of made-up names): the older half goes.
  std::vector<Timestamp> lasts;
  lasts.reserve(counters.size());
  for (const auto& [key, counter] : counters) lasts.push_back(counter.last);
  auto middle = lasts.begin() + static_cast<std::ptrdiff_t>(lasts.size() / 2);
  std::nth_element(lasts.begin(), middle, lasts.end());
  std::erase_if(counters, [&](const auto& entry) { return entry.second.last < *middle; });
}

void LoginThrottle::uncount(Counters& counters, const std::string& key) {
  const auto it = counters.find(key);
  if (it != counters.end() && it->second.failures > 0) --it->second.failures;
}

std::expected<LoginThrottle::Attempt, Timestamp> LoginThrottle::reserve(std::string_view user_name, const std::string& address,
                                                                        Timestamp now) {
  Attempt attempt{std::string(user_name.substr(0, kMaxUserKey)), address, false};
  std::lock_guard lock(mutex_);
  for (auto* counters : {&by_pair_, &by_address_, &by_user_}) trim(*counters, now);
  attempt.counted_for_user = !known(attempt.user, address, now);
  auto& pair = by_pair_[pair_key(attempt.user, address)];
  auto& from = by_address_[address];
  Timestamp longest = std::max(wait(pair, options_.free_per_pair, now), wait(from, options_.free_per_address, now));
  Counter* user = nullptr;
  if (attempt.counted_for_user) {
    user = &by_user_[attempt.user];
    longest = std::max(longest, wait(*user, options_.free_per_user, now));
  }
  if (longest > 0) return std::unexpected(longest);
  // Counted as failed until it succeeds: a parallel attempt sees it already.
  for (Counter* counter : {&pair, &from, user}) {
    if (counter == nullptr) continue;
    ++counter->failures;
    counter->last = now;
  }
  return attempt;
}

void LoginThrottle::failed(const Attempt& attempt, Timestamp now) {
  std::lock_guard lock(mutex_);
  // The failure was counted when reserved; the wait runs from when it was known to fail.
  for (auto [counters, key] : {std::pair{&by_pair_, pair_key(attempt.user, attempt.address)}, std::pair{&by_address_, attempt.address},
                               std::pair{attempt.counted_for_user ? &by_user_ : nullptr, attempt.user}}) {
    if (counters == nullptr) continue;
    if (const auto it = counters->find(key); it != counters->end()) it->second.last = std::max(it->second.last, now);
  }
}

void LoginThrottle::succeeded(const Attempt& attempt, Timestamp now) {
  std::lock_guard lock(mutex_);
  by_pair_.erase(pair_key(attempt.user, attempt.address));
  // The address and the account keep the failures of others; only this attempt was no failure.
  uncount(by_address_, attempt.address);
  if (attempt.counted_for_user) uncount(by_user_, attempt.user);
  auto& addresses = known_[attempt.user];
  addresses[attempt.address] = now;
  if (addresses.size() > kMaxKnownAddressesPerUser) {
    addresses.erase(std::min_element(addresses.begin(), addresses.end(), [](const auto& a, const auto& b) { return a.second < b.second; }));
  }
}

void LoginThrottle::released(const Attempt& attempt) {
  std::lock_guard lock(mutex_);
  uncount(by_pair_, pair_key(attempt.user, attempt.address));
  uncount(by_address_, attempt.address);
  if (attempt.counted_for_user) uncount(by_user_, attempt.user);
}

}  // namespace onevisit::server
