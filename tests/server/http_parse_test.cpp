// parse_request: the bytes of a connection become the same HttpRequest the server hands to
// the API (the fuzz target http_api reads its inputs through it).
#include <catch2/catch.hpp>

#include "http_server.hpp"

using namespace onevisit::server;

TEST_CASE("http: parse_request reads one request and says where the next begins", "[server][http]") {
  const std::string first = "POST /api/cases/C%31/rate?x=a+b&y=%41 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nX-Mixed-Case: v\r\n\r\n{}";
  const std::string second = "GET /api/session HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  const auto parsed = parse_request(first + second, HttpServerOptions{}, "203.0.113.7");
  REQUIRE(parsed);
  CHECK(parsed->consumed == first.size());
  CHECK(parsed->keep_alive);
  CHECK(parsed->request.method == "POST");
  CHECK(parsed->request.path == "/api/cases/C1/rate");
  CHECK(parsed->request.query.at("x") == "a b");
  CHECK(parsed->request.query.at("y") == "A");
  CHECK(parsed->request.header("x-mixed-case") == "v");
  CHECK(parsed->request.body == "{}");
  CHECK(parsed->request.remote_address == "203.0.113.7");

  const auto next = parse_request(std::string_view(first + second).substr(parsed->consumed), HttpServerOptions{}, "-");
  REQUIRE(next);
  CHECK(next->request.path == "/api/session");
  CHECK_FALSE(next->keep_alive);
}

TEST_CASE("http: parse_request refuses what a connection would close on", "[server][http]") {
  CHECK_FALSE(parse_request("", HttpServerOptions{}, "-"));
  CHECK_FALSE(parse_request("GET / HTTP/1.1\r\nHost: h\r\n", HttpServerOptions{}, "-"));  // header not finished
  CHECK_FALSE(parse_request("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", HttpServerOptions{}, "-"));  // body cut short
  CHECK_FALSE(parse_request("NOT HTTP\r\n\r\n", HttpServerOptions{}, "-"));
  HttpServerOptions small;
  small.max_body_bytes = 4;
  const auto large = parse_request("PUT /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", small, "-");
  REQUIRE(large);
  CHECK(large->request.body_too_large);
  CHECK(large->request.body.empty());
}
