// Private to the server: how soon a login may be tried again, by user name and remote
// address (docs/api.md, "Logins").
//
// Failed logins delay the next attempt; they never lock an account. Past a few free
// failures each failure doubles the wait, up to a cap. Three counters, each with its own free
// failures, and an attempt waits for the longest of them:
//  - per user name and address: one person mistyping, or one address guessing one account;
//  - per address: one address guessing many accounts;
//  - per user name over all addresses (guessing from many addresses). It does not apply at an
//    address the user logged in from successfully not long ago (a known address), so that
//    strangers cannot keep a user, the admin included, out of their own desk.
// An attempt is reserved before its password is checked and counts as a failure until it
// succeeds: attempts in parallel cannot pass more than the free failures.
//
// The counters and the known addresses live in the account tables (AccountStore's login
// counters), so that every node sharing a database counts the same failures: a guesser who
// asks each node of a cluster in turn gets no more attempts than from one. A reservation reads
// and writes its counters in one write transaction (PostgreSQL: under an advisory lock).
//
// Thread safety: every member may be called from any thread.
#pragma once

#include "accounts.hpp"

#include <onevisit/engine/store.hpp>

#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onevisit::server {

using engine::Timestamp;

struct LoginThrottleOptions {
  int free_per_pair = 5;      ///< failures of one user name from one address before delays start
  int free_per_address = 20;  ///< failures from one address, whatever the user names
  int free_per_user = 10;     ///< failures of one user name from addresses not known for it
  Timestamp first_delay = 1000;                   ///< after the free failures; doubles with each further failure
  Timestamp max_delay = 15LL * 60 * 1000;         ///< the cap
  Timestamp forget_after = 60LL * 60 * 1000;      ///< a counter without attempts for this long starts over
  Timestamp known_address_for = 30LL * 24 * 3600 * 1000;  ///< an address stays known this long after a login
};

class LoginThrottle {
 public:
  /// A reserved attempt: hand it back with exactly one of failed, succeeded or released.
  struct Attempt {
    std::string user;
    std::string address;
    bool counted_for_user = false;  ///< false at a known address
  };
  /// What reserve found: an attempt, or how many milliseconds (> 0) until one may be made.
  struct Reservation {
    std::optional<Attempt> attempt;
    Timestamp wait = 0;
  };

  LoginThrottle(LoginThrottleOptions options, AccountStore& accounts) : options_(options), accounts_(accounts) {}

  /// Reserves an attempt, or says how long to wait; an error when the tables cannot be read
  /// (nothing is reserved then).
  std::expected<Reservation, AccountError> reserve(std::string_view user, const std::string& address, Timestamp now);
  /// Wrong password, unknown or disabled user: the attempt stays counted.
  std::expected<void, AccountError> failed(const Attempt& attempt, Timestamp now);
  /// The right password: the user's counter at this address starts over, and the address
  /// becomes known for the user.
  std::expected<void, AccountError> succeeded(const Attempt& attempt, Timestamp now);
  /// The password was not checked (no hashing thread was free, the store failed): as if the
  /// attempt had not been made.
  std::expected<void, AccountError> released(const Attempt& attempt, Timestamp now);

 private:
  Timestamp wait(const AccountStore::LoginCounter& counter, int free, Timestamp now) const;
  /// The keys of the attempt's counters: the pair's, the address's and, when counted, the user's.
  static std::vector<std::string> keys(const Attempt& attempt);

  const LoginThrottleOptions options_;
  AccountStore& accounts_;
};

}  // namespace onevisit::server
