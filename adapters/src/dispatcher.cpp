#include <onevisit/adapters/adapter.hpp>

#include <onevisit/dsl/identifiers.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace onevisit::adapters {

std::string mask_identifiers(std::string_view text) {
  std::string out(text);
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  std::size_t i = 0;
  while (i < out.size()) {
    if (!is_digit(out[i]) || (i > 0 && is_digit(out[i - 1]))) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < out.size() && is_digit(out[j])) ++j;
    const std::size_t digits = j - i;
    std::size_t end = j;
    bool mask = false;
    if (digits == 17 && j < out.size() && (out[j] == 'X' || out[j] == 'x')) {
      end = j + 1;
      mask = dsl::valid_idcard(std::string_view(out).substr(i, 18));
    } else if (digits == 18) {
      mask = dsl::valid_idcard(std::string_view(out).substr(i, 18));
    } else if (digits == 11) {
      mask = dsl::valid_mobile_phone(std::string_view(out).substr(i, 11));
    }
    if (mask) {
      const std::string masked = end - i == 11 ? dsl::mask_phone(std::string_view(out).substr(i, 11))
                                               : dsl::mask_idcard(std::string_view(out).substr(i, 18));
      out.replace(i, end - i, masked);
    }
    i = end;
  }
  return out;
}

AdapterResult LogAdapter::submit(const AdapterCall& call) {
  spdlog::info("adapter call {} {} {}.{} attempt {}: {}", call.idempotency_key, call.case_id, call.department, call.operation,
               call.attempt, mask_identifiers(call.payload));
  return {AdapterResult::Status::delivered, "logged"};
}

Dispatcher::Dispatcher(engine::Store& store, const AdapterRegistry& registry, DispatchOptions options)
    : store_(store), registry_(registry), options_(options), random_(options.seed ? options.seed : std::random_device{}()) {}

std::chrono::milliseconds Dispatcher::backoff(int attempt) {
  const int exponent = std::clamp(attempt - 1, 0, 30);
  const auto base = std::min<std::int64_t>(options_.max_backoff.count(), options_.first_backoff.count() << exponent);
  std::uniform_int_distribution<std::int64_t> jitter(base / 2, std::max<std::int64_t>(base / 2, base));
  return std::chrono::milliseconds(jitter(random_));
}

std::expected<DispatchReport, engine::StoreError> Dispatcher::drain_once(engine::Timestamp now) {
  DispatchReport report;
  auto pending = store_.pending_outbox(now, options_.batch);
  if (!pending) return std::unexpected(pending.error());
  for (auto& record : *pending) {
    const int attempt = record.attempts + 1;
    AdapterResult result;
    if (Adapter* adapter = registry_.find(record.adapter)) {
      result = adapter->submit(AdapterCall{record.idempotency_key, record.case_id, record.department, record.adapter, record.operation,
                                           record.payload, attempt});
    } else {
      result = {AdapterResult::Status::rejected, "no adapter is configured for system '" + record.adapter + "'"};
    }
    record.attempts = attempt;
    record.last_error = result.status == AdapterResult::Status::delivered ? "" : result.message;
    if (result.status == AdapterResult::Status::delivered) {
      record.status = "delivered";
      ++report.delivered;
    } else if (result.status == AdapterResult::Status::retry && attempt < options_.max_attempts) {
      record.next_attempt_at = now + backoff(attempt).count();
      ++report.retried;
    } else {
      record.status = "parked";
      ++report.parked;
      spdlog::warn("adapter call {} parked after {} attempt(s): {}", record.idempotency_key, attempt, mask_identifiers(result.message));
    }
    if (auto updated = store_.update_outbox(record); !updated) return std::unexpected(updated.error());
  }
  return report;
}

}  // namespace onevisit::adapters
