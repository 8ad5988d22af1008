// /api/users: accounts, for admins.
#include "routes/handlers.hpp"

namespace onevisit::server::routes {

namespace {
constexpr std::string_view kRoleChoices = "角色只能是综窗人员、部门审核人员、督办人员、流程设计人员、管理员或部门系统";
}

HttpResponse list_users(Exchange& x) {
  auto users = x.accounts.users();
  if (!users) return x.account_error(users.error());
  json::array a;
  for (const auto& u : *users) a.push_back(user_json(u));
  return json_response(200, json::object{{"users", std::move(a)}});
}

HttpResponse create_user(Exchange& x) {
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto name = reader.text("name", true);
  const auto display_name = reader.text("display_name");
  const auto role_text = reader.text("role", true);
  const auto department = reader.text("department");
  const auto password = reader.text("password");
  if (!reader.ok()) return x.bad_fields(reader);
  const auto role = parse_role(*role_text);
  if (!role) return x.error(422, "invalid", std::string(kRoleChoices), json::object{{"field", "role"}, {"choices", json::array{"window_clerk", "reviewer", "supervisor", "designer", "admin", "department_system"}}});
  // A department system never logs in: without a password given, it gets a random one no one knows.
  if (!password && *role != Role::department_system) {
    return x.error(400, "invalid_request", "请求内容有缺项或类型不对：见各项说明",
                   json::object{{"fields", json::array{json::object{{"field", "password"}, {"problem", "required"}, {"expected", "string"},
                                                                    {"message", "缺少必填项「password」，应为文字"}}}}});
  }
  x.record.target = *name;
  auto hashed = x.hashing.run([&] {
    return x.accounts.create_user(User{*name, display_name.value_or(""), *role, department.value_or(""), false, 0},
                                  password ? *password : random_hex(32), x.engine.now());
  });
  if (!hashed) return x.hashing_busy();
  auto& created = *hashed;
  if (!created) return x.account_error(created.error());
  return json_response(201, user_json(*created));
}

HttpResponse update_user(Exchange& x) {
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  AccountStore::UserChange change;
  change.display_name = reader.text("display_name");
  const auto role_text = reader.text("role");
  change.department = reader.text("department");
  change.password = reader.text("password");
  change.disabled = reader.boolean("disabled");
  if (!reader.ok()) return x.bad_fields(reader);
  if (role_text) {
    change.role = parse_role(*role_text);
    if (!change.role) return x.error(422, "invalid", std::string(kRoleChoices), json::object{{"field", "role"}, {"choices", json::array{"window_clerk", "reviewer", "supervisor", "designer", "admin", "department_system"}}});
  }
  const std::string& name = x.param("name");
  x.record.target = name;
  // A new password is hashed on the hashing pool; other changes need no hashing.
  auto hashed = change.password ? x.hashing.run([&] { return x.accounts.update_user(name, change); })
                                : std::optional(x.accounts.update_user(name, change));
  if (!hashed) return x.hashing_busy();
  auto& updated = *hashed;
  if (!updated) return x.account_error(updated.error());
  return json_response(200, user_json(*updated));
}

}  // namespace onevisit::server::routes
