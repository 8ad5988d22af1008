// Fuzz target `receipt_xml`: a receipt file from a department's exchange folder
// (docs/exchange.md) through ReceiptReader::parse, pugixml inside. Whatever it accepts keeps
// the rules every receipt keeps (see receipt_json_fuzz.cpp). The exchange file name made from
// a key (the input) uses only the safe characters docs/exchange.md names.
#include "fuzz_support.hpp"

#include <onevisit/adapters/xml_exchange.hpp>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace onevisit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto receipt = adapters::ReceiptReader::parse(text)) {
    fuzz::require(adapters::receipt_status(adapters::to_string(receipt->status)) == receipt->status,
                  "a receipt's status reads back as itself");
    fuzz::require(!adapters::check_receipt_reason(*receipt, "reason"), "an accepted receipt has the reason its status needs");
    for (const auto& document : receipt->documents) {
      fuzz::require(!document.material.empty(), "a document names its material");
      fuzz::require(!document.content.empty() || !document.elicense_id.empty(), "a document carries content or an e-license id");
    }
  }
  const auto name = adapters::exchange_file_name(text.substr(0, 256));
  fuzz::require(std::all_of(name.begin(), name.end(),
                            [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_' || c == '.'; }),
                "an exchange file name has only A-Za-z0-9-_.");
  return 0;
}
