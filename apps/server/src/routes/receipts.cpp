// POST /api/receipts: a department's answer to a call, posted by its system (docs/adapters.md
// §3), which authenticates with the API token of its department_system account.
#include "routes/handlers.hpp"

#include <onevisit/adapters/results.hpp>

#include <spdlog/spdlog.h>

namespace onevisit::server::routes {

HttpResponse post_receipt(Exchange& x) {
  if (x.request.body.size() > x.options.max_material_bytes) {
    return x.error(413, "body_too_large", "回执太大：最多 " + std::to_string(x.options.max_material_bytes) + " 字节", json::object{{"limit_bytes", x.options.max_material_bytes}});
  }
  auto receipt = adapters::parse_receipt_json(x.request.body);
  if (!receipt) return x.logged(x.error(400, "invalid_request", "回执格式不对"), "not a receipt: " + receipt.error());
  if (!x.load_case(receipt->case_id)) return *x.failure;
  // The sender is the account that authenticated, bound to its department; the shared apply
  // path decides what it may answer and attach (the exchange folders' receipts obey the same).
  const adapters::ReceiptSender sender{x.user().name, x.user().department};
  auto applied = adapters::apply_result(x.engine, *receipt, sender, x.options.result_mapping);
  if (!applied) {
    if (applied.error().not_allowed) return x.error(403, "forbidden", applied.error().message);
    if (applied.error().permanent) return x.error(422, "invalid", applied.error().message);
    // A passing failure (the database out of reach, a conflict): the department's system
    // sends the answer again; it applies once (its request id keys each command). Its
    // operator reads the Chinese message; the store's own words go to the log and audit.
    spdlog::warn("request {}: a department's answer for case {} cannot be applied now: {}", x.record.request_id,
                 masked(receipt->case_id), masked(applied.error().detail));
    auto r = x.logged(x.error(503, "try_again", applied.error().message), applied.error().detail);
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  json::array commands, notes;
  for (const auto& c : applied->commands) commands.push_back(json::string(c));
  for (const auto& note : applied->notes) notes.push_back(json::string(masked(note)));
  x.record.detail = std::to_string(applied->commands.size()) + " commands from system:" + x.user().name;
  return json_response(200, json::object{{"case_id", receipt->case_id}, {"commands", std::move(commands)}, {"notes", std::move(notes)}});
}

}  // namespace onevisit::server::routes
