// Private to the server: the one place that decides who may do what. Every route asks
// Authorizer::may(principal, action, target) and gets either yes or a precise denial: an
// HTTP status and code, a Chinese message for the person, an English detail for the log and
// the audit trail. Routes never look at roles themselves.
//
// A principal is who acts: a staff account (role, department, how it authenticated and the
// scope of its token) or an applicant (issue 15: the applicant channel). A target is what the
// action concerns: nothing in particular, some departments (an item's, a material's, a
// query's), a case (its items' departments and the applicant who owns it) or an account
// (an API token's owner).
//
// Rules, in order: an applicant acts only on a case of their own, and a case of someone else
// answers 404 as if it did not exist (403 would tell them it does); a department system acts
// only with an API token; the role must allow the action (docs/api.md, the matrix); a token
// with scope read may only read; a reviewer or department system only on targets of its own
// department; another account's token is 404 unless the caller is an admin.
//
// Thread safety: an Authorizer holds no state; may() is safe from any thread.
#pragma once

#include "accounts.hpp"

#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onevisit::server {

/// Everything a caller may try; the permission matrix maps roles to these.
enum class Action {
  read_cases,         ///< list, show, history, download materials
  start_case,         ///< also the material list of a situation (the intake page)
  attach_material,
  verify_material,
  fire_event,
  tolerant_intake,
  pause_clock,        ///< clock control: pause and resume, start and end special procedures
  withdraw,
  deliver,            ///< hand the results over (staff); choose how they reach one (an applicant)
  rate,
  read_worklist,
  list_workflows,
  deploy_workflows,
  read_timers,
  fire_timers,
  manage_users,
  read_audit,
  read_report,
  read_calls,         ///< the adapter calls of cases (the outbox)
  settle_calls,       ///< retry or resolve a parked call
  post_receipts,      ///< a department's system answers a call (its result, documents); department_system only
  prune_audit,        ///< remove audit records past their retention
  read_session,       ///< who am I
  end_session,        ///< log out
  read_tokens,        ///< the caller's own API tokens (an admin's: everyone's)
  create_token,       ///< for oneself; for another account only an admin
  revoke_token,       ///< one's own; an admin anyone's
  urge,               ///< 督办: press the department handling a late item; supervisors only
  answer_rectification,  ///< 差评整改: answer the rectification a bad rating opened; supervisors, reviewers
  apply,              ///< an applicant starts a case of their own (the applicant channel); applicants only
  act_for_company,    ///< an applicant chooses the company they act for; applicants only
};

/// The action's name in the route table and docs/api.md ("read_cases").
std::string_view to_string(Action action);
/// Whether the action changes anything (a token with scope read may not).
bool changes_state(Action action);

/// Who acts.
struct Principal {
  enum class Kind { staff, applicant };
  Kind kind = Kind::staff;
  std::string name;        ///< the account's name, or the applicant's label (masked)
  Role role = Role::window_clerk;  ///< staff only
  std::string department;  ///< for roles bound to a department
  bool via_token = false;  ///< authenticated with an API token (not a session)
  std::string token_scope = "write";  ///< "read" or "write"; for a session always write
  /// An applicant's proved identities ("id:…", "uscc:…", "phone:…", applicant.hpp): a case
  /// is theirs when it names one of them.
  std::vector<std::string> owner_keys;

  static Principal staff(const User& user, bool via_token, std::string token_scope);
  /// An applicant known by one key (the key is also their name).
  static Principal applicant(std::string applicant_id);
  static Principal applicant(std::string label, std::vector<std::string> owner_keys);
};

/// What an action concerns.
struct Target {
  enum class Kind { none, departments, a_case, account };
  Kind kind = Kind::none;
  std::vector<std::string> departments;  ///< departments: any of them; a case: its items' departments
  std::string owner;  ///< an account's name; for a case its first owner (empty: none known)
  std::string what;   ///< English, for the detail: "case C1", "item seal", "material articles"
  std::vector<std::string> owners;  ///< a case's owner keys (applicant.hpp); empty: no applicant owns it
  /// A material's file of the applicant's own case that is not theirs to read: a copy the
  /// e-license library gave about whoever the form names (the father's ID card on the
  /// mother's case). Staff are not concerned; an applicant gets 404 (docs/applicant.md).
  bool not_the_applicants = false;

  static Target none();
  /// A department's part (a query for it, an item of it, a call to it).
  static Target department(std::string department, std::string what);
  /// Something several departments share (a material needed by items of each).
  static Target any_department(std::vector<std::string> departments, std::string what);
  static Target a_case(std::string case_id, std::vector<std::string> departments, std::string applicant);
  static Target a_case(std::string case_id, std::vector<std::string> departments, std::vector<std::string> owners);
  static Target account(std::string name, std::string what);
};

/// Why not.
struct Denial {
  unsigned status = 403;  ///< 403, or 404 when the caller may not learn that the target exists
  std::string code;       ///< forbidden, token_scope, not_found
  std::string message;    ///< Chinese: what the person reads
  std::string detail;     ///< English: for the log and the audit trail
};

/// Which cases a principal may see in lists and searches.
struct CaseScope {
  /// Only cases with an item of this department (reviewers, department systems).
  std::optional<std::string> department;
  /// Only cases this applicant owns: cases naming one of `owner_keys`.
  std::optional<std::string> owner;
  std::vector<std::string> owner_keys;
};

class Authorizer {
 public:
  std::expected<void, Denial> may(const Principal& principal, Action action, const Target& target) const;
  /// The cases a principal's lists and searches are kept to (the same rule as may() on a case).
  CaseScope case_scope(const Principal& principal) const;
  /// The one department whose part of cases, worklists and calls the principal sees
  /// (reviewers, department systems); nullopt: every department's.
  std::optional<std::string> only_department(const Principal& principal) const;
};

/// Whether `role` may perform `action` at all (reviewers and department systems further only
/// on their department; department systems only with an API token).
bool role_may(Role role, Action action);

/// The role as people read it (综窗人员 …).
std::string_view role_title(Role role);

}  // namespace onevisit::server
