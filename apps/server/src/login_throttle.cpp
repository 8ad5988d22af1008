#include "login_throttle.hpp"

#include <algorithm>
#include <vector>

namespace onevisit::server {

namespace {

constexpr std::size_t kMaxKnownAddressesPerUser = 20;
// A user name is at most 64 bytes; longer ones name nobody and share one counter per prefix.
constexpr std::size_t kMaxUserKey = 64;

}  // namespace

Timestamp LoginThrottle::wait(const AccountStore::LoginCounter& counter, int free, Timestamp now) const {
  if (counter.failures < free) return 0;
  const int doublings = std::min(counter.failures - free, 40);
  const Timestamp delay = options_.first_delay > (options_.max_delay >> doublings) ? options_.max_delay
                                                                                   : std::min(options_.max_delay, options_.first_delay << doublings);
  return std::max<Timestamp>(0, counter.last + delay - now);
}

std::vector<std::string> LoginThrottle::keys(const Attempt& attempt) {
  // Kinds in the keys keep the three counters apart (an address is no user name).
  std::vector<std::string> keys{"pair\n" + attempt.user + '\n' + attempt.address, "address\n" + attempt.address};
  if (attempt.counted_for_user) keys.push_back("user\n" + attempt.user);
  return keys;
}

std::expected<LoginThrottle::Reservation, AccountError> LoginThrottle::reserve(std::string_view user_name, const std::string& address,
                                                                               Timestamp now) {
  Attempt attempt{std::string(user_name.substr(0, kMaxUserKey)), address, false};
  auto seen = accounts_.login_address_seen(attempt.user, address);
  if (!seen) return std::unexpected(seen.error());
  attempt.counted_for_user = !(*seen > 0 && now - *seen < options_.known_address_for);
  const int free[] = {options_.free_per_pair, options_.free_per_address, options_.free_per_user};
  auto waited = accounts_.change_login_counters(keys(attempt), now - options_.forget_after, [&](std::vector<AccountStore::LoginCounter>& counters) {
    Timestamp longest = 0;
    for (std::size_t i = 0; i < counters.size(); ++i) longest = std::max(longest, wait(counters[i], free[i], now));
    if (longest > 0) return longest;
    // Counted as failed until it succeeds: a parallel attempt, on any node, sees it already.
    for (auto& counter : counters) {
      ++counter.failures;
      counter.last = now;
    }
    return Timestamp{0};
  });
  if (!waited) return std::unexpected(waited.error());
  if (*waited > 0) return Reservation{std::nullopt, *waited};
  return Reservation{std::move(attempt), 0};
}

std::expected<void, AccountError> LoginThrottle::failed(const Attempt& attempt, Timestamp now) {
  // The failure was counted when reserved; the wait runs from when it was known to fail.
  auto changed = accounts_.change_login_counters(keys(attempt), now - options_.forget_after, [&](std::vector<AccountStore::LoginCounter>& counters) {
    for (auto& counter : counters) {
      if (counter.failures > 0) counter.last = std::max(counter.last, now);
    }
    return Timestamp{0};
  });
  if (!changed) return std::unexpected(changed.error());
  return {};
}

std::expected<void, AccountError> LoginThrottle::succeeded(const Attempt& attempt, Timestamp now) {
  auto changed = accounts_.change_login_counters(keys(attempt), now - options_.forget_after, [&](std::vector<AccountStore::LoginCounter>& counters) {
    counters[0] = {};  // the pair starts over
    // The address and the account keep the failures of others; only this attempt was no failure.
    for (std::size_t i = 1; i < counters.size(); ++i) counters[i].failures = std::max(0, counters[i].failures - 1);
    return Timestamp{0};
  });
  if (!changed) return std::unexpected(changed.error());
  return accounts_.remember_login_address(attempt.user, attempt.address, now, kMaxKnownAddressesPerUser, now - options_.known_address_for);
}

std::expected<void, AccountError> LoginThrottle::released(const Attempt& attempt, Timestamp now) {
  auto changed = accounts_.change_login_counters(keys(attempt), now - options_.forget_after, [&](std::vector<AccountStore::LoginCounter>& counters) {
    for (auto& counter : counters) counter.failures = std::max(0, counter.failures - 1);
    return Timestamp{0};
  });
  if (!changed) return std::unexpected(changed.error());
  return {};
}

}  // namespace onevisit::server
