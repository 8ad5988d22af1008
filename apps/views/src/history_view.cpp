#include <onevisit/views/history_view.hpp>


#include <onevisit/adapters/adapter.hpp>

#include <boost/json.hpp>


namespace onevisit::views {

namespace json = boost::json;

namespace {
void mask_strings(json::value& value) {
  if (value.is_string()) {
    value = json::string(adapters::mask_identifiers(value.as_string()));
  } else if (value.is_array()) {
    for (auto& element : value.as_array()) mask_strings(element);
  } else if (value.is_object()) {
    for (auto& member : value.as_object()) mask_strings(member.value());
  }
}
}  // namespace

json::value history_payload_json(std::string_view type, std::string_view payload) {
  boost::system::error_code ec;
  json::value parsed = json::parse(payload, ec);
  if (ec) return nullptr;
  if (type == "CaseStarted" && parsed.is_object()) parsed.as_object().erase("slots");
  mask_strings(parsed);
  return parsed;
}

}  // namespace onevisit::views
