// Private to the server: what a background task of the service (the deploy check, once a
// second) logs while its database is out of reach: one line when the failures start, with the
// first error, and one line when an attempt succeeds again, with how long the outage lasted,
// instead of a line per failed attempt. A failover or a restart of PostgreSQL thus leaves two
// lines, however long it takes.
//
// Thread safety: one thread at a time (each task has its own OutageLog).
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace onevisit::server {

class OutageLog {
 public:
  using Clock = std::chrono::steady_clock;

  /// `task` names the task in each line ("deploys: looking for new versions"); null
  /// `logger`: spdlog's default logger.
  explicit OutageLog(std::string task, std::shared_ptr<spdlog::logger> logger = nullptr);

  /// An attempt failed at `now` with `error` (masked already): logged when it is the first
  /// failure since the last success.
  void failed(Clock::time_point now, const std::string& error);
  /// An attempt succeeded at `now`: ends an outage, logging how long it lasted.
  void succeeded(Clock::time_point now);
  /// Whether the last attempt failed.
  bool in_outage() const { return since_.has_value(); }

 private:
  std::string task_;
  std::shared_ptr<spdlog::logger> logger_;
  std::optional<Clock::time_point> since_;  // the first failure of the current outage
  std::uint64_t failures_ = 0;              // failed attempts in the current outage
};

}  // namespace onevisit::server
