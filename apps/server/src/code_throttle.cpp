#include "code_throttle.hpp"

#include <algorithm>

namespace onevisit::server {

Timestamp CodeThrottle::wait(const AccountStore::CodeEventTimes& times, int limit, Timestamp now, Timestamp window) {
  // `times` are the window's, oldest first: the one `limit` back from the end must leave it.
  if (static_cast<int>(times.size()) < limit) return 0;
  return times[times.size() - static_cast<std::size_t>(limit)] + window - now;
}

std::expected<Timestamp, AccountError> CodeThrottle::reserve_nonce(const std::string& kiosk, const std::string& address, Timestamp now) {
  return accounts_.reserve_kiosk_nonce(kiosk, address, options_.nonce_window, now, [&](const AccountStore::CodeEventTimes& by_kiosk,
                                                                                         const AccountStore::CodeEventTimes& by_address) {
    return std::max<Timestamp>({wait(by_kiosk, options_.nonces_per_kiosk, now, options_.nonce_window),
                                wait(by_address, options_.nonces_per_address, now, options_.nonce_window), 0});
  });
}

std::expected<Timestamp, AccountError> CodeThrottle::reserve_send(const std::string& phone, const std::string& address, Timestamp now) {
  return accounts_.reserve_code_send(phone, address, now, [&](const AccountStore::CodeEventTimes& by_number,
                                                              const AccountStore::CodeEventTimes& by_address) {
    Timestamp longest = std::max(wait(by_number, options_.sends_per_number, now), wait(by_address, options_.sends_per_address, now));
    if (!by_number.empty()) longest = std::max(longest, by_number.back() + options_.resend_after - now);
    return std::max<Timestamp>(longest, 0);
  });
}

std::expected<Timestamp, AccountError> CodeThrottle::may_try(const std::string& address, Timestamp now) {
  auto failures = accounts_.code_failures(address, now);
  if (!failures) return std::unexpected(failures.error());
  return wait(*failures, options_.failures_per_address, now);
}

std::expected<void, AccountError> CodeThrottle::failed(const std::string& address, Timestamp now) {
  return accounts_.record_code_failure(address, now);
}

}  // namespace onevisit::server
