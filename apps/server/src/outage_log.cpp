#include "outage_log.hpp"

#include <spdlog/spdlog.h>

#include <utility>

namespace onevisit::server {

OutageLog::OutageLog(std::string task, std::shared_ptr<spdlog::logger> logger)
    : task_(std::move(task)), logger_(logger ? std::move(logger) : spdlog::default_logger()) {}

void OutageLog::failed(Clock::time_point now, const std::string& error) {
  ++failures_;
  if (since_) return;
  since_ = now;
  logger_->error("{} failed: {}; retrying quietly until it works again", task_, error);
}

void OutageLog::succeeded(Clock::time_point now) {
  if (!since_) return;
  const auto lasted = std::chrono::duration_cast<std::chrono::milliseconds>(now - *since_);
  logger_->warn("{} works again after {:.1f} s ({} failed attempts)", task_,
                static_cast<double>(lasted.count()) / 1000.0, failures_);
  since_.reset();
  failures_ = 0;
}

}  // namespace onevisit::server
