// A small HTTP/1.1 client over Boost.Beast with a pool of kept-alive connections, shared by the
// adapters that speak HTTP (department REST endpoints, the e-license library, the SMS
// gateway). Private to onevisit::adapters; its Beast code lives in http_adapter.cpp only, so
// the heavy templates are compiled once.
//
// Every step (connect, write, read) must finish within the timeout. A request on a reused
// connection that fails before any answer arrives is sent once more on a fresh connection:
// the server may have closed an idle connection; the idempotency key makes a repeat harmless.
//
// Thread safety: request() may be called from many threads; each call uses one connection.
#pragma once

#include <onevisit/adapters/http_adapter.hpp>

#include <chrono>
#include <expected>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace onevisit::adapters {

struct HttpResponse {
  unsigned status = 0;
  std::string reason;
  std::string body;
};

class HttpClient {
 public:
  HttpClient(HttpEndpoint endpoint, std::chrono::milliseconds timeout, std::size_t max_idle = 16);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// `target` is appended to the endpoint's base path. The error says which step failed.
  std::expected<HttpResponse, std::string> request(std::string_view method, const std::string& target, const std::string& body,
                                                   const std::vector<std::pair<std::string, std::string>>& headers);
  const HttpEndpoint& endpoint() const { return endpoint_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  struct Connection;
  std::unique_ptr<Connection> take();
  void give_back(std::unique_ptr<Connection> connection);

  HttpEndpoint endpoint_;
  std::chrono::milliseconds timeout_;
  std::size_t max_idle_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace onevisit::adapters
