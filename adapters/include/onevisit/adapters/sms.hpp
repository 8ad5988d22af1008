// Text messages to applicants through the site's SMS gateway (短信网关): the case notices of
// the `sms` adapter (http_adapter.hpp) and the one-time login codes of the applicant channel.
//
// The HTTP gateway takes `POST <base>/send` with {"phone", "text", "reference"}; `text` starts
// with the sender's signature in 【】 when one is configured, `reference` is unique per message
// (the gateway sends a repeated reference once and may answer 409). Answers: 2xx or 409 sent;
// 408, 429 and 5xx, timeouts and connection failures are passing (try again later); other 4xx
// refuse the message for good. Phone numbers are masked in every log line.
//
// Thread safety: send may be called from many threads at once.
#pragma once

#include <onevisit/adapters/http_adapter.hpp>

#include <chrono>
#include <expected>
#include <memory>
#include <string>

namespace onevisit::adapters {

struct TextMessage {
  std::string phone;      ///< an 11-digit mainland mobile number
  std::string text;       ///< without the signature
  std::string reference;  ///< unique per message: a repeat is sent once
};

/// Why a message was not sent. `message` is English, for the log, with numbers masked.
struct SmsError {
  enum class Kind {
    refused,      ///< the gateway refused it for good (a 4xx): do not send it again
    unavailable,  ///< unreachable, busy or failing: try again later
  };
  Kind kind = Kind::unavailable;
  std::string message;
};

class SmsGateway {
 public:
  virtual ~SmsGateway() = default;
  virtual std::expected<void, SmsError> send(const TextMessage& message) = 0;
};

class HttpSmsGateway final : public SmsGateway {
 public:
  /// `sign` is the sender's signature the gateway requires, e.g. 某某区政务服务中心 (empty: none).
  HttpSmsGateway(HttpEndpoint endpoint, std::chrono::milliseconds timeout, std::string bearer_token = {}, std::string sign = {});
  std::expected<void, SmsError> send(const TextMessage& message) override;

 private:
  std::shared_ptr<HttpClient> client_;
  std::string token_;
  std::string sign_;
};

}  // namespace onevisit::adapters
