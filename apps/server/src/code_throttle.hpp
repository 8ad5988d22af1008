// Private to the server: how often one-time SMS codes may be asked for and tried on the
// applicant channel (docs/applicant.md, "Logging in").
//
// Sending: one code per number per `resend_after`, at most `sends_per_number` per hour for a
// number and `sends_per_address` per hour from one address (someone flooding many numbers).
// Trying: at most `failures_per_address` wrong codes per hour from one address, whatever the
// numbers (the store further allows a few tries per code). Counts are per hour, sliding; the
// answer for a number that never logged in is the same as for one that did.
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <onevisit/engine/store.hpp>

#include <deque>
#include <map>
#include <mutex>
#include <string>

namespace onevisit::server {

using engine::Timestamp;

struct CodeThrottleOptions {
  Timestamp resend_after = 60'000;
  int sends_per_number = 5;
  int sends_per_address = 20;
  int failures_per_address = 30;
};

class CodeThrottle {
 public:
  explicit CodeThrottle(CodeThrottleOptions options) : options_(options) {}

  /// 0 when a code may be sent now (the send is counted), else the milliseconds to wait.
  Timestamp reserve_send(const std::string& phone, const std::string& address, Timestamp now);
  /// 0 when a code may be tried from this address now, else the milliseconds to wait.
  Timestamp may_try(const std::string& address, Timestamp now);
  /// A wrong or expired code was typed from this address.
  void failed(const std::string& address, Timestamp now);

 private:
  using Times = std::deque<Timestamp>;
  /// The wait before one more event fits `limit` per hour in `times` (0: it fits).
  static Timestamp wait(Times& times, int limit, Timestamp now);
  /// Drops counters with nothing in the last hour, once a map holds kSweepAt of them.
  void forget_old(Timestamp now);
  static constexpr std::size_t kSweepAt = 10'000;

  const CodeThrottleOptions options_;
  std::mutex mutex_;
  std::map<std::string, Times> sends_by_number_, sends_by_address_, failures_by_address_;
};

}  // namespace onevisit::server
