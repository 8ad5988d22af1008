#include "applicant.hpp"

#include <onevisit/dsl/personal_numbers.hpp>

#include <algorithm>
#include <cctype>

namespace onevisit::server {

namespace json = boost::json;

namespace {

std::string upper_alnum(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c))) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string text_of(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

std::optional<std::string> normalise_mobile(std::string_view text) {
  std::string digits;
  for (const char c : text) {
    if (c >= '0' && c <= '9') digits += c;
    else if (c != ' ' && c != '-' && c != '+') return std::nullopt;
  }
  if (digits.size() == 13 && digits.starts_with("86")) digits.erase(0, 2);
  if (digits.size() != 11 || digits[0] != '1' || digits[1] < '3') return std::nullopt;
  return digits;
}

std::vector<std::string> ApplicantIdentity::owner_keys() const {
  std::vector<std::string> keys;
  if (!id_number.empty()) keys.push_back("id:" + id_number);
  if (!phone.empty()) keys.push_back("phone:" + phone);
  if (company) keys.push_back("uscc:" + company->uscc);
  return keys;
}

std::string ApplicantIdentity::label() const {
  std::string who = !id_number.empty() ? id_number : phone;
  std::string label = "申请人 " + dsl::mask_applicant(who);
  if (company) label += "（代表 " + dsl::mask_applicant(company->uscc) + "）";
  if (!kiosk.empty()) label += "（自助终端 " + kiosk + "）";
  return label;
}

json::object ApplicantIdentity::to_json() const {
  json::object o{{"phone", phone}, {"name", name}, {"id_number", id_number}};
  if (company) o["company"] = json::object{{"uscc", company->uscc}, {"name", company->name}, {"role", company->role}};
  if (!kiosk.empty()) o["kiosk"] = kiosk;
  return o;
}

std::optional<ApplicantIdentity> ApplicantIdentity::from_json(std::string_view text) {
  boost::system::error_code ec;
  const auto value = json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto& o = value.as_object();
  ApplicantIdentity identity{text_of(o, "phone"), text_of(o, "name"), text_of(o, "id_number"), std::nullopt, text_of(o, "kiosk")};
  if (const auto* c = o.if_contains("company"); c && c->is_object()) {
    identity.company = Company{text_of(c->as_object(), "uscc"), text_of(c->as_object(), "name"), text_of(c->as_object(), "role")};
  }
  if (identity.phone.empty() && identity.id_number.empty()) return std::nullopt;
  return identity;
}

json::object ApplicantIdentity::public_json() const {
  json::array methods;
  if (!phone.empty()) methods.push_back("sms");
  if (!id_number.empty()) methods.push_back(kiosk.empty() ? "oidc" : "id_card");
  json::object o{{"name", name},
                 {"phone", phone.empty() ? "" : dsl::mask_applicant(phone)},
                 {"id_number", id_number.empty() ? "" : dsl::mask_applicant(id_number)},
                 {"real_name_verified", !id_number.empty()},
                 {"verified_by", std::move(methods)},
                 {"kiosk", kiosk}};
  if (company) {
    o["company"] = json::object{{"uscc", dsl::mask_applicant(company->uscc)},
                                {"name", company->name},
                                {"role", company->role},
                                {"role_title", company->role == "legal_representative" ? "法定代表人" : "授权代理人"}};
  } else {
    o["company"] = nullptr;
  }
  return o;
}

std::vector<std::string> case_owner_keys(const engine::Workflow& workflow, const engine::Case& state) {
  std::vector<std::string> keys;
  bool phone_taken = false;
  for (const auto& field : workflow.fields) {
    if (field.slot >= state.slots.size()) continue;
    const auto& value = state.slots[field.slot];
    if (value.kind != dsl::ValueKind::text || value.text == engine::kErasedValue) continue;
    switch (field.value_type.base) {
      case dsl::BaseType::idcard: keys.push_back("id:" + upper_alnum(value.text)); break;
      case dsl::BaseType::uscc: keys.push_back("uscc:" + upper_alnum(value.text)); break;
      case dsl::BaseType::phone:
        // Only the applicant's own number, the first mobile on the form (where the engine sends
        // the applicant's texts): a landlord's or a contact's number on the form must not open
        // the case to whoever logs in with it.
        if (phone_taken) break;
        if (auto mobile = normalise_mobile(value.text)) {
          keys.push_back("phone:" + *mobile);
          phone_taken = true;
        }
        break;
      default: break;
    }
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

}  // namespace onevisit::server
