// Private to the server's applicant routes: the one form's values that are already proved
// (the verified identity, the SMS-verified mobile number, a company's registration in the
// e-license library), where each came from and whether the applicant may change it.
//
// Thread safety: functions of one request's Exchange.
#pragma once

#include "exchange.hpp"

#include <map>
#include <optional>
#include <string>

namespace onevisit::server::routes {

struct Prefilled {
  std::string value;   ///< whole (an ID or phone number unmasked): never answered as it is
  std::string source;  ///< identity | registration | login_phone
  bool editable = true;  ///< false: a registered fact, changed only by a 变更登记
};

/// The fields of `wf` that the applicant's proved identity and, acting for a company, its
/// registration fill, by field name. nullopt when the e-license library cannot be asked
/// (x.failure says so, 503).
std::optional<std::map<std::string, Prefilled>> prefill_values(Exchange& x, const engine::Workflow& wf);

/// Where each pre-filled field came from, for the page: {"field": {"source", "source_title", "editable"}}.
json::object prefilled_json(const std::map<std::string, Prefilled>& filled);

/// The registered facts `form` gives otherwise than registered, as `details.fields` problems (Chinese).
json::array changed_registered_facts(const engine::Workflow& wf, const std::map<std::string, Prefilled>& filled,
                                     const std::map<std::string, std::string>& form);

/// A draft as answered (applicant_cases.cpp): numbers masked.
json::object draft_json(const ApplicantDraft& d, const engine::Engine& engine);

}  // namespace onevisit::server::routes
