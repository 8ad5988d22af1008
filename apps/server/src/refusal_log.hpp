// Private to the server: refusals of requests without authentication (no or unknown
// credentials, failed or throttled logins), counted per remote address and minute and
// written to the audit trail as one record each: the count, the first and the last action
// and when they came. A client hammering the service without credentials thus adds at most
// one record a minute to the append-only audit table, however fast it sends. Denials of
// authenticated users are not counted here; they stay one record each.
//
// A minute's record is written once the minute has ended (flush_ended, called on every
// request and by the service's timer thread) or at shutdown (flush_all).
//
// Thread safety: every member may be called from any thread.
#pragma once

#include "accounts.hpp"

#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace onevisit::server {

class RefusalLog {
 public:
  explicit RefusalLog(AccountStore& accounts) : accounts_(accounts) {}
  ~RefusalLog() { flush_all(); }
  RefusalLog(const RefusalLog&) = delete;
  RefusalLog& operator=(const RefusalLog&) = delete;

  /// Counts one refusal, described as its own audit record would be (masked already).
  void add(const AuditRecord& refusal);
  /// Writes the records of every minute that ended before `now`.
  void flush_ended(Timestamp now);
  /// Writes every record, the current minute's too.
  void flush_all();

 private:
  struct Tally {
    AuditRecord record;                  ///< the first refusal, with count, last_at, last_action
    std::map<std::string, int> outcomes;  ///< outcome -> count
    std::map<std::string, int> users;     ///< user names tried at login (a few)
  };
  using Key = std::pair<Timestamp, std::string>;  ///< minute, remote address

  void write(std::map<Key, Tally> ready);

  AccountStore& accounts_;
  std::mutex mutex_;
  std::map<Key, Tally> tallies_;  ///< ordered by minute first: the ended ones lead
};

}  // namespace onevisit::server
