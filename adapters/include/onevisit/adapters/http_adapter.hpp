// The `http` adapter: JSON over HTTP/1.1 (Boost.Beast) to a department's REST endpoint.
//
// Each call is `POST <base>/<operation>` with the body
//   {"idempotency_key": "...", "case": "...", "department": "...", "operation": "...",
//    "attempt": 1, "payload": {...}}
// and the header `Idempotency-Key` carrying the same key, so the department can apply a
// repeated call once. Answers: 2xx delivered; 409 (seen that key before) delivered; other 4xx
// rejected (parked for a clerk, with the body as the reason); 5xx, timeouts and connection
// failures retried. A bearer token, when configured, is read from the environment at start
// (never from workflow files) and sent as `Authorization: Bearer …`.
//
// Thread safety: submit may be called from several threads; each call uses its own
// connection.
#pragma once

#include <onevisit/adapters/adapter.hpp>

#include <chrono>
#include <string>

namespace onevisit::adapters {

struct HttpEndpoint {
  std::string host;
  std::string port = "80";
  std::string base_path;  ///< without a trailing '/'
  static std::expected<HttpEndpoint, std::string> parse(std::string_view url);
};

class HttpAdapter final : public Adapter {
 public:
  HttpAdapter(HttpEndpoint endpoint, std::chrono::milliseconds timeout, std::string bearer_token = {});
  AdapterResult submit(const AdapterCall& call) override;

 private:
  HttpEndpoint endpoint_;
  std::chrono::milliseconds timeout_;
  std::string token_;
};

}  // namespace onevisit::adapters
