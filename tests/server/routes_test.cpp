// The route table: matching by pattern (parameters, 405 with the methods allowed), and
// docs/api.md's route list equal to the table, so the two cannot drift apart.
#include "routes.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

using namespace onevisit::server;

TEST_CASE("routes: a path matches its pattern with parameters by name, other methods are listed for a 405", "[server][routes]") {
  const auto history = match_route("GET", "/api/cases/C-1/history");
  REQUIRE(history.route != nullptr);
  CHECK(history.route->pattern == "/api/cases/{id}/history");
  CHECK(history.parameters.at("id") == "C-1");

  const auto event = match_route("POST", "/api/cases/C1/items/seal/events/approve");
  REQUIRE(event.route != nullptr);
  CHECK(event.route->action == Action::fire_event);
  CHECK(event.parameters == std::map<std::string, std::string>{{"id", "C1"}, {"item", "seal"}, {"event", "approve"}});

  CHECK(match_route("HEAD", "/api/cases/C-1/history").route == history.route);  // HEAD is GET without the body
  // A literal segment is not a parameter: /api/timers/fire is not /api/timers/{…}.
  CHECK(match_route("POST", "/api/timers/fire").route->action == Action::fire_timers);
  const auto put_session = match_route("PUT", "/api/session");
  CHECK(put_session.route == nullptr);
  CHECK(std::set<std::string>(put_session.allowed_methods.begin(), put_session.allowed_methods.end()) ==
        std::set<std::string>{"POST", "GET", "DELETE"});
  const auto unknown = match_route("GET", "/api/cases/C1/nothing");
  CHECK(unknown.route == nullptr);
  CHECK(unknown.allowed_methods.empty());
  // Only the logins are open to callers who are not authenticated: the staff login and the
  // applicant channel's (an SMS code asked for and given, the identity platform's redirects, a
  // kiosk's nonce and its signed card read).
  const std::set<std::pair<std::string_view, std::string_view>> logins{{"POST", "/api/session"},
                                                                        {"POST", "/api/applicant/sms-codes"},
                                                                        {"POST", "/api/applicant/session"},
                                                                        {"GET", "/api/applicant/oidc/start"},
                                                                        {"GET", "/api/applicant/oidc/callback"},
                                                                        {"POST", "/api/applicant/kiosk/nonce"},
                                                                        {"POST", "/api/applicant/kiosk/session"}};
  for (const auto& route : route_table()) {
    INFO(route.method << " " << route.pattern);
    CHECK(route.action.has_value() == !logins.count({route.method, route.pattern}));
    CHECK(route.handler != nullptr);
    CHECK(match_route(route.method, route.pattern).route == &route);  // no route hides another
  }
}

TEST_CASE("routes: docs/api.md lists every route of the table with its action, and no other", "[server][routes][docs]") {
  std::ifstream in(std::string(ONEVISIT_SOURCE_DIR) + "/docs/api.md");
  REQUIRE(in);
  // The rows of the "## Routes" table: | METHOD | /api/… | action |
  std::set<std::tuple<std::string, std::string, std::string>> documented;
  std::string line;
  bool in_routes = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_routes = line == "## Routes";
    if (!in_routes || line.rfind("| ", 0) != 0) continue;
    std::vector<std::string> cells;
    std::stringstream row(line.substr(1));
    for (std::string cell; std::getline(row, cell, '|');) {
      const auto first = cell.find_first_not_of(' ');
      const auto last = cell.find_last_not_of(' ');
      cells.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
    }
    if (cells.size() < 3 || cells[1].rfind("/api", 0) != 0) continue;
    documented.emplace(cells[0], cells[1], cells[2]);
  }
  std::set<std::tuple<std::string, std::string, std::string>> table;
  for (const auto& route : route_table()) {
    table.emplace(std::string(route.method), std::string(route.pattern),
                  route.action ? std::string(to_string(*route.action)) : "(none: the login)");
  }
  for (const auto& route : table) {
    INFO("in the table, not in docs/api.md: " << std::get<0>(route) << " " << std::get<1>(route) << " " << std::get<2>(route));
    CHECK(documented.count(route) == 1);
  }
  for (const auto& route : documented) {
    INFO("in docs/api.md, not in the table: " << std::get<0>(route) << " " << std::get<1>(route) << " " << std::get<2>(route));
    CHECK(table.count(route) == 1);
  }
}
