#include <onevisit/adapters/http_adapter.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

namespace onevisit::adapters {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

std::expected<HttpEndpoint, std::string> HttpEndpoint::parse(std::string_view url) {
  const auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return std::unexpected("'" + std::string(url) + "' is not a URL: " + parsed.error().message());
  if (parsed->scheme() != "http") return std::unexpected("'" + std::string(url) + "': only http:// is supported (put TLS in a local proxy)");
  if (parsed->host().empty()) return std::unexpected("'" + std::string(url) + "' has no host");
  HttpEndpoint e;
  e.host = std::string(parsed->host());
  if (parsed->has_port()) e.port = std::string(parsed->port());
  e.base_path = std::string(parsed->path());
  while (!e.base_path.empty() && e.base_path.back() == '/') e.base_path.pop_back();
  return e;
}

HttpAdapter::HttpAdapter(HttpEndpoint endpoint, std::chrono::milliseconds timeout, std::string bearer_token)
    : endpoint_(std::move(endpoint)), timeout_(timeout), token_(std::move(bearer_token)) {}

AdapterResult HttpAdapter::submit(const AdapterCall& call) {
  boost::json::object body{{"idempotency_key", call.idempotency_key},
                           {"case", call.case_id},
                           {"department", call.department},
                           {"operation", call.operation},
                           {"attempt", call.attempt}};
  boost::system::error_code json_error;
  auto payload = boost::json::parse(call.payload, json_error);
  body["payload"] = json_error ? boost::json::value(call.payload) : std::move(payload);

  http::request<http::string_body> request{http::verb::post, endpoint_.base_path + "/" + call.operation, 11};
  request.set(http::field::host, endpoint_.host);
  request.set(http::field::content_type, "application/json; charset=utf-8");
  request.set("Idempotency-Key", call.idempotency_key);
  if (!token_.empty()) request.set(http::field::authorization, "Bearer " + token_);
  request.body() = boost::json::serialize(body);
  request.prepare_payload();

  // Beast's timeouts apply to asynchronous operations only, so the exchange runs as a chain
  // of async steps on a private io_context; each step must finish within the timeout.
  asio::io_context io;
  beast::tcp_stream stream(io);
  asio::ip::tcp::resolver resolver(io);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1 << 20);
  std::string failure;
  auto fail = [&](std::string what, const beast::error_code& ec) { failure = what + ": " + ec.message(); };
  resolver.async_resolve(endpoint_.host, endpoint_.port, [&](beast::error_code ec, asio::ip::tcp::resolver::results_type results) {
    if (ec) return fail("cannot resolve " + endpoint_.host, ec);
    stream.expires_after(timeout_);
    stream.async_connect(results, [&](beast::error_code ec, const asio::ip::tcp::endpoint&) {
      if (ec) return fail("cannot connect to " + endpoint_.host + ":" + endpoint_.port, ec);
      stream.expires_after(timeout_);
      http::async_write(stream, request, [&](beast::error_code ec, std::size_t) {
        if (ec) return fail("cannot send the request", ec);
        stream.expires_after(timeout_);
        http::async_read(stream, buffer, parser, [&](beast::error_code ec, std::size_t) {
          if (ec) return fail("no complete answer within " + std::to_string(timeout_.count()) + " ms", ec);
          beast::error_code ignored;
          stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        });
      });
    });
  });
  io.run();
  if (!failure.empty() || !parser.is_done()) {
    return {AdapterResult::Status::retry, failure.empty() ? "no complete answer" : failure};
  }
  const auto& response = parser.get();
  const unsigned status = response.result_int();
  std::string reason = std::to_string(status) + " " + std::string(response.reason());
  if (!response.body().empty()) reason += ": " + response.body().substr(0, 500);
  if ((status >= 200 && status < 300) || status == 409) return {AdapterResult::Status::delivered, reason};
  if (status >= 400 && status < 500 && status != 408 && status != 429) return {AdapterResult::Status::rejected, reason};
  return {AdapterResult::Status::retry, reason};
}

}  // namespace onevisit::adapters
