// Everything that speaks HTTP as a client: the pooled client, the `http` department adapter,
// the e-license library client and the SMS gateway. One translation unit for Beast's templates.
#include "http_client.hpp"

#include <onevisit/adapters/elicense.hpp>
#include <onevisit/adapters/http_adapter.hpp>
#include <onevisit/adapters/sms.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <spdlog/spdlog.h>

namespace onevisit::adapters {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
namespace json = boost::json;

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

// ---------------------------------------------------------------------------------------
// The pooled client

struct HttpClient::Connection {
  asio::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
  bool connected = false;
};

HttpClient::HttpClient(HttpEndpoint endpoint, std::chrono::milliseconds timeout, std::size_t max_idle)
    : endpoint_(std::move(endpoint)), timeout_(timeout), max_idle_(max_idle) {}

HttpClient::~HttpClient() = default;

std::unique_ptr<HttpClient::Connection> HttpClient::take() {
  std::lock_guard lock(mutex_);
  if (idle_.empty()) return std::make_unique<Connection>();
  auto connection = std::move(idle_.back());
  idle_.pop_back();
  return connection;
}

void HttpClient::give_back(std::unique_ptr<Connection> connection) {
  std::lock_guard lock(mutex_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(connection));
}

std::expected<HttpResponse, std::string> HttpClient::request(std::string_view method, const std::string& target, const std::string& body,
                                                             const std::vector<std::pair<std::string, std::string>>& headers) {
  http::request<http::string_body> request{http::string_to_verb(method), endpoint_.base_path + target, 11};
  request.set(http::field::host, endpoint_.host);
  if (!body.empty()) request.set(http::field::content_type, "application/json; charset=utf-8");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.keep_alive(true);
  request.body() = body;
  request.prepare_payload();

  for (int round = 0; round < 2; ++round) {
    auto c = take();
    const bool reused = c->connected;
    // Beast's timeouts apply to asynchronous operations only, so the exchange runs as a chain
    // of async steps on the connection's own io_context; each step must finish in time.
    std::string failure;
    bool answered = false;  // some bytes of an answer arrived: never resend then
    http::response_parser<http::string_body> parser;
    parser.body_limit(16u << 20);
    auto fail = [&](std::string what, const beast::error_code& ec) { failure = what + ": " + ec.message(); };
    auto exchange = [&] {
      c->stream.expires_after(timeout_);
      http::async_write(c->stream, request, [&](beast::error_code ec, std::size_t) {
        if (ec) return fail("cannot send the request", ec);
        c->stream.expires_after(timeout_);
        http::async_read(c->stream, c->buffer, parser, [&](beast::error_code ec, std::size_t bytes) {
          answered = bytes > 0 || parser.got_some();
          if (ec) return fail("no complete answer within " + std::to_string(timeout_.count()) + " ms", ec);
        });
      });
    };
    c->io.restart();
    if (c->connected) {
      exchange();
    } else {
      auto resolver = std::make_shared<asio::ip::tcp::resolver>(c->io);
      resolver->async_resolve(endpoint_.host, endpoint_.port, [&, resolver](beast::error_code ec, asio::ip::tcp::resolver::results_type results) {
        if (ec) return fail("cannot resolve " + endpoint_.host, ec);
        c->stream.expires_after(timeout_);
        c->stream.async_connect(results, [&](beast::error_code ec, const asio::ip::tcp::endpoint&) {
          if (ec) return fail("cannot connect to " + endpoint_.host + ":" + endpoint_.port, ec);
          c->connected = true;
          exchange();
        });
      });
    }
    c->io.run();
    if (failure.empty() && parser.is_done()) {
      auto& response = parser.get();
      HttpResponse out{response.result_int(), std::string(response.reason()), std::move(response.body())};
      if (response.keep_alive()) {
        give_back(std::move(c));
      }
      return out;
    }
    // A kept-alive connection the server closed meanwhile: try once more on a fresh one.
    if (reused && !answered) continue;
    return std::unexpected(failure.empty() ? std::string("no complete answer") : failure);
  }
  return std::unexpected(std::string("the connection was closed twice before an answer"));
}

// ---------------------------------------------------------------------------------------
// Answers in JSON (the http adapter's response, the callback body): docs/adapters.md

namespace {

std::expected<Receipt, std::string> receipt_from_json(const json::value& value) {
  if (!value.is_object()) return std::unexpected(std::string("the result must be a JSON object"));
  const auto& o = value.as_object();
  auto text = [&](std::string_view key) -> std::string {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  Receipt r;
  r.request_id = text("request_id");
  r.case_id = text("case");
  r.item = text("item");
  r.from = text("from");
  r.reason = text("reason");
  const auto status = receipt_status(text("status"));
  if (!status) return std::unexpected("result status '" + text("status") + "' is not ACCEPTED, CORRECTION_REQUIRED, APPROVED or REJECTED");
  r.status = *status;
  if (auto missing = check_receipt_reason(r, "reason")) return std::unexpected(*missing);
  if (const auto* documents = o.if_contains("documents")) {
    if (!documents->is_array()) return std::unexpected(std::string("documents must be an array"));
    for (const auto& d : documents->as_array()) {
      if (!d.is_object()) return std::unexpected(std::string("each document must be an object"));
      const auto& od = d.as_object();
      auto field = [&](std::string_view key) -> std::string {
        const auto* v = od.if_contains(key);
        return v && v->is_string() ? std::string(v->as_string()) : std::string();
      };
      auto document = receipt_document(field("material"), field("elicense_id"), field("file"), field("content_base64"));
      if (!document) return std::unexpected(document.error());
      r.documents.push_back(std::move(*document));
    }
  }
  return r;
}

}  // namespace

std::expected<Receipt, std::string> parse_receipt_json(std::string_view text) {
  boost::system::error_code ec;
  const auto value = json::parse(text, ec);
  if (ec) return std::unexpected("not JSON: " + ec.message());
  return receipt_from_json(value);
}

// ---------------------------------------------------------------------------------------
// The http department adapter

HttpAdapter::HttpAdapter(HttpEndpoint endpoint, std::chrono::milliseconds timeout, std::string bearer_token)
    : client_(std::make_shared<HttpClient>(std::move(endpoint), timeout)), token_(std::move(bearer_token)) {}

AdapterResult HttpAdapter::submit(const AdapterCall& call) {
  json::object body{{"idempotency_key", call.idempotency_key},
                    {"case", call.case_id},
                    {"department", call.department},
                    {"operation", call.operation},
                    {"attempt", call.attempt}};
  boost::system::error_code json_error;
  auto payload = json::parse(call.payload, json_error);
  body["payload"] = json_error ? json::value(call.payload) : std::move(payload);
  std::vector<std::pair<std::string, std::string>> headers{{"Idempotency-Key", call.idempotency_key}};
  if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);

  // Asking for an answer the department promised (202 earlier) is a GET of the call's key.
  const std::string target = "/" + call.operation;
  auto response = call.awaiting_answer
                      ? client_->request("GET", target + "/" + boost::urls::encode(call.idempotency_key, boost::urls::unreserved_chars), "", headers)
                      : client_->request("POST", target, json::serialize(body), headers);
  if (!response) return {AdapterResult::Status::retry, response.error(), std::nullopt};
  const unsigned status = response->status;
  if (status == 202) return {AdapterResult::Status::awaiting, "accepted; the department answers later", std::nullopt};
  // The department does not know the call it promised to answer: send it again.
  if (call.awaiting_answer && status == 404) return {AdapterResult::Status::retry, "the department lost the call; sending it again", std::nullopt};
  std::string reason = std::to_string(status) + " " + response->reason;
  if (!response->body.empty()) reason += ": " + response->body.substr(0, 500);
  if ((status >= 200 && status < 300) || status == 409) {
    AdapterResult delivered{AdapterResult::Status::delivered, reason, std::nullopt};
    // The department may answer with its result at once: {"result": {...}}.
    boost::system::error_code ec;
    const auto answer = json::parse(response->body, ec);
    if (!ec && answer.is_object()) {
      if (const auto* result = answer.as_object().if_contains("result"); result && !result->is_null()) {
        auto receipt = receipt_from_json(*result);
        if (!receipt) {
          spdlog::warn("adapter call {}: the department's result is malformed: {}", mask_identifiers(call.idempotency_key),
                       mask_identifiers(receipt.error()));
          return {AdapterResult::Status::rejected, "部门系统的答复格式有误，未予办理（malformed_result）", std::nullopt};
        }
        delivered.receipt = std::move(*receipt);
      }
    }
    return delivered;
  }
  if (status >= 400 && status < 500 && status != 408 && status != 429) return {AdapterResult::Status::rejected, reason, std::nullopt};
  return {AdapterResult::Status::retry, reason, std::nullopt};
}

// ---------------------------------------------------------------------------------------
// The SMS gateway

HttpSmsGateway::HttpSmsGateway(HttpEndpoint endpoint, std::chrono::milliseconds timeout, std::string bearer_token, std::string sign)
    : client_(std::make_shared<HttpClient>(std::move(endpoint), timeout)), token_(std::move(bearer_token)), sign_(std::move(sign)) {}

std::expected<void, SmsError> HttpSmsGateway::send(const TextMessage& message) {
  const std::string text = (sign_.empty() ? "" : "【" + sign_ + "】") + message.text;
  json::object body{{"phone", message.phone}, {"text", text}, {"reference", message.reference}};
  std::vector<std::pair<std::string, std::string>> headers{{"Idempotency-Key", message.reference}};
  if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
  auto response = client_->request("POST", "/send", json::serialize(body), headers);
  if (!response) return std::unexpected(SmsError{SmsError::Kind::unavailable, "the SMS gateway is unreachable: " + response.error()});
  // The gateway may echo the number or the text (a login code): only masked, and short.
  const std::string reason = std::to_string(response->status) + " " + mask_identifiers(response->body.substr(0, 300));
  if (response->status / 100 == 2 || response->status == 409) {
    spdlog::info("text message {} to {} sent", mask_identifiers(message.reference), mask_identifiers(message.phone));
    return {};
  }
  if (response->status / 100 == 4 && response->status != 408 && response->status != 429) {
    return std::unexpected(SmsError{SmsError::Kind::refused, "the SMS gateway refused the message: " + reason});
  }
  return std::unexpected(SmsError{SmsError::Kind::unavailable, "the SMS gateway answered " + reason});
}

SmsAdapter::SmsAdapter(HttpEndpoint endpoint, std::chrono::milliseconds timeout, std::string bearer_token, std::string sign)
    : gateway_(std::make_shared<HttpSmsGateway>(std::move(endpoint), timeout, std::move(bearer_token), std::move(sign))) {}

AdapterResult SmsAdapter::submit(const AdapterCall& call) {
  boost::system::error_code ec;
  const auto payload = json::parse(call.payload, ec);
  const json::object* o = !ec && payload.is_object() ? &payload.as_object() : nullptr;
  auto text = [&](std::string_view key) -> std::string {
    const auto* v = o ? o->if_contains(key) : nullptr;
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  if (!o) return {AdapterResult::Status::rejected, "the notice is not JSON", std::nullopt};
  // Staff (clerks, supervisors) see warnings and escalations in their worklist and console;
  // text messages are for applicants.
  if (call.operation != "notify" || text("role") != "applicant") {
    spdlog::info("notice {} for {}: {}", mask_identifiers(call.idempotency_key), text("role"),
                 mask_identifiers(text("message")));
    return {AdapterResult::Status::delivered, "shown to staff in the console", std::nullopt};
  }
  const std::string phone = text("phone");
  if (phone.empty()) {
    return {AdapterResult::Status::rejected, "the applicant gave no mobile number: tell them another way", std::nullopt};
  }
  auto sent = gateway_->send(TextMessage{phone, text("message"), call.idempotency_key});
  if (sent) return {AdapterResult::Status::delivered, "sent", std::nullopt};
  const auto status = sent.error().kind == SmsError::Kind::refused ? AdapterResult::Status::rejected : AdapterResult::Status::retry;
  return {status, sent.error().message, std::nullopt};
}

// ---------------------------------------------------------------------------------------
// The e-license library

HttpElicenseLibrary::HttpElicenseLibrary(HttpEndpoint endpoint, std::chrono::milliseconds timeout, std::string bearer_token)
    : client_(std::make_shared<HttpClient>(std::move(endpoint), timeout)), token_(std::move(bearer_token)) {}

std::expected<std::optional<Elicense>, std::string> HttpElicenseLibrary::lookup(const std::string& type, const std::string& holder) {
  std::string target = "/licenses?type=";
  target += boost::urls::encode(type, boost::urls::unreserved_chars);
  target += "&holder=";
  target += boost::urls::encode(holder, boost::urls::unreserved_chars);
  std::vector<std::pair<std::string, std::string>> headers;
  if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
  auto response = client_->request("GET", target, "", headers);
  if (!response) return std::unexpected("the e-license library is unreachable: " + response.error());
  if (response->status == 404) return std::optional<Elicense>{};
  if (response->status != 200) return std::unexpected("the e-license library answered " + std::to_string(response->status));
  boost::system::error_code ec;
  const auto value = json::parse(response->body, ec);
  if (ec || !value.is_object()) return std::unexpected(std::string("the e-license library's answer is not a JSON object"));
  const auto& o = value.as_object();
  auto field = [&](std::string_view key) -> std::string {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  Elicense license{field("id"), type, field("file"), {}};
  if (license.id.empty()) return std::unexpected(std::string("the e-license library's answer has no id"));
  auto bytes = decode_base64(field("content_base64"));
  if (!bytes) return std::unexpected("e-license " + license.id + ": content_base64 " + bytes.error());
  if (bytes->empty()) return std::unexpected("e-license " + license.id + " came without its content");
  license.content = std::move(*bytes);
  if (license.file_name.empty()) license.file_name = license.id + ".ofd";
  return std::optional<Elicense>(std::move(license));
}

std::expected<std::optional<CompanyRegistration>, std::string> HttpElicenseLibrary::registration(const std::string& uscc) {
  std::string target = "/registrations?uscc=";
  target += boost::urls::encode(uscc, boost::urls::unreserved_chars);
  std::vector<std::pair<std::string, std::string>> headers;
  if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
  auto response = client_->request("GET", target, "", headers);
  if (!response) return std::unexpected("the e-license library is unreachable: " + response.error());
  if (response->status == 404) return std::optional<CompanyRegistration>{};
  if (response->status != 200) return std::unexpected("the e-license library answered " + std::to_string(response->status));
  boost::system::error_code ec;
  const auto value = json::parse(response->body, ec);
  if (ec || !value.is_object()) return std::unexpected(std::string("the e-license library's registration is not a JSON object"));
  const auto& o = value.as_object();
  auto field = [&](std::string_view key) -> std::string {
    const auto* v = o.if_contains(key);
    if (v && v->is_string()) return std::string(v->as_string());
    if (v && v->is_number()) return json::serialize(*v);
    return {};
  };
  CompanyRegistration found{field("uscc"), field("name"), field("legal_representative"), field("address"),
                            field("type"), field("capital"), field("business_scope"), field("established"),
                            field("legal_representative_id"), {}};
  if (const auto* agents = o.if_contains("agents"); agents && agents->is_array()) {
    for (const auto& agent : agents->as_array()) {
      if (agent.is_string()) found.agents.emplace_back(agent.as_string());
    }
  }
  // The library answers for the code asked: another company's data would fill the wrong form.
  if (found.uscc != uscc) return std::unexpected("the e-license library answered for another credit code");
  return std::optional<CompanyRegistration>(std::move(found));
}

}  // namespace onevisit::adapters
