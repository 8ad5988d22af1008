#include "refusal_log.hpp"

#include <spdlog/spdlog.h>

namespace onevisit::server {

namespace {

constexpr Timestamp kMinute = 60'000;
// Addresses counted at once, at most; past it the counts are written early (more records,
// bounded memory).
constexpr std::size_t kMaxTallies = 10'000;
constexpr std::size_t kMaxUsersNamed = 5;

}  // namespace

void RefusalLog::add(const AuditRecord& refusal) {
  std::map<Key, Tally> ready;
  {
    std::lock_guard lock(mutex_);
    auto [it, fresh] = tallies_.try_emplace(Key{refusal.at / kMinute, refusal.remote_address});
    Tally& tally = it->second;
    if (fresh) {
      tally.record = refusal;
      tally.record.count = 0;
    }
    ++tally.record.count;
    tally.record.last_at = refusal.at;
    tally.record.last_action = refusal.action;
    ++tally.outcomes[refusal.outcome];
    if (refusal.actor != "-" && (tally.users.size() < kMaxUsersNamed || tally.users.count(refusal.actor))) ++tally.users[refusal.actor];
    if (tallies_.size() > kMaxTallies) ready.swap(tallies_);
  }
  write(std::move(ready));
}

void RefusalLog::flush_ended(Timestamp now) {
  std::map<Key, Tally> ready;
  {
    std::lock_guard lock(mutex_);
    const auto end = tallies_.lower_bound(Key{now / kMinute, std::string()});
    if (end == tallies_.begin()) return;
    ready.insert(std::make_move_iterator(tallies_.begin()), std::make_move_iterator(end));
    tallies_.erase(tallies_.begin(), end);
  }
  write(std::move(ready));
}

void RefusalLog::flush_all() {
  std::map<Key, Tally> ready;
  {
    std::lock_guard lock(mutex_);
    ready.swap(tallies_);
  }
  write(std::move(ready));
}

void RefusalLog::write(std::map<Key, Tally> ready) {
  for (auto& [key, tally] : ready) {
    AuditRecord& record = tally.record;
    record.actor = "-";
    record.role = "";
    std::string detail = std::to_string(record.count) + (record.count == 1 ? " refusal" : " refusals") + " without authentication:";
    const char* separator = " ";
    for (const auto& [outcome, count] : tally.outcomes) {
      detail += separator + std::to_string(count) + " " + outcome;
      separator = ", ";
    }
    if (!tally.users.empty()) {
      detail += "; user names tried:";
      separator = " ";
      for (const auto& [user, count] : tally.users) {
        detail += separator + user + " (" + std::to_string(count) + ")";
        separator = ", ";
      }
    }
    record.detail = std::move(detail);
    if (auto ok = accounts_.append_audit(record); !ok) {
      spdlog::error("audit trail: cannot append ({}): {} from {} between {} and {}: {}", ok.error().message, record.count,
                    record.remote_address, record.at, record.last_at, record.detail);
    }
  }
}

}  // namespace onevisit::server
