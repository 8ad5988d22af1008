// A test's HTTP client for the clerk service on loopback: one user's browser that keeps the
// session and CSRF cookies and sends the CSRF header. Shared by the server tests.
//
// Thread safety: one Client per thread.
#pragma once

#include <catch2/catch.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <string>

namespace onevisit::testing {

struct Reply {
  unsigned status = 0;
  std::string body;
  std::multimap<std::string, std::string> headers;  ///< lower-case names
  boost::json::value json() const {
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    INFO(body);
    REQUIRE_FALSE(ec);
    return v;
  }
  std::string code() const { return std::string(json().at("code").as_string()); }
  /// The error's message for people.
  std::string message() const { return std::string(json().at("message").as_string()); }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class Client {
 public:
  /// `from`: the loopback address to connect from (the server sees it as the remote
  /// address); all of 127.0.0.0/8 is loopback on Linux.
  explicit Client(unsigned short port, std::string from = "127.0.0.1") : port_(port), from_(std::move(from)) {}
  /// An applicant's browser: the applicant channel's cookies (ov_applicant, ov_applicant_csrf).
  static Client applicant(unsigned short port, std::string from = "127.0.0.1") {
    Client c(port, std::move(from));
    c.session_cookie_ = "ov_applicant";
    c.csrf_cookie_ = "ov_applicant_csrf";
    return c;
  }

  Reply send(const std::string& method, const std::string& target, const std::string& body = {},
             std::map<std::string, std::string> headers = {}) {
    namespace asio = boost::asio;
    namespace beast = boost::beast;
    namespace http = beast::http;
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.open(asio::ip::tcp::v4());
    if (from_ != "127.0.0.1") socket.bind({asio::ip::make_address(from_), 0});
    socket.connect({asio::ip::make_address("127.0.0.1"), port_});
    http::request<http::string_body> request(http::string_to_verb(method), target, 11);
    request.set(http::field::host, "127.0.0.1");
    if (!session_.empty()) request.set(http::field::cookie, session_cookie_ + "=" + session_ + "; " + csrf_cookie_ + "=" + csrf_);
    if (!csrf_.empty() && method != "GET") request.set("X-CSRF-Token", csrf_);
    if (!bearer_.empty()) request.set(http::field::authorization, "Bearer " + bearer_);
    for (const auto& [name, value] : headers) request.set(name, value);
    request.body() = body;
    if (!body.empty() && headers.count("Content-Type") == 0) request.set(http::field::content_type, "application/json");
    request.prepare_payload();
    http::write(socket, request);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    http::read(socket, buffer, parser);
    const auto& response = parser.get();
    Reply reply{response.result_int(), response.body(), {}};
    for (const auto& field : response) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      reply.headers.emplace(name, std::string(field.value()));
    }
    return reply;
  }
  Reply get(const std::string& target) { return send("GET", target); }
  Reply post(const std::string& target, const boost::json::value& body) { return send("POST", target, boost::json::serialize(body)); }

  Reply login(const std::string& name, const std::string& password) {
    auto reply = post("/api/session", boost::json::object{{"name", name}, {"password", password}});
    if (reply.status == 200) keep_cookies(reply);
    return reply;
  }
  /// Keeps the session and CSRF cookies a reply sets (an empty value ends them).
  void keep_cookies(const Reply& reply) {
    for (auto [it, end] = reply.headers.equal_range("set-cookie"); it != end; ++it) {
      const auto& c = it->second;
      const auto value = [&](const std::string& name) { return c.substr(name.size() + 1, c.find(';') - name.size() - 1); };
      if (c.rfind(session_cookie_ + "=", 0) == 0) session_ = value(session_cookie_);
      if (c.rfind(csrf_cookie_ + "=", 0) == 0) csrf_ = value(csrf_cookie_);
    }
  }
  void use_token(std::string token) { bearer_ = std::move(token); }
  std::string& session() { return session_; }
  std::string& csrf() { return csrf_; }

 private:
  unsigned short port_;
  std::string from_;
  std::string session_, csrf_, bearer_;
  std::string session_cookie_ = "ov_session", csrf_cookie_ = "ov_csrf";
};

}  // namespace onevisit::testing
