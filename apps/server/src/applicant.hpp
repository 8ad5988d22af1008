// Private to the server: who an applicant is on the applicant channel (issue 15) and which
// cases are theirs.
//
// An applicant session proves some of: a mobile number (a one-time SMS code), a real name
// and resident ID number (the province's identity platform, OpenID Connect), and the company
// they act for (its credit code, as legal representative or authorised agent, from the
// e-license library's registration). A case is theirs when a form field of the matching type
// holds one of these numbers: an `idcard` field their ID number, a `uscc` field the company's
// code, a `phone` field their mobile number (the number the case's text messages go to).
//
// Thread safety: plain values and pure functions.
#pragma once

#include <onevisit/engine/engine.hpp>

#include <boost/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onevisit::server {

struct ApplicantIdentity {
  std::string phone;      ///< verified by an SMS code; empty: not proved
  std::string name;       ///< verified real name (identity platform); empty: not proved
  std::string id_number;  ///< verified resident ID number (identity platform), upper case
  struct Company {
    std::string uscc;  ///< 统一社会信用代码
    std::string name;
    std::string role;  ///< legal_representative or agent
  };
  std::optional<Company> company;  ///< the company they act for, when they chose one
  /// The registered kiosk whose card reader read their ID card (docs/applicant.md, "The
  /// kiosk"); empty: not at a kiosk. Their cases come in on the channel `kiosk`.
  std::string kiosk;

  /// What cases are matched against: "id:<number>", "uscc:<code>", "phone:<number>".
  std::vector<std::string> owner_keys() const;
  /// For logs, the audit trail and the engine's actor: never a whole number ("申请人 138******00";
  /// at a kiosk with its id: "申请人 330*************14（自助终端 xh-01）").
  std::string label() const;
  boost::json::object to_json() const;
  static std::optional<ApplicantIdentity> from_json(std::string_view text);
  /// What the applicant's pages show of them: masked numbers, the name, the company, how the
  /// session proved who they are (`verified_by`: "sms", "oidc" or "id_card" at a kiosk) and
  /// the kiosk.
  boost::json::object public_json() const;
};

/// The owner keys of a case (ApplicantIdentity::owner_keys): its idcard and uscc fields'
/// values and the first mobile number on its form (the applicant's, where their texts go; other
/// phone fields — a landlord's, a contact's — open nothing), normalised as the keys are (upper
/// case, digits of a phone without +86).
std::vector<std::string> case_owner_keys(const engine::Workflow& workflow, const engine::Case& state);

/// An 11-digit mainland mobile number (1[3-9]XXXXXXXXX), after dropping spaces and dashes;
/// nullopt otherwise.
std::optional<std::string> normalise_mobile(std::string_view text);

}  // namespace onevisit::server
