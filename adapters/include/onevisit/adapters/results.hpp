// Departments' answers become case commands.
//
// A department answers a call with a Receipt (adapter.hpp): a status and, often, the documents
// it issued. apply_result turns it into ordinary engine commands, each with a command id
// derived from the request id, so a department that answers twice (or a receipt read again
// after a crash) changes the case once:
//
//   the sender  -> authenticated by the way the answer came (the called system, the exchange
//                  folder's system, a department system's API token), never by its `from`;
//                  it answers only its department's items, and "system:<sender>" is the actor
//   documents   -> AttachMaterial by the `system` role, only materials the answering item
//                  produces (issued documents are verified at once;
//                  their bytes go to the engine's content store, an e-license id is kept as a
//                  small reference document)
//   the status  -> the first lifecycle event of the mapping that leaves the item's current
//                  state (APPROVED -> approve, REJECTED -> reject or refuse_intake,
//                  CORRECTION_REQUIRED -> request_correction, ACCEPTED -> accept), fired in
//                  the role the department's system acts in (reviewer by default). When the
//                  item is already past that point (the call went out with the item's own
//                  approval), nothing is fired.
//
// Thread safety: as the Engine's.
#pragma once

#include <onevisit/adapters/adapter.hpp>
#include <onevisit/engine/engine.hpp>

#include <expected>
#include <map>
#include <string>
#include <vector>

namespace onevisit::adapters {

struct ResultMapping {
  std::string role = "reviewer";  ///< the lifecycle role a department's system acts in
  /// Lifecycle events to try for each status, in order.
  std::map<Receipt::Status, std::vector<std::string>> events{
      {Receipt::Status::accepted, {"accept"}},
      {Receipt::Status::correction_required, {"request_correction"}},
      {Receipt::Status::approved, {"approve"}},
      {Receipt::Status::rejected, {"reject", "refuse_intake"}},
  };
};

struct ResultApplication {
  std::vector<std::string> commands;  ///< what was applied, e.g. "attach licence", "fire approve"
  std::vector<std::string> notes;     ///< what was already so (duplicates, item already past)
};

/// Applies a department's answer to its case, as sent by `sender` (whom the way it arrived
/// authenticates). Idempotent: applying the same receipt again changes nothing. Refused
/// (`not_allowed`, nothing changed) when the sender's department neither owns the item nor
/// was called about it (by this request id), when the request id names another case or
/// item, when a document is not one the item produces, or when a non-empty `from` names
/// neither the sender nor its department or system. The history's actor is
/// "system:<sender.system>".
std::expected<ResultApplication, ResultError> apply_result(engine::Engine& engine, const Receipt& receipt, const ReceiptSender& sender,
                                                           const ResultMapping& mapping = {});

/// The item id inside an idempotency key "case/item/sequence/action" (empty when malformed).
std::string item_of_request(std::string_view request_id);

}  // namespace onevisit::adapters
