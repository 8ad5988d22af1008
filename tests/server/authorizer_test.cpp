// The Authorizer's matrix, asked directly: every role against every action, then the rules
// on top of it (department systems only by token, read-only tokens, departments, other
// accounts' tokens, applicants' own cases).
#include "authorizer.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <set>

using namespace onevisit::server;

namespace {

User user(std::string name, Role role, std::string department = "") {
  return User{std::move(name), "", role, std::move(department), false, 0};
}

Principal staff(Role role, std::string department = "", bool via_token = false, std::string scope = "write") {
  return Principal::staff(user("u", role, std::move(department)), via_token, std::move(scope));
}

constexpr Action kAllActions[] = {
    Action::read_cases,     Action::start_case,    Action::attach_material, Action::verify_material, Action::fire_event,
    Action::tolerant_intake, Action::pause_clock,  Action::withdraw,        Action::deliver,         Action::rate,
    Action::read_worklist,  Action::list_workflows, Action::deploy_workflows, Action::read_timers,   Action::fire_timers,
    Action::manage_users,   Action::read_audit,    Action::read_report,     Action::read_calls,      Action::settle_calls,
    Action::post_receipts,  Action::prune_audit,   Action::read_session,    Action::end_session,     Action::read_tokens,
    Action::create_token,   Action::revoke_token,  Action::urge,            Action::answer_rectification};

}  // namespace

TEST_CASE("authorizer: the role matrix of docs/api.md, action by action", "[server][authorizer]") {
  const Authorizer authorizer;
  // Who may do what at all (docs/api.md, Authentication, roles and the audit trail).
  const std::map<Action, std::set<Role>> matrix = {
      {Action::read_cases, {Role::window_clerk, Role::reviewer, Role::supervisor}},
      {Action::start_case, {Role::window_clerk}},
      {Action::attach_material, {Role::window_clerk}},
      {Action::verify_material, {Role::window_clerk, Role::reviewer}},
      {Action::fire_event, {Role::window_clerk, Role::reviewer, Role::supervisor}},
      {Action::tolerant_intake, {Role::window_clerk}},
      {Action::pause_clock, {Role::window_clerk, Role::reviewer, Role::supervisor}},
      {Action::withdraw, {Role::window_clerk}},
      {Action::deliver, {Role::window_clerk}},
      {Action::rate, {Role::window_clerk}},
      {Action::read_worklist, {Role::window_clerk, Role::reviewer, Role::supervisor}},
      {Action::list_workflows, {Role::window_clerk, Role::reviewer, Role::supervisor, Role::designer, Role::admin}},
      {Action::deploy_workflows, {Role::designer}},
      {Action::read_timers, {Role::supervisor, Role::admin}},
      {Action::fire_timers, {Role::supervisor, Role::admin}},
      {Action::manage_users, {Role::admin}},
      {Action::read_audit, {Role::supervisor, Role::admin}},
      {Action::read_report, {Role::supervisor, Role::admin}},
      {Action::read_calls, {Role::window_clerk, Role::reviewer, Role::supervisor}},
      {Action::settle_calls, {Role::window_clerk, Role::reviewer, Role::supervisor}},
      {Action::post_receipts, {Role::department_system}},
      {Action::prune_audit, {Role::admin}},
      {Action::read_session, {Role::window_clerk, Role::reviewer, Role::supervisor, Role::designer, Role::admin, Role::department_system}},
      {Action::end_session, {Role::window_clerk, Role::reviewer, Role::supervisor, Role::designer, Role::admin, Role::department_system}},
      {Action::read_tokens, {Role::window_clerk, Role::reviewer, Role::supervisor, Role::designer, Role::admin, Role::department_system}},
      {Action::create_token, {Role::window_clerk, Role::reviewer, Role::supervisor, Role::designer, Role::admin}},
      {Action::revoke_token, {Role::window_clerk, Role::reviewer, Role::supervisor, Role::designer, Role::admin, Role::department_system}},
      {Action::urge, {Role::supervisor}},
      {Action::answer_rectification, {Role::supervisor, Role::reviewer}},
  };
  REQUIRE(matrix.size() == std::size(kAllActions));
  for (const auto action : kAllActions) {
    for (const auto role : kAllRoles) {
      INFO(to_string(action) << " by " << to_string(role));
      // A department system is asked with its token (its only way in), everyone else with a session.
      const auto principal = staff(role, bound_to_department(role) ? "market" : "", role == Role::department_system);
      const auto decision = authorizer.may(principal, action, Target::none());
      CHECK(decision.has_value() == matrix.at(action).count(role) > 0);
      if (!decision) {
        CHECK(decision.error().status == 403);
        CHECK(decision.error().code == "forbidden");
        CHECK_FALSE(decision.error().message.empty());
        CHECK(decision.error().message.find("role") == std::string::npos);  // Chinese for the person
        CHECK(decision.error().detail.find(std::string(to_string(action))) != std::string::npos);  // English for the log
      }
    }
  }
}

TEST_CASE("authorizer: department systems, read-only tokens and departments", "[server][authorizer]") {
  const Authorizer authorizer;
  SECTION("a department system acts only with its API token") {
    const auto session = authorizer.may(staff(Role::department_system, "market", false), Action::post_receipts, Target::none());
    REQUIRE_FALSE(session);
    CHECK(session.error().code == "forbidden");
    CHECK(authorizer.may(staff(Role::department_system, "market", true), Action::post_receipts, Target::none()));
  }
  SECTION("a token of scope read only reads") {
    const auto reader = staff(Role::window_clerk, "", true, "read");
    CHECK(authorizer.may(reader, Action::read_cases, Target::none()));
    CHECK(authorizer.may(reader, Action::read_worklist, Target::none()));
    for (const auto action : {Action::start_case, Action::fire_event, Action::end_session, Action::revoke_token}) {
      const auto denied = authorizer.may(reader, action, Target::none());
      REQUIRE_FALSE(denied);
      CHECK(denied.error().status == 403);
      CHECK(denied.error().code == "token_scope");
    }
    // Checked before the role: a read token of a role that may not is still told about its scope.
    CHECK(authorizer.may(reader, Action::deploy_workflows, Target::none()).error().code == "token_scope");
    CHECK(authorizer.may(staff(Role::window_clerk, "", true, "write"), Action::start_case, Target::none()));
  }
  SECTION("a reviewer acts on their department's part only; others on every department's") {
    const auto market = staff(Role::reviewer, "market");
    const auto in_market = Target::a_case("C1", {"market", "police"}, "");
    const auto police_only = Target::a_case("C2", {"police"}, "");
    CHECK(authorizer.may(market, Action::read_cases, in_market));
    const auto denied = authorizer.may(market, Action::read_cases, police_only);
    REQUIRE_FALSE(denied);
    CHECK(denied.error().status == 403);
    CHECK(denied.error().detail == "case C2 is not of department market");
    CHECK(authorizer.may(market, Action::fire_event, Target::department("market", "item registration")));
    CHECK_FALSE(authorizer.may(market, Action::fire_event, Target::department("police", "item seal")));
    CHECK(authorizer.may(market, Action::verify_material, Target::any_department({"police", "market"}, "material id_card")));
    CHECK_FALSE(authorizer.may(market, Action::verify_material, Target::any_department({}, "material articles")));
    // A clerk and a supervisor are bound to no department.
    CHECK(authorizer.may(staff(Role::window_clerk), Action::read_cases, police_only));
    CHECK(authorizer.may(staff(Role::supervisor), Action::fire_event, Target::department("police", "item seal")));
    CHECK(authorizer.only_department(market) == "market");
    CHECK_FALSE(authorizer.only_department(staff(Role::window_clerk)));
  }
  SECTION("another account's token does not exist for the caller; an admin manages everyone's") {
    const auto wang = Principal::staff(user("wang", Role::window_clerk), false, "write");
    CHECK(authorizer.may(wang, Action::revoke_token, Target::account("wang", "token 1")));
    const auto other = authorizer.may(wang, Action::revoke_token, Target::account("li", "token 2"));
    REQUIRE_FALSE(other);
    CHECK(other.error().status == 404);
    CHECK(other.error().code == "not_found");
    const auto for_other = authorizer.may(wang, Action::create_token, Target::account("li", "a token of li"));
    REQUIRE_FALSE(for_other);
    CHECK(for_other.error().status == 403);
    const auto admin = Principal::staff(user("root", Role::admin), false, "write");
    CHECK(authorizer.may(admin, Action::revoke_token, Target::account("li", "token 2")));
    CHECK(authorizer.may(admin, Action::create_token, Target::account("sys", "a token of sys")));
    // Tokens do not make tokens.
    CHECK(authorizer.may(Principal::staff(user("wang", Role::window_clerk), true, "write"), Action::create_token,
                         Target::account("wang", "a token of wang"))
              .error()
              .code == "forbidden");
  }
}

TEST_CASE("authorizer: an applicant acts on their own cases, another's case answers 404, never 403", "[server][authorizer]") {
  const Authorizer authorizer;
  const auto zhang = Principal::applicant("applicant-1");
  const auto own = Target::a_case("C1", {"market"}, "applicant-1");
  const auto others = Target::a_case("C2", {"market"}, "applicant-2");
  const auto nobodys = Target::a_case("C3", {"market"}, "");
  for (const auto action : {Action::read_cases, Action::attach_material, Action::fire_event, Action::withdraw, Action::deliver, Action::rate}) {
    INFO(to_string(action));
    CHECK(authorizer.may(zhang, action, own));
    for (const auto& target : {others, nobodys}) {
      const auto denied = authorizer.may(zhang, action, target);
      REQUIRE_FALSE(denied);
      CHECK(denied.error().status == 404);
      CHECK(denied.error().code == "not_found");
    }
  }
  // Even an action applicants never do answers 404 on another's case: nothing tells it exists.
  CHECK(authorizer.may(zhang, Action::verify_material, others).error().status == 404);
  // On their own case, what only staff do is refused plainly.
  for (const auto action : {Action::verify_material, Action::start_case, Action::tolerant_intake, Action::read_worklist, Action::manage_users}) {
    INFO(to_string(action));
    const auto denied = authorizer.may(zhang, action, own);
    REQUIRE_FALSE(denied);
    CHECK(denied.error().status == 403);
  }
  // No department binds an applicant; no staff view is theirs.
  CHECK_FALSE(authorizer.only_department(zhang));
  // Lists and searches: an applicant's own cases only.
  CHECK(authorizer.case_scope(zhang).owner == "applicant-1");
  CHECK_FALSE(authorizer.case_scope(zhang).department);
}

TEST_CASE("authorizer: a case is an applicant's when it names one of the numbers they proved", "[server][authorizer][applicant]") {
  const Authorizer authorizer;
  const auto agent = Principal::applicant("申请人 330*************14（代表 913**************43）",
                                          {"id:330106199003070014", "phone:13800138000", "uscc:91350100M000100Y43"});
  for (const auto& owners : std::vector<std::vector<std::string>>{{"id:330106199003070014"},
                                                                   {"phone:13800138000", "id:11010519491231002X"},
                                                                   {"uscc:91350100M000100Y43"}}) {
    CHECK(authorizer.may(agent, Action::read_cases, Target::a_case("C1", {"market"}, owners)));
  }
  const auto denied = authorizer.may(agent, Action::read_cases, Target::a_case("C2", {"market"}, std::vector<std::string>{"id:11010519491231002X"}));
  REQUIRE_FALSE(denied);
  CHECK(denied.error().status == 404);
  // Applying and choosing a company are the applicant's; no staff role does either.
  CHECK(authorizer.may(agent, Action::apply, Target::none()));
  CHECK(authorizer.may(agent, Action::act_for_company, Target::none()));
  for (const auto role : kAllRoles) {
    CHECK_FALSE(role_may(role, Action::apply));
    CHECK_FALSE(role_may(role, Action::act_for_company));
  }
  CHECK(authorizer.case_scope(agent).owner_keys.size() == 3);
}

TEST_CASE("authorizer: lists and searches are kept to the cases a principal may see", "[server][authorizer][search]") {
  const Authorizer authorizer;
  CHECK(authorizer.case_scope(staff(Role::reviewer, "market")).department == "market");
  CHECK(authorizer.case_scope(staff(Role::department_system, "police", true)).department == "police");
  for (const auto role : {Role::window_clerk, Role::supervisor}) {
    const auto scope = authorizer.case_scope(staff(role));
    CHECK_FALSE(scope.department);
    CHECK_FALSE(scope.owner);
  }
}
