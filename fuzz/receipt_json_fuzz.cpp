// Fuzz target `receipt_json`: a department's answer in JSON (the http adapter's `result`,
// the body of POST /api/receipts) through parse_receipt_json. Whatever it accepts keeps the
// rules every receipt keeps: a known status that prints and reads back as itself, a reason
// where the status needs one, documents that name a material and carry content or an
// e-license id. Base64 decoding, which documents go through, round-trips.
#include "fuzz_support.hpp"

#include <onevisit/adapters/adapter.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace onevisit;

namespace {

void check_receipt(const adapters::Receipt& receipt) {
  fuzz::require(adapters::receipt_status(adapters::to_string(receipt.status)) == receipt.status,
                "a receipt's status reads back as itself");
  fuzz::require(!adapters::check_receipt_reason(receipt, "reason"), "an accepted receipt has the reason its status needs");
  for (const auto& document : receipt.documents) {
    fuzz::require(!document.material.empty(), "a document names its material");
    fuzz::require(!document.content.empty() || !document.elicense_id.empty(), "a document carries content or an e-license id");
  }
}

void check_base64(std::string_view text) {
  const auto decoded = adapters::decode_base64(text);
  if (!decoded) return;
  const auto again = adapters::decode_base64(adapters::encode_base64(*decoded));
  fuzz::require(again && *again == *decoded, "base64 round-trips");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto receipt = adapters::parse_receipt_json(text)) check_receipt(*receipt);
  check_base64(text);
  return 0;
}
