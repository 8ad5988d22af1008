#include <onevisit/adapters/adapter.hpp>

#include <onevisit/dsl/personal_numbers.hpp>

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <latch>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

namespace onevisit::adapters {

std::string mask_identifiers(std::string_view text) { return dsl::mask_personal_numbers(text); }

std::expected<std::string, std::string> decode_base64(std::string_view encoded) {
  std::string out(encoded.size() / 4 * 3 + 3, '\0');
  std::size_t length = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), encoded.data(), encoded.size(), " \t\r\n", &length,
                        &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != encoded.data() + encoded.size()) {
    return std::unexpected(std::string("is not valid base64"));
  }
  out.resize(length);
  return out;
}

std::string encode_base64(std::string_view bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::string_view to_string(Receipt::Status status) {
  switch (status) {
    case Receipt::Status::accepted: return "ACCEPTED";
    case Receipt::Status::correction_required: return "CORRECTION_REQUIRED";
    case Receipt::Status::approved: return "APPROVED";
    case Receipt::Status::rejected: return "REJECTED";
  }
  return "ACCEPTED";
}

std::optional<Receipt::Status> receipt_status(std::string_view s) {
  if (s == "ACCEPTED") return Receipt::Status::accepted;
  if (s == "CORRECTION_REQUIRED") return Receipt::Status::correction_required;
  if (s == "APPROVED") return Receipt::Status::approved;
  if (s == "REJECTED") return Receipt::Status::rejected;
  return std::nullopt;
}

std::optional<std::string> check_receipt_reason(const Receipt& receipt, std::string_view reason_field) {
  if ((receipt.status == Receipt::Status::rejected || receipt.status == Receipt::Status::correction_required) &&
      receipt.reason.empty()) {
    return "a " + std::string(to_string(receipt.status)) + " result needs a " + std::string(reason_field);
  }
  return std::nullopt;
}

std::expected<Receipt::Document, std::string> receipt_document(std::string material, std::string elicense_id,
                                                               std::string file_name,
                                                               std::string_view content_base64) {
  if (material.empty()) return std::unexpected(std::string("a document needs a material"));
  Receipt::Document document{std::move(material), std::move(elicense_id), std::move(file_name), {}};
  if (!content_base64.empty()) {
    auto bytes = decode_base64(content_base64);
    if (!bytes) return std::unexpected("document " + document.material + ": its content " + bytes.error());
    document.content = std::move(*bytes);
  }
  if (document.content.empty() && document.elicense_id.empty()) {
    return std::unexpected("document " + document.material + " has neither content nor an e-license id");
  }
  return document;
}

AdapterResult LogAdapter::submit(const AdapterCall& call) {
  spdlog::info("adapter call {} {} {}.{} attempt {}: {}", mask_identifiers(call.idempotency_key),
               mask_identifiers(call.case_id), call.department, call.operation, call.attempt,
               mask_identifiers(call.payload));
  return {AdapterResult::Status::delivered, "logged"};
}

Dispatcher::Dispatcher(engine::Store& store, const AdapterRegistry& registry, DispatchOptions options)
    : store_(store),
      registry_(registry),
      options_(options),
      random_(options.seed ? options.seed : std::random_device{}()),
      pool_(std::make_unique<boost::asio::thread_pool>(std::max<std::size_t>(1, options.workers))) {}

Dispatcher::~Dispatcher() { pool_->join(); }

std::chrono::milliseconds Dispatcher::backoff(int attempt) {
  std::lock_guard lock(mutex_);
  return backoff_locked(attempt);
}

std::chrono::milliseconds Dispatcher::backoff_locked(int attempt) {
  const int exponent = std::clamp(attempt - 1, 0, 30);
  const auto base = std::min<std::int64_t>(options_.max_backoff.count(), options_.first_backoff.count() << exponent);
  std::uniform_int_distribution<std::int64_t> jitter(base / 2, std::max<std::int64_t>(base / 2, base));
  return std::chrono::milliseconds(jitter(random_));
}

bool Dispatcher::circuit_open(const std::string& department, engine::Timestamp now) const {
  std::lock_guard lock(mutex_);
  const auto it = breakers_.find(department);
  return it != breakers_.end() && it->second.open_until > now;
}

void Dispatcher::deliver(engine::OutboxRecord& record, engine::Timestamp now, DispatchReport& report,
                         std::vector<engine::OutboxRecord>& updates) {
  // The breaker: an open circuit holds the call back without counting an attempt; once the
  // cool-down is over, one probe goes through while the others wait for its verdict. The
  // call's new state joins the round's updates (guarded by mutex_), written in one commit.
  // It guards a department's own system: notices (the engine's `notify` system, the SMS
  // gateway) carry the item's department but neither wait for its circuit nor reset it.
  const bool notice = record.adapter == "notify";
  if (!notice) {
    std::lock_guard lock(mutex_);
    Breaker& breaker = breakers_[record.department];
    const bool tripped = breaker.failures >= options_.breaker_threshold;
    if (breaker.open_until > now || (tripped && breaker.probing)) {
      ++report.deferred;
      record.next_attempt_at = std::max(breaker.open_until, now + options_.first_backoff.count());
      updates.push_back(record);
      return;
    }
    if (tripped) breaker.probing = true;
  }

  const int attempt = record.attempts + 1;
  AdapterResult result;
  if (Adapter* adapter = registry_.find(record.adapter)) {
    try {
      result = adapter->submit(AdapterCall{record.idempotency_key, record.case_id, record.department, record.adapter,
                                           record.operation, record.payload, attempt, record.last_error == kAwaitingAnswer});
    } catch (const std::exception& e) {
      // An adapter (a plugin, say) must not take the dispatcher down with it.
      spdlog::warn("adapter call {}: the adapter failed: {}", mask_identifiers(record.idempotency_key), mask_identifiers(e.what()));
      result = {AdapterResult::Status::retry, "部门系统接口程序出错，将自动重试（adapter_failed）", std::nullopt};
    }
  } else {
    // What a parked call says is read by a clerk (the case page): Chinese, what to do, the
    // code kept for programs; the English detail goes to the log.
    spdlog::warn("adapter call {}: no adapter is configured for system '{}'", mask_identifiers(record.idempotency_key), record.adapter);
    result = {AdapterResult::Status::rejected,
              "未配置部门系统「" + record.adapter + "」的接口：请管理员在部署配置中配置，或人工办结（no_adapter）", std::nullopt};
  }
  // The department's answer is applied before the call counts as delivered.
  bool applied_result = false;
  if (result.status == AdapterResult::Status::delivered && result.receipt) {
    if (!result.receipt->request_id.empty() && result.receipt->request_id != record.idempotency_key) {
      spdlog::warn("adapter call {}: the answer is for request '{}', not this call", mask_identifiers(record.idempotency_key),
                   mask_identifiers(result.receipt->request_id));
      result = {AdapterResult::Status::rejected, "部门系统的答复不是对这次调用的答复，未予办理（answer_for_other_request）", std::nullopt};
    } else if (!result.receipt->case_id.empty() && result.receipt->case_id != record.case_id) {
      spdlog::warn("adapter call {}: the answer is for case '{}', not this call's", mask_identifiers(record.idempotency_key),
                   mask_identifiers(result.receipt->case_id));
      result = {AdapterResult::Status::rejected, "部门系统的答复属于另一个办件，未予办理（answer_for_other_case）", std::nullopt};
    } else if (result_handler_) {
      if (result.receipt->request_id.empty()) result.receipt->request_id = record.idempotency_key;
      if (result.receipt->case_id.empty()) result.receipt->case_id = record.case_id;
      if (auto handled = result_handler_(*result.receipt, ReceiptSender{record.adapter, record.department}); !handled) {
        spdlog::warn("adapter call {}: the department's answer cannot be applied: {}{}", mask_identifiers(record.idempotency_key),
                     mask_identifiers(handled.error().message),
                     handled.error().detail.empty() ? std::string() : " (" + mask_identifiers(handled.error().detail) + ")");
        // A Chinese refusal (the engine's, by titles) is worth reading; an English one is the log's.
        const auto& why = handled.error().message;
        const bool chinese = std::any_of(why.begin(), why.end(), [](char c) { return static_cast<unsigned char>(c) >= 0xE4 && static_cast<unsigned char>(c) <= 0xE9; });
        result = {handled.error().permanent ? AdapterResult::Status::rejected : AdapterResult::Status::retry,
                  "部门系统的答复无法办理" + (chinese ? "：" + why : std::string()) + "（receipt_refused）", std::nullopt};
      } else {
        applied_result = true;
      }
    } else {
      spdlog::info("adapter call {}: answer {} not applied (no result handler)",
                   mask_identifiers(record.idempotency_key), to_string(result.receipt->status));
    }
  }

  std::lock_guard lock(mutex_);
  if (!notice) {
    Breaker& breaker = breakers_[record.department];
    breaker.probing = false;
    if (result.status == AdapterResult::Status::retry) {
      if (++breaker.failures >= options_.breaker_threshold) {
        breaker.open_until = now + options_.breaker_cooldown.count();
        spdlog::warn("department {}: circuit open for {} ms after {} failures in a row ({})", record.department,
                     options_.breaker_cooldown.count(), breaker.failures, mask_identifiers(result.message));
      }
    } else {
      breaker.failures = 0;
      breaker.open_until = 0;
    }
  }

  if (result.status == AdapterResult::Status::awaiting) {
    // The department has it; asking for the answer spends no attempt.
    record.last_error = std::string(kAwaitingAnswer);
    record.next_attempt_at = now + options_.poll_interval.count();
    ++report.awaiting;
    updates.push_back(record);
    return;
  }
  record.attempts = attempt;
  record.last_error = result.status == AdapterResult::Status::delivered ? "" : result.message;
  if (result.status == AdapterResult::Status::delivered) {
    record.status = "delivered";
    ++report.delivered;
    if (applied_result) ++report.results;
  } else if (result.status == AdapterResult::Status::retry && attempt < options_.max_attempts) {
    record.next_attempt_at = now + backoff_locked(attempt).count();
    ++report.retried;
  } else {
    record.status = "parked";
    ++report.parked;
    spdlog::warn("adapter call {} parked after {} attempt(s): {}", mask_identifiers(record.idempotency_key),
                 attempt, mask_identifiers(result.message));
  }
  updates.push_back(record);
}

std::expected<DispatchReport, engine::StoreError> Dispatcher::drain_once(engine::Timestamp now) {
  DispatchReport report;
  // Claimed where several nodes share the store: each call goes out from one of them.
  auto pending = store_.claim_outbox(now, options_.batch, options_.lease);
  if (!pending) return std::unexpected(pending.error());
  // Lanes: the calls of one case stay in outbox order on one lane; lanes run in parallel.
  const std::size_t lanes = std::min<std::size_t>(std::max<std::size_t>(1, options_.workers), pending->size());
  std::vector<std::vector<engine::OutboxRecord*>> by_lane(lanes);
  for (auto& record : *pending) by_lane[std::hash<std::string>{}(record.case_id) % lanes].push_back(&record);
  std::vector<engine::OutboxRecord> updates;
  updates.reserve(pending->size());
  std::latch finished(static_cast<std::ptrdiff_t>(lanes));
  for (auto& lane : by_lane) {
    boost::asio::post(*pool_, [&, calls = &lane] {
      for (auto* record : *calls) deliver(*record, now, report, updates);
      finished.count_down();
    });
  }
  finished.wait();
  // A crash before this commit sends the round's calls again: at least once, never lost.
  if (auto written = store_.update_outbox_many(updates); !written) return std::unexpected(written.error());
  return report;
}

std::expected<void, engine::StoreError> retry_parked(engine::Store& store, engine::OutboxRecord parked, engine::Timestamp now) {
  if (parked.status != "parked") {
    return std::unexpected(engine::StoreError{engine::StoreError::Kind::invalid, "call " + parked.idempotency_key + " is " + parked.status + ", not parked"});
  }
  parked.status = "pending";
  parked.attempts = 0;
  parked.next_attempt_at = now;
  parked.last_error = "retried by hand after: " + parked.last_error;
  return store.update_outbox(parked);
}

std::expected<void, engine::StoreError> resolve_parked(engine::Store& store, engine::OutboxRecord parked, std::string_view note) {
  if (parked.status != "parked") {
    return std::unexpected(engine::StoreError{engine::StoreError::Kind::invalid, "call " + parked.idempotency_key + " is " + parked.status + ", not parked"});
  }
  if (note.empty()) return std::unexpected(engine::StoreError{engine::StoreError::Kind::invalid, "resolving a call by hand needs a note saying how"});
  parked.status = "delivered";
  parked.last_error = "resolved by hand: " + std::string(note);
  return store.update_outbox(parked);
}

}  // namespace onevisit::adapters
