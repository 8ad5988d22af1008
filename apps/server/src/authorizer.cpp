#include "authorizer.hpp"

#include <algorithm>

namespace onevisit::server {

std::string_view to_string(Action action) {
  switch (action) {
    case Action::read_cases: return "read_cases";
    case Action::start_case: return "start_case";
    case Action::attach_material: return "attach_material";
    case Action::verify_material: return "verify_material";
    case Action::fire_event: return "fire_event";
    case Action::tolerant_intake: return "tolerant_intake";
    case Action::pause_clock: return "pause_clock";
    case Action::withdraw: return "withdraw";
    case Action::deliver: return "deliver";
    case Action::rate: return "rate";
    case Action::read_worklist: return "read_worklist";
    case Action::list_workflows: return "list_workflows";
    case Action::deploy_workflows: return "deploy_workflows";
    case Action::read_timers: return "read_timers";
    case Action::fire_timers: return "fire_timers";
    case Action::manage_users: return "manage_users";
    case Action::read_audit: return "read_audit";
    case Action::read_report: return "read_report";
    case Action::read_calls: return "read_calls";
    case Action::settle_calls: return "settle_calls";
    case Action::post_receipts: return "post_receipts";
    case Action::prune_audit: return "prune_audit";
    case Action::read_session: return "read_session";
    case Action::end_session: return "end_session";
    case Action::read_tokens: return "read_tokens";
    case Action::create_token: return "create_token";
    case Action::revoke_token: return "revoke_token";
    case Action::urge: return "urge";
    case Action::answer_rectification: return "answer_rectification";
    case Action::apply: return "apply";
    case Action::act_for_company: return "act_for_company";
  }
  return "?";
}

bool changes_state(Action action) {
  switch (action) {
    case Action::read_cases:
    case Action::read_worklist:
    case Action::list_workflows:
    case Action::read_timers:
    case Action::read_audit:
    case Action::read_report:
    case Action::read_calls:
    case Action::read_session:
    case Action::read_tokens:
      return false;
    default:
      // start_case too: the intake page's material list is a POST, refused to read tokens
      // like every other POST.
      return true;
  }
}

bool role_may(Role role, Action action) {
  switch (action) {
    case Action::read_cases:
    case Action::read_worklist:
    case Action::fire_event:
      return role == Role::window_clerk || role == Role::reviewer || role == Role::supervisor;
    case Action::verify_material:
      return role == Role::window_clerk || role == Role::reviewer;
    case Action::start_case:
    case Action::attach_material:
    case Action::tolerant_intake:
    case Action::withdraw:
    case Action::deliver:
    case Action::rate:
      return role == Role::window_clerk;
    case Action::pause_clock:
      // The core further keeps it to the roles the item's lifecycle names, and a reviewer to
      // their department's items (engine::clock_control_refusal).
      return role == Role::window_clerk || role == Role::reviewer || role == Role::supervisor;
    case Action::list_workflows:
      return role != Role::department_system;
    case Action::deploy_workflows:
      return role == Role::designer;
    case Action::read_timers:
    case Action::fire_timers:
    case Action::read_audit:
    case Action::read_report:
      return role == Role::supervisor || role == Role::admin;
    case Action::manage_users:
    case Action::prune_audit:
      return role == Role::admin;
    case Action::read_calls:
    case Action::settle_calls:
      return role == Role::window_clerk || role == Role::reviewer || role == Role::supervisor;
    case Action::post_receipts:
      // Only a department's own system, authenticated as such; people never post receipts.
      return role == Role::department_system;
    case Action::read_session:
    case Action::end_session:
    case Action::read_tokens:
    case Action::revoke_token:
      return true;
    case Action::create_token:
      // An admin creates a department system's tokens.
      return role != Role::department_system;
    case Action::urge:
      return role == Role::supervisor;
    case Action::answer_rectification:
      return role == Role::supervisor || role == Role::reviewer;
    case Action::apply:
    case Action::act_for_company:
      return false;  // the applicant channel's: no staff role applies for itself
  }
  return false;
}

std::string_view role_title(Role role) {
  switch (role) {
    case Role::window_clerk: return "综窗人员";
    case Role::reviewer: return "部门审核人员";
    case Role::supervisor: return "督办人员";
    case Role::designer: return "流程设计人员";
    case Role::admin: return "系统管理员";
    case Role::department_system: return "部门业务系统";
  }
  return "?";
}

Principal Principal::staff(const User& user, bool via_token, std::string token_scope) {
  return Principal{Kind::staff, user.name, user.role, user.department, via_token, std::move(token_scope)};
}

Principal Principal::applicant(std::string applicant_id) {
  Principal p;
  p.kind = Kind::applicant;
  p.owner_keys = {applicant_id};
  p.name = std::move(applicant_id);
  return p;
}

Principal Principal::applicant(std::string label, std::vector<std::string> owner_keys) {
  Principal p;
  p.kind = Kind::applicant;
  p.name = std::move(label);
  p.owner_keys = std::move(owner_keys);
  return p;
}

Target Target::none() { return Target{}; }

Target Target::department(std::string department, std::string what) {
  return Target{Kind::departments, {std::move(department)}, {}, std::move(what)};
}

Target Target::any_department(std::vector<std::string> departments, std::string what) {
  return Target{Kind::departments, std::move(departments), {}, std::move(what)};
}

Target Target::a_case(std::string case_id, std::vector<std::string> departments, std::string applicant) {
  std::vector<std::string> owners;
  if (!applicant.empty()) owners.push_back(applicant);
  return a_case(std::move(case_id), std::move(departments), std::move(owners));
}

Target Target::a_case(std::string case_id, std::vector<std::string> departments, std::vector<std::string> owners) {
  Target t{Kind::a_case, std::move(departments), owners.empty() ? std::string() : owners.front(), "case " + std::move(case_id), {}};
  t.owners = std::move(owners);
  return t;
}

Target Target::account(std::string name, std::string what) { return Target{Kind::account, {}, std::move(name), std::move(what)}; }

namespace {

Denial forbidden(std::string message, std::string detail) { return Denial{403, "forbidden", std::move(message), std::move(detail)}; }
Denial not_found(std::string detail) { return Denial{404, "not_found", "找不到该办件或资源，请核对编号", std::move(detail)}; }

// What an applicant does on the channel of issue 15: on their own cases only.
bool applicant_may(Action action) {
  switch (action) {
    case Action::read_cases:
    case Action::attach_material:
    case Action::fire_event:  // the lifecycle's own role check keeps them to `by applicant` events
    case Action::withdraw:
    case Action::deliver:  // choosing how the results reach them (ChooseDelivery), not handing over
    case Action::rate:
    case Action::read_session:
    case Action::end_session:
    case Action::apply:
    case Action::act_for_company:
      return true;
    default:
      return false;
  }
}

bool owns(const Principal& p, const Target& target) {
  return std::any_of(target.owners.begin(), target.owners.end(), [&](const std::string& owner) {
    return std::find(p.owner_keys.begin(), p.owner_keys.end(), owner) != p.owner_keys.end();
  });
}

std::expected<void, Denial> applicant_decision(const Principal& p, Action action, const Target& target) {
  // Another applicant's case does not exist for them: the same 404 as a case number never issued.
  if (target.kind == Target::Kind::a_case && !owns(p, target)) {
    return std::unexpected(not_found(target.what + " is not applicant " + p.name + "'s"));
  }
  if (target.kind == Target::Kind::account && target.owner != p.name) return std::unexpected(not_found(target.what + " is not theirs"));
  // Like another applicant's case: not shown to exist.
  if (target.not_the_applicants) return std::unexpected(not_found(target.what + " was fetched from the e-license library, not the applicant's own"));
  if (!applicant_may(action)) {
    return std::unexpected(forbidden("申请人不能进行此操作", "an applicant may not " + std::string(to_string(action))));
  }
  return {};
}

}  // namespace

std::expected<void, Denial> Authorizer::may(const Principal& p, Action action, const Target& target) const {
  if (p.kind == Principal::Kind::applicant) return applicant_decision(p, action, target);
  // A department system is no person at a browser: it acts only with the tokens an admin made.
  if (p.role == Role::department_system && !p.via_token) {
    return std::unexpected(forbidden("部门业务系统只能使用管理员为其创建的 API 令牌访问", "a department system acts only with its API token"));
  }
  if (p.via_token && p.token_scope != "write" && changes_state(action)) {
    return std::unexpected(Denial{403, "token_scope", "此 API 令牌只能读取（权限范围 read），不能修改",
                                  "this API token may only read (scope read)"});
  }
  if (target.kind == Target::Kind::account) {
    if (target.owner != p.name && p.role != Role::admin) {
      // Someone else's token is not shown to exist; creating one for another account is refused plainly.
      if (action == Action::create_token) {
        return std::unexpected(forbidden("只有系统管理员可以为其他用户创建 API 令牌", "only admins create tokens for other users"));
      }
      return std::unexpected(not_found(target.what + " is " + target.owner + "'s, not " + p.name + "'s"));
    }
  }
  if (!role_may(p.role, action)) {
    std::string message = "您的角色（" + std::string(role_title(p.role)) + "）不能进行此操作";
    if (action == Action::create_token) message = "部门业务系统的 API 令牌由系统管理员创建";
    return std::unexpected(forbidden(std::move(message), "the role " + std::string(to_string(p.role)) + " may not " +
                                                             std::string(to_string(action))));
  }
  if (action == Action::create_token && p.via_token) {
    return std::unexpected(forbidden("API 令牌不能创建新的令牌，请登录后创建", "an API token cannot create tokens"));
  }
  if (bound_to_department(p.role) && (target.kind == Target::Kind::departments || target.kind == Target::Kind::a_case)) {
    const auto& d = target.departments;
    if (std::find(d.begin(), d.end(), p.department) == d.end()) {
      const std::string message = target.kind == Target::Kind::a_case ? "此办件没有您所在部门的事项，您无权查看或办理"
                                                                        : "这不属于您所在部门的办理范围";
      return std::unexpected(forbidden(message, target.what + " is not of department " + p.department));
    }
  }
  return {};
}

CaseScope Authorizer::case_scope(const Principal& p) const {
  if (p.kind == Principal::Kind::applicant) return CaseScope{std::nullopt, p.name, p.owner_keys};
  return CaseScope{only_department(p), std::nullopt};
}

std::optional<std::string> Authorizer::only_department(const Principal& p) const {
  if (p.kind == Principal::Kind::staff && bound_to_department(p.role)) return p.department;
  return std::nullopt;
}

}  // namespace onevisit::server
