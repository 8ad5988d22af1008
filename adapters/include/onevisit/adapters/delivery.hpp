// Delivery: everything between the engine's outbox and the departments, in one loop step.
//
//   Delivery delivery(engine, *store, config);   // store: the engine's (EngineOptions::store)
//   while (running) { delivery.run_once(); sleep(…); }
//
// Each round delivers the calls that are due (Dispatcher: lanes, backoff, circuit breakers,
// parking), applies the answers that came with responses, and reads the receipts of every
// xml-exchange system, applying each to its case (apply_result) before the file moves to
// processed/. A receipt file's sender is the system whose folder it lies in, and it answers
// only that system's items (apply_result). `onevisit dispatch`, `onevisit serve` and the
// tests all drive this class.
//
// Thread safety: one thread calls run_once; the Engine may be used by others meanwhile.
#pragma once

#include <onevisit/adapters/config.hpp>

#include <memory>
#include <vector>

namespace onevisit::adapters {

struct DeliveryRound {
  DispatchReport dispatch;
  std::size_t receipts = 0;        ///< receipt files applied to their cases
  std::size_t quarantined = 0;     ///< receipt files malformed or not applicable
  std::size_t left_for_later = 0;  ///< receipt files to read again (a passing failure)
};

class Delivery {
 public:
  /// `outbox` is the store the engine keeps its cases in (EngineOptions::store, open_store):
  /// the dispatcher drains its outbox. `config` and `outbox` must outlive the Delivery (its
  /// adapters are used, not copied).
  Delivery(engine::Engine& engine, engine::Store& outbox, const AdapterConfig& config);
  std::expected<DeliveryRound, std::string> run_once();
  Dispatcher& dispatcher() { return dispatcher_; }

 private:
  engine::Engine& engine_;
  const AdapterConfig& config_;
  Dispatcher dispatcher_;
  /// The receipt reader of each exchange system, by system name (the receipts' sender).
  std::vector<std::pair<std::string, ReceiptReader>> readers_;
};

}  // namespace onevisit::adapters
