// Adapters that speak JSON over HTTP/1.1 (Boost.Beast), with kept-alive connections.
//
// `http`: a department's REST endpoint. Each call is `POST <base>/<operation>` with the body
//   {"idempotency_key": "...", "case": "...", "department": "...", "operation": "...",
//    "attempt": 1, "payload": {...}}
// and the header `Idempotency-Key` carrying the same key, so the department can apply a
// repeated call once. Answers: 2xx delivered; 409 (seen that key before) delivered; other 4xx
// rejected (parked for a clerk, with the body as the reason); 5xx, timeouts and connection
// failures retried. A 2xx answer may carry the department's result at once as
// {"result": {...}} (see parse_receipt_json); a malformed result parks the call. A bearer
// token, when configured, is read from the environment at start (never from workflow files)
// and sent as `Authorization: Bearer …`.
//
// `sms`: applicant notices through an SMS gateway, `POST <base>/send` with
// {"phone", "text", "reference"}; notices for staff roles go to the log (they see them in
// the console). The gateway is sms.hpp's HttpSmsGateway. Phone numbers are masked in every
// log line.
//
// Thread safety: submit may be called from several threads at once.
#pragma once

#include <onevisit/adapters/adapter.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace onevisit::adapters {

struct HttpEndpoint {
  std::string host;
  std::string port = "80";
  std::string base_path;  ///< without a trailing '/'
  static std::expected<HttpEndpoint, std::string> parse(std::string_view url);
};

class HttpClient;  // pooled connections (private)

class HttpAdapter final : public Adapter {
 public:
  HttpAdapter(HttpEndpoint endpoint, std::chrono::milliseconds timeout, std::string bearer_token = {});
  AdapterResult submit(const AdapterCall& call) override;

 private:
  std::shared_ptr<HttpClient> client_;
  std::string token_;
};

class HttpSmsGateway;  // sms.hpp

class SmsAdapter final : public Adapter {
 public:
  /// `sign` is the sender's signature the gateway requires, e.g. 某某区政务服务中心.
  SmsAdapter(HttpEndpoint endpoint, std::chrono::milliseconds timeout, std::string bearer_token = {}, std::string sign = {});
  AdapterResult submit(const AdapterCall& call) override;

 private:
  std::shared_ptr<HttpSmsGateway> gateway_;
};

}  // namespace onevisit::adapters
