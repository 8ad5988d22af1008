// Private to the server: how often one-time SMS codes may be asked for and tried on the
// applicant channel (docs/applicant.md, "Logging in").
//
// Sending: one code per number per `resend_after`, at most `sends_per_number` per hour for a
// number and `sends_per_address` per hour from one address (someone flooding many numbers).
// Trying: at most `failures_per_address` wrong codes per hour from one address, whatever the
// numbers (the store further allows a few tries per code). Counts are per hour, sliding; the
// answer for a number that never logged in is the same as for one that did.
//
// The counts live in the account tables (AccountStore::reserve_code_send), so that every node
// sharing a database counts the same sends and failures: an applicant who asks each node of a
// cluster in turn gets no more codes than from one.
//
// Thread safety: every member may be called from any thread.
#pragma once

#include "accounts.hpp"

#include <onevisit/engine/store.hpp>

#include <expected>
#include <string>

namespace onevisit::server {

using engine::Timestamp;

struct CodeThrottleOptions {
  Timestamp resend_after = 60'000;
  int sends_per_number = 5;
  int sends_per_address = 20;
  int failures_per_address = 30;
  /// The kiosk's login nonces (docs/applicant.md, "The kiosk"): at most this many per
  /// `nonce_window` for one kiosk (a card read needs one) and from one address (a hall's
  /// kiosks may share one), so that nobody fills the nonce table or wears out a kiosk.
  Timestamp nonce_window = 60'000;
  int nonces_per_kiosk = 10;
  int nonces_per_address = 30;
};

class CodeThrottle {
 public:
  CodeThrottle(CodeThrottleOptions options, AccountStore& accounts) : options_(options), accounts_(accounts) {}

  /// 0 when a code may be sent now (the send is counted), else the milliseconds to wait.
  std::expected<Timestamp, AccountError> reserve_send(const std::string& phone, const std::string& address, Timestamp now);
  /// 0 when a code may be tried from this address now, else the milliseconds to wait.
  std::expected<Timestamp, AccountError> may_try(const std::string& address, Timestamp now);
  /// 0 when a nonce may be handed to `kiosk`, asked from `address`, now (it is counted), else
  /// the milliseconds to wait.
  std::expected<Timestamp, AccountError> reserve_nonce(const std::string& kiosk, const std::string& address, Timestamp now);
  /// A wrong or expired code was typed from this address.
  std::expected<void, AccountError> failed(const std::string& address, Timestamp now);

 private:
  /// The wait before one more event fits `limit` per hour in `times` (0: it fits).
  static Timestamp wait(const AccountStore::CodeEventTimes& times, int limit, Timestamp now,
                        Timestamp window = AccountStore::kCodeEventWindow);

  const CodeThrottleOptions options_;
  AccountStore& accounts_;
};

}  // namespace onevisit::server
