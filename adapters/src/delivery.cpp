#include <onevisit/adapters/delivery.hpp>

#include <spdlog/spdlog.h>

namespace onevisit::adapters {

Delivery::Delivery(engine::Engine& engine, engine::Store& outbox, const AdapterConfig& config)
    : engine_(engine), config_(config), dispatcher_(outbox, config.registry, config.dispatch) {
  dispatcher_.on_result([this](const Receipt& receipt, const ReceiptSender& sender) -> std::expected<void, ResultError> {
    auto applied = apply_result(engine_, receipt, sender, config_.results);
    if (!applied) return std::unexpected(applied.error());
    return {};
  });
  for (const auto& [system, folders] : config.exchanges) readers_.emplace_back(system, ReceiptReader(folders));
}

std::expected<DeliveryRound, std::string> Delivery::run_once() {
  DeliveryRound round;
  auto dispatched = dispatcher_.drain_once(engine_.now());
  if (!dispatched) return std::unexpected("delivering calls: " + dispatched.error().message);
  round.dispatch = *dispatched;
  for (auto& [system, reader] : readers_) {
    // Whoever can write into this folder speaks for its system, whatever fromNode says.
    const ReceiptSender sender{system, {}};
    const auto polled = reader.poll([this, &sender](const Receipt& receipt) {
      auto applied = apply_result(engine_, receipt, sender, config_.results);
      if (applied) {
        for (const auto& c : applied->commands) {
          spdlog::info("receipt {} for case {}: {}", mask_identifiers(receipt.request_id),
                       mask_identifiers(receipt.case_id), mask_identifiers(c));
        }
        return ReceiptHandling{};
      }
      return ReceiptHandling{applied.error().permanent ? ReceiptHandling::Kind::refused : ReceiptHandling::Kind::retry_later,
                             applied.error().message};
    });
    round.receipts += polled.receipts.size();
    round.quarantined += polled.quarantined.size();
    round.left_for_later += polled.left_for_later;
  }
  return round;
}

}  // namespace onevisit::adapters
