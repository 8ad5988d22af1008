// Private to the server: the route table, the one list of what the REST API answers. Each
// route is a method, a path pattern whose `{name}` segments are parameters, the Action the
// Authorizer is asked about before the handler runs (none for the login, the only route
// open to callers who are not authenticated) and the handler (routes/<resource>.cpp).
//
// Matching is data-driven: a path matches a pattern of as many segments whose literal
// segments are equal; a path that matches patterns of other methods only is a 405 with their
// methods in Allow, one that matches none a 404 no_route. docs/api.md lists every route of
// the table (a test holds them equal).
//
// Thread safety: the table is built once and never changes.
#pragma once

#include "authorizer.hpp"
#include "http_server.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onevisit::server {

class Exchange;
using RouteHandler = HttpResponse (*)(Exchange&);

struct Route {
  std::string_view method;
  std::string_view pattern;      ///< "/api/cases/{id}/history"
  std::optional<Action> action;  ///< nullopt: open to anyone (the login only)
  RouteHandler handler = nullptr;
};

/// Every route of the API, in the order docs/api.md lists them.
const std::vector<Route>& route_table();

struct RouteMatch {
  const Route* route = nullptr;                    ///< null: no route for this method and path
  std::map<std::string, std::string> parameters;   ///< {name} -> the path's segment
  std::vector<std::string> allowed_methods;        ///< when only other methods match (405)
};

/// The route for `method` and `path` (percent-decoded, without the query); HEAD takes the
/// GET routes.
RouteMatch match_route(std::string_view method, std::string_view path);

/// A path's segments (empty segments dropped).
std::vector<std::string> split_path(std::string_view path);

}  // namespace onevisit::server
